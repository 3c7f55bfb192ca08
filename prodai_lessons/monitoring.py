"""Monitoring and alerting: rolling percentiles, alert rules as state machines, SLO burn rates.

Read it top-down, as the lesson goes:

1. The ideas, each in a few lines: :class:`RollingPercentile` (keep the window sorted, insert and evict,
   interpolate), :func:`alert_step` (the Prometheus alert state machine, with ``for_`` and hysteresis),
   :func:`burn_rate_condition` (the SRE Workbook's burn rate) and :class:`ErrorCusum` (Page's CUSUM).
2. The rules: :class:`AlertRule` (a threshold on one metric over a window), :class:`SLO` and
   :class:`BurnRateRule`, and the lesson's rule set :func:`standard_rules`.
3. :class:`MonitoringPipeline`: ``log_request`` / ``log_batch`` ingest requests; the rules are evaluated on a
   cadence (every ``k`` requests, or every ``interval`` of clock time, like Prometheus' ``evaluation_interval``),
   each advancing by :func:`alert_step`; ``history`` holds the :class:`Alert` notifications (one ``"firing"``
   and one ``"resolved"`` per episode) and ``metrics()`` returns a frozen :class:`MetricsSnapshot`.
4. :class:`NaiveThresholdMonitor`: a common first monitor, kept as the counter-example: an alert on every
   request while a threshold is crossed, and a percentile recomputed over a copy of the window each time.

The production machinery sits in private modules and is re-exported here: ``_monitoring_windows``
(:class:`RollingWindow`, exact percentiles of many windows at once, :func:`parse_duration`), ``_monitoring_engine``
(the columnar request log with running sums, the window statistics, batch checks), ``_monitoring_detection``
(CUSUM and burn-rate rule on many sequences at once, run lengths) and ``_monitoring_records`` (:class:`Alert`,
:class:`StateChange`, :class:`AlertEpisode`, :func:`alert_episodes`, :class:`MetricsSnapshot`).

**Clock.** Pass ``timestamp`` (seconds, e.g. from :mod:`prodai_lessons.simulate`) with every request, or with
none: without timestamps the pipeline's clock is the request's sequence number (0, 1, 2, ...), so durations
such as ``for_`` count requests. Timestamps must be non-decreasing: an out-of-order timestamp raises
``ValueError`` (it is never reordered or dropped silently); equal timestamps are fine.

**Windows** are given as an ``int`` (the last N requests) or a duration string such as ``"30s"``,
``"5m"``, ``"1h"`` (the last T seconds, as a Prometheus range ``[5m]``, which needs timestamps).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prodai_lessons._monitoring_engine import (
    _OPS,
    MAX_COST_USD,
    MAX_LATENCY_MS,
    METRIC_CATEGORY,
    METRICS,
    SEVERITIES,
    _burn_plan,
    _check_cadence,
    _check_columns,
    _check_for,
    _check_min_count,
    _check_order,
    _check_timestamps,
    _RequestLog,
    _RuleState,
    _threshold_plan,
    _trace_arrays,
    _window_metrics,
)
from prodai_lessons._monitoring_detection import (burn_rule_pages, cusum_arl, cusum_llr, cusum_paths,
                                                  first_crossing, siegmund_arl)
from prodai_lessons._monitoring_records import Alert, AlertEpisode, MetricsSnapshot, StateChange, alert_episodes
from prodai_lessons._monitoring_windows import RollingWindow, _flag, _real, _spec_label, _window_spec, parse_duration
from prodai_lessons._validation import check_choice, check_int, check_probability, check_real, check_str
from prodai_lessons.stats import wilson_interval

__all__ = [
    "RollingPercentile", "alert_step", "burn_rate_condition", "ErrorCusum",                  # the ideas
    "RollingWindow", "METRICS", "METRIC_CATEGORY", "SEVERITIES",                            # windows, metrics
    "AlertRule", "SLO", "BurnRateRule", "standard_rules", "parse_duration",                 # rules
    "Alert", "StateChange", "AlertEpisode", "alert_episodes", "MetricsSnapshot",            # what the pipeline sends
    "MonitoringPipeline", "NaiveThresholdMonitor",
    "cusum_llr", "cusum_paths", "first_crossing", "cusum_arl", "siegmund_arl", "burn_rule_pages", "wilson_interval",
]


# --------------------------------------------------------------------------------------------------
# The ideas
# --------------------------------------------------------------------------------------------------
class RollingPercentile:
    """Percentiles of the last ``size`` values: keep the window sorted, insert and evict, interpolate.

    A new value is inserted at its place in a sorted list and the value leaving the window is removed
    from it, both found by binary search. ``percentile(q)`` is numpy's default method: with the fractional
    rank ``h = (n - 1) q / 100``, interpolate between the sorted values ``x[floor h]`` and ``x[floor h + 1]``.
    Assumes clean input: finite values, ``0 <= q <= 100``, a non-empty window.

    >>> w = RollingPercentile(4)
    >>> for x in [5.0, 1.0, 9.0, 3.0, 7.0]:       # 5.0 leaves when 7.0 arrives
    ...     w.append(x)
    >>> w.sorted, w.percentile(50)
    ([1.0, 3.0, 7.0, 9.0], 5.0)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrivals: deque[float] = deque()  # oldest first: which value leaves next
        self.sorted: list[float] = []           # the same values, in order

    def append(self, x: float) -> None:
        self.arrivals.append(x)
        bisect.insort(self.sorted, x)                               # insert at its place
        if len(self.arrivals) > self.size:
            old = self.arrivals.popleft()                           # evict the oldest value ...
            del self.sorted[bisect.bisect_left(self.sorted, old)]   # ... from the sorted list too

    def percentile(self, q: float) -> float:
        s = self.sorted
        h = (len(s) - 1) * q / 100.0              # fractional rank
        lo = math.floor(h)
        if lo + 1 >= len(s):                      # the top of the window (q = 100, or one value)
            return s[-1]
        return s[lo] + (h - lo) * (s[lo + 1] - s[lo])


