"""Student's t machinery behind :mod:`prodai_lessons.stats` (private; numpy and ``math`` only).

The survival function P(T > t) is half the regularized incomplete beta I_y(df/2, 1/2),
y = df / (df + t^2), computed directly in the tail as in ACM TOMS 708 (DiDonato & Morris 1992): power
series (BPSER) far out, the asymptotic expansion BGRAT for large df, and a continued fraction (modified
Lentz) elsewhere. The quantiles invert it with safeguarded Newton steps. The public functions in
:mod:`prodai_lessons.stats` validate their input and call these kernels.
"""

from __future__ import annotations

import math

from prodai_lessons._stats_special import (
    _FLOAT_MAX,
    _FPMIN,
    _LN_SQRT_PI,
    _SQRT1_2,
    _SQRT_PI,
    _erfcx,
    _lgamma_ratio_half,
    _normal_upper_quantile,
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
