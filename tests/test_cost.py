"""Tests of prodai_lessons.cost: exact money, exact cache savings, budgets, the response cache, bad input.

The oracle for money is Python's ``fractions.Fraction``: prices are read from the JSON text as exact decimals
and every cost is recomputed as an exact rational, independently of the tracker's integer picodollars.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodai_lessons.cost import (
    PICO_PER_USD,
    SECONDS_PER_DAY,
    UNASSIGNED,
    BudgetTrace,
    CostReport,
    CostTracker,
    Pricing,
    ResponseCache,
    cache_savings,
    estimate_tokens,
    load_pricing,
    normalize_prompt,
    pico_per_token,
    request_cost_pico,
)
from prodai_lessons.simulate import simulate_day

PRICING = load_pricing()
MODELS = list(PRICING.models)
SMALL, MEDIUM, LARGE = (PRICING.model_for_tier(t) for t in ("small", "medium", "large"))


def _exact_prices() -> dict[str, tuple[Fraction, Fraction, Fraction]]:
    """USD per token as exact fractions, parsed from the shipped JSON text (not from the module)."""
    raw = json.loads(resources.files("prodai_lessons").joinpath("data/pricing.json").read_text(),
                     parse_float=Fraction)
    out = {}
    for m, e in raw["models"].items():
        pin, pout = Fraction(e["input_per_mtok"]), Fraction(e["output_per_mtok"])
        pc = pin if e.get("cached_input_per_mtok") is None else Fraction(e["cached_input_per_mtok"])
        out[m] = (pin / 10**6, pout / 10**6, pc / 10**6)
    return out


EXACT = _exact_prices()


def exact_cost(model: str, i: int, o: int, c: int = 0) -> Fraction:
    pin, pout, pc = EXACT[model]
    return (i - c) * pin + c * pc + o * pout


def random_traffic(seed: int, n: int, *, hit_rate: float = 0.2):
    rng = np.random.default_rng(seed)
    models = rng.choice(MODELS, n)
    inp = rng.integers(0, 5000, n)
    out = rng.integers(0, 2000, n)
    cin = (inp * rng.random(n) * (rng.random(n) < 0.3)).astype(np.int64)
    cached = rng.random(n) < hit_rate
    retries = rng.integers(0, 3, n) * (rng.random(n) < 0.15) * ~cached
    features = rng.choice(["chat", "search", "summarize"], n)
    times = np.sort(rng.uniform(0, 2 * SECONDS_PER_DAY, n))
    return models, inp, out, cin, cached, retries, features, times


# ------------------------------------------------------------------------------------------ pricing
def test_shipped_pricing_has_three_tiers_a_date_and_a_warning():
    assert list(PRICING.tiers) == ["small", "medium", "large"]
    assert PRICING.prices_as_of and PRICING.source
    assert "check" in PRICING.note.lower() and "current" in PRICING.note.lower()
    # larger tier, higher prices
    prices = [PRICING.models[m] for m in (SMALL, MEDIUM, LARGE)]
    assert prices[0].input_per_mtok < prices[1].input_per_mtok < prices[2].input_per_mtok
    assert all(p.output_per_mtok > p.input_per_mtok for p in prices)  # output tokens cost more


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODELS), st.integers(0, 10**6), st.integers(0, 10**6), st.floats(0, 1))
def test_pricing_cost_matches_exact_rational(model, i, o, share):
    c = int(i * share)
    assert PRICING.cost(model, i, o, c) == float(exact_cost(model, i, o, c))


# ------------------------------------------------------------------------------------------ the cores
@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9),
       st.integers(0, 10**9), st.floats(0, 1))
def test_request_cost_core_is_tokens_times_price_per_million_exactly(i, o, p_in, p_out, p_cached, share):
    """Prices drawn as exact decimals with six places ($/MTok); the oracle is rational arithmetic."""
    c = int(i * share)
    usd_in, usd_out, usd_cached = (Fraction(p, 10**6) for p in (p_in, p_out, p_cached))  # $/MTok
    assert [pico_per_token(float(p)) for p in (usd_in, usd_out, usd_cached)] == [p_in, p_out, p_cached]
    exact = ((i - c) * usd_in + c * usd_cached + o * usd_out) / 10**6  # USD
    pico = request_cost_pico(i, o, pico_per_token(float(usd_in)), pico_per_token(float(usd_out)),
                             c, pico_per_token(float(usd_cached)))
    assert Fraction(pico, PICO_PER_USD) == exact


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400), st.floats(0.0, 1.0))
def test_cache_savings_core_equals_the_trackers_vectorised_sum(seed, n, hit_rate):
    """The report sums the hits' would-be costs with an exact vectorised sum; the core sums them one by one."""
    models, inp, out, cin, cached, retries, _, times = random_traffic(seed, n, hit_rate=hit_rate)
    tr = CostTracker(PRICING)
    tr.log_batch(models, inp, out, cached, retries=retries, cached_input_tokens=cin, timestamps=times)
    would_be = [PRICING.models[m].cost_pico(i, o, c) for m, i, o, c in
                zip(models, inp.tolist(), out.tolist(), cin.tolist())]
    assert tr.report().cache_savings == cache_savings(would_be, cached.tolist()) / PICO_PER_USD
    # the same requests logged one by one give the same savings
    one = CostTracker(PRICING)
    for m, i, o, c, h, r, t in zip(models, inp.tolist(), out.tolist(), cin.tolist(), cached.tolist(),
                                   retries.tolist(), times.tolist()):
        one.log_request(m, i, o, cached=h, retries=r, cached_input_tokens=c, timestamp=t)
    assert one.report().cache_savings == tr.report().cache_savings


def test_cache_savings_core_differs_from_the_average_shortcut():
    """The core's example, on data: two cheap hits among expensive paid requests."""
    costs, hit = [5, 5, 900, 900], [True, True, False, False]
    shortcut = sum(hit) * sum(c for c, h in zip(costs, hit) if not h) / (len(hit) - sum(hit))
    assert cache_savings(costs, hit) == 10 and shortcut == 1800


