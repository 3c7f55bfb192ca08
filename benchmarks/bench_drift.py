"""Benchmark of prodai_lessons.drift against scipy, measured in the same run.

Prints:
1. ks_test time / scipy.stats.ks_2samp time at n = m = 1e4, 1e5, 1e6 (goal: <= 1.5 at 1e6; the
   original lesson's Python loop was about 10.8x slower than scipy at 1e5). Both use "auto":
   exact p-value at 1e4, asymptotic above.
2. wasserstein / scipy.stats.wasserstein_distance at the same sizes.
3. feature_drift_report over 50 numerical features x 100,000 rows per sample (goal: <= 2 s).

Times are the best of several repeats (the minimum is the least noisy estimate on a shared machine).
Run: ``python benchmarks/bench_drift.py`` (scipy is needed, as for the tests).
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats as sps

from prodai_lessons.drift import feature_drift_report, ks_test, wasserstein


def best_of(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print("KS test: prodai ks_test vs scipy.stats.ks_2samp (two-sided, method='auto')")
    print(f"{'n = m':>9} {'ours (ms)':>10} {'scipy (ms)':>11} {'ratio':>6}  check")
    for n in (10_000, 100_000, 1_000_000):
        x, y = rng.normal(0, 1, n), rng.normal(0.002, 1, n)
        repeats = 7 if n < 1_000_000 else 5
        ours = best_of(lambda: ks_test(x, y), repeats)
        ref = best_of(lambda: sps.ks_2samp(x, y), repeats)
        a, b = ks_test(x, y), sps.ks_2samp(x, y)
        check = f"|dD|={abs(a.statistic - b.statistic):.1e} |dp|={abs(a.p_value - b.pvalue):.1e}"
        print(f"{n:9d} {ours * 1e3:10.1f} {ref * 1e3:11.1f} {ours / ref:6.2f}  {check}")

    print("\nWasserstein-1: prodai wasserstein vs scipy.stats.wasserstein_distance")
    print(f"{'n = m':>9} {'ours (ms)':>10} {'scipy (ms)':>11} {'ratio':>6}")
    for n in (10_000, 100_000, 1_000_000):
        x, y = rng.normal(0, 1, n), rng.normal(0.002, 1, n)
        repeats = 5 if n < 1_000_000 else 3
        ours = best_of(lambda: wasserstein(x, y), repeats)
        ref = best_of(lambda: sps.wasserstein_distance(x, y), repeats)
        print(f"{n:9d} {ours * 1e3:10.1f} {ref * 1e3:11.1f} {ours / ref:6.2f}")

    n_rows, n_features = 100_000, 50
    reference = rng.normal(0, 1, (n_rows, n_features))
    current = rng.normal(0, 1, (n_rows, n_features)) + np.linspace(0, 0.3, n_features)
    seconds = best_of(lambda: feature_drift_report(reference, current), 3)
    report = feature_drift_report(reference, current)
    print(f"\nfeature_drift_report, {n_features} features x {n_rows} rows per sample "
          f"(normed Wasserstein + PSI + means per feature): {seconds:.2f} s (goal <= 2 s); "
          f"{len(report.drifted_features)} features flagged")


if __name__ == "__main__":
    main()
