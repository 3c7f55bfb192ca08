"""The contract shared by the exercise checks and the instructor grader.

An exercise module (``ex1``, ``ex2``, ``ex3``) defines:

- ``EXERCISE``: an :class:`Exercise` with its name, the solutions notebook, the names of the objects the
  learner defines (``entry_points``), its :class:`Check` s and its hints;
- ``check(namespace, seed=...)``, ``hint(n=1)``, ``solution()``: the three verbs learners use, thin
  wrappers over :func:`run_checks` and :func:`format_report` (the only place that formats text).

A :class:`Check` keeps the truth of a scenario apart from the code it judges. It is three functions (and an
optional fourth for scenarios that answer back):

``scenario(seed) -> inputs``
    The inputs the learner's code gets, and nothing else: plain data (None, bool, int, float, str, lists,
    dicts with str keys, numpy arrays). The *truth* (where the change is, which answer is right) is never in
    it. The grader calls it in its own process and ships the inputs to the sandbox; the seed never leaves.
``collect(namespace, inputs, ask) -> data``
    Runs learner code (the objects in ``namespace``) on ``inputs`` and returns plain data
    (JSON-serialisable), e.g. the indices at which a detector fired. It may raise; learner exceptions
    propagate. ``ask`` is None unless the check has an ``environment``.
``judge(data, seed) -> CheckResult``
    Recomputes the scenario's truth from ``seed`` and scores ``data``. It never calls learner code, so the
    grader runs it in its own process on data that came back from the sandbox. It must treat ``data`` as
    untrusted: wrong types or shapes score 0 with a message, never raise.
``environment(seed) -> Environment`` (optional)
    For closed-loop scenarios, where what the learner's code sees next depends on what it did (a rollback
    changes which model serves): the environment lives with the truth, in the grader's process, and
    ``collect`` talks to it through ``ask(request) -> reply`` (plain data both ways). An environment answers
    requests in the order the scenario allows (no step ahead of time) and raises ``ValueError`` otherwise.

Messages say what went wrong, never the expected answer.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CheckResult", "Check", "Exercise", "Report", "NotAttempted", "InvalidSubmission", "in_scenario",
           "result_for_exception", "run_checks", "format_report", "describe_exception", "encode_plain",
           "decode_plain", "shipped", "local_ask"]


class NotAttempted(Exception):
    """Raised by ``collect`` when the learner's code is still the stub (``NotImplementedError``)."""


class InvalidSubmission(Exception):
    """Raised by ``collect`` when the learner's objects have the wrong shape: a missing name, a function
    where a class is expected, a missing method, a wrong return type. Its message is one line saying what
    is missing (``WindowAccuracyDetector must be a class; got a function``); it scores 0, status "invalid".
    """


#: Attribute that :func:`in_scenario` sets on an exception escaping learner code.
SCENARIO_ATTR = "_prodai_scenario"


class in_scenario:  # noqa: N801 - used as a context manager, reads like a statement
    """``with in_scenario("abrupt drift, stream 2"): ...`` tags an exception raised inside with the
    scenario's name, so the report says which scenario triggered it. Never swallows the exception."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> "in_scenario":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and not hasattr(exc, SCENARIO_ATTR):
            try:
                setattr(exc, SCENARIO_ATTR, self.name)
            except (AttributeError, TypeError):  # exotic exception types without a __dict__
                pass
        return False


def _stub_name(exc: BaseException) -> str | None:
    """The qualified name of the function whose stub raised ``exc`` (its innermost frame), if any."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    code = frame.f_code
    qualname = getattr(code, "co_qualname", None)  # Python >= 3.11
    if qualname is None:  # Python 3.10: a method's class is found through its self/cls argument
        qualname = code.co_name
        owner = frame.f_locals.get("self", frame.f_locals.get("cls"))
        if owner is not None:
            for klass in (owner if isinstance(owner, type) else type(owner)).__mro__:
                attr = klass.__dict__.get(code.co_name)
                func = getattr(attr, "fget", getattr(attr, "__func__", attr))  # property, class/staticmethod
                if getattr(func, "__code__", None) is code:
                    qualname = f"{klass.__qualname__}.{code.co_name}"
                    break
    return qualname.split("<locals>.")[-1]


