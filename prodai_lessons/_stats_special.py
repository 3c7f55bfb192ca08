"""Special-function machinery behind :mod:`prodai_lessons.stats` (private; numpy and ``math`` only).

What lives here is exactness, not ideas: Loader's saddle-point pieces ``stirlerr``/``bd0`` (C. Loader
2000, "Fast and accurate computation of binomial probabilities", as in R's ``dbinom``), which give
``x^a e^-x / Gamma(a+1)`` and binomial terms to full relative precision even for a = 5e5 (the textbook
``exp(a log x - x - lgamma(a+1))`` loses 9 digits there); the scaled complementary error function for
far tails; the normal quantile (Acklam's start polished by Newton steps); and the regularized incomplete
gamma function Q(a, x) = P(chi2_2a > 2x) computed directly in each region, never as ``1 - P`` where that
cancels. The public functions in :mod:`prodai_lessons.stats` validate their input and call these kernels.
"""

from __future__ import annotations

import math

import numpy as np

_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_PI = math.sqrt(math.pi)
_LN_SQRT_PI = 0.5 * math.log(math.pi)
_SQRT1_2 = math.sqrt(0.5)
_LN2 = math.log(2.0)
_FPMIN = 1e-300
_FLOAT_MAX = 1.7976931348623157e308

# ---------------------------------------------------------------------------------------------
# Loader's stirlerr and bd0 (scalar and array versions)
# ---------------------------------------------------------------------------------------------

_S0, _S1, _S2, _S3, _S4, _S5 = (1.0 / 12, 1.0 / 360, 1.0 / 1260, 1.0 / 1680, 1.0 / 1188, 691.0 / 360360)


def _stirlerr(z: float) -> float:
    """log(Gamma(z+1)) - [(z+1/2) log z - z + log sqrt(2 pi)], the error of Stirling's formula."""
    if z <= 15.0:
        return math.lgamma(z + 1.0) - (z + 0.5) * math.log(z) + z - _LN_SQRT_2PI
    r = 1.0 / z
    r2 = r * r
    return r * (_S0 - r2 * (_S1 - r2 * (_S2 - r2 * (_S3 - r2 * (_S4 - r2 * _S5)))))


_STIRLERR_HALVES = np.array([0.0] + [_stirlerr(0.5 * k) for k in range(1, 31)])  # z = 0.5, 1, ..., 15


