"""Tests of ``prodai grade`` (prodai_lessons.tooling.grading): an adversarial set of submissions built from the real
exercise 3 notebooks, each with its expected grade and reason, plus the gradebook, resume and bad input.

The whole adversarial set is graded once, by the command line, with two jobs and a short timeout
(module fixture ``graded``); the tests then read the gradebook it wrote.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest

from prodai_lessons.tooling.cli import main
from prodai_lessons.exercises import ex3
from prodai_lessons.tooling.grading import Limits, Submission, Task, find_submissions, grade_submission
from prodai_lessons.tooling.grading.gradebook import Gradebook, atomic_write_text, feedback_markdown, summarize
from prodai_lessons.tooling.grading.notebook import (
    NotebookError,
    _myst_code_cells,
    assemble,
    load_exercise_source,
    read_code_cells,
    strip_magics,
)
from prodai_lessons.tooling.grading.runner import LearnerGrade, SubmissionsError, _Corrupt, _Frames

ROOT = Path(__file__).resolve().parents[1]
EX = ex3.EXERCISE
SOURCE = load_exercise_source(ROOT / EX.solution_path)
SOLUTION_MD = (ROOT / EX.solution_path).with_suffix(".md")
TIMEOUT = 3.0  # seconds per cell and per check: far above what a correct cell or check takes (ms)
MAX = EX.max_points
PTS = {c.name: c.max_points for c in EX.checks}
MONITOR_CHECKS = ("monitor_window", "monitor_failure_limit")


# ----------------------------------------------------------------------------------- building notebooks


def _first_line(src: str) -> str:
    return next(ln for ln in src.splitlines() if ln.strip())


def stub_cells() -> list[str]:
    return list(SOURCE.cells)


def correct_cells() -> list[str]:
    """The learner notebook with every answer cell replaced by the solution's version of that cell."""
    solution = {_first_line(c): c for c in _myst_code_cells(SOLUTION_MD.read_text(encoding="utf-8"))}
    return [solution[_first_line(c)] if ans else c for c, ans in zip(SOURCE.cells, SOURCE.answer)]


def edit(cells: list[str], cls: str, old: str, new: str) -> list[str]:
    """``cells`` with ``old`` replaced by ``new`` (exactly once) in the cell defining class ``cls``."""
    out, hits = [], 0
    for c in cells:
        if c.startswith(f"class {cls}"):
            assert c.count(old) == 1, f"{old!r} not found once in the {cls} cell"
            c, hits = c.replace(old, new), hits + 1
        out.append(c)
    assert hits == 1
    return out


def prepend(cells: list[str], cls: str, code: str) -> list[str]:
    return [code + c if c.startswith(f"class {cls}") else c for c in cells]


def write_nb(path: Path, cells: list[str]) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}},
          "cells": [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# my work"}]
          + [{"cell_type": "code", "id": f"c{k}", "metadata": {}, "execution_count": None, "outputs": [],
              "source": c.splitlines(keepends=True)} for k, c in enumerate(cells)]}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


DUPLICATE = '            raise ValueError(f"version {version!r} is already registered")'  # registry check only
HISTORY = "        return list(self._history)"  # history(): the registry check only
DRY_RUN = "        self._last_rollback = t\n        if self.dry_run:\n"  # the dry_run check only

PATCH_CHECKS = '''
from prodai_lessons.exercises import _core, ex3
from prodai_lessons.exercises._core import CheckResult
for c in ex3.EXERCISE.checks:
    object.__setattr__(c, "collect", lambda ns, inputs, ask=None: {"passed": True})
    object.__setattr__(c, "judge", lambda data, seed, c=c: CheckResult(c.name, c.max_points, c.max_points,
                                                                        True, "ok"))
_core.run_checks = lambda *a, **k: None
ex3.check = lambda *a, **k: print("All checks passed! Score: 18/18")
'''
PATCH_BUILTINS = '''
import builtins
builtins.isinstance = lambda *a: True
builtins.print = lambda *a, **k: None
'''
FAKE_PASS = 'print("\\n".join(f"[x] {n} (2/2): passed" for n in range(9)) + "\\nScore: 18/18. All checks passed!")'
HUGE_OUTPUT = '''
import os, sys
print("x" * 10_000_000)
sys.stderr.write("y" * 1_000_000)
os.write(1, b"z" * 10_000_000)
'''
SLEEP = 3000 + os.getpid() % 1000  # a child the learner leaves behind, recognisable by its argument
DETACHED = SLEEP + 0.5  # ... and one that leaves the worker's session and process group (a daemon)
DETACH = f'''
import os, subprocess
subprocess.Popen(["sleep", "{DETACHED}"], start_new_session=True)
if os.fork() == 0:  # the classic double fork: the grandchild's parent is gone before the worker ends
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{DETACHED}"])
    os._exit(0)
'''
# valid Python that only looks like IPython syntax (PEP 8 breaks before binary operators; % and ! inside a
# string), then real IPython syntax (a magic, an assignment from a shell escape): Jupyter runs all of it
PEP8_REGISTRY = ('            raise ValueError("version %r is already registered"\n'
                 '                             % (version,))')
IPYTHON_LOOKALIKES = '''%matplotlib inline
NOTE = """
%this line is text
!and so is this one
"""
same = (1
        != 2)
total = 7 \\
    % 4
files = !ls
assert NOTE.splitlines()[1] == "%this line is text" and same and total == 3 and files == []
'''
PICKLES = '''import copy, pickle
import __main__

class Point:
    def __init__(self, x):
        self.x = x

assert pickle.loads(pickle.dumps(Point(3))).x == 3 and copy.deepcopy(Point(4)).x == 4
assert __main__.Point is Point and __name__ == "__main__"
'''
GARBAGE = '''
import os
import re
for fd in range(3, 256):
    try:
        os.write(fd, b"garbage that is not a frame\\n")
    except OSError:
        pass
'''


def writes_outside(victim: Path, gradebook: Path, escape_name: str) -> str:
    return f'''
import os
import re
for target in [{str(victim)!r}, {str(gradebook)!r}, {str(gradebook.with_suffix(".json"))!r}, "../{escape_name}"]:
    try:
        with open(target, "w") as f:
            f.write("pwned")
    except OSError:
        pass
try:
    os.remove({str(gradebook)!r})
except OSError:
    pass
'''


# ------------------------------------------------------------------------- the adversarial submissions


def ok_except(*names: str) -> float:
    return MAX - sum(PTS[n] for n in names)


def monitor_only() -> float:
    return sum(PTS[n] for n in MONITOR_CHECKS)


