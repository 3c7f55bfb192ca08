"""Tests for prodai_lessons.abtest, cross-checked against scipy and statsmodels."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap
from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

from prodai_lessons import abtest as ab
from prodai_lessons.abtest import (
    Experiment,
    assign_variant,
    assign_variants,
    benjamini_hochberg,
    holm,
    power,
    proportion_test,
    sample_size,
    sequential_boundary,
    simulate_peeking,
    srm_check,
    unit_bucket,
    welch_p_values,
    welch_test,
)
from prodai_lessons.stats import normal_sf

HALF = {"control": 0.5, "treatment": 0.5}


def binomial_ok(count: int, n: int, p: float, z: float = 4.5) -> bool:
    """``count`` is within ``z`` standard deviations of Binomial(n, p)'s mean."""
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p))


def close(x: float, ref: float, rel: float, scale: float = 0.0) -> bool:
    """|x - ref| <= rel * max(|ref|, scale): relative, with a floor for values that cancel to ~0."""
    return abs(x - ref) <= rel * max(abs(ref), scale)


# ------------------------------------------------------------------------------------------
# Assignment
# ------------------------------------------------------------------------------------------

def test_bucket_follows_the_documented_hash():
    # Recompute the documented recipe independently: SHA-256 of "<len>:<experiment>:<unit>".
    for exp, unit in [("exp", "42"), ("checkout-v2", "user-7"), ("ünï", "x")]:
        digest = hashlib.sha256(f"{len(exp)}:{exp}:{unit}".encode()).digest()
        expected = (int.from_bytes(digest[:8], "big") >> 11) / 2**53
        assert unit_bucket(exp, unit) == expected
    assert unit_bucket("exp", 42) == unit_bucket("exp", "42")
    assert unit_bucket("ab", "c") != unit_bucket("a", "bc")  # the length prefix prevents this collision


_ASSIGN_SCRIPT = textwrap.dedent("""
    import json, sys
    from prodai_lessons.abtest import assign_variant
    split = {"a": 0.2, "b": 0.3, "c": 0.5}
    if sys.argv[1] == "builtin_hash":   # the common mistake, Python's salted hash(): must fail
        out = [["a", "b", "c"][hash(f"exp_{u}") % 3] for u in range(300)]
    else:
        out = [assign_variant(e, u, split) for e in ("exp-1", "exp-2") for u in range(300)]
    print(json.dumps(out))
""")


def _run_assignment(hash_seed: str, mode: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", _ASSIGN_SCRIPT, mode], env=env, capture_output=True,
                          text=True, check=True, timeout=120)
    return json.loads(done.stdout)


def test_assignment_identical_across_processes_and_hash_seeds():
    first = _run_assignment("1", "stable")
    second = _run_assignment("2", "stable")
    assert first == second
    here = [assign_variant(e, u, {"a": 0.2, "b": 0.3, "c": 0.5}) for e in ("exp-1", "exp-2") for u in range(300)]
    assert first == here
    # Must-fail case: Python's salted hash() gives a different split in each process.
    assert _run_assignment("1", "builtin_hash") != _run_assignment("2", "builtin_hash")


def test_shares_within_binomial_tolerance_over_100k_units():
    split = {"a": 0.5, "b": 0.3, "c": 0.2}
    n = 100_000
    got = assign_variants("share-test", range(n), split)
    counts = {v: got.count(v) for v in split}
    assert sum(counts.values()) == n
    for v, w in split.items():
        assert binomial_ok(counts[v], n, w), (v, counts[v])
    # The buckets themselves are uniform on [0, 1).
    u = np.array([unit_bucket("share-test", i) for i in range(20_000)])
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Must-fail: the same units under a mis-specified split are far outside the tolerance.
    assert not binomial_ok(counts["a"], n, 0.45)


def test_assign_variants_equals_assign_variant():
    split = {"x": 0.25, "y": 0.75}
    ids = ["u1", 2, np.int64(3), "u4"]
    assert assign_variants("e", ids, split) == [assign_variant("e", int(i) if isinstance(i, np.integer) else i, split)
                                                for i in ids]


def test_renaming_the_experiment_reshuffles_units():
    n = 20_000
    old = assign_variants("ranker-test", range(n), HALF)
    new = assign_variants("ranker-test-2", range(n), HALF)
    same = sum(o == w for o, w in zip(old, new))
    # Independent reshuffle: each unit keeps its variant with probability 1/2.
    assert binomial_ok(same, n, 0.5)
    # Must-fail: the same name keeps every unit.
    assert assign_variants("ranker-test", range(n), HALF) == old


def test_split_order_defines_ranges_and_extreme_weights():
    split = {"tiny": 1e-6, "rest": 1 - 1e-6}
    got = assign_variants("extreme", range(5000), split)
    assert set(got) <= {"tiny", "rest"} and got.count("rest") >= 4990


