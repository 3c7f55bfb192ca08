"""Section 4: A/B testing done right, the way an experimentation platform does it.

The module reads in the order of the lesson (notebook ``04_ab_testing``). First the ideas, each in a
short function that states it (the notebook shows these):

1. :func:`hash_bucket` and :func:`pick_variant`: a stable hash puts each unit at a point of [0, 1),
   the split's weights cut [0, 1) into one range per variant.
2. :func:`sample_size_formula`: the units per arm a lift needs, ``2 sd^2 (z_{1-alpha/2} + z_power)^2 / mde^2``.
3. :func:`welch_t`: Welch's t statistic, the Welch-Satterthwaite degrees of freedom and the Student-t p-value.
4. :func:`srm_chi2`: the chi-squared test of the units per variant against the split.
5. :func:`first_significant_look`: what "stop as soon as p < 0.05" does to one experiment.
6. :func:`verdict`: a test read as "better", "worse" or "no significant change".

Then the API the lessons and a platform call, which validates its input and names the argument
it rejects: :func:`unit_bucket`, :func:`assign_variant`, :func:`assign_variants`, :func:`sample_size`,
:func:`power`, :func:`srm_check` and :class:`Experiment` (its :meth:`Experiment.analyze` returns the
ship decision: SRM check first, then Welch's test per metric, Holm over the variants, guardrails).
Welch's test for experiments in bulk, the proportion test, Holm and Benjamini-Hochberg,
group-sequential boundaries and the peeking simulation live in the private modules
:mod:`prodai_lessons._abtest_engine` and :mod:`prodai_lessons._abtest_sequential` and are
importable from here.

Python's built-in ``hash()`` is salted per process (``PYTHONHASHSEED``) and must never assign
variants. Every distribution (normal, Student t, noncentral t, chi-squared) comes from
:mod:`prodai_lessons.stats`, written from scratch; the tests check each result here against
scipy and statsmodels.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from prodai_lessons._abtest_engine import (
    ExperimentDecision,
    MetricComparison,
    MultipleTestResult,
    ProportionResult,
    SampleSizeResult,
    SRMResult,
    WelchResult,
    _check_guardrails,
    _check_split,
    _effect_size,
    _method,
    _power,
    _solve_increasing,
    _srm_counts,
    _unit_ids,
    _unit_key,
    benjamini_hochberg,
    holm,
    proportion_test,
    welch_from_moments,
    welch_p_values,
    welch_test,
)
from prodai_lessons._abtest_sequential import PeekingResult, SequentialBoundary, sequential_boundary, simulate_peeking
from prodai_lessons._validation import as_1d_array, check_choice, check_int, check_probability, check_real, check_str
from prodai_lessons.stats import chi2_sf, normal_isf, t_sf

__all__ = [
    # the ideas
    "hash_bucket",
    "pick_variant",
    "sample_size_formula",
    "welch_t",
    "srm_chi2",
    "first_significant_look",
    "verdict",
    # assignment
    "unit_bucket",
    "assign_variant",
    "assign_variants",
    # Welch's t-test
    "WelchResult",
    "welch_test",
    "welch_from_moments",
    "welch_p_values",
    # two proportions
    "ProportionResult",
    "proportion_test",
    # sample-ratio mismatch
    "SRMResult",
    "srm_check",
    # power and sample size
    "SampleSizeResult",
    "sample_size",
    "power",
    # multiple testing
    "MultipleTestResult",
    "holm",
    "benjamini_hochberg",
    # the experiment and its decision
    "MetricComparison",
    "ExperimentDecision",
    "Experiment",
    # peeking and group-sequential boundaries
    "SequentialBoundary",
    "sequential_boundary",
    "PeekingResult",
    "simulate_peeking",
]


# ============================================================================================
# The ideas
# ============================================================================================

def hash_bucket(experiment: str, unit: str) -> float:
    """Hash a unit to a point of [0, 1): the same in every process, on every machine, forever.

    SHA-256 of ``"<len(experiment)>:<experiment>:<unit>"``; its first 53 bits divided by 2**53.
    Assumes ``unit`` is already text (:func:`unit_bucket` accepts ints too and checks its input).

    >>> hash_bucket("answer-model-v2", "user-7")
    0.22986194219075107
    """
    # The length prefix keeps ("ab", "c") and ("a", "bc") apart.
    key = f"{len(experiment)}:{experiment}:{unit}".encode("utf-8")
    first64 = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return (first64 >> 11) / 2.0**53  # 53 bits fit a float exactly


def pick_variant(bucket: float, split: Mapping[str, float]) -> str:
    """The variant whose range holds ``bucket``: the weights cut [0, 1) into consecutive ranges.

    Assumes positive weights that sum to 1 (:func:`assign_variant` checks them).

    >>> pick_variant(0.62, {"v1": 0.5, "v2": 0.5})  # v1 takes [0, 0.5), v2 takes [0.5, 1)
    'v2'
    """
    edge = 0.0
    for name, weight in split.items():
        edge += weight
        if bucket < edge:
            return name
    return name  # weights may add up to a hair under 1: the last variant takes the rest


def sample_size_formula(mde: float, sd: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Units per arm for a two-sided test of means to detect ``mde`` with probability ``power``.

    n = 2 sd^2 (z_{1-alpha/2} + z_power)^2 / mde^2, rounded up (the normal approximation).
    Assumes sd > 0 and mde != 0; :func:`sample_size` checks them and solves the exact t-based size.

    >>> sample_size_formula(mde=0.3, sd=1.2)
    252
    """
    z_alpha = normal_isf(alpha / 2)  # 1.96 for alpha = 0.05: the bar the test statistic must clear
    z_power = normal_isf(1 - power)  # 0.84 for power = 0.8: how far past the bar a true effect sits
    return math.ceil(2 * sd**2 * (z_alpha + z_power) ** 2 / mde**2)