def alert_step(state: str, since: float, now: float, breached: bool, recovered: bool,
               for_: float) -> tuple[str, float]:
    """One evaluation of an alert rule: the next ``(state, since)`` of the Prometheus state machine.

    ``breached``: the condition holds now (e.g. ``p95 > 600``). ``recovered``: the value is back past the
    clear threshold (e.g. ``p95 <= 450``); a firing alert waits for it, so it does not flap while the
    value hovers near the threshold (hysteresis). ``since``: when the rule left ``"inactive"``. Entering
    ``"firing"`` sends the ``"firing"`` notification, leaving it the ``"resolved"`` one.

    >>> alert_step("inactive", 0.0, 10.0, breached=True, recovered=False, for_=5.0)
    ('pending', 10.0)
    >>> alert_step("pending", 10.0, 15.0, breached=True, recovered=False, for_=5.0)
    ('firing', 10.0)
    >>> alert_step("firing", 10.0, 20.0, breached=False, recovered=False, for_=5.0)  # between thresholds
    ('firing', 10.0)
    """
    if state == "inactive":
        if not breached:
            return state, since
        state, since = "pending", now             # the condition starts to hold: start the clock
    if state == "pending":
        if not breached:
            return "inactive", since              # shorter than for_: nothing was ever sent
        return ("firing" if now - since >= for_ else "pending"), since
    return ("inactive" if recovered else "firing"), since   # firing: resolve only once recovered


def burn_rate_condition(long_error_rate, short_error_rate, slo_target, burn_rate):
    """Page when both windows spend the error budget more than ``burn_rate`` times too fast.

    ``burn = error_rate / (1 - slo_target)``: at burn 1 the budget lasts exactly the SLO period. The long
    window ignores a few scattered errors; the short one confirms the problem is still going on (Google
    SRE Workbook, ch. 5). Works on floats and, element by element, on numpy arrays.

    >>> burn_rate_condition(0.16, 0.20, slo_target=0.96, burn_rate=3.0)   # burns 4x and 5x
    True
    >>> burn_rate_condition(0.16, 0.0, slo_target=0.96, burn_rate=3.0)    # over already
    False
    """
    budget = 1.0 - slo_target                     # the share of requests allowed to fail
    long_burn = long_error_rate / budget
    short_burn = short_error_rate / budget
    return (long_burn > burn_rate) & (short_burn > burn_rate)


