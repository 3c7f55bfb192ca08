"""The production side of :mod:`prodai_lessons.abtest`: validation, exact arithmetic, vectorised paths.

The lesson module states each idea in a short function (the teaching core); this module holds what
a platform adds around those ideas: input checks that name the argument, results as frozen
dataclasses with readable reprs, Welch's test for whole batches of experiments with no overflow or
division by zero, the proportion test, the numerical root search for the exact sample size, and the
multiple-testing corrections (group-sequential boundaries and the peeking simulation are in
:mod:`prodai_lessons._abtest_sequential`). Everything public here is re-exported by
:mod:`prodai_lessons.abtest`; import it from there.

Where an engine function computes what a core computes by another route (vectorised, rescaled
against overflow), ``tests/test_abtest_cores.py`` asserts that both agree on ordinary inputs.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable

import numpy as np

from prodai_lessons._validation import (
    as_1d_array,
    as_2d_array,
    check_choice,
    check_int,
    check_probability,
    check_real,
    check_weights,
)
from prodai_lessons._stats_nct import _nct_two_sided_s
from prodai_lessons._stats_student import _t_sf_array
from prodai_lessons.stats import normal_cdf, normal_isf, normal_sf, t_isf, t_sf

__all__ = [
    "WelchResult",
    "welch_from_moments",
    "welch_test",
    "welch_p_values",
    "ProportionResult",
    "proportion_test",
    "SRMResult",
    "SampleSizeResult",
    "MultipleTestResult",
    "holm",
    "benjamini_hochberg",
    "MetricComparison",
    "ExperimentDecision",
]


def _readonly(values: Any) -> np.ndarray:
    """A read-only copy of ``values``: a frozen result's array cannot be changed through its field."""
    arr = np.array(values, copy=True)
    arr.flags.writeable = False
    return arr


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}g}"


# --------------------------------------------------------------------------------------------
# Assignment: validation of ids and splits
# --------------------------------------------------------------------------------------------

def _unit_key(unit_id: Any, index: int | None = None) -> str:
    """A unit id as text: strings as they are, integers in decimal (so 42 and "42" are the same unit).

    A bad id is named ``unit_id``, or ``unit_ids[index]`` when it comes from a sequence of ids.
    """
    if isinstance(unit_id, str):
        return unit_id
    if type(unit_id) is int or (isinstance(unit_id, numbers.Integral) and not isinstance(unit_id, (bool, np.bool_))):
        return str(int(unit_id))
    name = "unit_id" if index is None else f"unit_ids[{index}]"
    raise TypeError(f"{name} must be a str or an int; got {type(unit_id).__name__} {unit_id!r:.60}")


def _unit_ids(unit_ids: Any) -> Sequence[Any]:
    """``unit_ids`` if it is a sequence (not a string), else a ``TypeError`` naming it."""
    if isinstance(unit_ids, (str, bytes)) or not isinstance(unit_ids, (Sequence, np.ndarray, range)):
        raise TypeError(f"unit_ids must be a sequence of str or int ids; got {type(unit_ids).__name__}")
    return unit_ids


def _check_split(split: Any) -> dict[str, float]:
    weights = check_weights("split", split)
    for key in weights:
        if not isinstance(key, str) or not key:
            raise TypeError(f"split keys must be non-empty variant names (str); got {key!r:.60}")
    return weights


