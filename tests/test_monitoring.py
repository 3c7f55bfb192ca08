"""Monitoring: exact window statistics (numpy as oracle), Prometheus alert semantics, the lesson's figures,
the naive monitor as a mutant that must fail them, and bad input."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import prodai_lessons._monitoring_windows as windows
import prodai_lessons.monitoring as monitoring
from prodai_lessons._monitoring_windows import _full_window_quantiles, _update_sorted
from prodai_lessons.incidents import IncidentManager
from prodai_lessons.monitoring import (
    SLO,
    AlertRule,
    BurnRateRule,
    MonitoringPipeline,
    NaiveThresholdMonitor,
    RollingWindow,
    alert_episodes,
    burn_rule_pages,
    cusum_arl,
    cusum_paths,
    first_crossing,
    parse_duration,
    standard_rules,
    wilson_interval,
)
from prodai_lessons.simulate import PHASES, false_pages, first_firing_delays, simulate_phases, standard_scenario

#: The notebook's seed: the first seed whose incident draws 8 errors in 50 requests, the nominal 15 % rounded
#: (and the median over seeds 0-299).
LESSON_SEED = 2


def _feed_one_by_one(p: MonitoringPipeline, r, timestamps: bool = True) -> None:
    for i in range(len(r)):
        p.log_request(float(r.latency_ms[i]), bool(r.error[i]), float(r.confidence[i]), float(r.cost_usd[i]),
                      float(r.timestamp[i]) if timestamps else None)


# --------------------------------------------------------------------------------------------------
# RollingWindow against numpy
# --------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 60),
    chunks=st.lists(st.lists(st.integers(-5, 5), min_size=0, max_size=40), min_size=1, max_size=8),
    q=st.floats(0, 100),
)
def test_count_window_percentiles_equal_numpy(size, chunks, q):
    """Small integer values force many duplicates through the incremental delete/insert path."""
    w = RollingWindow(size)
    seen: list[float] = []
    for chunk in chunks:
        for v in chunk:
            w.append(float(v))
        seen.extend(chunk)
        if seen:
            last = np.array(seen[-size:], dtype=float)
            assert len(w) == last.size
            assert w.percentile(q) == pytest.approx(np.percentile(last, q), rel=1e-12, abs=1e-12)
            assert w.mean() == pytest.approx(last.mean(), rel=1e-12, abs=1e-12)
            assert w.sum() == pytest.approx(last.sum(), rel=1e-12, abs=1e-12)
    assert w.total_count == len(seen)


def test_percentiles_on_random_data_many_windows():
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 200, 1000):
        w = RollingWindow(size)
        data = rng.lognormal(5, 1, 5000)
        pos = 0
        while pos < data.size:
            k = int(rng.integers(1, 300))
            if k % 2:
                w.extend(data[pos:pos + k])
            else:
                for v in data[pos:pos + k]:
                    w.append(v)
            pos += k
            ref = data[max(0, min(pos, data.size) - size):min(pos, data.size)]
            got = w.percentiles((0, 50, 95, 99, 100))
            # bit-for-bit: the same sorted values and numpy's own two-sided interpolation formula
            np.testing.assert_array_equal(got, np.percentile(ref, [0, 50, 95, 99, 100]))


def test_incremental_sorted_copy_with_many_duplicates():
    """Small steps keep the incremental delete/insert path; values 0..3 make every deletion a duplicate."""
    rng = np.random.default_rng(1)
    data = rng.integers(0, 4, 3000).astype(float)
    w = RollingWindow(50)
    pos = 0
    while pos < data.size:
        k = int(rng.integers(1, 6))
        w.extend(data[pos:pos + k])
        pos = min(pos + k, data.size)
        ref = data[max(0, pos - 50):pos]
        assert w.percentiles((10, 50, 90)) == tuple(np.percentile(ref, [10, 50, 90]))
        assert len(w) == ref.size


@settings(max_examples=40, deadline=None)
@given(
    seconds=st.floats(0.5, 20),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=80),
    seed=st.integers(0, 1000),
)
def test_time_window_keeps_exactly_the_last_T_seconds(seconds, gaps, seed):
    vals = np.random.default_rng(seed).normal(size=len(gaps))
    ts = np.cumsum(gaps)
    w = RollingWindow(seconds=seconds)
    for i, (v, t) in enumerate(zip(vals, ts)):
        w.append(v, t)
        keep = (ts[: i + 1] > t - seconds)
        assert len(w) == keep.sum()
        assert w.percentile(90) == pytest.approx(np.percentile(vals[: i + 1][keep], 90), rel=1e-12, abs=1e-12)
    w.advance(ts[-1] + seconds + 1)  # silence: everything leaves
    assert len(w) == 0
    with pytest.raises(ValueError, match="empty"):
        w.percentile(50)


def test_rolling_window_bad_input():
    with pytest.raises(ValueError, match="size"):
        RollingWindow(0)
    with pytest.raises(ValueError, match="exactly one"):
        RollingWindow()
    w = RollingWindow(5)
    with pytest.raises(ValueError, match="value"):
        w.append(float("nan"))
    with pytest.raises(ValueError, match="q"):
        w.percentile(101)
    t = RollingWindow(seconds=10)
    with pytest.raises(ValueError, match="timestamp"):
        t.append(1.0)
    t.append(1.0, 5.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        t.append(1.0, 4.0)


# --------------------------------------------------------------------------------------------------
# The pipeline's statistics against brute force
# --------------------------------------------------------------------------------------------------
def test_snapshot_matches_numpy_on_the_window_and_totals():
    r = simulate_phases([("normal", 700), ("degraded", 150)], seed=9).requests
    p = MonitoringPipeline(window=300, evaluate_every=7, slo=SLO(0.95))
    p.log_requests(r)
    m = p.metrics()
    last = slice(len(r) - 300, len(r))
    np.testing.assert_allclose([m.latency_p50_ms, m.latency_p95_ms, m.latency_p99_ms],
                               np.percentile(r.latency_ms[last], [50, 95, 99]), rtol=1e-12)
    assert m.error_rate == pytest.approx(r.error[last].mean(), rel=1e-12)
    assert m.mean_confidence == pytest.approx(r.confidence[last].mean(), rel=1e-9)
    assert m.cost_in_window_usd == pytest.approx(r.cost_usd[last].sum(), rel=1e-9)
    assert m.cost_per_request_usd == pytest.approx(r.cost_usd[last].mean(), rel=1e-9)
    assert m.cost_total_usd == pytest.approx(r.cost_usd.sum(), rel=1e-12)
    assert m.cost_total_usd > m.cost_in_window_usd
    assert m.throughput_per_s == pytest.approx(299 / (r.timestamp[-1] - r.timestamp[-300]), rel=1e-12)
    assert (m.n_in_window, m.n_requests_total, m.n_errors_total) == (300, 850, int(r.error.sum()))
    assert m.error_budget_remaining == pytest.approx(1 - r.error.sum() / (0.05 * 850), rel=1e-12)
    assert "latency p50" in m.to_text() and "<table>" in m._repr_html_()


@pytest.mark.parametrize("every, interval", [(1, None), (4, None), (None, 3.0)])
def test_rule_values_at_every_evaluation_match_brute_force(every, interval):
    """Every value a rule saw (vectorised path, incremental path, time windows) equals numpy on the window."""
    r = simulate_phases([("normal", 250), ("degraded", 120), ("normal", 80)], seed=5).requests
    rules = (
        AlertRule("p95 count", "latency_p95", ">", 1e9, window=40),
        AlertRule("p50 time", "latency_p50", ">", 1e9, window="25s"),
        AlertRule("err count", "error_rate", ">", 2.0, window=30),
        AlertRule("conf time", "mean_confidence", "<", -1.0, window="1m"),
        AlertRule("cost", "cost_in_window", ">", 1e9, window=60),
        AlertRule("tput", "throughput", ">", 1e9, window="30s"),
    )
    p = MonitoringPipeline(rules, window=100, evaluate_every=every, evaluate_interval=interval, keep_trace=True)
    p.log_requests(r)
    tr = p.trace()
    assert tr["at"].size == p.n_evaluations > 10
    ts = r.timestamp
    for j in range(tr["at"].size):
        end, now = int(tr["n_requests"][j]), tr["at"][j]
        def cnt(n):
            return slice(max(0, end - n), end)
        def tim(sec):
            lo = np.searchsorted(ts[:end], now - sec, side="right")
            return slice(lo, end)
        expect = {
            "p95 count": np.percentile(r.latency_ms[cnt(40)], 95) if end else np.nan,
            "p50 time": np.percentile(r.latency_ms[tim(25)], 50) if tim(25).stop > tim(25).start else np.nan,
            "err count": r.error[cnt(30)].mean() if end else np.nan,
            "conf time": r.confidence[tim(60)].mean() if tim(60).stop > tim(60).start else np.nan,
            "cost": r.cost_usd[cnt(60)].sum() if end else np.nan,
            "tput": (tim(30).stop - tim(30).start) / 30.0,
        }
        for name, want in expect.items():
            got = tr[name][j]
            if np.isnan(want):
                assert np.isnan(got) or (name == "tput" and got == 0), (name, j)
            else:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (name, j, end, now)


@pytest.mark.parametrize("every, interval", [(1, None), (3, None), (None, 2.5)])
def test_log_batch_is_the_same_as_log_request_one_by_one(every, interval):
    r = simulate_phases([("normal", 200), ("degraded", 80), ("normal", 150)], seed=12).requests
    a = MonitoringPipeline(standard_rules(), evaluate_every=every, evaluate_interval=interval, keep_trace=True)
    _feed_one_by_one(a, r)
    b = MonitoringPipeline(standard_rules(), evaluate_every=every, evaluate_interval=interval, keep_trace=True)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, len(r)), 9, replace=False))
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(r)]):
        b.log_requests(r[lo:hi])
    assert a.history == b.history and len(a.history) >= 4
    assert a.state_changes == b.state_changes
    assert a.n_evaluations == b.n_evaluations
    ta, tb = a.trace(), b.trace()
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k])   # bit for bit (NaN where there is no value yet)
    assert a.metrics() == b.metrics()


def test_without_timestamps_the_clock_counts_requests():
    r = standard_scenario(LESSON_SEED).requests
    p = MonitoringPipeline([AlertRule("p95", "latency_p95", ">", 600, for_=10, window=50)])
    _feed_one_by_one(p, r, timestamps=False)
    (fire,) = [a for a in p.history if a.status == "firing"]
    # became pending at request k, fired 10 requests later: at == n_requests - 1 (0-based clock)
    assert fire.at == fire.n_requests - 1
    pend = [c for c in p.state_changes if c.new == "pending"][-1]
    assert fire.at - pend.at == 10
    assert p.metrics().throughput_per_s is None


# --------------------------------------------------------------------------------------------------
# The fast paths give the plain computation's values bit for bit
# --------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    s=st.lists(st.integers(0, 9), min_size=0, max_size=60),
    out_mask=st.lists(st.booleans(), min_size=60, max_size=60),
    added=st.lists(st.integers(0, 9), min_size=0, max_size=20),
    pair=st.booleans(),
)
def test_update_sorted_equals_sorting_the_new_multiset(s, out_mask, added, pair):
    """Integers 0..9 make every search land on duplicates; ``pair`` forces equal in/out counts (in-place path)."""
    S = np.sort(np.array(s, dtype=float))
    keep = np.array(out_mask[:S.size], dtype=bool)
    evicted = S[~keep][::-1].copy()                     # unsorted on purpose
    add = np.array(added, dtype=float)
    if pair:
        add = np.resize(add, evicted.size) if add.size else np.zeros(evicted.size)
    got = _update_sorted(S.copy(), evicted, add)
    np.testing.assert_array_equal(got, np.sort(np.r_[S[keep], add]))


@st.composite
def _windows(draw):
    n = draw(st.integers(1, 500))
    ties = draw(st.booleans())
    seed = draw(st.integers(0, 10**6))
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n).astype(float) if ties else rng.lognormal(5, 1, n)
    w = draw(st.integers(1, n))
    stride = draw(st.integers(0, 40))                     # 8 * stride < w: windows grouped around a shared base
    start = draw(st.integers(w, n))
    ends = start + stride * np.arange(draw(st.integers(1, 60)))
    ends = np.sort(np.minimum(ends + rng.integers(0, stride // 3 + 1, ends.size), n))   # irregular, repeats
    return x, ends.astype(np.int64), w


@settings(max_examples=150, deadline=None)
@given(data=_windows(), q=st.sampled_from([0.0, 37.5, 50.0, 95.0, 99.0, 100.0]))
def test_full_window_quantiles_equal_numpy_on_every_window(data, q):
    x, ends, w = data
    want = np.array([np.percentile(x[e - w:e], q) for e in ends])
    np.testing.assert_array_equal(_full_window_quantiles(x, ends, w, q), want)


def test_full_window_quantiles_groups_and_blocks(monkeypatch):
    """Dense ends (groups sharing a base, D > 0), irregular strides and repeated ends, in many small blocks
    (the last group's new region runs past the data); a mutated input must change the answer."""
    monkeypatch.setattr(windows, "_BLOCK_ELEMENTS", 700)
    rng = np.random.default_rng(3)
    x = np.round(rng.lognormal(5, 0.7, 6000), -1)         # ties
    w = 1000
    ends = np.sort(np.r_[np.arange(w, 6001, 7), rng.integers(w, 6001, 300), [6000, 6000]])
    for q in (50.0, 95.0, 99.0):
        got = _full_window_quantiles(x, ends, w, q)
        np.testing.assert_array_equal(got, [np.percentile(x[e - w:e], q) for e in ends])
    assert 8 * np.diff(ends).mean() < w                   # the grouped path with D > 0 was taken
    y = x.copy()
    y[2500:2600] += 10_000                                # 100 huge values: p95 of windows holding them moves
    moved = _full_window_quantiles(y, ends, w, 95.0) != _full_window_quantiles(x, ends, w, 95.0)
    assert moved.any() and not moved[ends <= 2500].any()


def _tie_rules():
    return (
        AlertRule("p95 >", "latency_p95", ">", 300.0, window=80, clear_threshold=250.0),
        AlertRule("p95 >=", "latency_p95", ">=", 300.0, window=120, clear_threshold=250.0, for_=2.0),
        AlertRule("p50 <", "latency_p50", "<", 150.0, window=40, clear_threshold=200.0),
        AlertRule("p99 <=", "latency_p99", "<=", 600.0, window=150, clear_threshold=650.0),
        AlertRule("p50 time", "latency_p50", ">", 200.0, window="20s", min_count=5),
        AlertRule("p99 one", "latency_p99", ">", 300.0, window=1),
    )


def _tie_traffic(n=4000, seed=5):
    rng = np.random.default_rng(seed)
    lat = np.round(rng.lognormal(5.0, 0.6, n) / 50.0) * 50.0     # a 50 ms grid: thresholds sit on data values
    return (lat, rng.random(n) < 0.05, rng.beta(5, 1, n), rng.uniform(0, 0.01, n),
            np.cumsum(np.round(rng.exponential(0.5, n), 1)))


@pytest.mark.parametrize("every", [1, 3])
def test_percentile_rules_decided_from_counts_match_the_exact_values(every, monkeypatch):
    """Without a trace the pipeline compares percentiles with thresholds by counting (and computes the value
    only when needed); with a trace it computes every value. Same notifications and state changes, on a
    stream whose thresholds sit exactly on data values, for every operator."""
    data = _tie_traffic()
    runs = {}
    for keep in (True, False):
        p = MonitoringPipeline(_tie_rules(), window=100, evaluate_every=every, keep_trace=keep)
        exact = []
        real = p._log.percentile_at
        p._log.percentile_at = lambda *a: exact.append(1) or real(*a)
        for row in zip(*(c.tolist() for c in data)):
            p.log_request(*row)
        runs[keep] = p, len(exact)
    (a, _), (b, n_exact) = runs[True], runs[False]
    assert len(a.state_changes) > 200
    assert a.history == b.history and a.state_changes == b.state_changes and a.metrics() == b.metrics()
    comparisons = b.n_evaluations * len(_tie_rules())
    assert 0 < n_exact < comparisons / 5           # counts decided most comparisons, values when needed
    # mutant: an off-by-one decision (c < k instead of c <= k) must break the equality
    mutant = MonitoringPipeline(_tie_rules(), window=100, evaluate_every=every)

    def off_by_one(counter, q, start, end):
        n = end - start
        k = int(np.floor((n - 1) * (q / 100.0)))
        c = counter.at(mutant._log.store, start, end)
        return True if c < k else False if c >= k + 2 or k >= n - 1 else None

    mutant._log.percentile_above = off_by_one
    for row in zip(*(c.tolist() for c in data)):
        mutant.log_request(*row)
    assert mutant.state_changes != b.state_changes


@pytest.mark.parametrize("every", [10, 100])
def test_log_batch_equals_log_request_on_a_long_window(every):
    """Full windows of 3,000 requests: the grouped vectorised percentiles of log_batch against the incremental
    sorted copy (trace) and the counts (no trace) of log_request, bit for bit."""
    rng = np.random.default_rng(11)
    n = 10_000
    lat = np.round(rng.lognormal(5.0, 0.5, n), 1)
    lat[4000:5000] *= 2.5                                  # an incident: the p95 rule fires and resolves
    data = (lat, rng.random(n) < 0.03, rng.beta(5, 1, n), rng.uniform(0.001, 0.01, n),
            np.cumsum(rng.exponential(0.01, n)))
    rules = (AlertRule("p95", "latency_p95", ">", 600.0, window=3000, clear_threshold=450.0, for_=0.5),
             AlertRule("p50", "latency_p50", ">", 300.0, window=3000),
             AlertRule("p99", "latency_p99", "<", 400.0, window=3000),
             AlertRule("err", "error_rate", ">", 0.05, window=3000))
    ref = MonitoringPipeline(rules, window=3000, evaluate_every=every, keep_trace=True)
    ref.log_batch(*data[:4], timestamp=data[4])
    assert [a.status for a in ref.history if a.rule == "p95"] == ["firing", "resolved"]
    for keep in (True, False):
        p = MonitoringPipeline(rules, window=3000, evaluate_every=every, keep_trace=keep)
        for row in zip(*(c.tolist() for c in data)):
            p.log_request(*row)
        assert p.history == ref.history and p.state_changes == ref.state_changes
        assert p.metrics() == ref.metrics()
        if keep:
            for k, v in ref.trace().items():
                np.testing.assert_array_equal(p.trace()[k], v)


# --------------------------------------------------------------------------------------------------
# Alert semantics
# --------------------------------------------------------------------------------------------------
def _series_pipeline(values, rule, every=1):
    """Feed a latency series (other fields constant) with timestamps 0, 1, 2, ..."""
    p = MonitoringPipeline([rule], evaluate_every=every)
    for i, v in enumerate(values):
        p.log_request(float(v), False, 0.9, 0.001, float(i))
    return p


def test_pending_blip_shorter_than_for_never_notifies():
    rule = AlertRule("lat", "latency_mean", ">", 100, for_=5, window=1)
    p = _series_pipeline([50] * 10 + [500] * 4 + [50] * 10, rule)   # 4 s above: pending, never firing
    assert p.history == ()
    assert [(c.old, c.new) for c in p.state_changes] == [("inactive", "pending"), ("pending", "inactive")]
    p = _series_pipeline([50] * 10 + [500] * 6 + [50] * 10, rule)   # 6 s above: fires at 5 s
    assert [(a.status, a.at) for a in p.history] == [("firing", 15.0), ("resolved", 16.0)]


def test_firing_waits_for_for_and_for_zero_fires_at_once():
    p = _series_pipeline([50] * 5 + [500] * 20, AlertRule("lat", "latency_mean", ">", 100, for_=0, window=1))
    assert [(a.status, a.at) for a in p.history] == [("firing", 5.0)]
    p = _series_pipeline([50] * 5 + [500] * 20, AlertRule("lat", "latency_mean", ">", 100, for_="8s", window=1))
    assert [(a.status, a.at) for a in p.history] == [("firing", 13.0)]


def test_hysteresis_holds_the_alert_between_clear_and_fire_thresholds():
    values = [50] * 5 + [500] * 5 + [90, 120, 90, 120, 90] * 4 + [50] * 3
    with_h = _series_pipeline(values, AlertRule("lat", "latency_mean", ">", 100, window=1, clear_threshold=60))
    assert [a.status for a in with_h.history] == ["firing", "resolved"]          # one episode
    assert with_h.history[1].at == 30.0                                          # cleared when back at 50
    # mutant: no hysteresis -> the same series flaps
    without = _series_pipeline(values, AlertRule("lat", "latency_mean", ">", 100, window=1))
    assert Counter(a.status for a in without.history)["firing"] >= 5


def test_one_firing_and_one_resolved_per_episode_and_no_repeats():
    t = simulate_phases([("normal", 300), ("degraded", 100), ("normal", 400)] * 2, seed=1)
    p = MonitoringPipeline(standard_rules())
    p.log_requests(t.requests)
    for rule in p.rules:
        seq = [a.status for a in p.history if a.rule == rule.name]
        assert seq == ["firing", "resolved"] * (len(seq) // 2)
    eps = alert_episodes(p.history)
    for inc in t.incidents:   # each incident: each firing rule has exactly one episode overlapping it
        by_rule = Counter(e.rule for e in eps if e.start_n <= inc.end_index + 60 and e.end_n > inc.start_index)
        assert by_rule and set(by_rule.values()) == {1}


def test_history_is_bounded_and_active_alerts_are_current():
    rule = AlertRule("lat", "latency_mean", ">", 100, window=1)
    p = MonitoringPipeline([rule], max_history=3)
    for i in range(20):
        p.log_request(500.0 if i % 2 else 50.0, False, 0.9, 0.0, float(i))
    assert len(p.history) == 3 and p.history[-1].status == "firing" and p.alerts == p.history
    assert [a.rule for a in p.active_alerts] == ["lat"] and p.rule_states == {"lat": "firing"}
    p.log_request(50.0, False, 0.9, 0.0, 20.0)
    assert p.active_alerts == () and p.metrics().active_alerts == ()


def test_burn_rate_rule_needs_both_windows():
    slo = SLO(0.96)
    rule = BurnRateRule("burn", slo, burn_rate=3.0, long_window=50, short_window=10)
    assert rule.threshold == pytest.approx(0.12)
    # 7 errors long ago: the long window burns hot but the short window is clean -> no alert
    errors = [1] * 7 + [0] * 43
    p = MonitoringPipeline([rule])
    for i, e in enumerate(errors):
        p.log_request(100.0, bool(e), 0.9, 0.0, float(i))
    assert p.history == ()
    # the same errors at the end: both windows hot -> fires
    p = MonitoringPipeline([rule])
    for i, e in enumerate(errors[::-1]):
        p.log_request(100.0, bool(e), 0.9, 0.0, float(i))
    assert [a.status for a in p.history] == ["firing"]
    assert p.history[0].value == pytest.approx((7 / 50) / 0.04)


def test_slo_arithmetic():
    slo = SLO(0.99)
    assert slo.error_budget == pytest.approx(0.01)
    assert slo.burn_rate(0.05) == pytest.approx(5.0)
    assert slo.budget_remaining(1000, 4) == pytest.approx(0.6)
    assert slo.budget_remaining(1000, 20) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="target"):
        SLO(1.0)
    with pytest.raises(ValueError, match="n_errors"):
        slo.budget_remaining(10, 11)


# --------------------------------------------------------------------------------------------------
# The lesson's figures, on seeds no rule was tuned on, and the mutants that fail them
# --------------------------------------------------------------------------------------------------
#: The thresholds of ``standard_rules()``, and notebook 03's examples, were set on seeds 0-299 of the
#: scenario and seeds 0-19 of normal traffic. The notebook states its figures on these seeds instead, and so
#: do the tests: 1,000 scenarios and 5,000 stretches of 1,000 normal requests.
SCENARIO_SEEDS = range(100_000, 101_000)
NORMAL_SEEDS = range(200_000, 205_000)
#: A third range, disjoint from the others, for the mutants.
SPARE_SEEDS = range(300_000, 301_000)
BURN, LATENCY = "error budget burn", "high p95 latency"
#: The two error rates the scenario draws from (Bernoulli flags per request, see simulate.py).
P_NORMAL, P_INCIDENT = PHASES["normal"].error_rate, PHASES["degraded"].error_rate


def test_lesson_seed_incident_detected_by_latency_within_25_requests():
    """The notebook's seed: the incident is detected within 25 requests, by the p95 latency rule (not by an
    error-rate rule: see the next tests); the error-budget rule fires later, still during the incident."""
    t = standard_scenario(LESSON_SEED)
    assert t.requests.error[150:].sum() == 8          # the seed's choice: 8 errors of 50 (nominal 7.5)
    p = MonitoringPipeline(standard_rules())
    p.log_requests(t.requests)
    firing = [a for a in p.history if a.status == "firing"]
    assert all(a.n_requests > 150 for a in firing)
    first = min(firing, key=lambda a: a.n_requests)
    assert first.rule == LATENCY and first.n_requests - 150 <= 25
    burn = [a for a in firing if a.rule == BURN]
    assert len(burn) == 1 and 25 < burn[0].n_requests - 150 <= 50   # the error alert: during, not within 25


def test_some_alert_fires_within_25_requests_in_at_least_75_percent_of_fresh_scenarios():
    """The notebook's figure: some alert fires within 25 requests of the incident's start in 809 of 1,000
    fresh scenarios (80.9 %, 95 % Wilson interval 78.3 % to 83.2 %), so the 75 % target holds with the
    interval's lower end above it. The latency rule delivers it: the error-budget rule alone gets there in
    about one scenario in seven, and fires before the 50-request incident ends in about three in five."""
    d = first_firing_delays(standard_rules(), SCENARIO_SEEDS)
    n = len(SCENARIO_SEEDS)
    hit = int(np.count_nonzero(d["any rule"] <= 25))
    assert wilson_interval(hit, n)[0] >= 0.75                       # achieved: 809 of 1,000, from 0.783
    assert 0.70 <= np.mean(d[LATENCY] <= 25) <= hit / n               # achieved: 0.78
    assert 0.08 <= np.mean(d[BURN] <= 25) <= 0.20                     # achieved: 0.14
    assert 0.55 <= np.mean(d[BURN] <= 50) <= 0.70                     # achieved: 0.62
    assert (d["any rule"] >= 1).all() and (d["any rule"] <= 50).all()  # every incident caught before it ends


def test_false_page_rate_on_fresh_normal_traffic_is_below_one_percent():
    """The notebook's figure: the standard rules page on 26 of 5,000 fresh stretches of 1,000 normal
    requests (0.52 %, 95 % Wilson interval 0.36 % to 0.76 %): the interval's upper end is below the 1 % goal.
    Most false pages come from the error-budget rule; no stretch pages twice."""
    pages = false_pages(standard_rules(), NORMAL_SEEDS)
    paged = int(np.count_nonzero(pages["any rule"]))
    assert wilson_interval(paged, len(NORMAL_SEEDS))[1] < 0.01      # achieved: 26 of 5,000, up to 0.0076
    assert pages[BURN].sum() > pages[LATENCY].sum() > 0              # achieved: 20 and 6
    assert pages["any rule"].max() == 1


def test_a_rule_that_misses_the_goal_passes_a_20_seed_check_but_not_the_interval():
    """The mutant: the error-budget rule one error less strict (2.5x: 6 errors in 50 instead of 7). It stays
    silent on the 20 normal seeds a quick check would use, yet it pages on about 3 % of fresh stretches: on
    1,000 spare seeds its interval lies wholly above the 1 % goal. The standard rules, on the same 1,000,
    stay at or below it."""
    rules = standard_rules()
    assert rules[0].name == BURN
    bad = (replace(rules[0], burn_rate=2.5),) + rules[1:]
    assert false_pages(bad, range(20))["any rule"].sum() == 0
    bad_paged = int(np.count_nonzero(false_pages(bad, SPARE_SEEDS)["any rule"]))
    assert wilson_interval(bad_paged, len(SPARE_SEEDS))[0] > 0.01   # achieved: 34 of 1,000, from 0.024
    good = int(np.count_nonzero(false_pages(rules, SPARE_SEEDS)["any rule"]))
    assert good <= 0.01 * len(SPARE_SEEDS)                           # achieved: 8 of 1,000


def test_seed_sweeps_are_cached_and_read_only():
    a = false_pages(standard_rules(), range(3), n_requests=300)
    b = false_pages(list(standard_rules()), range(3), n_requests=300)
    assert all(a[k] is not b[k] and np.shares_memory(a[k], b[k]) for k in a)   # computed once
    with pytest.raises(ValueError):
        a["any rule"][0] = 5
    with pytest.raises(TypeError, match="seeds"):
        false_pages(standard_rules(), [])
    with pytest.raises(TypeError, match="rules"):
        first_firing_delays("rules", range(3))


def test_burn_rule_pages_equals_the_pipeline():
    """The vectorised replica behind the trade-off figure (first page and number of pages per sequence)
    against the pipeline, on sequences near the threshold that page several times, for the lesson's rule
    and for variants: other burn thresholds, no clear burn rate, equal windows."""
    rng = np.random.default_rng(11)
    errors = rng.random((40, 1200)) < 0.07
    errors[:5] = rng.random((5, 1200)) < P_NORMAL                # and a few ordinary sequences
    base = standard_rules()[0]
    variants = (base, replace(base, burn_rate=2.0), replace(base, burn_rate=2.5, clear_burn_rate=None),
                replace(base, long_window=30, short_window=30, clear_burn_rate=2.0))
    for rule in variants:
        first, count = burn_rule_pages(errors, rule)
        assert count.max() >= 3
        for i in range(len(errors)):
            p = MonitoringPipeline([rule])
            p.log_batch(np.full(1200, 100.0), errors[i], np.full(1200, 0.9), np.zeros(1200))
            fired = [a.n_requests for a in p.history if a.status == "firing"]
            assert (first[i], count[i]) == ((fired[0] if fired else 0), len(fired)), (rule, i)


def test_the_course_rule_sits_near_the_cusum_bound_and_speed_costs_false_pages():
    """The trade-off figure's claims, on draws of their own. At the 15 % incident, the optimal CUSUM held to
    the course rule's false-page rate is faster, but only a little (notebook: about 48 requests on average
    against 51); a mean delay of 25 requests costs the CUSUM tens of times the rule's false pages (notebook:
    about 0.36 per 1,000 normal requests against 0.005). The delays: 150 normal requests, then the incident
    until the page, over runs that did not page before it."""
    rng = np.random.default_rng(2026)
    rule = standard_rules()[0]
    pages = sum(int(burn_rule_pages(rng.random((200, 25_000)) < P_NORMAL, rule)[1].sum()) for _ in range(4))
    rule_rate = 1000 * pages / (4 * 200 * 25_000)
    assert 0.003 <= rule_rate <= 0.008                               # notebook: 0.0051

    def arl0(h):
        return cusum_arl(h, P_NORMAL, P_NORMAL, P_INCIDENT)

    lo, hi = 5.0, 14.0                                               # the h with the rule's false-page rate
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 1000 / arl0(mid) > rule_rate else (lo, mid)
    h = hi
    runs = np.hstack([rng.random((4000, 150)) < P_NORMAL, rng.random((4000, 450)) < P_INCIDENT])

    def mean_delay(first):
        quiet = (first == 0) | (first > 150)
        assert (first[quiet] > 0).all()
        return np.mean(first[quiet] - 150)

    ours = mean_delay(burn_rule_pages(runs, rule)[0])
    paths = cusum_paths(runs, P_NORMAL, P_INCIDENT)
    best = mean_delay(first_crossing(paths, h))
    assert best < ours <= 1.15 * best                                # notebook: 47.9 and 51.4
    h25 = next(x for x in np.arange(3.0, 9.0, 0.25) if mean_delay(first_crossing(paths, x)) > 25)
    assert 1000 / arl0(h25) >= 30 * rule_rate                         # notebook: 0.36 against 0.0051


def test_naive_monitor_storms_and_misses():
    """The naive per-request monitor on 20 scenarios: dozens of notifications per incident, alarms during
    the normal part, and the 15 % error incident missed; the pipeline on the same scenarios sends one
    notification per rule and nothing before the incident."""
    storms, missed, false_alarm_seeds = [], 0, 0
    for seed in range(20):
        r = standard_scenario(seed).requests
        m = NaiveThresholdMonitor(200)
        for i in range(len(r)):
            m.log_request(r.latency_ms[i], r.error[i], r.confidence[i], r.cost_usd[i])
        storms.append(sum(1 for n, k in m.alerts if n > 150))
        missed += not any(k == "errors" and n > 150 for n, k in m.alerts)
        false_alarm_seeds += any(n <= 150 for n, _ in m.alerts)
    assert np.mean(storms) >= 10        # one incident, >= 10 "alerts" on average (a storm)
    assert missed >= 5                  # the 15 % error incident raises no error alert at all
    assert false_alarm_seeds >= 5       # alerts while the traffic is still normal
    # ours on the same inputs: one notification per rule per incident, nothing before it
    for seed in range(20):
        p = MonitoringPipeline(standard_rules())
        p.log_requests(standard_scenario(seed).requests)
        firing = [a for a in p.history if a.status == "firing"]
        assert all(a.n_requests > 150 for a in firing)
        assert max(Counter(a.rule for a in firing).values()) == 1


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        (dict(metric="latency_p42"), ValueError, "metric"),
        (dict(for_=-1), ValueError, "for_"),
        (dict(for_="soon"), ValueError, "for_"),
        (dict(window=0), ValueError, "window"),
        (dict(window=2.5), TypeError, "window"),
        (dict(window=True), TypeError, "window"),
        (dict(op="=>"), ValueError, "op"),
        (dict(severity="P9"), ValueError, "severity"),
        (dict(clear_threshold=700), ValueError, "clear_threshold"),
        (dict(threshold=float("nan")), ValueError, "threshold"),
    ],
)
def test_bad_rules(kwargs, exc, word):
    base = dict(name="r", metric="latency_p95", op=">", threshold=500.0)
    base.update(kwargs)
    with pytest.raises(exc, match=word):
        AlertRule(**base)