class ErrorCusum:
    """Page's CUSUM on error flags: add each request's evidence for "incident", floor at 0, page above ``h``.

    An error adds ``ln(p_incident / p_normal)`` nats of evidence for an incident, a success the negative
    ``ln((1 - p_incident) / (1 - p_normal))``; the floor forgets older evidence; a page restarts from 0. No
    detector has a smaller worst-case delay for its false-page rate (Page 1954; Lorden 1971; Moustakides 1986).

    >>> c = ErrorCusum(p_normal=0.02, p_incident=0.15, h=3.0)
    >>> [c.update(e) for e in (True, False, True)], c.s     # 2.01, 1.87, then 3.89 > 3: a page
    ([False, False, True], 0.0)
    """

    def __init__(self, p_normal: float, p_incident: float, h: float) -> None:
        self.up = math.log(p_incident / p_normal)                  # one error: evidence for an incident
        self.down = math.log((1 - p_incident) / (1 - p_normal))    # one success: evidence against it
        self.h, self.s = h, 0.0

    def update(self, error: bool) -> bool:
        self.s = max(0.0, self.s + (self.up if error else self.down))
        if self.s > self.h:
            self.s = 0.0                                           # page, then start afresh
            return True
        return False


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertRule:
    """``metric op threshold`` over ``window``, firing after it has held for ``for_`` (Prometheus model).

    Parameters
    ----------
    name: unique within a pipeline.
    metric: one of :data:`METRICS` (``"latency_p95"``, ``"error_rate"``, ``"mean_confidence"``, ...).
    op, threshold: the condition ``value op threshold``; ``op`` is ``">"``, ``">="``, ``"<"`` or ``"<="``.
    for_: how long the condition must hold before the rule fires (seconds, or ``"10s"``).
    window: an int (last N requests) or a duration such as ``"5m"``; None: the pipeline's window.
    severity: ``"P0"`` (worst) to ``"P3"``.
    clear_threshold: a firing rule resolves once ``value op clear_threshold`` is false (default: the
        threshold itself). For ``>``/``>=`` it must be <= ``threshold``, for ``<``/``<=`` >= ``threshold``.
    min_count: observations needed before the rule looks at its value (default: a full count window,
        or 1 for a time window); with fewer the condition is false.
    description: free text.

    Examples
    --------
    >>> rule = AlertRule("high p95", "latency_p95", ">", 600.0, for_="10s", window=50, clear_threshold=450.0)
    >>> rule.for_, rule.describe()
    (10.0, 'latency_p95 > 600 for 10, clears at 450')

    Notes
    -----
    Each evaluation is one :func:`alert_step` with ``breached = value op threshold`` and ``recovered =
    not (value op clear_threshold)``. ``throughput`` over a time window is the exception to ``min_count``:
    an empty window is a measured 0 requests per second (a total outage must keep a ``throughput <``
    alert firing), so its default is 0.
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
        _check_min_count(self.min_count, self.window)
        if not isinstance(self.description, str):
            raise TypeError(f"description must be a str; got {self.description!r}")

    @property
    def category(self) -> str:
        """What the metric is about (:data:`METRIC_CATEGORY`): incident playbooks are keyed by it."""
        return METRIC_CATEGORY[self.metric]

    def describe(self) -> str:
        """The rule in one line."""
        clear = "" if self.clear_threshold is None else f", clears at {self.clear_threshold:g}"
        return f"{self.metric} {self.op} {self.threshold:g} for {self.for_:g}{clear}"

    def _needs(self, default_spec: tuple[str, float]) -> list[tuple[str, tuple[str, float]]]:
        spec = default_spec if self.window is None else _window_spec("window", self.window)
        return [(self.metric, spec)]

    def _min_count(self, spec: tuple[str, float]) -> int:
        if self.min_count is not None:
            return self.min_count
        if spec[0] == "time" and self.metric == "throughput":
            return 0  # an empty time window is a measurement: 0 requests per second (an outage)
        return int(spec[1]) if spec[0] == "count" else 1

    def _alert(self, status: str, at: float, n: int, value: float) -> Alert:
        """The notification sent on entering (``"firing"``) or leaving (``"resolved"``) the firing state."""
        if status == "firing":
            what = f"{self.metric} = {value:.4g} ({self.op} {self.threshold:g})"
        else:
            clear = self.threshold if self.clear_threshold is None else self.clear_threshold
            what = f"{self.metric} back to {value:.4g} (clears at {clear:g})"
        return Alert(self.name, status, float(at), int(n), float(value), float(self.threshold), self.severity,
                     self.metric, self.category, f"[{self.severity}] {self.name} {status.upper()}: {what}")


@dataclass(frozen=True)
class SLO:
    """A service-level objective on the fraction of good requests: ``target`` (e.g. 0.96 = 96 %).

    Parameters
    ----------
    target: the share of requests that must succeed, in (0, 1).
    name: what the objective is about.

    Examples
    --------
    >>> slo = SLO(0.96)
    >>> round(slo.error_budget, 4), round(slo.burn_rate(0.12), 4), round(slo.budget_remaining(1000, 20), 4)
    (0.04, 3.0, 0.5)

    Notes
    -----
    Error budget ``= 1 - target``: the fraction of requests allowed to fail. The *burn rate* of an
    observed error rate is ``error_rate / (1 - target)``: 1.0 spends the budget exactly over the
    compliance period, 3.0 three times too fast. ``budget_remaining(n, e)`` is the fraction of the
    budget left after ``e`` errors in ``n`` requests, ``1 - e / ((1 - target) n)`` (negative once
    overspent), as in the SRE Workbook, ch. 2.
    """

    target: float
    name: str = "availability"

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", check_probability("target", self.target))
        check_str("name", self.name)

    @property
    def error_budget(self) -> float:
        """``1 - target``: the share of requests allowed to fail."""
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
    """Multiwindow burn-rate alert on the error rate (Google SRE Workbook, ch. 5): :func:`burn_rate_condition`.

    Parameters
    ----------
    name: unique within a pipeline.
    slo: the :class:`SLO` whose error budget is watched.
    burn_rate: fire when both windows burn faster than this (3.0: three times the sustainable pace).
    long_window, short_window: ints (requests) or durations (``"1h"``), both of one kind, short <= long.
    severity: ``"P0"`` (worst) to ``"P3"``.
    clear_burn_rate: a firing rule resolves once the long window's burn is at or below it (default 1.0);
        None: it resolves as soon as the condition is false.
    for_: as in :class:`AlertRule` (the Workbook uses none).
    min_count: requests the long window must hold before the rule may fire (a traffic floor; it resolves
        below it). Default: a full count window, or 1 request in a time window.
    description: free text.

    Examples
    --------
    >>> rule = BurnRateRule("burn", SLO(0.96), burn_rate=3.0, long_window=50, short_window=10)
    >>> rule.describe()
    'burn > 3x (12.0% errors) over 50 and 10 (SLO 96.0%)'

    Notes
    -----
    The Workbook lets the short window reset the alert. With request counts as small as a lesson's, a
    10-request window flickers during a 15 % error incident (two errors or not), so by default the rule
    resolves on the *long* window's burn falling to ``clear_burn_rate`` (hysteresis: the budget is no
    longer being overspent).
    """

    name: str
    slo: SLO
    burn_rate: float
    long_window: int | str
    short_window: int | str
    severity: str = "P1"
    clear_burn_rate: float | None = 1.0
    for_: float | str = 0.0
    min_count: int | None = None
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
        _check_min_count(self.min_count, self.long_window, "the long window")

    @property
    def threshold(self) -> float:
        """The error rate that corresponds to ``burn_rate``: ``burn_rate * (1 - slo.target)``."""
        return self.burn_rate * self.slo.error_budget

    @property
    def category(self) -> str:
        """Always ``"errors"``."""
        return "errors"

    def describe(self) -> str:
        """The rule in one line."""
        return (f"burn > {self.burn_rate:g}x ({self.threshold:.1%} errors) over {self.long_window} "
                f"and {self.short_window} (SLO {self.slo.target:.1%})")

    def _needs(self, default_spec: tuple[str, float]) -> list[tuple[str, tuple[str, float]]]:
        return [("error_rate", _window_spec("long_window", self.long_window)),
                ("error_rate", _window_spec("short_window", self.short_window))]

    def _alert(self, status: str, at: float, n: int, value: float) -> Alert:
        """The notification sent on entering (``"firing"``) or leaving (``"resolved"``) the firing state."""
        if status == "firing":
            what = f"error budget burn {value:.2f}x (threshold {self.burn_rate:g}x)"
        elif self.clear_burn_rate is not None:
            what = f"error budget burn back to {value:.2f}x (clears at {self.clear_burn_rate:g}x)"
        else:
            what = f"error budget burn back to {value:.2f}x"
        return Alert(self.name, status, float(at), int(n), float(value), float(self.burn_rate), self.severity,
                     self.metric, self.category, f"[{self.severity}] {self.name} {status.upper()}: {what}")


def standard_rules(slo_target: float = 0.96) -> tuple[AlertRule | BurnRateRule, ...]:
    """The rule set the notebooks use on request-level traffic (:mod:`prodai_lessons.simulate`).

    Parameters
    ----------
    slo_target: the availability objective of the error-budget rule.

    Examples
    --------
    >>> [(rule.severity, rule.name) for rule in standard_rules()]
    [('P1', 'error budget burn'), ('P2', 'high p95 latency'), ('P2', 'low confidence'), ('P3', 'cost per request')]

    Notes
    -----
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
# The pipeline
# --------------------------------------------------------------------------------------------------
class MonitoringPipeline:
    """Ingest requests, evaluate alert rules on a cadence, keep the notifications and a metrics snapshot.

    Parameters
    ----------
    rules: :class:`AlertRule` / :class:`BurnRateRule` objects (names must be unique).
    window: the window of :meth:`metrics` and of rules without their own (int requests or ``"5m"``).
    evaluate_every: evaluate the rules after every ``k`` requests (default 1); or
    evaluate_interval: every ``interval`` of clock time (seconds or ``"1m"``) at the ticks ``interval,
        2 interval, ...``. A tick is evaluated over the requests before it, when the first request at
        or after it arrives (or at :meth:`evaluate`); quiet ticks are evaluated too, so windows drain.
    slo: optional :class:`SLO`; the snapshot then reports the error budget remaining since the start.
    max_history: bound on the kept notifications and state changes (oldest dropped first).
    keep_trace: also record, per evaluation, every rule's value and state (for plots).

    Examples
    --------
    >>> rule = AlertRule("slow", "latency_mean", ">", 400.0, for_=2, window=2, clear_threshold=250.0)
    >>> p = MonitoringPipeline([rule])
    >>> for t, ms in enumerate([100, 900, 900, 900, 300, 300, 100]):   # 300: between the thresholds
    ...     p.log_request(ms, False, 0.9, 0.001, timestamp=float(t))
    >>> [(c.old, c.new, c.at) for c in p.state_changes]
    [('inactive', 'pending', 1.0), ('pending', 'firing', 3.0), ('firing', 'inactive', 6.0)]
    >>> [a.status for a in p.history]
    ['firing', 'resolved']

    Notes
    -----
    An evaluation computes each rule's condition over its window (a burn-rate rule's with
    :func:`burn_rate_condition`) and advances the rule by :func:`alert_step`. The window statistics come
    from ``_monitoring_engine._RequestLog``: running sums, sorted copies updated incrementally, threshold
    counts, and all evaluation points of a batch at once, vectorised. Every path gives the same values
    bit for bit: ``log_batch`` equals ``log_request`` row by row.
    """

    def __init__(self, rules: Sequence[AlertRule | BurnRateRule] = (), *, window: int | str = 200,
                 evaluate_every: int | None = None, evaluate_interval: float | str | None = None,
                 slo: SLO | None = None, max_history: int = 1000, keep_trace: bool = False) -> None:
        if isinstance(rules, (AlertRule, BurnRateRule, str)) or not isinstance(rules, Sequence):
            raise TypeError(f"rules must be a sequence of AlertRule/BurnRateRule; got {rules!r}")
        names: set[str] = set()
        for i, r in enumerate(rules):
            if not isinstance(r, (AlertRule, BurnRateRule)):
                raise TypeError(f"rules[{i}] must be an AlertRule or BurnRateRule; got {r!r}")
            if r.name in names:
                raise ValueError(f"rules must have unique names; {r.name!r} appears twice")
            names.add(r.name)
        self.rules: tuple[AlertRule | BurnRateRule, ...] = tuple(rules)
        self._spec = _window_spec("window", window)
        self._every, self._interval = _check_cadence(evaluate_every, evaluate_interval)
        if slo is not None and not isinstance(slo, SLO):
            raise TypeError(f"slo must be an SLO or None; got {slo!r}")
        self.slo = slo
        max_history = check_int("max_history", max_history, minimum=1)
        if not isinstance(keep_trace, bool):
            raise TypeError(f"keep_trace must be a bool; got {keep_trace!r}")
        self.keep_trace = keep_trace
        self._log = _RequestLog([r._needs(self._spec) for r in self.rules], self._spec, lazy=not keep_trace)
        self._book = _RuleBook(self.rules, self._log, self._spec, keep_trace, max_history)
        self._pending = self._log.pending           # requests logged one by one, stored at the next evaluation
        self._n = self._n_errors = 0
        self._last_t = -math.inf
        self._uses_time: bool | None = None
        self._next_n, self._next_t = self._every, self._interval

    # ---- ingestion ------------------------------------------------------------------------------
    def _check_clock_mode(self, has_timestamp: bool) -> None:
        """Raise unless a request with (or without) a timestamp fits the clock mode; changes nothing."""
        if self._uses_time is None:
            if not has_timestamp and (self._log.max_seconds > 0 or self._interval is not None):
                raise ValueError("timestamp is required: a window or evaluate_interval is a duration")
        elif self._uses_time != has_timestamp:
            raise ValueError("timestamp must be given for every request or for none "
                             f"(earlier requests {'had' if self._uses_time else 'had no'} timestamps)")

    def log_request(self, latency_ms: float, error: bool, confidence: float, cost_usd: float,
                    timestamp: float | None = None) -> None:
        """Log one request; evaluates the rules when the cadence is due.

        ``latency_ms`` in [0, ``MAX_LATENCY_MS``], ``error`` a bool (or 0/1), ``confidence`` in [0, 1],
        ``cost_usd`` in [0, ``MAX_COST_USD``]; ``timestamp`` (seconds) non-decreasing, or omitted for every
        request. A rejected request leaves the pipeline (clock mode included) exactly as it was."""
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
            self._log.flush()
            ticks = self._due_ticks(t)
            self._book.evaluate_many(np.full(ticks.size, self._log.store.end), ticks)
        self._last_t = t
        self._pending.append((t, lat, 1.0 if err else 0.0, conf, cost))
        self._n += 1
        self._n_errors += err
        if self._every is not None and self._n >= self._next_n:
            self._log.flush()
            self._book.evaluate(self._log.store.end, t)
            self._next_n += self._every

    def _due_ticks(self, t: float) -> np.ndarray:
        """The ticks at or before ``t`` not evaluated yet (interval mode), and the next tick moved past them."""
        k = int(math.floor((t - self._next_t) / self._interval)) + 1
        ticks = self._next_t + self._interval * np.arange(k, dtype=np.float64)
        self._next_t = float(ticks[-1]) + self._interval
        return ticks

    def log_batch(self, latency_ms: Any, error: Any, confidence: Any, cost_usd: Any, timestamp: Any = None) -> None:
        """Log many requests at once (arrays of equal length): the same result as :meth:`log_request` on
        each row in order, evaluations at the same points, but vectorised. The whole batch is checked
        before anything changes: a rejected batch leaves the pipeline exactly as it was."""
        lat, err, conf, cost = _check_columns(latency_ms, error, confidence, cost_usd)
        n = lat.size
        ts = None if timestamp is None else _check_timestamps(timestamp, n)
        if n == 0:
            return
        self._check_clock_mode(ts is not None)
        if ts is None:
            ts = np.arange(self._n, self._n + n, dtype=np.float64)
        else:
            _check_order(ts, self._last_t)
        # every check passed: only now does the pipeline change
        self._uses_time = timestamp is not None
        self._log.flush()
        start_row = self._log.store.end
        first = self._next_n - self._n if self._every is not None else 0   # 1-based position in the batch
        self._log.ingest(ts, lat, err, conf, cost)
        self._n += n
        self._n_errors += int(np.count_nonzero(err))
        self._last_t = float(ts[-1])
        if self._every is not None:  # after the requests that bring the count to next_n, next_n + every, ...
            pos = np.arange(first, n + 1, self._every, dtype=np.int64)
            if pos.size:
                self._book.evaluate_many(start_row + pos, ts[pos - 1])
                self._next_n += self._every * pos.size
        elif self._last_t >= self._next_t:
            ticks = self._due_ticks(self._last_t)
            self._book.evaluate_many(start_row + np.searchsorted(ts, ticks, side="left"), ticks)

    def log_requests(self, requests: Any) -> None:
        """Log a :class:`prodai_lessons.simulate.Requests` batch (with its timestamps)."""
        self.log_batch(requests.latency_ms, requests.error, requests.confidence, requests.cost_usd,
                       timestamp=requests.timestamp)

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
        self._log.flush()
        if self._interval is not None and now >= self._next_t:  # due ticks first: the clock never goes back
            ticks = self._due_ticks(now)
            self._book.evaluate_many(np.full(ticks.size, self._log.store.end), ticks)
        return self._book.evaluate(self._log.store.end, now)

    # ---- views ----------------------------------------------------------------------------------
    @property
    def history(self) -> tuple[Alert, ...]:
        """Notifications (``"firing"`` / ``"resolved"``), oldest first, at most ``max_history``."""
        return tuple(self._book.history)

    alerts = history  # the same notifications under a second name

    @property
    def state_changes(self) -> tuple[StateChange, ...]:
        """Every state change, ``pending`` included, oldest first, at most ``max_history``."""
        return tuple(self._book.changes)

    @property
    def active_alerts(self) -> tuple[Alert, ...]:
        """The ``"firing"`` notification of each rule firing now, in rule order (kept with the rule's state,
        so it stays here however long the episode and however short ``max_history``)."""
        return tuple(st.firing for st in self._book.states if st.firing is not None)

    @property
    def rule_states(self) -> dict[str, str]:
        """Rule name -> ``"inactive"`` / ``"pending"`` / ``"firing"``, in rule order."""
        return {r.name: st.state for r, st in zip(self.rules, self._book.states)}

    @property
    def n_requests(self) -> int:
        """Requests logged so far."""
        return self._n

    @property
    def n_evaluations(self) -> int:
        """Rule evaluations run so far."""
        return self._book.n_evaluations

    def trace(self) -> dict[str, np.ndarray]:
        """Per-evaluation record (needs ``keep_trace=True``): ``at``, ``n_requests``, then for each rule
        ``"<name>"`` its value and ``"<name>:state"`` its state (0 inactive, 1 pending, 2 firing)."""
        if not self.keep_trace:
            raise ValueError("keep_trace must be True when the pipeline is created to record a trace")
        return _trace_arrays(self._book.trace, [r.name for r in self.rules])

    def metrics(self) -> MetricsSnapshot:
        """A frozen snapshot over ``window`` (and totals since the start); see :class:`MetricsSnapshot`."""
        self._log.flush()
        now = self._last_t if self._n else None
        n, p50, p95, p99, err, conf, cpr, cost_window, thr = (
            _window_metrics(self._log, self._spec, now, self._uses_time) if self._n
            else (0, None, None, None, None, None, None, 0.0, None))
        budget = self.slo.budget_remaining(self._n, self._n_errors) if self.slo is not None and self._n else None
        return MetricsSnapshot(
            at=now, window=_spec_label(self._spec), n_in_window=n, n_requests_total=self._n,
            n_errors_total=self._n_errors, latency_p50_ms=p50, latency_p95_ms=p95, latency_p99_ms=p99,
            error_rate=err, throughput_per_s=thr, mean_confidence=conf, cost_per_request_usd=cpr,
            cost_in_window_usd=cost_window, cost_total_usd=self._log.cost_total,
            error_rate_total=(self._n_errors / self._n) if self._n else None, error_budget_remaining=budget,
            active_alerts=tuple(a.rule for a in self.active_alerts),
        )

    def __repr__(self) -> str:
        return (f"MonitoringPipeline(rules={len(self.rules)}, window={_spec_label(self._spec)!r}, "
                f"n_requests={self._n}, firing={[a.rule for a in self.active_alerts]})")


