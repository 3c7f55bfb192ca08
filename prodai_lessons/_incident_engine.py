"""The machinery behind :mod:`prodai_lessons.incidents`: input checks, the timeline and the post-mortem text.

Private. The lesson module states the ideas (the playbook order, the lifecycle, the response times) and
runs the incident manager; this module checks what reaches it (an alert notification, a playbook) and
writes the post-mortem draft from an incident record. Nothing here imports
:mod:`prodai_lessons.incidents`: imports run one way, lesson module -> engine.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from prodai_lessons._validation import check_choice, check_real, check_str
from prodai_lessons.monitoring import SEVERITIES, Alert


def known_categories(categories: Iterable[str], playbook: Mapping[str, Sequence[str]]) -> set[str]:
    """``categories`` as a set, each a non-empty string the playbook has steps for (``ValueError`` otherwise)."""
    cats = set()
    for c in categories:
        check_str("category", c)
        if c not in playbook:
            raise ValueError(f"category must be one of {', '.join(sorted(playbook))}; got {c!r}")
        cats.add(c)
    return cats


def clean_playbook(playbook: Any) -> dict[str, tuple[str, ...]]:
    """A playbook as ``category -> tuple of step names``, checked (non-empty mapping of strings)."""
    if not isinstance(playbook, Mapping) or not playbook:
        raise TypeError(f"playbook must be a non-empty mapping of category -> steps; got {playbook!r}")
    clean: dict[str, tuple[str, ...]] = {}
    for cat, steps in playbook.items():
        check_str("playbook category", cat)
        if isinstance(steps, str) or not isinstance(steps, Sequence):
            raise TypeError(f"playbook[{cat!r}] must be a sequence of step names; got {steps!r}")
        clean[cat] = tuple(check_str(f"playbook[{cat!r}] step", s) for s in steps)
    return clean


def check_alert(alert: Any) -> None:
    """Check the fields of an alert notification that the manager and the post-mortem use.

    ``status`` is ``"firing"`` or ``"resolved"``, ``severity`` one of ``P0``..``P3``, ``rule`` and
    ``category`` non-empty strings, ``message`` a string, ``at`` and ``threshold`` finite numbers, ``value``
    a number (NaN only in a ``"resolved"`` notification: a window left without data clears its rule).
    """
    if not isinstance(alert, Alert):
        raise TypeError(f"alert must be an Alert notification; got {alert!r}")
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


def firing_rules(alerts: Sequence[Alert]) -> set[str]:
    """The rules still firing after this sequence of notifications."""
    firing: set[str] = set()
    for a in alerts:
        if a.status == "firing":
            firing.add(a.rule)
        else:
            firing.discard(a.rule)
    return firing


def add_entries(timeline: tuple, *entries: Any) -> tuple:
    """Timeline with ``entries`` added, kept in time order (stable: same-time entries keep their order)."""
    return tuple(sorted(timeline + entries, key=lambda e: e.at))


def last_step_time(inc: Any, to: str) -> float:
    """The time a lifecycle step to ``to`` may not precede: the incident's last step (and, to resolve it,
    its last alert: a resolved incident takes no alerts, so it cannot end before one joined it)."""
    steps = [inc.opened_at, inc.acknowledged_at, inc.mitigated_at] + [t for t, _ in inc.applied_mitigations]
    if to == "resolved":
        steps += [a.at for a in inc.alerts]
    return max(t for t in steps if t is not None)


def duration_text(d: float | None) -> str:
    """``"42.0 s"``, ``"3.5 min"`` or ``"1.2 h"``; ``"-"`` for None."""
    if d is None:
        return "-"
    if d >= 3600:
        return f"{d / 3600:.1f} h"
    if d >= 120:
        return f"{d / 60:.1f} min"
    return f"{d:.1f} s"


def postmortem_markdown(inc: Any, fc: Callable[[float | None], str], impact: Mapping[str, str] | None) -> str:
    """The blameless post-mortem draft of incident record ``inc`` in Markdown; ``fc`` formats a time."""
    lvl = inc.level
    lines = [
        f"# Post-mortem: incident #{inc.id}, {inc.title}",
        "",
        "*Draft generated from the incident record. Blameless: describe systems and decisions, not people.*",
        "",
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| Severity | {inc.severity} ({lvl.description.lower()}; respond {lvl.response_time}) |",
        f"| Status | {inc.status} |",
        f"| Impact started | {fc(inc.impact_started_at)} |",
        f"| Detected (incident opened) | {fc(inc.opened_at)} |",
        f"| Acknowledged | {fc(inc.acknowledged_at)}"
        + (f" by {inc.acknowledged_by}" if inc.acknowledged_by else "") + " |",
        f"| Mitigated | {fc(inc.mitigated_at)} |",
        f"| Resolved | {fc(inc.resolved_at)} |",
        f"| Time to detect | {duration_text(inc.time_to_detect)} |",
        f"| Time to resolve | {duration_text(inc.time_to_resolve)} |",
        "",
        "## Impact",
        "",
    ]
    if impact:
        for k, v in impact.items():
            lines.append(f"- **{k}**: {v}")
    lines.append(f"- Alert categories: {', '.join(inc.categories)}")
    if not impact:
        lines.append("- TODO: users and requests affected, SLO budget spent")
    lines += ["", "## Timeline", "", "| time | event | detail |", "|---|---|---|"]
    for e in inc.timeline:
        lines.append(f"| {fc(e.at)} | {e.event} | {e.detail} |")
    lines += ["", "## Triggered rules", "", "| rule | severity | first value | threshold | fired at |",
              "|---|---|---|---|---|"]
    seen = set()
    for a in inc.alerts:
        if a.status == "firing" and a.rule not in seen:
            seen.add(a.rule)
            lines.append(f"| {a.rule} | {a.severity} | {a.value:.4g} | {a.threshold:g} | {fc(a.at)} |")
    lines += ["", "## Mitigations", ""]
    applied = {m for _, m in inc.applied_mitigations}
    for t, m in inc.applied_mitigations:
        lines.append(f"- [x] {m} (applied {fc(t)})")
    for m in inc.mitigations:
        if m not in applied:
            lines.append(f"- [ ] {m} (suggested by the playbook, not applied)")
    lines += ["", "## Root cause", "", inc.root_cause or "TODO: why did it happen? Ask why until the answer "
              "is a process or a system, not a person.", "", "## Action items", ""]
    if inc.action_items:
        lines += [f"- [ ] {a}" for a in inc.action_items]
    else:
        lines.append("- [ ] TODO: one owner and one due date per item")
    return "\n".join(lines) + "\n"
