"""Exercise 3, automated rollback: checks for ``ModelRegistry``, ``QualityMonitor`` and ``RollbackController``.

The learner's contract (the stubs in ``exercises/ex3_automated_rollback.ipynb`` carry the same text):

``ModelRegistry()``
    ``register(version, eval_score, **metadata)`` (``ValueError`` for a version registered twice),
    ``promote(version)`` (``champion`` -> version, ``previous`` -> the old champion, the version appended to
    ``history()``; ``KeyError`` or ``ValueError`` for an unknown version), ``alias(name) -> str | None``,
    ``eval_score(version) -> float``, ``versions() -> list[str]`` (registration order), ``history()``,
    ``mark_unhealthy(version, reason)``, ``is_healthy(version) -> bool``.
``QualityMonitor(threshold, window=100, min_samples=50, failure_limit=2)``
    ``observe(score)``; ``evaluate() -> "inconclusive" | "passed" | "failed"``: inconclusive while the window
    holds fewer than ``min_samples`` scores, else passed when the mean of the last ``window`` scores is
    ``>= threshold`` (a mean exactly at the threshold passes); a failed evaluation adds one to a run of
    consecutive failures, a passed one ends the run, an inconclusive one leaves it; ``unhealthy``
    (property) is ``True`` once the run is longer than ``failure_limit`` (Argo Rollouts' ``failureLimit``
    uses the same "more than" rule, over all measurements; counting consecutive ones lets a recovered
    version start over); ``reset()`` forgets the window and the run.
``RollbackController(registry, monitor, cooldown=10, dry_run=False)``
    ``deploy(version, t)``: promote, reset the monitor, audit entry ``action="deploy"``;
    ``step(t)``: exactly one evaluation of the monitor, at every step; when unhealthy and the last rollback
    (a deploy does not count) is at least ``cooldown`` steps ago, roll back to the best healthy earlier
    version (registered before the champion, not marked unhealthy, highest ``eval_score``), marking the
    champion unhealthy and resetting the monitor; with no such version, do nothing and log nothing. With
    ``dry_run=True`` it only records what it would do (``action="dry-run"``), cooldown included, and
    leaves the registry and the monitor alone.
    ``audit_log`` (a list attribute or property, not a method): dicts with exactly the keys ``t`` (the int
    step), ``action`` ("deploy", "rollback" or "dry-run"), ``from_version`` (the champion before; None if
    none), ``to_version`` and a non-empty ``reason``, in time order; ``deploy`` logs one entry too.

Every scenario is generated from the seed: version names, eval scores, thresholds, windows, failure limits,
when the degradation starts, the noise, the cooldown. The judges recompute it and never call learner code.
The simulations get their traffic from :class:`_Serving`, in the grader, one step at a time. On the learner's
side the monitor is a subclass of the learner's own class that records its ``evaluate()`` and ``reset()``
calls, so a judge can tell "not evaluated" or "not reset" apart from "judged wrong".
"""
from __future__ import annotations

import inspect
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from prodai_lessons.exercises._core import CheckResult, Exercise, InvalidSubmission, in_scenario, local_ask
from prodai_lessons.exercises._ex3_scenarios import (
    DEADLINE,
    SCENARIOS,
    _best_earlier,
    _failure_runs,
    _make_scenario,
    _names,
    _reference_run,
    _Scenario,
)
from prodai_lessons.exercises._helpers import (
    BadData,
    Score,
    entry,
    field,
    learner_verbs,
    list_of,
    read_attr,
    rng,
    scored_check,
    want_bool,
    want_float,
    want_optional_str,
    want_str,
)

__all__ = ["EXERCISE", "check", "hint", "solution", "simulate", "SimulationRun", "SCENARIOS"]

_REGISTRY_METHODS = ("register", "promote", "alias", "eval_score", "versions", "history", "mark_unhealthy",
                     "is_healthy")
_MONITOR_METHODS = ("observe", "evaluate", "reset")
_CONTROLLER_METHODS = ("deploy", "step")
_VERDICTS = ("inconclusive", "passed", "failed")
_AUDIT_KEYS = ("t", "action", "from_version", "to_version", "reason")


def _registry_cls(ns: Mapping[str, Any]) -> type:
    return entry(ns, "ModelRegistry", kind="class", methods=_REGISTRY_METHODS)


def _monitor_cls(ns: Mapping[str, Any]) -> type:
    return entry(ns, "QualityMonitor", kind="class", methods=_MONITOR_METHODS, attributes=("unhealthy",))


def _controller_cls(ns: Mapping[str, Any]) -> type:
    return entry(ns, "RollbackController", kind="class", methods=_CONTROLLER_METHODS)


# ------------------------------------------------------------------------------------------ registry


@lru_cache(maxsize=32)
def _registry_scenario(seed: int) -> dict:
    r = rng(seed, 3, 1)
    n = int(r.integers(4, 7))
    names = _names(r, n)
    scores = [round(float(s), 3) for s in r.permutation(np.linspace(0.70, 0.95, n)) + r.uniform(0, 0.004, n)]
    promotions: list[str] = []
    current = None
    for _ in range(int(r.integers(4, 8))):
        choice = str(r.choice([v for v in names if v != current]))
        promotions.append(choice)
        current = choice
    flagged = sorted(str(v) for v in r.choice(names, size=2, replace=False))
    return {"names": names, "scores": scores, "promotions": promotions, "flagged": flagged,
            "unknown": f"{names[0].split('-')[0]}-v{n + int(r.integers(1, 9))}"}