@pytest.mark.parametrize("split, exc, word", [
    ({"a": 0.5, "b": 0.4}, ValueError, "split"),
    ({"a": 1.2, "b": -0.2}, ValueError, "split['b']"),
    ({"a": 0.5, "b": float("nan")}, ValueError, "split['b']"),
    ({}, ValueError, "split"),
    ([0.5, 0.5], TypeError, "split"),
    ({1: 0.5, 2: 0.5}, TypeError, "split keys"),
])
def test_assign_bad_split(split, exc, word):
    with pytest.raises(exc, match=__import__("re").escape(word)):
        assign_variant("e", "u", split)


@pytest.mark.parametrize("experiment, unit, exc, word", [
    ("", "u", ValueError, "experiment"),
    (3, "u", TypeError, "experiment"),
    ("e", 1.5, TypeError, "unit_id"),
    ("e", None, TypeError, "unit_id"),
    ("e", True, TypeError, "unit_id"),
])
def test_assign_bad_ids(experiment, unit, exc, word):
    with pytest.raises(exc, match=word):
        assign_variant(experiment, unit, HALF)


def test_assign_variants_bad_element_is_named():
    with pytest.raises(TypeError, match=r"unit_ids\[1\]"):
        assign_variants("e", ["a", 2.5], HALF)


# ------------------------------------------------------------------------------------------
# Welch's t-test
# ------------------------------------------------------------------------------------------

def _check_against_scipy(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> None:
    got = welch_test(a, b, alpha=alpha)
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(confidence_level=1 - alpha)
    se = abs(got.diff / got.t_statistic) if got.t_statistic != 0 else 1.0
    assert close(got.t_statistic, ref.statistic, 1e-10, scale=1e-300)
    assert close(got.df, ref.df, 1e-10)
    assert close(got.p_value, ref.pvalue, 1e-8), (got.p_value, ref.pvalue)
    # Interval ends: relative 1e-8, with the standard error as the scale when an end is near 0.
    assert close(got.ci_low, ci.low, 1e-8, scale=se)
    assert close(got.ci_high, ci.high, 1e-8, scale=se)
    assert got.significant == (ref.pvalue < alpha)
    assert got.diff == pytest.approx(np.mean(b) - np.mean(a), rel=1e-12, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(n_a=st.integers(2, 300), n_b=st.integers(2, 300), shift=st.floats(-3, 3), scale_b=st.floats(0.05, 20),
       loc=st.floats(-1e3, 1e3), seed=st.integers(0, 2**32 - 1), alpha=st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_welch_matches_scipy(n_a, n_b, shift, scale_b, loc, seed, alpha):
    rng = np.random.default_rng(seed)
    a = loc + rng.standard_normal(n_a)
    b = loc + shift + scale_b * rng.standard_normal(n_b)
    _check_against_scipy(a, b, alpha)


@pytest.mark.parametrize("n_a, n_b, shift", [(2, 2, 0.5), (2, 100_000, 0.3), (1000, 1000, 0.05),
                                             (100_000, 100_000, 0.01), (100_000, 100_000, 0.02),
                                             (100_000, 50_000, 0.0), (30, 100_000, 0.4)])
def test_welch_matches_scipy_large_n(n_a, n_b, shift):
    rng = np.random.default_rng(n_a + 7 * n_b)
    a = rng.lognormal(0.0, 1.0, n_a)
    b = rng.lognormal(shift, 1.0, n_b)
    _check_against_scipy(a, b)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy's warning on the constant arm
def test_welch_one_arm_constant_matches_scipy():
    _check_against_scipy(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.5, 3.0, 4.0]))


def test_welch_zero_variance_in_both_arms_is_a_documented_result():
    same = welch_test([3.0, 3.0, 3.0], [3.0, 3.0])
    assert same.degenerate and same.p_value == 1.0 and same.t_statistic == 0.0
    assert not same.significant and same.ci_low == same.ci_high == 0.0 and same.df == 3
    apart = welch_test([1.0, 1.0], [2.0, 2.0, 2.0])
    assert apart.degenerate and apart.p_value == 0.0 and apart.t_statistic == math.inf
    assert apart.significant and apart.ci_low == apart.ci_high == 1.0 and apart.cohens_d == math.inf
    assert welch_test([2.0, 2.0], [1.0, 1.0]).t_statistic == -math.inf
    assert not welch_test([1.0, 2.0], [1.0, 2.0]).degenerate


def test_welch_effect_size_and_lift():
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 2, 50), rng.normal(11, 3, 70)
    r = welch_test(a, b)
    pooled = math.sqrt(((49) * np.var(a, ddof=1) + 69 * np.var(b, ddof=1)) / 118)
    assert r.cohens_d == pytest.approx((b.mean() - a.mean()) / pooled, rel=1e-12)
    assert r.lift == pytest.approx((b.mean() - a.mean()) / a.mean(), rel=1e-12)
    assert welch_test([-1.0, 1.0], [1.0, 2.0]).lift is None  # control mean 0: relative lift undefined


def test_welch_p_values_rowwise_equals_welch_test():
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=(20, 8)), rng.normal(0.3, 2.0, size=(20, 5))
    batch = welch_p_values(a, b)
    for i in range(20):
        assert batch[i] == pytest.approx(welch_test(a[i], b[i]).p_value, rel=1e-13)


