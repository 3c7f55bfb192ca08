"""pytest plugin: the reference libraries' own tests, run on prodai_lessons through thin adapters.

:mod:`tests.test_reference_suites` starts ``python -m pytest -p _reference_adapters <shipped test
files>`` in a subprocess. While each selected test of scipy or statsmodels runs, the function it
tests (``scipy.stats.ks_2samp``, ``TTestIndPower.power``, the ``_sf`` of ``scipy.stats.t``, ...)
is replaced by an adapter: the adapter translates the call to prodai_lessons, and the test's own
assertions then run on our numbers. A call outside what our API offers (a one-sided alternative,
``axis``/n-D input, ``nan_policy``, weights, ...) raises :class:`OutOfScope` inside the adapter;
the call is then answered by the original function and recorded, with its reason, as not ours.

The ledger (per test: our calls per target, out-of-scope calls per reason, outcome) is written as
JSON to ``$PRODAI_REF_LEDGER``. With ``PRODAI_REF_MUTANT=1`` every adapter computes a deliberately
wrong variant instead (each a common mistake, see ``MUTANTS``), to show that the suites, run through
the adapters, do fail on wrong numbers.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter
from typing import Any, Callable

import numpy as np
import pytest

from prodai_lessons import abtest, drift
from prodai_lessons import stats as S
from prodai_lessons._abtest_engine import _power as _engine_power

MUTANT = os.environ.get("PRODAI_REF_MUTANT") == "1"


class OutOfScope(Exception):
    """Raised by an adapter for a call our API does not cover; ``reason`` says why (one line)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def need(condition: Any, reason: str) -> None:
    if not condition:
        raise OutOfScope(reason)


# ---------------------------------------------------------------------------------------------
# Input checks shared by the adapters: plain 1-D samples of finite numbers
# ---------------------------------------------------------------------------------------------

R_ND = "axis/broadcasting: n-D input or a non-default axis (our functions take 1-D samples)"
R_NAN = "NaN or infinite values (nan_policy): our functions reject non-finite input"
R_EMPTY = "an empty sample: ours raises ValueError where scipy warns and returns NaN"
R_KEEPDIMS = "keepdims=True (array shape handling)"


def sample_1d(x: Any) -> np.ndarray:
    arr = np.asarray(x)
    need(arr.ndim == 1, R_ND)
    need(arr.dtype.kind in "biuf", "non-numeric data")
    need(arr.size > 0, R_EMPTY)
    need(np.all(np.isfinite(arr)), R_NAN)
    return arr.astype(np.float64)


def counts_1d(x: Any) -> list[int]:
    arr = np.asarray(x)
    need(arr.ndim == 1, R_ND)
    need(arr.dtype.kind in "biuf" and np.all(np.isfinite(arr)), R_NAN)
    need(np.all(arr == np.round(arr)) and np.all(arr >= 0), "non-integer or negative frequencies: "
         "srm_check counts units")
    return [int(v) for v in arr]


def f64(x: Any) -> np.float64:
    return np.float64(x)


# ---------------------------------------------------------------------------------------------
# scipy.stats.ks_2samp -> prodai_lessons.drift.ks_test
# ---------------------------------------------------------------------------------------------

def ks_2samp(data1, data2, alternative="two-sided", method="auto", *, axis=0, nan_policy="propagate",
             keepdims=False, mode=None):
    from scipy.stats._stats_py import KstestResult

    need(alternative == "two-sided", "one-sided alternative ('less'/'greater'): ks_test is two-sided")
    need(not keepdims, R_KEEPDIMS)
    need(axis in (0, -1, None), R_ND)
    x, y = sample_1d(data1), sample_1d(data2)
    res = drift.ks_test(x, y, method=mode or method)
    p = res.p_value
    if MUTANT:  # the one-term limiting series, 2 exp(-2 n_e D^2), in place of the exact distribution
        n_e = x.size * y.size / (x.size + y.size)
        p = min(1.0, 2.0 * math.exp(-2.0 * n_e * res.statistic ** 2))
    # statistic_sign is not part of KSResult: left as None (tests reading it are out of scope)
    return KstestResult(f64(res.statistic), f64(p), statistic_location=res.location, statistic_sign=None)


