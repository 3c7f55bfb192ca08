"""Exercise 3's checks: each stated requirement has a check that a wrong approach fails, for the right reason.

- the controller: ``evaluate()`` once at every step (cooldown included), the monitor reset at the rollback
  and at the deploy, the cooldown counted from rollbacks only, nothing done or logged without a healthy
  earlier version, no monitor reset in dry-run mode, audit entries with exactly the five keys;
- the monitor: a window mean exactly at the threshold passes; a ``reset()`` that keeps the scores is blamed
  on ``reset()``, not on ``evaluate()``;
- the registry owns the type of ``is_healthy()``: 0/1 costs points there only, the simulations judge the
  behaviour;
- the simulations' inputs hold no truth: the traffic comes from the grader's environment, one step at a time.
"""

from __future__ import annotations

import re
import statistics

import numpy as np
import pytest

from prodai_lessons.exercises import ex3
from prodai_lessons.exercises._core import format_report, local_ask, run_checks
from test_exercises import _sub, result, solution_ns


def skip_evaluate_in_cooldown(ns):
    base = ns["RollbackController"]

    def step(self, t):
        if self._last_rollback is not None and t - self._last_rollback < self.cooldown:
            return  # nothing to do until the cooldown ends: the monitor is not even evaluated
        base.step(self, t)
    _sub(ns, "RollbackController", step=step)


def evaluate_twice(ns):
    base = ns["RollbackController"]

    def step(self, t):
        self.monitor.evaluate()
        base.step(self, t)
    _sub(ns, "RollbackController", step=step)


class _NoReset:
    """The monitor as the controller sees it, with reset() doing nothing."""

    def __init__(self, monitor):
        self._monitor = monitor

    def __getattr__(self, name):
        return getattr(self._monitor, name)

    def reset(self):
        pass


def no_reset_after_rollback(ns):
    base = ns["RollbackController"]

    def step(self, t):
        monitor, self.monitor = self.monitor, _NoReset(self.monitor)
        try:
            base.step(self, t)
        finally:
            self.monitor = monitor
    _sub(ns, "RollbackController", step=step)


def deploy_without_reset(ns):
    base = ns["RollbackController"]

    def deploy(self, version, t):
        monitor, self.monitor = self.monitor, _NoReset(self.monitor)
        try:
            base.deploy(self, version, t)
        finally:
            self.monitor = monitor
    _sub(ns, "RollbackController", deploy=deploy)


def cooldown_from_deploy(ns):
    base = ns["RollbackController"]

    def deploy(self, version, t):
        base.deploy(self, version, t)
        self._last_rollback = t
    _sub(ns, "RollbackController", deploy=deploy)


def strict_threshold(ns):
    def evaluate(self):
        if len(self._scores) < self.min_samples:
            return "inconclusive"
        if statistics.mean(self._scores) > self.threshold:
            self._failures = 0
            return "passed"
        self._failures += 1
        return "failed"
    _sub(ns, "QualityMonitor", evaluate=evaluate)


def reset_keeps_scores(ns):
    def reset(self):
        self._failures = 0
    _sub(ns, "QualityMonitor", reset=reset)


def extra_audit_keys(ns):
    base = ns["RollbackController"]

    def step(self, t):
        n = len(self.audit_log)
        base.step(self, t)
        for entry in self.audit_log[n:]:
            entry["eval_score"] = self.registry.eval_score(entry["to_version"])
    _sub(ns, "RollbackController", step=step)


def logs_without_candidate(ns):
    base = ns["RollbackController"]

    def step(self, t):
        n = len(self.audit_log)
        base.step(self, t)
        out_of_cooldown = self._last_rollback is None or t - self._last_rollback >= self.cooldown
        if len(self.audit_log) == n and self.monitor.unhealthy and out_of_cooldown:
            self.audit_log.append({"t": t, "action": "rollback", "from_version": self.registry.alias("champion"),
                                   "to_version": None, "reason": "nothing left to roll back to"})
    _sub(ns, "RollbackController", step=step)


def later_version_when_none_earlier(ns):
    """With no healthy earlier version, falls back to a healthy later one."""
    base = ns["RollbackController"]

    def step(self, t):
        n = len(self.audit_log)
        base.step(self, t)
        out_of_cooldown = self._last_rollback is None or t - self._last_rollback >= self.cooldown
        if len(self.audit_log) == n and self.monitor.unhealthy and out_of_cooldown and not self.dry_run:
            champion = self.registry.alias("champion")
            later = [v for v in self.registry.versions() if v != champion and self.registry.is_healthy(v)]
            if later:
                self._last_rollback = t
                self.registry.mark_unhealthy(champion, "failed")
                self.registry.promote(later[-1])
                self.monitor.reset()
                self.audit_log.append({"t": t, "action": "rollback", "from_version": champion,
                                       "to_version": later[-1], "reason": "failed"})
    _sub(ns, "RollbackController", step=step)


def dry_run_resets(ns):
    base = ns["RollbackController"]

    def step(self, t):
        n = len(self.audit_log)
        base.step(self, t)
        if self.dry_run and len(self.audit_log) > n:
            self.monitor.reset()
    _sub(ns, "RollbackController", step=step)


def is_healthy_int(ns):
    base = ns["ModelRegistry"]
    _sub(ns, "ModelRegistry", is_healthy=lambda self, version: int(base.is_healthy(self, version)))