def test_bad_burn_rate_rules_and_pipelines():
    slo = SLO(0.99)
    with pytest.raises(ValueError, match="short_window"):
        BurnRateRule("b", slo, 2.0, long_window=10, short_window=50)
    with pytest.raises(ValueError, match="long_window"):
        BurnRateRule("b", slo, 2.0, long_window="1h", short_window=5)
    with pytest.raises(ValueError, match="clear_burn_rate"):
        BurnRateRule("b", slo, 2.0, long_window=10, short_window=5, clear_burn_rate=3.0)
    with pytest.raises(ValueError, match="min_count must be <= the long window of 10"):
        BurnRateRule("b", slo, 2.0, long_window=10, short_window=5, min_count=11)
    with pytest.raises(ValueError, match="min_count"):
        BurnRateRule("b", slo, 2.0, long_window="1m", short_window="10s", min_count=0)
    r = AlertRule("r", "latency_p95", ">", 1.0)
    with pytest.raises(ValueError, match="unique"):
        MonitoringPipeline([r, r])
    with pytest.raises(TypeError, match="rules"):
        MonitoringPipeline(r)
    with pytest.raises(ValueError, match="window"):
        MonitoringPipeline(window=0)
    with pytest.raises(ValueError, match="evaluate_every"):
        MonitoringPipeline(evaluate_every=0)
    with pytest.raises(ValueError, match="at most one"):
        MonitoringPipeline(evaluate_every=2, evaluate_interval=5)
    assert parse_duration("d", "90s") == 90 and parse_duration("d", "2h") == 7200


