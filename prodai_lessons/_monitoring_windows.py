"""Rolling windows: the fast, exact machinery behind the monitoring lesson's percentiles.

The lesson (:mod:`prodai_lessons.monitoring`) states the idea in :class:`~prodai_lessons.monitoring.RollingPercentile`:
keep the window sorted, insert and evict, interpolate. This module does the same work fast and exactly:

- :class:`RollingWindow`: a count or time window with O(1) appends and a sorted copy synchronised lazily,
  in numpy, only when a percentile is asked for;
- :func:`_update_sorted` / :func:`_replace_sorted`: bring a sorted array up to date after ``k`` values
  left and ``k`` arrived, with binary search and in-place shifts;
- :func:`_full_window_quantiles`: the percentile of many overlapping full windows at once, vectorised;
- :func:`_lerp_quantile`: numpy's "linear" percentile of sorted data, bit for bit;
- :func:`parse_duration` and the window specs shared by the pipeline, plus fast scalar checks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from prodai_lessons._validation import as_1d_array, check_int, check_real

__all__ = ["RollingWindow", "parse_duration"]

_INF = math.inf

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(name: str, value: Any) -> float:
    """A duration in seconds from a Prometheus-style string (``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``).

    Parameters
    ----------
    name: the argument's name, used in error messages.
    value: a number followed by a unit: ``ms``, ``s``, ``m``, ``h`` or ``d``.

    Examples
    --------
    >>> parse_duration("window", "5m"), parse_duration("for_", "1.5s")
    (300.0, 1.5)

    Notes
    -----
    A non-string raises ``TypeError``, an unknown unit or a zero duration ``ValueError``, both naming ``name``.
    """
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
    """The last ``size`` observations, or (with ``seconds``) those newer than ``now - seconds``, with exact
    percentiles.

    Parameters
    ----------
    size: keep the last ``size`` observations (give this or ``seconds``).
    seconds: keep the observations with ``t > now - seconds``, where ``now`` is the newest timestamp
        seen or the latest :meth:`advance`.

    Examples
    --------
    >>> w = RollingWindow(3)
    >>> w.extend([10.0, 20.0, 30.0, 40.0])
    >>> w.values(), w.percentile(50), w.percentiles((0, 100))
    (array([20., 30., 40.]), 30.0, (20.0, 40.0))

    Notes
    -----
    ``append`` pushes ``(value, timestamp)`` onto a Python list: O(1), no numpy call. The first query
    flushes the list into a contiguous buffer (``[head, tail)`` of a numpy array, compacted or doubled
    when full: amortised O(1)) and moves ``head`` past evicted observations. The sorted copy behind
    the percentiles is synchronised lazily: the ``e`` evicted values are deleted and the ``k`` new ones
    inserted (:func:`_update_sorted`, O((k + e) log N) comparisons plus O(N) moves), or the window is
    re-sorted when more than a quarter changed. A monitor asking every ``k`` requests pays O(1) +
    O(N / k) per request, where recomputing ``np.percentile`` over a copy costs O(N) per request.
    Percentiles equal ``numpy.percentile(window, q)`` (method ``"linear"``) bit for bit. Timestamps are
    optional for a count window and required for a time window, non-decreasing (``ValueError``
    otherwise); a rejected call leaves the window unchanged.
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
        self._head = self._tail = 0
        self._pv: list[float] = []
        self._pt: list[float] = []
        self._last_t = self._now = -_INF
        self._uses_time: bool | None = None
        self._sorted: np.ndarray | None = None
        self._s_head = self._s_tail = 0
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