# --------------------------------------------------------------------------------------------
# Welch's t-test
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test of ``b`` (treatment) against ``a`` (control).

    ``diff = mean_b - mean_a``; ``lift = diff / mean_a`` (``None`` when ``mean_a`` is 0);
    ``cohens_d = diff / pooled_sd`` with ``pooled_sd = sqrt(((n_a-1) var_a + (n_b-1) var_b) / (n_a+n_b-2))``;
    ``[ci_low, ci_high]`` is the ``1 - alpha`` confidence interval for ``diff``; ``degenerate``
    is True when both arms have zero variance (see :func:`welch_test`).

    >>> r = welch_test([3.0, 4.0, 5.0], [4.0, 5.0, 7.0])
    >>> r.diff, round(r.p_value, 3), r.significant
    (1.333333333333333, 0.285, False)
    """

    t_statistic: float
    df: float
    p_value: float
    ci_low: float
    ci_high: float
    diff: float
    lift: float | None
    cohens_d: float
    significant: bool
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    alpha: float
    degenerate: bool = False

    def __repr__(self) -> str:
        lift = "n/a" if self.lift is None else f"{self.lift:+.2%}"
        return (
            f"WelchResult(diff={_fmt(self.diff)} [{_fmt(self.ci_low)}, {_fmt(self.ci_high)}] "
            f"({1 - self.alpha:.0%} CI), lift={lift}, t={_fmt(self.t_statistic)}, df={_fmt(self.df)}, "
            f"p={_fmt(self.p_value, 3)}, d={_fmt(self.cohens_d, 3)}, significant={self.significant}, "
            f"n_a={self.n_a}, n_b={self.n_b}{', degenerate=True' if self.degenerate else ''})"
        )


def welch_from_moments(
    mean_a: Any, var_a: Any, n_a: Any, mean_b: Any, var_b: Any, n_b: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Welch's t statistic, degrees of freedom, two-sided p-value and standard error from summaries.

    Parameters are each arm's mean, sample variance (``ddof=1``) and size, as numbers or as arrays
    (one entry per experiment): this is how the simulations run thousands of tests at once. With
    ``v_a = var_a/n_a`` and ``v_b = var_b/n_b``::

        se = sqrt(v_a + v_b)             t = (mean_b - mean_a) / se
        df = (v_a + v_b)**2 / (v_a**2/(n_a-1) + v_b**2/(n_b-1))     (Welch-Satterthwaite)
        p  = 2 * P(T_df > |t|)           (Student t, not the normal)

    >>> t, df, p, se = welch_from_moments(0.0, 1.0, 10, 1.0, 4.0, 10)
    >>> round(float(t), 4), round(float(df), 2), round(float(p), 4), round(float(se), 4)
    (1.4142, 13.24, 0.1804, 0.7071)

    Notes
    -----
    Where ``se == 0`` (both arms constant) the result is the limit, not a division by zero:
    ``t = 0, p = 1`` if the means are equal, ``t = +-inf, p = 0`` otherwise, and ``df = n_a + n_b - 2``.
    ``se`` and ``df`` are computed from ``v_a / s`` and ``v_b / s`` with ``s = max(v_a, v_b)`` (the same
    formulas, rescaled), so squaring a variance never overflows or underflows float64.
    No validation here: :func:`welch_test` and :func:`welch_p_values` validate their inputs.
    """
    mean_a, var_a, n_a, mean_b, var_b, n_b = (np.asarray(x, dtype=np.float64) for x in
                                              (mean_a, var_a, n_a, mean_b, var_b, n_b))
    va = var_a / n_a
    vb = var_b / n_b
    diff = mean_b - mean_a
    scale = np.maximum(va, vb)
    zero = scale == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ra, rb = va / scale, vb / scale  # in [0, 1], the larger one exactly 1
        se = np.sqrt(scale) * np.sqrt(ra + rb)
        t = np.where(zero, np.where(diff == 0, 0.0, np.sign(diff) * np.inf), diff / se)
        df = np.where(zero, n_a + n_b - 2, (ra + rb) ** 2 / (ra**2 / (n_a - 1) + rb**2 / (n_b - 1)))
    se = np.where(zero, 0.0, se)
    at = np.abs(t)
    if at.ndim and not (np.isnan(at).any() or np.isnan(df).any() or (df <= 0).any()):
        p = 2.0 * _t_sf_array(at, df)  # the kernel of t_sf, for all experiments at once
    else:  # one experiment, or values t_sf refuses (its error names them)
        p = np.asarray(2.0 * t_sf(at, df), dtype=np.float64)
    p = np.where(zero, np.where(diff == 0, 1.0, 0.0), np.minimum(p, 1.0))
    return t, df, p, se


