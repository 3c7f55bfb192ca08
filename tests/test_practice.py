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

    def eps_on_counts(a, b, eps=1e-4):
        a, b = np.where(np.asarray(a) == 0, eps, a), np.where(np.asarray(b) == 0, eps, b)
        r, c = a / a.sum(), b / b.sum()
        return float(np.sum((c - r) * np.log(c / r)))

    def renormalised(a, b, eps=1e-4):
        r, c = np.asarray(a, float) / sum(a), np.asarray(b, float) / sum(b)
        r, c = np.where(r == 0, eps, r), np.where(c == 0, eps, c)
        r, c = r / r.sum(), c / c.sum()
        return float(np.sum((c - r) * np.log(c / r)))

    _lost(_report("02", psi_from_counts=kl), "that is KL")
    _lost(_report("02", psi_from_counts=no_eps), "must be a finite number")
    _lost(_report("02", psi_from_counts=eps_on_counts), "not a count of 0")
    _lost(_report("02", psi_from_counts=renormalised), "no renormalising")


def test_02_every_seed_has_empty_bins_on_both_sides():
    from prodai_lessons.exercises.practice import _histograms

    for seed in range(5):
        cases = _histograms(seed)
        assert any(x == 0 < y for a, b in cases for x, y in zip(a, b))  # empty in the reference only
        assert any(y == 0 < x for a, b in cases for x, y in zip(a, b))  # empty in the current sample only
        assert all(len(a) == len(b) and sum(a) > 0 and sum(b) > 0 for a, b in cases)


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

    def one_tail(k, n, conf=0.95):  # z at conf (1.64 at 95%) instead of at 0.5 + conf / 2
        return ref.wilson_interval(k, n, 2 * conf - 1)

    _lost(_report("05", wilson_interval=wald), "Wald interval")
    _lost(_report("05", wilson_interval=one_tail), "two-sided")
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


def test_06_reference_pager_pages_as_the_cost_tracker_alerts():
    """The learner's pager is the tracker's alert rule: run over the tracker's own projection trace, it pages
    at the requests where the tracker recorded its alerts (the warm-up's NaN included)."""
    from prodai_lessons.cost import CostTracker, load_pricing

    rng = np.random.default_rng(6)
    n = 3000
    t = np.sort(rng.uniform(0, 86_400, n))
    out = rng.integers(50, 3000, n) * (1 + 3 * ((t > 30_000) & (t < 50_000)))  # a costly afternoon
    probe = CostTracker(load_pricing(), min_elapsed=3600.0)
    probe.log_batch("claude-sonnet-4", np.full(n, 1000), out, timestamps=t)
    projected = probe.budget_trace().projected
    assert np.isnan(projected[0])
    for limit in np.nanpercentile(projected, [30, 60, 90]):
        tracker = CostTracker(load_pricing(), daily_limit=float(limit), min_elapsed=3600.0)
        tracker.log_batch("claude-sonnet-4", np.full(n, 1000), out, timestamps=t)
        pager = ref.BudgetPager(float(limit))
        pages = [float(t[k]) for k, x in enumerate(projected.tolist()) if pager.update(x)]
        assert pages == [a.timestamp for a in tracker.budget_alerts] and pages


def test_07_wrong_answers():
    def start(i):
        return i.opened_at if i.impact_started_at is None else i.impact_started_at

    def mean(xs):
        return sum(xs) / len(xs) if xs else None

    def from_detection(incs):
        return ref.mttd_mttr(incs)[0], mean([i.resolved_at - i.opened_at for i in incs if i.resolved_at is not None])

    def mitigate(incs):
        return ref.mttd_mttr(incs)[0], mean([i.mitigated_at - start(i) for i in incs if i.mitigated_at is not None])

    def unknown_start_as_zero(incs):  # counts an unknown impact start as detected at once
        d = [0.0 if i.impact_started_at is None else i.opened_at - i.impact_started_at for i in incs]
        return mean(d), ref.mttd_mttr(incs)[1]

    def open_as_zero(incs):  # counts an open incident as resolved in no time
        return ref.mttd_mttr(incs)[0], mean([0.0 if i.resolved_at is None else i.resolved_at - start(i)
                                              for i in incs])

    _lost(_report("07", mttd_mttr=from_detection), "counted from the page")
    _lost(_report("07", mttd_mttr=mitigate), "time to mitigate")
    _lost(_report("07", mttd_mttr=unknown_start_as_zero), "whose impact start is known")
    _lost(_report("07", mttd_mttr=open_as_zero), "over resolved incidents only")


def test_07_reference_is_the_mean_of_the_lessons_response_times_on_real_incident_records():
    """The check's records carry the timestamps under the names of the lesson's ``Incident``, so the
    learner's function runs on ``IncidentManager.incidents``; on real records the reference gives the means
    of the incidents' own ``time_to_detect`` and ``time_to_resolve`` (what the manager's mttd/mttr average)."""
    from dataclasses import replace

    from prodai_lessons.exercises.practice import IncidentRecord, _incidents
    from prodai_lessons.incidents import Incident, response_times

    def means(times):
        d = [x[0] for x in times if x[0] is not None]
        r = [x[2] for x in times if x[2] is not None]
        return (math.fsum(d) / len(d) if d else None, math.fsum(r) / len(r) if r else None)

    for seed in range(5):
        for case in _incidents(seed):
            recs = [IncidentRecord(**i) for i in case]
            want = means([response_times(r.impact_started_at, r.opened_at, r.mitigated_at, r.resolved_at)
                          for r in recs])
            got = ref.mttd_mttr(recs)
            assert [g is None for g in got] == [w is None for w in want]
            assert [g for g in got if g is not None] == pytest.approx([w for w in want if w is not None])
    base = Incident(id=1, title="", severity="P2", status="open", rules=(), categories=(), opened_at=100.0,
                    impact_started_at=None, acknowledged_at=None, mitigated_at=None, resolved_at=None,
                    alerts_cleared_at=None, mitigations=(), applied_mitigations=(), alerts=(), timeline=())
    incs = (replace(base, impact_started_at=40.0, mitigated_at=300.0, resolved_at=700.0, status="resolved"),
            replace(base, id=2, opened_at=900.0, resolved_at=1500.0, status="resolved"),
            replace(base, id=3, opened_at=2000.0, impact_started_at=1950.0))
    assert ref.mttd_mttr(incs) == means([(i.time_to_detect, None, i.time_to_resolve) for i in incs]) == (55.0, 630.0)


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