# ------------------------------------------------------------------------------------------ exact totals
def test_totals_equal_sum_of_per_request_costs_to_the_cent():
    models, inp, out, cin, cached, retries, features, times = random_traffic(1, 20_000)
    tr = CostTracker(PRICING)
    # half logged one by one, half in two batches: all paths must agree
    half = 10_000
    for k in range(half):
        tr.log_request(models[k], int(inp[k]), int(out[k]), cached=bool(cached[k]), feature=features[k],
                       retries=int(retries[k]), cached_input_tokens=int(cin[k]), timestamp=float(times[k]))
    for lo, hi in ((half, 15_000), (15_000, 20_000)):
        tr.log_batch(models[lo:hi], inp[lo:hi], out[lo:hi], cached[lo:hi], features[lo:hi], retries[lo:hi],
                     cached_input_tokens=cin[lo:hi], timestamps=times[lo:hi])
    rep = tr.report()
    oracle = [Fraction(0) if h else exact_cost(m, i, o, c) * (1 + r)
              for m, i, o, c, h, r in zip(models, inp.tolist(), out.tolist(), cin.tolist(), cached, retries.tolist())]
    total = sum(oracle)
    assert rep.total_cost == float(total)  # exact, not just to the cent
    assert round(rep.total_cost, 2) == round(float(total), 2)
    assert round(math.fsum(tr.costs()), 2) == round(rep.total_cost, 2)
    np.testing.assert_array_equal(tr.costs(), [float(x) for x in oracle])
    for m in MODELS:
        assert rep.by_model[m].cost == float(sum(x for x, mm in zip(oracle, models) if mm == m))
    for f in ("chat", "search", "summarize"):
        assert rep.by_feature[f].cost == float(sum(x for x, ff in zip(oracle, features) if ff == f))
    assert rep.n_requests == 20_000 and rep.n_cached == int(cached.sum())
    assert rep.input_tokens == int(inp.sum()) and rep.output_tokens == int(out.sum())
    retry_exact = sum(exact_cost(m, i, o, c) * r for m, i, o, c, r in
                      zip(models, inp.tolist(), out.tolist(), cin.tolist(), retries.tolist()))
    assert rep.retry_cost == float(retry_exact)
    assert rep.cost_per_request == float(total) / 20_000
    assert rep.cost_per_1k_tokens == pytest.approx(float(total) * 1000 / (inp.sum() + out.sum()), rel=1e-15)
    assert tr.binned_costs(3600.0, 48).sum() == pytest.approx(rep.total_cost, rel=1e-12)