def _moments(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample variance (``ddof=1``) along the last axis, or ``ValueError`` naming ``name``.

    Finite inputs can still overflow float64 here (``mean([1e308, 1e308])``, ``var([1e300, -1e300])``),
    or underflow (``var([1e-300, 2e-300])`` is 0): that is reported as an error about ``name`` (with the
    row for 2-D input), without a RuntimeWarning.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x.mean(axis=-1)
        var = x.var(axis=-1, ddof=1)
    for what, v in (("mean", mean), ("variance", var)):
        bad = ~np.isfinite(v)
        if bad.any():
            row = f" (row {int(np.flatnonzero(bad)[0])})" if x.ndim == 2 else ""
            raise ValueError(f"{name}: values too large to compute a {what} in float64{row}; "
                             f"largest |value| is {float(np.abs(x).max()):.3g}; rescale the metric")
    # Deviations so small that their squares underflow: a variance of 0 for values that differ.
    zero = var == 0
    lost = zero & (x.max(axis=-1) != x.min(axis=-1)) if zero.any() else zero
    if lost.any():
        row = f" (row {int(np.flatnonzero(lost)[0])})" if x.ndim == 2 else ""
        raise ValueError(f"{name}: values too close to 0 to compute a variance in float64{row} (it underflows "
                         f"to 0 although the values differ); rescale the metric")
    return mean, var


def welch_test(a: Any, b: Any, alpha: float = 0.05) -> WelchResult:
    """Welch's t-test of ``b`` (treatment) against ``a`` (control), with a Student-t confidence interval.

    Parameters: ``a`` and ``b``, 1-D samples with at least 2 finite values each; ``alpha``, the
    significance level (the interval has coverage ``1 - alpha``). The statistic and degrees of
    freedom are those of :func:`welch_from_moments`; the p-value and the interval
    ``diff +- t_{1-alpha/2, df} * se`` use the Student t with the (fractional) Welch-Satterthwaite
    degrees of freedom. Matches ``scipy.stats.ttest_ind(b, a, equal_var=False)`` and its
    ``confidence_interval(1 - alpha)``.

    >>> r = welch_test([3.1, 3.5, 2.9, 3.8, 3.3], [3.9, 4.2, 3.6, 4.4, 4.0])
    >>> round(r.t_statistic, 3), round(r.df, 2), round(r.p_value, 4)
    (3.384, 7.85, 0.0099)
    >>> round(r.ci_low, 3), round(r.ci_high, 3)
    (0.221, 1.179)

    Notes
    -----
    ``a`` and ``b`` must have a mean and variance that fit in float64 (``ValueError`` naming them
    otherwise; rescale such a metric first). If both arms have zero variance the test is degenerate:
    ``degenerate=True``, ``p_value = 1, t_statistic = 0`` when the two constants are equal and
    ``p_value = 0, t_statistic = +-inf`` when they differ (the difference is then known exactly), the
    interval is ``[diff, diff]``, ``df = n_a + n_b - 2`` and ``cohens_d`` is 0 or +-inf likewise.
    A common implementation takes the p-value from the normal distribution instead of the Student t:
    its p-values are far too small at n <= 50 (about 7% false positives instead of 5% at n = 10).
    """
    a = as_1d_array("a", a, min_size=2)
    b = as_1d_array("b", b, min_size=2)
    alpha = check_probability("alpha", alpha)
    n_a, n_b = a.size, b.size
    mean_a, var_a = (float(x) for x in _moments("a", a))
    mean_b, var_b = (float(x) for x in _moments("b", b))
    t, df, p, se = (float(x) for x in welch_from_moments(mean_a, var_a, n_a, mean_b, var_b, n_b))
    diff = mean_b - mean_a
    degenerate = var_a == 0.0 and var_b == 0.0
    if degenerate:
        ci_low = ci_high = diff
        cohens_d = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        half = float(t_isf(alpha / 2.0, df)) * se
        ci_low, ci_high = diff - half, diff + half
        # weighted mean of the variances, (n_a-1) var_a + (n_b-1) var_b over n_a + n_b - 2: cannot overflow
        w_a = (n_a - 1) / (n_a + n_b - 2)
        pooled_sd = math.sqrt(w_a * var_a + (1.0 - w_a) * var_b)
        cohens_d = diff / pooled_sd
    return WelchResult(
        t_statistic=t, df=df, p_value=p, ci_low=ci_low, ci_high=ci_high, diff=diff,
        lift=None if mean_a == 0 else diff / mean_a, cohens_d=cohens_d,
        significant=bool(p < alpha), mean_a=mean_a, mean_b=mean_b, n_a=n_a, n_b=n_b,
        alpha=alpha, degenerate=degenerate,
    )


def welch_p_values(a: Any, b: Any) -> np.ndarray:
    """Two-sided Welch p-values for many experiments at once: row ``i`` of ``a`` against row ``i`` of ``b``.

    Parameters: ``a`` and ``b``, 2-D (experiments x observations, at least 2 per row, the same
    number of rows). The same computation as :func:`welch_test`, vectorised: the A/A simulations use it.

    >>> welch_p_values([[3.0, 4.0, 5.0], [1.0, 2.0, 3.0]], [[4.0, 5.0, 7.0], [1.0, 2.0, 3.5]]).round(3)
    array([0.285, 0.867])
    """
    a = as_2d_array("a", a, min_columns=2, what="experiments x observations")
    b = as_2d_array("b", b, min_columns=2, what="experiments x observations")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must have the same number of rows; got {a.shape[0]} and {b.shape[0]}")
    mean_a, var_a = _moments("a", a)
    mean_b, var_b = _moments("b", b)
    _, _, p, _ = welch_from_moments(mean_a, var_a, a.shape[1], mean_b, var_b, b.shape[1])
    return p


# --------------------------------------------------------------------------------------------
# Two proportions
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProportionResult:
    """Two-proportion z-test of ``b`` against ``a``; ``diff = rate_b - rate_a``, ``lift = diff / rate_a``.

    >>> r = proportion_test(100, 1000, 130, 1000)
    >>> r.rate_a, r.rate_b, round(r.p_value, 4)
    (0.1, 0.13, 0.0355)
    """

    z_statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    diff: float
    lift: float | None
    rate_a: float
    rate_b: float
    n_a: int
    n_b: int
    alpha: float
    significant: bool

    def __repr__(self) -> str:
        lift = "n/a" if self.lift is None else f"{self.lift:+.2%}"
        return (
            f"ProportionResult(rate_a={self.rate_a:.4%}, rate_b={self.rate_b:.4%}, diff={_fmt(self.diff)} "
            f"[{_fmt(self.ci_low)}, {_fmt(self.ci_high)}] ({1 - self.alpha:.0%} CI), lift={lift}, "
            f"z={_fmt(self.z_statistic)}, p={_fmt(self.p_value, 3)}, significant={self.significant})"
        )


def _check_successes(name: str, value: Any, n_name: str, n: int) -> int:
    value = check_int(name, value, minimum=0)
    if value > n:
        raise ValueError(f"{name} must be <= {n_name} ({n}); got {value}")
    return value


def proportion_test(successes_a: int, n_a: int, successes_b: int, n_b: int,
                    alpha: float = 0.05) -> ProportionResult:
    """Two-proportion z-test for a conversion metric, with a Wald interval for the difference.

    Parameters: the conversions and units of each arm (integers, ``0 <= successes <= n``, ``n >= 1``),
    and ``alpha``. With ``p_a = successes_a/n_a``, ``p_b = successes_b/n_b`` and the pooled rate
    ``p = (successes_a + successes_b)/(n_a + n_b)``::

        z = (p_b - p_a) / sqrt(p (1-p) (1/n_a + 1/n_b))       p-value = 2 P(Z > |z|)
        CI = (p_b - p_a) +- z_{1-alpha/2} sqrt(p_a(1-p_a)/n_a + p_b(1-p_b)/n_b)

    The test matches ``statsmodels.stats.proportion.proportions_ztest([s_b, s_a], [n_b, n_a])``; the
    interval matches ``confint_proportions_2indep(s_b, n_b, s_a, n_a, method="wald")`` (pooled
    variance under the null for the test, unpooled for the interval, as statsmodels does).

    >>> r = proportion_test(1200, 10_000, 1290, 10_000)
    >>> round(r.z_statistic, 3), round(r.p_value, 4), r.significant
    (1.928, 0.0539, False)

    Notes
    -----
    When the pooled rate is 0 or 1 (no conversions at all, or only conversions) there is no
    evidence of a difference: ``z = 0, p = 1`` and the interval is ``[0, 0]``.
    """
    n_a = check_int("n_a", n_a, minimum=1)
    n_b = check_int("n_b", n_b, minimum=1)
    successes_a = _check_successes("successes_a", successes_a, "n_a", n_a)
    successes_b = _check_successes("successes_b", successes_b, "n_b", n_b)
    alpha = check_probability("alpha", alpha)
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    diff = rate_b - rate_a
    pooled = (successes_a + successes_b) / (n_a + n_b)
    var0 = pooled * (1.0 - pooled) * (1.0 / n_b + 1.0 / n_a)
    if var0 == 0.0:
        z, p = 0.0, 1.0
    else:
        z = diff / math.sqrt(var0)
        p = min(1.0, 2.0 * float(normal_sf(abs(z))))
    half = float(normal_isf(alpha / 2.0)) * math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    return ProportionResult(
        z_statistic=z, p_value=p, ci_low=diff - half, ci_high=diff + half, diff=diff,
        lift=None if rate_a == 0 else diff / rate_a, rate_a=rate_a, rate_b=rate_b,
        n_a=n_a, n_b=n_b, alpha=alpha, significant=bool(p < alpha),
    )


# --------------------------------------------------------------------------------------------
# Sample-ratio mismatch: the result and the validation of counts
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SRMResult:
    """Chi-squared goodness-of-fit of the observed variant counts against the intended split.

    ``mismatch`` is ``p_value < threshold``; ``observed`` and ``expected`` are read-only mappings.

    >>> from prodai_lessons.abtest import srm_check
    >>> r = srm_check({"v1": 505_000, "v2": 495_000}, {"v1": 0.5, "v2": 0.5})
    >>> r.statistic, r.df, r.mismatch
    (100.0, 1, True)
    """

    statistic: float
    df: int
    p_value: float
    mismatch: bool
    threshold: float
    observed: Mapping[str, int] = field(repr=False)  # read-only mappings (types.MappingProxyType)
    expected: Mapping[str, float] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "observed", MappingProxyType(dict(self.observed)))
        object.__setattr__(self, "expected", MappingProxyType(dict(self.expected)))

    def __repr__(self) -> str:
        shares = ", ".join(f"{k}: {v} ({v / max(1, sum(self.observed.values())):.2%})"
                           for k, v in self.observed.items())
        verdict = "MISMATCH: do not trust this experiment" if self.mismatch else "ok"
        return (f"SRMResult(chi2={self.statistic:.4g}, df={self.df}, p={self.p_value:.3g}, "
                f"threshold={self.threshold:g} -> {verdict}; observed {shares})")


