"""The ideas of the monitoring lesson, and the engine held to them.

``RollingPercentile``, ``alert_step``, ``burn_rate_condition`` and ``ErrorCusum`` are what the notebook
shows. The pipeline calls ``alert_step`` and ``burn_rate_condition`` itself; where it takes a faster road
(percentile rules decided from counts, a batch evaluated vectorised, ``RollingWindow``'s lazily synchronised
numpy copy, ``burn_rule_pages`` on many sequences, ``cusum_paths`` by Lindley's formula), these tests check
that it lands where the short version says, on ordinary inputs, with tight tolerances. The CUSUM's average
run length (``cusum_arl``) is held to a brute-force simulation of the core and to Siegmund's approximation.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from prodai_lessons.monitoring import (
    SLO,
    AlertRule,
    BurnRateRule,
    ErrorCusum,
    MonitoringPipeline,
    RollingPercentile,
    RollingWindow,
    alert_step,
    burn_rate_condition,
    burn_rule_pages,
    cusum_arl,
    cusum_llr,
    cusum_paths,
    first_crossing,
    siegmund_arl,
)

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


# --------------------------------------------------------------------------------------------------
# A rolling percentile: keep the window sorted, insert and evict, interpolate
# --------------------------------------------------------------------------------------------------
def test_rolling_percentile_keeps_the_last_values_sorted():
    w = RollingPercentile(3)
    for x in [4.0, 1.0, 3.0, 2.0, 2.0]:
        w.append(x)
    assert w.sorted == [2.0, 2.0, 3.0] and list(w.arrivals) == [3.0, 2.0, 2.0]
    assert [w.percentile(q) for q in (0, 25, 50, 75, 100)] == [2.0, 2.0, 2.0, 2.5, 3.0]


_VALUES = st.one_of(st.integers(-4, 4).map(float),                     # many ties
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


@settings(max_examples=100, deadline=None)
@given(size=st.integers(1, 40), values=st.lists(_VALUES, min_size=1, max_size=150), q=st.floats(0, 100))
def test_rolling_percentile_core_equals_the_engine_and_numpy(size, values, q):
    """``RollingWindow`` (numpy, lazily synchronised, numpy's two-sided interpolation) against the core."""
    core, engine = RollingPercentile(size), RollingWindow(size)
    for i, x in enumerate(values):
        core.append(x)
        engine.append(x)
        if i % 5 == 0 or i == len(values) - 1:
            window = values[max(0, i + 1 - size):i + 1]
            assert core.sorted == sorted(window)
            assert core.percentile(q) == pytest.approx(engine.percentile(q), rel=1e-12, abs=1e-9)
            assert core.percentile(q) == pytest.approx(np.percentile(window, q), rel=1e-12, abs=1e-9)


# --------------------------------------------------------------------------------------------------
# The alert state machine
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("state, since, now, breached, recovered, for_, expected", [
    ("inactive", 0.0, 5.0, False, True, 3.0, ("inactive", 0.0)),    # nothing happens
    ("inactive", 0.0, 5.0, True, False, 3.0, ("pending", 5.0)),     # the clock starts
    ("inactive", 0.0, 5.0, True, False, 0.0, ("firing", 5.0)),      # for_ = 0: at once
    ("pending", 5.0, 7.0, True, False, 3.0, ("pending", 5.0)),      # not long enough yet
    ("pending", 5.0, 8.0, True, False, 3.0, ("firing", 5.0)),       # held for for_
    ("pending", 5.0, 8.0, False, True, 3.0, ("inactive", 5.0)),     # a blip: back, nothing sent
    ("firing", 5.0, 9.0, False, False, 3.0, ("firing", 5.0)),       # between the thresholds: holds
    ("firing", 5.0, 9.0, True, False, 3.0, ("firing", 5.0)),
    ("firing", 5.0, 9.0, False, True, 3.0, ("inactive", 5.0)),      # recovered: resolves
])
def test_alert_step_transitions(state, since, now, breached, recovered, for_, expected):
    assert alert_step(state, since, now, breached, recovered, for_) == expected


@st.composite
def _rule_and_latencies(draw):
    metric = draw(st.sampled_from(["latency_p50", "latency_p95", "latency_p99", "latency_mean"]))
    op = draw(st.sampled_from(sorted(_OPS)))
    threshold = draw(st.sampled_from([200.0, 300.0, 350.0, 400.0]))      # on the data's grid, and between
    gap = draw(st.sampled_from([0.0, 50.0, 100.0]))
    clear = threshold - gap if op in (">", ">=") else threshold + gap
    rule = AlertRule("r", metric, op, threshold, for_=draw(st.sampled_from([0.0, 1.0, 2.5, 4.0])),
                     window=draw(st.integers(1, 12)), clear_threshold=clear)
    grid = [100.0, 200.0, 300.0, 400.0, 500.0]
    # stretches of one level make episodes; single draws make blips and flapping around the thresholds
    latencies = draw(st.lists(st.tuples(st.sampled_from(grid), st.integers(1, 8)), min_size=1, max_size=25))
    return rule, [x for x, k in latencies for _ in range(k)]


def _by_hand(rule: AlertRule, latencies: list[float]) -> list[tuple[float, str, str]]:
    """The rule evaluated after every request with numpy's statistics and the core ``alert_step``."""
    cmp = _OPS[rule.op]
    q = {"latency_p50": 50, "latency_p95": 95, "latency_p99": 99}.get(rule.metric)
    state, since, changes = "inactive", 0.0, []
    for t in range(len(latencies)):
        window = np.array(latencies[max(0, t + 1 - rule.window):t + 1])
        full = window.size >= rule.window                                 # the default min_count
        value = window.mean() if q is None else np.percentile(window, q)
        breached = full and cmp(value, rule.threshold)
        recovered = (not full) or not cmp(value, rule.clear_threshold)
        new, since = alert_step(state, since, float(t), breached, recovered, rule.for_)
        if new != state:
            changes.append((float(t), state, new))
        state = new
    return changes


@settings(max_examples=150, deadline=None)
@given(case=_rule_and_latencies(), batch=st.booleans())
def test_pipeline_states_are_alert_step_on_the_exact_values(case, batch):
    """Without a trace the pipeline decides percentile comparisons from counts (``log_request``) or evaluates
    every point at once (``log_batch``); either way its state changes are the core's on numpy's values."""
    rule, latencies = case
    p = MonitoringPipeline([rule])
    n = len(latencies)
    if batch:
        p.log_batch(latencies, np.zeros(n, bool), np.full(n, 0.9), np.zeros(n), timestamp=np.arange(n, dtype=float))
    else:
        for t, x in enumerate(latencies):
            p.log_request(x, False, 0.9, 0.0, float(t))
    assert [(c.at, c.old, c.new) for c in p.state_changes] == _by_hand(rule, latencies)
    statuses = [a.status for a in p.history]
    assert statuses == ["firing", "resolved"] * (len(statuses) // 2) + ["firing"] * (len(statuses) % 2)


# --------------------------------------------------------------------------------------------------
# The multiwindow burn-rate condition
# --------------------------------------------------------------------------------------------------
def test_burn_rate_condition_needs_both_windows():
    assert burn_rate_condition(0.16, 0.20, 0.96, 3.0)          # 4x and 5x
    assert not burn_rate_condition(0.16, 0.0, 0.96, 3.0)       # the short window is clean: over already
    assert not burn_rate_condition(0.02, 0.30, 0.96, 3.0)      # a burst in the short window only
    assert not burn_rate_condition(0.12, 0.12, 0.96, 3.0 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(rates=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=30),
       target=st.sampled_from([0.9, 0.95, 0.96, 0.99, 0.999]), burn=st.sampled_from([1.0, 2.0, 3.0, 6.0, 14.4]))
def test_burn_rate_condition_on_arrays_is_the_condition_on_each_pair(rates, target, burn):
    longs, shorts = (np.array(c) for c in zip(*rates))
    together = burn_rate_condition(longs, shorts, target, burn)
    assert together.dtype == bool
    assert together.tolist() == [bool(burn_rate_condition(a, b, target, burn)) for a, b in rates]


@settings(max_examples=100, deadline=None)
@given(errors=st.lists(st.booleans(), min_size=1, max_size=160), long_window=st.integers(2, 40),
       short_share=st.floats(0.05, 1.0), target=st.sampled_from([0.8, 0.9, 0.96]),
       burn=st.sampled_from([1.0, 2.0, 3.0]), clear=st.sampled_from([None, 0.5, 1.0]), batch=st.booleans())
def test_burn_rule_pages_where_the_condition_says(errors, long_window, short_share, target, burn, clear, batch):
    """The pipeline's burn-rate rule (scalar path or vectorised) against the core on counted error rates."""
    short_window = max(1, int(short_share * long_window))
    rule = BurnRateRule("b", SLO(target), burn, long_window=long_window, short_window=short_window,
                        clear_burn_rate=clear)
    n = len(errors)
    p = MonitoringPipeline([rule])
    if batch:
        p.log_batch(np.full(n, 100.0), errors, np.full(n, 0.9), np.zeros(n))
    else:
        for e in errors:
            p.log_request(100.0, e, 0.9, 0.0)
    c = np.r_[0, np.cumsum(errors)].tolist()
    state, since, changes = "inactive", 0.0, []
    for j in range(1, n + 1):                                     # after request j (clock j - 1)
        full = j >= long_window
        long_rate = (c[j] - c[j - long_window]) / long_window if full else 0.0
        breached = full and bool(burn_rate_condition(long_rate, (c[j] - c[j - short_window]) / short_window,
                                                     target, burn))
        recovered = (not breached) if clear is None else (not full) or long_rate / (1.0 - target) <= clear
        new, since = alert_step(state, since, float(j - 1), breached, recovered, 0.0)
        if new != state:
            changes.append((float(j - 1), state, new))
        state = new
    assert [(ch.at, ch.old, ch.new) for ch in p.state_changes] == changes
    # the vectorised replica behind the lesson's trade-off figure pages at the same requests
    first, count = burn_rule_pages(np.array([errors], dtype=bool), rule)
    pages = [int(at) + 1 for at, _, new in changes if new == "firing"]
    assert (int(first[0]), int(count[0])) == ((pages[0] if pages else 0), len(pages))


# --------------------------------------------------------------------------------------------------
# The CUSUM on error flags
# --------------------------------------------------------------------------------------------------
def test_error_cusum_adds_evidence_floors_at_zero_and_restarts_after_a_page():
    c = ErrorCusum(0.02, 0.15, h=3.0)
    assert (c.up, c.down) == pytest.approx((math.log(0.15 / 0.02), math.log(0.85 / 0.98)))
    assert c.update(True) is False and c.s == pytest.approx(math.log(7.5))
    for _ in range(20):                                  # 20 successes take more than the error's evidence
        assert c.update(False) is False
    assert c.s == 0.0                                    # floored, not negative
    assert [c.update(e) for e in (True, True)] == [False, True] and c.s == 0.0   # 4.03 > 3: a page, restart


@settings(max_examples=100, deadline=None)
@given(flags=st.lists(st.booleans(), min_size=1, max_size=400), p0=st.floats(0.001, 0.3),
       ratio=st.floats(1.1, 30.0), h=st.floats(0.5, 12.0))
def test_cusum_engine_equals_the_core(flags, p0, ratio, h):
    """``cusum_paths`` (Lindley's formula on all rows at once) is the core's statistic request by request, and
    ``first_crossing`` the request at which the core first pages."""
    p1 = p0 * ratio
    assume(p1 < 0.99)
    core, by_hand, page = ErrorCusum(p0, p1, h=math.inf), [], ErrorCusum(p0, p1, h=h)
    first = 0
    for j, e in enumerate(flags, start=1):
        core.update(e)
        by_hand.append(core.s)
        if page.update(e) and not first:
            first = j
    paths = cusum_paths(np.array([flags, flags[::-1]], dtype=bool), p0, p1)
    np.testing.assert_allclose(paths[0], by_hand, rtol=1e-10, atol=1e-9)
    assume(not np.any(np.abs(paths[0] - h) < 1e-9))      # a tie at h is decided by rounding either way
    assert first_crossing(paths, h)[0] == first
    assert cusum_llr(p0, p1) == pytest.approx((core.up, core.down), rel=1e-15)


@pytest.mark.parametrize("p_incident, h", [(0.15, 2.0), (0.15, 4.0), (0.25, 3.0), (0.40, 4.5)])
def test_cusum_arl_matches_a_brute_force_simulation_of_the_core(p_incident, h):
    """Run the core over a long stream and count its pages: the stream's length per page estimates the
    average run length (the CUSUM restarts from 0 after each page). On normal traffic (false pages) and
    during the incident (the delay), the lattice solution lies within 4 standard errors of the simulation."""
    rng = np.random.default_rng(int(100 * p_incident + 10 * h))
    for p_error, n in ((0.02, 1_000_000), (p_incident, 200_000)):
        core = ErrorCusum(0.02, p_incident, h)
        pages = sum(core.update(e) for e in (rng.random(n) < p_error).tolist())
        simulated = n / pages
        se = simulated / math.sqrt(pages)                # a run length's sd is at most its mean here
        assert abs(cusum_arl(h, p_error, 0.02, p_incident) - simulated) <= 4 * se, (p_error, simulated)


def test_cusum_arl_matches_a_vectorised_simulation_of_the_delay_closely():
    """The detection delay from 0, on 20,000 sequences at once: within 4 standard errors (at most 2 %)."""
    rng = np.random.default_rng(5)
    for p_incident, h in ((0.15, 6.0), (0.15, 10.0), (0.25, 8.0), (0.40, 12.0)):
        paths = cusum_paths(rng.random((20_000, 500)) < p_incident, 0.02, p_incident)
        first = first_crossing(paths, h)
        assert (first > 0).all()
        se = first.std() / math.sqrt(first.size)
        assert abs(cusum_arl(h, p_incident, 0.02, p_incident) - first.mean()) <= 4 * se <= 0.02 * first.mean()


@pytest.mark.parametrize("p_incident", [0.15, 0.25, 0.40])
def test_cusum_arl_against_siegmunds_approximation(p_incident):
    """Siegmund's approximation treats the CUSUM as stopping exactly at ``h``; the statistic really overshoots
    it by up to one error's evidence ``u``. So the exact run length lies between the approximation at ``h``
    and at ``h + u``, on normal traffic and during the incident. And it grows as the approximation says:
    like ``exp(h)`` on normal traffic (theta = 1) and like ``h / KL`` during the incident, with ``KL`` the
    mean evidence per incident request."""
    up, down = cusum_llr(0.02, p_incident)
    arl = {}
    for h in (2.0, 4.0, 6.0, 8.0, 10.0, 12.0):
        for p in (0.02, p_incident):
            arl[h, p] = cusum_arl(h, p, 0.02, p_incident)
            assert siegmund_arl(h, p, 0.02, p_incident) <= arl[h, p] <= siegmund_arl(h + up, p, 0.02, p_incident)
    # over 8 nats of threshold (the run length is a step function of h: a long span averages the steps)
    assert math.log(arl[12.0, 0.02] / arl[4.0, 0.02]) == pytest.approx(8.0, rel=0.06)
    kl = p_incident * up + (1 - p_incident) * down
    assert (arl[12.0, p_incident] - arl[4.0, p_incident]) * kl == pytest.approx(8.0, rel=0.06)
    # the approximation itself: theta = +1 on normal traffic and -1 during the incident
    h, mu0 = 5.0, 0.02 * up + 0.98 * down
    assert siegmund_arl(h, 0.02, 0.02, p_incident) == pytest.approx((math.exp(h) - h - 1) / -mu0, rel=1e-9)
    assert siegmund_arl(h, p_incident, 0.02, p_incident) == pytest.approx((math.exp(-h) + h - 1) / kl, rel=1e-9)


def test_cusum_arl_and_engine_reject_bad_input():
    with pytest.raises(ValueError, match="p_incident"):
        cusum_llr(0.15, 0.02)
    with pytest.raises(ValueError, match="h"):
        cusum_arl(-1.0, 0.02, 0.02, 0.15)
    with pytest.raises(ValueError, match="errors"):
        cusum_paths(np.array([1, 0, 1]), 0.02, 0.15)
    with pytest.raises(ValueError, match="long_window"):
        burn_rule_pages(np.zeros((1, 100), dtype=bool),
                        BurnRateRule("b", SLO(0.96), 3.0, long_window="1h", short_window="5m"))