def test_naive_float_accumulation_drifts_but_tracker_does_not():
    """Two million tiny requests: adding floats one by one drifts, integer picodollars do not."""
    n = 2_000_000
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    tr.log_batch(SMALL, np.full(n, 7), np.full(n, 3))  # 7*0.8e-6 + 3*4e-6 = 1.76e-5 USD each
    exact = n * exact_cost(SMALL, 7, 3)
    assert tr.report().total_cost == float(exact)
    naive = 0.0
    per = PRICING.cost(SMALL, 7, 3)
    for _ in range(n // 20):  # a float accumulator already drifts after 100k additions
        naive += per
    assert naive != float((n // 20) * exact_cost(SMALL, 7, 3))


def test_single_and_batch_paths_give_identical_reports_and_alerts():
    models, inp, out, cin, cached, retries, features, times = random_traffic(2, 3000)
    a = CostTracker(PRICING, daily_limit=20.0)
    b = CostTracker(PRICING, daily_limit=20.0)
    for k in range(3000):
        a.log_request(models[k], int(inp[k]), int(out[k]), cached=bool(cached[k]), feature=features[k],
                      retries=int(retries[k]), cached_input_tokens=int(cin[k]), timestamp=float(times[k]))
    b.log_batch(models, inp, out, cached, features, retries, cached_input_tokens=cin, timestamps=times)
    assert a.report() == b.report()
    assert a.budget_alerts == b.budget_alerts and len(a.budget_alerts) >= 1


# ------------------------------------------------------------------------------------------ cache savings
def test_savings_are_exact_on_a_skewed_mix_and_the_average_formula_is_wrong():
    """Cached requests are long large-model calls, paid ones short small-model calls."""
    rng = np.random.default_rng(3)
    n_hit, n_paid = 300, 3000
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    hit_in, hit_out = rng.integers(2000, 8000, n_hit), rng.integers(500, 2000, n_hit)
    paid_in, paid_out = rng.integers(50, 300, n_paid), rng.integers(10, 100, n_paid)
    tr.log_batch(LARGE, hit_in, hit_out, cached=np.ones(n_hit, bool), features="faq")
    tr.log_batch(SMALL, paid_in, paid_out, features="chat")
    rep = tr.report()
    avoided = sum(exact_cost(LARGE, i, o) for i, o in zip(hit_in.tolist(), hit_out.tolist()))
    assert rep.cache_savings == float(avoided)
    assert rep.by_model[LARGE].cache_savings == float(avoided) and rep.by_model[SMALL].cache_savings == 0
    assert rep.by_feature["faq"].cache_savings == float(avoided)
    assert rep.cost_without_cache == pytest.approx(rep.total_cost + float(avoided), rel=1e-15)
    assert rep.cache_hit_rate == n_hit / (n_hit + n_paid)
    # The common shortcut, hits x average paid cost, is orders of magnitude too low here.
    mutant = rep.n_cached * (rep.total_cost / (rep.n_requests - rep.n_cached))
    assert float(avoided) / mutant > 100


def test_average_formula_is_wrong_even_on_an_unskewed_mix():
    models, inp, out, _, cached, _, _, times = random_traffic(4, 2000, hit_rate=0.15)
    tr = CostTracker(PRICING)
    tr.log_batch(models, inp, out, cached, timestamps=times)
    rep = tr.report()
    avoided = float(sum(exact_cost(m, i, o) for m, i, o, h in zip(models, inp.tolist(), out.tolist(), cached) if h))
    assert rep.cache_savings == avoided
    mutant = rep.n_cached * rep.total_cost / (rep.n_requests - rep.n_cached)
    assert abs(mutant - avoided) / avoided > 0.01  # the mutant misses even a balanced mix


def test_retries_are_paid_in_full_and_reported():
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    one = tr.log_request(MEDIUM, 1000, 400)
    three = tr.log_request(MEDIUM, 1000, 400, retries=2)
    assert three == float(3 * exact_cost(MEDIUM, 1000, 400)) and one == float(exact_cost(MEDIUM, 1000, 400))
    assert tr.report().retry_cost == float(2 * exact_cost(MEDIUM, 1000, 400))


def test_prompt_cache_discount():
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    cost = tr.log_request(LARGE, 10_000, 100, cached_input_tokens=9_000)
    assert cost == float(exact_cost(LARGE, 10_000, 100, 9_000))
    assert tr.report().prompt_cache_savings == float(exact_cost(LARGE, 10_000, 100) - exact_cost(LARGE, 10_000, 100, 9_000))


def test_empty_report_is_zero_not_nan():
    rep = CostTracker(PRICING).report()
    assert rep.n_requests == 0 and rep.total_cost == 0.0 and rep.cache_hit_rate == 0.0
    assert rep.cost_per_request == 0.0 and rep.by_model == {}


def test_unassigned_feature_is_reported_not_dropped():
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    tr.log_request(SMALL, 10, 10)
    tr.log_request(SMALL, 10, 10, feature="chat")
    assert set(tr.report().by_feature) == {UNASSIGNED, "chat"}


# ------------------------------------------------------------------------------------------ budget
def test_projection_equals_run_rate_and_alert_fires_once_per_episode():
    # one request every 60 s, each costing exactly 15*1000 + 75*200 per-token units of the large model
    per = float(exact_cost(LARGE, 1000, 200))  # 0.03 USD
    n_per_day = int(SECONDS_PER_DAY // 60)
    limit = per * n_per_day * 0.9  # the flat run rate projects 1.0x a full day: above the limit
    tr = CostTracker(PRICING, daily_limit=limit, min_elapsed=3600.0)
    times = np.arange(1, n_per_day) * 60.0
    tr.log_batch(LARGE, np.full(len(times), 1000), np.full(len(times), 200), timestamps=times)
    st_ = tr.budget(now=43_200.0)  # noon: half the day, 720 requests
    assert st_.spent_today == pytest.approx(720 * per, rel=1e-12)
    assert st_.expected_fraction == pytest.approx(0.5)
    assert st_.projected_spend == pytest.approx(1440 * per, rel=1e-12)
    assert st_.alert and not st_.exceeded
    assert len(tr.budget_alerts) == 1  # above from the first projection on, one notification only
    assert tr.budget_alerts[0].timestamp == 3600.0
    # a limit above the run rate never alerts
    calm = CostTracker(PRICING, daily_limit=per * n_per_day * 1.2)
    calm.log_batch(LARGE, np.full(len(times), 1000), np.full(len(times), 200), timestamps=times)
    assert calm.budget_alerts == () and not calm.budget(now=43_200.0).alert


def test_budget_rearms_and_resets_each_day():
    per = float(exact_cost(SMALL, 1000, 1000))
    tr = CostTracker(PRICING, daily_limit=per * 30, min_elapsed=0.0)
    t = 0.0
    # Day 0: a burst in the first hour projects way above; a long quiet gap lets the projection fall.
    for k in range(10):
        tr.log_request(SMALL, 1000, 1000, timestamp=100.0 + k)
    tr.log_request(SMALL, 1000, 1000, timestamp=80_000.0)  # projection falls below: re-armed
    for k in range(30):
        tr.log_request(SMALL, 1000, 1000, timestamp=80_001.0 + k)  # crosses again
    # Day 1: a fresh day, a fresh burst alerts again
    for k in range(10):
        t = SECONDS_PER_DAY + 100.0 + k
        tr.log_request(SMALL, 1000, 1000, timestamp=t)
    days = [a.day for a in tr.budget_alerts]
    assert days == [0, 0, 1]
    assert tr.budget(now=t).spent_today == pytest.approx(10 * per, rel=1e-12)


# A projection that wobbles around the limit: (hour, projected / limit). Spend grows every hour, so the
# sequence is a real day's; the limit is $1.80 and each step is a whole number of large-model output tokens.
HOVER = [(1, 1.05), (2, 0.98), (3, 1.03), (4, 0.99), (5, 1.02), (6, 0.86), (7, 1.04), (8, 0.95)]
HOVER_LIMIT = 24 * 1000 * 75e-6  # so that spent = ratio * hour * 1000 output tokens at $75/MTok


def _hover_tracker(batch: bool, **kwargs) -> CostTracker:
    spent_tokens = [round(r * h * 1000) for h, r in HOVER]
    assert all(b > a for a, b in zip(spent_tokens, spent_tokens[1:]))
    tokens = np.diff(np.r_[0, spent_tokens])
    times = np.array([h * 3600.0 for h, _ in HOVER])
    tr = CostTracker(PRICING, daily_limit=HOVER_LIMIT, min_elapsed=0.0, **kwargs)
    if batch:
        tr.log_batch(LARGE, np.zeros(len(times), np.int64), tokens, timestamps=times)
    else:
        for k, t in enumerate(times):
            tr.log_request(LARGE, 0, int(tokens[k]), timestamp=float(t))
    np.testing.assert_allclose(tr.budget_trace().projected / HOVER_LIMIT, [r for _, r in HOVER], rtol=1e-12)
    return tr


@pytest.mark.parametrize("batch", [False, True])
def test_a_projection_hovering_at_the_limit_alerts_once_per_episode(batch):
    """Above, a little below, above again: one episode, one alert. Only a fall below 90% of the limit
    (hour 6) re-arms the alert, so the crossing at hour 7 opens a second episode. Re-arming at the limit
    itself (the behaviour without hysteresis) alerts at hours 1, 3, 5 and 7."""
    tr = _hover_tracker(batch)
    assert [a.timestamp / 3600 for a in tr.budget_alerts] == [1.0, 7.0]
    no_gap = _hover_tracker(batch, alert_clear_ratio=1.0)
    assert [a.timestamp / 3600 for a in no_gap.budget_alerts] == [1.0, 3.0, 5.0, 7.0]
    wide = _hover_tracker(batch, alert_clear_ratio=0.8)  # 0.86 is not low enough to re-arm
    assert [a.timestamp / 3600 for a in wide.budget_alerts] == [1.0]


def _pager_pages(projected: np.ndarray, times: np.ndarray, limit: float, clear_ratio: float) -> list[float]:
    """The hysteresis written the plain way, one projection at a time (a new day re-arms)."""
    pages, active, day = [], False, None
    for t, p in zip(times.tolist(), projected.tolist()):
        if math.floor(t / SECONDS_PER_DAY) != day:
            day, active = math.floor(t / SECONDS_PER_DAY), False
        if math.isnan(p):
            continue
        if not active and p > limit:
            active = True
            pages.append(t)
        elif active and p < clear_ratio * limit:
            active = False
    return pages


def _plain_rule(trace, limit: float, clear_ratio: float, for_: float) -> list[tuple]:
    """Lesson 3's alert rule written the plain way over a projection trace: ``(time, day, spent, projected,
    status)`` of every firing and resolved notification (a firing alert resolves at midnight)."""
    out, state, since, day, last_spent = [], "inactive", 0.0, None, 0.0
    for t, s, p in zip(trace.timestamps.tolist(), trace.spent_today.tolist(), trace.projected.tolist()):
        d = math.floor(t / SECONDS_PER_DAY)
        if d != day:
            if state == "firing":
                out.append(((day + 1) * SECONDS_PER_DAY, day, last_spent, last_spent, "resolved"))
            day, state = d, "inactive"
        last_spent = s
        if math.isnan(p):
            continue
        if state == "inactive" and p > limit:
            state, since = "pending", t
        if state == "pending":
            if p <= limit:
                state = "inactive"
            elif t - since >= for_:
                state = "firing"
                out.append((t, d, s, p, "firing"))
        elif state == "firing" and p < clear_ratio * limit:
            state = "inactive"
            out.append((t, d, s, p, "resolved"))
    return out


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 400), st.sampled_from([0.5, 0.9, 0.97, 1.0]),
       st.integers(1, 4), st.sampled_from([0.0, 0.0, 600.0, 3600.0]))
def test_alerts_are_the_plain_pager_over_the_projection(seed, n, clear_ratio, chunks, alert_for):
    """Single requests, one batch or several batches: the notifications are those of the plain alert rule
    run over the projection trace, for any clearing level and ``alert_for``; with ``alert_for=0`` the
    firings are the plain pager's pages. Limits near the typical projection make it wobble."""
    models, inp, out, cin, cached, retries, _, times = random_traffic(seed, n)
    probe = CostTracker(PRICING, min_elapsed=600.0)
    probe.log_batch(models, inp, out, cached, retries=retries, cached_input_tokens=cin, timestamps=times)
    trace = probe.budget_trace()
    projected = trace.projected
    limit = float(np.nanmedian(projected)) if np.isfinite(projected).any() else 1.0
    limit = limit if limit > 0 else 1.0  # a day of cache hits costs nothing
    tr = CostTracker(PRICING, daily_limit=limit, min_elapsed=600.0, alert_clear_ratio=clear_ratio,
                     alert_for=alert_for)
    for part in np.array_split(np.arange(n), chunks):
        if len(part) == 1:
            k = int(part[0])
            tr.log_request(models[k], int(inp[k]), int(out[k]), cached=bool(cached[k]), retries=int(retries[k]),
                           cached_input_tokens=int(cin[k]), timestamp=float(times[k]))
        elif len(part):
            tr.log_batch(models[part], inp[part], out[part], cached[part], retries=retries[part],
                         cached_input_tokens=cin[part], timestamps=times[part])
    got = [(a.timestamp, a.day, a.spent, a.projected, a.status) for a in tr.budget_notifications]
    assert got == _plain_rule(trace, limit, clear_ratio, alert_for)
    assert tr.budget_alerts == tuple(a for a in tr.budget_notifications if a.status == "firing")
    if alert_for == 0:
        assert [a.timestamp for a in tr.budget_alerts] == _pager_pages(projected, times, limit, clear_ratio)
    one_by_one = CostTracker(PRICING, daily_limit=limit, min_elapsed=600.0, alert_clear_ratio=clear_ratio,
                             alert_for=alert_for)
    for k in range(n):
        one_by_one.log_request(models[k], int(inp[k]), int(out[k]), cached=bool(cached[k]),
                               retries=int(retries[k]), cached_input_tokens=int(cin[k]), timestamp=float(times[k]))
    assert one_by_one.budget_notifications == tr.budget_notifications


def test_alert_for_waits_and_a_dip_restarts_the_wait():
    """Lesson 3's ``for``: pending while above, firing only after ``alert_for`` seconds above without a
    dip to the limit or below; a dip back under the limit before then sends nothing."""
    per = float(exact_cost(SMALL, 1000, 1000))
    limit = per * 40  # forty requests a day
    tr = CostTracker(PRICING, daily_limit=limit, min_elapsed=0.0, alert_for=1800.0)
    # one request by 00:30, two by 00:50: 48 and 57.6 requests a day, above for 20 minutes: pending
    tr.log_request(SMALL, 1000, 1000, timestamp=1800.0)
    tr.log_request(SMALL, 1000, 1000, timestamp=3000.0)
    assert tr.budget_notifications == ()
    tr.log_request(SMALL, 1000, 1000, timestamp=3600.0)  # 72 a day, above for 30 minutes: fires
    (fire,) = tr.budget_notifications
    assert (fire.timestamp, fire.status, fire.projected) == (3600.0, "firing", pytest.approx(72 * per))
    quick = CostTracker(PRICING, daily_limit=limit, min_elapsed=0.0, alert_for=1800.0)
    # 48 a day at 00:30; 32 at 01:30 (under the limit: the wait ends); 47.99 at 01:30:01 (a new wait)
    quick.log_batch(SMALL, [1000] * 3, [1000] * 3, timestamps=[1800.0, 5400.0, 5401.0])
    assert quick.budget_notifications == ()
    # with alert_for=0 the same requests fire at once, resolve at 32 (< 36, the clearing level), fire again
    at_once = CostTracker(PRICING, daily_limit=limit, min_elapsed=0.0)
    at_once.log_batch(SMALL, [1000] * 3, [1000] * 3, timestamps=[1800.0, 5400.0, 5401.0])
    assert [(a.timestamp, a.status) for a in at_once.budget_notifications] == [
        (1800.0, "firing"), (5400.0, "resolved"), (5401.0, "firing")]


# ---------------------------------------------------------------- the lesson's day (notebook 06's workload)
def _notebook_day():
    """Notebook 06's simulated day and the cache hits of its replay, built by the notebook's own cells."""
    md = (Path(__file__).resolve().parents[1] / "notebooks" / "06_cost.md").read_text(encoding="utf-8")
    cells = re.findall(r"```\{code-cell\} ipython3\n(.*?)```", md, re.S)
    ns = {"np": np, "simulate_day": simulate_day, "ResponseCache": ResponseCache, "pricing": PRICING,
          "SMALL": SMALL, "MEDIUM": MEDIUM, "LARGE": LARGE, "print": lambda *a, **k: None}
    for key in ("def make_workload", "cache = ResponseCache(capacity=2000"):
        exec(next(c for c in cells if key in c), ns)  # noqa: S102 - the lesson's own code
    return ns["work"], ns["hit"]


@pytest.fixture(scope="module")
def notebook_day():
    return _notebook_day()


def _lesson_tracker(notebook_day, budget: float, **settings) -> CostTracker:
    work, hit = notebook_day
    t = CostTracker(PRICING, daily_limit=budget, traffic_profile=work["traffic_profile"], **settings)
    t.log_batch(work["model"], work["input"], work["output"], cached=hit,
                retries=np.where(hit, 0, work["retries"]), timestamps=work["t"])
    return t


def _hhmm(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@pytest.mark.parametrize("budget, resolved_at", [
    (460.0, None),       # the projection never falls below $414 (the day costs $446)
    (500.0, "05:59"),    # below $450
    (520.0, "04:35"),    # below $468
])
def test_lesson_day_fires_once_per_episode_and_resolves_when_the_projection_falls_back(
        notebook_day, budget, resolved_at):
    """The lesson's day: each budget fires at the first projection (01:00, $522), once, and resolves at
    the first projection under 90% of the budget, or, when the projection never gets there, at midnight."""
    tr = _lesson_tracker(notebook_day, budget)
    fired_at = notebook_day[0]["t"][np.searchsorted(notebook_day[0]["t"], 3600.0)]  # the first projection
    trace = tr.budget_trace()
    notes = tr.budget_notifications
    assert [a.status for a in notes] == ["firing"] + (["resolved"] if resolved_at else [])
    fire = notes[0]
    assert fire.timestamp == fired_at and fire.projected > budget == fire.daily_limit
    assert fire.projected == trace.projected[np.flatnonzero(trace.timestamps >= 3600.0)[0]]
    if resolved_at:
        res = notes[1]
        assert _hhmm(res.timestamp) == resolved_at
        # resolved at the first projection under the clearing level after the firing, not before
        below = np.flatnonzero(trace.projected < 0.9 * budget)
        assert res.timestamp == trace.timestamps[below[0]] and res.projected < 0.9 * budget
        assert not (trace.projected[(trace.timestamps > fire.timestamp) & (trace.timestamps < res.timestamp)]
                    < 0.9 * budget).any()
    else:
        assert np.nanmin(trace.projected[trace.timestamps >= fire.timestamp]) >= 0.9 * budget
        # the day ends with the alert still firing: the next day's first request resolves it at midnight
        tr.log_request(SMALL, 0, 0, timestamp=SECONDS_PER_DAY + 60.0)
        res = tr.budget_notifications[-1]
        assert (res.status, res.timestamp, res.day) == ("resolved", SECONDS_PER_DAY, 0)
        assert res.spent == res.projected == trace.spent_today[-1] == tr.report().total_cost
        assert len(tr.budget_alerts) == 1


@pytest.mark.parametrize("budget, n_without_gap", [(460.0, 15), (500.0, 3), (520.0, 6)])
def test_lesson_day_without_hysteresis_pages_again_and_again(notebook_day, budget, n_without_gap):
    """Resolving as soon as the projection is back under the budget (clear ratio 1.0) turns the wobble
    into many episodes: a firing and a resolved each time, where the default makes one episode."""
    flappy = _lesson_tracker(notebook_day, budget, alert_clear_ratio=1.0)
    assert len(flappy.budget_alerts) == n_without_gap > len(_lesson_tracker(notebook_day, budget).budget_alerts)
    statuses = [a.status for a in flappy.budget_notifications]
    assert statuses == ["firing", "resolved"] * (len(statuses) // 2)


def test_lesson_day_alert_for_trades_the_false_page_for_half_an_hour(notebook_day):
    """Waiting 30 minutes above the limit: the early, too-high projection no longer pages $500 or $520
    (it is back under by 01:30), while the overspent $400 budget still fires, at 01:30."""
    t = notebook_day[0]["t"]
    first = t[np.searchsorted(t, 3600.0)]  # the first projection, already above $400
    (fire,) = _lesson_tracker(notebook_day, 400.0, alert_for=1800.0).budget_notifications
    assert fire.status == "firing" and _hhmm(fire.timestamp) == "01:30"
    assert fire.timestamp == t[np.searchsorted(t, first + 1800.0)]  # the first request 30 minutes on
    for budget in (500.0, 520.0):
        assert _lesson_tracker(notebook_day, budget, alert_for=1800.0).budget_notifications == ()


def test_lesson_day_single_requests_give_the_batch_notifications(notebook_day):
    work, hit = notebook_day
    batch = _lesson_tracker(notebook_day, 500.0, alert_clear_ratio=1.0)
    single = CostTracker(PRICING, daily_limit=500.0, traffic_profile=work["traffic_profile"], alert_clear_ratio=1.0)
    for k in range(len(work["t"])):
        single.log_request(work["model"][k], int(work["input"][k]), int(work["output"][k]), cached=bool(hit[k]),
                           retries=0 if hit[k] else int(work["retries"][k]), timestamp=float(work["t"][k]))
    assert single.budget_notifications == batch.budget_notifications


def test_traffic_profile_projection():
    profile = np.r_[np.full(12, 1.0), np.full(12, 3.0)]  # afternoons are three times as busy
    tr = CostTracker(PRICING, daily_limit=100.0, traffic_profile=profile, min_elapsed=0.0)
    tr.log_request(SMALL, 10**6, 0, timestamp=43_200.0)  # 0.80 USD by noon
    st_ = tr.budget()
    assert st_.expected_fraction == pytest.approx(12 / 48)
    assert st_.projected_spend == pytest.approx(0.8 * 4)


def test_no_projection_during_warm_up():
    tr = CostTracker(PRICING, daily_limit=0.01, min_elapsed=3600.0)
    tr.log_request(LARGE, 10**6, 0, timestamp=10.0)  # 15 USD at once: spent > limit
    st_ = tr.budget()
    assert st_.projected_spend is None and st_.exceeded and not st_.alert
    assert tr.budget_alerts == ()
    assert np.isnan(tr.budget_trace().projected[0])


def test_budget_trace_matches_budget_status():
    models, inp, out, _, cached, _, _, times = random_traffic(5, 500)
    tr = CostTracker(PRICING, daily_limit=30.0)
    tr.log_batch(models, inp, out, cached, timestamps=times)
    trace = tr.budget_trace()
    for k in (10, 200, 499):
        st_ = tr.budget(now=float(times[k]))
        if k + 1 < len(times) and times[k + 1] == times[k]:
            continue
        assert trace.spent_today[k] == pytest.approx(st_.spent_today, rel=1e-12)
        if st_.projected_spend is None:
            assert np.isnan(trace.projected[k])
        else:
            assert trace.projected[k] == pytest.approx(st_.projected_spend, rel=1e-12)


# ------------------------------------------------------------------------------------------ response cache
class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_cache_key_normalizes_prompt_and_includes_model_and_params():
    c = ResponseCache(10, None)
    c.put("What is  MLOps?\n", "m1", "answer", {"temperature": 0})
    assert c.get("what is mlops?", "m1", {"temperature": 0}) == "answer"
    assert c.get("what is mlops?", "m2", {"temperature": 0}) is None  # other model
    assert c.get("what is mlops?", "m1", {"temperature": 0.7}) is None  # other params
    assert c.get("what is mlops", "m1", {"temperature": 0}) is None  # punctuation matters
    assert c.get("what is mlops?", "m1", {"temperature": False}) is None  # False == 0 but another type
    assert (c.hits, c.misses) == (1, 4)
    assert normalize_prompt("  A\tB \u00a0 C ") == "a b c"


def test_cache_lru_eviction_order():
    c = ResponseCache(2, None)
    c.put("a", "m", 1)
    c.put("b", "m", 2)
    assert c.get("a", "m") == 1  # a is now the most recently used
    c.put("c", "m", 3)  # evicts b
    assert ("b", "m") not in c and ("a", "m") in c and ("c", "m") in c
    assert c.stats().evictions == 1 and c.stats().size == 2
    # a mutant that evicted by insertion order would have dropped "a"


def test_cache_ttl_with_injected_clock():
    clock = FakeClock()
    c = ResponseCache(5, ttl=60.0, clock=clock)
    value, hit = c.fetch("q", "m", lambda: "r1")
    assert (value, hit) == ("r1", False)
    clock.t = 59.9
    assert c.fetch("q", "m", lambda: "r2") == ("r1", True)
    clock.t = 60.0  # expired exactly at ttl
    assert c.fetch("q", "m", lambda: "r2") == ("r2", False)
    s = c.stats()
    assert (s.hits, s.misses, s.expirations, s.evictions) == (1, 2, 1, 0)
    assert s.hit_rate == pytest.approx(1 / 3)


def test_expired_entry_pushed_out_counts_as_expiration():
    clock = FakeClock()
    c = ResponseCache(1, ttl=10.0, clock=clock)
    c.put("a", "m", 1)
    clock.t = 20.0
    c.put("b", "m", 2)
    assert (c.evictions, c.expirations) == (0, 1)
    c.put("c", "m", 3)
    assert (c.evictions, c.expirations) == (1, 1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.booleans()), min_size=1, max_size=60),
       st.integers(1, 4))
def test_cache_matches_a_reference_lru(ops, capacity):
    """Against a plain list-based LRU model (no TTL)."""
    c = ResponseCache(capacity, None)
    model: list[str] = []
    evictions = hits = misses = 0
    for key, is_put in ops:
        if is_put:
            if key in model:
                model.remove(key)
            elif len(model) >= capacity:
                model.pop(0)
                evictions += 1
            model.append(key)
            c.put(key, "m", key.upper())
        else:
            got = c.get(key, "m")
            if key in model:
                hits += 1
                model.remove(key)
                model.append(key)
                assert got == key.upper()
            else:
                misses += 1
                assert got is None
    assert (c.hits, c.misses, c.evictions, len(c)) == (hits, misses, evictions, len(model))


# ------------------------------------------------------------------------------------------ tokens
def test_estimate_tokens_heuristic():
    assert estimate_tokens("") == 0
    text = "Production systems need monitoring, alerting and a budget. " * 20
    words = len(text.split())
    est = estimate_tokens(text)
    # the rule of thumb: about 4 characters or 3/4 of a word per token; the estimate takes the larger
    assert est == max(math.ceil(len(text) / 4), math.ceil(words * 4 / 3))
    assert estimate_tokens("日本語のテキスト") == 8  # one per non-ASCII character
    assert estimate_tokens(text + text) >= 2 * est - 1
    with pytest.raises(TypeError, match="text"):
        estimate_tokens(None)


# ------------------------------------------------------------------------------------------ bad input
def test_unknown_model():
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    with pytest.raises(ValueError, match="model must be one of.*'gpt-5'"):
        tr.log_request("gpt-5", 1, 1)
    with pytest.raises(ValueError, match="model must be one of.*'nope'"):
        tr.log_batch(np.array([SMALL, "nope"]), [1, 1], [1, 1])
    with pytest.raises(ValueError, match="model"):
        PRICING.cost("nope", 1, 1)
    assert len(tr) == 0


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(input_tokens=-1), ValueError, "input_tokens must be >= 0"),
    (dict(output_tokens=-5), ValueError, "output_tokens must be >= 0"),
    (dict(input_tokens=10.0), TypeError, "input_tokens must be an integer"),
    (dict(output_tokens=2.5), TypeError, "output_tokens must be an integer"),
    (dict(input_tokens=True), TypeError, "input_tokens must be an integer"),
    (dict(retries=-1), ValueError, "retries must be >= 0"),
    (dict(cached=1), TypeError, "cached must be a bool"),
    (dict(cached=True, retries=1), ValueError, "retries must be 0 for a cached request"),
    (dict(cached_input_tokens=11), ValueError, "cached_input_tokens must be <= input_tokens"),
    (dict(feature=3), TypeError, "feature must be a non-empty str"),
    (dict(timestamp=float("nan")), ValueError, "timestamp must be finite"),
])
def test_bad_request_arguments(kwargs, exc, msg):
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    args = dict(model=SMALL, input_tokens=10, output_tokens=10) | kwargs
    with pytest.raises(exc, match=msg):
        tr.log_request(**args)
    assert len(tr) == 0