#: learner -> (expected score, {check: expected status} for the checks that do not pass, note substring)
EXPECTED: dict[str, tuple[float, dict[str, str], str | None]] = {
    "correct": (MAX, {}, None),
    "empty_stub": (0.0, {c: "not_attempted" for c in PTS}, None),
    "syntax_error": (monitor_only(), {c: "invalid" for c in PTS if c not in MONITOR_CHECKS}, "SyntaxError"),
    "infinite_loop_one_method": (ok_except("registry"), {"registry": "timeout"}, None),
    "memory_bomb": (ok_except("registry"), {"registry": "memory"}, None),
    "segfault_one_method": (ok_except("registry"), {"registry": "error"}, None),
    "sys_exit_at_import": (monitor_only(), {c: "invalid" for c in PTS if c not in MONITOR_CHECKS}, "SystemExit"),
    "os_exit_at_import": (PTS["registry"], {c: "invalid" for c in PTS if c != "registry"}, "ended the process"),
    "exception_one_method": (ok_except("dry_run"), {"dry_run": "error"}, None),
    "patch_checks": (0.0, {c: "invalid" for c in PTS}, None),
    "patch_builtins": (0.0, {c: "invalid" for c in PTS}, None),
    "fake_all_passed": (0.0, {c: "not_attempted" for c in PTS}, None),
    "ten_mb_output": (MAX, {}, "printed"),
    "writes_outside": (MAX, {}, None),
    "channel_garbage": (MAX, {}, "corrupted the grader's results channel"),
    "edited_setup_cell": (MAX, {}, None),
    "forks_a_child": (MAX, {}, None),
    "detaches_a_child": (MAX, {}, None),
    "not_json": (0.0, {c: "invalid" for c in PTS}, None),
    "pep8_and_ipython_lookalikes": (MAX, {}, None),
    "pickles_its_objects": (MAX, {}, None),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Build the adversarial class, grade it once with ``prodai grade --jobs 2``; return paths and output."""
    d = tmp_path_factory.mktemp("grading")
    subs, out = d / "class", d / "book" / "grades.csv"
    subs.mkdir()
    victim = d / "victim.txt"
    escape = f"escape-{uuid.uuid4().hex}.txt"
    good, stub = correct_cells(), stub_cells()
    nbs = {
        "correct": good,
        "empty_stub": stub,
        "syntax_error": edit(good, "ModelRegistry", "def register(self, version: str, eval_score",
                             "def register(self, version: str eval_score"),
        "infinite_loop_one_method": good_with_loop(),
        "memory_bomb": edit(good, "ModelRegistry", HISTORY,
                            "        hog = [bytes(10**7) for _ in range(10**6)]\n" + HISTORY),
        "segfault_one_method": edit(good, "ModelRegistry", DUPLICATE,
                                    "            import ctypes\n            ctypes.string_at(0)"),
        "sys_exit_at_import": prepend(good, "ModelRegistry", "import sys\nsys.exit('bye')\n\n"),
        "os_exit_at_import": prepend(good, "QualityMonitor", "import os\nos._exit(0)\n\n"),
        "exception_one_method": edit(good, "RollbackController", DRY_RUN,
                                     DRY_RUN + "            raise RuntimeError('dry run is not supported yet')\n"),
        "patch_checks": stub + [PATCH_CHECKS],
        "patch_builtins": good + [PATCH_BUILTINS],
        "fake_all_passed": stub + [FAKE_PASS],
        "ten_mb_output": good + [HUGE_OUTPUT],
        "writes_outside": good + [writes_outside(victim, out, escape)],
        "channel_garbage": good + [GARBAGE],
        "edited_setup_cell": ["deque = None  # I do not need this import"] + good[1:],
        "forks_a_child": good + [f"import subprocess\nsubprocess.Popen(['sleep', '{SLEEP}'])"],
        "detaches_a_child": good + [DETACH],
        "pep8_and_ipython_lookalikes": edit(good, "ModelRegistry", DUPLICATE, PEP8_REGISTRY) + [IPYTHON_LOOKALIKES],
        "pickles_its_objects": good + [PICKLES],
    }
    for name, cells in nbs.items():
        write_nb(subs / f"{name}.ipynb", cells)
    (subs / "not_json").mkdir()  # a learner folder whose notebook was cut off mid-save
    (subs / "not_json" / "ex3_automated_rollback.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')
    assert set(nbs) | {"not_json"} == set(EXPECTED)
    argv = ["grade", "--exercise", "ex3", str(subs), "--out", str(out), "--jobs", "2", "--timeout", str(TIMEOUT),
            "--memory", "512", "--seed", "11"]
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(argv)
    book = json.loads(out.with_suffix(".json").read_text())
    return {"status": status, "out": out, "book": book, "stdout": buf.getvalue(), "victim": victim,
            "escape": Path(tempfile.gettempdir()) / escape, "argv": argv, "subs": subs}


def _learner(graded, name: str) -> dict:
    return next(e for e in graded["book"]["learners"] if e["learner"] == name)


def test_run_finishes_and_every_learner_is_in_the_gradebook(graded):
    assert graded["status"] == 0
    assert sorted(e["learner"] for e in graded["book"]["learners"]) == sorted(EXPECTED)
    with open(graded["out"], newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["learner", "exercise", "score", "max"] + [c.name for c in EX.checks]
    assert sorted(r[0] for r in rows[1:]) == sorted(EXPECTED)
    for r in rows[1:]:  # the CSV says what the JSON says
        e = _learner(graded, r[0])
        assert r[1] == "ex3" and float(r[2]) == e["score"] and float(r[3]) == MAX
        assert [float(x) for x in r[4:]] == [c["points"] for c in e["checks"]]
    for name in EXPECTED:
        assert (graded["out"].parent / "feedback" / f"{name}.md").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_adversarial_submission_gets_its_expected_grade_and_reason(graded, name):
    score, failing, note = EXPECTED[name]
    e = _learner(graded, name)
    statuses = {c["name"]: c["status"] for c in e["checks"]}
    assert {n: statuses[n] for n in failing} == failing, e
    for c in e["checks"]:
        assert c["passed"] == (c["name"] not in failing), c
        if c["name"] in failing:
            assert c["points"] == 0 and c["message"], c
    assert e["score"] == pytest.approx(score)
    if note is not None:
        assert any(note in n for n in e["notes"]), e["notes"]
    else:  # every cell ran without an error (forks_a_child: the child was started)
        assert e["notes"] == [], e["notes"]


def test_reasons_name_the_cause(graded):
    msg = {n: {c["name"]: c["message"] for c in _learner(graded, n)["checks"]} for n in EXPECTED}
    assert "did not finish within 3 s" in msg["infinite_loop_one_method"]["registry"]
    assert "out of memory (limit 512 MB)" in msg["memory_bomb"]["registry"]
    assert "SIGSEGV" in msg["segfault_one_method"]["registry"]
    assert "RuntimeError: dry run is not supported yet" in msg["exception_one_method"]["dry_run"]
    assert "ModelRegistry is not defined" in msg["syntax_error"]["registry"]
    assert "QualityMonitor is not defined" in msg["os_exit_at_import"]["monitor_window"]
    assert "not valid JSON" in msg["not_json"]["registry"]
    for c in EX.checks:
        assert "replaced part of the grading code" in msg["patch_checks"][c.name]
        assert "(check audit_log.collect, check cooldown.collect," in msg["patch_checks"][c.name]
        assert "builtins.isinstance" in msg["patch_builtins"][c.name]
        assert "still the stub" in msg["fake_all_passed"][c.name]
    notes = _learner(graded, "os_exit_at_import")["notes"]
    assert "your code cell 4 (import os) ended the process (exit status 0; os._exit?)" in notes[0]
    # annotations are evaluated when a class is defined, as in Jupyter (the worker's own
    # ``from __future__ import annotations`` does not leak into learner code)
    assert "NameError: name 'QualityMonitor' is not defined" in notes[1]
    assert any("printed 11,000,001 characters" in n for n in _learner(graded, "ten_mb_output")["notes"])


def test_the_patch_really_fools_checks_run_in_the_learners_process():
    """The patch_checks attack is real: run in the same process as the checks it reports full marks.
    (In a subprocess, so this test process keeps its own, unpatched checks.)"""
    code = ("from prodai_lessons.exercises import ex3\nfrom prodai_lessons.exercises._core import run_checks\n"
            f"ns = {{}}\nfor c in {stub_cells() + [PATCH_CHECKS]!r}:\n    exec(c, ns)\n"
            "r = run_checks(ex3.EXERCISE, ns, seed=11)\nprint('SCORE', r.score, r.max_points)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines()[-1].split() == ["SCORE", f"{MAX:g}", f"{MAX:g}"], out.stderr


def _children(pid: int) -> list[str]:
    """Command lines of the live processes whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return out


def _descendants(pid: int) -> list[int]:
    """The live processes below ``pid`` (children, grandchildren, ...)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parent[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


#: The command line a test starts the grader with (``prodai grade`` in a process of its own).
CLI = [sys.executable, "-c", "import sys; from prodai_lessons.tooling.cli import main; sys.exit(main())"]


def _end(proc: subprocess.Popen) -> None:
    """In a test's ``finally``: the grader it started is gone, whatever happened (its workers follow it)."""
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def _running(cmdline: str) -> int:
    """How many live processes have exactly this command line."""
    n = 0
    for p in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            n += p.read_bytes().replace(b"\0", b" ").strip() == cmdline.encode()
        except OSError:
            continue
    return n


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_no_process_outlives_the_run(graded):
    assert _children(os.getpid()) == []  # every worker was reaped
    assert _running(f"sleep {SLEEP}") == 0  # the learner's forked child went with the worker's process group


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or os.geteuid() != 0,
                    reason="the grader run by root (the normal user's run is the test below)")
def test_detached_processes_do_not_outlive_the_run(graded):
    """``setsid`` takes a process out of the worker's process group, so killing the group misses it; the
    worker's PID namespace does not: when its first process ends, the kernel kills every process in it.
    This is the run as root; ``..._as_a_normal_user`` below is the same for a grader run by a normal user."""
    assert "private PID namespace" in _learner(graded, "detaches_a_child")["sandbox"]
    assert _running(f"sleep {DETACHED}") == 0


def test_cancel_kills_the_worker(tmp_path):
    import threading
    import time

    from prodai_lessons.tooling.grading.runner import GradingCancelled

    nb = write_nb(tmp_path / "loop.ipynb", good_with_loop())
    cancel = threading.Event()
    task = Task(EX, "prodai_lessons.exercises.ex3", SOURCE, 0, Limits(timeout=60))
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(GradingCancelled):
        grade_submission(task, Submission("loop", str(nb)), cancel)
    assert time.monotonic() - t0 < 10  # not the 60 s timeout
    assert _children(os.getpid()) == []


def test_interrupted_run_keeps_finished_grades_and_resumes(tmp_path):
    """Ctrl-C during a run: exit 130, the learners already graded are in the gradebook, a rerun grades
    only the others."""
    import signal
    import time

    subs, out = tmp_path / "class", tmp_path / "g.csv"
    subs.mkdir()
    write_nb(subs / "a_quick.ipynb", correct_cells())
    write_nb(subs / "z_slow.ipynb", good_with_loop())
    cmd = CLI + ["grade", "--exercise", "ex3", str(subs), "--out", str(out), "--jobs", "1", "--timeout", "60",
                 "--seed", "2"]

    def graded_learners() -> int:
        try:
            return len(json.loads(out.with_suffix(".json").read_text())["learners"])
        except (OSError, ValueError, KeyError):
            return 0

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while graded_learners() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the slow learner's worker is now in its infinite loop
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        _end(proc)
    assert proc.returncode == 130 and "interrupted: 1 learner(s) saved" in err
    book = json.loads(out.with_suffix(".json").read_text())
    assert [e["learner"] for e in book["learners"]] == ["a_quick"]
    assert _children(os.getpid()) == []
    write_nb(subs / "z_slow.ipynb", stub_cells())  # resume: only the missing learner is graded
    res = subprocess.run(cmd[:-6] + ["--jobs", "1", "--timeout", "3", "--seed", "2"], capture_output=True,
                         text=True, timeout=60)  # ... under the same limits only
    assert res.returncode == 2 and "limits.timeout 60.0 then, 3.0 now" in res.stderr, res.stderr
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "1 submission(s), 1 already in" in res.stdout, res.stderr
    book2 = json.loads(out.with_suffix(".json").read_text())
    assert book2["learners"][0] == book["learners"][0]
    assert [(e["learner"], e["score"]) for e in book2["learners"]] == [("a_quick", MAX), ("z_slow", 0.0)]


def good_with_loop() -> list[str]:
    return edit(correct_cells(), "ModelRegistry", DUPLICATE, "            while True:\n                pass")


def test_learner_code_cannot_write_outside_its_directory(graded):
    e = _learner(graded, "writes_outside")
    if not any(s.startswith("landlock") for s in e["sandbox"]):
        pytest.skip(f"no Landlock on this kernel: {e['sandbox']}")
    assert not graded["victim"].exists()
    assert not graded["escape"].exists()
    with open(graded["out"], newline="") as f:  # the gradebook is the grader's, intact
        assert next(csv.reader(f))[:4] == ["learner", "exercise", "score", "max"]


