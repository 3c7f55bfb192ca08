"""Section 4: A/B testing done right, the way an experimentation platform does it.

What is here, in the order an experiment uses it:

1. **Before the test**: :func:`sample_size` and :func:`power` (how many units a given lift needs).
2. **During**: :func:`assign_variant` puts each unit in a variant with a *stable* hash (SHA-256 of
   the experiment name and the unit id), so a user sees the same variant in every process, on
   every machine and every Python version. Python's built-in ``hash()`` is salted per process
   (``PYTHONHASHSEED``) and must never be used for this.
3. **After**: :func:`srm_check` first (a sample-ratio mismatch means the split is broken and no
   other number can be trusted), then :func:`welch_test` for means (quality scores, latency, cost)
   and :func:`proportion_test` for rates (conversions), :func:`holm` or
   :func:`benjamini_hochberg` when several metrics or variants are tested at once.
4. :class:`Experiment` ties these together and :meth:`Experiment.analyze` returns a decision:
   ship only if the primary metric improves significantly and no guardrail metric gets worse.
5. **Peeking**: :func:`simulate_peeking` measures how looking at the p-value after every batch
   inflates false positives, and :func:`sequential_boundary` computes Pocock and O'Brien-Fleming
   group-sequential boundaries that keep the overall false-positive rate at ``alpha``.

Every distribution (normal, Student t, noncentral t, chi-squared) comes from
:mod:`prodai_lessons.stats`, written from scratch; the tests check each result here against
scipy and statsmodels.
"""

from __future__ import annotations

import hashlib
import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from prodai_lessons._validation import (
    as_1d_array,
    as_2d_array,
    check_choice,
    check_int,
    check_probability,
    check_real,
    check_str,
    check_weights,
)
from prodai_lessons.stats import chi2_sf, nct_sf, normal_cdf, normal_isf, normal_sf, t_isf, t_sf

__all__ = [
    "unit_bucket",
    "assign_variant",
    "assign_variants",
    "WelchResult",
    "welch_test",
    "welch_from_moments",
    "welch_p_values",
    "ProportionResult",
    "proportion_test",
    "SRMResult",
    "srm_check",
    "SampleSizeResult",
    "sample_size",
    "power",
    "MultipleTestResult",
    "holm",
    "benjamini_hochberg",
    "MetricComparison",
    "ExperimentDecision",
    "Experiment",
    "SequentialBoundary",
    "sequential_boundary",
    "PeekingResult",
    "simulate_peeking",
]


# --------------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------------

def _unit_key(unit_id: Any) -> str:
    """A unit id as text: strings as they are, integers in decimal (so 42 and "42" are the same unit)."""
    if isinstance(unit_id, str):
        return unit_id
    if isinstance(unit_id, numbers.Integral) and not isinstance(unit_id, bool):
        return str(int(unit_id))
    raise TypeError(f"unit_id must be a str or an int; got {type(unit_id).__name__} {unit_id!r:.60}")


def _bucket(experiment: str, unit: str) -> float:
    # Length-prefix the experiment name so ("ab", "c") and ("a", "bc") cannot collide.
    key = f"{len(experiment)}:{experiment}:{unit}".encode("utf-8")
    top64 = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return (top64 >> 11) / 9007199254740992.0  # 53 random bits / 2**53: exactly representable, in [0, 1)


def unit_bucket(experiment: str, unit_id: str | int) -> float:
    """The position of ``unit_id`` in ``experiment``: a number in [0, 1), the same everywhere.

    ``SHA-256("<len(experiment)>:<experiment>:<unit_id>")``, first 8 bytes read big-endian, top 53
    bits divided by 2**53. A cryptographic hash is overkill for security but gives what assignment
    needs: uniform, independent between experiments (a unit's bucket in one experiment says nothing
    about its bucket in another), and identical across processes, machines and Python versions,
    unlike the built-in ``hash()``, which is salted per process. GrowthBook does the same with
    FNV-1a; any fixed, well-mixed hash works.
    """
    experiment = check_str("experiment", experiment)
    return _bucket(experiment, _unit_key(unit_id))


def _check_split(split: Any) -> dict[str, float]:
    weights = check_weights("split", split)
    for key in weights:
        if not isinstance(key, str) or not key:
            raise TypeError(f"split keys must be non-empty variant names (str); got {key!r:.60}")
    return weights


def _pick(u: float, names: Sequence[str], edges: Sequence[float]) -> str:
    for name, edge in zip(names, edges):
        if u < edge:
            return name
    return names[-1]  # the last range absorbs any rounding of the cumulative weights