def _srm_counts(counts: Any, weights: dict[str, float]) -> dict[str, int]:
    """The observed count per variant, in the split's order, or an error naming ``counts``."""
    if len(weights) < 2:
        raise ValueError(f"split must have at least 2 variants for an SRM check; got {len(weights)}")
    if isinstance(counts, Mapping):
        if set(counts) != set(weights):
            raise ValueError(f"counts must have the variants of split {sorted(weights)}; "
                             f"got {sorted(map(str, counts))}")
        observed = {k: check_int(f"counts[{k!r}]", counts[k], minimum=0) for k in weights}
    elif isinstance(counts, (Sequence, np.ndarray)) and not isinstance(counts, (str, bytes)):
        if len(counts) != len(weights):
            raise ValueError(f"counts must have one entry per variant of split ({len(weights)}); "
                             f"got {len(counts)}")
        observed = {k: check_int(f"counts[{i}]", (c.item() if isinstance(c, np.generic) else c), minimum=0)
                    for i, (k, c) in enumerate(zip(weights, counts))}
    else:
        raise TypeError("counts must be a mapping of variant -> count or a sequence of counts; "
                        f"got {type(counts).__name__}")
    if sum(observed.values()) == 0:
        raise ValueError("counts must have a positive total; got 0 units")
    return observed


