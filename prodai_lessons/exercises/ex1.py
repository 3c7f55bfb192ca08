"""Exercise 1, concept drift: checks for ``WindowAccuracyDetector``, ``PageHinkley`` and ``diagnose_drift``.

The learner's contract (the stubs in ``exercises/ex1_concept_drift.ipynb`` carry the same text):

Detectors have river's shape: ``update(correct: bool) -> None`` once per labelled prediction, then the
properties ``drift_detected`` and ``warning_detected`` (``True`` only at the update where the condition
holds); after a detection the detector starts over at the next update. Both must work with their default
arguments.

``WindowAccuracyDetector(reference=1000, window=300, z_warning=2.5, z_drift=5.0)``
    accuracy of a recent window against a reference window (pooled two-proportion z statistic).
``PageHinkley(delta=0.02, threshold=50.0, warning=25.0, min_samples=30)``
    the Page-Hinkley test (Page 1954; river's ``PageHinkley``, mode "up") on the error indicator.
``diagnose_drift(ref_X, cur_X, ref_correct, cur_correct, alpha=0.01) -> "none" | "data" | "concept" | "both"``
    did the inputs move (``ks_test`` per feature) and did the accuracy drop.

The streams come from a real, small model: inputs ``x ~ N(0, I)`` in two dimensions, labels from a linear
concept with label noise, predictions from a fixed linear model fitted to the first concept. *Concept*
drift rotates the concept (the inputs keep their distribution; the same x now has another label), abruptly
or gradually (a growing share of new-concept samples). *Data* drift moves the inputs along the model's
decision boundary, so their distribution changes while the accuracy does not.
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
from prodai_lessons.exercises._helpers import (
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
           "drift_batches", "STREAM_KINDS", "DIAGNOSES"]

STREAM_KINDS = ("stationary", "abrupt", "gradual")
DIAGNOSES = ("none", "data", "concept", "both")
_DETECTORS = ("WindowAccuracyDetector", "PageHinkley")

#: Detection must come within this many samples of the change (abrupt), or of the end of the transition
#: (gradual). The streams are screened (:func:`_clear_cut`) so that the specified detectors, at their default
#: settings, detect within 60% of it; typical delays are about 100 (windows) and 200 (Page-Hinkley) samples.
MAX_DELAY = {"abrupt": 800, "gradual": 800}
#: At most this share of a stationary stream may be spent in the warning state.
MAX_WARNING_SHARE = 0.2


# ------------------------------------------------------------------------------------------- streams


@dataclass(frozen=True, repr=False)
class ConceptStream:
    """A labelled stream from a fixed model: inputs ``X``, labels ``y``, the model's ``correct`` flags.

    ``change_point``: first sample of the new concept (None for a stationary stream); ``width``: length of
    the transition (0 for abrupt: every sample from ``change_point`` on follows the new concept; for
    gradual, the share of new-concept samples grows linearly over ``width`` samples).
    """

    kind: str
    X: np.ndarray
    y: np.ndarray
    correct: np.ndarray
    change_point: int | None
    width: int
    label_noise: float
    rotation: float

    def __repr__(self) -> str:
        where = "no change" if self.change_point is None else f"change at {self.change_point}, width {self.width}"
        return (f"ConceptStream({self.kind}, n={len(self.correct)}, {where}, "
                f"accuracy before/after {self.accuracy(True):.3f}/{self.accuracy(False):.3f})")

    def accuracy(self, before: bool = True) -> float:
        """Observed accuracy before the change point (``before=True``) or after the transition."""
        if self.change_point is None:
            return float(self.correct.mean())
        part = self.correct[:self.change_point] if before else self.correct[self.change_point + self.width:]
        return float(part.mean())


def _concept(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def _make_stream(kind: str, r: np.random.Generator) -> ConceptStream:
    a = float(r.uniform(0, 2 * math.pi))
    w0 = _concept(a)
    if kind == "stationary":
        n, eps, theta, t0, width = 4000, float(r.uniform(0.04, 0.2)), 0.0, None, 0
    else:
        n = 3000 if kind == "abrupt" else 3600
        eps = float(r.uniform(0.04, 0.15))
        theta = float(r.uniform(0.25, 0.45)) * math.pi * float(r.choice([-1, 1]))
        t0 = int(r.integers(1300, 1800)) if kind == "abrupt" else int(r.integers(1300, 1700))
        width = 0 if kind == "abrupt" else int(r.integers(400, 800))
    X = r.normal(size=(n, 2))
    w1 = _concept(a + theta)
    if t0 is None:
        new = np.zeros(n, dtype=bool)
    elif width == 0:
        new = np.arange(n) >= t0
    else:
        new = r.random(n) < np.clip((np.arange(n) - t0 + 1) / width, 0.0, 1.0)
    y = np.where(new, X @ w1 > 0, X @ w0 > 0) ^ (r.random(n) < eps)
    correct = (X @ w0 > 0) == y
    for a in (X, y, correct):
        a.setflags(write=False)
    return ConceptStream(kind, X, y, correct, t0, width, eps, theta)


#: The detectors' default settings (the stubs' defaults), used to screen the generated streams.
WINDOW_DEFAULTS = {"reference": 1000, "window": 300, "z_warning": 2.5, "z_drift": 5.0}
PH_DEFAULTS = {"delta": 0.02, "threshold": 50.0, "warning": 25.0, "min_samples": 30}


def _window_z(correct: np.ndarray) -> np.ndarray:
    """z statistic of the windowed detector (defaults, no reset) at every update; 0 before it is ready."""
    R, W = WINDOW_DEFAULTS["reference"], WINDOW_DEFAULTS["window"]
    c = correct.astype(float)
    z = np.zeros(len(c))
    if len(c) < R + W:
        return z
    ref = c[:R].sum()
    cs = np.concatenate([[0.0], np.cumsum(c[R:])])
    recent = cs[W:] - cs[:-W]  # recent window ending at update R + W - 1 + k
    pooled = (ref + recent) / (R + W)
    se = np.sqrt(pooled * (1 - pooled) * (1 / R + 1 / W))
    with np.errstate(divide="ignore", invalid="ignore"):
        z[R + W - 1:] = np.where(se > 0, (ref / R - recent / W) / se, 0.0)
    return z


def _ph_stat(correct: np.ndarray) -> np.ndarray:
    """Page-Hinkley statistic m_t - min m (defaults, no reset) at every update; 0 before min_samples."""
    e = (~correct).astype(float)
    t = np.arange(1, len(e) + 1)
    m = np.cumsum(e - np.cumsum(e) / t - PH_DEFAULTS["delta"])
    ph = m - np.minimum.accumulate(m)
    ph[:PH_DEFAULTS["min_samples"] - 1] = 0.0
    return ph


def _clear_cut(s: ConceptStream) -> bool:
    """Keep a stream only if the specified detectors (default settings) read it unambiguously.

    Before the change (the whole stream if stationary) neither statistic comes within a margin of its
    drift level (window z < 4 for a level of 5; Page-Hinkley < 40 for 50) and warnings stay rare; after it,
    both detect well inside the allowed delay. So an implementation of the contract passes on every seed,
    and one that does not, fails for what it does wrong, not for bad luck.
    """
    z, ph = _window_z(s.correct), _ph_stat(s.correct)
    end = len(z) if s.change_point is None else s.change_point
    if z[:end].max() >= WINDOW_DEFAULTS["z_drift"] - 1 or ph[:end].max() >= 0.8 * PH_DEFAULTS["threshold"]:
        return False
    warn_share = max((z[:end] > WINDOW_DEFAULTS["z_warning"]).mean(), (ph[:end] > PH_DEFAULTS["warning"]).mean())
    if warn_share > MAX_WARNING_SHARE / 2:
        return False
    if s.change_point is None:
        return True
    limit = s.change_point + s.width + int(0.6 * MAX_DELAY[s.kind])
    return bool((z[end:limit] > WINDOW_DEFAULTS["z_drift"]).any() and (ph[end:limit] > PH_DEFAULTS["threshold"]).any())


def _clear_stream(kind: str, r: np.random.Generator) -> ConceptStream:
    while True:
        s = _make_stream(kind, r)
        if _clear_cut(s):
            return s


def concept_stream(kind: str = "abrupt", seed: int = 0) -> ConceptStream:
    """A stream like the ones the checks use (``kind`` in ``STREAM_KINDS``), for your own experiments."""
    if kind not in STREAM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, STREAM_KINDS))}; got {kind!r}")
    return _clear_stream(kind, rng(seed, 1, 100 + STREAM_KINDS.index(kind)))


@dataclass(frozen=True, repr=False)
class DriftBatches:
    """A reference batch and a current batch: inputs and whether the model was right on each row.

    ``inputs_moved`` and ``accuracy_dropped`` say what was done to the current batch (the truth).
    """

    ref_X: np.ndarray
    cur_X: np.ndarray
    ref_correct: np.ndarray
    cur_correct: np.ndarray
    inputs_moved: bool
    accuracy_dropped: bool

    @property
    def truth(self) -> str:
        return DIAGNOSES[int(self.inputs_moved) + 2 * int(self.accuracy_dropped)]

    def __repr__(self) -> str:
        return (f"DriftBatches(ref {len(self.ref_correct)} rows, current {len(self.cur_correct)} rows, "
                f"accuracy {self.ref_correct.mean():.3f} -> {self.cur_correct.mean():.3f})")


def _batches(r: np.random.Generator, moved: bool, dropped: bool) -> DriftBatches:
    a = float(r.uniform(0, 2 * math.pi))
    w0, along = _concept(a), _concept(a + math.pi / 2)  # `along` lies on the decision boundary
    eps = float(r.uniform(0.04, 0.12))
    n_ref, n_cur = int(r.integers(1200, 2000)), int(r.integers(1200, 2000))
    Xr = r.normal(size=(n_ref, 2))
    Xc = r.normal(size=(n_cur, 2))
    if moved:
        Xc = Xc + float(r.uniform(0.5, 1.0)) * float(r.choice([-1, 1])) * along
    theta = float(r.uniform(0.25, 0.45)) * math.pi * float(r.choice([-1, 1])) if dropped else 0.0
    yr = (Xr @ w0 > 0) ^ (r.random(n_ref) < eps)
    yc = (Xc @ _concept(a + theta) > 0) ^ (r.random(n_cur) < eps)
    return DriftBatches(Xr, Xc, (Xr @ w0 > 0) == yr, (Xc @ w0 > 0) == yc, moved, dropped)


def _batches_clear(b: DriftBatches) -> bool:
    """Keep only batches whose truth is unmistakable at any alpha in [1e-6, 0.05]: no borderline sample."""
    from prodai_lessons.drift import ks_test

    p = min(ks_test(b.ref_X[:, j], b.cur_X[:, j], method="asymp").p_value for j in range(2))
    n1, n2 = len(b.ref_correct), len(b.cur_correct)
    a1, a2 = b.ref_correct.mean(), b.cur_correct.mean()
    pool = (a1 * n1 + a2 * n2) / (n1 + n2)
    z = (a1 - a2) / math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    inputs_ok = p < 1e-9 if b.inputs_moved else p > 0.2
    acc_ok = z > 7 if b.accuracy_dropped else -1.5 < z < 1.0
    return inputs_ok and acc_ok


def drift_batches(truth: str = "concept", seed: int = 0) -> DriftBatches:
    """A reference/current pair like the checks use; ``truth`` in ``DIAGNOSES``."""
    if truth not in DIAGNOSES:
        raise ValueError(f"truth must be one of {', '.join(map(repr, DIAGNOSES))}; got {truth!r}")
    k = DIAGNOSES.index(truth)
    r = rng(seed, 1, 200 + k)
    while True:
        b = _batches(r, bool(k % 2), bool(k // 2))
        if _batches_clear(b):
            return b


@lru_cache(maxsize=32)
def _diagnose_scenarios(seed: int) -> list[DriftBatches]:
    """Eight batches, two of each kind, in a random order."""
    r = rng(seed, 1, 5)
    truths = [DIAGNOSES[int(k)] for k in r.permutation([0, 0, 1, 1, 2, 2, 3, 3])]
    out = []
    for t in truths:
        k = DIAGNOSES.index(t)
        while True:
            b = _batches(r, bool(k % 2), bool(k // 2))
            if _batches_clear(b):
                out.append(b)
                break
    return out


# ---------------------------------------------------------------------------------------- detectors

_CHECK_STREAMS = {  # check -> (kind, number of streams, key)
    "abrupt": ("abrupt", 3, 11),
    "gradual": ("gradual", 2, 12),
    "stationary": ("stationary", 3, 13),
    "warn_abrupt": ("abrupt", 2, 14),
    "warn_stationary": ("stationary", 2, 15),
}


@lru_cache(maxsize=32)
def _streams(seed: int, which: str) -> list[ConceptStream]:
    kind, n, key = _CHECK_STREAMS[which]
    return [_clear_stream(kind, rng(seed, 1, key, k)) for k in range(n)]


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
        runs = _read_runs(data, detector, len(streams), len(streams[0].correct))
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
    def judge(data: Any, seed: int, score: Score) -> CheckResult:
        streams = _streams(seed, "stationary")
        runs = _read_runs(data, detector, len(streams), len(streams[0].correct))
        alarms = [len(r["fires"]) for r in runs]
        if not any(alarms):
            return score(1.0, f"no alarm on {len(streams)} stationary streams")
        bad = [f"stream {k}: {a} false alarm(s)" for k, a in enumerate(alarms, start=1) if a]
        return score(alarms.count(0) / len(streams) * 0.5,
                     "; ".join(bad) + " on streams whose concept never changes")
    return judge


def _judge_warnings(data: Any, seed: int, score: Score) -> CheckResult:
    field(data, "abrupt", dict)
    field(data, "stationary", dict)
    problems = []
    abrupt, stationary = _streams(seed, "warn_abrupt"), _streams(seed, "warn_stationary")
    for det in _DETECTORS:
        runs = _read_runs(data["abrupt"], det, len(abrupt), len(abrupt[0].correct))
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
        runs = _read_runs(data["stationary"], det, len(stationary), len(stationary[0].correct))
        share = max(len(r["warnings"]) / len(s.correct) for r, s in zip(runs, stationary))
        if share > MAX_WARNING_SHARE:
            problems.append(f"{det}: in the warning state on {share:.0%} of a stationary stream")
    if not problems:
        return score(1.0, "")
    return score(0.0, "; ".join(problems))


def _collect_warnings(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    return {"abrupt": _run_streams(ns, "warn_abrupt", inputs["warn_abrupt"], _DETECTORS, warnings=True),
            "stationary": _run_streams(ns, "warn_stationary", inputs["warn_stationary"], _DETECTORS,
                                       warnings=True)}


# ---------------------------------------------------------------------------------------- diagnosis


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


def _judge_diagnose(data: Any, seed: int, score: Score) -> CheckResult:
    cases = _diagnose_scenarios(seed)
    answers = list_of(field(data, "answers", list), str, "answers", length=len(cases))
    problems = []
    for k, (b, got) in enumerate(zip(cases, answers), start=1):
        if got not in DIAGNOSES:
            problems.append(f"case {k}: {got!r} is not a diagnosis")
            continue
        said_moved, said_dropped = got in ("data", "both"), got in ("concept", "both")
        why = []
        if said_moved and not b.inputs_moved:
            why.append("an input shift where the inputs kept their distribution")
        if not said_moved and b.inputs_moved:
            why.append("no input shift where the inputs moved")
        if said_dropped and not b.accuracy_dropped:
            why.append("an accuracy drop where the accuracy held")
        if not said_dropped and b.accuracy_dropped:
            why.append("no accuracy drop where the accuracy fell")
        if why:
            problems.append(f"case {k} ({got!r}) reported " + " and ".join(why))
    right = len(cases) - len(problems)
    if not problems:
        return score(1.0, f"{right}/{len(cases)} cases diagnosed right")
    return score(right / len(cases) * 0.75,
                 f"{right}/{len(cases)} right; " + "; ".join(problems[:2])
                 + (f" (+{len(problems) - 2} more)" if len(problems) > 2 else ""))


EXERCISE = Exercise(
    name="ex1",
    title="Concept drift",
    solution_path="solutions/ex1_concept_drift.ipynb",
    entry_points=("WindowAccuracyDetector", "PageHinkley", "diagnose_drift"),
    checks=(
        scored_check("window_abrupt", 3, "the window detector finds abrupt concept drift, soon, once",
              _stream_inputs("abrupt"), _collect_streams("abrupt", ("WindowAccuracyDetector",), warnings=False),
              _detection_judge("WindowAccuracyDetector", "abrupt")),
        scored_check("window_gradual", 2, "the window detector finds gradual concept drift",
              _stream_inputs("gradual"), _collect_streams("gradual", ("WindowAccuracyDetector",), warnings=False),
              _detection_judge("WindowAccuracyDetector", "gradual")),
        scored_check("window_false_alarms", 2, "the window detector stays quiet on stationary streams",
              _stream_inputs("stationary"), _collect_streams("stationary", ("WindowAccuracyDetector",), warnings=False),
              _false_alarm_judge("WindowAccuracyDetector")),
        scored_check("ph_abrupt", 3, "Page-Hinkley finds abrupt concept drift, soon, once",
              _stream_inputs("abrupt"), _collect_streams("abrupt", ("PageHinkley",), warnings=False),
              _detection_judge("PageHinkley", "abrupt")),
        scored_check("ph_gradual", 2, "Page-Hinkley finds gradual concept drift",
              _stream_inputs("gradual"), _collect_streams("gradual", ("PageHinkley",), warnings=False),
              _detection_judge("PageHinkley", "gradual")),
        scored_check("ph_false_alarms", 2, "Page-Hinkley stays quiet on stationary streams",
              _stream_inputs("stationary"), _collect_streams("stationary", ("PageHinkley",), warnings=False),
              _false_alarm_judge("PageHinkley")),
        scored_check("warnings", 2, "both detectors warn before they detect, and rarely on stationary streams",
              _stream_inputs("warn_abrupt", "warn_stationary"), _collect_warnings, _judge_warnings),
        scored_check("concept_vs_data", 4, "diagnose_drift tells concept drift, data drift, both and none apart",
              _diagnose_inputs, _collect_diagnose, _judge_diagnose),
    ),
    hints=(
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