def _landlock_abi() -> int:
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return max(0, libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


@pytest.mark.skipif(_landlock_abi() < 6, reason="needs Landlock signal scoping (Linux >= 6.12)")
def test_learner_code_cannot_kill_the_grader(tmp_path):
    nb = write_nb(tmp_path / "killer.ipynb", correct_cells() + [
        "import os, signal\nfor sig in (signal.SIGTERM, signal.SIGKILL):\n    try:\n"
        "        os.kill(os.getppid(), sig)\n    except OSError as exc:\n        print(exc)"])
    res = subprocess.run([sys.executable, "-c", "import sys; from prodai_lessons.tooling.cli import main; sys.exit(main())",
                          "grade", "--exercise", "ex3", str(nb), "--out", str(tmp_path / "g.csv"), "--jobs", "1",
                          "--timeout", str(TIMEOUT), "--seed", "1"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "g.json").read_text())["learners"][0]["score"] == MAX


def test_summary_is_printed(graded):
    out = graded["stdout"]
    scores = [e["score"] for e in graded["book"]["learners"]]
    assert f"mean {np.mean(scores):.2f}/{MAX:g}" in out
    assert f"median {np.median(scores):g}" in out
    assert "distribution:" in out and "not passed, by check:" in out
    n_timeout = sum(c["status"] == "timeout" for e in graded["book"]["learners"] for c in e["checks"])
    assert n_timeout == 1 and "timeout 1" in out


def test_rerun_skips_graded_learners_and_force_regrades(graded, tmp_path):
    out = tmp_path / "g.csv"
    one = tmp_path / "one"
    one.mkdir()
    write_nb(one / "ann.ipynb", correct_cells())
    assert main(["grade", "--exercise", "ex3", str(one), "--out", str(out), "--jobs", "1", "--seed", "3"]) == 0
    first = json.loads(out.with_suffix(".json").read_text())
    write_nb(one / "ben.ipynb", stub_cells())
    assert main(["grade", "--exercise", "ex3", str(one), "--out", str(out), "--jobs", "1"]) == 0  # seed reused
    second = json.loads(out.with_suffix(".json").read_text())
    assert second["seed"] == 3
    assert [e["learner"] for e in second["learners"]] == ["ann", "ben"]
    assert second["learners"][0] == first["learners"][0]  # ann was not regraded
    # ann's notebook changes: a plain rerun keeps her grade, --force regrades from the new notebook
    # (a change of score, not of timing, tells that the regrade happened)
    write_nb(one / "ann.ipynb", stub_cells())
    assert main(["grade", "--exercise", "ex3", str(one), "--out", str(out), "--jobs", "1"]) == 0
    kept = json.loads(out.with_suffix(".json").read_text())
    assert [e["score"] for e in kept["learners"]] == [MAX, 0.0]
    assert main(["grade", "--exercise", "ex3", str(one), "--out", str(out), "--force"]) == 0
    third = json.loads(out.with_suffix(".json").read_text())
    assert [e["score"] for e in third["learners"]] == [0.0, 0.0]


def test_grading_seed_changes_the_scenarios_not_the_grade(tmp_path):
    nb = write_nb(tmp_path / "a.ipynb", correct_cells())
    for seed in (0, 5):
        g = grade_submission(Task(EX, "prodai_lessons.exercises.ex3", SOURCE, seed, Limits(timeout=TIMEOUT)),
                             Submission("a", str(nb)))
        assert g.score == MAX and g.seed == seed


# ------------------------------------------------------------------------------------------- bad input


def _run(argv, capsys):
    status = main(argv)
    return status, capsys.readouterr()


def test_unknown_exercise(tmp_path, capsys):
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    status, io = _run(["grade", "--exercise", "ex9", str(nb), "--out", str(tmp_path / "g.csv")], capsys)
    assert status == 2 and "unknown exercise 'ex9'" in io.err and "ex3" in io.err
    assert not (tmp_path / "g.csv").exists()


def test_missing_submission(tmp_path, capsys):
    status, io = _run(["grade", "--exercise", "ex3", str(tmp_path / "nope.ipynb"), "--out",
                       str(tmp_path / "g.csv")], capsys)
    assert status == 2 and "nope.ipynb: no such file or folder" in io.err


def test_folder_without_notebooks(tmp_path, capsys):
    (tmp_path / "class" / "amy").mkdir(parents=True)
    (tmp_path / "class" / "notes.txt").write_text("hi")
    status, io = _run(["grade", "--exercise", "ex3", str(tmp_path / "class"), "--out", str(tmp_path / "g.csv")],
                      capsys)
    assert status == 2 and "no notebook" in io.err


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_jobs_must_be_positive(tmp_path, capsys, jobs):
    with pytest.raises(SystemExit) as exc:
        main(["grade", "--exercise", "ex3", str(tmp_path), "--jobs", jobs])
    assert exc.value.code == 2
    assert "--jobs: must be a positive integer" in capsys.readouterr().err


@pytest.mark.parametrize("content, expected", [
    ("name,grade\nann,3\n", "is not a prodai gradebook"),
    ("learner,exercise,score,max,q1\nann,ex3,1,1,1\n", "not the checks of ex3"),
    (b"\xff\xfe\x00garbage", "cannot read the gradebook"),
])
def test_unreadable_gradebook_is_an_error_and_left_alone(tmp_path, capsys, content, expected):
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    out = tmp_path / "g.csv"
    out.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = out.read_bytes()
    status, io = _run(["grade", "--exercise", "ex3", str(nb), "--out", str(out), "--force"], capsys)
    assert status == 2 and expected in io.err
    assert out.read_bytes() == before


def test_unwritable_outputs_are_an_error_before_grading(tmp_path, capsys):
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    (tmp_path / "fb").write_text("a file, not a folder")
    status, io = _run(["grade", "--exercise", "ex3", str(nb), "--out", str(tmp_path / "g.csv"), "--feedback",
                       str(tmp_path / "fb")], capsys)
    assert status == 2 and "cannot write the outputs" in io.err and "grading ex3" not in io.out


def test_damaged_or_foreign_json_gradebook(tmp_path, capsys):
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    out = tmp_path / "g.csv"
    assert main(["grade", "--exercise", "ex3", str(nb), "--out", str(out), "--seed", "1", "--jobs", "1"]) == 0
    capsys.readouterr()
    status, io = _run(["grade", "--exercise", "ex3", str(nb), "--out", str(out), "--seed", "2"], capsys)
    assert status == 2 and "was graded with --seed 1, not 2" in io.err
    out.with_suffix(".json").write_text('{"format": "prodai-gradebook", "exercise": "ex3", "seed": 1, "checks"')
    status, io = _run(["grade", "--exercise", "ex3", str(nb), "--out", str(out), "--seed", "1"], capsys)
    assert status == 2 and "is not valid JSON" in io.err
    out.with_suffix(".json").unlink()
    status, io = _run(["grade", "--exercise", "ex3", str(nb), "--out", str(out), "--seed", "1"], capsys)
    assert status == 2 and "cannot be resumed" in io.err


def test_malformed_submissions_are_graded_zero_with_the_reason(tmp_path):
    task = Task(EX, "prodai_lessons.exercises.ex3", SOURCE, 0, Limits(timeout=TIMEOUT))
    cases = {
        "not_a_notebook.ipynb": ('["just", "a", "list"]', "not a Jupyter notebook"),
        "v3.ipynb": ('{"worksheets": [], "nbformat": 3}', "nbformat 3"),
        "binary.ipynb": (b"\x89PNG\r\n\x1a\n", "not UTF-8"),
        "bad_cell.ipynb": ('{"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}', "cell 1 has a source"),
    }
    for fname, (content, reason) in cases.items():
        p = tmp_path / fname
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        g = grade_submission(task, Submission(p.stem, str(p)))
        assert g.score == 0 and all(r.status == "invalid" and reason in r.message for r in g.results), g
    g = grade_submission(task, Submission("ghost", None, "the folder holds no notebook (.ipynb)"))
    assert g.score == 0 and "holds no notebook" in g.results[0].message


def test_a_broken_exercise_is_a_grader_error_not_a_grade(tmp_path, capsys, monkeypatch):
    from prodai_lessons.tooling.grading import runner

    nb = write_nb(tmp_path / "a.ipynb", correct_cells())
    with pytest.raises(runner.GraderError, match="No module named 'no_such_exercise'"):
        grade_submission(Task(EX, "no_such_exercise", SOURCE, 0, Limits(timeout=TIMEOUT)), Submission("a", str(nb)))
    # through the command line: exit 1, the learner stays out of the gradebook so a rerun retries
    from prodai_lessons.tooling.grading import cli as grading_cli

    real = runner.Task
    monkeypatch.setattr(grading_cli, "Task", lambda ex, module, *a, **k: real(ex, "no_such_exercise", *a, **k))
    status, io = _run(["grade", "--exercise", "ex3", str(nb), "--out", str(tmp_path / "g.csv"), "--jobs", "1"],
                      capsys)
    assert status == 1 and "a: " in io.err and "No module named" in io.err
    assert json.loads((tmp_path / "g.json").read_text())["learners"] == []


def test_limits_reject_bad_values():
    for bad in ({"timeout": 0}, {"timeout": float("nan")}, {"memory_mb": 10}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Limits(**bad)
    for bad in ({"memory_mb": True}, {"timeout": "10"}, {"fsize_mb": 64.0}):   # the wrong type: TypeError
        with pytest.raises(TypeError, match=next(iter(bad))):
            Limits(**bad)


# --------------------------------------------------------------------------------------- the parts


def test_find_submissions_folder_layout(tmp_path):
    c = tmp_path / "class"
    (c / "amy").mkdir(parents=True)
    write_nb(c / "amy" / "ex3_automated_rollback.ipynb", stub_cells())
    write_nb(c / "amy" / "scratch.ipynb", stub_cells())  # the exercise's name wins
    (c / "bo" / "sub").mkdir(parents=True)
    write_nb(c / "bo" / "sub" / "whatever.ipynb", stub_cells())  # the only notebook
    (c / "cy").mkdir()
    write_nb(c / "cy" / "a.ipynb", stub_cells())
    write_nb(c / "cy" / "b.ipynb", stub_cells())  # ambiguous
    (c / "dee").mkdir()  # empty
    write_nb(c / "eve.ipynb", stub_cells())
    (c / ".ipynb_checkpoints").mkdir()
    write_nb(c / ".ipynb_checkpoints" / "eve-checkpoint.ipynb", stub_cells())
    subs = {s.learner: s for s in find_submissions([c], "ex3_automated_rollback.ipynb")}
    assert sorted(subs) == ["amy", "bo", "cy", "dee", "eve"]
    assert subs["amy"].path.endswith("amy/ex3_automated_rollback.ipynb")
    assert subs["bo"].path.endswith("whatever.ipynb")
    assert subs["cy"].path is None and "2 notebooks" in subs["cy"].problem
    assert subs["dee"].path is None and "no notebook" in subs["dee"].problem
    with pytest.raises(SubmissionsError, match="'eve' appears twice"):
        find_submissions([c, c / "eve.ipynb"], "x.ipynb")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(SubmissionsError, match="not a notebook"):
        find_submissions([tmp_path / "notes.txt"])


def test_exercise_source_marks_answer_cells():
    # the answer cells are exactly the stubbed ones: they contain the stub line, the others do not
    assert SOURCE.n_answer_cells == 3
    for cell, ans in zip(SOURCE.cells, SOURCE.answer):
        assert ("raise NotImplementedError" in cell) == ans


def test_assemble_takes_instructor_cells_from_the_exercise():
    good = correct_cells()
    setup = SOURCE.cells[0]
    # the learner deleted the setup cell, edited a check cell, added cells with magics
    learner = good[1:2] + ["ex3.check(globals())  # edited\nprint('18/18')"] + good[3:] + ["%timeit 1\n!ls"]
    prog = assemble(SOURCE, learner, EX.entry_points)
    srcs = [(p.origin, p.source) for p in prog]
    assert ("exercise", setup) in srcs  # restored from the exercise
    assert not any(o == "exercise" and "check(" in s for o, s in srcs)  # the check cells are not run
    assert ("learner", "ex3.check(globals())  # edited\nprint('18/18')") in srcs  # it is learner code now
    assert srcs[-1] == ("learner", "pass  # timeit 1\npass  # ls")
    assert [o for o, _ in srcs].count("learner") == 5
    # the untouched notebook: the setup cell once, the answers in order, no check cell
    prog = assemble(SOURCE, good, EX.entry_points)
    assert [p.origin for p in prog] == ["exercise", "learner", "learner", "learner"]


def test_strip_magics():
    assert strip_magics("%%time\nx = 1\n  %matplotlib inline\n!pip install x") == \
        "x = 1\n  pass  # matplotlib inline\npass  # pip install x"
    assert strip_magics("a = 5 % 2") == "a = 5 % 2"


def test_read_code_cells(tmp_path):
    p = write_nb(tmp_path / "n.ipynb", ["a = 1", "b = 2"])
    assert read_code_cells(p) == ["a = 1", "b = 2"]
    p.write_text("{")
    with pytest.raises(NotebookError, match="not valid JSON"):
        read_code_cells(p)


def test_frames_parser_accepts_only_this_runs_frames():
    f = _Frames("ab" * 16)
    payload = json.dumps({"event": "hello", "x": [1, 2]}).encode()
    frame = b"ab" * 16 + b" %d\n" % len(payload) + payload + b"\n"
    got = []
    for i in range(len(frame)):  # byte by byte: a frame split anywhere still parses
        got += f.feed(frame[i:i + 1])
    assert got == [{"event": "hello", "x": [1, 2]}]
    f = _Frames("ab" * 16)  # good frames before garbage come out first; the garbage raises next
    assert f.feed(frame + b"garbage") == [{"event": "hello", "x": [1, 2]}]
    with pytest.raises(_Corrupt, match="nonce"):
        f.feed(b"")
    for bad in (b"garbage\n", b"ab" * 15 + b"cd 5\n{}\n", b"ab" * 16 + b" 2\n{}X",
                b"ab" * 16 + b" 2\n[]\n", b"ab" * 16 + b" x\n", b"ab" * 16 + b" 99999999999\n"):
        with pytest.raises(_Corrupt):
            _Frames("ab" * 16).feed(bad)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "g.csv"
    atomic_write_text(p, "old")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        atomic_write_text(p, "new")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["g.csv"]


def _grade(learner: str, points: list[float], statuses: list[str] | None = None) -> LearnerGrade:
    from prodai_lessons.exercises._core import CheckResult

    statuses = statuses or ["ok"] * len(points)
    return LearnerGrade(learner, "ex3", 0, tuple(
        CheckResult(c.name, p, c.max_points, p == c.max_points, "", s)
        for c, p, s in zip(EX.checks, points, statuses)))


def test_summarize_matches_numpy():
    rng = np.random.default_rng(4)
    grades = [_grade(f"l{i}", [float(rng.integers(0, 3)) for _ in EX.checks]) for i in range(37)]
    s = summarize(grades, EX)
    scores = np.array([g.score for g in grades])
    assert s.n == 37 and s.mean == pytest.approx(scores.mean()) and s.median == np.median(scores)
    counts, edges = np.histogram(scores, bins=5, range=(0, MAX))  # numpy's last bin includes the top too
    assert [c for _, _, c in s.histogram] == counts.tolist()
    assert [lo for lo, _, _ in s.histogram] == pytest.approx(edges[:-1].tolist())
    fails = dict(s.failures)
    for k, c in enumerate(EX.checks):
        assert sum(n for _, n in fails[c.name]) == sum(g.results[k].points < c.max_points for g in grades)


def test_feedback_escapes_table_cells():
    from prodai_lessons.exercises._core import CheckResult

    g = LearnerGrade("x", "ex3", 0, tuple(CheckResult(c.name, 0.0, c.max_points, False, "a | b\nc", "error")
                                          for c in EX.checks), ("a note",))
    md = feedback_markdown(g, EX)
    assert "a \\| b c" in md and "- a note" in md and "**0 / 18**" in md


def test_gradebook_rejects_grades_of_other_checks(tmp_path):
    book = Gradebook(tmp_path / "g.csv", EX, 0)
    with pytest.raises(ValueError, match="checks of ex3"):
        book.add(LearnerGrade("x", "ex3", 0, ()))


# ------------------------------------------------------------------------- review fixes (one test each)


def _stdlib_sources() -> list[str]:
    import difflib
    import doctest
    import pprint
    import pydoc
    import textwrap

    # stdlib modules that break long expressions before a % (and have % and ! inside strings)
    return [Path(m.__file__).read_text(encoding="utf-8") for m in (difflib, doctest, pprint, pydoc, textwrap)]


def _course_sources() -> list[str]:
    out = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "prodai_lessons").rglob("*.py"))]
    for md in sorted((ROOT / "solutions").glob("*.md")) + sorted((ROOT / "notebooks").glob("*.md")):
        out += [c for c in _myst_code_cells(md.read_text(encoding="utf-8")) if _parses(c)]
    return out