def test_aa_false_positive_rate_at_n10_is_nominal():
    # 10,000 seeded A/A tests with 10 observations per arm: Welch with Student t holds alpha.
    rng = np.random.default_rng(20240605)
    a = rng.standard_normal((10_000, 10))
    b = rng.standard_normal((10_000, 10))
    p = welch_p_values(a, b)
    fpr = float(np.mean(p < 0.05))
    assert 0.04 <= fpr <= 0.06, fpr
    # Must-fail: the common mistake, a p-value from the normal instead of the Student t, on the same data.
    t, _, _, _ = ab.welch_from_moments(a.mean(1), a.var(1, ddof=1), 10, b.mean(1), b.var(1, ddof=1), 10)
    p_normal = 2 * np.asarray(normal_sf(np.abs(t)))
    fpr_normal = float(np.mean(p_normal < 0.05))
    assert fpr_normal > 0.06, fpr_normal


@pytest.mark.parametrize("a, b, exc, word", [
    ([1.0], [1.0, 2.0], ValueError, "a must be"),
    ([1.0, 2.0], [3.0], ValueError, "b must be"),
    ([1.0, float("nan")], [1.0, 2.0], ValueError, "a must contain finite"),
    ([1.0, 2.0], [1.0, float("inf")], ValueError, "b must contain finite"),
    ("12", [1.0, 2.0], TypeError, "a must be"),
    ([1.0, 2.0], [["x", "y"]], TypeError, "b must"),
    ([[1.0, 2.0]], [1.0, 2.0], ValueError, "a must be a 1-D"),
])
def test_welch_bad_input(a, b, exc, word):
    with pytest.raises(exc, match=word):
        welch_test(a, b)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, float("nan")])
def test_welch_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        welch_test([1.0, 2.0], [2.0, 3.0], alpha=alpha)