@pytest.mark.parametrize(
    "args, exc, word",
    [
        ((-1.0, False, 0.9, 0.01), ValueError, "latency_ms"),
        ((float("nan"), False, 0.9, 0.01), ValueError, "latency_ms"),
        ((float("inf"), False, 0.9, 0.01), ValueError, "latency_ms"),
        (("fast", False, 0.9, 0.01), TypeError, "latency_ms"),
        ((100.0, 0.5, 0.9, 0.01), TypeError, "error"),
        ((100.0, "yes", 0.9, 0.01), TypeError, "error"),
        ((100.0, 2, 0.9, 0.01), ValueError, "error"),
        ((100.0, False, 1.5, 0.01), ValueError, "confidence"),
        ((100.0, False, float("nan"), 0.01), ValueError, "confidence"),
        ((100.0, False, 0.9, -0.01), ValueError, "cost_usd"),
    ],
)
def test_bad_requests_are_rejected_and_not_logged(args, exc, word):
    p = MonitoringPipeline()
    with pytest.raises(exc, match=word):
        p.log_request(*args, timestamp=1.0)
    assert p.n_requests == 0


def test_bad_batches_and_timestamps():
    p = MonitoringPipeline()
    good = dict(latency_ms=[100.0, 120.0], error=[False, True], confidence=[0.9, 0.8], cost_usd=[0.01, 0.02])
    with pytest.raises(ValueError, match="latency_ms"):
        p.log_batch(**{**good, "latency_ms": [100.0, -3.0]}, timestamp=[1.0, 2.0])
    with pytest.raises(ValueError, match="latency_ms"):
        p.log_batch(**{**good, "latency_ms": [100.0, np.nan]}, timestamp=[1.0, 2.0])
    with pytest.raises(TypeError, match="error"):
        p.log_batch(**{**good, "error": [0.2, 1.0]}, timestamp=[1.0, 2.0])
    with pytest.raises(ValueError, match="error"):
        p.log_batch(**{**good, "error": [0, 3]}, timestamp=[1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        p.log_batch(**{**good, "cost_usd": [0.01]}, timestamp=[1.0, 2.0])
    with pytest.raises(ValueError, match="timestamp must be non-decreasing"):
        p.log_batch(**good, timestamp=[2.0, 1.0])
    assert p.n_requests == 0
    p.log_batch(**good, timestamp=[1.0, 2.0])
    with pytest.raises(ValueError, match="timestamp must be non-decreasing"):
        p.log_request(100.0, False, 0.9, 0.01, timestamp=1.5)      # out of order: rejected, never reordered
    with pytest.raises(ValueError, match="every request or for none"):
        p.log_request(100.0, False, 0.9, 0.01)
    p.log_request(100.0, False, 0.9, 0.01, timestamp=2.0)           # equal timestamps are fine
    assert p.n_requests == 3
    q = MonitoringPipeline([AlertRule("t", "error_rate", ">", 0.5, window="5m")])
    with pytest.raises(ValueError, match="timestamp is required"):
        q.log_request(100.0, False, 0.9, 0.01)


# --------------------------------------------------------------------------------------------------
# A rejected call leaves the pipeline exactly as it was
# --------------------------------------------------------------------------------------------------
_T0 = 1000.0   # later than any prefix timestamp, so only the deliberate fault is out of order
_BATCH = dict(latency_ms=[100.0, 700.0, 120.0], error=[False, True, False], confidence=[0.9, 0.5, 0.8],
              cost_usd=[0.01, 0.02, 0.01])

#: (name, call, prefixes on which it must be rejected)
_REJECTED_CALLS = [
    ("batch, timestamps out of order inside it",
     lambda p: p.log_batch(**_BATCH, timestamp=[_T0, _T0 + 2, _T0 + 1]), ("fresh", "timestamps")),
    ("batch, first timestamp before the last one seen",
     lambda p: p.log_batch(**_BATCH, timestamp=[-5.0, _T0, _T0]), ("timestamps",)),
    ("batch, NaN timestamp", lambda p: p.log_batch(**_BATCH, timestamp=[_T0, np.nan, _T0]),
     ("fresh", "timestamps")),
    ("batch, timestamp of the wrong length", lambda p: p.log_batch(**_BATCH, timestamp=[_T0, _T0]),
     ("fresh", "timestamps")),
    ("batch, negative latency", lambda p: p.log_batch(**{**_BATCH, "latency_ms": [1.0, -1.0, 1.0]},
                                                      timestamp=[_T0] * 3), ("fresh", "timestamps")),
    ("batch, confidence out of range", lambda p: p.log_batch(**{**_BATCH, "confidence": [0.5, 1.5, 0.5]},
                                                             timestamp=[_T0] * 3), ("fresh", "timestamps")),
    ("batch with timestamps after requests without", lambda p: p.log_batch(**_BATCH, timestamp=[_T0] * 3),
     ("no timestamps",)),
    ("batch without timestamps after requests with", lambda p: p.log_batch(**_BATCH), ("timestamps",)),
    ("request, timestamp before the last one seen", lambda p: p.log_request(100.0, True, 0.9, 0.01, -5.0),
     ("timestamps",)),
    ("request, NaN timestamp", lambda p: p.log_request(100.0, True, 0.9, 0.01, float("nan")),
     ("fresh", "timestamps")),
    ("request, negative latency with a timestamp", lambda p: p.log_request(-1.0, True, 0.9, 0.01, _T0),
     ("fresh", "timestamps")),
    ("request, error flag 2 with a timestamp", lambda p: p.log_request(100.0, 2, 0.9, 0.01, _T0),
     ("fresh", "timestamps")),
    ("request with a timestamp after requests without", lambda p: p.log_request(100.0, True, 0.9, 0.01, _T0),
     ("no timestamps",)),
    ("request without a timestamp after requests with", lambda p: p.log_request(100.0, True, 0.9, 0.01),
     ("timestamps",)),
    ("evaluate, now before the last request", lambda p: p.evaluate(-5.0), ("timestamps",)),
]


def _prefixed_pipeline(prefix: str) -> MonitoringPipeline:
    """A pipeline after 120 requests with timestamps (rules firing), without, or none at all."""
    p = MonitoringPipeline(standard_rules(), evaluate_every=3, keep_trace=True)
    if prefix != "fresh":
        r = simulate_phases([("normal", 60), ("degraded", 60)], seed=3).requests
        _feed_one_by_one(p, r[:70], timestamps=prefix == "timestamps")   # some rows still pending, unflushed
        if prefix == "timestamps":
            p.log_requests(r[70:])
        else:
            p.log_batch(r.latency_ms[70:], r.error[70:], r.confidence[70:], r.cost_usd[70:])
    return p


def _assert_same_pipeline(a: MonitoringPipeline, b: MonitoringPipeline) -> None:
    assert a.history == b.history and a.state_changes == b.state_changes
    assert a.rule_states == b.rule_states and a.active_alerts == b.active_alerts
    assert (a.n_requests, a.n_evaluations) == (b.n_requests, b.n_evaluations)
    assert a.metrics() == b.metrics()
    ta, tb = a.trace(), b.trace()
    assert ta.keys() == tb.keys()
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k])


