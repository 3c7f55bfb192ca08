"""Exercise 1's checks measure what the lesson teaches, not something easier.

- False alarms are judged on enough unscreened stationary streams for a binomial rule whose error rates are
  stated in ``ex1``'s docstring: a correct detector passes, one that fires on "accuracy fell 5 points" fails.
- The streams do not give their answer away: every kind has the same length and noise, the change comes
  anywhere in a wide range, so firing at a fixed update (or on a stream's length) finds nothing.
- ``diagnose_drift`` needs a test and a correction across features: a threshold on a difference of means or
  of accuracies, per-feature KS tests at ``alpha``, or a two-sided accuracy test each lose points.
- ``simulate_concept_drift`` relabels the same inputs: a switch one sample off, inputs moved instead of the
  concept (data drift), noise on one side of the change only, or the new concept everywhere each lose points.

Each wrong approach is a mutant (a patch of the reference solution's namespace, as in test_exercises.py)
that must lose points on the check aimed at it, with a message that says why.
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest

from prodai_lessons.exercises import ex1
from prodai_lessons.exercises._core import format_report, run_checks
from test_exercises import _sub, result, solution_ns

SEEDS = (0, 1, 2)


def _binom_sf(k: int, n: int, p: float) -> float:
    """P(X > k) for X ~ Binomial(n, p), summed exactly."""
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1, n + 1))


# ------------------------------------------------------------------------------------------ mutants


def five_points(ns):
    """The window detector the statement warns against: drift when the accuracy fell 5 points."""
    def update(self, correct):
        if self._drift:
            self._reset()
        self._warning = False
        c = 1 if correct else 0
        if self._ref_n < self.reference:
            self._ref_n += 1
            self._ref_correct += c
            return
        self._recent.append(c)
        self._recent_correct += c
        if len(self._recent) > self.window:
            self._recent_correct -= self._recent.popleft()
        if len(self._recent) == self.window:
            fall = self._ref_correct / self._ref_n - self._recent_correct / self.window
            self._drift = fall > 0.05
            self._warning = 0.03 < fall <= 0.05
    _sub(ns, "WindowAccuracyDetector", update=update)


def _fixed_index(at: int, length: int | None):
    """Both detectors fire once, at update ``at``, and never otherwise: on every stream, or (``length``)
    only on the streams of that length, read from the caller (what a detector could do when the kinds of
    stream had different lengths)."""
    def patch(ns):
        for name in ("WindowAccuracyDetector", "PageHinkley"):
            def init(self, *args, **kwargs):
                self.n, self.fire, self.armed = 0, False, None

            def update(self, correct):
                if self.armed is None:
                    stream = sys._getframe(1).f_locals.get("correct")
                    self.armed = length is None or (stream is not None and len(stream) == length)
                self.fire = self.armed and self.n == at
                self.n += 1
            ns[name] = type(name, (), {"__init__": init, "update": update,
                                       "drift_detected": property(lambda self: self.fire),
                                       "warning_detected": property(lambda self: False)})
    patch.__name__ = f"fixed_index_{at}" + (f"_on_length_{length}" if length else "")
    return patch


def _diagnose_with(inputs=None, accuracy=None, name=""):
    """``diagnose_drift`` with one of its two decisions replaced (the other stays the reference's)."""
    def patch(ns):
        base = ns["diagnose_drift"]

        def diagnose_drift(ref_X, cur_X, ref_correct, cur_correct, alpha=0.01):
            got = base(ref_X, cur_X, ref_correct, cur_correct, alpha)
            moved, dropped = got in ("data", "both"), got in ("concept", "both")
            if inputs is not None:
                moved = inputs(np.asarray(ref_X), np.asarray(cur_X), alpha)
            if accuracy is not None:
                dropped = accuracy(np.asarray(ref_correct, float), np.asarray(cur_correct, float), alpha)
            return ex1.DIAGNOSES[int(moved) + 2 * int(dropped)]
        ns["diagnose_drift"] = diagnose_drift
    patch.__name__ = name
    return patch


def mean_threshold(t: float):
    """No test: the inputs moved when some feature's mean moved by more than ``t``."""
    return _diagnose_with(inputs=lambda a, b, alpha: bool(np.abs(a.mean(0) - b.mean(0)).max() > t),
                          name=f"mean_threshold_{t:g}")


def _ks_uncorrected(a, b, alpha):
    from prodai_lessons.drift import ks_test

    return any(ks_test(a[:, j], b[:, j], method="asymp").p_value < alpha for j in range(a.shape[1]))


#: No correction: a KS test per feature, each at alpha.
uncorrected = _diagnose_with(inputs=_ks_uncorrected, name="ks_uncorrected")


def accuracy_threshold(t: float):
    """No test: the accuracy dropped when it fell by more than ``t``."""
    return _diagnose_with(accuracy=lambda r, c, alpha: bool(r.mean() - c.mean() > t),
                          name=f"accuracy_threshold_{t:g}")


def _two_sided(r, c, alpha):
    from prodai_lessons.stats import normal_sf

    pooled = (r.sum() + c.sum()) / (len(r) + len(c))
    z = (r.mean() - c.mean()) / math.sqrt(pooled * (1 - pooled) * (1 / len(r) + 1 / len(c)))
    return bool(2 * normal_sf(abs(z)) < alpha)


#: A two-sided accuracy test: any significant change counts as a drop.
two_sided = _diagnose_with(accuracy=_two_sided, name="accuracy_two_sided")


def _simulate(kind: str):
    """``simulate_concept_drift`` done wrong in one way (the rest as the reference does it)."""
    def simulate_concept_drift(X, w_old, w_new, change_point, label_noise=0.0, seed=0):
        X = np.array(X, dtype=float)
        old, new = X @ w_old > 0, X @ w_new > 0
        switch = {"switch_late": change_point + 1, "switch_early": change_point - 1}.get(kind, change_point)
        y = np.where(np.arange(len(X)) >= switch, new, old)
        if kind == "new_concept_everywhere":
            y = new
        if kind == "inputs_moved":  # data drift: the inputs after the change move, the concept stays
            X[change_point:] += 0.5
            y = X @ w_old > 0
        flip = np.random.default_rng(seed).random(len(X)) < label_noise
        if kind == "noise_after_only":
            flip[:change_point] = False
        if kind == "noise_before_only":
            flip[change_point:] = False
        return X, y ^ flip

    def patch(ns):
        ns["simulate_concept_drift"] = simulate_concept_drift
    patch.__name__ = f"simulate_{kind}"
    return patch


#: (mutant, {check: what its message must say}); every one must also lose points there.
MUTANTS = [
    (_simulate("switch_late"), {"simulation": r"^cases 1 and 2: the labels switch concept one sample late: the "
                                              r"sample at change_point \(the first of the new concept\) still "
                                              r"follows the old one$"}),
    (_simulate("switch_early"), {"simulation": r"^cases 1 and 2: the labels switch concept one sample early"}),
    (_simulate("inputs_moved"), {"simulation": r"^cases 1, 2, 3 and 4: inputs after the change differ from the "
                                               r"ones given: moving the inputs is data drift"}),
    (_simulate("noise_after_only"), {"simulation": r"^case 3: no label before the change is flipped, while "
                                                   r"label_noise=0\.\d+ flips each label with that probability: "
                                                   r"the noise is on one side of the change only; case 4: no label "
                                                   r"before"}),
    (_simulate("noise_before_only"), {"simulation": r"^case 3: no label after the change is flipped.*; case 4: "}),
    (_simulate("new_concept_everywhere"), {"simulation": r"^cases 1 and 2: with label_noise=0, the labels before "
                                                         r"the change follow the new concept; case 3: [\d.]+% of "
                                                         r"the labels before the change differ from the old concept"}),
    (five_points, {"window_false_alarms": r"false alarms on \d+ of 50 stationary streams"}),
    (_fixed_index(1800, None), {"window_false_alarms": "false alarms on 50 of 50",
                                "ph_false_alarms": "false alarms on 50 of 50"}),
    (_fixed_index(1800, 3000), {"window_abrupt": "missed the drift", "window_gradual": "missed the drift",
                                "ph_abrupt": "missed the drift", "ph_gradual": "missed the drift"}),
    *[(mean_threshold(t), {"concept_vs_data": r"reported an input shift where the inputs kept their "
                                              r"distribution in cases? [\d, and]+\((.*case \d+: )?[\d,]+ and "
                                              r"[\d,]+ rows: their differences of means are chance"})
      for t in (0.01, 0.05, 0.1)],
    *[(mean_threshold(t), {"concept_vs_data": r"reported no input shift where the inputs moved in cases? "
                                              r"[\d, and]+\((.*case \d+: )?a small shift of one feature, but over"})
      for t in (0.2, 0.5, 1.0)],
    (uncorrected, {"concept_vs_data": r"reported an input shift where the inputs kept their distribution in "
                                      r"cases? [\d, and]+\((.*case \d+: )?\d+ features, none moved: one differing at "
                                      r"p < alpha is what chance gives"}),
    *[(accuracy_threshold(t), {"concept_vs_data": r"reported an accuracy drop where the accuracy held in cases? "
                                                  r"[\d, and]+\((.*case \d+: )?[\d,]+ and [\d,]+ rows: a drop of \d+ "
                                                  r"points is chance there"})
      for t in (0.0, 0.02, 0.04)],
    *[(accuracy_threshold(t), {"concept_vs_data": r"reported no accuracy drop where the accuracy fell in cases? "
                                                  r"[\d, and]+\((.*case \d+: )?by a few points, but over"})
      for t in (0.03, 0.07, 0.1)],
    (two_sided, {"concept_vs_data": r"reported an accuracy drop where the accuracy rose in case \d+(;|$)"}),
]


@pytest.mark.parametrize("mutant, expected", MUTANTS, ids=[m[0].__name__ for m in MUTANTS])
def test_each_wrong_approach_loses_points_for_its_reason(mutant, expected):
    for seed in SEEDS:
        ns = solution_ns("ex1")
        mutant(ns)
        for check, reason in expected.items():
            r = result("ex1", ns, check, seed)
            assert not r.passed and r.points < r.max_points and r.status == "ok", (check, seed, r)
            assert re.search(reason, r.message), (check, seed, r.message)


@pytest.mark.parametrize("kind, points", [("switch_late", 1.0), ("switch_early", 1.0), ("inputs_moved", 0.0),
                                          ("noise_after_only", 1.0), ("noise_before_only", 1.0),
                                          ("new_concept_everywhere", 0.0)])
def test_each_simulation_case_catches_what_it_is_for(kind, points):
    """The noiseless cases see a switch one sample off (the concepts disagree at change_point - 1 and at
    change_point), the noisy cases noise on one side only; inputs moved or the new concept everywhere fail
    every case. Each case is worth a quarter of the check's 2 points."""
    for seed in SEEDS:
        ns = solution_ns("ex1")
        _simulate(kind)(ns)
        assert result("ex1", ns, "simulation", seed).points == points, (kind, seed)


def test_simulation_cases_leave_no_room_for_an_off_by_one_or_a_lucky_noise():
    for seed in range(20):
        for case in ex1._simulation_cases(seed):
            X, cp, n = case["X"], case["change_point"], len(case["X"])
            differ = (X @ case["w_old"] > 0) != (X @ case["w_new"] > 0)
            assert n // 4 <= cp < 3 * n // 4 and 0.25 < differ.mean() < 0.55
            if case["label_noise"] == 0:
                assert differ[cp - 1] and differ[cp]
            else:  # zero flips on either side is far below the band
                assert 0.05 <= case["label_noise"] <= 0.2 and min(cp, n - cp) >= 750
                assert ex1._binomial_band(min(cp, n - cp), case["label_noise"], ex1.SIM_MISS / 8)[0] > 10


def test_the_noise_band_is_the_exact_binomial_one():
    from scipy import stats

    for n, p, tail in ((750, 0.05, 1.25e-4), (3000, 0.2, 1.25e-4), (1234, 0.137, 1e-3), (40, 0.5, 0.05)):
        lo, hi = ex1._binomial_band(n, p, tail)
        assert stats.binom.cdf(lo - 1, n, p) <= tail < stats.binom.cdf(lo, n, p)
        assert stats.binom.sf(hi, n, p) <= tail < stats.binom.sf(hi - 1, n, p)


def test_a_simulation_with_other_coin_flips_passes():
    """The judge does not replay the learner's generator: other draws of the same noise pass (the band
    fails a correct function with probability at most ex1.SIM_MISS = 1e-3 per grading)."""
    def simulate_concept_drift(X, w_old, w_new, change_point, label_noise=0.0, seed=0):
        rng = np.random.default_rng([seed, 99])
        y = np.where(np.arange(len(X)) < change_point, X @ w_old > 0, X @ w_new > 0).astype(int)
        flip = rng.permutation(len(X))[:rng.binomial(len(X), label_noise)]  # another way to draw the noise
        y[flip] = 1 - y[flip]
        return X, 2 * y - 1  # labels in the sign convention
    for seed in range(10):
        r = result("ex1", {"simulate_concept_drift": simulate_concept_drift}, "simulation", seed)
        assert r.passed, (seed, r.message)


@pytest.mark.parametrize("returns, text", [
    (lambda X, y: y, "simulate_concept_drift() must return two things, the inputs and the labels (return X, y); "
                     "got ndarray"),
    (lambda X, y: (X[:, 0], y), "must return the inputs first, shape"),
    (lambda X, y: (X, y[:-1]), "labels must have shape"),
    (lambda X, y: (X, y * 0.5), "labels must be 0/1 or True/False; got a label 0.5"),
    (lambda X, y: (X, y.astype(str)), "labels must be 0/1 or True/False; got dtype"),
])
def test_a_wrong_return_gets_one_line_naming_it(returns, text):
    def simulate_concept_drift(X, w_old, w_new, change_point, label_noise=0.0, seed=0):
        return returns(X, (X @ w_old > 0).astype(int))
    r = result("ex1", {"simulate_concept_drift": simulate_concept_drift}, "simulation")
    assert r.status == "invalid" and r.points == 0 and text in r.message, r


def test_a_fixed_index_detector_scores_no_more_than_one_that_never_fires():
    """Firing once at a fixed update on every stream finds a change now and then (when it happens to come
    shortly before), and loses every false-alarm point: on average it scores less than a detector that
    never fires. (On streams whose length told their kind, firing at update 1800 on the abrupt ones scored
    every abrupt and false-alarm point.)"""
    never = solution_ns("ex1")
    for name in ("WindowAccuracyDetector", "PageHinkley"):
        _sub(never, name, drift_detected=property(lambda self: False))
    detectors = [c.name for c in ex1.EXERCISE.checks if c.name != "concept_vs_data"]
    floor, scores = [], []
    for seed in SEEDS:
        floor.append(run_checks(ex1.EXERCISE, never, seed, only=detectors).score)
        for at in (1800, 2600, 3400, 4200):
            ns = solution_ns("ex1")
            _fixed_index(at, None)(ns)
            report = run_checks(ex1.EXERCISE, ns, seed, only=detectors)
            assert report.score <= 0.5 * report.max_points, (seed, at, format_report(report))
            scores.append(report.score)
    assert np.mean(scores) <= np.mean(floor), (scores, floor)


def test_the_reference_solution_scores_full_marks_on_ten_more_seeds():
    ns = solution_ns("ex1")
    for seed in range(100, 110):
        report = run_checks(ex1.EXERCISE, ns, seed)
        assert report.score == report.max_points, (seed, format_report(report))


def test_the_reference_diagnosis_passes_with_ks_tests_default_method_too():
    """A learner calling ks_test(...) without method= (exact p-values up to 10,000 rows) gets the same
    diagnoses: the batches leave a margin around alpha / n_features."""
    from prodai_lessons.drift import ks_test

    ns = solution_ns("ex1")
    ns["ks_test"] = lambda a, b, method="auto": ks_test(a, b)
    for seed in range(5):
        assert result("ex1", ns, "concept_vs_data", seed).passed, seed


# ------------------------------------------------------------------------------ the false-alarm rule


def test_the_false_alarm_rule_keeps_both_error_rates_below_one_in_a_thousand():
    n, k = ex1.FALSE_ALARM_STREAMS, ex1.FALSE_ALARM_ALLOWED
    measured = ex1.MEASURED_FALSE_ALARMS
    for detector in ("window", "ph"):
        high = ex1._clopper_pearson_upper(measured[detector], measured["streams"])
        assert high < 2.5e-4, (detector, high)
        assert _binom_sf(k, n, high) < 1e-4  # a correct detector fails
    assert measured["five_points"] / measured["streams"] > 0.4
    assert 1 - _binom_sf(k, n, 0.25) < 2e-5  # a detector firing on a quarter of the streams passes


def test_the_measured_rates_are_those_of_the_streams_the_checks_draw():
    """A fresh sample (generators neither the checks nor the stated measurement use) agrees with the
    stated figures: the "5 points" detector fires on about 40% of stationary streams, the specified
    ones on (almost) none, z > 4 on about 1 in 125."""
    got = ex1._false_alarm_rates(2000, seed=7, batch=250)
    assert got["streams"] == 2000
    assert 0.36 < got["five_points"] / 2000 < 0.45, got
    assert got["window"] <= 2 and got["ph"] <= 1 and got["warning_groups"] == 0, got
    assert 5 <= got["window_z4"] <= 30, got  # 1 in 125 is 16 of 2,000; a 99.9% binomial interval


def test_false_alarms_are_judged_on_stationary_streams_as_drawn():
    """The checks' stationary streams are not screened: they are the first streams the generator draws."""
    r = ex1.rng(4, 1, ex1._CHECK_STREAMS["stationary"][2])
    drawn = ex1._make_streams("stationary", r, ex1.FALSE_ALARM_STREAMS)
    used = ex1._streams(4, "stationary")
    assert len(used) == ex1.FALSE_ALARM_STREAMS
    assert all(np.array_equal(a.correct, b.correct) for a, b in zip(drawn, used))


def test_detection_streams_are_screened_only_on_what_follows_the_change():
    """The screen asks for both detectors to cross their drift level after the change, nothing about what
    comes before it, and it rejects almost no stream, so it cannot hide a false alarm there."""
    rates = ex1._detection_rates(400, seed=11)  # the stated figures are a few in 100,000 at most
    for kind in ("abrupt", "gradual"):
        got = rates[kind]
        assert got["streams"] == 400 and got["redrawn"] <= 1 and got["window_before"] <= 1, (kind, got)
        assert got["ph_before"] == 0, (kind, got)
    s = ex1.concept_stream("abrupt", seed=2)
    quiet = np.array(s.correct)
    quiet[s.change_point:] = quiet[:len(quiet) - s.change_point]  # after the change, as before it
    forged = ex1.ConceptStream("abrupt", s.X, s.y, quiet, s.change_point, 0, s.label_noise, s.rotation)
    assert not ex1._detectable([forged])[0]
    assert ex1._detectable([s])[0]


def test_the_streams_do_not_give_their_kind_or_change_away():
    lengths = {len(ex1.concept_stream(kind, seed).correct) for kind in ex1.STREAM_KINDS for seed in range(3)}
    assert lengths == {ex1.STREAM_LENGTH}
    changes = [s.change_point for seed in range(40) for s in ex1._streams(seed, "abrupt")]
    assert min(changes) < 1600 and max(changes) > 4900
    gradual = [s for seed in range(40) for s in ex1._streams(seed, "gradual")]
    assert min(s.change_point for s in gradual) < 1600
    assert 4600 < max(s.change_point + s.width for s in gradual) <= ex1.CHANGE_RANGE[1]
    assert ex1.CHANGE_RANGE[1] + max(ex1.MAX_DELAY.values()) <= ex1.STREAM_LENGTH
    noise = {kind: [s.label_noise for s in ex1._make_streams(kind, ex1.rng(1, 98), 400)]
             for kind in ex1.STREAM_KINDS}
    for kind in ex1.STREAM_KINDS:  # the accuracy before any change says nothing about the kind
        assert min(noise[kind]) < 0.05 and max(noise[kind]) > 0.19, kind


# ---------------------------------------------------------------------------------- the diagnosis


@pytest.mark.parametrize("seed", range(10))
def test_every_threshold_on_a_difference_is_wrong_somewhere(seed):
    """In every scenario the noisy small batch differs more, in means and in accuracy, than the large
    batches whose small changes are real: no fixed threshold gets both right."""
    cases = {b.case: b for b in ex1._diagnose_scenarios(seed)}
    assert sorted(b.case for b in ex1._diagnose_scenarios(seed)).count("many_features") == 2

    def mean_gap(b):
        return np.abs(b.ref_X.mean(0) - b.cur_X.mean(0)).max()

    def drop(b):
        return b.ref_correct.mean() - b.cur_correct.mean()
    assert mean_gap(cases["small_batch"]) > 0.3 > 0.15 > mean_gap(cases["small_shift"])
    assert drop(cases["small_batch"]) > 0.06 > 0.03 > drop(cases["small_drop"]) > 0
    assert drop(cases["accuracy_rose"]) < 0


def test_the_many_feature_cases_sit_between_the_corrected_and_the_uncorrected_level():
    for seed in range(5):
        for b in ex1._diagnose_scenarios(seed):
            if b.case == "many_features":
                p, _ = ex1._largest_gap_p(b.ref_X, b.cur_X)
                assert 3 * 0.01 / b.n_features <= p <= 0.007 and not b.inputs_moved


def test_drift_batches_makes_each_case_with_the_diagnoses_it_allows():
    for case, truths in ex1.DRIFT_CASES.items():
        b = ex1.drift_batches(truths[-1], seed=3, case=case)
        assert b.case == case and b.truth == truths[-1]
        assert 10 <= b.n_features <= 20
    with pytest.raises(ValueError, match="truth must be one of 'data' for case 'small_shift'; got 'none'"):
        ex1.drift_batches("none", case="small_shift")
    with pytest.raises(ValueError, match="case must be one of"):
        ex1.drift_batches("none", case="tiny")