def _edges(weights: dict[str, float]) -> tuple[list[str], list[float]]:
    names = list(weights)
    edges = list(np.cumsum([weights[n] for n in names]))
    edges[-1] = 1.0
    return names, edges


def assign_variant(experiment: str, unit_id: str | int, split: Mapping[str, float]) -> str:
    """The variant of ``unit_id`` in ``experiment``: deterministic, stable, and in proportion to ``split``.

    ``split`` maps variant name to weight (positive, summing to 1 within 1e-9); the variants take
    consecutive ranges of [0, 1) in the mapping's order and the unit goes to the range holding
    :func:`unit_bucket` ``(experiment, unit_id)``. Renaming the experiment reshuffles every unit;
    keeping it fixes them for the experiment's life. Raises ``TypeError``/``ValueError`` naming
    ``experiment``, ``unit_id`` or ``split``.
    """
    experiment = check_str("experiment", experiment)
    unit = _unit_key(unit_id)
    names, edges = _edges(_check_split(split))
    return _pick(_bucket(experiment, unit), names, edges)


def assign_variants(experiment: str, unit_ids: Sequence[str | int], split: Mapping[str, float]) -> list[str]:
    """:func:`assign_variant` for many units at once (the split is validated once)."""
    experiment = check_str("experiment", experiment)
    if isinstance(unit_ids, (str, bytes)) or not isinstance(unit_ids, (Sequence, np.ndarray, range)):
        raise TypeError(f"unit_ids must be a sequence of str or int ids; got {type(unit_ids).__name__}")
    names, edges = _edges(_check_split(split))
    out = []
    for i, uid in enumerate(unit_ids):
        try:
            unit = _unit_key(uid.item() if isinstance(uid, np.generic) else uid)
        except TypeError:
            raise TypeError(f"unit_ids[{i}] must be a str or an int; got {type(uid).__name__} {uid!r:.60}") from None
        out.append(_pick(_bucket(experiment, unit), names, edges))
    return out


# --------------------------------------------------------------------------------------------
# Welch's t-test
# --------------------------------------------------------------------------------------------

def _readonly(values: Any) -> np.ndarray:
    """A read-only copy of ``values``: a frozen result's array cannot be changed through its field."""
    arr = np.array(values, copy=True)
    arr.flags.writeable = False
    return arr


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}g}"


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test of ``b`` (treatment) against ``a`` (control).

    ``diff = mean_b - mean_a``; ``lift = diff / mean_a`` (``None`` when ``mean_a`` is 0);
    ``cohens_d = diff / pooled_sd`` with ``pooled_sd = sqrt(((n_a-1) var_a + (n_b-1) var_b) / (n_a+n_b-2))``;
    ``[ci_low, ci_high]`` is the ``1 - alpha`` confidence interval for ``diff``; ``degenerate``
    is True when both arms have zero variance (see :func:`welch_test`).
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

    Works element-wise on arrays (one entry per experiment), which is how the simulations run
    thousands of tests at once. With ``v_a = var_a/n_a`` and ``v_b = var_b/n_b`` (sample variances,
    ``ddof=1``)::

        se = sqrt(v_a + v_b)             t = (mean_b - mean_a) / se
        df = (v_a + v_b)**2 / (v_a**2/(n_a-1) + v_b**2/(n_b-1))     (Welch-Satterthwaite)
        p  = 2 * P(T_df > |t|)           (Student t, not the normal)

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
    p = np.asarray(2.0 * t_sf(np.abs(t), df), dtype=np.float64)
    p = np.where(zero, np.where(diff == 0, 1.0, 0.0), np.minimum(p, 1.0))
    return t, df, p, se