def _outcome(call, p):
    try:
        call(p)
    except (TypeError, ValueError) as e:
        return type(e), str(e)
    return None


_CONTINUATIONS = {
    "batch without timestamps": lambda p: p.log_batch(**_BATCH),
    "batch with timestamps": lambda p: p.log_batch(**_BATCH, timestamp=[_T0 + 10, _T0 + 11, _T0 + 11]),
    "request without a timestamp": lambda p: p.log_request(100.0, True, 0.9, 0.01),
    "request with a timestamp": lambda p: p.log_request(100.0, True, 0.9, 0.01, _T0 + 10),
}


_REJECTION_CASES = [(prefix, name, call) for name, call, prefixes in _REJECTED_CALLS for prefix in prefixes]


@pytest.mark.parametrize("prefix, name, call", _REJECTION_CASES, ids=[f"{c[1]} ({c[0]})" for c in _REJECTION_CASES])
def test_a_rejected_call_leaves_the_pipeline_as_if_it_never_happened(prefix, name, call):
    """After any rejected call the pipeline must equal one that never saw it: now, and after every kind of
    next call. (A rejected batch that logs nothing must not, for instance, switch the pipeline to
    timestamp mode, which would refuse a following batch without timestamps.)"""
    for cont_name, cont in _CONTINUATIONS.items():
        p, twin = _prefixed_pipeline(prefix), _prefixed_pipeline(prefix)
        with pytest.raises((TypeError, ValueError)):
            call(p)
        _assert_same_pipeline(p, twin)
        assert _outcome(cont, p) == _outcome(cont, twin), cont_name
        _assert_same_pipeline(p, twin)