class _RuleBook:
    """The rules of a pipeline and where each stands: an evaluation advances every rule by :func:`alert_step`.

    ``evaluate`` reads the statistics at one point as Python scalars (the path of ``log_request``);
    ``evaluate_many`` computes every rule's condition at many points at once, vectorised, then steps the
    rules through them in order (the path of ``log_batch``). ``history`` and ``changes`` keep the
    notifications and state changes, ``trace`` (with ``keep_trace``) every value and state.
    """

    def __init__(self, rules: tuple, log: _RequestLog, default_spec: tuple[str, float], keep_trace: bool,
                 max_history: int) -> None:
        self.rules = rules
        self.log = log
        self.plans = [_burn_plan(r, log, default_spec) if isinstance(r, BurnRateRule)
                      else _threshold_plan(r, log, default_spec, keep_trace) for r in rules]
        self.states = [_RuleState() for _ in rules]
        self.history: deque[Alert] = deque(maxlen=max_history)
        self.changes: deque[StateChange] = deque(maxlen=max_history)
        self.trace: list[tuple[float, int, tuple[float, ...], tuple[str, ...]]] | None = [] if keep_trace else None
        self.n_evaluations = 0

    def evaluate(self, end: int, now: float) -> tuple[Alert, ...]:
        """Every rule at one point (window end row, clock time); returns the notifications sent."""
        log = self.log
        vals, counts, starts = log.at(end, now)
        out: list[Alert] = []
        values = []
        for rule, rs, plan in zip(self.rules, self.states, self.plans):
            firing = rs.state == "firing"  # only a firing rule asks whether the value has recovered
            if plan[0]:  # a burn-rate rule: both windows full enough, and both burning
                _, i_long, i_short, need_l, need_s, target, budget, burn, clear_burn = plan
                value = vals[i_long] / budget                      # the long window's burn, reported
                floor = counts[i_long] >= need_l                   # the long window's traffic floor
                fire = floor and counts[i_short] >= need_s and burn_rate_condition(vals[i_long], vals[i_short],
                                                                                   target, burn)
                clear = firing and ((not fire) if clear_burn is None else (not floor) or value <= clear_burn)
            else:
                _, i, min_count, cmp, threshold, clear_at, _ = plan
                value = vals[i]
                if value is not None:
                    ok = counts[i] >= min_count and value == value
                    fire = ok and cmp(value, threshold)
                    clear = firing and ((not ok) or not cmp(value, clear_at))
                else:  # a percentile left uncomputed: the comparison the state needs, decided from counts
                    fire, clear, value = log.percentile_condition(plan, firing, counts[i], starts, end)
                    vals[i] = value
            if fire or rs.state != "inactive":
                if value is None and self._step(rule, rs, fire, clear, None, now, end, out):
                    value = vals[i] = log.percentile_of(i, starts, end)   # a change reports its value
                if value is not None:
                    self._step(rule, rs, fire, clear, value, now, end, out)
            values.append(value)
        if self.trace is not None:
            self.trace.append((now, end, tuple(values), tuple(s.state for s in self.states)))
        self.n_evaluations += 1
        return tuple(out)

    def evaluate_many(self, ends: np.ndarray, nows: np.ndarray) -> tuple[Alert, ...]:
        """Every rule at each point (window end rows, clock times), in order; the conditions vectorised."""
        ends = np.asarray(ends, dtype=np.int64)
        nows = np.asarray(nows, dtype=np.float64)
        if ends.size == 1:
            return self.evaluate(int(ends[0]), float(nows[0]))
        stats = self.log.many(ends, nows)
        columns = []  # per rule: (values, breached, recovered) at every point
        for plan in self.plans:
            with np.errstate(invalid="ignore"):
                if plan[0]:
                    _, i_long, i_short, need_l, need_s, target, budget, burn, clear_burn = plan
                    (v_long, n_long), (v_short, n_short) = stats[i_long], stats[i_short]
                    floor = n_long >= need_l
                    fire = floor & (n_short >= need_s) & burn_rate_condition(v_long, v_short, target, burn)
                    b_long = v_long / budget
                    columns.append((b_long, fire, ~fire if clear_burn is None else ~floor | (b_long <= clear_burn)))
                else:
                    _, i, min_count, cmp, threshold, clear_at, _ = plan
                    vals, counts = stats[i]
                    ok = (counts >= min_count) & ~np.isnan(vals)
                    columns.append((vals, ok & cmp(vals, threshold), ~ok | ~cmp(vals, clear_at)))
        cols = [(v.tolist(), f.tolist(), c.tolist()) for v, f, c in columns]
        out: list[Alert] = []
        for j, (end, now) in enumerate(zip(ends.tolist(), nows.tolist())):
            for rule, st, (vals, fire, clear) in zip(self.rules, self.states, cols):
                if st.state != "inactive" or fire[j]:  # inactive and not breached: nothing happens
                    self._step(rule, st, fire[j], clear[j], vals[j], now, end, out)
            if self.trace is not None:
                self.trace.append((now, end, tuple(c[0][j] for c in cols), tuple(s.state for s in self.states)))
        self.n_evaluations += ends.size
        return tuple(out)

    def _step(self, rule, st: _RuleState, fire: bool, clear: bool, value: float | None, now: float, end: int,
              out: list[Alert]) -> str | None:
        """Advance one rule by :func:`alert_step`, record a change and send its notification.

        Returns the new state, or None when the state does not change. With ``value`` None nothing is
        recorded: the caller learns whether the value is needed (to report the change) before computing it.
        """
        new, since = alert_step(st.state, st.since, now, fire, clear, rule.for_)
        old = st.state
        if new == old or value is None:
            return None if new == old else new
        st.state, st.since = new, since
        self.changes.append(StateChange(rule.name, now, end, old, new, value))
        if new == "firing" or old == "firing":
            a = rule._alert("firing" if new == "firing" else "resolved", now, end, value)
            st.firing = a if new == "firing" else None
            out.append(a)
            self.history.append(a)
        return new


