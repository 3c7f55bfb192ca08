"""Benchmark of prodai_lessons.cost: requests/s through CostTracker, single and batched.

Prints requests per second for ``log_request`` (one call per request), ``log_batch`` (arrays) and, as the
reference measured in the same run, the common first design of a cost tracker (a dict appended per
request, float costs, report by looping over the list). Goal: ``log_batch`` >= 500,000 requests/s. Run:

    .venv/bin/python benchmarks/bench_cost.py
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from prodai_lessons.cost import CostTracker, load_pricing

N_SINGLE = 100_000
N_BATCH = 1_000_000
GOAL = 500_000


class NaiveTracker:
    """The common first design, for timing: a list of dicts, float sums, a Python-loop report."""

    def __init__(self, pricing):
        self.pricing = {m: (p.input_per_mtok / 1e6, p.output_per_mtok / 1e6) for m, p in pricing.models.items()}
        self.requests = []

    def log_request(self, model, input_tokens, output_tokens, cached=False):
        pin, pout = self.pricing[model]
        cost = 0.0 if cached else input_tokens * pin + output_tokens * pout
        self.requests.append({"model": model, "input_tokens": input_tokens, "output_tokens": output_tokens,
                              "cost": cost, "cached": cached})

    def report(self):
        by_model = defaultdict(float)
        for r in self.requests:
            by_model[r["model"]] += r["cost"]
        return sum(r["cost"] for r in self.requests), dict(by_model)


def traffic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    pricing = load_pricing()
    models = rng.choice(list(pricing.models), n, p=[0.6, 0.3, 0.1])
    return (pricing, models, rng.integers(100, 2000, n), rng.integers(50, 1000, n), rng.random(n) < 0.2,
            rng.choice(["chat", "search", "summarize"], n), np.sort(rng.uniform(0, 86_400, n)))


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    pricing, models, inp, out, cached, features, ts = traffic(N_BATCH)

    # Single requests: ours vs the naive reference, same inputs as Python scalars.
    rows = list(zip(models[:N_SINGLE].tolist(), inp[:N_SINGLE].tolist(), out[:N_SINGLE].tolist(),
                    cached[:N_SINGLE].tolist(), features[:N_SINGLE].tolist(), ts[:N_SINGLE].tolist()))

    def ours_single():
        tr = CostTracker(pricing, daily_limit=1000.0)
        for m, i, o, c, f, t in rows:
            tr.log_request(m, i, o, cached=c, feature=f, timestamp=t)
        tr.report()

    def naive_single():
        tr = NaiveTracker(pricing)
        for m, i, o, c, _, _ in rows:
            tr.log_request(m, i, o, cached=c)
        tr.report()

    def ours_batch():
        tr = CostTracker(pricing, daily_limit=1000.0)
        tr.log_batch(models, inp, out, cached, features, timestamps=ts)
        tr.report()

    t_single = best_of(ours_single)
    t_naive = best_of(naive_single)
    t_batch = best_of(ours_batch)
    rate_single = N_SINGLE / t_single
    rate_naive = N_SINGLE / t_naive
    rate_batch = N_BATCH / t_batch
    print(f"CostTracker.log_request : {rate_single:>12,.0f} requests/s  ({1e6 / rate_single:.2f} us/request, "
          f"{N_SINGLE:,} requests, report included)")
    print(f"naive dict tracker      : {rate_naive:>12,.0f} requests/s  ({1e6 / rate_naive:.2f} us/request, "
          "a list of dicts: no validation, no budget, float sums)")
    print(f"CostTracker.log_batch   : {rate_batch:>12,.0f} requests/s  ({N_BATCH:,} requests in one batch, "
          "report included)")
    print(f"batch / naive           : {rate_batch / rate_naive:>12.1f}x")
    print(f"batch / single          : {rate_batch / rate_single:>12.1f}x")
    print(f"goal >= {GOAL:,} requests/s batched: {'met' if rate_batch >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
