"""The array kernels behind batch Welch tests and the two-sided power, against their scalar twins.

``_t_sf_array`` runs the Student-t survival function of ``_stats_student`` over whole arrays (the
A/A simulations and ``welch_p_values`` test thousands of experiments at once); ``_nct_two_sided_s``
sums the two tails of the noncentral t that a two-sided power needs as one series. Each must give
what the scalar kernels give (to rounding; numpy's exp/log may differ from ``math``'s in the last
bit), and scipy is the outside oracle. ``_solve_increasing`` must still find the root to 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as ss

import prodai_lessons._abtest_engine as E
from prodai_lessons._stats_nct import _nct_sf_s, _nct_two_sided_s
from prodai_lessons._stats_student import (
    _lgamma_ratio_half_array,
    _t_sf_array,
    _t_sf_s,
)
from prodai_lessons._stats_special import _lgamma_ratio_half
from prodai_lessons.abtest import sample_size, welch_p_values, welch_test


def scalar_t_sf(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    return np.array([_t_sf_s(a, b) for a, b in zip(t.tolist(), df.tolist())])


def assert_close_to_scalar(got: np.ndarray, want: np.ndarray) -> None:
    # relative 1e-12 down to 1e-280; the farthest tails carry the last-bit differences of exp(log) ~ -600
    tiny = np.abs(want) < 1e-280
    np.testing.assert_allclose(got[~tiny], want[~tiny], rtol=1e-12, atol=0)
    np.testing.assert_allclose(got[tiny], want[tiny], rtol=1e-9, atol=1e-300)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-200.0, 200.0), st.floats(0.01, 1e7)), min_size=1, max_size=40))
@example([(0.0, 3.0), (1e-13, 5.0), (-1e-13, 5.0), (2.0, 1e305), (1e200, 2.0), (40.0, 2394.3), (1.0, 32.0),
          (3.0, 30.0), (0.5, 30.0), (-0.5, 4.0), (8.0, 0.5)])
def test_t_sf_array_equals_the_scalar_kernel(pairs):
    t = np.array([p[0] for p in pairs])
    df = np.array([p[1] for p in pairs])
    assert_close_to_scalar(_t_sf_array(t, df), scalar_t_sf(t, df))


def test_t_sf_array_covers_every_region_of_the_scalar_kernel():
    rng = np.random.default_rng(5)
    t = np.concatenate([rng.normal(0, 2, 4000), rng.standard_cauchy(2000) * 10,
                        [0.0, np.inf, -np.inf, 1e-14, -1e-14, 1e300]])
    df = np.concatenate([rng.uniform(0.05, 60, 4000), 10 ** rng.uniform(-2, 9, 2000), [4.0, 4.0, 4.0, 9.0, 9.0, 3.0]])
    with np.errstate(over="ignore"):
        a, y = 0.5 * df, df / (df + t * t)
    # the continued fraction (both branches), the power series, BGRAT and the edge cases all occur
    assert ((y > 0.7) & (a <= 15) & (y < (a + 1) / (a + 2.5))).any() and ((y > 0.7) & (a <= 15) & (y > 0.9)).any()
    assert (y <= 0.7).any() and ((y > 0.7) & (a > 15)).any()
    got = _t_sf_array(t, df)
    assert_close_to_scalar(got, scalar_t_sf(t, df))
    assert got[-6:-3].tolist() == [0.5, 0.0, 1.0]
    np.testing.assert_allclose(got[:4000], ss.t.sf(t[:4000], df[:4000]), rtol=1e-11)


def exact_lgamma_ratio_half(a2: int) -> float:
    """log(Gamma(a + 1/2) / Gamma(a)) at a = a2 / 2, from factorials in 60-digit decimal arithmetic:
    Gamma(n + 1/2) / Gamma(n) = (2n)! sqrt(pi) / (4^n n! (n-1)!) and
    Gamma(n + 1) / Gamma(n + 1/2) = 4^n n!^2 / ((2n)! sqrt(pi))."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        half_log_pi = Decimal("3.14159265358979323846264338327950288419716939937510582097494").ln() / 2
        n = a2 // 2
        if a2 % 2 == 0:
            r = Decimal(math.factorial(2 * n)) / (Decimal(4**n) * math.factorial(n) * math.factorial(n - 1))
            return float(r.ln() + half_log_pi)
        r = Decimal(4**n * math.factorial(n) ** 2) / Decimal(math.factorial(2 * n))
        return float(r.ln() - half_log_pi)