def test_rejected_out_of_order_batch_then_batch_without_timestamps():
    """A batch rejected for out-of-order timestamps, then a batch without timestamps: the second is logged."""
    p = MonitoringPipeline(standard_rules())
    with pytest.raises(ValueError, match="timestamp must be non-decreasing"):
        p.log_batch(**_BATCH, timestamp=[3.0, 1.0, 2.0])
    p.log_batch(**_BATCH)                                   # not "earlier requests had timestamps"
    assert p.n_requests == 3 and p.metrics().at == 2.0      # the request clock: 0, 1, 2


@pytest.mark.parametrize("bad", [
    lambda w: w.extend([1.0, 2.0, 3.0], [3.0, 1.0, 2.0]),     # out of order
    lambda w: w.extend([1.0, 2.0, 3.0], [1.0, 2.0]),          # wrong length
    lambda w: w.append(float("nan"), 1.0),
    lambda w: w.append(1.0, float("nan")),
])
def test_rolling_window_rejected_input_changes_nothing(bad):
    w, twin = RollingWindow(10), RollingWindow(10)
    with pytest.raises(ValueError):
        bad(w)
    for x in (w, twin):
        x.extend([5.0, 6.0])          # without timestamps: fine on a window that never saw one
        x.append(7.0)
    np.testing.assert_array_equal(w.values(), twin.values())
    np.testing.assert_array_equal(w.timestamps(), twin.timestamps())
    assert (w.total_count, w.total_sum, w.now) == (twin.total_count, twin.total_sum, twin.now)


