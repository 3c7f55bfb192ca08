"""scipy's and statsmodels' own test suites, run on prodai_lessons.

The shipped tests of the reference libraries (in the installed wheels) run in a pytest subprocess
with the plugin ``tests/_reference_adapters.py``: while each selected test runs, the function it
checks (``ks_2samp``, ``ttest_ind``, ``chisquare``, ``chi2_contingency``, ``wasserstein_distance``,
``jensenshannon``, the t / chi2 / norm / nct / kstwo distributions, ``proportions_ztest``,
``TTestIndPower``) is replaced by a thin adapter to our implementation, so the suite's own
assertions run on our numbers. Calls outside our API (one-sided alternatives, ``axis``, weights,
``nan_policy``, ...) are answered by the original function and recorded as out of scope, with the
reason. A second subprocess runs the same tests with deliberately wrong implementations behind the
adapters: the suites must then fail, which shows that the adapters really feed them our numbers.

The per-suite report (tests and calls run on our code, out-of-scope calls and skipped tests with
their reasons, failures, what the wrong implementations did) is printed at the end of this module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import scipy
import statsmodels

import _reference_adapters as R

SITE_PACKAGES = Path(scipy.__file__).resolve().parent.parent
TESTS_DIR = Path(__file__).resolve().parent

#: tests (of the installed scipy 1.17 / statsmodels 0.15 suites) that must run on our code, per suite;
#: fewer means the suites changed and the adapters lost coverage
MIN_TESTS_ON_OURS = {
    "scipy ks_2samp -> drift.ks_test": 16,
    "scipy ttest_ind(equal_var=False) -> abtest.welch_test": 2,
    "scipy chisquare/power_divergence -> abtest.srm_check": 10,
    "scipy chi2_contingency -> drift.chi2_test": 3,
    "scipy wasserstein_distance -> drift.wasserstein": 6,
    "scipy jensenshannon -> drift.js_distance": 1,
    "scipy t/chi2/norm (+nct, kstwo, kstwobign, special.kolmogorov) -> stats": 26,
    "statsmodels proportions_ztest -> abtest.proportion_test": 2,
    "statsmodels TTestIndPower -> abtest.power/sample_size": 9,
}


def _run_suites(workdir: Path, mutant: bool) -> subprocess.Popen:
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               PYTHONDONTWRITEBYTECODE="1",
               SCIPY_XSLOW="1",  # scipy's slowest KS tests run too (the far-tail consistency check)
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PRODAI_REF_LEDGER=str(workdir / "ledger.json"), PRODAI_REF_MUTANT="1" if mutant else "0")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "_reference_adapters",
           "-c", str(ini), f"--rootdir={SITE_PACKAGES}", "-q", *R.selected_node_ids(str(SITE_PACKAGES))]
    with open(workdir / "output.txt", "w", encoding="utf-8") as output:  # the child keeps its own handle
        return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory, request):
    """Both runs at once, in two processes: with our implementations and with the wrong ones."""
    if not R.selected_node_ids(str(SITE_PACKAGES)):
        pytest.skip("the installed scipy and statsmodels wheels ship none of these tests")
    dirs = {kind: tmp_path_factory.mktemp(f"suites_{kind}") for kind in ("ours", "wrong")}
    procs = {kind: _run_suites(dirs[kind], mutant=kind == "wrong") for kind in dirs}
    out = {}
    for kind, proc in procs.items():
        proc.wait(timeout=900)
        ledger = dirs[kind] / "ledger.json"
        text = (dirs[kind] / "output.txt").read_text(encoding="utf-8", errors="replace")
        # pytest exit codes 0 (all passed) and 1 (some failed) produce a ledger; others are setup errors
        assert proc.returncode in (0, 1) and ledger.exists(), f"the {kind} run did not complete:\n{text[-3000:]}"
        out[kind] = json.loads(ledger.read_text())["items"]
    yield out
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # the report goes to the terminal, not a capture
            reporter.write_line("")
            reporter.write_sep("-", "reference suites run on prodai_lessons")
            for line in report_lines(out["ours"], out["wrong"]):
                reporter.write_line(line)


def by_suite(items: dict) -> dict[str, dict]:
    groups: dict[str, dict] = {name: {} for name in R.SUITES}
    for node, entry in items.items():
        if entry["suite"] is not None:
            groups[entry["suite"]][node] = entry
    return groups


def report_lines(ours: dict, wrong: dict) -> list[str]:
    lines = [f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}; a call is one call of the "
             "replaced function by a shipped test"]
    wrong_groups = by_suite(wrong)
    for suite, items in by_suite(ours).items():
        ran = {n: e for n, e in items.items() if e["ours"]}
        calls = sum(sum(e["ours"].values()) for e in ran.values())
        failed = [n for n, e in ran.items() if e["outcome"] == "failed"]
        skipped = [e for e in items.values() if e["outcome"] == "skipped"]
        only_out = [e for e in items.values() if not e["ours"] and e["out"] and e["outcome"] != "skipped"]
        silent = [e for e in items.values() if not e["ours"] and not e["out"] and e["outcome"] != "skipped"]
        lines.append(f"{suite}: {len(ran)} tests ran on our code ({calls} calls), {len(failed)} failed; "
                     f"{len(only_out)} made only out-of-scope calls, {len(skipped)} skipped, "
                     f"{len(silent)} call none of the replaced functions")
        for node in failed:
            lines.append(f"  FAILED {node}: {items[node]['message'][:300]}")
        reasons = Counter()
        for e in items.values():
            reasons.update(e["out"])
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"  out of scope ({count} calls) {reason}")
        for reason, count in Counter(e["message"] for e in skipped).items():
            reason = reason.removeprefix("Skipped: ").removeprefix("out of scope: ")
            lines.append(f"  skipped ({count} tests) {reason}")
        w = {n: e for n, e in wrong_groups[suite].items() if n in ran and e["outcome"] in ("passed", "failed")}
        w_failed = sum(e["outcome"] == "failed" for e in w.values())
        lines.append(f"  wrong implementation ({R.MUTANTS[suite]}): {w_failed} of {len(w)} tests fail")
    return lines


def _require_shipped(suite: str) -> None:
    missing = [n for n in R.SUITES[suite][0] if not R.shipped(str(SITE_PACKAGES), n)]
    if missing:
        pytest.skip(f"not in the installed wheel: {', '.join(missing)}")


@pytest.mark.parametrize("suite", list(R.SUITES))
def test_suite_runs_on_our_code_and_passes(ledgers, suite):
    _require_shipped(suite)
    items = by_suite(ledgers["ours"])[suite]
    ran = {n: e for n, e in items.items() if e["ours"]}
    assert len(ran) >= MIN_TESTS_ON_OURS[suite], (
        f"only {len(ran)} tests of {suite} ran on our code (expected >= {MIN_TESTS_ON_OURS[suite]}): "
        f"{sorted(ran)}")
    failed = {n: e["message"] for n, e in items.items() if e["outcome"] == "failed"}
    assert not failed, "\n".join(f"{n}: {m}" for n, m in failed.items())
    # every skip and every out-of-scope call carries its reason
    for node, entry in items.items():
        if entry["outcome"] == "skipped":
            assert entry["message"].strip(), node
        assert all(": " in reason for reason in entry["out"]), node


@pytest.mark.parametrize("suite", list(R.SUITES))
def test_a_wrong_implementation_fails_the_suite(ledgers, suite):
    """The same tests with a deliberately wrong implementation behind the adapters: some must fail
    (and those passed with ours, so the failures come from the numbers the adapters hand over)."""
    _require_shipped(suite)
    ours = by_suite(ledgers["ours"])[suite]
    wrong = by_suite(ledgers["wrong"])[suite]
    failed = sorted(n for n, e in wrong.items() if e["outcome"] == "failed" and ours.get(n, {}).get("ours"))
    assert failed, f"no test of {suite} fails with the wrong implementation"
    assert all(ours[n]["outcome"] == "passed" for n in failed)
    # and the wrong run did answer through the adapters (not through the originals)
    assert all(wrong[n]["ours"] for n in failed)


def test_the_far_tail_consistency_check_of_scipy_runs_on_ours(ledgers):
    """scipy's test_gh12999 (exact and asymptotic p-values within a factor of 3, sizes 1000 to 11000,
    p down to 1e-191) runs on ks_test: 11 sizes x 2 methods."""
    entry = ledgers["ours"]["scipy/stats/tests/test_stats.py::TestKSTwoSamples::test_gh12999"]
    assert entry["ours"] == {"ks_2samp": 22} and entry["outcome"] == "passed"