# --------------------------------------------------------------------------------------------
# Power and sample size: effect sizes, exact power, the root search
# --------------------------------------------------------------------------------------------

def _effect_size(mde: Any, sd: Any, baseline: Any) -> tuple[str, float]:
    mde = check_real("mde", mde)
    if mde == 0:
        raise ValueError("mde (the minimum detectable effect) must be non-zero; got 0.0")
    if (sd is None) == (baseline is None):
        raise ValueError("give exactly one of sd (a mean metric) or baseline (a conversion rate); "
                         f"got sd={sd!r:.30} and baseline={baseline!r:.30}")
    if sd is not None:
        sd = check_real("sd", sd, minimum=0.0, strict_minimum=True)
        return "means", abs(mde) / sd
    baseline = check_probability("baseline", baseline)
    target = baseline + mde
    if not 0.0 < target < 1.0:
        raise ValueError(f"baseline + mde must be a rate in (0, 1); got {baseline} + {mde} = {target}")
    # Cohen's h: the difference of arcsine-square-root transformed rates (statsmodels proportion_effectsize).
    return "proportions", abs(2.0 * math.asin(math.sqrt(target)) - 2.0 * math.asin(math.sqrt(baseline)))


def _power(kind: str, effect: float, n_a: float, ratio: float, alpha: float) -> float:
    """Two-sided power at ``n_a`` control units and ``ratio * n_a`` treatment units."""
    n_b = ratio * n_a
    n_eff = n_a * n_b / (n_a + n_b)
    if kind == "proportions":
        crit = float(normal_isf(alpha / 2.0))
        shift = effect * math.sqrt(n_eff)
        return float(normal_sf(crit - shift)) + float(normal_cdf(-crit - shift))
    df = n_a + n_b - 2.0
    crit = float(t_isf(alpha / 2.0, df))
    nc = effect * math.sqrt(n_eff)
    # nct_sf(crit, df, nc) + nct_sf(crit, df, -nc), summed as one series (see _nct_two_sided_s)
    return _nct_two_sided_s(crit, df, nc)