def _parses(src: str) -> bool:
    import ast

    try:
        ast.parse(src)
    except SyntaxError:
        return False
    return True


def _tokenize_logical_starts(src: str) -> list[bool]:
    """The reference: a physical line starts a logical line iff the one before ended with a NEWLINE token,
    or with an NL token outside brackets (a blank or comment-only line)."""
    import io
    import tokenize

    n = len(re.split(r"\r\n?|\n", src))
    ends: set[int] = set()
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.NEWLINE or (tok.type == tokenize.NL and depth == 0):
            ends.add(tok.start[0])
    return [row == 1 or (row - 1) in ends for row in range(1, n + 1)]


VALID_LOOKALIKES = [
    PEP8_REGISTRY.strip(),
    "x = (a\n != b)",
    "x = [1,\n     2][0] \\\n    % 7",
    's = """\n%not a magic\n!nor a shell escape\n"""',
    "s = f'''\n  %{1}\n!'''",
    "s = 'one line \\\n%s' % 3",
    "def f():\n    return (1\n            % 2)  # ) a bracket in a comment\n",
    "d = {'a': '%(x)s'\n     % {'x': 1}}",
]


def test_strip_magics_only_touches_ipython_syntax_at_logical_line_starts():
    """Valid Python never changes (also where a continuation line or a line of a triple-quoted string starts
    with % or !); IPython syntax at a logical line start is neutralised, including assignments from it."""
    for src in VALID_LOOKALIKES:
        assert _parses(src), src
        assert strip_magics(src) == src
    assert strip_magics("files = !ls -l\nt = %timeit -o f()\nx = 1") == \
        "files = []  # !ls -l\nt = None  # %timeit -o f()\nx = 1"
    # a magic continued with a backslash is commented out with its continuation, as IPython reads it
    assert strip_magics("%env A=\\\n   1\nx = (1 +\n     2)\n!ls") == \
        "pass  # env A=\\\n   # 1\nx = (1 +\n     2)\npass  # ls"
    # a neutralised magic no longer opens a bracket or a string for the lines after it
    assert strip_magics("!echo (\n%cd '\nx = 1") == "pass  # echo (\npass  # cd '\nx = 1"
    for src in ("%%time\n  \nx = (1\n% 2)\n!ls", "\n%%capture\nfiles = !ls\nprint(files)"):
        assert _parses(strip_magics(src)), strip_magics(src)


def test_logical_line_starts_agree_with_tokenize_on_real_python():
    from prodai_lessons.tooling.cells import _logical_line_starts

    sources = _stdlib_sources() + _course_sources() + VALID_LOOKALIKES
    assert len(sources) > 50
    for src in sources:
        lines = re.split(r"\r\n?|\n", src)
        assert _logical_line_starts(lines) == _tokenize_logical_starts(src)
        assert strip_magics(src) == "\n".join(lines)  # valid Python is left alone
    assert any("\n% " in s or re.search(r"\n\s+%", s) for s in sources)  # the corpus has such lines


def _grade_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    status = main(["grade", "--exercise", "ex3", "--jobs", "1", "--timeout", str(TIMEOUT), *argv])
    io_ = capsys.readouterr()
    return status, io_.out, io_.err


