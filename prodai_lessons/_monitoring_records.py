"""Monitoring records: the notifications a pipeline sends, its state changes, episodes and snapshots.

Re-exported by :mod:`prodai_lessons.monitoring`, where the lesson explains them. They are plain frozen
dataclasses; :class:`Alert` checks its fields on construction with the same rules the incident manager
(:mod:`prodai_lessons.incidents`) applies, so a malformed notification fails where it is made.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from prodai_lessons._monitoring_engine import METRICS, SEVERITIES
from prodai_lessons._validation import check_choice, check_int, check_real, check_str

__all__ = ["Alert", "StateChange", "AlertEpisode", "alert_episodes", "MetricsSnapshot"]


@dataclass(frozen=True)
class Alert:
    """One notification: a rule started ``"firing"`` or was ``"resolved"``.

    Parameters
    ----------
    rule, status: the rule's name; ``"firing"`` or ``"resolved"``.
    at: the pipeline clock (seconds, or the request number without timestamps).
    n_requests: requests logged when the rule was evaluated.
    value, threshold: what the rule saw (a burn-rate rule: the long window's burn rate) and its threshold.
    severity, metric, category: ``"P0"``..``"P3"``; the metric watched and what it is about.
    message: the text a person reads.

    Examples
    --------
    >>> a = Alert("slow", "firing", at=12.0, n_requests=12, value=700.0, threshold=600.0, severity="P2",
    ...           metric="latency_p95", category="latency", message="[P2] slow FIRING")
    >>> a.status, a.value > a.threshold
    ('firing', True)

    Notes
    -----
    The fields are checked on construction (``TypeError``/``ValueError`` naming the field), with the
    same rules :meth:`prodai_lessons.incidents.IncidentManager.on_alert` applies: ``severity`` one of
    :data:`SEVERITIES`; ``rule`` and ``category`` non-empty strings; ``metric`` one of :data:`METRICS`;
    ``at`` and ``threshold`` finite; ``n_requests`` an integer >= 0; ``value`` finite, or NaN in a
    ``"resolved"`` notification only (a rule whose time window has drained resolves with nothing left to
    measure). Numbers are stored as ``float`` / ``int``.
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
    """A rule moved from one state to another (``"inactive"``, ``"pending"``, ``"firing"``).

    Parameters
    ----------
    rule: the rule's name.
    at, n_requests: the pipeline clock and the requests logged at the evaluation.
    old, new: the states before and after.
    value: the value the rule saw.

    Examples
    --------
    >>> StateChange("slow", at=3.0, n_requests=4, old="inactive", new="pending", value=700.0).new
    'pending'
    """

    rule: str
    at: float
    n_requests: int
    old: str
    new: str
    value: float


@dataclass(frozen=True)
class AlertEpisode:
    """A firing episode reconstructed from notifications: ``[start, end)``; ``end`` None while firing.

    Parameters
    ----------
    rule, severity: the rule that fired and its severity.
    start, end: the clock of its ``"firing"`` and ``"resolved"`` notifications.
    start_n, end_n: the request counts at those notifications.

    Examples
    --------
    >>> AlertEpisode("slow", "P2", start=10.0, end=25.0, start_n=10, end_n=25).end
    25.0
    """

    rule: str
    severity: str
    start: float
    end: float | None
    start_n: int
    end_n: int | None


def alert_episodes(history: Iterable[Alert]) -> tuple[AlertEpisode, ...]:
    """Pair each ``"firing"`` with the next ``"resolved"`` of the same rule (ordered by start time).

    Parameters
    ----------
    history: :class:`Alert` notifications in the order they were sent (a pipeline's ``history``).

    Examples
    --------
    >>> def note(status, at):
    ...     return Alert("slow", status, at, int(at), 700.0, 600.0, "P2", "latency_p95", "latency", "")
    >>> [(e.start, e.end) for e in alert_episodes([note("firing", 10.0), note("resolved", 25.0),
    ...                                            note("firing", 40.0)])]
    [(10.0, 25.0), (40.0, None)]

    Notes
    -----
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
    """What a pipeline sees now: window statistics, totals since the start, and the firing alerts.

    Window fields (``n_in_window``, the latency percentiles, ``error_rate``, ``throughput_per_s``,
    ``mean_confidence``, ``cost_per_request_usd``, ``cost_in_window_usd``) cover the pipeline's
    ``window``; ``*_total`` fields and ``error_budget_remaining`` cover everything since it started.
    Made by :meth:`prodai_lessons.monitoring.MonitoringPipeline.metrics`.

    Examples
    --------
    >>> from prodai_lessons.monitoring import MonitoringPipeline
    >>> p = MonitoringPipeline(window=3)
    >>> for ms in (100.0, 200.0, 300.0, 400.0):
    ...     p.log_request(ms, False, 0.9, 0.5)
    >>> m = p.metrics()
    >>> m.n_in_window, m.latency_p50_ms, m.cost_in_window_usd, m.cost_total_usd
    (3, 300.0, 1.5, 2.0)

    Notes
    -----
    Fields are ``None`` when there is nothing to measure (no requests yet; throughput without
    timestamps; the error budget without an SLO).
    """

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
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self._rows())
        return f"<table><caption>MetricsSnapshot</caption>{body}</table>"

    def to_text(self) -> str:
        """The snapshot as aligned text lines (for printing)."""
        rows = self._rows()
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

