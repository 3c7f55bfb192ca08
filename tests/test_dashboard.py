"""Tests of prodai_lessons.dashboard: windows from the alert history, labels, data plumbing, the HTML report."""

from __future__ import annotations

import base64
import re

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import prodai_lessons.dashboard as dashboard  # noqa: E402
from prodai_lessons.dashboard import (  # noqa: E402
    AlertWindow,
    DashboardData,
    MetricsRecorder,
    alert_windows,
    collect_dashboard,
    format_hours,
    hours_covered,
    line_panel,
    merge_episodes,
    plot_dashboard,
    report_html,
    simulate_observed_day,
    write_report,
)
from prodai_lessons.monitoring import Alert  # noqa: E402
from prodai_lessons.tooling import cli  # noqa: E402


def alert(rule: str, status: str, at: float, severity: str = "P2") -> Alert:
    return Alert(rule, status, at, 0, 0.0, 0.0, severity, "latency_p95", "latency", f"{rule} {status}")


@pytest.fixture(scope="module")
def day():
    return simulate_observed_day(seed=0)


# ------------------------------------------------------------------------------------------ the incident window
def injected_hours(traffic) -> tuple[int, ...]:
    (inc,) = traffic.incidents
    return tuple(range(int(inc.start_s // 3600), int(inc.end_s // 3600)))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_incident_window_equals_the_injected_hours(seed):
    d = simulate_observed_day(seed=seed, guarded_share=0.0)
    truth = injected_hours(d.traffic)
    assert truth == (14, 15, 16)
    (window,) = d.data.windows  # exactly one window: no false alarm elsewhere in the day
    assert window.hours == truth
    assert window.start_s >= 14 * 3600 and window.end_s >= 17 * 3600  # alerts follow the incident, never lead it
    assert window.start_s - 14 * 3600 < 20 * 60  # detected within 20 minutes
    assert "hours 14-16" in window.label()
    # the window is derived from the pipeline's notifications, not from the simulation's ground truth
    firing = [a.at for a in d.pipeline.history if a.status == "firing"]
    assert window.start_s == min(firing)


def test_incident_window_follows_the_alerts_when_the_incident_moves():
    for hours, text in (((9, 11), "hours 9-10"), ((3, 5), "hours 3-4")):
        d = simulate_observed_day(seed=5, incident_hours=hours, guarded_share=0.0)
        (window,) = d.data.windows
        assert window.hours == injected_hours(d.traffic) == tuple(range(*hours))
        assert text in window.label()


def test_normal_day_has_no_incident_window():
    d = simulate_observed_day(seed=7, incident_hours=None, guarded_share=0.0)
    assert d.data.windows == ()
    assert d.data.summary.incident_windows == ()
    assert d.data.summary.alerts_fired == 0


def test_label_names_the_hours_covered_not_the_slice_end():
    w = alert_windows([alert("a", "firing", 14 * 3600.0), alert("a", "resolved", 17 * 3600.0)])[0]
    assert w.hours == (14, 15, 16)
    assert "hours 14-16" in w.label()
    # the label a slice 14:17 invites names an hour the incident did not cover
    mutant = f"hours {14}-{17}"
    assert mutant not in w.label()


# ------------------------------------------------------------------------------------------ the cores
@settings(max_examples=300, deadline=None)
@given(st.floats(0, 30 * 3600), st.floats(0, 10 * 3600), st.sampled_from([0.25, 0.5, 1.0]))
def test_hours_covered_is_every_hour_with_enough_overlap(start, length, share):
    end = start + length
    expected = tuple(h for h in range(0, 45)
                     if max(0.0, min(end, (h + 1) * 3600.0) - max(start, h * 3600.0)) >= share * 3600.0)
    assert hours_covered(start, end, share) == expected


episodes_strategy = st.lists(
    st.tuples(st.integers(0, 5000), st.integers(0, 800), st.sampled_from(["a", "b", "c"]),
              st.sampled_from(["P0", "P1", "P2", "P3"])), max_size=12)


@settings(max_examples=300, deadline=None)
@given(episodes_strategy, st.integers(0, 600))
def test_merged_windows_cover_their_episodes_and_stay_apart(raw, gap):
    episodes = sorted(((float(s), float(s + d), r, sev) for s, d, r, sev in raw), key=lambda e: (e[0], e[2]))
    windows = merge_episodes(episodes, gap)
    for (_, end, _, _), (start, _, _, _) in zip(windows, windows[1:]):
        assert start > end + gap                      # windows more than `gap` apart stay apart
    for ws, we, rules, worst in windows:
        inside = [e for e in episodes if ws <= e[0] <= we]
        assert inside and all(e[1] <= we for e in inside)  # every episode lies in exactly one window
        assert ws == min(e[0] for e in inside) and we == max(e[1] for e in inside)
        assert rules == list(dict.fromkeys(e[2] for e in inside))  # rules in order of firing, once each
        assert worst == min(e[3] for e in inside)
    assert sum(len([e for e in episodes if w[0] <= e[0] <= w[1]]) for w in windows) == len(episodes)


def test_line_panel_draws_the_recorded_scrapes_the_rule_and_the_windows(day):
    fig, ax = plt.subplots()
    try:
        windows = alert_windows(day.pipeline.history)
        line_panel(ax, day.recorder.times, day.recorder.series("latency_p95_ms"), windows, threshold=500.0)
        series, threshold = ax.lines
        np.testing.assert_array_equal(series.get_xdata(), day.recorder.times / 3600)
        np.testing.assert_array_equal(series.get_ydata(), day.recorder.series("latency_p95_ms"))
        assert threshold.get_ydata()[0] == 500.0
        spans = [x for p in ax.patches for x in (p.get_x(), p.get_x() + p.get_width())]
        assert windows and spans == pytest.approx([x for w in windows for x in (w.start_s / 3600, w.end_s / 3600)])
        # the dashboard's latency panel is this panel
        dash = plot_dashboard(day.data)
        np.testing.assert_array_equal(dash.axes[1].lines[0].get_ydata(), series.get_ydata())
        plt.close(dash)
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------------ alert_windows
def test_hours_need_half_an_hour_of_firing():
    h = 3600.0
    w = alert_windows([alert("a", "firing", 14 * h + 29 * 60), alert("a", "resolved", 17 * h + 31 * 60)])[0]
    assert w.hours == (14, 15, 16, 17)  # 31 minutes of hour 14 and of hour 17
    w = alert_windows([alert("a", "firing", 14 * h + 31 * 60), alert("a", "resolved", 17 * h + 29 * 60)])[0]
    assert w.hours == (15, 16)
    w = alert_windows([alert("a", "firing", 10 * h + 5 * 60), alert("a", "resolved", 10 * h + 15 * 60)])[0]
    assert w.hours == () and "no full hour" in w.label()


def test_episodes_merge_across_rules_and_gaps():
    h = 3600.0
    hist = [
        alert("latency", "firing", 14 * h + 300, "P2"),
        alert("errors", "firing", 14 * h + 600, "P1"),
        alert("latency", "resolved", 16 * h, "P2"),
        alert("errors", "resolved", 17 * h, "P1"),
        alert("latency", "firing", 17 * h + 600, "P2"),  # 10 minutes later: same incident
        alert("latency", "resolved", 17 * h + 1200, "P2"),
        alert("latency", "firing", 20 * h, "P3"),  # hours later: another window
        alert("latency", "resolved", 20 * h + 2400, "P3"),
    ]
    w1, w2 = alert_windows(hist, merge_gap=900.0)
    assert (w1.start_s, w1.end_s, w1.rules, w1.severity) == (14 * h + 300, 17 * h + 1200, ("latency", "errors"), "P1")
    assert (w2.start_s, w2.end_s, w2.hours) == (20 * h, 20 * h + 2400, (20,))
    # with no merging the 10-minute gap splits the first incident
    assert len(alert_windows(hist, merge_gap=0.0)) == 3


def test_open_episode_runs_to_until():
    w = alert_windows([alert("a", "firing", 22 * 3600.0)], until=24 * 3600.0)[0]
    assert w.open and w.end_s == 24 * 3600.0 and w.hours == (22, 23)
    assert w.label().startswith("22:00-24:00+")


@pytest.mark.parametrize("hours, text", [((14, 15, 16), "hours 14-16"), ((3,), "hour 3"),
                                         ((1, 2, 5), "hours 1-2, 5"), ((), "no full hour")])
def test_format_hours(hours, text):
    assert format_hours(hours) == text


def test_alert_windows_bad_input():
    with pytest.raises(TypeError, match=r"history\[0\] must be an Alert"):
        alert_windows([("a", "firing", 1.0)])
    with pytest.raises(ValueError, match="history must be in time order"):
        alert_windows([alert("a", "firing", 10.0), alert("a", "resolved", 5.0)])
    with pytest.raises(ValueError, match="merge_gap must be >= 0"):
        alert_windows([], merge_gap=-1)
    with pytest.raises(ValueError, match="min_share must be > 0"):
        alert_windows([], min_share=0)


# ------------------------------------------------------------------------------------------ the data
def test_dashboard_data_comes_from_the_components(day):
    data = day.data
    r = day.traffic.requests
    # cost panel: the tracker's exact hourly sums, equal to the simulated per-request costs
    np.testing.assert_allclose(data.cost, np.bincount(r.hour, weights=r.cost_usd, minlength=24), rtol=1e-9)
    assert data.summary.total_cost == pytest.approx(r.cost_usd.sum(), rel=1e-9)
    assert data.summary.n_requests == len(r)
    assert data.summary.error_rate == pytest.approx(r.error.mean())
    # traffic panel: scrape-to-scrape request rate; summed over an hour it is the hour's count
    per_scrape = data.requests_per_hour * np.diff(data.times, prepend=0.0) / 3600.0
    hourly = np.bincount(((data.times - 1) // 3600).astype(int), weights=per_scrape, minlength=24)
    np.testing.assert_allclose(hourly, np.bincount(r.hour, minlength=24))
    # thresholds are the pipeline's rules
    assert data.thresholds["latency_p95"] == 500.0 and data.thresholds["mean_confidence"] == 0.76
    assert data.thresholds["error_rate"] == pytest.approx(0.06)
    assert data.summary.alerts_fired == sum(a.status == "firing" for a in day.pipeline.history)


def test_guardrail_panel_counts_what_the_guardrail_pipeline_counted(day):
    stats = day.guardrails.stats()
    panel = day.data.guardrail_triggers
    assert sum(c.triggered for c in stats.by_guard.values()) == day.data.summary.guardrail_triggers > 0
    for name, counts in panel.items():
        assert counts.sum() == stats.by_guard[name].triggered
    # the scripted injection campaign during the spike shows up in the incident hours
    inj = panel["prompt_injection"]
    assert inj[14:17].mean() > 3 * np.delete(inj, [14, 15, 16]).mean()


def test_incidents_come_from_the_alerts(day):
    (inc,) = day.incidents.incidents
    (window,) = day.data.windows
    assert inc.opened_at == window.start_s and inc.status == "resolved"
    assert set(inc.rules) == set(window.rules) and inc.severity == window.severity
    assert inc.impact_started_at == 14 * 3600.0 and 0 < inc.time_to_detect < 20 * 60
    (line,) = day.data.summary.incidents
    assert line.startswith(f"#1 {inc.severity} resolved")
    # the duration it prints is the one it names: resolution, not the earlier mitigation
    assert line.endswith(f"to resolve {inc.time_to_resolve / 60:.0f} min")


def test_guardrail_triggers_are_binned_per_guard(day):
    t = np.array([10.0, 3600.0, 3700.0, 50_000.0, 86_399.0])
    names = np.array(["injection", "pii", "injection", "pii", "pii"])
    data = collect_dashboard(day.recorder, day.pipeline, day.tracker, guardrail_times=t, guardrail_names=names)
    assert list(data.guardrail_triggers) == ["injection", "pii"]
    assert data.guardrail_triggers["injection"][[0, 1]].tolist() == [1, 1]
    assert data.guardrail_triggers["pii"][[1, 13, 23]].tolist() == [1, 1, 1]
    assert data.summary.guardrail_triggers == 5 and data.summary.guardrail_by_guard == {"injection": 2, "pii": 3}
    with pytest.raises(ValueError, match="guardrail_names must have one name per trigger"):
        collect_dashboard(day.recorder, day.pipeline, day.tracker, guardrail_times=t, guardrail_names=names[:2])


def test_collect_dashboard_bad_input(day):
    with pytest.raises(TypeError, match="recorder must be a MetricsRecorder"):
        collect_dashboard(None, day.pipeline, day.tracker)
    with pytest.raises(ValueError, match="recorder must hold at least 2 scrapes"):
        collect_dashboard(MetricsRecorder(), day.pipeline, day.tracker)
    with pytest.raises(TypeError, match="tracker must be a CostTracker"):
        collect_dashboard(day.recorder, day.pipeline, {})
    rec = MetricsRecorder()
    rec.scrape(day.pipeline, at=100.0)
    with pytest.raises(ValueError, match="at must not be earlier"):
        rec.scrape(day.pipeline, at=50.0)
    with pytest.raises(ValueError, match="name must be a MetricsSnapshot field"):
        rec.series("nope")
    with pytest.raises(ValueError, match="name must be a numeric MetricsSnapshot field; 'window'"):
        rec.series("window")


# ------------------------------------------------------------------------------------------ figure and report
def test_plot_has_six_panels_with_shaded_windows(day):
    fig = plot_dashboard(day.data)
    try:
        assert len(fig.axes) == 6
        (w,) = day.data.windows
        for ax in fig.axes:
            spans = [p for p in ax.patches if p.get_alpha() == 0.13]
            assert len(spans) == 1
            x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
            assert (x0, x1) == pytest.approx((w.start_s / 3600, w.end_s / 3600))
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert any("hours 14-16" in t for t in texts)
    finally:
        plt.close(fig)
    with pytest.raises(TypeError, match="data must be DashboardData"):
        plot_dashboard({})


def test_write_report_is_standalone_html(tmp_path, day):
    out = write_report(tmp_path / "report.html", day.data)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert m and base64.b64decode(m.group(1)).startswith(b"\x89PNG")
    assert "hours 14-16" in text and "Summary" in text and "error budget burn" in text
    assert not re.search(r'(src|href)="(?!data:)', text)  # nothing fetched from elsewhere
    with pytest.raises(ValueError, match="path must end in .html"):
        write_report(tmp_path / "report.txt", day.data)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(tmp_path / "missing" / "r.html", day.data)


def test_cli_dashboard_writes_the_report(tmp_path, capsys, monkeypatch, day):
    seeds = []

    def fake_day(seed=0, **kwargs):  # the simulation is tested above; here only the command's plumbing
        seeds.append(seed)
        return day

    monkeypatch.setattr(dashboard, "simulate_observed_day", fake_day)
    out = tmp_path / "report.html"
    assert cli.main(["dashboard", "--out", str(out), "--seed", "3"]) == 0
    assert seeds == [3]
    assert out.exists() and "data:image/png;base64," in out.read_text()
    assert str(out) in capsys.readouterr().out
    assert cli.main(["dashboard", "--out", str(tmp_path / "nope" / "r.html")]) == 1
    assert "does not exist" in capsys.readouterr().err
