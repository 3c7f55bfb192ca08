"""Exact Kolmogorov-Smirnov distributions behind :mod:`prodai_lessons.stats` (private).

- the one-sample two-sided statistic D_n (``scipy.stats.kstwo``), region by region as Simard & L'Ecuyer
  (2011) and scipy do: Ruben-Gambino closed forms, Smirnov's one-sided Birnbaum-Tingey sum, Durbin's
  matrix method (Marsaglia, Tsang & Wang 2003) and the Pelz-Good asymptotic series;
- the exact two-sample null distribution of D_{n,m} by counting lattice paths (Hodges 1958), with the
  counts kept as floats times powers of two so that sizes up to 10^4 neither overflow nor lose digits,
  down to the far tail (p-values of 1e-300 keep their relative precision).

The lesson's idea, Kolmogorov's limiting series, is :func:`prodai_lessons.stats.kolmogorov_sf_series`;
the public functions in :mod:`prodai_lessons.stats` validate their input and call these kernels.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from prodai_lessons._stats_special import _LN2, _SQRT_2PI, _bd0_array, _stirlerr, _stirlerr_array


# ---------------------------------------------------------------------------------------------
# Kolmogorov's limiting distribution below x = 0.82, and the one-sample statistic D_n
# ---------------------------------------------------------------------------------------------

def _kolmogorov_cdf_theta(x: float) -> float:
    """P(K <= x) by Jacobi's theta form, sqrt(2 pi)/x sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 x^2)).

    For small x the alternating series of the sf needs many terms (about 4.5 / x) and cancels; this
    form needs one to three terms for x <= 0.82 (the split scipy/cephes uses). 0 where it underflows.
    """
    if x <= math.pi / math.sqrt(8.0 * 746.0):  # (also x <= 0) exp(-pi^2 / (8 x^2)) underflows
        return 0.0
    w = -math.pi * math.pi / (8.0 * x * x)
    s = 0.0
    for k in range(1, 8):
        term = math.exp((2 * k - 1) ** 2 * w)
        s += term
        if term == 0.0 or term < 1e-17 * s:
            break
    return _SQRT_2PI / x * s


def _log_nfact_over_npown(n: int) -> float:
    """log(n! / n^n) = log sqrt(2 pi n) - n + stirlerr(n), no cancellation."""
    return 0.5 * math.log(2.0 * math.pi * n) - n + _stirlerr(float(n))


def _smirnov_sf(n: int, x: float) -> float:
    """One-sided P(D_n^+ >= x), exact Birnbaum-Tingey sum (as ``scipy.special.smirnov``).

    P = x * sum_{v=0}^{floor(n(1-x))} C(n, v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v); the terms are
    binomial probabilities divided by p_v = x + v/n, evaluated with Loader's saddle-point form.
    For n > 1e6, scipy's approximation exp(-(6nx+1)^2/(18n)) is used, as scipy does.
    """
    if n == 1:
        return 1.0 - x
    if x <= 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    fx = Fraction(x) * n
    nxfl = math.floor(fx)
    alpha = float(fx - nxfl)  # n x = nxfl + alpha exactly (up to one rounding of alpha)
    if nxfl == 0 or (nxfl == 1 and alpha == 0.0):
        return 1.0 - x * math.exp((n - 1) * math.log1p(x))
    if -2.0 * n * x * x < -708.3964185322641:
        return 0.0
    if nxfl >= n - 1:
        return math.exp(n * math.log1p(-x))
    if n > 1_000_000:
        logp = -((6.0 * n * x + 1.0) ** 2) / 18.0 / n
        return math.exp(logp) if logp < -_LN2 else 1.0 - (-math.expm1(logp))
    vmax = n - nxfl - 1  # largest v with 1 - x - v/n > 0 (a zero last term is left out)
    total = math.exp(n * math.log1p(-x))  # v = 0 term times x: (1-x)^n
    if vmax >= 1:
        v = np.arange(1, vmax + 1, dtype=np.int64)
        nv = n - v
        # n p_v = v + n x ;  n q_v = n - v - n x   (q_v > 0)
        np_v = v + nxfl + alpha
        nq_v = (nv - nxfl) - alpha
        vf = v.astype(np.float64)
        nvf = nv.astype(np.float64)
        log_dbinom = (_stirlerr(float(n)) - _stirlerr_array(v) - _stirlerr_array(nv)
                      - _bd0_array(vf, np_v) - _bd0_array(nvf, nq_v)
                      + 0.5 * np.log(n / (2.0 * math.pi * vf * nvf)))
        terms = np.exp(log_dbinom) / np_v * n  # dbinom / p_v
        total += x * float(np.sum(terms))  # pairwise summation of positive terms
    return min(max(total, 0.0), 1.0)


def _kolmogn_dmtw_cdf(n: int, d: float) -> float:
    """P(D_n <= d) by Durbin's matrix method, Marsaglia-Tsang-Wang (2003) formulation."""
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = int(math.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    i = np.arange(m)
    diff = i[:, None] - i[None, :] + 1  # H[i, j] = 1/(i-j+1)! where i-j+1 >= 0
    logfact = np.array([math.lgamma(v + 1.0) for v in range(m + 1)])
    H = np.where(diff >= 0, np.exp(-logfact[np.clip(diff, 0, m)]), 0.0)
    hp = h ** np.arange(1, m + 1)
    fact = np.exp(-logfact[1:])  # 1/1!, ..., 1/m!
    H[:, 0] = (1.0 - hp) * fact
    H[m - 1, :] = ((1.0 - hp) * fact)[::-1]
    H[m - 1, 0] = (1.0 - 2.0 * h ** m + max(0.0, 2.0 * h - 1.0) ** m) * fact[m - 1]
    # H^n by squaring, every matrix kept as (mantissa matrix, power-of-two exponent).
    result, rexp = None, 0
    base, bexp = H, 0
    e = n
    while e:
        if e & 1:
            if result is None:
                result, rexp = base.copy(), bexp
            else:
                result = result @ base
                rexp += bexp
                mx = np.abs(result).max()
                if mx > 0:
                    _, sh = math.frexp(mx)
                    result = np.ldexp(result, -sh)
                    rexp += sh
        e >>= 1
        if e:
            base = base @ base
            bexp *= 2
            mx = np.abs(base).max()
            if mx > 0:
                _, sh = math.frexp(mx)
                base = np.ldexp(base, -sh)
                bexp += sh
    p = result[k - 1, k - 1]
    if p <= 0:
        return 0.0
    return math.exp(math.log(p) + rexp * _LN2 + _log_nfact_over_npown(n))


def _kolmogn_pelz_good_cdf(n: int, x: float) -> float:
    """Pelz & Good (1976) asymptotic series for P(D_n <= x) (small x, large n), as scipy uses it."""
    z = math.sqrt(n) * x
    z2 = z * z
    if -math.pi ** 2 / 8.0 / z2 < -708:
        return 0.0
    pi2, pi4, pi6 = math.pi ** 2, math.pi ** 4, math.pi ** 6
    kmax = int(math.ceil(16.0 * z / math.pi))
    k = np.arange(1, kmax + 1, dtype=np.float64)
    m = 2.0 * k - 1.0
    m2 = m * m
    e_odd = np.exp(-pi2 * m2 / (8.0 * z2))  # q^((2k-1)^2)
    e_all = np.exp(-pi2 * k * k / (2.0 * z2))
    z4, z6, z8 = z2 * z2, z2 ** 3, z2 ** 4
    c1 = pi2 * m2 / 4.0 - z2
    c2 = 6 * z6 + 2 * z4 + (2 * z4 - 5 * z2) * pi2 * m2 / 4.0 + pi4 * (1 - 2 * z2) * m2 * m2 / 16.0
    c3 = (-30 * z6 - 90 * z8 + pi2 * (135 * z4 - 96 * z6) * m2 / 4.0
          + pi4 * (-60 * z2 + 212 * z4) * m2 * m2 / 16.0 + pi6 * (5 - 30 * z2) * m2 ** 3 / 64.0)
    k0 = _SQRT_2PI / z * e_odd.sum()
    k1 = _SQRT_2PI / (6.0 * z4) * (c1 * e_odd).sum()
    k2 = _SQRT_2PI / (72.0 * z ** 7) * (c2 * e_odd).sum() - pi2 * _SQRT_2PI / (36.0 * z ** 3) * (k * k * e_all).sum()
    k3 = (_SQRT_2PI / (6480.0 * z ** 10) * (c3 * e_odd).sum()
          + pi2 * _SQRT_2PI / (216.0 * z6) * ((3 * z2 - pi2 * k * k) * k * k * e_all).sum())
    rn = math.sqrt(n)
    return k0 + k1 / rn + k2 / n + k3 / (n * rn)


def _kstwo_sf_s(d: float, n: float) -> float:
    n = int(n)
    if d >= 1.0:
        return 0.0
    if d <= 0.0:
        return 1.0
    t = n * d
    if t <= 1.0:  # Ruben-Gambino: P(D_n <= d) = n!/n^n (2t-1)^n for 1/(2n) <= d <= 1/n
        if t <= 0.5:
            return 1.0
        cdf = math.exp(_log_nfact_over_npown(n) + n * math.log(2.0 * t - 1.0))
        return min(max(1.0 - cdf, 0.0), 1.0)
    if t >= n - 1:  # Ruben-Gambino: P(D_n >= d) = 2 (1-d)^n
        return min(max(2.0 * math.exp(n * math.log1p(-d)), 0.0), 1.0)
    if d >= 0.5:  # the two one-sided events are disjoint
        return min(max(2.0 * _smirnov_sf(n, d), 0.0), 1.0)
    nxx = t * d
    if n <= 140:
        if nxx <= 4.0:  # exact (scipy: Durbin below 0.754693, Pomeranz to 4; both exact)
            return min(max(1.0 - _kolmogn_dmtw_cdf(n, d), 0.0), 1.0)
        return min(max(2.0 * _smirnov_sf(n, d), 0.0), 1.0)
    if nxx >= 370.0:
        return 0.0
    if nxx >= 2.2:
        return min(max(2.0 * _smirnov_sf(n, d), 0.0), 1.0)
    if n <= 100000 and n * d ** 1.5 <= 1.4:
        cdf = _kolmogn_dmtw_cdf(n, d)
    else:
        cdf = _kolmogn_pelz_good_cdf(n, d)
    return min(max(1.0 - cdf, 0.0), 1.0)


# ---------------------------------------------------------------------------------------------
# Two-sample statistic D_{n,m}: exact null distribution by lattice-path counting
# ---------------------------------------------------------------------------------------------

def _ks2_exact_square(n: int, h: int) -> float:
    """P(D_{n,n} >= h/n) = 2 sum_k (-1)^(k-1) C(2n, n-kh) / C(2n, n) (reflection principle)."""
    j = np.arange(n, dtype=np.float64)
    ratios = np.cumprod((n - j) / (n + j + 1.0))  # ratios[i-1] = C(2n, n-i)/C(2n, n)
    kmax = n // h
    r = ratios[np.arange(1, kmax + 1) * h - 1]
    signs = np.where(np.arange(kmax) % 2 == 0, 1.0, -1.0)
    return float(min(max(2.0 * math.fsum((signs * r).tolist()), 0.0), 1.0))


#: Exact two-sample KS: counts are stored as floats times a power of two; the scales are chosen so
#: that every stored count stays below e^_KS2_CAP (doubles overflow at e^709.78) and so that
#: scale x (paths from a cell to the end) / C(a+b, b) stays below e^(budget - _KS2_CAP), e^380 for
#: the usual budget _KS2_BUDGET: a rounding in the subnormal range (at most 2^-1075 of its scale)
#: then moves the p-value by less than 2^-1075 e^380 = 6e-159 per operation, under 1e-150 in all
#: for the sizes the exact method is used for. Far-tail p-values get a second pass with a smaller
#: budget (see :func:`_ks2_exact_general`).
_KS2_CAP = 700.0
_KS2_BUDGET = 1080.0
#: log(2^-1075): the largest rounding error of an operation whose result is subnormal, in units of
#: the stored scale (half the smallest subnormal double)
_LOG_HALF_TINY = -1075.0 * _LN2
#: the relative error allowed to the underflow of the counts (the arithmetic adds ~1e-13)
_KS2_REL = 1e-11
#: a block of columns in one segment shorter than this is not worth its set-up: use row segments
_KS2_MIN_BLOCK = 64


def _stirlerr_table(n: int) -> np.ndarray:
    """``stirlerr(k)`` for k = 0 .. n (0 at k = 0, where it is not used)."""
    table = np.zeros(n + 1)
    table[1:] = _stirlerr_array(np.arange(1, n + 1))
    return table


def _log_binom(n: Any, k: Any, st: np.ndarray) -> np.ndarray:
    """log C(n, k) for integer arrays 0 <= k <= n, by Stirling's series with its exact correction
    (Loader's ``stirlerr``, tabulated in ``st``): k log(n/k) + (n-k) log(n/(n-k))
    + log sqrt(n / (2 pi k (n-k))) + stirlerr(n) - stirlerr(k) - stirlerr(n-k). Every term is at
    most n log 2, so the absolute error stays near the rounding of n log 2 (about 1e-12 for
    n = 2e4), ten times better than differences of log-factorials (which reach 2e5 there)."""
    n, k = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(k, dtype=np.int64))
    rest = n - k
    mid = (k > 0) & (rest > 0)
    nf = n.astype(np.float64)
    kf = np.where(mid, k, 1).astype(np.float64)
    rf = np.where(mid, rest, 1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (kf * np.log(nf / kf) - rf * np.log1p(-kf / nf)
                 + 0.5 * np.log(nf / (2.0 * math.pi * kf * rf)) + st[n] - st[k] - st[rest])
    return np.where(mid, value, 0.0)


def _log_binom1(n: int, k: int, st: np.ndarray) -> float:
    """:func:`_log_binom` for one pair of Python ints."""
    r = n - k
    if k <= 0 or r <= 0:
        return 0.0
    return (k * math.log(n / k) - r * math.log1p(-k / n) + 0.5 * math.log(n / (2.0 * math.pi * k * r))
            + float(st[n] - st[k] - st[r]))


def _ks2_plan_segments(size_top: np.ndarray, rows: np.ndarray, reach_first: np.ndarray,
                       total: float, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` (consecutive) into segments [start, top] whose largest count, e^size_top[top],
    and largest path-continuation count, e^reach_first[start], keep log(scale x reach / total)
    within the budget. ``size_top`` increases along the rows, ``reach_first`` decreases."""
    starts, tops = [], []
    k = 0
    while k < rows.size:
        limit = budget + total - reach_first[k]
        last = max(int(np.searchsorted(size_top, limit, side="right")) - 1, k)
        starts.append(int(rows[k]))
        tops.append(int(rows[last]))
        k = last + 1
    return np.array(starts, dtype=np.int64), np.array(tops, dtype=np.int64)


def _ks2_exact_general(n: int, m: int, g: int, h: int) -> float:
    """P(D_{n,m} >= h/lcm), with relative precision down to the smallest doubles.

    :func:`_ks2_count_outside` with budget B loses at most E(B) = N 2^-1075 e^(B - _KS2_CAP) of
    probability to underflow (N bounds the rounded operations, four per cell of the grid). With
    the usual budget that is ~1e-150, which is nothing next to any p-value above 1e-139: then
    the first pass is the answer (relative error below 1e-11). Below, the first pass can be wrong
    in every digit (it gives 1.9e-233 for p = 3.7e-233 at n, m = 3000, 3010), so the count is run
    again with the budget B' = _KS2_CAP - log(8 N), for which E(B') = 2^-1078, an eighth of the
    smallest subnormal double: the far tail keeps ~13 digits down to 1e-300, subnormal results
    (below 2.2e-308) are within an ulp or so of the exact value, and a p-value below the smallest
    double (4.9e-324) is 0.0. The second pass cuts the rows into more segments (up to 2x the time
    of the first) and is only run in that far tail. When the leading term of the limiting
    distribution, 2 exp(-2 z^2) with z^2 = D^2 n m / (n + m), is 1e20 times below that threshold,
    the first pass is skipped (a saving only: the second pass is exact for every p).
    """
    a, b = (n, m) if n <= m else (m, n)
    log_ops = math.log(4.0 * (a + 1) * (b + 2))
    far_budget = _KS2_CAP - log_ops - 3.0 * _LN2
    log_lost = log_ops + _LOG_HALF_TINY + _KS2_BUDGET - _KS2_CAP  # log E(B) for the first pass
    log_threshold = log_lost - math.log(_KS2_REL)  # first pass trusted above e^log_threshold
    d = h * g / (n * m)
    if _LN2 - 2.0 * d * d * (n * m / (n + m)) < log_threshold - 20.0 * math.log(10.0):
        return _ks2_count_outside(n, m, g, h, far_budget)
    p = _ks2_count_outside(n, m, g, h, _KS2_BUDGET)
    if p > 0.0 and math.log(p) >= log_threshold:
        return p
    return _ks2_count_outside(n, m, g, h, far_budget)


def _ks2_count_outside(n: int, m: int, g: int, h: int, budget: float) -> float:
    """P(D_{n,m} >= h/lcm): share of the C(n+m, n) monotone lattice paths from (0, 0) to (a, b)
    that leave the band |b i - a j| < h g (a = min(n, m) columns, b = max(n, m) rows).

    Outside paths are counted directly (Viehmann 2021's idea, as scipy does): O(i, j) = O(i-1, j)
    + O(i, j-1) inside the band, O = C(i+j, j) outside it (every path to an outside cell has left).
    Column by column the recursion is one cumulative sum over the column's window of the band:
    the cell below the window holds C(i + lo - 1, lo - 1), the cells above the previous window hold
    C(i - 1 + j, j) (each is read once, so a block's worth is written in one go), and
    ``np.add.accumulate`` runs in place over the window, O(a * width) work and one numpy call per
    column. The result is O(a, b) / C(a+b, b), with relative precision (tiny p-values keep their
    digits; the work is counts of positive terms only).

    Counts reach C(a+b, b) ~ 10^6000, so they are stored as floats times 2^e (block floating
    point): the columns are cut into blocks, and a block's rows into segments, each with its own
    exponent e, chosen from the bounds O(i, j) <= C(i+j, j) so that nothing overflows and anything
    that underflows is worth less than 2^-1075 e^(budget - _KS2_CAP) of probability per operation
    (see ``_KS2_BUDGET``): a segment [start, top] of a block i0..i1 keeps
    log C(i1 + top, top) + log(paths from (i0, start) to (a, b)) - log C(a+b, b) <= budget. Narrow bands
    (the usual case) need one segment; wide ones (large D, tiny p) a few, joined by carrying the
    last count of a segment into the next one's exponent. Binomials come from :func:`_log_binom`:
    the p-value is within ~1e-11 (relative) of the exact rational value.
    """
    a, b = (n, m) if n <= m else (m, n)
    hg = h * g
    cols = np.arange(a + 1, dtype=np.int64)
    lo = np.maximum((b * cols - hg) // a + 1, 0)  # window of column i: rows lo..hi inside the band
    hi = np.minimum(-((-(b * cols + hg)) // a) - 1, b)
    if np.any(hi[1:] < lo[1:]):
        return 1.0  # a column with no inside cell: every path leaves the band
    st = _stirlerr_table(a + b)
    total = _log_binom1(a + b, b, st)

    def size(i: Any, j: Any) -> np.ndarray:  # log C(i + j, j): the largest count cell (i, j) can hold
        return _log_binom(np.asarray(i) + j, j, st)

    def reach(i: Any, j: Any) -> np.ndarray:  # log of the number of ways from (i, j) on to (a, b)
        return _log_binom(a - np.asarray(i) + b - np.asarray(j), b - np.asarray(j), st)

    # boundary cells: (i, lo_i - 1) under column i; (i - 1, j), hi_{i-1} < j <= hi_i, above it
    low_log = np.where(lo[1:] >= 1, size(cols[1:], np.maximum(lo[1:] - 1, 0)), -np.inf)
    new_rows = hi[1:] - hi[:-1]
    up_off = np.concatenate(([0], np.cumsum(new_rows)))
    up_row = np.arange(int(up_off[-1]), dtype=np.int64) - np.repeat(up_off[:-1] - hi[:-1] - 1, new_rows)
    up_log = size(np.repeat(cols[1:] - 1, new_rows), up_row)
    size_top = size(cols, hi)  # increasing in i: the largest count in each column's window

    buf = np.zeros(b + 2)  # buf[j + 1]: scaled count of row j in the current column; buf[0] = 0
    lo_l, ends_l = lo.tolist(), (hi + 2).tolist()  # Python ints for the per-column loop
    accumulate = np.add.accumulate
    ldexp = math.ldexp
    seg_starts = np.zeros(1, dtype=np.int64)
    seg_exps = np.zeros(1, dtype=np.int64)  # stored value = count * 2^-exponent of its segment
    i0 = 1
    while i0 <= a:
        first = max(lo_l[i0] - 1, 0)
        # the longest block i0..i1 that fits in one segment ...
        limit = budget + total - _log_binom1(a - i0 + b - first, b - first, st)
        i1 = int(np.searchsorted(size_top, limit, side="right")) - 1
        i1 = min(i1, a)
        if i1 - i0 + 1 >= _KS2_MIN_BLOCK or (i1 == a and i1 >= i0):
            starts = np.array([first], dtype=np.int64)
            exps = np.floor((size_top[i1: i1 + 1] - _KS2_CAP) / _LN2).astype(np.int64)
        else:  # ... or, when that is short (a wide band), a block where each row keeps half the budget
            def rows_fit(i_end: int) -> bool:
                r = np.arange(first, hi[i_end] + 1)
                return float(np.max(size(i_end, r) + reach(i0, r))) - total <= budget / 2
            good, bad = i0, a + 1  # a single column always fits: size + reach <= total there
            while bad - good > 1:
                mid = (good + bad) // 2
                good, bad = (mid, bad) if rows_fit(mid) else (good, mid)
            i1 = good
            rows = np.arange(first, hi[i1] + 1)
            starts, tops = _ks2_plan_segments(size(i1, rows), rows, reach(i0, rows), total, budget)
            exps = np.floor((size(i1, tops) - _KS2_CAP) / _LN2).astype(np.int64)
        # carry the previous column (rows lo..hi of column i0 - 1) over to the new exponents
        prev_lo, prev_hi = lo_l[i0 - 1], ends_l[i0 - 1] - 2
        prev = np.arange(prev_lo, prev_hi + 1)
        old_e = seg_exps[np.searchsorted(seg_starts, prev, side="right") - 1]
        new_e = exps[np.maximum(np.searchsorted(starts, prev, side="right") - 1, 0)]
        window = buf[prev_lo + 1: prev_hi + 2]
        window[:] = np.ldexp(window, old_e - new_e)
        seg_starts, seg_exps = starts, exps
        # boundary values of the block, scaled to the segment of their row
        seg_lo = np.searchsorted(starts, lo[i0: i1 + 1], side="right") - 1
        low_vals = np.exp(low_log[i0 - 1: i1] - exps[seg_lo] * _LN2).tolist()
        k0, k1 = int(up_off[i0 - 1]), int(up_off[i1])
        seg_up = np.searchsorted(starts, up_row[k0:k1], side="right") - 1
        buf[prev_hi + 2: ends_l[i1]] = np.exp(up_log[k0:k1] - exps[seg_up] * _LN2)
        if starts.size == 1:
            for lo_i, end_i, low in zip(lo_l[i0: i1 + 1], ends_l[i0: i1 + 1], low_vals):
                buf[lo_i] = low  # the outside cell (i, lo_i - 1)
                v = buf[lo_i: end_i]
                accumulate(v, out=v)
        else:
            st_l = starts.tolist() + [b + 1]
            shift = (exps[:-1] - exps[1:]).tolist()  # segment s-1 -> segment s: times 2^shift[s-1]
            seg_lo_l = seg_lo.tolist()
            seg_hi_l = (np.searchsorted(starts, hi[i0: i1 + 1], side="right") - 1).tolist()
            for i in range(i0, i1 + 1):
                lo_i, hi_i = lo_l[i], ends_l[i] - 2
                s, s_hi = seg_lo_l[i - i0], seg_hi_l[i - i0]
                buf[lo_i] = low_vals[i - i0]
                v = buf[lo_i: min(hi_i, st_l[s + 1] - 1) + 2]
                accumulate(v, out=v)
                for s in range(s + 1, s_hi + 1):
                    r = st_l[s]  # buf[r] is row r - 1, the top of segment s - 1
                    carried = buf[r]
                    buf[r] = ldexp(carried, shift[s - 1])
                    v = buf[r: min(hi_i, st_l[s + 1] - 1) + 2]
                    accumulate(v, out=v)
                    buf[r] = carried
        i0 = i1 + 1
    count = float(buf[b + 1])
    if count <= 0.0:
        return 0.0
    e_b = int(seg_exps[np.searchsorted(seg_starts, b, side="right") - 1])
    return float(min(math.exp(math.log(count) + e_b * _LN2 - total), 1.0))
