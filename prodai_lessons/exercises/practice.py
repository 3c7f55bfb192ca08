"""The lessons' "Your turn" tasks: one small task per lesson, checked the way the exercises are.

In a lesson::

    from prodai_lessons.exercises import practice
    task = practice.TASKS["07"]
    task.check(globals())   # one line per behaviour; "not attempted yet" while the stub is untouched
    task.hint()             # a nudge
    task.solution()         # the reference answer, once you have tried

Each task is an :class:`~prodai_lessons.exercises._core.Exercise` with the same contract as the graded
exercises (a seeded scenario, the learner's code run on its inputs, a judge that knows the answer), so a
crash is one line of feedback, not a traceback, and a failed line says what is wrong without the answer.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from prodai_lessons._show import show
from prodai_lessons.deployment import DeploymentConfig
from prodai_lessons.exercises import _practice_answers as ref
from prodai_lessons.exercises._core import CheckResult, Exercise, InvalidSubmission, in_scenario
from prodai_lessons.exercises._helpers import (
    Score,
    entry,
    field,
    learner_verbs,
    list_of,
    rng,
    scored_check,
    want_bool,
    want_float,
)

__all__ = ["Task", "TASKS"]


def _close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


def _numbers(fn_name: str, rel: float = 1e-6):
    """A judge for a list of numbers that must match the reference: ``data['got']`` against ``expected``.
    ``mistakes`` maps a message to the values a known wrong approach gives, to name it when it matches."""
    def make(expected: Callable[[int], list[float]], mistakes: Callable[[int], dict[str, list[float]]]):
        def judge(data: Any, seed: int, score: Score) -> CheckResult:
            want = expected(seed)
            got = list_of(field(data, "got", list), (int, float), "got", length=len(want))
            wrong = [k for k, (g, w) in enumerate(zip(got, want)) if not _close(g, w, rel)]
            if not wrong:
                return score(1.0, f"{len(want)}/{len(want)} cases right")
            for why, values in mistakes(seed).items():
                if all(_close(g, v, rel) for g, v in zip(got, values)):
                    return score(0.0, why)
            return score((len(want) - len(wrong)) / len(want) * 0.5,
                         f"{fn_name} is off in {len(wrong)} of {len(want)} cases")
        return judge
    return make


def _call_each(fn_name: str, arguments: Callable[[Any], tuple] = tuple):
    """collect: call the learner's ``fn_name`` on the ``arguments`` of each case of the inputs (by default the
    case itself, a list of arguments); floats back."""
    def collect(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
        fn = entry(ns, fn_name, kind="function")
        out = []
        for k, case in enumerate(inputs["cases"], start=1):
            with in_scenario(f"{fn_name}, case {k}"):
                out.append(want_float(fn(*arguments(case)), f"{fn_name}()"))
        return {"got": out}
    return collect


# ------------------------------------------------------------------------------ 01 deployment patterns

def _configs(seed: int) -> list[dict]:
    r = rng(seed, 101)
    out = [dataclasses.asdict(DeploymentConfig())]  # the lesson's own settings first
    for _ in range(5):
        out.append({"replicas": int(r.integers(1, 6)), "instance_usd_per_hour": round(float(r.uniform(0.3, 4)), 2),
                    "service_median_s": round(float(r.uniform(0.03, 0.6)), 3),
                    "service_sigma": round(float(r.uniform(0.1, 0.9)), 2),
                    "serverless_usd_per_second": round(float(r.uniform(2e-4, 2e-3)), 6),
                    "serverless_usd_per_request": round(float(r.uniform(0, 1e-6)), 9)})
    return out


def _break_even_expected(seed: int) -> list[float]:
    return [ref.break_even_rate(DeploymentConfig(**c)) for c in _configs(seed)]


def _break_even_mistakes(seed: int) -> dict[str, list[float]]:
    cfgs = [DeploymentConfig(**c) for c in _configs(seed)]
    median = [c.replicas * c.instance_usd_per_hour / 3600
              / (c.service_median_s * c.serverless_usd_per_second + c.serverless_usd_per_request) for c in cfgs]
    one = [ref.break_even_rate(c) / c.replicas for c in cfgs]
    return {"serverless bills the mean busy time, and a lognormal's mean is not its median": median,
            "the always-on API pays for every replica, not one": one}


# ------------------------------------------------------------------------------------- 02 data drift

def _histograms(seed: int) -> list[list[list[int]]]:
    r = rng(seed, 102)
    cases = []
    for k in range(8):
        bins = int(r.integers(4, 12))
        ref_counts = r.integers(0 if k % 3 == 0 else 1, 200, bins)
        ref_counts[0] = max(ref_counts[0], 1)
        cur_counts = np.maximum(ref_counts + r.integers(-60, 60, bins), 0)
        if k % 2:
            cur_counts[int(r.integers(0, bins))] = 0  # an empty bin in the current sample
        cur_counts[-1] += 1
        if k % 3 == 0:  # an empty bin in the reference that the current sample fills
            j = int(r.integers(1, bins))
            ref_counts[j], cur_counts[j] = 0, max(int(cur_counts[j]), 5)
        cases.append([ref_counts.tolist(), cur_counts.tolist()])
    return cases


def _psi_expected(seed: int) -> list[float]:
    return [ref.psi_from_counts(a, b) for a, b in _histograms(seed)]


def _psi_mistakes(seed: int) -> dict[str, list[float]]:
    def shares(a, b):
        return np.asarray(a, float) / sum(a), np.asarray(b, float) / sum(b)

    def kl(a, b):
        r, c = shares(a, b)
        r, c = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
        return float(np.sum(c * np.log(c / r)))

    def eps_on_counts(a, b):
        r, c = shares(np.where(np.asarray(a) == 0, 1e-4, a), np.where(np.asarray(b) == 0, 1e-4, b))
        return float(np.sum((c - r) * np.log(c / r)))

    def renormalised(a, b):
        r, c = shares(a, b)
        r, c = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
        r, c = r / r.sum(), c / c.sum()
        return float(np.sum((c - r) * np.log(c / r)))

    cases = _histograms(seed)
    return {"PSI weighs each bin by (c - r), the difference of the shares, not by c alone (that is KL)":
            [kl(a, b) for a, b in cases],
            "eps replaces a share of exactly 0, after dividing by the total, not a count of 0":
            [eps_on_counts(a, b) for a, b in cases],
            "keep the other shares as they are after putting eps in an empty bin (no renormalising)":
            [renormalised(a, b) for a, b in cases]}


# ------------------------------------------------------------------------------------- 03 monitoring

def _burn_cases(seed: int) -> list[list[float]]:
    r = rng(seed, 103)
    cases = [[0.02, 1.0, 30.0], [0.05, 6.0, 30.0], [0.10, 72.0, 30.0]]  # the three classic pages
    for _ in range(5):
        cases.append([round(float(r.uniform(0.005, 0.2)), 3), float(r.choice([0.5, 1, 2, 6, 12, 24])),
                      float(r.choice([7, 28, 30, 90]))])
    return cases


def _burn_mistakes(seed: int) -> dict[str, list[float]]:
    cases = _burn_cases(seed)
    return {"the period is in days and the window in hours: convert the period to hours":
            [s * d / w for s, w, d in cases],
            "the burn rate is budget spent per window over budget per window at the allowed pace, not the inverse":
            [1 / ref.burn_rate_threshold(*c) for c in cases]}


# ------------------------------------------------------------------------------------ 04 A/B testing

def _size_cases(seed: int) -> list[list[float]]:
    r = rng(seed, 104)
    cases = [[1.0, 0.2, 0.05, 0.8]]
    for _ in range(6):
        cases.append([round(float(r.uniform(0.5, 20)), 2), round(float(r.uniform(0.05, 3)), 3),
                      float(r.choice([0.01, 0.05, 0.1])), float(r.choice([0.8, 0.9, 0.95]))])
    return cases


def _size_mistakes(seed: int) -> dict[str, list[float]]:
    from statistics import NormalDist
    z = NormalDist().inv_cdf
    cases = _size_cases(seed)
    return {"a two-sided test at alpha splits it over both tails: z at 1 - alpha/2":
            [2 * s * s * (z(1 - a) + z(p)) ** 2 / d ** 2 for s, d, a, p in cases],
            "each arm's mean has variance sigma^2 / n, and the difference of two means twice that":
            [s * s * (z(1 - a / 2) + z(p)) ** 2 / d ** 2 for s, d, a, p in cases]}


# ------------------------------------------------------------------------------------- 05 guardrails

def _wilson_cases(seed: int) -> list[list[float]]:
    r = rng(seed, 105)
    cases = [[5, 7, 0.95], [0, 20, 0.95], [30, 30, 0.95]]
    for _ in range(5):
        n = int(r.integers(5, 600))
        cases.append([int(r.integers(0, n + 1)), n, float(r.choice([0.9, 0.95, 0.99]))])
    return cases


def _collect_wilson(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "wilson_interval", kind="function")
    out = []
    for k, (s, n, conf) in enumerate(inputs["cases"], start=1):
        with in_scenario(f"wilson_interval, case {k}"):
            got = fn(int(s), int(n), conf)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise InvalidSubmission(f"wilson_interval() must return (low, high); got {type(got).__name__}")
        out += [want_float(got[0], "wilson_interval()[0]"), want_float(got[1], "wilson_interval()[1]")]
    return {"got": out}


def _wilson_expected(seed: int) -> list[float]:
    return [x for s, n, c in _wilson_cases(seed) for x in ref.wilson_interval(int(s), int(n), c)]


def _wilson_mistakes(seed: int) -> dict[str, list[float]]:
    from statistics import NormalDist
    wald, one_tail = [], []
    for s, n, c in _wilson_cases(seed):
        z, p = NormalDist().inv_cdf(0.5 + c / 2), s / n
        half = z * math.sqrt(p * (1 - p) / n)
        wald += [p - half, p + half]
        z1 = NormalDist().inv_cdf(c)  # the whole 1 - confidence put in one tail
        centre = (p + z1 * z1 / (2 * n)) / (1 + z1 * z1 / n)
        half1 = z1 / (1 + z1 * z1 / n) * math.sqrt(p * (1 - p) / n + z1 * z1 / (4 * n * n))
        one_tail += [centre - half1, centre + half1]
    return {"that is the Wald interval p +- z sqrt(p(1-p)/n): it collapses to a point at 0/n and n/n": wald,
            "the interval is two-sided: z leaves (1 - confidence) / 2 in each tail (1.96 at 95%, not 1.64)":
            one_tail}


# ------------------------------------------------------------------------------------------- 06 cost

#: Shapes of a day's projection, as waypoints in multiples of the budget (each segment ``(ratio, length)``):
#: the noisy start settling near the budget, as the lesson's run-rate projection does; two episodes with a
#: fall below the clearing level between them; a dip that stays above it; a projection that never crosses.
_SHAPES = (
    ((1.15, 0), (0.99, 30), (0.99, 70), (0.95, 40)),
    ((0.70, 0), (1.00, 40), (1.00, 50), (0.78, 30), (1.01, 40), (1.01, 40), (0.85, 20)),
    ((1.10, 0), (1.10, 20), (0.95, 25), (0.95, 25), (1.06, 25), (1.06, 25), (0.70, 40)),
    ((0.60, 0), (0.86, 60), (0.86, 40), (0.70, 60)),
)


def _projections(seed: int) -> list[dict]:
    """Projected spend sequences, one per shape in random order, with noise that makes a projection near the
    budget cross it again and again. Two start with a warm-up of NaN (no projection yet), as
    ``CostTracker.budget_trace().projected`` does."""
    r = rng(seed, 106)
    out = []
    for k, shape in enumerate(r.permutation(len(_SHAPES)).tolist()):
        budget = round(float(r.uniform(200, 800)), 2)
        ratios = [_SHAPES[shape][0][0]]
        for ratio, length in _SHAPES[shape][1:]:
            ratios += np.linspace(ratios[-1], ratio, length + 1)[1:].tolist()
        noisy = np.array(ratios) + r.normal(0, 0.012, len(ratios))
        warm_up = [math.nan] * (int(r.integers(5, 20)) if k % 2 else 0)
        out.append({"budget": budget, "projected": warm_up + [round(budget * x, 2) for x in noisy.tolist()]})
    return out


def _collect_pager(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    cls = entry(ns, "BudgetPager", kind="class", methods=("update",))
    out = []
    for k, case in enumerate(inputs["cases"], start=1):
        with in_scenario(f"BudgetPager, sequence {k}"):
            pager = cls(case["budget"])
            out.append([k for k, x in enumerate(case["projected"]) if want_bool(pager.update(x), "update()")])
    return {"pages": out}


def _pages(cases: list[dict], clear_ratio: float | None) -> list[list[int]]:
    out = []
    for case in cases:
        if clear_ratio is None:  # no hysteresis: a page at every upward crossing (the warm-up is not above)
            above = [x > case["budget"] for x in case["projected"]]
            out.append([k for k in range(len(above)) if above[k] and (k == 0 or not above[k - 1])])
        else:
            pager = ref.BudgetPager(case["budget"], clear_ratio)
            out.append([k for k, v in enumerate(case["projected"]) if pager.update(v)])
    return out


def _judge_pager(data: Any, seed: int, score: Score) -> CheckResult:
    cases = _projections(seed)
    got = list_of(field(data, "pages", list), list, "pages", length=len(cases))
    want = _pages(cases, 0.9)
    if [list(g) for g in got] == want:
        return score(1.0, f"{sum(map(len, want))} pages over {len(cases)} sequences, one per episode")
    if [list(g) for g in got] == _pages(cases, None):
        return score(0.0, "a page at every crossing: noise around the budget pages again and again (re-arm only "
                          "below clear_ratio x budget)")
    if any(len(g) > len(w) for g, w in zip(got, want)):
        return score(0.25, "more than one page in an episode: after a page, stay quiet until the projection "
                           "is back below clear_ratio x budget")
    return score(0.25, "pages missing or at the wrong update: page at the first update above the budget")


# ---------------------------------------------------------------------------------- 07 incident response

@dataclass(frozen=True)
class IncidentRecord:
    """The timestamps of one incident, named as on :class:`prodai_lessons.incidents.Incident`, so a
    function written for these records runs on ``IncidentManager.incidents`` too."""

    id: int
    impact_started_at: float | None
    opened_at: float
    mitigated_at: float | None
    resolved_at: float | None


def _incidents(seed: int) -> list[list[dict]]:
    """Five timelines. Some impact starts are unknown (nobody could tell when users were first hit); timeline
    4 has only such an incident (no MTTD), timeline 5 nothing resolved yet (no MTTR)."""
    r = rng(seed, 107)
    out = []
    for case in range(5):
        incs = []
        for j in range(1 if case == 3 else int(r.integers(2, 7))):
            start = float(r.integers(0, 10_000))
            opened = start + float(r.integers(1, 60))
            mitigated = opened + float(r.integers(5, 90)) if r.random() < 0.8 else None
            resolved = (mitigated or opened) + float(r.integers(10, 300)) if r.random() < 0.75 else None
            known = not (case == 3 or (case == 0 and j == 0) or r.random() < 0.15)
            incs.append({"id": j + 1, "impact_started_at": start if known else None, "opened_at": opened,
                         "mitigated_at": mitigated, "resolved_at": None if case == 4 else resolved})
        out.append(incs)
    return out


def _collect_mttx(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "mttd_mttr", kind="function")
    out = []
    for k, incs in enumerate(inputs["cases"], start=1):
        with in_scenario(f"mttd_mttr, timeline {k}"):
            got = fn([IncidentRecord(**i) for i in incs])
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise InvalidSubmission(f"mttd_mttr() must return (mttd, mttr); got {type(got).__name__}")
        out.append([None if g is None else want_float(g, "mttd_mttr()") for g in got])
    return {"got": out}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _mttr_mistakes(cases: list[list[dict]]) -> dict[str, list[float | None]]:
    """The MTTR each wrong reading gives, per timeline."""
    def start(i):
        return i["opened_at"] if i["impact_started_at"] is None else i["impact_started_at"]
    return {
        "MTTR counted from the page (opened_at): count from the impact start, as users felt it":
            [_mean([i["resolved_at"] - i["opened_at"] for i in c if i["resolved_at"] is not None]) for c in cases],
        "that is the time to mitigate (service back for users); MTTR here is the time to resolve":
            [_mean([i["mitigated_at"] - start(i) for i in c if i["mitigated_at"] is not None]) for c in cases],
    }


def _judge_mttx(data: Any, seed: int, score: Score) -> CheckResult:
    cases = _incidents(seed)
    got = list_of(field(data, "got", list), list, "got", length=len(cases))
    want = [ref.mttd_mttr([IncidentRecord(**i) for i in c]) for c in cases]

    def same(a, b):
        return (a is None and b is None) or (a is not None and b is not None and _close(a, b))

    mttd_ok = all(same(g[0], w[0]) for g, w in zip(got, want))
    mttr_ok = all(same(g[1], w[1]) for g, w in zip(got, want))
    if mttd_ok and mttr_ok:
        return score(1.0, f"{len(cases)} timelines")
    problems = []
    if not mttd_ok:
        problems.append("MTTD: opened_at minus the impact start, averaged over the incidents whose impact "
                        "start is known (None if there is none)")
    if not mttr_ok:
        for why, values in _mttr_mistakes(cases).items():
            if all(same(g[1], v) for g, v in zip(got, values)):
                problems.append(why)
                break
        else:
            problems.append("MTTR: resolution minus the impact start (opened_at when it is unknown), over "
                            "resolved incidents only (None if there is none)")
    return score(0.5 if (mttd_ok or mttr_ok) else 0.0, "; ".join(problems))


# ------------------------------------------------------------------------------ 08 observability dashboard

def _traffic(seed: int) -> dict:
    r = rng(seed, 108)
    n = int(r.integers(3000, 6000))
    t = np.sort(r.uniform(0, 86_400, n))
    t[:3] = [3600.0 * 14, 3600.0 * 14 - 1e-3, 3600.0 * 15]  # requests right at an hour's edges
    t = np.sort(t)
    hour = t // 3600
    latency = np.round(r.lognormal(np.log(150) + 0.4 * (hour >= 14) * (hour < 17), 0.5), 3)
    error = r.random(n) < np.where((hour >= 14) & (hour < 17), 0.08, 0.01)
    return {"timestamps": t, "latency_ms": latency, "error": error}


def _collect_panel(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "hourly_panel", kind="function")
    with in_scenario("hourly_panel on a simulated day"):
        got = fn(inputs["timestamps"].copy(), inputs["latency_ms"].copy(), inputs["error"].copy())
    if not isinstance(got, Mapping):
        raise InvalidSubmission(f"hourly_panel() must return a dict; got {type(got).__name__}")
    keys = ("hour", "requests", "error_rate", "p95_ms")
    missing = [k for k in keys if k not in got]
    if missing:
        raise InvalidSubmission(f"hourly_panel() must return the keys {', '.join(keys)}; missing {', '.join(missing)}")
    return {k: [want_float(v, f"hourly_panel()[{k!r}]") for v in list(got[k])] for k in keys}


def _judge_panel(data: Any, seed: int, score: Score) -> CheckResult:
    sc = _traffic(seed)
    want = ref.hourly_panel(sc["timestamps"], sc["latency_ms"], sc["error"])
    got = {k: list_of(field(data, k, list), (int, float), k) for k in want}
    if got["hour"] != want["hour"]:
        return score(0.0, "the hours are not the hours with traffic, in order (hour h holds h:00 up to h+1:00)")
    if got["requests"] != want["requests"]:
        return score(0.25, "request counts per hour are off: is a request at exactly 15:00 in hour 15?")
    bad = [k for k in ("error_rate", "p95_ms") if not all(_close(g, w, 1e-9) for g, w in zip(got[k], want[k]))]
    if bad:
        return score(0.5, f"{' and '.join(bad)} per hour off (each hour's own requests; p95 as np.percentile)")
    return score(1.0, f"{len(want['hour'])} hours")


# ------------------------------------------------------------------------------------------------ tasks

@dataclass(frozen=True)
class Task:
    """One lesson's task: ``check(globals())``, ``hint(n)`` and ``solution()`` (prints the reference).

    >>> def burn_rate_threshold(budget_share, window_hours, period_days=30):
    ...     raise NotImplementedError
    >>> TASKS["03"].check(globals())
    [ ] burn_threshold (0/2): not attempted yet: burn_rate_threshold is still the stub; write it and run check() again (hint() gives a nudge)
    Score: 0/2. Not attempted yet: start with hint().
    """

    exercise: Exercise
    answer: Any  # the reference function or class, printed by solution()

    def check(self, namespace: Mapping[str, Any], seed: int = 0) -> None:
        """Run the task's checks on your code (pass ``globals()``); prints one line per check."""
        learner_verbs(self.exercise)[0](namespace, seed)

    def hint(self, n: int = 1) -> None:
        """Print hint ``n``."""
        learner_verbs(self.exercise)[1](n)

    def solution(self) -> None:
        """Print the reference answer (compare it with yours once you have tried)."""
        print(show(self.answer))


