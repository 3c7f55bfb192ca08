"""The 24-hour observability dashboard, drawn from what the course's components recorded.

Nothing on the dashboard is generated for the picture. A day of traffic goes through the real pieces,
and the panels read what they kept. Read the two ideas first:

- :func:`line_panel`: one panel. A metric as the monitoring pipeline reported it, scrape by scrape, its
  alert rule's own threshold, and the windows in which alerts fired, shaded.
- :func:`merge_episodes`: incident windows from the **alert history**. Firing episodes of all rules merge
  when they overlap or are less than ``merge_gap`` apart (one incident trips several rules a few minutes
  apart). A window covers an hour when alerts fired for at least half of it (:func:`hours_covered`): an
  incident from 14:00 to 17:00 covers "hours 14-16" (14, 15 and 16), never "14-17", the label a Python
  slice ``14:17`` invites although it holds hours 14, 15 and 16.

Then the plumbing:

- :class:`MetricsRecorder` scrapes :meth:`MonitoringPipeline.metrics` on a grid (every 5 minutes by
  default), as Prometheus scrapes a target: traffic, latency p95, error rate and mean confidence panels
  are those scrapes; the threshold lines are the pipeline's own alert rules.
- The cost panel is :meth:`CostTracker.binned_costs` (exact hourly sums).
- The guardrail panel counts the triggers the :class:`GuardrailPipeline` reported, per hour and guard.
- :func:`alert_windows` pairs each rule's firing and resolved notifications into episodes and merges them.

:func:`plot_dashboard` draws the six panels, :func:`write_report` writes a standalone HTML page (PNG embedded
as base64, summary and alert tables) that opens without Jupyter, also as ``prodai dashboard --out report.html``.
:func:`simulate_observed_day` runs the whole day (used by the command line and the tests).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from prodai_lessons._dashboard_engine import clock_text, day_texts, html_page, incident_line
from prodai_lessons._validation import as_1d_array, as_category_array, check_int, check_real
from prodai_lessons.cost import CostTracker, load_pricing
from prodai_lessons.guardrails import (
    GroundednessGuard,
    GuardrailPipeline,
    InvisibleTextGuard,
    LanguageGuard,
    LengthGuard,
    PIIGuard,
    PromptInjectionGuard,
    ToxicityGuard,
    load_groundedness_corpus,
)
from prodai_lessons.incidents import IncidentManager
from prodai_lessons.monitoring import SLO, Alert, AlertRule, BurnRateRule, MetricsSnapshot, MonitoringPipeline
from prodai_lessons.simulate import simulate_day

__all__ = [
    "line_panel",
    "merge_episodes",
    "hours_covered",
    "MetricsRecorder",
    "AlertWindow",
    "alert_windows",
    "format_hours",
    "DaySummary",
    "DashboardData",
    "collect_dashboard",
    "plot_dashboard",
    "report_html",
    "write_report",
    "day_rules",
    "ObservedDay",
    "simulate_observed_day",
]

HOUR = 3600.0


# ------------------------------------------------------------------------------------------ the ideas
def line_panel(ax: Any, times_s: Any, values: Any, windows: Sequence[AlertWindow] = (), *,
               threshold: float | None = None, label: str = "alert threshold", color: str = "#2e86c1",
               unit_s: float = HOUR) -> Any:
    """Draw one dashboard panel: a recorded metric over the day, its alert threshold, the alert windows.

    ``times_s``, ``values``: one metric's scrapes (``recorder.times``, ``recorder.series(name)``);
    ``threshold``: the alert rule's own threshold (dashed, with ``label``); ``windows``: the
    :func:`alert_windows` of the pipeline's history, shaded, so the picture and the pager agree.
    Assumes ``times_s`` and ``values`` of one length; x is in hours (``unit_s`` seconds).

    >>> fig, ax = plt.subplots()
    >>> _ = line_panel(ax, [300.0, 600.0, 900.0], [340.0, 720.0, 350.0], threshold=500.0)
    >>> len(ax.lines)  # the metric and its threshold
    2
    >>> plt.close(fig)
    """
    ax.plot(np.asarray(times_s) / unit_s, values, color=color, lw=1.5)  # x in hours of the day
    if threshold is not None:
        ax.axhline(threshold, color="#c0392b", ls="--", lw=1, label=label)
    _shade(ax, windows, unit_s)  # each window a light red band
    return ax


def merge_episodes(episodes: Sequence[tuple[float, float, str, str]], gap: float
                   ) -> list[tuple[float, float, list[str], str]]:
    """Merge firing episodes ``(start, end, rule, severity)``, sorted by start, into incident windows.

    An episode joins the last window when it starts at most ``gap`` seconds after that window ends. A
    window keeps its rules in order of firing and the worst severity (``"P0" < "P1"``, so ``min``).

    >>> merge_episodes([(0, 60, "latency", "P2"), (90, 200, "errors", "P1"), (900, 960, "latency", "P3")],
    ...                gap=60)
    [(0, 200, ['latency', 'errors'], 'P1'), (900, 960, ['latency'], 'P3')]
    """
    merged: list[tuple[float, float, list[str], str]] = []
    for start, end, rule, severity in episodes:
        if merged and start <= merged[-1][1] + gap:  # overlaps or nearly touches the last window
            first, last, rules, worst = merged[-1]
            merged[-1] = (first, max(last, end), rules + [rule] * (rule not in rules), min(worst, severity))
        else:
            merged.append((start, end, [rule], severity))
    return merged


def hours_covered(start_s: float, end_s: float, min_share: float = 0.5, width: float = HOUR) -> tuple[int, ...]:
    """The hours ``h`` (bins ``[h * width, (h + 1) * width)``) that ``[start_s, end_s)`` covers for at least
    ``min_share`` of their length. Assumes ``start_s <= end_s``.

    >>> hours_covered(14 * HOUR, 17 * HOUR), hours_covered(14 * HOUR + 600, 15 * HOUR + 1200)
    ((14, 15, 16), (14,))
    """
    first, last = int(start_s // width), int(math.ceil(end_s / width))
    return tuple(h for h in range(first, max(last, first + 1))
                 if min(end_s, (h + 1) * width) - max(start_s, h * width) >= min_share * width)


def _shade(ax: Any, windows: Sequence[AlertWindow], unit_s: float, label: str | None = None) -> None:
    """Shade each window on ``ax`` (x in units of ``unit_s``); ``label`` names the first one in the legend."""
    for k, w in enumerate(windows):
        ax.axvspan(w.start_s / unit_s, w.end_s / unit_s, color="#e74c3c", alpha=0.13, lw=0,
                   label=label if k == 0 else None)


# ------------------------------------------------------------------------------------------ scraping
class MetricsRecorder:
    """Keep :class:`MetricsSnapshot` s of a pipeline over time: the time series a dashboard plots.

    Call :meth:`scrape` at regular times (e.g. after feeding each 5-minute slice of traffic). ``at``
    (default: the snapshot's own time) must not go backwards.

    >>> pipeline = MonitoringPipeline(day_rules(), window="5m")
    >>> recorder = MetricsRecorder()
    >>> pipeline.log_batch([300.0, 320.0, 900.0], [False, False, True], [0.9, 0.8, 0.7], [0.001] * 3,
    ...                    timestamp=[10.0, 20.0, 30.0])
    >>> _ = recorder.scrape(pipeline, at=300.0)
    >>> recorder.times, recorder.series("n_requests_total"), recorder.series("latency_p95_ms")
    (array([300.]), array([3.]), array([842.]))
    """

    def __init__(self) -> None:
        self._at: list[float] = []
        self._snapshots: list[MetricsSnapshot] = []

    def scrape(self, pipeline: MonitoringPipeline, at: float | None = None) -> MetricsSnapshot:
        """Record ``pipeline.metrics()`` at time ``at``; returns the snapshot."""
        if not isinstance(pipeline, MonitoringPipeline):
            raise TypeError(f"pipeline must be a MonitoringPipeline; got {type(pipeline).__name__}")
        snap = pipeline.metrics()
        if at is None:
            at = 0.0 if snap.at is None else snap.at
        at = check_real("at", at)
        if self._at and at < self._at[-1]:
            raise ValueError(f"at must not be earlier than the previous scrape ({self._at[-1]}); got {at}")
        self._at.append(at)
        self._snapshots.append(snap)
        return snap

    def __len__(self) -> int:
        return len(self._at)

    @property
    def times(self) -> np.ndarray:
        """Scrape times, seconds."""
        return np.array(self._at, dtype=np.float64)

    @property
    def snapshots(self) -> tuple[MetricsSnapshot, ...]:
        return tuple(self._snapshots)

    def series(self, name: str) -> np.ndarray:
        """One snapshot field over time as floats; ``None`` (nothing to measure) becomes NaN, a gap in a plot."""
        if name not in MetricsSnapshot.__dataclass_fields__:
            raise ValueError(f"name must be a MetricsSnapshot field; got {name!r}")
        values = [getattr(s, name) for s in self._snapshots]
        for v in values:
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ValueError(f"name must be a numeric MetricsSnapshot field; {name!r} holds "
                                 f"{type(v).__name__} values")
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


# ------------------------------------------------------------------------------------------ windows
def format_hours(hours: Sequence[int]) -> str:
    """``(14, 15, 16)`` -> ``"hours 14-16"``; gaps listed: ``(1, 2, 5)`` -> ``"hours 1-2, 5"``; ``()`` -> ``"no full hour"``.

    Ranges are inclusive: every hour named is covered.

    >>> format_hours((14, 15, 16)), format_hours((1, 2, 5)), format_hours(())
    ('hours 14-16', 'hours 1-2, 5', 'no full hour')
    """
    hs = sorted({int(h) for h in hours})
    if not hs:
        return "no full hour"
    parts, start, prev = [], hs[0], hs[0]
    for h in hs[1:] + [None]:
        if h is not None and h == prev + 1:
            prev = h
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if h is not None:
            start = prev = h
    return ("hour " if len(hs) == 1 else "hours ") + ", ".join(parts)


@dataclass(frozen=True)
class AlertWindow:
    """A stretch of time during which at least one alert was firing, ``[start_s, end_s)``.

    ``hours`` are the hours covered by at least ``min_share`` (default half) of their length; ``rules`` the
    rules that fired in it, in order of firing; ``severity`` the worst of them; ``open`` when an alert was
    still firing at the end of the data.

    >>> w = AlertWindow(14 * HOUR + 360, 17 * HOUR + 720, (14, 15, 16), ("high p95 latency",), "P2")
    >>> w.label(), w.duration_s
    ('14:06-17:12, hours 14-16 (P2)', 11160.0)
    """

    start_s: float
    end_s: float
    hours: tuple[int, ...]
    rules: tuple[str, ...]
    severity: str
    open: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def label(self) -> str:
        """E.g. ``"14:06-17:14, hours 14-16 (P1)"``: clock times and the hours the window really covers."""
        end = clock_text(self.end_s) + ("+" if self.open else "")
        return f"{clock_text(self.start_s)}-{end}, {format_hours(self.hours)} ({self.severity})"


def alert_windows(
    history: Sequence[Alert],
    *,
    until: float | None = None,
    merge_gap: float = 900.0,
    min_share: float = 0.5,
    bin_seconds: float = HOUR,
) -> tuple[AlertWindow, ...]:
    """Incident windows from a pipeline's notification history.

    Each rule's ``"firing"`` notification is paired with its next ``"resolved"`` (an episode; one still
    firing ends at ``until``, default the last notification's time). Episodes of all rules are merged
    when they overlap or are at most ``merge_gap`` seconds apart (one incident trips several rules, a
    few minutes apart; :func:`merge_episodes`). Hour ``h`` belongs to a window when the window covers at
    least ``min_share`` of ``[h * bin_seconds, (h + 1) * bin_seconds)`` (:func:`hours_covered`).

    >>> def alert(rule, status, at):
    ...     return Alert(rule, status, at, 0, 0.0, 0.0, "P2", "latency_p95", "latency", f"{rule} {status}")
    >>> history = [alert("latency", "firing", 14 * HOUR), alert("confidence", "firing", 14 * HOUR + 120),
    ...            alert("latency", "resolved", 17 * HOUR), alert("confidence", "resolved", 17 * HOUR + 60)]
    >>> [w.label() for w in alert_windows(history)]
    ['14:00-17:01, hours 14-16 (P2)']
    """
    gap = check_real("merge_gap", merge_gap, minimum=0.0)
    share = check_real("min_share", min_share, minimum=0.0, maximum=1.0, strict_minimum=True)
    width = check_real("bin_seconds", bin_seconds, minimum=0.0, strict_minimum=True)
    episodes: list[tuple[float, float, str, str, bool]] = []
    open_: dict[str, Alert] = {}
    last = -math.inf
    for i, a in enumerate(history):
        if not isinstance(a, Alert):
            raise TypeError(f"history[{i}] must be an Alert notification; got {type(a).__name__}")
        if a.at < last:
            raise ValueError(f"history must be in time order; history[{i}] at {a.at} comes after {last}")
        last = a.at
        if a.status == "firing":
            open_.setdefault(a.rule, a)
        elif a.status == "resolved" and a.rule in open_:
            f = open_.pop(a.rule)
            episodes.append((f.at, a.at, f.rule, f.severity, False))
    end_default = last if until is None else check_real("until", until)
    for f in open_.values():
        episodes.append((f.at, max(end_default, f.at), f.rule, f.severity, True))
    episodes.sort(key=lambda e: (e[0], e[2]))
    open_starts = [e[0] for e in episodes if e[4]]
    out = []
    for start, end, rules, sev in merge_episodes([e[:4] for e in episodes], gap):
        is_open = any(start <= t <= end for t in open_starts)
        out.append(AlertWindow(float(start), float(end), hours_covered(start, end, share, width), tuple(rules),
                               sev, is_open))
    return tuple(out)


# ------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class DaySummary:
    """The day in figures; every number comes from a component's record (see :func:`collect_dashboard`).

    Requests, error rate and error budget from the pipeline's last scrape; latency p95 over the scrapes;
    cost from the tracker; guardrail triggers per guard; alerts fired per rule; the incident windows'
    labels; and free ``incidents``/``notes`` lines. ``rows()`` and ``to_text()`` lay them out.

    >>> summary = simulate_observed_day(seed=0).data.summary
    >>> summary.n_requests, summary.alerts_fired, summary.incident_windows
    (30855, 3, ('14:06-17:12, hours 14-16 (P1)',))
    >>> print(summary.to_text().splitlines()[1])
    error rate (day)                          4.23%
    """

    n_requests: int
    error_rate: float | None
    error_budget_remaining: float | None
    latency_p95_median_ms: float | None
    latency_p95_worst_ms: float | None
    total_cost: float
    cost_per_request: float
    cache_hit_rate: float
    guardrail_triggers: int
    guardrail_by_guard: dict[str, int]
    alerts_fired: int
    alerts_by_rule: dict[str, int]
    incident_windows: tuple[str, ...]
    incidents: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs, in display order."""
        def pct(v):
            return "-" if v is None else f"{v:.2%}"

        def ms(v):
            return "-" if v is None else f"{v:.0f} ms"

        rows = [
            ("requests", f"{self.n_requests:,}"),
            ("error rate (day)", pct(self.error_rate)),
            ("error budget remaining", pct(self.error_budget_remaining)),
            ("latency p95, median / worst 5-min scrape", f"{ms(self.latency_p95_median_ms)} / "
                                                         f"{ms(self.latency_p95_worst_ms)}"),
            ("total cost", f"${self.total_cost:,.2f}"),
            ("cost per request", f"${self.cost_per_request:.5f}"),
        ]
        if self.cache_hit_rate:
            rows.append(("response cache hit rate", f"{self.cache_hit_rate:.1%}"))
        rows += [
            ("guardrail triggers", f"{self.guardrail_triggers:,}" + (
                " (" + ", ".join(f"{k} {v:,}" for k, v in self.guardrail_by_guard.items()) + ")"
                if self.guardrail_by_guard else "")),
            ("alerts fired", f"{self.alerts_fired}" + (
                " (" + ", ".join(f"{k} {v}" for k, v in self.alerts_by_rule.items()) + ")"
                if self.alerts_by_rule else "")),
            ("incident windows (from alerts)", "; ".join(self.incident_windows) or "none"),
        ]
        rows += [("incident", line) for line in self.incidents]
        rows += [("note", line) for line in self.notes]
        return rows

    def to_text(self) -> str:
        """Aligned text lines, for printing."""
        rows = self.rows()
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def _repr_html_(self) -> str:
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
                       f"{html.escape(v)}</td></tr>" for k, v in self.rows())
        return f"<table><caption>Day summary</caption>{body}</table>"


