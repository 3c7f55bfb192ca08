"""Seeded traffic: determinism, the distributions it claims (scipy as oracle), ground truth, bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from prodai_lessons.simulate import (
    DEFAULT_PRICES,
    PHASES,
    Requests,
    hourly_counts,
    simulate_day,
    simulate_phases,
    simulate_requests,
    standard_scenario,
)


def _same(a: Requests, b: Requests) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in Requests._FIELDS)


def test_same_seed_same_traffic_other_seed_other_traffic():
    assert _same(standard_scenario(7).requests, standard_scenario(7).requests)
    assert not _same(standard_scenario(7).requests, standard_scenario(8).requests)
    d1, d2 = simulate_day(3), simulate_day(3)
    assert _same(d1.requests, d2.requests)
    assert np.array_equal(d1.expected_per_hour, d2.expected_per_hour)


def test_standard_scenario_layout_and_ground_truth():
    t = standard_scenario(2)
    r = t.requests
    assert len(r) == 200
    assert (r.phase[:150] == "normal").all() and (r.phase[150:] == "degraded").all()
    assert np.all(np.diff(r.timestamp) >= 0) and r.timestamp[0] > 0
    (inc,) = t.incidents
    assert (inc.phase, inc.start_index, inc.end_index, inc.n_requests) == ("degraded", 150, 200, 50)
    assert inc.start_s == r.timestamp[150]
    mask = t.incident_mask()
    assert mask.sum() == 50 and mask[150:].all()
    # arrays are read-only: a frozen result cannot be edited behind the monitor's back
    with pytest.raises(ValueError):
        r.latency_ms[0] = 1.0


@pytest.mark.parametrize("phase", sorted(PHASES))
def test_phase_distributions_match_their_parameters(phase):
    prof = PHASES[phase]
    r = simulate_requests(20_000, phase=phase, seed=11)
    # log-latency is normal(mu, sigma): KS test against scipy's normal
    assert stats.kstest(np.log(r.latency_ms), stats.norm(prof.latency_log_mean, prof.latency_log_sigma).cdf).pvalue > 0.01
    # a wrong sigma must be rejected (the check can fail)
    assert stats.kstest(np.log(r.latency_ms), stats.norm(prof.latency_log_mean, 1.2 * prof.latency_log_sigma).cdf).pvalue < 1e-6
    assert stats.kstest(r.confidence, stats.beta(prof.confidence_a, prof.confidence_b).cdf).pvalue > 0.01
    # error rate within 4 binomial standard errors
    se = np.sqrt(prof.error_rate * (1 - prof.error_rate) / len(r))
    assert abs(r.error.mean() - prof.error_rate) < 4 * se
    # arrivals: exponential gaps at rate * multiplier
    gaps = np.diff(r.timestamp)
    assert stats.kstest(gaps, stats.expon(scale=1 / prof.rate_multiplier).cdf).pvalue > 0.01


def test_tokens_and_cost_are_consistent():
    r = simulate_requests(5_000, phase="degraded", seed=5)
    assert (r.input_tokens >= 1).all()
    assert (r.output_tokens[r.error] == 0).all()      # a failed call generates nothing
    assert (r.output_tokens[~r.error] >= 1).all()
    p_in = np.array([DEFAULT_PRICES[m][0] for m in r.model]) / 1e6
    p_out = np.array([DEFAULT_PRICES[m][1] for m in r.model]) / 1e6
    np.testing.assert_allclose(r.cost_usd, r.input_tokens * p_in + r.output_tokens * p_out, rtol=1e-12)
    shares = {m: np.mean(r.model == m) for m in ("small", "medium", "large")}
    assert abs(shares["small"] - 0.6) < 0.03 and abs(shares["large"] - 0.1) < 0.02
    # degraded doubles output tokens compared with normal
    n = simulate_requests(5_000, phase="normal", seed=5)
    ratio = r.output_tokens[~r.error].mean() / n.output_tokens[~n.error].mean()
    assert 1.8 < ratio < 2.2


def test_custom_prices_and_mix():
    r = simulate_requests(100, seed=1, model_mix={"a": 1.0}, prices={"a": (1.0, 2.0)})
    assert set(r.model) == {"a"}
    np.testing.assert_allclose(r.cost_usd, (r.input_tokens * 1.0 + r.output_tokens * 2.0) / 1e6)


def test_day_cycle_and_incident_hours_are_half_open():
    d = simulate_day(0, incident_hours=(14, 17))
    r = d.requests
    counts = hourly_counts(r.timestamp)
    assert counts.sum() == len(r)
    hours = r.hour
    assert set(r.phase[(hours >= 14) & (hours < 17)]) == {"spike"}
    assert set(r.phase[(hours < 14) | (hours >= 17)]) == {"normal"}   # hour 17 is NOT in the incident
    (inc,) = d.incidents
    assert (inc.start_s, inc.end_s) == (14 * 3600.0, 17 * 3600.0)
    assert inc.label() == "spike 14:00-17:00"
    assert inc.start_index == counts[:14].sum() and inc.end_index == counts[:17].sum()
    # Poisson counts around the expected curve (within 5 standard deviations every hour)
    z = (counts - d.expected_per_hour) / np.sqrt(d.expected_per_hour)
    assert np.abs(z).max() < 5
    # the spike multiplies the rate; the cycle peaks near peak_hour outside the incident
    assert d.expected_per_hour[15] == pytest.approx(2.5 * 1000 * (1 + 0.5 * np.cos(2 * np.pi * 0.5 / 24)))
    quiet = simulate_day(0, incident_hours=None)
    assert quiet.incidents == () and set(quiet.requests.phase) == {"normal"}
    assert int(np.argmax(quiet.expected_per_hour)) in (14, 15)


def test_scenario_segments_keep_their_order():
    t = simulate_phases([("normal", 10), ("spike", 5), ("normal", 10), ("degraded", 7)], seed=4)
    assert [(i.phase, i.start_index, i.end_index) for i in t.incidents] == [("spike", 10, 15), ("degraded", 25, 32)]
    assert t.description == "10 normal + 5 spike + 10 normal + 7 degraded"
    assert len(t.requests[t.incident_mask()]) == 12


def test_a_phase_can_be_given_as_a_profile():
    """A varied profile draws exactly as the named phase does when it equals it, and its one changed
    property shows: here the error rate, everything else drawn identically from the same seed."""
    same = standard_scenario(3, incident_phase=replace(PHASES["degraded"])).requests
    assert np.array_equal(same.error, standard_scenario(3).requests.error)
    outage = replace(PHASES["degraded"], name="outage", error_rate=0.6)
    t = standard_scenario(3, incident_phase=outage)
    base = standard_scenario(3)
    assert [(i.phase, i.start_index, i.end_index) for i in t.incidents] == [("outage", 150, 200)]
    assert list(np.unique(t.requests.phase[150:])) == ["outage"]
    np.testing.assert_array_equal(t.requests.latency_ms, base.requests.latency_ms)
    np.testing.assert_array_equal(t.requests.error[:150], base.requests.error[:150])
    assert t.requests.error[150:].sum() > base.requests.error[150:].sum()
    big = simulate_requests(200_000, phase=outage, seed=1).error
    assert abs(big.mean() - 0.6) < 4 * np.sqrt(0.6 * 0.4 / big.size)
    # a profile named "normal" is normal traffic, not an incident
    assert simulate_phases([("normal", 5), (replace(PHASES["normal"], error_rate=0.1), 5)]).incidents == ()


@pytest.mark.parametrize(
    "call, exc, word",
    [
        (lambda: simulate_requests(-1), ValueError, "n"),
        (lambda: simulate_requests(3.0), TypeError, "n"),
        (lambda: simulate_requests(5, phase="broken"), ValueError, "phase"),
        (lambda: simulate_requests(5, rate_per_s=0), ValueError, "rate_per_s"),
        (lambda: simulate_requests(5, model_mix={"small": 0.5}), ValueError, "model_mix"),
        (lambda: simulate_requests(5, model_mix={"x": 1.0}), ValueError, "prices"),
        (lambda: simulate_phases([]), TypeError, "phases"),
        (lambda: simulate_phases([("normal", 0)]), ValueError, "n_requests"),
        (lambda: simulate_day(incident_hours=(17, 14)), ValueError, "incident_hours[1]"),
        (lambda: simulate_day(incident_hours=(14, 25)), ValueError, "incident_hours[1]"),
        (lambda: simulate_day(requests_per_hour=-5), ValueError, "requests_per_hour"),
        (lambda: hourly_counts([10.0, -1.0]), ValueError, "timestamps"),
        (lambda: hourly_counts([90_000.0]), ValueError, "timestamps"),
        (lambda: simulate_requests(5, phase=0.4), TypeError, "phase"),
        (lambda: simulate_phases([("normal", 5), (None, 5)]), TypeError, r"phases[1] phase"),
        (lambda: standard_scenario(incident_phase="outage"), ValueError, "phase"),
        (lambda: simulate_day(incident_phase=["spike"]), TypeError, "incident_phase"),
        (lambda: replace(PHASES["degraded"], error_rate=1.5), ValueError, "error_rate"),
        (lambda: replace(PHASES["degraded"], error_rate=float("nan")), ValueError, "error_rate"),
        (lambda: replace(PHASES["degraded"], latency_log_sigma=-0.1), ValueError, "latency_log_sigma"),
        (lambda: replace(PHASES["degraded"], confidence_b=0.0), ValueError, "confidence_b"),
        (lambda: replace(PHASES["spike"], rate_multiplier=-2.0), ValueError, "rate_multiplier"),
        (lambda: replace(PHASES["spike"], name=""), ValueError, "name"),
    ],
)
def test_bad_input_names_the_argument(call, exc, word):
    with pytest.raises(exc, match=word.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_incident_window_times_select_exactly_its_requests():
    """``[start_s, end_s)`` and ``[start_index, end_index)`` agree, also when the incident ends the traffic
    (a common off-by-one leaves its last request outside the time window) and when it is a single request."""
    for phases in ([("normal", 5), ("degraded", 3)], [("normal", 5), ("spike", 1)],
                   [("degraded", 4), ("normal", 6), ("spike", 2)]):
        t = simulate_phases(phases, seed=3)
        ts = t.requests.timestamp
        for inc in t.incidents:
            by_time = np.flatnonzero((ts >= inc.start_s) & (ts < inc.end_s))
            assert by_time.tolist() == list(range(inc.start_index, inc.end_index)), (phases, inc)


def test_requests_do_not_freeze_the_callers_arrays():
    cols = {name: np.arange(3.0) for name in ("timestamp", "latency_ms", "confidence", "cost_usd")}
    mine = cols["latency_ms"]
    r = Requests(error=np.zeros(3, bool), model=np.array(["a"] * 3), input_tokens=np.ones(3, np.int64),
                 output_tokens=np.ones(3, np.int64), phase=np.array(["normal"] * 3), **cols)
    mine[0] = 42.0                                  # still the caller's, still writable ...
    assert r.latency_ms[0] == 0.0                   # ... and the record did not change with it
    with pytest.raises(ValueError):
        r.latency_ms[0] = 1.0