def _task(lesson: str, title: str, answer: Any, checks: tuple, hints: tuple[str, ...]) -> Task:
    entry_point = answer.__name__
    return Task(Exercise(f"lesson {lesson}", title, inspect.getsourcefile(ref) or "", (entry_point,), checks,
                         hints), answer)


def _cases(make: Callable[[int], list]) -> Callable[[int], dict]:
    return lambda seed: {"cases": make(seed)}


TASKS: dict[str, Task] = {
    "01": _task("01", "Where the always-on API becomes cheaper", ref.break_even_rate, (
        scored_check("break_even", 2, "the traffic at which the API and warm serverless cost the same",
                     _cases(_configs), _call_each("break_even_rate", lambda cfg: (DeploymentConfig(**cfg),)),
                     _numbers("break_even_rate")(_break_even_expected, _break_even_mistakes)),),
        ("The API costs replicas x price per hour / 3600 every second, whatever the traffic. Serverless costs "
         "the same amount per request: busy seconds x price per second plus the fee. Divide.",
         "A lognormal inference time with median m and sigma s has mean m x exp(s^2 / 2).")),
    "02": _task("02", "PSI by hand", ref.psi_from_counts, (
        scored_check("psi", 2, "PSI of two histograms, empty bins included", _cases(_histograms),
                     _call_each("psi_from_counts"), _numbers("psi_from_counts", 1e-9)(
                         _psi_expected, _psi_mistakes)),),
        ("Turn counts into shares (divide by the total), replace a share of exactly 0 by eps, then sum "
         "(c - r) x ln(c / r).",)),
    "03": _task("03", "A burn-rate threshold from a budget", ref.burn_rate_threshold, (
        scored_check("burn_threshold", 2, "the burn rate that spends a share of the budget in a window",
                     _cases(_burn_cases), _call_each("burn_rate_threshold"),
                     _numbers("burn_rate_threshold")(lambda s: [ref.burn_rate_threshold(*c) for c in _burn_cases(s)],
                                                     _burn_mistakes)),),
        ("At burn rate 1 the whole budget lasts the whole period; at burn rate b it lasts period / b. Spending "
         "a share s of it in a window w means b x w / period = s.",)),
    "04": _task("04", "Sizing a test with the closed form", ref.closed_form_n, (
        scored_check("closed_form", 2, "n per arm = 2 sigma^2 (z_{1-alpha/2} + z_power)^2 / delta^2",
                     _cases(_size_cases), _call_each("closed_form_n"),
                     _numbers("closed_form_n")(lambda s: [ref.closed_form_n(*c) for c in _size_cases(s)],
                                               _size_mistakes)),),
        ("The lift delta must sit z_{1-alpha/2} + z_power standard errors from zero, and the standard error of a "
         "difference of two means of n users each is sigma x sqrt(2 / n): solve "
         "delta = (z_{1-alpha/2} + z_power) x sigma x sqrt(2 / n) for n, and do not round.",
         "statistics.NormalDist().inv_cdf(q) gives the normal quantile z_q (or prodai_lessons.stats.normal_ppf).")),
    "05": _task("05", "An interval for a guard's recall", ref.wilson_interval, (
        scored_check("wilson", 2, "the Wilson score interval, also at 0/n and n/n", _cases(_wilson_cases),
                     _collect_wilson, _numbers("wilson_interval", 1e-9)(_wilson_expected, _wilson_mistakes)),),
        ("Keep every rate p from which the observed k/n is at most z of p's own standard errors away: "
         "|k/n - p| <= z x sqrt(p(1-p)/n), with z = NormalDist().inv_cdf(0.5 + confidence / 2). Square both "
         "sides: a quadratic in p, whose two roots are the ends of the interval.",
         "With z the two-sided normal quantile and p = k/n: centre (p + z^2/(2n)) / (1 + z^2/n), half-width "
         "z / (1 + z^2/n) x sqrt(p(1-p)/n + z^2/(4n^2)).")),
    "06": _task("06", "A budget alert that pages once per episode", ref.BudgetPager, (
        scored_check("hysteresis", 2, "one page per episode above the budget, re-armed below clear_ratio x budget",
                     lambda seed: {"cases": _projections(seed)}, _collect_pager, _judge_pager),),
        ("Keep one flag: active. Page (return True) when not active and the projection is over the budget, "
         "then set active; clear it only when the projection falls below clear_ratio x budget.",)),
    "07": _task("07", "MTTD and MTTR from a timeline", ref.mttd_mttr, (
        scored_check("mttd_mttr", 2, "mean time to detect and to resolve, from the impact start",
                     _cases(_incidents), _collect_mttx, _judge_mttx),),
        ("response_times(inc.impact_started_at, inc.opened_at, inc.mitigated_at, inc.resolved_at) gives one "
         "incident's (detect, mitigate, resolve). Average the detect times that are not None, and the "
         "resolve times that are not None; return None for a mean over no incident.",
         "An unresolved incident has no time to resolve yet, and an incident with an unknown impact start "
         "no time to detect: leave them out of that mean, do not count them as 0.")),
    "08": _task("08", "One dashboard panel", ref.hourly_panel, (
        scored_check("panel", 2, "requests, error rate and p95 latency for each hour with traffic",
                     _traffic, _collect_panel, _judge_panel),),
        ("hour = timestamp // 3600; for each hour present (np.unique), select its requests with a mask and "
         "compute the count, the mean of the error flags and np.percentile(latency, 95).",)),
}
