"""Exercises: the builder (solutions/ -> exercises/), the checks (right for the right reasons), bad input.

- exercises/ is exactly what ``prodai build-exercises`` makes from solutions/;
- the reference solutions score full marks on 10 seeds, also after their data went through JSON (as the
  grader ships it);
- the untouched stubs are "not attempted yet", never a traceback;
- wrong implementations ("mutants") fail the check aimed at them, with a message that names what is wrong;
  every check fails at least one mutant;
- the wrong kind of object, a missing method, a wrong return type: one line naming what is missing; an
  exception in learner code: its last line and the scenario, and the other checks still run;
- judges never raise on malformed data.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodai_lessons.exercises import _core, ex1, ex2, ex3
from prodai_lessons.tooling import build_exercises as build
from prodai_lessons.exercises._core import (
    CheckResult,
    format_report,
    local_ask,
    run_checks,
    shipped,
)

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
MODULES = {"ex1": ex1, "ex2": ex2, "ex3": ex3}
SOURCES = {"ex1": "ex1_concept_drift.md", "ex2": "ex2_model_routing.md", "ex3": "ex3_automated_rollback.md"}


_CELLS: dict = {}


def _namespace(path: Path) -> dict:
    """Execute a notebook's definition cells (imports and the cells holding solutions or stubs) in a new
    namespace, as a kernel would: functions see each other through it, so a mutant patching one function
    changes what the others call."""
    import jupytext

    if path not in _CELLS:
        _CELLS[path] = [compile(c.source, str(path), "exec") for c in jupytext.read(path).cells
                        if c.cell_type == "code" and ("### BEGIN SOLUTION" in c.source
                                                      or "raise NotImplementedError" in c.source
                                                      or c.source.lstrip().startswith(("import", "from")))
                        and "plt." not in c.source]  # not the demo cells
    ns: dict = {"__name__": "__learner__"}
    for code in _CELLS[path]:
        exec(code, ns)
    return ns


def solution_ns(ex: str) -> dict:
    """A fresh solution namespace (mutants patch their own)."""
    return _namespace(SOLUTIONS / SOURCES[ex])


def result(ex: str, ns: dict, check: str, seed: int = 0) -> CheckResult:
    return run_checks(MODULES[ex].EXERCISE, ns, seed, only=[check]).results[0]


def collected(check, ns: dict, seed: int):
    """What ``check.collect`` returns for the learner code in ``ns`` on the scenario of ``seed``."""
    inputs = shipped(check.scenario(seed))
    ask = None if check.environment is None else local_ask(check.environment(seed))
    return check.collect(ns, inputs, ask)


# ------------------------------------------------------------------------------------------- builder

SOLUTION_MD = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
    jupytext_version: 1.19.6
kernelspec:
  display_name: Python 3 (ipykernel)
  language: python
  name: python3
---

# Exercise 0: demo

Write `f`.

```{code-cell} ipython3
def f(x: int) -> int:
    \"\"\"Twice x.\"\"\"
    ### BEGIN SOLUTION: return twice x
    y = 2 * x
    ### END SOLUTION
    return y


class A:
    def g(self):
        ### BEGIN SOLUTION
        return 1
        ### END SOLUTION
```

<!-- BEGIN SOLUTION -->
The answer is 2x.

```{code-cell} ipython3
print(f(2))
```
<!-- END SOLUTION -->

## End
"""


def test_strip_keeps_signatures_and_indentation_and_drops_solution_regions():
    out = build.strip_solutions(SOLUTION_MD, name="ex0_demo.md")
    assert "    raise NotImplementedError  # return twice x\n    return y\n" in out
    assert "        raise NotImplementedError  # write your code here\n" in out
    assert 'def f(x: int) -> int:\n    """Twice x."""\n' in out
    for gone in ("y = 2 * x", "return 1", "BEGIN SOLUTION", "END SOLUTION", "The answer is 2x", "print(f(2))"):
        assert gone not in out
    assert out.index("# Exercise 0: demo") < out.index("Generated from solutions/ex0_demo.md") < out.index("Write `f`")
    assert out.startswith(SOLUTION_MD.split("# Exercise")[0])  # the front matter is untouched
    ns: dict = {}
    import jupytext

    for cell in jupytext.reads(out, fmt="md:myst").cells:  # the stubs are valid Python and raise when called
        if cell.cell_type == "code":
            exec(cell.source, ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)


