"""ConfidenceGuard: token log-probabilities, self-consistency, thresholds chosen on labelled data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodai_lessons.guardrails import (
    ConfidenceGuard,
    agreement,
    synthetic_confidence_data,
    threshold_for_fpr,
    token_confidence,
)


def test_token_confidence():
    mean, low = token_confidence([math.log(0.9), math.log(0.5), math.log(0.05), math.log(0.01)])
    assert mean == pytest.approx(np.mean(np.log([0.9, 0.5, 0.05, 0.01])))
    assert low == 0.5
    assert token_confidence([math.log(0.2)], low=0.25) == (pytest.approx(math.log(0.2)), 1.0)


def test_agreement_needs_the_same_numbers_and_most_words():
    answer = "The bridge opened in 1932."
    assert agreement(answer, ["The bridge opened in 1932!", "It opened in 1932.", "The bridge opened in 1936."]) == \
        pytest.approx(2 / 3)
    assert agreement(answer, ["Completely different text about boats."]) == 0.0
    assert agreement("", [""]) == 1.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-5, 0), min_size=1, max_size=40), st.lists(st.integers(0, 1), min_size=1, max_size=40),
       st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5]))
def test_threshold_bounds_the_false_positive_rate_and_cannot_be_raised(values, labels, max_fpr):
    n = min(len(values), len(labels))
    v, y = np.array(values[:n]), np.array(labels[:n])
    if not (y == 0).any():
        with pytest.raises(ValueError, match="at least one 0"):
            threshold_for_fpr(v, y, max_fpr)
        return
    t = threshold_for_fpr(v, y, max_fpr)
    fpr = float((v[y == 0] < t).mean())
    assert fpr <= max_fpr + 1e-12
    higher = np.sort(v[y == 0])[np.sort(v[y == 0]) > t] if math.isfinite(t) else np.array([])
    if higher.size:  # the next larger threshold would flag more than max_fpr of the correct answers
        assert float((v[y == 0] < higher[0]).mean()) > max_fpr


def test_guard_signals_and_reasons():
    guard = ConfidenceGuard()
    assert guard.check("Paris.", logprobs=[-0.01, -0.05]).passed
    r = guard.check("Lyon.", logprobs=[-2.5, -2.4, -0.2])
    assert not r.passed
    assert r.reason == "mean token log-probability -1.70 < -1; 67% of tokens below p=0.1 > 30%"
    both = guard.check("It opened in 2019.", logprobs=[-0.05] * 5, samples=["It opened in 2019."] * 3)
    assert both.passed and both.score == pytest.approx(1 - math.exp(-0.05))
    r = guard.check("It opened in 2019.", samples=["It opened in 2017.", "Opened 2015.", "It opened in 2019."])
    assert (r.passed, r.reason) == (False, "agreement 0.33 < 0.5 (1 of 3 samples agree)")


def test_guard_fails_closed_without_a_signal_and_rejects_bad_input():
    r = ConfidenceGuard().check("anything")
    assert (r.passed, r.reason) == (False, "no confidence signal given (logprobs or samples)")
    with pytest.raises(ValueError, match="logprobs must be natural-log probabilities"):
        ConfidenceGuard().check("x", logprobs=[0.5])
    with pytest.raises(ValueError, match="logprobs"):
        ConfidenceGuard().check("x", logprobs=[])
    with pytest.raises(TypeError, match="samples must be a sequence"):
        ConfidenceGuard().check("x", samples="one string")
    with pytest.raises(TypeError, match=r"samples\[1\] must be a str"):
        ConfidenceGuard().check("x", samples=["a", 2])
    with pytest.raises(ValueError, match="at least one sampled answer"):
        ConfidenceGuard().check("x", samples=[])
    with pytest.raises(TypeError, match="^text must be a str"):
        ConfidenceGuard().check(None, logprobs=[-0.1])
    with pytest.raises(ValueError, match="min_mean_logprob"):
        ConfidenceGuard(min_mean_logprob=0.5)


def test_synthetic_data_is_seeded_and_shows_the_trade_off():
    a, b = synthetic_confidence_data(50, seed=3), synthetic_confidence_data(50, seed=3)
    assert a == b and a != synthetic_confidence_data(50, seed=4)
    data = synthetic_confidence_data(600, seed=0)
    train, test = data[:300], data[300:]
    mean = [token_confidence(d["logprobs"])[0] for d in data]
    y = np.array([d["label"] for d in data])
    t = threshold_for_fpr(mean[:300], y[:300], 0.1)
    flagged = np.array(mean[300:]) < t
    recall, fpr = flagged[y[300:] == 1].mean(), flagged[y[300:] == 0].mean()
    assert 0.85 < recall <= 1.0 and fpr < 0.2  # chosen on one half, measured on the other
    assert len(train) == len(test) == 300