def test_bad_batch_arguments_record_nothing():
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    with pytest.raises(TypeError, match="input_tokens must contain integers"):
        tr.log_batch(SMALL, np.array([1.0, 2.0]), [1, 1])
    with pytest.raises(ValueError, match="output_tokens must be non-negative; got -3 at index 1"):
        tr.log_batch(SMALL, [1, 1], [1, -3])
    with pytest.raises(ValueError, match="output_tokens must have one count per request"):
        tr.log_batch(SMALL, [1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="retries must be 0 for a cached request"):
        tr.log_batch(SMALL, [1, 1], [1, 1], cached=[False, True], retries=[0, 1])
    with pytest.raises(ValueError, match="timestamps must be non-decreasing"):
        tr.log_batch(SMALL, [1, 1], [1, 1], timestamps=[5.0, 4.0])
    with pytest.raises(ValueError, match="features must not contain None"):
        tr.log_batch(SMALL, [1, 1], [1, 1], features=np.array(["a", None], dtype=object))
    with pytest.raises(TypeError, match="features must be non-empty strings"):
        tr.log_batch(SMALL, [1, 1], [1, 1], features=[3, 4])
    with pytest.raises(ValueError, match="timestamps must be non-decreasing"):
        tr.log_batch(SMALL, [1, 1], [1, 1], features=["new-a", "new-b"], timestamps=[5.0, 4.0])
    assert len(tr) == 0 and tr.report().by_feature == {}
    tr.log_batch(SMALL, [1], [1], features=["kept"])
    assert list(tr.report().by_feature) == ["kept"]  # failed batches registered no feature names


def test_out_of_order_timestamps_rejected():
    tr = CostTracker(PRICING)
    tr.log_request(SMALL, 1, 1, timestamp=100.0)
    with pytest.raises(ValueError, match="timestamp must not be earlier"):
        tr.log_request(SMALL, 1, 1, timestamp=99.0)
    with pytest.raises(ValueError, match="timestamps must not start before"):
        tr.log_batch(SMALL, [1], [1], timestamps=[50.0])


def _write(tmp_path, models):
    p = tmp_path / "prices.json"
    p.write_text(json.dumps({"prices_as_of": "2025-01", "models": models}))
    return p


def test_pricing_file_missing_a_field_names_model_and_field(tmp_path):
    p = _write(tmp_path, {"ok": {"tier": "small", "input_per_mtok": 1, "output_per_mtok": 2},
                          "broken": {"tier": "large", "input_per_mtok": 1}})
    with pytest.raises(ValueError, match=r"model 'broken' is missing field 'output_per_mtok'"):
        load_pricing(p)


@pytest.mark.parametrize("entry, exc, msg", [
    ({"tier": "s", "input_per_mtok": "1.0", "output_per_mtok": 2}, TypeError, "'input_per_mtok' must be a number"),
    ({"tier": "s", "input_per_mtok": -1, "output_per_mtok": 2}, ValueError, "input_per_mtok of model 'x' must be >= 0"),
    ({"tier": "s", "input_per_mtok": 1, "output_per_mtok": 2, "cached_input_per_mtok": True}, TypeError,
     "'cached_input_per_mtok' must be a number"),
    ({"tier": "s", "input_per_mtok": 0.1234567, "output_per_mtok": 2}, ValueError, "at most 6 decimal places"),
    ({"tier": "s", "input_per_mtok": 1, "output_per_mtok": 2, "outptu": 3}, ValueError, "unknown field"),
    ({"input_per_mtok": 1, "output_per_mtok": 2}, ValueError, "model 'x' is missing field 'tier'"),
])
def test_malformed_pricing_entries(tmp_path, entry, exc, msg):
    with pytest.raises(exc, match=msg):
        load_pricing(_write(tmp_path, {"x": entry}))


def test_pricing_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pricing(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_pricing(bad)
    with pytest.raises(TypeError, match="pricing must be a Pricing"):
        CostTracker([1, 2])
    # a plain mapping works, with a model without a prompt-cache price
    tr = CostTracker({"m": {"tier": "small", "input_per_mtok": 1, "output_per_mtok": 2}}, clock=lambda: 0.0)
    assert tr.log_request("m", 10**6, 0, cached_input_tokens=10**6) == 1.0  # billed at the input price


@pytest.mark.parametrize("capacity, ttl, exc, msg", [
    (0, 10, ValueError, "capacity must be >= 1"),
    (-3, 10, ValueError, "capacity must be >= 1"),
    (2.0, 10, TypeError, "capacity must be an integer"),
    (5, 0, ValueError, "ttl must be > 0"),
    (5, -1.0, ValueError, "ttl must be > 0"),
    (5, float("inf"), ValueError, "ttl must be finite"),
])
def test_bad_cache_arguments(capacity, ttl, exc, msg):
    with pytest.raises(exc, match=msg):
        ResponseCache(capacity, ttl)


def test_bad_cache_keys():
    c = ResponseCache(2, 1.0)
    with pytest.raises(TypeError, match=r"params\['stop'\] must be hashable"):
        c.put("q", "m", "r", {"stop": ["\n"]})
    with pytest.raises(TypeError, match="prompt must be a str"):
        c.get(None, "m")
    with pytest.raises(ValueError, match="model must be a non-empty string"):
        c.get("q", "")


@pytest.mark.parametrize("kwargs, msg", [
    (dict(daily_limit=0), "daily_limit must be > 0"),
    (dict(traffic_profile=np.ones(23)), "traffic_profile must hold 24 hourly weights"),
    (dict(traffic_profile=np.r_[0.0, np.ones(23)]), "traffic_profile weights must be > 0"),
    (dict(min_elapsed=-1), "min_elapsed must be >= 0"),
    (dict(alert_clear_ratio=0), "alert_clear_ratio must be > 0"),
    (dict(alert_clear_ratio=1.5), "alert_clear_ratio must be <= 1"),
])
def test_bad_tracker_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        CostTracker(PRICING, **kwargs)


# ------------------------------------------------------------------------------------------ edge cases
def test_budget_of_a_day_above_int64_picodollars_stays_exact():
    """200k large-model requests of 1M output tokens ($75 each): $15M in one day, more than 2**63 pUSD.

    The spend so far must be the exact running sum (no wrap-around to a negative figure), and a limit that
    the run rate only crosses late in the day, after the int64 overflow point, must still alert once.
    """
    per = exact_cost(LARGE, 0, 10**6)
    assert per == 75
    n = 200_000
    assert n * per * 10**12 > 2**63  # the day's spend does not fit in int64 picodollars
    t = np.linspace(43_200.0, 86_000.0, n)  # a quiet morning, then the burst
    limit = 14e6
    tr = CostTracker(PRICING, daily_limit=limit, min_elapsed=0.0)
    tr.log_batch(LARGE, np.zeros(n, np.int64), np.full(n, 10**6), timestamps=t)
    rep = tr.report()
    assert rep.total_cost == float(n * per)
    trace = tr.budget_trace()
    expected = np.arange(1, n + 1, dtype=float) * float(per)  # exact: integers below 2**53
    np.testing.assert_array_equal(trace.spent_today, expected)
    np.testing.assert_allclose(trace.projected, expected * SECONDS_PER_DAY / t, rtol=1e-13)
    assert trace.spent_today[-1] == rep.total_cost == tr.budget().spent_today
    # the projection crosses the limit once, late in the day, and the alert says so
    k = int(np.flatnonzero(expected * SECONDS_PER_DAY / t > limit)[0])
    assert k > int(2**63 / 10**12 / float(per))  # after the point where int64 would have wrapped
    assert len(tr.budget_alerts) == 1
    alert = tr.budget_alerts[0]
    assert alert.timestamp == t[k] and alert.spent == float((k + 1) * per) and alert.projected > limit
    assert tr.budget(now=float(t[-1])).alert


def test_budget_carry_from_single_requests_into_a_batch_above_int64():
    """The day's spend carried from log_request into log_batch is exact too ($75k per request here)."""
    per = exact_cost(LARGE, 0, 10**9)
    m = 120
    assert 2 * m * per * 10**12 > 2**63 > m * per * 10**12
    # one request a minute for two hours (run rate $108M/day), then one a second (the projection climbs)
    limit = 1.5e8
    a = CostTracker(PRICING, daily_limit=limit, min_elapsed=0.0)
    b = CostTracker(PRICING, daily_limit=limit, min_elapsed=0.0)
    t = np.r_[np.arange(1, m + 1) * 60.0, m * 60.0 + np.arange(1, m + 1)]
    for k in range(m):
        a.log_request(LARGE, 0, 10**9, timestamp=float(t[k]))
        b.log_request(LARGE, 0, 10**9, timestamp=float(t[k]))
    a.log_batch(LARGE, np.zeros(m, np.int64), np.full(m, 10**9), timestamps=t[m:])
    for k in range(m, 2 * m):
        b.log_request(LARGE, 0, 10**9, timestamp=float(t[k]))
    expected = np.arange(1, 2 * m + 1, dtype=float) * float(per)
    for tr in (a, b):
        np.testing.assert_array_equal(tr.budget_trace().spent_today, expected)
        assert tr.budget().spent_today == float(2 * m * per) == tr.report().total_cost
    assert a.budget_alerts == b.budget_alerts and len(a.budget_alerts) == 1
    alert = a.budget_alerts[0]
    k = int(np.flatnonzero(expected * SECONDS_PER_DAY / t > limit)[0])
    assert k >= m and alert.timestamp == t[k] and alert.spent == expected[k] > 2**63 / 10**12


@pytest.mark.parametrize("cached", [3.01, 4, 100.0])
def test_cached_input_price_above_the_input_price_is_rejected(tmp_path, cached):
    entry = {"tier": "s", "input_per_mtok": 3.0, "output_per_mtok": 15.0, "cached_input_per_mtok": cached}
    msg = r"cached_input_per_mtok of model 'x' must be <= its input_per_mtok"
    with pytest.raises(ValueError, match=msg):
        load_pricing(_write(tmp_path, {"x": entry}))
    with pytest.raises(ValueError, match=msg):
        CostTracker({"x": entry})
    # equal to the input price (no discount) and below it are fine
    for ok in (3.0, 0.3, 0):
        p = load_pricing(_write(tmp_path, {"x": entry | {"cached_input_per_mtok": ok}}))
        assert p.models["x"].cached_input_pico == round(ok * 10**6)


def test_frozen_results_cannot_be_mutated_through_their_fields():
    tr = CostTracker(PRICING, daily_limit=1.0, min_elapsed=0.0)
    tr.log_batch([SMALL, LARGE], [100, 200], [10, 20], features=["chat", "search"], timestamps=[10.0, 20.0])
    rep = tr.report()
    before = rep.by_model[SMALL]
    for mapping in (rep.by_model, rep.by_feature, PRICING.models):
        with pytest.raises(TypeError):
            mapping["x"] = before
        with pytest.raises(TypeError):
            del mapping[next(iter(mapping))]
        with pytest.raises(AttributeError):
            mapping.clear()
    assert rep.by_model[SMALL] is before and rep == tr.report()
    assert rep.by_model == {SMALL: before, LARGE: rep.by_model[LARGE]}  # still compares like a dict
    assert "by_model={" in repr(rep) and "mappingproxy" not in repr(rep) + repr(PRICING)
    # a dict passed in is copied, so changing it afterwards does not reach the result either
    groups = dict(rep.by_feature)
    rep2 = replace(rep, by_feature=groups)
    groups.clear()
    assert set(rep2.by_feature) == {"chat", "search"}
    models = dict(PRICING.models)
    p2 = Pricing(models)
    models.clear()
    assert list(p2.models) == MODELS and isinstance(CostReport, type)
    trace = tr.budget_trace()
    for arr in (trace.timestamps, trace.spent_today, trace.projected):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 123.0
    mine = np.array([1.0, 2.0])
    BudgetTrace(mine, mine, mine, None)
    mine[0] = 5.0  # the caller's own array is not frozen by building a result from it
    np.testing.assert_array_equal(tr.budget_trace().spent_today, trace.spent_today)


# ------------------------------------------------------------------------------------------ cache keys, huge counts
@pytest.mark.parametrize("value, where", [
    (float("nan"), "params['p']"),
    (float("inf"), "params['p']"),
    (-float("inf"), "params['p']"),
    (np.float64("nan"), "params['p']"),
    (np.float32("nan"), "params['p']"),
    (complex(float("nan"), 0.0), "params['p']"),
    ((0.5, float("nan")), r"params['p'][1]"),
    (("a", (1, float("nan"))), r"params['p'][1][1]"),
    (frozenset({float("nan")}), "params['p'] element"),
])
def test_cache_refuses_non_finite_params_instead_of_filling_up_with_unreachable_keys(value, where):
    c = ResponseCache(3, None)
    c.put("keep-a", "m", "A")
    c.put("keep-b", "m", "B")
    for _ in range(3):  # accepted, each put would add an entry that no lookup could ever find
        with pytest.raises(ValueError, match=re.escape(where) + " must be a finite number"):
            c.put("q", "m", "r", {"p": value})
    with pytest.raises(ValueError, match=re.escape(where)):
        c.get("q", "m", {"p": value})
    assert len(c) == 2 and c.stats().evictions == 0
    assert c.get("keep-a", "m") == "A" and c.get("keep-b", "m") == "B"
    with pytest.raises(ValueError, match=r"params\['p'\] must equal itself"):
        c.put("q", "m", "r", {"p": Decimal("NaN")})  # any other value that is not equal to itself
    # finite values of the same types still make keys that match
    for ok in (0.0, np.float32(0.25), complex(1.0, -2.0), (0.5, 1.5), frozenset({2.5})):
        c.put("q", "m", ok, {"p": ok})
        assert c.get("q", "m", {"p": ok}) == ok


def test_cache_key_tags_types_inside_tuples_and_frozensets():
    c = ResponseCache(10, None)
    c.put("q", "m", "ints", {"stop": (1, 0)})
    assert c.get("q", "m", {"stop": (True, False)}) is None  # (True, False) == (1, 0) in Python
    assert c.get("q", "m", {"stop": (1.0, 0.0)}) is None
    assert c.get("q", "m", {"stop": ((1,), 0)}) is None
    assert c.get("q", "m", {"stop": tuple([1, 0])}) == "ints"  # an equal tuple of the same types still hits
    c.put("q", "m", "bools", {"stop": (True, False)})
    assert len(c) == 2
    assert c.get("q", "m", {"stop": (1, 0)}) == "ints" and c.get("q", "m", {"stop": (True, False)}) == "bools"
    c.put("q", "m", "nested-int", {"stop": ("x", (1,))})
    assert c.get("q", "m", {"stop": ("x", (True,))}) is None
    c.put("q", "m", "set-int", {"stop": frozenset({1, 2})})
    assert c.get("q", "m", {"stop": frozenset({True, 2})}) is None
    assert c.get("q", "m", {"stop": frozenset({2, 1})}) == "set-int"
    assert ResponseCache.key("q", "m", {"stop": (1, 0)}) != ResponseCache.key("q", "m", {"stop": (True, False)})


@pytest.mark.parametrize("arg", ["input_tokens", "output_tokens", "cached_input_tokens", "retries"])
@pytest.mark.parametrize("value, msg", [
    (2**64, "must be at most 9223372036854775807 (a count that fits in int64); got 18446744073709551616 at index 1"),
    (2**63, "must be at most 9223372036854775807 (a count that fits in int64); got 9223372036854775808 at index 1"),
    (-(2**64), "must be non-negative; got -18446744073709551616 at index 1"),
])
def test_batch_counts_beyond_int64_name_the_argument(arg, value, msg):
    tr = CostTracker(PRICING, clock=lambda: 0.0)
    counts = dict(input_tokens=[5, 5], output_tokens=[1, 1], cached_input_tokens=[0, 0], retries=[0, 0])
    counts[arg] = [0, value]  # a Python int list: beyond int64 it becomes an object array
    with pytest.raises(ValueError, match=re.escape(f"{arg} {msg}")):
        tr.log_batch(SMALL, **counts)
    if value > 0:  # the same value as a uint64 array
        counts[arg] = np.array([0, value], dtype=np.uint64) if value < 2**64 else counts[arg]
        with pytest.raises(ValueError, match=re.escape(f"{arg} {msg}")):
            tr.log_batch(SMALL, **counts)
    assert len(tr) == 0
    # the single-request path names it too, and large counts inside int64 still work in a batch
    with pytest.raises(ValueError, match=arg):
        tr.log_request(SMALL, **{k: int(v[1]) for k, v in counts.items()})
    assert tr.log_batch(SMALL, [0, 10**10], [0, 0]) == PRICING.cost(SMALL, 10**10, 0)
    assert len(tr) == 2
