"""Incident response: severities, a playbook, the incident lifecycle, MTTD/MTTR and post-mortems.

Read the three ideas first, each a short function:

- :func:`mitigations_for`: the playbook's mitigations for a set of alert categories, always in the same
  order: categories in :data:`CATEGORY_ORDER` (safety, errors, quality, latency, traffic, cost: the order
  of harm to users), each category's steps in the listed order, duplicates removed keeping the first;
- :func:`lifecycle_step`: the lifecycle ``open -> acknowledged -> mitigated -> resolved`` as a table of
  allowed steps (*mitigated* may be skipped, for an incident that recovered on its own);
- :func:`response_times`: time to detect (``opened_at - impact start``), to mitigate and to resolve, all
  from the start of the impact. MTTD and MTTR average them over incidents; MTTR is read here as mean time
  to *resolve* (teams read the R as repair, recover, restore or resolve; say which). When users got
  service back is the time to *mitigate*, which is what DORA's "time to restore service" measures.

Then :class:`IncidentManager` turns the ``"firing"`` notifications of a
:class:`~prodai_lessons.monitoring.MonitoringPipeline` into incidents:

- **deduplicated**: a rule that is already part of an unresolved incident never opens another; with
  ``group=True`` (default, like Alertmanager grouping all alerts of one service) any firing alert joins
  the most recent unresolved incident instead of opening a parallel one;
- **severity = the worst rule** (P0 worst); it is raised when a worse rule joins, never lowered;
- **lifecycle** steps with a timestamp each, never back in time; the detection time stands in for the
  impact start when it is unknown;
- a **post-mortem draft** in Markdown: summary, impact, timeline, triggered rules, mitigations, root
  cause and action items (blameless format, after the Google SRE book, ch. 15).

Records are frozen dataclasses; the manager replaces an incident's record at each step. Input checks and
the post-mortem text live in ``prodai_lessons/_incident_engine.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prodai_lessons._incident_engine import (
    add_entries,
    check_alert,
    clean_playbook,
    firing_rules,
    known_categories,
    last_step_time,
    postmortem_markdown,
)
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
    "lifecycle_step",
    "response_times",
    "TimelineEntry",
    "Incident",
    "IncidentManager",
    "format_clock",
]


@dataclass(frozen=True)
class SeverityLevel:
    """One row of the severity table; ``response_time_s`` is the time to start responding (0 = now).

    ``name`` (``"P0"`` worst to ``"P3"``), ``description``, ``response_time`` (the same time, in words) and an
    ``example`` of an incident at that level.

    >>> SEVERITY_LEVELS[1].name, SEVERITY_LEVELS[1].response_time_s, SEVERITY_LEVELS[1].response_time
    ('P1', 3600.0, '< 1 hour')
    """

    name: str
    description: str
    response_time_s: float
    response_time: str
    example: str


#: The severity table, worst first.
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
    """The :class:`SeverityLevel` called ``name`` (``"P0"`` .. ``"P3"``).

    >>> severity_level("P2").response_time
    '< 4 hours'
    """
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

#: Lifecycle states, in order.
STATUSES: tuple[str, ...] = ("open", "acknowledged", "mitigated", "resolved")


# ------------------------------------------------------------------------------------------------ the ideas
def mitigations_for(categories: Iterable[str], playbook: Mapping[str, Sequence[str]] = PLAYBOOK) -> tuple[str, ...]:
    """The mitigations for a set of alert categories, in the same order every time.

    Categories in :data:`CATEGORY_ORDER` (others last, by name), each category's steps in playbook
    order, a step shared by two categories once. A ``dict`` keeps insertion order; a ``set`` would not.

    >>> mitigations_for(["latency", "errors"])[:2]
    ('Fail over to the fallback model', 'Check upstream dependencies (provider status, quotas)')
    """
    cats = known_categories(categories, playbook)  # ValueError for a category the playbook lacks
    order = [c for c in CATEGORY_ORDER if c in cats] + sorted(cats - set(CATEGORY_ORDER))
    return tuple(dict.fromkeys(step for c in order for step in playbook[c]))


def lifecycle_step(status: str, to: str) -> str:
    """The status after moving an incident from ``status`` to ``to``; ``ValueError`` if not allowed.

    open -> acknowledged -> mitigated -> resolved. *Mitigated* may be skipped (the incident recovered
    on its own) or repeated (a second mitigation); nothing goes back, a resolved incident stays closed.
    Assumes ``status`` is one of :data:`STATUSES`.

    >>> lifecycle_step("acknowledged", "resolved")
    'resolved'
    """
    allowed = {"open": ("acknowledged",),
               "acknowledged": ("mitigated", "resolved"),
               "mitigated": ("mitigated", "resolved"),
               "resolved": ()}
    if to not in allowed[status]:
        before = " or ".join(s for s, steps in allowed.items() if to in steps)
        raise ValueError(f"an incident that is {status} must be {before} to become {to}")
    return to


def response_times(impact_start: float | None, opened: float, mitigated: float | None,
                   resolved: float | None) -> tuple[float | None, float | None, float | None]:
    """Time to detect, to mitigate and to resolve one incident, each counted from the impact start.

    detect = opened - impact_start: users hurt before anyone is paged. mitigate: users have service
    back. resolve: the incident is closed (the R of MTTR here). MTTD and MTTR are the means of detect
    and resolve over incidents. Without an impact start, count from ``opened``; None: not reached.

    >>> response_times(impact_start=100.0, opened=400.0, mitigated=580.0, resolved=1500.0)
    (300.0, 480.0, 1400.0)
    """
    start = opened if impact_start is None else impact_start
    detect = None if impact_start is None else opened - impact_start
    mitigate = None if mitigated is None else mitigated - start
    resolve = None if resolved is None else resolved - start
    return detect, mitigate, resolve


def format_clock(t: float | None, style: str = "seconds") -> str:
    """``"t=123.4 s"`` (style ``"seconds"``) or ``"14:05:09"`` (style ``"clock"``, seconds within a day).

    >>> format_clock(3600 * 14 + 309.5, "clock"), format_clock(123.4), format_clock(None)
    ('14:05:09', 't=123.4 s', '-')
    """
    if t is None:
        return "-"
    if style == "clock":
        s = int(math.floor(t))
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"t={t:.1f} s"


# ------------------------------------------------------------------------------------------------ records
@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened: ``at`` (pipeline clock), ``event`` (short tag) and a ``detail`` text.

    >>> TimelineEntry(120.0, "acknowledged", "by on-call")
    TimelineEntry(at=120.0, event='acknowledged', detail='by on-call')
    """

    at: float
    event: str
    detail: str


