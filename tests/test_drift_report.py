"""How ``feature_drift_report`` chooses a test per feature: numbers with few distinct values are tested as
categories, and the Jensen-Shannon threshold is in bits.

The detection rates below are measured, not assumed: 500 seeded pairs of samples, each rate given with its
95% Wilson interval in the assertion message, and the bound chosen so that the KS routing fails it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as sps
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from prodai_lessons.drift import (
    chi2_test,
    feature_drift_report,
    jensen_shannon,
    js_distance,
    psi,
)


def _items(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    """An integer feature 0-4 (say, items in a basket): a normal value with sd 1 around 2 + shift, rounded
    and clipped. ``shift`` is in standard deviations of that underlying value."""
    return np.clip(np.round(rng.normal(2.0 + shift, 1.0, n)), 0, 4)


# --------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------


def test_a_low_cardinality_integer_feature_is_tested_with_chi_squared():
    rng = np.random.default_rng(1)
    ref = np.column_stack([_items(rng, 800, 0.0), rng.normal(size=800)])
    cur = np.column_stack([_items(rng, 600, 0.3), rng.normal(size=600)])
    rep = feature_drift_report(ref, cur, ["items", "x"])
    items, x = rep["items"], rep["x"]
    assert (items.kind, items.test, x.kind, x.test) == ("discrete", "chi2", "numerical", "ks")
    table = np.array([[np.sum(col == v) for v in range(5)] for col in (ref[:, 0], cur[:, 0])])
    oracle = sps.chi2_contingency(table, correction=False)
    assert items.statistic == pytest.approx(oracle.statistic, rel=1e-12)
    assert items.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    assert items.p_value == chi2_test(ref[:, 0], cur[:, 0]).p_value
    # PSI with one bin per value, and the means are still reported
    assert items.psi == pytest.approx(psi(ref[:, 0], cur[:, 0], categorical=True).value, rel=1e-14)
    assert items.mean_shift == pytest.approx(cur[:, 0].mean() - ref[:, 0].mean(), abs=1e-12)
    assert "discrete" in repr(rep) and "chi-squared" in repr(rep)


def test_above_large_sample_a_discrete_feature_uses_jensen_shannon_on_its_values():
    rng = np.random.default_rng(2)
    ref, cur = _items(rng, 3000, 0.0)[:, None], _items(rng, 2000, 0.5)[:, None]
    f = feature_drift_report(ref, cur).features[0]
    assert (f.kind, f.test, f.p_value) == ("discrete", "jensen_shannon", None)
    assert f.statistic == pytest.approx(jensen_shannon(ref[:, 0], cur[:, 0], categorical=True), rel=1e-14)
    counts = [np.bincount(c[:, 0].astype(int), minlength=5) for c in (ref, cur)]
    assert f.statistic == pytest.approx(jensenshannon(*counts, base=2), rel=1e-12)


def test_the_rule_counts_distinct_values_in_both_samples_together():
    ref = np.tile([0.0, 1.0, 2.0, 3.0, 4.0], 40)[:, None]
    assert feature_drift_report(ref, ref).features[0].kind == "discrete"  # exactly 5 values
    new_value = np.concatenate([ref[:-1, 0], [5.0]])[:, None]  # the current sample brings a 6th value
    assert feature_drift_report(ref, new_value).features[0].test == "ks"
    assert feature_drift_report(ref, new_value, low_cardinality=6).features[0].test == "chi2"
    assert feature_drift_report(new_value, ref).features[0].test == "ks"  # symmetric
    # 0 turns the rule off; a feature listed as categorical stays categorical
    assert feature_drift_report(ref, ref, low_cardinality=0).features[0].test == "ks"
    listed = feature_drift_report(ref, ref, categorical=[0])
    assert listed.features[0].kind == "categorical"
    with pytest.raises(ValueError, match="low_cardinality must be >= 0"):
        feature_drift_report(ref, ref, low_cardinality=-1)
    with pytest.raises(TypeError, match="low_cardinality must be an integer"):
        feature_drift_report(ref, ref, low_cardinality=5.0)


def test_a_binary_feature_gets_the_p_value_of_the_two_proportion_z_test():
    rng = np.random.default_rng(3)
    a, b = (rng.random(700) < 0.30).astype(float), (rng.random(500) < 0.36).astype(float)
    f = feature_drift_report(a[:, None], b[:, None]).features[0]
    _, p = proportions_ztest([a.sum(), b.sum()], [a.size, b.size])  # pooled variance, as chi-squared
    assert f.test == "chi2" and f.p_value == pytest.approx(p, rel=1e-9)


def test_the_plot_draws_a_discrete_feature_as_categories():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(4)
    rep = feature_drift_report(_items(rng, 300, 0.0)[:, None], _items(rng, 300, 0.4)[:, None], ["items"])
    fig = rep.plot()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["0", "1", "2", "3", "4"]
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Detection rates, measured
# --------------------------------------------------------------------------------------------

N_SEEDS = 500
N_ROWS = 1000  # reference and current: at large_sample, so the report uses its tests


def _rate(shift: float, low_cardinality: int) -> tuple[float, float, float]:
    """Share of N_SEEDS seeded checks the report flags, with its 95% Wilson interval."""
    hits = 0
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        ref, cur = _items(rng, N_ROWS, 0.0)[:, None], _items(rng, N_ROWS, shift)[:, None]
        hits += feature_drift_report(ref, cur, low_cardinality=low_cardinality).features[0].drifted
    low, high = proportion_confint(hits, N_SEEDS, alpha=0.05, method="wilson")
    return hits / N_SEEDS, low, high


def _fmt(rate: tuple[float, float, float]) -> str:
    return f"{rate[0]:.1%} (95% CI {rate[1]:.1%} to {rate[2]:.1%})"


def test_chi_squared_catches_a_small_shift_of_an_integer_feature_that_ks_misses():
    """An integer 0-4 whose underlying value moves by 0.16 sd, 1000 rows each, alpha = 0.05.
    Measured: chi-squared 81.6% (95% CI 78.0% to 84.8%), KS 61.4% (57.1% to 65.6%)."""
    chi2 = _rate(0.16, low_cardinality=5)
    ks = _rate(0.16, low_cardinality=0)  # every number through KS
    assert chi2[1] > 0.70, f"chi-squared detects {_fmt(chi2)}"
    assert ks[2] < 0.70, f"KS detects {_fmt(ks)}; the bound above would not separate the two routings"


def test_without_drift_chi_squared_holds_its_level_and_ks_is_far_below_it():
    """The reason: with five values nearly every pooled value is a tie, and the KS p-value, computed for
    continuous data, is far too large. Measured: chi-squared 6.0% (95% CI 4.2% to 8.4%), KS 0 of 500
    (0.0% to 0.8%)."""
    chi2 = _rate(0.0, low_cardinality=5)
    ks = _rate(0.0, low_cardinality=0)
    assert chi2[1] <= 0.05 <= chi2[2], f"chi-squared flags {_fmt(chi2)} of stable checks"
    assert ks[2] < 0.02, f"KS flags {_fmt(ks)} of stable checks"


# --------------------------------------------------------------------------------------------
# The Jensen-Shannon threshold is in bits
# --------------------------------------------------------------------------------------------


def test_the_jensen_shannon_distance_is_in_bits_and_the_natural_log_one_is_sqrt_ln2_smaller():
    rng = np.random.default_rng(5)
    for _ in range(50):
        p, q = rng.integers(0, 50, 6), rng.integers(1, 50, 6)
        bits = js_distance(p, q)
        assert bits == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12, abs=1e-15)
        assert jensenshannon(p, q) == pytest.approx(math.sqrt(math.log(2)) * bits, rel=1e-12, abs=1e-15)
    # thresholds convert the same way: 0.1 in bits is 0.0833 in nats, 0.1 in nats is 0.1201 in bits
    assert round(0.1 * math.sqrt(math.log(2)), 4) == 0.0833
    assert round(0.1 / math.sqrt(math.log(2)), 4) == 0.1201
    for number in ("0.8326", "0.0833", "0.1201"):
        assert number in (feature_drift_report.__doc__ or "") and number in (jensen_shannon.__doc__ or "")


def test_a_change_between_the_two_thresholds_is_flagged_in_bits_only():
    ref = np.repeat(["a", "b", "c"], [500, 300, 200]).astype(object)[:, None]
    cur = np.repeat(["a", "b", "c"], [380, 340, 280]).astype(object)[:, None]
    big_ref, big_cur = np.tile(ref, (2, 1)), np.tile(cur, (2, 1))  # 2000 rows: the distance decides
    f = feature_drift_report(big_ref, big_cur, categorical=[0]).features[0]
    natural = jensenshannon([500, 300, 200], [380, 340, 280])
    assert 0.1 <= f.statistic < 0.1201 and natural < 0.1
    assert f.drifted and f.threshold == 0.1
