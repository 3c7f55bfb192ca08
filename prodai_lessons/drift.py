"""Section 2: data drift detection from scratch (notebook ``02_data_drift``).

Every measure compares a *reference* sample (what the model was trained or validated on) with a
*current* sample (what production sends now), one feature at a time. The module reads in the order
of the lesson, and each idea is first stated in a few lines, then offered as the function the
lessons call:

- KS test: :func:`ecdf_gap` (the statistic), :func:`ks_test` (equal to ``scipy.stats.ks_2samp``;
  p-values from :mod:`prodai_lessons.stats`);
- PSI: :func:`psi_from_shares` (the formula), :func:`psi` (reference-quantile bins);
- :func:`chi2_test` for categories (``scipy.stats.chi2_contingency(correction=False)``);
- distances: :func:`ecdf_area` (Wasserstein-1), :func:`wasserstein`, :func:`wasserstein_normed`;
  :func:`js_distance` (Jensen-Shannon), :func:`jensen_shannon`, :func:`kl_divergence`;
- :func:`feature_drift_report` (Evidently's per-feature rule) and :class:`WindowedDriftMonitor`.

The public functions validate their input and use the fast, exact paths of
``prodai_lessons._drift_engine``, which give the same numbers as the short versions (the tests check
that). Constant data gives a defined result everywhere (documented per function).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prodai_lessons._drift_engine import (
    _as_table,
    _binned_counts,
    _categorical_mask,
    _category_counts,
    _counts_in_bins,
    _feature_names,
    _ks_gap_sorted,
    _normed,
    _quantile_edges,
    _ref_scale,
    _reject_booleans,
    _uniform_counts,
    _wasserstein_safe,
)
from prodai_lessons._drift_view import DriftReport, FeatureDrift
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
    "ecdf_gap",
    "KSResult",
    "ks_test",
    "psi_from_shares",
    "PSIResult",
    "psi",
    "psi_interpretation",
    "Chi2Result",
    "chi2_test",
    "ecdf_area",
    "wasserstein",
    "wasserstein_normed",
    "js_distance",
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


def ecdf_gap(reference: Any, current: Any) -> float:
    """KS statistic: the largest gap D = max_t |F_ref(t) - F_cur(t)| between two ECDFs.

    F(t) is the share of a sample's values <= t. Both ECDFs are steps that only jump at data
    values, so the largest gap is at one of them: evaluate both ECDFs at every pooled value.
    Assumes clean input (two non-empty 1-D arrays of finite numbers; :func:`ks_test` checks).

    >>> ecdf_gap([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    0.5
    """
    x, y = np.sort(reference), np.sort(current)
    pooled = np.concatenate([x, y])
    # searchsorted(..., side="right") counts the values <= t: a tied value counts all its copies
    f_ref = np.searchsorted(x, pooled, side="right") / x.size
    f_cur = np.searchsorted(y, pooled, side="right") / y.size
    return float(np.max(np.abs(f_ref - f_cur)))


@dataclass(frozen=True)
class KSResult:
    """Result of the two-sample KS test (:func:`ks_test`).

    Attributes: ``statistic`` is D = max_t |F_ref(t) - F_cur(t)|; ``p_value`` its two-sided p-value;
    ``method`` the distribution actually used (``"exact"`` or ``"asymp"``); ``location`` a value t
    at which the gap D is attained (to mark it on a plot).

    >>> KSResult(statistic=0.5, p_value=0.77, method="exact", location=2.0).statistic
    0.5
    """

    statistic: float
    p_value: float
    method: str
    location: float


def ks_test(reference: Any, current: Any, method: str = "auto") -> KSResult:
    """Two-sample Kolmogorov-Smirnov test (two-sided), equal to ``scipy.stats.ks_2samp``.

    Statistic: D of :func:`ecdf_gap`, computed by a faster path with the same floating-point
    numbers (each ECDF evaluated only where it jumps). p-value, by ``method`` (the same meaning and
    switch-over as scipy):

    - ``"exact"``: the exact null distribution of D for sizes n and m (lattice-path counting,
      Hodges 1958), on D rounded to the grid h / lcm(n, m) it lives on;
    - ``"asymp"``: the one-sample Kolmogorov-Smirnov distribution at the effective size
      round(n m / (n + m)) (what scipy uses; Kolmogorov's limit for large samples);
    - ``"auto"``: ``"exact"`` when max(n, m) <= 10000, else ``"asymp"``.

    Parameters:
    - ``reference``, ``current``: 1-D array-likes of finite numbers, non-empty (sizes n and m).
    - ``method``: ``"auto"`` (default), ``"exact"`` or ``"asymp"``.

    Notes:
    ``"exact"`` falls back to ``"asymp"`` with a ``RuntimeWarning`` where scipy does (lcm too large, or
    the exact computation fails); ``method`` of the result says which one was used. Two samples of the
    same constant give D = 0 and p = 1. One value in each sample with ``method="asymp"`` is a
    ``ValueError`` (the effective size rounds to 0; scipy returns NaN); ``"exact"`` and ``"auto"`` give
    p = 1. A common mistake keeps one term of Kolmogorov's series, 2 exp(-2 lambda^2): p = 1 whenever
    lambda < 0.59 (see :func:`prodai_lessons.stats.kolmogorov_sf_series`).

    >>> res = ks_test([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    >>> res.statistic, round(res.p_value, 4), res.method
    (0.5, 0.7714, 'exact')
    """
    check_choice("method", method, _KS_METHODS)
    x = np.sort(as_1d_array("reference", reference))
    y = np.sort(as_1d_array("current", current))
    n, m = x.size, y.size
    d, location = _ks_gap_sorted(x, y)
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
# PSI
# --------------------------------------------------------------------------------------------


def psi_from_shares(ref_share: Any, cur_share: Any, eps: float = 1e-4) -> float:
    """Population Stability Index from each sample's share per bin: sum_i (c_i - r_i) ln(c_i / r_i).

    Each term is >= 0 (c_i - r_i and ln(c_i / r_i) have the same sign). An empty bin would make
    ln(c_i / r_i) infinite, so a share of exactly 0 is replaced by ``eps`` (not renormalised).
    Assumes two arrays of shares over the same bins.

    >>> round(psi_from_shares([0.5, 0.5], [0.6, 0.4]), 4)
    0.0405
    """
    r = np.asarray(ref_share, dtype=np.float64)
    c = np.asarray(cur_share, dtype=np.float64)
    r = np.where(r == 0, eps, r)
    c = np.where(c == 0, eps, c)
    return float(np.sum((c - r) * np.log(c / r)))


@dataclass(frozen=True, eq=False)
class PSIResult:
    """Population Stability Index and the bins it was computed on (:func:`psi`).

    Attributes: ``value`` and its ``interpretation``; ``bin_edges``: for numeric data the edges
    including the open ends ``-inf`` and ``+inf`` (bins are right-closed: (e_0, e_1], (e_1, e_2],
    ...; a first edge one float below the second, e.g. 1.9999999999999998 before 2.0, splits off the
    values below a tie, see :func:`psi`), for categorical data the categories;
    ``ref_share``/``cur_share``: the observed shares per bin (before smoothing).

    >>> res = psi([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0], n_bins=2)
    >>> res.bin_edges.tolist(), res.cur_share.tolist()
    ([-inf, 2.5, inf], [0.0, 1.0])
    """

    value: float
    interpretation: str
    bin_edges: np.ndarray
    ref_share: np.ndarray
    cur_share: np.ndarray


def psi_interpretation(value: float) -> str:
    """The conventional reading of a PSI value: "no drift", "moderate drift" or "significant drift".

    Parameters:
    - ``value``: a PSI value, real >= 0. Bands (:data:`PSI_BANDS`): < 0.1 "no drift", 0.1 to < 0.2
      "moderate drift", >= 0.2 "significant drift".

    >>> psi_interpretation(0.15)
    'moderate drift'
    """
    value = check_real("value", value, minimum=0.0)
    return next(label for upper, label in PSI_BANDS if value < upper)


def _psi_sorted(x_sorted: np.ndarray, y_sorted: np.ndarray, n_bins: int,
                eps: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """PSI on the reference-quantile bins of two sorted samples: (value, edges with -inf/+inf, r, c)."""
    edges = _quantile_edges(x_sorted, n_bins)
    r = _counts_in_bins(x_sorted, edges) / x_sorted.size
    c = _counts_in_bins(y_sorted, edges) / y_sorted.size
    return psi_from_shares(r, c, eps), np.concatenate(([-np.inf], edges, [np.inf])), r, c


def psi(
    reference: Any,
    current: Any,
    n_bins: int = 10,
    *,
    categorical: bool = False,
    eps: float = 1e-4,
) -> PSIResult:
    """Population Stability Index of two samples: PSI = sum_i (c_i - r_i) ln(c_i / r_i).

    r_i and c_i are the shares of the reference and the current sample in bin i; the formula is
    :func:`psi_from_shares`. Bins (numeric data): cut at the reference's quantiles k / n_bins,
    k = 1 .. n_bins - 1, so each holds about 1 / n_bins of the reference; right-closed, (q_k, q_k+1],
    with open outer bins (-inf, q_1] and (q_last, +inf), so values beyond the reference's range are
    counted, not lost. Interpretation: :func:`psi_interpretation`.

    Parameters:
    - ``reference``, ``current``: 1-D array-likes of finite numbers (or of categories), non-empty.
    - ``n_bins``: number of quantile bins, an integer >= 2 (default 10; ignored for categories).
    - ``categorical``: one bin per category of the union of both samples, so a category never seen in
      the reference is kept (share 0 there), not dropped.
    - ``eps``: the share that replaces a share of exactly 0 in the formula, in (0, 1) (default 1e-4,
      Evidently's convention).

    Notes:
    Repeated quantiles (tied or discrete data) are merged: fewer bins, never a zero-width one. If
    q_1 is the reference minimum or a tied value, (-inf, q_1] would hold the whole tie *and* whatever
    moved below it, hiding a move down (constant, boolean, zero-inflated data: PSI 0, while the same
    move up gives 18.4), so that bin is split at b = nextafter(q_1, -inf), the float just below q_1:
    (-inf, b] is (-inf, q_1) and (b, q_1] is {q_1}. There are at most n_bins + 1 bins.
    ``ref_share``/``cur_share`` in the result are the unsmoothed shares. Constant data: a constant
    reference c gives the bins (-inf, c), {c} and (c, +inf); the same constant in current gives
    PSI = 0, any other constant 2 (1 - eps) ln(1 / eps) = 18.4, whichever side it moved to.

    >>> res = psi(np.arange(1.0, 11.0), np.arange(1.0, 9.0), n_bins=2)
    >>> round(res.value, 4), res.interpretation
    (0.0639, 'no drift')
    """
    if not isinstance(categorical, bool):
        raise TypeError(f"categorical must be a bool; got {categorical!r}")
    eps = check_real("eps", eps, minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    if categorical:
        r_arr = as_category_array("reference", reference)
        c_arr = as_category_array("current", current)
        cats, cr, cc = _category_counts(r_arr, c_arr)
        r, c = cr / r_arr.size, cc / c_arr.size
        value, edges = psi_from_shares(r, c, eps), cats
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
    """Result of the chi-squared test of homogeneity (:func:`chi2_test`).

    Attributes: ``statistic`` X^2, ``p_value``, ``dof`` (degrees of freedom: categories - 1).

    >>> chi2_test(["a", "b"], ["a", "b"])
    Chi2Result(statistic=0.0, p_value=1.0, dof=1)
    """

    statistic: float
    p_value: float
    dof: int


def chi2_test(reference: Any, current: Any) -> Chi2Result:
    """Pearson's chi-squared test that two categorical samples come from the same distribution.

    The test of homogeneity on the 2 x K table of counts: rows reference and current, columns the K
    categories of the union of both samples (a category unseen in the reference is a column, not
    dropped). Expected count E_ik = row_i col_k / N; statistic X^2 = sum (O_ik - E_ik)^2 / E_ik;
    dof = K - 1; p = P(chi2_dof >= X^2). Equal to ``scipy.stats.chi2_contingency(table,
    correction=False)``.

    Parameters:
    - ``reference``, ``current``: 1-D array-likes of categories (strings or numbers, not None), non-empty.

    Notes:
    This is the two-sample form, symmetric in the two samples. (Evidently's goodness-of-fit form,
    ``chisquare(current_counts, reference_shares * m)``, treats the reference as exact and breaks on a
    category unseen in the reference.) A single category in both samples gives statistic 0, dof 0,
    p-value 1 (as scipy).

    >>> res = chi2_test(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    >>> round(res.statistic, 4), round(res.p_value, 4), res.dof
    (0.5333, 0.4652, 1)
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


def ecdf_area(reference: Any, current: Any) -> float:
    """Wasserstein-1 distance: the area between two ECDFs, integral of |F_ref(t) - F_cur(t)| dt.

    Between two consecutive pooled values both ECDFs are constant, so the area is a sum of
    rectangles: |gap| x width. In the units of the data (a shift by 3 gives 3).
    Assumes clean input (two non-empty 1-D arrays of finite numbers; :func:`wasserstein` checks).

    >>> ecdf_area([0.0, 1.0], [2.0, 3.0])
    2.0
    """
    x, y = np.sort(reference), np.sort(current)
    pooled = np.sort(np.concatenate([x, y]))
    widths = np.diff(pooled)
    # the ECDFs on [pooled[i], pooled[i+1]): the share of values <= pooled[i]
    f_ref = np.searchsorted(x, pooled[:-1], side="right") / x.size
    f_cur = np.searchsorted(y, pooled[:-1], side="right") / y.size
    return float(np.sum(np.abs(f_ref - f_cur) * widths))


def wasserstein(reference: Any, current: Any) -> float:
    """First Wasserstein (earth mover's) distance between two 1-D samples.

    W1 = integral of |F_ref(t) - F_cur(t)| dt, the area of :func:`ecdf_area`: the average distance
    each unit of probability has to travel. In the units of the data; equal to
    ``scipy.stats.wasserstein_distance`` (unweighted).

    Parameters:
    - ``reference``, ``current``: 1-D array-likes of finite numbers, non-empty.

    Notes:
    Two equal constants give 0; two constants a and b give |a - b|. Values near the float limit
    (1e308) are rescaled by a power of two, so no NaN; ``inf`` only when the distance itself exceeds
    the largest float.

    >>> wasserstein([0.0, 1.0], [3.0, 4.0])  # every value moves by 3
    3.0
    """
    x = np.sort(as_1d_array("reference", reference))
    y = np.sort(as_1d_array("current", current))
    return _wasserstein_safe(x, y)


def wasserstein_normed(reference: Any, current: Any) -> float:
    """W1 divided by the reference's standard deviation: how many standard deviations it moved.

    As Evidently's ``wasserstein`` drift test (its default threshold for drift is 0.1); the standard
    deviation is ``np.std`` (ddof = 0).

    Parameters:
    - ``reference``, ``current``: 1-D array-likes of finite numbers, non-empty.

    Notes:
    Both are computed on the data times a power of two 2**-e (exact), and the ratio scaled back: a
    plain ``np.std`` overflows to ``inf`` for values around 1e160 and would make any shift look like
    0.0 ("no drift"). Constant reference (std = 0): there is no scale; the result is 0.0 when the
    current sample is the same constant and ``math.inf`` when it moved at all (any movement is
    infinitely many standard deviations), never a division by zero.

    >>> wasserstein_normed([0.0, 2.0], [1.0, 3.0])
    1.0
    """
    x = np.sort(as_1d_array("reference", reference))
    y = np.sort(as_1d_array("current", current))
    return _normed(x, y, _ref_scale(x))


def js_distance(p: Any, q: Any) -> float:
    """Jensen-Shannon distance (base 2) between two histograms over the same bins.

    With shares p, q and their average M = (p + q) / 2: JS = sqrt((KL(p || M) + KL(q || M)) / 2),
    KL in bits, so 0 (same shares) <= JS <= 1 (no overlap). M > 0 wherever p or q is, so no
    smoothing is needed. Assumes counts (or shares) >= 0 with a positive sum in each histogram.
    With natural logs the divergence under the root is ln 2 times smaller, so the distance is
    sqrt(ln 2) = 0.8326 times this one (see :func:`jensen_shannon` for what that does to thresholds).

    >>> js_distance([10, 0], [0, 5])
    1.0
    """
    p = np.asarray(p) / np.sum(p)
    q = np.asarray(q) / np.sum(q)
    m = (p + q) / 2.0

    def kl_to_m(a: np.ndarray) -> float:  # sum of a ln(a / m), where 0 ln 0 = 0
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / m[nz])))

    bits = (kl_to_m(p) + kl_to_m(q)) / math.log(2.0)
    return math.sqrt(max(bits / 2.0, 0.0))  # rounding can push a zero sum just below 0


def jensen_shannon(reference: Any, current: Any, n_bins: int = 30, *, categorical: bool = False) -> float:
    """Jensen-Shannon *distance* (base 2) between the binned distributions of two samples.

    The histograms of both samples on the same bins, compared by :func:`js_distance`: 0 <= JS <= 1
    (1 = disjoint). Equal to ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` on the same
    histograms.

    The base matters for thresholds. ``scipy.spatial.distance.jensenshannon`` without ``base`` uses
    the natural log (so do some drift tools): the divergence is then JSD_nats = ln 2 x JSD_bits and
    the *distance*, its square root, JS_nats = sqrt(ln 2) x JS_bits = 0.8326 x JS_bits. So the
    threshold 0.1 of :func:`feature_drift_report` (bits) is 0.1 x sqrt(ln 2) = 0.0833 on a
    natural-log distance, and a threshold of 0.1 taken from a natural-log tool is 0.1 / sqrt(ln 2) =
    0.1201 here: that tool flags only larger changes. (On the divergence, without the root, the
    factor is ln 2 = 0.693 instead.)

    Parameters:
    - ``reference``, ``current``: 1-D array-likes of finite numbers (or of categories), non-empty.
    - ``n_bins``: equal-width bins over the combined range of both samples, an integer >= 2
      (Evidently's default, 30).
    - ``categorical``: one bin per category of the union of both samples instead.

    Notes:
    Constant data: all values in one bin; two equal constants give 0, two different ones 1, even a
    few float steps apart (0.1 + 0.2 and 0.3: the range is then too narrow for float bin edges and
    the bins are computed exactly).

    >>> jensen_shannon([0.0, 0.0, 1.0], [5.0, 6.0, 7.0], n_bins=2)
    1.0
    """
    if not isinstance(categorical, bool):
        raise TypeError(f"categorical must be a bool; got {categorical!r}")
    cr, cc = _binned_counts(reference, current, n_bins, categorical)
    return js_distance(cr, cc)


def kl_divergence(
    reference: Any,
    current: Any,
    n_bins: int = 30,
    *,
    categorical: bool = False,
    eps: float = 1e-4,
) -> float:
    """Kullback-Leibler divergence KL(P_ref || P_cur) = sum_i r_i ln(r_i / c_i), in nats.

    Not symmetric; PSI is the symmetrised form KL(r || c) + KL(c || r) on the same bins. Equal to
    ``scipy.stats.entropy(r, c)`` on the smoothed shares.

    Parameters:
    - ``reference``, ``current``: 1-D array-likes of finite numbers (or of categories), non-empty.
    - ``n_bins``, ``categorical``: the bins, as in :func:`jensen_shannon`.
    - ``eps``: smoothing, in (0, 1): a share of exactly 0 is replaced by ``eps`` (default 1e-4) and the
      shares are then renormalised to sum to 1. Without it a bin empty in the current sample but
      not in the reference makes KL infinite.

    Notes:
    Two equal constants give 0; two different constants (however close) fall in the first and the
    last bin, KL = (1 - eps) ln(1 / eps) / (1 + (n_bins - 1) eps).

    >>> round(kl_divergence(["a", "a", "b"], ["a", "b", "b"], categorical=True), 4)
    0.231
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

def feature_drift_report(
    reference: Any,
    current: Any,
    feature_names: Sequence[str] | None = None,
    categorical: Iterable[str | int] = (),
    *,
    large_sample: int = 1000,
    low_cardinality: int = 5,
    alpha: float = 0.05,
    distance_threshold: float = 0.1,
    drift_share: float = 0.5,
    psi_bins: int = 10,
) -> DriftReport:
    """Drift of every feature (column) of ``current`` against ``reference``, as a :class:`DriftReport`.

    The test per feature follows Evidently's default rule (DataDriftPreset):

    =====================  ===================================  ===================================
    feature                reference rows <= ``large_sample``   reference rows > ``large_sample``
    =====================  ===================================  ===================================
    numerical              KS test, drift if p < ``alpha``      normed Wasserstein, drift if >= 0.1
    discrete, categorical  chi-squared, drift if p < ``alpha``  Jensen-Shannon, drift if >= 0.1
    =====================  ===================================  ===================================

    A numerical column is *discrete* when reference and current together hold at most
    ``low_cardinality`` distinct values (default 5, Evidently's rule): a count 0-4, a 1-5 rating, a
    0/1 flag. It is then tested as categories, one per value, and its PSI has one bin per value. The
    KS p-value assumes continuous data; on heavy ties it is far too large (on an integer 0-4 it
    flagged none of 500 stable checks at alpha = 0.05, where 5% is the promise), so it misses real
    shifts that the chi-squared test finds (tests/test_drift_report.py measures both rates). With
    many rows every test becomes "significant" for shifts too small to matter, so above
    ``large_sample`` rows the decision moves to an effect size. Every feature also gets its PSI
    and, when numerical or discrete, the means and the shift ``cur_mean - ref_mean``.

    Parameters:
    - ``reference``, ``current``: 2-D arrays (rows x features; the row counts may differ) or DataFrames;
      categorical columns may hold strings (use an object array or a DataFrame).
    - ``feature_names``: default the DataFrame's columns, else ``feature_0, feature_1, ...``.
    - ``categorical``: names (or column indices) of the categorical features.
    - ``large_sample``: reference rows above which distances replace tests (default 1000).
    - ``low_cardinality``: a numerical feature with at most this many distinct values in both samples
      together is tested as categories (default 5; 0 turns the rule off, an integer >= 0).
    - ``alpha``: significance level of the tests (default 0.05).
    - ``distance_threshold``: drift threshold of the distances (default 0.1).
    - ``drift_share``: ``dataset_drift`` is True when the share of drifted features is >= this (0.5).
    - ``psi_bins``: reference-quantile bins of the PSI column (default 10).

    Notes:
    The Jensen-Shannon distance is in base 2 (bits), between 0 and 1. With natural logs every
    distance is sqrt(ln 2) = 0.8326 times smaller: the threshold 0.1 here is 0.0833 in natural-log
    units, and a natural-log threshold of 0.1 is 0.1201 here (see :func:`jensen_shannon`).
    Evidently uses a z-test for two values; the chi-squared test without continuity correction on
    a 2 x 2 table gives the same p-value (X^2 = z^2 for the pooled two-proportion z-test).

    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(200, 2))
    >>> report = feature_drift_report(ref, ref + [0.0, 1.0], ["age", "income"])
    >>> [(f.name, f.test, f.drifted) for f in report.features]
    [('age', 'ks', False), ('income', 'ks', True)]
    >>> counts = np.column_stack([rng.integers(0, 5, 300), rng.normal(size=300)])
    >>> [(f.name, f.kind, f.test) for f in feature_drift_report(counts, counts, ["items", "x"]).features]
    [('items', 'discrete', 'chi2'), ('x', 'numerical', 'ks')]
    """
    ref, ref_names = _as_table("reference", reference)
    cur, cur_names = _as_table("current", current)
    k = ref.shape[1]
    if cur.shape[1] != k:
        raise ValueError(
            f"current must have the same number of features as reference ({k}); got shape {cur.shape}"
        )
    names = _feature_names(feature_names, ref_names, cur_names, k)
    is_cat = _categorical_mask(categorical, names)
    large_sample = check_int("large_sample", large_sample, minimum=1)
    low_cardinality = check_int("low_cardinality", low_cardinality, minimum=0)
    alpha = check_probability("alpha", alpha)
    distance_threshold = check_real("distance_threshold", distance_threshold, minimum=0.0, strict_minimum=True)
    drift_share = check_real("drift_share", drift_share, minimum=0.0, maximum=1.0, strict_minimum=True)
    psi_bins = check_int("psi_bins", psi_bins, minimum=2)

    n_ref, n_cur = ref.shape[0], cur.shape[0]
    small = n_ref <= large_sample

    def by_category(x: np.ndarray, y: np.ndarray, cr: np.ndarray, cc: np.ndarray) -> tuple:
        """(test, statistic, p-value, threshold, drifted, PSI) with one bin per category."""
        psi_value = psi_from_shares(cr / n_ref, cc / n_cur, 1e-4)
        if small:
            res = chi2_test(x, y)
            return "chi2", res.statistic, res.p_value, alpha, res.p_value < alpha, psi_value
        stat = js_distance(cr, cc)
        return "jensen_shannon", stat, None, distance_threshold, stat >= distance_threshold, psi_value

    rows: list[FeatureDrift] = []
    ref_cols: list[np.ndarray] = []
    cur_cols: list[np.ndarray] = []
    for j, name in enumerate(names):
        if is_cat[j]:
            x = as_category_array(f"reference column {name!r}", ref[:, j])
            y = as_category_array(f"current column {name!r}", cur[:, j])
            _, cr, cc = _category_counts(x, y)
            test, stat, p, thr, drifted, psi_value = by_category(x, y, cr, cc)
            rows.append(FeatureDrift(name, "categorical", test, float(stat), p, thr, bool(drifted),
                                     psi_value, None, None, None))
        else:
            x = as_1d_array(f"reference column {name!r}", ref[:, j])
            y = as_1d_array(f"current column {name!r}", cur[:, j])
            xs, ys = np.sort(x), np.sort(y)
            ref_mean, cur_mean = float(np.mean(x)), float(np.mean(y))
            # few distinct values in both samples together: tested as categories (cheap test first)
            few = max(np.count_nonzero(np.diff(xs)), np.count_nonzero(np.diff(ys))) < low_cardinality
            if few:
                _, cr, cc = _category_counts(xs, ys)
                few = cr.size <= low_cardinality
            if few:
                kind = "discrete"
                test, stat, p, thr, drifted, psi_value = by_category(xs, ys, cr, cc)
            else:
                kind = "numerical"
                psi_value = _psi_sorted(xs, ys, psi_bins, 1e-4)[0]
                if small:
                    res = ks_test(xs, ys)
                    test, stat, p, thr, drifted = "ks", res.statistic, res.p_value, alpha, res.p_value < alpha
                else:
                    stat = _normed(xs, ys, _ref_scale(xs))
                    test, p, thr = "wasserstein_normed", None, distance_threshold
                    drifted = stat >= distance_threshold
            rows.append(FeatureDrift(name, kind, test, float(stat), p, thr, bool(drifted),
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

    Attributes: ``test`` and ``threshold``; ``check_times``: 0-based stream index of the last value
    in each checked window; ``statistics``: the test's statistic (KS D, PSI, normed W1 or JS
    distance) per check; ``p_values``: per check for ``"ks"``, else ``None``; ``flagged``: drift at
    that check.

    >>> monitor = WindowedDriftMonitor(np.arange(100.0), window=50, every=50, test="ks")
    >>> result = monitor.run(np.arange(100.0) + 1000.0)
    >>> result.check_times.tolist(), result.first_drift_time
    ([49, 99], 49)
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


class WindowedDriftMonitor:
    """Compare the last ``window`` values of a stream with a fixed reference every ``every`` values.

    A check runs after the value at 0-based index t whenever t + 1 >= ``window`` and
    (t + 1 - ``window``) is a multiple of ``every``: windows overlap when ``every < window``.
    Like river's detectors: ``update(x)`` feeds one value and ``drift_detected`` is the verdict of
    the latest check; ``run(stream)`` feeds a whole array and returns a
    :class:`WindowedDriftResult` with the times drift was flagged. The window is a ring buffer (no
    copy per value).

    Parameters:
    - ``reference``: 1-D array-like of finite numbers, non-empty.
    - ``window``: values per compared window, an integer >= 1 (default 500).
    - ``every``: values between two checks, an integer >= 1 (default 100).
    - ``test``: ``"ks"`` (drift if p < threshold, default 0.05), ``"psi"`` (>= threshold, default 0.2),
      ``"wasserstein_normed"`` (>= 0.1), ``"jensen_shannon"`` (>= 0.1, 30 bins) or ``"auto"``
      (default): KS when the reference has <= 1000 values, else normed Wasserstein (Evidently's
      rule, as :func:`feature_drift_report`).
    - ``threshold``: overrides the test's default threshold.

    Notes:
    With p-value tests, checking often means many tests; with alpha = 0.05 about one check in
    twenty flags drift on stable data, so overlapping windows raise repeated alarms.

    >>> monitor = WindowedDriftMonitor(np.arange(100.0), window=50, every=50, test="ks")
    >>> [monitor.update(v) for v in np.arange(50.0) + 1000.0][-1]
    True
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
            stat = js_distance(*_uniform_counts(self._ref_sorted, win, 30))
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