MUTANTS = [
    (skip_evaluate_in_cooldown, {"cooldown": r"did not evaluate the monitor at \d+ of \d+ steps \(first: step "
                                             r"\d+, within the cooldown\)"}),
    (evaluate_twice, {"cooldown": "evaluated the monitor more than once"}),
    (no_reset_after_rollback, {"rollback_happens": "the monitor was not reset at the rollback"}),
    (deploy_without_reset, {"rollback_happens": r"deploy\(\) did not reset the monitor"}),
    (cooldown_from_deploy, {"rollback_happens": r"your monitor was unhealthy at step \d+, with no rollback "
                                                r"before it, but the rollback came at step \d+"}),
    (strict_threshold, {"monitor_window": "did not pass 3 of 3 full windows whose mean equals the threshold"}),
    (reset_keeps_scores, {"monitor_window": r"after reset\(\) the window still held the scores observed"}),
    (extra_audit_keys, {"audit_log": "entries hold key\\(s\\) 'eval_score' besides t, action, from_version"}),
    (logs_without_candidate, {"audit_log": "with no candidate it does nothing and logs nothing"}),
    (later_version_when_none_earlier, {"audit_log": "changed the champion or logged an entry: with no "
                                                    "candidate it does nothing"}),
    (dry_run_resets, {"dry_run": "in dry-run mode the monitor was reset"}),
    (is_healthy_int, {"registry": r"is_healthy\(\) must return a bool \(True or False\); it returned int"}),
]


@pytest.mark.parametrize("mutant, expected", MUTANTS, ids=[m[0].__name__ for m in MUTANTS])
def test_wrong_approach_loses_points_for_the_right_reason(mutant, expected):
    for seed in (0, 1, 2):
        ns = solution_ns("ex3")
        mutant(ns)
        for check, reason in expected.items():
            r = result("ex3", ns, check, seed)
            assert not r.passed and r.points < r.max_points, (check, seed, r)
            assert r.status == "ok", r
            assert re.search(reason, r.message), (check, seed, r.message)


@pytest.mark.parametrize("mutant, failing", [
    (is_healthy_int, {"registry"}),  # the simulations judge behaviour: 0/1 reads as False/True there
    (skip_evaluate_in_cooldown, {"cooldown"}),
    (reset_keeps_scores, {"monitor_window"}),
    (strict_threshold, {"monitor_window"}),
    (extra_audit_keys, {"audit_log"}),
])
def test_one_check_owns_each_requirement(mutant, failing):
    ns = solution_ns("ex3")
    mutant(ns)
    for seed in (0, 1):
        report = run_checks(ex3.EXERCISE, ns, seed)
        assert {r.name for r in report.results if not r.passed} == failing, format_report(report)


def test_a_reset_that_keeps_the_scores_is_not_blamed_on_evaluate():
    ns = solution_ns("ex3")
    reset_keeps_scores(ns)
    for seed in range(5):
        message = result("ex3", ns, "monitor_window", seed).message
        assert "reset()" in message and "fewer than min_samples" not in message, message


def test_a_mean_at_the_threshold_is_a_tie_however_the_mean_is_computed():
    sc = ex3._window_scenario(0)
    assert len(sc["ties"]) == 3
    for case in sc["ties"]:
        x, threshold = case["scores"], case["params"]["threshold"]
        assert len(x) == case["params"]["window"] and set(x) <= {0.0, 1.0}
        for mean in (sum(x) / len(x), float(np.mean(x)), statistics.mean(x), statistics.fmean(x)):
            assert mean == threshold


def test_the_monitor_record_follows_the_reference_controller():
    run = ex3.simulate(solution_ns("ex3"), "degrade", seed=0)
    assert len(run.monitor_calls) == len(run.champion)
    assert run.monitor_calls[0] == {"verdicts": [], "unhealthy": [], "resets": 1}  # the deploy
    assert all(len(c["verdicts"]) == 1 for c in run.monitor_calls[1:])
    changes = [t for t in range(1, len(run.champion)) if run.champion[t] != run.champion[t - 1]]
    assert [t for t, c in enumerate(run.monitor_calls) if t and c["resets"]] == changes
    assert changes[0] == next(t for t, c in enumerate(run.monitor_calls) if any(c["unhealthy"]))
    assert run.extra_keys == ()


def test_the_relapse_scenario_leaves_nothing_to_roll_back_to():
    for seed in range(10):
        sc = ex3._make_scenario("relapse", seed)
        idle: list[int] = []
        actions = ex3._reference_run(sc, idle=idle)
        assert len(actions) == 1 and actions[0][3] == sc.target
        assert any(t >= sc.relapse[1] for t in idle)
        assert sc.relapse[1] - actions[0][0] >= sc.cooldown  # the cooldown is over when it relapses
        assert ex3._best_earlier(sc.names, sc.scores, set(sc.flagged) | {sc.deployed}, sc.target) is None


def test_degrade_rolls_back_before_a_cooldown_counted_from_the_deploy_would_allow():
    for seed in range(10):
        sc = ex3._make_scenario("degrade", seed)
        (t, *_), = ex3._reference_run(sc)
        assert t < sc.cooldown


@pytest.mark.parametrize("kind", ex3.SCENARIOS)
def test_simulation_inputs_hold_no_truth_and_traffic_comes_one_step_at_a_time(kind):
    sc = ex3._make_scenario(kind, 3)
    setup = ex3._setup(sc)
    assert set(setup) == {"kind", "names", "scores", "promoted", "flagged", "deployed", "threshold", "window",
                          "min_samples", "failure_limit", "cooldown", "dry_run", "steps"}
    ask = local_ask(ex3._Serving(sc))
    assert len(ask({"t": 1, "version": sc.deployed})) == sc.batch
    with pytest.raises(ValueError, match="one step at a time"):
        ask({"t": 3, "version": sc.deployed})