def test_welch_p_values_bad_input():
    with pytest.raises(ValueError, match="a must be a 2-D"):
        welch_p_values([1.0, 2.0], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="same number of rows"):
        welch_p_values(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"b must have at least 2 column\(s\)"):
        welch_p_values(np.zeros((2, 3)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="b must contain finite"):
        welch_p_values(np.zeros((2, 3)), np.full((2, 3), np.nan))


@pytest.mark.parametrize("a, b, msg", [
    ([1e300, -1e300], [1e300, 1e300], "a: values too large to compute a variance in float64"),
    ([1.0, 2.0], [1e300, -1e300, 0.0], "b: values too large to compute a variance in float64"),
    ([1e308, 1.7e308], [1.0, 2.0], "a: values too large to compute a mean in float64"),
    ([1.0, 2.0], [-1.7e308, -1e308], "b: values too large to compute a mean in float64"),
    ([9e307, 9e307, -1e307], [1.0, 2.0], "a: values too large to compute a mean in float64"),
    ([1e-300, 2e-300], [1.0, 3.0], "a: values too close to 0 to compute a variance"),
])
def test_welch_finite_values_whose_moments_overflow_name_the_argument(a, b, msg):
    """Finite inputs whose mean, variance or difference of means is not representable in float64: a
    ValueError about ``a``/``b`` (not about an internal ``df``), and no numpy RuntimeWarning leaks."""
    import re
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked RuntimeWarning would fail here
        with pytest.raises(ValueError, match="^" + re.escape(msg)):
            welch_test(a, b)
        # the same rows inside a batch: the argument and the row are named
        with pytest.raises(ValueError, match="^" + re.escape(msg) + r".*\(row 1\)"):
            welch_p_values([[1.0, 2.0, 4.0][: len(a)], a], [[0.0, 5.0, 1.0][: len(b)], b])


@pytest.mark.parametrize("scale", [1e-150, 1e-120, 1e120, 1e150])
def test_welch_is_scale_invariant_where_squared_variances_leave_float64(scale):
    """t, df and p do not depend on the unit of the metric, even where var**2 (used by the Welch-Satterthwaite
    df) underflows or overflows float64; the oracle is scipy on the same data at unit scale."""
    import warnings

    rng = np.random.default_rng(17)
    a, b = rng.normal(0.0, 1.0, 12), rng.normal(0.8, 3.0, 9)
    ref = stats.ttest_ind(b, a, equal_var=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = welch_test(a * scale, b * scale)
        batch = welch_p_values(np.array([a, a]) * scale, np.array([b, b]) * scale)
    assert close(got.t_statistic, ref.statistic, 1e-10)
    assert close(got.df, ref.df, 1e-10)
    assert close(got.p_value, ref.pvalue, 1e-8)
    assert close(got.diff, (b.mean() - a.mean()) * scale, 1e-12)
    assert close(got.cohens_d, welch_test(a, b).cohens_d, 1e-12)
    np.testing.assert_allclose(batch, ref.pvalue, rtol=1e-8)


# ------------------------------------------------------------------------------------------
# Two proportions
# ------------------------------------------------------------------------------------------

@st.composite
def _counts(draw):
    n_a = draw(st.integers(1, 2_000_000))
    n_b = draw(st.integers(1, 2_000_000))
    s_a = draw(st.integers(0, n_a))
    s_b = draw(st.integers(0, n_b))
    return s_a, n_a, s_b, n_b


@settings(max_examples=200, deadline=None)
@given(c=_counts(), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_proportion_test_matches_statsmodels(c, alpha):
    s_a, n_a, s_b, n_b = c
    got = proportion_test(s_a, n_a, s_b, n_b, alpha=alpha)
    pooled = (s_a + s_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):  # statsmodels returns nan here; ours is the documented limit
        assert got.z_statistic == 0.0 and got.p_value == 1.0 and not got.significant
        return
    z, p = proportions_ztest([s_b, s_a], [n_b, n_a])
    low, high = confint_proportions_2indep(s_b, n_b, s_a, n_a, method="wald", compare="diff", alpha=alpha)
    assert abs(got.z_statistic - z) <= 1e-10 * max(1.0, abs(z))
    assert abs(got.p_value - p) <= 1e-10
    assert close(got.p_value, p, 1e-8, scale=1e-300) or p < 1e-290
    assert abs(got.ci_low - low) <= 1e-10 and abs(got.ci_high - high) <= 1e-10
    assert got.diff == pytest.approx(s_b / n_b - s_a / n_a, abs=1e-15)


def test_proportion_test_values_and_lift():
    r = proportion_test(100, 1000, 130, 1000)
    assert r.rate_a == 0.1 and r.rate_b == 0.13 and r.lift == pytest.approx(0.3)
    assert proportion_test(0, 10, 3, 10).lift is None
    assert proportion_test(0, 10, 0, 12).p_value == 1.0
    assert proportion_test(10, 10, 12, 12).p_value == 1.0


@pytest.mark.parametrize("args, exc, word", [
    ((11, 10, 1, 10), ValueError, "successes_a must be <= n_a"),
    ((1, 10, 11, 10), ValueError, "successes_b must be <= n_b"),
    ((-1, 10, 1, 10), ValueError, "successes_a"),
    ((1, -10, 1, 10), ValueError, "n_a"),
    ((1, 10, 1, 0), ValueError, "n_b"),
    ((1.5, 10, 1, 10), TypeError, "successes_a"),
    ((1, 10.0, 1, 10), TypeError, "n_a"),
])
def test_proportion_bad_input(args, exc, word):
    with pytest.raises(exc, match=word):
        proportion_test(*args)


# ------------------------------------------------------------------------------------------
# SRM
# ------------------------------------------------------------------------------------------

def test_srm_flags_505k_vs_495k():
    r = srm_check({"control": 505_000, "treatment": 495_000}, HALF)
    assert r.mismatch and r.statistic == pytest.approx(100.0) and r.p_value < 1e-20
    ok = srm_check({"control": 500_400, "treatment": 499_600}, HALF)
    assert not ok.mismatch


@settings(max_examples=100, deadline=None)
@given(k=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_srm_matches_scipy_chisquare(k, seed):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(k)) * 0.98 + 0.02 / k
    w = w / w.sum()
    names = [f"v{i}" for i in range(k)]
    split = dict(zip(names, w.tolist()))
    counts = rng.multinomial(int(rng.integers(10, 100_000)), w)
    got = srm_check(dict(zip(names, counts.tolist())), split)
    ref = stats.chisquare(counts, f_exp=counts.sum() * np.array(list(split.values())))
    assert close(got.statistic, ref.statistic, 1e-10, scale=1e-12)
    assert close(got.p_value, ref.pvalue, 1e-8, scale=1e-300)
    # Sequence form, in the split's order, gives the same answer.
    assert srm_check(counts.tolist(), split).p_value == got.p_value


@pytest.mark.parametrize("threshold", [0.01, 0.05])
def test_srm_false_alarm_rate_on_fair_splits(threshold):
    rng = np.random.default_rng(99)
    split = {"a": 0.5, "b": 0.3, "c": 0.2}
    runs = 10_000
    draws = rng.multinomial(5000, list(split.values()), size=runs)
    flagged = sum(srm_check(row.tolist(), split, threshold=threshold).mismatch for row in draws)
    assert binomial_ok(flagged, runs, threshold), flagged
    # Must-fail: a 2% leak from "c" to "a" is flagged far more often than the threshold.
    leaky = rng.multinomial(5000, [0.51, 0.3, 0.19], size=1000)
    assert sum(srm_check(r.tolist(), split, threshold=threshold).mismatch for r in leaky) > 3 * threshold * 1000


@pytest.mark.parametrize("counts, split, exc, word", [
    ({"control": 5, "other": 5}, HALF, ValueError, "counts must have the variants"),
    ({"control": -1, "treatment": 5}, HALF, ValueError, "counts['control']"),
    ({"control": 1.5, "treatment": 5}, HALF, TypeError, "counts['control']"),
    ({"control": 0, "treatment": 0}, HALF, ValueError, "positive total"),
    ([1, 2, 3], HALF, ValueError, "one entry per variant"),
    ({"control": 5, "treatment": 5}, {"control": 0.6, "treatment": 0.6}, ValueError, "split"),
    ({"control": 5}, {"control": 1.0}, ValueError, "at least 2 variants"),
    ("55", HALF, TypeError, "counts"),
])
def test_srm_bad_input(counts, split, exc, word):
    with pytest.raises(exc, match=__import__("re").escape(word)):
        srm_check(counts, split)


# ------------------------------------------------------------------------------------------
# Power and sample size
# ------------------------------------------------------------------------------------------

def _scipy_t_power(n_a: float, d: float, alpha: float, ratio: float) -> float:
    import scipy.stats as ss

    n_b = ratio * n_a
    df = n_a + n_b - 2
    nc = d / math.sqrt(1 / n_a + 1 / n_b)
    crit = ss.t.isf(alpha / 2, df)
    return float(ss.nct.sf(crit, df, nc) + ss.nct.cdf(-crit, df, nc))


@settings(max_examples=40, deadline=None)
@example(d=1.4296875, alpha=0.1, target=0.5, ratio=3.0)  # statsmodels' root is 1e-6 off here
@given(d=st.floats(0.05, 1.5), alpha=st.sampled_from([0.01, 0.05, 0.1]), target=st.floats(0.5, 0.95),
       ratio=st.sampled_from([0.5, 1.0, 2.0, 3.0]))
def test_sample_size_means_matches_ttestindpower(d, alpha, target, ratio):
    got = sample_size(mde=d * 2.0, sd=2.0, alpha=alpha, power=target, ratio=ratio)
    ref = TTestIndPower().solve_power(effect_size=d, alpha=alpha, power=target, ratio=ratio)
    assert abs(got.n_a - ref) <= 1.0 and got.n_a >= ref - 1e-6
    # The unrounded size solves the power equation (two-sided noncentral t, evaluated with scipy).
    # statsmodels' own root finder stops at ~1e-6 relative at tiny n, so it is not the judge here.
    assert _scipy_t_power(got.n_a_exact, d, alpha, ratio) == pytest.approx(target, abs=1e-9)
    assert got.n_a_exact == pytest.approx(ref, rel=1e-5)
    assert got.n_b == math.ceil(ratio * got.n_a_exact)
    # The inverse: power at n_a reaches the target, one unit fewer does not (when n_a is not at its floor).
    assert power(got.n_a, mde=d * 2.0, sd=2.0, alpha=alpha, ratio=ratio) >= target
    if got.n_a > 2:
        assert power(got.n_a - 1, mde=d * 2.0, sd=2.0, alpha=alpha, ratio=ratio) < target


@settings(max_examples=40, deadline=None)
@given(baseline=st.floats(0.02, 0.6), rel_lift=st.floats(0.03, 0.5), alpha=st.sampled_from([0.01, 0.05]),
       target=st.floats(0.5, 0.95), ratio=st.sampled_from([0.5, 1.0, 2.0]))
def test_sample_size_proportions_matches_normalindpower(baseline, rel_lift, alpha, target, ratio):
    mde = baseline * rel_lift
    got = sample_size(mde=mde, baseline=baseline, alpha=alpha, power=target, ratio=ratio)
    h = proportion_effectsize(baseline + mde, baseline)
    ref = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=target, ratio=ratio)
    assert abs(got.n_a - ref) <= 1.0 and got.n_a >= ref - 1e-6
    assert got.effect_size == pytest.approx(abs(h), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 5000), d=st.floats(0.01, 1.0), alpha=st.sampled_from([0.01, 0.05, 0.1]),
       ratio=st.sampled_from([0.5, 1.0, 2.0]))
def test_power_matches_statsmodels(n, d, alpha, ratio):
    got = power(n, mde=d, sd=1.0, alpha=alpha, ratio=ratio)
    ref = TTestIndPower().power(effect_size=d, nobs1=n, alpha=alpha, ratio=ratio)
    if np.isnan(ref):  # statsmodels' nct._cdf is nan far in the left tail: same formula, by symmetry
        df, nc = n * (1 + ratio) - 2, d * math.sqrt(n * ratio / (1 + ratio))
        crit = stats.t.isf(alpha / 2, df)
        ref = stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc)
    assert np.isfinite(ref)
    assert got == pytest.approx(ref, rel=1e-7, abs=1e-12)
    got_p = power(n, mde=0.05, baseline=0.3, alpha=alpha, ratio=ratio)
    ref_p = NormalIndPower().power(effect_size=proportion_effectsize(0.35, 0.3), nobs1=n, alpha=alpha, ratio=ratio)
    assert got_p == pytest.approx(ref_p, rel=1e-9)