def result_for_exception(check: Check, exc: BaseException) -> CheckResult:
    """The 0-point result for a ``collect`` that raised ``exc``: the one mapping of exceptions to
    learner messages, shared by :func:`run_checks` and the grader (call it where the exception happened:
    the traceback names the stub that is still unwritten).

    - ``NotImplementedError`` / :class:`NotAttempted`: "not attempted yet", naming the stub;
    - :class:`InvalidSubmission`: its one-line message, status "invalid";
    - anything else: the exception's last line and the scenario that triggered it, status "error".
    """
    if isinstance(exc, (NotImplementedError, NotAttempted)):
        stub = _stub_name(exc) if isinstance(exc, NotImplementedError) else None
        what = f"{stub} is still the stub" if stub and stub != "<module>" else "the code is still the stub"
        return CheckResult(check.name, 0.0, check.max_points, False,
                           f"{what}; write it and run check() again (hint() gives a nudge)",
                           status="not_attempted")
    if isinstance(exc, InvalidSubmission):
        return CheckResult(check.name, 0.0, check.max_points, False, str(exc), status="invalid")
    scenario = getattr(exc, SCENARIO_ATTR, None) or check.name
    return CheckResult(check.name, 0.0, check.max_points, False,
                       f"your code raised {describe_exception(exc)} in scenario '{scenario}'", status="error")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``points`` out of ``max_points``; ``message`` for the learner."""

    name: str
    points: float
    max_points: float
    passed: bool
    message: str
    status: str = "ok"  # "ok" | "not_attempted" | "error" | "timeout" | "memory" | "invalid"

    def __post_init__(self) -> None:
        if not (0.0 <= self.points <= self.max_points):
            raise ValueError(f"points must be in [0, max_points={self.max_points}]; got {self.points}")


@dataclass(frozen=True)
class Check:
    """One named, scored behaviour of an exercise (see the module docstring for the contract)."""

    name: str
    max_points: float
    description: str
    scenario: Callable[[int], Any]
    collect: Callable[[Mapping[str, Any], Any, Callable[[Any], Any] | None], Any]
    judge: Callable[[Any, int], CheckResult]
    environment: Callable[[int], Any] | None = None


# ------------------------------------------------------------------------------------- plain data codec

_ARRAY_TAG = "__ndarray__"


def encode_plain(value: Any) -> Any:
    """``value`` as JSON-ready data: numpy arrays become tagged base64 blocks, tuples lists, numpy scalars
    Python numbers. Raises TypeError for anything else that JSON cannot hold (a scenario is plain data).

    >>> import numpy as np
    >>> decode_plain(encode_plain({"x": np.arange(3), "k": (1, 2.5)}))["x"].tolist()
    [0, 1, 2]
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"scenario arrays must hold bools or numbers; got dtype {value.dtype}")
        a = np.ascontiguousarray(value)
        return {_ARRAY_TAG: {"dtype": a.dtype.str, "shape": list(a.shape),
                             "data": base64.b64encode(a.tobytes()).decode("ascii")}}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k == _ARRAY_TAG:
                raise TypeError(f"scenario dict keys must be str (not {_ARRAY_TAG!r}); got {k!r:.40}")
            out[k] = encode_plain(v)
        return out
    if isinstance(value, (list, tuple)):
        return [encode_plain(v) for v in value]
    raise TypeError(f"a scenario must be plain data; got {type(value).__name__}")


def decode_plain(value: Any) -> Any:
    """The inverse of :func:`encode_plain`; arrays come back read-only.

    >>> decode_plain([1, {"a": None}])
    [1, {'a': None}]
    """
    if isinstance(value, dict):
        if set(value) == {_ARRAY_TAG}:
            spec = value[_ARRAY_TAG]
            a = np.frombuffer(base64.b64decode(spec["data"]), dtype=np.dtype(spec["dtype"]))
            return a.reshape(spec["shape"])  # frombuffer over bytes: read-only
        return {k: decode_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_plain(v) for v in value]
    return value


def shipped(value: Any) -> Any:
    """``value`` as it arrives on the other side of the grader's pipes: encoded, through JSON, decoded.

    >>> shipped((1, {"a": 2.5}))
    [1, {'a': 2.5}]
    """
    return decode_plain(json.loads(json.dumps(encode_plain(value))))


