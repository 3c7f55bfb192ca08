"""Shared plumbing of the exercise checks: seeded scenarios, interface checks, safe judging, the verbs.

*collect* side (runs learner code): :func:`entry` fetches a name from the learner's namespace and says in
one line what is wrong with it (:class:`~._core.InvalidSubmission`); :func:`want_bool` and friends turn
learner return values into plain data or say which method returned the wrong type.

*judge* side (never runs learner code): :func:`scored_check` builds a check from its name, points and
judge, and turns malformed data into a 0-point "invalid" result instead of an exception; :class:`BadData` is what the small ``field`` readers raise.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import Any

import numpy as np

from prodai_lessons._validation import check_int
from prodai_lessons.exercises._core import (
    Check,
    CheckResult,
    Exercise,
    InvalidSubmission,
    format_report,
    run_checks,
)

# ----------------------------------------------------------------------------------------------- seeds


def rng(seed: int, *keys: int) -> np.random.Generator:
    """The generator of one scenario: ``default_rng([seed, *keys])`` (independent streams per key)."""
    return np.random.default_rng([int(seed), *map(int, keys)])


# ----------------------------------------------------------------------------------------- collect side


def _kind(obj: Any) -> str:
    if inspect.isclass(obj):
        return f"a class ({obj.__name__})"
    if inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj):
        return "a function"
    return f"a {type(obj).__name__}"


def entry(namespace: Mapping[str, Any], name: str, *, kind: str, methods: Sequence[str] = (),
          attributes: Sequence[str] = ()) -> Any:
    """Return ``namespace[name]`` after checking its shape, else raise ``InvalidSubmission`` (one line).

    ``kind`` is ``"class"`` or ``"function"``. ``methods`` must be callable on the class; ``attributes``
    must exist on the class (properties) — instance attributes set in ``__init__`` are checked on the
    instance by :func:`read_attr`.
    """
    if name not in namespace:
        raise InvalidSubmission(f"{name} is not defined: run the cell that defines it, then check() again")
    obj = namespace[name]
    if kind == "class":
        if not inspect.isclass(obj):
            raise InvalidSubmission(f"{name} must be a class; got {_kind(obj)}")
        missing = [m for m in methods if not callable(getattr(obj, m, None))]
        if missing:
            raise InvalidSubmission(f"{name} is missing method(s) {', '.join(missing)}")
        missing = [a for a in attributes if not hasattr(obj, a)]
        if missing:
            raise InvalidSubmission(f"{name} is missing propert{'y' if len(missing) == 1 else 'ies'} "
                                    f"{', '.join(missing)} (define it with @property)")
    elif kind == "function":
        if inspect.isclass(obj) or not callable(obj):
            raise InvalidSubmission(f"{name} must be a function; got {_kind(obj)}")
    else:  # pragma: no cover - programming error in a check
        raise ValueError(f"kind must be 'class' or 'function'; got {kind!r}")
    return obj


def read_attr(obj: Any, owner: str, name: str) -> Any:
    """``getattr(obj, name)``; a bound method there (a forgotten ``@property``) is an invalid submission."""
    try:
        value = getattr(obj, name)
    except AttributeError:
        raise InvalidSubmission(f"{owner}.{name} is missing (define it with @property)") from None
    if inspect.ismethod(value):
        raise InvalidSubmission(f"{owner}.{name} must be a property, not a method (add @property above it)")
    return value


def want_bool(value: Any, what: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InvalidSubmission(f"{what} must be a bool; got {type(value).__name__}")


def want_float(value: Any, what: str, *, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidSubmission(f"{what} must be a number; got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        raise InvalidSubmission(f"{what} must be a finite number; got {x}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise InvalidSubmission(f"{what} must be in [{lo:g}, {hi:g}]; got {x:g}")
    return x


def want_str(value: Any, what: str, choices: Sequence[str] | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidSubmission(f"{what} must be a str; got {type(value).__name__}")
    if choices is not None and value not in choices:
        raise InvalidSubmission(f"{what} must be one of {', '.join(repr(c) for c in choices)}; got {value!r:.40}")
    return value


def want_optional_str(value: Any, what: str) -> str | None:
    return None if value is None else want_str(value, what)


# ------------------------------------------------------------------------------------------- judge side


class BadData(Exception):
    """Collected data of the wrong type or shape (only possible when the collect side was bypassed)."""


def field(data: Any, key: str, typ: type | tuple[type, ...]) -> Any:
    """``data[key]`` if ``data`` is a dict holding a value of ``typ`` there, else :class:`BadData`."""
    if not isinstance(data, dict) or key not in data:
        raise BadData(f"missing '{key}'")
    value = data[key]
    if isinstance(value, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,)):
        raise BadData(f"'{key}' has type bool")
    if not isinstance(value, typ):
        raise BadData(f"'{key}' has type {type(value).__name__}")
    return value


def list_of(value: Any, typ: type | tuple[type, ...], what: str, *, length: int | None = None,
            allow_none: bool = False) -> list:
    """``value`` if it is a list of ``typ`` (optionally of a given length), else :class:`BadData`."""
    if not isinstance(value, list):
        raise BadData(f"{what} is not a list")
    if length is not None and len(value) != length:
        raise BadData(f"{what} has {len(value)} items, not {length}")
    typs = typ if isinstance(typ, tuple) else (typ,)
    for v in value:
        if v is None and allow_none:
            continue
        if (isinstance(v, bool) and bool not in typs) or not isinstance(v, typs):
            raise BadData(f"{what} holds a {type(v).__name__}")
        if isinstance(v, float) and not math.isfinite(v):
            raise BadData(f"{what} holds a non-finite number")
    return value


#: What a judge body gets to build its result: ``score(fraction, message, passed=None)``.
Score = Callable[..., CheckResult]


def scored_check(name: str, max_points: float, description: str,
                 scenario: Callable[[int], Any],
                 collect: Callable[[Mapping[str, Any], Any, Any], Any],
                 judge: Callable[[Any, int, Score], CheckResult],
                 environment: Callable[[int], Any] | None = None) -> Check:
    """A :class:`Check` whose name and points are given here only.

    ``scenario(seed)`` makes the inputs, ``collect(namespace, inputs, ask)`` runs the learner's code on
    them, ``judge(data, seed, score)`` scores what came back (see :mod:`._core` for the contract).

    ``judge(data, seed, score)`` returns ``score(fraction, message)``: a result worth ``fraction`` of
    ``max_points`` (rounded to 0.01), passed when the fraction is 1 (unless ``passed=`` says otherwise).
    Malformed data scores 0 ("invalid") instead of raising, so the grader can judge untrusted data.
    """

    def score(fraction: float, message: str, *, passed: bool | None = None) -> CheckResult:
        fraction = min(1.0, max(0.0, float(fraction)))
        ok = (fraction >= 1.0) if passed is None else passed
        return CheckResult(name, min(round(max_points * fraction, 2), max_points), max_points, ok, message)

    @wraps(judge)
    def safe(data: Any, seed: int) -> CheckResult:
        try:
            return judge(data, seed, score)
        except (BadData, KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            detail = f" ({exc})" if isinstance(exc, BadData) else ""
            return CheckResult(name, 0.0, max_points, False,
                               f"the data collected from your code has an unexpected shape{detail}",
                               status="invalid")

    return Check(name, max_points, description, scenario, collect, safe, environment)


# ------------------------------------------------------------------------------------------------ verbs


def learner_verbs(exercise: Exercise):
    """The three verbs an exercise module gives learners, as ``check, hint, solution``.

    Each exercise module does ``check, hint, solution = learner_verbs(EXERCISE)``. They print: they are
    the notebook's layer over :func:`run_checks` and :func:`format_report`; misuse gets one line, not a
    traceback.
    """

    def check(namespace: Mapping[str, Any], seed: int = 0, only: Any = None) -> None:
        """Run the checks on the code in ``namespace`` (pass ``globals()``) and print one line per check."""
        if not isinstance(namespace, Mapping):
            print(f"check() needs your notebook's names: call {exercise.name}.check(globals()); "
                  f"got {_kind(namespace)}")
            return
        try:
            seed = check_int("seed", seed, minimum=0)
            report = run_checks(exercise, namespace, seed, only=(only,) if isinstance(only, str) else only)
        except (TypeError, ValueError) as exc:
            print(f"check(): {exc}")
            return
        print(format_report(report))

    def hint(n: int = 1) -> None:
        """Print hint ``n`` (1 is a nudge, the last one nearly the answer)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(exercise.hints):
            print(f"hint(n) takes n from 1 to {len(exercise.hints)}")
            return
        print(f"Hint {n}/{len(exercise.hints)}: {exercise.hints[n - 1]}")

    def solution() -> None:
        """Print where the reference solution is."""
        print(f"The reference solution is the notebook {exercise.solution_path} (open it once you have "
              f"tried: the checks tell you which behaviours still fail).")

    return check, hint, solution