# ---------------------------------------------------------------------------------------------
# scipy.stats.ttest_ind(equal_var=False) -> abtest.welch_test;  ttest_ind_from_stats -> welch_from_moments
# ---------------------------------------------------------------------------------------------

def _welch_mutant_p(t: Any) -> Any:  # the normal distribution in place of Student's t
    return 2.0 * S.normal_sf(np.abs(t))


def ttest_ind(a, b, *, axis=0, equal_var=True, nan_policy="propagate", alternative="two-sided", trim=0,
              method=None, keepdims=False):
    from scipy.stats._common import ConfidenceInterval
    from scipy.stats._stats_py import TtestResult

    need(equal_var is False, "equal_var=True: Student's pooled-variance test (the course uses Welch's)")
    need(alternative == "two-sided", "one-sided alternative: welch_test is two-sided")
    need(trim == 0, "trim: Yuen's trimmed t-test")
    need(method is None, "method=: permutation or Monte Carlo p-values")
    need(not keepdims, R_KEEPDIMS)
    need(axis in (0, -1, None), R_ND)
    x, y = sample_1d(a), sample_1d(b)
    need(x.size >= 2 and y.size >= 2, "fewer than 2 values in a sample: scipy returns NaN, ours raises")
    need(np.ptp(x) > 0 or np.ptp(y) > 0, "both samples constant: scipy warns (NaN for equal constants), "
         "welch_test returns its documented limit")
    res = abtest.welch_test(y, x)  # ours tests b against a: (mean_b - mean_a) / se
    p = _welch_mutant_p(res.t_statistic) if MUTANT else res.p_value

    class WelchTtestResult(TtestResult):
        def confidence_interval(self, confidence_level=0.95):
            ci = abtest.welch_test(y, x, alpha=1.0 - confidence_level)
            return ConfidenceInterval(low=f64(ci.ci_low), high=f64(ci.ci_high))

    # standard_error and estimate feed scipy's own interval, which the class above replaces by ours
    return WelchTtestResult(f64(res.t_statistic), f64(p), df=f64(res.df), alternative=0,
                            standard_error=f64(math.nan), estimate=f64(res.diff))


def ttest_ind_from_stats(mean1, std1, nobs1, mean2, std2, nobs2, equal_var=True, alternative="two-sided"):
    from scipy.stats._stats_py import Ttest_indResult

    need(equal_var is False, "equal_var=True: Student's pooled-variance test (the course uses Welch's)")
    need(alternative == "two-sided", "one-sided alternative: welch_from_moments is two-sided")
    args = [np.asarray(v, dtype=np.float64) for v in (mean1, std1, nobs1, mean2, std2, nobs2)]
    need(all(np.all(np.isfinite(v)) for v in args), R_NAN)
    need(np.all(args[1] > 0) or np.all(args[4] > 0), "zero standard deviations: scipy returns NaN")
    t, _, p, _ = abtest.welch_from_moments(args[3], args[4] ** 2, args[5], args[0], args[1] ** 2, args[2])
    if MUTANT:
        p = _welch_mutant_p(t)
    t, p = np.asarray(t), np.asarray(p)
    return Ttest_indResult(f64(t) if t.ndim == 0 else t, f64(p) if p.ndim == 0 else p)


# ---------------------------------------------------------------------------------------------
# scipy.stats.chisquare / power_divergence (Pearson) -> abtest.srm_check
# ---------------------------------------------------------------------------------------------

def _srm(f_obs, f_exp, ddof, axis, sum_check):
    from scipy.stats._stats_py import Power_divergenceResult

    need(np.ndim(ddof) == 0 and ddof == 0, "ddof != 0 (estimated parameters): srm_check has k - 1 df")
    need(axis in (0, -1, None), R_ND)
    counts = counts_1d(f_obs)
    need(len(counts) >= 2, "fewer than 2 categories")
    need(sum(counts) > 0, "all frequencies zero")
    if f_exp is None:
        shares = [1.0 / len(counts)] * len(counts)
    else:
        e = np.asarray(f_exp, dtype=np.float64)
        e = np.full(len(counts), float(e)) if e.ndim == 0 else e  # a scalar: the same for every category
        need(e.shape == (len(counts),), R_ND)
        need(np.all(np.isfinite(e)) and np.all(e > 0), "zero or non-finite expected frequencies")
        need(not sum_check or abs(e.sum() - sum(counts)) <= 1e-8 * max(e.sum(), sum(counts)),
             "f_exp with another total than f_obs: scipy's input check (srm_check takes shares)")
        shares = list(e / e.sum())
    split = {f"v{i}": w for i, w in enumerate(shares)}
    res = abtest.srm_check(counts, split)
    p = res.p_value
    if MUTANT:  # k degrees of freedom instead of k - 1
        p = S.chi2_sf(res.statistic, len(counts))
    return Power_divergenceResult(f64(res.statistic), f64(p))


