"""Speed of prodai_lessons.stats against scipy, measured in the same run (plain script, prints figures).

Scalar calls matter most (the A/B-test simulations call them in loops), so the table shows
microseconds per scalar call for ours, for ``scipy.stats`` (frozen-free ``.sf`` calls, which carry
scipy's argument-checking overhead) and for the bare ``scipy.special`` ufunc where one exists.
The two-sample KS exact p-value is timed at a few sizes against ``scipy.stats.ks_2samp`` (also in the far
tail, p from 1e-290 to 1e-250, where the count is done with a finer scaling), and the noncentral
t at large noncentrality (nc = 6000 and 22361: two-sample power with 1e8 / 1e9 units per arm) against
``scipy.stats.nct.sf`` and statsmodels' ``TTestIndPower`` (scipy's value is printed: it is off by up to 1e-4
relative there, see tests/test_stats.py).

Run: .venv/bin/python benchmarks/bench_stats.py
"""

from __future__ import annotations

import math
import timeit

import numpy as np
import scipy.special as sp
import scipy.stats as ss

from prodai_lessons import stats as S


def per_call_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def main() -> None:
    rows = [
        ("normal_sf(2.3)", lambda: S.normal_sf(2.3), lambda: ss.norm.sf(2.3), lambda: sp.ndtr(-2.3)),
        ("normal_isf(0.025)", lambda: S.normal_isf(0.025), lambda: ss.norm.isf(0.025), lambda: -sp.ndtri(0.025)),
        ("t_sf(2.1, df=20)", lambda: S.t_sf(2.1, 20.0), lambda: ss.t.sf(2.1, 20.0), lambda: sp.stdtr(20.0, -2.1)),
        ("t_sf(2.1, df=1e4)", lambda: S.t_sf(2.1, 1e4), lambda: ss.t.sf(2.1, 1e4), lambda: sp.stdtr(1e4, -2.1)),
        ("t_isf(0.025, df=20)", lambda: S.t_isf(0.025, 20.0), lambda: ss.t.isf(0.025, 20.0),
         lambda: -sp.stdtrit(20.0, 0.025)),
        ("chi2_sf(7.8, df=3)", lambda: S.chi2_sf(7.8, 3.0), lambda: ss.chi2.sf(7.8, 3.0), lambda: sp.chdtrc(3.0, 7.8)),
        ("kolmogorov_sf(1.1)", lambda: S.kolmogorov_sf(1.1), None, lambda: sp.kolmogorov(1.1)),
        ("kstwo_sf(0.05, 500)", lambda: S.kstwo_sf(0.05, 500), lambda: ss.kstwo.sf(0.05, 500), None),
        ("nct_sf(2.0, 100, 3)", lambda: S.nct_sf(2.0, 100.0, 3.0), lambda: ss.nct.sf(2.0, 100.0, 3.0), None),
    ]
    print(f"{'scalar call':<24}{'ours us':>10}{'scipy.stats us':>16}{'ufunc us':>10}{'ours/stats':>12}")
    for name, ours, stats_fn, ufunc in rows:
        n = 200 if "isf" in name or "nct" in name or "kstwo" in name else 2000
        a = per_call_us(ours, n)
        b = per_call_us(stats_fn, max(n // 10, 20)) if stats_fn else math.nan
        c = per_call_us(ufunc, n) if ufunc else math.nan
        print(f"{name:<24}{a:>10.2f}{b:>16.2f}{c:>10.2f}{a / b:>12.2f}")

    print()
    print(f"{'ks exact p-value':<24}{'ours ms':>10}{'ks_2samp ms':>16}{'ratio':>12}")
    rng = np.random.default_rng(0)
    for n, m in [(1000, 1000), (1000, 999), (5000, 4999), (10000, 9999), (10000, 10000)]:
        x, y = rng.normal(0, 1, n), rng.normal(0.02, 1, m)
        ref = ss.ks_2samp(x, y, method="exact")
        d = float(ref.statistic)
        a = per_call_us(lambda: S.ks_2samp_pvalue(d, n, m, "exact"), 1) / 1e3
        b = per_call_us(lambda: ss.ks_2samp(x, y, method="exact"), 1) / 1e3
        print(f"{f'n={n}, m={m}':<24}{a:>10.2f}{b:>16.2f}{a / b:>12.2f}")

    print()
    print(f"{'ks exact, far tail':<24}{'ours ms':>10}{'ks_2samp ms':>16}{'ratio':>12}{'ours p':>14}{'scipy p':>14}")
    for n, m, shift in [(3000, 3010, 1.2), (6000, 6010, 0.8), (10000, 9999, 0.6)]:
        x, y = rng.normal(0, 1, n), rng.normal(shift, 1, m)
        ref = ss.ks_2samp(x, y, method="exact")
        d = float(ref.statistic)
        a = per_call_us(lambda: S.ks_2samp_pvalue(d, n, m, "exact"), 1) / 1e3
        b = per_call_us(lambda: ss.ks_2samp(x, y, method="exact"), 1) / 1e3
        p = S.ks_2samp_pvalue(d, n, m, "exact")[0]
        print(f"{f'n={n}, m={m}, D={d:.3f}':<24}{a:>10.2f}{b:>16.2f}{a / b:>12.2f}{p:>14.4g}{ref.pvalue:>14.4g}")

    from statsmodels.stats.power import TTestIndPower

    from prodai_lessons.abtest import power

    print()
    print(f"{'large nc':<32}{'ours ms':>10}{'scipy ms':>10}{'ratio':>8}{'ours':>24}{'scipy':>24}")
    for t, df, nc in [(1.96, 1e8, 6000.0), (6000.0, 1e8, 6000.0), (6003.0, 1e8, 6000.0), (22361.0, 2e9 - 2, 22360.68)]:
        a = per_call_us(lambda: S.nct_sf(t, df, nc), 3) / 1e3
        b = per_call_us(lambda: ss.nct.sf(t, df, nc), 3) / 1e3
        name = f"nct_sf({t:g}, {df:.3g}, {nc:g})"
        print(f"{name:<32}{a:>10.2f}{b:>10.2f}{a / b:>8.1f}{S.nct_sf(t, df, nc):>24.16g}{ss.nct.sf(t, df, nc):>24.16g}")
    a = per_call_us(lambda: power(10**9, mde=1.0, sd=1.0), 3) / 1e3
    b = per_call_us(lambda: TTestIndPower().power(1.0, 10**9, 0.05), 3) / 1e3
    print(f"{'power(1e9/arm, d=1)':<32}{a:>10.2f}{b:>10.2f}{a / b:>8.1f}"
          f"{power(10**9, mde=1.0, sd=1.0):>24.16g}{TTestIndPower().power(1.0, 10**9, 0.05):>24.16g}")


if __name__ == "__main__":
    main()
