"""Incident response: severities, a playbook, the incident lifecycle, MTTD/MTTR and post-mortems.

:class:`IncidentManager` turns the ``"firing"`` notifications of a
:class:`~prodai_lessons.monitoring.MonitoringPipeline` into incidents:

- **deduplicated**: a rule that is already part of an unresolved incident never opens another; with
  ``group=True`` (default, like Alertmanager grouping all alerts of one service) any firing alert joins
  the most recent unresolved incident instead of opening a parallel one;
- **severity = the worst rule** (P0 worst); it is raised when a worse rule joins, never lowered;
- **mitigations** from :data:`PLAYBOOK` in a fixed order: categories in :data:`CATEGORY_ORDER`
  (safety, errors, quality, latency, traffic, cost: the order of harm to users), each category's steps
  in the listed order, duplicates removed keeping the first. The same alerts always give the same
  list (the original lesson printed ``list(set(...))``, a different order in every process);
- **lifecycle** ``open -> acknowledged -> mitigated -> resolved`` with a timestamp for each step (a
  step may not be skipped except *mitigated*, for an incident that recovered on its own, and may not go
  back in time);
- **MTTD** (mean time to detect: ``opened_at - impact_started_at``) and **MTTR**, read here as mean
  time to *resolve*: ``resolved_at - impact_started_at`` (teams read the R as repair, recover, restore or
  resolve; say which). When users got service back is the time to *mitigate*, ``mitigated_at -
  impact_started_at``, which is what DORA's "time to restore service" measures. The detection time
  stands in for the impact start when it is unknown;
- a **post-mortem draft** in Markdown: summary, impact, timeline, triggered rules, mitigations, root
  cause and action items (blameless format, after the Google SRE book, ch. 15).

Records are frozen dataclasses; the manager replaces an incident's record at each step.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from prodai_lessons._validation import check_choice, check_int, check_real, check_str
from prodai_lessons.monitoring import SEVERITIES, Alert

__all__ = [
    "SeverityLevel",
    "SEVERITY_LEVELS",
    "severity_level",
    "CATEGORY_ORDER",
    "PLAYBOOK",
    "RESPONSE_STEPS",
    "mitigations_for",
    "STATUSES",
    "TimelineEntry",
    "Incident",
    "IncidentManager",
    "format_clock",
]


@dataclass(frozen=True)
class SeverityLevel:
    """One row of the severity table; ``response_time_s`` is the time to start responding (0 = now)."""

    name: str
    description: str
    response_time_s: float
    response_time: str
    example: str


#: The severity table (from the original lesson's outline), worst first.
SEVERITY_LEVELS: tuple[SeverityLevel, ...] = (
    SeverityLevel("P0", "System down or data loss", 0.0, "immediate",
                  "the model returns errors for every user"),
    SeverityLevel("P1", "Major degradation", 3600.0, "< 1 hour",
                  "accuracy halves; a safety filter is bypassed"),
    SeverityLevel("P2", "Noticeable issue", 4 * 3600.0, "< 4 hours",
                  "latency three times normal; a cost spike"),
    SeverityLevel("P3", "Minor issue", 24 * 3600.0, "< 24 hours",
                  "slightly worse answers on edge cases"),
)
assert tuple(s.name for s in SEVERITY_LEVELS) == SEVERITIES


def severity_level(name: str) -> SeverityLevel:
    """The :class:`SeverityLevel` called ``name`` (``"P0"`` .. ``"P3"``)."""
    check_choice("severity", name, SEVERITIES)
    return SEVERITY_LEVELS[SEVERITIES.index(name)]


#: The response playbook's steps, in order.
RESPONSE_STEPS: tuple[tuple[str, str], ...] = (
    ("Detect", "an alert fires (or a user reports); open an incident"),
    ("Triage", "set the severity from the worst rule; page according to its response time"),
    ("Mitigate", "stop the bleeding first: roll back, fail over, flip a feature flag, shed load"),
    ("Root cause", "find why it happened, with the timeline and the metrics"),
    ("Fix", "deploy the real fix, behind a canary"),
    ("Post-mortem", "write it blameless; turn the lessons into owned action items"),
)

#: Categories in the order their mitigations are listed (most harmful to users first).
CATEGORY_ORDER: tuple[str, ...] = ("safety", "errors", "quality", "latency", "traffic", "cost")

#: Mitigation steps per alert category, in the order to try them.
PLAYBOOK: Mapping[str, tuple[str, ...]] = {
    "safety": ("Tighten guardrail thresholds", "Send flagged outputs to human review"),
    "errors": ("Fail over to the fallback model", "Check upstream dependencies (provider status, quotas)"),
    "quality": ("Roll back to the previous model version", "Check recent inputs for data drift"),
    "latency": ("Scale out serving replicas", "Serve cached responses for repeated prompts"),
    "traffic": ("Check load balancer health and client retry storms", "Rate-limit the heaviest clients"),
    "cost": ("Route easy requests to a cheaper model", "Rate-limit the heaviest clients"),
}


def mitigations_for(categories: Iterable[str], playbook: Mapping[str, Sequence[str]] = PLAYBOOK) -> tuple[str, ...]:
    """Mitigations for the given alert categories, in :data:`CATEGORY_ORDER` then playbook order,
    without duplicates. Unknown categories raise ``ValueError``; categories missing from
    :data:`CATEGORY_ORDER` but present in ``playbook`` come last, sorted by name."""
    cats = set()
    for c in categories:
        check_str("category", c)
        if c not in playbook:
            raise ValueError(f"category must be one of {', '.join(sorted(playbook))}; got {c!r}")
        cats.add(c)
    order = [c for c in CATEGORY_ORDER if c in cats] + sorted(cats - set(CATEGORY_ORDER))
    steps: dict[str, None] = {}
    for c in order:
        for step in playbook[c]:
            steps.setdefault(step, None)
    return tuple(steps)


#: Lifecycle states, in order.
STATUSES: tuple[str, ...] = ("open", "acknowledged", "mitigated", "resolved")


def format_clock(t: float | None, style: str = "seconds") -> str:
    """``"t=123.4 s"`` (style ``"seconds"``) or ``"14:05:09"`` (style ``"clock"``, seconds within a day)."""
    if t is None:
        return "-"
    if style == "clock":
        s = int(math.floor(t))
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"t={t:.1f} s"


def _add(timeline: tuple[TimelineEntry, ...], *entries: TimelineEntry) -> tuple[TimelineEntry, ...]:
    """Timeline with ``entries`` added, kept in time order (stable: same-time entries keep their order)."""
    return tuple(sorted(timeline + entries, key=lambda e: e.at))


def _duration(d: float | None) -> str:
    if d is None:
        return "-"
    if d >= 3600:
        return f"{d / 3600:.1f} h"
    if d >= 120:
        return f"{d / 60:.1f} min"
    return f"{d:.1f} s"


@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened: ``at`` (pipeline clock), ``event`` (short tag) and a ``detail`` text."""

    at: float
    event: str
    detail: str


