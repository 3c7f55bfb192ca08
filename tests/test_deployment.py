"""Deployment simulation: the queue against Erlang C, cold starts against their closed form."""

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt  # noqa: E402

from prodai_lessons import deployment as dep  # noqa: E402


def erlang_c_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue of the M/M/c queue (Erlang C formula)."""
    a = arrival_rate / service_rate
    rho = a / servers
    tail = a**servers / math.factorial(servers) / (1 - rho)
    p_wait = tail / (sum(a**k / math.factorial(k) for k in range(servers)) + tail)
    return p_wait / (servers * service_rate - arrival_rate)


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.8, 1.0, 1), (1.5, 1.0, 2), (3.2, 1.0, 4)])
def test_fifo_queue_matches_erlang_c(lam, mu, c):
    rng = np.random.default_rng(42)
    n = 400_000
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    service = rng.exponential(1 / mu, n)
    wait = dep.fifo_queue(arrivals, service, c)[n // 10:]  # drop the warm-up
    expected = erlang_c_mean_wait(lam, mu, c)
    assert wait.mean() == pytest.approx(expected, rel=0.06)


def test_fifo_queue_single_server_equals_lindley_recursion():
    rng = np.random.default_rng(3)
    arrivals = np.cumsum(rng.exponential(1.0, 5000))
    service = rng.exponential(0.9, 5000)
    expected = np.zeros(5000)
    for i in range(1, 5000):  # W_i = max(0, W_{i-1} + S_{i-1} - (A_i - A_{i-1}))
        expected[i] = max(0.0, expected[i - 1] + service[i - 1] - (arrivals[i] - arrivals[i - 1]))
    np.testing.assert_allclose(dep.fifo_queue(arrivals, service, 1), expected, rtol=0, atol=1e-9)
    # more servers never make anyone wait longer
    assert np.all(dep.fifo_queue(arrivals, service, 2) <= expected + 1e-12)


def test_sparse_serverless_traffic_cold_starts_at_the_closed_form_rate():
    rng = np.random.default_rng(5)
    rate, keep_warm, n = 0.02, 60.0, 20_000
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = np.full(n, 0.1)
    cold = dep.serverless_cold_starts(arrivals, service, cold_start_s=0.0, keep_warm_s=keep_warm)
    # a request is cold when the gap since the previous one finished exceeds keep_warm
    p = math.exp(-rate * (keep_warm + 0.1))
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(cold[1:].mean() - p) < 4 * sd + 0.003
    assert cold[0]
    # a platform that never reclaims instances would show (almost) no cold starts: the test can tell
    never = dep.serverless_cold_starts(arrivals, service, cold_start_s=2.0, keep_warm_s=1e12)
    assert never.sum() <= 3  # only when two requests overlap is a second instance started


def test_serverless_scales_out_under_concurrency():
    arrivals = np.array([0.0, 0.1, 0.2, 5.0, 5.1])
    service = np.full(5, 1.0)
    cold = dep.serverless_cold_starts(arrivals, service, cold_start_s=0.5, keep_warm_s=100.0)
    assert cold.tolist() == [True, True, True, False, False]
    assert dep.serverless_cold_starts(arrivals, service, 0.5, 0.0).tolist() == [True] * 5


def test_simulation_is_deterministic_and_seeded():
    a = dep.simulate_deployment("serverless", 0.05, seed=1)
    assert a == dep.simulate_deployment("serverless", 0.05, seed=1)
    assert a != dep.simulate_deployment("serverless", 0.05, seed=2)


def test_batch_waits_half_an_interval_on_average():
    cfg = dep.DeploymentConfig(batch_interval_s=600.0)
    s = dep.simulate_deployment("batch", 2.0, seed=4, config=cfg)
    assert s.n_requests >= 4 * 2.0 * 600
    assert 270 < s.p50_s < 330  # uniform wait over the interval: median 300 s plus ~0.12 s inference
    assert 560 < s.p95_s < 600.5


def test_costs_follow_the_pricing_model():
    cfg = dep.DeploymentConfig()
    low, high = (dep.simulate_deployment("api", r, seed=0, config=cfg) for r in (0.1, 1.0))
    # always-on cost per request is inversely proportional to traffic (same seed -> same draws scaled)
    assert low.cost_per_1k_usd / high.cost_per_1k_usd == pytest.approx(10.0, rel=1e-9)
    batch = dep.simulate_deployment("batch", 1.0, seed=0, config=cfg)
    mean_service = cfg.service_median_s * math.exp(cfg.service_sigma**2 / 2)
    expected = 1000 * mean_service * cfg.instance_usd_per_hour * (1 - cfg.batch_discount) / 3600
    assert batch.cost_per_1k_usd == pytest.approx(expected, rel=0.02)


def test_compare_patterns_and_the_crossover():
    stats = dep.compare_patterns([0.01, 10.0], seed=7)
    assert [s.pattern for s in stats] == ["api", "serverless", "batch"] * 2
    cost = {(s.pattern, s.rate_per_s): s.cost_per_1k_usd for s in stats}
    assert cost["api", 0.01] > 10 * cost["serverless", 0.01]
    assert cost["api", 10.0] < cost["serverless", 10.0]
    p95 = {(s.pattern, s.rate_per_s): s.p95_s for s in stats}
    assert p95["serverless", 0.01] > dep.DeploymentConfig().cold_start_s > p95["api", 0.01]


def test_pattern_table_renders():
    table = dep.pattern_table()
    text = str(table)
    assert [line.split("  ")[0] for line in text.splitlines()[2:]] == [p.name for p in dep.PATTERNS]
    assert table._repr_html_().count("<tr>") == len(dep.PATTERNS) + 1


def test_figures_have_the_expected_axes():
    fig = dep.draw_architecture()
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) >= 6 + 5
    fig2 = dep.plot_tradeoffs(dep.compare_patterns([0.1, 1.0], n_requests=200))
    assert len(fig2.axes) == 2 and all(len(ax.lines) == 3 for ax in fig2.axes)
    plt.close("all")


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: dep.simulate_deployment("kubernetes", 1.0), ValueError,
         "pattern must be one of 'api', 'batch', 'serverless'; got 'kubernetes'"),
        (lambda: dep.simulate_deployment("api", 0.0), ValueError, "rate_per_s must be > 0.0"),
        (lambda: dep.simulate_deployment("api", 1.0, n_requests=0), ValueError, "n_requests must be >= 1"),
        (lambda: dep.simulate_deployment("api", 1.0, config={}), TypeError, "config must be a DeploymentConfig"),
        (lambda: dep.DeploymentConfig(replicas=0), ValueError, "replicas must be >= 1"),
        (lambda: dep.DeploymentConfig(cold_start_s=-1), ValueError, "cold_start_s must be > 0.0"),
        (lambda: dep.fifo_queue([2.0, 1.0], [1.0, 1.0], 1), ValueError, "arrivals must be sorted"),
        (lambda: dep.fifo_queue([1.0, 2.0], [1.0], 1), ValueError, "service must have the same shape"),
        (lambda: dep.fifo_queue([1.0], [-1.0], 1), ValueError, "service must be non-negative"),
        (lambda: dep.compare_patterns([]), ValueError, "rates_per_s must be a non-empty"),
        (lambda: dep.compare_patterns([1.0], patterns=["edge"]), ValueError, "patterns must be one of"),
        (lambda: dep.compare_patterns([1.0], patterns="api"), TypeError,
         r"patterns must be a list or tuple of pattern names, e.g. \['api'\]; got the string 'api'"),
        (lambda: dep.compare_patterns([1.0], patterns=[]), ValueError, "patterns must name at least one of"),
        (lambda: dep.compare_patterns([1.0], patterns=iter(())), ValueError, "patterns must name at least one"),
        (lambda: dep.compare_patterns([1.0], patterns={"api", "batch"}), TypeError,
         "patterns must be a list or tuple of pattern names"),
        (lambda: dep.compare_patterns([1.0], patterns=3), TypeError, "patterns must be a list or tuple"),
        (lambda: dep.compare_patterns([1.0], seed="1"), TypeError, "seed must be an integer; got '1'"),
        (lambda: dep.compare_patterns([1.0], seed=2.0), TypeError, "seed must be an integer"),
        (lambda: dep.compare_patterns([1.0], seed=-1), ValueError, "seed must be >= 0"),
        (lambda: dep.plot_tradeoffs([]), ValueError, "stats must be a non-empty"),
    ],
)
def test_bad_input(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# ------------------------------------------------------------------------ traffic shared by the patterns
@pytest.mark.parametrize("seed", [0, 1, 7, 123])
def test_traffic_prefix_does_not_depend_on_how_many_requests_are_drawn(seed):
    cfg = dep.DeploymentConfig()
    for rate in (0.05, 1.0, 10.0):
        a_short, s_short = dep._traffic(rate, 2000, seed, cfg)
        a_long, s_long = dep._traffic(rate, 3600, seed, cfg)
        np.testing.assert_array_equal(a_short, a_long[:2000])
        np.testing.assert_array_equal(s_short, s_long[:2000])
    # the check can fail: another seed is other traffic, and arrivals and services are not one stream
    a_other, s_other = dep._traffic(1.0, 2000, seed + 1, cfg)
    assert not np.array_equal(a_short, a_other) and not np.array_equal(s_short, s_other)


def test_every_pattern_serves_the_same_first_requests(monkeypatch):
    """``batch`` simulates more requests than api/serverless; its first 2,000 must be theirs."""
    seen = {}
    real = dep._traffic

    def spy(rate_per_s, n_requests, seed, config):
        out = real(rate_per_s, n_requests, seed, config)
        seen.setdefault(rate_per_s, []).append(out)
        return out

    monkeypatch.setattr(dep, "_traffic", spy)
    stats = dep.compare_patterns([1.0, 10.0], seed=3)
    assert [s.n_requests for s in stats] == [2000, 2000, 3600, 2000, 2000, 36000]
    for rate, draws in seen.items():
        assert len(draws) == 3
        (a_api, s_api), (a_srv, s_srv), (a_bat, s_bat) = draws
        np.testing.assert_array_equal(a_api, a_srv)
        np.testing.assert_array_equal(s_api, s_srv)
        np.testing.assert_array_equal(a_bat[:2000], a_api)
        np.testing.assert_array_equal(s_bat[:2000], s_api)
    # and through the public API: the API pattern served on the batch run's first 2,000 requests gives
    # exactly the API statistics
    monkeypatch.setattr(dep, "_traffic", real)
    cfg = dep.DeploymentConfig()
    api = dep.simulate_deployment("api", 1.0, seed=3, config=cfg)
    arrivals, service = dep._traffic(1.0, 3600, 3, cfg)
    latency = dep.fifo_queue(arrivals[:2000], service[:2000], cfg.replicas) + service[:2000]
    assert (api.p50_s, api.p95_s) == tuple(float(q) for q in np.percentile(latency, [50, 95]))