def welch_t(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Welch's t-test of ``b`` against ``a``: t, the Welch-Satterthwaite df, the two-sided p-value.

    Assumes at least 2 values per arm, not both arms constant (:func:`welch_test` handles the rest).

    >>> t, df, p = welch_t(np.array([3.1, 3.5, 2.9, 3.8, 3.3]), np.array([3.9, 4.2, 3.6, 4.4, 4.0]))
    >>> round(t, 3), round(df, 2), round(p, 4)
    (3.384, 7.85, 0.0099)
    """
    v_a = np.var(a, ddof=1) / len(a)  # squared standard error of each mean
    v_b = np.var(b, ddof=1) / len(b)
    t = (np.mean(b) - np.mean(a)) / math.sqrt(v_a + v_b)
    df = (v_a + v_b) ** 2 / (v_a**2 / (len(a) - 1) + v_b**2 / (len(b) - 1))
    p = 2 * t_sf(abs(t), df)  # Student t with df degrees of freedom, not the normal
    return float(t), float(df), float(p)


def srm_chi2(counts: Sequence[int], weights: Sequence[float]) -> tuple[float, float]:
    """Pearson's chi-squared test of the units per variant against the split: (chi2, p-value).

    Assumes counts and weights in the same order, a positive total (:func:`srm_check` checks them).

    >>> chi2, p = srm_chi2([505_000, 495_000], [0.5, 0.5])
    >>> chi2, f"{p:.2g}"
    (100.0, '1.5e-23')
    """
    total = sum(counts)
    expected = [total * w for w in weights]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(counts, expected))
    return chi2, chi2_sf(chi2, len(counts) - 1)  # variants - 1 degrees of freedom


def first_significant_look(a: np.ndarray, b: np.ndarray, looks: int, alpha: float = 0.05) -> int | None:
    """Peek: test after each of ``looks`` equal batches, stop at the first p < alpha (None: never).

    Assumes arms of equal length, in arrival order, with at least 2 values per arm in a batch.

    >>> rng = np.random.default_rng(10)  # an A/A test: any look returned is a false positive
    >>> first_significant_look(rng.normal(size=500), rng.normal(size=500), looks=10)
    4
    """
    batch = len(a) // looks
    for look in range(1, looks + 1):
        n = look * batch
        if welch_t(a[:n], b[:n])[2] < alpha:
            return look
    return None


def verdict(diff: float, p: float, better: str, alpha: float = 0.05) -> str:
    """Read a test as a product decision: ``"better"``, ``"worse"`` or ``"no significant change"``.

    ``better`` is the direction that is good for the metric: ``"higher"`` or ``"lower"``.

    >>> verdict(diff=+35.0, p=0.003, better="lower")  # latency went up, significantly
    'worse'
    """
    if p >= alpha or diff == 0:
        return "no significant change"
    return "better" if (diff > 0) == (better == "higher") else "worse"


# ============================================================================================
# Assignment
# ============================================================================================

def unit_bucket(experiment: str, unit_id: str | int) -> float:
    """The position of ``unit_id`` in ``experiment``: :func:`hash_bucket`, with checked input.

    Parameters: ``experiment``, a non-empty name; ``unit_id``, a str or an int (42 and "42" are the
    same unit). A cryptographic hash is overkill for security but gives what assignment needs:
    uniform, independent between experiments (a unit's bucket in one experiment says nothing about
    its bucket in another), and identical across processes, machines and Python versions, unlike the
    built-in ``hash()``, which is salted per process. GrowthBook does the same with FNV-1a.

    >>> unit_bucket("answer-model-v2", "user-7")
    0.22986194219075107

    >>> unit_bucket("exp", 42) == unit_bucket("exp", "42")
    True
    """
    experiment = check_str("experiment", experiment)
    return hash_bucket(experiment, _unit_key(unit_id))


def assign_variant(experiment: str, unit_id: str | int, split: Mapping[str, float]) -> str:
    """The variant of ``unit_id`` in ``experiment``: deterministic, stable, and in proportion to ``split``.

    Parameters: ``experiment`` (a non-empty name), ``unit_id`` (a str or an int) and ``split``, a
    mapping of variant name to weight (positive, summing to 1 within 1e-9). The variants take
    consecutive ranges of [0, 1) in the mapping's order (:func:`pick_variant`) and the unit goes to
    the range holding :func:`hash_bucket` of the experiment and the unit. Renaming the experiment
    reshuffles every unit; keeping it fixes them for the experiment's life.

    >>> assign_variant("answer-model-v2", "user-7", {"v1": 0.5, "v2": 0.5})
    'v1'

    Notes
    -----
    Raises ``TypeError``/``ValueError`` naming ``experiment``, ``unit_id`` or ``split``.
    """
    experiment = check_str("experiment", experiment)
    unit = _unit_key(unit_id)
    weights = _check_split(split)
    return pick_variant(hash_bucket(experiment, unit), weights)


def assign_variants(experiment: str, unit_ids: Sequence[str | int], split: Mapping[str, float]) -> list[str]:
    """:func:`assign_variant` for many units at once (the split is validated once).

    Parameters: ``experiment``, ``unit_ids`` (a sequence of str or int ids) and ``split``, as in
    :func:`assign_variant`. A bad id is named by its position (``unit_ids[3]``).

    >>> assign_variants("answer-model-v2", ["user-0", "user-1", "user-2"], {"v1": 0.5, "v2": 0.5})
    ['v1', 'v2', 'v1']
    """
    experiment = check_str("experiment", experiment)
    unit_ids = _unit_ids(unit_ids)
    weights = _check_split(split)
    return [pick_variant(hash_bucket(experiment, _unit_key(uid, i)), weights) for i, uid in enumerate(unit_ids)]


# ============================================================================================
# Power and sample size
# ============================================================================================

def sample_size(mde: float, sd: float | None = None, baseline: float | None = None, alpha: float = 0.05,
                power: float = 0.8, ratio: float = 1.0) -> SampleSizeResult:
    """Units per arm to detect a difference ``mde`` with probability ``power`` by a two-sided test at ``alpha``.

    Parameters: ``mde``, the minimum detectable effect (absolute); exactly one of ``sd`` (a mean
    metric) or ``baseline`` (the control's conversion rate); ``alpha``; ``power``; ``ratio``
    (treatment units per control unit, ``n_b = ratio * n_a``).

    - **Means** (give ``sd``): effect size ``d = |mde| / sd``; the power of the two-sample t-test is
      ``P(T' > t_crit) + P(T' < -t_crit)`` with ``T'`` noncentral t, ``df = n_a + n_b - 2`` and
      noncentrality ``d * sqrt(n_a n_b / (n_a + n_b))``, as ``statsmodels.stats.power.TTestIndPower``.
    - **Proportions** (give ``baseline``): effect size Cohen's
      ``h = 2 asin(sqrt(baseline + mde)) - 2 asin(sqrt(baseline))`` and the normal power of
      ``NormalIndPower``.

    The search starts at :func:`sample_size_formula` and solves the power equation for a real
    ``n_a`` (to 1e-10 relative), then rounds up; ``n_a_exact`` is the unrounded solution, which is
    what statsmodels' ``solve_power`` returns. For means it is about ``z_{1-alpha/2}^2 / 4`` (one
    unit at alpha = 0.05) above the formula: the test estimates the noise, hence the Student t.

    >>> sample_size(mde=0.3, sd=1.2).n_a
    253

    >>> sample_size(mde=0.01, baseline=0.20).n_a
    25580
    """
    kind, effect = _effect_size(mde, sd, baseline)
    alpha = check_probability("alpha", alpha)
    target = check_probability("power", power)
    ratio = check_real("ratio", ratio, minimum=0.0, strict_minimum=True)
    if target <= alpha:
        raise ValueError(f"power must be greater than alpha ({alpha}); got {target}")
    floor = 2.0 / (1.0 + ratio) + 1e-9 if kind == "means" else 1e-9  # the t-test needs df > 0
    try:  # the formula in units of sd, for equal arms, scaled to n_b = ratio * n_a
        guess = sample_size_formula(effect, 1.0, alpha, target) * (1.0 + 1.0 / ratio) / 2.0
    except (OverflowError, ZeroDivisionError):
        raise ValueError(f"mde is too small to detect with any realistic sample (effect size {effect:.3g})") from None
    exact = _solve_increasing(lambda n: _power(kind, effect, n, ratio, alpha) - target, guess, floor, effect)
    n_a = max(2, math.ceil(exact))
    n_b = max(2, math.ceil(ratio * exact))
    return SampleSizeResult(n_a=n_a, n_b=n_b, total=n_a + n_b, n_a_exact=exact, effect_size=effect,
                            kind=kind, alpha=alpha, power=target, method=_method(kind))


def power(n_a: int, mde: float, sd: float | None = None, baseline: float | None = None,
          alpha: float = 0.05, ratio: float = 1.0) -> float:
    """Probability that a two-sided test at ``alpha`` detects ``mde``: the inverse of :func:`sample_size`.

    Parameters: ``n_a`` control units (``ratio * n_a`` treatment units), and ``mde``, ``sd`` or
    ``baseline``, ``alpha``, ``ratio`` as in :func:`sample_size` (same formulas).

    >>> round(power(253, mde=0.3, sd=1.2), 4)
    0.8014
    """
    n_a = check_int("n_a", n_a, minimum=2)
    kind, effect = _effect_size(mde, sd, baseline)
    alpha = check_probability("alpha", alpha)
    ratio = check_real("ratio", ratio, minimum=0.0, strict_minimum=True)
    if kind == "means" and n_a * (1 + ratio) <= 2:
        raise ValueError(f"n_a * (1 + ratio) must exceed 2 for a t-test; got n_a={n_a}, ratio={ratio}")
    return _power(kind, effect, float(n_a), ratio, alpha)


# ============================================================================================
# Sample-ratio mismatch
# ============================================================================================

def srm_check(counts: Mapping[str, int] | Sequence[int], split: Mapping[str, float],
              threshold: float = 0.001) -> SRMResult:
    """Sample-ratio mismatch: are the units per variant consistent with the split they were meant to follow?

    Parameters: ``counts``, the units per variant (a mapping with the variant names of ``split``, or
    a sequence in the split's order; non-negative integers with a positive total); ``split``; and
    ``threshold``. Pearson's chi-squared of :func:`srm_chi2` with ``len(split) - 1`` degrees of
    freedom (``scipy.stats.chisquare``); ``mismatch`` is ``p_value < threshold``. Platforms use a
    strict threshold (0.001) because the check runs on every experiment and a false alarm halts the
    analysis. A mismatch means assignment or logging is broken (a variant crashes and drops users,
    a bot filter hits one arm, a redirect loses some): the units that remain are no longer
    comparable, and every other result must be discarded.

    >>> srm_check({"v1": 5_020, "v2": 4_980}, {"v1": 0.5, "v2": 0.5}).mismatch
    False

    >>> srm_check([505_000, 495_000], {"v1": 0.5, "v2": 0.5}).mismatch
    True
    """
    weights = _check_split(split)
    if len(weights) < 2:
        raise ValueError(f"split must have at least 2 variants for an SRM check; got {len(weights)}")
    threshold = check_probability("threshold", threshold)
    observed = _srm_counts(counts, weights)
    stat, p = srm_chi2(list(observed.values()), list(weights.values()))
    total = sum(observed.values())
    return SRMResult(statistic=stat, df=len(weights) - 1, p_value=p, mismatch=bool(p < threshold),
                     threshold=threshold, observed=observed, expected={k: total * w for k, w in weights.items()})


# ============================================================================================
# Experiment
# ============================================================================================

class Experiment:
    """An A/B(/n) experiment: stable assignment, outcome logging per metric, and the ship decision.

    Parameters: ``name``; ``variants``, the variant names, the first being the control; ``split``,
    each variant's traffic weight (default: equal). The object keeps the logged outcomes (it is the
    experiment's log, so it is mutable); everything it returns is an immutable result.

    >>> exp = Experiment("answer-model-v2", ["v1", "v2"])
    >>> exp.assign("user-7")                      # stable across processes
    'v1'
    >>> exp.log("v1", "quality", [3.0, 3.5, 4.0])  # one value or an array of values
    >>> exp.counts("quality")
    {'v1': 3, 'v2': 0}
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
        """The control variant: the first of ``variants``."""
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

    def _compare(self, metric: str, variant: str, alpha: float) -> WelchResult:
        for v in (self.control, variant):
            if len(self._data[metric].get(v, [])) < 2:
                raise ValueError(f"metric {metric!r} needs at least 2 outcomes for variant {v!r}; "
                                 f"got {len(self._data[metric].get(v, []))}")
        return welch_test(self.values(self.control, metric), self.values(variant, metric), alpha=alpha)

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
           significantly worse (p < alpha in the wrong direction), each read by :func:`verdict`.
           Among shippable treatments the one with the largest primary improvement is chosen;
           otherwise the control stays.

        See :class:`ExperimentDecision` for an example.
        """
        primary = check_choice("primary", primary, self.metrics)
        primary_better = check_choice("primary_better", primary_better, ("higher", "lower"))
        guardrails = _check_guardrails(guardrails, self.metrics, primary)
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
        primary_tests = [self._compare(primary, v, alpha) for v in treatments]
        adjusted = holm([t.p_value for t in primary_tests], alpha=alpha).p_adjusted
        rows: list[MetricComparison] = []
        reasons: list[str] = []
        candidates: list[tuple[float, str]] = []
        for v, test, p_adj in zip(treatments, primary_tests, adjusted):
            pv = verdict(test.diff, float(p_adj), primary_better, alpha)
            rows.append(MetricComparison(primary, "primary", primary_better, v, test, float(p_adj), pv))
            harmed = []
            for g in sorted(guardrails):
                gt = self._compare(g, v, alpha)
                gv = verdict(gt.diff, gt.p_value, guardrails[g], alpha)
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
        ship = max(candidates)[1] if candidates else None
        decision = f"ship {ship}" if ship else f"keep {self.control}"
        return ExperimentDecision(experiment=self.name, control=self.control, decision=decision, ship=ship,
                                  srm=srm, rows=tuple(rows), reasons=tuple(reasons), alpha=alpha)