def _stirlerr_array(z: np.ndarray) -> np.ndarray:
    """``_stirlerr`` for an array ``z > 0`` (integers or reals; tabulated at the half-integers up to 15)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty(z.shape)
    small = z <= 15.0
    if small.any():
        zs = z[small]
        twice = 2.0 * zs
        halves = twice == np.floor(twice)
        vals = np.empty(zs.shape)
        vals[halves] = _STIRLERR_HALVES[twice[halves].astype(np.int64)]
        vals[~halves] = [_stirlerr(v) for v in zs[~halves].tolist()]
        out[small] = vals
    r = 1.0 / z[~small]
    r2 = r * r
    out[~small] = r * (_S0 - r2 * (_S1 - r2 * (_S2 - r2 * (_S3 - r2 * (_S4 - r2 * _S5)))))
    return out


def _bd0(x: float, mu: float) -> float:
    """x log(x/mu) + mu - x, without cancellation when x ~ mu (Loader's deviance term)."""
    if abs(x - mu) < 0.1 * (x + mu):
        v = (x - mu) / (x + mu)
        s = (x - mu) * v
        ej = 2.0 * x * v
        v2 = v * v
        j = 1
        while True:
            ej *= v2
            s1 = s + ej / (2 * j + 1)
            if s1 == s:
                return s1
            s = s1
            j += 1
    return x * math.log(x / mu) + mu - x


def _bd0_array(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    out = np.empty(np.broadcast(x, mu).shape)
    x, mu = np.broadcast_arrays(x, mu)
    near = np.abs(x - mu) < 0.1 * (x + mu)
    xf, mf = x[~near], mu[~near]
    out[~near] = xf * np.log(xf / mf) + mf - xf
    xn, mn = x[near], mu[near]
    v = (xn - mn) / (xn + mn)
    s = (xn - mn) * v
    ej = 2.0 * xn * v
    v2 = v * v
    # |v| < 0.1, so v^2 < 0.01 and 10 terms reach 1e-20 relative; fewer when every |v| is smaller
    v2max = float(np.max(v2)) if v2.size else 0.0
    terms = 10 if v2max >= 1e-2 else 1 if v2max == 0.0 else min(10, int(-46.0 / math.log(v2max)) + 1)
    for j in range(1, terms + 1):
        ej = ej * v2
        s = s + ej / (2 * j + 1)
    out[near] = s
    return out


def _dpois(a: float, x: float) -> float:
    """x^a e^-x / Gamma(a+1) for a > 0, x > 0 (Loader: exp(-stirlerr(a) - bd0(a, x)) / sqrt(2 pi a))."""
    if a < 10.0:
        return math.exp(a * math.log(x) - x - math.lgamma(a + 1.0))
    return math.exp(-_stirlerr(a) - _bd0(a, x)) / math.sqrt(2.0 * math.pi * a)


def _lgamma_ratio_half(a: float) -> float:
    """log(Gamma(a + 1/2) / Gamma(a)) to full absolute precision for every a > 0.

    For a >= 16, Stirling's formula with Loader's ``stirlerr`` for both Gammas: the large
    (z + 1/2) log z - z parts cancel analytically, leaving 0.5 log(a-1) + a log1p(1/(2(a-1))) - 1/2.
    """
    if a < 16.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    z1 = a - 0.5
    z2 = a - 1.0
    return 0.5 * math.log(z2) + a * math.log1p(0.5 / z2) - 0.5 + _stirlerr(z1) - _stirlerr(z2)


# ---------------------------------------------------------------------------------------------
# Normal distribution: scaled erfc, scalar kernels, quantile
# ---------------------------------------------------------------------------------------------

def _erfcx(z: float) -> float:
    """exp(z^2) erfc(z) for z >= 0 (direct below 26, asymptotic series above)."""
    if z < 26.0:
        return math.exp(z * z) * math.erfc(z)
    w = 1.0 / (2.0 * z * z)
    term, s, k = 1.0, 1.0, 1
    while True:
        term *= -(2 * k - 1) * w
        s += term
        if abs(term) < 1e-17 * s:
            break
        k += 1
    return s / (z * _SQRT_PI)


def _normal_sf_s(x: float) -> float:
    return 0.5 * math.erfc(x * _SQRT1_2)


def _normal_cdf_s(x: float) -> float:
    return 0.5 * math.erfc(-x * _SQRT1_2)


# Acklam's rational approximation to the normal quantile (relative error < 1.15e-9), refined below.
_AK_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)

_AK_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01)

_AK_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)

_AK_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)


