"""Exercise 1, concept drift: checks for ``simulate_concept_drift``, ``WindowAccuracyDetector``,
``PageHinkley`` and ``diagnose_drift``.

The learner's contract (the stubs in ``exercises/ex1_concept_drift.ipynb`` carry the same text):

``simulate_concept_drift(X, w_old, w_new, change_point, label_noise=0.0, seed=0) -> (X, y)``
    the same inputs labelled by the old linear concept (``x @ w_old > 0``) before ``change_point`` and by
    the new one from it on, each label flipped with probability ``label_noise``; returns the inputs,
    untouched, and the labels (0/1 or bool).

Detectors have river's shape: ``update(correct: bool) -> None`` once per labelled prediction, then the
properties ``drift_detected`` and ``warning_detected`` (``True`` only at the update where the condition
holds); after a detection the detector starts over at the next update. Both must work with their default
arguments.

``WindowAccuracyDetector(reference=1000, window=300, z_warning=2.5, z_drift=5.0)``
    accuracy of a recent window against a reference window (pooled two-proportion z statistic).
``PageHinkley(delta=0.02, threshold=50.0, warning=25.0, min_samples=30)``
    the Page-Hinkley test (Page 1954; river's ``PageHinkley``, mode "up") on the error indicator.
``diagnose_drift(ref_X, cur_X, ref_correct, cur_correct, alpha=0.01) -> "none" | "data" | "concept" | "both"``
    did the inputs move (``ks_test`` per feature, the error rate kept at ``alpha`` across the features:
    Bonferroni) and did the accuracy drop (one-sided two-proportion z-test at ``alpha``).

**Simulation.** Four cases of 1,000 to 4,000 rows, 2 to 6 features, the concepts 0.3 to 0.5 pi apart.
Two have no label noise: every label must be its concept's, and the concepts disagree on the samples at
``change_point - 1`` and ``change_point``, so a switch one sample off is seen. Two have label noise: on each
side of the change, the count of labels that differ from that side's concept must lie in an exact
two-sided binomial band (Binomial(n_side, label_noise)) that misses with probability at most
``SIM_MISS`` / 4, so a correct function fails the check with probability at most ``SIM_MISS`` = 1e-3 (the
learner's generator is free; the judge never replays it). Noise on one side only leaves 0 flips on the
other, below every band (at least 750 samples a side, noise 5% or more: the band starts above 10). The
returned inputs must equal the given ones row for row: moving them is data drift.

**Streams.** A real, small model: inputs ``x ~ N(0, I)`` in two dimensions, labels from a linear concept
with label noise, predictions from a fixed linear model fitted to the first concept. *Concept* drift
rotates the concept (the inputs keep their distribution; the same x now has another label), abruptly or
gradually (a growing share of new-concept samples). Every stream has ``STREAM_LENGTH`` samples and label
noise in ``LABEL_NOISE``, whatever its kind; an abrupt change comes anywhere in ``CHANGE_RANGE``, a
gradual transition (400-800 samples) starts at 1300 or later and ends before 5200. So neither the length,
nor the accuracy before the change, nor a fixed position says what a stream holds.

**False alarms: the rule.** Each false-alarm check runs the detector on ``FALSE_ALARM_STREAMS`` = 50
stationary streams, drawn and used as they come (no screening), and passes when it fires on at most
``FALSE_ALARM_ALLOWED`` = 1 of them: a one-sided exact binomial test of "fires on a share p0 of streams".
On 200,000 stationary streams from generators the checks never use (``MEASURED_FALSE_ALARMS``), the
specified detectors at their defaults fire on 28 (window; p0 = 1.4e-4, 95% Clopper-Pearson interval
9.3e-5 to 2.0e-4) and 1 (Page-Hinkley; p0 = 5e-6, at most 2.8e-5). A correct implementation therefore
fails with probability P(Binomial(50, 2.0e-4) >= 2) < 5e-5 (Page-Hinkley: < 1e-6). A window detector
that fires when the accuracy fell 5 points fires on 40.5% of the streams; at any share of 25% or more it
passes with probability P(Binomial(50, 0.25) <= 1) < 1.1e-5 (at 40%: < 1e-9).

**Detection.** The detection checks count an alarm before the change as a false alarm on that stream;
what comes before the change is used as drawn. A stream with a change is kept only if both specified
detectors (defaults, no restart) cross their drift level between the change and 60% of ``MAX_DELAY``
after it (after the transition, for gradual): a condition on the detection, not on the quiet before it,
and one that 9 of 100,000 drawn streams fail (``_detection_rates(50_000, seed=4)``: 8 of 50,000 abrupt,
1 of 50,000 gradual), so it changes the chance of anything before the change by less than 1e-4: it
cannot hide a false alarm. On those streams the specified window detector fired before the change on 4
of 50,000 abrupt and 1 of 50,000 gradual ones, Page-Hinkley on none: with the upper ends of their 95%
intervals (2.1e-4 and 1.1e-4), a correct implementation loses a detection point that way (3 abrupt and 2
gradual streams) with probability below 1e-3.

**Warnings.** On four stationary streams together, a detector may spend at most ``MAX_WARNING_SHARE`` of
the updates in the warning state. Pooled over four streams because on a single stream a lucky reference
window can keep the windowed z above 2.5 for a fifth of the updates or more (16 of 20,000 streams, either
detector); pooled, the specified detectors exceeded the limit on none of 50,000 groups of four.

**Diagnosis.** Ten pairs of batches (``DRIFT_CASES``), 10-20 features each: ordinary ones of each
diagnosis, and pairs where a shortcut gets the answer wrong: a feature among many that differs at
p < alpha by chance (uncorrected per-feature tests), a small but real shift or accuracy drop in large
batches, and large but chance differences in small ones (any fixed threshold on a difference of means or
of accuracies errs on one of the two), an accuracy that rose (a two-sided test). Each pair's truth is clear
for the specified tests at the default alpha with a factor of 3 to 10 to spare.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from prodai_lessons.exercises._core import CheckResult, Exercise, InvalidSubmission, in_scenario
from prodai_lessons.exercises._ex1_streams import (  # noqa: F401 - re-exported: the checks' specification
    CHANGE_RANGE,
    ConceptStream,
    DIAGNOSES,
    FALSE_ALARM_ALLOWED,
    FALSE_ALARM_STREAMS,
    LABEL_NOISE,
    MAX_DELAY,
    MAX_WARNING_SHARE,
    MEASURED_FALSE_ALARMS,
    PH_DEFAULTS,
    STREAM_KINDS,
    STREAM_LENGTH,
    WARNING_GROUP,
    WINDOW_DEFAULTS,
    _DETECTORS,
    _clopper_pearson_upper,
    _detectable,
    _detection_rates,
    _draw_streams,
    _false_alarm_rates,
    _make_streams,
    _ph_stat,
    _window_z,
    concept_stream,
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
    want_str,
)

__all__ = ["EXERCISE", "check", "hint", "solution", "ConceptStream", "DriftBatches", "concept_stream",
           "drift_batches", "STREAM_KINDS", "DIAGNOSES", "DRIFT_CASES", "STREAM_LENGTH"]

# --------------------------------------------------------------------------------------- simulation

#: The simulation check's four cases, as (features, rows, noisy): two without label noise, judged label
#: by label, and two with it, judged by the share of flipped labels on each side of the change.
_SIM_CASES = ((2, (1000, 2001), False), ((3, 7), (1000, 2001), False), (2, (3000, 4001), True),
              ((3, 7), (3000, 4001), True))
#: A correct ``simulate_concept_drift`` fails the simulation check with at most this probability: the
#: share of flipped labels on each side of the change of each noisy case (4 sides) must fall in a
#: two-sided binomial band that misses a Binomial(n_side, label_noise) count with at most this / 4.
SIM_MISS = 1e-3
_NOISY_SIDES = 2 * sum(1 for case in _SIM_CASES if case[2])


@lru_cache(maxsize=8)
def _simulation_cases(seed: int) -> tuple[dict, ...]:
    """The inputs of the simulation check (everything the learner's function gets: nothing is hidden, the
    truth is the concepts' labels of these inputs).

    Inputs ``X ~ N(0, I)``; ``w_new`` is ``w_old`` rotated by 0.3 to 0.5 pi, so the concepts disagree on 30
    to 50% of the inputs; the change point lies in the middle half. In the noiseless cases the concepts
    disagree on the samples just before and at the change point, so a switch one sample off changes a
    label."""
    r = rng(seed, 1, 40)
    cases = []
    for d, rows, noisy in _SIM_CASES:
        d = d if isinstance(d, int) else int(r.integers(*d))
        n = int(r.integers(*rows))
        X = r.normal(size=(n, d))
        w_old = r.normal(size=d)
        u = r.normal(size=d)
        u -= (u @ w_old) / (w_old @ w_old) * w_old
        theta = float(r.uniform(0.3, 0.5)) * math.pi
        w_new = (math.cos(theta) * w_old / np.linalg.norm(w_old) + math.sin(theta) * u / np.linalg.norm(u)) \
            * float(r.uniform(0.5, 2.0))
        lo, hi = n // 4, 3 * n // 4
        if noisy:
            change_point = int(r.integers(lo, hi))
            label_noise = round(float(r.uniform(0.05, 0.2)), 3)
        else:
            differ = (X @ w_old > 0) != (X @ w_new > 0)
            candidates = np.flatnonzero(differ[lo - 1:hi - 1] & differ[lo:hi]) + lo
            change_point = int(r.choice(candidates))
            label_noise = 0.0
        for v in (X, w_old, w_new):
            v.setflags(write=False)
        cases.append({"X": X, "w_old": w_old, "w_new": w_new, "change_point": change_point,
                      "label_noise": label_noise, "seed": int(r.integers(2 ** 31))})
    return tuple(cases)


def _simulation_inputs(seed: int) -> dict:
    return {"cases": list(_simulation_cases(seed))}


def _labels01(y: Any, n: int) -> np.ndarray:
    """The learner's labels as 0/1 ints: booleans, 0/1 or -1/+1 (the sign convention) are accepted."""
    try:
        y = np.asarray(y)
    except Exception:  # noqa: BLE001 - an object numpy cannot hold
        raise InvalidSubmission("simulate_concept_drift() labels must be an array of 0/1 or True/False") from None
    if y.shape != (n,):
        raise InvalidSubmission(f"simulate_concept_drift() labels must have shape ({n},), one per row of X; "
                                f"got shape {y.shape}")
    if y.dtype.kind == "b":
        return y.astype(int)
    if y.dtype.kind not in "iuf":
        raise InvalidSubmission(f"simulate_concept_drift() labels must be 0/1 or True/False; got dtype {y.dtype}")
    values = set(np.unique(y).tolist())
    if values <= {0, 1}:
        return y.astype(int)
    if values <= {-1, 1}:
        return (y > 0).astype(int)
    odd = sorted(values - {0, 1, -1})[:1] or sorted(values)[:1]
    raise InvalidSubmission(f"simulate_concept_drift() labels must be 0/1 or True/False; got a label {odd[0]!r}")


def _collect_simulation(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "simulate_concept_drift", kind="function")
    out = []
    for k, case in enumerate(inputs["cases"], start=1):
        X, cp = case["X"], case["change_point"]
        with in_scenario(f"simulate_concept_drift, case {k}"):
            got = fn(X.copy(), case["w_old"].copy(), case["w_new"].copy(), cp, case["label_noise"], case["seed"])
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise InvalidSubmission("simulate_concept_drift() must return two things, the inputs and the labels "
                                    f"(return X, y); got {type(got).__name__}")
        try:
            X_out = np.asarray(got[0], dtype=float)
        except (TypeError, ValueError):
            raise InvalidSubmission("simulate_concept_drift() must return the inputs as an array of numbers "
                                    "first") from None
        if X_out.shape != X.shape:
            raise InvalidSubmission(f"simulate_concept_drift() must return the inputs first, shape {X.shape}; "
                                    f"got shape {X_out.shape}")
        moved = np.any(X_out != X, axis=1)  # NaN differs from everything: it counts as moved
        out.append({"labels": _labels01(got[1], len(X)).tolist(), "moved_before": int(moved[:cp].sum()),
                    "moved_after": int(moved[cp:].sum())})
    return {"cases": out}


def _binomial_band(n: int, p: float, tail: float) -> tuple[int, int]:
    """The counts ``lo <= k <= hi`` outside which Binomial(n, p) falls with probability at most ``tail`` on
    each side (exact, the log-pmf summed with lgamma)."""
    k = np.arange(n + 1)
    lg = np.array([math.lgamma(i + 1) for i in range(n + 1)])
    pmf = np.exp(lg[n] - lg - lg[::-1] + k * math.log(p) + (n - k) * math.log1p(-p))
    below = np.cumsum(pmf)  # P(X <= k)
    above = np.cumsum(pmf[::-1])[::-1]  # P(X >= k)
    lo = int(np.flatnonzero(below > tail)[0])  # P(X < lo) <= tail
    hi = int(np.flatnonzero(above > tail)[-1])  # P(X > hi) <= tail
    return lo, hi


def _simulation_problem(case: dict, y: np.ndarray, moved: tuple[int, int]) -> str | None:
    """What is wrong with one case's answer (None when nothing is)."""
    X, cp, eps = case["X"], case["change_point"], case["label_noise"]
    n = len(X)
    if any(moved):
        where = " and ".join(w for w, m in zip(("before", "after"), moved) if m)
        return (f"inputs {where} the change differ from the ones given: moving the inputs is data drift; "
                "concept drift keeps the same inputs and changes their labels")
    old, new = (X @ case["w_old"] > 0).astype(int), (X @ case["w_new"] > 0).astype(int)
    wrong_before = np.flatnonzero(y[:cp] != old[:cp])
    wrong_after = np.flatnonzero(y[cp:] != new[cp:]) + cp
    if eps == 0.0:
        if wrong_before.size == 0 and wrong_after.size == 0:
            return None
        if wrong_before.tolist() == [cp - 1] and wrong_after.size == 0:
            return ("the labels switch concept one sample early: the sample just before change_point already "
                    "follows the new concept")
        if wrong_after.tolist() == [cp] and wrong_before.size == 0:
            return ("the labels switch concept one sample late: the sample at change_point (the first of the "
                    "new concept) still follows the old one")
        parts = []
        if wrong_before.size:
            parts.append("the labels before the change follow the new concept" if np.array_equal(y[:cp], new[:cp])
                         else f"{wrong_before.size} of the {cp} labels before the change differ from the old "
                              "concept")
        if wrong_after.size:
            parts.append("the labels after the change still follow the old concept: the concept never changed"
                         if np.array_equal(y[cp:], old[cp:])
                         else f"{wrong_after.size} of the {n - cp} labels after the change differ from the new "
                              "concept")
        return "with label_noise=0, " + " and ".join(parts)
    tail = SIM_MISS / (2 * _NOISY_SIDES)  # each side's band misses at most 2 * tail on each side
    off = []
    for side, concept, k, m in (("before", "old", wrong_before.size, cp), ("after", "new", wrong_after.size, n - cp)):
        lo, hi = _binomial_band(m, eps, tail)
        if not lo <= k <= hi:
            off.append((side, concept, k, m))
    if not off:
        return None
    if len(off) == 1 and off[0][2] == 0:
        return (f"no label {off[0][0]} the change is flipped, while label_noise={eps:g} flips each label with "
                "that probability: the noise is on one side of the change only")
    return "; ".join(f"{k / m:.1%} of the labels {side} the change differ from the {concept} concept"
                     for side, concept, k, m in off) + f", where label_noise={eps:g} flips each label with " \
                                                        "that probability"


def _judge_simulation(data: Any, seed: int, score: Score) -> CheckResult:
    cases = _simulation_cases(seed)
    got = list_of(field(data, "cases", list), dict, "cases", length=len(cases))
    problems: dict[str, list[int]] = {}  # what is wrong -> the cases where it is
    drops = []
    for k, (case, g) in enumerate(zip(cases, got), start=1):
        n, cp = len(case["X"]), case["change_point"]
        y = np.array(list_of(field(g, "labels", list), int, "labels", length=n), dtype=np.int64)
        if np.any((y != 0) & (y != 1)):
            raise BadData("labels hold values other than 0 and 1")
        moved = (field(g, "moved_before", int), field(g, "moved_after", int))
        if not (0 <= moved[0] <= cp and 0 <= moved[1] <= n - cp):
            raise BadData("moved row counts out of range")
        problem = _simulation_problem(case, y, moved)
        if problem:
            problems.setdefault(problem, []).append(k)
            continue
        right = y == (case["X"] @ case["w_old"] > 0)
        drops.append(f"{right[:cp].mean():.0%} -> {right[cp:].mean():.0%}")
    if not problems:
        return score(1.0, f"{len(cases)}/{len(cases)} cases right, on the same inputs; accuracy of the old "
                          f"concept's model before -> after the change: {', '.join(drops)}")
    wrong = sum(len(where) for where in problems.values())
    return score((len(cases) - wrong) / len(cases), "; ".join(
        (f"case {where[0]}" if len(where) == 1 else f"cases {', '.join(map(str, where[:-1]))} and {where[-1]}")
        + f": {problem}" for problem, where in problems.items()))


# ---------------------------------------------------------------------------------------- detectors

_CHECK_STREAMS = {  # check -> (kind, number of streams, key)
    "abrupt": ("abrupt", 3, 11),
    "gradual": ("gradual", 2, 12),
    "stationary": ("stationary", FALSE_ALARM_STREAMS, 13),
    "warn_abrupt": ("abrupt", 2, 14),
    "warn_stationary": ("stationary", WARNING_GROUP, 15),
}


@lru_cache(maxsize=8)
def _streams(seed: int, which: str) -> list[ConceptStream]:
    """The streams of one group of checks (``which`` in ``_CHECK_STREAMS``) for ``seed``."""
    kind, n, key = _CHECK_STREAMS[which]
    return _draw_streams(kind, rng(seed, 1, key), n)


def _detector_factory(ns: Mapping[str, Any], name: str):
    cls = entry(ns, name, kind="class", methods=("update",), attributes=("drift_detected", "warning_detected"))
    try:
        required = [p.name for p in list(inspect.signature(cls).parameters.values())
                    if p.default is inspect.Parameter.empty
                    and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except (TypeError, ValueError):  # no signature (a builtin): let the call tell
        required = []
    if required:
        raise InvalidSubmission(f"{name}() must work without arguments; give {', '.join(required)} a default")
    return cls


def _run_detector(det: Any, owner: str, correct: np.ndarray) -> tuple[list[int], list[int]]:
    """Feed the outcomes; return the updates at which drift and warning were flagged."""
    fires, warns = [], []
    update = det.update
    read_attr(det, owner, "drift_detected")  # a forgotten @property is reported once, clearly
    read_attr(det, owner, "warning_detected")
    for i, c in enumerate(correct.tolist()):
        update(c)
        d, w = det.drift_detected, det.warning_detected
        if d is not True and d is not False:
            d = want_bool(d, f"{owner}.drift_detected")
        if w is not True and w is not False:
            w = want_bool(w, f"{owner}.warning_detected")
        if d:
            fires.append(i)
        if w:
            warns.append(i)
    return fires, warns


def _stream_inputs(*which: str):
    """The scenario of a detector check: the ``correct`` flags of its streams, nothing about the change."""
    def scenario(seed: int) -> dict:
        return {w: [s.correct for s in _streams(seed, w)] for w in which}
    return scenario


def _run_streams(ns: Mapping[str, Any], which: str, streams: list, names: tuple[str, ...], *,
                 warnings: bool) -> dict:
    factories = {name: _detector_factory(ns, name) for name in names}
    kind = _CHECK_STREAMS[which][0]
    out: dict = {}
    for name, cls in factories.items():
        runs = []
        for k, correct in enumerate(streams):
            with in_scenario(f"{name} on {kind} stream {k + 1}"):
                fires, warns = _run_detector(cls(), name, correct)
            runs.append({"fires": fires, "warnings": warns} if warnings else {"fires": fires})
        out[name] = runs
    return out


def _collect_streams(which: str, names: tuple[str, ...], *, warnings: bool):
    def collect(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
        return _run_streams(ns, which, inputs[which], names, warnings=warnings)
    return collect


def _read_runs(data: Any, name: str, n: int, length: int) -> list[dict]:
    runs = list_of(field(data, name, list), dict, name, length=n)
    for r in runs:
        for key in ("fires", "warnings"):
            if key in r:
                idx = list_of(r[key], int, key)
                if any(not 0 <= i < length for i in idx) or idx != sorted(set(idx)):
                    raise ValueError(f"{key} indices out of range or unsorted")
    return runs


def _detection_judge(detector: str, which: str):
    def judge(data: Any, seed: int, score: Score) -> CheckResult:
        streams = _streams(seed, which)
        runs = _read_runs(data, detector, len(streams), STREAM_LENGTH)
        problems, delays = [], []
        for k, (s, run) in enumerate(zip(streams, runs), start=1):
            fires = run["fires"]
            early = [i for i in fires if i < s.change_point]
            late_limit = s.change_point + s.width + MAX_DELAY[s.kind]
            after = [i for i in fires if i >= s.change_point]
            if early:
                problems.append(f"stream {k}: fired {len(early)} time(s) before the change (false alarm)")
            elif not after:
                problems.append(f"stream {k}: missed the drift")
            elif after[0] > late_limit:
                problems.append(f"stream {k}: detected {after[0] - s.change_point} samples after the change "
                                f"(allowed: {late_limit - s.change_point})")
            elif s.kind == "abrupt" and len(after) > 1:
                problems.append(f"stream {k}: fired {len(after)} times for one change (start over after a "
                                "detection)")
            else:
                delays.append(after[0] - s.change_point)
        ok = len(streams) - len(problems)
        if not problems:
            return score(1.0, f"{len(streams)}/{len(streams)} drifts detected, mean delay "
                                               f"{np.mean(delays):.0f} samples")
        return score(ok / len(streams), "; ".join(problems))
    return judge


def _false_alarm_judge(detector: str):
    """Pass when the detector fires on at most ``FALSE_ALARM_ALLOWED`` of the ``FALSE_ALARM_STREAMS``
    stationary streams (a one-sided binomial test on the share of streams with an alarm; see the module
    docstring for its error rates)."""
    def judge(data: Any, seed: int, score: Score) -> CheckResult:
        streams = _streams(seed, "stationary")
        runs = _read_runs(data, detector, len(streams), STREAM_LENGTH)
        alarmed = sum(1 for r in runs if r["fires"])
        n = len(streams)
        if alarmed <= FALSE_ALARM_ALLOWED:
            return score(1.0, f"{alarmed} of {n} stationary streams with an alarm (at most "
                              f"{FALSE_ALARM_ALLOWED} allowed)")
        total = sum(len(r["fires"]) for r in runs)
        return score(0.0, f"false alarms on {alarmed} of {n} stationary streams ({total} in all; at most "
                          f"{FALSE_ALARM_ALLOWED} of {n} streams allowed): it fires on noise, on streams whose "
                          "concept never changes")
    return judge


def _judge_warnings(data: Any, seed: int, score: Score) -> CheckResult:
    field(data, "abrupt", dict)
    field(data, "stationary", dict)
    problems = []
    abrupt, stationary = _streams(seed, "warn_abrupt"), _streams(seed, "warn_stationary")
    for det in _DETECTORS:
        runs = _read_runs(data["abrupt"], det, len(abrupt), STREAM_LENGTH)
        for k, run in enumerate(runs, start=1):
            fires, warns = run["fires"], run["warnings"]
            first = next((i for i in fires if i >= abrupt[k - 1].change_point), None)
            if first is None:
                problems.append(f"{det}: no drift on abrupt stream {k}, so no warning to judge")
                break
            since = max([i for i in fires if i < first], default=-1)
            if not any(since < w < first for w in warns):
                problems.append(f"{det}: no warning before the drift it detected")
                break
            if first in warns:
                problems.append(f"{det}: warning_detected is True at the update where drift_detected is")
                break
        runs = _read_runs(data["stationary"], det, len(stationary), STREAM_LENGTH)
        share = sum(len(r["warnings"]) for r in runs) / (len(stationary) * STREAM_LENGTH)
        if share > MAX_WARNING_SHARE:
            problems.append(f"{det}: in the warning state on {share:.0%} of the updates of "
                            f"{len(stationary)} stationary streams")
    if not problems:
        return score(1.0, "")
    return score(0.0, "; ".join(problems))


def _collect_warnings(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    return {"abrupt": _run_streams(ns, "warn_abrupt", inputs["warn_abrupt"], _DETECTORS, warnings=True),
            "stationary": _run_streams(ns, "warn_stationary", inputs["warn_stationary"], _DETECTORS,
                                       warnings=True)}


# ---------------------------------------------------------------------------------------- diagnosis

#: The ``alpha`` the diagnosis check leaves at its default (``diagnose_drift``'s default).
DIAGNOSE_ALPHA = 0.01
#: The kinds of batch pairs the diagnosis check uses, with the diagnoses each can have:
#: "ordinary": 1,200-2,000 rows a batch, clear effects (any diagnosis);
#: "many_features": inputs unmoved, but one of 12-20 features differs at p < alpha by chance;
#: "small_shift": one feature moved slightly, in 10,000-12,000 rows a batch (a real input shift);
#: "small_batch": 120-200 rows: large differences of means and of accuracies, all chance;
#: "small_drop": the accuracy fell 1-3 points, in 10,000-12,000 rows a batch (a real drop);
#: "accuracy_rose": the accuracy rose clearly (it did not drop).
DRIFT_CASES = {
    "ordinary": DIAGNOSES,
    "many_features": ("none", "concept"),
    "small_shift": ("data",),
    "small_batch": ("none",),
    "small_drop": ("concept",),
    "accuracy_rose": ("none", "data"),
}


@dataclass(frozen=True, repr=False)
class DriftBatches:
    """A reference batch and a current batch: inputs and whether the model was right on each row.

    ``inputs_moved`` and ``accuracy_dropped`` say what was done to the current batch (the truth);
    ``case`` is the kind of pair (a key of ``DRIFT_CASES``).

    >>> b = drift_batches("concept", seed=0)
    >>> b.truth, b.ref_X.shape[1]
    ('concept', 14)
    """

    ref_X: np.ndarray
    cur_X: np.ndarray
    ref_correct: np.ndarray
    cur_correct: np.ndarray
    inputs_moved: bool
    accuracy_dropped: bool
    case: str = "ordinary"

    @property
    def truth(self) -> str:
        return DIAGNOSES[int(self.inputs_moved) + 2 * int(self.accuracy_dropped)]

    @property
    def n_features(self) -> int:
        return int(self.ref_X.shape[1])

    def __repr__(self) -> str:
        return (f"DriftBatches({self.case}, {self.n_features} features, ref {len(self.ref_correct)} rows, "
                f"current {len(self.cur_correct)} rows, accuracy {self.ref_correct.mean():.3f} -> "
                f"{self.cur_correct.mean():.3f})")


def _largest_gap_p(ref_X: np.ndarray, cur_X: np.ndarray) -> tuple[float, float]:
    """The smallest per-feature KS p-value (``ks_test``, asymptotic) and the largest |difference of means|.

    All features have the same sample sizes, so the smallest p-value is the one of the largest KS gap:
    the gaps are computed for every feature at once, the p-value for that feature only."""
    from prodai_lessons.drift import ks_test

    n, m = len(ref_X), len(cur_X)
    order = np.argsort(np.concatenate([ref_X, cur_X]), axis=0)
    steps = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])
    gaps = np.abs(np.cumsum(steps[order], axis=0)).max(axis=0)
    j = int(np.argmax(gaps))
    p = ks_test(ref_X[:, j], cur_X[:, j], method="asymp").p_value
    return float(p), float(np.abs(ref_X.mean(axis=0) - cur_X.mean(axis=0)).max())


def _drop_z(ref_correct: np.ndarray, cur_correct: np.ndarray) -> tuple[float, float]:
    """Pooled two-proportion z statistic of "the accuracy dropped" and the observed drop."""
    n1, n2 = len(ref_correct), len(cur_correct)
    a1, a2 = float(ref_correct.mean()), float(cur_correct.mean())
    pool = (a1 * n1 + a2 * n2) / (n1 + n2)
    se = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    return (a1 - a2) / se if se > 0 else 0.0, a1 - a2


def _inputs_clear(case: str, moved: bool, ref_X: np.ndarray, cur_X: np.ndarray) -> bool:
    """Is "did the inputs move" clear at ``DIAGNOSE_ALPHA`` for a test that controls the error across the
    d features (alpha / d), with a factor of 10 (moved) or 3 (not moved) to spare? And does the pair show
    what its case is for?"""
    alpha, d = DIAGNOSE_ALPHA, ref_X.shape[1]
    p, mean_gap = _largest_gap_p(ref_X, cur_X)
    if moved:
        return p < alpha / d / 10 and (case != "small_shift" or mean_gap < 0.15)
    if case == "many_features":
        return 3 * alpha / d <= p <= 0.7 * alpha
    return p >= 3 * alpha / d and (case != "small_batch" or mean_gap > 0.3)


def _accuracy_clear(case: str, dropped: bool, ref_correct: np.ndarray, cur_correct: np.ndarray) -> bool:
    """Is "did the accuracy drop" clear for a one-sided test at ``DIAGNOSE_ALPHA`` (p < alpha / 10 for a
    drop, p > 3 alpha otherwise)? And does the pair show what its case is for?"""
    z, drop = _drop_z(ref_correct, cur_correct)
    if dropped:
        return z > 3.09 and (case != "small_drop" or drop < 0.03)  # normal_sf(3.09) = alpha / 10
    if case == "accuracy_rose":
        return z < -3.09
    if case == "small_batch":
        return drop > 0.06 and z < 1.88  # normal_sf(1.88) = 3 alpha
    return -1.88 < z < 1.88


def _make_batches(r: np.random.Generator, case: str, truth: str) -> DriftBatches:
    """One pair of batches of ``case`` with ``truth``, drawn until its truth is clear (see the two
    ``_clear`` functions): a linear model on d standard normal features, labels from a linear concept
    with label noise; the concept rotates when the accuracy drops, features shift or spread when the
    inputs move."""
    moved, dropped = truth in ("data", "both"), truth in ("concept", "both")
    rows = {"small_shift": (10000, 12001), "small_drop": (10000, 12001), "small_batch": (120, 201)}
    while True:
        d = int(r.integers(12 if case == "many_features" else 10, 21))
        n_ref, n_cur = (int(v) for v in r.integers(*rows.get(case, (1200, 2001)), 2))
        ref_X, cur_X = r.normal(size=(n_ref, d)), r.normal(size=(n_cur, d))
        if moved:
            for j in r.choice(d, size=1 if case == "small_shift" else int(r.integers(1, 3)), replace=False):
                if case == "small_shift":
                    cur_X[:, j] += r.uniform(0.09, 0.12) * r.choice([-1.0, 1.0])
                elif r.random() < 0.5:
                    cur_X[:, j] += r.uniform(0.3, 0.6) * r.choice([-1.0, 1.0])
                else:
                    cur_X[:, j] *= r.uniform(1.4, 1.8)
        if not _inputs_clear(case, moved, ref_X, cur_X):
            continue
        w0 = r.normal(size=d)
        w0 /= np.linalg.norm(w0)
        u = r.normal(size=d)
        u -= (u @ w0) * w0
        u /= np.linalg.norm(u)
        model_ref, model_cur = ref_X @ w0 > 0, cur_X @ w0 > 0
        for _ in range(50):  # labels for these inputs
            if case == "small_batch":
                eps_ref = eps_cur = float(r.uniform(0.15, 0.25))
            elif case == "small_drop":
                eps_ref = eps_cur = float(r.uniform(0.04, 0.08))
            elif case == "accuracy_rose":
                eps_ref = float(r.uniform(0.1, 0.15))
                eps_cur = eps_ref - float(r.uniform(0.05, 0.08))
            else:
                eps_ref = eps_cur = float(r.uniform(0.04, 0.12))
            if not dropped:
                theta = 0.0
            elif case == "small_drop":  # the drop is about theta / pi * (1 - 2 eps)
                theta = math.pi * float(r.uniform(0.012, 0.022)) / (1 - 2 * eps_cur)
            else:
                theta = float(r.uniform(0.25, 0.45)) * math.pi
            w1 = math.cos(theta) * w0 + math.sin(theta) * u
            y_ref = model_ref ^ (r.random(n_ref) < eps_ref)
            y_cur = (cur_X @ w1 > 0) ^ (r.random(n_cur) < eps_cur)
            ref_correct, cur_correct = model_ref == y_ref, model_cur == y_cur
            if _accuracy_clear(case, dropped, ref_correct, cur_correct):
                for v in (ref_X, cur_X, ref_correct, cur_correct):
                    v.setflags(write=False)
                return DriftBatches(ref_X, cur_X, ref_correct, cur_correct, moved, dropped, case)


def drift_batches(truth: str = "concept", seed: int = 0, case: str = "ordinary") -> DriftBatches:
    """A reference/current pair like the checks use: ``truth`` in ``DIAGNOSES``, ``case`` in
    ``DRIFT_CASES`` (each case allows the diagnoses listed there).

    >>> drift_batches("concept", seed=0)
    DriftBatches(ordinary, 14 features, ref 1474 rows, current 1795 rows, accuracy 0.919 -> 0.690)
    """
    if case not in DRIFT_CASES:
        raise ValueError(f"case must be one of {', '.join(map(repr, DRIFT_CASES))}; got {case!r}")
    if truth not in DRIFT_CASES[case]:
        raise ValueError(f"truth must be one of {', '.join(map(repr, DRIFT_CASES[case]))} for case {case!r}; "
                         f"got {truth!r}")
    k = 6 * list(DRIFT_CASES).index(case) + DIAGNOSES.index(truth)
    return _make_batches(rng(seed, 1, 200 + k), case, truth)


@lru_cache(maxsize=8)
def _diagnose_scenarios(seed: int) -> list[DriftBatches]:
    """Ten pairs in a random order: one ordinary pair of each diagnosis, two "many_features" pairs and one
    of each other case, their diagnosis drawn from those the case allows."""
    r = rng(seed, 1, 5)
    plan = [("ordinary", t) for t in DIAGNOSES] + [
        (case, DRIFT_CASES[case][int(r.integers(len(DRIFT_CASES[case])))])
        for case in ("many_features", "many_features", "small_shift", "small_batch", "small_drop",
                     "accuracy_rose")]
    return [_make_batches(r, *plan[int(i)]) for i in r.permutation(len(plan))]


def _diagnose_inputs(seed: int) -> dict:
    """The batches of the diagnosis check, without what was done to them."""
    return {"cases": [{"ref_X": b.ref_X, "cur_X": b.cur_X, "ref_correct": b.ref_correct,
                       "cur_correct": b.cur_correct} for b in _diagnose_scenarios(seed)]}


def _collect_diagnose(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "diagnose_drift", kind="function")
    answers = []
    for k, b in enumerate(inputs["cases"], start=1):
        with in_scenario(f"diagnose_drift, case {k}"):
            got = fn(b["ref_X"].copy(), b["cur_X"].copy(), b["ref_correct"].copy(), b["cur_correct"].copy())
        answers.append(want_str(got, "diagnose_drift()", DIAGNOSES))
    return {"answers": answers}


def _why(b: DriftBatches, said_moved: bool, said_dropped: bool) -> list[tuple[str, str]]:
    """What is wrong with an answer, as (what was reported, what the pair shows) pairs."""
    rows = f"{len(b.ref_correct):,} and {len(b.cur_correct):,} rows"
    out = []
    if said_moved and not b.inputs_moved:
        out.append(("an input shift where the inputs kept their distribution", {
            "many_features": f"{b.n_features} features, none moved: one differing at p < alpha is what "
                             f"chance gives when {b.n_features} are tested",
            "small_batch": f"{rows}: their differences of means are chance"}.get(b.case, "")))
    if not said_moved and b.inputs_moved:
        out.append(("no input shift where the inputs moved",
                    f"a small shift of one feature, but over {rows}" if b.case == "small_shift" else ""))
    if said_dropped and not b.accuracy_dropped:
        if b.case == "accuracy_rose":
            out.append(("an accuracy drop where the accuracy rose", ""))
        else:
            out.append(("an accuracy drop where the accuracy held",
                        f"{rows}: a drop of {100 * (b.ref_correct.mean() - b.cur_correct.mean()):.0f} points "
                        "is chance there" if b.case == "small_batch" else ""))
    if not said_dropped and b.accuracy_dropped:
        out.append(("no accuracy drop where the accuracy fell",
                    f"by a few points, but over {rows}" if b.case == "small_drop" else ""))
    return out


def _judge_diagnose(data: Any, seed: int, score: Score) -> CheckResult:
    cases = _diagnose_scenarios(seed)
    answers = list_of(field(data, "answers", list), str, "answers", length=len(cases))
    wrong: dict[str, list[tuple[int, str]]] = {}  # what was reported -> [(case, what that case shows)]
    right = 0
    for k, (b, got) in enumerate(zip(cases, answers), start=1):
        if got not in DIAGNOSES:
            wrong.setdefault(f"{got!r:.20}, which is not a diagnosis", []).append((k, ""))
            continue
        why = _why(b, got in ("data", "both"), got in ("concept", "both"))
        right += not why
        for reported, detail in why:
            wrong.setdefault(reported, []).append((k, detail))
    if not wrong:
        return score(1.0, f"{right}/{len(cases)} cases diagnosed right")
    parts = []
    for reported, where in wrong.items():
        numbers = [str(k) for k, _ in where]
        listed = numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]
        details = "; ".join(detail if len(where) == 1 else f"case {k}: {detail}" for k, detail in where if detail)
        parts.append(f"reported {reported} in case{'s' if len(numbers) > 1 else ''} {listed}"
                     + (f" ({details})" if details else ""))
    return score(right / len(cases) * 0.75, f"{right}/{len(cases)} right; " + "; ".join(parts))


EXERCISE = Exercise(
    name="ex1",
    title="Concept drift",
    solution_path="solutions/ex1_concept_drift.ipynb",
    entry_points=("simulate_concept_drift", "WindowAccuracyDetector", "PageHinkley", "diagnose_drift"),
    checks=(
        scored_check("simulation", 2,
              "simulate_concept_drift relabels the same inputs: old concept before the change, new from it on",
              _simulation_inputs, _collect_simulation, _judge_simulation),
        scored_check("window_abrupt", 3, "the window detector finds abrupt concept drift, soon, once",
              _stream_inputs("abrupt"), _collect_streams("abrupt", ("WindowAccuracyDetector",), warnings=False),
              _detection_judge("WindowAccuracyDetector", "abrupt")),
        scored_check("window_gradual", 2, "the window detector finds gradual concept drift",
              _stream_inputs("gradual"), _collect_streams("gradual", ("WindowAccuracyDetector",), warnings=False),
              _detection_judge("WindowAccuracyDetector", "gradual")),
        scored_check("window_false_alarms", 2,
              "the window detector fires on at most 1 of 50 stationary streams",
              _stream_inputs("stationary"), _collect_streams("stationary", ("WindowAccuracyDetector",), warnings=False),
              _false_alarm_judge("WindowAccuracyDetector")),
        scored_check("ph_abrupt", 3, "Page-Hinkley finds abrupt concept drift, soon, once",
              _stream_inputs("abrupt"), _collect_streams("abrupt", ("PageHinkley",), warnings=False),
              _detection_judge("PageHinkley", "abrupt")),
        scored_check("ph_gradual", 2, "Page-Hinkley finds gradual concept drift",
              _stream_inputs("gradual"), _collect_streams("gradual", ("PageHinkley",), warnings=False),
              _detection_judge("PageHinkley", "gradual")),
        scored_check("ph_false_alarms", 2, "Page-Hinkley fires on at most 1 of 50 stationary streams",
              _stream_inputs("stationary"), _collect_streams("stationary", ("PageHinkley",), warnings=False),
              _false_alarm_judge("PageHinkley")),
        scored_check("warnings", 2, "both detectors warn before they detect, and rarely on stationary streams",
              _stream_inputs("warn_abrupt", "warn_stationary"), _collect_warnings, _judge_warnings),
        scored_check("concept_vs_data", 4,
              "diagnose_drift tells concept drift, data drift, both and none apart, with tests",
              _diagnose_inputs, _collect_diagnose, _judge_diagnose),
    ),
    hints=(
        "simulate_concept_drift: compute both concepts' labels for every row (X @ w > 0), pick one or the other "
        "with a mask on the row index (np.where), then flip each label where rng.random(n) < label_noise, "
        "with rng = np.random.default_rng(seed). Return X itself, untouched, and the labels.",
        "WindowAccuracyDetector: count correct outcomes into the reference until it holds `reference` of them; "
        "after that keep the last `window` outcomes in a collections.deque and a running count of correct ones. "
        "Compare once the window is full.",
        "Page-Hinkley on the error e = 0 if correct else 1: update the running mean, add (e - mean - delta) to "
        "a cumulative sum m, keep its minimum M; m - M is the statistic. drift when n >= min_samples and "
        "m - M > threshold, warning when it is > warning. Reset everything at the update after a drift.",
        "diagnose_drift: inputs moved if any feature's ks_test(...).p_value < alpha / n_features (Bonferroni); "
        "accuracy dropped if the one-sided two-proportion z-test (reference accuracy > current) has "
        "normal_sf(z) < alpha. Then map the two booleans to 'none', 'data', 'concept' or 'both'.",
    ),
)


#: The learner's verbs: ``check(globals())``, ``hint(n)``, ``solution()``.
check, hint, solution = learner_verbs(EXERCISE)
