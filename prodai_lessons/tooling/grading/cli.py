"""``prodai grade``: the command line over :mod:`~prodai_lessons.tooling.grading.runner` and
:mod:`~prodai_lessons.tooling.grading.gradebook` (argument checks, the thread pool, the progress bar, the summary),
and ``prodai grade merge`` (one gradebook from the gradebooks of shards graded apart).

Exit status: 0 when every learner was graded (whatever their grades), 1 when the grader itself failed for
some learners (they are left out of the gradebook, so a rerun retries them), 2 for bad arguments or inputs
(unknown exercise, a broken or unreadable course, missing submission, folder without notebooks, unreadable
gradebook, a gradebook graded under other limits or another exercise source, another run on the same
gradebook, ``--shard`` without ``--seed``; nothing is graded), 130 when interrupted by SIGINT (Ctrl-C) and
143 when stopped by SIGTERM (the learners graded so far are saved, the workers are killed).

**Signals.** A shell that starts a job in the background (``prodai grade ... &`` in a script, ``nohup``,
some CI runners) starts it with SIGINT *ignored*, and Python keeps that; so :func:`run` installs its own
handlers for SIGINT and SIGTERM for the length of the run (and puts the previous ones back after): either
signal cancels the workers and saves what is graded within a second or so, however the grader was
started. A grader killed outright (SIGKILL) takes its workers with it too (see
:mod:`~prodai_lessons.tooling.grading._worker`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import secrets
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path

from prodai_lessons.tooling.build_exercises import SolutionMarkupError
from prodai_lessons.tooling.grading.gradebook import (
    Gradebook,
    GradebookError,
    RunLock,
    feedback_path,
    merge_gradebooks,
    parse_shard,
    part_exercise,
    source_sha256,
    summarize,
    write_feedback,
)
from prodai_lessons.tooling.grading.notebook import NotebookError, load_exercise_source
from prodai_lessons.tooling.grading.runner import (
    GradingCancelled,
    Limits,
    SubmissionsError,
    Task,
    find_submissions,
    grade_submission,
    sandbox_probe,
    shard_of,
)

__all__ = ["add_arguments", "run", "available_exercises", "add_merge_arguments", "run_merge"]


def _argument(convert, ok, expected: str):
    """An argparse ``type``: ``convert(text)``, then ``ok(value)``; otherwise "must be <expected>; got ..."."""

    def parse(text: str):
        try:
            v = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {expected}; got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"must be {expected}; got {text}")
        return v

    return parse


_MAX_TIMEOUT, _MAX_MEMORY_MB = Limits.MAX_TIMEOUT, Limits.MAX_MEMORY_MB
_positive_int = _argument(int, lambda v: v >= 1, "a positive integer")
_seed = _argument(int, lambda v: v >= 0, "a non-negative integer")
_seconds = _argument(float, lambda v: 0 < v <= _MAX_TIMEOUT, f"a number of seconds in (0, {_MAX_TIMEOUT:g}]")
_MAX_LEARNER = Limits.MAX_LEARNER_TIMEOUT
_learner_seconds = _argument(float, lambda v: 0 < v <= _MAX_LEARNER,
                             f"a number of seconds in (0, {_MAX_LEARNER:g}], at least --timeout")
_memory = _argument(int, lambda v: 64 <= v <= _MAX_MEMORY_MB, f"an integer number of MB from 64 to {_MAX_MEMORY_MB}")


def _shard_spec(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be K/N with 0 <= K < N (K counts from 0: 0/4 ... 3/4); got "
                                         f"{text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``prodai grade`` on the parser ``p``.

    >>> p = argparse.ArgumentParser(prog="prodai grade")
    >>> add_arguments(p)
    >>> a = p.parse_args(["class/", "--exercise", "ex3", "--timeout", "2", "--shard", "1/4", "--seed", "7"])
    >>> a.timeout, a.learner_timeout, a.shard, a.seed
    (2.0, None, (1, 4), 7)
    """
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                   help="a learner's .ipynb, or a folder of learners (one .ipynb or one sub-folder each)")
    p.add_argument("--exercise", required=True, metavar="NAME", help="the exercise to grade: ex1, ex2 or ex3")
    p.add_argument("--out", default="grades.csv", metavar="CSV",
                   help="gradebook CSV; the JSON with every message goes beside it (default: grades.csv)")
    p.add_argument("--feedback", metavar="DIR",
                   help="folder for one markdown feedback file per learner (default: 'feedback' beside --out)")
    p.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="submissions graded in parallel (default: the number of CPUs)")
    p.add_argument("--timeout", type=_seconds, default=10.0, metavar="S",
                   help="wall-clock seconds for each notebook cell and each check (default: 10)")
    p.add_argument("--learner-timeout", type=_learner_seconds, metavar="S",
                   help="wall-clock seconds for one learner in all: checks still to run when it is reached "
                        f"score 0 and are named in the gradebook (default: {Limits.LEARNER_TIMEOUT_FACTOR:g} x "
                        "--timeout)")
    p.add_argument("--memory", type=_memory, default=1024, metavar="MB",
                   help="address-space limit of each worker process (default: 1024)")
    p.add_argument("--seed", type=_seed, metavar="N",
                   help="seed of the grading scenarios (default: the gradebook's, else a fresh random one)")
    p.add_argument("--force", action="store_true",
                   help="regrade learners already in the gradebook (and start afresh a gradebook graded under "
                        "other limits or another version of the exercise)")
    p.add_argument("--course", metavar="DIR",
                   help="the course folder holding solutions/ (default: this package's checkout, else .)")
    p.add_argument("--shard", type=_shard_spec, metavar="K/N",
                   help="grade only shard K of N (K from 0 to N-1): the learners whose id hashes (SHA-256) to K "
                        "modulo N; needs an explicit --seed shared by every shard; combine the shards' "
                        "gradebooks with `prodai grade merge`")


