"""Benchmark of ``prodai grade``: 40 mixed exercise-3 submissions, ``--jobs 2`` (target: <= 2 minutes).

Prints the wall time, submissions per minute, the speed-up of two jobs over one, and the per-submission
overhead of the sandbox: the grader's time for one correct submission minus the time the same checks take
when run directly in this process (``run_checks`` on the solution: what the checks themselves cost).

Then the figures for sharded runs (``prodai grade --shard K/N``): submissions per second per core (the
``--jobs N`` run on N cores, every core busy, divided by N) and the projected wall time for 10,000 learners
of the same mix on M cores (M/cores-per-node shards, each node independent), plus the measured time to merge
10,000 learners' gradebooks (``prodai grade merge``). The projection assumes the throughput per core stays
what it is here with every core busy (the shards share nothing but the file system).

Run: ``.venv/bin/python benchmarks/bench_grading.py``
"""

from __future__ import annotations

import contextlib
import io
import json
import os
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
from prodai_lessons.tooling.grading.gradebook import Gradebook, merge_gradebooks  # noqa: E402

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
        project(d, t2, t1, book)


LEARNERS = 10_000
CORES = (2, 16, 128)


def merge_seconds(d: Path, book: dict, shards: int = 16) -> float:
    """Wall time of merging ``shards`` gradebooks that hold 10,000 learners in all (entries copied from the
    measured run, renamed), written as ``prodai grade --shard`` writes them."""
    entries = book["learners"]
    parts = []
    for k in range(shards):
        doc = dict(book, settings={**book["settings"], "shard": f"{k}/{shards}"})
        doc["learners"] = [dict(entries[i % len(entries)], learner=f"learner{i:05d}")
                           for i in range(k, LEARNERS, shards)]
        path = d / "parts" / f"shard-{k}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        parts.append(path)
    t0 = time.perf_counter()
    merged = merge_gradebooks(d / "merged" / "grades.csv", parts, EX)
    merged.book.save()
    elapsed = time.perf_counter() - t0
    assert len(merged.book.grades) == LEARNERS and not merged.missing
    return elapsed


def project(d: Path, t2: float, t1: float, book: dict) -> None:
    cores_here = min(2, os.cpu_count() or 1)
    per_core = 40 / t2 / cores_here  # --jobs 2 on this machine: every core busy
    per_core_alone = 40 / t1  # --jobs 1: one core busy (an upper bound for a loaded node)
    m = merge_seconds(d, book)
    print(f"\nthroughput per core: {per_core:.2f} submissions/s with every core busy (--jobs {cores_here} on "
          f"{cores_here} cores), {per_core_alone:.2f}/s with one job alone")
    print(f"merging 16 shard gradebooks of {LEARNERS:,} learners in all: {m:.2f} s")
    print(f"\nprojected wall time for {LEARNERS:,} learners of this mix (sharded, {per_core:.2f} submissions/s "
          "per core, plus the merge):")
    print(f"  {'cores':>6}  {'grading':>10}  {'with merge':>10}")
    for cores in CORES:
        t = LEARNERS / (per_core * cores)
        print(f"  {cores:>6}  {t / 60:8.1f} min  {(t + m) / 60:8.1f} min")


if __name__ == "__main__":
    main_bench()
