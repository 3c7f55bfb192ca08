"""Exercise 1's streams (private to :mod:`prodai_lessons.exercises.ex1`, which re-exports the public names):
their specification, the generator, the specified detectors' statistics that screen them, and the measured
false-alarm and detection rates behind the checks' rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from prodai_lessons.exercises._helpers import rng


STREAM_KINDS = ("stationary", "abrupt", "gradual")
DIAGNOSES = ("none", "data", "concept", "both")
_DETECTORS = ("WindowAccuracyDetector", "PageHinkley")

#: Every stream, whatever its kind, has this many samples.
STREAM_LENGTH = 6000
#: An abrupt change comes at a sample drawn from this range; a gradual transition starts at 1300 or later
#: and ends before 5200. Either way MAX_DELAY samples remain after it.
CHANGE_RANGE = (1300, 5200)
#: Label noise of every stream (the model's accuracy is 1 - noise before any change), whatever its kind.
LABEL_NOISE = (0.04, 0.2)
#: Detection must come within this many samples of the change (abrupt), or of the end of the transition
#: (gradual). Typical delays after an abrupt change, at the default settings: about 120 (window) and 180
#: (Page-Hinkley) samples.
MAX_DELAY = {"abrupt": 800, "gradual": 800}
#: At most this share of the updates of the warnings check's four stationary streams (together) may be spent
#: in the warning state.
MAX_WARNING_SHARE = 0.2
#: The warnings check pools this many stationary streams.
WARNING_GROUP = 4
#: The false-alarm rule: each detector runs on this many (unscreened) stationary streams ...
FALSE_ALARM_STREAMS = 50
#: ... and passes when it fires on at most this many of them (see the module docstring).
FALSE_ALARM_ALLOWED = 1


# ------------------------------------------------------------------------------------------- streams


@dataclass(frozen=True, repr=False)
class ConceptStream:
    """A labelled stream from a fixed model: inputs ``X``, labels ``y``, the model's ``correct`` flags.

    ``change_point``: first sample of the new concept (None for a stationary stream); ``width``: length of
    the transition (0 for abrupt: every sample from ``change_point`` on follows the new concept; for
    gradual, the share of new-concept samples grows linearly over ``width`` samples).

    >>> s = concept_stream("abrupt", seed=0)
    >>> s.kind, len(s.correct), s.change_point
    ('abrupt', 6000, 2898)
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


def _concept(angle: Any) -> np.ndarray:
    """Unit vector(s) at ``angle``: shape (2,) for a number, (k, 2) for k angles."""
    angle = np.asarray(angle, dtype=float)
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def _make_streams(kind: str, r: np.random.Generator, count: int) -> list[ConceptStream]:
    """``count`` streams of one kind, drawn together (one array operation per step, not one per stream)."""
    n = STREAM_LENGTH
    a = r.uniform(0, 2 * math.pi, count)
    eps = r.uniform(*LABEL_NOISE, count)
    if kind == "stationary":
        theta = np.zeros(count)
        t0 = np.full(count, -1)
        width = np.zeros(count, dtype=int)
    else:
        theta = r.uniform(0.3, 0.5, count) * math.pi * r.choice([-1.0, 1.0], count)
        if kind == "abrupt":
            width = np.zeros(count, dtype=int)
            t0 = r.integers(*CHANGE_RANGE, count)
        else:
            width = r.integers(400, 800, count)
            t0 = r.integers(CHANGE_RANGE[0], CHANGE_RANGE[1] - width)
    X = r.normal(size=(count, n, 2))
    steps = np.arange(n)
    if kind == "stationary":
        new = np.zeros((count, n), dtype=bool)
    elif kind == "abrupt":
        new = steps >= t0[:, None]
    else:
        new = r.random((count, n)) < np.clip((steps - t0[:, None] + 1) / width[:, None], 0.0, 1.0)
    old_side = np.einsum("knj,kj->kn", X, _concept(a)) > 0  # the model's prediction (it learned concept 0)
    new_side = np.einsum("knj,kj->kn", X, _concept(a + theta)) > 0
    y = np.where(new, new_side, old_side) ^ (r.random((count, n)) < eps[:, None])
    correct = old_side == y
    out = []
    for k in range(count):
        arrays = [np.ascontiguousarray(v[k]) for v in (X, y, correct)]
        for v in arrays:
            v.setflags(write=False)
        out.append(ConceptStream(kind, *arrays, None if t0[k] < 0 else int(t0[k]), int(width[k]),
                                 float(eps[k]), float(theta[k])))
    return out