def chisquare(f_obs, f_exp=None, ddof=0, axis=0, *, sum_check=True):
    return _srm(f_obs, f_exp, ddof, axis, sum_check)


def power_divergence(f_obs, f_exp=None, ddof=0, axis=0, lambda_=None):
    need(lambda_ is None or lambda_ == "pearson" or (not isinstance(lambda_, str) and lambda_ == 1),
         "lambda_ other than Pearson's (G-test, Cressie-Read, ...): srm_check is Pearson's chi-squared")
    return _srm(f_obs, f_exp, ddof, axis, True)


# ---------------------------------------------------------------------------------------------
# scipy.stats.chi2_contingency (2 x K, no Yates) -> drift.chi2_test on the two samples
# ---------------------------------------------------------------------------------------------

def chi2_contingency(observed, correction=True, lambda_=None, *, method=None):
    from scipy.stats.contingency import Chi2ContingencyResult

    need(method is None, "method=: permutation or Monte Carlo p-values")
    need(lambda_ is None or lambda_ == "pearson", "lambda_ other than Pearson's (G-test, Cressie-Read, ...)")
    table = np.asarray(observed)
    need(table.ndim == 2 and 2 in table.shape, "not a 2 x K table: chi2_test compares two samples")
    need(table.dtype.kind in "biuf" and np.all(table == np.round(table)) and np.all(table >= 0),
         "non-integer or negative counts: a table of two samples holds counts")
    rows = table if table.shape[0] == 2 else table.T
    need(rows.shape[1] >= 2, "fewer than 2 categories")
    need(not (correction and rows.shape[1] == 2), "Yates' continuity correction (2 x 2 with correction=True)")
    need(np.all(rows.sum(axis=0) > 0), "a category with no count in either sample: not expressible as samples")
    need(np.all(rows.sum(axis=1) > 0), "an empty sample")
    categories = np.arange(rows.shape[1])
    reference = np.repeat(categories, rows[0].astype(np.int64))
    current = np.repeat(categories, rows[1].astype(np.int64))
    res = drift.chi2_test(reference, current)
    # chi2_test does not return the expected table: the adapter supplies row x column / total
    expected = np.outer(rows.sum(axis=1), rows.sum(axis=0)) / rows.sum()
    statistic, p = res.statistic, res.p_value
    if MUTANT:  # Yates' continuity correction applied to every table
        statistic = float(np.sum((np.abs(rows - expected) - 0.5) ** 2 / expected))
        p = S.chi2_sf(statistic, res.dof)
    if rows is not table:
        expected = expected.T
    return Chi2ContingencyResult(f64(statistic), f64(p), int(res.dof), expected)


# ---------------------------------------------------------------------------------------------
# scipy.stats.wasserstein_distance (unweighted) -> drift.wasserstein
# ---------------------------------------------------------------------------------------------

def wasserstein_distance(u_values, v_values, u_weights=None, v_weights=None):
    for w in (u_weights, v_weights):
        if w is not None:
            w = np.asarray(w, dtype=np.float64)
            need(w.ndim == 1 and w.size > 0 and np.all(w == w[0]) and w[0] > 0,
                 "unequal weights: drift.wasserstein is unweighted")
    u, v = sample_1d(u_values), sample_1d(v_values)
    if MUTANT:  # the distance between the means (equal only for shifted copies)
        return f64(abs(u.mean() - v.mean()))
    return f64(drift.wasserstein(u, v))


# ---------------------------------------------------------------------------------------------
# scipy.spatial.distance.jensenshannon (1-D) -> drift.js_distance (bits; rescaled for other bases)
# ---------------------------------------------------------------------------------------------