@dataclass(frozen=True)
class Incident:
    """One incident record (replaced, never mutated, at each lifecycle step)."""

    id: int
    title: str
    severity: str
    status: str
    rules: tuple[str, ...]
    categories: tuple[str, ...]
    opened_at: float
    impact_started_at: float | None
    acknowledged_at: float | None
    mitigated_at: float | None
    resolved_at: float | None
    alerts_cleared_at: float | None
    mitigations: tuple[str, ...]
    applied_mitigations: tuple[tuple[float, str], ...]
    alerts: tuple[Alert, ...]
    timeline: tuple[TimelineEntry, ...]
    root_cause: str = ""
    action_items: tuple[str, ...] = ()
    acknowledged_by: str = ""

    @property
    def level(self) -> SeverityLevel:
        return severity_level(self.severity)

    @property
    def time_to_detect(self) -> float | None:
        """``opened_at - impact_started_at`` (None when the impact start is unknown)."""
        return None if self.impact_started_at is None else self.opened_at - self.impact_started_at

    @property
    def time_to_acknowledge(self) -> float | None:
        return None if self.acknowledged_at is None else self.acknowledged_at - self.opened_at

    @property
    def time_to_mitigate(self) -> float | None:
        return None if self.mitigated_at is None else self.mitigated_at - self._start

    @property
    def time_to_resolve(self) -> float | None:
        """``resolved_at`` minus the impact start (or ``opened_at`` when unknown)."""
        return None if self.resolved_at is None else self.resolved_at - self._start

    @property
    def _start(self) -> float:
        return self.opened_at if self.impact_started_at is None else self.impact_started_at

    @property
    def response_deadline(self) -> float:
        """By when someone must respond: ``opened_at + response time of the severity``."""
        return self.opened_at + self.level.response_time_s

    @property
    def acknowledged_in_time(self) -> bool | None:
        """Whether the acknowledgement met the severity's response time (None until acknowledged).
        A P0 ("immediate") counts as met within 5 minutes."""
        if self.acknowledged_at is None:
            return None
        allowed = self.level.response_time_s or 300.0
        return self.acknowledged_at - self.opened_at <= allowed

    def postmortem(self, *, time_style: str = "seconds", impact: Mapping[str, str] | None = None) -> str:
        """A blameless post-mortem draft in Markdown (render with ``IPython.display.Markdown``).

        ``impact`` adds lines to the impact section (e.g. ``{"requests affected": "1,234"}``);
        parts nobody filled in yet are marked TODO.
        """
        check_choice("time_style", time_style, ("seconds", "clock"))
        fc = lambda t: format_clock(t, time_style)  # noqa: E731
        lvl = self.level
        lines = [
            f"# Post-mortem: incident #{self.id}, {self.title}",
            "",
            "*Draft generated from the incident record. Blameless: describe systems and decisions, not people.*",
            "",
            "## Summary",
            "",
            "| | |",
            "|---|---|",
            f"| Severity | {self.severity} ({lvl.description.lower()}; respond {lvl.response_time}) |",
            f"| Status | {self.status} |",
            f"| Impact started | {fc(self.impact_started_at)} |",
            f"| Detected (incident opened) | {fc(self.opened_at)} |",
            f"| Acknowledged | {fc(self.acknowledged_at)}"
            + (f" by {self.acknowledged_by}" if self.acknowledged_by else "") + " |",
            f"| Mitigated | {fc(self.mitigated_at)} |",
            f"| Resolved | {fc(self.resolved_at)} |",
            f"| Time to detect | {_duration(self.time_to_detect)} |",
            f"| Time to resolve | {_duration(self.time_to_resolve)} |",
            "",
            "## Impact",
            "",
        ]
        if impact:
            for k, v in impact.items():
                lines.append(f"- **{k}**: {v}")
        lines.append(f"- Alert categories: {', '.join(self.categories)}")
        if not impact:
            lines.append("- TODO: users and requests affected, SLO budget spent")
        lines += ["", "## Timeline", "", "| time | event | detail |", "|---|---|---|"]
        for e in self.timeline:
            lines.append(f"| {fc(e.at)} | {e.event} | {e.detail} |")
        lines += ["", "## Triggered rules", "", "| rule | severity | first value | threshold | fired at |",
                  "|---|---|---|---|---|"]
        seen = set()
        for a in self.alerts:
            if a.status == "firing" and a.rule not in seen:
                seen.add(a.rule)
                lines.append(f"| {a.rule} | {a.severity} | {a.value:.4g} | {a.threshold:g} | {fc(a.at)} |")
        lines += ["", "## Mitigations", ""]
        applied = {m for _, m in self.applied_mitigations}
        for t, m in self.applied_mitigations:
            lines.append(f"- [x] {m} (applied {fc(t)})")
        for m in self.mitigations:
            if m not in applied:
                lines.append(f"- [ ] {m} (suggested by the playbook, not applied)")
        lines += ["", "## Root cause", "", self.root_cause or "TODO: why did it happen? Ask why until the answer "
                  "is a process or a system, not a person.", "", "## Action items", ""]
        if self.action_items:
            lines += [f"- [ ] {a}" for a in self.action_items]
        else:
            lines.append("- [ ] TODO: one owner and one due date per item")
        return "\n".join(lines) + "\n"