def available_exercises() -> list[str]:
    """Names of the exercise modules (``ex1``, ``ex2``, ...) shipped in ``prodai_lessons.exercises``.

    >>> available_exercises()
    ['ex1', 'ex2', 'ex3']
    """
    import prodai_lessons.exercises as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if re.fullmatch(r"ex\d+", m.name))


class _Progress:
    """A one-line progress bar on a terminal; one line per learner otherwise."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.monotonic()

    def update(self, label: str) -> None:
        self.done += 1
        if self.tty:
            width = 30
            fill = int(width * self.done / max(self.total, 1))
            rate = self.done / max(time.monotonic() - self.t0, 1e-9) * 60
            self.stream.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                              f"{rate:5.1f}/min  {label[:40]:<40}")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
        else:
            print(f"[{self.done}/{self.total}] {label}")


def _error(msg: str) -> int:
    print(f"prodai grade: error: {msg}", file=sys.stderr)
    return 2


class _Stopped(KeyboardInterrupt):
    """Raised in the main thread by the SIGINT/SIGTERM handlers of a run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise _Stopped(signum)


class _Signals:
    """SIGINT and SIGTERM raise :class:`_Stopped` while the run lasts, whatever the disposition the process
    inherited (SIG_IGN for a background job); the previous handlers come back at the end. Only the main
    thread can set handlers: elsewhere (a run inside a thread) nothing changes."""

    def __enter__(self) -> "_Signals":
        self.saved: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, _stop)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _status(stop: KeyboardInterrupt) -> int:
    return 128 + (stop.signum if isinstance(stop, _Stopped) else signal.SIGINT)


def run(args: argparse.Namespace) -> int:
    """``prodai grade``: check the inputs, lock the gradebook, grade (see the module docstring).

    >>> p = argparse.ArgumentParser(prog="prodai grade")
    >>> add_arguments(p)
    >>> run(p.parse_args(["class/", "--exercise", "ex9"]))  # the error goes to stderr
    2
    """
    with _Signals():
        try:
            return _run(args)
        except KeyboardInterrupt as stop:  # outside the grading loop (which handles its own)
            print(f"\n{'terminated' if _status(stop) == 143 else 'interrupted'} (what was graded is saved)",
                  file=sys.stderr)
            return _status(stop)