def welch_test(a: Any, b: Any, alpha: float = 0.05) -> WelchResult:
    """Welch's t-test of ``b`` (treatment) against ``a`` (control), with a Student-t confidence interval.

    The statistic and degrees of freedom are those of :func:`welch_from_moments`; the p-value and
    the interval ``diff +- t_{1-alpha/2, df} * se`` use the Student t distribution with the
    (fractional) Welch-Satterthwaite degrees of freedom. Matches
    ``scipy.stats.ttest_ind(b, a, equal_var=False)`` and its ``confidence_interval(1 - alpha)``.
    (Using the normal distribution instead, as many tutorials do, gives p-values that are far too
    small at n <= 50 and a false-positive rate of about 7% instead of 5% at n = 10.)

    ``a`` and ``b`` need at least 2 finite observations each, whose mean and variance fit in float64
    (``ValueError`` naming them otherwise; rescale such a metric first). A mean is then at most half the
    largest float, so the difference of means, the interval and the standard error are finite too.
    If both arms have zero variance the test is degenerate: the result has ``degenerate=True``,
    ``p_value = 1, t_statistic = 0`` when the two constants are equal and ``p_value = 0,
    t_statistic = +-inf`` when they differ (the difference is then known exactly), the interval is
    ``[diff, diff]``, ``df = n_a + n_b - 2`` and ``cohens_d`` is 0 or +-inf likewise.
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
    lost = (var == 0) & (x.max(axis=-1) != x.min(axis=-1))
    if lost.any():
        row = f" (row {int(np.flatnonzero(lost)[0])})" if x.ndim == 2 else ""
        raise ValueError(f"{name}: values too close to 0 to compute a variance in float64{row} (it underflows "
                         f"to 0 although the values differ); rescale the metric")
    return mean, var


def _as_2d(name: str, values: Any) -> np.ndarray:
    return as_2d_array(name, values, min_columns=2, what="experiments x observations")


def welch_p_values(a: Any, b: Any) -> np.ndarray:
    """Two-sided Welch p-values for many experiments at once: row ``i`` of ``a`` against row ``i`` of ``b``.

    ``a`` and ``b`` are 2-D (experiments x observations, at least 2 per row, the same number of
    rows). The same computation as :func:`welch_test`, vectorised: the A/A simulations use it.
    """
    a = _as_2d("a", a)
    b = _as_2d("b", b)
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
    """Two-proportion z-test of ``b`` against ``a``; ``diff = rate_b - rate_a``, ``lift = diff / rate_a``."""

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

    With ``p_a = successes_a/n_a``, ``p_b = successes_b/n_b`` and the pooled rate
    ``p = (successes_a + successes_b)/(n_a + n_b)``::

        z = (p_b - p_a) / sqrt(p (1-p) (1/n_a + 1/n_b))       p-value = 2 P(Z > |z|)
        CI = (p_b - p_a) +- z_{1-alpha/2} sqrt(p_a(1-p_a)/n_a + p_b(1-p_b)/n_b)

    The test matches ``statsmodels.stats.proportion.proportions_ztest([s_b, s_a], [n_b, n_a])``; the
    interval matches ``confint_proportions_2indep(s_b, n_b, s_a, n_a, method="wald")`` (pooled
    variance under the null for the test, unpooled for the interval, as statsmodels does).
    When the pooled rate is 0 or 1 (no conversions at all, or only conversions) there is no
    evidence of a difference: ``z = 0, p = 1`` and the interval is ``[0, 0]``.
    Counts must be integers with ``0 <= successes <= n`` and ``n >= 1``.
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
# Sample-ratio mismatch
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SRMResult:
    """Chi-squared goodness-of-fit of the observed variant counts against the intended split."""

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


def srm_check(counts: Mapping[str, int] | Sequence[int], split: Mapping[str, float],
              threshold: float = 0.001) -> SRMResult:
    """Sample-ratio mismatch: are the units per variant consistent with the split they were meant to follow?

    Pearson's chi-squared ``sum((observed - expected)**2 / expected)`` with ``expected = total * weight``
    and ``len(split) - 1`` degrees of freedom (``scipy.stats.chisquare``). ``mismatch`` is
    ``p_value < threshold``; platforms use a strict threshold (0.001) because the check runs on every
    experiment and a false alarm halts the analysis. A mismatch means assignment or logging is
    broken (a variant crashes and drops users, a bot filter hits one arm, a redirect loses some):
    the units that remain are no longer comparable, and every other result must be discarded.

    ``counts`` is a mapping with the same variant names as ``split``, or a sequence in the split's
    order; counts are non-negative integers with a positive total.
    """
    weights = _check_split(split)
    if len(weights) < 2:
        raise ValueError(f"split must have at least 2 variants for an SRM check; got {len(weights)}")
    threshold = check_probability("threshold", threshold)
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
    total = sum(observed.values())
    if total == 0:
        raise ValueError("counts must have a positive total; got 0 units")
    expected = {k: total * w for k, w in weights.items()}
    stat = math.fsum((observed[k] - expected[k]) ** 2 / expected[k] for k in weights)
    df = len(weights) - 1
    p = float(chi2_sf(stat, df))
    return SRMResult(statistic=stat, df=df, p_value=p, mismatch=bool(p < threshold),
                     threshold=threshold, observed=observed, expected=expected)


# --------------------------------------------------------------------------------------------
# Power and sample size
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
    return float(nct_sf(crit, df, nc)) + float(nct_sf(crit, df, -nc))


@dataclass(frozen=True)
class SampleSizeResult:
    """Units needed per arm: ``n_a`` (control), ``n_b`` (treatment, ``ratio * n_a``), and the exact solution."""

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


def sample_size(mde: float, sd: float | None = None, baseline: float | None = None, alpha: float = 0.05,
                power: float = 0.8, ratio: float = 1.0) -> SampleSizeResult:
    """Units per arm to detect a difference ``mde`` with probability ``power`` by a two-sided test at ``alpha``.

    - **Means** (give ``sd``): effect size ``d = |mde| / sd``; the power of the two-sample t-test is
      ``P(T' > t_crit) + P(T' < -t_crit)`` with ``T'`` noncentral t, ``df = n_a + n_b - 2`` and
      noncentrality ``d * sqrt(n_a n_b / (n_a + n_b))``, as ``statsmodels.stats.power.TTestIndPower``.
    - **Proportions** (give ``baseline``, the control rate; ``mde`` is an absolute change): effect
      size Cohen's ``h = 2 asin(sqrt(baseline + mde)) - 2 asin(sqrt(baseline))`` and the normal
      power of ``NormalIndPower``.

    ``n_b = ratio * n_a``. The power equation is solved for a real ``n_a`` (bracketed regula falsi,
    Illinois variant, to 1e-10 relative) and rounded up; ``n_a_exact`` is the unrounded solution,
    which is what statsmodels' ``solve_power`` returns.
    """
    kind, effect = _effect_size(mde, sd, baseline)
    alpha = check_probability("alpha", alpha)
    target = check_probability("power", power)
    ratio = check_real("ratio", ratio, minimum=0.0, strict_minimum=True)
    if target <= alpha:
        raise ValueError(f"power must be greater than alpha ({alpha}); got {target}")
    floor = 2.0 / (1.0 + ratio) + 1e-9 if kind == "means" else 1e-9  # the t-test needs df > 0

    def gap(n: float) -> float:
        return _power(kind, effect, n, ratio, alpha) - target

    # Bracket the root around the normal-approximation answer, then refine by regula falsi with the
    # Illinois modification (superlinear, ~10 power evaluations instead of ~40 for bisection).
    z_sum = float(normal_isf(alpha / 2.0)) + float(normal_isf(1.0 - target))
    guess = max(floor * 1.5, (z_sum / effect) ** 2 * (1.0 + 1.0 / ratio))
    lo, hi = max(floor, 0.8 * guess), 1.2 * guess + 4.0
    g_lo, g_hi = gap(lo), gap(hi)
    while g_lo > 0 and lo > floor:
        hi, g_hi = lo, g_lo
        lo = max(floor, lo / 2.0)
        g_lo = gap(lo)
    while g_hi < 0:
        lo, g_lo = hi, g_hi
        hi *= 2.0
        if hi > 1e13:
            raise ValueError(f"mde is too small to detect with any realistic sample (effect size {effect:.3g})")
        g_hi = gap(hi)
    if g_lo > 0:  # even the smallest possible sample has the requested power
        hi = lo
    side = 0
    for _ in range(100):
        if hi - lo <= 1e-10 * hi:
            break
        x = hi - g_hi * (hi - lo) / (g_hi - g_lo)
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
        g_x = gap(x)
        if g_x < 0:
            lo, g_lo = x, g_x
            if side == -1:
                g_hi /= 2.0
            side = -1
        else:
            hi, g_hi = x, g_x
            if side == 1:
                g_lo /= 2.0
            side = 1
        if abs(g_x) < 1e-13:  # the power equals the target to rounding: x is the root
            hi = x
            break
    n_a = max(2, math.ceil(hi))
    n_b = max(2, math.ceil(ratio * hi))
    return SampleSizeResult(n_a=n_a, n_b=n_b, total=n_a + n_b, n_a_exact=hi, effect_size=effect,
                            kind=kind, alpha=alpha, power=target, method=_method(kind))


def power(n_a: int, mde: float, sd: float | None = None, baseline: float | None = None,
          alpha: float = 0.05, ratio: float = 1.0) -> float:
    """Probability that a two-sided test at ``alpha`` detects ``mde`` with ``n_a`` control units and
    ``ratio * n_a`` treatment units: the inverse of :func:`sample_size` (same formulas)."""
    n_a = check_int("n_a", n_a, minimum=2)
    kind, effect = _effect_size(mde, sd, baseline)
    alpha = check_probability("alpha", alpha)
    ratio = check_real("ratio", ratio, minimum=0.0, strict_minimum=True)
    if kind == "means" and n_a * (1 + ratio) <= 2:
        raise ValueError(f"n_a * (1 + ratio) must exceed 2 for a t-test; got n_a={n_a}, ratio={ratio}")
    return _power(kind, effect, float(n_a), ratio, alpha)


# --------------------------------------------------------------------------------------------
# Multiple testing
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class MultipleTestResult:
    """Adjusted p-values (in the input order) and which hypotheses are rejected at ``alpha`` (read-only arrays)."""

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

    Sort ``p_(1) <= ... <= p_(m)``; reject ``H_(1) .. H_(k)`` while ``p_(i) <= alpha / (m - i + 1)``.
    Adjusted p-values: ``max_{j<=i} min(1, (m - j + 1) p_(j))``. Matches
    ``statsmodels.stats.multitest.multipletests(method="holm")``.
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

    Sort ``p_(1) <= ... <= p_(m)``; find the largest ``k`` with ``p_(k) <= (k/m) alpha`` and reject
    ``H_(1) .. H_(k)``. Adjusted p-values: ``min_{j>=i} min(1, p_(j) m / j)``. Matches
    ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``.
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
# Experiment
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricComparison:
    """One row of the decision table: one metric, one treatment against the control."""

    metric: str
    role: str            # "primary" or "guardrail"
    better: str          # "higher" or "lower"
    variant: str
    test: WelchResult
    p_adjusted: float
    verdict: str         # "better", "worse" or "no significant change"


_RULES = (
    "1. SRM first: a sample-ratio mismatch (p < threshold) invalidates the experiment; fix and rerun.",
    "2. Ship a variant only if the primary metric is significantly better (Holm-adjusted over variants).",
    "3. ... and no guardrail metric is significantly worse (guardrails are not adjusted: harm is easy to miss).",
    "4. Otherwise keep the control.",
)


@dataclass(frozen=True)
class ExperimentDecision:
    """What :meth:`Experiment.analyze` concludes, with the table it is based on and the reasons."""

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


class Experiment:
    """An A/B(/n) experiment: stable assignment, outcome logging per metric, and the ship decision.

    ``variants`` are names, the first being the control; ``split`` maps each to its traffic weight
    (default: equal). The object keeps the logged outcomes (it is the experiment's log, so it is
    mutable); everything it returns is an immutable result::

        exp = Experiment("answer-model-v2", ["v1", "v2"])
        variant = exp.assign(user_id)                     # stable across processes
        exp.log(variant, "quality", 4.0)                  # one value or an array of values
        exp.analyze(primary="quality", guardrails={"latency_ms": "lower", "cost_usd": "lower"})
    """

    def __init__(self, name: str, variants: Sequence[str], split: Mapping[str, float] | None = None) -> None:
        self.name = check_str("name", name)
        if isinstance(variants, (str, bytes)) or not isinstance(variants, Sequence):
            raise TypeError(f"variants must be a sequence of variant names; got {type(variants).__name__}")
        names = [check_str(f"variants[{i}]", v) for i, v in enumerate(variants)]
        if len(names) < 2:
            raise ValueError(f"variants must name at least 2 variants (control first); got {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"variants must be unique; got {names}")
        self.variants: tuple[str, ...] = tuple(names)
        if split is None:
            split = {v: 1.0 / len(names) for v in names}
        weights = _check_split(split)
        if set(weights) != set(names):
            raise ValueError(f"split must have exactly the variants {names}; got {list(weights)}")
        self.split: dict[str, float] = {v: weights[v] for v in names}
        self._data: dict[str, dict[str, list[float]]] = {}

    @property
    def control(self) -> str:
        return self.variants[0]

    def __repr__(self) -> str:
        sizes = {m: {v: len(d.get(v, [])) for v in self.variants} for m, d in sorted(self._data.items())}
        return f"Experiment(name={self.name!r}, split={self.split}, logged={sizes})"

    def assign(self, unit_id: str | int) -> str:
        """The variant of ``unit_id`` (:func:`assign_variant` with this experiment's name and split)."""
        return assign_variant(self.name, unit_id, self.split)

    def log(self, variant: str, metric: str, values: Any) -> None:
        """Record one outcome (a number) or many (a 1-D array) of ``metric`` for ``variant``."""
        variant = check_choice("variant", variant, self.variants)
        metric = check_str("metric", metric)
        if isinstance(values, numbers.Real) and not isinstance(values, bool):
            arr = as_1d_array("values", [values])
        else:
            arr = as_1d_array("values", values)
        self._data.setdefault(metric, {}).setdefault(variant, []).extend(arr.tolist())

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics logged so far, sorted."""
        return tuple(sorted(self._data))

    def values(self, variant: str, metric: str) -> np.ndarray:
        """The outcomes logged for ``variant`` and ``metric`` (a copy)."""
        variant = check_choice("variant", variant, self.variants)
        metric = check_choice("metric", metric, self.metrics)
        return np.asarray(self._data[metric].get(variant, []), dtype=np.float64)

    def counts(self, metric: str) -> dict[str, int]:
        """Number of logged outcomes of ``metric`` per variant (the units that reached the analysis)."""
        metric = check_choice("metric", metric, self.metrics)
        return {v: len(self._data[metric].get(v, [])) for v in self.variants}

    def analyze(self, primary: str, guardrails: Mapping[str, str] | None = None, *,
                primary_better: str = "higher", alpha: float = 0.05,
                srm_threshold: float = 0.001) -> ExperimentDecision:
        """Decide whether to ship, in the order a platform checks things.

        1. :func:`srm_check` on the number of ``primary`` outcomes per variant against the split; on a
           mismatch the decision is "invalid" and nothing else is computed.
        2. :func:`welch_test` of each treatment against the control on ``primary`` and on each
           guardrail (``guardrails`` maps metric -> ``"higher"``/``"lower"``, the direction that is
           better). Primary p-values are Holm-adjusted over the treatments; guardrails are not
           (adjusting them would make harm *harder* to see).
        3. A treatment is shippable when its primary metric is significantly better (adjusted
           p < alpha, in the ``primary_better`` direction) and none of its guardrails is
           significantly worse (p < alpha in the wrong direction). Among shippable treatments the
           one with the largest primary improvement is chosen; otherwise the control stays.
        """
        primary = check_choice("primary", primary, self.metrics)
        primary_better = check_choice("primary_better", primary_better, ("higher", "lower"))
        guardrails = {} if guardrails is None else guardrails
        if not isinstance(guardrails, Mapping):
            raise TypeError("guardrails must be a mapping of metric -> 'higher'/'lower'; "
                            f"got {type(guardrails).__name__}")
        for g, direction in guardrails.items():
            check_choice("guardrails metric", g, self.metrics)
            check_choice(f"guardrails[{g!r}]", direction, ("higher", "lower"))
            if g == primary:
                raise ValueError(f"guardrails must not include the primary metric {primary!r}")
        alpha = check_probability("alpha", alpha)
        srm = srm_check(self.counts(primary), self.split, threshold=srm_threshold)
        if srm.mismatch:
            return ExperimentDecision(
                experiment=self.name, control=self.control, decision="invalid: sample-ratio mismatch",
                ship=None, srm=srm, rows=(), alpha=alpha,
                reasons=(f"SRM p = {srm.p_value:.3g} < {srm.threshold:g}: the split is broken "
                         "(lost or misrouted units), so no metric can be trusted; find the cause and rerun.",),
            )
        treatments = self.variants[1:]

        def compare(metric: str, variant: str) -> WelchResult:
            for v in (self.control, variant):
                if len(self._data[metric].get(v, [])) < 2:
                    raise ValueError(f"metric {metric!r} needs at least 2 outcomes for variant {v!r}; "
                                     f"got {len(self._data[metric].get(v, []))}")
            return welch_test(self.values(self.control, metric), self.values(variant, metric), alpha=alpha)

        def verdict(test: WelchResult, p: float, better: str) -> str:
            if p >= alpha or test.diff == 0:
                return "no significant change"
            return "better" if (test.diff > 0) == (better == "higher") else "worse"

        primary_tests = [compare(primary, v) for v in treatments]
        adjusted = holm([t.p_value for t in primary_tests], alpha=alpha).p_adjusted
        rows: list[MetricComparison] = []
        reasons: list[str] = []
        candidates: list[tuple[float, str]] = []
        for v, test, p_adj in zip(treatments, primary_tests, adjusted):
            pv = verdict(test, float(p_adj), primary_better)
            rows.append(MetricComparison(primary, "primary", primary_better, v, test, float(p_adj), pv))
            harmed = []
            for g in sorted(guardrails):
                gt = compare(g, v)
                gv = verdict(gt, gt.p_value, guardrails[g])
                rows.append(MetricComparison(g, "guardrail", guardrails[g], v, gt, gt.p_value, gv))
                if gv == "worse":
                    harmed.append(g)
            if pv != "better":
                reasons.append(f"{v}: {primary} {pv} (adjusted p = {p_adj:.3g}).")
            elif harmed:
                reasons.append(f"{v}: {primary} better, but guardrail(s) {', '.join(harmed)} significantly worse.")
            else:
                reasons.append(f"{v}: {primary} significantly better and no guardrail worse.")
                candidates.append((abs(test.diff), v))
        if candidates:
            ship = max(candidates)[1]
            decision = f"ship {ship}"
        else:
            ship = None
            decision = f"keep {self.control}"
        return ExperimentDecision(experiment=self.name, control=self.control, decision=decision, ship=ship,
                                  srm=srm, rows=tuple(rows), reasons=tuple(reasons), alpha=alpha)


# --------------------------------------------------------------------------------------------
# Peeking and group-sequential boundaries
# --------------------------------------------------------------------------------------------

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _simpson(lo: float, hi: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    n = max(2, 2 * math.ceil((hi - lo) / (2 * step)))  # even number of intervals
    x = np.linspace(lo, hi, n + 1)
    w = np.ones(n + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return x, w * (hi - lo) / (3.0 * n)


def _crossing_probability(z_bounds: np.ndarray, step: float = 0.08) -> float:
    """P(|Z_k| >= z_k for some k) under H0 for K equally spaced looks (Armitage, McPherson & Rowe 1969).

    ``S_k`` (sum of k unit-variance increments) is followed on a grid over the continuation region
    ``|S_k| < z_k sqrt(k)``; each step convolves the density with the N(0, 1) increment (Simpson's rule).
    With the default grid step 0.08 the result agrees with a 4x finer grid to about 1e-8.
    """
    bounds = z_bounds * np.sqrt(np.arange(1, z_bounds.size + 1))
    crossed = 2.0 * float(normal_sf(bounds[0]))
    x, w = _simpson(-bounds[0], bounds[0], step)
    dens = np.exp(-0.5 * x * x) / _SQRT_2PI
    for b in bounds[1:]:
        mass = w * dens
        out = np.asarray(normal_sf(b - x), dtype=np.float64) + np.asarray(normal_cdf(-b - x), dtype=np.float64)
        crossed += float(mass @ out)
        new_x, new_w = _simpson(-b, b, step)
        diff = new_x[:, None] - x[None, :]
        dens = (np.exp(-0.5 * diff * diff) / _SQRT_2PI) @ mass
        x, w = new_x, new_w
    return crossed


@dataclass(frozen=True)
class SequentialBoundary:
    """Critical |z| per look (``z_bounds``) and the matching nominal two-sided p-value thresholds."""

    kind: str
    looks: int
    alpha: float
    constant: float
    z_bounds: tuple[float, ...]
    nominal_alpha: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "z_bounds", tuple(self.z_bounds))
        object.__setattr__(self, "nominal_alpha", tuple(self.nominal_alpha))

    def __repr__(self) -> str:
        zs = ", ".join(f"{z:.3f}" for z in self.z_bounds)
        ps = ", ".join(f"{p:.4f}" for p in self.nominal_alpha)
        return (f"SequentialBoundary({self.kind}, looks={self.looks}, alpha={self.alpha:g}, "
                f"constant={self.constant:.4f}, z=[{zs}], nominal p=[{ps}])")


def sequential_boundary(looks: int, alpha: float = 0.05, kind: str = "pocock") -> SequentialBoundary:
    """Two-sided group-sequential boundary for ``looks`` equally spaced analyses at overall level ``alpha``.

    - ``"pocock"`` (Pocock 1977): the same critical value ``c`` at every look.
    - ``"obrien-fleming"`` (O'Brien & Fleming 1979): ``c * sqrt(looks / k)`` at look ``k``: very strict
      early, close to the fixed-horizon 1.96 at the end.

    The constant ``c`` is found by bisection so that the probability, under no difference, of crossing
    at any look is ``alpha``, computed by numerical integration (:func:`_crossing_probability`). For
    alpha = 0.05 this reproduces the published constants (Jennison & Turnbull 2000, Tables 2.1 and
    2.3): Pocock 2.178, 2.289, 2.361, 2.413 and O'Brien-Fleming 1.977, 2.004, 2.024, 2.040 for 2-5 looks.
    Stop at look ``k`` when ``|z_k| >= z_bounds[k-1]``, i.e. when the p-value is below ``nominal_alpha[k-1]``.
    """
    looks = check_int("looks", looks, minimum=1, maximum=100)
    alpha = check_probability("alpha", alpha)
    kind = check_choice("kind", kind, ("pocock", "obrien-fleming"))
    k = np.arange(1, looks + 1, dtype=np.float64)
    shape = np.ones(looks) if kind == "pocock" else np.sqrt(looks / k)
    lo, hi = float(normal_isf(alpha / 2.0)) * 0.99, float(normal_isf(alpha / (2.0 * looks))) * 1.01 + 0.5
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _crossing_probability(mid * shape) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-6:
            break
    c = 0.5 * (lo + hi)
    z = c * shape
    nominal = 2.0 * np.asarray(normal_sf(z), dtype=np.float64)
    return SequentialBoundary(kind=kind, looks=looks, alpha=alpha, constant=c,
                              z_bounds=tuple(float(v) for v in z), nominal_alpha=tuple(float(v) for v in nominal))


@dataclass(frozen=True, eq=False)
class PeekingResult:
    """A/A experiments analysed after every batch.

    ``naive_fpr[k-1]`` is the share of experiments that a "stop as soon as p < alpha" rule would have
    declared significant within the first ``k`` looks; ``boundary_fpr`` is the share declared
    significant at any of the ``looks`` looks by the group-sequential boundary (None without one).
    """

    looks: int
    batch_size: int
    n_experiments: int
    alpha: float
    naive_fpr: np.ndarray
    boundary: SequentialBoundary | None
    boundary_fpr: float | None
    p_values: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "naive_fpr", _readonly(self.naive_fpr))
        object.__setattr__(self, "p_values", _readonly(self.p_values))

    def __repr__(self) -> str:
        naive = ", ".join(f"{v:.3f}" for v in self.naive_fpr)
        extra = "" if self.boundary is None else f", {self.boundary.kind} FPR={self.boundary_fpr:.4f}"
        return (f"PeekingResult({self.n_experiments} A/A experiments, {self.looks} looks of {self.batch_size} "
                f"per arm, alpha={self.alpha:g}: naive FPR by look=[{naive}]{extra})")


def simulate_peeking(n_experiments: int = 2000, looks: int = 10, batch_size: int = 50, alpha: float = 0.05,
                     boundary: SequentialBoundary | None = None, seed: int = 0) -> PeekingResult:
    """Simulate ``n_experiments`` A/A tests (no true difference) checked after every batch.

    Each arm receives ``batch_size`` N(0, 1) outcomes per look; after each look Welch's test runs on
    all data so far (:func:`welch_from_moments` on the running sums). Every significant result is a
    false positive. With a ``boundary`` (same number of looks), an experiment stops at the first look
    whose p-value is below that look's nominal threshold. Seeded by ``seed``.
    """
    n_experiments = check_int("n_experiments", n_experiments, minimum=1)
    looks = check_int("looks", looks, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    alpha = check_probability("alpha", alpha)
    if boundary is not None:
        if not isinstance(boundary, SequentialBoundary):
            raise TypeError(f"boundary must be a SequentialBoundary or None; got {type(boundary).__name__}")
        if boundary.looks != looks:
            raise ValueError(f"boundary must be computed for looks={looks}; got one for {boundary.looks} looks")
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((2, n_experiments, looks, batch_size))
    # Running sums and sums of squares after each look. The data are N(0, 1), so the textbook
    # variance formula (sum x^2 - n mean^2) / (n - 1) has no cancellation problem here.
    n = batch_size * np.arange(1, looks + 1, dtype=np.float64)
    mean = np.cumsum(data.sum(axis=3), axis=2) / n
    var = (np.cumsum((data * data).sum(axis=3), axis=2) - n * mean * mean) / (n - 1)
    _, _, p, _ = welch_from_moments(mean[0], var[0], n, mean[1], var[1], n)
    naive = np.logical_or.accumulate(p < alpha, axis=1).mean(axis=0)
    boundary_fpr = None
    if boundary is not None:
        boundary_fpr = float((p < np.asarray(boundary.nominal_alpha)).any(axis=1).mean())
    return PeekingResult(looks=looks, batch_size=batch_size, n_experiments=n_experiments, alpha=alpha,
                         naive_fpr=naive, boundary=boundary, boundary_fpr=boundary_fpr, p_values=p)