def _solve_increasing(gap: Callable[[float], float], guess: float, floor: float, effect: float) -> float:
    """The ``n >= floor`` where the increasing function ``gap`` crosses 0, to 1e-10 relative.

    Secant steps from ``guess`` and a point 1% from it towards the root (the formula's guess is
    within a few percent of the exact size, where the power is nearly linear in n: about 5
    evaluations of ``gap``, each a noncentral-t series). Every evaluation updates the bracket
    ``gap(lo) < 0 <= gap(hi)``; once there is one, a step that leaves it, or a bracket that does not
    halve within three steps, falls back to bisection, so the search always converges. Before there
    is a bracket a step moves at most by a factor of 2. Returns ``floor`` when ``gap(floor)`` is
    already positive, and a point where ``|gap| < 1e-13`` (the power equals the target to rounding)
    or the upper end of a bracket narrower than 1e-10 relative.
    """
    lo = g_lo = hi = g_hi = None

    def note(x: float, g: float) -> None:
        nonlocal lo, g_lo, hi, g_hi
        if g < 0:
            if lo is None or x > lo:
                lo, g_lo = x, g
        elif hi is None or x < hi:
            hi, g_hi = x, g

    x_b = max(floor * 1.5, guess)
    g_b = gap(x_b)
    note(x_b, g_b)
    x_a, g_a = x_b, g_b
    x_b = max(floor, x_b * (1.01 if g_b < 0 else 0.99))
    g_b = gap(x_b)
    note(x_b, g_b)
    width, stalled = math.inf, 0
    for _ in range(200):
        if abs(g_b) < 1e-13:  # the power equals the target to rounding: x_b is the root
            return x_b
        if lo is not None and hi is not None:
            if hi - lo <= 1e-10 * hi:
                return hi
            stalled = stalled + 1 if hi - lo > 0.5 * width else 0
            if stalled == 0:
                width = hi - lo
        elif lo is None and x_b <= floor:  # even the smallest possible sample has the requested power
            return floor
        x = x_b - g_b * (x_b - x_a) / (g_b - g_a) if g_b != g_a else math.nan
        if lo is not None and hi is not None:
            if not lo < x < hi or stalled >= 3:
                x = 0.5 * (lo + hi)
                stalled = 0
                width = hi - lo
        elif hi is None:  # all below the target so far: go up, at most doubling
            x = min(x, 2.0 * x_b) if x > x_b else 2.0 * x_b
            if x > 1e13:
                raise ValueError(f"mde is too small to detect with any realistic sample (effect size {effect:.3g})")
        else:  # all above the target so far: go down, at most halving, not below floor
            x = max(x, 0.5 * x_b, floor) if x < x_b else max(0.5 * x_b, floor)
        x_a, g_a = x_b, g_b
        x_b, g_b = x, gap(x)
        note(x_b, g_b)
    return hi if hi is not None else x_b


@dataclass(frozen=True)
class SampleSizeResult:
    """Units needed per arm: ``n_a`` (control), ``n_b`` (treatment, ``ratio * n_a``), and the exact solution.

    ``n_a_exact`` is the unrounded root of the power equation (what statsmodels' ``solve_power``
    returns); ``n_a`` and ``n_b`` are rounded up.

    >>> from prodai_lessons.abtest import sample_size
    >>> r = sample_size(mde=0.3, sd=1.2)
    >>> r.n_a, r.total, round(r.n_a_exact, 2)
    (253, 506, 252.13)
    """

    n_a: int
    n_b: int
    total: int
    n_a_exact: float
    effect_size: float
    kind: str
    alpha: float
    power: float
    method: str

    def __repr__(self) -> str:
        return (f"SampleSizeResult(n_a={self.n_a}, n_b={self.n_b}, total={self.total}, "
                f"effect_size={self.effect_size:.4g} ({self.kind}), alpha={self.alpha:g}, "
                f"power={self.power:g}, method={self.method!r})")