def test_the_log_gamma_ratio_recurrence_is_exact_to_rounding():
    # at the half-integers, against exact values; elsewhere against the scalar formula (math.lgamma
    # differences, themselves a few 1e-15 off for a near 16)
    a2 = list(range(1, 81))
    exact = np.array([exact_lgamma_ratio_half(k) for k in a2])
    np.testing.assert_allclose(_lgamma_ratio_half_array(np.array(a2) / 2.0), exact, rtol=0, atol=3e-15)
    a = np.concatenate([np.linspace(0.01, 40.0, 4001), [15.0, 15.5, 16.0, 16.5]])
    want = np.array([_lgamma_ratio_half(v) for v in a.tolist()])
    np.testing.assert_allclose(_lgamma_ratio_half_array(a), want, rtol=0, atol=2e-14)


def test_batch_welch_p_values_equal_one_test_at_a_time_and_scipy():
    rng = np.random.default_rng(23)
    for n_a, n_b in [(10, 10), (3, 40), (200, 150)]:  # continued fraction, series, and BGRAT rows
        a = rng.normal(0, 1, (300, n_a))
        b = rng.normal(0.2, rng.uniform(0.2, 5, (300, 1)), (300, n_b))
        batch = welch_p_values(a, b)
        single = np.array([welch_test(a[i], b[i]).p_value for i in range(300)])
        np.testing.assert_allclose(batch, single, rtol=1e-13)
        np.testing.assert_allclose(batch, ss.ttest_ind(b, a, axis=1, equal_var=False).pvalue, rtol=1e-10)


def test_welch_from_moments_still_names_bad_values_in_a_batch():
    with pytest.raises(ValueError, match="t must not contain NaN"):
        E.welch_from_moments([0.0, np.nan], [1.0, 1.0], 5, [1.0, 1.0], [1.0, 1.0], 5)


@settings(max_examples=200, deadline=None)
@given(t=st.floats(1e-3, 60.0), df=st.floats(0.3, 1e6), nc=st.floats(-80.0, 80.0))
@example(t=1.965, df=502.0, nc=2.8)
@example(t=2.0, df=10.0, nc=0.0)
def test_two_sided_noncentral_tail_is_the_sum_of_the_two_tails(t, df, nc):
    got = _nct_two_sided_s(t, df, nc)
    want = _nct_sf_s(t, df, nc) + _nct_sf_s(t, df, -nc)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300)
    assert got == _nct_two_sided_s(t, df, -nc)


@pytest.mark.parametrize("t, df, nc", [(1.965, 502.0, 2.8), (2.1, 20.0, 1.0), (3.0, 5.0, 0.5), (1.96, 1e5, 3.0),
                                       (2.6, 38.0, 4.2)])
def test_two_sided_noncentral_tail_matches_scipy(t, df, nc):
    want = ss.nct.sf(t, df, nc) + ss.nct.cdf(-t, df, nc)
    assert _nct_two_sided_s(t, df, nc) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("kwargs", [dict(mde=0.3, sd=1.2), dict(mde=2.0, sd=1.0), dict(mde=5.0, sd=1.0),
                                    dict(mde=0.001, sd=1.0), dict(mde=1e-7, sd=1.0), dict(mde=0.01, baseline=0.2),
                                    dict(mde=0.3, sd=1.2, ratio=3.0, power=0.95, alpha=0.01),
                                    dict(mde=0.2, sd=1.0, ratio=0.25, power=0.6)])
def test_the_secant_search_finds_the_root_in_a_few_evaluations(kwargs, monkeypatch):
    calls = []
    power = E._power

    def counted(*args):
        calls.append(args)
        return power(*args)

    monkeypatch.setattr("prodai_lessons.abtest._power", counted)
    r = sample_size(**kwargs)
    kind, effect = E._effect_size(kwargs["mde"], kwargs.get("sd"), kwargs.get("baseline"))
    alpha, target, ratio = kwargs.get("alpha", 0.05), kwargs.get("power", 0.8), kwargs.get("ratio", 1.0)
    floor = 2.0 / (1.0 + ratio) + 1e-9 if kind == "means" else 1e-9
    gap = lambda n: power(kind, effect, n, ratio, alpha) - target  # noqa: E731
    x = r.n_a_exact
    if x > floor:  # a root to 1e-10 relative: the sign changes within that distance
        assert abs(gap(x)) < 1e-13 or gap(x * (1 - 1e-10)) < 0 <= gap(x * (1 + 1e-10))
    else:
        assert gap(floor) >= 0
    assert len(calls) <= 10, len(calls)