def test_sample_size_sign_of_mde_does_not_matter_and_bigger_effects_need_fewer_units():
    assert sample_size(-0.3, sd=1.2).n_a == sample_size(0.3, sd=1.2).n_a
    assert sample_size(0.6, sd=1.2).n_a < sample_size(0.3, sd=1.2).n_a
    assert sample_size(0.3, sd=1.2, power=0.9).n_a > sample_size(0.3, sd=1.2, power=0.8).n_a


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(mde=0.0, sd=1.0), ValueError, "mde"),
    (dict(mde=0.1), ValueError, "exactly one of sd"),
    (dict(mde=0.1, sd=1.0, baseline=0.2), ValueError, "exactly one of sd"),
    (dict(mde=0.1, sd=0.0), ValueError, "sd"),
    (dict(mde=0.5, baseline=0.6), ValueError, "baseline + mde"),
    (dict(mde=0.1, baseline=1.0), ValueError, "baseline"),
    (dict(mde=0.1, sd=1.0, power=1.0), ValueError, "power"),
    (dict(mde=0.1, sd=1.0, power=0.04), ValueError, "power must be greater than alpha"),
    (dict(mde=0.1, sd=1.0, ratio=0.0), ValueError, "ratio"),
    (dict(mde="0.1", sd=1.0), TypeError, "mde"),
])
def test_sample_size_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=__import__("re").escape(word)):
        sample_size(**kwargs)