# --------------------------------------------------------------------------------------------------
# Alert validates its fields (the same rules IncidentManager.on_alert applies)
# --------------------------------------------------------------------------------------------------
_ALERT_FIELDS = dict(rule="high p95 latency", status="firing", at=10.0, n_requests=10, value=700.0, threshold=600.0,
                     severity="P2", metric="latency_p95", category="latency", message="[P2] high p95 latency FIRING")


@pytest.mark.parametrize("changes, exc, msg", [
    (dict(status="weird"), ValueError, r"^status must be one of 'firing', 'resolved'; got 'weird'"),
    (dict(status="FIRING"), ValueError, r"^status must be one of"),
    (dict(status=None), ValueError, r"^status must be one of"),
    (dict(severity="P9"), ValueError, r"^severity must be one of 'P0', 'P1', 'P2', 'P3'; got 'P9'"),
    (dict(severity=["P1"]), ValueError, r"^severity must be one of"),
    (dict(rule=""), ValueError, r"^rule must be a non-empty string"),
    (dict(rule=None), TypeError, r"^rule must be a str"),
    (dict(metric="latency_p42"), ValueError, r"^metric must be one of"),
    (dict(category=""), ValueError, r"^category must be a non-empty string"),
    (dict(category=["latency"]), TypeError, r"^category must be a str"),
    (dict(message=None), TypeError, r"^message must be a str"),
    (dict(at=float("nan")), ValueError, r"^at must be finite"),
    (dict(at=float("inf")), ValueError, r"^at must be finite"),
    (dict(at="30"), TypeError, r"^at must be a real number"),
    (dict(at=True), TypeError, r"^at must be a real number"),
    (dict(n_requests=-1), ValueError, r"^n_requests must be >= 0"),
    (dict(n_requests=2.0), TypeError, r"^n_requests must be an integer"),
    (dict(threshold=float("inf")), ValueError, r"^threshold must be finite"),
    (dict(threshold=None), TypeError, r"^threshold must be a real number"),
    (dict(value="high"), TypeError, r"^value must be a real number"),
    (dict(value=True), TypeError, r"^value must be a real number"),
    (dict(value=float("inf")), ValueError, r"^value must be finite or NaN"),
    (dict(value=float("nan")), ValueError, r"^value must not be NaN in a firing alert"),
])
def test_alert_rejects_malformed_fields(changes, exc, msg):
    with pytest.raises(exc, match=msg):
        monitoring.Alert(**{**_ALERT_FIELDS, **changes})