def jensenshannon(p, q, base=None, *, axis=0, keepdims=False):
    need(not keepdims, R_KEEPDIMS)
    a, b = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    need(a.ndim == 1 and b.ndim == 1 and a.shape == b.shape, R_ND)
    need(np.all(np.isfinite(a)) and np.all(np.isfinite(b)), R_NAN)
    need(np.all(a >= 0) and np.all(b >= 0) and a.sum() > 0 and b.sum() > 0,
         "negative weights or an all-zero histogram")
    bits = drift.js_distance(a, b)
    if MUTANT:  # the divergence, not its square root (the distance)
        bits = bits ** 2
    # JS divergence in base B = divergence in bits * ln 2 / ln B; the distance is its square root
    return f64(bits * math.sqrt(math.log(2.0) / math.log(math.e if base is None else base)))


# ---------------------------------------------------------------------------------------------
# scipy.stats distributions: the private _cdf/_sf/_ppf/_isf hooks -> prodai_lessons.stats
# (scipy's public methods keep their own checks, loc/scale and broadcasting, and call these)
# ---------------------------------------------------------------------------------------------

def _real(*args: Any) -> None:
    need(not any(np.iscomplexobj(a) for a in args), "complex arguments (scipy's complex-step derivative check)")


def _finite_df(df: Any) -> np.ndarray:
    df = np.asarray(df, dtype=np.float64)
    need(np.all(np.isfinite(df)), "df = inf (the normal limit): our t functions take finite df")
    return df


def _wilson_hilferty_sf(x, df):  # a common approximation, used as the wrong chi-squared
    z = ((np.asarray(x) / df) ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * df))) / np.sqrt(2.0 / (9.0 * df))
    return S.normal_sf(z)


def t_cdf(self, x, df):
    _real(x, df)
    df = _finite_df(df)
    return S.normal_cdf(x) if MUTANT else S.t_cdf(x, df)


def t_sf(self, x, df):
    _real(x, df)
    df = _finite_df(df)
    return S.normal_sf(x) if MUTANT else S.t_sf(x, df)


def t_ppf(self, q, df):
    _real(q, df)
    df = _finite_df(df)
    return S.normal_ppf(q) if MUTANT else S.t_ppf(q, df)


def t_isf(self, q, df):
    _real(q, df)
    df = _finite_df(df)
    return S.normal_isf(q) if MUTANT else S.t_isf(q, df)


def chi2_cdf(self, x, df):
    _real(x, df)
    return 1.0 - _wilson_hilferty_sf(x, df) if MUTANT else S.chi2_cdf(x, df)


def chi2_sf(self, x, df):
    _real(x, df)
    return _wilson_hilferty_sf(x, df) if MUTANT else S.chi2_sf(x, df)


def norm_cdf(self, x):
    _real(x)
    return S.normal_cdf(x)


def norm_sf(self, x):
    _real(x)
    return 1.0 - S.normal_cdf(x) if MUTANT else S.normal_sf(x)  # mutant: sf as 1 - cdf


def norm_ppf(self, q):
    _real(q)
    return S.normal_ppf(q)


def norm_isf(self, q):
    _real(q)
    return -S.normal_ppf(q) if MUTANT else S.normal_isf(q)  # mutant: isf by symmetry of ppf(q)


def nct_sf(self, x, df, nc):
    _real(x, df, nc)
    df = _finite_df(df)
    return S.t_sf(x - nc, df) if MUTANT else S.nct_sf(x, df, nc)


def kstwo_sf(self, x, n):
    _real(x, n)
    n = np.asarray(n, dtype=np.float64)
    ni = np.broadcast_to(n, np.shape(x)).astype(np.int64)
    if MUTANT:
        return S.kolmogorov_sf(np.asarray(x) * np.sqrt(ni))
    return S.kstwo_sf(x, ni)


def kolmogorov(x):
    _real(x)
    x = np.asarray(x, dtype=np.float64)
    need(not np.any(np.isnan(x)), R_NAN)
    out = np.minimum(1.0, 2.0 * np.exp(-2.0 * x ** 2)) if MUTANT else S.kolmogorov_sf(x)
    return f64(out) if np.ndim(out) == 0 else out