def _method(kind: str) -> str:
    if kind == "proportions":
        return "normal approximation on Cohen's h (statsmodels NormalIndPower)"
    return "noncentral t (statsmodels TTestIndPower)"


# --------------------------------------------------------------------------------------------
# Multiple testing
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class MultipleTestResult:
    """Adjusted p-values (in the input order) and which hypotheses are rejected at ``alpha`` (read-only arrays).

    >>> r = holm([0.01, 0.04, 0.03])
    >>> r.p_adjusted.round(2).tolist(), r.reject.tolist()
    ([0.03, 0.06, 0.06], [True, False, False])
    """

    p_adjusted: np.ndarray
    reject: np.ndarray
    alpha: float
    method: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "p_adjusted", _readonly(self.p_adjusted))
        object.__setattr__(self, "reject", _readonly(self.reject))

    def __repr__(self) -> str:
        adj = ", ".join(f"{p:.4g}" for p in self.p_adjusted)
        rej = ", ".join(str(bool(r)) for r in self.reject)
        return f"MultipleTestResult(method={self.method!r}, alpha={self.alpha:g}, p_adjusted=[{adj}], reject=[{rej}])"


def _p_values(p_values: Any) -> np.ndarray:
    p = as_1d_array("p_values", p_values)
    bad = (p < 0) | (p > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"p_values must lie in [0, 1]; got {p[i]} at index {i}")
    return p


def holm(p_values: Any, alpha: float = 0.05) -> MultipleTestResult:
    """Holm's step-down correction (controls the family-wise error rate; Holm 1979).

    Parameters: ``p_values`` (1-D, each in [0, 1]) and the family-wise level ``alpha``.
    Sort ``p_(1) <= ... <= p_(m)``; reject ``H_(1) .. H_(k)`` while ``p_(i) <= alpha / (m - i + 1)``.
    Adjusted p-values: ``max_{j<=i} min(1, (m - j + 1) p_(j))``. Matches
    ``statsmodels.stats.multitest.multipletests(method="holm")``.

    >>> holm([0.01, 0.02, 0.03, 0.5]).reject.tolist()
    [True, False, False, False]
    """
    p = _p_values(p_values)
    alpha = check_probability("alpha", alpha)
    m = p.size
    order = np.argsort(p, kind="stable")
    ps = p[order]
    factors = np.arange(m, 0, -1, dtype=np.float64)
    adj_sorted = np.minimum(1.0, np.maximum.accumulate(ps * factors))
    passes = ps <= alpha / factors
    k = m if passes.all() else int(np.argmin(passes))  # index of the first failure
    reject_sorted = np.arange(m) < k
    adj = np.empty(m)
    reject = np.empty(m, dtype=bool)
    adj[order], reject[order] = adj_sorted, reject_sorted
    return MultipleTestResult(p_adjusted=adj, reject=reject, alpha=alpha, method="holm")


def benjamini_hochberg(p_values: Any, alpha: float = 0.05) -> MultipleTestResult:
    """Benjamini-Hochberg step-up procedure (controls the false discovery rate; BH 1995).

    Parameters: ``p_values`` (1-D, each in [0, 1]) and the false discovery rate ``alpha``.
    Sort ``p_(1) <= ... <= p_(m)``; find the largest ``k`` with ``p_(k) <= (k/m) alpha`` and reject
    ``H_(1) .. H_(k)``. Adjusted p-values: ``min_{j>=i} min(1, p_(j) m / j)``. Matches
    ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``.

    >>> benjamini_hochberg([0.01, 0.02, 0.03, 0.5]).reject.tolist()
    [True, True, True, False]
    """
    p = _p_values(p_values)
    alpha = check_probability("alpha", alpha)
    m = p.size
    order = np.argsort(p, kind="stable")
    ps = p[order]
    rank_frac = np.arange(1, m + 1, dtype=np.float64) / m
    adj_sorted = np.minimum(1.0, np.minimum.accumulate((ps / rank_frac)[::-1])[::-1])
    passes = np.flatnonzero(ps <= rank_frac * alpha)
    reject_sorted = np.arange(m) <= (passes[-1] if passes.size else -1)
    adj = np.empty(m)
    reject = np.empty(m, dtype=bool)
    adj[order], reject[order] = adj_sorted, reject_sorted
    return MultipleTestResult(p_adjusted=adj, reject=reject, alpha=alpha, method="fdr_bh")


