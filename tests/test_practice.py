"""The lessons' "Your turn" tasks: the reference answer scores full marks, the stub is "not attempted", and
the wrong answers a learner is likely to write lose points for the reason the feedback names."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from prodai_lessons.exercises import _practice_answers as ref
from prodai_lessons.exercises._core import format_report, run_checks
from prodai_lessons.exercises.practice import TASKS


def _report(task: str, **names):
    return run_checks(TASKS[task].exercise, dict(names), seed=3)


def _stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("task", sorted(TASKS))
def test_the_reference_answer_scores_full_marks(task):
    t = TASKS[task]
    for seed in range(5):
        report = run_checks(t.exercise, {t.answer.__name__: t.answer}, seed)
        assert report.score == report.max_points, (seed, format_report(report))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_an_untouched_stub_is_not_attempted_and_prints_no_traceback(task, capsys):
    t = TASKS[task]
    stub = (type(t.answer.__name__, (), {"__init__": lambda self, *a, **k: None, "update": _stub})
            if isinstance(t.answer, type) else _stub)
    t.check({t.answer.__name__: stub})
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "Traceback" not in out, out
    t.hint()
    t.solution()
    assert t.answer.__name__ in capsys.readouterr().out


def _lost(report, reason: str) -> None:
    r = report.results[0]
    assert r.points < r.max_points and not r.passed, format_report(report)
    assert reason in r.message, r.message


# ------------------------------------------------------------------------------------------ wrong answers

def test_01_wrong_answers():
    def median(c):
        return c.replicas * c.instance_usd_per_hour / 3600 / (
            c.service_median_s * c.serverless_usd_per_second + c.serverless_usd_per_request)

    def one_replica(c):
        return ref.break_even_rate(c) / c.replicas

    _lost(_report("01", break_even_rate=median), "mean busy time")
    _lost(_report("01", break_even_rate=one_replica), "every replica")


def test_01_the_lessons_own_settings_break_even_near_six_and_a_half_requests_per_second():
    from prodai_lessons.deployment import DeploymentConfig

    assert ref.break_even_rate(DeploymentConfig()) == pytest.approx(6.52, abs=0.01)


def test_02_wrong_answers():
    def kl(a, b, eps=1e-4):
        r, c = np.asarray(a, float) / sum(a), np.asarray(b, float) / sum(b)
        r, c = np.where(r == 0, eps, r), np.where(c == 0, eps, c)
        return float(np.sum(c * np.log(c / r)))

    def no_eps(a, b):
        r, c = np.asarray(a, float) / sum(a), np.asarray(b, float) / sum(b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum((c - r) * np.log(c / r)))

    _lost(_report("02", psi_from_counts=kl), "that is KL")
    _lost(_report("02", psi_from_counts=no_eps), "must be a finite number")


def test_02_reference_psi_is_the_lessons_psi_from_shares():
    from prodai_lessons.drift import psi_from_shares

    a, b = [10, 0, 30, 60], [20, 5, 0, 75]
    assert ref.psi_from_counts(a, b) == pytest.approx(
        psi_from_shares(np.array(a) / 100, np.array(b) / 100), rel=1e-12)


def test_03_wrong_answers():
    _lost(_report("03", burn_rate_threshold=lambda s, w, d=30: s * d / w), "convert the period to hours")
    _lost(_report("03", burn_rate_threshold=lambda s, w, d=30: w / (s * d * 24)), "not the inverse")
    assert ref.burn_rate_threshold(0.02, 1) == pytest.approx(14.4)
    assert ref.burn_rate_threshold(0.05, 6) == pytest.approx(6.0)
    assert ref.burn_rate_threshold(0.10, 72) == pytest.approx(1.0)


def test_04_wrong_answers():
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    _lost(_report("04", closed_form_n=lambda s, d, a=0.05, p=0.8: 2 * s * s * (z(1 - a) + z(p)) ** 2 / d ** 2),
          "1 - alpha/2")
    _lost(_report("04", closed_form_n=lambda s, d, a=0.05, p=0.8: s * s * (z(1 - a / 2) + z(p)) ** 2 / d ** 2),
          "twice that")


def test_04_closed_form_is_close_to_the_exact_t_based_size():
    from prodai_lessons.abtest import sample_size

    n = ref.closed_form_n(1.0, 0.2)
    assert math.ceil(n) == 393
    exact = sample_size(0.2, sd=1.0)
    assert exact.n_a == 394 and 0 < exact.n_a_exact - n < 2  # the t-based size is a little larger


def test_05_wrong_answer_and_the_oracle():
    def wald(k, n, conf=0.95):
        from statistics import NormalDist
        z, p = NormalDist().inv_cdf(0.5 + conf / 2), k / n
        h = z * math.sqrt(p * (1 - p) / n)
        return p - h, p + h

    _lost(_report("05", wilson_interval=wald), "Wald interval")
    for k, n in ((5, 7), (0, 20), (30, 30), (123, 456)):
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert ref.wilson_interval(k, n) == pytest.approx((lo, hi), rel=1e-12, abs=1e-15)
    assert [round(x, 2) for x in ref.wilson_interval(5, 7)] == [0.36, 0.92]


def test_06_wrong_answers():
    class NoHysteresis:
        def __init__(self, budget, clear_ratio=0.9):
            self.budget, self.above = budget, False

        def update(self, x):
            fire = x > self.budget and not self.above
            self.above = x > self.budget
            return fire

    class EveryUpdate:
        def __init__(self, budget, clear_ratio=0.9):
            self.budget = budget

        def update(self, x):
            return x > self.budget

    _lost(_report("06", BudgetPager=NoHysteresis), "a page at every crossing")
    _lost(_report("06", BudgetPager=EveryUpdate), "more than one page in an episode")


def test_07_wrong_answers():
    def from_detection(incs):
        d, r = ref.mttd_mttr(incs)
        res = [i["resolved"] - i["detected"] for i in incs if i["resolved"] is not None]
        return d, (sum(res) / len(res) if res else None)

    def mitigate(incs):
        d, _ = ref.mttd_mttr(incs)
        m = [i["mitigated"] - i["impact_start"] for i in incs if i["mitigated"] is not None]
        return d, (sum(m) / len(m) if m else None)

    _lost(_report("07", mttd_mttr=from_detection), "counted from detection")
    _lost(_report("07", mttd_mttr=mitigate), "time to mitigate")


def test_08_wrong_answers():
    def round_hours(t, lat, err):
        p = ref.hourly_panel(np.ceil(np.asarray(t) / 3600) * 3600 - 1, lat, err)  # hour h as (h-1:00, h:00]
        return p

    def day_error_rate(t, lat, err):
        p = ref.hourly_panel(t, lat, err)
        p["error_rate"] = [float(np.mean(err))] * len(p["hour"])
        return p

    _lost(_report("08", hourly_panel=round_hours), "request counts per hour are off")
    _lost(_report("08", hourly_panel=day_error_rate), "error_rate per hour off")