def kstwobign_sf(self, x):
    return kolmogorov(x)


# ---------------------------------------------------------------------------------------------
# statsmodels: proportions_ztest -> abtest.proportion_test;  TTestIndPower -> abtest.power/sample_size
# ---------------------------------------------------------------------------------------------

def _int_count(v: Any, what: str) -> int:
    need(float(v) == round(float(v)), f"non-integer {what}")
    return int(round(float(v)))


def proportions_ztest(count, nobs, value=None, alternative="two-sided", prop_var=False):
    count, nobs = np.asarray(count), np.asarray(nobs)
    need(count.size == 2, "one-sample (or k-sample) test: proportion_test compares two arms")
    need(value is None or value == 0, "a non-zero null difference (value)")
    need(alternative == "two-sided", "one-sided alternative: proportion_test is two-sided")
    need(not prop_var, "prop_var: a given variance in place of the pooled one")
    nobs = nobs * np.ones_like(count) if nobs.size == 1 else nobs
    s1, s2 = (_int_count(v, "count") for v in count)
    n1, n2 = (_int_count(v, "nobs") for v in nobs)
    res = abtest.proportion_test(s2, n2, s1, n1)  # ours: b against a, z = (p_b - p_a) / se
    p = res.p_value
    if MUTANT:  # unpooled (Wald) standard error in the test
        r1, r2 = s1 / n1, s2 / n2
        z = (r1 - r2) / math.sqrt(r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2)
        return f64(z), f64(2.0 * S.normal_sf(abs(z)))
    return f64(res.z_statistic), f64(p)


def _scalar_power_args(effect_size, nobs1, alpha, ratio):
    need(all(np.ndim(v) == 0 for v in (effect_size, nobs1, alpha, ratio)),
         "array arguments (power curves): abtest.power takes one design")
    effect, n1, alpha, ratio = (float(v) for v in (effect_size, nobs1, alpha, ratio))
    need(effect != 0.0, "effect_size = 0: ours rejects a zero effect (power = alpha)")
    need(n1 * (1.0 + ratio) > 2.0 and 0.0 < alpha < 1.0 and ratio > 0.0, "outside the domain of the t-test")
    return effect, n1, alpha, ratio


def ttestind_power(self, effect_size, nobs1, alpha, ratio=1, df=None, alternative="two-sided"):
    need(df is None, "df given: ours uses n_a + n_b - 2")
    need(alternative in ("two-sided", "2s"), "one-sided alternative: ours is the two-sided test")
    effect, n1, alpha, ratio = _scalar_power_args(effect_size, nobs1, alpha, ratio)
    if MUTANT:  # the normal approximation in place of the noncentral t
        shift = abs(effect) * math.sqrt(n1 * ratio / (1.0 + ratio))
        crit = S.normal_isf(alpha / 2.0)
        return f64(S.normal_sf(crit - shift) + S.normal_cdf(-crit - shift))
    if n1 == round(n1) and n1 >= 2:
        return f64(abtest.power(int(n1), mde=effect, sd=1.0, alpha=alpha, ratio=ratio))
    # a fractional nobs1 (statsmodels' root finder asks for those): the same formula, not rounded
    return f64(_engine_power("means", abs(effect), n1, ratio, alpha))


def ttestind_solve_power(self, effect_size=None, nobs1=None, alpha=None, power=None, ratio=1.0,
                         alternative="two-sided"):
    need(alternative in ("two-sided", "2s"), "one-sided alternative: ours is the two-sided test")
    need(nobs1 is None and None not in (effect_size, alpha, power, ratio),
         "solving for effect_size, alpha, power or ratio: ours solves for the sample size "
         "(those calls run statsmodels' solver on our power, counted as power calls)")
    effect, _, alpha, ratio = _scalar_power_args(effect_size, 2.0, alpha, ratio)
    if MUTANT:  # the normal-approximation size, (z_{1-alpha/2} + z_power)^2 (1 + 1/ratio) / d^2
        z = S.normal_isf(alpha / 2.0) + S.normal_isf(1.0 - float(power))
        return f64(z * z * (1.0 + 1.0 / ratio) / effect ** 2)
    return f64(abtest.sample_size(mde=effect, sd=1.0, alpha=alpha, power=float(power), ratio=ratio).n_a_exact)