# --------------------------------------------------------------------------------------------------
# The counter-example
# --------------------------------------------------------------------------------------------------
class NaiveThresholdMonitor:
    """A common first monitor, kept as the counter-example: an alert on every request over a threshold.

    Parameters
    ----------
    window_size: how many recent requests the statistics cover.
    latency_p95_ms, error_rate, cost_per_request: the thresholds.

    Examples
    --------
    >>> m = NaiveThresholdMonitor(10, latency_p95_ms=500.0)
    >>> for i in range(14):
    ...     m.log_request(900.0, False, 0.9, 0.001)    # one slow stretch ...
    >>> m.alerts                                        # ... and one alert per request
    [(10, 'latency'), (11, 'latency'), (12, 'latency'), (13, 'latency'), (14, 'latency')]

    Notes
    -----
    On *every* request it copies the last ``window_size`` values into lists, recomputes
    ``np.percentile`` (O(N) per request) and appends an alert for every threshold that is crossed, again
    at the next request, and the next: a storm while a condition lasts, and no notion of an episode.
    With a 200-request window, a 15 % error burst of 50 requests only lifts the window's rate to about
    5 %, so the error alert may never fire. Alerts start once 10 requests have been seen.
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
        """Log one request and append an alert for every threshold its window crosses now."""
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