def _run(args: argparse.Namespace) -> int:
    names = available_exercises()
    if args.exercise not in names:
        return _error(f"--exercise: unknown exercise {args.exercise!r}; choose one of {', '.join(names) or '(none)'}")
    module = f"prodai_lessons.exercises.{args.exercise}"
    exercise = importlib.import_module(module).EXERCISE

    package_root = Path(__file__).resolve().parents[3]
    root = Path(args.course) if args.course else (
        package_root if (package_root / exercise.solution_path).with_suffix(".md").exists()
        or (package_root / exercise.solution_path).exists() else Path.cwd())
    try:
        source = load_exercise_source(root / exercise.solution_path)
    except (FileNotFoundError, NotebookError) as exc:
        return _error(f"{exc} (use --course to point at the course folder)")
    except SolutionMarkupError as exc:
        return _error(f"the course's solution notebook cannot be turned into the exercise: {exc}")
    except OSError as exc:
        return _error(f"cannot read the course's notebooks: {exc}")

    shard = getattr(args, "shard", None)
    if shard is not None and args.seed is None:
        return _error(f"--shard {shard[0]}/{shard[1]} needs an explicit --seed: every shard must grade with the "
                      "same seed (a gradebook's own seed, or a fresh random one, would differ from shard to shard)")
    try:
        Limits(timeout=args.timeout, memory_mb=args.memory, learner_timeout=getattr(args, "learner_timeout", None))
    except ValueError as exc:
        return _error(f"--learner-timeout: {exc}")
    out = Path(args.out)
    if out.is_dir():
        return _error(f"--out {out} is a folder; give the gradebook's file name (grades.csv)")
    csv_path = out.with_suffix(".csv") if out.suffix.lower() == ".json" else out
    feedback_dir = Path(args.feedback) if args.feedback else csv_path.parent / "feedback"
    lock = RunLock(csv_path)
    try:
        subs = find_submissions(args.submissions, Path(exercise.solution_path).with_suffix(".ipynb").name,
                                exclude=[csv_path, csv_path.with_suffix(".json"), lock.path, feedback_dir])
    except SubmissionsError as exc:
        return _error(str(exc))
    if shard is not None:
        subs = [s for s in subs if shard_of(s.learner, shard[1]) == shard[0]]
    try:
        if not lock.acquire():
            return _error(f"another `prodai grade` run is writing {csv_path} (it holds {lock.path}); wait for it "
                          "to finish, or choose another --out")
    except OSError as exc:
        return _error(f"cannot write the outputs: {exc}")
    with lock:
        return _run_locked(args, exercise, module, source, subs, out, feedback_dir)


