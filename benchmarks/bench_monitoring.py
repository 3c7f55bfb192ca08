"""Benchmark: cost of logging requests into the monitoring pipeline, against a naive per-request monitor.

Prints, for windows of 200 and 10,000 requests:

- microseconds per ``MonitoringPipeline.log_request`` (rules on the window: p95 latency, error rate,
  mean confidence, cost per request), amortised over the evaluation cadence (every 1, 10, 100 requests);
- microseconds per request of ``NaiveThresholdMonitor`` (copy the window and recompute ``np.percentile``
  on every request), measured in the same run, and the ratio;
- events per second of ``log_batch`` on 1,000,000 requests (evaluated every 10 and every 100 requests,
  and every 60 s of simulated time at ~100 requests/s).

- the engine of the lesson's trade-off figure: error flags per second through ``cusum_paths`` and
  ``burn_rule_pages`` (numpy, many sequences at once) against the ``ErrorCusum`` core (one request at a
  time), milliseconds per ``cusum_arl`` call, and seconds per 1,000 seeds of ``false_pages`` (the pipeline
  with the lesson's rules on 1,000 normal requests per seed).

Goals: <= 5 us per request amortised at window 10,000; >= 1,000,000 events/s batched. The
summary checks them at window 10,000 with evaluation every 10 requests (per request) and every 100
(batched) and prints the margin. Run: ``python benchmarks/bench_monitoring.py`` (about 30 s). Timings
are wall-clock, best of 3 repeats; on a busy machine expect them to vary by a factor of up to 2.
"""

from __future__ import annotations

import time

import numpy as np

from prodai_lessons.monitoring import (
    SLO,
    AlertRule,
    BurnRateRule,
    ErrorCusum,
    MonitoringPipeline,
    NaiveThresholdMonitor,
    burn_rule_pages,
    cusum_arl,
    cusum_paths,
    standard_rules,
)
from prodai_lessons.simulate import false_pages


def rules_on(window: int):
    return (
        AlertRule("p95", "latency_p95", ">", 600.0, for_=10.0, window=window, clear_threshold=450.0),
        AlertRule("errors", "error_rate", ">", 0.05, window=window),
        AlertRule("confidence", "mean_confidence", "<", 0.6, window=window),
        AlertRule("cost", "cost_per_request", ">", 0.01, window=window),
        BurnRateRule("burn", SLO(0.96), 3.0, long_window=50, short_window=10),
    )


def traffic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.lognormal(5.0, 0.5, n), rng.random(n) < 0.02, rng.beta(5.0, 1.0, n),
            rng.uniform(0.001, 0.01, n), np.cumsum(rng.exponential(0.01, n)))


def best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def per_request_pipeline(window: int, every: int, n: int) -> float:
    lat, err, conf, cost, ts = traffic(window + 3 * n)
    lat_l, err_l, conf_l, cost_l, ts_l = (a.tolist() for a in (lat, err, conf, cost, ts))
    p = MonitoringPipeline(rules_on(window), window=window, evaluate_every=every)
    p.log_batch(lat[:window], err[:window], conf[:window], cost[:window], timestamp=ts[:window])  # full window
    pos = [window]

    def run():
        i0 = pos[0]
        log = p.log_request
        for i in range(i0, i0 + n):
            log(lat_l[i], err_l[i], conf_l[i], cost_l[i], ts_l[i])
        pos[0] = i0 + n

    return best_of(run) / n * 1e6


def per_request_naive(window: int, n: int) -> float:
    lat, err, conf, cost, _ = traffic(window + 3 * n)
    lat_l, err_l, conf_l, cost_l = (a.tolist() for a in (lat, err, conf, cost))
    m = NaiveThresholdMonitor(window)
    for i in range(window):  # fill the window first, as in steady state
        m.latencies.append(lat_l[i])
        m.errors.append(int(err_l[i]))
        m.costs.append(cost_l[i])
    pos = [window]

    def run():
        i0 = pos[0]
        for i in range(i0, i0 + n):
            m.log_request(lat_l[i], err_l[i], conf_l[i], cost_l[i])
        pos[0] = i0 + n

    return best_of(run) / n * 1e6


def batch_events_per_s(window: int, n: int, **cadence) -> float:
    lat, err, conf, cost, ts = traffic(n, seed=1)

    def run():
        p = MonitoringPipeline(rules_on(window), window=window, **cadence)
        p.log_batch(lat, err, conf, cost, timestamp=ts)
        p.metrics()

    return n / best_of(run)


def tradeoff_engine() -> None:
    flags = np.random.default_rng(2).random((200, 25_000)) < 0.02
    core_flags = flags[0, :5_000].tolist() * 20                     # 100,000 flags through the core

    def core():
        c = ErrorCusum(0.02, 0.15, h=9.0)
        for e in core_flags:
            c.update(e)

    rule = standard_rules()[0]
    print("The trade-off engine (error flags per second)")
    print(f"  ErrorCusum.update, one at a time   {len(core_flags) / best_of(core):14,.0f}")
    print(f"  cusum_paths, 200 x 25,000 at once  {flags.size / best_of(lambda: cusum_paths(flags, 0.02, 0.15)):14,.0f}")
    print(f"  burn_rule_pages, 200 x 25,000      {flags.size / best_of(lambda: burn_rule_pages(flags, rule)):14,.0f}")
    ms = best_of(lambda: cusum_arl(12.0, 0.02, 0.02, 0.15)) * 1e3
    print(f"  cusum_arl at h = 12 (15 % errors): {ms:.0f} ms per call")
    t0 = time.perf_counter()
    false_pages(standard_rules(), range(900_000, 901_000))
    print(f"  false_pages, lesson's rules:       {time.perf_counter() - t0:.1f} s per 1,000 seeds of 1,000 requests")


def main() -> None:
    print("MonitoringPipeline.log_request vs the naive per-request monitor (us per request)")
    print(f"{'window':>7} {'cadence':>12} {'pipeline':>10} {'naive':>10} {'naive/pipeline':>15}")
    per_request = {}
    for window in (200, 10_000):
        naive = per_request_naive(window, 2_000 if window > 1000 else 20_000)
        for every in (1, 10, 100):
            us = per_request_pipeline(window, every, 20_000)
            per_request[window, every] = us
            print(f"{window:>7} {'every ' + str(every):>12} {us:10.2f} {naive:10.1f} {naive / us:15.1f}")
    print()
    print("MonitoringPipeline.log_batch on 1,000,000 requests (events per second)")
    batched = {}
    for window in (200, 10_000):
        for label, cadence in (("every 10 requests", dict(evaluate_every=10)),
                               ("every 100 requests", dict(evaluate_every=100)),
                               ("every 60 s (~6,000 requests)", dict(evaluate_interval=60.0))):
            eps = batch_events_per_s(window, 1_000_000, **cadence)
            batched[window, label] = eps
            print(f"  window {window:>6}, evaluated {label:<30} {eps:14,.0f} events/s")
    print()
    us = per_request[10_000, 10]
    eps = batched[10_000, "every 100 requests"]
    print("Goals at window 10,000:")
    print(f"  log_request, evaluated every 10 requests: {us:6.2f} us  (goal <= 5 us: "
          f"{'met' if us <= 5 else 'NOT met'}, {5 / us:.1f}x margin)")
    print(f"  log_batch, evaluated every 100 requests: {eps / 1e6:6.2f} M events/s  (goal >= 1 M: "
          f"{'met' if eps >= 1e6 else 'NOT met'}, {eps / 1e6:.1f}x margin)")
    print()
    tradeoff_engine()


if __name__ == "__main__":
    main()
