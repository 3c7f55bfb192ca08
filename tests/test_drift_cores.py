"""One truth, two speeds: the short functions lesson 2 shows equal the functions the lessons call.

The lesson displays ``drift.ecdf_gap``, ``stats.ks_lattice_pvalue``, ``stats.kolmogorov_sf_series``,
``drift.psi_from_shares``, ``drift.ecdf_area`` and ``drift.js_distance``. Where the public function calls
the short one (PSI, Jensen-Shannon, Kolmogorov's series above x = 0.82) the tests check the wiring; where
it takes a faster or exacter path (the KS statistic, the exact KS p-value, Wasserstein-1, Kolmogorov's
theta form below 0.82) hypothesis checks that both give the same number on ordinary inputs, with tight
tolerances. scipy is the outside oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon as sp_jensenshannon

from prodai_lessons import stats
from prodai_lessons._drift_engine import _ks_gap_sorted
from prodai_lessons.drift import (
    ecdf_area,
    ecdf_gap,
    jensen_shannon,
    js_distance,
    ks_test,
    psi,
    psi_from_shares,
    wasserstein,
)

#: samples with many ties (a few levels) and samples of ordinary floats
TIED = st.lists(st.integers(-5, 5), min_size=1, max_size=60).map(lambda v: np.array(v, dtype=float) / 3)
FLOATS = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60).map(np.array)
SAMPLES = st.one_of(TIED, FLOATS)


# ------------------------------------------------------------------------------------------ KS statistic

@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # scipy's asymp p-value at n = m = 1
@settings(max_examples=300, deadline=None)
@given(SAMPLES, SAMPLES)
def test_ecdf_gap_equals_the_engine_and_scipy(x, y):
    d = ecdf_gap(x, y)
    assert d == _ks_gap_sorted(np.sort(x), np.sort(y))[0]  # the same floating-point numbers, exactly
    assert d == sps.ks_2samp(x, y, method="asymp").statistic  # ("exact" rounds D to its lattice grid)
    if x.size + y.size > 2:  # asymp is undefined for one value each
        assert ks_test(x, y, "asymp").statistic == d


@settings(max_examples=100, deadline=None)
@given(SAMPLES, SAMPLES)
def test_ks_test_location_attains_the_core_gap(x, y):
    res = ks_test(x, y, "exact")
    gap = abs(np.mean(x <= res.location) - np.mean(y <= res.location))
    assert gap == pytest.approx(ecdf_gap(x, y), abs=1e-12)


def test_ecdf_gap_on_large_samples_equals_the_engine():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=20_000).round(2), rng.normal(0.05, 1, 15_000).round(2)  # ties within and across
    assert ecdf_gap(x, y) == _ks_gap_sorted(np.sort(x), np.sort(y))[0] == sps.ks_2samp(x, y, method="asymp").statistic


# --------------------------------------------------------------------------------- exact KS p-value

@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.data())
def test_lattice_count_equals_the_engine(n, m, data):
    lcm = math.lcm(n, m)
    h = data.draw(st.integers(0, lcm))
    core = stats.ks_lattice_pvalue(h / lcm, n, m)
    engine, used = stats.ks_2samp_pvalue(h / lcm, n, m, "exact")
    assert used == "exact"
    assert abs(engine - core) <= 1e-11 * core  # relative: tail p-values keep their digits in both


@settings(max_examples=100, deadline=None)
@given(SAMPLES, SAMPLES)
def test_ks_test_exact_p_value_is_the_lattice_count(x, y):
    res = ks_test(x, y, "exact")
    assert res.p_value == pytest.approx(stats.ks_lattice_pvalue(res.statistic, x.size, y.size), rel=1e-11)


def test_lattice_count_by_hand():
    # n = m = 2: 6 orderings; D = 1 only for aabb and bbaa
    assert stats.ks_lattice_pvalue(1.0, 2, 2) == 2 / 6
    assert stats.ks_lattice_pvalue(0.0, 3, 5) == 1.0
    assert stats.ks_lattice_pvalue(0.5, 2, 2) == 1.0  # every path has a gap of 1/2 after its first step


# ------------------------------------------------------------------------------- Kolmogorov's series

@settings(max_examples=300, deadline=None)
@given(st.floats(0.05, 10.0))
def test_kolmogorov_series_equals_the_engine(x):
    core = stats.kolmogorov_sf_series(x)
    if x > 0.82:  # the engine sums this very series
        assert stats.kolmogorov_sf(x) == min(max(core, 0.0), 1.0)
    else:  # the engine uses Jacobi's theta form there; the series needs many terms and cancels a little
        assert abs(stats.kolmogorov_sf(x) - core) <= 4e-15
    assert abs(core - sp.kolmogorov(x)) <= 1e-14


def test_one_term_of_the_series_is_not_a_p_value():
    x = np.linspace(0.3, 1.2, 181)
    one = np.array([stats.kolmogorov_sf_series(v, terms=1) for v in x])
    assert one.tolist() == [2 * math.exp(-2 * v * v) for v in x.tolist()]  # terms=1 is exactly the shortcut
    assert one.max() > 1.0 and np.all(one[x < 0.58] > 1.0)  # not even a probability below 0.59
    assert np.max(np.abs(np.minimum(one, 1.0) - sp.kolmogorov(x))) > 0.1  # off by 0.12 once clipped
    assert np.max(np.abs(one[x > 1.0] - sp.kolmogorov(x[x > 1.0]))) < 2e-3  # fine in the far tail only


# ------------------------------------------------------------------------------------------------- PSI

@settings(max_examples=150, deadline=None)
@given(FLOATS, FLOATS, st.integers(2, 12))
def test_psi_is_the_core_formula_on_its_shares(x, y, n_bins):
    res = psi(x, y, n_bins=n_bins)
    assert res.value == psi_from_shares(res.ref_share, res.cur_share)
    r = np.where(res.ref_share == 0, 1e-4, res.ref_share)
    c = np.where(res.cur_share == 0, 1e-4, res.cur_share)
    by_hand = math.fsum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c))
    assert res.value == pytest.approx(by_hand, rel=1e-12, abs=1e-15)


def test_psi_from_shares_by_hand():
    assert psi_from_shares([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = 0.1 * math.log(0.6 / 0.5) - 0.1 * math.log(0.4 / 0.5)
    assert psi_from_shares([0.5, 0.5], [0.6, 0.4]) == pytest.approx(expected, rel=1e-15)
    # an empty bin counts as eps, not as an infinite term
    assert psi_from_shares([1.0, 0.0], [0.0, 1.0], eps=1e-4) == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))


# -------------------------------------------------------------------------------------- Wasserstein-1

@settings(max_examples=300, deadline=None)
@given(SAMPLES, SAMPLES)
def test_ecdf_area_equals_the_engine_and_scipy(x, y):
    area = ecdf_area(x, y)
    assert wasserstein(x, y) == pytest.approx(area, rel=1e-13, abs=1e-300)
    assert area == pytest.approx(sps.wasserstein_distance(x, y), rel=1e-12, abs=1e-12)


def test_ecdf_area_of_a_translation_is_the_shift():
    x = np.random.default_rng(2).normal(size=400)
    assert ecdf_area(x, x + 3.0) == pytest.approx(3.0, abs=1e-12)
    assert ecdf_area(x, x) == 0.0


# ---------------------------------------------------------------------------------- Jensen-Shannon

COUNTS = st.lists(st.integers(0, 50), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(COUNTS, COUNTS, st.data())
def test_js_distance_equals_scipy(p, q, data):
    size = min(len(p), len(q))
    p, q = np.array(p[:size]), np.array(q[:size])
    p[data.draw(st.integers(0, size - 1))] += 1  # a positive sum in each histogram
    q[data.draw(st.integers(0, size - 1))] += 1
    assert abs(js_distance(p, q) - sp_jensenshannon(p, q, base=2)) <= 1e-12
    assert abs(js_distance(p, q) - js_distance(p / p.sum(), q / q.sum())) <= 1e-12  # counts or shares alike


@settings(max_examples=100, deadline=None)
@given(FLOATS, FLOATS, st.integers(2, 40))
def test_jensen_shannon_is_the_core_on_the_histograms(x, y, n_bins):
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    try:
        p = np.histogram(x, bins=n_bins, range=(lo, hi))[0]
        q = np.histogram(y, bins=n_bins, range=(lo, hi))[0]
    except ValueError:  # "Too many bins for data range": the engine's exact bins, tested in test_drift
        return
    assert jensen_shannon(x, y, n_bins=n_bins) == js_distance(p, q)