@pytest.mark.parametrize("bad, message", [
    ("```{code-cell} ipython3\ndef f():\n    ### BEGIN SOLUTION\n    pass\n```\n", "never closed|not closed"),
    ("```{code-cell} ipython3\ndef f():\n    ### END SOLUTION\n```\n", "without a BEGIN"),
    ("```{code-cell} ipython3\ndef f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n```\n", "nested"),
    ("```{code-cell} ipython3\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n```\n", "top level"),
    ("### BEGIN SOLUTION\ntext\n### END SOLUTION\n", "outside a code cell"),
    ("<!-- BEGIN SOLUTION -->\ntext\n", "never closed"),
    ("<!-- END SOLUTION -->\n", "without a BEGIN"),
])
def test_strip_rejects_broken_markup_naming_the_line(bad, message):
    with pytest.raises(build.SolutionMarkupError, match=message) as info:
        build.strip_solutions(bad, source="demo.md")
    assert "demo.md" in str(info.value)


def test_exercises_folder_is_what_the_build_produces():
    assert build.stale_exercises(SOLUTIONS, EXERCISES) == []
    assert sorted(p.name for p in build.exercise_sources(SOLUTIONS)) == sorted(SOURCES.values())


def test_stale_detection_and_rebuild_roundtrip(tmp_path):
    sol, out = tmp_path / "solutions", tmp_path / "exercises"
    sol.mkdir()
    (sol / "ex0_demo.md").write_text(SOLUTION_MD, encoding="utf-8")
    assert any("missing" in p for p in build.stale_exercises(sol, out))
    build.build_exercises(sol, out, execute=False)
    assert build.stale_exercises(sol, out) == []
    (sol / "ex0_demo.md").write_text(SOLUTION_MD.replace("Twice x.", "Double x."), encoding="utf-8")
    assert any("differs" in p for p in build.stale_exercises(sol, out))
    (out / "ex9_orphan.md").write_text("x", encoding="utf-8")
    assert any("ex9_orphan.md is not generated" in p for p in build.stale_exercises(sol, out))


def test_cli_check_reports_and_sets_the_exit_status(tmp_path, capsys):
    from prodai_lessons.tooling.cli import main

    assert main(["build-exercises", "--check", "--solutions", str(SOLUTIONS), "--out", str(EXERCISES)]) == 0
    sol = tmp_path / "solutions"
    sol.mkdir()
    (sol / "ex0_demo.md").write_text(SOLUTION_MD, encoding="utf-8")
    assert main(["build-exercises", "--check", "--solutions", str(sol), "--out", str(tmp_path / "ex")]) == 1
    assert "missing" in capsys.readouterr().out
    (sol / "ex0_demo.md").write_text(SOLUTION_MD.replace("    ### END SOLUTION\n    return y", "    return y"),
                                     encoding="utf-8")
    assert main(["build-exercises", "--solutions", str(sol), "--out", str(tmp_path / "ex"), "--no-execute"]) == 2
    assert "nested BEGIN SOLUTION" in capsys.readouterr().err


# -------------------------------------------------------------------------------- solutions and stubs


@pytest.mark.parametrize("ex", sorted(MODULES))
def test_solutions_score_full_marks_on_ten_seeds(ex):
    ns = solution_ns(ex)
    for seed in range(10):
        report = run_checks(MODULES[ex].EXERCISE, ns, seed)
        assert report.score == report.max_points, (seed, format_report(report))
        assert all(r.passed and r.status == "ok" for r in report.results)


@pytest.mark.parametrize("ex", sorted(MODULES))
def test_collected_data_survives_json_like_the_grader_ships_it(ex):
    ns, seed = solution_ns(ex), 12345
    for check in MODULES[ex].EXERCISE.checks:
        data = json.loads(json.dumps(collected(check, ns, seed), allow_nan=False))
        assert check.judge(data, seed).passed, check.name


@pytest.mark.parametrize("ex", sorted(MODULES))
def test_untouched_stubs_are_not_attempted_and_print_no_traceback(ex, capsys):
    ns = _namespace(EXERCISES / SOURCES[ex])
    report = run_checks(MODULES[ex].EXERCISE, ns, 0)
    assert {r.status for r in report.results} == {"not_attempted"}
    assert all("is still the stub" in r.message for r in report.results)
    MODULES[ex].check(ns)
    out = capsys.readouterr().out
    assert "Traceback" not in out and "not attempted yet" in out and "Not attempted yet: start with hint()" in out
    assert out.count("\n") == len(report.results) + 1


