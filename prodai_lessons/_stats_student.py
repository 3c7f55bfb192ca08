"""Student's t machinery behind :mod:`prodai_lessons.stats` (private; numpy and ``math`` only).

The survival function P(T > t) is half the regularized incomplete beta I_y(df/2, 1/2),
y = df / (df + t^2), computed directly in the tail as in ACM TOMS 708 (DiDonato & Morris 1992): power
series (BPSER) far out, the asymptotic expansion BGRAT for large df, and a continued fraction (modified
Lentz) elsewhere. The quantiles invert it with safeguarded Newton steps. The public functions in
:mod:`prodai_lessons.stats` validate their input and call these kernels. ``_t_sf_array`` runs the same
algorithms over whole arrays with numpy, for batches of Welch tests.
"""

from __future__ import annotations

import math

import numpy as np

from prodai_lessons._stats_special import (
    _FLOAT_MAX,
    _FPMIN,
    _LN_SQRT_PI,
    _S0,
    _S1,
    _S2,
    _S3,
    _S4,
    _S5,
    _SQRT1_2,
    _SQRT_PI,
    _erfcx,
    _lgamma_ratio_half,
    _normal_upper_quantile,
    _stirlerr,
)


# ---------------------------------------------------------------------------------------------
# Incomplete beta pieces: continued fraction (Lentz), power series, BGRAT
# ---------------------------------------------------------------------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of I_x(a, b) (Numerical Recipes ``betacf``), evaluated by modified Lentz."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _FPMIN:
        d = _FPMIN
    d = 1.0 / d
    h = d
    for m in range(1, 100000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = 1.0 + aa / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _ibeta_cf(a: float, b: float, x: float, y: float, logx: float, logy: float) -> float:
    """Regularized incomplete beta I_x(a, b), y = 1 - x, by continued fraction with the symmetry switch.

    I_x(a, b) = x^a y^b / (a B(a, b)) * CF  when x < (a+1)/(a+b+2), else 1 - I_y(b, a).
    """
    if x < (a + 1.0) / (a + b + 2.0):
        front = math.exp(a * logx + b * logy - _lbeta(a, b)) / a
        return front * _betacf(a, b, x)
    front = math.exp(b * logy + a * logx - _lbeta(a, b)) / b
    return 1.0 - front * _betacf(b, a, y)


def _ibeta_series_half(a: float, y: float, logy: float) -> float:
    """I_y(a, 1/2) by its power series (DiDonato & Morris BPSER), all terms positive; for y <= 0.7.

    I_y(a, b) = y^a / (a B(a, b)) * [1 + a * sum_j (1-b)(2-b)...(j-b)/j! * y^j/(a+j)].
    """
    b = 0.5
    log_front = a * logy - math.log(a) + _lgamma_ratio_half(a) - _LN_SQRT_PI
    s = 0.0
    c = 1.0
    j = 1
    while True:
        c *= (j - b) / j * y
        term = c / (a + j)
        s += term
        if term < 1e-17 * (1.0 + a * s):
            break
        j += 1
    total = 1.0 + a * s
    return math.exp(log_front) * total


def _bgrat_coefficients(b: float, n: int = 30) -> list[float]:
    """p_n of DiDonato & Morris (1992) eq. 9.4 for BGRAT."""
    p = [1.0]
    for k in range(1, n):
        s = 0.0
        for m in range(1, k):
            s += (m * b - k) * p[k - m] / math.factorial(2 * m + 1)
        p.append(s / k + (b - 1.0) / math.factorial(2 * k + 1))
    return p


_BGRAT_P_HALF = _bgrat_coefficients(0.5)


def _ibeta_bgrat_half(a: float, logy: float) -> float:
    """I_y(a, 1/2) for large a (a > 15) by the asymptotic expansion BGRAT (DiDonato & Morris 1992,
    ACM TOMS 708, eqs. 9-9.6): an expansion in incomplete gamma functions Q(1/2, u) = erfc(sqrt u)
    with u = -(a - 1/4) log y; ~10 terms instead of the O(sqrt a) terms of the continued fraction.
    """
    b = 0.5
    t = a + (b - 1.0) / 2.0
    u = -t * logy
    # prefix = h(b, u) * Gamma(a+b)/Gamma(a) / t^b with h = u^b e^-u / Gamma(b); keep it in logs.
    log_prefix = b * math.log(u) - u - _LN_SQRT_PI + _lgamma_ratio_half(a) - b * math.log(t)
    # J_0 = Q(b, u) / h = sqrt(pi) * erfcx(sqrt u) / sqrt u
    j = _SQRT_PI * _erfcx(math.sqrt(u)) / math.sqrt(u)
    s = j
    lx2 = (logy / 2.0) ** 2
    lxp = 1.0
    t4 = 4.0 * t * t
    b2n = b
    p = _BGRAT_P_HALF
    for n in range(1, len(p)):
        j = (b2n * (b2n + 1.0) * j + (u + b2n + 1.0) * lxp) / t4
        lxp *= lx2
        b2n += 2.0
        r = p[n] * j
        s += r
        if abs(r) <= 1e-17 * abs(s):
            break
    return math.exp(log_prefix) * s


def _t_two_tail(at: float, df: float) -> float:
    """P(|T| > at) = I_y(df/2, 1/2), y = df / (df + at^2), for at > 0."""
    a = 0.5 * df
    r = at * at / df
    if at < 1e-12:  # P(|T| > t) = 1 - 2 t pdf(0) + O(t^3)
        return 1.0 - 2.0 * at * math.exp(_t_logpdf(0.0, df))
    if r == 0.0:  # df > 1e300: the normal limit is exact in double precision
        return math.erfc(at * _SQRT1_2)
    if math.isinf(r):
        logy = math.log(df) - 2.0 * math.log(at)
        y = math.exp(logy)
        x = 1.0
        logx = 0.0
    else:
        logy = -math.log1p(r)
        y = 1.0 / (1.0 + r)
        x = r / (1.0 + r)
        logx = math.log(r) - math.log1p(r) if r > 0 else -math.inf
    if y <= 0.7:
        return _ibeta_series_half(a, y, logy)
    if a > 15.0:
        return _ibeta_bgrat_half(a, logy)
    return _ibeta_cf(a, 0.5, y, x, logy, logx)


def _t_sf_s(t: float, df: float) -> float:
    if t == 0.0:
        return 0.5
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    half = 0.5 * _t_two_tail(abs(t), df)
    return half if t > 0 else 1.0 - half


def _t_cdf_s(t: float, df: float) -> float:
    return _t_sf_s(-t, df)


# ---------------------------------------------------------------------------------------------
# Quantiles of Student's t
# ---------------------------------------------------------------------------------------------

def _t_logpdf(t: float, df: float) -> float:
    r = t * t / df
    l1p = math.log1p(r) if not math.isinf(r) else 2.0 * math.log(abs(t)) - math.log(df)
    return _lgamma_ratio_half(0.5 * df) - 0.5 * math.log(df * math.pi) - 0.5 * (df + 1.0) * l1p


def _t_upper_quantile(q: float, df: float) -> float:
    """t >= 0 with P(T > t) = q for 0 < q <= 1/2; for q >= 1/4 and t^2 <= df (df != 1, 2) polished by Newton
    steps on the central probability P(0 < T < t) = 1/2 - q (``_t_central``; 1/2 - q is exact there), which
    keeps the relative precision of t as q -> 1/2."""
    t = _t_upper_quantile_tail(q, df)
    if q < 0.25 or df == 1.0 or df == 2.0 or t == 0.0 or t * t > df:
        return t  # (t^2 > df happens only for df < ~1; t is not small there and the log-sf root is accurate)
    half = 0.5 - q
    for _ in range(4):
        step = (_t_central(t, df) - half) / math.exp(_t_logpdf(t, df))
        t -= step
        if abs(step) <= 1e-16 * abs(t):
            break
    return t


def _t_upper_quantile_tail(q: float, df: float) -> float:
    """t >= 0 with P(T > t) = q for 0 < q <= 1/2 (closed forms for df = 1, 2; else safeguarded Newton)."""
    if q == 0.5:
        return 0.0
    if df == 1.0:  # cot(pi q); near q = 1/2 as tan(pi (1/2 - q)), 1/2 - q exact, pi q is not
        return 1.0 / math.tan(math.pi * q) if q < 0.25 else math.tan(math.pi * (0.5 - q))
    if df == 2.0:
        return (1.0 - 2.0 * q) / math.sqrt(2.0 * q * (1.0 - q))
    logq = math.log(q)
    # starting points: Cornish-Fisher around the normal quantile, and the power-law tail.
    z = _normal_upper_quantile(q)
    g1 = (z ** 3 + z) / 4.0
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96.0
    cand = [z + g1 / df + g2 / df ** 2]
    # tail: sf(t) ~ exp(logpdf coefficient) * df^((df-1)/2) * t^-df  ->  t = (C/q)^(1/df)
    logc = _lgamma_ratio_half(0.5 * df) - 0.5 * math.log(df * math.pi) + 0.5 * (df + 1.0) * math.log(df) - math.log(df)
    if _t_sf_s(_FLOAT_MAX, df) > q:
        return math.inf  # the quantile is beyond the largest double
    cand.append(math.exp((logc - logq) / df) if (logc - logq) / df < 700 else _FLOAT_MAX)
    best, best_err = None, math.inf
    for c in cand:
        if not (c > 0 and math.isfinite(c)):
            continue
        sf = _t_sf_s(c, df)
        err = abs(math.log(sf) - logq) if sf > 0 else math.inf
        if err < best_err:
            best, best_err = c, err
    t = best if best is not None else max(z, 1.0)
    lo, hi = 0.0, _FLOAT_MAX  # bracket: sf(lo) > q >= sf(hi)

    def middle() -> float:
        return math.exp(0.5 * (math.log(lo) + math.log(hi))) if lo > 0 else 0.5 * hi

    for _ in range(300):
        sf = _t_sf_s(t, df)
        if sf <= 0.0:
            hi = min(hi, t)
            t = middle()
            continue
        g = math.log(sf) - logq
        if g > 0:
            lo = max(lo, t)
        elif g < 0:
            hi = min(hi, t)
        else:
            return t
        # Newton on log sf (d log sf / dt = -pdf / sf); in log t above 1, where the tail is a power law
        ratio = math.exp(min(math.log(sf) - _t_logpdf(t, df), 700.0))  # sf / pdf, even if pdf underflows
        if t > 1.0:
            tn = t * math.exp(min(g * ratio / t, 700.0))
        else:
            tn = t + g * ratio
        if not (lo < tn < hi):
            tn = middle()
        if abs(tn - t) <= 4e-16 * abs(tn):
            return tn
        t = tn
    return t


def _t_central(t: float, df: float) -> float:
    """P(0 < T < t) = I_x(1/2, df/2) / 2, x = t^2/(df + t^2), for 0 < t <= sqrt(df) (x <= 1/2), with relative
    precision as t -> 0: the power series BPSER (DiDonato & Morris 1992) of I_x(1/2, b), b = df/2,

        I_x(1/2, b) = 2 sqrt(x) Gamma(b + 1/2) / (sqrt(pi) Gamma(b)) [1 + 1/2 sum_j (1-b)...(j-b)/j! x^j/(j + 1/2)],

    whose terms shrink like (b x)^j / j! with b x <= t^2/2 (little cancellation in the central region).
    """
    b = 0.5 * df
    sqrt_x = t / math.sqrt(df + t * t)
    x = sqrt_x * sqrt_x
    s = 0.0
    c = 1.0
    j = 1
    while True:
        c *= (j - b) / j * x
        term = c / (j + 0.5)
        s += term
        if abs(term) <= 1e-17 * abs(1.0 + 0.5 * s) or j > 5000:
            break
        j += 1
    return sqrt_x * math.exp(_lgamma_ratio_half(b)) / _SQRT_PI * (1.0 + 0.5 * s)


def _t_isf_s(q: float, df: float) -> float:
    if q <= 0.5:
        return _t_upper_quantile(q, df)
    return -_t_upper_quantile(1.0 - q, df)


def _t_ppf_s(q: float, df: float) -> float:
    if q < 0.5:
        return -_t_upper_quantile(q, df)
    return _t_upper_quantile(1.0 - q, df)


# ---------------------------------------------------------------------------------------------
# Array kernels: the same algorithms for many (t, df) at once (Welch p-values of whole batches)
# ---------------------------------------------------------------------------------------------
# Each function applies, element by element, the formulas of its scalar twin above (same regions,
# same series, same stopping rules, the same order of operations), with numpy over the elements
# instead of a Python loop over them; an element leaves an iteration where its own scalar loop would
# stop (the loops run on the elements still going, and write each one back when it stops). Two
# differences, both at the level of rounding: log(Gamma(a + 1/2) / Gamma(a)) for a < 16 comes from
# the a >= 16 formula by the recurrence Gamma(z + 1) = z Gamma(z) (numpy has no log Gamma), and
# numpy's exp and log may differ from ``math``'s in the last bit. erfc, which numpy lacks, is
# ``math.erfc`` per element; the rare edge regions (|t| < 1e-12, df beyond 1e300, t^2/df overflowing)
# use the scalar kernel itself. ``tests/test_stats_arrays.py`` checks the kernels against the scalar
# ones.

_erfc_ufunc = np.frompyfunc(math.erfc, 1, 1)


def _stirlerr_large(z: np.ndarray) -> np.ndarray:
    """Loader's ``stirlerr(z)`` for z > 15 (its series branch), element-wise."""
    r = 1.0 / z
    r2 = r * r
    return r * (_S0 - r2 * (_S1 - r2 * (_S2 - r2 * (_S3 - r2 * (_S4 - r2 * _S5)))))


def _lgamma_ratio_half_array(a: np.ndarray) -> np.ndarray:
    """log(Gamma(a + 1/2) / Gamma(a)) element-wise (``_lgamma_ratio_half``).

    For a >= 16 the scalar formula. Below, with Gamma(z + 1) = z Gamma(z), the ratio at a is the ratio at
    a + m (the first a + m >= 16) minus sum_{k<m} log1p(1 / (2 (a + k))): at most 16 positive terms,
    so the result keeps an absolute precision of a few 1e-16.
    """
    z = np.array(a, dtype=np.float64)
    shift = np.zeros(z.shape)
    live = np.flatnonzero(z < 16.0)
    zl, sl = z[live], shift[live]
    while live.size:
        sl = sl + np.log1p(0.5 / zl)
        zl = zl + 1.0
        done = zl >= 16.0
        if done.any():
            z[live[done]], shift[live[done]] = zl[done], sl[done]
            keep = ~done
            live, zl, sl = live[keep], zl[keep], sl[keep]
    z1 = z - 0.5
    z2 = z - 1.0
    st2 = np.empty(z2.shape)
    low = z2 <= 15.0  # z = 16 exactly: stirlerr(15) takes its log Gamma branch
    st2[~low] = _stirlerr_large(z2[~low])
    st2[low] = [_stirlerr(v) for v in z2[low].tolist()]
    return 0.5 * np.log(z2) + z * np.log1p(0.5 / z2) - 0.5 + _stirlerr_large(z1) - st2 - shift


def _erfcx_array(z: np.ndarray) -> np.ndarray:
    """``_erfcx`` element-wise for z >= 0."""
    out = np.empty(z.shape)
    near = z < 26.0
    zn = z[near]
    out[near] = np.exp(zn * zn) * (_erfc_ufunc(zn).astype(np.float64) if zn.size else zn)
    if (~near).any():
        out[~near] = [_erfcx(v) for v in z[~near].tolist()]
    return out


def _ibeta_series_half_array(a: np.ndarray, y: np.ndarray, logy: np.ndarray) -> np.ndarray:
    """``_ibeta_series_half`` element-wise: I_y(a, 1/2) by the power series, for y <= 0.7."""
    b = 0.5
    log_front = a * logy - np.log(a) + _lgamma_ratio_half_array(a) - _LN_SQRT_PI
    s = np.zeros(a.shape)
    live = np.arange(a.size)  # the elements still summing, and their state
    al, yl, cl, sl = a, y, np.ones(a.shape), s.copy()
    j = 1
    while live.size:
        cl = cl * ((j - b) / j * yl)
        term = cl / (al + j)
        sl = sl + term
        done = term < 1e-17 * (1.0 + al * sl)
        if done.any():
            s[live[done]] = sl[done]
            keep = ~done
            live, al, yl, cl, sl = live[keep], al[keep], yl[keep], cl[keep], sl[keep]
        j += 1
    return np.exp(log_front) * (1.0 + a * s)


def _ibeta_bgrat_half_array(a: np.ndarray, logy: np.ndarray) -> np.ndarray:
    """``_ibeta_bgrat_half`` element-wise: I_y(a, 1/2) for a > 15 by the asymptotic expansion BGRAT."""
    b = 0.5
    t = a + (b - 1.0) / 2.0
    u = -t * logy
    log_prefix = b * np.log(u) - u - _LN_SQRT_PI + _lgamma_ratio_half_array(a) - b * np.log(t)
    root = np.sqrt(u)
    j = _SQRT_PI * _erfcx_array(root) / root
    s = j.copy()
    live = np.arange(a.size)
    jl, sl, ul, lx2, lxp, t4 = j, s.copy(), u, (logy / 2.0) ** 2, np.ones(a.shape), 4.0 * t * t
    b2n = b
    p = _BGRAT_P_HALF
    for n in range(1, len(p)):
        if not live.size:
            break
        jl = (b2n * (b2n + 1.0) * jl + (ul + b2n + 1.0) * lxp) / t4
        lxp = lxp * lx2
        b2n += 2.0
        r = p[n] * jl
        sl = sl + r
        done = np.abs(r) <= 1e-17 * np.abs(sl)
        if n == len(p) - 1:
            done[:] = True
        if done.any():
            s[live[done]] = sl[done]
            keep = ~done
            live, jl, sl, ul, lx2, lxp, t4 = (v[keep] for v in (live, jl, sl, ul, lx2, lxp, t4))
    return np.exp(log_prefix) * s


def _away_from_zero(v: np.ndarray) -> np.ndarray:
    """Lentz's guard, ``v`` with every |v| < _FPMIN replaced by _FPMIN (the test costs two passes, the
    replacement a third only where it is needed)."""
    if np.abs(v).min() < _FPMIN:
        v = np.where(np.abs(v) < _FPMIN, _FPMIN, v)
    return v


def _betacf_array(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``_betacf`` element-wise (modified Lentz), each element stopping where the scalar loop stops.

    An element's value is recorded at the iteration where its scalar loop would stop; the arrays are
    shrunk to the elements still going once half of them have stopped (shrinking costs more than an
    iteration, and another iteration changes nothing that was recorded).
    """
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < _FPMIN, _FPMIN, d)
    d = 1.0 / d
    h = d.copy()
    live = np.arange(a.size)
    stopped = np.zeros(a.size, dtype=bool)
    al, bl, xl, dl, cl, hl = a, b, x, d, np.ones(a.shape), h.copy()
    qabl, qapl, qaml = qab, qap, qam
    for m in range(1, 100000):
        m2 = 2 * m
        a_m2 = al + m2
        aa = m * (bl - m) * xl / ((qaml + m2) * a_m2)
        dl = _away_from_zero(1.0 + aa * dl)
        cl = _away_from_zero(1.0 + aa / cl)
        dl = 1.0 / dl
        hl = hl * (dl * cl)
        aa = -(al + m) * (qabl + m) * xl / (a_m2 * (qapl + m2))
        dl = _away_from_zero(1.0 + aa * dl)
        cl = _away_from_zero(1.0 + aa / cl)
        dl = 1.0 / dl
        delta = dl * cl
        hl = hl * delta
        new = (np.abs(delta - 1.0) < 1e-16) & ~stopped
        if new.any():
            h[live[new]] = hl[new]
            stopped |= new
            if stopped.all():
                return h
            if 2 * np.count_nonzero(stopped) >= stopped.size:
                keep = ~stopped
                live, al, bl, xl, dl, cl, hl, qabl, qapl, qaml = (
                    v[keep] for v in (live, al, bl, xl, dl, cl, hl, qabl, qapl, qaml))
                stopped = stopped[keep]
    h[live[~stopped]] = hl[~stopped]  # the scalar loop's iteration limit
    return h


def _ibeta_cf_half_array(a: np.ndarray, y: np.ndarray, x: np.ndarray, logy: np.ndarray,
                         logx: np.ndarray) -> np.ndarray:
    """``_ibeta_cf(a, 1/2, y, x, logy, logx)`` element-wise: I_y(a, 1/2) by continued fraction."""
    lbeta = _LGAMMA_HALF - _lgamma_ratio_half_array(a)  # log B(a, 1/2) = lgamma(a) + lgamma(1/2) - lgamma(a + 1/2)
    direct = y < (a + 1.0) / (a + 0.5 + 2.0)
    out = np.empty(a.shape)
    i, k = np.flatnonzero(direct), np.flatnonzero(~direct)
    if i.size:
        front = np.exp(a[i] * logy[i] + 0.5 * logx[i] - lbeta[i]) / a[i]
        out[i] = front * _betacf_array(a[i], np.full(i.size, 0.5), y[i])
    if k.size:
        front = np.exp(0.5 * logx[k] + a[k] * logy[k] - lbeta[k]) / 0.5
        out[k] = 1.0 - front * _betacf_array(np.full(k.size, 0.5), a[k], x[k])
    return out


_LGAMMA_HALF = math.lgamma(0.5)


def _t_two_tail_array(at: np.ndarray, df: np.ndarray) -> np.ndarray:
    """``_t_two_tail`` element-wise: P(|T| > at) for at > 0 (finite), df > 0."""
    out = np.empty(at.shape)
    a = 0.5 * df
    r = at * at / df
    edge = (at < 1e-12) | (r == 0.0) | np.isinf(r)
    if edge.any():
        out[edge] = [_t_two_tail(u, v) for u, v in zip(at[edge].tolist(), df[edge].tolist())]
    rest = ~edge
    ar, rr = a[rest], r[rest]
    logy = -np.log1p(rr)
    y = 1.0 / (1.0 + rr)
    x = rr / (1.0 + rr)
    logx = np.log(rr) - np.log1p(rr)
    vals = np.empty(ar.shape)
    series = y <= 0.7
    bgrat = ~series & (ar > 15.0)
    cf = ~series & ~bgrat
    if series.any():
        vals[series] = _ibeta_series_half_array(ar[series], y[series], logy[series])
    if bgrat.any():
        vals[bgrat] = _ibeta_bgrat_half_array(ar[bgrat], logy[bgrat])
    if cf.any():
        vals[cf] = _ibeta_cf_half_array(ar[cf], y[cf], x[cf], logy[cf], logx[cf])
    out[rest] = vals
    return out


def _t_sf_array(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """``_t_sf_s`` element-wise for float64 arrays of t (no NaN, +-inf allowed) and df > 0."""
    t, df = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(df, dtype=np.float64))
    out = np.empty(t.shape)
    out[t == 0.0] = 0.5
    out[t == math.inf] = 0.0
    out[t == -math.inf] = 1.0
    body = (t != 0.0) & np.isfinite(t)
    if body.any():
        tb = t[body]
        with np.errstate(over="ignore"):  # as in the scalar kernels, an overflow to inf is part of the algorithm
            half = 0.5 * _t_two_tail_array(np.abs(tb), df[body])
        out[body] = np.where(tb > 0, half, 1.0 - half)
    return out