class IncidentManager:
    """Turn firing alerts into incidents and walk them through their lifecycle (see module docstring).

    ``playbook`` maps alert categories to ordered mitigation steps (default :data:`PLAYBOOK`);
    ``group`` decides whether a firing alert joins the latest unresolved incident (True) or opens its
    own unless its rule is already in one (False).
    """

    def __init__(self, playbook: Mapping[str, Sequence[str]] = PLAYBOOK, *, group: bool = True) -> None:
        if not isinstance(playbook, Mapping) or not playbook:
            raise TypeError(f"playbook must be a non-empty mapping of category -> steps; got {playbook!r}")
        clean: dict[str, tuple[str, ...]] = {}
        for cat, steps in playbook.items():
            check_str("playbook category", cat)
            if isinstance(steps, str) or not isinstance(steps, Sequence):
                raise TypeError(f"playbook[{cat!r}] must be a sequence of step names; got {steps!r}")
            clean[cat] = tuple(check_str(f"playbook[{cat!r}] step", s) for s in steps)
        self.playbook: Mapping[str, tuple[str, ...]] = clean
        if not isinstance(group, bool):
            raise TypeError(f"group must be a bool; got {group!r}")
        self.group = group
        self._incidents: list[Incident] = []
        self._last_alert_at = -math.inf

    # ---- views ----------------------------------------------------------------------------------
    @property
    def incidents(self) -> tuple[Incident, ...]:
        """All incidents, in the order they were opened."""
        return tuple(self._incidents)

    @property
    def open_incidents(self) -> tuple[Incident, ...]:
        """Incidents not resolved yet."""
        return tuple(i for i in self._incidents if i.status != "resolved")

    def get(self, incident_id: int) -> Incident:
        """The current record of incident ``incident_id``."""
        incident_id = check_int("incident_id", incident_id, minimum=1)
        if incident_id > len(self._incidents):
            raise ValueError(f"incident_id must be between 1 and {len(self._incidents)}; got {incident_id}")
        return self._incidents[incident_id - 1]

    def _put(self, inc: Incident) -> Incident:
        self._incidents[inc.id - 1] = inc
        return inc

    # ---- alerts ---------------------------------------------------------------------------------
    def process(self, alerts: Iterable[Alert]) -> tuple[Incident, ...]:
        """Feed notifications in time order; returns the incidents opened or changed (latest records)."""
        if isinstance(alerts, Alert):
            raise TypeError("alerts must be an iterable of Alert notifications; got a single Alert")
        touched: dict[int, None] = {}
        for a in alerts:
            inc = self.on_alert(a)
            if inc is not None:
                touched[inc.id] = None
        return tuple(self._incidents[i - 1] for i in touched)

    def on_alert(self, alert: Alert) -> Incident | None:
        """Handle one notification; returns the incident it opened or changed, or None.

        The fields the manager relies on are checked first (``ValueError``/``TypeError`` naming the
        field, nothing recorded): ``status`` is ``"firing"`` or ``"resolved"``, ``severity`` one of
        ``P0``..``P3``, ``rule`` and ``category`` non-empty strings (the category in the playbook),
        ``message`` a string, ``at`` and ``threshold`` finite numbers, ``value`` a number (NaN only in
        a ``"resolved"`` notification: a window left without data clears its rule).
        """
        if not isinstance(alert, Alert):
            raise TypeError(f"alert must be an Alert notification; got {alert!r}")
        self._check_alert(alert)
        if alert.at < self._last_alert_at:
            raise ValueError(f"alerts must arrive in time order; got at={alert.at} after {self._last_alert_at}")
        if alert.category not in self.playbook:
            raise ValueError(f"alert category {alert.category!r} is not in the playbook "
                             f"({', '.join(sorted(self.playbook))})")
        self._last_alert_at = alert.at
        open_ = [i for i in self._incidents if i.status != "resolved"]
        owner = next((i for i in reversed(open_) if alert.rule in i.rules), None)
        if alert.status == "resolved":
            if owner is None:
                return None
            entries = [TimelineEntry(alert.at, "alert resolved", alert.message)]
            firing = self._firing_rules(owner.alerts + (alert,))
            cleared = owner.alerts_cleared_at
            if not firing:
                cleared = alert.at
                entries.append(TimelineEntry(alert.at, "all alerts clear", "every triggered rule has resolved"))
            return self._put(dataclasses.replace(
                owner, alerts=owner.alerts + (alert,), timeline=_add(owner.timeline, *entries),
                alerts_cleared_at=cleared))
        if owner is None and self.group and open_:
            owner = open_[-1]
        if owner is None:
            level = severity_level(alert.severity)
            inc = Incident(
                id=len(self._incidents) + 1,
                title=f"{alert.rule} ({alert.category})",
                severity=alert.severity,
                status="open",
                rules=(alert.rule,),
                categories=(alert.category,),
                opened_at=alert.at,
                impact_started_at=None,
                acknowledged_at=None,
                mitigated_at=None,
                resolved_at=None,
                alerts_cleared_at=None,
                mitigations=mitigations_for((alert.category,), self.playbook),
                applied_mitigations=(),
                alerts=(alert,),
                timeline=(TimelineEntry(alert.at, "opened",
                                        f"{alert.message}; {alert.severity} means respond {level.response_time}"),),
            )
            self._incidents.append(inc)
            return inc
        entries = []
        rules = owner.rules
        cats = owner.categories
        severity = owner.severity
        if alert.rule in rules:
            entries.append(TimelineEntry(alert.at, "alert fired again", alert.message))
        else:
            rules = rules + (alert.rule,)
            entries.append(TimelineEntry(alert.at, "alert joined", alert.message))
        if alert.category not in cats:
            cats = cats + (alert.category,)
        if SEVERITIES.index(alert.severity) < SEVERITIES.index(severity):
            entries.append(TimelineEntry(alert.at, "severity raised", f"{severity} -> {alert.severity}"))
            severity = alert.severity
        return self._put(dataclasses.replace(
            owner, rules=rules, categories=cats, severity=severity, alerts=owner.alerts + (alert,),
            mitigations=mitigations_for(cats, self.playbook), timeline=_add(owner.timeline, *entries),
            alerts_cleared_at=None))

    @staticmethod
    def _check_alert(alert: Alert) -> None:
        """Validate the fields of ``alert`` that :meth:`on_alert` and the post-mortem use."""
        check_choice("alert.status", alert.status, ("firing", "resolved"))
        check_choice("alert.severity", alert.severity, SEVERITIES)
        check_str("alert.rule", alert.rule)
        check_str("alert.category", alert.category)
        check_str("alert.message", alert.message, allow_empty=True)
        check_real("alert.at", alert.at)
        check_real("alert.threshold", alert.threshold)
        value = alert.value
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"alert.value must be a real number; got {value!r}")
        if math.isnan(value) and alert.status == "firing":
            raise ValueError("alert.value must not be NaN in a firing alert (a rule fires on a measured value)")

    @staticmethod
    def _firing_rules(alerts: Sequence[Alert]) -> set[str]:
        firing: set[str] = set()
        for a in alerts:
            if a.status == "firing":
                firing.add(a.rule)
            else:
                firing.discard(a.rule)
        return firing

    # ---- lifecycle ------------------------------------------------------------------------------
    def _step(self, incident_id: int, at: float, allowed_from: tuple[str, ...], to: str) -> tuple[Incident, float]:
        inc = self.get(incident_id)
        at = check_real("at", at)
        if inc.status not in allowed_from:
            need = " or ".join(allowed_from)
            raise ValueError(f"incident #{inc.id} is {inc.status}; it must be {need} to become {to}")
        steps = [inc.opened_at, inc.acknowledged_at, inc.mitigated_at] + [t for t, _ in inc.applied_mitigations]
        if to == "resolved":  # a resolved incident takes no alerts: it cannot end before one joined it
            steps += [a.at for a in inc.alerts]
        last = max(t for t in steps if t is not None)
        if at < last:
            raise ValueError(f"at must not be earlier than the incident's last lifecycle step "
                             f"{'or alert ' if to == 'resolved' else ''}({last}); got {at}")
        return inc, at

    def set_impact_start(self, incident_id: int, at: float) -> Incident:
        """Record when users started being affected (from ground truth or later analysis). Called again,
        it corrects the earlier value: the timeline keeps one "impact started" entry."""
        inc = self.get(incident_id)
        at = check_real("at", at)
        if at > inc.opened_at:
            raise ValueError(f"at must not be later than the detection time ({inc.opened_at}); got {at}")
        kept = tuple(e for e in inc.timeline if e.event != "impact started")
        return self._put(dataclasses.replace(
            inc, impact_started_at=at,
            timeline=_add(kept, TimelineEntry(at, "impact started", "first affected requests"))))

    def acknowledge(self, incident_id: int, at: float, by: str = "on-call") -> Incident:
        """``open -> acknowledged`` at ``at`` by ``by``."""
        check_str("by", by)
        inc, at = self._step(incident_id, at, ("open",), "acknowledged")
        ok = "within" if at - inc.opened_at <= (inc.level.response_time_s or 300.0) else "OUTSIDE"
        entry = TimelineEntry(at, "acknowledged", f"by {by}, {ok} the {inc.severity} response time")
        return self._put(dataclasses.replace(inc, status="acknowledged", acknowledged_at=at, acknowledged_by=by,
                                             timeline=_add(inc.timeline, entry)))

    def mitigate(self, incident_id: int, at: float, action: str | None = None) -> Incident:
        """``acknowledged -> mitigated`` by applying ``action`` (default: the first suggested step not
        applied yet). Further mitigations on a mitigated incident are recorded too."""
        inc, at = self._step(incident_id, at, ("acknowledged", "mitigated"), "mitigated")
        done = {m for _, m in inc.applied_mitigations}
        if action is None:
            remaining = [m for m in inc.mitigations if m not in done]
            if not remaining:
                raise ValueError(f"incident #{inc.id} has no playbook mitigation left; pass action=...")
            action = remaining[0]
        check_str("action", action)
        entry = TimelineEntry(at, "mitigation", action)
        return self._put(dataclasses.replace(
            inc, status="mitigated", mitigated_at=inc.mitigated_at if inc.mitigated_at is not None else at,
            applied_mitigations=inc.applied_mitigations + ((at, action),), timeline=_add(inc.timeline, entry)))

    def resolve(self, incident_id: int, at: float, *, root_cause: str = "",
                action_items: Sequence[str] = ()) -> Incident:
        """``acknowledged | mitigated -> resolved``; records the root cause and action items."""
        if not isinstance(root_cause, str):
            raise TypeError(f"root_cause must be a str; got {root_cause!r}")
        if isinstance(action_items, str) or not isinstance(action_items, Sequence):
            raise TypeError(f"action_items must be a sequence of strings; got {action_items!r}")
        items = tuple(check_str("action_items item", a) for a in action_items)
        inc, at = self._step(incident_id, at, ("acknowledged", "mitigated"), "resolved")
        entry = TimelineEntry(at, "resolved", root_cause or "service restored")
        return self._put(dataclasses.replace(inc, status="resolved", resolved_at=at, root_cause=root_cause,
                                             action_items=items, timeline=_add(inc.timeline, entry)))

    # ---- figures --------------------------------------------------------------------------------
    def mttd(self) -> float | None:
        """Mean time to detect over incidents whose impact start is known (None if there are none)."""
        d = [i.time_to_detect for i in self._incidents if i.time_to_detect is not None]
        return math.fsum(d) / len(d) if d else None

    def mttr(self) -> float | None:
        """Mean time to resolve (impact start to resolution) over resolved incidents (None if none is)."""
        d = [i.time_to_resolve for i in self._incidents if i.time_to_resolve is not None]
        return math.fsum(d) / len(d) if d else None

    def __repr__(self) -> str:
        return f"IncidentManager(incidents={len(self._incidents)}, open={len(self.open_incidents)})"