def test_verbs_hint_solution_and_misuse(capsys):
    ex3.hint()
    ex3.hint(3)
    ex3.hint(9)
    ex3.solution()
    ex3.check(solution_ns("ex3")["ModelRegistry"])
    ex3.check(solution_ns("ex3"), seed=-1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Hint 1/3") and lines[1].startswith("Hint 3/3")
    assert lines[2] == "hint(n) takes n from 1 to 3"
    assert "solutions/ex3_automated_rollback.ipynb" in lines[3]
    assert lines[4] == "check() needs your notebook's names: call ex3.check(globals()); got a class (ModelRegistry)"
    assert lines[5] == "check(): seed must be >= 0; got -1"


def test_scenarios_depend_on_the_seed():
    """A hard-coded answer cannot pass: the scenarios (and so the expected behaviour) move with the seed."""
    a, b = ex1._streams(0, "abrupt"), ex1._streams(1, "abrupt")
    assert [s.change_point for s in a] != [s.change_point for s in b]
    assert [x.truth for x in ex1._diagnose_scenarios(0)] != [x.truth for x in ex1._diagnose_scenarios(1)]
    assert ex3._make_scenario("target", 0).target != ex3._make_scenario("target", 1).target
    assert ex3._make_scenario("degrade", 0).degrade_at != ex3._make_scenario("degrade", 2).degrade_at
    assert ex2._cost_scenario(0)[2].models.keys() != ex2._cost_scenario(1)[2].models.keys()
    assert [s["target"] for s in ex2._pick_scenarios(0)] != [s["target"] for s in ex2._pick_scenarios(1)]


# --------------------------------------------------------------------------------------------- mutants
# (exercise, mutant, {check: part of the failure message}); each mutant is a patch of the solution namespace.


def _sub(ns: dict, name: str, **methods) -> None:
    ns[name] = type(name, (ns[name],), methods)


def _prop(fn):
    return property(fn)


def _named(factory):
    """Give the patches a mutant factory makes a readable name (the test ids)."""
    def make(arg):
        patch = factory(arg)
        patch.__name__ = f"{factory.__name__}_{arg}"
        return patch
    make.__name__ = factory.__name__
    return make


def m3_no_previous(ns):
    def promote(self, version):
        if version not in self._versions:
            raise KeyError(version)
        self._aliases["champion"] = version
        self._history.append(version)
    _sub(ns, "ModelRegistry", promote=promote)


def m3_no_min_samples(ns):
    def evaluate(self):
        if not self._scores:
            return "inconclusive"
        ok = sum(self._scores) / len(self._scores) >= self.threshold
        self._failures = 0 if ok else self._failures + 1
        return "passed" if ok else "failed"
    _sub(ns, "QualityMonitor", evaluate=evaluate)


def m3_all_history(ns):
    from collections import deque

    base = ns["QualityMonitor"]

    def init(self, threshold, window=100, min_samples=50, failure_limit=2):
        base.__init__(self, threshold, window, min_samples, failure_limit)
        self._scores = deque()  # never forgets
    _sub(ns, "QualityMonitor", __init__=init)


def m3_first_failure(ns):
    _sub(ns, "QualityMonitor", unhealthy=_prop(lambda self: self._failures > 0))


def m3_limit_off_by_one(ns):
    _sub(ns, "QualityMonitor", unhealthy=_prop(lambda self: self._failures >= self.failure_limit))


def m3_pass_keeps_count(ns):
    base = ns["QualityMonitor"]

    def evaluate(self):
        before = self._failures
        verdict = base.evaluate(self)
        if verdict == "passed":
            self._failures = before
        return verdict
    _sub(ns, "QualityMonitor", evaluate=evaluate)


def m3_never(ns):
    _sub(ns, "RollbackController", step=lambda self, t: self.monitor.evaluate())


def m3_to_previous(ns):
    def step(self, t):
        self.monitor.evaluate()
        if self.monitor.unhealthy and (self._last_rollback is None or t - self._last_rollback >= self.cooldown):
            champion, target = self.registry.alias("champion"), self.registry.alias("previous")
            self._last_rollback = t
            self.registry.mark_unhealthy(champion, "bad")
            self.registry.promote(target)
            self.monitor.reset()
            self.audit_log.append({"t": t, "action": "rollback", "from_version": champion, "to_version": target,
                                   "reason": "bad"})
    _sub(ns, "RollbackController", step=step)


def m3_no_cooldown(ns):
    base = ns["RollbackController"]

    def step(self, t):
        self._last_rollback = None
        base.step(self, t)
    _sub(ns, "RollbackController", step=step)


def m3_no_audit(ns):
    base = ns["RollbackController"]

    def step(self, t):
        n = len(self.audit_log)
        base.step(self, t)
        del self.audit_log[n:]
    _sub(ns, "RollbackController", step=step)


def m3_dry_run_acts(ns):
    base = ns["RollbackController"]

    def init(self, registry, monitor, cooldown=10, dry_run=False):
        base.__init__(self, registry, monitor, cooldown, False)
    _sub(ns, "RollbackController", __init__=init)


def m3_no_mark(ns):
    _sub(ns, "ModelRegistry", mark_unhealthy=lambda self, v, reason: None)


@_named
def m1_never(name):
    def patch(ns):
        _sub(ns, name, drift_detected=_prop(lambda self: False))
    return patch


@_named
def m1_always(name):
    def patch(ns):
        _sub(ns, name, drift_detected=_prop(lambda self: True))
    return patch


@_named
def m1_no_reset(name):
    def patch(ns):
        base = ns[name]

        def update(self, correct):
            self._drift = False  # the solution resets on the update after a drift: pretend there was none
            base.update(self, correct)
        _sub(ns, name, update=update)
    return patch


def m1_no_warning(ns):
    for name in ("WindowAccuracyDetector", "PageHinkley"):
        _sub(ns, name, warning_detected=_prop(lambda self: False))


def m1_always_warning(ns):
    _sub(ns, "PageHinkley", warning_detected=_prop(lambda self: not self._drift))


@_named
def m1_diagnose(kind):
    def patch(ns):
        base = ns["diagnose_drift"]

        def diagnose_drift(ref_X, cur_X, ref_correct, cur_correct, alpha=0.01):
            got = base(ref_X, cur_X, ref_correct, cur_correct, alpha)
            if kind == "accuracy_only":
                return {"data": "none", "both": "concept"}.get(got, got)
            if kind == "inputs_only":
                return {"concept": "none", "both": "data"}.get(got, got)
            return {"data": "concept", "concept": "data"}.get(got, got)  # swapped
        ns["diagnose_drift"] = diagnose_drift
    return patch


def m1_simulate_no_change(ns):
    ns["simulate_concept_drift"] = lambda X, w_old, w_new, change_point, label_noise=0.0, seed=0: (X, X @ w_old > 0)


@_named
def m2_scorer(kind):
    def patch(ns):
        base = ns["difficulty_score"]
        r = random.Random(0)
        ns["difficulty_score"] = {"constant": lambda text: 0.5, "inverse": lambda text: 1.0 - base(text),
                                  "random": lambda text: r.random()}[kind]
    return patch


def m2_all_large(ns):
    ns["choose_tier"] = lambda score, low, high: "large"


def m2_boundary(ns):
    ns["choose_tier"] = lambda s, low, high: "small" if s <= low else ("medium" if s <= high else "large")


@_named
def m2_cost(kind):
    def patch(ns):
        base = ns["routing_cost"]

        def routing_cost(queries, tiers, pricing):
            out = dict(base(queries, tiers, pricing))
            if kind == "average":  # a common shortcut: savings from an average price per request
                n_small = sum(t != "large" for t in tiers)
                out["savings"] = n_small * out["baseline_cost"] / len(tiers)
            else:  # input tokens only
                for key in ("cost", "baseline_cost"):
                    out[key] = out[key] * 0.2
            return out
        ns["routing_cost"] = routing_cost
    return patch


def m2_sweep_strict(ns):
    base = ns["sweep"]
    ns["sweep"] = lambda qs, scores, lows, highs, pricing: [p for p in base(qs, scores, lows, highs, pricing)
                                                            if p["low"] < p["high"]]


@_named
def m2_pick(kind):
    def patch(ns):
        base = ns["pick_setting"]

        def pick_setting(points, baseline_quality, target=0.95):
            if kind == "best_quality":  # "everything to the large model" in spirit: quality at any price
                return max(points, key=lambda p: p["quality"])
            if kind == "fixed_target":
                return base(points, baseline_quality, 0.95)
            return min(points, key=lambda p: p["cost"])  # ignores the target
        ns["pick_setting"] = pick_setting
    return patch


MUTANTS = [
    ("ex3", m3_no_previous, {"registry": r"alias\('previous'\)"}),
    ("ex3", m3_no_min_samples, {"monitor_window": "fewer than min_samples"}),
    ("ex3", m3_all_history, {"monitor_window": "last window"}),
    ("ex3", m3_first_failure, {"monitor_failure_limit": "after only", "no_flapping": "rolled back a healthy"}),
    ("ex3", m3_limit_off_by_one, {"monitor_failure_limit": "one more makes it unhealthy"}),
    ("ex3", m3_pass_keeps_count, {"monitor_failure_limit": "across a passed evaluation"}),
    ("ex3", m3_never, {"rollback_happens": "never rolled back", "rollback_target": "no rollback"}),
    ("ex3", m3_to_previous, {"rollback_target": "alias 'previous'"}),
    ("ex3", m3_no_cooldown, {"cooldown": "two rollbacks"}),
    ("ex3", m3_no_audit, {"audit_log": "do not match the champion changes"}),
    ("ex3", m3_dry_run_acts, {"dry_run": "champion changed"}),
    ("ex3", m3_no_mark, {"rollback_happens": "not marked unhealthy"}),
    ("ex1", m1_simulate_no_change, {"simulation": "the labels after the change still follow the old concept"}),
    ("ex1", m1_never("WindowAccuracyDetector"), {"window_abrupt": "missed the drift",
                                                 "window_gradual": "missed the drift"}),
    ("ex1", m1_always("WindowAccuracyDetector"), {"window_abrupt": "before the change",
                                                  "window_false_alarms": "false alarm"}),
    ("ex1", m1_no_reset("WindowAccuracyDetector"), {"window_abrupt": "times for one change"}),
    ("ex1", m1_never("PageHinkley"), {"ph_abrupt": "missed the drift", "ph_gradual": "missed the drift"}),
    ("ex1", m1_always("PageHinkley"), {"ph_abrupt": "before the change", "ph_false_alarms": "false alarm"}),
    ("ex1", m1_no_reset("PageHinkley"), {"ph_abrupt": "times for one change"}),
    ("ex1", m1_no_warning, {"warnings": "no warning before the drift"}),
    ("ex1", m1_always_warning, {"warnings": "in the warning state on"}),
    ("ex1", m1_diagnose("accuracy_only"), {"concept_vs_data": "no input shift where the inputs moved"}),
    ("ex1", m1_diagnose("inputs_only"), {"concept_vs_data": "no accuracy drop where the accuracy fell"}),
    ("ex1", m1_diagnose("swapped"), {"concept_vs_data": "where the accuracy held"}),
    ("ex2", m2_scorer("constant"), {"scorer_reasoning": "scored the same", "scorer_code": "scored the same",
                                    "scorer_questions": "scored the same", "scorer_informative": "barely follow"}),
    ("ex2", m2_scorer("inverse"), {"scorer_reasoning": "scored lower"}),
    ("ex2", m2_scorer("random"), {"scorer_informative": "barely follow"}),
    ("ex2", m2_all_large, {"routes_respect_thresholds": "every query went to 'large'",
                           "end_to_end": "every query went to 'large' whatever the thresholds"}),
    ("ex2", m2_boundary, {"routes_respect_thresholds": "equal to a threshold"}),
    ("ex2", m2_cost("average"), {"cost_exact": "savings"}),
    ("ex2", m2_cost("input_only"), {"cost_exact": "cost, baseline_cost"}),
    ("ex2", m2_sweep_strict, {"sweep_curve": "missing"}),
    ("ex2", m2_pick("best_quality"), {"pick_meets_target": "a cheaper point also reaches the target"}),
    ("ex2", m2_pick("fixed_target"), {"pick_meets_target": "a cheaper point also reaches|below target"}),
    ("ex2", m2_pick("cheapest"), {"pick_meets_target": "below target"}),
]


@pytest.mark.parametrize("ex, mutant, expected", MUTANTS, ids=[m[1].__name__ for m in MUTANTS])
def test_mutant_fails_the_checks_aimed_at_it_for_the_right_reason(ex, mutant, expected):
    for seed in (0, 1):
        ns = solution_ns(ex)
        mutant(ns)
        for check, reason in expected.items():
            r = result(ex, ns, check, seed)
            assert not r.passed and r.points < r.max_points, (check, seed, r)
            assert r.status == "ok", r  # a behaviour was judged, not an error
            assert re.search(reason, r.message), (check, seed, r.message)
            assert "expected" not in r.message.lower()


def test_every_check_fails_at_least_one_mutant():
    targeted = {(ex, check) for ex, _, expected in MUTANTS for check in expected}
    every = {(ex, c.name) for ex, m in MODULES.items() for c in m.EXERCISE.checks}
    assert every - targeted == set()


def test_mutants_leave_the_checks_they_do_not_touch_passing():
    """The failure is specific: a controller without cooldown still rolls back in time and to the right version."""
    ns = solution_ns("ex3")
    m3_no_cooldown(ns)
    report = run_checks(ex3.EXERCISE, ns, 0)
    failed = {r.name for r in report.results if not r.passed}
    assert failed == {"cooldown", "dry_run"}, format_report(report)  # dry-run entries obey the cooldown too
    ns = solution_ns("ex1")
    m1_never("PageHinkley")(ns)
    failed = {r.name for r in run_checks(ex1.EXERCISE, ns, 0).results if not r.passed}
    assert failed == {"ph_abrupt", "ph_gradual", "warnings"}


# ------------------------------------------------------------------------------------------ bad input


def _message(ex, ns, check):
    r = result(ex, ns, check)
    assert not r.passed and r.points == 0
    assert "\n" not in r.message
    return r


@pytest.mark.parametrize("ex, patch, check, text", [
    ("ex3", lambda ns: ns.update(QualityMonitor=lambda *a, **k: None), "monitor_window",
     "QualityMonitor must be a class; got a function"),
    ("ex3", lambda ns: ns.pop("RollbackController"), "cooldown", "RollbackController is not defined"),
    ("ex3", lambda ns: ns.update(ModelRegistry=type("ModelRegistry", (), {"register": lambda s, *a: None})),
     "registry", "ModelRegistry is missing method(s) promote, alias"),
    ("ex3", lambda ns: _sub(ns, "QualityMonitor", evaluate=lambda self: 1), "monitor_window",
     "QualityMonitor.evaluate() must be a str; got int"),
    ("ex3", lambda ns: _sub(ns, "QualityMonitor", unhealthy=lambda self: False), "monitor_failure_limit",
     "QualityMonitor.unhealthy must be a property, not a method"),
    ("ex3", lambda ns: _sub(ns, "RollbackController", step=lambda self, t: self.audit_log.append({"t": t})),
     "audit_log",
     "an audit_log entry is missing key(s) action, from_version, to_version, reason"),
    ("ex1", lambda ns: ns.update(PageHinkley=object()), "ph_abrupt", "PageHinkley must be a class; got a object"),
    ("ex1", lambda ns: ns.update(WindowAccuracyDetector=type("W", (), {"update": lambda s, c: None,
                                                                         "drift_detected": False})),
     "window_abrupt", "WindowAccuracyDetector is missing property warning_detected"),
    ("ex1", lambda ns: _sub(ns, "PageHinkley", __init__=lambda self, delta: None), "ph_abrupt",
     "PageHinkley() must work without arguments; give delta a default"),
    ("ex1", lambda ns: _sub(ns, "PageHinkley", drift_detected=property(lambda self: "no")), "ph_abrupt",
     "PageHinkley.drift_detected must be a bool; got str"),
    ("ex1", lambda ns: ns.update(diagnose_drift=lambda *a, **k: "drift"), "concept_vs_data",
     "diagnose_drift() must be one of 'none', 'data', 'concept', 'both'"),
    ("ex1", lambda ns: ns.update(diagnose_drift=type("D", (), {})), "concept_vs_data",
     "diagnose_drift must be a function; got a class (D)"),
    ("ex2", lambda ns: ns.update(difficulty_score=lambda text: "hard"), "scorer_reasoning",
     "difficulty_score() must be a number; got str"),
    ("ex2", lambda ns: ns.update(difficulty_score=lambda text: 3.0), "scorer_informative",
     "difficulty_score() must be in [0, 1]; got 3"),
    ("ex2", lambda ns: ns.update(routing_cost=lambda q, t, p: {"cost": 1.0}), "cost_exact",
     "routing_cost() must return a dict with keys cost, baseline_cost"),
    ("ex2", lambda ns: ns.update(sweep=lambda *a: None), "sweep_curve", "sweep() must return a list of dicts"),
])
def test_wrong_kind_of_object_gets_one_line_naming_what_is_missing(ex, patch, check, text):
    ns = solution_ns(ex)
    patch(ns)
    r = _message(ex, ns, check)
    assert r.status == "invalid", r
    assert text in r.message, r.message


def test_an_exception_in_learner_code_shows_its_last_line_and_scenario_and_other_checks_run():
    ns = solution_ns("ex3")
    base = ns["RollbackController"]

    def step(self, t):
        if t == 7:
            raise ZeroDivisionError("division by zero in my step")
        base.step(self, t)
    _sub(ns, "RollbackController", step=step)
    report = run_checks(ex3.EXERCISE, ns, 0)
    by_name = {r.name: r for r in report.results}
    r = by_name["rollback_happens"]
    assert r.status == "error" and r.points == 0
    assert r.message == ("your code raised ZeroDivisionError: division by zero in my step in scenario "
                         "'simulation 'degrade', step 7'")
    for name in ("registry", "monitor_window", "monitor_failure_limit"):
        assert by_name[name].passed, by_name[name]
    ns = solution_ns("ex1")
    ns["diagnose_drift"] = lambda *a, **k: [][1]
    r = result("ex1", ns, "concept_vs_data")
    assert r.message == "your code raised IndexError: list index out of range in scenario 'diagnose_drift, case 1'"


def test_a_half_written_stub_names_the_method_still_missing():
    ns = solution_ns("ex1")

    def warning_detected(self):
        raise NotImplementedError
    _sub(ns, "PageHinkley", warning_detected=property(warning_detected))
    r = result("ex1", ns, "ph_abrupt")
    assert r.status == "not_attempted"
    # "warning_detected" (3.11+: the function's own qualname) or "PageHinkley.warning_detected" (3.10:
    # found through self); either way the message names the missing method first
    assert re.match(r"(PageHinkley\.)?warning_detected is still the stub", r.message)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=25)
