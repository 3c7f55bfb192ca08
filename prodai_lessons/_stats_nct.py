"""Noncentral t machinery behind :func:`prodai_lessons.stats.nct_sf` (private).

Lenth's (1989, AS 243) Poisson mixture of incomplete beta functions, rewritten with positive terms only
and summed in a window around its largest term, so that huge noncentralities (nc = 6000 and beyond, an
A/B test with 10^9 units per arm) cost milliseconds and far-tail values keep their relative precision.
"""

from __future__ import annotations

import math

import numpy as np

from prodai_lessons._stats_special import (
    _FLOAT_MAX,
    _SQRT1_2,
    _SQRT_PI,
    _bd0,
    _bd0_array,
    _erfcx,
    _normal_cdf_s,
    _stirlerr,
    _stirlerr_array,
)
from prodai_lessons._stats_student import _t_sf_s, _t_two_tail

_NCT_LOG_EPS = math.log(1e-18)  # neglected mass of a mixture sum, relative to the sum
_NCT_BLOCK_MAX = 1 << 16  # terms evaluated at once: bounds the memory for any nc


def _log_dpois_array(k: np.ndarray, lam: float) -> np.ndarray:
    """log(lam^k e^-lam / Gamma(k+1)) for real k >= 0 (Loader's form for k >= 1)."""
    out = np.empty(k.shape)
    small = k < 1.0
    ks = k[small]
    out[small] = ks * math.log(lam) - lam - np.array([math.lgamma(v + 1.0) for v in ks.tolist()])
    kb = k[~small]
    bd0 = _bd0_mu_array(kb, np.full(kb.shape, lam), np.full(kb.shape, math.log(lam)))
    out[~small] = -_stirlerr_array(kb) - bd0 - 0.5 * np.log(2.0 * math.pi * kb)
    return out


def _bd0_mu_array(x: np.ndarray, mu: np.ndarray, log_mu: np.ndarray) -> np.ndarray:
    """``_bd0(x, mu)`` where mu or x/mu may under- or overflow: then x (log x - log mu) + mu - x."""
    out = np.empty(x.shape)
    with np.errstate(all="ignore"):
        ratio = x / mu
    ok = (mu > 0.0) & (mu < _FLOAT_MAX) & (ratio > 0.0) & (ratio < _FLOAT_MAX)
    out[ok] = _bd0_array(x[ok], mu[ok])
    xb = x[~ok]
    out[~ok] = xb * (np.log(xb) - log_mu[~ok]) + mu[~ok] - xb
    return out


def _log_nbinom_array(b: np.ndarray, a: float, x: float, y: float, logx: float, logy: float) -> np.ndarray:
    """log g_b, g_b = I_y(a, b+1) - I_y(a, b) = Gamma(a+b) / (Gamma(a) Gamma(b+1)) x^b y^a  (x = 1 - y).

    g_b is the negative-binomial weight NB(b; a, y) = a/(a+b) dbinom(b; a+b, x), so Loader's binomial
    form (stirlerr and bd0 for n = a+b, k = b, n-k = a) gives it to full relative precision for any
    a, b > 0, where exp(a log y + b log x - log b - log B(a, b)) would lose ~log10(a+b) digits.
    """
    n = a + b
    log_n = np.log(n)
    size = b.size
    st = _stirlerr_array(np.concatenate((n, b)))
    bd = _bd0_mu_array(np.concatenate((b, np.full(size, a))), np.concatenate((n * x, n * y)),
                       np.concatenate((log_n + logx, log_n + logy)))
    lc = st[:size] - st[size:] - _stirlerr(a) - bd[:size] - bd[size:]
    return lc - 0.5 * (np.log1p(b / a) + np.log(2.0 * math.pi * b))


