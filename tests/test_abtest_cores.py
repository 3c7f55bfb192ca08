"""The ideas of lesson 04, as the notebook shows them, against the engine the lessons call and against scipy.

Each core of :mod:`prodai_lessons.abtest` states one idea in a few lines; where the public API computes
the same thing by another route (vectorised, rescaled against overflow, solved exactly), a property test
here asserts that both agree on ordinary inputs, with tight tolerances.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.power import NormalIndPower

from prodai_lessons._abtest_sequential import _aa_data
from prodai_lessons.abtest import (
    Experiment,
    assign_variant,
    first_significant_look,
    hash_bucket,
    pick_variant,
    sample_size,
    sample_size_formula,
    simulate_peeking,
    srm_check,
    srm_chi2,
    verdict,
    welch_t,
    welch_test,
)
from prodai_lessons.stats import normal_isf

# ------------------------------------------------------------------------------------------
# hash -> bucket -> variant
# ------------------------------------------------------------------------------------------

_splits = st.lists(st.floats(0.01, 1.0), min_size=1, max_size=6).map(
    lambda w: {f"v{i}": x / sum(w) for i, x in enumerate(w)})


@settings(max_examples=300, deadline=None)
@given(split=_splits, bucket=st.one_of(st.floats(0.0, 1.0, exclude_max=True), st.sampled_from([0.0, 0.5, 0.25])))
def test_pick_variant_is_the_range_holding_the_bucket(split, bucket):
    # Reference: the cumulative weights are the right ends of the ranges; [lo, hi) holds the bucket.
    names = list(split)
    ends = np.cumsum(list(split.values()))
    index = min(int(np.searchsorted(ends, bucket, side="right")), len(names) - 1)
    assert pick_variant(bucket, split) == names[index]


def test_pick_variant_ranges_are_half_open_and_ordered():
    split = {"a": 0.25, "b": 0.25, "c": 0.5}
    assert [pick_variant(u, split) for u in (0.0, 0.2499, 0.25, 0.4999, 0.5, 0.9999)] == ["a", "a", "b", "b", "c", "c"]
    # Weights that add up to a hair under 1: a bucket above their sum still gets the last variant.
    assert pick_variant(0.99999999999, {"x": 0.3, "y": 0.69999999999}) == "y"


@settings(max_examples=200, deadline=None)
@given(experiment=st.text(min_size=1, max_size=20), unit=st.text(max_size=20), split=_splits)
def test_assign_variant_is_the_core_on_the_documented_hash(experiment, unit, split):
    digest = hashlib.sha256(f"{len(experiment)}:{experiment}:{unit}".encode()).digest()
    assert hash_bucket(experiment, unit) == (int.from_bytes(digest[:8], "big") >> 11) / 2**53
    assert 0.0 <= hash_bucket(experiment, unit) < 1.0
    assert assign_variant(experiment, unit, split) == pick_variant(hash_bucket(experiment, unit), split)


# ------------------------------------------------------------------------------------------
# Welch's t and the Welch-Satterthwaite degrees of freedom
# ------------------------------------------------------------------------------------------

_sample = st.lists(st.floats(-1e3, 1e3, allow_subnormal=False), min_size=2, max_size=60).map(np.array)


def _ordinary(x: np.ndarray) -> bool:
    """Constant, or spread enough that its variance is an ordinary float64."""
    return bool(np.ptp(x) == 0 or np.ptp(x) > 1e-6)


@settings(max_examples=300, deadline=None)
@given(a=_sample, b=_sample)
def test_welch_core_equals_the_engine(a, b):
    assume(_ordinary(a) and _ordinary(b) and max(np.ptp(a), np.ptp(b)) > 0)
    t, df, p = welch_t(a, b)
    r = welch_test(a, b)
    assert t == pytest.approx(r.t_statistic, rel=1e-12, abs=1e-300)
    assert df == pytest.approx(r.df, rel=1e-12)
    assert p == pytest.approx(r.p_value, rel=1e-9, abs=1e-300)


@settings(max_examples=100, deadline=None)
@given(n_a=st.integers(2, 200), n_b=st.integers(2, 200), shift=st.floats(-2, 2), scale_b=st.floats(0.1, 10),
       seed=st.integers(0, 2**32 - 1))
def test_welch_core_matches_scipy(n_a, n_b, shift, scale_b, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(n_a), shift + scale_b * rng.standard_normal(n_b)
    ref = stats.ttest_ind(b, a, equal_var=False)
    t, df, p = welch_t(a, b)
    assert t == pytest.approx(ref.statistic, rel=1e-10)
    assert df == pytest.approx(ref.df, rel=1e-10)
    assert p == pytest.approx(ref.pvalue, rel=1e-8)


# ------------------------------------------------------------------------------------------
# Sample size: the closed form, and the exact t-based size the engine solves for
# ------------------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(d=st.floats(0.02, 1.0), alpha=st.sampled_from([0.01, 0.05, 0.1]), target=st.floats(0.5, 0.95))
def test_sample_size_formula_solves_the_normal_power_equation(d, alpha, target):
    # Ignoring the far tail, a two-sided normal test at alpha is a one-sided one at alpha / 2:
    # statsmodels solves that power equation numerically (to about 1e-6 relative).
    ref = NormalIndPower().solve_power(effect_size=d, alpha=alpha / 2, power=target, alternative="larger")
    n = sample_size_formula(mde=d * 1.5, sd=1.5, alpha=alpha, power=target)
    assert ref * (1 - 1e-6) <= n < ref * (1 + 1e-6) + 1


@settings(max_examples=60, deadline=None)
@given(d=st.floats(0.05, 1.0), alpha=st.sampled_from([0.01, 0.05]), target=st.floats(0.7, 0.95))
def test_exact_sample_size_is_the_formula_plus_about_z_squared_over_4(d, alpha, target):
    # The t-test estimates the noise: the exact size exceeds the normal formula by z_{1-alpha/2}^2 / 4
    # units per arm (Guenther 1981), whatever the size. The formula is rounded up, hence the -1.
    n = sample_size_formula(mde=d, sd=1.0, alpha=alpha, power=target)
    exact = sample_size(mde=d, sd=1.0, alpha=alpha, power=target)
    extra = float(normal_isf(alpha / 2)) ** 2 / 4
    assert extra - 1.1 <= exact.n_a_exact - n <= extra + 0.1
    assert 0 <= exact.n_a - n <= 2


def test_sample_size_formula_on_the_lesson_numbers():
    assert sample_size_formula(mde=0.3, sd=1.2) == 252
    assert sample_size(mde=0.3, sd=1.2).n_a == 253
    # Small samples: the same one unit is a large share.
    assert (sample_size_formula(mde=2.0, sd=1.0), sample_size(mde=2.0, sd=1.0).n_a) == (4, 6)


# ------------------------------------------------------------------------------------------
# Sample-ratio mismatch
# ------------------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(k=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_srm_core_matches_scipy_and_the_engine(k, seed):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(k)) * 0.9 + 0.1 / k
    w = w / w.sum()
    counts = rng.multinomial(int(rng.integers(10, 1_000_000)), w).tolist()
    chi2, p = srm_chi2(counts, w.tolist())
    ref = stats.chisquare(counts, f_exp=sum(counts) * w)
    assert chi2 == pytest.approx(ref.statistic, rel=1e-10, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)
    engine = srm_check(counts, {f"v{i}": x for i, x in enumerate(w.tolist())})
    assert (engine.statistic, engine.p_value, engine.df) == (chi2, p, k - 1)


# ------------------------------------------------------------------------------------------
# Peeking: one experiment in the core, thousands in the engine
# ------------------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(looks=st.integers(1, 8), batch=st.integers(2, 30), seed=st.integers(0, 2**32 - 1),
       alpha=st.sampled_from([0.05, 0.2]))
def test_peeking_core_equals_the_simulation(looks, batch, seed, alpha):
    n_exp = 40
    sim = simulate_peeking(n_experiments=n_exp, looks=looks, batch_size=batch, alpha=alpha, seed=seed)
    data = _aa_data(n_exp, looks, batch, seed)  # the outcomes the simulation analysed
    stops = []
    for i in range(n_exp):
        got = first_significant_look(data[0, i].ravel(), data[1, i].ravel(), looks, alpha)
        significant = np.flatnonzero(sim.p_values[i] < alpha)
        assert got == (int(significant[0]) + 1 if significant.size else None)
        stops.append(got)
    # naive_fpr[k-1]: the share of experiments stopped within the first k looks
    expected = [np.mean([s is not None and s <= k for s in stops]) for k in range(1, looks + 1)]
    np.testing.assert_array_equal(sim.naive_fpr, expected)


def test_peeking_core_checks_every_look_on_all_data_so_far():
    # b is far above a only in its last batch: only the last look can see it.
    a = np.tile([0.0, 1.0], 30)
    b = np.concatenate([np.tile([0.0, 1.0], 20), np.full(20, 5.0) + np.tile([0.0, 1.0], 10)])
    assert first_significant_look(a, b, looks=3) == 3
    assert first_significant_look(a, a.copy(), looks=3) is None


# ------------------------------------------------------------------------------------------
# The verdict and the decision
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("diff, p, better, expected", [
    (0.3, 0.01, "higher", "better"),
    (0.3, 0.01, "lower", "worse"),
    (-0.3, 0.01, "lower", "better"),
    (-0.3, 0.01, "higher", "worse"),
    (0.3, 0.05, "higher", "no significant change"),   # p = alpha is not significant
    (0.3, 0.2, "lower", "no significant change"),
    (0.0, 0.0, "higher", "no significant change"),
])
def test_verdict(diff, p, better, expected):
    assert verdict(diff, p, better) == expected


def test_analyze_reads_every_row_with_the_verdict():
    rng = np.random.default_rng(2)
    exp = Experiment("verdicts", ["v1", "v2"])
    exp.log("v1", "quality", rng.normal(3.5, 1.0, 400))
    exp.log("v2", "quality", rng.normal(3.8, 1.0, 400))
    exp.log("v1", "latency", rng.normal(900, 100, 400))
    exp.log("v2", "latency", rng.normal(960, 100, 400))
    d = exp.analyze("quality", {"latency": "lower"})
    for row in d.rows:
        assert row.verdict == verdict(row.test.diff, row.p_adjusted, row.better, d.alpha)
    assert [r.verdict for r in d.rows] == ["better", "worse"] and d.ship is None
    assert math.isfinite(d.srm.p_value)