# ---------------------------------------------------------------------------------------------
# The suites: which shipped tests run, and what is replaced while they run
# ---------------------------------------------------------------------------------------------

def _module_attr(module: str, name: str, adapter: Callable) -> tuple[str, str, str, Callable]:
    return ("function", module, name, adapter)


def _class_attr(module: str, cls: str, name: str, adapter: Callable) -> tuple[str, str, str, Callable]:
    return ("method", module, f"{cls}.{name}", adapter)


_DIST = "scipy.stats._continuous_distns"

#: suite -> (shipped test node ids relative to site-packages, replaced targets)
SUITES: dict[str, tuple[list[str], list[tuple[str, str, str, Callable]]]] = {
    "scipy ks_2samp -> drift.ks_test": (
        ["scipy/stats/tests/test_stats.py::TestKSTwoSamples"],
        [_module_attr("scipy.stats", "ks_2samp", ks_2samp)],
    ),
    "scipy ttest_ind(equal_var=False) -> abtest.welch_test": (
        ["scipy/stats/tests/test_stats.py::TestTTestInd",
         "scipy/stats/tests/test_stats.py::TestTTestIndFromStats",
         "scipy/stats/tests/test_stats.py::Test_ttest_CI"],
        [_module_attr("scipy.stats", "ttest_ind", ttest_ind),
         _module_attr("scipy.stats", "ttest_ind_from_stats", ttest_ind_from_stats)],
    ),
    "scipy chisquare/power_divergence -> abtest.srm_check": (
        ["scipy/stats/tests/test_stats.py::TestPowerDivergence",
         "scipy/stats/tests/test_stats.py::TestChisquare"],
        [_module_attr("scipy.stats", "chisquare", chisquare),
         _module_attr("scipy.stats", "power_divergence", power_divergence)],
    ),
    "scipy chi2_contingency -> drift.chi2_test": (
        ["scipy/stats/tests/test_contingency.py::TestChi2Contingency"],
        [_module_attr("scipy.stats.contingency", "chi2_contingency", chi2_contingency),
         _module_attr("scipy.stats", "chi2_contingency", chi2_contingency)],
    ),
    "scipy wasserstein_distance -> drift.wasserstein": (
        ["scipy/stats/tests/test_stats.py::TestWassersteinDistance"],
        [_module_attr("scipy.stats", "wasserstein_distance", wasserstein_distance)],
    ),
    "scipy jensenshannon -> drift.js_distance": (
        ["scipy/spatial/tests/test_distance.py::test_jensenshannon"],
        [_module_attr("scipy.spatial.distance", "jensenshannon", jensenshannon)],
    ),
    "scipy t/chi2/norm (+nct, kstwo, kstwobign, special.kolmogorov) -> stats": (
        ["scipy/stats/tests/test_distributions.py::TestStudentT",
         "scipy/stats/tests/test_distributions.py::TestChi2",
         "scipy/stats/tests/test_distributions.py::TestNorm",
         "scipy/stats/tests/test_distributions.py::TestNct",
         "scipy/stats/tests/test_distributions.py::TestKSTwo",
         "scipy/stats/tests/test_continuous_basic.py::test_cont_basic",
         "scipy/special/tests/test_kolmogorov.py::TestKolmogorov"],
        [_class_attr(_DIST, "t_gen", "_cdf", t_cdf), _class_attr(_DIST, "t_gen", "_sf", t_sf),
         _class_attr(_DIST, "t_gen", "_ppf", t_ppf), _class_attr(_DIST, "t_gen", "_isf", t_isf),
         _class_attr(_DIST, "chi2_gen", "_cdf", chi2_cdf), _class_attr(_DIST, "chi2_gen", "_sf", chi2_sf),
         _class_attr(_DIST, "norm_gen", "_cdf", norm_cdf), _class_attr(_DIST, "norm_gen", "_sf", norm_sf),
         _class_attr(_DIST, "norm_gen", "_ppf", norm_ppf), _class_attr(_DIST, "norm_gen", "_isf", norm_isf),
         _class_attr(_DIST, "nct_gen", "_sf", nct_sf), _class_attr(_DIST, "kstwo_gen", "_sf", kstwo_sf),
         _class_attr(_DIST, "kstwobign_gen", "_sf", kstwobign_sf),
         _module_attr("scipy.special", "kolmogorov", kolmogorov)],
    ),
    "statsmodels proportions_ztest -> abtest.proportion_test": (
        ["statsmodels/stats/tests/test_proportion.py::TestProportion::test_default_values",
         "statsmodels/stats/tests/test_proportion.py::TestProportion::test_scalar",
         "statsmodels/stats/tests/test_proportion.py::test_proportion_ztests"],
        [_module_attr("statsmodels.stats.proportion", "proportions_ztest", proportions_ztest)],
    ),
    "statsmodels TTestIndPower -> abtest.power/sample_size": (
        [f"statsmodels/stats/tests/test_power.py::TestTTPowerTwoS{i}" for i in range(1, 7)]
        + ["statsmodels/stats/tests/test_power.py::test_solve_power_impossible_one_sided_raises"],
        [_class_attr("statsmodels.stats.power", "TTestIndPower", "power", ttestind_power),
         _class_attr("statsmodels.stats.power", "TTestIndPower", "solve_power", ttestind_solve_power)],
    ),
}

