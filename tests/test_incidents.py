"""Incidents: severities, deterministic playbook order, dedup and grouping, lifecycle, MTTD/MTTR, post-mortem."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodai_lessons.incidents import (
    CATEGORY_ORDER,
    PLAYBOOK,
    SEVERITY_LEVELS,
    STATUSES,
    IncidentManager,
    format_clock,
    lifecycle_step,
    mitigations_for,
    response_times,
    severity_level,
)
from prodai_lessons.monitoring import Alert, MonitoringPipeline, standard_rules
from prodai_lessons.simulate import simulate_phases


def alert(rule, status, at, severity="P2", category="latency"):
    return Alert(rule, status, float(at), int(at), 1.0, 0.5, severity, "latency_p95", category,
                 f"[{severity}] {rule} {status}")


def test_severity_table():
    assert [(s.name, s.response_time_s) for s in SEVERITY_LEVELS] == [
        ("P0", 0.0), ("P1", 3600.0), ("P2", 14400.0), ("P3", 86400.0)]
    assert severity_level("P2").response_time == "< 4 hours"
    with pytest.raises(ValueError, match="severity"):
        severity_level("P5")


def test_mitigations_follow_the_documented_order():
    got = mitigations_for(["cost", "latency", "errors"])
    assert got == PLAYBOOK["errors"] + PLAYBOOK["latency"] + ("Route easy requests to a cheaper model",
                                                              "Rate-limit the heaviest clients")
    # input order does not matter; duplicates ("Rate-limit the heaviest clients") appear once
    assert mitigations_for(["errors", "latency", "cost"]) == got
    both = mitigations_for(["traffic", "cost"])
    assert both.count("Rate-limit the heaviest clients") == 1
    assert list(CATEGORY_ORDER) == ["safety", "errors", "quality", "latency", "traffic", "cost"]
    with pytest.raises(ValueError, match="category"):
        mitigations_for(["weather"])


_SNIPPET = (
    "from prodai_lessons.incidents import mitigations_for, PLAYBOOK\n"
    "cats = ['cost', 'latency', 'errors', 'quality', 'safety']\n"
    "print('|'.join(mitigations_for(cats)))\n"
    "print('|'.join(list(set(s for c in cats for s in PLAYBOOK[c]))))\n"
)


def test_order_is_the_same_in_every_process_unlike_a_set():
    """Run in 4 processes with different hash seeds: ours is identical; a list(set(...)) is not
    (the mutant shows the check can tell)."""
    ours, sets = set(), set()
    for seed in ("1", "2", "3", "4"):
        out = subprocess.run([sys.executable, "-c", _SNIPPET], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout.splitlines()
        ours.add(out[0])
        sets.add(out[1])
    assert len(ours) == 1
    assert len(sets) > 1


def test_lifecycle_table():
    allowed = set()
    for status in STATUSES:
        for to in STATUSES:
            try:
                assert lifecycle_step(status, to) == to
                allowed.add((status, to))
            except ValueError as exc:
                assert f"is {status}" in str(exc) and f"to become {to}" in str(exc)
    assert allowed == {("open", "acknowledged"), ("acknowledged", "mitigated"), ("acknowledged", "resolved"),
                       ("mitigated", "mitigated"), ("mitigated", "resolved")}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["acknowledged", "mitigated", "resolved"]), max_size=8))
def test_manager_follows_the_lifecycle_table(steps):
    """Any sequence of steps: the manager accepts a step exactly when the lifecycle table allows it."""
    m = IncidentManager()
    m.on_alert(alert("latency", "firing", 10))
    status = "open"
    for k, to in enumerate(steps):
        at = 20.0 + k
        do = {"acknowledged": lambda: m.acknowledge(1, at), "mitigated": lambda: m.mitigate(1, at, action=f"a{k}"),
              "resolved": lambda: m.resolve(1, at)}[to]
        try:
            expected = lifecycle_step(status, to)
        except ValueError:
            with pytest.raises(ValueError, match=f"incident #1: an incident that is {status}"):
                do()
            continue
        assert do().status == expected
        status = expected
    assert m.get(1).status == status


def test_response_times_core():
    # time to resolve counts from the impact start too, and is not the time to mitigate
    assert response_times(100.0, 400.0, 580.0, 1500.0) == (300.0, 480.0, 1400.0)
    assert response_times(None, 400.0, None, 1000.0) == (None, None, 600.0)  # impact start unknown
    assert response_times(100.0, 400.0, None, None) == (300.0, None, None)   # not mitigated nor resolved yet


def test_dedup_grouping_and_worst_severity():
    m = IncidentManager()
    m.on_alert(alert("latency", "firing", 10, "P2", "latency"))
    m.on_alert(alert("errors", "firing", 20, "P1", "errors"))          # joins, raises severity
    m.on_alert(alert("cost", "firing", 25, "P3", "cost"))              # joins, does not lower it
    m.on_alert(alert("latency", "resolved", 30))
    m.on_alert(alert("latency", "firing", 35, "P2", "latency"))        # same rule again: no new incident
    (inc,) = m.incidents
    assert inc.rules == ("latency", "errors", "cost")
    assert inc.severity == "P1"
    assert inc.mitigations == mitigations_for(["errors", "latency", "cost"])
    assert [e.event for e in inc.timeline].count("severity raised") == 1
    assert "alert fired again" in [e.event for e in inc.timeline]
    # without grouping: another rule opens its own incident, the same rule still does not
    g = IncidentManager(group=False)
    g.process([alert("latency", "firing", 1), alert("errors", "firing", 2, "P1", "errors"),
               alert("latency", "resolved", 3), alert("latency", "firing", 4)])
    assert [i.rules for i in g.incidents] == [("latency",), ("errors",)]
    # after resolution a new firing opens a new incident
    m.acknowledge(1, 40)
    m.resolve(1, 50)
    m.on_alert(alert("latency", "firing", 60))
    assert len(m.incidents) == 2 and m.incidents[1].status == "open"


def test_lifecycle_order_timestamps_and_figures():
    m = IncidentManager()
    m.on_alert(alert("latency", "firing", 100, "P1"))
    m.set_impact_start(1, 80)
    with pytest.raises(ValueError, match="acknowledged"):
        m.mitigate(1, 110)                                   # cannot mitigate before acknowledging
    with pytest.raises(ValueError, match="at must not be earlier"):
        m.acknowledge(1, 90)                                 # before the incident was opened
    m.acknowledge(1, 130, by="alice")
    inc = m.mitigate(1, 160)
    assert inc.applied_mitigations == ((160.0, PLAYBOOK["latency"][0]),)   # first playbook step by default
    inc = m.mitigate(1, 170, action="Restart the tokenizer service")
    assert inc.mitigated_at == 160.0 and len(inc.applied_mitigations) == 2
    inc = m.resolve(1, 300, root_cause="a bad deploy", action_items=["add a canary"])
    assert inc.status == "resolved"
    assert (inc.time_to_detect, inc.time_to_acknowledge, inc.time_to_mitigate, inc.time_to_resolve) == (20, 30, 80, 220)
    assert inc.acknowledged_in_time is True
    with pytest.raises(ValueError, match="resolved"):
        m.acknowledge(1, 400)
    # a second incident without a known impact start: MTTR counts from detection
    m.on_alert(alert("errors", "firing", 1000, "P0", "errors"))
    m.acknowledge(2, 1500)                                   # 500 s: too late for a P0
    assert m.get(2).acknowledged_in_time is False
    m.resolve(2, 1600)                                       # recovered without mitigation
    assert m.mttd() == pytest.approx(20.0)                   # only incident 1 knows its impact start
    assert m.mttr() == pytest.approx((220 + 600) / 2)
    assert IncidentManager().mttd() is None and IncidentManager().mttr() is None


def test_impact_start_corrected_keeps_one_timeline_entry():
    m = IncidentManager()
    m.on_alert(alert("latency", "firing", 100, "P1"))
    m.set_impact_start(1, 50)
    inc = m.set_impact_start(1, 90)                          # a later analysis corrects the first guess
    assert inc.impact_started_at == 90.0 and inc.time_to_detect == 10.0
    assert [(e.at, e.event) for e in inc.timeline if e.event == "impact started"] == [(90.0, "impact started")]
    timeline = inc.postmortem().split("## Timeline")[1].split("\n## ")[0]
    assert timeline.count("impact started") == 1 and "50" not in timeline


def test_resolution_cannot_predate_alerts_already_in_the_incident():
    m = IncidentManager()
    m.on_alert(alert("latency", "firing", 10, "P2"))
    m.acknowledge(1, 15)
    m.on_alert(alert("errors", "firing", 50, "P1", "errors"))   # joins the open incident at 50
    assert len(m.incidents) == 1 and m.get(1).severity == "P1"
    with pytest.raises(ValueError, match="at must not be earlier"):
        m.resolve(1, 20)                                     # would put "resolved" before the alert at 50
    m.mitigate(1, 40)                                        # mitigating before a later alert is fine
    inc = m.resolve(1, 60)
    ats = [e.at for e in inc.timeline]
    assert ats == sorted(ats) and inc.timeline[-1].event == "resolved"


def test_postmortem_draft_has_every_section_in_order():
    m = IncidentManager()
    m.process([alert("high p95 latency", "firing", 3600 * 14 + 65, "P2", "latency"),
               alert("error budget burn", "firing", 3600 * 14 + 125, "P1", "errors")])
    m.set_impact_start(1, 3600 * 14)
    m.acknowledge(1, 3600 * 14 + 300)
    m.mitigate(1, 3600 * 14 + 600)
    m.resolve(1, 3600 * 17, root_cause="provider quota exhausted", action_items=["alert on quota at 80 %"])
    md = m.get(1).postmortem(time_style="clock", impact={"requests affected": "11,252"})
    heads = [line for line in md.splitlines() if line.startswith("#")]
    assert heads == ["# Post-mortem: incident #1, high p95 latency (latency)", "## Summary", "## Impact",
                     "## Timeline", "## Triggered rules", "## Mitigations", "## Root cause", "## Action items"]
    assert "| 14:00:00 | impact started |" in md and "| 17:00:00 | resolved |" in md
    assert "| Severity | P1 " in md and "requests affected**: 11,252" in md
    assert "- [x] Fail over to the fallback model (applied 14:10:00)" in md
    assert "- [ ] alert on quota at 80 %" in md
    assert md == m.get(1).postmortem(time_style="clock", impact={"requests affected": "11,252"})
    assert "TODO" in IncidentManager().process([alert("x", "firing", 1)])[0].postmortem()
    assert format_clock(3600 * 14 + 61.9, "clock") == "14:01:01" and format_clock(None) == "-"


def test_end_to_end_with_the_monitoring_pipeline():
    t = simulate_phases([("normal", 300), ("degraded", 100), ("normal", 400)], seed=3)
    p = MonitoringPipeline(standard_rules())
    p.log_requests(t.requests)
    m = IncidentManager()
    m.process(p.history)
    (inc,) = m.incidents                                   # three rules, one incident
    assert set(inc.rules) == {"high p95 latency", "low confidence", "error budget burn"}
    assert inc.severity == "P1" and inc.alerts_cleared_at is not None
    m.set_impact_start(1, t.incidents[0].start_s)
    assert 0 < m.get(1).time_to_detect < t.incidents[0].end_s - t.incidents[0].start_s


def test_bad_input():
    m = IncidentManager()
    with pytest.raises(TypeError, match="alert"):
        m.on_alert({"rule": "x"})
    with pytest.raises(TypeError, match="alerts"):
        m.process(alert("x", "firing", 1))
    with pytest.raises(ValueError, match="incident_id"):
        m.acknowledge(1, 5)
    m.on_alert(alert("x", "firing", 10))
    with pytest.raises(ValueError, match="time order"):
        m.on_alert(alert("y", "firing", 5))
    with pytest.raises(ValueError, match="category"):
        m.on_alert(alert("z", "firing", 20, category="weather"))
    with pytest.raises(ValueError, match="at must not be later"):
        m.set_impact_start(1, 11)
    with pytest.raises(TypeError, match="by"):
        m.acknowledge(1, 12, by=None)
    with pytest.raises(TypeError, match="playbook"):
        IncidentManager(playbook={})
    with pytest.raises(ValueError, match="time_style"):
        m.get(1).postmortem(time_style="utc")


def _replace(a, **changes):
    """A copy of ``a`` with ``changes`` written past Alert's own checks: ``Alert(...)`` and
    ``dataclasses.replace`` reject malformed fields since Alert validates in ``__post_init__`` (tested in
    test_monitoring.py); a mutated object (``object.__setattr__``) is how one could still reach the
    manager, whose own checks are tested here."""
    bad = copy.copy(a)
    for field, value in changes.items():
        object.__setattr__(bad, field, value)
    return bad


@pytest.mark.parametrize("changes, exc, msg", [
    (dict(status="weird"), ValueError, r"alert\.status must be one of 'firing', 'resolved'; got 'weird'"),
    (dict(status="FIRING"), ValueError, r"alert\.status must be one of"),
    (dict(status=None), ValueError, r"alert\.status must be one of"),
    (dict(severity="P9"), ValueError, r"alert\.severity must be one of 'P0', 'P1', 'P2', 'P3'; got 'P9'"),
    (dict(severity=["P1"]), ValueError, r"alert\.severity must be one of"),
    (dict(rule=""), ValueError, r"alert\.rule must be a non-empty string"),
    (dict(rule=None), TypeError, r"alert\.rule must be a str"),
    (dict(category=["latency"]), TypeError, r"alert\.category must be a str"),
    (dict(message=None), TypeError, r"alert\.message must be a str"),
    (dict(at=float("nan")), ValueError, r"alert\.at must be finite"),
    (dict(at="30"), TypeError, r"alert\.at must be a real number"),
    (dict(threshold=float("inf")), ValueError, r"alert\.threshold must be finite"),
    (dict(value="high"), TypeError, r"alert\.value must be a real number"),
    (dict(value=True), TypeError, r"alert\.value must be a real number"),
    (dict(value=float("nan")), ValueError, r"alert\.value must not be NaN in a firing alert"),
])
@pytest.mark.parametrize("joins", [False, True])
def test_malformed_alert_fields_are_rejected_and_nothing_is_recorded(changes, exc, msg, joins):
    """A malformed alert is refused before it can open an incident (as if firing) or join one (where an unknown
    severity would fail in the severity comparison). Both paths: a new incident and joining an open one."""
    m = IncidentManager()
    if joins:
        m.on_alert(alert("existing", "firing", 10, "P2"))
    before = m.incidents
    bad = _replace(alert("new rule", "firing", 30, "P1"), **changes)
    with pytest.raises(exc, match=msg):
        m.on_alert(bad)
    with pytest.raises(exc, match=msg):
        m.process([bad])
    assert m.incidents == before  # no incident opened or changed
    # nor did the rejected alert advance the clock: a valid alert at an earlier time is still in order
    m.on_alert(alert("later", "firing", 20, "P2"))
    assert len(m.incidents) == 1


def test_resolved_alert_may_carry_nan_value_from_an_empty_window():
    m = IncidentManager()
    m.on_alert(alert("x", "firing", 10))
    (inc,) = m.process([_replace(alert("x", "resolved", 20), value=float("nan"))])
    assert inc.alerts_cleared_at == 20.0 and "| x | P2 | 1 | 0.5 |" in inc.postmortem()
