"""Section 2: data drift detection from scratch (notebook ``02_data_drift``).

Every measure here compares a *reference* sample (what the model was trained or validated on)
with a *current* sample (what production sends now), one feature at a time:

- :func:`ks_test`: two-sample Kolmogorov-Smirnov test, statistic and p-value equal to
  ``scipy.stats.ks_2samp`` (two-sided), with the same ``"exact"``/``"asymp"``/``"auto"`` methods.
- :func:`psi`: Population Stability Index on bins cut at the reference's quantiles.
- :func:`chi2_test`: chi-squared test of homogeneity for categorical features, equal to
  ``scipy.stats.chi2_contingency(table, correction=False)``.
- :func:`wasserstein`, :func:`wasserstein_normed`: 1-D earth mover's distance (equal to
  ``scipy.stats.wasserstein_distance``), and the same divided by the reference's standard
  deviation (Evidently's "normed Wasserstein").
- :func:`jensen_shannon`, :func:`kl_divergence`: distances between binned distributions
  (equal to ``scipy.spatial.distance.jensenshannon(base=2)`` and ``scipy.stats.entropy`` on the
  same histograms).
- :func:`feature_drift_report`: the per-feature test chosen by type and size (Evidently's rule),
  as a :class:`DriftReport` with a text table, an HTML table and ``.plot()``.
- :class:`WindowedDriftMonitor`: a sliding window over a stream, compared with the reference
  every ``every`` values.

The p-values come from :mod:`prodai_lessons.stats` (numpy and ``math`` only, no scipy).

Constant data is allowed everywhere and gives a defined result (documented per function): two
equal constants are "no drift" (KS statistic 0, p-value 1, PSI 0, distances 0); a constant
reference and a current sample that moved away is a normed Wasserstein distance of ``inf``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from prodai_lessons._validation import (
    as_1d_array,
    as_category_array,
    check_choice,
    check_int,
    check_probability,
    check_real,
)
from prodai_lessons.stats import chi2_sf, ks_2samp_pvalue

__all__ = [
    "KSResult",
    "ks_test",
    "PSIResult",
    "psi",
    "psi_interpretation",
    "Chi2Result",
    "chi2_test",
    "wasserstein",
    "wasserstein_normed",
    "jensen_shannon",
    "kl_divergence",
    "FeatureDrift",
    "DriftReport",
    "feature_drift_report",
    "WindowedDriftResult",
    "WindowedDriftMonitor",
    "PSI_BANDS",
]

#: ``"auto"`` uses the exact KS distribution when both samples have at most this many values (as scipy).
KS_EXACT_MAX_N = 10_000
#: PSI interpretation bands (the credit-scoring convention): upper bound (exclusive) -> label.
PSI_BANDS = ((0.1, "no drift"), (0.2, "moderate drift"), (math.inf, "significant drift"))
_KS_METHODS = ("auto", "exact", "asymp")
_INT32_MAX = 2**31 - 1


# --------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KSResult:
    """Two-sample KS test result.

    ``statistic`` is D = max_t |F_ref(t) - F_cur(t)|, ``p_value`` its two-sided p-value, ``method``
    the distribution actually used (``"exact"`` or ``"asymp"``), ``location`` a value t at which the
    gap D is attained (used to mark it on a plot).
    """

    statistic: float
    p_value: float
    method: str
    location: float


def _ecdf_gap(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """For *sorted* samples x (n values) and y (m values), return (D, location, signed gap).

    Both ECDFs are step functions that only jump at data values, so the supremum of
    |F_x - F_y| is attained at one of the data values. At the last copy of a value in x (index i,
    0-based) F_x equals (i+1)/n exactly, and ``searchsorted(y, value, "right")`` counts the y's
    <= value. Evaluating only at the last copy of each value handles ties; every step is
    vectorised: O((n + m) log(n + m)) for the sorts, O(n log m + m log n) for the look-ups.
    The differences are the same floating-point numbers as in ``scipy.stats.ks_2samp``
    (count/n - count/m), and D is chosen the same way: the larger of max(F_x - F_y) and
    max(F_y - F_x), the positive side on a tie.
    """
    n, m = x.size, y.size

    def last_of_runs(s: np.ndarray) -> np.ndarray:
        keep = np.empty(s.size, dtype=bool)
        keep[-1] = True
        np.not_equal(s[1:], s[:-1], out=keep[:-1])
        return np.flatnonzero(keep)

    ix, iy = last_of_runs(x), last_of_runs(y)
    xv, yv = x[ix], y[iy]
    gap_at_x = (ix + 1) / n - np.searchsorted(y, xv, side="right") / m
    gap_at_y = np.searchsorted(x, yv, side="right") / n - (iy + 1) / m
    gaps = np.concatenate([gap_at_x, gap_at_y])
    values = np.concatenate([xv, yv])
    i_max, i_min = int(np.argmax(gaps)), int(np.argmin(gaps))
    d_plus = float(gaps[i_max])
    d_minus = min(max(-float(gaps[i_min]), 0.0), 1.0)
    if d_minus > d_plus:
        return d_minus, float(values[i_min]), -d_minus
    return d_plus, float(values[i_max]), d_plus


def ks_test(reference: Any, current: Any, method: str = "auto") -> KSResult:
    """Two-sample Kolmogorov-Smirnov test (two-sided), equal to ``scipy.stats.ks_2samp``.

    Statistic: D = max_t |F_ref(t) - F_cur(t)| with F the empirical CDFs, computed from the sorted
    samples by :func:`_ecdf_gap` (sorting + ``searchsorted``, ties handled, no Python loop).

    p-value, by ``method`` (the same meaning and switch-over as scipy):

    - ``"exact"``: the exact null distribution of D for sizes n and m (lattice-path counting,
      Hodges 1958), computed on D rounded to the grid h / lcm(n, m) it lives on;
    - ``"asymp"``: the one-sample Kolmogorov-Smirnov distribution at the effective size
      round(n m / (n + m)) (what scipy uses; Smirnov's limit for large samples);
    - ``"auto"``: ``"exact"`` when max(n, m) <= 10000, else ``"asymp"``.

    ``"exact"`` falls back to ``"asymp"`` with a ``RuntimeWarning`` where scipy does (lcm too large,
    or the exact computation fails); ``method`` of the result says which one was used.
    The original lesson kept one term of the limiting series, 2 exp(-2 lambda^2): p = 1 whenever
    lambda < 0.59 and off by up to 0.135.

    Constant data: two samples of the same constant give D = 0 and p = 1.
    One value in each sample with ``method="asymp"``: ``ValueError`` (the effective size rounds to 0,
    scipy returns NaN); ``"exact"`` and ``"auto"`` give p = 1.
    """
    check_choice("method", method, _KS_METHODS)
    x = np.sort(as_1d_array("reference", reference))
    y = np.sort(as_1d_array("current", current))
    n, m = x.size, y.size
    d, location, _ = _ecdf_gap(x, y)
    if method == "auto":
        method = "exact" if max(n, m) <= KS_EXACT_MAX_N else "asymp"
    if method == "asymp" and n == m == 1:  # effective size round(1/2) = 0; scipy returns NaN
        raise ValueError("method='asymp' is undefined when reference and current have one value each; "
                         "use method='exact' or 'auto'")
    if method == "exact":
        g = math.gcd(n, m)
        if n // g < _INT32_MAX / (m // g):  # scipy's test for "lcm small enough to try exact"
            lcm = (n // g) * m
            d = round(d * lcm) / lcm  # D is a multiple of 1/lcm; remove rounding noise
    p_value, used = ks_2samp_pvalue(d, n, m, method)
    return KSResult(statistic=float(d), p_value=float(p_value), method=used, location=location)


# --------------------------------------------------------------------------------------------
# Binning helpers shared by PSI, KL and Jensen-Shannon
# --------------------------------------------------------------------------------------------


def _check_category_dtypes(r: np.ndarray, c: np.ndarray) -> None:
    text_r, text_c = r.dtype.kind in "USO", c.dtype.kind in "USO"
    if text_r != text_c and r.dtype.kind != "O" and c.dtype.kind != "O":
        raise TypeError(
            f"current must hold the same kind of categories as reference; got dtype {c.dtype} "
            f"for current and {r.dtype} for reference"
        )


def _category_counts(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Categories of the union (sorted) and the counts of each in r and in c."""
    _check_category_dtypes(r, c)
    try:
        cats, inverse = np.unique(np.concatenate([r, c]), return_inverse=True)
    except TypeError:
        raise TypeError(
            "reference and current categories must be mutually comparable "
            "(all strings or all numbers)"
        ) from None
    inverse = inverse.ravel()
    k = cats.size
    return cats, np.bincount(inverse[: r.size], minlength=k), np.bincount(inverse[r.size:], minlength=k)


def _quantile_edges(ref_sorted: np.ndarray, n_bins: int) -> np.ndarray:
    """Interior bin edges for PSI: reference quantiles k / n_bins (numpy's default linear
    interpolation), duplicates removed, so tied or discrete data never produces a zero-width bin.

    Bins are right-closed, so the top bin (e_last, +inf) never holds the reference values tied at
    e_last. The bottom bin (-inf, e_1] does hold those tied at e_1: when e_1 is the reference minimum
    or a tied reference value (constant, boolean, zero-inflated or discrete data) it could hold most
    of the reference *and* everything that moved below it, and a move down would not show. In that
    case the edge nextafter(e_1, -inf) is added in front: (-inf, nextafter(e_1, -inf)] is exactly
    (-inf, e_1), and (nextafter(e_1, -inf), e_1] is exactly the tie {e_1} (one ulp wide, not zero).
    """
    edges = np.unique(np.quantile(ref_sorted, np.arange(1, n_bins) / n_bins))
    lowest = float(edges[0])
    ties = int(np.searchsorted(ref_sorted, lowest, side="right")
               - np.searchsorted(ref_sorted, lowest, side="left"))
    below = float(np.nextafter(lowest, -np.inf))
    if (lowest == ref_sorted[0] or ties >= 2) and below > -math.inf:  # nothing finite is below -max
        edges = np.concatenate(([below], edges))
    return edges


def _counts_in_bins(values_sorted: np.ndarray, interior_edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e_0], (e_0, e_1], ..., (e_last, +inf) for a sorted sample."""
    cumulative = np.searchsorted(values_sorted, interior_edges, side="right")
    return np.diff(np.concatenate(([0], cumulative, [values_sorted.size])))


def _uniform_counts(x: np.ndarray, y: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts on ``n_bins`` equal-width bins over [min, max] of both samples together.

    The bins of ``np.histogram(..., bins=n_bins, range=(lo, hi))``: edges e_k = lo + k (hi - lo) / n_bins
    (``np.linspace``), bins [e_k, e_k+1) and a closed last bin [e_last, hi]; a zero range becomes
    [lo - 0.5, lo + 0.5] as numpy does. Counted with ``searchsorted`` on the edges, which gives
    numpy's counts.

    When the range is too narrow (or too wide) for ``n_bins`` distinct finite float edges, numpy
    raises "Too many bins for data range": two constants a few float steps apart (0.1 + 0.2 and
    0.3), a constant beyond 2**53 (lo - 0.5 == lo), or a range wider than the largest float. Then
    each distinct value v is put in bin floor((v - lo) n_bins / (hi - lo)) (the last bin for v = hi)
    computed in exact rational arithmetic (``fractions.Fraction``): the same bins with exact edges,
    so the result keeps its meaning (two different constants still land in different bins).
    """
    lo = min(float(x.min()), float(y.min()))
    hi = max(float(x.max()), float(y.max()))
    first, last = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
    with np.errstate(over="ignore", invalid="ignore"):  # hi - lo may overflow: checked just below
        edges = np.linspace(first, last, n_bins + 1)
    if np.isfinite(edges).all() and (edges[1:] > edges[:-1]).all():
        def count(v: np.ndarray) -> np.ndarray:
            idx = np.minimum(np.searchsorted(edges, v, side="right") - 1, n_bins - 1)
            return np.bincount(idx, minlength=n_bins)
        return count(x), count(y)
    values, inverse = np.unique(np.concatenate([x, y]), return_inverse=True)
    f_first = Fraction(lo) - Fraction(1, 2) if lo == hi else Fraction(lo)
    width = Fraction(hi) + Fraction(1, 2) - f_first if lo == hi else Fraction(hi) - f_first
    per_value = np.array([min(math.floor((Fraction(v) - f_first) * n_bins / width), n_bins - 1)
                          for v in values.tolist()], dtype=np.intp)
    idx = per_value[inverse.ravel()]
    return np.bincount(idx[: x.size], minlength=n_bins), np.bincount(idx[x.size:], minlength=n_bins)


def _binned_counts(reference: Any, current: Any, n_bins: int, categorical: bool) -> tuple[np.ndarray, np.ndarray]:
    if categorical:
        r = as_category_array("reference", reference)
        c = as_category_array("current", current)
        _, cr, cc = _category_counts(r, c)
        return cr, cc
    x = as_1d_array("reference", reference)
    y = as_1d_array("current", current)
    n_bins = check_int("n_bins", n_bins, minimum=2)
    return _uniform_counts(x, y, n_bins)


# --------------------------------------------------------------------------------------------
# PSI
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PSIResult:
    """Population Stability Index and the bins it was computed on.

    ``bin_edges``: for numeric data the edges including the open ends ``-inf`` and ``+inf``
    (bins are right-closed: (e_0, e_1], (e_1, e_2], ...; a first edge one float below the second,
    e.g. 1.9999999999999998 before 2.0, splits off the values below a tie, see :func:`psi`); for
    categorical data the categories.
    ``ref_share``/``cur_share``: the observed shares per bin (before smoothing).
    """

    value: float
    interpretation: str
    bin_edges: np.ndarray
    ref_share: np.ndarray
    cur_share: np.ndarray


def psi_interpretation(value: float) -> str:
    """The conventional reading of a PSI value: < 0.1 "no drift", 0.1 to < 0.2 "moderate drift",
    >= 0.2 "significant drift"."""
    value = check_real("value", value, minimum=0.0)
    return next(label for upper, label in PSI_BANDS if value < upper)


def _psi_from_shares(r: np.ndarray, c: np.ndarray, eps: float) -> float:
    r = np.where(r == 0, eps, r)
    c = np.where(c == 0, eps, c)
    return float(np.sum((c - r) * np.log(c / r)))


def _psi_sorted(x_sorted: np.ndarray, y_sorted: np.ndarray, n_bins: int, eps: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    edges = _quantile_edges(x_sorted, n_bins)
    r = _counts_in_bins(x_sorted, edges) / x_sorted.size
    c = _counts_in_bins(y_sorted, edges) / y_sorted.size
    return _psi_from_shares(r, c, eps), np.concatenate(([-np.inf], edges, [np.inf])), r, c


def psi(
    reference: Any,
    current: Any,
    n_bins: int = 10,
    *,
    categorical: bool = False,
    eps: float = 1e-4,
) -> PSIResult:
    """Population Stability Index: PSI = sum_i (c_i - r_i) ln(c_i / r_i).

    r_i and c_i are the shares of the reference and the current sample in bin i.

    Bins (numeric data): cut at the reference's quantiles k / n_bins, k = 1 .. n_bins - 1, so
    each holds about 1 / n_bins of the reference; bins are right-closed, (q_k, q_k+1], and the
    outer ones open, (-inf, q_1] and (q_last, +inf), so values beyond the reference's range are
    counted, not lost. Repeated quantiles (tied or discrete data) are merged: fewer bins, never a
    zero-width one. If q_1 is the reference minimum or a tied value, (-inf, q_1] would hold the
    whole tie *and* whatever moved below it, hiding a move down (constant, boolean, zero-inflated
    data: PSI 0, while the same move up gives 18.4), so that bin is split at b = nextafter(q_1,
    -inf), the float just below q_1: (-inf, b] is (-inf, q_1) and (b, q_1] is {q_1}. Each open end
    then holds at most about 1 / n_bins of the reference; there are at most n_bins + 1 bins.

    ``categorical=True``: one bin per category of the union of both samples, so a category never
    seen in the reference is kept (share 0 there), not dropped.

    Smoothing: an empty bin would make ln(c/r) infinite, so a share of exactly 0 is replaced by
    ``eps`` (default 1e-4, Evidently's convention) in the formula; the shares are not
    renormalised. ``ref_share``/``cur_share`` in the result are the unsmoothed shares.

    Interpretation (see :func:`psi_interpretation`): < 0.1 no drift, 0.1 to 0.2 moderate,
    >= 0.2 significant.

    Constant data: a constant reference c gives the three bins (-inf, c), {c} and (c, +inf); the
    same constant in current gives PSI = 0, any other constant 2 (1 - eps) ln(1 / eps) = 18.4
    (eps = 1e-4), whichever side it moved to.
    """
    if not isinstance(categorical, bool):
        raise TypeError(f"categorical must be a bool; got {categorical!r}")
    eps = check_real("eps", eps, minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    if categorical:
        r_arr = as_category_array("reference", reference)
        c_arr = as_category_array("current", current)
        cats, cr, cc = _category_counts(r_arr, c_arr)
        r, c = cr / r_arr.size, cc / c_arr.size
        value, edges = _psi_from_shares(r, c, eps), cats
    else:
        x = np.sort(as_1d_array("reference", reference))
        y = np.sort(as_1d_array("current", current))
        n_bins = check_int("n_bins", n_bins, minimum=2)
        value, edges, r, c = _psi_sorted(x, y, n_bins, eps)
    return PSIResult(value=value, interpretation=psi_interpretation(max(value, 0.0)),
                     bin_edges=edges, ref_share=r, cur_share=c)


# --------------------------------------------------------------------------------------------
# Chi-squared
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chi2Result:
    """Chi-squared test of homogeneity: statistic, p-value, degrees of freedom (categories - 1)."""

    statistic: float
    p_value: float
    dof: int


def chi2_test(reference: Any, current: Any) -> Chi2Result:
    """Pearson's chi-squared test that reference and current come from the same categorical
    distribution (test of homogeneity on the 2 x K table of counts).

    Rows: reference, current; columns: the K categories of the union of both samples (a category
    unseen in the reference is a column, not dropped). Expected count E_ik = row_i col_k / N;
    statistic X^2 = sum (O_ik - E_ik)^2 / E_ik; dof = K - 1; p = P(chi2_dof >= X^2).
    Equal to ``scipy.stats.chi2_contingency(table, correction=False)``.

    This is the two-sample form, symmetric in the two samples. (Evidently's goodness-of-fit form,
    ``chisquare(current_counts, reference_shares * m)``, treats the reference as exact and breaks
    on a category unseen in the reference.)

    Constant data: a single category in both samples gives statistic 0, dof 0, p-value 1
    (as scipy).
    """
    r = as_category_array("reference", reference)
    c = as_category_array("current", current)
    _, cr, cc = _category_counts(r, c)
    observed = np.vstack([cr, cc]).astype(np.float64)
    dof = observed.shape[1] - 1
    if dof == 0:
        return Chi2Result(statistic=0.0, p_value=1.0, dof=0)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return Chi2Result(statistic=statistic, p_value=float(chi2_sf(statistic, dof)), dof=dof)


# --------------------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------------------


def _wasserstein_sorted(x: np.ndarray, y: np.ndarray) -> float:
    """W1 for sorted samples: integral of |F_x - F_y| over the merged breakpoints."""
    merged = np.concatenate([x, y])
    merged.sort(kind="stable")  # two sorted runs: a linear merge
    deltas = np.diff(merged)
    fx = np.searchsorted(x, merged[:-1], side="right") / x.size
    fy = np.searchsorted(y, merged[:-1], side="right") / y.size
    return float(np.sum(np.multiply(np.abs(fx - fy), deltas)))


def _exponent(*sorted_samples: np.ndarray) -> int:
    """e with max |value| < 2**e (``math.frexp``; 0 when every value is 0), for sorted samples:
    multiplying by 2**-e is exact (a power of two) and brings every value into (-1, 1)."""
    return math.frexp(max(max(abs(float(s[0])), abs(float(s[-1]))) for s in sorted_samples))[1]


def _wasserstein_safe(x: np.ndarray, y: np.ndarray) -> float:
    """:func:`_wasserstein_sorted`, and where its gaps overflow (values near +-1.8e308 give
    inf - inf = NaN) the same sum on the data times 2**-e, multiplied back (``inf`` only when W1
    itself is beyond the float range)."""
    with np.errstate(over="ignore", invalid="ignore"):
        w = _wasserstein_sorted(x, y)
    if math.isfinite(w):
        return w
    e = _exponent(x, y)
    with np.errstate(over="ignore"):
        return float(np.ldexp(_wasserstein_sorted(np.ldexp(x, -e), np.ldexp(y, -e)), e))


def wasserstein(reference: Any, current: Any) -> float:
    """First Wasserstein (earth mover's) distance between two 1-D samples.

    W1 = integral over t of |F_ref(t) - F_cur(t)| dt: the ECDFs are constant between consecutive
    values of the merged sample, so the integral is a sum of |gap| x width over those intervals.
    In the units of the data; equal to ``scipy.stats.wasserstein_distance`` (unweighted).
    Constant data: two equal constants give 0; two constants a and b give |a - b|.
    Values near the float limit (1e308) are rescaled by a power of two, so no NaN; ``inf`` only
    when the distance itself exceeds the largest float.
    """
    x = np.sort(as_1d_array("reference", reference))
    y = np.sort(as_1d_array("current", current))
    return _wasserstein_safe(x, y)


def _ref_scale(x_sorted: np.ndarray) -> tuple[float, int, bool]:
    """(s, e, constant) with ``np.std(x) = s * 2**e`` (ddof = 0), s computed on x * 2**-e.

    The scaling is exact (a power of two), so for ordinary data s * 2**e is bit for bit
    ``np.std(x)``; but np.std itself squares the deviations and overflows to ``inf`` for |x| ~ 1e160
    (and underflows to 0 for |x| ~ 1e-170), which would read "no drift" (or "infinite drift").
    ``constant`` is True when all values are equal (np.std of [0.1, 0.1, 0.1] is 1.4e-17, not 0).
    """
    e = _exponent(x_sorted)
    return float(np.std(np.ldexp(x_sorted, -e))), e, bool(x_sorted[0] == x_sorted[-1])


def _normed(x_sorted: np.ndarray, y_sorted: np.ndarray, scale: tuple[float, int, bool]) -> float:
    """W1(x, y) / std(x), computed as W1(x 2**-e, y 2**-e) / (std(x) 2**-e_x) * 2**(e - e_x), so that
    neither W1 nor the standard deviation overflows or underflows on the way (bit-identical to
    W1 / np.std(x) for ordinary data). Constant reference: 0.0 if W1 is 0, else ``inf``."""
    s, e_x, constant = scale
    e = _exponent(x_sorted, y_sorted)
    w = _wasserstein_sorted(np.ldexp(x_sorted, -e), np.ldexp(y_sorted, -e))
    if constant or s == 0:
        return 0.0 if w == 0 else math.inf
    with np.errstate(over="ignore"):  # a ratio beyond the float range is inf
        return float(np.ldexp(w / s, e - e_x))


def wasserstein_normed(reference: Any, current: Any) -> float:
    """W1 divided by the reference's standard deviation (``np.std``, ddof = 0), as Evidently's
    ``wasserstein`` drift test: a unit-free "how many reference standard deviations did the
    distribution move". Evidently's default threshold for drift is 0.1.

    Both are computed on the data times a power of two 2**-e (exact), and the ratio scaled back: a
    plain ``np.std`` overflows to ``inf`` for values around 1e160 and would make any shift look like
    0.0 ("no drift").

    Constant reference (std = 0): there is no scale; the result is 0.0 when the current sample is
    the same constant and ``math.inf`` when it moved at all (any movement is infinitely many
    standard deviations), never a division by zero.
    """
    x = np.sort(as_1d_array("reference", reference))
    y = np.sort(as_1d_array("current", current))
    return _normed(x, y, _ref_scale(x))


def _js_from_counts(cr: np.ndarray, cc: np.ndarray) -> float:
    p = cr / cr.sum()
    q = cc / cc.sum()
    mix = (p + q) / 2.0

    def rel_entr_sum(a: np.ndarray) -> float:
        nz = a > 0  # 0 ln 0 = 0; mix > 0 wherever a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / mix[nz])))

    divergence = (rel_entr_sum(p) + rel_entr_sum(q)) / math.log(2.0)
    return math.sqrt(max(divergence / 2.0, 0.0))


def jensen_shannon(reference: Any, current: Any, n_bins: int = 30, *, categorical: bool = False) -> float:
    """Jensen-Shannon *distance* (base 2) between the binned distributions of two samples.

    With p, q the shares per bin and M = (p + q) / 2:
    JS = sqrt((KL(p || M) + KL(q || M)) / 2), logarithms base 2, so 0 <= JS <= 1 (1 = disjoint).
    Bins: ``n_bins`` equal-width bins over the combined range of both samples (Evidently's
    default is 30); ``categorical=True``: one bin per category of the union. No smoothing is
    needed (M > 0 wherever p or q is). Equal to ``scipy.spatial.distance.jensenshannon(p, q,
    base=2)`` on the same histograms. (Evidently uses the natural log: its value is this one
    times sqrt(ln 2) = 0.83.)

    Constant data: all values in one bin; two equal constants give 0, two different ones 1, even
    a few float steps apart (0.1 + 0.2 and 0.3: the range is then too narrow for float bin
    edges and the bins are computed exactly, see :func:`_uniform_counts`).
    """
    if not isinstance(categorical, bool):
        raise TypeError(f"categorical must be a bool; got {categorical!r}")
    cr, cc = _binned_counts(reference, current, n_bins, categorical)
    return _js_from_counts(cr, cc)


def kl_divergence(
    reference: Any,
    current: Any,
    n_bins: int = 30,
    *,
    categorical: bool = False,
    eps: float = 1e-4,
) -> float:
    """Kullback-Leibler divergence KL(P_ref || P_cur) = sum_i r_i ln(r_i / c_i), in nats.

    Bins as in :func:`jensen_shannon` (equal width over the combined range, or one per category).
    Smoothing (explicit): a share of exactly 0 is replaced by ``eps`` (default 1e-4) and the shares
    are then renormalised to sum to 1. Without it a bin empty in the current sample but not in the
    reference makes KL infinite. Equal to ``scipy.stats.entropy(r, c)`` on the smoothed shares.
    Not symmetric; PSI is the symmetrised form KL(r || c) + KL(c || r) on the same bins.

    Constant data: two equal constants give 0; two different constants (however close) fall in
    the first and the last bin, KL = (1 - eps) ln(1 / eps) / (1 + (n_bins - 1) eps).
    """
    if not isinstance(categorical, bool):
        raise TypeError(f"categorical must be a bool; got {categorical!r}")
    eps = check_real("eps", eps, minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    cr, cc = _binned_counts(reference, current, n_bins, categorical)
    r = np.where(cr == 0, eps, cr / cr.sum())
    c = np.where(cc == 0, eps, cc / cc.sum())
    r, c = r / r.sum(), c / c.sum()
    return float(np.sum(r * np.log(r / c)))


# --------------------------------------------------------------------------------------------
# Report over many features
# --------------------------------------------------------------------------------------------

_TEST_LABEL = {
    "ks": "KS",
    "wasserstein_normed": "Wasserstein (normed)",
    "chi2": "chi-squared",
    "jensen_shannon": "Jensen-Shannon",
}


@dataclass(frozen=True)
class FeatureDrift:
    """One row of a :class:`DriftReport`.

    ``test`` is ``"ks"``, ``"wasserstein_normed"``, ``"chi2"`` or ``"jensen_shannon"``;
    ``p_value`` is ``None`` for the distances. ``drifted``: p_value < threshold for a test,
    statistic >= threshold for a distance. Means and shift are ``None`` for categorical features.
    """

    name: str
    kind: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    psi: float
    ref_mean: float | None
    cur_mean: float | None
    mean_shift: float | None

    @property
    def rule(self) -> str:
        """The drift rule as text, e.g. ``"p < 0.05"`` or ``">= 0.1"``."""
        return f"p < {self.threshold:g}" if self.p_value is not None else f">= {self.threshold:g}"


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


@dataclass(frozen=True, eq=False, repr=False)
class DriftReport:
    """Per-feature drift results and the dataset-level verdict.

    ``share_drifted`` is the fraction of features flagged; ``dataset_drift`` is
    ``share_drifted >= drift_share`` (Evidently's default drift_share is 0.5). Renders as a text
    table (``repr``/``str``) and as an HTML table in Jupyter; ``plot()`` draws every feature.
    """

    features: tuple[FeatureDrift, ...]
    n_reference: int
    n_current: int
    share_drifted: float
    dataset_drift: bool
    drift_share: float
    reference_columns: tuple[np.ndarray, ...] = field(repr=False)
    current_columns: tuple[np.ndarray, ...] = field(repr=False)

    @property
    def drifted_features(self) -> tuple[str, ...]:
        """Names of the features flagged as drifted, in column order."""
        return tuple(f.name for f in self.features if f.drifted)

    def __getitem__(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature named {name!r}; features are {[f.name for f in self.features]}")

    def _rows(self) -> list[list[str]]:
        rows = []
        for f in self.features:
            rows.append([
                f.name,
                f.kind,
                _TEST_LABEL[f.test],
                f"{f.statistic:.4f}",
                _fmt(f.p_value, ".3g"),
                f.rule,
                f"{f.psi:.4f}",
                _fmt(f.ref_mean, ".3f"),
                _fmt(f.cur_mean, ".3f"),
                _fmt(f.mean_shift, "+.3f"),
                "DRIFT" if f.drifted else "ok",
            ])
        return rows

    _HEADER = ("feature", "type", "test", "statistic", "p-value", "drift if", "PSI",
               "ref mean", "cur mean", "shift", "verdict")

    def _summary(self) -> str:
        k = len(self.features)
        n_drift = sum(f.drifted for f in self.features)
        verdict = "yes" if self.dataset_drift else "no"
        return (f"Drift report: {n_drift} of {k} features drifted ({self.share_drifted:.0%}); "
                f"dataset drift: {verdict} (threshold share {self.drift_share:g}); "
                f"reference rows {self.n_reference}, current rows {self.n_current}")

    def __repr__(self) -> str:
        rows = [list(self._HEADER)] + self._rows()
        widths = [max(len(r[j]) for r in rows) for j in range(len(self._HEADER))]
        lines = [self._summary()]
        for i, r in enumerate(rows):
            cells = [r[j].ljust(widths[j]) if j < 3 else r[j].rjust(widths[j]) for j in range(len(r))]
            lines.append("  ".join(cells).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = []
        for f, r in zip(self.features, self._rows()):
            style = ' style="color:#c0392b;font-weight:bold"' if f.drifted else ""
            cells = "".join(f"<td>{html.escape(c)}</td>" for c in r[:-1])
            body.append(f"<tr>{cells}<td{style}>{html.escape(r[-1])}</td></tr>")
        return (f"<p>{html.escape(self._summary())}</p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>")

    def plot(self, features: Sequence[str] | None = None, *, bins: int = 30) -> Any:
        """Figure with one column per feature: overlaid histograms (top) and ECDFs (bottom) with
        the KS gap marked as a vertical segment; categorical features show the share per category
        (top) and the change in share (bottom). Returns the matplotlib ``Figure``."""
        import matplotlib.pyplot as plt

        names = [f.name for f in self.features]
        if features is None:
            chosen = list(range(len(names)))
        else:
            if isinstance(features, str) or not isinstance(features, Iterable):
                raise TypeError(f"features must be a sequence of feature names; got {features!r}")
            chosen = []
            for name in features:
                if name not in names:
                    raise ValueError(f"features: no feature named {name!r}; features are {names}")
                chosen.append(names.index(name))
            if not chosen:
                raise ValueError("features must name at least one feature")
        bins = check_int("bins", bins, minimum=2)
        k = len(chosen)
        fig, axes = plt.subplots(2, k, figsize=(3.6 * k, 6.2), squeeze=False)
        ref_colour, cur_colour = "#1f77b4", "#d62728"
        for col, j in enumerate(chosen):
            f = self.features[j]
            x, y = self.reference_columns[j], self.current_columns[j]
            top, bottom = axes[0, col], axes[1, col]
            if f.kind == "numerical":
                lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
                if lo == hi:
                    lo, hi = lo - 0.5, hi + 0.5
                edges = np.linspace(lo, hi, bins + 1)
                top.hist(x, bins=edges, density=True, alpha=0.5, color=ref_colour, label="reference")
                top.hist(y, bins=edges, density=True, alpha=0.5, color=cur_colour, label="current")
                xs, ys = np.sort(x), np.sort(y)
                bottom.step(xs, np.arange(1, xs.size + 1) / xs.size, where="post", color=ref_colour,
                            label="reference")
                bottom.step(ys, np.arange(1, ys.size + 1) / ys.size, where="post", color=cur_colour,
                            label="current")
                d, loc, _ = _ecdf_gap(xs, ys)
                f_ref = np.searchsorted(xs, loc, side="right") / xs.size
                f_cur = np.searchsorted(ys, loc, side="right") / ys.size
                bottom.vlines(loc, min(f_ref, f_cur), max(f_ref, f_cur), color="black", linewidth=2.5,
                              label=f"KS gap D={d:.3f}")
                bottom.set_ylabel("ECDF")
                top.set_ylabel("density")
            else:
                cats, cr, cc = _category_counts(x, y)
                pos = np.arange(cats.size)
                r, c = cr / x.size, cc / y.size
                top.bar(pos - 0.2, r, width=0.4, color=ref_colour, alpha=0.7, label="reference")
                top.bar(pos + 0.2, c, width=0.4, color=cur_colour, alpha=0.7, label="current")
                bottom.bar(pos, c - r, color=np.where(c >= r, cur_colour, ref_colour))
                bottom.axhline(0, color="black", linewidth=0.8)
                for ax in (top, bottom):
                    ax.set_xticks(pos, [str(v) for v in cats], rotation=45 if cats.size > 4 else 0)
                top.set_ylabel("share")
                bottom.set_ylabel("share change (cur - ref)")
            stat = f"{f.statistic:.3f}" + (f", p={f.p_value:.2g}" if f.p_value is not None else "")
            top.set_title(f"{f.name}\n{_TEST_LABEL[f.test]} {stat}: {'DRIFT' if f.drifted else 'ok'}",
                          color="#c0392b" if f.drifted else "black", fontsize=10)
            top.legend(fontsize=8)
            if f.kind == "numerical":
                bottom.legend(fontsize=8, loc="lower right")
            for ax in (top, bottom):
                ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig


def _as_table(arg: str, data: Any) -> tuple[np.ndarray, list[str] | None]:
    if data is None or isinstance(data, (str, bytes, dict)):
        raise TypeError(f"{arg} must be a 2-D array (rows x features); got {type(data).__name__}")
    names = None
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a DataFrame, without importing pandas
        names = [str(c) for c in data.columns]
        data = data.to_numpy()
    try:
        arr = np.asarray(data)
    except ValueError:
        raise ValueError(f"{arg} must be a rectangular 2-D array (rows x features); got ragged rows") from None
    if arr.ndim != 2:
        raise ValueError(f"{arg} must be a 2-D array (rows x features); got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{arg} must have at least one row and one feature; got shape {arr.shape}")
    return arr, names


def feature_drift_report(
    reference: Any,
    current: Any,
    feature_names: Sequence[str] | None = None,
    categorical: Iterable[str | int] = (),
    *,
    large_sample: int = 1000,
    alpha: float = 0.05,
    distance_threshold: float = 0.1,
    drift_share: float = 0.5,
    psi_bins: int = 10,
) -> DriftReport:
    """Drift of every feature (column) of ``current`` against ``reference``.

    The test per feature follows Evidently's default rule (DataDriftPreset):

    ===========  =================================  ==================================
    feature      reference rows <= ``large_sample``  reference rows > ``large_sample``
    ===========  =================================  ==================================
    numerical    KS test, drift if p < ``alpha``     normed Wasserstein, drift if >= 0.1
    categorical  chi-squared, drift if p < ``alpha`` Jensen-Shannon, drift if >= 0.1
    ===========  =================================  ==================================

    (``large_sample`` = 1000, ``alpha`` = 0.05, ``distance_threshold`` = 0.1 by default.) With
    many rows every test becomes "significant" for shifts too small to matter, so above 1000
    rows the decision moves to an effect size. Differences from Evidently, on purpose: a feature
    is numerical unless listed in ``categorical`` (Evidently also treats numbers with <= 5
    distinct values as categorical and uses a z-test for binary ones); Jensen-Shannon is in
    base 2.

    Every feature also gets its PSI (``psi_bins`` reference-quantile bins, categories for
    categorical features) and, when numerical, the means and the shift ``cur_mean - ref_mean``.
    ``dataset_drift`` is True when the share of drifted features is >= ``drift_share``.

    ``reference``/``current``: 2-D arrays (rows x features; the row counts may differ) or
    DataFrames; categorical columns may hold strings (use an object array or a DataFrame).
    ``feature_names`` default to the DataFrame's columns, else ``feature_0, feature_1, ...``.
    ``categorical``: names (or column indices) of the categorical features.
    """
    ref, ref_names = _as_table("reference", reference)
    cur, cur_names = _as_table("current", current)
    k = ref.shape[1]
    if cur.shape[1] != k:
        raise ValueError(
            f"current must have the same number of features as reference ({k}); got shape {cur.shape}"
        )
    if feature_names is None:
        names = ref_names if ref_names is not None else [f"feature_{j}" for j in range(k)]
    else:
        if isinstance(feature_names, str) or not isinstance(feature_names, Iterable):
            raise TypeError(f"feature_names must be a sequence of str; got {feature_names!r}")
        names = list(feature_names)
        if not all(isinstance(s, str) for s in names):
            raise TypeError(f"feature_names must contain str only; got {names!r}")
        if len(names) != k:
            raise ValueError(f"feature_names must have {k} names (one per column); got {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"feature_names must be unique; got {names!r}")
    if ref_names is not None and cur_names is not None and ref_names != cur_names:
        raise ValueError(f"current must have the same columns as reference; got {cur_names} vs {ref_names}")
    if isinstance(categorical, (str, bytes)) or not isinstance(categorical, Iterable):
        raise TypeError(f"categorical must be a collection of feature names or column indices; got {categorical!r}")
    is_cat = [False] * k
    for item in categorical:
        if isinstance(item, str):
            if item not in names:
                raise ValueError(f"categorical: no feature named {item!r}; features are {names}")
            is_cat[names.index(item)] = True
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < k:
                raise ValueError(f"categorical: column index {item} out of range for {k} features")
            is_cat[int(item)] = True
        else:
            raise TypeError(f"categorical must hold feature names or column indices; got {item!r}")
    large_sample = check_int("large_sample", large_sample, minimum=1)
    alpha = check_probability("alpha", alpha)
    distance_threshold = check_real("distance_threshold", distance_threshold, minimum=0.0, strict_minimum=True)
    drift_share = check_real("drift_share", drift_share, minimum=0.0, maximum=1.0, strict_minimum=True)
    psi_bins = check_int("psi_bins", psi_bins, minimum=2)

    n_ref, n_cur = ref.shape[0], cur.shape[0]
    small = n_ref <= large_sample
    rows: list[FeatureDrift] = []
    ref_cols: list[np.ndarray] = []
    cur_cols: list[np.ndarray] = []
    for j, name in enumerate(names):
        if is_cat[j]:
            x = as_category_array(f"reference column {name!r}", ref[:, j])
            y = as_category_array(f"current column {name!r}", cur[:, j])
            _, cr, cc = _category_counts(x, y)
            psi_value = _psi_from_shares(cr / n_ref, cc / n_cur, 1e-4)
            if small:
                res = chi2_test(x, y)
                test, stat, p, thr, drifted = "chi2", res.statistic, res.p_value, alpha, res.p_value < alpha
            else:
                stat = _js_from_counts(cr, cc)
                test, p, thr, drifted = "jensen_shannon", None, distance_threshold, stat >= distance_threshold
            rows.append(FeatureDrift(name, "categorical", test, float(stat), p, thr, bool(drifted),
                                     psi_value, None, None, None))
        else:
            x = as_1d_array(f"reference column {name!r}", ref[:, j])
            y = as_1d_array(f"current column {name!r}", cur[:, j])
            xs, ys = np.sort(x), np.sort(y)
            psi_value = _psi_sorted(xs, ys, psi_bins, 1e-4)[0]
            if small:
                res = ks_test(xs, ys)
                test, stat, p, thr, drifted = "ks", res.statistic, res.p_value, alpha, res.p_value < alpha
            else:
                stat = _normed(xs, ys, _ref_scale(xs))
                test, p, thr, drifted = "wasserstein_normed", None, distance_threshold, stat >= distance_threshold
            ref_mean, cur_mean = float(np.mean(x)), float(np.mean(y))
            rows.append(FeatureDrift(name, "numerical", test, float(stat), p, thr, bool(drifted),
                                     psi_value, ref_mean, cur_mean, cur_mean - ref_mean))
        ref_cols.append(x)
        cur_cols.append(y)
    share = sum(r.drifted for r in rows) / k
    return DriftReport(features=tuple(rows), n_reference=n_ref, n_current=n_cur, share_drifted=share,
                       dataset_drift=share >= drift_share, drift_share=drift_share,
                       reference_columns=tuple(ref_cols), current_columns=tuple(cur_cols))


# --------------------------------------------------------------------------------------------
# Sliding-window monitor
# --------------------------------------------------------------------------------------------

_MONITOR_TESTS = ("auto", "ks", "psi", "wasserstein_normed", "jensen_shannon")
_DEFAULT_THRESHOLDS = {"ks": 0.05, "psi": 0.2, "wasserstein_normed": 0.1, "jensen_shannon": 0.1}


@dataclass(frozen=True, eq=False, repr=False)
class WindowedDriftResult:
    """The checks one :meth:`WindowedDriftMonitor.run` performed.

    ``check_times``: 0-based stream index of the last value in each checked window;
    ``statistics``: the test's statistic (KS D, PSI, normed W1 or JS distance) per check;
    ``p_values``: per check for ``"ks"``, else ``None``; ``flagged``: drift at that check.
    """

    test: str
    threshold: float
    check_times: np.ndarray
    statistics: np.ndarray
    p_values: np.ndarray | None
    flagged: np.ndarray

    @property
    def drift_times(self) -> np.ndarray:
        """Times (0-based stream indices) at which drift was flagged."""
        return self.check_times[self.flagged]

    @property
    def first_drift_time(self) -> int | None:
        """The first time drift was flagged, or ``None``."""
        times = self.drift_times
        return int(times[0]) if times.size else None

    def __repr__(self) -> str:
        first = self.first_drift_time
        return (f"WindowedDriftResult(test={self.test!r}, threshold={self.threshold:g}, "
                f"checks={self.check_times.size}, flagged={int(self.flagged.sum())}, "
                f"first_drift_time={first})")


def _reject_booleans(name: str, values: Any) -> None:
    """``TypeError`` naming ``name`` if ``values`` holds booleans (bool dtype, or bools in a list or
    object array); anything else is left to :func:`as_1d_array` to judge."""
    if values is None or isinstance(values, (str, bytes)):
        return
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        return
    if arr.dtype == bool:
        found = "an array of dtype bool"
    elif arr.dtype == object and any(isinstance(v, (bool, np.bool_)) for v in arr.ravel()):
        found = "a boolean among the values"
    else:
        return
    raise TypeError(f"{name} must contain real numbers, not booleans; got {found} "
                    "(convert flags to 0/1 integers if a numeric stream is meant)")


class WindowedDriftMonitor:
    """Compare the last ``window`` values of a stream with a fixed reference every ``every`` values.

    A check runs after the value at 0-based index t whenever t + 1 >= ``window`` and
    (t + 1 - ``window``) is a multiple of ``every``: windows overlap when ``every < window``.
    ``test``: ``"ks"`` (drift if p < threshold, default 0.05), ``"psi"`` (>= threshold, default
    0.2), ``"wasserstein_normed"`` (>= 0.1), ``"jensen_shannon"`` (>= 0.1, 30 bins) or
    ``"auto"``: KS when the reference has <= 1000 values, else normed Wasserstein (Evidently's
    rule, as :func:`feature_drift_report`).

    The window is a ring buffer (no copy per value). Like river's detectors: ``update(x)`` feeds
    one value and ``drift_detected`` is the verdict of the latest check; ``run(stream)`` feeds a
    whole array and returns a :class:`WindowedDriftResult` with the times drift was flagged.
    Note: with p-value tests, checking often means many tests; with alpha = 0.05 about one
    check in twenty flags drift on stable data, so overlapping windows raise repeated alarms.
    """

    def __init__(
        self,
        reference: Any,
        window: int = 500,
        every: int = 100,
        test: str = "auto",
        threshold: float | None = None,
    ) -> None:
        ref = as_1d_array("reference", reference)
        self.window = check_int("window", window, minimum=1)
        self.every = check_int("every", every, minimum=1)
        check_choice("test", test, _MONITOR_TESTS)
        if test == "auto":
            test = "ks" if ref.size <= 1000 else "wasserstein_normed"
        self.test: str = test
        if threshold is None:
            threshold = _DEFAULT_THRESHOLDS[test]
        if test == "ks":
            self.threshold = check_probability("threshold", threshold)
        else:
            self.threshold = check_real("threshold", threshold, minimum=0.0, strict_minimum=True)
        self._ref_sorted = np.sort(ref)
        self._ref_scale = _ref_scale(self._ref_sorted)
        self._buffer = np.empty(self.window)
        self._n_seen = 0
        self._drift = False

    @property
    def n_seen(self) -> int:
        """How many values have been fed so far."""
        return self._n_seen

    @property
    def drift_detected(self) -> bool:
        """The verdict of the latest check (False before the first check)."""
        return self._drift

    def _check(self) -> tuple[float, float | None, bool]:
        win = np.sort(self._buffer)
        if self.test == "ks":
            res = ks_test(self._ref_sorted, win)
            return res.statistic, res.p_value, res.p_value < self.threshold
        if self.test == "psi":
            stat = _psi_sorted(self._ref_sorted, win, 10, 1e-4)[0]
        elif self.test == "wasserstein_normed":
            stat = _normed(self._ref_sorted, win, self._ref_scale)
        else:
            stat = _js_from_counts(*_uniform_counts(self._ref_sorted, win, 30))
        return stat, None, stat >= self.threshold

    def _push(self, value: float) -> tuple[float, float | None, bool] | None:
        self._buffer[self._n_seen % self.window] = value
        self._n_seen += 1
        if self._n_seen >= self.window and (self._n_seen - self.window) % self.every == 0:
            out = self._check()
            self._drift = bool(out[2])
            return out
        return None

    def update(self, x: float) -> bool:
        """Feed one value; returns :attr:`drift_detected` (the verdict of the latest check).
        ``x`` must be a real number; a boolean is a ``TypeError`` (as in :meth:`run`)."""
        self._push(check_real("x", x))
        return self._drift

    def run(self, stream: Any) -> WindowedDriftResult:
        """Feed every value of ``stream`` (continuing from earlier calls) and return the checks made.

        Booleans are rejected (``TypeError``), as :meth:`update` rejects ``True``: a stream of
        flags is not a numeric feature (use 0/1 integers if that is really meant).
        """
        _reject_booleans("stream", stream)
        values = as_1d_array("stream", stream, min_size=0)
        times, stats, pvals, flags = [], [], [], []
        for v in values.tolist():
            out = self._push(v)
            if out is not None:
                times.append(self._n_seen - 1)
                stats.append(out[0])
                pvals.append(out[1])
                flags.append(out[2])
        return WindowedDriftResult(
            test=self.test,
            threshold=self.threshold,
            check_times=np.array(times, dtype=np.int64),
            statistics=np.array(stats, dtype=np.float64),
            p_values=np.array(pvals, dtype=np.float64) if self.test == "ks" else None,
            flagged=np.array(flags, dtype=bool),
        )

    def __repr__(self) -> str:
        return (f"WindowedDriftMonitor(test={self.test!r}, window={self.window}, every={self.every}, "
                f"threshold={self.threshold:g}, n_seen={self._n_seen}, drift_detected={self._drift})")
