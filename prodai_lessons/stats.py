"""Probability distributions from scratch (numpy and ``math`` only), accurate to scipy.

The p-values of the course come from here: the normal, Student's t and chi-square distributions for
A/B tests (lesson 4), Kolmogorov's distributions for the KS drift test (lesson 2), and the noncentral t
for statistical power.

Every survival function (``*_sf``) is computed *directly*, never as ``1 - cdf``: a p-value of
1e-20 computed as ``1 - 0.99999999999999999999`` is 0.0, while the direct route keeps all its
digits down to the 1e-300 region. Each function names its algorithm and the reference it matches.

Conventions shared by all public functions:

- a real scalar in gives a ``float`` out; array-likes broadcast and give an ``ndarray``;
- ``x``/``t``/``d`` may be ``±inf``; NaN, ``df <= 0`` and probabilities outside (0, 1) raise
  ``ValueError`` naming the argument (checks in :mod:`prodai_lessons._validation`).

The ideas lesson 2 shows are stated here in a few lines (:func:`ks_lattice_pvalue`,
:func:`kolmogorov_sf_series`). The machinery that makes the functions exact in every region lives
in private modules: ``_stats_special`` (Loader's binomial pieces, incomplete gamma, normal
quantile), ``_stats_student`` (incomplete beta, t quantiles), ``_stats_kolmogorov`` (exact KS
distributions) and ``_stats_nct`` (noncentral t).
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist
from typing import Any

import numpy as np

from prodai_lessons._stats_kolmogorov import (
    _kolmogorov_cdf_theta,
    _ks2_exact_general,
    _ks2_exact_square,
    _kstwo_sf_s,
)
from prodai_lessons._stats_nct import _nct_sf_s
from prodai_lessons._stats_special import (
    _chi2_cdf_s,
    _chi2_sf_s,
    _normal_cdf_s,
    _normal_isf_s,
    _normal_ppf_s,
    _normal_sf_s,
)
from prodai_lessons._stats_student import _t_cdf_s, _t_isf_s, _t_ppf_s, _t_sf_s
from prodai_lessons._validation import as_real_or_array, check_choice, check_int, check_probability

__all__ = [
    "wilson_interval",
    "normal_cdf",
    "normal_sf",
    "normal_ppf",
    "normal_isf",
    "t_cdf",
    "t_sf",
    "t_ppf",
    "t_isf",
    "chi2_cdf",
    "chi2_sf",
    "ks_lattice_pvalue",
    "kolmogorov_sf_series",
    "kolmogorov_sf",
    "kstwo_sf",
    "ks_2samp_pvalue",
    "nct_sf",
]


# ---------------------------------------------------------------------------------------------
# Input handling: scalar fast path, arrays broadcast through the scalar kernels.
# ---------------------------------------------------------------------------------------------

def _apply(kernel, *args):
    """Call ``kernel`` on floats, or element-wise (broadcast) when any argument is an array."""
    if all(isinstance(a, float) for a in args):
        return kernel(*args)
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args])
    # object arrays hand Python floats to the kernel (plain IEEE arithmetic, no numpy warnings)
    with np.errstate(all="ignore"):  # IEEE flags raised inside the kernels are handled there
        out = np.frompyfunc(kernel, len(args), 1)(*[a.astype(object) for a in arrays])
    return np.asarray(out, dtype=np.float64)


def _real(name: str, value: Any, **bounds) -> float | np.ndarray:
    return as_real_or_array(name, value, **bounds)


def _df(value: Any, name: str = "df") -> float | np.ndarray:
    return as_real_or_array(name, value, minimum=0.0, strict_minimum=True)


def _prob(name: str, value: Any) -> float | np.ndarray:
    return as_real_or_array(name, value, minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)


# ---------------------------------------------------------------------------------------------
# Normal distribution
# ---------------------------------------------------------------------------------------------

def normal_cdf(x: Any) -> float | np.ndarray:
    """Standard normal CDF P(Z <= x) = erfc(-x / sqrt(2)) / 2 (``scipy.stats.norm.cdf``).

    Parameters:
    - ``x``: real number or array-like of them (``±inf`` allowed).

    Notes:
    Uses the complementary error function (C library ``erfc``), so the lower tail keeps its relative
    precision down to the smallest doubles (``normal_cdf(-37)`` is 5.7e-300, not 0).

    >>> round(normal_cdf(1.96), 6)
    0.975002
    """
    x = _real("x", x, allow_inf=True)
    if isinstance(x, float):
        return _normal_cdf_s(x)
    return np.asarray(np.frompyfunc(math.erfc, 1, 1)(-x * math.sqrt(0.5)), dtype=np.float64) * 0.5


def normal_sf(x: Any) -> float | np.ndarray:
    """Standard normal survival function P(Z > x) = erfc(x / sqrt(2)) / 2 (``scipy.stats.norm.sf``).

    Parameters:
    - ``x``: real number or array-like of them (``±inf`` allowed).

    Notes:
    Computed directly with ``erfc``, not as ``1 - cdf``: relative error ~1e-15 up to x = 37, where the
    answer is 5.7e-300 and ``1 - normal_cdf(37)`` would be 0.0.

    >>> round(normal_sf(1.96), 6)
    0.024998
    >>> normal_sf(37.0) > 0.0
    True
    """
    x = _real("x", x, allow_inf=True)
    if isinstance(x, float):
        return _normal_sf_s(x)
    return np.asarray(np.frompyfunc(math.erfc, 1, 1)(x * math.sqrt(0.5)), dtype=np.float64) * 0.5


def normal_ppf(q: Any) -> float | np.ndarray:
    """Standard normal quantile: z with P(Z <= z) = q (``scipy.stats.norm.ppf``).

    Parameters:
    - ``q``: probability in (0, 1), or an array-like of them.

    Notes:
    Acklam's rational approximation (relative error 1.2e-9) polished by Newton steps on ``log sf``
    (with the scaled complementary error function) in the tails, and, for 1/4 <= q <= 3/4, on the
    central probability erf(z/sqrt 2)/2 = q - 1/2 (an exact difference there), so it is accurate to
    ~1e-15 relative over all of (0, 1), including q = 1e-300 and q = 1/2 - 1e-15.

    >>> round(normal_ppf(0.975), 6)
    1.959964
    """
    q = _prob("q", q)
    return _apply(_normal_ppf_s, q)


def normal_isf(q: Any) -> float | np.ndarray:
    """Inverse survival function: z with P(Z > z) = q (``scipy.stats.norm.isf``), accurate for tiny q.

    Parameters:
    - ``q``: probability in (0, 1), or an array-like of them.

    Notes:
    Same algorithm as :func:`normal_ppf`, applied to the upper tail directly, so
    ``normal_isf(1e-300)`` is 37.047... with full precision (``-normal_ppf(1 - q)`` would be infinite).

    >>> round(normal_isf(0.025), 6)
    1.959964
    >>> round(normal_isf(1e-300), 4)
    37.0471
    """
    q = _prob("q", q)
    return _apply(_normal_isf_s, q)


# ---------------------------------------------------------------------------------------------
# Student's t distribution (incomplete beta machinery in _stats_student)
# ---------------------------------------------------------------------------------------------

def t_sf(t: Any, df: Any) -> float | np.ndarray:
    """Student's t survival function P(T > t) (``scipy.stats.t.sf``).

    Parameters:
    - ``t``: real number or array-like (``±inf`` allowed).
    - ``df``: degrees of freedom, real > 0 (not necessarily an integer), or an array-like.

    Notes:
    Via the regularized incomplete beta, P(|T| > t) = I_y(df/2, 1/2) with y = df/(df + t^2),
    computed directly in the tail (never ``1 - cdf``), as in ACM TOMS 708 (DiDonato & Morris 1992):
    a power series (BPSER) for y <= 0.7, the asymptotic expansion BGRAT for df > 30 (exact to ~1e-15
    for any large df: 1e6, 1e12, ...), otherwise a continued fraction (modified Lentz) with the
    symmetry switch I_x(a, b) = 1 - I_{1-x}(b, a). Prefactors use an exact log Gamma(a+1/2)/Gamma(a),
    so large df keeps full precision.

    >>> round(t_sf(2.0, 10), 6)
    0.036694
    """
    t = _real("t", t, allow_inf=True)
    df = _df(df)
    return _apply(_t_sf_s, t, df)


def t_cdf(t: Any, df: Any) -> float | np.ndarray:
    """Student's t CDF P(T <= t) = sf(-t) (``scipy.stats.t.cdf``); same algorithms as :func:`t_sf`.

    Parameters:
    - ``t``: real number or array-like (``±inf`` allowed).
    - ``df``: degrees of freedom, real > 0, or an array-like.

    >>> round(t_cdf(2.0, 10), 6)
    0.963306
    """
    t = _real("t", t, allow_inf=True)
    df = _df(df)
    return _apply(_t_cdf_s, t, df)


def t_isf(q: Any, df: Any) -> float | np.ndarray:
    """Inverse survival function of Student's t: t with P(T > t) = q (``scipy.stats.t.isf``).

    Parameters:
    - ``q``: probability in (0, 1), or an array-like of them.
    - ``df``: degrees of freedom, real > 0, or an array-like.

    Notes:
    Closed forms for df = 1 (1/tan(pi q)) and df = 2; otherwise a Cornish-Fisher or power-law-tail
    start and Newton iterations on log sf, safeguarded by bisection. Accurate for tiny q; for
    1/4 <= q <= 3/4 the root is polished on P(0 < T < t) = |q - 1/2| (incomplete beta power series),
    so the relative precision holds as q -> 1/2 too (t_isf(1/2 - 1e-13, 31) to ~1e-15).

    >>> round(t_isf(0.025, 10), 6)
    2.228139
    """
    q = _prob("q", q)
    df = _df(df)
    return _apply(_t_isf_s, q, df)


def t_ppf(q: Any, df: Any) -> float | np.ndarray:
    """Quantile of Student's t: t with P(T <= t) = q (``scipy.stats.t.ppf``); algorithm of :func:`t_isf`.

    Parameters:
    - ``q``: probability in (0, 1), or an array-like of them.
    - ``df``: degrees of freedom, real > 0, or an array-like.

    >>> round(t_ppf(0.975, 10), 6)
    2.228139
    """
    q = _prob("q", q)
    df = _df(df)
    return _apply(_t_ppf_s, q, df)


# ---------------------------------------------------------------------------------------------
# Chi-square distribution (incomplete gamma machinery in _stats_special)
# ---------------------------------------------------------------------------------------------

def chi2_sf(x: Any, df: Any) -> float | np.ndarray:
    """Chi-square survival function P(X > x) = Q(df/2, x/2) (``scipy.stats.chi2.sf``).

    Parameters:
    - ``x``: real number or array-like (``±inf`` allowed; x <= 0 gives 1).
    - ``df``: degrees of freedom, real > 0, or an array-like.

    Notes:
    Regularized upper incomplete gamma Q(a, z), a = df/2, z = x/2: for z >= a + 1 the continued
    fraction (modified Lentz, Numerical Recipes ``gcf``) gives Q directly, so the deep tail keeps its
    relative precision. Below, for a >= 1/2 the power series gives P and Q = 1 - P (Q >= 0.083 there,
    so at most ~1 digit is lost); for a < 1/2 Q itself is small (~ a E1(z) as df -> 0, e.g. 2.8e-11 at
    df = 1e-10, x = 1) and is computed directly by the small-a series. The prefactor
    ``x^a e^-x / Gamma(a)`` uses Loader's saddle-point form (exact for df up to 1e6 and beyond).

    >>> round(chi2_sf(3.84, 1), 6)
    0.050044
    """
    x = _real("x", x, allow_inf=True)
    df = _df(df)
    return _apply(_chi2_sf_s, x, df)


def chi2_cdf(x: Any, df: Any) -> float | np.ndarray:
    """Chi-square CDF P(X <= x) = P(df/2, x/2) (``scipy.stats.chi2.cdf``).

    Parameters:
    - ``x``: real number or array-like (``±inf`` allowed).
    - ``df``: degrees of freedom, real > 0, or an array-like.

    Notes:
    Power series below the mode, 1 - continued fraction above (see :func:`chi2_sf`).

    >>> round(chi2_cdf(3.84, 1), 6)
    0.949956
    """
    x = _real("x", x, allow_inf=True)
    df = _df(df)
    return _apply(_chi2_cdf_s, x, df)


# ---------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov distributions (lesson 2): the exact count, the series, then the engines
# ---------------------------------------------------------------------------------------------

def ks_lattice_pvalue(d: float, n: int, m: int) -> float:
    """Exact P(D >= d) for two samples from one distribution, by counting lattice paths (Hodges 1958).

    Walk through the n + m pooled values in sorted order: a step right for a reference value, a
    step up for a current one. With no drift all C(n+m, n) paths are equally likely, and after i
    right and j up steps the ECDF gap is |i/n - j/m|. The p-value is the share of paths that reach d.
    Assumes n and m of a few hundred at most (a Python loop over the grid, exact integer counts).

    >>> round(ks_lattice_pvalue(0.5, 4, 4), 4)
    0.7714
    """
    reach = round(d * n * m)  # gap >= d  <=>  |i m - j n| >= d n m, an integer on the lattice
    out = [0] * (m + 1)  # out[j]: paths to (i, j) that reached the gap d on the way
    for i in range(n + 1):
        for j in range(m + 1):
            if abs(i * m - j * n) >= reach:
                out[j] = math.comb(i + j, j)  # every path to this point reaches the gap here
            elif j > 0:
                out[j] += out[j - 1]  # arrived from the left (i - 1, j) or from below (i, j - 1)
    return out[m] / math.comb(n + m, n)  # exact integers: the only rounding is this division


def kolmogorov_sf_series(x: float, terms: int = 100) -> float:
    """P(K > x) from Kolmogorov's series: the KS p-value of large samples.

    P(K > x) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2), with x = sqrt(n m / (n + m)) D for
    samples of sizes n and m. The terms alternate and shrink fast; small x needs more of them
    (about 4.5 / x). ``terms=1`` is a common shortcut: 2 exp(-2 x^2) exceeds 1 below x = 0.59.
    Assumes x > 0.05 (clean input); :func:`kolmogorov_sf` covers every x.

    >>> round(kolmogorov_sf_series(1.36), 4)
    0.0495
    >>> round(kolmogorov_sf_series(0.4, terms=1), 4)  # one term: not a probability
    1.4523
    """
    v = -2.0 * x * x
    total = 0.0
    for k in range(1, terms + 1):
        term = math.exp(k * k * v)
        total += term if k % 2 else -term  # + - + - ...
        if term <= 1e-18 * abs(total):  # the rest no longer changes the sum
            break
    return 2.0 * total


def _kolmogorov_sf_s(x: float) -> float:
    if x <= 0.82:  # the series needs many terms here: Jacobi's theta form of the cdf needs three
        return min(max(1.0 - _kolmogorov_cdf_theta(x), 0.0), 1.0)
    return min(max(kolmogorov_sf_series(x), 0.0), 1.0)


def kolmogorov_sf(x: Any) -> float | np.ndarray:
    """Survival function P(K > x) of Kolmogorov's limiting distribution (``scipy.special.kolmogorov``).

    Parameters:
    - ``x``: real number or array-like (``±inf`` allowed; x <= 0 gives 1).

    Notes:
    For x > 0.82 this is :func:`kolmogorov_sf_series`. Below, where that alternating series needs
    many terms, the Jacobi-theta form P(K <= x) = sqrt(2 pi)/x sum_k exp(-(2k-1)^2 pi^2/(8 x^2)) is
    used (the split scipy/cephes uses). Keeping only the first term of the series, 2 exp(-2 x^2), is a
    common mistake: it exceeds 1 (and gets clipped to p = 1) for x < 0.59, and is off by up to 0.12.

    >>> round(kolmogorov_sf(1.36), 4)
    0.0495
    >>> round(kolmogorov_sf(0.4), 4)
    0.9972
    """
    x = _real("x", x, allow_inf=True)
    return _apply(_kolmogorov_sf_s, x)


def kstwo_sf(d: Any, n: Any) -> float | np.ndarray:
    """P(D_n >= d) for the exact one-sample two-sided Kolmogorov-Smirnov statistic (``scipy.stats.kstwo.sf``).

    Parameters:
    - ``d``: the statistic, real (``±inf`` allowed), or an array-like.
    - ``n``: the sample size, an integer >= 1 (scalar or integer array).

    Notes:
    Follows Simard & L'Ecuyer (2011), J. Stat. Softw. 39(11), region by region, as scipy does:
    Ruben-Gambino closed forms for d <= 1/n and d >= 1 - 1/n; 2 x Smirnov's exact one-sided
    Birnbaum-Tingey sum where the one-sided events (almost) do not overlap (d >= 0.5; n d^2 > 4 for
    n <= 140; n d^2 >= 2.2 above); elsewhere the exact Durbin matrix method (Marsaglia, Tsang & Wang
    2003) for n <= 140 or n d^1.5 <= 1.4 (n <= 1e5), and the Pelz-Good asymptotic series otherwise.

    >>> round(kstwo_sf(0.1, 100), 4)
    0.2527
    """
    d = _real("d", d, allow_inf=True)
    if isinstance(n, (int, np.integer)) and not isinstance(n, bool):
        check_int("n", n, minimum=1)
        n = float(n)
    else:
        n_arr = np.asarray(n)
        if n_arr.dtype.kind not in "iu" or n_arr.ndim == 0:
            check_int("n", n, minimum=1)  # raises the right TypeError
        if (n_arr < 1).any():
            raise ValueError(f"n must be >= 1; got {int(n_arr.min())}")
        n = n_arr.astype(np.float64)
    return _apply(_kstwo_sf_s, d, n)


def ks_2samp_pvalue(d: Any, n: Any, m: Any, method: str) -> tuple[float, str]:
    """Two-sided p-value of the two-sample KS statistic ``d`` (``scipy.stats.ks_2samp(...).pvalue``).

    Parameters:
    - ``d``: the statistic, a real number in [0, 1].
    - ``n``, ``m``: the two sample sizes, integers >= 1.
    - ``method``: ``"exact"`` or ``"asymp"`` (the ``"auto"`` rule, exact when max(n, m) <= 10000 as in
      scipy, lives in :func:`prodai_lessons.drift.ks_test`).

    Returns ``(p, method_used)``.

    Notes:
    - ``"exact"``: h = round(d * lcm(n, m)); P(D >= h/lcm) is the share of the C(n+m, n) monotone
      lattice paths that leave the band |x/n - y/m| < h/lcm (Hodges 1958). n == m uses the closed
      reflection-principle sum; otherwise the outside paths are counted column by column, one
      cumulative sum per column, on counts kept as floats times powers of two (within ~2x of scipy's
      compiled loop). The p-value keeps its relative precision (1e-10 or better against the exact
      rational count) down to 1e-300: in the far tail (below ~1e-140) the count is redone with a
      finer scaling. A p-value below the normal doubles (2.2e-308) is a subnormal within about one
      step (4.9e-324) of the exact value; one below the smallest double is returned as 0.0.
      As in scipy, when lcm(n, m) is too large for the exact method
      (n/g >= (2^31 - 1)/(m/g)), or the computation fails, a ``RuntimeWarning`` is emitted and the
      asymptotic p-value is returned with ``method_used = "asymp"``.
    - ``"asymp"``: ``kstwo_sf(d, round(n m / (n + m)))`` (scipy's choice; see :func:`kstwo_sf`).
      Undefined for n = m = 1 (the effective size rounds to 0; scipy returns NaN): ``ValueError``.

    >>> p, used = ks_2samp_pvalue(0.5, 10, 10, "exact")
    >>> round(p, 4), used
    (0.1678, 'exact')
    """
    d = as_real_or_array("d", d, minimum=0.0, maximum=1.0)
    if not isinstance(d, float):
        raise TypeError("d must be a real scalar")
    n = check_int("n", n, minimum=1)
    m = check_int("m", m, minimum=1)
    method = check_choice("method", method, ("exact", "asymp"))
    g = math.gcd(n, m)
    if method == "exact":
        ng, mg = n // g, m // g
        if ng >= np.iinfo(np.int32).max / mg:
            warnings.warn(f"Exact ks_2samp calculation not possible with samples sizes {n} and {m}. "
                          "Switching to 'asymp'.", RuntimeWarning, stacklevel=2)
            method = "asymp"
        else:
            lcm = ng * m
            h = int(np.round(d * lcm))
            d = h / lcm
            if h == 0:
                return 1.0, "exact"
            try:
                with np.errstate(over="raise", invalid="raise"):  # as scipy: an overflow means "failed"
                    p = _ks2_exact_square(n, h) if n == m else _ks2_exact_general(n, m, g, h)
            except (FloatingPointError, OverflowError):  # pragma: no cover - defensive
                p = math.nan
            if 0.0 <= p <= 1.0:
                return p, "exact"
            warnings.warn("ks_2samp: Exact calculation unsuccessful. Switching to method=asymp.",
                          RuntimeWarning, stacklevel=2)
            method = "asymp"
    big, small = (float(n), float(m)) if n >= m else (float(m), float(n))
    en = big * small / (big + small)
    n_eff = int(np.round(en))
    if n_eff < 1:
        raise ValueError(f"method='asymp' is undefined for n={n}, m={m}: the effective sample size "
                         "n*m/(n+m) rounds to 0; use method='exact'")
    return float(_kstwo_sf_s(d, float(n_eff))), "asymp"


# ---------------------------------------------------------------------------------------------
# Noncentral t (machinery in _stats_nct)
# ---------------------------------------------------------------------------------------------

def nct_sf(t: Any, df: Any, nc: Any) -> float | np.ndarray:
    """Survival function P(T > t) of the noncentral t distribution (``scipy.stats.nct.sf``).

    T = (Z + nc) / sqrt(V / df), Z standard normal, V chi-square with df degrees of freedom. This is
    what statistical power needs (power = P(T > t_crit) under nc, as statsmodels' ``TTestIndPower``).

    Parameters:
    - ``t``: real number or array-like (``±inf`` allowed).
    - ``df``: degrees of freedom, real > 0, or an array-like.
    - ``nc``: noncentrality, real, or an array-like.

    Notes:
    For t > 0 it is the Poisson mixture of incomplete beta functions of Lenth (1989, AS 243),
    written with positive terms only::

        P(T > t) = 1/2 sum_j [P_j I_y(a, j + 1/2) + sign(nc) Q_j I_y(a, j + 1)],
        a = df/2,  y = df / (df + t^2),  P_j = pois(j; lam),  Q_j = pois(j + 1/2; lam),  lam = nc^2/2.

    Writing I_y(a, b + j) = I_y(a, b) + sum_{k<j} g_{b+k} (g the negative-binomial increments, in
    Loader's binomial form) and exchanging the sums turns each half into I_y(a, b) S_0 +
    sum_k g_{b+k} S_{k+1}, with Poisson tails S_m = sum_{j>=m} P_j. Those terms are summed in a window
    around their largest one, extended until the neglected rest is provably below 1e-18 of the sum:
    the work is O(sqrt(lam (1 + t^2/df))) terms, in blocks of at most 65536 (bounded memory). So
    nc = 6000 costs ~1 ms at a usual critical value and ~0.1 s at t ~ nc, an A/B test with 10^9 units
    per arm ~1 ms, and far-tail values (1e-138 at t = 30, nc = 5) keep their relative precision. With
    df << t^2 the window grows to O(lam) terms (df = 4, nc = t = 6000: 1.8e7 terms, ~10 s).
    For t < 0, P(T > t) = 1 - P(T' > -t) with T' noncentral with -nc. With nc >= 0 and t > 0 all
    terms are positive (relative precision); for nc < 0 and t > 0 only absolute precision is kept.

    >>> round(nct_sf(2.0, 20, 1.0), 6)
    0.176127
    >>> nct_sf(2.0, 20, 0.0) == t_sf(2.0, 20)
    True
    """
    t = _real("t", t, allow_inf=True)
    df = _df(df)
    nc = _real("nc", nc)
    return _apply(_nct_sf_s, t, df, nc)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``: the rates the score test does not reject.

    Solving ``|k/n - p| <= z sqrt(p (1 - p) / n)`` for ``p``, with ``z`` the two-sided normal
    quantile (1.96 at 95%), gives the centre ``(k + z^2/2) / (n + z^2)`` and the half-width
    ``z / (n + z^2) * sqrt(k (n - k) / n + z^2 / 4)`` (Wilson 1927; Brown, Cai & DasGupta 2001).
    Unlike the Wald interval ``p +- z sqrt(p (1 - p) / n)`` it stays inside [0, 1] and does not
    shrink to a point at 0/n or n/n, which is where a good guard's precision, recall and
    false-positive rate sit. With ``n = 0`` nothing is known: ``(0.0, 1.0)``. Matches
    ``statsmodels.stats.proportion.proportion_confint(k, n, method="wilson")``.

    >>> [round(x, 2) for x in wilson_interval(5, 7)]  # 5 of 7 threats caught
    [0.36, 0.92]
    >>> [round(x, 3) for x in wilson_interval(0, 20)]  # no false alarm in 20 texts is not a rate of 0
    [0.0, 0.161]
    """
    n = check_int("n", n, minimum=0)
    successes = check_int("successes", successes, minimum=0, maximum=n)
    confidence = check_probability("confidence", confidence)
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    z2 = z * z
    centre = (successes + z2 / 2) / (n + z2)
    half = z / (n + z2) * math.sqrt(successes * (n - successes) / n + z2 / 4)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # the ends are exact at 0/n and n/n
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