#: The detectors' default settings (the stubs' defaults), used to screen the generated streams.
WINDOW_DEFAULTS = {"reference": 1000, "window": 300, "z_warning": 2.5, "z_drift": 5.0}
PH_DEFAULTS = {"delta": 0.02, "threshold": 50.0, "warning": 25.0, "min_samples": 30}


def _window_z(correct: np.ndarray) -> np.ndarray:
    """z statistic of the windowed detector (defaults, no reset) at every update; 0 before it is ready.

    ``correct`` is one stream (1-D) or several of the same length (one per row)."""
    R, W = WINDOW_DEFAULTS["reference"], WINDOW_DEFAULTS["window"]
    c = np.asarray(correct, dtype=float)
    z = np.zeros(c.shape)
    if c.shape[-1] < R + W:
        return z
    ref = c[..., :R].sum(axis=-1, keepdims=True)
    cs = np.cumsum(c[..., R:], axis=-1)
    cs = np.concatenate([np.zeros(cs.shape[:-1] + (1,)), cs], axis=-1)
    recent = cs[..., W:] - cs[..., :-W]  # recent window ending at update R + W - 1 + k
    pooled = (ref + recent) / (R + W)
    se = np.sqrt(pooled * (1 - pooled) * (1 / R + 1 / W))
    with np.errstate(divide="ignore", invalid="ignore"):
        z[..., R + W - 1:] = np.where(se > 0, (ref / R - recent / W) / se, 0.0)
    return z


def _ph_stat(correct: np.ndarray) -> np.ndarray:
    """Page-Hinkley statistic m_t - min m (defaults, no reset) at every update; 0 before min_samples.

    ``correct`` is one stream (1-D) or several of the same length (one per row)."""
    e = 1.0 - np.asarray(correct, dtype=float)
    t = np.arange(1, e.shape[-1] + 1)
    m = np.cumsum(e - np.cumsum(e, axis=-1) / t - PH_DEFAULTS["delta"], axis=-1)
    ph = m - np.minimum.accumulate(m, axis=-1)
    ph[..., :PH_DEFAULTS["min_samples"] - 1] = 0.0
    return ph


def _detectable(streams: list[ConceptStream]) -> np.ndarray:
    """For each stream with a change: do both specified detectors (default settings, no restart) cross
    their drift level between the change and 60% of the allowed delay after it (after the transition)?

    Only the crossing after the change is asked for; what happens before it is left as drawn.
    """
    C = np.stack([s.correct for s in streams])
    t0 = np.array([s.change_point for s in streams])[:, None]
    limit = t0 + np.array([s.width + int(0.6 * MAX_DELAY[s.kind]) for s in streams])[:, None]
    steps = np.arange(C.shape[1])
    after = (steps >= t0) & (steps < limit)
    window = ((_window_z(C) > WINDOW_DEFAULTS["z_drift"]) & after).any(axis=1)
    ph = ((_ph_stat(C) > PH_DEFAULTS["threshold"]) & after).any(axis=1)
    return window & ph


def _draw_streams(kind: str, r: np.random.Generator, count: int) -> list[ConceptStream]:
    """``count`` streams of ``kind``. Stationary streams are kept as drawn; a stream with a change is kept
    if :func:`_detectable` (about 1 in 10,000 is drawn again), so a correct detector finds every change
    in time."""
    if kind == "stationary":
        return _make_streams(kind, r, count)
    kept: list[ConceptStream] = []
    while len(kept) < count:
        batch = _make_streams(kind, r, count - len(kept))
        kept += [s for s, ok in zip(batch, _detectable(batch)) if ok]
    return kept


def concept_stream(kind: str = "abrupt", seed: int = 0) -> ConceptStream:
    """A stream like the ones the checks use (``kind`` in ``STREAM_KINDS``), for your own experiments:
    a stationary stream as drawn; a stream with a change drawn again in the rare case (a few in 100,000)
    where the specified detectors would not detect it in time.

    >>> concept_stream("abrupt", seed=0)
    ConceptStream(abrupt, n=6000, change at 2898, width 0, accuracy before/after 0.900/0.517)
    """
    if kind not in STREAM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, STREAM_KINDS))}; got {kind!r}")
    return _draw_streams(kind, rng(seed, 1, 100 + STREAM_KINDS.index(kind)), 1)[0]


