"""The monitoring pipeline's engine: request log, running sums, window statistics, input checks.

:class:`prodai_lessons.monitoring.MonitoringPipeline` is the lesson's public API; it validates requests,
runs the rules' state machines (:func:`~prodai_lessons.monitoring.alert_step`) and keeps the
notifications. The statistics it reads come from here, built for speed and exactness:

- :class:`_Store`: a columnar request log with a running sum per column, so a window's mean, error
  rate or sum is one subtraction, whatever the window's length;
- :class:`_SortedCache`: a window's sorted latencies, updated incrementally between evaluations
  (:func:`~prodai_lessons._monitoring_windows._update_sorted`);
- :class:`_ThresholdCount`: how many latencies of a window lie at or below a threshold, which decides
  most "percentile above threshold?" questions without computing the percentile;
- :class:`_RequestLog`: the three above, and every statistic the rules need at one evaluation point
  (scalars) or at many at once (vectorised, for ``log_batch``), bit for bit the same either way;
- the metric tables (:data:`METRICS`, :data:`METRIC_CATEGORY`, :data:`SEVERITIES`) and the batch checks.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

import numpy as np

from prodai_lessons._monitoring_windows import (
    _full_window_quantiles,
    _lerp_quantile,
    _replace_sorted,
    _update_sorted,
    parse_duration,
)
from prodai_lessons._validation import as_1d_array, as_bool_array, check_int, check_real

#: Largest accepted latency (about 11.6 days) and cost of one request. Larger values are unit or sentinel
#: bugs, and they would ruin the running sums every window statistic is read from: after a value ``v`` a
#: window sum is off by up to ``eps * v`` (``eps`` = 2.2e-16), so these bounds keep that below 1e-6 ms and
#: 1e-9 USD. (A value near the float maximum would overflow the sums outright.)
MAX_LATENCY_MS = 1e9
MAX_COST_USD = 1e6

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
    """``for_`` in seconds: a duration string or a number >= 0."""
    if isinstance(value, str):
        return parse_duration("for_", value)
    return check_real("for_", value, minimum=0.0)


def _check_min_count(value: Any, window: Any, what: str = "the window") -> None:
    """``min_count``: None, or an int >= 1 that a count window of ``window`` requests can reach."""
    if value is None:
        return
    check_int("min_count", value, minimum=1)
    if isinstance(window, int) and value > window:
        raise ValueError(f"min_count must be <= {what} of {window} requests (it could never be reached); "
                         f"got {value}")


#: Metrics that are a sum over the window, and the running-sum column (of :class:`_Store`) each reads.
_SUM_COLUMN = {"latency_mean": "c_lat", "error_rate": "c_err", "mean_confidence": "c_conf",
               "cost_per_request": "c_cost", "cost_in_window": "c_cost"}
_QUANTILE = {"latency_p50": 50.0, "latency_p95": 95.0, "latency_p99": 99.0}


#: Up to this many values are handled with Python lists rather than numpy calls (whose fixed cost dominates).
_FEW_VALUES = 48

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

    def rows(self, st: _Store, start: int, end: int) -> np.ndarray:
        """The sorted latencies of global rows ``[start, end)`` of ``st``, the cache brought up to date."""
        lat, base = st.lat, st.base
        S = self.S
        if (S is not None and start == self.start + 1 and end == self.end + 1 and start <= self.end
                and self.start >= base):  # one request out, one in: the steady state of every=1
            _replace_sorted(S, lat.item(self.start - base), lat.item(self.end - base))
            self.start, self.end = start, end
            return S
        changed = (start - self.start) + (end - self.end)
        if (S is None or start < self.start or end < self.end or start > self.end
                or self.start < base or changed * _RESORT_RATIO > end - start):
            S = np.sort(lat[start - base:end - base])
        elif changed:
            S = _update_sorted(S, lat[self.start - base:start - base], lat[self.end - base:end - base])
        self.S, self.start, self.end = S, start, end
        return S


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




class _RuleState:
    """Where one rule stands: its state, when it left ``"inactive"``, its current firing notification."""

    __slots__ = ("state", "since", "firing")

    def __init__(self) -> None:
        self.state = "inactive"
        self.since = 0.0
        self.firing = None  # the Alert of the episode in progress


#: Statistic kinds of :attr:`_RequestLog.stat_plan`: a mean, an error rate, a sum over the window, throughput
#: over a count window, throughput over a time window, a percentile.
_MEAN, _RATE, _SUM, _TPUT_COUNT, _TPUT_TIME, _PCT = range(6)


class _RequestLog:
    """The requests a pipeline logged, and every window statistic its rules read.

    ``needs`` lists, per rule, the ``(metric, window spec)`` pairs it reads; each distinct pair is a
    *statistic*, computed once per evaluation, at position ``index[pair]`` of what :meth:`at` and
    :meth:`many` return. ``lazy`` leaves percentiles uncomputed in :meth:`at` (``None``): a rule's
    comparison is then decided from counts (:meth:`percentile_condition`) and the value computed only
    when it must be (:meth:`percentile_at`).

    Cost (``N`` the window, ``k`` requests between evaluations): a sum statistic is two reads of a
    running sum, O(1); a percentile comes from a sorted copy updated in O(k log N) comparisons, or is
    decided from a threshold count kept up to date in O(k). :meth:`many` computes all evaluation points
    of a batch at once (:func:`_window_stat`). Every path gives the same values, bit for bit.
    """

    def __init__(self, needs: list[list[tuple[str, tuple[str, float]]]], default_spec: tuple[str, float],
                 lazy: bool) -> None:
        self.index: dict[tuple[str, tuple[str, float]], int] = {}
        for key in (key for rule_needs in needs for key in rule_needs):
            self.index.setdefault(key, len(self.index))
        self.keys = list(self.index)
        windows = list(dict.fromkeys(spec for _, spec in self.keys))
        self.window_plan = [(kind == "count", int(size) if kind == "count" else size) for kind, size in windows]
        self.stat_plan: list[tuple[int, int, Any]] = []  # per statistic: (window index, kind, argument)
        for metric, spec in self.keys:
            wi = windows.index(spec)
            if metric in _SUM_COLUMN:
                kind = {"error_rate": _RATE, "cost_in_window": _SUM}.get(metric, _MEAN)
                self.stat_plan.append((wi, kind, _SUM_COLUMN[metric]))
            elif metric == "throughput":
                self.stat_plan.append((wi, _TPUT_COUNT if spec[0] == "count" else _TPUT_TIME, spec[1]))
            else:
                self.stat_plan.append((wi, _PCT, _QUANTILE[metric]))
        self.lazy = [kind == _PCT and lazy for _, kind, _ in self.stat_plan]
        specs = {default_spec} | set(windows)
        self.max_count = max((int(v) for k, v in specs if k == "count"), default=0)
        self.max_seconds = max((v for k, v in specs if k == "time"), default=0.0)
        self.caches: dict[tuple[str, float], _SortedCache] = {}
        self.window_caches: list[_SortedCache | None] = [None] * len(windows)
        for wi, kind, _ in self.stat_plan:
            if kind == _PCT:
                self.window_caches[wi] = self.caches.setdefault(windows[wi], _SortedCache())
        self.store = _Store()
        self.pending: list[tuple[float, float, float, float, float]] = []  # rows logged one by one

    # ---- rows in --------------------------------------------------------------------------------
    def keep_from(self) -> int:
        """First global row any window may still need at the next evaluation."""
        st = self.store
        keep = st.end - self.max_count
        if self.max_seconds > 0 and st.rows:
            ts = st.t[:st.rows]
            keep = min(keep, st.base + int(np.searchsorted(ts, ts[-1] - self.max_seconds, side="right")))
        for c in self.caches.values():
            if c.S is not None:
                if c.start < keep - 4 * max(self.max_count, 1024):
                    c.S = None  # a stale cache is rebuilt rather than pinning old rows
                else:
                    keep = min(keep, c.start)
        return keep

    def ingest(self, ts, lat, err, conf, cost) -> None:
        """Store equal-length columns (a batch)."""
        st = self.store
        if st.rows + ts.size > st.cap:
            st.reserve(ts.size, self.keep_from())
        st.append_block(ts, lat, err, conf, cost)

    def flush(self) -> None:
        """Write the rows logged one by one since the last evaluation into the store."""
        pending = self.pending
        if not pending:
            return
        st = self.store
        if st.rows + len(pending) > st.cap:
            st.reserve(len(pending), self.keep_from())
        if len(pending) == 1:
            st.append_row(*pending[0])
        elif len(pending) <= _FEW_VALUES:
            st.append_rows(pending)
        else:
            block = np.array(pending, dtype=np.float64)
            st.append_block(block[:, 0], block[:, 1], block[:, 2], block[:, 3], block[:, 4])
        pending.clear()

    @property
    def cost_total(self) -> float:
        """Cost of every request logged, from the running sum since the start."""
        return float(self.store.c_cost[self.store.rows])

    # ---- one evaluation point, Python scalars ----------------------------------------------------
    def at(self, end: int, now: float) -> tuple[list, list[int], list[int]]:
        """Every statistic at one point (window end row, clock time): values (NaN for an empty window,
        None for a lazy percentile), the number of rows each window holds, and each window's first row."""
        st = self.store
        base = st.base
        starts = []
        for is_count, size in self.window_plan:
            if is_count:
                start = end - size
                starts.append(start if start > base else base)
            else:
                start = base + int(st.t[:st.rows].searchsorted(now - size, side="right"))
                starts.append(start if start < end else end)
        vals: list = []
        counts = []
        for (wi, kind, arg), lazy in zip(self.stat_plan, self.lazy):
            start = starts[wi]
            n = end - start
            counts.append(n)
            if kind == _TPUT_TIME:
                vals.append(n / arg)  # throughput over a time window: 0.0 when empty
            elif n <= 0:
                vals.append(math.nan)
            elif kind <= _SUM:
                c = getattr(st, arg)
                total = c.item(end - base) - c.item(start - base)
                vals.append(total / n if kind == _MEAN else round(total) / n if kind == _RATE else total)
            elif kind == _TPUT_COUNT:
                span = st.t.item(end - base - 1) - st.t.item(start - base)
                vals.append((n - 1) / span if span > 0 else math.nan)
            elif lazy:
                vals.append(None)  # decided from counts, computed only if needed
            else:
                vals.append(_lerp_quantile(self.window_caches[wi].rows(st, start, end), arg))
        return vals, counts, starts

    def percentile_condition(self, plan: tuple, firing: bool, count: int, starts: list[int],
                             end: int) -> tuple[bool, bool, float | None]:
        """``(breached, recovered, value)`` of a percentile rule whose value :meth:`at` left uncomputed.

        Only the comparison the rule's state needs is made (with the clear threshold when it is firing,
        the threshold otherwise), from counts where they can tell (:meth:`percentile_above`); ``value`` is
        None unless the exact percentile had to be computed.
        """
        _, i, min_count, cmp, threshold, clear_at, counters = plan
        if count < min_count:
            return False, True, None
        wi, _, q = self.stat_plan[i]
        above = self.percentile_above(counters[1] if firing else counters[0], q, starts[wi], end)
        value = None
        if above is None:  # undecided: the exact value
            value = self.percentile_at(wi, q, starts[wi], end)
            holds = cmp(value, clear_at if firing else threshold)
        else:
            holds = above if counters[2] else not above
        return (False, not holds, value) if firing else (holds, False, value)

    def percentile_of(self, i: int, starts: list[int], end: int) -> float:
        """The exact value of percentile statistic ``i`` at the point :meth:`at` returned ``starts`` for."""
        wi, _, q = self.stat_plan[i]
        return self.percentile_at(wi, q, starts[wi], end)

    def percentile_at(self, wi: int, q: float, start: int, end: int) -> float:
        """Percentile ``q`` of the latencies of global rows ``[start, end)`` (window ``wi``'s sorted copy)."""
        return _lerp_quantile(self.window_caches[wi].rows(self.store, start, end), q)

    def percentile_above(self, counter: _ThresholdCount, q: float, start: int, end: int) -> bool | None:
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
        c = counter.at(self.store, start, end)
        if c <= k:
            return True
        if c >= k + 2 or k >= n - 1:  # k >= n - 1: the percentile is x_k itself
            return False
        return None

    # ---- many evaluation points at once, vectorised ----------------------------------------------
    def many(self, ends: np.ndarray, nows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(values, counts)`` of every statistic at every point (window end rows, clock times)."""
        return [_window_stat(self, metric, spec, ends, nows) for metric, spec in self.keys]


def _window_start(log: _RequestLog, spec: tuple[str, float], end: int, now: float) -> int:
    """First global row of the window ``spec`` that ends at global row ``end`` (exclusive) at ``now``."""
    st = log.store
    if spec[0] == "count":
        return max(end - int(spec[1]), st.base)
    return min(st.base + int(st.t[:st.rows].searchsorted(now - spec[1], side="right")), end)


def _window_stat(log: _RequestLog, metric: str, spec: tuple[str, float], ends: np.ndarray, nows: np.ndarray):
    """``(values, counts)`` of ``metric`` over the windows ``spec`` ending at global rows ``ends`` at ``nows``."""
    st = log.store
    if spec[0] == "count":
        starts = np.maximum(ends - int(spec[1]), st.base)
    else:
        starts = np.minimum(st.base + np.searchsorted(st.t[:st.rows], nows - spec[1], side="right"), ends)
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
            vals = _window_percentiles(log, spec, _QUANTILE[metric], starts, ends)
    if not (metric == "throughput" and spec[0] == "time"):  # 0 requests in T seconds is 0 per second
        vals = np.where(counts > 0, vals, np.nan)
    return vals, counts


def _window_percentiles(log: _RequestLog, spec, q: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Percentile ``q`` of the latencies of every window ``[starts, ends)``: full count windows all at once."""
    st = log.store
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
        cache = log.caches.setdefault(spec, _SortedCache())
        for j in todo:
            out[j] = _lerp_quantile(cache.rows(st, int(starts[j]), int(ends[j])), q)
    return out


def _window_value(log: _RequestLog, metric: str, spec: tuple[str, float], start: int, end: int) -> float:
    """``metric`` over global rows ``[start, end)`` (at least one row), as a Python float."""
    st = log.store
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
    S = log.caches.setdefault(spec, _SortedCache()).rows(st, start, end)
    return _lerp_quantile(S, _QUANTILE[metric])


def _window_metrics(log: _RequestLog, spec: tuple[str, float], now: float, uses_time: bool | None) -> tuple:
    """``(n, p50, p95, p99, error rate, mean confidence, cost per request, cost in window, throughput)``
    over the window ``spec`` ending at the newest row at ``now``; None where there is nothing to measure."""
    end = log.store.end
    start = _window_start(log, spec, end, now)
    n = end - start
    if not n:
        thr = 0.0 if uses_time and spec[0] == "time" else None  # requests logged, none in the window: zero
        return (0, None, None, None, None, None, None, 0.0, thr)
    S = log.caches.setdefault(spec, _SortedCache()).rows(log.store, start, end)
    p50, p95, p99 = (_lerp_quantile(S, q) for q in (50.0, 95.0, 99.0))
    err, conf, cpr, cost = (_window_value(log, m, spec, start, end) for m in (
        "error_rate", "mean_confidence", "cost_per_request", "cost_in_window"))
    thr = None
    if uses_time:
        v = _window_value(log, "throughput", spec, start, end)
        thr = None if math.isnan(v) else v
    return (n, p50, p95, p99, err, conf, cpr, cost, thr)


# --------------------------------------------------------------------------------------------------
# What the pipeline reads to evaluate a rule
# --------------------------------------------------------------------------------------------------
def _threshold_plan(rule, log: _RequestLog, default_spec: tuple[str, float], keep_trace: bool) -> tuple:
    """An ``AlertRule``'s evaluation plan: ``(False, statistic index, min_count, op, threshold, clear
    threshold, counters)``; without a trace, counters decide percentile comparisons without the value."""
    (key,) = rule._needs(default_spec)
    spec = key[1]
    min_count = rule._min_count(spec)
    if spec[0] == "count" and min_count > spec[1]:
        raise ValueError(f"rules[{rule.name!r}].min_count must be <= the pipeline's window of "
                         f"{int(spec[1])} requests (it could never be reached); got {rule.min_count}")
    clear_at = rule.threshold if rule.clear_threshold is None else rule.clear_threshold
    counters = None
    if rule.metric in _QUANTILE and not keep_trace:
        # ">" and "<=" compare with the count of values <= threshold, ">=" and "<" with < threshold
        strict = rule.op in (">=", "<")
        counters = (_ThresholdCount(rule.threshold, strict), _ThresholdCount(clear_at, strict),
                    rule.op in (">", ">="))
    return (False, log.index[key], min_count, _OPS[rule.op], rule.threshold, clear_at, counters)


def _burn_plan(rule, log: _RequestLog, default_spec: tuple[str, float]) -> tuple:
    """A ``BurnRateRule``'s evaluation plan: ``(True, long index, short index, long minimum, short minimum,
    SLO target, error budget, burn rate, clear burn rate)``; a count window must be full to count, unless
    ``rule.min_count`` sets the long window's minimum."""
    key_l, key_s = rule._needs(default_spec)
    need_l = int(key_l[1][1]) if key_l[1][0] == "count" else 1
    if rule.min_count is not None:
        need_l = rule.min_count
    need_s = int(key_s[1][1]) if key_s[1][0] == "count" else 1
    return (True, log.index[key_l], log.index[key_s], need_l, need_s, rule.slo.target, rule.slo.error_budget,
            rule.burn_rate, rule.clear_burn_rate)


# --------------------------------------------------------------------------------------------------
# Input checks of a batch (the pipeline checks single requests inline: that path is the hot one)
# --------------------------------------------------------------------------------------------------
def _check_columns(latency_ms: Any, error: Any, confidence: Any, cost_usd: Any):
    """The four request columns of ``log_batch`` as arrays of one length, in range, or an error naming one."""
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
    return lat, err, conf, cost


def _check_timestamps(timestamp: Any, n: int) -> np.ndarray:
    """``log_batch``'s timestamps as a float array of length ``n``."""
    ts = as_1d_array("timestamp", timestamp, min_size=0)
    if ts.size != n:
        raise ValueError(f"timestamp must have the same length as latency_ms ({n}); got {ts.size}")
    return ts


def _check_order(ts: np.ndarray, last_t: float) -> None:
    """``ValueError`` unless ``ts`` is non-decreasing and starts no earlier than ``last_t``."""
    if ts[0] < last_t:
        raise ValueError(f"timestamp must be non-decreasing; got {ts[0]} at index 0 after {last_t}")
    if ts.size > 1:
        bad = np.flatnonzero(ts[1:] < ts[:-1])
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(f"timestamp must be non-decreasing; got {ts[i]} at index {i} after "
                             f"{ts[i - 1]} (out-of-order requests are rejected, not reordered)")


def _check_cadence(evaluate_every: Any, evaluate_interval: Any) -> tuple[int | None, float | None]:
    """``(every, interval)``: evaluate every ``k`` requests (default 1) or every ``interval`` seconds."""
    if evaluate_every is not None and evaluate_interval is not None:
        raise ValueError("give at most one of evaluate_every (requests) and evaluate_interval (clock time)")
    if evaluate_interval is None:
        return (1 if evaluate_every is None else check_int("evaluate_every", evaluate_every, minimum=1)), None
    if isinstance(evaluate_interval, str):
        return None, parse_duration("evaluate_interval", evaluate_interval)
    return None, check_real("evaluate_interval", evaluate_interval, minimum=0.0, strict_minimum=True)


def _trace_arrays(rows: list, names: list[str]) -> dict[str, np.ndarray]:
    """A pipeline's per-evaluation records ``(at, end, values, states)`` as named arrays."""
    codes = {"inactive": 0, "pending": 1, "firing": 2}
    out: dict[str, np.ndarray] = {
        "at": np.array([t[0] for t in rows], dtype=np.float64),
        "n_requests": np.array([t[1] for t in rows], dtype=np.int64),
    }
    for i, name in enumerate(names):
        out[name] = np.array([t[2][i] for t in rows], dtype=np.float64)
        out[name + ":state"] = np.array([codes[t[3][i]] for t in rows], dtype=np.int8)
    return out