#: suite -> the deliberately wrong implementation its adapters use with PRODAI_REF_MUTANT=1
MUTANTS = dict(zip(SUITES, [
    "the one-term limiting series 2 exp(-2 n_e D^2) as the p-value",
    "the normal distribution in place of Student's t for the p-value",
    "k degrees of freedom instead of k - 1",
    "Yates' continuity correction applied to every table",
    "the distance between the two means",
    "the divergence (the square of the distance)",
    "t as the normal, chi-squared by Wilson-Hilferty, normal sf as 1 - cdf, nct as a shifted t, "
    "kstwo as its limit, Kolmogorov's series cut to one term",
    "the unpooled standard error",
    "the normal approximation, for the power and for the sample size",
]))

#: test_cont_basic is parametrized over every continuous distribution: keep ours
_CONT_BASIC_DISTS = {"t", "chi2", "norm", "nct", "kstwo", "kstwobign"}

#: tests that read something our results do not have, whatever the call: skipped, with the reason
ITEM_SCOPE = {
    "-kstest]": "the one-sample kstest, not ks_2samp",
    "TestKSTwoSamples::test_location_sign": "reads statistic_sign, which ks_test does not report",
    "TestKSTwoSamples::test_some_code_paths": "calls scipy's private lattice-path routines, not ks_2samp",
    "TestStudentT::test_t_inf_df[": "compares t at df = inf with the normal: our t functions take finite df",
    "test_resampling_randomized[": "permutation and Monte Carlo p-values (method=), on a 3 x 4 table",
}

#: not run with the wrong implementations (each takes seconds; the other tests of the suite do)
MUTANT_SKIP = tuple(f"TestKSTwoSamples::{name}" for name in
                    ("test_gh12999", "test_gh12218", "testMediumBoth", "testMiddlingBoth", "testLargeBoth"))


def suite_of(nodeid: str) -> str | None:
    for name, (ids, _) in SUITES.items():
        for node in ids:
            if nodeid.startswith(node + "::") or nodeid == node or nodeid.startswith(node + "["):
                return name
    return None


# ---------------------------------------------------------------------------------------------
# The ledger and the hooks
# ---------------------------------------------------------------------------------------------

LEDGER: dict[str, dict[str, Any]] = {}
_current: dict[str, Any] = {"node": None}


def _entry(nodeid: str) -> dict[str, Any]:
    return LEDGER.setdefault(nodeid, {"suite": suite_of(nodeid), "ours": Counter(), "out": Counter(),
                                      "outcome": None, "message": "", "errors": Counter()})


def _wrap(target: str, original: Callable, adapter: Callable) -> Callable:
    def replaced(*args, **kwargs):
        entry = _entry(_current["node"]) if _current["node"] else None
        try:
            result = adapter(*args, **kwargs)
        except OutOfScope as exc:
            if entry is not None:
                entry["out"][f"{target}: {exc.reason}"] += 1
            return original(*args, **kwargs)
        except Exception as exc:  # ours raised: the test sees it (it may expect it)
            if entry is not None:
                entry["ours"][target] += 1
                entry["errors"][f"{target}: {type(exc).__name__}: {str(exc)[:120]}"] += 1
            raise
        if entry is not None:
            entry["ours"][target] += 1
        return result

    replaced.__wrapped__ = original
    replaced.__name__ = getattr(original, "__name__", target)
    return replaced