def test_undecodable_file_names_and_messages_do_not_stop_the_run(tmp_path, capsys):
    """A file name with latin-1 bytes (a lone surrogate in Python) and a learner exception whose message holds
    lone surrogates are written with backslash escapes; the run finishes and a rerun resumes."""
    subs, out = tmp_path / "class", tmp_path / "g.csv"
    subs.mkdir()
    raw = subs / (os.fsdecode(b"caf\xe9") + ".ipynb")
    write_nb(raw, stub_cells() + ["raise ValueError('bad byte \\udce9 here')"])
    status, stdout, err = _grade_cli([str(subs), "--out", str(out), "--seed", "4"], capsys)
    assert status == 0, err
    book = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    (entry,) = book["learners"]
    assert entry["learner"] == "caf\\udce9"
    assert any("ValueError: bad byte \\udce9 here" in n for n in entry["notes"]), entry["notes"]
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("caf\\udce9,ex3,0,18")
    (fb,) = (tmp_path / "feedback").iterdir()
    assert "caf\\\\udce9" in fb.read_text(encoding="utf-8")  # (a Markdown-escaped backslash)
    status, stdout, err = _grade_cli([str(subs), "--out", str(out)], capsys)
    assert status == 0 and "0 submission(s), 1 already in" in stdout, err
    # the gradebook itself never fails on such text
    from prodai_lessons.exercises._core import CheckResult

    book = Gradebook(tmp_path / "h.csv", EX, 0)
    book.add(LearnerGrade("x\udcff", "ex3", 0, tuple(CheckResult(c.name, 0.0, c.max_points, False, "m \ud800",
                                                                 "error") for c in EX.checks), ("n \udc80",)))
    book.save()
    assert "x\\udcff" in (tmp_path / "h.csv").read_text(encoding="utf-8")
    assert "m \\\\ud800" in feedback_markdown(book.grades["x\\udcff"], EX)


def test_distinct_learners_get_distinct_feedback_files(tmp_path):
    from prodai_lessons.exercises._core import CheckResult
    from prodai_lessons.tooling.grading.gradebook import safe_filename, write_feedback

    ids = ["ann smith", "ann_smith", "Ann", "ann", "ANN", "ann/smith", "ann\\smith", "..", ".x", "-x", "",
           "a" * 300, "a" * 301, "ann_smith-0123abcd", "x-deadbeef", "caf\\udce9", "café", "cafe\u0301"]
    names = [safe_filename(i) for i in ids]
    assert len({n.casefold() for n in names}) == len(ids), names  # distinct, even on a case-insensitive disk
    for learner, n in zip(ids, names):
        assert re.fullmatch(r"\w[\w.@+-]*", n) and len(n) <= 120, n
        if re.fullmatch(r"[a-z0-9_][a-z0-9_.@+-]*", learner) and len(learner) <= 120 \
                and not re.search(r"-[0-9a-f]{8}$", learner):
            assert n == learner  # a plain id is its own file name
    assert safe_filename("ann smith") == safe_filename("ann smith")  # stable across runs
    for learner in ("ann smith", "ann_smith"):
        g = LearnerGrade(learner, "ex3", 0, tuple(CheckResult(c.name, 0.0, c.max_points, False, "", "error")
                                                  for c in EX.checks))
        write_feedback(g, EX, tmp_path)
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2
    assert sorted(f.read_text().split("**")[1] for f in files) == ["ann smith", "ann_smith"]


def test_outputs_inside_the_submissions_folder_are_not_learners(tmp_path, capsys):
    subs = tmp_path / "class"
    subs.mkdir()
    write_nb(subs / "amy.ipynb", stub_cells())
    for _ in range(2):  # the second run finds feedback/ (and the gradebook) among the submissions
        status, stdout, err = _grade_cli([str(subs), "--out", str(subs / "grades.csv"), "--seed", "1"], capsys)
        assert status == 0, err
    assert "0 submission(s), 1 already in" in stdout
    assert [e["learner"] for e in json.loads((subs / "grades.json").read_text())["learners"]] == ["amy"]
    # an explicit --feedback folder inside a learner's folder, with a notebook in it, is skipped too
    (subs / "bo").mkdir()
    write_nb(subs / "bo" / "ex3_automated_rollback.ipynb", stub_cells())
    fb = subs / "bo" / "fb"
    fb.mkdir()
    write_nb(fb / "stray.ipynb", stub_cells())
    found = find_submissions([subs], "x.ipynb", exclude=[subs / "grades.csv", subs / "feedback", fb])
    assert [(s.learner, Path(s.path).name if s.path else None) for s in found] == \
        [("amy", "amy.ipynb"), ("bo", "ex3_automated_rollback.ipynb")]