_ALL_CHECKS = [(ex, c) for ex, m in MODULES.items() for c in m.EXERCISE.checks]


@pytest.mark.parametrize("ex, check", _ALL_CHECKS, ids=[f"{ex}-{c.name}" for ex, c in _ALL_CHECKS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_json)
def test_judges_never_raise_on_untrusted_data(ex, check, data):
    r = check.judge(data, 3)
    assert isinstance(r, CheckResult) and 0 <= r.points <= r.max_points
    assert not r.passed


_GOOD: dict = {}


def _good_data(ex, check):
    key = (ex, check.name)
    if key not in _GOOD:
        _GOOD[key] = json.loads(json.dumps(collected(check, solution_ns(ex), 3)))
    return _GOOD[key]


def _mutations(value, rnd):
    """Copies of `value` with one leaf (or container) replaced by something of the wrong type."""
    paths = []

    def walk(v, path):
        paths.append(path)
        if isinstance(v, dict):
            for k in v:
                walk(v[k], path + [k])
        elif isinstance(v, list):
            for i in range(min(len(v), 3)):
                walk(v[i], path + [i])
    walk(value, [])
    for path in rnd.sample(paths, min(len(paths), 12)):
        for junk in (None, "x", -1, 1e300, [], {}, True):
            v = copy.deepcopy(value)
            if not path:
                yield junk
                continue
            parent = v
            for p in path[:-1]:
                parent = parent[p]
            parent[path[-1]] = junk
            yield v


@pytest.mark.parametrize("ex, check", _ALL_CHECKS, ids=[f"{ex}-{c.name}" for ex, c in _ALL_CHECKS])
def test_judges_survive_almost_right_data(ex, check):
    """Malformed copies of real data (one field of the wrong type) never make a judge raise."""
    good = _good_data(ex, check)
    rnd = random.Random(0)
    for bad in _mutations(good, rnd):
        r = check.judge(bad, 3)
        assert isinstance(r, CheckResult) and 0 <= r.points <= r.max_points
        assert not (isinstance(r.points, float) and math.isnan(r.points))


def test_reference_helpers_match_scipy():
    from scipy import stats

    rnd = np.random.default_rng(0)
    for _ in range(20):
        x = rnd.integers(0, 8, 40).astype(float)
        y = x + rnd.normal(0, 3, 40)
        assert ex2.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        assert np.allclose(ex2._ranks(x), stats.rankdata(x))
    s = ex1.concept_stream("abrupt", seed=4)
    z = ex1._window_z(s.correct)
    i = 2500
    R, W = 1000, 300
    a, b = s.correct[:R].sum(), s.correct[i - W + 1:i + 1].sum()
    p = (a + b) / (R + W)  # the pooled two-proportion z statistic, written out
    assert z[i] == pytest.approx((a / R - b / W) / math.sqrt(p * (1 - p) * (1 / R + 1 / W)), rel=1e-12)


def test_core_format_report_lines():
    rep = _core.Report("exX", (
        CheckResult("a", 2, 2, True, ""),
        CheckResult("b", 0.5, 2, False, "too late"),
        CheckResult("c", 0, 1, False, "boom", status="error"),
    ))
    assert format_report(rep).splitlines() == [
        "[x] a (2/2): passed", "[ ] b (0.5/2): failed: too late", "[!] c (0/1): failed: boom", "Score: 2.5/5"]


# ------------------------------------------------------------------------- review fixes (one test each)


def _demo(cell: str) -> str:
    return SOLUTION_MD.split("# Exercise")[0] + "# Exercise 0\n\n```{code-cell} ipython3\n" + cell + "```\n"


@pytest.mark.parametrize("cell, message", [
    ("def f():\n    ## BEGIN SOLUTION\n    return 42\n    ## END SOLUTION\n",
     "'## BEGIN SOLUTION' is not a solution marker"),
    ("def f():\n    #### BEGIN SOLUTION\n    return 42\n    #### END SOLUTION\n", "'#### BEGIN SOLUTION' is not"),
    ("def f():\n    ### Begin Solution\n    return 42\n    ### End Solution\n", "'### Begin Solution' is not"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### end solution\n", "'### end solution' is not"),
    ("def f():\n    ### BEGIN SOLUTION extra\n    return 42\n    ### END SOLUTION\n", "is not a solution marker"),
    ("def f():\n    # BEGIN  SOLUTION\n    return 42\n", "is not a solution marker"),
    ("def f():\n    return 1\n<!-- BEGIN SOLUTION -->\n", "markdown solution marker inside a code cell"),
])
def test_strip_rejects_near_miss_markers_that_would_leak_the_solution(cell, message):
    with pytest.raises(build.SolutionMarkupError, match=re.escape(message)) as info:
        build.strip_solutions(_demo(cell), source="demo.md")
    assert "demo.md:" in str(info.value)


def test_strip_rejects_near_miss_markdown_region_markers():
    text = SOLUTION_MD.replace("<!-- BEGIN SOLUTION -->", "<!-- begin solution -->")
    with pytest.raises(build.SolutionMarkupError, match="is not a solution marker"):
        build.strip_solutions(text, source="demo.md")
    text = SOLUTION_MD.replace("<!-- END SOLUTION -->", "<!-- END SOLUTION: the discussion -->")
    with pytest.raises(build.SolutionMarkupError, match="is not a solution marker"):
        build.strip_solutions(text, source="demo.md")


@pytest.mark.parametrize("cell, where", [
    ("class A:\n    ### BEGIN SOLUTION\n    def f(self):\n        return 1\n    ### END SOLUTION\n", "a class body"),
    ("for i in range(3):\n    ### BEGIN SOLUTION\n    print(i)\n    ### END SOLUTION\n", "a top-level for loop"),
    ("if True:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n", "a top-level if"),
    ("def f():\n    pass\nclass B:\n    class C:\n        ### BEGIN SOLUTION\n        y = 2\n"
     "        ### END SOLUTION\n", "a class body"),
])
def test_strip_rejects_a_block_outside_a_function_body(cell, where):
    with pytest.raises(build.SolutionMarkupError, match=f"solution block in {where}"):
        build.strip_solutions(_demo(cell), source="demo.md")


def test_strip_accepts_blocks_nested_anywhere_inside_a_function():
    cell = ("class A:\n    def f(self, x):\n        if x:\n            ### BEGIN SOLUTION\n            return 1\n"
            "            ### END SOLUTION\n        return 0\n\n\nasync def g():\n    ### BEGIN SOLUTION\n    pass\n"
            "    ### END SOLUTION\n")
    out = build.strip_solutions(_demo(cell))
    assert out.count("raise NotImplementedError") == 2 and "return 1" not in out


def test_strip_rejects_a_learner_cell_that_is_not_valid_python():
    cell = "def f():\n    x = 1\n        ### BEGIN SOLUTION\n        return x\n        ### END SOLUTION\n    return 0\n"
    with pytest.raises(build.SolutionMarkupError, match="not valid Python"):
        build.strip_solutions(_demo(cell), source="demo.md")


def test_strip_keeps_the_files_line_endings():
    out = build.strip_solutions(SOLUTION_MD.replace("\n", "\r\n"))
    assert "\n" not in out.replace("\r\n", "")  # every line of the learner version ends the same way
    assert "    raise NotImplementedError  # return twice x\r\n" in out


def test_a_bad_source_or_a_failing_cell_writes_nothing(tmp_path, monkeypatch):
    sol, out = tmp_path / "solutions", tmp_path / "exercises"
    sol.mkdir()
    (sol / "ex0_demo.md").write_text(SOLUTION_MD, encoding="utf-8")
    (sol / "ex1_bad.md").write_text(_demo("class A:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n"),
                                    encoding="utf-8")
    with pytest.raises(build.SolutionMarkupError, match="class body"):
        build.build_exercises(sol, out, execute=False)
    assert not out.exists() or list(out.iterdir()) == []
    (sol / "ex1_bad.md").unlink()

    def fail(md, **kw):
        raise RuntimeError(f"a cell of {md.name} raised")

    monkeypatch.setattr(build, "execute_source", fail)
    with pytest.raises(RuntimeError, match="raised"):
        build.build_exercises(sol, out, execute=True)
    assert list(out.iterdir()) == []  # neither an .md without its .ipynb, nor the temporary copy


def test_describe_exception_ignores_notes():
    exc = ValueError("the real message")
    exc.__notes__ = ["a note added by some library"]  # what add_note (3.11+) does; 3.10 has no add_note
    assert _core.describe_exception(exc) == "ValueError: the real message"
    assert _core.describe_exception(KeyError("k")) == "KeyError: 'k'"
    assert _core.describe_exception(StopIteration()) == "StopIteration"

    class Broken(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert _core.describe_exception(Broken()).endswith("Broken: <exception str() failed>")
    ns = solution_ns("ex1")

    def noted(*a, **k):
        e = ZeroDivisionError("in my code")
        e.__notes__ = ["note"]
        raise e
    ns["diagnose_drift"] = noted
    assert "ZeroDivisionError: in my code in scenario" in result("ex1", ns, "concept_vs_data").message


def test_check_only_must_name_checks_each_once(capsys):
    ns = solution_ns("ex3")
    ex3.check(ns, only=[])
    assert capsys.readouterr().out == ("check(): only must name at least one check (leave it out to run them "
                                       "all); got an empty list\n")
    with pytest.raises(ValueError, match="only must name at least one check"):
        run_checks(ex3.EXERCISE, ns, 0, only=())
    with pytest.raises(TypeError, match="only must"):
        run_checks(ex3.EXERCISE, ns, 0, only=5)
    report = run_checks(ex3.EXERCISE, ns, 0, only=["registry", "registry"])
    assert [r.name for r in report.results] == ["registry"]
    assert report.score == report.max_points == ex3.EXERCISE.get_check("registry").max_points
    ex3.check(ns, only=["registry", "registry"])
    assert capsys.readouterr().out.splitlines()[-1] == f"Score: {report.score:g}/{report.score:g}"