def _false_alarm_rates(n_streams: int, seed: int = 0, batch: int = 1000) -> dict[str, int]:
    """Count, on ``n_streams`` stationary streams drawn as the checks draw them (from generators the checks
    never use), the streams on which each specified detector (default settings) fires: ``window``,
    ``ph``; the window detector with a drift level of 4 instead of 5: ``window_z4``; a detector firing when
    the accuracy of the last 300 fell more than 5 points below that of the first 1,000: ``five_points``;
    and the groups of four streams (as the warnings check uses) on which a detector spends more than
    ``MAX_WARNING_SHARE`` of the updates in the warning state: ``warning_groups``. Vectorised (about 3 s
    per 1,000 streams); ``MEASURED_FALSE_ALARMS`` holds ``_false_alarm_rates(200_000)``."""
    R, W = WINDOW_DEFAULTS["reference"], WINDOW_DEFAULTS["window"]
    group = WARNING_GROUP
    batch -= batch % group
    counts = dict.fromkeys(("streams", "window", "window_z4", "ph", "five_points", "warning_groups"), 0)
    for b in range(0, n_streams, batch):
        size = min(batch, n_streams - b)
        C = np.stack([s.correct for s in _make_streams("stationary", rng(seed, 9, b), size)])
        z, ph = _window_z(C), _ph_stat(C)
        cs = np.cumsum(C[:, R:], axis=1, dtype=float)
        recent = (cs[:, W - 1:] - np.concatenate([np.zeros((size, 1)), cs[:, :-W]], axis=1)) / W
        fall = C[:, :R].mean(axis=1, keepdims=True) - recent
        counts["streams"] += size
        counts["window"] += int((z.max(axis=1) > WINDOW_DEFAULTS["z_drift"]).sum())
        counts["window_z4"] += int((z.max(axis=1) > 4.0).sum())
        counts["ph"] += int((ph.max(axis=1) > PH_DEFAULTS["threshold"]).sum())
        counts["five_points"] += int((fall.max(axis=1) > 0.05).sum())
        whole = size - size % group
        share = [(stat[:whole] > level).reshape(-1, group * STREAM_LENGTH).mean(axis=1)
                 for stat, level in ((z, WINDOW_DEFAULTS["z_warning"]), (ph, PH_DEFAULTS["warning"]))]
        counts["warning_groups"] += int((np.maximum(*share) > MAX_WARNING_SHARE).sum())
    return counts


def _detection_rates(n_streams: int, seed: int = 0, batch: int = 1000) -> dict[str, dict[str, int]]:
    """For each kind with a change, on ``n_streams`` streams drawn as the checks draw them before the screen
    (from generators the checks never use): how many the screen (:func:`_detectable`) would draw again,
    and on how many each specified detector (default settings) fires before the change. The figures in
    the module docstring come from ``_detection_rates(50_000, seed=4)``."""
    out = {}
    for k, kind in enumerate(("abrupt", "gradual")):
        counts = dict.fromkeys(("streams", "redrawn", "window_before", "ph_before"), 0)
        for b in range(0, n_streams, batch):
            streams = _make_streams(kind, rng(seed, 8, k, b), min(batch, n_streams - b))
            C = np.stack([s.correct for s in streams])
            before = np.arange(STREAM_LENGTH) < np.array([s.change_point for s in streams])[:, None]
            counts["streams"] += len(streams)
            counts["redrawn"] += int((~_detectable(streams)).sum())
            for name, stat, level in (("window_before", _window_z, WINDOW_DEFAULTS["z_drift"]),
                                      ("ph_before", _ph_stat, PH_DEFAULTS["threshold"])):
                counts[name] += int(((stat(C) > level) & before).any(axis=1).sum())
        out[kind] = counts
    return out


#: ``_false_alarm_rates(200_000)``: of 200,000 stationary streams, how many made each detector fire.
MEASURED_FALSE_ALARMS = {"streams": 200_000, "window": 28, "window_z4": 1612, "ph": 1, "five_points": 81026,
                         "warning_groups": 0}


def _clopper_pearson_upper(k: int, n: int, level: float = 0.95) -> float:
    """Upper end of the two-sided Clopper-Pearson interval for a rate seen ``k`` times in ``n`` (bisection
    on the binomial cumulative probability, summed in logs)."""
    def cdf(p: float) -> float:
        return sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                            + i * math.log(p) + (n - i) * math.log1p(-p)) for i in range(k + 1))
    lo, hi = k / n, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > (1 - level) / 2 else (lo, mid)
    return hi