def test_alert_accepts_what_the_pipeline_sends_and_normalises_numbers():
    a = monitoring.Alert(**{**_ALERT_FIELDS, "at": np.float64(3.5), "n_requests": np.int64(4), "value": 7,
                            "threshold": np.float32(6.0), "message": ""})
    assert (type(a.at), type(a.n_requests), type(a.value), type(a.threshold)) == (float, int, float, float)
    assert (a.at, a.n_requests, a.value, a.threshold) == (3.5, 4, 7.0, 6.0)
    # a rule whose time window drained resolves with no value to report: NaN is allowed there only
    r = monitoring.Alert(**{**_ALERT_FIELDS, "status": "resolved", "value": float("nan")})
    assert np.isnan(r.value)
    p = MonitoringPipeline([AlertRule("p", "latency_mean", ">", 100.0, window="10s")])
    for i in range(5):
        p.log_request(500.0, False, 0.9, 0.0, float(i))
    (resolved,) = p.evaluate(100.0)
    assert resolved.status == "resolved" and np.isnan(resolved.value)


def test_every_alert_the_pipeline_sends_passes_incident_manager_checks():
    t = simulate_phases([("normal", 300), ("degraded", 100), ("normal", 400)] * 2, seed=1)
    p = MonitoringPipeline(standard_rules())
    p.log_requests(t.requests)
    assert len(p.history) >= 6
    manager = IncidentManager()
    for a in p.history:
        manager.on_alert(a)                               # checks the fields first, raises on a bad one
        assert monitoring.Alert(**{f: getattr(a, f) for f in _ALERT_FIELDS}) == a


def test_error_alert_is_fast_once_each_request_carries_more_evidence():
    """The delay is about evidence, not about the rule: give the incident 40 % errors instead of 15 % (same
    latency, same normal traffic, the same fresh seeds) and the same error-budget rule fires within 25
    requests in nearly every scenario. Its false pages do not depend on the incident at all (normal traffic
    is drawn the same way), so nothing was traded for the speed."""
    outage = replace(PHASES["degraded"], name="outage", error_rate=0.40)
    delays = []
    for seed in SCENARIO_SEEDS[:300]:
        p = MonitoringPipeline([standard_rules()[0]])
        p.log_requests(standard_scenario(seed, incident_phase=outage).requests)
        fired = [a.n_requests - 150 for a in p.history if a.status == "firing" and a.n_requests > 150]
        delays.append(fired[0] if fired else np.inf)
    delays = np.array(delays)
    assert np.mean(delays <= 25) >= 0.90                              # achieved: 0.95
    # and at 15 %, on the same seeds, the same rule stays far below that
    assert np.mean(first_firing_delays(standard_rules(), SCENARIO_SEEDS)[BURN][:300] <= 25) < 0.5


# --------------------------------------------------------------------------------------------------
# Clock, bounds and outages
# --------------------------------------------------------------------------------------------------
def test_evaluate_moves_the_clock_for_later_requests_and_metrics():
    """``evaluate(now)`` is a point in time: a later request may not be older than it (it would put the
    history out of order), and ``metrics()`` afterwards is taken at ``now`` (the window has drained)."""
    rule = AlertRule("slow", "latency_mean", ">", 100.0, window="10s")
    p = MonitoringPipeline([rule], window="5m")
    for t in range(10):
        p.log_request(500.0, True, 0.9, 0.01, float(t))
    p.evaluate(1000.0)
    with pytest.raises(ValueError, match="timestamp"):
        p.log_request(500.0, False, 0.9, 0.0, 50.0)
    with pytest.raises(ValueError, match="timestamp"):
        p.log_batch([1.0], [False], [0.9], [0.0], timestamp=[999.0])
    m = p.metrics()
    assert m.at == 1000.0 and m.n_in_window == 0 and m.error_rate is None and m.n_requests_total == 10
    assert [a.status for a in p.history] == ["firing", "resolved"]
    p.log_request(500.0, False, 0.9, 0.0, 1000.0)         # at the clock: accepted
    assert p.n_requests == 11