def _log_pois_tail(m: int, s: float, lam: float, log_s0: float) -> float:
    """log S_m, S_m = sum_{j >= m} w_j with w_j = pois(j + s; lam) (= P(m + s, lam), incomplete gamma).

    Summed from positive terms only: upward from j = m where the weights decrease (m + s + 1 > lam),
    else S_0 - sum_{j < m} w_j (then S_m > 0.3, no cancellation). Chunks of O(sqrt(lam)) terms until the
    remainder, bounded by the geometric series of the (decreasing) ratio of the last weights, is < 1e-18.
    """
    if m <= 0:
        return log_s0
    step = int(10.0 * math.sqrt(lam)) + 64
    chunks = []
    if m + s + 1.0 > lam:  # w_{j+1}/w_j = lam/(j+1+s) < 1 from j = m on
        start = m
        while True:
            lw = _log_dpois_array(np.arange(start, start + step, dtype=np.float64) + s, lam)
            chunks.append(lw)
            rho = lam / (start + step + s)  # ratio after the last term: the remainder is < w_last rho/(1-rho)
            if lw[-1] + math.log(rho) - math.log1p(-rho) < chunks[0][0] + _NCT_LOG_EPS:
                break
            start += step
            step *= 2
        lw = np.concatenate(chunks)
        top = float(lw[0])
        return top + math.log(float(np.sum(np.exp(lw - top))))
    end = m  # the weights increase up to j = m - 1: sum downward from there
    while end > 0:
        start = max(end - step, 0)
        lw = _log_dpois_array(np.arange(start, end, dtype=np.float64) + s, lam)
        chunks.append(lw)
        q = (start + s) / lam  # w_{start-1}/w_start: the remainder is < w_start q/(1-q)
        if start == 0 or lw[0] + math.log(q) - math.log1p(-q) < chunks[0][-1] + _NCT_LOG_EPS:
            break
        end = start
        step *= 2
    lower = float(np.sum(np.exp(np.concatenate(chunks))))
    return math.log(math.exp(log_s0) - lower)