@dataclass(frozen=True)
class DashboardData:
    """Everything the six panels and the report show.

    Time series (``times`` in seconds, one entry per scrape): ``requests_per_hour`` (the request rate over
    the preceding scrape interval), ``latency_p95_ms``, ``error_rate``, ``confidence``. Per bin
    (``n_bins`` of ``bin_seconds``): ``cost`` (USD) and ``guardrail_triggers`` (guard -> counts).
    ``thresholds``: metric -> the alert rule's threshold. ``windows``: from the alert history.

    >>> data = simulate_observed_day(seed=0).data
    >>> len(data.times), data.cost.shape, round(float(data.cost.sum()), 2), data.thresholds["latency_p95"]
    (288, (24,), 164.37, 500.0)
    """

    title: str
    bin_seconds: float
    n_bins: int
    times: np.ndarray
    requests_per_hour: np.ndarray
    latency_p95_ms: np.ndarray
    error_rate: np.ndarray
    confidence: np.ndarray
    cost: np.ndarray
    guardrail_triggers: dict[str, np.ndarray]
    thresholds: dict[str, float]
    windows: tuple[AlertWindow, ...]
    alerts: tuple[Alert, ...]
    summary: DaySummary

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()


def _thresholds(rules: Sequence[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rules:
        if isinstance(r, BurnRateRule):
            out.setdefault("error_rate", r.threshold)
        elif isinstance(r, AlertRule) and r.metric in ("latency_p95", "error_rate", "mean_confidence"):
            out.setdefault(r.metric, r.threshold)
    return out


def collect_dashboard(
    recorder: MetricsRecorder,
    pipeline: MonitoringPipeline,
    tracker: CostTracker,
    *,
    guardrail_times: Any = None,
    guardrail_names: Any = None,
    incidents: Sequence[str] = (),
    notes: Sequence[str] = (),
    n_bins: int = 24,
    bin_seconds: float = HOUR,
    merge_gap: float = 900.0,
    title: str = "24-hour production dashboard",
) -> DashboardData:
    """Gather the dashboard's data from the components that recorded the day.

    ``recorder``: scrapes of ``pipeline`` (traffic, latency, errors, quality); ``pipeline``: its rules give
    the thresholds and its ``history`` the incident windows; ``tracker``: the cost per bin and the cost
    summary; ``guardrail_times``/``guardrail_names``: one entry per guardrail trigger (time, guard name);
    ``incidents``/``notes``: lines for the summary (e.g. each incident's one-line description).

    >>> day = simulate_observed_day(seed=0, guarded_share=0.0)
    >>> data = collect_dashboard(day.recorder, day.pipeline, day.tracker, notes=["a quiet night"])
    >>> [w.label() for w in data.windows], data.summary.notes
    (['14:06-17:12, hours 14-16 (P1)'], ('a quiet night',))
    """
    if not isinstance(recorder, MetricsRecorder):
        raise TypeError(f"recorder must be a MetricsRecorder; got {type(recorder).__name__}")
    if len(recorder) < 2:
        raise ValueError(f"recorder must hold at least 2 scrapes; got {len(recorder)}")
    if not isinstance(pipeline, MonitoringPipeline):
        raise TypeError(f"pipeline must be a MonitoringPipeline; got {type(pipeline).__name__}")
    if not isinstance(tracker, CostTracker):
        raise TypeError(f"tracker must be a CostTracker; got {type(tracker).__name__}")
    n_bins = check_int("n_bins", n_bins, minimum=1)
    width = check_real("bin_seconds", bin_seconds, minimum=0.0, strict_minimum=True)
    end = n_bins * width

    times = recorder.times
    total = recorder.series("n_requests_total")
    dt = np.diff(times, prepend=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(dt > 0, np.diff(total, prepend=0.0) / dt * HOUR, np.nan)

    if guardrail_times is None:
        g_t = np.zeros(0)
        g_n = np.zeros(0, dtype=object)
    else:
        g_t = as_1d_array("guardrail_times", guardrail_times, min_size=0)
        g_n = as_category_array("guardrail_names", guardrail_names, min_size=0)
        if g_n.shape != g_t.shape:
            raise ValueError(f"guardrail_names must have one name per trigger ({g_t.size}); got shape {g_n.shape}")
    triggers: dict[str, np.ndarray] = {}
    for name in sorted({str(x) for x in g_n.tolist()}):
        sel = (g_n == name) & (g_t >= 0) & (g_t < end)
        triggers[name] = np.bincount((g_t[sel] // width).astype(np.int64), minlength=n_bins)

    history = pipeline.history
    windows = alert_windows(history, until=max(float(times[-1]), end), merge_gap=merge_gap, bin_seconds=width)
    report = tracker.report()
    last = recorder.snapshots[-1]
    p95 = recorder.series("latency_p95_ms")
    fired = [a for a in history if a.status == "firing"]
    by_rule: dict[str, int] = {}
    for a in fired:
        by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
    summary = DaySummary(
        n_requests=int(last.n_requests_total),
        error_rate=last.error_rate_total,
        error_budget_remaining=last.error_budget_remaining,
        latency_p95_median_ms=float(np.nanmedian(p95)) if np.isfinite(p95).any() else None,
        latency_p95_worst_ms=float(np.nanmax(p95)) if np.isfinite(p95).any() else None,
        total_cost=report.total_cost,
        cost_per_request=report.cost_per_request,
        cache_hit_rate=report.cache_hit_rate,
        guardrail_triggers=int(sum(int(v.sum()) for v in triggers.values())),
        guardrail_by_guard={k: int(v.sum()) for k, v in triggers.items()},
        alerts_fired=len(fired),
        alerts_by_rule=by_rule,
        incident_windows=tuple(w.label() for w in windows),
        incidents=tuple(str(x) for x in incidents),
        notes=tuple(str(x) for x in notes),
    )
    return DashboardData(
        title=str(title),
        bin_seconds=width,
        n_bins=n_bins,
        times=times,
        requests_per_hour=rate,
        latency_p95_ms=p95,
        error_rate=recorder.series("error_rate"),
        confidence=recorder.series("mean_confidence"),
        cost=tracker.binned_costs(width, n_bins, 0.0),
        guardrail_triggers=triggers,
        thresholds=_thresholds(pipeline.rules),
        windows=windows,
        alerts=history,
        summary=summary,
    )


# ------------------------------------------------------------------------------------------ plotting
_GUARD_COLORS = ("#e67e22", "#8e44ad", "#16a085", "#c0392b", "#2c3e50", "#7f8c8d", "#2980b9", "#d4ac0d")


def plot_dashboard(data: DashboardData, *, figsize: tuple[float, float] = (15, 12)):
    """Six panels (traffic, latency p95, error rate, quality, cost, guardrail triggers) with the incident
    windows from the alert history shaded on each, and labelled on the traffic panel. Returns the Figure.

    The x axis is in hours (``bin_seconds`` units); threshold lines are the pipeline's alert rules.
    ``data``: from :func:`collect_dashboard`; ``figsize``: inches.

    >>> fig = plot_dashboard(simulate_observed_day(seed=0).data)
    >>> len(fig.axes), [ax.get_title() for ax in fig.axes][:2]
    (6, ['Traffic', 'Latency p95 (5-minute window)'])
    >>> plt.close(fig)
    """
    if not isinstance(data, DashboardData):
        raise TypeError(f"data must be DashboardData (see collect_dashboard); got {type(data).__name__}")
    unit = data.bin_seconds
    x = data.times / unit
    edges = np.arange(data.n_bins)
    fig, axes = plt.subplots(3, 2, figsize=figsize, sharex=True)
    (ax_t, ax_l), (ax_e, ax_q), (ax_c, ax_g) = axes

    ax_t.plot(x, data.requests_per_hour, color="#2e86c1", lw=1.5)
    ax_t.fill_between(x, data.requests_per_hour, color="#2e86c1", alpha=0.2)
    _shade(ax_t, data.windows, unit, label="incident window (alerts)")
    top = np.nanmax(data.requests_per_hour) if np.isfinite(data.requests_per_hour).any() else 1.0
    for w in data.windows:
        ax_t.text((w.start_s + w.end_s) / 2 / unit, top * 1.02, w.label(), ha="center", va="bottom", fontsize=9,
                  color="#922b21")
    ax_t.set_ylim(0, top * 1.18)
    ax_t.set_ylabel("requests / hour")
    ax_t.set_title("Traffic")

    th = data.thresholds
    line_panel(ax_l, data.times, data.latency_p95_ms, data.windows, threshold=th.get("latency_p95"),
               label=f"alert threshold {th.get('latency_p95', 0):g} ms", color="#f39c12", unit_s=unit)
    ax_l.set_ylabel("latency p95 (ms)")
    ax_l.set_title("Latency p95 (5-minute window)")

    line_panel(ax_e, data.times, 100 * data.error_rate, data.windows,
               threshold=None if "error_rate" not in th else 100 * th["error_rate"],
               label=f"burn-rate alert at {th.get('error_rate', 0):.0%}", color="#c0392b", unit_s=unit)
    ax_e.set_ylabel("error rate (%)")
    ax_e.set_title("Error rate (5-minute window)")

    line_panel(ax_q, data.times, data.confidence, data.windows, threshold=th.get("mean_confidence"),
               label=f"alert below {th.get('mean_confidence', 0):g}", color="#27ae60", unit_s=unit)
    ax_q.set_ylabel("mean model confidence")
    ax_q.set_title("Quality (5-minute window)")

    ax_c.bar(edges + 0.5, data.cost, width=0.85, color="#8e44ad", alpha=0.8)
    _shade(ax_c, data.windows, unit)
    ax_c.set_ylabel("USD per hour")
    ax_c.set_title(f"Cost per hour (day: ${data.summary.total_cost:,.2f})")

    bottom = np.zeros(data.n_bins)
    for k, (name, counts) in enumerate(data.guardrail_triggers.items()):
        ax_g.bar(edges + 0.5, counts, width=0.85, bottom=bottom, color=_GUARD_COLORS[k % len(_GUARD_COLORS)],
                 label=name)
        bottom = bottom + counts
    _shade(ax_g, data.windows, unit)
    ax_g.set_ylabel("triggers per hour")
    ax_g.set_title(f"Guardrail triggers (day: {data.summary.guardrail_triggers:,})")

    for ax in axes.ravel():
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, data.n_bins)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=8, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("hour of day")
        ax.set_xticks(np.arange(0, data.n_bins + 1, max(1, data.n_bins // 12)))
    fig.suptitle(data.title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------ report
def report_html(data: DashboardData, *, dpi: int = 72) -> str:
    """A standalone HTML page: the dashboard as an embedded PNG (base64), the summary and the alert tables.

    ``data``: from :func:`collect_dashboard`; ``dpi``: resolution of the embedded figure.

    >>> page = report_html(simulate_observed_day(seed=0).data)
    >>> page.startswith("<!doctype html>"), "data:image/png;base64," in page
    (True, True)
    """
    fig = plot_dashboard(data)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    summary = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in data.summary.rows())
    alerts = "".join(
        f"<tr><td>{clock_text(a.at)}</td><td>{html.escape(a.status)}</td><td>{html.escape(a.severity)}</td>"
        f"<td>{html.escape(a.rule)}</td><td>{html.escape(a.message)}</td></tr>" for a in data.alerts)
    windows = "".join(
        f"<tr><td>{clock_text(w.start_s)}</td><td>{clock_text(w.end_s)}{'+' if w.open else ''}</td>"
        f"<td>{html.escape(format_hours(w.hours))}</td><td>{html.escape(w.severity)}</td>"
        f"<td>{html.escape(', '.join(w.rules))}</td></tr>" for w in data.windows)
    return html_page(data.title, png, summary, windows, alerts)


def write_report(path: str | Path, data: DashboardData | None = None, *, seed: int = 0) -> Path:
    """Write the standalone HTML report to ``path`` and return the path.

    ``data`` defaults to :func:`simulate_observed_day` with ``seed`` (what ``prodai dashboard`` shows).
    The parent folder must exist.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = write_report(Path(folder) / "report.html", seed=0)
    ...     out.name, out.read_text(encoding="utf-8").count("<h2>")
    ('report.html', 3)
    """
    p = Path(path)
    if p.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"path must end in .html; got {str(p)!r}")
    if not p.parent.exists():
        raise FileNotFoundError(f"path: folder {str(p.parent)!r} does not exist")
    if data is None:
        data = simulate_observed_day(seed=seed).data
    elif not isinstance(data, DashboardData):
        raise TypeError(f"data must be DashboardData or None; got {type(data).__name__}")
    p.write_text(report_html(data), encoding="utf-8")
    return p


# ------------------------------------------------------------------------------------------ a whole day
def day_rules(slo_target: float = 0.97) -> tuple[AlertRule | BurnRateRule, ...]:
    """Alert rules for hour-scale traffic (about 500 to 2,500 requests per hour), used by the dashboard.

    - ``error budget burn`` (P1): SLO ``slo_target``; burn > 2x (6 % errors at 97 %) over the last 300 *and*
      the last 60 requests for 2 minutes; resolves when the 300-request burn is back to <= 1.5x. Count
      windows keep the statistical power constant at night, when a time window would hold few requests.
    - ``high p95 latency`` (P2): p95 of the last 200 requests > 500 ms for 5 minutes; clears below 420 ms.
    - ``low confidence`` (P2): mean confidence of the last 200 requests < 0.76 for 5 minutes; clears above 0.79.

    On :func:`prodai_lessons.simulate.simulate_day` traffic (normal p95 about 340 ms, 2 % errors, mean
    confidence 0.83; a spike: p95 about 730 ms, 8 % errors, 0.73), they fire within minutes of a spike's
    start and stay silent on normal days (see ``tests/test_dashboard.py``).

    >>> [(rule.name, rule.severity) for rule in day_rules()]
    [('error budget burn', 'P1'), ('high p95 latency', 'P2'), ('low confidence', 'P2')]
    """
    slo = SLO(slo_target)
    return (
        BurnRateRule("error budget burn", slo, burn_rate=2.0, long_window=300, short_window=60, for_="2m",
                     severity="P1", clear_burn_rate=1.5),
        AlertRule("high p95 latency", "latency_p95", ">", 500.0, for_="5m", window=200, severity="P2",
                  clear_threshold=420.0),
        AlertRule("low confidence", "mean_confidence", "<", 0.76, for_="5m", window=200, severity="P2",
                  clear_threshold=0.79),
    )


@dataclass(frozen=True)
class ObservedDay:
    """A simulated day and the components that observed it (see :func:`simulate_observed_day`).

    ``guardrail_times`` / ``guardrail_names``: one entry per guard that did not pass (the pipeline's own log
    is bounded, so the day's triggers are recorded as they happen).

    >>> day = simulate_observed_day(seed=0)
    >>> day.incidents, day.guardrail_times.shape
    (IncidentManager(incidents=1, open=0), (167,))
    """

    traffic: Any
    pipeline: MonitoringPipeline
    tracker: CostTracker
    recorder: MetricsRecorder
    guardrails: Any
    incidents: Any
    guardrail_times: np.ndarray = field(repr=False)
    guardrail_names: np.ndarray = field(repr=False)
    data: DashboardData = field(repr=False)


def simulate_observed_day(
    seed: int = 0,
    *,
    incident_hours: tuple[int, int] | None = (14, 17),
    requests_per_hour: float = 1000.0,
    scrape_every: float = 300.0,
    guarded_share: float = 0.05,
    ack_after: float = 300.0,
    quiet_period: float = 900.0,
    answer_checks: bool = False,
) -> ObservedDay:
    """Run one simulated day through the course's components and collect the dashboard from their records.

    1. Traffic: :func:`prodai_lessons.simulate.simulate_day` (daily cycle; during ``incident_hours`` a
       ``spike``: 2.5x traffic, slower, more errors, less confident), priced with the shipped price list.
       During the spike a scripted client also sends prompt-injection attempts (12 % of guarded texts,
       against 1 % otherwise).
    2. Every ``scrape_every`` seconds of simulated time, that slice of requests goes to a
       :class:`~prodai_lessons.monitoring.MonitoringPipeline` (:func:`day_rules`, evaluated every minute),
       a :class:`~prodai_lessons.cost.CostTracker` and, for the user-facing share ``guarded_share`` of the
       requests, a :class:`~prodai_lessons.guardrails.GuardrailPipeline` (input: injection, invisible
       text, length, toxicity flagged; output: PII redacted; with ``answer_checks`` also a
       ``LanguageGuard`` on inputs and a ``GroundednessGuard`` on answers drawn with their retrieved context
       from the groundedness corpus, one in ten unsupported, both flagged). Then the pipeline is scraped.
    3. New alert notifications go to an :class:`~prodai_lessons.incidents.IncidentManager`. The simulated
       on-call engineer acknowledges an incident ``ack_after`` seconds after it opens and resolves it once
       its alerts have been clear for ``quiet_period`` seconds (the spike stops on its own; no mitigation is
       claimed). The impact start is set from the simulation's ground truth, for MTTD.
    4. :func:`collect_dashboard` gathers what they recorded.

    >>> day = simulate_observed_day(seed=0, guarded_share=0.0)
    >>> len(day.traffic.requests), [w.label() for w in day.data.windows]
    (30855, ['14:06-17:12, hours 14-16 (P1)'])
    """
    seed = check_int("seed", seed)
    every = check_real("scrape_every", scrape_every, minimum=0.0, strict_minimum=True)
    share = check_real("guarded_share", guarded_share, minimum=0.0, maximum=1.0)
    ack_after = check_real("ack_after", ack_after, minimum=0.0)
    quiet_period = check_real("quiet_period", quiet_period, minimum=0.0)

    # 1. traffic and texts
    pricing = load_pricing()
    models = [pricing.model_for_tier(t) for t in ("small", "medium", "large")]
    prices = {m: (pricing.models[m].input_per_mtok, pricing.models[m].output_per_mtok) for m in models}
    traffic = simulate_day(seed=seed, incident_hours=incident_hours, requests_per_hour=requests_per_hour,
                           model_mix=dict(zip(models, (0.6, 0.3, 0.1))), prices=prices)
    r = traffic.requests
    rng = np.random.default_rng([seed, 8])
    guarded = rng.random(len(r)) < share
    inputs, outputs = ([], []) if share == 0 else day_texts(
        rng, traffic.incident_mask(), attack_rate=0.01, attack_rate_incident=0.12, toxic_rate=0.005, pii_rate=0.01)

    # 2. the components
    rules = day_rules()
    pipeline = MonitoringPipeline(rules, window="5m", evaluate_interval="1m", slo=rules[0].slo)
    tracker = CostTracker(pricing)
    answer_checks = bool(answer_checks)
    guards = GuardrailPipeline(
        [PromptInjectionGuard(), InvisibleTextGuard(), LengthGuard(), ToxicityGuard()]
        + ([LanguageGuard()] if answer_checks else []), [PIIGuard()] + ([GroundednessGuard()] if answer_checks else []),
        policy={"toxicity": "flag", "pii": "redact", **({"language": "flag", "groundedness": "flag"} if answer_checks else {})})
    rag = [[x for x in load_groundedness_corpus() if x["label"] == k] for k in (0, 1)] if answer_checks else []
    rag_rng = np.random.default_rng([seed, 9])  # a stream of its own: the day's other draws stay the same
    rag_pick = [(int(bad), int(k)) for bad, k in zip(rag_rng.random(len(r)) < 0.1, rag_rng.integers(0, 1 << 30, len(r)))
                ] if answer_checks else []  # one answer in ten unsupported
    manager = IncidentManager()
    recorder = MetricsRecorder()
    g_times: list[float] = []
    g_names: list[str] = []
    seen_alerts = 0

    end = 24 * HOUR
    n_slices = int(math.ceil(end / every))
    bounds = np.searchsorted(r.timestamp, np.arange(n_slices + 1) * every, side="left")
    bounds[-1] = len(r)
    for k in range(n_slices):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        now = min((k + 1) * every, end)
        if hi > lo:
            pipeline.log_batch(r.latency_ms[lo:hi], r.error[lo:hi], r.confidence[lo:hi], r.cost_usd[lo:hi],
                               timestamp=r.timestamp[lo:hi])
            tracker.log_batch(r.model[lo:hi], r.input_tokens[lo:hi], r.output_tokens[lo:hi],
                              timestamps=r.timestamp[lo:hi])
            for j in np.flatnonzero(guarded[lo:hi]) + lo:
                t = float(r.timestamp[j])
                checked = guards.check_input(inputs[j], timestamp=t)
                if checked.allowed and answer_checks:
                    bad, k = rag_pick[j]
                    row = rag[bad][k % len(rag[bad])]
                    checked = (checked, guards.check_output(row["answer"], timestamp=t, context=row["context"]))
                elif checked.allowed:
                    checked = (checked, guards.check_output(outputs[j], timestamp=t))
                else:
                    checked = (checked,)
                for res in checked:
                    for name in res.triggered:
                        g_times.append(t)
                        g_names.append(name)
        if k == n_slices - 1:
            pipeline.evaluate(now=end)
        recorder.scrape(pipeline, at=now)
        # 3. incidents: new notifications, then the on-call engineer's actions up to now
        history = pipeline.history
        manager.process(history[seen_alerts:])
        seen_alerts = len(history)
        for inc in manager.open_incidents:
            if inc.status == "open" and now >= inc.opened_at + ack_after:
                inc = manager.acknowledge(inc.id, inc.opened_at + ack_after)
            if (inc.status != "open" and inc.alerts_cleared_at is not None
                    and now >= inc.alerts_cleared_at + quiet_period):
                manager.resolve(inc.id, max(inc.alerts_cleared_at + quiet_period, inc.acknowledged_at),
                                root_cause="simulated traffic spike with a degraded dependency")
    for inc in manager.incidents:
        truth = [w for w in traffic.incidents if w.start_s <= inc.opened_at]
        if truth and inc.opened_at - truth[-1].start_s < 6 * HOUR:
            manager.set_impact_start(inc.id, truth[-1].start_s)

    # 4. the dashboard
    lines = tuple(incident_line(i) for i in manager.incidents)
    data = collect_dashboard(recorder, pipeline, tracker, guardrail_times=np.array(g_times),
                             guardrail_names=np.array(g_names, dtype=object), incidents=lines,
                             title=f"24-hour production dashboard (simulated day, seed {seed})")
    return ObservedDay(traffic, pipeline, tracker, recorder, guards, manager, np.array(g_times),
                       np.array(g_names, dtype=object), data)
