"""Fast and exact paths behind :mod:`prodai_lessons.drift` (private).

The lesson module states each measure in a few lines (``ecdf_gap``, ``psi_from_shares``,
``ecdf_area``, ``js_distance``); its public functions validate their input and then use the paths
here, which give the same numbers and survive production data:

- the KS statistic evaluated only where an ECDF jumps, with scipy's floating-point choices;
- PSI bins at reference quantiles that never have zero width and never hide a move below a tie;
- equal-width bins that stay exact when the range is too narrow (or too wide) for float edges;
- Wasserstein distances rescaled by powers of two, so values near 1e308 (or 1e-300) neither
  overflow nor underflow;
- argument parsing for the multi-feature report and the stream monitor.

Nothing here imports the lesson module: the imports run one way, ``drift`` -> ``_drift_engine``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from prodai_lessons._validation import as_1d_array, as_category_array, check_int


# --------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov statistic
# --------------------------------------------------------------------------------------------

def _ks_gap_sorted(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """For *sorted* samples x (n values) and y (m values), return (D, a value t where D is attained).

    The same D as :func:`prodai_lessons.drift.ecdf_gap`, with half the look-ups. At the last copy of a
    value in x (index i, 0-based) F_x equals (i+1)/n exactly, and ``searchsorted(y, value, "right")``
    counts the y's <= value. Evaluating only at the last copy of each value handles ties; every step is
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
        return d_minus, float(values[i_min])
    return d_plus, float(values[i_max])


# --------------------------------------------------------------------------------------------
# Bins: categories, reference quantiles (PSI), equal width (Jensen-Shannon, KL)
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
# Wasserstein: the area between the ECDFs on sorted samples, rescaled where floats would overflow
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


# --------------------------------------------------------------------------------------------
# Arguments of the multi-feature report and the stream monitor
# --------------------------------------------------------------------------------------------

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


def _feature_names(feature_names: Any, ref_names: list[str] | None, cur_names: list[str] | None,
                   k: int) -> list[str]:
    """The validated names of the k features: given, else the DataFrame's columns, else feature_j."""
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
    return names


def _categorical_mask(categorical: Any, names: Sequence[str]) -> list[bool]:
    """One flag per feature: True where ``categorical`` names the feature (or its column index)."""
    k = len(names)
    if isinstance(categorical, (str, bytes)) or not isinstance(categorical, Iterable):
        raise TypeError(f"categorical must be a collection of feature names or column indices; got {categorical!r}")
    is_cat = [False] * k
    for item in categorical:
        if isinstance(item, str):
            if item not in names:
                raise ValueError(f"categorical: no feature named {item!r}; features are {list(names)}")
            is_cat[list(names).index(item)] = True
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < k:
                raise ValueError(f"categorical: column index {item} out of range for {k} features")
            is_cat[int(item)] = True
        else:
            raise TypeError(f"categorical must hold feature names or column indices; got {item!r}")
    return is_cat