class _Patches:
    """Replace a suite's targets while one of its tests runs, everywhere the test can see them."""

    def __init__(self) -> None:
        self.undo: list[tuple[Any, str, Any]] = []

    def apply(self, item: pytest.Item, targets) -> None:
        for kind, module_name, name, adapter in targets:
            __import__(module_name)
            module = sys.modules[module_name]
            if kind == "method":
                cls_name, attr = name.split(".")
                cls = getattr(module, cls_name)
                original = cls.__dict__[attr]
                self._set(cls, attr, _wrap(name, original, adapter))
            else:
                original = getattr(module, name)
                wrapped = _wrap(name, original, adapter)
                self._set(module, name, wrapped)
                test_module = getattr(item, "module", None)
                if test_module is not None and test_module.__dict__.get(name) is original:
                    self._set(test_module, name, wrapped)

    def _set(self, owner: Any, attr: str, value: Any) -> None:
        self.undo.append((owner, attr, owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)))
        setattr(owner, attr, value)

    def restore(self) -> None:
        for owner, attr, value in reversed(self.undo):
            setattr(owner, attr, value)
        self.undo.clear()


def pytest_collection_modifyitems(config, items):
    kept, dropped = [], []
    for item in items:
        suite = suite_of(item.nodeid)
        if suite is None:
            dropped.append(item)
            continue
        if "test_cont_basic[" in item.nodeid:
            callspec = getattr(item, "callspec", None)
            if callspec is None or callspec.params.get("distname") not in _CONT_BASIC_DISTS:
                dropped.append(item)
                continue
        for key, reason in ITEM_SCOPE.items():  # the first key that matches gives the reason
            if key in item.nodeid:
                item.add_marker(pytest.mark.skip(reason=f"out of scope: {reason}"))
                break
        if MUTANT and any(key in item.nodeid for key in MUTANT_SKIP):
            item.add_marker(pytest.mark.skip(reason="slow: not repeated with the wrong implementation"))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    suite = suite_of(item.nodeid)
    patches = _Patches()
    _current["node"] = item.nodeid
    _entry(item.nodeid)
    if suite is not None:
        patches.apply(item, SUITES[suite][1])
    try:
        yield
    finally:
        patches.restore()
        _current["node"] = None


def pytest_runtest_logreport(report):
    entry = _entry(report.nodeid)
    if report.when == "call" or report.outcome != "passed":
        if entry["outcome"] in (None, "passed"):
            entry["outcome"] = report.outcome
            if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
                entry["message"] = str(report.longrepr[2])[:200]
            elif report.outcome == "failed":
                text = str(report.longrepr)
                lines = [ln for ln in text.splitlines() if ln.startswith("E ")]
                entry["message"] = " | ".join(lines[:4])[:600] or text[-400:]
    if getattr(report, "wasxfail", None) is not None:
        entry["outcome"] = "xfailed" if report.skipped else "xpassed"


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("PRODAI_REF_LEDGER")
    if not path:
        return
    out = {node: {**e, "ours": dict(e["ours"]), "out": dict(e["out"]), "errors": dict(e["errors"])}
           for node, e in LEDGER.items()}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"mutant": MUTANT, "items": out}, fh, indent=1, sort_keys=True)


def shipped(site_packages: str, node: str) -> bool:
    """Whether the test file of ``node`` is in the installed wheel (not every build ships its tests)."""
    return os.path.isfile(os.path.join(site_packages, node.split("::")[0]))


def selected_node_ids(site_packages: str) -> list[str]:
    """The node ids of the suites whose files are installed, as paths (what the runner passes to pytest)."""
    return [os.path.join(site_packages, node) for ids, _ in SUITES.values() for node in ids
            if shipped(site_packages, node)]


__all__ = ["SUITES", "MUTANTS", "ITEM_SCOPE", "MUTANT_SKIP", "OutOfScope", "selected_node_ids", "shipped",
           "suite_of"]