@dataclass(frozen=True)
class Incident:
    """One incident record (replaced, never mutated, at each lifecycle step).

    The :class:`IncidentManager` builds it: ``rules``/``categories``/``alerts`` that joined it, ``severity``
    (the worst rule's), ``status`` (one of :data:`STATUSES`), a timestamp per lifecycle step (None until
    reached), the playbook's ``mitigations`` and those applied, the ``timeline``, and what the post-mortem
    needs (``root_cause``, ``action_items``, ``acknowledged_by``).

    >>> manager = IncidentManager()
    >>> inc = manager.on_alert(Alert("high p95 latency", "firing", 400.0, 400, 820.0, 600.0, "P2",
    ...                              "latency_p95", "latency", "p95 above 600 ms"))
    >>> inc.id, inc.severity, inc.status, inc.mitigations[0]
    (1, 'P2', 'open', 'Scale out serving replicas')
    """

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
    def _times(self) -> tuple[float | None, float | None, float | None]:
        return response_times(self.impact_started_at, self.opened_at, self.mitigated_at, self.resolved_at)

    @property
    def time_to_detect(self) -> float | None:
        """``opened_at - impact_started_at`` (None when the impact start is unknown)."""
        return self._times[0]

    @property
    def time_to_acknowledge(self) -> float | None:
        return None if self.acknowledged_at is None else self.acknowledged_at - self.opened_at

    @property
    def time_to_mitigate(self) -> float | None:
        """``mitigated_at`` minus the impact start (or ``opened_at`` when unknown)."""
        return self._times[1]

    @property
    def time_to_resolve(self) -> float | None:
        """``resolved_at`` minus the impact start (or ``opened_at`` when unknown)."""
        return self._times[2]

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
        return postmortem_markdown(self, lambda t: format_clock(t, time_style), impact)


