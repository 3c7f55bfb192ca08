"""Benchmark of prodai_lessons.drift against scipy, measured in the same run.

Prints:
1. ks_test time / scipy.stats.ks_2samp time at n = m = 1e4, 1e5, 1e6 (goal: <= 1.0 at 1e6; a Python
   loop over the values, a common implementation, is about 10.8x slower than scipy at 1e5). Both use
   "auto": exact p-value at 1e4, asymptotic above.
2. The exact p-value with unequal sizes (the lattice-path count, not the n == m closed form),
   method="exact", at the sizes "auto" sends to it: 10000 x 9999, 10000 x 7000, 5000 x 3000 with no
   shift (goal: ratio <= 2), and two shifted pairs whose band is wide (tiny p-values).
3. wasserstein / scipy.stats.wasserstein_distance at the same sizes as 1.
4. feature_drift_report over 50 numerical features x 100,000 rows per sample (goal: <= 2 s).

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


def best_of_pair(ours, ref, repeats: int) -> tuple[float, float]:
    """Best times of two functions run alternately, so both see the same machine load."""
    t_ours, t_ref = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours()
        middle = time.perf_counter()
        ref()
        t_ours.append(middle - start)
        t_ref.append(time.perf_counter() - middle)
    return min(t_ours), min(t_ref)


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

    print("\nExact KS p-value, unequal sizes: ks_test vs ks_2samp, both method='exact' (goal: ratio <= 2)")
    print(f"{'n x m':>13} {'shift':>5} {'D':>7} {'p-value':>9} {'ours (ms)':>10} {'scipy (ms)':>11} "
          f"{'ratio':>6}  check")
    for n, m, shift in [(10_000, 9_999, 0.0), (10_000, 7_000, 0.0), (5_000, 3_000, 0.0),
                        (10_000, 9_999, 0.05), (5_000, 4_999, 0.3)]:
        x, y = rng.normal(0, 1, n), rng.normal(shift, 1, m)
        ours, ref = best_of_pair(lambda: ks_test(x, y, "exact"), lambda: sps.ks_2samp(x, y, method="exact"), 9)
        a, b = ks_test(x, y, "exact"), sps.ks_2samp(x, y, method="exact")
        assert a.method == "exact"
        check = f"|dp|={abs(a.p_value - b.pvalue):.1e}"
        print(f"{n:6d} x {m:5d} {shift:5.2f} {a.statistic:7.4f} {a.p_value:9.2g} {ours * 1e3:10.1f} "
              f"{ref * 1e3:11.1f} {ours / ref:6.2f}  {check}")

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