def test_power_bad_input():
    with pytest.raises(ValueError, match="n_a"):
        power(1, mde=0.1, sd=1.0)
    with pytest.raises(TypeError, match="n_a"):
        power(10.5, mde=0.1, sd=1.0)


# ------------------------------------------------------------------------------------------
# Multiple testing
# ------------------------------------------------------------------------------------------

_pvals = st.lists(st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0])),
                  min_size=1, max_size=40)


@settings(max_examples=120, deadline=None)
@given(p=_pvals, alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_holm_and_bh_match_statsmodels(p, alpha):
    for ours, method in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
        got = ours(p, alpha=alpha)
        # multipletests runs gc.collect() on every call (~40 ms inside pytest); skip that here.
        with mock.patch("gc.collect", lambda *args: 0):
            reject, adjusted, _, _ = multipletests(p, alpha=alpha, method=method)
        np.testing.assert_allclose(got.p_adjusted, adjusted, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(got.reject, reject)


def test_holm_is_stricter_than_bh_on_a_classic_example():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    assert holm(p).reject.sum() <= benjamini_hochberg(p).reject.sum()
    # Must-fail: uncorrected testing would reject 5 of these.
    assert sum(x < 0.05 for x in p) > holm(p).reject.sum()


@pytest.mark.parametrize("p, exc, word", [
    ([], ValueError, "p_values"),
    ([0.1, 1.2], ValueError, "p_values must lie in [0, 1]"),
    ([0.1, -0.01], ValueError, "p_values must lie in [0, 1]"),
    ([0.1, float("nan")], ValueError, "p_values"),
    ("0.1", TypeError, "p_values"),
])
def test_multiple_testing_bad_input(p, exc, word):
    for f in (holm, benjamini_hochberg):
        with pytest.raises(exc, match=__import__("re").escape(word)):
            f(p)


# ------------------------------------------------------------------------------------------
# Experiment
# ------------------------------------------------------------------------------------------

def _experiment(quality_shift=0.3, latency_shift=0.0, drop_treatment=0.0, n=4000, seed=5):
    rng = np.random.default_rng(seed)
    exp = Experiment("answer-model-v2", ["v1", "v2"])
    for user in range(n):
        v = exp.assign(user)
        if v == "v2" and rng.random() < drop_treatment:
            continue
        shift = v == "v2"
        exp.log(v, "quality", rng.normal(3.5 + quality_shift * shift, 1.2))
        exp.log(v, "latency_ms", rng.lognormal(np.log(800) + latency_shift * shift, 0.3))
        exp.log(v, "cost_usd", rng.normal(0.002, 0.0003))
    return exp


def test_experiment_ships_a_real_improvement():
    d = _experiment().analyze("quality", {"latency_ms": "lower", "cost_usd": "lower"})
    assert d.ship == "v2" and d.decision == "ship v2" and not d.srm.mismatch
    assert [r.metric for r in d.rows] == ["quality", "cost_usd", "latency_ms"]
    assert d.rows[0].verdict == "better"
    assert "quality" in repr(d) and "<table>" in d._repr_html_()


def test_experiment_guardrail_regression_blocks_shipping():
    d = _experiment(latency_shift=0.2).analyze("quality", {"latency_ms": "lower", "cost_usd": "lower"})
    assert d.ship is None and d.decision == "keep v1"
    assert {r.metric: r.verdict for r in d.rows}["latency_ms"] == "worse"


def test_experiment_no_effect_keeps_control_and_srm_invalidates():
    assert _experiment(quality_shift=0.0).analyze("quality").ship is None
    broken = _experiment(drop_treatment=0.1).analyze("quality", {"latency_ms": "lower"})
    assert broken.srm.mismatch and broken.decision.startswith("invalid") and broken.rows == ()


def test_experiment_lower_is_better_primary_and_multiple_variants():
    rng = np.random.default_rng(8)
    exp = Experiment("three-way", ["a", "b", "c"], {"a": 0.4, "b": 0.3, "c": 0.3})
    for v, n, mu in (("a", 400, 10.0), ("b", 300, 9.0), ("c", 300, 10.0)):
        exp.log(v, "latency", rng.normal(mu, 2.0, n))
    d = exp.analyze("latency", primary_better="lower")
    assert d.ship == "b"
    assert len(d.rows) == 2 and d.rows[1].verdict == "no significant change"
    # Holm adjustment over the two treatments.
    raw = [r.test.p_value for r in d.rows]
    np.testing.assert_allclose([r.p_adjusted for r in d.rows], multipletests(raw, method="holm")[1])


def test_experiment_assignment_uses_its_name_and_split():
    exp = Experiment("e1", ["a", "b"], {"a": 0.3, "b": 0.7})
    assert [exp.assign(i) for i in range(50)] == [assign_variant("e1", i, {"a": 0.3, "b": 0.7}) for i in range(50)]


def test_experiment_bad_input():
    with pytest.raises(ValueError, match="variants must name at least 2"):
        Experiment("e", ["only"])
    with pytest.raises(ValueError, match="variants must be unique"):
        Experiment("e", ["a", "a"])
    with pytest.raises(ValueError, match="split must have exactly the variants"):
        Experiment("e", ["a", "b"], {"a": 0.5, "c": 0.5})
    with pytest.raises(ValueError, match="split weights must sum to 1"):
        Experiment("e", ["a", "b"], {"a": 0.5, "b": 0.6})
    exp = Experiment("e", ["a", "b"])
    with pytest.raises(ValueError, match="variant must be one of 'a', 'b'"):
        exp.log("c", "quality", 1.0)
    with pytest.raises(ValueError, match="values must contain finite"):
        exp.log("a", "quality", float("nan"))
    with pytest.raises(TypeError, match="metric"):
        exp.log("a", 3, 1.0)
    exp.log("a", "quality", [1.0, 2.0, 3.0])
    exp.log("b", "quality", [1.0])
    with pytest.raises(ValueError, match="primary must be one of"):
        exp.analyze("latency")
    with pytest.raises(ValueError, match="guardrails"):
        exp.analyze("quality", {"quality": "lower"})
    with pytest.raises(ValueError, match="guardrails\\['quality'\\]|guardrails"):
        exp.analyze("quality", {"quality": "sideways"})
    with pytest.raises(ValueError, match="at least 2 outcomes for variant 'b'"):
        exp.analyze("quality", srm_threshold=1e-9)


# ------------------------------------------------------------------------------------------
# Sequential boundaries and peeking
# ------------------------------------------------------------------------------------------

# Published constants for alpha = 0.05, two-sided (Jennison & Turnbull 2000, Tables 2.1 and 2.3).
_POCOCK = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413, 10: 2.555}
_OBF = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}