# ------------------------------------------------------------------------------------------------ manager
class IncidentManager:
    """Turn firing alerts into incidents and walk them through their lifecycle (see the module docstring).

    ``playbook`` maps alert categories to ordered mitigation steps (default :data:`PLAYBOOK`);
    ``group`` decides whether a firing alert joins the latest unresolved incident (True) or opens its
    own unless its rule is already in one (False).

    >>> def alert(rule, status, at, severity, category):
    ...     return Alert(rule, status, at, int(at), 1.0, 0.5, severity, "error_rate", category, rule)
    >>> manager = IncidentManager()
    >>> _ = manager.process([alert("latency", "firing", 400.0, "P2", "latency"),
    ...                      alert("errors", "firing", 460.0, "P1", "errors")])  # joins, raises severity
    >>> manager.set_impact_start(1, 100.0).severity
    'P1'
    >>> _ = manager.acknowledge(1, 460.0)
    >>> _ = manager.mitigate(1, 580.0)  # the playbook's first step: fail over
    >>> inc = manager.resolve(1, 1500.0, root_cause="a provider outage")
    >>> inc.time_to_detect, inc.time_to_mitigate, inc.time_to_resolve, manager.mttr()
    (300.0, 480.0, 1400.0, 1400.0)
    """

    def __init__(self, playbook: Mapping[str, Sequence[str]] = PLAYBOOK, *, group: bool = True) -> None:
        self.playbook: Mapping[str, tuple[str, ...]] = clean_playbook(playbook)
        if not isinstance(group, bool):
            raise TypeError(f"group must be a bool; got {group!r}")
        self.group = group
        self._incidents: list[Incident] = []
        self._last_alert_at = -math.inf

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

        A firing alert joins the unresolved incident that already holds its rule, else (with ``group``)
        the latest unresolved incident, else opens a new one. A resolved alert is recorded in the incident
        holding its rule; when every rule has resolved, ``alerts_cleared_at`` is set. The fields the
        manager relies on are checked first (``ValueError``/``TypeError`` naming the field, nothing recorded).
        """
        check_alert(alert)
        if alert.at < self._last_alert_at:
            raise ValueError(f"alerts must arrive in time order; got at={alert.at} after {self._last_alert_at}")
        if alert.category not in self.playbook:
            raise ValueError(f"alert category {alert.category!r} is not in the playbook "
                             f"({', '.join(sorted(self.playbook))})")
        self._last_alert_at = alert.at
        open_ = [i for i in self._incidents if i.status != "resolved"]
        owner = next((i for i in reversed(open_) if alert.rule in i.rules), None)
        if alert.status == "resolved":
            return None if owner is None else self._clear(owner, alert)
        if owner is None and self.group and open_:
            owner = open_[-1]
        return self._open(alert) if owner is None else self._join(owner, alert)

    def _open(self, alert: Alert) -> Incident:
        level = severity_level(alert.severity)
        entry = TimelineEntry(alert.at, "opened", f"{alert.message}; {alert.severity} means respond "
                                                  f"{level.response_time}")
        inc = Incident(id=len(self._incidents) + 1, title=f"{alert.rule} ({alert.category})",
                       severity=alert.severity, status="open", rules=(alert.rule,), categories=(alert.category,),
                       opened_at=alert.at, impact_started_at=None, acknowledged_at=None, mitigated_at=None,
                       resolved_at=None, alerts_cleared_at=None,
                       mitigations=mitigations_for((alert.category,), self.playbook), applied_mitigations=(),
                       alerts=(alert,), timeline=(entry,))
        self._incidents.append(inc)
        return inc

    def _join(self, owner: Incident, alert: Alert) -> Incident:
        rules, cats, severity = owner.rules, owner.categories, owner.severity
        if alert.rule in rules:
            entries = [TimelineEntry(alert.at, "alert fired again", alert.message)]
        else:
            rules = rules + (alert.rule,)
            entries = [TimelineEntry(alert.at, "alert joined", alert.message)]
        if alert.category not in cats:
            cats = cats + (alert.category,)
        if SEVERITIES.index(alert.severity) < SEVERITIES.index(severity):  # worse: raise it, never lower it
            entries.append(TimelineEntry(alert.at, "severity raised", f"{severity} -> {alert.severity}"))
            severity = alert.severity
        return self._put(dataclasses.replace(
            owner, rules=rules, categories=cats, severity=severity, alerts=owner.alerts + (alert,),
            mitigations=mitigations_for(cats, self.playbook), timeline=add_entries(owner.timeline, *entries),
            alerts_cleared_at=None))

    def _clear(self, owner: Incident, alert: Alert) -> Incident:
        entries = [TimelineEntry(alert.at, "alert resolved", alert.message)]
        cleared = owner.alerts_cleared_at
        if not firing_rules(owner.alerts + (alert,)):
            cleared = alert.at
            entries.append(TimelineEntry(alert.at, "all alerts clear", "every triggered rule has resolved"))
        return self._put(dataclasses.replace(owner, alerts=owner.alerts + (alert,), alerts_cleared_at=cleared,
                                             timeline=add_entries(owner.timeline, *entries)))

    # ---- lifecycle ------------------------------------------------------------------------------
    def _step(self, incident_id: int, at: float, to: str) -> tuple[Incident, float]:
        inc = self.get(incident_id)
        at = check_real("at", at)
        try:
            lifecycle_step(inc.status, to)
        except ValueError as exc:
            raise ValueError(f"incident #{inc.id}: {exc}") from None
        last = last_step_time(inc, to)
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
            timeline=add_entries(kept, TimelineEntry(at, "impact started", "first affected requests"))))

    def acknowledge(self, incident_id: int, at: float, by: str = "on-call") -> Incident:
        """``open -> acknowledged`` at ``at`` by ``by``."""
        check_str("by", by)
        inc, at = self._step(incident_id, at, "acknowledged")
        ok = "within" if at - inc.opened_at <= (inc.level.response_time_s or 300.0) else "OUTSIDE"
        entry = TimelineEntry(at, "acknowledged", f"by {by}, {ok} the {inc.severity} response time")
        return self._put(dataclasses.replace(inc, status="acknowledged", acknowledged_at=at, acknowledged_by=by,
                                             timeline=add_entries(inc.timeline, entry)))

    def mitigate(self, incident_id: int, at: float, action: str | None = None) -> Incident:
        """``acknowledged -> mitigated`` by applying ``action`` (default: the first suggested step not
        applied yet). Further mitigations on a mitigated incident are recorded too."""
        inc, at = self._step(incident_id, at, "mitigated")
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
            applied_mitigations=inc.applied_mitigations + ((at, action),),
            timeline=add_entries(inc.timeline, entry)))

    def resolve(self, incident_id: int, at: float, *, root_cause: str = "",
                action_items: Sequence[str] = ()) -> Incident:
        """``acknowledged | mitigated -> resolved``; records the root cause and action items."""
        if not isinstance(root_cause, str):
            raise TypeError(f"root_cause must be a str; got {root_cause!r}")
        if isinstance(action_items, str) or not isinstance(action_items, Sequence):
            raise TypeError(f"action_items must be a sequence of strings; got {action_items!r}")
        items = tuple(check_str("action_items item", a) for a in action_items)
        inc, at = self._step(incident_id, at, "resolved")
        entry = TimelineEntry(at, "resolved", root_cause or "service restored")
        return self._put(dataclasses.replace(inc, status="resolved", resolved_at=at, root_cause=root_cause,
                                             action_items=items, timeline=add_entries(inc.timeline, entry)))

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
