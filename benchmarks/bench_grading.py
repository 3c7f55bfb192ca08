"""Benchmark of ``prodai grade``: 40 mixed exercise-3 submissions, ``--jobs 2`` (target: <= 2 minutes).

Prints the wall time, submissions per minute, the speed-up of two jobs over one, and the per-submission
overhead of the sandbox: the grader's time for one correct submission minus the time the same checks take
when run directly in this process (``run_checks`` on the solution: what the checks themselves cost).

Run: ``.venv/bin/python benchmarks/bench_grading.py``
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_grading import (  # noqa: E402 - the tests' notebook builders
    DRY_RUN,
    EX,
    SOURCE,
    correct_cells,
    edit,
    good_with_loop,
    prepend,
    stub_cells,
    write_nb,
)

from prodai_lessons.tooling.cli import main  # noqa: E402
from prodai_lessons.exercises._core import run_checks  # noqa: E402
from prodai_lessons.tooling.grading import Limits, Submission, Task, grade_submission  # noqa: E402

TIMEOUT = 2.0
SEED = 7


def build_class(d: Path) -> dict[str, int]:
    good, stub = correct_cells(), stub_cells()
    kinds = {
        "correct": (16, good),
        "stub": (8, stub),
        "one_method_raises": (4, edit(good, "RollbackController", DRY_RUN,
                                      DRY_RUN + "            raise RuntimeError('todo')\n")),
        "syntax_error": (3, edit(good, "QualityMonitor", "def observe(self, score: float)",
                                 "def observe(self, score: float")),
        "infinite_loop": (2, good_with_loop()),
        "memory_bomb": (2, prepend(good, "QualityMonitor", "hog = [bytes(10**7) for _ in range(10**6)]\n")),
        "os_exit": (2, prepend(good, "RollbackController", "import os\nos._exit(1)\n")),
        "not_json": (2, None),
        "patches_checks": (1, stub + ["from prodai_lessons.exercises import ex3\n"
                                      "for c in ex3.EXERCISE.checks:\n"
                                      "    object.__setattr__(c, 'collect', lambda ns, s: {})\n"]),
    }
    counts = {}
    for kind, (n, cells) in kinds.items():
        counts[kind] = n
        for i in range(n):
            p = d / f"{kind}_{i:02d}.ipynb"
            if cells is None:
                p.write_text('{"cells": [')
            else:
                write_nb(p, cells)
    assert sum(counts.values()) == 40
    return counts


def grade_run(subs: Path, out: Path, jobs: int) -> tuple[float, str]:
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        status = main(["grade", "--exercise", "ex3", str(subs), "--out", str(out), "--jobs", str(jobs),
                       "--timeout", str(TIMEOUT), "--memory", "512", "--seed", str(SEED)])
    elapsed = time.perf_counter() - t0
    assert status == 0, buf.getvalue()
    return elapsed, buf.getvalue()


def main_bench() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subs = d / "class"
        subs.mkdir()
        counts = build_class(subs)
        print(f"40 submissions of {EX.name}: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
        print(f"timeout {TIMEOUT:g} s per cell and per check, memory 512 MB, seed {SEED}")

        t2, report = grade_run(subs, d / "jobs2" / "grades.csv", 2)
        book = json.loads((d / "jobs2" / "grades.json").read_text())
        assert len(book["learners"]) == 40
        t1, _ = grade_run(subs, d / "jobs1" / "grades.csv", 1)
        by_kind: dict[str, list[float]] = {}
        for e in book["learners"]:
            by_kind.setdefault(e["learner"].rsplit("_", 1)[0], []).append(e["score"])
        print("\nscores by kind (jobs 2): " + ", ".join(
            f"{k} {statistics.mean(v):g}/{EX.max_points:g}" for k, v in sorted(by_kind.items())))
        print(f"\n--jobs 2: {t2:6.1f} s for 40 submissions = {40 / t2 * 60:6.1f} submissions/min "
              f"(target: <= 120 s) {'OK' if t2 <= 120 else 'TOO SLOW'}")
        print(f"--jobs 1: {t1:6.1f} s for 40 submissions = {40 / t1 * 60:6.1f} submissions/min; "
              f"speed-up of 2 jobs: {t1 / t2:.2f}x")
        timeouts = sum(c["status"] == "timeout" for e in book["learners"] for c in e["checks"])
        print(f"  of which {timeouts} check timeout(s) x {TIMEOUT:g} s = {timeouts * TIMEOUT:g} s spent waiting")

        # per-submission overhead: the grader on one correct submission vs the same checks in-process
        nb = write_nb(d / "one.ipynb", correct_cells())
        task = Task(EX, "prodai_lessons.exercises.ex3", SOURCE, SEED, Limits(timeout=TIMEOUT, memory_mb=512))
        graded = []
        for _ in range(7):
            t0 = time.perf_counter()
            g = grade_submission(task, Submission("one", str(nb)))
            graded.append(time.perf_counter() - t0)
            assert g.score == EX.max_points
        direct = []
        for _ in range(7):
            ns: dict = {}
            t0 = time.perf_counter()
            for cell in correct_cells():
                if "check(" not in cell:
                    exec(cell, ns)  # noqa: S102 - the reference solution, trusted
            r = run_checks(EX, ns, SEED)
            direct.append(time.perf_counter() - t0)
            assert r.score == EX.max_points
        g_med, d_med = statistics.median(graded), statistics.median(direct)
        print(f"\none correct submission, median of 7: grader {g_med * 1000:7.1f} ms, the same checks in-process "
              f"{d_med * 1000:7.1f} ms")
        print(f"per-submission overhead of the sandbox (process start, imports, limits, pipe): "
              f"{(g_med - d_med) * 1000:.1f} ms ({g_med / d_med:.1f}x the checks' own time)")
        print("\n" + report.split("\n\n", 1)[-1].strip())


if __name__ == "__main__":
    main_bench()
