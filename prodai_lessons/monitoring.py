"""Monitoring with real alerting semantics: rolling windows, Prometheus-style rules, SLO burn rates.

The pieces, smallest first:

- :class:`RollingWindow`: the last ``N`` observations, or the last ``T`` seconds, with O(1) append
  and exact percentiles (numpy's default ``"linear"`` method) from a lazily synchronised sorted copy.
- :class:`AlertRule`: a threshold on one metric over a window, with the Prometheus alert lifecycle
  ``inactive -> pending -> firing -> (resolved) inactive``. The rule fires only after its condition has
  held for ``for_``; it resolves when the value is back past ``clear_threshold`` (hysteresis). One
  ``"firing"`` and one ``"resolved"`` notification per episode, never one per evaluation.
- :class:`SLO` and :class:`BurnRateRule`: multiwindow burn-rate alerting on the error rate (Google
  SRE Workbook, ch. 5 "Alerting on SLOs"): page when *both* a long and a short window burn the error
  budget faster than ``burn_rate`` times the sustainable pace.
- :class:`MonitoringPipeline`: ``log_request`` / ``log_batch`` ingest requests; rules are evaluated on
  a cadence (every ``k`` requests, or every ``interval`` of clock time, like Prometheus'
  ``evaluation_interval``); ``metrics()`` returns a frozen :class:`MetricsSnapshot`; ``history`` is the
  bounded list of :class:`Alert` notifications and ``active_alerts`` the rules firing now.
- :class:`NaiveThresholdMonitor`: the original lesson's monitor, kept as the counter-example (it
  appends an alert on every request while a threshold is crossed and recomputes a percentile over a
  copy of the window on every call).

**Clock.** Pass ``timestamp`` (seconds, e.g. from :mod:`prodai_lessons.simulate`) with every request,
or with none: without timestamps the pipeline's clock is the request's sequence number (0, 1, 2, ...),
so durations such as ``for_`` count requests. Timestamps must be non-decreasing: an out-of-order
timestamp raises ``ValueError`` (it is never reordered or dropped silently); equal timestamps are fine.

**Windows** are given as an ``int`` (the last N requests) or a duration string such as ``"30s"``,
``"5m"``, ``"1h"`` (the last T seconds, as a Prometheus range ``[5m]``, which needs timestamps).
"""

from __future__ import annotations

import math
import operator
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np

from prodai_lessons._validation import (
    as_1d_array,
    as_bool_array,
    check_choice,
    check_int,
    check_probability,
    check_real,
    check_str,
)

__all__ = [
    "RollingWindow",
    "METRICS",
    "METRIC_CATEGORY",
    "SEVERITIES",
    "AlertRule",
    "SLO",
    "BurnRateRule",
    "Alert",
    "StateChange",
    "AlertEpisode",
    "alert_episodes",
    "MetricsSnapshot",
    "MonitoringPipeline",
    "NaiveThresholdMonitor",
    "standard_rules",
    "parse_duration",
]