def test_a_second_run_on_the_same_gradebook_is_refused(tmp_path, capsys):
    """Two runs writing one gradebook would each save their own grades over the other's: the second run
    stops at once (exit 2) while the first holds the lock, and the first run's grades are kept."""
    import signal
    import time

    out = tmp_path / "g.csv"
    slow = write_nb(tmp_path / "slow.ipynb", good_with_loop())
    quick = write_nb(tmp_path / "quick.ipynb", stub_cells())
    cmd = CLI + ["grade", "--exercise", "ex3", str(slow), "--out", str(out), "--jobs", "1", "--timeout", "60",
                 "--seed", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not out.with_suffix(".json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the first run is grading its slow learner
        status = main(["grade", "--exercise", "ex3", str(quick), "--out", str(out), "--jobs", "1", "--timeout",
                       "60", "--seed", "2"])
        err = capsys.readouterr().err
        assert status == 2 and "another `prodai grade` run is writing" in err, err
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        _end(proc)
    assert proc.returncode == 130
    # once the first run is over, the lock is free again
    from prodai_lessons.tooling.grading.gradebook import RunLock

    lock = RunLock(out)
    assert lock.acquire() and lock.active
    assert not RunLock(out).acquire()  # a second holder is refused while the first holds it
    lock.release()
    assert RunLock(out).acquire()


def test_a_gradebook_is_never_resumed_under_other_limits_or_another_exercise_source(tmp_path, capsys):
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    out = tmp_path / "g.csv"
    base = [str(nb), "--out", str(out), "--seed", "1"]
    assert _grade_cli(base, capsys)[0] == 0
    status, _, err = _grade_cli(base + ["--memory", "512"], capsys)
    assert status == 2 and "limits.memory_mb 1024 then, 512 now" in err and "--force" in err
    settings = json.loads(out.with_suffix(".json").read_text())["settings"]
    assert settings["limits"]["timeout"] == TIMEOUT and settings["limits"]["memory_mb"] == 1024
    # the same exercise with one instructor cell edited (a course folder of its own)
    course = tmp_path / "course" / "solutions"
    course.mkdir(parents=True)
    text = SOLUTION_MD.read_text(encoding="utf-8")
    (course / SOLUTION_MD.name).write_text(text.replace("from collections import deque",
                                                        "from collections import deque  # edited"), "utf-8")
    assert text != (course / SOLUTION_MD.name).read_text(encoding="utf-8")
    edited = base + ["--course", str(course.parent)]
    status, _, err = _grade_cli(edited, capsys)
    assert status == 2 and "the exercise source changed" in err
    status, stdout, err = _grade_cli(edited + ["--force"], capsys)  # --force starts the gradebook afresh
    assert status == 0 and "1 grade(s) are dropped" in stdout, err
    assert json.loads(out.with_suffix(".json").read_text())["settings"]["source_sha256"] != \
        settings["source_sha256"]
    assert _grade_cli(edited, capsys)[0] == 0  # and it resumes under the new settings


def test_a_broken_course_is_a_clear_error(tmp_path, capsys):
    course = tmp_path / "course" / "solutions"
    course.mkdir(parents=True)
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    argv = [str(nb), "--out", str(tmp_path / "g.csv"), "--course", str(course.parent)]
    text = SOLUTION_MD.read_text(encoding="utf-8")
    (course / SOLUTION_MD.name).write_text(text.replace("### END SOLUTION", "", 1), encoding="utf-8")
    status, _, err = _grade_cli(argv, capsys)
    assert status == 2 and "BEGIN SOLUTION" in err and SOLUTION_MD.name in err, err
    (course / SOLUTION_MD.name).write_bytes(text.encode("utf-8").replace(b"deque", b"d\xffque", 1))
    status, _, err = _grade_cli(argv, capsys)
    assert status == 2 and "is not UTF-8" in err, err
    assert not (tmp_path / "g.csv").exists()


@pytest.mark.parametrize("argv, expected", [
    (["grade", "--exercise", "ex3", ".", "--timeout", "1e19"], "--timeout: must be a number of seconds"),
    (["grade", "--exercise", "ex3", ".", "--timeout", "inf"], "--timeout: must be a number of seconds"),
    (["grade", "--exercise", "ex3", ".", "--memory", "9000000000000"], "--memory: must be an integer"),
    (["grade", "--exercise", "ex3", ".", "--memory", "63"], "--memory: must be an integer"),
    (["grade", "--exercise", "ex3", ".", "--learner-timeout", "0"], "--learner-timeout: must be a number of seconds"),
    (["grade", "--exercise", "ex3", ".", "--learner-timeout", "1e9"], "--learner-timeout: must be a number of"),
    (["grade", "--exercise", "ex3", ".", "--learner-timeout", "nan"], "--learner-timeout: must be a number of"),
    (["grade", "--exercise", "ex3", ".", "--shard", "3/3"], "--shard: must be K/N with 0 <= K < N"),
    (["grade", "--exercise", "ex3", ".", "--shard", "1/0"], "--shard: must be K/N with 0 <= K < N"),
    (["grade", "--exercise", "ex3", ".", "--shard=-1/2"], "--shard: must be K/N with 0 <= K < N"),
    (["grade", "--exercise", "ex3", ".", "--shard", "1/2/3"], "--shard: must be K/N with 0 <= K < N"),
    (["grade", "--exercise", "ex3", ".", "--shard", "one/two"], "--shard: must be K/N with 0 <= K < N"),
    (["dashboard", "--seed", "-5"], "--seed: must be a non-negative integer"),
])
def test_out_of_range_options_are_usage_errors(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and expected in capsys.readouterr().err


def test_limits_have_upper_bounds():
    Limits(timeout=Limits.MAX_TIMEOUT, memory_mb=Limits.MAX_MEMORY_MB)  # the bounds themselves are fine
    for bad in ({"timeout": 1e19}, {"timeout": Limits.MAX_TIMEOUT * 1.01}, {"memory_mb": 9_000_000_000_000},
                {"memory_mb": Limits.MAX_MEMORY_MB + 1}, {"fsize_mb": 0}, {"startup_timeout": float("inf")},
                {"max_skipped_cells": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Limits(**bad)


def test_feedback_flattens_every_line_break_and_escapes_notes():
    from prodai_lessons.exercises._core import CheckResult

    msg = "nope\r| bonus | 99/2 | passed | well done\u2028| x |\u2029end\nlast"
    g = LearnerGrade("x", "ex3", 0, tuple(CheckResult(c.name, 0.0, c.max_points, False, msg, "error")
                                          for c in EX.checks), ("cell 1 raised\r| forged | row |", "b\nc"))
    md = feedback_markdown(g, EX)
    rows = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(rows) == 2 + len(EX.checks)  # header, rule, one row per check: nothing else
    for row in rows[2:]:
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row  # four cells
        assert row.endswith("| nope \\| bonus \\| 99/2 \\| passed \\| well done \\| x \\| end last |")
    assert "- cell 1 raised \\| forged \\| row \\|" in md.splitlines() and "- b c" in md.splitlines()
    assert not re.search("[\r\u2028\u2029]", md)


def test_only_regular_files_count_as_notebooks(tmp_path):
    amy = tmp_path / "class" / "amy"
    amy.mkdir(parents=True)
    write_nb(amy / "work.ipynb", stub_cells())
    (amy / "old.ipynb").mkdir()  # a folder with a notebook's name
    (amy / "gone.ipynb").symlink_to(tmp_path / "nowhere.ipynb")  # a broken link
    (sub,) = find_submissions([tmp_path / "class"], "ex3_automated_rollback.ipynb")
    assert sub.learner == "amy" and sub.path == str(amy / "work.ipynb") and sub.problem is None


# --------------------------------------------------------------------------------- reading the answer

#: A submission with no detection code at all: it searches the worker for the scenario's truth (the
#: caller's frames, every object the garbage collector tracks, every module's globals, a seed to regenerate
#: the scenario from), fires 60 samples after the change it finds there and returns the diagnosis it reads.
PEEK = '''
import gc, sys
import numpy as np

def _everything():
    seen = []
    f = sys._getframe(1)
    while f is not None:
        seen += list(f.f_locals.values()) + list(f.f_globals.values())
        f = f.f_back
    seen += gc.get_objects()
    for m in list(sys.modules.values()):
        seen += list(getattr(m, "__dict__", {}).values())
    return seen

def _get(obj, name):
    try:
        return getattr(obj, name, None)
    except Exception:
        return None

def _stream_truth(correct):
    for obj in _everything():
        c = _get(obj, "correct")
        if isinstance(c, np.ndarray) and c.shape == correct.shape and np.array_equal(c, correct):
            return _get(obj, "change_point")
    from prodai_lessons.exercises import ex1
    for obj in _everything():  # a seed left in reach regenerates every scenario
        if isinstance(obj, dict) and isinstance(obj.get("seed"), int):
            for which in ("abrupt", "gradual", "stationary", "warn_abrupt", "warn_stationary"):
                for s in ex1._streams(obj["seed"], which):
                    if np.array_equal(s.correct, correct):
                        return s.change_point
    return None

class _Peeker:
    def __init__(self, *args, **kwargs):
        self.n, self.change, self.fired, self.warned = 0, "unknown", False, False

    @property
    def drift_detected(self):
        return self.fired

    @property
    def warning_detected(self):
        return self.warned

    def update(self, correct):
        if self.change == "unknown":
            caller = sys._getframe(1).f_locals
            stream = caller.get("correct")
            self.change = _stream_truth(stream) if isinstance(stream, np.ndarray) else None
        self.fired = self.change is not None and self.n == self.change + 60
        self.warned = self.change is not None and self.n == self.change + 30
        self.n += 1

def simulate_concept_drift(X, w_old, w_new, change_point, label_noise=0.0, seed=0):
    return X, X @ w_old > 0  # every input of this check is the function's argument: nothing to peek at

class WindowAccuracyDetector(_Peeker):
    pass

class PageHinkley(_Peeker):
    pass

def diagnose_drift(ref_X, cur_X, ref_correct, cur_correct, alpha=0.01):
    for obj in _everything():
        truth, c = _get(obj, "truth"), _get(obj, "cur_correct")
        if isinstance(truth, str) and isinstance(c, np.ndarray) and np.array_equal(c, cur_correct):
            return truth
    return "none"
'''

#: The same shape with nothing looked up: never detects, always says "none", simulates no change.
NEVER = '''
def simulate_concept_drift(X, w_old, w_new, change_point, label_noise=0.0, seed=0):
    return X, X @ w_old > 0

class WindowAccuracyDetector:
    def __init__(self, *args, **kwargs):
        pass
    drift_detected = property(lambda self: False)
    warning_detected = property(lambda self: False)
    def update(self, correct):
        pass

class PageHinkley(WindowAccuracyDetector):
    pass

def diagnose_drift(ref_X, cur_X, ref_correct, cur_correct, alpha=0.01):
    return "none"
'''


def test_a_submission_that_reads_the_answer_scores_no_more_than_one_that_detects_nothing(tmp_path):
    from prodai_lessons.exercises import ex1

    source = load_exercise_source(ROOT / ex1.EXERCISE.solution_path)
    task = Task(ex1.EXERCISE, "prodai_lessons.exercises.ex1", source, 7, Limits(timeout=20))
    scores = {}
    for name, code in (("peek", PEEK), ("never", NEVER)):
        nb = write_nb(tmp_path / f"{name}.ipynb", list(source.cells) + [code])
        g = grade_submission(task, Submission(name, str(nb)))
        assert not g.notes, g.notes  # the code ran as written ...
        assert all(r.status == "ok" for r in g.results), g.results  # ... and every check judged it
        scores[name] = g.score
    assert scores["never"] < ex1.EXERCISE.max_points / 2, scores
    assert scores["peek"] <= scores["never"], scores  # with the truth in reach, peek scored every detector
    # and diagnosis point


# ------------------------------------------------------------------- signals, the time cap per learner

#: Starts the grader the way a shell starts a background job (``prodai grade ... &`` in a script, ``nohup``,
#: some CI runners): with SIGINT ignored, which ``exec`` keeps and Python at start-up leaves as it is.
IGNORING_SIGINT = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                                         "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"]


def _start_slow_run(tmp_path: Path, launcher: list[str]) -> tuple[subprocess.Popen, list[int]]:
    """A grader busy with a learner whose check loops forever (timeout 60 s); returns it and its workers."""
    import time

    slow = write_nb(tmp_path / "slow.ipynb", good_with_loop())
    out = tmp_path / "g.csv"
    proc = subprocess.Popen(launcher + CLI[1:] + ["grade", "--exercise", "ex3", str(slow), "--out", str(out),
                                                  "--jobs", "1", "--timeout", "60", "--seed", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def is_worker(pid: int) -> bool:  # not the start-of-run namespace probe, also a child of the grader
        try:
            return b"_worker import main;" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if any(is_worker(p) for p in _descendants(proc.pid)):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the worker is in the learner's infinite loop now
    workers = [p for p in _descendants(proc.pid) if is_worker(p)]
    if proc.poll() is not None or not workers:
        if proc.poll() is None:
            proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"the grader is not grading its slow learner (exit {proc.returncode}): {stdout}{stderr}")
    return proc, workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig, status, word", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_grade_stops_within_2_s_on_a_signal_even_when_started_with_sigint_ignored(tmp_path, sig, status, word):
    import signal
    import time

    proc, workers = _start_slow_run(tmp_path, IGNORING_SIGINT)
    try:
        t0 = time.monotonic()
        proc.send_signal(getattr(signal, sig))
        try:
            _, err = proc.communicate(timeout=2.0)
        except subprocess.TimeoutExpired:
            pytest.fail(f"prodai grade still ran 2 s after {sig}")
        stopped = time.monotonic() - t0
    finally:
        _end(proc)
    assert proc.returncode == status and f"{word}: 0 learner(s) saved" in err, (proc.returncode, err)
    assert stopped < 2.0
    time.sleep(0.2)
    assert [p for p in workers if _alive(p)] == []  # the worker and what it started are gone


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_workers_end_with_a_grader_killed_outright(tmp_path):
    """SIGKILL gives the grader no chance to clean up: its workers end anyway (the kernel's parent-death signal)."""
    import shutil
    import signal
    import time

    proc, workers = _start_slow_run(tmp_path, [sys.executable])
    workdirs = set()
    try:
        for p in workers:  # a grader killed outright cannot remove its workers' folders: the test does
            with contextlib.suppress(OSError):
                workdirs.add(os.readlink(f"/proc/{p}/cwd"))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        deadline = time.monotonic() + 2.0
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [p for p in workers if _alive(p)]
    finally:
        _end(proc)
        for d in workdirs:
            if Path(d).name.startswith("prodai-grade-"):
                shutil.rmtree(d, ignore_errors=True)
    assert left == []


CAPPED_EXERCISE = '''
from prodai_lessons.exercises._core import Check, CheckResult, Exercise

NAMES = ("quick", "h1", "h2", "h3", "h4", "h5")


def _scenario(seed):
    return {}


def _collect(name):
    def collect(ns, inputs, ask=None):
        return ns["answer"](name)
    return collect


def _judge(name):
    def judge(data, seed):
        ok = data == 42
        return CheckResult(name, 1.0, 1.0, ok, "right" if ok else "wrong answer")
    return judge


EXERCISE = Exercise("capped", "A notebook that takes its time", "solutions/capped.ipynb", ("answer",),
                    tuple(Check(n, 1.0, n, _scenario, _collect(n), _judge(n)) for n in NAMES))
'''


def test_a_learner_is_graded_within_the_time_cap_and_the_cut_checks_are_named(tmp_path, monkeypatch):
    """3 cells that each take most of --timeout and 5 checks that hang: every hang costs a timeout and a
    rerun of the cells (about 15 s at --timeout 1 without a cap); the per-learner cap (default 5 x --timeout)
    stops it, and the checks it cut are named in the grade, the gradebook's JSON and the feedback."""
    from prodai_lessons.tooling.grading.notebook import ExerciseSource

    (tmp_path / "capped_ex.py").write_text(CAPPED_EXERCISE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import capped_ex

    exercise = capped_ex.EXERCISE
    source = ExerciseSource(("def answer(name):\n    raise NotImplementedError",), (True,), "capped")
    nb = write_nb(tmp_path / "slow.ipynb", ["import time\ntime.sleep(0.6)"] * 3 + [
        "def answer(name):\n    while name != 'quick':\n        pass\n    return 42"])
    limits = Limits(timeout=1.0)
    assert limits.learner_timeout == 5.0 == Limits.LEARNER_TIMEOUT_FACTOR * limits.timeout
    task = Task(exercise, "capped_ex", source, 0, limits, (str(tmp_path),))
    g = grade_submission(task, Submission("slow", str(nb)))
    assert g.seconds <= limits.learner_timeout + 2.0, g.seconds  # the cap plus a little slack
    by_name = {r.name: r for r in g.results}
    assert by_name["quick"].passed
    hangs = ["h1", "h2", "h3", "h4", "h5"]
    assert g.cut_off and g.cut_off == tuple(hangs[len(hangs) - len(g.cut_off):])  # the last ones, in order
    for name in hangs:
        r = by_name[name]
        assert r.status == "timeout" and r.points == 0
        if name in g.cut_off:
            assert "time limit of 5 s for the whole notebook" in r.message, r.message
        else:  # it hung for --timeout on its own before the cap was reached
            assert "did not finish within 1 s" in r.message, r.message
    assert any(f"checks cut off: {', '.join(g.cut_off)}" in n for n in g.notes), g.notes
    book = Gradebook(tmp_path / "g.csv", exercise, 0, {"limits": {"learner_timeout": 5.0}})
    book.add(g)
    book.save()
    (entry,) = json.loads((tmp_path / "g.json").read_text())["learners"]
    assert entry["cut_off"] == list(g.cut_off)
    md = feedback_markdown(book.grades["slow"], exercise)
    assert f"checks cut off: {', '.join(g.cut_off)}" in md
    for name in g.cut_off:
        row = next(ln for ln in md.splitlines() if ln.startswith(f"| {name} |"))
        assert "| timeout |" in row and "time limit of 5 s for the whole notebook" in row
    # read back, the grade is the same (a resumed run keeps the names)
    again = Gradebook(tmp_path / "g.csv", exercise, 0, {"limits": {"learner_timeout": 5.0}}).load()
    assert again.grades["slow"].cut_off == g.cut_off


def test_the_time_cap_per_learner_is_an_option_checked_like_the_others(tmp_path, capsys):
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    status, _, err = _grade_cli([str(nb), "--out", str(tmp_path / "g.csv"), "--learner-timeout", "2"], capsys)
    assert status == 2 and "--learner-timeout: learner_timeout must be >= 3.0 (timeout); got 2.0" in err, err
    assert not (tmp_path / "g.csv").exists()
    status, stdout, err = _grade_cli([str(nb), "--out", str(tmp_path / "g.csv"), "--learner-timeout", "7.5",
                                      "--seed", "1"], capsys)
    assert status == 0 and "7.5 s per learner" in stdout, err
    assert json.loads((tmp_path / "g.json").read_text())["settings"]["limits"]["learner_timeout"] == 7.5
    status, _, err = _grade_cli([str(nb), "--out", str(tmp_path / "g.csv")], capsys)  # the default: 5 x 3 s
    assert status == 2 and "limits.learner_timeout 7.5 then, 15.0 now" in err, err


# ------------------------------------------------------------------------------- grading as a normal user

DETACHED_USER = SLEEP + 0.25  # a daemon started under a grader run by a normal user


def _readable_view(paths: list[Path]) -> list[tuple[Path, Path]] | None:
    """For paths a normal user cannot reach (a Python installed under /root, a checkout in a 0700 folder):
    (blocking folder, its child on the way), so a private mount namespace can show those children alone
    through an open folder. None when something below the blocking folder is closed as well."""
    plan: list[tuple[Path, Path]] = []
    for p in paths:
        p = p.resolve()
        chain = [*reversed(p.parents), p]
        closed = [d for d in chain[:-1] if not os.stat(d).st_mode & 0o001]
        if not closed:
            continue
        top = closed[0]
        child = chain[chain.index(top) + 1]
        if closed[1:] or not (os.stat(child).st_mode & 0o005 == 0o005):
            return None
        if (top, child) not in plan:
            plan.append((top, child))
    return plan


def _kill_user_processes(uid: int) -> None:
    """End the processes of ``uid`` (what a failing run left behind), and wait until they are gone."""
    import signal
    import time

    deadline = time.monotonic() + 5
    while True:
        pids = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                lines = status.read_text().splitlines()
                uid_line = next(ln for ln in lines if ln.startswith("Uid:"))
                state = next(ln for ln in lines if ln.startswith("State:"))
                if int(uid_line.split()[1]) == uid and " Z " not in f" {state.split()[1]} ":
                    pids.append(int(status.parent.name))
            except (OSError, StopIteration, ValueError, IndexError):
                continue
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux and /proc")
def test_detached_processes_do_not_outlive_the_run_as_a_normal_user():
    """The grader run by a normal user (a new one, when the tests run as root): the workers' private PID
    namespace then comes from an unprivileged user namespace, so the learner's daemons (setsid, double
    fork) still end with the worker; where the kernel refuses one, the run says so once on stderr."""
    import pwd
    import shutil
    import time

    work = Path(tempfile.mkdtemp(prefix="prodai-normal-user-"))  # pytest's tmp folders are closed to others
    user = f"prodai-grader-{os.getpid()}"
    uid = None
    try:
        os.chmod(work, 0o755)
        subs = work / "class"
        subs.mkdir()
        write_nb(subs / "daemon.ipynb", correct_cells() + [DETACH.replace(str(DETACHED), str(DETACHED_USER))])
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "MPLCONFIGDIR": str(work / "mpl"), "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1"}
        grade = CLI + ["grade", "--exercise", "ex3", str(subs), "--out", str(work / "g.csv"), "--jobs", "1",
                       "--timeout", str(TIMEOUT), "--seed", "3"]
        if os.geteuid() != 0:
            cmd, uid = grade, os.geteuid()
        else:
            missing = [t for t in ("useradd", "userdel", "unshare", "setpriv", "mount") if shutil.which(t) is None]
            if missing:
                pytest.skip(f"running the grader as a new normal user needs {', '.join(missing)}")
            # the checkout may itself be closed (``mktemp -d`` makes it 0700): these of its folders are needed
            plan = _readable_view([Path(sys.base_prefix), Path(sys.prefix),
                                   *(ROOT / d for d in ("prodai_lessons", "exercises", "solutions"))])
            if plan is None:
                pytest.skip("the Python installation is not readable by a normal user, even through its folder")
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            "--user-group", user], check=True, capture_output=True)
            pw = pwd.getpwnam(user)
            uid = pw.pw_uid
            for d in [work, *work.rglob("*")]:
                os.chown(d, pw.pw_uid, pw.pw_gid)
            # a private mount namespace shows each closed folder's needed children through an open tmpfs:
            # every child is set aside first, then each closed folder is covered once and they are put back
            script = ["set -e"]
            stages = [(work / f".view{k}", child) for k, (_, child) in enumerate(plan)]
            for stage, child in stages:
                script += [f"mkdir -p '{stage}'", f"mount --bind '{child}' '{stage}'"]
            for top in dict.fromkeys(top for top, _ in plan):
                script.append(f"mount -t tmpfs -o mode=0755 prodai-view '{top}'")
            for stage, child in stages:
                script += [f"mkdir -p '{child}'", f"mount --bind '{stage}' '{child}'"]
            script.append(f'exec setpriv --reuid {pw.pw_uid} --regid {pw.pw_gid} --clear-groups -- "$@"')
            cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "\n".join(script), "sh",
                   "env", "-i", *(f"{k}={v}" for k, v in env.items()), *grade]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                             env=env if os.geteuid() != 0 else None)
        assert res.returncode == 0, res.stderr
        assert os.stat(work / "g.json").st_uid == uid  # the grader really ran as that user
        (entry,) = json.loads((work / "g.json").read_text())["learners"]
        assert entry["score"] == MAX, entry
        time.sleep(0.2)
        survivors = _running(f"sleep {DETACHED_USER}")
        warnings = res.stderr.count("no private PID namespace")
        if "private PID namespace" not in entry["sandbox"]:
            assert warnings == 1, (survivors, res.stderr)  # said once, at the start of the run
            pytest.skip(f"the kernel refuses this user a private PID namespace: {entry['sandbox']}")
        assert warnings == 0 and "user namespace" in entry["sandbox"], (entry["sandbox"], res.stderr)
        assert survivors == 0, f"{survivors} detached process(es) outlived the run"
    finally:
        if uid is not None and os.geteuid() == 0:
            _kill_user_processes(uid)  # only what a failing run left behind
            subprocess.run(["userdel", user], capture_output=True)
            subprocess.run(["groupdel", user], capture_output=True)
            assert user not in Path("/etc/passwd").read_text(), f"the test user {user} could not be removed"
        shutil.rmtree(work, ignore_errors=True)


def test_a_refused_namespace_is_said_once_at_the_start_of_the_run(tmp_path, capsys, monkeypatch):
    from prodai_lessons.tooling.grading import cli as grading_cli

    calls = []

    def refused():
        calls.append(1)
        return (), "the kernel refused a user namespace (EPERM)"

    monkeypatch.setattr(grading_cli, "sandbox_probe", refused)
    subs = tmp_path / "class"
    subs.mkdir()
    for name in ("amy", "bo", "cy"):
        write_nb(subs / f"{name}.ipynb", stub_cells())
    status, _, err = _grade_cli([str(subs), "--out", str(tmp_path / "g.csv"), "--seed", "1"], capsys)
    assert status == 0 and len(calls) == 1, err
    assert err.count("warning: no private PID namespace for the workers: the kernel refused a user "
                     "namespace (EPERM)") == 1, err


def test_the_sandbox_probe_reports_what_the_workers_get():
    from prodai_lessons.tooling.grading.runner import sandbox_probe

    applied, refused = sandbox_probe()
    if refused is None:
        assert "private PID namespace" in applied
        if os.geteuid() != 0:
            assert "user namespace" in applied
    else:
        assert "private PID namespace" not in applied and refused


# ---------------------------------------------------------------------------------------------- links


def test_links_that_leave_the_class_folder_are_not_graded(tmp_path, capsys):
    """A learner folder or notebook that links outside the class folder (to the solution, say) scores 0 with
    the reason; links inside the class folder are followed; the instructor's own paths may be links."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    solution = write_nb(outside / "ex3_automated_rollback.ipynb", correct_cells())
    c = tmp_path / "class"
    c.mkdir()
    (c / "mal").symlink_to(outside, target_is_directory=True)  # the learner folder links out
    (c / "nat.ipynb").symlink_to(solution)  # a learner notebook links out
    (c / "ola").mkdir()
    (c / "ola" / "ex3_automated_rollback.ipynb").symlink_to(solution)  # a notebook in a learner folder links out
    (c / ".store" / "pia").mkdir(parents=True)
    write_nb(c / ".store" / "pia" / "work.ipynb", stub_cells())
    (c / "pia").symlink_to(c / ".store" / "pia", target_is_directory=True)  # a link inside the class folder
    (tmp_path / "class-link").symlink_to(c, target_is_directory=True)  # the instructor's link to the class
    for given in (c, tmp_path / "class-link"):
        subs = {s.learner: s for s in find_submissions([given], "ex3_automated_rollback.ipynb")}
        assert sorted(subs) == ["mal", "nat", "ola", "pia"]
        for name in ("mal", "nat", "ola"):
            assert subs[name].path is None and "a link to a place outside the class folder" in subs[name].problem
        assert subs["pia"].problem is None and subs["pia"].path.endswith("pia/work.ipynb")
    status, _, err = _grade_cli([str(c), "--out", str(tmp_path / "g.csv"), "--seed", "1"], capsys)
    assert status == 0, err
    book = {e["learner"]: e for e in json.loads((tmp_path / "g.json").read_text())["learners"]}
    for name in ("mal", "nat", "ola"):
        assert book[name]["score"] == 0
        assert all(ch["status"] == "invalid" and "outside the class folder" in ch["message"]
                   for ch in book[name]["checks"]), book[name]
    assert {ch["status"] for ch in book["pia"]["checks"]} == {"not_attempted"}  # graded, as the stub it is


# --------------------------------------------------------------------------------------------- shards

SHARD_CLASS = {  # learner -> notebook; with 3 shards: cat and fay in 0, dan in 1, ann and eve in 2
    "ann": "correct", "cat": "stub", "dan": "exception", "eve": "stub", "fay": None}


def _shard(learner: str, n: int) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(learner.encode()).digest()[:8], "big") % n


def _build_shard_class(c: Path) -> None:
    c.mkdir()
    for name, kind in SHARD_CLASS.items():
        if kind is None:
            (c / name).mkdir()  # a learner folder without a notebook
            continue
        cells = {"correct": correct_cells(), "stub": stub_cells(),
                 "exception": edit(correct_cells(), "RollbackController", DRY_RUN,
                                   DRY_RUN + "            raise RuntimeError('later')\n")}[kind]
        write_nb(c / f"{name}.ipynb", cells)


def test_shard_of_is_a_stable_hash_of_the_learner_id():
    from prodai_lessons.tooling.grading.runner import shard_of

    names = [f"learner{i}" for i in range(200)] + list(SHARD_CLASS) + ["caf\u00e9", "ann smith"]
    for n in (1, 2, 3, 7):
        assert [shard_of(x, n) for x in names] == [_shard(x, n) for x in names]
    assert sorted({_shard(x, 3) for x in SHARD_CLASS}) == [0, 1, 2]  # the class below fills every shard
    counts = np.bincount([shard_of(x, 4) for x in names[:200]], minlength=4)
    assert counts.min() >= 30  # 200 ids spread over 4 shards (50 each expected)


def test_shards_merged_give_the_gradebook_of_one_run(tmp_path, capsys):
    c = tmp_path / "class"
    _build_shard_class(c)
    parts = []
    for k in range(3):
        out = tmp_path / "shards" / f"shard-{k}.csv"
        status, stdout, err = _grade_cli([str(c), "--out", str(out), "--seed", "5", "--shard", f"{k}/3"], capsys)
        assert status == 0 and f"shard {k}/3" in stdout, err
        got = [e["learner"] for e in json.loads(out.with_suffix(".json").read_text())["learners"]]
        assert got == sorted(x for x in SHARD_CLASS if _shard(x, 3) == k)
        parts.append(str(out))
    merged = tmp_path / "merged" / "grades.csv"
    assert main(["grade", "merge", str(merged), *parts]) == 0, capsys.readouterr().err
    one = tmp_path / "one" / "grades.csv"
    assert _grade_cli([str(c), "--out", str(one), "--seed", "5"], capsys)[0] == 0

    def without_timings(path: Path) -> dict:
        doc = json.loads(path.with_suffix(".json").read_text())
        for e in doc["learners"]:
            assert isinstance(e.pop("seconds"), float)
        return doc

    assert merged.read_text() == one.read_text()  # CSV: row for row
    a, b = without_timings(merged), without_timings(one)
    assert [e["learner"] for e in a["learners"]] == sorted(SHARD_CLASS)
    assert a == b  # JSON: every learner, check, message and setting
    assert {e["learner"]: e["score"] for e in a["learners"]}["ann"] == MAX
    fb_merged, fb_one = merged.parent / "feedback", one.parent / "feedback"
    assert sorted(p.name for p in fb_merged.iterdir()) == sorted(p.name for p in fb_one.iterdir())
    for f in fb_one.iterdir():
        assert (fb_merged / f.name).read_text() == f.read_text()
    # the merged gradebook is an ordinary one: a rerun on it resumes (nothing left to grade)
    status, stdout, err = _grade_cli([str(c), "--out", str(merged), "--seed", "5"], capsys)
    assert status == 0 and "0 submission(s), 5 already in" in stdout, err


def test_shard_needs_an_explicit_seed(tmp_path, capsys):
    nb = write_nb(tmp_path / "a.ipynb", stub_cells())
    status, _, err = _grade_cli([str(nb), "--out", str(tmp_path / "g.csv"), "--shard", "0/2"], capsys)
    assert status == 2 and "--shard 0/2 needs an explicit --seed" in err, err
    assert not (tmp_path / "g.csv").exists()


def _part(path: Path, learners: tuple[str, ...], seed: int = 5, shard: str | None = "0/2",
          timeout: float = 3.0, source: str = "abc") -> str:
    settings = {"limits": {"timeout": timeout}, "source_sha256": source}
    if shard is not None:
        settings["shard"] = shard
    book = Gradebook(path, EX, seed, settings)
    for learner in learners:
        book.add(_grade(learner, [1.0] * len(EX.checks)))
    book.save()
    return str(path)


@pytest.mark.parametrize("case, expected", [
    ("seed", "part {b} was graded with --seed 6, not 5 as {a}"),
    ("limits", "part {b} was graded under other settings than {a} (limits.timeout 3.0 in a.csv, 2.0 in b.csv)"),
    ("source", "part {b} was graded under other settings than {a} (the exercise source differs)"),
    ("same shard", "part {b} and part {a} are both shard 0/2"),
    ("other split", "part {b} is shard 1/3, but the parts before it split the class into 2 shards"),
    ("learner twice", "learner 'amy' is in part {a} and in part {b}"),
    ("same part twice", "part {a} is given twice"),
    ("not a gradebook", "part {b}: "),
])
def test_merge_refuses_parts_that_do_not_belong_together(tmp_path, capsys, case, expected):
    a = _part(tmp_path / "a.csv", ("amy",))
    b_path = tmp_path / "b.csv"
    b = {"seed": lambda: _part(b_path, ("bo",), seed=6, shard="1/2"),
         "limits": lambda: _part(b_path, ("bo",), shard="1/2", timeout=2.0),
         "source": lambda: _part(b_path, ("bo",), shard="1/2", source="abd"),
         "same shard": lambda: _part(b_path, ("bo",)),
         "other split": lambda: _part(b_path, ("bo",), shard="1/3"),
         "learner twice": lambda: _part(b_path, ("amy",), shard="1/2"),
         "same part twice": lambda: a,
         "not a gradebook": lambda: str(b_path.write_text("learner,grade\n") and b_path)}[case]()
    out = tmp_path / "all.csv"
    status = main(["grade", "merge", str(out), a, b])
    err = capsys.readouterr().err
    assert status == 2 and expected.format(a=a, b=b) in err, err
    assert not out.exists()


def test_merge_says_which_shards_are_missing_and_never_overwrites_by_accident(tmp_path, capsys):
    parts = [_part(tmp_path / "s0.csv", ("amy",), shard="0/3"), _part(tmp_path / "s2.csv", ("cy",), shard="2/3")]
    out = tmp_path / "all.csv"
    assert main(["grade", "merge", str(out), *parts]) == 0
    io_ = capsys.readouterr()
    assert "shard(s) 1/3 are not among the parts" in io_.err and "2 learner(s)" in io_.out
    doc = json.loads(out.with_suffix(".json").read_text())
    assert [e["learner"] for e in doc["learners"]] == ["amy", "cy"] and "shard" not in doc["settings"]
    assert main(["grade", "merge", str(out), *parts]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["grade", "merge", str(out), *parts, "--force"]) == 0
    assert main(["grade", "merge", parts[0], *parts]) == 2
    assert "is also given as a part" in capsys.readouterr().err
