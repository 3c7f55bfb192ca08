"""Benchmark prodai_lessons.abtest against scipy / statsmodels, measured in the same run.

Prints microseconds per call and the ratio (ours / reference; < 1 means ours is faster), plus the
largest disagreement seen on the benchmark inputs. Plain script: ``python benchmarks/bench_abtest.py``.
"""

from __future__ import annotations

import gc
import time
from unittest import mock

import numpy as np
from scipy import stats
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import proportions_ztest

from prodai_lessons.abtest import (
    assign_variants,
    proportion_test,
    sample_size,
    srm_check,
    welch_p_values,
    welch_test,
)


def per_call(fn, repeat: int) -> float:
    """Best-of-3 microseconds per call of ``fn()`` run ``repeat`` times."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / repeat * 1e6


def row(name: str, ours: float, ref: float, ref_name: str, extra: str = "") -> None:
    print(f"{name:34s} {ours:10.1f} us  {ref_name:34s} {ref:10.1f} us  ratio {ours / ref:5.2f}  {extra}")


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'ours':34s} {'':13s} {'reference':34s}")

    for n in (10, 1000, 100_000):
        a, b = rng.normal(0, 1, n), rng.normal(0.05, 1.3, n)
        ours = per_call(lambda: welch_test(a, b), 200 if n < 100_000 else 20)
        ref = per_call(lambda: stats.ttest_ind(b, a, equal_var=False).confidence_interval(), 200 if n < 100_000 else 20)
        r, s = welch_test(a, b), stats.ttest_ind(b, a, equal_var=False)
        err = abs(r.p_value - s.pvalue) / s.pvalue
        row(f"welch_test n={n:,}", ours, ref, "scipy ttest_ind + CI", f"p rel. err {err:.1e}")

    a, b = rng.normal(size=(10_000, 10)), rng.normal(size=(10_000, 10))
    ours = per_call(lambda: welch_p_values(a, b), 3)
    ref = per_call(lambda: stats.ttest_ind(b, a, axis=1, equal_var=False), 3)
    err = np.max(np.abs(welch_p_values(a, b) - stats.ttest_ind(b, a, axis=1, equal_var=False).pvalue))
    row("welch_p_values 10,000 x 10", ours, ref, "scipy ttest_ind(axis=1)", f"max abs err {err:.1e}")

    ours = per_call(lambda: proportion_test(1200, 10_000, 1290, 10_000), 2000)
    ref = per_call(lambda: proportions_ztest([1290, 1200], [10_000, 10_000]), 2000)
    err = abs(proportion_test(1200, 10_000, 1290, 10_000).p_value - proportions_ztest([1290, 1200], [10_000, 10_000])[1])
    row("proportion_test", ours, ref, "statsmodels proportions_ztest", f"p abs err {err:.1e}")

    split = {"a": 0.5, "b": 0.3, "c": 0.2}
    counts = [50_310, 29_850, 19_840]
    ours = per_call(lambda: srm_check(counts, split), 2000)
    ref = per_call(lambda: stats.chisquare(counts, f_exp=np.array([0.5, 0.3, 0.2]) * sum(counts)), 2000)
    row("srm_check (3 variants)", ours, ref, "scipy chisquare")

    ours = per_call(lambda: sample_size(0.3, sd=1.2), 20)
    with mock.patch("gc.collect", lambda *args: 0):
        ref = per_call(lambda: TTestIndPower().solve_power(0.25, alpha=0.05, power=0.8), 20)
    n_ref = TTestIndPower().solve_power(0.25, alpha=0.05, power=0.8)
    row("sample_size (means)", ours, ref, "statsmodels TTestIndPower", f"n {sample_size(0.3, sd=1.2).n_a} vs {n_ref:.2f}")

    units = range(100_000)
    start = time.perf_counter()
    assign_variants("bench", units, split)
    elapsed = time.perf_counter() - start
    print(f"{'assign_variants 100,000 units':34s} {elapsed / 1e5 * 1e6:10.2f} us per unit "
          f"({1e5 / elapsed:,.0f} units/s; no reference library)")
    gc.collect()


if __name__ == "__main__":
    main()