def _run_locked(args, exercise, module, source, subs, out, feedback_dir) -> int:  # noqa: C901 - steps in order
    """The rest of :func:`run`, while this run holds the gradebook's lock."""


    limits = Limits(timeout=args.timeout, memory_mb=args.memory, learner_timeout=getattr(args, "learner_timeout", None))
    settings = {"limits": asdict(limits), "source_sha256": source_sha256(source.cells, source.answer)}
    shard = getattr(args, "shard", None)
    if shard is not None:
        settings["shard"] = f"{shard[0]}/{shard[1]}"
    seed = args.seed
    fresh_seed = False
    if seed is None:
        seed = Gradebook.stored_seed(out)
        if seed is None:
            seed, fresh_seed = secrets.randbelow(2**31), True
    try:
        book = Gradebook(out, exercise, seed, settings).load(force=args.force)
    except GradebookError as exc:
        return _error(str(exc))
    try:  # fail now, not after the first learner, when the outputs cannot be written
        book.save()
        feedback_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"cannot write the outputs: {exc}")
    refused = None  # what the workers' namespaces lack (sandbox_probe, once, when there is work to do)
    if book.discarded:
        print(f"{book.json_path} was graded under other limits or another version of the exercise; --force: "
              f"its {book.discarded} grade(s) are dropped and the gradebook starts afresh")

    todo = [s for s in subs if args.force or s.learner not in book.grades]
    skipped = [s for s in subs if s not in todo]
    print(f"grading {exercise.name} ({exercise.title}): {len(todo)} submission(s), {len(skipped)} already in "
          f"{book.csv_path} (skipped{'' if args.force else '; --force regrades them'}); seed {seed}"
          f"{' (new; stored in the gradebook)' if fresh_seed else ''}; {args.jobs} job(s), "
          f"timeout {args.timeout:g} s per cell and per check, {limits.learner_timeout:g} s per learner, "
          f"memory {args.memory} MB" + (f"; shard {shard[0]}/{shard[1]}" if shard is not None else ""))
    if todo:
        _, refused = sandbox_probe()
        if refused is not None:
            print(f"prodai grade: warning: no private PID namespace for the workers: {refused}. Each "
                  "submission's process group is still killed, but a process it detaches with setsid can "
                  "outlive its grading (run as root, or allow unprivileged user namespaces: "
                  "sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0)", file=sys.stderr)
    for s in skipped:  # their feedback may be missing if the last run stopped between two writes
        if not feedback_path(s.learner, feedback_dir).exists():
            write_feedback(book.grades[s.learner], exercise, feedback_dir)

    task = Task(exercise, module, source, seed, limits, user_namespace=refused is None)
    cancel = threading.Event()
    progress = _Progress(len(todo))
    problems: list[str] = []
    t0 = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=min(args.jobs, max(len(todo), 1)))
    try:
        futures = {pool.submit(grade_submission, task, s, cancel): s for s in todo}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                s = futures[fut]
                try:
                    grade = fut.result()
                except GradingCancelled:
                    continue
                except Exception as exc:  # noqa: BLE001 - a grader bug for one learner must not stop the run
                    problems.append(f"{s.learner}: {type(exc).__name__}: {exc}")
                    progress.update(f"{s.learner}: not graded (grader error)")
                    continue
                book.add(grade)
                book.save()
                write_feedback(grade, exercise, feedback_dir)
                progress.update(f"{s.learner}: {grade.score:g}/{grade.max_points:g}")
    except KeyboardInterrupt as stop:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        print(f"\n{'terminated' if _status(stop) == 143 else 'interrupted'}: {len(book.grades)} learner(s) saved "
              f"in {book.csv_path}; run the same command again to grade the rest", file=sys.stderr)
        return _status(stop)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    elapsed = time.monotonic() - t0

    graded_now = [book.grades[s.learner] for s in todo if s.learner in book.grades]
    print(f"\ngraded {len(graded_now)} submission(s) in {elapsed:.1f} s"
          + (f" ({len(graded_now) / elapsed * 60:.1f}/min)" if graded_now and elapsed > 0 else "")
          + f"; gradebook {book.csv_path} (+ {book.json_path.name}), feedback in {feedback_dir}/")
    cut = sum(bool(book.grades[s.learner].cut_off) for s in todo if s.learner in book.grades)
    if cut:
        print(f"{cut} learner(s) reached the {limits.learner_timeout:g} s limit per learner (their checks cut "
              "off are named in the gradebook's JSON and in their feedback)")
    _print_summary(book, exercise)
    if problems:
        print(f"{len(problems)} submission(s) could not be graded (grader errors; rerun to retry them):",
              file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    return 0


def _print_summary(book: Gradebook, exercise) -> None:
    summary = summarize([book.grades[k] for k in sorted(book.grades)], exercise)
    if summary.n:
        print(f"{summary.n} learner(s) in the gradebook: mean {summary.mean:.2f}/{summary.max_points:g}, "
              f"median {summary.median:g}, min {summary.minimum:g}, max {summary.maximum:g}")
        print("distribution:")
        for lo, hi, count in summary.histogram:
            bracket = "]" if hi == summary.max_points else ")"
            print(f"  [{lo:5.1f}, {hi:5.1f}{bracket} {'#' * count} {count}")
        print("not passed, by check:")
        for name, reasons in summary.failures:
            total = sum(n for _, n in reasons)
            detail = ", ".join(f"{why} {n}" for why, n in reasons)
            print(f"  {name:<24} {total:>4}" + (f"  ({detail})" if detail else ""))


# ---------------------------------------------------------------------------------------------- merge


def add_merge_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``prodai grade merge`` on the parser ``p``.

    >>> p = argparse.ArgumentParser(prog="prodai grade merge")
    >>> add_merge_arguments(p)
    >>> a = p.parse_args(["all.csv", "shard-0.csv", "shard-1.csv"])
    >>> a.out, a.parts, a.force
    ('all.csv', ['shard-0.csv', 'shard-1.csv'], False)
    """
    p.add_argument("out", metavar="OUT", help="the merged gradebook CSV (its JSON goes beside it)")
    p.add_argument("parts", nargs="+", metavar="PART",
                   help="gradebooks to merge (the .csv or .json of each shard's `prodai grade --shard K/N` run)")
    p.add_argument("--feedback", metavar="DIR",
                   help="folder for the feedback files of every learner (default: 'feedback' beside OUT)")
    p.add_argument("--force", action="store_true", help="overwrite OUT when it exists")


def run_merge(args: argparse.Namespace) -> int:
    """``prodai grade merge OUT PART...``: check the parts agree, write one gradebook and its feedback.

    Exit status 0 (a note on stderr names the shards that are missing, if any), 2 when a part is refused
    (another exercise, seed or settings; a shard or a learner twice) or OUT exists without ``--force``.

    >>> p = argparse.ArgumentParser(prog="prodai grade merge")
    >>> add_merge_arguments(p)
    >>> run_merge(p.parse_args(["all.csv", "no-such-part.csv"]))  # the error goes to stderr
    2
    """
    out = Path(args.out)
    csv_path = out.with_suffix(".csv") if out.suffix.lower() == ".json" else out
    parts = [Path(x) for x in args.parts]
    for part in parts:
        pc = part.with_suffix(".csv") if part.suffix.lower() == ".json" else part
        if pc.resolve() == csv_path.resolve():
            return _error(f"merge: OUT {out} is also given as a part; write the merged gradebook elsewhere")
    try:
        name = part_exercise(parts[0])
    except GradebookError as exc:
        return _error(f"merge: {exc}")
    if name not in available_exercises():
        return _error(f"merge: part {parts[0]} holds grades of an unknown exercise {name!r}")
    exercise = importlib.import_module(f"prodai_lessons.exercises.{name}").EXERCISE
    if not args.force and (csv_path.exists() or csv_path.with_suffix(".json").exists()):
        return _error(f"merge: {csv_path} exists; pass --force to overwrite it, or choose another OUT")
    lock = RunLock(csv_path)
    try:
        if not lock.acquire():
            return _error(f"merge: another `prodai grade` run is writing {csv_path}; choose another OUT")
    except OSError as exc:
        return _error(f"merge: cannot write the outputs: {exc}")
    with lock:
        try:
            merged = merge_gradebooks(csv_path, parts, exercise)
        except GradebookError as exc:
            return _error(f"merge: {exc}")
        feedback_dir = Path(args.feedback) if args.feedback else csv_path.parent / "feedback"
        book = merged.book
        try:
            book.save()
            for learner in sorted(book.grades):
                write_feedback(book.grades[learner], exercise, feedback_dir)
        except OSError as exc:
            return _error(f"merge: cannot write the outputs: {exc}")
    print(f"merged {len(parts)} part(s) of {exercise.name}: {len(book.grades)} learner(s), seed {book.seed}; "
          f"gradebook {book.csv_path} (+ {book.json_path.name}), feedback in {feedback_dir}/")
    if merged.missing:
        print(f"prodai grade merge: note: shard(s) {', '.join(f'{k}/{merged.shards}' for k in merged.missing)} "
              "are not among the parts; their learners are not in the merged gradebook (`prodai grade` on it, "
              "with the same seed and limits and no --shard, grades them)", file=sys.stderr)
    _print_summary(book, exercise)
    return 0