def local_ask(environment: Any) -> Callable[[Any], Any]:
    """``ask`` for a check run in this process: each request and reply goes through JSON, as it does
    between the grader and its sandbox, so both paths hand learner code the same values.

    >>> class Echo:
    ...     def respond(self, request):
    ...         return {"got": request}
    >>> local_ask(Echo())((1, 2))
    {'got': [1, 2]}
    """
    def ask(request: Any) -> Any:
        return shipped(environment.respond(shipped(request)))
    return ask


@dataclass(frozen=True)
class Exercise:
    name: str  # "ex1"
    title: str
    solution_path: str  # e.g. "solutions/ex1_concept_drift.ipynb"
    entry_points: tuple[str, ...]  # names the learner defines in the notebook
    checks: tuple[Check, ...]
    hints: tuple[str, ...] = field(default=())

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.checks)

    def get_check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise ValueError(f"name must be one of {', '.join(c.name for c in self.checks)}; got {name!r}")


@dataclass(frozen=True)
class Report:
    """All check results for one run of an exercise."""

    exercise: str
    results: tuple[CheckResult, ...]

    @property
    def score(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> float:
        return sum(r.max_points for r in self.results)

    @property
    def attempted(self) -> bool:
        return any(r.status != "not_attempted" for r in self.results)


def describe_exception(exc: BaseException) -> str:
    """The exception as learners should see it: ``<type's qualified name>: <str(exc)>`` (``ValueError: bad
    window``; the name alone when the message is empty), as the last line of a traceback shows it.

    Built directly rather than taken from :func:`traceback.format_exception_only`, whose last line is the
    last *note* when the exception has notes (PEP 678, ``add_note``). A ``__str__`` that raises gives
    ``<exception str() failed>``, as the traceback module writes it.
    """
    name = type(exc).__qualname__
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - learner code: a broken __str__ must not hide the exception
        text = "<exception str() failed>"
    return f"{name}: {text}".strip() if text else name


def _only_names(only: object) -> list[str]:
    """``only`` as a list of check names, each once, in the order given (ValueError/TypeError otherwise)."""
    if isinstance(only, str) or not isinstance(only, Sequence):
        raise TypeError(f"only must be a list of check names; got {type(only).__name__}")
    names = list(only)
    if not names:
        raise ValueError("only must name at least one check (leave it out to run them all); got an empty list")
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"only must hold check names (str); got a {type(n).__name__}")
    return list(dict.fromkeys(names))  # a name given twice runs (and counts) once


def run_checks(exercise: Exercise, namespace: Mapping[str, Any], seed: int = 0,
               only: Sequence[str] | None = None) -> Report:
    """Run every check (scenario, collect, then judge) in this process; learner exceptions become 0-point
    results.

    A check whose learner code raises ``NotImplementedError`` (the untouched stub) is "not attempted";
    any other exception is reported as its last line with the scenario's name, and the remaining checks
    run (see :func:`result_for_exception`). ``only`` (check names) runs those checks only, each once;
    an empty ``only`` is a ValueError.
    """
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be a mapping such as globals(); got {type(namespace).__name__}")
    checks = exercise.checks if only is None else tuple(exercise.get_check(n) for n in _only_names(only))
    results = []
    for c in checks:
        inputs = shipped(c.scenario(seed))
        ask = None if c.environment is None else local_ask(c.environment(seed))
        try:
            data = c.collect(namespace, inputs, ask)
        except Exception as exc:  # learner code failed (or is a stub): report, keep going
            results.append(result_for_exception(c, exc))
            continue
        results.append(c.judge(data, seed))
    return Report(exercise.name, tuple(results))


def format_report(report: Report) -> str:
    """One line per check, then the score. The only text formatting of results."""
    marks = {"ok": None, "not_attempted": "[ ]", "error": "[!]", "timeout": "[!]", "memory": "[!]",
             "invalid": "[!]"}
    lines = []
    for r in report.results:
        mark = marks.get(r.status) or ("[x]" if r.passed else "[ ]")
        verdict = "passed" if r.passed else ("not attempted yet" if r.status == "not_attempted" else "failed")
        lines.append(f"{mark} {r.name} ({r.points:g}/{r.max_points:g}): {verdict}"
                     + ("" if r.passed and not r.message else f": {r.message}"))
    if not report.attempted:
        lines.append(f"Score: 0/{report.max_points:g}. Not attempted yet: start with hint().")
    else:
        lines.append(f"Score: {report.score:g}/{report.max_points:g}")
    return "\n".join(lines)