@pytest.mark.parametrize("looks", sorted(_POCOCK))
def test_pocock_constants_match_published_table(looks):
    b = sequential_boundary(looks, kind="pocock")
    assert abs(b.constant - _POCOCK[looks]) <= 0.0006
    assert all(z == pytest.approx(b.constant) for z in b.z_bounds)


@pytest.mark.parametrize("looks", sorted(_OBF))
def test_obrien_fleming_constants_match_published_table(looks):
    b = sequential_boundary(looks, kind="obrien-fleming")
    assert abs(b.constant - _OBF[looks]) <= 0.0006
    assert b.z_bounds[-1] == pytest.approx(b.constant)
    assert b.z_bounds[0] == pytest.approx(b.constant * math.sqrt(looks))


def test_one_look_is_the_fixed_horizon_test():
    assert sequential_boundary(1).z_bounds[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-5)


@pytest.mark.parametrize("kind", ["pocock", "obrien-fleming"])
def test_boundary_holds_alpha_by_monte_carlo(kind):
    # Independent check of the numerical integration: Brownian motion at 5 equally spaced looks.
    looks = 5
    b = sequential_boundary(looks, kind=kind)
    rng = np.random.default_rng(1)
    z = np.cumsum(rng.standard_normal((200_000, looks)), axis=1) / np.sqrt(np.arange(1, looks + 1))
    crossed = int((np.abs(z) >= np.array(b.z_bounds)).any(axis=1).sum())
    assert binomial_ok(crossed, 200_000, 0.05)
    # Must-fail: the naive 1.96 at every look.
    assert (np.abs(z) >= 1.96).any(axis=1).mean() > 0.1