_INF = math.inf
#: Largest accepted latency (about 11.6 days) and cost of one request. Larger values are unit or sentinel
#: bugs, and they would ruin the running sums every window statistic is read from: after a value ``v`` a
#: window sum is off by up to ``eps * v`` (``eps`` = 2.2e-16), so these bounds keep that below 1e-6 ms and
#: 1e-9 USD. (A value near the float maximum would overflow the sums outright.)
MAX_LATENCY_MS = 1e9
MAX_COST_USD = 1e6


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(name: str, value: Any) -> float:
    """A duration in seconds from a Prometheus-style string (``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a duration string such as '5m'; got {value!r}")
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"{name} must be a duration such as '30s', '5m', '1h' or '1d'; got {value!r}")
    seconds = float(m.group(1)) * _UNIT[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{name} must be a positive duration; got {value!r}")
    return seconds


def _window_spec(name: str, window: Any) -> tuple[str, float]:
    """``("count", N)`` for an int window, ``("time", T)`` for a duration string."""
    if isinstance(window, str):
        return ("time", parse_duration(name, window))
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError(f"{name} must be an int (last N requests) or a duration string such as '5m'; "
                        f"got {window!r}")
    return ("count", float(check_int(name, window, minimum=1)))


def _spec_label(spec: tuple[str, float]) -> str:
    kind, v = spec
    if kind == "count":
        return f"last {int(v)} requests"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if v >= size and v % size == 0:
            return f"last {int(v // size)}{unit}"
    return f"last {v:g}s"


def _real(name: str, v: Any) -> float:
    """Fast scalar check: a finite real number (bools rejected), as float."""
    if type(v) is float:
        if v - v == 0.0:  # False for nan and +-inf
            return v
        raise ValueError(f"{name} must be finite; got {v}")
    return check_real(name, v)


def _flag(name: str, v: Any) -> bool:
    """An error flag: bool, numpy bool or the integers 0/1."""
    if type(v) is bool:
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        if v == 0 or v == 1:
            return bool(v)
        raise ValueError(f"{name} must be a boolean or 0/1; got {v}")
    raise TypeError(f"{name} must be a boolean (or the integers 0/1); got {type(v).__name__} {v!r}")


def _lerp_quantile(sorted_values: np.ndarray, q: float) -> float:
    """Percentile ``q`` in [0, 100] of sorted data with numpy's default ("linear", type 7) method.

    ``h = (n - 1) q / 100``; result ``x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])``, computed
    in the same two-sided form as ``numpy.lib._function_base_impl._lerp`` so results agree to the last bits.
    """
    n = sorted_values.shape[0]
    h = (n - 1) * (q / 100.0)
    lo = int(math.floor(h))
    if lo >= n - 1:
        return float(sorted_values[n - 1])
    t = h - lo
    a = float(sorted_values[lo])
    b = float(sorted_values[lo + 1])
    d = b - a
    return b - d * (1.0 - t) if t >= 0.5 else a + d * t


#: Up to this many values in and out, ``_update_sorted`` moves them pairwise in place (see there).
_PAIRWISE_MAX = 12


def _replace_sorted(S: np.ndarray, old: float, new: float) -> None:
    """Replace one copy of ``old`` in the sorted array ``S`` by ``new``, in place: two binary searches and
    a shift by one place of the values between the two positions."""
    i = int(S.searchsorted(old, side="left"))      # a copy of the evicted value
    j = int(S.searchsorted(new, side="left"))      # where the new value goes
    if j <= i:
        S[j + 1:i + 1] = S[j:i]
        S[j] = new
    else:
        S[i:j - 1] = S[i + 1:j]
        S[j - 1] = new


def _update_sorted(S: np.ndarray, evicted: np.ndarray, added: np.ndarray) -> np.ndarray:
    """Sorted multiset ``S`` minus ``evicted`` (all present in ``S``) plus ``added``.

    Steady state of a monitor evaluated every ``k`` requests: ``k`` values out, ``k`` in. For small ``k``
    each evicted value is paired with an added one (both sorted, so a pair has similar ranks): binary
    search finds the two positions and only the values between them shift by one place, in place.
    Otherwise the evicted values are deleted by ``searchsorted`` (equal values remove consecutive
    copies) and the sorted new values inserted: O((e + k) log N) comparisons and O(N) moves.
    """
    if evicted.size == added.size and evicted.size <= _PAIRWISE_MAX:
        if evicted.size > 1:
            evicted, added = np.sort(evicted), np.sort(added)
        for old, new in zip(evicted.tolist(), added.tolist()):
            _replace_sorted(S, old, new)
        return S
    if evicted.size:
        ev = np.sort(evicted)
        pos = np.searchsorted(S, ev, side="left")
        pos += np.arange(ev.size) - np.searchsorted(ev, ev, side="left")
        S = np.delete(S, pos)
    if added.size:
        new = np.sort(added)
        S = np.insert(S, np.searchsorted(S, new, side="left"), new)
    return S


#: Largest temporary matrix (elements) built by ``_full_window_quantiles`` at once (16 MB of float64).
_BLOCK_ELEMENTS = 1 << 21


def _full_window_quantiles(x: np.ndarray, ends: np.ndarray, w: int, q: float) -> np.ndarray:
    """Percentile ``q`` of ``x[e - w:e]`` for every ``e`` in ``ends`` (non-decreasing, all ``>= w``), bit for
    bit as :func:`_lerp_quantile` on each sorted window, for all windows at once.

    Each window needs its order statistics ``k = floor(h)`` and ``k + 1``, ``h = (w - 1) q / 100``.
    Consecutive windows overlap almost entirely, so the ends are grouped into buckets of width ``D + 1``.
    With ``f`` the first end of a group, every window ``[e - w, e)`` of the group contains the *base*
    ``x[f + D - w:f]`` (``w - D`` values) plus ``D`` *extras*: the last ``D - u`` values of the *old
    region* ``x[f - w:f + D - w]`` and the first ``u`` of the *new region* ``x[f:f + D]``, ``u = e - f``.

    *Candidates.* Let ``S`` be the sorted base. The ``k``-th smallest of base and extras is the
    ``(k - lo)``-th smallest of ``S[lo:hi]`` and the extras, ``lo = max(0, k - D)``, ``hi = min(w - D, k + 2)``:
    at most ``D`` extras lie below it, so it is not below ``S[lo]``, and ``S[hi:]`` lies above the
    ``k + 2`` smallest. So per group we only need the order statistics ``lo..hi-1`` of the base (two
    ``np.partition`` calls, O(w)), placed as ``[old region | S[lo:hi] | new region]``: the candidates of
    the window with offset ``u`` are exactly the slice ``[u, u + D + hi - lo)`` of that row, so one
    strided copy and one ``np.partition`` per window give both order statistics.

    *Cost.* With an average stride ``s`` between ends, ``D = sqrt(s w / 2)`` balances the per-group
    O(w) against the per-window O(D): about ``2 sqrt(2 s w)`` values per window instead of ``w`` (a
    sorted copy updated window by window costs a Python-level step per window). Groups are processed in
    blocks of at most ``_BLOCK_ELEMENTS`` matrix elements, with no Python loop over windows.
    """
    P = ends.size
    h = (w - 1) * (q / 100.0)
    k = int(math.floor(h))
    need_next = k < w - 1
    stride = (int(ends[-1]) - int(ends[0])) / (P - 1) if P > 1 else float(w)
    D = int(math.sqrt(stride * w / 2.0)) if 8.0 * stride < w else 0
    groups = (ends - ends[0]) // (D + 1)
    first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])   # first window of each group
    group_of = np.repeat(np.arange(first.size), np.diff(np.r_[first, P]))
    f = ends[first]                                                   # first end of each group
    lo = max(0, k - D)
    hi = min(w - D, k + 2)
    width = D + hi - lo                                               # candidates per window
    view = np.lib.stride_tricks.sliding_window_view
    bases = view(x, w - D)                                            # bases[f + D - w] = x[f + D - w:f]
    regions = view(x, D) if D else None                               # regions[i] = x[i:i + D]
    a = np.empty(P)
    b = np.empty(P) if need_next else a
    per_group = max(1, _BLOCK_ELEMENTS // (w + D))
    per_point = max(1, _BLOCK_ELEMENTS // width)
    p0 = 0
    while p0 < P:
        g0 = int(group_of[p0])
        g1 = min(first.size, g0 + per_group)                          # groups [g0, g1) in this block
        p1 = min(P, p0 + per_point, int(first[g1]) if g1 < first.size else P)
        fg = f[g0:g1]
        S = bases[fg + D - w]                                         # a copy: (groups, w - D)
        if lo > 0:
            S.partition(lo, axis=1)                                   # S[:, lo:] >= order statistic lo
        if hi < w - D:
            S[:, lo:].partition(hi - lo - 1, axis=1)                  # S[:, lo:hi]: order statistics lo..hi-1
        Z = np.empty((g1 - g0, width + D))                            # [old region | S[lo:hi] | new region]
        Z[:, D:width] = S[:, lo:hi]
        if D:
            Z[:, :D] = regions[fg - w]
            inside = fg + D <= x.size
            Z[inside, width:] = regions[fg[inside]]
            for r in np.flatnonzero(~inside):                         # a new region past the data: only its
                tail = x[fg[r]:]                                      # head belongs to any window
                Z[r, width:width + tail.size] = tail
                Z[r, width + tail.size:] = np.inf
        g = group_of[p0:p1]
        C = view(Z, width, axis=1)[g - g0, ends[p0:p1] - f[g]]        # a copy: (windows, width)
        C.partition(k - lo, axis=1)
        a[p0:p1] = C[:, k - lo]
        if need_next:
            b[p0:p1] = C[:, k - lo + 1:].min(axis=1)
        p0 = p1
    if not need_next:
        return a
    t = h - k
    d = b - a
    return b - d * (1.0 - t) if t >= 0.5 else a + d * t


# --------------------------------------------------------------------------------------------------
# RollingWindow
# --------------------------------------------------------------------------------------------------
class RollingWindow:
    """The last ``size`` observations, or (with ``seconds``) those newer than ``now - seconds``.

    **Design.** ``append`` only pushes ``(value, timestamp)`` onto a Python list: O(1), no numpy call.
    The first query flushes the list into a contiguous buffer (``[head, tail)`` of a numpy array that is
    compacted or doubled when full, amortised O(1) per observation) and moves ``head`` past evicted
    observations. Percentiles come from a sorted copy of the window that is *synchronised lazily*: with
    ``k`` observations added and ``e`` evicted since the last query, it deletes the evicted values
    (``searchsorted``) and inserts the new ones (:func:`_update_sorted`), O((k + e) log N) comparisons
    plus O(N) moves; when more than a quarter of the window changed it simply re-sorts. A monitor queries every
    evaluation (every ``k`` requests), so the per-request cost is O(1) + O(N / k) bytes moved,
    against O(N) for recomputing ``np.percentile`` over a copy at every request (the original
    lesson), and every percentile after a sync is O(1).

    Why not two heaps? They give one fixed quantile, not p50/p95/p99 at once, and deleting the
    observation that leaves the window needs lazy deletion bookkeeping; a sorted list (e.g.
    ``sortedcontainers``) needs an extra dependency and O(log N) Python work per append, while this
    does the work in numpy, in batches, only when someone asks.

    Percentiles match ``numpy.percentile(window, q)`` (method ``"linear"``). Timestamps are optional
    for a count window and required for a time window; they must be non-decreasing (``ValueError``
    otherwise). A time window keeps observations with ``t > now - seconds`` where ``now`` is the newest
    timestamp seen or the latest ``advance(now)``.
    """

    def __init__(self, size: int | None = None, *, seconds: float | None = None) -> None:
        if (size is None) == (seconds is None):
            raise ValueError("give exactly one of size (last N observations) or seconds (last T seconds)")
        self._size = None if size is None else check_int("size", size, minimum=1)
        self._seconds = None if seconds is None else check_real("seconds", seconds, minimum=0.0,
                                                               strict_minimum=True)
        cap = 64 if self._size is None else max(64, 2 * self._size)
        self._vals = np.empty(cap)
        self._ts = np.empty(cap)
        self._head = 0
        self._tail = 0
        self._pv: list[float] = []
        self._pt: list[float] = []
        self._last_t = -_INF
        self._now = -_INF
        self._uses_time: bool | None = None
        self._sorted: np.ndarray | None = None
        self._s_head = 0
        self._s_tail = 0
        self._total_count = 0
        self._total_sum = 0.0

    # ---- ingestion ------------------------------------------------------------------------------
    def append(self, value: float, timestamp: float | None = None) -> None:
        """Add one observation (O(1)). ``timestamp`` is required for a time window."""
        v = _real("value", value)
        if timestamp is None:
            if self._seconds is not None:
                raise ValueError("timestamp is required for a time window (seconds=...)")
            if self._uses_time:
                raise ValueError("timestamp is required: earlier observations had timestamps")
            t = float(self._total_count + len(self._pv))
        else:
            t = _real("timestamp", timestamp)
            if self._uses_time is False:
                raise ValueError("timestamp must be None: earlier observations had no timestamps")
            if t < self.now:
                raise ValueError(f"timestamp must be non-decreasing (not earlier than the window's clock); "
                                 f"got {t} after {self.now}")
        # every check passed: only now does the window change (a rejected call leaves it as it was)
        self._uses_time = timestamp is not None
        self._last_t = t
        self._pv.append(v)
        self._pt.append(t)

    def extend(self, values: Any, timestamps: Any = None) -> None:
        """Add many observations at once (vectorised); same rules as :meth:`append`."""
        vals = as_1d_array("values", values, min_size=0)
        if timestamps is None:
            if self._seconds is not None:
                raise ValueError("timestamps are required for a time window (seconds=...)")
            if self._uses_time:
                raise ValueError("timestamps are required: earlier observations had timestamps")
            if vals.size == 0:
                return
            start = self._total_count + len(self._pv)
            ts = np.arange(start, start + vals.size, dtype=np.float64)
        else:
            ts = as_1d_array("timestamps", timestamps, min_size=0)
            if ts.size != vals.size:
                raise ValueError(f"timestamps must have the same length as values ({vals.size}); got {ts.size}")
            if vals.size == 0:
                return
            if self._uses_time is False:
                raise ValueError("timestamps must be None: earlier observations had no timestamps")
            if ts[0] < self.now or (ts.size > 1 and np.any(ts[1:] < ts[:-1])):
                raise ValueError("timestamps must be non-decreasing (and not earlier than the last one seen)")
        # every check passed: only now does the window change
        self._uses_time = timestamps is not None
        self._flush()
        self._write(vals, ts)
        self._last_t = float(ts[-1])

    def advance(self, now: float) -> None:
        """Move a time window's clock to ``now`` (evicts old observations even without new traffic)."""
        now = _real("now", now)
        if now < self.now:
            raise ValueError(f"now must be non-decreasing (not earlier than the last timestamp); "
                             f"got {now} after {self.now}")
        self._now = now

    def _flush(self) -> None:
        if self._pv:
            vals = np.array(self._pv)
            ts = np.array(self._pt)
            self._pv.clear()
            self._pt.clear()
            self._write(vals, ts)

    def _write(self, vals: np.ndarray, ts: np.ndarray) -> None:
        k = vals.size
        self._total_count += k
        self._total_sum += float(vals.sum())
        if self._size is not None and k > self._size:
            # Only the last `size` can survive; the sorted cache must be rebuilt.
            vals, ts = vals[-self._size:], ts[-self._size:]
            self._head = self._tail = 0
            self._sorted = None
            k = vals.size
        if self._tail + k > self._vals.size:
            self._make_room(k)
        self._vals[self._tail:self._tail + k] = vals
        self._ts[self._tail:self._tail + k] = ts
        self._tail += k
        if self._size is not None and self._tail - self._head > self._size:
            self._head = self._tail - self._size
        self._now = max(self._now, float(ts[-1]))

    def _make_room(self, k: int) -> None:
        # Keep evicted-but-unsynced observations so the sorted cache can still remove them.
        keep_from = min(self._head, self._s_head) if self._sorted is not None else self._head
        live = self._tail - keep_from
        cap = self._vals.size
        while live + k > cap // 2 and live + k > cap - (cap // 4):
            cap *= 2
        if cap < live + k:
            cap = 2 * (live + k)
        if cap != self._vals.size:
            vals = np.empty(cap)
            ts = np.empty(cap)
        else:
            vals, ts = self._vals, self._ts
        vals[:live] = self._vals[keep_from:self._tail]
        ts[:live] = self._ts[keep_from:self._tail]
        self._vals, self._ts = vals, ts
        self._head -= keep_from
        self._tail -= keep_from
        if self._sorted is not None:
            self._s_head -= keep_from
            self._s_tail -= keep_from

    def _settle(self) -> None:
        """Flush pending observations and evict what has left the window."""
        self._flush()
        if self._seconds is not None and self._tail > self._head:
            cutoff = self._now - self._seconds
            ts = self._ts
            if ts[self._head] <= cutoff:
                self._head += int(np.searchsorted(ts[self._head:self._tail], cutoff, side="right"))

    def _sync_sorted(self) -> np.ndarray:
        self._settle()
        h, t = self._head, self._tail
        S = self._sorted
        changed = (t - self._s_tail) + (h - self._s_head)
        if (S is None or h > self._s_tail or self._s_head > h or changed > max(16, (t - h) // 4)):
            S = np.sort(self._vals[h:t])
        elif changed:
            S = _update_sorted(S, self._vals[self._s_head:h], self._vals[self._s_tail:t])
        self._sorted = S
        self._s_head, self._s_tail = h, t
        return S

    # ---- queries --------------------------------------------------------------------------------
    def __len__(self) -> int:
        self._settle()
        return self._tail - self._head

    @property
    def total_count(self) -> int:
        """Observations ever appended (including those that left the window)."""
        return self._total_count + len(self._pv)

    @property
    def total_sum(self) -> float:
        """Sum of every observation ever appended."""
        self._flush()
        return self._total_sum

    @property
    def now(self) -> float:
        """Newest timestamp seen (or set by :meth:`advance`); ``-inf`` before any observation."""
        return max(self._now, self._last_t)

    def values(self) -> np.ndarray:
        """A copy of the observations in the window, oldest first."""
        self._settle()
        return self._vals[self._head:self._tail].copy()

    def timestamps(self) -> np.ndarray:
        """A copy of the window's timestamps (sequence numbers when none were given)."""
        self._settle()
        return self._ts[self._head:self._tail].copy()

    def _require(self) -> None:
        if self.__len__() == 0:
            raise ValueError("the window is empty; append observations first")

    def percentile(self, q: float) -> float:
        """Percentile ``q`` in [0, 100] of the window, as ``numpy.percentile`` (method "linear")."""
        q = check_real("q", q, minimum=0.0, maximum=100.0)
        self._require()
        return _lerp_quantile(self._sync_sorted(), q)

    def percentiles(self, qs: Sequence[float]) -> tuple[float, ...]:
        """Several percentiles from one sync of the sorted copy."""
        qv = [check_real("qs", q, minimum=0.0, maximum=100.0) for q in qs]
        self._require()
        S = self._sync_sorted()
        return tuple(_lerp_quantile(S, q) for q in qv)

    def sum(self) -> float:
        """Sum of the window (0.0 when empty)."""
        self._settle()
        return float(self._vals[self._head:self._tail].sum())

    def mean(self) -> float:
        """Mean of the window; ``ValueError`` when empty."""
        self._require()
        return float(self._vals[self._head:self._tail].mean())

    def span(self) -> float:
        """Newest minus oldest timestamp in the window (0.0 for fewer than two observations)."""
        self._settle()
        if self._tail - self._head < 2:
            return 0.0
        return float(self._ts[self._tail - 1] - self._ts[self._head])

    def __repr__(self) -> str:
        what = f"size={self._size}" if self._size is not None else f"seconds={self._seconds:g}"
        return f"RollingWindow({what}, n={len(self)}, total_count={self.total_count})"


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------
#: Metrics a rule can watch, all computed over the rule's window, and the column each one reads.
METRICS: Mapping[str, str] = {
    "latency_p50": "latency",
    "latency_p95": "latency",
    "latency_p99": "latency",
    "latency_mean": "latency",
    "error_rate": "error",
    "mean_confidence": "confidence",
    "cost_per_request": "cost",
    "cost_in_window": "cost",
    "throughput": "latency",
}

#: What each metric is about; incident playbooks are keyed by these categories.
METRIC_CATEGORY: Mapping[str, str] = {
    "latency_p50": "latency",
    "latency_p95": "latency",
    "latency_p99": "latency",
    "latency_mean": "latency",
    "error_rate": "errors",
    "mean_confidence": "quality",
    "cost_per_request": "cost",
    "cost_in_window": "cost",
    "throughput": "traffic",
}

#: Severity names, worst first (the response-time table is in :mod:`prodai_lessons.incidents`).
SEVERITIES: tuple[str, ...] = ("P0", "P1", "P2", "P3")

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _check_for(value: Any) -> float:
    if isinstance(value, str):
        return parse_duration("for_", value)
    return check_real("for_", value, minimum=0.0)


@dataclass(frozen=True)
class AlertRule:
    """``metric op threshold`` over ``window``, firing after it has held for ``for_`` (Prometheus model).

    Lifecycle per evaluation (the same as a Prometheus alerting rule with ``for:``):

    - *inactive* and the condition holds: go *pending* (``for_ == 0``: straight to *firing*);
    - *pending* and it no longer holds: back to *inactive*, no notification;
    - *pending* for at least ``for_`` (clock time since it went pending): *firing*, one ``"firing"``
      notification;
    - *firing*: stays firing while the value is on the bad side of ``clear_threshold`` (default: the
      threshold itself); once ``value op clear_threshold`` is false it resolves, one ``"resolved"``
      notification, and the rule is *inactive* again.

    ``clear_threshold`` gives hysteresis: a p95 alert at ``> 500`` with ``clear_threshold=400`` does
    not flap while p95 hovers around 500. For ``>``/``>=`` it must be <= ``threshold``, for ``<``/``<=``
    >= ``threshold``. ``window`` is an int (last N requests) or a duration such as ``"5m"``; ``None``
    uses the pipeline's window. ``min_count`` observations are needed before the rule looks at its
    value (default: a full count window, or 1 for a time window); with fewer the condition is false.
    The exception is ``throughput`` over a time window: an empty window is a measured 0 requests per
    second (a total outage must keep a ``throughput <`` alert firing), so its default is 0.
    """

    name: str
    metric: str
    op: str
    threshold: float
    for_: float | str = 0.0
    window: int | str | None = None
    severity: str = "P2"
    clear_threshold: float | None = None
    min_count: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        check_str("name", self.name)
        check_str("metric", self.metric)
        check_choice("metric", self.metric, METRICS)
        check_choice("op", self.op, _OPS)
        object.__setattr__(self, "threshold", check_real("threshold", self.threshold))
        object.__setattr__(self, "for_", _check_for(self.for_))
        if self.window is not None:
            _window_spec("window", self.window)
        check_choice("severity", self.severity, SEVERITIES)
        if self.clear_threshold is not None:
            c = check_real("clear_threshold", self.clear_threshold)
            if self.op in (">", ">=") and c > self.threshold:
                raise ValueError(f"clear_threshold must be <= threshold ({self.threshold}) for op {self.op!r}; got {c}")
            if self.op in ("<", "<=") and c < self.threshold:
                raise ValueError(f"clear_threshold must be >= threshold ({self.threshold}) for op {self.op!r}; got {c}")
            object.__setattr__(self, "clear_threshold", c)
        if self.min_count is not None:
            check_int("min_count", self.min_count, minimum=1)
            if isinstance(self.window, int) and self.min_count > self.window:
                raise ValueError(f"min_count must be <= the window of {self.window} requests (it could never be "
                                 f"reached); got {self.min_count}")
        if not isinstance(self.description, str):
            raise TypeError(f"description must be a str; got {self.description!r}")

    @property
    def category(self) -> str:
        return METRIC_CATEGORY[self.metric]

    def _needs(self, default_spec: tuple[str, float]) -> list[tuple[str, tuple[str, float]]]:
        spec = default_spec if self.window is None else _window_spec("window", self.window)
        return [(self.metric, spec)]

    def _min_count(self, spec: tuple[str, float]) -> int:
        if self.min_count is not None:
            return self.min_count
        if spec[0] == "time" and self.metric == "throughput":
            return 0  # an empty time window is a measurement: 0 requests per second (an outage)
        return int(spec[1]) if spec[0] == "count" else 1

    def describe(self) -> str:
        clear = "" if self.clear_threshold is None else f", clears at {self.clear_threshold:g}"
        return f"{self.metric} {self.op} {self.threshold:g} for {self.for_:g}{clear}"


@dataclass(frozen=True)
class SLO:
    """A service-level objective on the fraction of good requests: ``target`` (e.g. 0.96 = 96 %).

    Error budget ``= 1 - target``: the fraction of requests allowed to fail. The *burn rate* of an
    observed error rate is ``error_rate / (1 - target)``: 1.0 spends the budget exactly over the
    compliance period, 3.0 spends it three times too fast. ``budget_remaining(n, e)`` is the fraction of
    the budget left after ``e`` errors in ``n`` requests, ``1 - e / ((1 - target) n)`` (negative once
    overspent), as in the SRE Workbook, ch. 2.
    """

    target: float
    name: str = "availability"

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", check_probability("target", self.target))
        check_str("name", self.name)

    @property
    def error_budget(self) -> float:
        return 1.0 - self.target

    def burn_rate(self, error_rate: float) -> float:
        """``error_rate / (1 - target)``."""
        e = check_real("error_rate", error_rate, minimum=0.0, maximum=1.0)
        return e / self.error_budget

    def budget_remaining(self, n_requests: int, n_errors: int) -> float:
        """Fraction of the error budget left: ``1 - n_errors / ((1 - target) * n_requests)``."""
        n = check_int("n_requests", n_requests, minimum=1)
        e = check_int("n_errors", n_errors, minimum=0, maximum=n)
        return 1.0 - e / (self.error_budget * n)


@dataclass(frozen=True)
class BurnRateRule:
    """Multiwindow burn-rate alert on the error rate (Google SRE Workbook, ch. 5, alert #5/#6).

    Fires when ``burn(long_window) > burn_rate`` **and** ``burn(short_window) > burn_rate``, with
    ``burn(w) = error_rate(w) / (1 - slo.target)``. The long window makes a few scattered errors
    insufficient (no page for single errors); the short window confirms the problem is still happening,
    so a rule does not fire on an incident that ended minutes ago.

    Resolution: the Workbook lets the short window reset the alert. With request counts as small as
    a lesson's, a 10-request window flickers during a 15 % error incident (two errors or not), so by
    default the rule resolves when the *long* window's burn falls to ``clear_burn_rate`` or below
    (hysteresis, default 1.0: the budget is no longer being overspent). ``for_`` as in
    :class:`AlertRule` (the Workbook uses none). Windows: int (requests) or a duration (``"1h"``).
    """

    name: str
    slo: SLO
    burn_rate: float
    long_window: int | str
    short_window: int | str
    severity: str = "P1"
    clear_burn_rate: float | None = 1.0
    for_: float | str = 0.0
    description: str = ""

    metric = "error_rate"

    def __post_init__(self) -> None:
        check_str("name", self.name)
        if not isinstance(self.slo, SLO):
            raise TypeError(f"slo must be an SLO; got {self.slo!r}")
        object.__setattr__(self, "burn_rate", check_real("burn_rate", self.burn_rate, minimum=0.0,
                                                         strict_minimum=True))
        ls = _window_spec("long_window", self.long_window)
        ss = _window_spec("short_window", self.short_window)
        if ls[0] != ss[0]:
            raise ValueError("long_window and short_window must both be request counts or both durations")
        if ss[1] > ls[1]:
            raise ValueError(f"short_window must not be longer than long_window; got {self.short_window!r} "
                             f"> {self.long_window!r}")
        check_choice("severity", self.severity, SEVERITIES)
        if self.clear_burn_rate is not None:
            c = check_real("clear_burn_rate", self.clear_burn_rate, minimum=0.0)
            if c > self.burn_rate:
                raise ValueError(f"clear_burn_rate must be <= burn_rate ({self.burn_rate}); got {c}")
            object.__setattr__(self, "clear_burn_rate", c)
        object.__setattr__(self, "for_", _check_for(self.for_))

    @property
    def threshold(self) -> float:
        """The error rate that corresponds to ``burn_rate``: ``burn_rate * (1 - slo.target)``."""
        return self.burn_rate * self.slo.error_budget

    @property
    def category(self) -> str:
        return "errors"

    def _needs(self, default_spec):
        return [("error_rate", _window_spec("long_window", self.long_window)),
                ("error_rate", _window_spec("short_window", self.short_window))]

    def describe(self) -> str:
        return (f"burn > {self.burn_rate:g}x ({self.threshold:.1%} errors) over {self.long_window} "
                f"and {self.short_window} (SLO {self.slo.target:.1%})")


# --------------------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alert:
    """One notification: a rule started ``"firing"`` or was ``"resolved"``.

    ``at`` is the pipeline clock (seconds, or request number without timestamps); ``n_requests`` the
    number of requests logged when the rule was evaluated; ``value`` what the rule saw (for a burn-rate
    rule: the long window's burn rate).

    The fields are checked on construction (``TypeError``/``ValueError`` naming the field), with the
    same rules :meth:`prodai_lessons.incidents.IncidentManager.on_alert` applies: ``status`` is
    ``"firing"`` or ``"resolved"``; ``severity`` one of :data:`SEVERITIES`; ``rule`` and ``category``
    non-empty strings; ``metric`` one of :data:`METRICS`; ``message`` a string; ``at`` and ``threshold``
    finite; ``n_requests`` an integer >= 0; ``value`` finite, or NaN in a ``"resolved"`` notification
    only (a rule whose time window has drained resolves with nothing left to measure). Numbers are
    stored as ``float`` / ``int``.
    """

    rule: str
    status: str
    at: float
    n_requests: int
    value: float
    threshold: float
    severity: str
    metric: str
    category: str
    message: str

    def __post_init__(self) -> None:
        check_str("rule", self.rule)
        check_choice("status", self.status, _STATUSES)
        object.__setattr__(self, "at", check_real("at", self.at))
        object.__setattr__(self, "n_requests", check_int("n_requests", self.n_requests, minimum=0))
        object.__setattr__(self, "value", check_real("value", self.value, allow_inf=True)
                           if not _is_nan(self.value) else math.nan)
        if math.isinf(self.value):
            raise ValueError(f"value must be finite or NaN; got {self.value}")
        if math.isnan(self.value) and self.status == "firing":
            raise ValueError("value must not be NaN in a firing alert (a rule fires on a measured value)")
        object.__setattr__(self, "threshold", check_real("threshold", self.threshold))
        check_choice("severity", self.severity, SEVERITIES)
        check_choice("metric", self.metric, METRICS)
        check_str("category", self.category)
        check_str("message", self.message, allow_empty=True)


#: The two notifications an alert rule sends per episode.
_STATUSES: tuple[str, ...] = ("firing", "resolved")


def _is_nan(v: Any) -> bool:
    """True for a real NaN (float or numpy floating); False for anything else, which is checked as usual."""
    return isinstance(v, (float, np.floating)) and v != v


@dataclass(frozen=True)
class StateChange:
    """A rule moved from one state to another (``inactive``, ``pending``, ``firing``)."""

    rule: str
    at: float
    n_requests: int
    old: str
    new: str
    value: float


@dataclass(frozen=True)
class AlertEpisode:
    """A firing episode reconstructed from notifications: ``[start, end)``; ``end`` None while firing."""

    rule: str
    severity: str
    start: float
    end: float | None
    start_n: int
    end_n: int | None


def alert_episodes(history: Iterable[Alert]) -> tuple[AlertEpisode, ...]:
    """Pair each ``"firing"`` with the next ``"resolved"`` of the same rule (ordered by start time).

    Use it to shade alert bands: ``for ep in alert_episodes(p.history): ax.axvspan(ep.start, ep.end or
    t_max)``. Raises ``ValueError`` if a rule has two firings without a resolution in between.
    """
    open_: dict[str, Alert] = {}
    out: list[AlertEpisode] = []
    for a in history:
        if not isinstance(a, Alert):
            raise TypeError(f"history must contain Alert notifications; got {a!r}")
        if a.status == "firing":
            if a.rule in open_:
                raise ValueError(f"rule {a.rule!r} fired twice without resolving")
            open_[a.rule] = a
        elif a.status == "resolved":
            f = open_.pop(a.rule, None)
            if f is not None:
                out.append(AlertEpisode(a.rule, f.severity, f.at, a.at, f.n_requests, a.n_requests))
    for f in open_.values():
        out.append(AlertEpisode(f.rule, f.severity, f.at, None, f.n_requests, None))
    return tuple(sorted(out, key=lambda e: (e.start, e.rule)))


# --------------------------------------------------------------------------------------------------
# Snapshot
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricsSnapshot:
    """What the pipeline sees now. ``*_window`` / window fields cover ``window``; ``*_total`` fields
    cover everything since the pipeline started. Fields are ``None`` when there is nothing to measure
    (no requests yet; throughput without timestamps; budget without an SLO)."""

    at: float | None
    window: str
    n_in_window: int
    n_requests_total: int
    n_errors_total: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    error_rate: float | None
    throughput_per_s: float | None
    mean_confidence: float | None
    cost_per_request_usd: float | None
    cost_in_window_usd: float
    cost_total_usd: float
    error_rate_total: float | None
    error_budget_remaining: float | None
    active_alerts: tuple[str, ...]

    def _rows(self):
        def f(v, fmt):
            return "-" if v is None else format(v, fmt)
        return [
            ("window", self.window),
            ("requests in window / total", f"{self.n_in_window} / {self.n_requests_total}"),
            ("latency p50 / p95 / p99 (ms)",
             f"{f(self.latency_p50_ms, '.0f')} / {f(self.latency_p95_ms, '.0f')} / {f(self.latency_p99_ms, '.0f')}"),
            ("error rate (window)", f(self.error_rate, ".1%")),
            ("error rate (since start)", f(self.error_rate_total, ".1%")),
            ("throughput (req/s, window)", f(self.throughput_per_s, ".2f")),
            ("mean confidence (window)", f(self.mean_confidence, ".3f")),
            ("cost per request (USD, window)", f(self.cost_per_request_usd, ".5f")),
            ("cost in window (USD)", f"{self.cost_in_window_usd:.4f}"),
            ("cost since start (USD)", f"{self.cost_total_usd:.4f}"),
            ("error budget remaining", f(self.error_budget_remaining, ".1%")),
            ("firing alerts", ", ".join(self.active_alerts) or "none"),
        ]

    def _repr_html_(self) -> str:
        import html

        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self._rows())
        return f"<table><caption>MetricsSnapshot</caption>{body}</table>"

    def to_text(self) -> str:
        """The snapshot as aligned text lines (for printing)."""
        rows = self._rows()
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


# --------------------------------------------------------------------------------------------------
# Pipeline
# --------------------------------------------------------------------------------------------------
#: Metrics that are a sum over the window, and the running-sum column (of :class:`_Store`) each reads.
_SUM_COLUMN = {"latency_mean": "c_lat", "error_rate": "c_err", "mean_confidence": "c_conf",
               "cost_per_request": "c_cost", "cost_in_window": "c_cost"}
_QUANTILE = {"latency_p50": 50.0, "latency_p95": 95.0, "latency_p99": 99.0}


#: Up to this many values are handled with Python lists rather than numpy calls (whose fixed cost dominates).
_FEW_VALUES = 48


class _RuleState:
    __slots__ = ("state", "since", "firing")

    def __init__(self) -> None:
        self.state = "inactive"
        self.since = 0.0
        self.firing: Alert | None = None  # the notification of the episode in progress


#: A window's sorted copy is re-sorted (O(N log N), ~4 ns a value) rather than updated when more than one
#: value in ``_RESORT_RATIO`` changed: an update costs ~1 us per changed value plus a pass over N.
_RESORT_RATIO = 256


class _SortedCache:
    """Sorted latencies of rows ``[start, end)`` (global row numbers), updated incrementally."""

    __slots__ = ("S", "start", "end")

    def __init__(self) -> None:
        self.S: np.ndarray | None = None
        self.start = 0
        self.end = 0


class _ThresholdCount:
    """How many latencies of global rows ``[start, end)`` are ``<= threshold`` (``< threshold`` if
    ``strict``). Moving to a later window adds the rows that entered and subtracts those that left:
    O(k) for ``k`` changed rows; a window that jumped, or whose old rows were dropped, is recounted."""

    __slots__ = ("threshold", "strict", "start", "end", "count")

    def __init__(self, threshold: float, strict: bool) -> None:
        self.threshold = threshold
        self.strict = strict
        self.start = self.end = 0
        self.count: int | None = None

    def _in(self, values: np.ndarray) -> int:
        if values.size <= _FEW_VALUES:  # a few values: Python beats numpy's call overhead
            t = self.threshold
            return sum(1 for v in values.tolist() if v < t) if self.strict else \
                sum(1 for v in values.tolist() if v <= t)
        return int(np.count_nonzero(values < self.threshold if self.strict else values <= self.threshold))

    def at(self, st: _Store, start: int, end: int) -> int:
        lat, base = st.lat, st.base
        if self.count is None or self.start < base or not self.start <= start <= self.end <= end:
            self.count = self._in(lat[start - base:end - base])
        elif start == self.start + 1 and end == self.end + 1:  # one request out, one in
            t = self.threshold
            new, old = lat.item(self.end - base), lat.item(self.start - base)
            self.count += ((new < t) - (old < t)) if self.strict else ((new <= t) - (old <= t))
        elif (start - self.start) + (end - self.end) <= (end - start) // 4:
            self.count += (self._in(lat[self.end - base:end - base])
                           - self._in(lat[self.start - base:start - base]))
        else:
            self.count = self._in(lat[start - base:end - base])
        self.start, self.end = start, end
        return self.count


class _Store:
    """Columnar request log: global rows ``[base, base + rows)``, one float64 array per column.

    Columns ``t`` (clock), ``lat``, ``err`` (0/1), ``conf``, ``cost``, and running sums ``c_lat``, ``c_err``,
    ``c_conf``, ``c_cost``: ``c_x[j]`` is the sum of ``x`` over every request before local row ``j``,
    accumulated one request at a time from the first request (a batch continues the same sequential
    sum with ``np.cumsum``), so a window's sum is one subtraction and does not depend on how the rows
    arrived. When the arrays are full, rows that no window needs any more are dropped and the arrays
    are compacted or doubled: amortised O(1) per row. The running sums are not rebased.
    """

    COLUMNS = ("t", "lat", "err", "conf", "cost")
    SUMS = ("c_lat", "c_err", "c_conf", "c_cost")
    __slots__ = COLUMNS + SUMS + ("base", "rows", "cap")

    def __init__(self, cap: int = 1024) -> None:
        self.cap = cap
        for name in self.COLUMNS:
            setattr(self, name, np.empty(cap))
        for name in self.SUMS:
            setattr(self, name, np.zeros(cap + 1))
        self.base = 0
        self.rows = 0

    @property
    def end(self) -> int:
        return self.base + self.rows

    def reserve(self, k: int, keep_from: int) -> None:
        """Room for ``k`` more rows; rows before global ``keep_from`` may be dropped to make it."""
        keep_from = min(max(keep_from, self.base), self.end)
        drop = keep_from - self.base
        live = self.rows - drop
        cap = self.cap
        while live + k > cap * 3 // 4:
            cap *= 2
        for names, extra in ((self.COLUMNS, 0), (self.SUMS, 1)):
            for name in names:
                old = getattr(self, name)
                new = np.empty(cap + extra) if cap != self.cap else old
                new[:live + extra] = old[drop:self.rows + extra]   # numpy handles the overlap in place
                setattr(self, name, new)
        self.cap = cap
        self.base += drop
        self.rows = live

    def append_row(self, t: float, lat: float, err: float, conf: float, cost: float) -> None:
        """One row (room must be reserved): nine scalar writes, the running sums advanced by one."""
        r = self.rows
        self.t[r] = t
        self.lat[r] = lat
        self.err[r] = err
        self.conf[r] = conf
        self.cost[r] = cost
        for c, v in ((self.c_lat, lat), (self.c_err, err), (self.c_conf, conf), (self.c_cost, cost)):
            c[r + 1] = c[r] + v
        self.rows = r + 1

    def append_rows(self, rows: list[tuple[float, float, float, float, float]]) -> None:
        """A few ``(t, lat, err, conf, cost)`` rows (room must be reserved): Python running sums, the
        same sequential additions as ``np.cumsum``, with less overhead than numpy for short lists."""
        r = self.rows
        k = len(rows)
        t, lat, err, conf, cost = zip(*rows)
        self.t[r:r + k] = t
        self.lat[r:r + k] = lat
        self.err[r:r + k] = err
        self.conf[r:r + k] = conf
        self.cost[r:r + k] = cost
        for c, v in ((self.c_lat, lat), (self.c_err, err), (self.c_conf, conf), (self.c_cost, cost)):
            c[r:r + k + 1] = list(accumulate(v, initial=c.item(r)))
        self.rows = r + k

    def append_block(self, t, lat, err, conf, cost) -> None:
        """Rows from equal-length columns (room must be reserved); running sums by an in-place cumsum."""
        r = self.rows
        k = len(t)
        self.t[r:r + k] = t
        self.lat[r:r + k] = lat
        self.err[r:r + k] = err
        self.conf[r:r + k] = conf
        self.cost[r:r + k] = cost
        for c, v in ((self.c_lat, lat), (self.c_err, err), (self.c_conf, conf), (self.c_cost, cost)):
            seg = c[r:r + k + 1]
            seg[1:] = v
            np.add.accumulate(seg, out=seg)    # continues the sequential sum from c[r]: the same bits
        self.rows = r + k


class MonitoringPipeline:
    """Ingest requests, evaluate alert rules on a cadence, keep notifications and a metrics snapshot.

    Parameters
    ----------
    rules: :class:`AlertRule` / :class:`BurnRateRule` objects (names must be unique).
    window: the window of :meth:`metrics` and of rules without their own (int requests or ``"5m"``).
    evaluate_every: evaluate the rules after every ``k`` requests (default 1), or
    evaluate_interval: every ``interval`` of clock time (seconds with timestamps) at the ticks
        ``interval, 2 interval, ...`` like Prometheus' ``evaluation_interval``. A tick is evaluated
        over the requests *before* it, when the first request at or after it arrives (or at
        :meth:`evaluate`); quiet ticks are evaluated too, so time windows drain.
    slo: optional :class:`SLO`; the snapshot then reports the error budget remaining since start.
    max_history: bound on the kept notifications and state changes (oldest dropped first).
    keep_trace: also record, per evaluation, every rule's value and state (for plots).

    **Data structures and cost** (``N`` the window, ``k`` requests between evaluations). Requests go
    into a columnar store (:class:`_Store`) with a running sum per column, so every mean, rate or sum
    over a window is one subtraction: O(1) per rule and evaluation. ``log_request`` validates five
    scalars and appends a tuple; at an evaluation the pending rows are written to the store, and each
    distinct (metric, window) the rules need is computed once.

    Percentiles: a rule compares a percentile with a threshold, and the comparison follows from the
    number of window values at or below the threshold (see :meth:`_percentile_above`), kept up to
    date in O(k) per evaluation (:class:`_ThresholdCount`). The exact value is computed only when it is
    observable (``keep_trace``, a notification or state change) or when the count cannot decide
    (the threshold lies between the two order statistics being interpolated), from a sorted copy of
    the window updated incrementally (:func:`_update_sorted`: O(k log N) comparisons, in place for
    small ``k``) or re-sorted when much changed. In ``log_batch`` all evaluation points are computed
    at once, vectorised: running sums give every window mean together, and full count windows get
    their percentiles from :func:`_full_window_quantiles` (O(sqrt(k N)) values per window instead of
    O(N)). Every path gives the same values, bit for bit, so ``log_batch`` is exactly equivalent to
    calling ``log_request`` for each row: the same notifications and the same values (tested).
    """

    def __init__(
        self,
        rules: Sequence[AlertRule | BurnRateRule] = (),
        *,
        window: int | str = 200,
        evaluate_every: int | None = None,
        evaluate_interval: float | str | None = None,
        slo: SLO | None = None,
        max_history: int = 1000,
        keep_trace: bool = False,
    ) -> None:
        if isinstance(rules, (AlertRule, BurnRateRule, str)) or not isinstance(rules, Sequence):
            raise TypeError(f"rules must be a sequence of AlertRule/BurnRateRule; got {rules!r}")
        names = set()
        for i, r in enumerate(rules):
            if not isinstance(r, (AlertRule, BurnRateRule)):
                raise TypeError(f"rules[{i}] must be an AlertRule or BurnRateRule; got {r!r}")
            if r.name in names:
                raise ValueError(f"rules must have unique names; {r.name!r} appears twice")
            names.add(r.name)
        self.rules: tuple[AlertRule | BurnRateRule, ...] = tuple(rules)
        self._spec = _window_spec("window", window)
        if evaluate_every is not None and evaluate_interval is not None:
            raise ValueError("give at most one of evaluate_every (requests) and evaluate_interval (clock time)")
        if evaluate_interval is not None:
            self._interval: float | None = (
                parse_duration("evaluate_interval", evaluate_interval) if isinstance(evaluate_interval, str)
                else check_real("evaluate_interval", evaluate_interval, minimum=0.0, strict_minimum=True))
            self._every: int | None = None
        else:
            self._interval = None
            self._every = 1 if evaluate_every is None else check_int("evaluate_every", evaluate_every, minimum=1)
        if slo is not None and not isinstance(slo, SLO):
            raise TypeError(f"slo must be an SLO or None; got {slo!r}")
        self.slo = slo
        max_history = check_int("max_history", max_history, minimum=1)
        if not isinstance(keep_trace, bool):
            raise TypeError(f"keep_trace must be a bool; got {keep_trace!r}")
        self.keep_trace = keep_trace

        # Each distinct (metric, window spec) is computed once per evaluation; a rule reads it by index.
        self._stats: list[tuple[str, tuple[str, float]]] = []
        index: dict[tuple[str, tuple[str, float]], int] = {}
        self._plans: list[tuple] = []
        for rule in self.rules:
            needs = rule._needs(self._spec)
            for key in needs:
                if key not in index:
                    index[key] = len(self._stats)
                    self._stats.append(key)
            if isinstance(rule, BurnRateRule):
                (_, s1), (_, s2) = needs
                self._plans.append((True, index[needs[0]], index[needs[1]],
                                    int(s1[1]) if s1[0] == "count" else 1,
                                    int(s2[1]) if s2[0] == "count" else 1,
                                    rule.slo.error_budget, rule.burn_rate, rule.clear_burn_rate))
            else:
                (_, spec), = needs
                if spec[0] == "count" and rule._min_count(spec) > spec[1]:
                    raise ValueError(f"rules[{rule.name!r}].min_count must be <= the pipeline's window of "
                                     f"{int(spec[1])} requests (it could never be reached); got {rule.min_count}")
                clear_at = rule.threshold if rule.clear_threshold is None else rule.clear_threshold
                counters = None
                if rule.metric in _QUANTILE and not keep_trace:
                    # ">" and "<=" compare with the count of values <= threshold, ">=" and "<" with < threshold
                    strict = rule.op in (">=", "<")
                    counters = (_ThresholdCount(rule.threshold, strict), _ThresholdCount(clear_at, strict),
                                rule.op in (">", ">="))
                self._plans.append((False, index[needs[0]], rule._min_count(spec), _OPS[rule.op],
                                    rule.threshold, clear_at, counters))
        # The one-point path reads a precompiled plan: the distinct windows, (is_count, size) each, and per
        # statistic (window index, kind, argument); kinds: 0 mean, 1 error rate, 2 sum over the window,
        # 3 throughput over a count window, 4 over a time window, 5 percentile.
        windows = list(dict.fromkeys(spec for _, spec in self._stats))
        self._window_plan = [(kind == "count", int(size) if kind == "count" else size) for kind, size in windows]
        self._stat_plan: list[tuple[int, int, Any]] = []
        self._window_caches: list[_SortedCache | None] = [None] * len(windows)
        for metric, spec in self._stats:
            wi = windows.index(spec)
            if metric in _SUM_COLUMN:
                self._stat_plan.append((wi, {"error_rate": 1, "cost_in_window": 2}.get(metric, 0),
                                        _SUM_COLUMN[metric]))
            elif metric == "throughput":
                self._stat_plan.append((wi, 3 if spec[0] == "count" else 4, spec[1]))
            else:
                self._stat_plan.append((wi, 5, _QUANTILE[metric]))
        # Without a trace, percentiles (read only by rules with counters) are computed when needed.
        self._lazy = [kind == 5 and not keep_trace for _, kind, _ in self._stat_plan]
        specs = {self._spec} | set(windows)
        self._max_count = max((int(v) for k, v in specs if k == "count"), default=0)
        self._max_seconds = max((v for k, v in specs if k == "time"), default=0.0)
        self._uses_time_windows = self._max_seconds > 0
        self._caches: dict[tuple[str, float], _SortedCache] = {}
        for wi, kind, _ in self._stat_plan:
            if kind == 5:
                self._window_caches[wi] = self._caches.setdefault(windows[wi], _SortedCache())

        self._store = _Store()
        self._states = {r.name: _RuleState() for r in self.rules}
        self._state_list = [self._states[r.name] for r in self.rules]
        self._history: deque[Alert] = deque(maxlen=max_history)
        self._changes: deque[StateChange] = deque(maxlen=max_history)
        self._trace: list[tuple[float, int, tuple[float, ...], tuple[str, ...]]] = []
        self._pending: list[tuple[float, float, float, float, float]] = []
        self._n = 0
        self._n_errors = 0
        self._last_t = -_INF
        self._uses_time: bool | None = None
        self._next_n = self._every
        self._next_t = self._interval
        self._n_evaluations = 0

    # ---- ingestion ------------------------------------------------------------------------------
    def _check_clock_mode(self, has_timestamp: bool) -> None:
        """Raise unless a request with (or without) a timestamp fits the clock mode. Changes nothing: the
        caller adopts the mode (``self._uses_time``) only once every other check has passed too."""
        if self._uses_time is None:
            if not has_timestamp and (self._uses_time_windows or self._interval is not None):
                raise ValueError("timestamp is required: a window or evaluate_interval is a duration")
        elif self._uses_time != has_timestamp:
            raise ValueError("timestamp must be given for every request or for none "
                             f"(earlier requests {'had' if self._uses_time else 'had no'} timestamps)")

    def log_request(self, latency_ms: float, error: bool, confidence: float, cost_usd: float,
                    timestamp: float | None = None) -> None:
        """Log one request; evaluates the rules when the cadence is due.

        ``latency_ms`` in [0, :data:`MAX_LATENCY_MS`], ``error`` a bool (or 0/1), ``confidence`` in [0, 1],
        ``cost_usd`` in [0, :data:`MAX_COST_USD`]; ``timestamp`` (seconds) non-decreasing, or omitted for every request. Every argument is
        checked before anything changes: a rejected request leaves the pipeline (clock mode included)
        exactly as it was.
        """
        lat = _real("latency_ms", latency_ms)
        if not 0.0 <= lat <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be in [0, {MAX_LATENCY_MS:g}] (milliseconds); got {lat}")
        err = _flag("error", error)
        conf = _real("confidence", confidence)
        if not 0.0 <= conf <= 1.0:
            raise ValueError(f"confidence must be in [0, 1]; got {conf}")
        cost = _real("cost_usd", cost_usd)
        if not 0.0 <= cost <= MAX_COST_USD:
            raise ValueError(f"cost_usd must be in [0, {MAX_COST_USD:g}]; got {cost}")
        if timestamp is None:
            if self._uses_time is not False:
                self._check_clock_mode(False)
            t = float(self._n)
        else:
            t = _real("timestamp", timestamp)
            if self._uses_time is not True:
                self._check_clock_mode(True)
            if t < self._last_t:
                raise ValueError(f"timestamp must be non-decreasing; got {t} after {self._last_t} "
                                 "(out-of-order requests are rejected, not reordered)")
        # every check passed: from here on the request is logged
        if self._uses_time is None:
            self._uses_time = timestamp is not None
        if self._interval is not None and t >= self._next_t:  # (interval mode always has timestamps)
            self._flush()
            self._tick_until(t)
        self._last_t = t
        self._pending.append((t, lat, 1.0 if err else 0.0, conf, cost))
        self._n += 1
        if err:
            self._n_errors += 1
        if self._every is not None and self._n >= self._next_n:
            self._flush()
            self._evaluate_one(self._n, t)
            self._next_n += self._every

    def _tick_until(self, t: float) -> None:
        """Evaluate every tick <= t over the rows already stored (interval mode)."""
        k = int(math.floor((t - self._next_t) / self._interval)) + 1
        ticks = self._next_t + self._interval * np.arange(k, dtype=np.float64)
        self._evaluate_points(np.full(k, self._store.end), ticks)
        self._next_t = float(ticks[-1]) + self._interval

    def log_batch(self, latency_ms: Any, error: Any, confidence: Any, cost_usd: Any,
                  timestamp: Any = None) -> None:
        """Log many requests at once (arrays of equal length): the same result as calling
        :meth:`log_request` for each row in order, evaluations at the same points, but vectorised.

        The whole batch is checked before anything changes: a rejected batch logs nothing and leaves the
        pipeline (clock mode included) exactly as it was."""
        lat = as_1d_array("latency_ms", latency_ms, min_size=0, nonnegative=True)
        n = lat.size
        err = as_bool_array("error", error, min_size=0)
        conf = as_1d_array("confidence", confidence, min_size=0)
        cost = as_1d_array("cost_usd", cost_usd, min_size=0, nonnegative=True)
        for name, arr in (("error", err), ("confidence", conf), ("cost_usd", cost)):
            if arr.size != n:
                raise ValueError(f"{name} must have the same length as latency_ms ({n}); got {arr.size}")
        for name, arr, top in (("latency_ms", lat, MAX_LATENCY_MS), ("cost_usd", cost, MAX_COST_USD)):
            if n and arr.max() > top:
                i = int(np.argmax(arr > top))
                raise ValueError(f"{name} must be <= {top:g}; got {arr[i]} at index {i}")
        if n and ((conf < 0).any() or (conf > 1).any()):
            i = int(np.flatnonzero((conf < 0) | (conf > 1))[0])
            raise ValueError(f"confidence must be in [0, 1]; got {conf[i]} at index {i}")
        if timestamp is None:
            if n == 0:
                return
            self._check_clock_mode(False)
            ts = np.arange(self._n, self._n + n, dtype=np.float64)
        else:
            ts = as_1d_array("timestamp", timestamp, min_size=0)
            if ts.size != n:
                raise ValueError(f"timestamp must have the same length as latency_ms ({n}); got {ts.size}")
            if n == 0:
                return
            self._check_clock_mode(True)
            if ts[0] < self._last_t:
                raise ValueError(f"timestamp must be non-decreasing; got {ts[0]} at index 0 after {self._last_t}")
            if n > 1:
                bad = np.flatnonzero(ts[1:] < ts[:-1])
                if bad.size:
                    i = int(bad[0]) + 1
                    raise ValueError(f"timestamp must be non-decreasing; got {ts[i]} at index {i} after "
                                     f"{ts[i - 1]} (out-of-order requests are rejected, not reordered)")
        # every check passed: only now does the pipeline change
        self._uses_time = timestamp is not None
        self._flush()
        start_row = self._store.end
        if self._every is not None:
            # evaluation after the request that brings the count to next_n, next_n + every, ...
            first = self._next_n - self._n  # 1-based position in this batch
            pos = np.arange(first, n + 1, self._every, dtype=np.int64)
            ends = start_row + pos
            nows = ts[pos - 1] if pos.size else ts[:0]
            self._ingest(ts, lat, err, conf, cost)
            if pos.size:
                self._evaluate_points(ends, nows)
                self._next_n += self._every * pos.size
        else:
            last = float(ts[-1])
            self._ingest(ts, lat, err, conf, cost)
            if last >= self._next_t:
                k = int(math.floor((last - self._next_t) / self._interval)) + 1
                ticks = self._next_t + self._interval * np.arange(k, dtype=np.float64)
                ends = start_row + np.searchsorted(ts, ticks, side="left")
                self._evaluate_points(ends, ticks)
                self._next_t = float(ticks[-1]) + self._interval

    def log_requests(self, requests: Any) -> None:
        """Log a :class:`prodai_lessons.simulate.Requests` batch (with its timestamps)."""
        self.log_batch(requests.latency_ms, requests.error, requests.confidence, requests.cost_usd,
                       timestamp=requests.timestamp)

    def _keep_from(self) -> int:
        """First global row any window may still need at the next evaluation."""
        st = self._store
        keep = st.end - self._max_count
        if self._max_seconds > 0 and st.rows:
            ts = st.t[:st.rows]
            keep = min(keep, st.base + int(np.searchsorted(ts, ts[-1] - self._max_seconds, side="right")))
        for c in self._caches.values():
            if c.S is not None:
                if c.start < keep - 4 * max(self._max_count, 1024):
                    c.S = None  # a stale cache is rebuilt rather than pinning old rows
                else:
                    keep = min(keep, c.start)
        return keep

    def _ingest(self, ts, lat, err, conf, cost) -> None:
        st = self._store
        if st.rows + ts.size > st.cap:
            st.reserve(ts.size, self._keep_from())
        st.append_block(ts, lat, err, conf, cost)
        self._n += ts.size
        self._n_errors += int(np.count_nonzero(err))
        self._last_t = float(ts[-1])

    def _flush(self) -> None:
        """Write the requests logged one by one since the last evaluation into the store."""
        pending = self._pending
        if not pending:
            return
        st = self._store
        if st.rows + len(pending) > st.cap:
            st.reserve(len(pending), self._keep_from())
        if len(pending) == 1:
            st.append_row(*pending[0])
        elif len(pending) <= _FEW_VALUES:
            st.append_rows(pending)
        else:
            block = np.array(pending, dtype=np.float64)
            st.append_block(block[:, 0], block[:, 1], block[:, 2], block[:, 3], block[:, 4])
        pending.clear()

    # ---- window statistics -----------------------------------------------------------------------
    def _start(self, spec: tuple[str, float], end: int, now: float) -> int:
        """First global row of the window ``spec`` that ends at global row ``end`` (exclusive) at ``now``."""
        st = self._store
        if spec[0] == "count":
            return max(end - int(spec[1]), st.base)
        return min(st.base + int(st.t[:st.rows].searchsorted(now - spec[1], side="right")), end)

    def _stat_one(self, metric: str, spec: tuple[str, float], start: int, end: int) -> float:
        """``metric`` over global rows ``[start, end)`` (at least one row), as a Python float."""
        st = self._store
        n = end - start
        lo, hi = start - st.base, end - st.base
        col = _SUM_COLUMN.get(metric)
        if col is not None:
            c = getattr(st, col)
            total = float(c[hi] - c[lo])
            if metric == "cost_in_window":
                return total
            if metric == "error_rate":
                return round(total) / n  # error counts are integers; remove float dust
            return total / n
        if metric == "throughput":
            if spec[0] == "time":
                return n / spec[1]
            span = float(st.t[hi - 1] - st.t[lo])
            return (n - 1) / span if span > 0 else math.nan
        S = self._sorted_rows(self._caches.setdefault(spec, _SortedCache()), start, end)
        return _lerp_quantile(S, _QUANTILE[metric])

    def _starts(self, spec: tuple[str, float], ends: np.ndarray, nows: np.ndarray) -> np.ndarray:
        st = self._store
        if spec[0] == "count":
            return np.maximum(ends - int(spec[1]), st.base)
        starts = st.base + np.searchsorted(st.t[:st.rows], nows - spec[1], side="right")
        return np.minimum(starts, ends)

    def _stat(self, metric: str, spec: tuple[str, float], ends: np.ndarray, nows: np.ndarray):
        """Values of ``metric`` over ``spec`` for windows ending at global rows ``ends`` (exclusive)."""
        st = self._store
        starts = self._starts(spec, ends, nows)
        counts = ends - starts
        lo = starts - st.base
        hi = ends - st.base
        with np.errstate(invalid="ignore", divide="ignore"):
            if metric in _SUM_COLUMN:
                c = getattr(st, _SUM_COLUMN[metric])
                sums = c[hi] - c[lo]
                vals = sums if metric == "cost_in_window" else sums / counts
                if metric == "error_rate":
                    vals = np.round(sums) / counts  # error counts are integers; remove float dust
            elif metric == "throughput":
                if spec[0] == "time":
                    vals = counts / spec[1]
                else:
                    ts = st.t
                    span = ts[np.maximum(hi - 1, 0)] - ts[np.minimum(lo, st.rows - 1)]
                    vals = np.where(span > 0, (counts - 1) / span, np.nan)
            else:
                vals = self._percentiles(spec, _QUANTILE[metric], starts, ends)
        if not (metric == "throughput" and spec[0] == "time"):  # 0 requests in T seconds is 0 per second
            vals = np.where(counts > 0, vals, np.nan)
        return vals, counts

    def _percentiles(self, spec, q: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        st = self._store
        out = np.full(ends.size, np.nan)
        counts = ends - starts
        todo = counts > 0
        if spec[0] == "count":
            full = np.flatnonzero(counts == int(spec[1]))
            if full.size > 1:  # every full window at once, vectorised
                out[full] = _full_window_quantiles(st.lat[:st.rows], ends[full] - st.base, int(spec[1]), q)
                todo[full] = False
        todo = np.flatnonzero(todo)
        if todo.size:  # windows still filling, time windows: the incremental sorted copy, point by point
            cache = self._caches.setdefault(spec, _SortedCache())
            for j in todo:
                S = self._sorted_rows(cache, int(starts[j]), int(ends[j]))
                out[j] = _lerp_quantile(S, q)
        return out

    def _sorted_rows(self, cache: _SortedCache, start: int, end: int) -> np.ndarray:
        """The sorted latencies of global rows ``[start, end)``, from ``cache`` brought up to date."""
        st = self._store
        lat = st.lat
        S = cache.S
        if (S is not None and start == cache.start + 1 and end == cache.end + 1 and start <= cache.end
                and cache.start >= st.base):  # one request out, one in: the steady state of every=1
            _replace_sorted(S, lat.item(cache.start - st.base), lat.item(cache.end - st.base))
            cache.start, cache.end = start, end
            return S
        changed = (start - cache.start) + (end - cache.end)
        if (S is None or start < cache.start or end < cache.end or start > cache.end
                or cache.start < st.base or changed * _RESORT_RATIO > end - start):
            S = np.sort(lat[start - st.base:end - st.base])
        elif changed:
            S = _update_sorted(S, lat[cache.start - st.base:start - st.base],
                               lat[cache.end - st.base:end - st.base])
        cache.S, cache.start, cache.end = S, start, end
        return S

    def _percentile_at(self, wi: int, q: float, start: int, end: int) -> float:
        """Percentile ``q`` of the latencies of global rows ``[start, end)`` (window ``wi``'s sorted copy)."""
        return _lerp_quantile(self._sorted_rows(self._window_caches[wi], start, end), q)

    def _percentile_above(self, counter: _ThresholdCount, q: float, start: int, end: int) -> bool | None:
        """Whether percentile ``q`` of rows ``[start, end)`` is above ``counter.threshold`` (``>``; ``>=`` for
        a strict counter), decided exactly from the count ``c`` of values ``<=`` (strict: ``<``) it, or
        None when only the exact value can tell.

        The percentile lies between the order statistics ``x_k`` and ``x_{k+1}`` (``k = floor(h)``,
        ``h = (n - 1) q / 100``; numpy's two-sided interpolation never leaves that interval). ``c <= k``
        means ``x_k`` is above the threshold, so the percentile is; ``c >= k + 2`` means ``x_{k+1}`` is
        not, so the percentile is not either; ``c == k + 1`` puts the threshold between the two.
        """
        n = end - start
        k = int(math.floor((n - 1) * (q / 100.0)))
        c = counter.at(self._store, start, end)
        if c <= k:
            return True
        if c >= k + 2 or k >= n - 1:  # k >= n - 1: the percentile is x_k itself
            return False
        return None

    # ---- evaluation -----------------------------------------------------------------------------
    def evaluate(self, now: float | None = None) -> tuple[Alert, ...]:
        """Evaluate every rule now, outside the cadence; returns the notifications it produced.

        ``now`` defaults to the newest timestamp; a later ``now`` lets time windows drain in silence and
        moves the pipeline's clock: :meth:`metrics` is then taken at ``now``, and a request older than it
        is rejected like any out-of-order request.
        """
        if now is None:
            now = self._last_t if self._n else 0.0
        else:
            now = _real("now", now)
            if now < self._last_t:
                raise ValueError(f"now must not be earlier than the last request or evaluation "
                                 f"({self._last_t}); got {now}")
            if self._uses_time is not False:
                self._last_t = now  # the clock moved: later requests may not be older, metrics() is at now
        self._flush()
        if self._interval is not None and now >= self._next_t:
            self._tick_until(now)  # due ticks first, so the clock of the rules never goes backwards
        return self._evaluate_one(self._store.end, now)

    def _evaluate_one(self, end: int, now: float) -> tuple[Alert, ...]:
        """Every rule at one point (window end row, clock time), with Python scalars (the fast path).

        The same arithmetic as the vectorised :meth:`_stat`, value for value: each window's start once,
        each distinct statistic once (a sum is two reads of a running sum), then each rule's state machine.
        """
        st = self._store
        base = st.base
        starts = []
        for is_count, size in self._window_plan:
            if is_count:
                start = end - size
                starts.append(start if start > base else base)
            else:
                start = base + int(st.t[:st.rows].searchsorted(now - size, side="right"))
                starts.append(start if start < end else end)
        vals = []
        counts = []
        for wi, kind, arg in self._stat_plan:
            start = starts[wi]
            n = end - start
            counts.append(n)
            if kind == 4:
                vals.append(n / arg)  # throughput over a time window: 0.0 when empty
            elif n <= 0:
                vals.append(math.nan)
            elif kind <= 2:
                c = getattr(st, arg)
                total = c.item(end - base) - c.item(start - base)
                vals.append(total / n if kind == 0 else round(total) / n if kind == 1 else total)
            elif kind == 3:
                span = st.t.item(end - base - 1) - st.t.item(start - base)
                vals.append((n - 1) / span if span > 0 else math.nan)
            elif self._lazy[len(vals)]:
                vals.append(None)  # computed only if a rule cannot decide from counts (see _percentile_above)
            else:
                vals.append(_lerp_quantile(self._sorted_rows(self._window_caches[wi], start, end), arg))
        out: list[Alert] = []
        values = []
        for rule, rs, plan in zip(self.rules, self._state_list, self._plans):
            if plan[0]:
                _, i_long, i_short, need_l, need_s, budget, burn, clear_burn = plan
                value = vals[i_long] / budget
                ok = counts[i_long] >= need_l and counts[i_short] >= need_s
                fire = ok and value > burn and vals[i_short] / budget > burn
                if fire or rs.state != "inactive":
                    clear = (not fire) if clear_burn is None else (not ok) or value <= clear_burn
                    self._step(rule, rs, fire, clear, value, now, end, out)
            else:
                _, i, min_count, cmp, threshold, clear_at, counters = plan
                value = vals[i]
                if value is not None:
                    ok = counts[i] >= min_count and value == value
                    fire = ok and cmp(value, threshold)
                    if fire or rs.state != "inactive":
                        self._step(rule, rs, fire, (not ok) or not cmp(value, clear_at), value, now, end, out)
                else:  # a percentile not computed yet: the state needs one comparison, decided from counts
                    wi, _, q = self._stat_plan[i]
                    start = starts[wi]
                    firing = rs.state == "firing"
                    fire, clear = False, True
                    if counts[i] >= min_count:
                        above = self._percentile_above(counters[1] if firing else counters[0], q, start, end)
                        if above is None:  # undecided: the exact value
                            value = vals[i] = self._percentile_at(wi, q, start, end)
                            holds = cmp(value, clear_at if firing else threshold)
                        else:
                            holds = above if counters[2] else not above
                        fire, clear = (False, not holds) if firing else (holds, False)
                    if fire or rs.state != "inactive":
                        if value is None and self._step(rule, rs, fire, clear, None, now, end, out):
                            value = vals[i] = self._percentile_at(wi, q, start, end)  # a change reports it
                        if value is not None:
                            self._step(rule, rs, fire, clear, value, now, end, out)
            values.append(value)
        if self.keep_trace:
            self._trace.append((now, end, tuple(values), tuple(s.state for s in self._state_list)))
        self._n_evaluations += 1
        return tuple(out)

    def _evaluate_points(self, ends: np.ndarray, nows: np.ndarray) -> tuple[Alert, ...]:
        """Run every rule's state machine at each point (window end row, clock time), in order."""
        ends = np.asarray(ends, dtype=np.int64)
        nows = np.asarray(nows, dtype=np.float64)
        if ends.size == 1:
            return self._evaluate_one(int(ends[0]), float(nows[0]))
        stats = [self._stat(metric, spec, ends, nows) for metric, spec in self._stats]
        columns = []  # per rule: (value array, firing array, clear array)
        for plan in self._plans:
            with np.errstate(invalid="ignore"):
                if plan[0]:
                    _, i_long, i_short, need_l, need_s, budget, burn, clear_burn = plan
                    v_long, n_long = stats[i_long]
                    v_short, n_short = stats[i_short]
                    ok = (n_long >= need_l) & (n_short >= need_s)
                    b_long = v_long / budget
                    fire = ok & (b_long > burn) & (v_short / budget > burn)
                    clear = ~fire if clear_burn is None else ~ok | (b_long <= clear_burn)
                    columns.append((b_long, fire, clear))
                else:
                    _, i, min_count, cmp, threshold, clear_at, _ = plan
                    vals, counts = stats[i]
                    ok = (counts >= min_count) & ~np.isnan(vals)
                    columns.append((vals, ok & cmp(vals, threshold), ~ok | ~cmp(vals, clear_at)))
        return self._run_states([(v.tolist(), f.tolist(), c.tolist()) for v, f, c in columns],
                                ends.tolist(), nows.tolist())

    def _run_states(self, cols: list, ends_l: list[int], nows_l: list[float]) -> tuple[Alert, ...]:
        """Advance every rule's state machine through the evaluation points, in order."""
        out: list[Alert] = []
        states = self._state_list
        trace = self._trace if self.keep_trace else None
        for j in range(len(ends_l)):
            now, end = nows_l[j], ends_l[j]
            for rule, st, (vals, fire, clear) in zip(self.rules, states, cols):
                if st.state != "inactive" or fire[j]:  # inactive and not firing: nothing happens
                    self._step(rule, st, fire[j], clear[j], vals[j], now, end, out)
            if trace is not None:
                trace.append((now, end, tuple(c[0][j] for c in cols), tuple(s.state for s in states)))
        self._n_evaluations += len(ends_l)
        return tuple(out)

    def _step(self, rule, st: _RuleState, fire: bool, clear: bool, value: float | None, now: float, end: int,
              out: list[Alert]) -> str | None:
        """One evaluation of one rule: the Prometheus state machine (see :class:`AlertRule`).

        Returns the new state, or None when the state does not change. With ``value`` None nothing is
        changed: the caller learns whether the value is needed (to report the change) before computing it.
        """
        old = st.state
        if old == "inactive":
            if not fire:
                return None
            new = "firing" if rule.for_ <= 0 else "pending"
        elif old == "pending":
            if not fire:
                new = "inactive"
            elif now - st.since >= rule.for_:
                new = "firing"
            else:
                return None
        elif clear:
            new = "inactive"
        else:
            return None
        if value is None:
            return new
        if old == "inactive":
            st.since = now
        st.state = new
        self._changes.append(StateChange(rule.name, now, end, old, new, value))
        if new == "firing" or old == "firing":
            a = self._notify(rule, "firing" if new == "firing" else "resolved", now, end, value)
            st.firing = a if new == "firing" else None
            out.append(a)
            self._history.append(a)
        return new

    def _notify(self, rule, status: str, now: float, n: int, value: float) -> Alert:
        threshold = rule.burn_rate if isinstance(rule, BurnRateRule) else rule.threshold
        if isinstance(rule, BurnRateRule):
            what = (f"error budget burn {value:.2f}x (threshold {threshold:g}x)" if status == "firing"
                    else f"error budget burn back to {value:.2f}x (clears at {rule.clear_burn_rate:g}x)"
                    if rule.clear_burn_rate is not None else f"error budget burn back to {value:.2f}x")
        else:
            clear = rule.threshold if rule.clear_threshold is None else rule.clear_threshold
            what = (f"{rule.metric} = {value:.4g} ({rule.op} {threshold:g})" if status == "firing"
                    else f"{rule.metric} back to {value:.4g} (clears at {clear:g})")
        msg = f"[{rule.severity}] {rule.name} {status.upper()}: {what}"
        return Alert(rule.name, status, float(now), int(n), float(value), float(threshold),
                     rule.severity, rule.metric, rule.category, msg)

    # ---- views ----------------------------------------------------------------------------------
    @property
    def history(self) -> tuple[Alert, ...]:
        """Notifications (``"firing"`` / ``"resolved"``), oldest first, at most ``max_history``."""
        return tuple(self._history)

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The same bounded notification history as :attr:`history` (the issue's name for it)."""
        return tuple(self._history)

    @property
    def state_changes(self) -> tuple[StateChange, ...]:
        """Every state change, ``pending`` included, oldest first, at most ``max_history``."""
        return tuple(self._changes)

    @property
    def active_alerts(self) -> tuple[Alert, ...]:
        """The ``"firing"`` notification of each rule that is firing now, in rule order (kept with the
        rule's state, so it stays here however long the episode and however short ``max_history``)."""
        return tuple(st.firing for st in (self._states[r.name] for r in self.rules) if st.firing is not None)

    @property
    def rule_states(self) -> dict[str, str]:
        """Rule name -> ``"inactive"`` / ``"pending"`` / ``"firing"``, in rule order."""
        return {r.name: self._states[r.name].state for r in self.rules}

    @property
    def n_requests(self) -> int:
        """Requests logged so far."""
        return self._n

    @property
    def n_evaluations(self) -> int:
        """Rule evaluations run so far."""
        return self._n_evaluations

    def trace(self) -> dict[str, np.ndarray]:
        """Per-evaluation record (needs ``keep_trace=True``): ``at``, ``n_requests``, then for each rule
        ``"<name>"`` its value and ``"<name>:state"`` its state (0 inactive, 1 pending, 2 firing)."""
        if not self.keep_trace:
            raise ValueError("keep_trace must be True when the pipeline is created to record a trace")
        codes = {"inactive": 0, "pending": 1, "firing": 2}
        out: dict[str, np.ndarray] = {
            "at": np.array([t[0] for t in self._trace], dtype=np.float64),
            "n_requests": np.array([t[1] for t in self._trace], dtype=np.int64),
        }
        for i, r in enumerate(self.rules):
            out[r.name] = np.array([t[2][i] for t in self._trace], dtype=np.float64)
            out[r.name + ":state"] = np.array([codes[t[3][i]] for t in self._trace], dtype=np.int8)
        return out

    def metrics(self) -> MetricsSnapshot:
        """A frozen snapshot over ``window`` (and totals since start); see :class:`MetricsSnapshot`."""
        self._flush()
        spec = self._spec
        if self._n:
            now = self._last_t
            end = self._store.end
            start = self._start(spec, end, now)
            n = end - start
        else:
            now, n = None, 0
        p50 = p95 = p99 = err = conf = cpr = thr = None
        cost_window = 0.0
        if n:
            S = self._sorted_rows(self._caches.setdefault(spec, _SortedCache()), start, end)
            p50, p95, p99 = (_lerp_quantile(S, q) for q in (50.0, 95.0, 99.0))
            err, conf, cpr, cost_window = (self._stat_one(m, spec, start, end) for m in (
                "error_rate", "mean_confidence", "cost_per_request", "cost_in_window"))
            if self._uses_time:
                v = self._stat_one("throughput", spec, start, end)
                thr = None if math.isnan(v) else v
        elif self._n and self._uses_time and spec[0] == "time":
            thr = 0.0  # requests were logged, none in the window: a measured zero
        budget = None
        if self.slo is not None and self._n:
            budget = self.slo.budget_remaining(self._n, self._n_errors)
        return MetricsSnapshot(
            at=now,
            window=_spec_label(spec),
            n_in_window=n,
            n_requests_total=self._n,
            n_errors_total=self._n_errors,
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            latency_p99_ms=p99,
            error_rate=err,
            throughput_per_s=thr,
            mean_confidence=conf,
            cost_per_request_usd=cpr,
            cost_in_window_usd=cost_window,
            cost_total_usd=float(self._store.c_cost[self._store.rows]),  # running sum since the start
            error_rate_total=(self._n_errors / self._n) if self._n else None,
            error_budget_remaining=budget,
            active_alerts=tuple(a.rule for a in self.active_alerts),
        )

    def __repr__(self) -> str:
        return (f"MonitoringPipeline(rules={len(self.rules)}, window={_spec_label(self._spec)!r}, "
                f"n_requests={self._n}, firing={[a.rule for a in self.active_alerts]})")


# --------------------------------------------------------------------------------------------------
# The lesson's rules
# --------------------------------------------------------------------------------------------------
def standard_rules(slo_target: float = 0.96) -> tuple[AlertRule | BurnRateRule, ...]:
    """The rule set the notebooks use on request-level traffic (:mod:`prodai_lessons.simulate`).

    - ``error budget burn`` (P1): SLO ``slo_target``; burn > 3x over the last 50 and the last 10
      requests (12 % errors at 96 %), resolving once the 50-request burn is back to <= 1x;
    - ``high p95 latency`` (P2): p95 over the last 50 requests > 600 ms for 10 s, clears below 450 ms;
    - ``low confidence`` (P2): mean confidence over the last 50 requests < 0.6 for 10 s, clears above 0.7;
    - ``cost per request`` (P3): mean cost over the last 200 requests > 0.01 USD for 60 s, clears at 0.008.
    """
    slo = SLO(slo_target)
    return (
        BurnRateRule("error budget burn", slo, burn_rate=3.0, long_window=50, short_window=10,
                     severity="P1", clear_burn_rate=1.0),
        AlertRule("high p95 latency", "latency_p95", ">", 600.0, for_=10.0, window=50,
                  severity="P2", clear_threshold=450.0),
        AlertRule("low confidence", "mean_confidence", "<", 0.6, for_=10.0, window=50,
                  severity="P2", clear_threshold=0.7),
        AlertRule("cost per request", "cost_per_request", ">", 0.01, for_=60.0, window=200,
                  severity="P3", clear_threshold=0.008),
    )


# --------------------------------------------------------------------------------------------------
# The counter-example
# --------------------------------------------------------------------------------------------------
class NaiveThresholdMonitor:
    """The original lesson's monitor, rebuilt as a counter-example (do not use it).

    On *every* request it copies the last ``window_size`` values into lists, recomputes
    ``np.percentile`` (O(N) per request) and appends an alert for every threshold that is crossed,
    again at the next request, and the next: a storm while a condition lasts, and no notion of an
    episode. With a 200-request window, a 15 % error burst of 50 requests only lifts the window's rate to
    ~5 %, so the error alert may never fire. Alerts start once 10 requests have been seen.
    """

    def __init__(self, window_size: int = 200, *, latency_p95_ms: float = 500.0,
                 error_rate: float = 0.05, cost_per_request: float = 0.10) -> None:
        self.window_size = check_int("window_size", window_size, minimum=1)
        self.thresholds = {
            "latency": check_real("latency_p95_ms", latency_p95_ms, minimum=0.0),
            "errors": check_real("error_rate", error_rate, minimum=0.0, maximum=1.0),
            "cost": check_real("cost_per_request", cost_per_request, minimum=0.0),
        }
        self.latencies: deque[float] = deque(maxlen=self.window_size)
        self.errors: deque[int] = deque(maxlen=self.window_size)
        self.costs: deque[float] = deque(maxlen=self.window_size)
        self.alerts: list[tuple[int, str]] = []
        self.n = 0

    def log_request(self, latency_ms: float, error: bool, confidence: float, cost_usd: float) -> None:
        self.latencies.append(float(latency_ms))
        self.errors.append(1 if error else 0)
        self.costs.append(float(cost_usd))
        self.n += 1
        if len(self.latencies) < 10:
            return
        p95 = np.percentile(list(self.latencies), 95)
        rate = np.mean(list(self.errors))
        cost = np.mean(list(self.costs))
        if p95 > self.thresholds["latency"]:
            self.alerts.append((self.n, "latency"))
        if rate > self.thresholds["errors"]:
            self.alerts.append((self.n, "errors"))
        if cost > self.thresholds["cost"]:
            self.alerts.append((self.n, "cost"))