def test_active_alerts_do_not_depend_on_the_history_bound():
    steady = AlertRule("steady", "latency_mean", ">", 100.0, window=1)
    flappy = AlertRule("flappy", "error_rate", ">", 0.5, window=1)
    p = MonitoringPipeline([steady, flappy], max_history=3)
    for i in range(10):
        p.log_request(500.0, i % 2 == 0, 0.9, 0.0)
    assert p.rule_states == {"steady": "firing", "flappy": "inactive"}
    assert [a.rule for a in p.active_alerts] == ["steady"]
    assert p.active_alerts[0].n_requests == 1                 # its notification, long gone from history
    assert all(a.rule == "flappy" for a in p.history)


def test_latency_and_cost_are_bounded_so_running_sums_stay_exact():
    p = MonitoringPipeline([AlertRule("slow", "latency_mean", ">", 1e6, window=2)])
    with pytest.raises(ValueError, match="latency_ms"):
        p.log_request(1.7e308, False, 0.9, 0.0)
    with pytest.raises(ValueError, match="cost_usd"):
        p.log_request(100.0, False, 0.9, 1e20)
    with pytest.raises(ValueError, match=r"latency_ms .*index 1"):
        p.log_batch([100.0, 1e20], [False, False], [0.9, 0.9], [0.0, 0.0])
    assert p.n_requests == 0
    # at the bound, later windows are still exact: one 1e9 ms request, then 29 at 100 ms
    q = MonitoringPipeline([], window=10)
    q.log_request(monitoring.MAX_LATENCY_MS, False, 0.9, monitoring.MAX_COST_USD)
    for _ in range(29):
        q.log_request(100.0, False, 0.9, 0.01)
    rule = AlertRule("mean", "latency_mean", ">", 0.0, window=10)
    r = MonitoringPipeline([rule], keep_trace=True)
    r.log_request(monitoring.MAX_LATENCY_MS, False, 0.9, 0.0)
    for _ in range(29):
        r.log_request(100.0, False, 0.9, 0.0)
    assert r.trace()["mean"][-1] == pytest.approx(100.0, rel=1e-12)
    assert q.metrics().cost_in_window_usd == pytest.approx(0.1, rel=1e-9)


def test_throughput_alert_keeps_firing_through_a_total_outage():
    low = AlertRule("low traffic", "throughput", "<", 0.5, window="1m")
    p = MonitoringPipeline([low], window="1m")
    p.log_batch(np.full(120, 100.0), np.zeros(120, bool), np.full(120, 0.9), np.zeros(120),
                timestamp=np.arange(120.0))                 # 1 request per second
    p.log_batch(np.full(5, 100.0), np.zeros(5, bool), np.full(5, 0.9), np.zeros(5),
                timestamp=np.array([150.0, 170.0, 190.0, 210.0, 230.0]))   # slowing down: fires
    assert p.rule_states["low traffic"] == "firing"
    p.evaluate(600.0)                                       # nothing at all for six minutes
    assert p.rule_states["low traffic"] == "firing"
    assert p.metrics().throughput_per_s == 0.0
    late = [(a.status, a.at) for a in p.history if a.at > 120]   # (the first seconds fired too: a cold start)
    assert late == [("firing", 170.0)]
    # the vectorised path: one batch, evaluated on 10 s ticks (a tick sees the requests before it)
    ts = np.r_[np.arange(120.0), [150.0, 170.0, 190.0, 210.0, 230.0], 600.0]
    q = MonitoringPipeline([low], evaluate_interval="10s", keep_trace=True)
    q.log_batch(np.full(ts.size, 100.0), np.zeros(ts.size, bool), np.full(ts.size, 0.9), np.zeros(ts.size),
                timestamp=ts)
    assert [(a.status, a.at) for a in q.history if a.at > 120] == [("firing", 150.0)]
    tr = q.trace()
    quiet = (tr["at"] > 300) & (tr["at"] <= 600)                # ticks with an empty window: 0 per second
    assert quiet.sum() == 30 and (tr["low traffic"][quiet] == 0.0).all()
    assert (tr["low traffic:state"][quiet] == 2).all()


def test_min_count_larger_than_the_count_window_is_rejected():
    with pytest.raises(ValueError, match="min_count"):
        AlertRule("r", "latency_mean", ">", 100.0, window=10, min_count=20)
    with pytest.raises(ValueError, match="min_count"):
        MonitoringPipeline([AlertRule("r", "latency_mean", ">", 100.0, min_count=20)], window=10)
    MonitoringPipeline([AlertRule("r", "latency_mean", ">", 100.0, min_count=10)], window=10)


def test_rolling_window_rejects_timestamps_before_its_clock():
    w = RollingWindow(seconds=10)
    w.append(1.0, 5.0)
    w.advance(100.0)
    with pytest.raises(ValueError, match="timestamp"):
        w.append(5.0, 50.0)
    with pytest.raises(ValueError, match="timestamps"):
        w.extend([5.0], [60.0])
    v = RollingWindow(seconds=10)
    v.append(1.0, 20.0)
    with pytest.raises(ValueError, match="now"):
        v.advance(10.0)
    assert len(w) == 0 and w.total_count == 1


@pytest.mark.parametrize("clear", [1.0, None])
def test_burn_rule_min_count_is_a_traffic_floor_on_the_long_window(clear):
    """``min_count``: the rule may not fire (and a firing rule resolves) while the long window holds fewer
    requests. On a 1-minute window that starts with errors the rule without a floor pages on the second
    request; with ``min_count=5`` it waits for the fifth. One by one and in a batch: the same changes."""
    slo = SLO(0.96)
    t = np.arange(40, dtype=float)
    err = np.zeros(40, dtype=bool)
    err[[1, 3, 4]] = True
    first = {}
    for floor in (None, 5):
        rule = BurnRateRule("b", slo, 3.0, long_window="1m", short_window="10s", min_count=floor,
                            clear_burn_rate=clear)
        one, many = MonitoringPipeline([rule]), MonitoringPipeline([rule])
        for k in range(40):
            one.log_request(100.0, bool(err[k]), 0.9, 0.0, timestamp=t[k])
        many.log_batch(np.full(40, 100.0), err, np.full(40, 0.9), np.zeros(40), timestamp=t)
        assert one.state_changes == many.state_changes
        first[floor] = next(a.n_requests for a in one.history if a.status == "firing")
    assert first == {None: 2, 5: 5}
    # the default keeps the count rule's full window: min_count=50 on a 50-request window changes nothing
    d = first_firing_delays(standard_rules(), range(3))
    full = (replace(standard_rules()[0], min_count=50),) + standard_rules()[1:]
    assert all(np.array_equal(d[k], first_firing_delays(full, range(3))[k]) for k in d)


def test_burn_rule_pages_replicates_only_full_windows():
    rule = BurnRateRule("b", SLO(0.96), 3.0, long_window=50, short_window=10, min_count=20)
    with pytest.raises(ValueError, match="min_count"):
        burn_rule_pages(np.zeros((1, 60), dtype=bool), rule)