def test_peeking_inflates_and_boundary_fixes():
    looks = 10
    res = simulate_peeking(n_experiments=4000, looks=looks, batch_size=20,
                           boundary=sequential_boundary(looks, kind="pocock"), seed=7)
    assert binomial_ok(round(res.naive_fpr[0] * 4000), 4000, 0.05)
    assert np.all(np.diff(res.naive_fpr) >= 0) and res.naive_fpr[-1] > 0.12
    assert binomial_ok(round(res.boundary_fpr * 4000), 4000, 0.05)
    obf = simulate_peeking(n_experiments=4000, looks=looks, batch_size=20,
                           boundary=sequential_boundary(looks, kind="obrien-fleming"), seed=7)
    assert binomial_ok(round(obf.boundary_fpr * 4000), 4000, 0.05)
    # Same seed, same numbers; another seed, other numbers.
    small = [simulate_peeking(n_experiments=300, looks=3, batch_size=5, seed=s).p_values for s in (7, 7, 8)]
    np.testing.assert_array_equal(small[0], small[1])
    assert not np.array_equal(small[0], small[2])


def test_sequential_bad_input():
    with pytest.raises(ValueError, match="looks"):
        sequential_boundary(0)
    with pytest.raises(ValueError, match="kind"):
        sequential_boundary(3, kind="haybittle")
    with pytest.raises(ValueError, match="boundary must be computed for looks=4"):
        simulate_peeking(looks=4, boundary=sequential_boundary(3))
    with pytest.raises(ValueError, match="batch_size"):
        simulate_peeking(batch_size=1)


def test_frozen_results_cannot_be_mutated_through_their_fields():
    srm = srm_check({"control": 480, "treatment": 520}, HALF)
    for mapping in (srm.observed, srm.expected):
        with pytest.raises(TypeError):
            mapping["control"] = 0
        with pytest.raises(AttributeError):
            mapping.update(control=0)
    assert srm.observed == {"control": 480, "treatment": 520} and srm == srm_check([480, 520], HALF)
    for res in (holm([0.01, 0.2, 0.03]), benjamini_hochberg([0.01, 0.2, 0.03])):
        for arr in (res.p_adjusted, res.reject):
            with pytest.raises(ValueError, match="read-only"):
                arr[0] = 0
    peek = simulate_peeking(50, looks=3, batch_size=5, seed=1)
    for arr in (peek.naive_fpr, peek.p_values):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0
    mine = np.array([0.5, 0.01])
    res = ab.MultipleTestResult(p_adjusted=mine, reject=np.array([False, True]), alpha=0.05, method="x")
    mine[0] = 0.0  # the caller's array stays writable and the result keeps its own copy
    assert res.p_adjusted[0] == 0.5
    b = ab.SequentialBoundary(kind="pocock", looks=2, alpha=0.05, constant=2.178, z_bounds=[2.178, 2.178],
                              nominal_alpha=[0.0294, 0.0294])
    assert isinstance(b.z_bounds, tuple) and isinstance(b.nominal_alpha, tuple)
    exp = Experiment("frozen", ["control", "treatment"])
    rng = np.random.default_rng(0)
    for v in ("control", "treatment"):
        exp.log(v, "m", rng.normal(size=50))
    dec = exp.analyze(primary="m")
    assert isinstance(dec.rows, tuple) and isinstance(dec.reasons, tuple)
    listed = ab.ExperimentDecision(experiment="e", control="control", decision="keep", ship=None, srm=srm,
                                   rows=list(dec.rows), reasons=list(dec.reasons), alpha=0.05)
    assert listed.rows == dec.rows and isinstance(listed.rows, tuple) and isinstance(listed.reasons, tuple)


@pytest.mark.parametrize("a, exc, msg", [
    ([["1", "2", "3"]], TypeError, r"a must contain real numbers; got dtype <U1"),
    ([[b"1", b"2", b"3"]], TypeError, r"a must contain real numbers; got dtype \|S1"),
    (np.array([[1 + 5j, 2, 3]]), TypeError, r"a must contain real numbers; got dtype complex128"),
    (np.array([[1.0, "2", 3.0]], dtype=object), TypeError, r"a must contain real numbers only; got '2'"),
    (np.array([[1.0, 2j, 3.0]], dtype=object), TypeError, r"a must contain real numbers only; got 2j"),
    ([[1.0, 2.0, 10**400]], ValueError, r"a must contain numbers within the float64 range"),
])
def test_welch_p_values_rejects_strings_complex_and_overflow_as_welch_test(a, exc, msg):
    """The batch must refuse what welch_test refuses (strings were parsed, complex cast to its real part
    with only a ComplexWarning), with the argument named."""
    import warnings

    b = [[2.0, 3.0, 5.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc, match=msg):
            welch_p_values(a, b)
        with pytest.raises(exc, match=msg.replace("a must", "b must")):
            welch_p_values(b, a)
        with pytest.raises((TypeError, ValueError), match="a must"):
            welch_test(np.asarray(a, dtype=object)[0], b[0])


def test_welch_p_values_accepts_boolean_conversions_like_welch_test():
    rng = np.random.default_rng(4)
    a, b = rng.random((5, 40)) < 0.3, rng.random((5, 30)) < 0.5
    batch = welch_p_values(a, b)
    for i in range(5):
        assert batch[i] == pytest.approx(welch_test(a[i], b[i]).p_value, rel=1e-13)
        assert batch[i] == pytest.approx(stats.ttest_ind(b[i].astype(float), a[i].astype(float), equal_var=False).pvalue,
                                         rel=1e-9)