def _normal_upper_quantile(q: float) -> float:
    """z >= 0 with P(Z > z) = q, for 0 < q <= 1/2: Acklam's approximation + Newton steps on log sf."""
    if q == 0.5:
        return 0.0
    if q < 0.02425:
        r = math.sqrt(-2.0 * math.log(q))
        c, d = _AK_C, _AK_D
        z = -(((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / \
            ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1.0)
    else:
        s = q - 0.5
        r = s * s
        a, b = _AK_A, _AK_B
        z = -(((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * s / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    if q >= 0.25:
        # central region: Newton on P(0 < Z < z) = erf(z/sqrt2)/2 = 1/2 - q (exact for q >= 1/4), so the
        # relative precision of z survives q -> 1/2 (the log-sf residual only has absolute precision ~1e-16).
        half = 0.5 - q
        for _ in range(4):
            step = (0.5 * math.erf(z * _SQRT1_2) - half) * _SQRT_2PI * math.exp(0.5 * z * z)
            z -= step
            if abs(step) <= 1e-16 * abs(z):
                break
        return z
    logq = math.log(q)
    for _ in range(4):
        # log sf(z) = log(erfcx(z/sqrt2)/2) - z^2/2 ;  d/dz log sf = -sqrt(2/pi) / erfcx(z/sqrt2)
        ex = _erfcx(z * _SQRT1_2) if z >= 0 else 2.0 * math.exp(0.5 * z * z) * _normal_sf_s(z)
        g = math.log(0.5 * ex) - 0.5 * z * z - logq
        step = g * ex * math.sqrt(math.pi / 2.0)
        z += step
        if abs(step) <= 1e-16 * max(abs(z), 1e-300):
            break
    return z


def _normal_ppf_s(p: float) -> float:
    if p < 0.5:
        return -_normal_upper_quantile(p)
    return _normal_upper_quantile(1.0 - p)  # exact subtraction for p >= 1/2


def _normal_isf_s(q: float) -> float:
    if q <= 0.5:
        return _normal_upper_quantile(q)
    return -_normal_upper_quantile(1.0 - q)


# ---------------------------------------------------------------------------------------------
# Regularized incomplete gamma (chi-square)
# ---------------------------------------------------------------------------------------------

def _gamma_p_series(a: float, x: float) -> float:
    """P(a, x) = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n)) (power series, positive terms)."""
    term = 1.0
    s = 1.0
    n = 1
    while True:
        term *= x / (a + n)
        s += term
        if term < 1e-17 * s:
            break
        n += 1
    return _dpois(a, x) * s


def _gamma_q_cf(a: float, x: float) -> float:
    """Q(a, x) = x^a e^-x / Gamma(a) * 1/(x+1-a - 1(1-a)/(x+3-a - 2(2-a)/(x+5-a - ...))) (Lentz)."""
    b = x + 1.0 - a
    c = 1.0 / _FPMIN
    d = 1.0 / b
    h = d
    i = 1
    while True:
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = b + an / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
        i += 1
    return a * _dpois(a, x) * h


def _zeta_minus_one(k: int) -> float:
    """zeta(k) - 1 for k >= 2: sum_{n=2}^{99} n^-k plus the Euler-Maclaurin tail from 100 (error < 1e-20)."""
    big = 100.0
    tail = (big ** (1 - k) / (k - 1) + 0.5 * big ** -k + k / 12.0 * big ** (-k - 1)
            - k * (k + 1) * (k + 2) / 720.0 * big ** (-k - 3)
            + k * (k + 1) * (k + 2) * (k + 3) * (k + 4) / 30240.0 * big ** (-k - 5))
    return math.fsum([float(n) ** -k for n in range(2, 100)] + [tail])


_EULER_GAMMA = 0.57721566490153286061
_LGAMMA1P_COEF = [(-1.0) ** k * _zeta_minus_one(k) / k for k in range(2, 42)]


def _lgamma1p(a: float) -> float:
    """log Gamma(1 + a) for |a| <= 1/2 with relative precision as a -> 0 (``math.lgamma(1 + a)`` rounds
    1 + a and keeps only absolute precision). Abramowitz & Stegun 6.1.33:
    log Gamma(1 + a) = -log(1 + a) + a (1 - gamma) + sum_{k>=2} (-1)^k (zeta(k) - 1) a^k / k."""
    s = 0.0
    p = a
    for c in _LGAMMA1P_COEF:
        p *= a
        term = c * p
        s += term
        if abs(term) <= 1e-17 * abs(s):
            break
    return -math.log1p(a) + a * (1.0 - _EULER_GAMMA) + s


def _gamma_q_small_a(a: float, x: float) -> float:
    """Q(a, x) directly for a < 1/2 and 0 < x < a + 1, where 1 - P(a, x) cancels (Q ~ a E1(x) as a -> 0):

        Q = 1 - x^a / Gamma(a+1) + a x^a / Gamma(a+1) sum_{n>=1} (-1)^(n+1) x^n / (n! (a + n)),

    from the term-wise integral of the lower incomplete gamma (the "small a" method of DiDonato & Morris
    1986 and Boost's ``tgamma_small_upper_part``), with 1 - x^a/Gamma(a+1) = -expm1(a log x - lgamma1p(a)).
    """
    e = a * math.log(x) - _lgamma1p(a)
    s = 0.0
    c = 1.0
    n = 1
    while True:
        c *= -x / n
        term = -c / (a + n)
        s += term
        if abs(term) <= 1e-17 * abs(s):
            break
        n += 1
    return -math.expm1(e) + a * math.exp(e) * s


def _gamma_q(a: float, x: float) -> float:
    if x <= 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    if x < a + 1.0:
        if a < 0.5:
            return _gamma_q_small_a(a, x)
        return 1.0 - _gamma_p_series(a, x)  # Q >= Q(1/2, 3/2) = 0.083 here: no cancellation to speak of
    return _gamma_q_cf(a, x)


def _gamma_p(a: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if math.isinf(x):
        return 1.0
    if x < a + 1.0:
        return _gamma_p_series(a, x)
    return 1.0 - _gamma_q_cf(a, x)


def _chi2_sf_s(x: float, df: float) -> float:
    return _gamma_q(0.5 * df, 0.5 * x)


def _chi2_cdf_s(x: float, df: float) -> float:
    return _gamma_p(0.5 * df, 0.5 * x)