def _nct_peak_guess(a: float, x: float, y: float, lam: float, s: float, log_s0: float, cover: int = 0) -> int:
    """Approximate index of the largest term g_{k+s+1/2} S_{k+1} (only where to start summing).

    For a <= 1 the terms decrease from k = 0. For a > 1 they are log-concave; the peak lies below the mode
    of g and below the root of x lam (a + b) = (b + 1)(k + s + 2) (there g's ratio times the Poisson-tail
    ratio bound lam/(k+s+2) drops below 1). Bisection on the sign of the log-slope, with S_m replaced by
    the normal tail of the signed root deviance sqrt(2 bd0(m + s - 1/2, lam)). Returns 0 without the search
    when the peak is provably at most ``cover`` (a first block from 0 reaches it anyway).
    """
    if a <= 1.0:
        return 0
    sb = s + 0.5
    k_mode = (a * x - 1.0) / y - sb if y > 0.0 else math.inf
    bq = sb + s + 3.0 - x * lam
    cq = (sb + 1.0) * (s + 2.0) - x * lam * (a + sb)
    if cq >= 0.0 and bq >= 0.0:
        k_root = 0.0
    else:
        disc = math.sqrt(bq * bq - 4.0 * cq)
        k_root = 0.5 * (disc - bq) if bq < 0.0 else -2.0 * cq / (bq + disc)
    k_hi = min(k_mode, k_root) + 1.0
    if not k_hi >= 1.0 or k_hi <= cover:
        return 0
    k_hi = int(min(k_hi, 1e15))
    logx = math.log(x)

    def log_s(m: int) -> float:
        mp = m + s - 0.5
        if mp <= 0.0:
            return log_s0
        d = mp * (math.log(mp) - math.log(lam)) + lam - mp if mp > 1e300 * lam else _bd0(mp, lam)
        if mp > lam:  # log of 1/2 erfc(sqrt d) = 1/2 erfcx(sqrt d) e^-d, erfcx(u) ~ 1/(u sqrt(pi)) far out
            u = math.sqrt(d)
            return min(log_s0, (math.log(0.5 * _erfcx(u)) if u < 1e8 else -math.log(2.0 * _SQRT_PI * u)) - d)
        return min(log_s0, math.log1p(-0.5 * math.erfc(math.sqrt(d))))

    def rising(k: int) -> bool:
        b = k + sb
        return logx + math.log((a + b) / (b + 1.0)) + log_s(k + 2) - log_s(k + 1) > 0.0

    if not rising(0):
        return 0
    lo, hi = 0, k_hi
    if rising(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if rising(mid) else (lo, mid)
    return hi


def _nct_log_series(a: float, x: float, y: float, logx: float, logy: float, lam: float, s: float,
                    log_s0: float, log_base: float) -> float:
    """log of base + sum_{k >= 0} g_{k+s+1/2} S_{k+1}  (g: ``_log_nbinom_array``, S: ``_log_pois_tail``).

    Only a window around the largest term is summed, found from the term values themselves: starting at
    ``_nct_peak_guess`` blocks are added upward and downward until the rest is provably negligible
    (< 1e-18 of the sum). For a >= 1 the terms are log-concave, so beyond an edge where they decrease the
    rest is below T_edge r/(1-r), r the ratio at the edge; for a < 1 they decrease from k = 0 with ratios
    below x times the (decreasing) Poisson-tail ratio. Within a block S_m = S_{top} + sum of the weights
    above m (positive terms, one anchor ``_log_pois_tail`` per upward block). Work ~ the window's length.
    """
    sb = s + 0.5
    var_g = a * x / y / y if y > 0.0 else math.inf  # variance of the negative binomial g
    size = int(min(_NCT_BLOCK_MAX, 16.0 * math.sqrt(min(lam, var_g)) + 64.0))
    k_hat = _nct_peak_guess(a, x, y, lam, s, log_s0, size // 2)

    def block(k0: int, k1: int, ls_top: float) -> tuple[np.ndarray, np.ndarray]:
        k = np.arange(k0, k1, dtype=np.float64)
        log_g = _log_nbinom_array(k + sb, a, x, y, logx, logy)
        lw = _log_dpois_array(k + (1.0 + s), lam)  # w_m for m = k + 1
        # S_m = S_{k1+1} + sum_{j=m}^{k1} w_j, accumulated in logs (the w_j may span 1e-300 .. 1)
        log_s = np.logaddexp.accumulate(np.concatenate(([ls_top], lw[::-1])))[:0:-1]
        return log_g + log_s, log_s

    def add(lt: np.ndarray) -> None:
        nonlocal log_total
        top = float(np.max(lt))
        log_total = np.logaddexp(log_total, top + math.log(float(np.sum(np.exp(lt - top)))))
        parts.append(lt)

    def negligible(log_edge: float, log_r: float, log_count: float = math.inf) -> bool:
        if log_edge == -math.inf:  # a zero term: the (log-concave or decreasing) terms end here
            return True
        return log_r < 0.0 and log_edge + min(log_count, log_r - math.log(-math.expm1(log_r))) \
            < log_total + _NCT_LOG_EPS

    parts: list[np.ndarray] = []
    log_total = log_base
    k0 = max(k_hat - size // 2, 0)
    k1 = k0 + size
    ls_top = _log_pois_tail(k1 + 1, s, lam, log_s0)
    lt, ls = block(k0, k1, ls_top)
    add(lt)
    bottom = (lt[0], lt[1], ls[0])
    while True:  # upward
        log_r = lt[-1] - lt[-2] if a >= 1.0 else logx + ls_top - ls[-1]
        if negligible(lt[-1], log_r):
            break
        size = min(2 * size, _NCT_BLOCK_MAX)
        ls_top = _log_pois_tail(k1 + size + 1, s, lam, log_s0)
        lt, ls = block(k1, k1 + size, ls_top)
        add(lt)
        k1 += size
    while k0 > 0:  # downward (for a < 1 the terms increase all the way down to k = 0)
        if a >= 1.0 and negligible(bottom[0], bottom[0] - bottom[1], math.log(k0)):
            break
        size = min(2 * size, _NCT_BLOCK_MAX, k0)
        lt, ls = block(k0 - size, k0, bottom[2])
        add(lt)
        bottom = (lt[0], lt[1], ls[0]) if size > 1 else (lt[0], bottom[0], ls[0])
        k0 -= size
    top = max(log_base, max(float(np.max(p)) for p in parts))
    total = math.exp(log_base - top) + math.fsum(float(np.sum(np.exp(p - top))) for p in parts)
    return top + math.log(total)


def _nct_sf_pos(t: float, df: float, nc: float) -> float:
    """P(T > t) for t > 0 (see :func:`nct_sf`): 1/2 [A + sign(nc) B] with
    A = I_y(a, 1/2) + sum_k g_{k+1/2} P(k+1, lam) and B = y^a erf(|nc|/sqrt 2) + sum_k g_{k+1} P(k+3/2, lam)."""
    a = 0.5 * df
    r = t * t / df
    lam = 0.5 * nc * nc
    two_tail = _t_two_tail(t, df)
    log_a0 = math.log(two_tail) if two_tail > 0.0 else -math.inf
    erf_nc = math.erf(abs(nc) * _SQRT1_2)
    if math.isinf(r):
        logy = math.log(df) - 2.0 * math.log(t)
        logx = 0.0
    else:
        logy = -math.log1p(r)
        logx = math.log(r) - math.log1p(r) if r > 0.0 else -math.inf
    log_b0 = a * logy + math.log(erf_nc)
    if r == 0.0 or lam == 0.0:  # x = 0 or nc^2 = 0 in double precision: only the k-free terms remain
        log_a, log_b = log_a0, log_b0
    else:
        y = 1.0 / (1.0 + r) if not math.isinf(r) else math.exp(logy)
        x = r / (1.0 + r) if not math.isinf(r) else 1.0
        log_a = _nct_log_series(a, x, y, logx, logy, lam, 0.0, 0.0, log_a0)
        log_b = _nct_log_series(a, x, y, logx, logy, lam, 0.5, math.log(erf_nc), log_b0)
    if nc > 0:
        return 0.5 * math.exp(np.logaddexp(log_a, log_b))
    if log_b >= log_a:
        return 0.0
    return -0.5 * math.exp(log_a) * math.expm1(log_b - log_a)


def _nct_sf_s(t: float, df: float, nc: float) -> float:
    if nc == 0.0:
        return _t_sf_s(t, df)
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    if t == 0.0:
        return _normal_cdf_s(nc)
    if t > 0:
        return min(max(_nct_sf_pos(t, df, nc), 0.0), 1.0)
    return min(max(1.0 - _nct_sf_pos(-t, df, -nc), 0.0), 1.0)


def _nct_two_sided_s(t: float, df: float, nc: float) -> float:
    """P(|T| > t) for t >= 0, T noncentral t with df and nc: the two-sided power of a t-test.

    It equals ``_nct_sf_s(t, df, nc) + _nct_sf_s(t, df, -nc)``: by :func:`_nct_sf_pos` those are
    1/2 (A + B) and 1/2 (A - B), so the sum is A = I_y(a, 1/2) + sum_k g_{k+1/2} P(k+1, lam), one
    Poisson mixture of positive terms (the series of P(F > t^2) for the noncentral F(1, df, nc^2)).
    One series instead of four, and no cancellation in the small lower tail.
    """
    if math.isinf(t):
        return 0.0
    if t == 0.0:
        return 1.0
    a = 0.5 * df
    r = t * t / df
    lam = 0.5 * nc * nc
    two_tail = _t_two_tail(t, df)
    if r == 0.0 or lam == 0.0:
        return two_tail
    log_a0 = math.log(two_tail) if two_tail > 0.0 else -math.inf
    if math.isinf(r):
        logy = math.log(df) - 2.0 * math.log(t)
        logx = 0.0
        y, x = math.exp(logy), 1.0
    else:
        logy = -math.log1p(r)
        logx = math.log(r) - math.log1p(r)
        y, x = 1.0 / (1.0 + r), r / (1.0 + r)
    log_a = _nct_log_series(a, x, y, logx, logy, lam, 0.0, 0.0, log_a0)
    return min(max(math.exp(log_a), 0.0), 1.0)
