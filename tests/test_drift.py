"""Tests of prodai_lessons.drift against the reference libraries.

Oracles: ``scipy.stats.ks_2samp`` (KS statistic and p-value, every method), ``scipy.stats.wasserstein_distance``,
``scipy.spatial.distance.jensenshannon(base=2)`` and ``scipy.stats.entropy`` on the same histograms,
``scipy.stats.chi2_contingency(correction=False)`` (our chi2 test is the 2 x K test of homogeneity), and PSI
recomputed by hand (explicit formula, comparisons instead of searchsorted). Mutants (the common one-term
Kolmogorov p-value, an ECDF that ignores ties) must fail the same tolerances.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon as sp_jensenshannon

from prodai_lessons.drift import (
    Chi2Result,
    DriftReport,
    WindowedDriftMonitor,
    chi2_test,
    feature_drift_report,
    jensen_shannon,
    kl_divergence,
    ks_test,
    psi,
    psi_interpretation,
    wasserstein,
    wasserstein_normed,
)

STAT_TOL = 1e-12
P_TOL = 1e-8


# --------------------------------------------------------------------------------------------
# Random sample pairs: sizes log-uniform in 1..5000, half of them with heavy ties
# --------------------------------------------------------------------------------------------


def _random_pairs(seed: int, count: int, max_size: int = 5000) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        n, m = (int(v) for v in np.exp(rng.uniform(0, math.log(max_size), 2)).round())
        kind = i % 4
        if kind == 0:  # continuous, shifted
            x, y = rng.normal(0, 1, n), rng.normal(rng.uniform(-0.5, 0.5), rng.uniform(0.7, 1.5), m)
        elif kind == 1:  # heavy ties: few integer levels
            levels = int(rng.integers(1, 12))
            x, y = rng.integers(0, levels, n).astype(float), rng.integers(0, levels + 1, m).astype(float)
        elif kind == 2:  # rounded data: ties within and across samples
            x, y = rng.exponential(1, n).round(1), rng.exponential(1.2, m).round(1)
        else:  # same distribution
            x, y = rng.uniform(0, 1, n), rng.uniform(0, 1, m)
        pairs.append((x, y))
    # fixed corner cases: size 1, equal sizes (the n == m branch), identical samples, disjoint samples
    pairs += [
        (np.array([0.0]), np.array([1.0])),
        (np.array([3.0]), np.array([3.0])),
        (np.array([1.0]), rng.normal(size=40)),
        (rng.normal(size=300), rng.normal(0.2, 1, size=300)),
        (rng.integers(0, 3, 1000).astype(float), rng.integers(0, 3, 1000).astype(float)),
        (np.arange(50.0), np.arange(50.0)),
        (np.arange(20.0), np.arange(20.0) + 100),
        (rng.normal(size=4999), rng.normal(size=5000)),
    ]
    return pairs


PAIRS = _random_pairs(20240611, 200)


def _scipy_ks(x, y, method):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sps.ks_2samp(x, y, method=method)
    return res, any(issubclass(w.category, RuntimeWarning) for w in caught)


def _ours_ks(x, y, method):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = ks_test(x, y, method)
    return res, any(issubclass(w.category, RuntimeWarning) for w in caught)


def _exact_pvalue_by_path_counting(d, n, m):
    """Independent oracle: P(D >= d) by counting, with exact integers, the monotone lattice paths from (0, 0)
    to (n, m) that stay strictly inside |i/n - j/m| < d (i.e. |i m - j n| < h g, d = h / lcm)."""
    g = math.gcd(n, m)
    lcm = n // g * m
    h = round(d * lcm)
    inside = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if abs(i * m - j * n) >= h * g:
                continue
            inside[i][j] = 1 if i == j == 0 else (inside[i - 1][j] if i else 0) + (inside[i][j - 1] if j else 0)
    return 1.0 - inside[n][m] / math.comb(n + m, n)


def _assert_matches_scipy(x, y, method):
    """Statistic and p-value equal to scipy's, fallback (RuntimeWarning) where scipy falls back.

    One documented exception: for n == m and h = 1, scipy's exact sum can round to slightly above 1, which
    makes it give up ("Exact calculation unsuccessful") and fall back to asymp. Our exact p-value is then
    checked against exact integer path counting instead (it is the exact value, 1.0 up to rounding)."""
    ref, ref_warned = _scipy_ks(x, y, method)
    res, warned = _ours_ks(x, y, method)
    assert abs(res.statistic - ref.statistic) <= STAT_TOL, (x.size, y.size, method)
    if ref_warned and not warned and method != "asymp" and x.size * y.size <= 10_000:
        assert res.method == "exact"
        exact = _exact_pvalue_by_path_counting(res.statistic, x.size, y.size)
        assert abs(res.p_value - exact) <= 1e-12, (x.size, y.size, res.p_value, exact)
        return res, ref
    assert abs(res.p_value - ref.pvalue) <= P_TOL, (x.size, y.size, method, res.p_value, ref.pvalue)
    assert warned == ref_warned, (x.size, y.size, method)  # falls back to asymp where scipy does
    if method == "asymp":
        assert res.method == "asymp"
    elif method == "exact" or max(x.size, y.size) <= 10_000:
        assert res.method == ("asymp" if ref_warned else "exact")
    return res, ref


def test_path_counting_oracle_agrees_with_scipy_where_scipy_is_exact():
    rng = np.random.default_rng(8)
    for _ in range(40):
        n, m = (int(v) for v in rng.integers(1, 25, 2))
        x, y = rng.integers(0, 6, n).astype(float), rng.integers(0, 7, m).astype(float)
        ref, warned = _scipy_ks(x, y, "exact")
        if not warned:
            assert abs(_exact_pvalue_by_path_counting(ref.statistic, n, m) - ref.pvalue) <= 1e-12


def test_scipy_exact_gives_up_on_equal_sizes_with_h_1_and_ours_is_exact():
    x, y = np.zeros(7), np.array([0.0] * 6 + [1.0])  # D = 1/7: P(D >= 1/7) = 1 exactly
    ref, ref_warned = _scipy_ks(x, y, "exact")
    assert ref_warned and ref.pvalue < 1 - 1e-5  # scipy fell back to asymp: 0.99996
    res, _ = _assert_matches_scipy(x, y, "exact")
    assert res.method == "exact" and res.p_value == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("method", ["exact", "asymp", "auto"])
def test_ks_matches_scipy_on_random_pairs(method):
    assert len(PAIRS) >= 200
    for x, y in PAIRS:
        if method == "asymp" and x.size == y.size == 1:
            # scipy's asymp p-value is NaN for n = m = 1 (effective size round(0.5) = 0): ours refuses
            assert math.isnan(_scipy_ks(x, y, "asymp")[0].pvalue)
            with pytest.raises(ValueError, match="method='asymp' is undefined"):
                ks_test(x, y, method)
            continue
        _assert_matches_scipy(x, y, method)


def test_ks_auto_switches_over_at_10000_like_scipy():
    rng = np.random.default_rng(5)
    x_big, x_edge, y = rng.normal(size=10_001), rng.normal(size=10_000), rng.normal(0.05, 1, size=10_000)
    for x, expected in ((x_edge, "exact"), (x_big, "asymp")):
        res = ks_test(x, y)
        ref = sps.ks_2samp(x, y, method="auto")
        assert res.method == expected
        assert abs(res.statistic - ref.statistic) <= STAT_TOL
        assert abs(res.p_value - ref.pvalue) <= P_TOL


def test_ks_large_samples_asymp_matches_scipy():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=200_000), rng.normal(0.01, 1, size=150_000).round(2)
    res, ref = ks_test(x, y), sps.ks_2samp(x, y)
    assert res.method == "asymp"
    assert abs(res.statistic - ref.statistic) <= STAT_TOL
    assert abs(res.p_value - ref.pvalue) <= P_TOL


def test_ks_location_is_where_the_gap_is():
    for x, y in PAIRS[:60]:
        if x.size == y.size == 1:
            continue
        res = ks_test(x, y, "asymp")
        gap = abs(np.mean(x <= res.location) - np.mean(y <= res.location))
        assert abs(gap - res.statistic) <= 1e-12


def _one_term_pvalue(d, n, m):
    """A common shortcut for the p-value: the first term of the Kolmogorov series (a known-wrong mutant)."""
    en = n * m / (n + m)
    lam = (math.sqrt(en) + 0.12 + 0.11 / math.sqrt(en)) * d
    return min(1.0, max(0.0, 2 * math.exp(-2 * lam**2))) if lam > 0 else 1.0


def test_mutant_one_term_kolmogorov_pvalue_fails_the_tolerance():
    errors = []
    for x, y in PAIRS:
        if x.size == y.size == 1:
            continue  # scipy's asymp p-value is NaN there
        ref = sps.ks_2samp(x, y, method="asymp")
        errors.append(abs(_one_term_pvalue(ref.statistic, x.size, y.size) - ref.pvalue))
    assert max(errors) > 0.05  # way beyond P_TOL: the tolerance above would catch this implementation
    assert sum(e > P_TOL for e in errors) > len(errors) // 4


def test_mutant_ecdf_ignoring_ties_fails_the_tolerance():
    """Ranks as ECDF values, F_x(x_(i)) = (i+1)/n without merging tied values, give another statistic on tied data."""
    def rank_statistic(x, y):
        x, y = np.sort(x), np.sort(y)
        at_x = np.arange(1, x.size + 1) / x.size - np.searchsorted(y, x, "right") / y.size
        at_y = np.searchsorted(x, y, "right") / x.size - np.arange(1, y.size + 1) / y.size
        return max(np.max(np.abs(at_x)), np.max(np.abs(at_y)))

    tied = [(x, y) for x, y in PAIRS if np.unique(np.concatenate([x, y])).size < x.size + y.size]
    assert len(tied) > 100
    diffs = [abs(rank_statistic(x, y) - sps.ks_2samp(x, y).statistic) for x, y in tied]
    assert max(diffs) > 0.05
    # and the same mutant agrees with scipy when there are no ties (the tie handling is what differs)
    untied = [(x, y) for x, y in PAIRS if np.unique(np.concatenate([x, y])).size == x.size + y.size]
    assert all(abs(rank_statistic(x, y) - sps.ks_2samp(x, y).statistic) <= STAT_TOL for x, y in untied)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    st.sampled_from(["exact", "asymp", "auto"]),
)
def test_ks_hypothesis_small_tied_samples(a, b, method):
    x, y = np.array(a, float) / 3, np.array(b, float) / 3
    if method == "asymp" and x.size == y.size == 1:
        method = "exact"  # asymp is undefined there (scipy: NaN; ours: ValueError, tested above)
    res, _ = _assert_matches_scipy(x, y, method)
    # symmetric in the samples, and invariant under a strictly increasing transformation
    swapped = ks_test(y, x, method)
    assert swapped.statistic == pytest.approx(res.statistic, abs=STAT_TOL)
    assert ks_test(np.exp(x), np.exp(y), method).statistic == pytest.approx(res.statistic, abs=STAT_TOL)


def test_ks_constant_data():
    res = ks_test([2.0] * 30, [2.0] * 7)
    assert (res.statistic, res.p_value) == (0.0, 1.0)
    res = ks_test([2.0] * 30, [3.0] * 7)
    assert res.statistic == 1.0
    assert abs(res.p_value - sps.ks_2samp([2.0] * 30, [3.0] * 7).pvalue) <= P_TOL


# --------------------------------------------------------------------------------------------
# Wasserstein, Jensen-Shannon, KL
# --------------------------------------------------------------------------------------------


def test_wasserstein_matches_scipy():
    for x, y in PAIRS[:150]:
        ref = sps.wasserstein_distance(x, y)
        assert abs(wasserstein(x, y) - ref) <= 1e-12 * max(1.0, ref)
        std = np.std(x)
        if std > 0:
            assert abs(wasserstein_normed(x, y) - ref / std) <= 1e-12 * max(1.0, ref / std)


def test_wasserstein_is_a_shift_for_a_translated_sample():
    x = np.random.default_rng(1).normal(size=500)
    assert wasserstein(x, x + 0.25) == pytest.approx(0.25, abs=1e-12)
    assert wasserstein_normed(x, x + 0.25) == pytest.approx(0.25 / np.std(x), abs=1e-12)


def test_wasserstein_constant_data_is_defined():
    assert wasserstein([1.0] * 5, [1.0] * 3) == 0.0
    assert wasserstein([1.0] * 5, [4.0] * 3) == 3.0
    assert wasserstein_normed([1.0] * 5, [1.0] * 3) == 0.0
    assert wasserstein_normed([1.0] * 5, [1.5, 1.0]) == math.inf


def _histograms(x, y, n_bins):
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    return np.histogram(x, bins=n_bins, range=(lo, hi))[0], np.histogram(y, bins=n_bins, range=(lo, hi))[0]


@pytest.mark.parametrize("n_bins", [2, 7, 30])
def test_jensen_shannon_matches_scipy_on_same_histograms(n_bins):
    for x, y in PAIRS[:120]:
        p, q = _histograms(x, y, n_bins)
        ref = sp_jensenshannon(p, q, base=2)
        assert abs(jensen_shannon(x, y, n_bins=n_bins) - ref) <= 1e-12


def test_jensen_shannon_categorical_and_bounds():
    rng = np.random.default_rng(3)
    for _ in range(50):
        a = rng.choice(["a", "b", "c", "d"], size=int(rng.integers(1, 300)), p=[0.4, 0.3, 0.2, 0.1])
        b = rng.choice(["b", "c", "d", "e"], size=int(rng.integers(1, 300)))
        cats = np.union1d(a, b)
        p = np.array([np.sum(a == c) for c in cats])
        q = np.array([np.sum(b == c) for c in cats])
        assert abs(jensen_shannon(a, b, categorical=True) - sp_jensenshannon(p, q, base=2)) <= 1e-12
    assert jensen_shannon([0.0] * 4, [0.0] * 9) == 0.0
    assert jensen_shannon([0.0] * 4, [1.0] * 9) == pytest.approx(1.0, abs=1e-12)  # disjoint: the maximum


@pytest.mark.parametrize("eps", [1e-4, 1e-2])
def test_kl_divergence_matches_scipy_entropy_on_smoothed_histograms(eps):
    for x, y in PAIRS[:120]:
        p, q = _histograms(x, y, 30)
        r = np.where(p == 0, eps, p / p.sum())
        c = np.where(q == 0, eps, q / q.sum())
        ref = sps.entropy(r, c)  # renormalises, as documented for kl_divergence
        assert abs(kl_divergence(x, y, eps=eps) - ref) <= 1e-12 * max(1.0, ref)


def test_kl_divergence_is_asymmetric_and_zero_on_equal_samples():
    x = np.random.default_rng(2).normal(size=400)
    assert kl_divergence(x, x) == 0.0
    y = x * 2 + 1
    assert kl_divergence(x, y) != pytest.approx(kl_divergence(y, x), rel=1e-3)


# --------------------------------------------------------------------------------------------
# PSI
# --------------------------------------------------------------------------------------------


def test_psi_hand_computed_two_bins():
    ref = np.arange(1.0, 11.0)  # median 5.5: bins (-inf, 5.5], (5.5, inf), shares 1/2, 1/2
    cur = np.arange(1.0, 9.0)  # shares 5/8, 3/8
    res = psi(ref, cur, n_bins=2)
    expected = (5 / 8 - 1 / 2) * math.log((5 / 8) / (1 / 2)) + (3 / 8 - 1 / 2) * math.log((3 / 8) / (1 / 2))
    assert res.value == pytest.approx(expected, rel=1e-14)
    np.testing.assert_array_equal(res.bin_edges, [-np.inf, 5.5, np.inf])
    np.testing.assert_allclose(res.ref_share, [0.5, 0.5])
    np.testing.assert_allclose(res.cur_share, [5 / 8, 3 / 8])
    assert res.interpretation == "no drift"


def test_psi_hand_computed_empty_bin_uses_eps():
    res = psi(np.arange(1.0, 11.0), [1.0, 2.0, 3.0], n_bins=2)
    expected = (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert res.value == pytest.approx(expected, rel=1e-14)
    assert res.interpretation == "significant drift"
    res = psi(np.arange(1.0, 11.0), [1.0, 2.0, 3.0], n_bins=2, eps=1e-3)
    assert res.value == pytest.approx((0.5) * math.log(2) + (1e-3 - 0.5) * math.log(1e-3 / 0.5), rel=1e-14)


def test_psi_open_outer_bins_count_values_beyond_the_reference_range():
    res = psi(np.arange(10.0), [-100.0, 100.0, 1e9], n_bins=5)
    assert res.cur_share[0] == pytest.approx(1 / 3) and res.cur_share[-1] == pytest.approx(2 / 3)
    assert res.cur_share.sum() == pytest.approx(1.0)


def test_psi_discrete_data_has_no_zero_width_bins():
    ref = np.array([0.0] * 5 + [1.0] * 5)  # deciles: 0,0,0,0,0.5,1,1,1,1 -> unique 0, 0.5, 1
    res = psi(ref, ref, n_bins=10)
    # the lowest edge 0 is the (tied) minimum: (-inf, 0) gets its own bin, {0} is one ulp wide
    np.testing.assert_array_equal(res.bin_edges, [-np.inf, -5e-324, 0.0, 0.5, 1.0, np.inf])
    assert np.all(np.diff(res.bin_edges) > 0)
    np.testing.assert_allclose(res.ref_share, [0.0, 0.5, 0.0, 0.5, 0.0])
    assert res.value == 0.0


def test_psi_categorical_keeps_unseen_categories():
    res = psi(["a", "a", "b", "b"], ["a", "b", "c", "c"], categorical=True)
    assert list(res.bin_edges) == ["a", "b", "c"]
    np.testing.assert_allclose(res.ref_share, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(res.cur_share, [0.25, 0.25, 0.5])
    expected = 2 * (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert res.value == pytest.approx(expected, rel=1e-14)


def _psi_by_hand(x, y, n_bins, eps=1e-4):
    q = np.unique(np.quantile(x, np.arange(1, n_bins) / n_bins))
    # the lowest edge on the reference minimum or on a tie: "below q_1" and "equal to q_1" are two bins
    split = q[0] == x.min() or np.sum(x == q[0]) >= 2
    bins = [lambda v: v < q[0], lambda v: v == q[0]] if split else [lambda v: v <= q[0]]
    bins += [lambda v, lo=lo, hi=hi: (v > lo) & (v <= hi) for lo, hi in zip(q[:-1], q[1:])]
    bins += [lambda v: v > q[-1]]
    full = np.concatenate(([-np.inf], [np.nextafter(q[0], -np.inf)] if split else [], q, [np.inf]))
    r = np.array([np.mean(in_bin(x)) for in_bin in bins])
    c = np.array([np.mean(in_bin(y)) for in_bin in bins])
    rs, cs = np.where(r == 0, eps, r), np.where(c == 0, eps, c)
    return sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(rs, cs)), full, r, c


def test_psi_matches_the_formula_on_random_pairs():
    for x, y in PAIRS[:120]:
        for n_bins in (2, 10):
            value, full, r, c = _psi_by_hand(x, y, n_bins)
            res = psi(x, y, n_bins=n_bins)
            np.testing.assert_array_equal(res.bin_edges, full)
            np.testing.assert_allclose(res.ref_share, r, rtol=0, atol=1e-15)
            np.testing.assert_allclose(res.cur_share, c, rtol=0, atol=1e-15)
            assert abs(res.value - value) <= 1e-12 * max(1.0, value)


def test_psi_mutant_without_open_outer_bins_differs():
    """Bins closed at the reference min/max lose the current values outside: a different PSI."""
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=2000), rng.normal(0.8, 1.5, size=2000)
    edges = np.quantile(x, np.linspace(0, 1, 11))
    r, c = np.histogram(x, edges)[0] / x.size, np.histogram(y, edges)[0] / y.size
    closed = np.sum((c - r) * np.log(np.where(c == 0, 1e-4, c) / r))
    assert abs(closed - psi(x, y).value) > 0.05


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    st.integers(2, 12),
)
def test_psi_properties(a, b, n_bins):
    x, y = np.array(a), np.array(b)
    res = psi(x, y, n_bins=n_bins)
    assert res.value >= 0.0
    assert res.interpretation == psi_interpretation(res.value)
    assert np.all(np.diff(res.bin_edges) > 0)  # no zero-width bin
    assert len(res.ref_share) == len(res.bin_edges) - 1 <= n_bins + 1
    if len(res.ref_share) == n_bins + 1:  # only with the extra bin below a tied lowest edge
        assert res.bin_edges[1] == np.nextafter(res.bin_edges[2], -np.inf)
    assert psi(x, x - (x.max() - x.min()) - 1.0, n_bins=n_bins).value >= 2.0  # a move below is seen
    assert psi(x, x + (x.max() - x.min()) + 1.0, n_bins=n_bins).value >= 2.0  # and one above
    assert res.ref_share.sum() == pytest.approx(1.0) and res.cur_share.sum() == pytest.approx(1.0)
    assert psi(x, x, n_bins=n_bins).value == 0.0
    assert psi(x, y, n_bins=n_bins).value == res.value  # deterministic


def test_psi_bands():
    assert [psi_interpretation(v) for v in (0.0, 0.0999, 0.1, 0.1999, 0.2, 5.0)] == [
        "no drift", "no drift", "moderate drift", "moderate drift", "significant drift", "significant drift"]


def test_psi_constant_data_is_defined():
    res = psi([4.0] * 20, [4.0] * 5)
    assert res.value == 0.0
    np.testing.assert_array_equal(res.bin_edges, [-np.inf, np.nextafter(4.0, -np.inf), 4.0, np.inf])
    res = psi([4.0] * 20, [5.0] * 5)
    assert math.isfinite(res.value) and res.interpretation == "significant drift"


_MOVED_AWAY = 2 * (1 - 1e-4) * math.log(1 / 1e-4)  # all of the current sample in a bin the reference leaves empty


def test_psi_sees_a_constant_reference_move_down_as_well_as_up():
    """With the lowest edge on the reference minimum, a bin (-inf, min] would hold the whole reference and
    everything that moved below it: a move down would read PSI 0 while the same move up reads 18.4."""
    down = psi([5.0] * 50, [-1000.0] * 50)
    up = psi([5.0] * 50, [6.0] * 50)
    assert up.value == pytest.approx(_MOVED_AWAY, rel=1e-14)
    assert down.value == pytest.approx(_MOVED_AWAY, rel=1e-14)
    assert down.interpretation == up.interpretation == "significant drift"
    np.testing.assert_array_equal(down.bin_edges, [-np.inf, np.nextafter(5.0, -np.inf), 5.0, np.inf])
    np.testing.assert_array_equal(down.ref_share, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(down.cur_share, [1.0, 0.0, 0.0])
    assert psi([5.0], [4.0]).value == pytest.approx(_MOVED_AWAY, rel=1e-14)  # a single reference value too


def test_psi_sees_zero_inflated_mass_moving_below_the_reference():
    rng = np.random.default_rng(31)
    ref = np.where(rng.random(2000) < 0.6, 0.0, rng.exponential(3.0, 2000))
    zeros = np.mean(ref == 0.0)
    cur = np.where(ref == 0.0, -50.0, ref)  # only the zeros move, below everything in the reference
    res = psi(ref, cur)
    # the positive part keeps its shares, so PSI is the moved share counted twice against eps
    expected = 2 * (zeros - 1e-4) * math.log(zeros / 1e-4)
    assert res.value == pytest.approx(expected, rel=1e-12)
    assert res.interpretation == "significant drift"
    assert res.ref_share[0] == 0.0 and res.cur_share[0] == pytest.approx(zeros)
    assert ks_test(ref, cur).statistic == pytest.approx(zeros)  # what KS saw all along
    # a single reference value below the zeros must not hide the move again (lowest edge tied, not the min)
    ref2 = np.append(ref, -1.0)
    cur2 = np.where(ref2 == 0.0, -50.0, ref2)
    assert psi(ref2, cur2).value > 5.0
    # the same move upwards, above the reference maximum, is seen too (the top bin never holds the tie)
    top = np.where(rng.random(2000) < 0.6, 10.0, 10.0 - rng.exponential(3.0, 2000))
    tens = np.mean(top == 10.0)
    below_ten = np.unique(np.quantile(top, np.arange(1, 10) / 10))[-2]  # the edge before the tie at 10
    rest = np.mean((top > below_ten) & (top < 10.0))  # the tie's bin (below_ten, 10] also holds these
    expected = (tens - 1e-4) * math.log(tens / 1e-4) + tens * math.log((tens + rest) / rest)
    assert psi(top, np.where(top == 10.0, 60.0, top)).value == pytest.approx(expected, rel=1e-12)


def test_psi_of_a_boolean_feature_flipping_either_way():
    rng = np.random.default_rng(32)
    ref = np.column_stack([np.ones(300), rng.normal(size=300)])
    cur = np.column_stack([np.zeros(300), rng.normal(size=300)])
    # as a number (the low-cardinality rule off): KS, and PSI on quantile bins with the tie split off
    rep = feature_drift_report(ref, cur, ["flag", "x"], low_cardinality=0)
    assert rep["flag"].test == "ks" and rep["flag"].statistic == 1.0  # KS D
    assert rep["flag"].psi == pytest.approx(_MOVED_AWAY, rel=1e-14)  # all True -> all False
    back = feature_drift_report(cur, ref, ["flag", "x"], low_cardinality=0)
    assert back["flag"].psi == pytest.approx(_MOVED_AWAY, rel=1e-14)  # all False -> all True
    # by default two values are a discrete feature: chi-squared (X^2 = N for a perfect split), one bin per value
    for a, b in ((ref, cur), (cur, ref)):
        flag = feature_drift_report(a, b, ["flag", "x"])["flag"]
        assert (flag.kind, flag.test, flag.statistic) == ("discrete", "chi2", 600.0)
        assert flag.psi == pytest.approx(_MOVED_AWAY, rel=1e-14)
    assert psi(np.array([True] * 8 + [False] * 2), np.array([False] * 10)).value > 1.0


def test_psi_continuous_data_gets_no_extra_bin():
    """The extra bin below the minimum appears only when the lowest edge sits on a tie or on the minimum:
    continuous data keeps its n_bins quantile bins (an always-present empty bin would inflate PSI)."""
    rng = np.random.default_rng(33)
    for n in (11, 101, 1001, 5000):  # 11, 101, 1001: the first decile falls exactly on a data value
        x = rng.normal(size=n)
        res = psi(x, rng.normal(size=300))
        assert res.bin_edges.size == 11 and res.ref_share[0] > 0


# --------------------------------------------------------------------------------------------
# Chi-squared
# --------------------------------------------------------------------------------------------


def test_chi2_matches_scipy_chi2_contingency_without_correction():
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(200):
        k_ref, k_cur = int(rng.integers(1, 8)), int(rng.integers(1, 9))
        a = rng.integers(0, k_ref, size=int(rng.integers(1, 2000)))
        b = rng.integers(0, k_cur, size=int(rng.integers(1, 2000)))
        res = chi2_test(a, b)
        cats = np.union1d(a, b)
        table = np.array([[np.sum(a == c) for c in cats], [np.sum(b == c) for c in cats]])
        ref = sps.chi2_contingency(table, correction=False)
        assert res.dof == ref.dof == cats.size - 1
        assert abs(res.statistic - ref.statistic) <= 1e-10 * max(1.0, ref.statistic)
        assert abs(res.p_value - ref.pvalue) <= 1e-10 + 1e-9 * ref.pvalue
        checked += 1
    assert checked == 200


def test_chi2_unseen_category_and_strings():
    res = chi2_test(["x", "y"] * 50, ["x", "y", "z", "z"] * 25)
    ref = sps.chi2_contingency([[50, 50, 0], [25, 25, 50]], correction=False)
    assert res.dof == 2
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_chi2_constant_data_is_defined():
    assert chi2_test(["a"] * 10, ["a"] * 3) == Chi2Result(0.0, 1.0, 0)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _four_features(n_ref, n_cur, seed=0):
    rng = np.random.default_rng(seed)
    ref = np.column_stack([rng.normal(0, 1, n_ref), rng.normal(5, 2, n_ref), rng.exponential(1, n_ref),
                           rng.integers(0, 3, n_ref)])
    cur = np.column_stack([rng.normal(0, 1, n_cur), rng.normal(6, 2.5, n_cur), rng.exponential(1, n_cur),
                           rng.choice(3, n_cur, p=[0.2, 0.3, 0.5])])
    return ref, cur


def test_report_small_reference_uses_ks_and_chi2():
    ref, cur = _four_features(1000, 500)
    rep = feature_drift_report(ref, cur, ["a", "b", "c", "kind"], categorical=["kind"])
    assert isinstance(rep, DriftReport)
    assert [f.test for f in rep.features] == ["ks", "ks", "ks", "chi2"]
    for j, f in enumerate(rep.features[:3]):
        ks = sps.ks_2samp(ref[:, j], cur[:, j])
        assert abs(f.statistic - ks.statistic) <= STAT_TOL and abs(f.p_value - ks.pvalue) <= P_TOL
        assert f.drifted == (ks.pvalue < 0.05)
        assert f.psi == pytest.approx(psi(ref[:, j], cur[:, j]).value, abs=1e-15)
        assert f.mean_shift == pytest.approx(cur[:, j].mean() - ref[:, j].mean(), abs=1e-12)
    kind = rep["kind"]
    assert kind.p_value == pytest.approx(chi2_test(ref[:, 3], cur[:, 3]).p_value, rel=1e-12)
    assert kind.mean_shift is None and kind.kind == "categorical"
    assert rep["b"].drifted and rep["kind"].drifted and not rep["a"].drifted
    assert rep.share_drifted == sum(f.drifted for f in rep.features) / 4
    assert rep.dataset_drift == (rep.share_drifted >= 0.5)


def test_report_large_reference_uses_wasserstein_and_jensen_shannon():
    ref, cur = _four_features(1001, 800)
    rep = feature_drift_report(ref, cur, categorical=[3])
    assert [f.name for f in rep.features] == ["feature_0", "feature_1", "feature_2", "feature_3"]
    assert [f.test for f in rep.features] == ["wasserstein_normed"] * 3 + ["jensen_shannon"]
    for j, f in enumerate(rep.features[:3]):
        expected = sps.wasserstein_distance(ref[:, j], cur[:, j]) / np.std(ref[:, j])
        assert abs(f.statistic - expected) <= 1e-12 and f.p_value is None
        assert f.drifted == (expected >= 0.1)
    js = jensen_shannon(ref[:, 3], cur[:, 3], categorical=True)
    assert rep.features[3].statistic == pytest.approx(js, abs=1e-15)
    assert rep.features[3].drifted == (js >= 0.1)


def test_report_text_html_and_plot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ref, cur = _four_features(300, 200)
    rep = feature_drift_report(ref, cur, ["a", "b<&>", "c", "kind"], categorical=["kind"])
    text = repr(rep)
    assert text.splitlines()[0].startswith("Drift report:") and "b<&>" in text and "chi-squared" in text
    html = rep._repr_html_()
    assert "<table>" in html and "b&lt;&amp;&gt;" in html and "b<&>" not in html
    fig = rep.plot()
    assert len(fig.axes) == 8
    plt.close(fig)
    fig = rep.plot(["b<&>"])
    assert len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="features"):
        rep.plot(["nope"])


def test_report_accepts_mixed_object_arrays_and_dataframes():
    rng = np.random.default_rng(4)
    ref = np.empty((50, 2), dtype=object)
    ref[:, 0], ref[:, 1] = rng.normal(size=50), rng.choice(["u", "v"], 50)
    cur = ref.copy()
    rep = feature_drift_report(ref, cur, ["num", "cat"], categorical=["cat"])
    assert rep["num"].statistic == 0.0 and rep["cat"].statistic == 0.0 and rep.share_drifted == 0.0
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"num": rng.normal(size=50), "cat": rng.choice(["u", "v"], 50)})
    rep = feature_drift_report(df, df, categorical=["cat"])
    assert [f.name for f in rep.features] == ["num", "cat"]


def test_report_constant_features_are_defined():
    ref = np.column_stack([np.full(2000, 3.0), np.arange(2000.0)])
    rep = feature_drift_report(ref, ref)
    assert rep.features[0].statistic == 0.0 and not rep.features[0].drifted
    rep = feature_drift_report(ref, ref + 1)  # one value, then another: discrete, disjoint categories
    assert rep.features[0].test == "jensen_shannon" and rep.features[0].statistic == 1.0
    assert rep.features[0].drifted
    rep = feature_drift_report(ref, ref + 1, low_cardinality=0)  # as a number: infinitely many std
    assert rep.features[0].statistic == math.inf and rep.features[0].drifted


def test_report_bad_input():
    ref, cur = _four_features(100, 50)
    with pytest.raises(ValueError, match="current must have the same number of features"):
        feature_drift_report(ref, cur[:, :3])
    with pytest.raises(ValueError, match="reference must be a 2-D array"):
        feature_drift_report(ref[:, 0], cur)
    with pytest.raises(ValueError, match="feature_names must have 4"):
        feature_drift_report(ref, cur, ["a", "b"])
    with pytest.raises(ValueError, match="feature_names must be unique"):
        feature_drift_report(ref, cur, ["a", "a", "b", "c"])
    with pytest.raises(ValueError, match="categorical: no feature named 'zz'"):
        feature_drift_report(ref, cur, categorical=["zz"])
    with pytest.raises(ValueError, match="categorical: column index 9"):
        feature_drift_report(ref, cur, categorical=[9])
    with pytest.raises(TypeError, match="categorical"):
        feature_drift_report(ref, cur, categorical="feature_0")
    bad = cur.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="current column 'feature_1' must contain finite numbers"):
        feature_drift_report(ref, bad)
    text = np.array([["a"] * 4] * 10, dtype=object)
    with pytest.raises(TypeError, match="reference column 'feature_0'"):
        feature_drift_report(text, text)
    with pytest.raises(ValueError, match="reference must have at least one row"):
        feature_drift_report(np.empty((0, 4)), cur)
    with pytest.raises(ValueError, match="alpha"):
        feature_drift_report(ref, cur, alpha=1.5)


# --------------------------------------------------------------------------------------------
# Windowed monitor
# --------------------------------------------------------------------------------------------


def test_monitor_flags_after_the_shift_only():
    rng = np.random.default_rng(21)
    reference = rng.normal(size=5000)
    stream = np.concatenate([rng.normal(size=3000), rng.normal(1.0, 1, size=2000)])
    mon = WindowedDriftMonitor(reference, window=500, every=250)
    assert mon.test == "wasserstein_normed"
    res = mon.run(stream)
    np.testing.assert_array_equal(res.check_times, np.arange(499, 5000, 250))
    assert res.first_drift_time is not None and 3000 <= res.first_drift_time <= 3500
    assert np.all(res.drift_times >= 3000)
    assert res.drift_times[-1] == 4999
    for t, s in zip(res.check_times, res.statistics):
        window = stream[t - 499: t + 1]
        assert s == pytest.approx(sps.wasserstein_distance(reference, window) / np.std(reference), abs=1e-12)


@pytest.mark.parametrize("test", ["ks", "psi", "jensen_shannon"])
def test_monitor_tests_and_update_equals_run(test):
    rng = np.random.default_rng(22)
    reference = rng.normal(size=800)
    stream = np.concatenate([rng.normal(size=600), rng.normal(1.5, 1, size=400)])
    # JS on 30 bins is noisy with 200-value windows (about 0.15-0.2 on stable data): a higher threshold
    threshold = 0.3 if test == "jensen_shannon" else None
    a = WindowedDriftMonitor(reference, window=200, every=100, test=test, threshold=threshold)
    res = a.run(stream)
    b = WindowedDriftMonitor(reference, window=200, every=100, test=test, threshold=threshold)
    verdicts = [b.update(v) for v in stream]
    assert verdicts[-1] == bool(res.flagged[-1]) == b.drift_detected
    assert [verdicts[t] for t in res.check_times] == res.flagged.tolist()
    np.testing.assert_array_equal(res.check_times, np.arange(199, 1000, 100))
    assert not res.flagged[:5].any() and res.flagged[-3:].all()  # windows end at 599 (stable), 799+ (shifted)
    t = int(res.check_times[-1])
    window = stream[t - 199: t + 1]
    if test == "ks":
        assert res.p_values[-1] == pytest.approx(sps.ks_2samp(reference, window).pvalue, abs=P_TOL)
    elif test == "psi":
        assert res.statistics[-1] == pytest.approx(psi(reference, window).value, abs=1e-12)
    else:
        assert res.statistics[-1] == pytest.approx(jensen_shannon(reference, window), abs=1e-12)


def test_monitor_bad_input():
    with pytest.raises(ValueError, match="window must be >= 1"):
        WindowedDriftMonitor([1.0, 2.0], window=0)
    with pytest.raises(TypeError, match="every must be an integer"):
        WindowedDriftMonitor([1.0, 2.0], every=2.5)
    with pytest.raises(ValueError, match="test must be one of"):
        WindowedDriftMonitor([1.0, 2.0], test="t-test")
    with pytest.raises(ValueError, match="threshold"):
        WindowedDriftMonitor([1.0, 2.0], test="ks", threshold=2.0)
    mon = WindowedDriftMonitor([1.0, 2.0], window=2)
    with pytest.raises(ValueError, match="x must be finite"):
        mon.update(float("nan"))
    with pytest.raises(ValueError, match="stream must be a 1-D array"):
        mon.run([[1.0, 2.0]])


@pytest.mark.parametrize("stream", [[True, False, True], np.array([1, 0, 1], dtype=bool),
                                    np.array([1.0, True, 2.0], dtype=object), [np.bool_(True)] * 3])
def test_monitor_rejects_booleans_in_run_as_in_update(stream):
    mon = WindowedDriftMonitor([0.0, 1.0, 2.0], window=2, every=1)
    with pytest.raises(TypeError, match="stream must contain real numbers, not booleans"):
        mon.run(stream)
    assert mon.n_seen == 0  # nothing fed
    with pytest.raises(TypeError, match="x must be a real number"):
        mon.update(True)
    with pytest.raises(TypeError, match="x must be a real number"):
        mon.update(np.bool_(False))
    assert mon.run([0, 1, 2.5]).check_times.tolist() == [1, 2]  # integers and floats still work


# --------------------------------------------------------------------------------------------
# Bad input for the single-feature functions
# --------------------------------------------------------------------------------------------

NUMERIC = [ks_test, psi, wasserstein, wasserstein_normed, jensen_shannon, kl_divergence]


@pytest.mark.parametrize("func", NUMERIC)
@pytest.mark.parametrize("arg", ["reference", "current"])
def test_numeric_bad_input_names_the_argument(func, arg):
    good = [1.0, 2.0, 3.0]
    cases = [
        ([], ValueError, "non-empty"),
        ([1.0, np.nan], ValueError, "finite"),
        ([1.0, np.inf], ValueError, "finite"),
        ([[1.0, 2.0], [3.0, 4.0]], ValueError, "1-D"),
        (["a", "b"], TypeError, "real numbers"),
        (None, TypeError, "1-D array"),
    ]
    for bad, exc, words in cases:
        kwargs = {"reference": good, "current": good, arg: bad}
        with pytest.raises(exc, match=f"{arg} .*{words}|{arg} must.*{words}"):
            func(**kwargs)


@pytest.mark.parametrize("func", [psi, jensen_shannon, kl_divergence])
def test_n_bins_below_two_is_rejected(func):
    with pytest.raises(ValueError, match="n_bins must be >= 2"):
        func([1.0, 2.0], [1.0, 2.0], n_bins=1)
    with pytest.raises(TypeError, match="n_bins must be an integer"):
        func([1.0, 2.0], [1.0, 2.0], n_bins=2.0)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="method must be one of"):
        ks_test([1.0], [2.0], method="approx")
    with pytest.raises(ValueError, match="eps"):
        psi([1.0], [2.0], eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        kl_divergence([1.0], [2.0], eps=1.0)
    with pytest.raises(TypeError, match="categorical must be a bool"):
        psi([1.0], [2.0], categorical="yes")
    with pytest.raises(ValueError, match="reference must not contain None"):
        chi2_test(["a", None], ["a"])
    with pytest.raises(ValueError, match="current must be a non-empty"):
        chi2_test(["a"], [])
    with pytest.raises(TypeError, match="current must hold the same kind of categories"):
        chi2_test(["a", "b"], [1, 2])
    with pytest.raises(ValueError, match="current must be a 1-D"):
        psi(["a"], [["a"]], categorical=True)


# --------------------------------------------------------------------------------------------
# Equal-width bins when the range is too narrow (or too wide) for float edges;
# normed Wasserstein where np.std overflows
# --------------------------------------------------------------------------------------------


def _exact_bins_on_ulp_grid(base, ks_x, ks_y, n_bins):
    """Oracle for values base + k ulp (one binade): bin floor((k - k_min) n_bins / (k_max - k_min)) in
    integer arithmetic (the last bin for k_max), i.e. np.histogram's equal-width bins with exact edges."""
    k_min, k_max = min(ks_x.min(), ks_y.min()), max(ks_x.max(), ks_y.max())

    def counts(ks):
        if k_max == k_min:  # numpy's zero range [lo - 0.5, lo + 0.5]: everything in the middle bin
            idx = np.full(ks.size, n_bins // 2)
        else:
            idx = np.minimum((ks - k_min) * n_bins // (k_max - k_min), n_bins - 1)
        return np.bincount(idx, minlength=n_bins)

    return counts(ks_x), counts(ks_y)


def test_js_and_kl_of_two_constants_a_few_float_steps_apart():
    a, b = [0.1 + 0.2] * 50, [0.3] * 50  # 0.30000000000000004 and 0.3: one float step apart
    with pytest.raises(ValueError, match="Too many bins"):  # what np.histogram binning does
        np.histogram(a + b, bins=30, range=(0.3, 0.1 + 0.2))
    assert jensen_shannon(a, b) == pytest.approx(1.0, abs=1e-12)  # documented: different constants give 1
    assert jensen_shannon(b, a, n_bins=2) == pytest.approx(1.0, abs=1e-12)
    assert jensen_shannon(a, a) == 0.0
    # KL: the same as for two constants far apart (first and last of the 30 bins)
    assert kl_divergence(a, b) == pytest.approx(kl_divergence([0.0] * 50, [1.0] * 50), rel=1e-12)
    eps = 1e-4
    assert kl_divergence(a, b) == pytest.approx((1 - eps) * math.log(1 / eps) / (1 + 29 * eps), rel=1e-12)
    assert kl_divergence(a, a) == 0.0
    # huge constants: numpy's [lo - 0.5, lo + 0.5] is a zero-width range above 2**53
    assert jensen_shannon([1e20] * 5, [1e20] * 7) == 0.0
    assert jensen_shannon([1e20] * 5, [np.nextafter(1e20, np.inf)] * 7) == pytest.approx(1.0, abs=1e-12)


def test_monitor_jensen_shannon_on_near_equal_constants():
    a, b = [0.1 + 0.2] * 50, [0.3] * 50
    res = WindowedDriftMonitor(a * 4, window=50, every=10, test="jensen_shannon").run(b)
    assert res.check_times.tolist() == [49] and res.flagged.tolist() == [True]
    assert res.statistics[0] == pytest.approx(1.0, abs=1e-12)
    assert not WindowedDriftMonitor(a * 4, window=50, every=10, test="jensen_shannon").run(a).flagged.any()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_bins=st.sampled_from([2, 3, 7, 30]), data=st.data())
def test_js_and_kl_on_a_range_of_a_few_floats_match_exact_bins(seed, n_bins, data):
    """Samples on the float grid 0.3 + k ulp with k < n_bins: too few floats for n_bins + 1 distinct edges
    (np.histogram raises), compared with integer-arithmetic bins and scipy on those counts."""
    span = data.draw(st.integers(0, n_bins - 1))
    rng = np.random.default_rng(seed)
    ks_x = rng.integers(0, span + 1, int(rng.integers(1, 40)))
    ks_y = rng.integers(0, span + 1, int(rng.integers(1, 40)))
    grid = [0.3]
    for _ in range(span):
        grid.append(float(np.nextafter(grid[-1], 1.0)))
    grid = np.array(grid)
    x, y = grid[ks_x], grid[ks_y]
    p, q = _exact_bins_on_ulp_grid(0.3, ks_x, ks_y, n_bins)
    assert abs(jensen_shannon(x, y, n_bins=n_bins) - sp_jensenshannon(p, q, base=2)) <= 1e-12
    eps = 1e-4
    r, c = np.where(p == 0, eps, p / p.sum()), np.where(q == 0, eps, q / q.sum())
    ref = sps.entropy(r, c)
    assert abs(kl_divergence(x, y, n_bins=n_bins) - ref) <= 1e-12 * max(1.0, ref)


def test_js_on_a_range_wider_than_the_largest_float():
    """lo = -1.5e308, hi = 1.5e308: hi - lo overflows, so numpy cannot build the edges. Scaling by a power of
    two changes no bin; the oracle is np.histogram on the data divided by 4."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-1.5, 1.5, 200) * 1e308
    y = rng.uniform(-0.5, 1.5, 150) * 1e308
    x[0], y[0] = -1.5e308, 1.5e308
    for n_bins in (2, 7, 30):
        p, q = _histograms(x / 4, y / 4, n_bins)
        assert abs(jensen_shannon(x, y, n_bins=n_bins) - sp_jensenshannon(p, q, base=2)) <= 1e-12
        assert abs(jensen_shannon(x / 4, y / 4, n_bins=n_bins) - sp_jensenshannon(p, q, base=2)) <= 1e-12


@pytest.mark.parametrize("power", [-600, -560, 520, 530, 1000])
def test_wasserstein_normed_is_unit_free_where_np_std_overflows_or_underflows(power):
    """x 2**power: for 2**530 (1e160) np.std overflows to inf (a plain W1 / np.std reads 0.0, "no drift"); for 2**-600 the
    squared deviations underflow. The normed distance does not depend on the unit."""
    import warnings

    scale = 2.0**power
    for x, y in PAIRS[:60]:
        if np.std(x) == 0:
            continue
        expected = sps.wasserstein_distance(x, y) / np.std(x)
        xs, ys = x * scale, y * scale
        assert np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = wasserstein_normed(xs, ys)
        assert abs(got - expected) <= 1e-12 * max(1.0, expected)


def test_wasserstein_normed_large_values_reported_as_drift():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = wasserstein_normed([1e160, 2e160, 3e160], [5e160, 6e160, 7e160])
    assert got == pytest.approx(4 / np.std([1.0, 2.0, 3.0]), rel=1e-12)  # 4.899
    # the report (large reference: normed Wasserstein) and the monitor flag it too
    rng = np.random.default_rng(9)
    ref = rng.normal(0.0, 1.0, (1500, 2))
    cur = ref[:800] + np.array([0.0, 0.5])
    for unit in (1.0, 1e160):
        rep = feature_drift_report(ref * unit, cur * unit)
        assert [f.test for f in rep.features] == ["wasserstein_normed"] * 2
        expected = sps.wasserstein_distance(ref[:, 1], cur[:, 1]) / np.std(ref[:, 1])
        assert rep.features[1].statistic == pytest.approx(expected, rel=1e-12)
        assert rep.drifted_features == ("feature_1",)
        mon = WindowedDriftMonitor(ref[:, 1] * unit, window=400, every=400, test="wasserstein_normed")
        res = mon.run(cur[:, 1] * unit)
        assert res.flagged.tolist() == [True, True]
        assert res.statistics[0] == pytest.approx(
            sps.wasserstein_distance(ref[:, 1], cur[:400, 1]) / np.std(ref[:, 1]), rel=1e-12)


def test_wasserstein_near_the_float_limit_is_not_nan():
    x = [-1e308, 1e308]
    assert wasserstein(x, x) == 0.0
    assert wasserstein(x, [1e308, 1e308]) == pytest.approx(1e308, rel=1e-15)  # half the mass moves 2e308
    assert wasserstein([-1.7e308], [1.7e308]) == math.inf  # 3.4e308 itself is beyond the float range
    assert wasserstein_normed(x, [1e308, 1e308]) == pytest.approx(1.0, rel=1e-15)  # std 1e308, W 1e308


def test_wasserstein_normed_constant_reference_whose_np_std_is_not_zero():
    assert np.std([0.1] * 3) > 0  # rounding in the mean: 1.4e-17, not 0
    assert wasserstein_normed([0.1] * 3, [0.2] * 3) == math.inf  # documented: a constant reference that moved
    assert wasserstein_normed([0.1] * 3, [0.1] * 5) == 0.0


@settings(max_examples=150, deadline=None)
@given(x=st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=30),
       y=st.lists(st.floats(-1e300, 1e300), min_size=1, max_size=30),
       n_bins=st.integers(2, 40))
def test_js_counts_equal_np_histogram_wherever_numpy_can_bin(x, y, n_bins):
    """The searchsorted counting gives np.histogram's counts exactly (values on edges included)."""
    from hypothesis import assume

    x, y = np.array(x), np.array(y)
    try:
        p, q = _histograms(x, y, n_bins)
    except ValueError:  # numpy: "Too many bins for data range"; covered by the exact-bins tests
        assume(False)
    assert abs(jensen_shannon(x, y, n_bins=n_bins) - sp_jensenshannon(p, q, base=2)) <= 1e-12
    eps = 1e-4
    r, c = np.where(p == 0, eps, p / p.sum()), np.where(q == 0, eps, q / q.sum())
    ref = sps.entropy(r, c)
    assert abs(kl_divergence(x, y, n_bins=n_bins) - ref) <= 1e-12 * max(1.0, ref)