# --------------------------------------------------------------------------------------------
# Experiment decision: the table and the checks of analyze()'s arguments
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricComparison:
    """One row of the decision table: one metric, one treatment against the control.

    ``role`` is ``"primary"`` or ``"guardrail"``, ``better`` the direction that is good
    (``"higher"``/``"lower"``), ``verdict`` one of ``"better"``, ``"worse"``, ``"no significant change"``.

    >>> test = welch_test([3.0, 4.0, 5.0], [4.0, 5.0, 7.0])
    >>> MetricComparison("quality", "primary", "higher", "v2", test, test.p_value, "no significant change").verdict
    'no significant change'
    """

    metric: str
    role: str            # "primary" or "guardrail"
    better: str          # "higher" or "lower"
    variant: str
    test: WelchResult
    p_adjusted: float
    verdict: str         # "better", "worse" or "no significant change"


@dataclass(frozen=True)
class ExperimentDecision:
    """What :meth:`Experiment.analyze` concludes, with the table it is based on and the reasons.

    ``decision`` is ``"ship <variant>"``, ``"keep <control>"`` or ``"invalid: sample-ratio mismatch"``;
    ``ship`` is the variant to ship or None; ``rows`` holds one :class:`MetricComparison` per metric
    and treatment.

    >>> from prodai_lessons.abtest import Experiment
    >>> exp = Experiment("demo", ["v1", "v2"])
    >>> exp.log("v1", "quality", [3.0, 3.2, 2.9, 3.1]); exp.log("v2", "quality", [4.0, 4.1, 3.9, 4.2])
    >>> d = exp.analyze("quality")
    >>> d.decision, d.ship, len(d.rows)
    ('ship v2', 'v2', 1)
    """

    experiment: str
    control: str
    decision: str
    ship: str | None
    srm: SRMResult
    rows: tuple[MetricComparison, ...]
    reasons: tuple[str, ...]
    alpha: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "reasons", tuple(self.reasons))

    def table(self) -> list[tuple[str, ...]]:
        """The decision table as rows of text (header first)."""
        out = [("metric", "role", "better", "variant", "control", "variant mean", "diff [CI]", "lift",
                "p (adj.)", "verdict")]
        for r in self.rows:
            t = r.test
            lift = "n/a" if t.lift is None else f"{t.lift:+.1%}"
            out.append((r.metric, r.role, r.better, r.variant, f"{t.mean_a:.4g}", f"{t.mean_b:.4g}",
                        f"{t.diff:+.3g} [{t.ci_low:+.3g}, {t.ci_high:+.3g}]", lift,
                        f"{r.p_adjusted:.3g}", r.verdict))
        return out

    def __repr__(self) -> str:
        lines = [f"Experiment {self.experiment!r}: {self.decision}", f"  {self.srm!r}"]
        if self.rows:
            rows = self.table()
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for r in rows:
                lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        lines += [f"  - {why}" for why in self.reasons]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [f"<p><b>Experiment {esc(self.experiment)}: {esc(self.decision)}</b><br>"
                 f"<small>{esc(repr(self.srm))}</small></p>"]
        if self.rows:
            rows = self.table()
            head = "".join(f"<th style='text-align:left'>{esc(h)}</th>" for h in rows[0])
            body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{esc(c)}</td>" for c in r) + "</tr>"
                           for r in rows[1:])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        parts.append("<ul>" + "".join(f"<li>{esc(w)}</li>" for w in self.reasons) + "</ul>")
        return "".join(parts)


def _check_guardrails(guardrails: Any, metrics: Sequence[str], primary: str) -> dict[str, str]:
    """``guardrails`` as a dict metric -> ``"higher"``/``"lower"``, or an error naming the bad entry."""
    guardrails = {} if guardrails is None else guardrails
    if not isinstance(guardrails, Mapping):
        raise TypeError("guardrails must be a mapping of metric -> 'higher'/'lower'; "
                        f"got {type(guardrails).__name__}")
    for g, direction in guardrails.items():
        check_choice("guardrails metric", g, metrics)
        check_choice(f"guardrails[{g!r}]", direction, ("higher", "lower"))
        if g == primary:
            raise ValueError(f"guardrails must not include the primary metric {primary!r}")
    return dict(guardrails)