def _collect_registry(ns: Mapping[str, Any], sc: dict, ask=None) -> dict:
    cls = _registry_cls(ns)
    with in_scenario("registry: register and promote"):
        reg = cls()
        for v, s in zip(sc["names"], sc["scores"]):
            reg.register(v, s, owner="team-a", dataset="2024-q2")
        steps = []
        for v in sc["promotions"]:
            reg.promote(v)
            history = reg.history()
            if not isinstance(history, (list, tuple)):
                raise InvalidSubmission(f"ModelRegistry.history() must return a list; got {type(history).__name__}")
            steps.append({
                "champion": want_optional_str(reg.alias("champion"), "ModelRegistry.alias('champion')"),
                "previous": want_optional_str(reg.alias("previous"), "ModelRegistry.alias('previous')"),
                "history": [want_str(h, "each item of ModelRegistry.history()") for h in history],
            })
        versions = reg.versions()
        if not isinstance(versions, (list, tuple)):
            raise InvalidSubmission(f"ModelRegistry.versions() must return a list; got {type(versions).__name__}")
        versions = [want_str(v, "each item of ModelRegistry.versions()") for v in versions]
        scores = [want_float(reg.eval_score(v), "ModelRegistry.eval_score()") for v in sc["names"]]
        unset = want_optional_str(reg.alias("canary"), "ModelRegistry.alias('canary')")
    with in_scenario("registry: health flags"):
        for v in sc["flagged"]:
            reg.mark_unhealthy(v, "quality below threshold in production")
        answers = [reg.is_healthy(v) for v in sc["names"]]
        # this check owns the type: 0/1 are judged as False/True here, and the type is reported
        healthy = [_truth(a, "ModelRegistry.is_healthy()") for a in answers]
        not_bool = next((type(a).__name__ for a in answers if not isinstance(a, (bool, np.bool_))), None)
    errors = {}
    for what, call in (("duplicate", lambda: reg.register(sc["names"][0], 0.5)),
                       ("unknown", lambda: reg.promote(sc["unknown"]))):
        try:
            call()
            errors[what] = None
        except NotImplementedError:
            raise
        except Exception as exc:  # the behaviour under test: which error is raised
            errors[what] = type(exc).__name__
    return {"steps": steps, "versions": versions, "scores": scores, "unset_alias": unset, "healthy": healthy,
            "healthy_type": not_bool, "duplicate_error": errors["duplicate"], "unknown_error": errors["unknown"]}


def _judge_registry(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _registry_scenario(seed)
    steps = list_of(field(data, "steps", list), dict, "steps", length=len(sc["promotions"]))
    problems: list[str] = []
    champion = previous = None
    history: list[str] = []
    for k, (v, got) in enumerate(zip(sc["promotions"], steps)):
        previous, champion = champion, v
        history.append(v)
        if got.get("champion") != champion:
            problems.append("alias('champion') is not the version promoted last")
            break
        if got.get("previous") != previous:
            problems.append("alias('previous') is not the champion before the last promotion"
                            + (" (None before any)" if previous is None else ""))
            break
        if got.get("history") != history:
            problems.append("history() is not every promoted version, oldest first")
            break
    if field(data, "versions", list) != sc["names"]:
        problems.append("versions() does not list the registered versions in registration order")
    got_scores = list_of(field(data, "scores", list), (int, float), "scores", length=len(sc["scores"]))
    if any(abs(a - b) > 1e-12 for a, b in zip(got_scores, sc["scores"])):
        problems.append("eval_score() does not return the score given to register()")
    if data.get("unset_alias") is not None:
        problems.append("alias() of a name never set should be None")
    healthy = list_of(field(data, "healthy", list), bool, "healthy", length=len(sc["names"]))
    if healthy != [v not in sc["flagged"] for v in sc["names"]]:
        problems.append("is_healthy() does not follow mark_unhealthy()")
    if data.get("healthy_type") is not None:
        got = str(data["healthy_type"])[:20]
        problems.append(f"is_healthy() must return a bool (True or False); it returned {got}")
    if data.get("duplicate_error") != "ValueError":
        problems.append("registering a version twice should raise ValueError"
                        + ("" if data.get("duplicate_error") is None else f", not {data['duplicate_error']}"))
    if data.get("unknown_error") not in ("KeyError", "ValueError"):
        problems.append("promoting an unknown version should raise KeyError or ValueError")
    n_parts = 7
    if not problems:
        return score(1.0, "")
    return score(max(0, n_parts - len(problems)) / n_parts / 2,
                 "; ".join(problems[:2]) + (f" (+{len(problems) - 2} more)" if len(problems) > 2 else ""))


# ------------------------------------------------------------------------------------------- monitor


def _monitor_params(r: np.random.Generator) -> dict:
    window = int(r.choice([40, 60, 80, 100]))
    return {"threshold": round(float(r.uniform(0.70, 0.85)), 2) + 0.005, "window": window,
            "min_samples": int(window * r.choice([0.4, 0.5, 0.75])), "failure_limit": int(r.integers(1, 4))}


@lru_cache(maxsize=32)
def _window_scenario(seed: int) -> dict:
    """Observations in regimes above and below the threshold, evaluations in between, a reset or two."""
    r = rng(seed, 3, 2)
    while True:
        p = _monitor_params(r)
        ops: list = []
        level = p["threshold"] + r.choice([-1, 1]) * r.uniform(0.08, 0.15)
        for k in range(int(r.integers(28, 36))):
            if r.random() < 0.25:
                level = p["threshold"] + r.choice([-1, 1]) * r.uniform(0.08, 0.2)
            n_obs = int(r.integers(3, max(4, p["window"] // 2)))
            ops.append([round(float(x), 4) for x in np.clip(r.normal(level, 0.1, n_obs), 0.0, 1.0)])
            if k in (12, 24):
                ops.append("reset")
        verdicts, variants = _window_reference(p, ops)
        close = any(abs(m - p["threshold"]) < 1e-6 for m in variants["means"])
        if not close and "failed" in verdicts and "passed" in verdicts and "inconclusive" in verdicts \
                and variants["all_history"] != verdicts and variants["no_min"] != verdicts \
                and variants["keep_window"] != verdicts:
            return {"params": p, "ops": ops, "ties": _tie_cases(r)}


def _tie_cases(r: np.random.Generator) -> list[dict]:
    """Monitors fed one full window of 0.0/1.0 scores whose mean is exactly the threshold ``k / window``.

    The sum of 0.0s and 1.0s is exact in any order and ``k / window`` is one correctly rounded division, so
    ``sum / len``, ``np.mean`` and ``statistics.mean`` all give the threshold itself: the tie is a tie
    whichever way the mean is computed, and a mean at the threshold passes."""
    out = []
    for _ in range(3):
        p = _monitor_params(r)
        k = int(r.integers(int(0.6 * p["window"]), int(0.9 * p["window"])))
        scores = [1.0] * k + [0.0] * (p["window"] - k)
        out.append({"params": {**p, "threshold": k / p["window"]},
                    "scores": [float(x) for x in r.permutation(scores)]})
    return out


def _window_reference(p: dict, ops: list) -> tuple[list[str], dict]:
    """Verdicts of the specified monitor after each batch, and of two wrong variants (to name mistakes)."""
    win: list[float] = []
    hist: list[float] = []
    kept: list[float] = []  # the window of a reset() that forgets the failure count but not the scores
    out, all_hist, no_min, means, keep_window, after_reset = [], [], [], [], [], []
    reset = False
    for op in ops:
        if op == "reset":
            win, hist, reset = [], [], True
            continue
        win = (win + op)[-p["window"]:]
        kept = (kept + op)[-p["window"]:]
        hist = hist + op
        m = float(np.mean(win))
        means.append(m)
        ok = "passed" if m >= p["threshold"] else "failed"
        out.append("inconclusive" if len(win) < p["min_samples"] else ok)
        no_min.append(ok)
        all_ok = "passed" if float(np.mean(hist)) >= p["threshold"] else "failed"
        all_hist.append("inconclusive" if len(hist) < p["min_samples"] else all_ok)
        kept_ok = "passed" if float(np.mean(kept)) >= p["threshold"] else "failed"
        keep_window.append("inconclusive" if len(kept) < p["min_samples"] else kept_ok)
        after_reset.append(reset)
        reset = False
    return out, {"all_history": all_hist, "no_min": no_min, "means": means, "keep_window": keep_window,
                 "after_reset": after_reset}


def _new_monitor(cls: type, p: dict) -> Any:
    return cls(threshold=p["threshold"], window=p["window"], min_samples=p["min_samples"],
               failure_limit=p["failure_limit"])


def _collect_window(ns: Mapping[str, Any], sc: dict, ask=None) -> dict:
    cls = _monitor_cls(ns)
    verdicts = []
    with in_scenario("monitor: sliding window and minimum samples"):
        mon = _new_monitor(cls, sc["params"])
        for op in sc["ops"]:
            if op == "reset":
                mon.reset()
                continue
            for x in op:
                mon.observe(x)
            verdicts.append(want_str(mon.evaluate(), "QualityMonitor.evaluate()", _VERDICTS))
    ties = []
    with in_scenario("monitor: a window mean equal to the threshold"):
        for case in sc["ties"]:
            mon = _new_monitor(cls, case["params"])
            for x in case["scores"]:
                mon.observe(x)
            ties.append(want_str(mon.evaluate(), "QualityMonitor.evaluate()", _VERDICTS))
    return {"verdicts": verdicts, "ties": ties}


def _judge_window(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _window_scenario(seed)
    ref, variants = _window_reference(sc["params"], sc["ops"])
    got = list_of(field(data, "verdicts", list), str, "verdicts", length=len(ref))
    ties = list_of(field(data, "ties", list), str, "ties", length=len(sc["ties"]))
    wrong = [i for i, (a, b) in enumerate(zip(got, ref)) if a != b]
    wrong_ties = sum(v != "passed" for v in ties)
    if not wrong and not wrong_ties:
        return score(1.0, "")
    problems = []
    p = sc["params"]
    if wrong:
        i = wrong[0]
        if variants["after_reset"][i] and got[i] == variants["keep_window"][i]:
            why = ("after reset() the window still held the scores observed before it: reset() forgets the "
                   "scores as well as the failures")
        elif got[i] != "inconclusive" and ref[i] == "inconclusive":
            why = f"evaluate() gave a verdict with fewer than min_samples={p['min_samples']} scores in the window"
        elif got[i] == "inconclusive":
            why = "evaluate() stayed inconclusive although the window held at least min_samples scores"
        elif got == variants["all_history"][:len(got)] or got[i] == variants["all_history"][i]:
            why = f"evaluate() does not judge the mean of the last window={p['window']} scores only"
        else:
            why = f"evaluate() passed/failed the window mean against threshold={p['threshold']:g} the wrong way"
        problems.append(f"{why} ({len(wrong)} of {len(ref)} evaluations differ)")
    if wrong_ties:
        problems.append(f"evaluate() did not pass {wrong_ties} of {len(ties)} full windows whose mean equals "
                        "the threshold exactly (passed means mean >= threshold)")
    frac = 1 - (len(wrong) + wrong_ties) / (len(ref) + len(ties))
    return score(frac * 0.5, "; ".join(problems))


@lru_cache(maxsize=32)
def _limit_scenario(seed: int) -> dict:
    """Evaluations whose window is all 1.0 (pass) or all 0.0 (fail): only the failure counting is tested."""
    r = rng(seed, 3, 3)
    p = _monitor_params(r)
    pattern: list[str] = []
    while len(pattern) < 26:
        kind = str(r.choice(["pass", "fail"], p=[0.35, 0.65]))
        pattern += [kind] * int(r.integers(1, p["failure_limit"] + 3))
    pattern = pattern[:26]
    pattern.insert(int(r.integers(10, 20)), "reset")
    return {"params": p, "pattern": pattern}


def _limit_reference(sc: dict, *, at_limit: bool = False, pass_ends_run: bool = True) -> list[bool]:
    """``unhealthy`` after each step; the keywords give two classic mistakes (to name them in messages)."""
    run, out = 0, []
    limit = sc["params"]["failure_limit"]
    for op in sc["pattern"]:
        if op == "reset":
            run = 0
        elif op == "fail":
            run += 1
        elif pass_ends_run:
            run = 0
        out.append(run >= limit if at_limit else run > limit)
    return out


def _collect_limit(ns: Mapping[str, Any], sc: dict, ask=None) -> dict:
    cls = _monitor_cls(ns)
    p = sc["params"]
    states, verdicts = [], []
    with in_scenario("monitor: failure limit"):
        mon = _new_monitor(cls, p)
        for op in sc["pattern"]:
            if op == "reset":
                mon.reset()
                verdicts.append("reset")
            else:
                for _ in range(p["window"]):
                    mon.observe(1.0 if op == "pass" else 0.0)
                verdicts.append(want_str(mon.evaluate(), "QualityMonitor.evaluate()", _VERDICTS))
            states.append(want_bool(read_attr(mon, "QualityMonitor", "unhealthy"), "QualityMonitor.unhealthy"))
    return {"unhealthy": states, "verdicts": verdicts}


def _judge_limit(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _limit_scenario(seed)
    ref = _limit_reference(sc)
    got = list_of(field(data, "unhealthy", list), bool, "unhealthy", length=len(ref))
    verdicts = list_of(field(data, "verdicts", list), str, "verdicts", length=len(ref))
    L = sc["params"]["failure_limit"]
    expected_verdicts = ["reset" if op == "reset" else ("passed" if op == "pass" else "failed")
                         for op in sc["pattern"]]
    if verdicts != expected_verdicts:
        return score(0.0, "evaluate() misjudged windows made only of 1.0 or only of 0.0 "
                                     "(check the window and threshold first)")
    wrong = [i for i, (a, b) in enumerate(zip(got, ref)) if a != b]
    if not wrong:
        return score(1.0, "")
    i = wrong[0]
    run = 0
    for op in sc["pattern"][:i + 1]:
        run = 0 if op in ("reset", "pass") else run + 1
    op = sc["pattern"][i]
    if got == _limit_reference(sc, at_limit=True):
        why = (f"unhealthy became True after {L} consecutive failed evaluation(s) with failure_limit={L}: "
               "up to failure_limit failures are tolerated, one more makes it unhealthy")
    elif got == _limit_reference(sc, pass_ends_run=False):
        why = "failures were counted across a passed evaluation (a pass ends the run of failures)"
    elif op == "reset":
        why = "unhealthy stayed True after reset()"
    elif op == "pass":
        why = "unhealthy stayed True after a passed evaluation (it ends the run of failures)"
    elif got[i]:
        why = f"unhealthy became True after only {run} consecutive failed evaluation(s) with failure_limit={L}"
    else:
        why = f"unhealthy stayed False after {run} consecutive failed evaluations with failure_limit={L}"
    return score(0.5 * (1 - len(wrong) / len(ref)), why)


# ---------------------------------------------------------------------------------------- controller



@dataclass(frozen=True)
class SimulationRun:
    """What happened in one simulated deployment: the champion after each step, the quality of the requests
    served at each step, the controller's audit log and the versions' health at the end.

    >>> [f.name for f in dataclasses.fields(SimulationRun)][:4]
    ['scenario', 'deployed', 'champion', 'quality']
    """

    scenario: str
    deployed: str
    champion: tuple[str, ...]  # index t: champion after step t (index 0: after the deploy)
    quality: tuple[float, ...]  # index t: mean score of the requests served at step t (0: nan)
    audit: tuple[dict, ...]
    healthy: dict
    threshold: float
    cooldown: int
    #: index t: what the controller did with the monitor during step t (index 0: during the deploy):
    #: ``{"verdicts": [what each evaluate() returned], "unhealthy": [monitor.unhealthy right after each],
    #: "resets": number of reset() calls}``
    monitor_calls: tuple[dict, ...] = ()
    #: keys the audit entries hold beyond the five specified ones (their repr, sorted)
    extra_keys: tuple[str, ...] = ()


def _truth(value: Any, what: str) -> bool:
    """A learner's yes/no answer as a bool: ``True``/``False`` and also ``1``/``0``, so a check that judges
    behaviour does not fail on the type (the check that owns the type reports it)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    raise InvalidSubmission(f"{what} must be a bool; got {type(value).__name__}")


def _seen_as_true(value: Any) -> bool:
    """How a controller's ``if monitor.unhealthy:`` reads ``value`` (the recording only observes: the type of
    ``unhealthy`` is judged by monitor_failure_limit, not here)."""
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - learner value whose truth is undefined (an array): record it as False
        return False


def _recording(cls: type, calls: list[dict]) -> type:
    """``cls`` with ``evaluate`` and ``reset`` recorded in ``calls[-1]`` (the current step's record). The
    learner's methods do the work; the record is what the judges read to tell apart "the monitor was not
    evaluated" or "not reset" from a monitor that judged wrong."""

    def evaluate(self, *args, **kwargs):
        verdict = cls.evaluate(self, *args, **kwargs)
        record = calls[-1]
        record["verdicts"].append(verdict if isinstance(verdict, str) and verdict in _VERDICTS else "other")
        state = getattr(self, "unhealthy")
        if inspect.ismethod(state):  # a forgotten @property is monitor_failure_limit's to report, not ours
            state = state()
        record["unhealthy"].append(_seen_as_true(state))
        return verdict

    def reset(self, *args, **kwargs):
        calls[-1]["resets"] += 1
        return cls.reset(self, *args, **kwargs)

    return type(cls.__name__, (cls,), {"evaluate": evaluate, "reset": reset, "__qualname__": cls.__qualname__,
                                       "__module__": cls.__module__})


def _plain_audit(log: Any) -> tuple[list[dict], list[str]]:
    """The entries as plain data (the five keys) and the other keys they hold (their repr, sorted)."""
    if callable(log):
        raise InvalidSubmission("RollbackController.audit_log must be a list (an attribute or @property), "
                                "not a method")
    if not isinstance(log, (list, tuple)):
        raise InvalidSubmission(f"RollbackController.audit_log must be a list of dicts; got {type(log).__name__}")
    out, extra = [], set()
    for e in log:
        if not isinstance(e, Mapping):
            raise InvalidSubmission(f"each audit_log entry must be a dict; got {type(e).__name__}")
        missing = [k for k in _AUDIT_KEYS if k not in e]
        if missing:
            raise InvalidSubmission(f"an audit_log entry is missing key(s) {', '.join(missing)} "
                                    f"(each needs {', '.join(_AUDIT_KEYS)})")
        t = e["t"]
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)):
            raise InvalidSubmission(f"audit_log entries' 't' must be the step (an int); got {type(t).__name__}")
        out.append({"t": int(t), "action": want_str(e["action"], "audit_log entries' 'action'"),
                    "from_version": want_optional_str(e["from_version"], "audit_log entries' 'from_version'"),
                    "to_version": want_optional_str(e["to_version"], "audit_log entries' 'to_version'"),
                    "reason": want_str(e["reason"], "audit_log entries' 'reason'")})
        extra |= {repr(k)[:40] for k in e if k not in _AUDIT_KEYS}
    return out, sorted(extra)


def _setup(sc: _Scenario) -> dict:
    """What the learner's side of a simulation gets up front: the registry's state and the settings. How good
    each version really is, and when it degrades, stays with the judge (in :class:`_Serving`)."""
    return {"kind": sc.kind, "names": list(sc.names), "scores": list(sc.scores), "promoted": list(sc.promoted),
            "flagged": list(sc.flagged), "deployed": sc.deployed, "threshold": sc.threshold,
            "window": sc.window, "min_samples": sc.min_samples, "failure_limit": sc.failure_limit,
            "cooldown": sc.cooldown, "dry_run": sc.dry_run, "steps": sc.steps}


class _Serving:
    """The traffic of a simulation, answering ``{"t": step, "version": name}`` with the scores of the requests
    that version served at that step. Steps come one at a time, in order, each once: no request can see
    ahead (a ``ValueError`` otherwise)."""

    def __init__(self, sc: _Scenario) -> None:
        self.sc, self.next_t = sc, 1

    def respond(self, request: Any) -> list[float]:
        if not isinstance(request, dict) or set(request) != {"t", "version"}:
            raise ValueError("a request is {'t': step, 'version': name}")
        t, v = request["t"], request["version"]
        if isinstance(t, bool) or t != self.next_t:
            raise ValueError(f"the traffic comes one step at a time, in order: step {self.next_t} is next")
        if v not in self.sc.names:
            raise ValueError(f"no version named {v!r:.40}")
        self.next_t += 1
        return self.sc.scores_at(v, t)


def _new_record() -> dict:
    return {"verdicts": [], "unhealthy": [], "resets": 0}


def _run(ns: Mapping[str, Any], sc: dict, ask: Callable[[Any], Any], *, audit: bool) -> SimulationRun:
    reg_cls, mon_cls, ctl_cls = _registry_cls(ns), _monitor_cls(ns), _controller_cls(ns)
    calls = [_new_record()]  # calls[0]: while the monitor is built (not reported); then deploy, then each step
    mon_cls = _recording(mon_cls, calls)
    with in_scenario(f"simulation '{sc['kind']}': setting up"):
        reg = reg_cls()
        for v, s in zip(sc["names"], sc["scores"]):
            reg.register(v, s, trained_on="2024-06")
        for v in sc["promoted"]:
            reg.promote(v)
        for v in sc["flagged"]:
            reg.mark_unhealthy(v, "rolled back earlier")
        mon = mon_cls(threshold=sc["threshold"], window=sc["window"], min_samples=sc["min_samples"],
                      failure_limit=sc["failure_limit"])
        ctl = ctl_cls(reg, mon, cooldown=sc["cooldown"], dry_run=sc["dry_run"])
        calls.append(_new_record())
        ctl.deploy(sc["deployed"], 0)
        champion = [want_str(reg.alias("champion"), "ModelRegistry.alias('champion')")]
    quality = [float("nan")]
    for t in range(1, sc["steps"] + 1):
        with in_scenario(f"simulation '{sc['kind']}', step {t}"):
            scores = [float(x) for x in ask({"t": t, "version": champion[-1]})]
            for x in scores:
                mon.observe(x)
            calls.append(_new_record())
            ctl.step(t)
            champion.append(want_str(reg.alias("champion"), "ModelRegistry.alias('champion')"))
            quality.append(sum(scores) / len(scores))
    with in_scenario(f"simulation '{sc['kind']}': reading the results"):
        log, extra = _plain_audit(read_attr(ctl, "RollbackController", "audit_log")) if audit else ([], [])
        healthy = {v: _truth(reg.is_healthy(v), "ModelRegistry.is_healthy()") for v in sc["names"]}
    return SimulationRun(sc["kind"], sc["deployed"], tuple(champion), tuple(quality), tuple(log), healthy,
                         sc["threshold"], sc["cooldown"], tuple(calls[1:]), tuple(extra))


def simulate(namespace: Mapping[str, Any], scenario: str = "degrade", seed: int = 0) -> SimulationRun:
    """Run your three classes (taken from ``namespace``, e.g. ``globals()``) through a checks' scenario.

    ``scenario`` is one of ``SCENARIOS``: ``"degrade"`` (the new version degrades after deployment),
    ``"target"`` (the same with traps for choosing the rollback target), ``"incident"`` (a platform
    incident that hits every version for a while), ``"noisy"`` (a healthy version whose quality sits
    just above the threshold), ``"dry_run"`` and ``"relapse"`` (after the rollback, the version rolled back
    to degrades too, and no healthy earlier version is left). Raises what your code raises.

    >>> simulate({}, "degrade")
    Traceback (most recent call last):
    ...
    prodai_lessons.exercises._core.InvalidSubmission: ModelRegistry is not defined: run the cell that defines it, then check() again
    """
    sc = _make_scenario(scenario, seed)
    return _run(namespace, _setup(sc), local_ask(_Serving(sc)), audit=True)


def _run_data(run: SimulationRun) -> dict:
    return {"champion": list(run.champion), "audit": [dict(e) for e in run.audit],
            "healthy": dict(run.healthy), "extra_keys": list(run.extra_keys),
            "monitor": [{"verdicts": list(c["verdicts"]), "unhealthy": list(c["unhealthy"]),
                         "resets": c["resets"]} for c in run.monitor_calls]}


def _champion_changes(champion: list[str]) -> list[tuple[int, str, str]]:
    return [(t, champion[t - 1], champion[t]) for t in range(1, len(champion)) if champion[t] != champion[t - 1]]


def _read_run(data: Any, sc: _Scenario) -> tuple[list[str], list[dict], dict]:
    champion = list_of(field(data, "champion", list), str, "champion", length=sc.steps + 1)
    audit = list_of(field(data, "audit", list), dict, "audit")
    healthy = field(data, "healthy", dict)
    return champion, audit, healthy


def _read_calls(data: Any, sc: _Scenario) -> list[dict]:
    """What the controller did with the monitor, per step (index 0: the deploy); :class:`BadData` if malformed."""
    calls = list_of(field(data, "monitor", list), dict, "monitor", length=sc.steps + 1)
    for c in calls:
        verdicts = list_of(field(c, "verdicts", list), str, "verdicts")
        list_of(field(c, "unhealthy", list), bool, "unhealthy", length=len(verdicts))
        if field(c, "resets", int) < 0:
            raise BadData("a negative number of resets")
    return calls


def _simulation(kind: str, *, audit: bool) -> dict:
    """scenario, collect, environment of a simulation check (keyword arguments of :func:`scored_check`)."""
    def collect(ns: Mapping[str, Any], setup: dict, ask: Callable[[Any], Any]) -> dict:
        return _run_data(_run(ns, setup, ask, audit=audit))
    return {"scenario": lambda seed: _setup(_make_scenario(kind, seed)), "collect": collect,
            "environment": lambda seed: _Serving(_make_scenario(kind, seed))}


def _judge_happens(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _make_scenario("degrade", seed)
    champion, _, healthy = _read_run(data, sc)
    calls = _read_calls(data, sc)
    if champion[0] != sc.deployed:
        return score(0.0, "deploy() did not make the deployed version the champion")
    changes = _champion_changes(champion)
    if not changes:
        return score(0.0, "the degraded version was never rolled back")
    t, old, _new = changes[0]
    if t < sc.degrade_at:
        return score(0.0, f"rolled back at step {t}, before the version degraded "
                                     f"(it degrades at step {sc.degrade_at})")
    problems, lost = [], 0.0
    if t > sc.degrade_at + DEADLINE:
        problems.append(f"rolled back {t - sc.degrade_at} steps after the degradation started (allowed: "
                        f"{DEADLINE}; does the cooldown block the first rollback?)")
        lost += 0.5
    else:
        # judged against the learner's own monitor, so a monitor mistake is not blamed on the controller
        first = next((k for k in range(1, t) if any(calls[k]["unhealthy"])), None)
        if first is not None:
            problems.append(f"your monitor was unhealthy at step {first}, with no rollback before it, but the "
                            f"rollback came at step {t}: with no rollback within the cooldown, roll back at "
                            "the first step the monitor is unhealthy")
            lost += 0.25
    if healthy.get(sc.deployed) is not False:
        problems.append("the rolled-back version is not marked unhealthy in the registry")
        lost += 0.25
    if calls[t]["resets"] == 0:
        problems.append("the monitor was not reset at the rollback (the version rolled back to would be judged "
                        "on the failing version's scores and failures)")
        lost += 0.25
    if calls[0]["resets"] == 0:
        problems.append("deploy() did not reset the monitor")
        lost += 0.25
    if not problems:
        return score(1.0, f"rolled back {t - sc.degrade_at} step(s) after the degradation started")
    return score(1.0 - lost, "; ".join(problems))


def _judge_target(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _make_scenario("target", seed)
    champion, _, _ = _read_run(data, sc)
    changes = _champion_changes(champion)
    if not changes:
        return score(0.0, "no rollback happened in this scenario (see rollback_happens)")
    to = changes[0][2]
    if to == sc.target:
        return score(1.0, "")
    if to in sc.flagged:
        why = "rolled back to a version marked unhealthy"
    elif sc.names.index(to) > sc.names.index(sc.deployed):
        why = "rolled back to a version registered after the failing one"
    elif to == sc.promoted[-1]:
        why = "rolled back to alias 'previous', which is not the best healthy earlier version here"
    else:
        why = "rolled back to a healthy earlier version that does not have the best eval score"
    return score(0.0, why)


def _judge_cooldown(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _make_scenario("incident", seed)
    champion, _, _ = _read_run(data, sc)
    calls = _read_calls(data, sc)
    times = [t for t, _, _ in _champion_changes(champion)]
    if not times:
        return score(0.0, "no rollback happened in this scenario (see rollback_happens)")
    gaps = [b - a for a, b in zip(times, times[1:])]
    if gaps and min(gaps) < sc.cooldown:
        return score(0.0, f"two rollbacks {min(gaps)} steps apart with cooldown={sc.cooldown}: "
                                     "a platform incident made the controller roll back again")
    # the failure count must stay current, cooldown or not: one evaluation per step
    missed = [t for t in range(1, sc.steps + 1) if not calls[t]["verdicts"]]
    twice = [t for t in range(1, sc.steps + 1) if len(calls[t]["verdicts"]) > 1]
    if missed:
        cooling = all(any(0 < t - r < sc.cooldown for r in times) for t in missed)
        return score(0.5, f"step() did not evaluate the monitor at {len(missed)} of {sc.steps} steps (first: "
                          f"step {missed[0]}{', within the cooldown' if cooling else ''}): evaluate it at every "
                          "step, so its count of consecutive failures stays current")
    if twice:
        return score(0.5, f"step() evaluated the monitor more than once at {len(twice)} step(s) (first: step "
                          f"{twice[0]}): one evaluation per step, or failures are counted twice")
    return score(1.0, "")


def _judge_noisy(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _make_scenario("noisy", seed)
    champion, _, healthy = _read_run(data, sc)
    if champion[0] != sc.deployed:
        return score(0.0, "deploy() did not make the deployed version the champion")
    changes = _champion_changes(champion)
    if changes:
        return score(0.0, f"rolled back a healthy version whose quality is just above the threshold "
                                     f"(noise failed a few evaluations, never more than failure_limit="
                                     f"{sc.failure_limit} in a row; {len(changes)} rollback(s))")
    if healthy.get(sc.deployed) is not True:
        return score(0.0, "a healthy version was marked unhealthy")
    return score(1.0, "")


def _judge_audit(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _make_scenario("relapse", seed)
    champion, audit, _ = _read_run(data, sc)
    extra = list_of(field(data, "extra_keys", list), str, "extra_keys")
    changes = _champion_changes(champion)
    problems = []
    deploys = [e for e in audit if e.get("action") == "deploy"]
    if not (deploys and deploys[0].get("t") == 0 and deploys[0].get("to_version") == sc.deployed
            and deploys[0].get("from_version") == sc.promoted[-1]):
        problems.append("no 'deploy' entry at t=0 from the old champion to the deployed version")
    rollbacks = [(e.get("t"), e.get("from_version"), e.get("to_version")) for e in audit
                 if e.get("action") == "rollback"]
    if rollbacks != changes:
        problems.append("the 'rollback' entries (t, from_version, to_version) do not match the champion changes")
    ts = [e.get("t") for e in audit]
    if ts != sorted(ts):
        problems.append("entries are not in time order")
    if any(not str(e.get("reason", "")).strip() for e in audit):
        problems.append("an entry has an empty reason")
    if extra:
        problems.append(f"entries hold key(s) {', '.join(extra[:3])} besides t, action, from_version, to_version "
                        "and reason (exactly those five)")
    relapse_at = sc.relapse[1]
    if any(t >= relapse_at for t, _, _ in changes) or any(e.get("t") >= relapse_at for e in audit):
        problems.append(f"when the version rolled back to failed too (from step {relapse_at}), with no "
                        "healthy earlier version left, the controller changed the champion or logged an "
                        "entry: with no candidate it does nothing and logs nothing")
    if not problems:
        return score(1.0, "")
    return score(0.5 * (6 - len(problems)) / 6, "; ".join(problems))


def _judge_dry(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _make_scenario("dry_run", seed)
    champion, audit, healthy = _read_run(data, sc)
    if any(c != sc.deployed for c in champion):
        return score(0.0, "in dry-run mode the champion changed")
    if healthy.get(sc.deployed) is not True:
        return score(0.0, "in dry-run mode the registry was changed (version marked unhealthy)")
    calls = _read_calls(data, sc)
    dry = [e for e in audit if e.get("action") == "dry-run"]
    if not dry:
        return score(0.0, "no 'dry-run' entry in the audit log although the version degraded")
    if any(e.get("t") < sc.degrade_at for e in dry):
        return score(0.5, "a 'dry-run' entry before the version degraded")
    if any(e.get("from_version") != sc.deployed or e.get("to_version") != sc.target for e in dry):
        return score(0.5, "'dry-run' entries do not name the champion and the version a rollback "
                                     "would pick")
    ts = [e["t"] for e in dry]
    if any(b - a < sc.cooldown for a, b in zip(ts, ts[1:])):
        return score(0.5, f"'dry-run' entries closer than cooldown={sc.cooldown} steps")
    if any(c["resets"] for c in calls[1:]):
        return score(0.5, "in dry-run mode the monitor was reset (a dry run changes nothing: the monitor "
                          "keeps reporting)")
    if len(dry) < 2:
        return score(0.5, "only one 'dry-run' entry while the version stayed degraded for several "
                                     "cooldowns (after a dry run the monitor keeps reporting)")
    return score(1.0, "")


EXERCISE = Exercise(
    name="ex3",
    title="Automated rollback",
    solution_path="solutions/ex3_automated_rollback.ipynb",
    entry_points=("ModelRegistry", "QualityMonitor", "RollbackController"),
    checks=(
        scored_check("registry", 2, "aliases, history, health flags and errors of ModelRegistry",
              _registry_scenario, _collect_registry, _judge_registry),
        scored_check("monitor_window", 2, "sliding window, minimum samples and threshold of QualityMonitor.evaluate",
              _window_scenario, _collect_window, _judge_window),
        scored_check("monitor_failure_limit", 2, "unhealthy after more than failure_limit consecutive failures",
              _limit_scenario, _collect_limit, _judge_limit),
        scored_check("rollback_happens", 2, "a version that degrades after deployment is rolled back as soon "
                     "as the monitor is unhealthy, marked unhealthy, and the monitor reset",
              judge=_judge_happens, **_simulation("degrade", audit=False)),
        scored_check("rollback_target", 2, "the rollback goes to the best healthy earlier version",
              judge=_judge_target, **_simulation("target", audit=False)),
        scored_check("cooldown", 2, "no second rollback within the cooldown (a platform incident); the "
                     "monitor evaluated once per step throughout",
              judge=_judge_cooldown, **_simulation("incident", audit=False)),
        scored_check("no_flapping", 2, "a noisy but healthy version is not rolled back",
              judge=_judge_noisy, **_simulation("noisy", audit=False)),
        scored_check("audit_log", 2, "deploys and rollbacks are in the audit log with exactly the specified "
                     "fields; nothing is done or logged when there is no version to roll back to",
              judge=_judge_audit, **_simulation("relapse", audit=True)),
        scored_check("dry_run", 2, "dry-run mode logs what it would do and changes nothing",
              judge=_judge_dry, **_simulation("dry_run", audit=True)),
    ),
    hints=(
        "Start with ModelRegistry: a dict version -> {'eval_score', 'metadata'}, a dict alias -> version, a "
        "list for history and a set of unhealthy versions. promote() moves 'champion' to 'previous' first.",
        "QualityMonitor: keep scores in collections.deque(maxlen=window). evaluate() returns 'inconclusive' "
        "below min_samples; otherwise compare the mean to the threshold and update a counter of consecutive "
        "failures (+1 on failed, 0 on passed). unhealthy is `counter > failure_limit`.",
        "RollbackController.step(t): evaluate the monitor every step. If unhealthy and t - last_rollback >= "
        "cooldown: candidates are versions registered before the champion and still healthy; take the max by "
        "eval_score. Mark the champion unhealthy, promote the target, reset the monitor, append to the audit "
        "log. In dry-run only append (and remember t, so the cooldown applies).",
    ),
)


#: The learner's verbs: ``check(globals())``, ``hint(n)``, ``solution()``.
check, hint, solution = learner_verbs(EXERCISE)

