"""Grade one submission: run the learner's code in a sandboxed subprocess, judge the results here.

**Why a plain Python worker and not a Jupyter kernel.** What the grader needs from the learner's notebook is
its definitions (classes, functions), then the behaviour of those definitions on seeded scenarios; it does
not need rich outputs, widgets or the IPython display machinery. A plain ``python -I`` subprocess starts in
~0.1 s where a kernel takes ~1-2 s plus ZeroMQ plumbing, it takes resource limits and a Landlock ruleset at
start (a kernel runs its own event loop and threads that such limits would break), and when it has to be
killed there is nothing to restart but the process. The cost is IPython syntax: magics and shell escapes
are neutralised (:func:`~prodai_lessons.tooling.grading.notebook.strip_magics`) and ``display`` is a plain stand-in.

**What runs where.**

- The *worker* (:mod:`prodai_lessons.tooling.grading._worker`, its own process group, a fresh temporary working
  directory, a scrubbed environment, ``/dev/null`` for stdin/stdout/stderr, resource limits, no
  capabilities, Landlock where available) executes the cells and each check's ``collect``, and sends the
  plain data back on a pipe, framed with a per-run random nonce. Every process the learner starts ends
  with the worker: killing the process group takes its children, and as root on Linux the worker's own
  PID namespace also takes those that left the group with ``setsid``. Nothing limits how *many* processes
  learner code starts (root is exempt from ``RLIMIT_NPROC``; a cgroup would be needed), so a fork bomb
  loads the machine until the step's timeout, then goes with the worker.
- The *parent* (this module) enforces a wall-clock timeout for every cell and every check, parses frames
  strictly (wrong nonce, wrong order, bad JSON: the step in progress scores 0, "invalid"), and calls each
  check's ``judge`` on the parsed data in its own process, where learner code never ran. A learner cannot
  patch the judge, print a score, or exit with one: the score exists only here.

**Partial credit, without losing the rest.** When a check times out, exhausts memory, crashes the process,
ends it (``os._exit``) or garbles the channel, that check scores 0 with the reason, the worker is killed,
and a fresh worker runs the cells again and the *remaining* checks. When a *cell* does that (an infinite loop
at the top level, ``os._exit()`` while the notebook runs), the cell is skipped and the notebook runs again
without it (at most ``Limits.max_skipped_cells`` times), so one bad exploratory cell costs what it defines,
not the whole grade. A cell that raises (``SystemExit`` included) just ends, as in Jupyter.

**Tampering.** The worker fingerprints the grading code before learner code runs (the checks' functions,
the exercise package, ``json``, ``builtins``) and reports any replacement; a submission that replaced any
of them scores 0 on every check with the names it replaced. The fingerprint runs inside the worker, so it
catches the plain monkeypatch, not an attacker who also patches the fingerprinting; what such an attacker
still cannot do is listed above.
"""

from __future__ import annotations

import functools
import json
import math
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from prodai_lessons._validation import check_int, check_real
from prodai_lessons.exercises._core import CheckResult, Exercise, decode_plain, describe_exception, encode_plain
from prodai_lessons.tooling.grading.notebook import (
    ExerciseSource,
    NotebookError,
    ProgramCell,
    assemble,
    read_code_cells,
)

__all__ = ["Limits", "Task", "Submission", "LearnerGrade", "GradingCancelled", "GraderError", "SubmissionsError",
           "find_submissions", "grade_submission", "worker_command", "clean_text"]

MAX_FRAME = 16 * 1024 * 1024
_STATUSES = frozenset({"not_attempted", "error", "memory", "invalid", "timeout"})
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])


def clean_text(text: str) -> str:
    """``text`` with everything that is not encodable as UTF-8 (lone surrogates: the undecodable bytes of a
    file name, or a learner's exception message) replaced by backslash escapes (``\\udce9``)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class GraderError(RuntimeError):
    """The grader itself could not run a submission (the worker failed before any learner code ran: a broken
    exercise module, an overloaded machine). Not a grade: the learner is left out so a rerun retries."""


class GradingCancelled(Exception):
    """Raised by :func:`grade_submission` when its ``cancel`` event is set (the worker was killed)."""


@dataclass(frozen=True)
class Limits:
    """Sandbox limits. ``timeout``: wall-clock seconds for each cell and each check; ``memory_mb``: address
    space of the worker; ``fsize_mb``: largest file it may write; ``startup_timeout``: for the worker's own
    imports; ``max_skipped_cells``: cells that hang or kill the worker before the notebook counts as not
    runnable; ``output_note_chars``: printed output above which the feedback mentions it (output is
    always discarded).

    Upper bounds (``MAX_TIMEOUT`` s, ``MAX_MEMORY_MB``) keep every limit within what the operating system's
    resource limits can hold (a larger value would only fail later, for every learner)."""

    MAX_TIMEOUT: ClassVar[float] = 3600.0  # one hour per cell or check
    MAX_MEMORY_MB: ClassVar[int] = 1024 * 1024  # 1 TiB

    timeout: float = 10.0
    memory_mb: int = 1024
    fsize_mb: int = 64
    startup_timeout: float = 60.0
    max_skipped_cells: int = 3
    output_note_chars: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("timeout", "startup_timeout"):
            check_real(name, getattr(self, name), minimum=0.0, strict_minimum=True, maximum=self.MAX_TIMEOUT)
        for name, lo, hi in (("memory_mb", 64, self.MAX_MEMORY_MB), ("fsize_mb", 1, self.MAX_MEMORY_MB),
                             ("max_skipped_cells", 0, 1000), ("output_note_chars", 0, 2**62)):
            check_int(name, getattr(self, name), minimum=lo, maximum=hi)


@dataclass(frozen=True)
class Task:
    """What every submission of one run is graded against."""

    exercise: Exercise
    module: str  # the importable module that defines ``EXERCISE`` (``prodai_lessons.exercises.ex3``)
    source: ExerciseSource
    seed: int
    limits: Limits = field(default_factory=Limits)
    sys_path: tuple[str, ...] = ()  # extra import paths for the worker (tests' fake exercises)


@dataclass(frozen=True)
class Submission:
    """One learner's notebook; ``problem`` says why there is nothing to run (graded 0)."""

    learner: str
    path: str | None
    problem: str | None = None


class SubmissionsError(ValueError):
    """The submission arguments cannot be graded at all (a missing path, no notebook, duplicate learners)."""


def _hidden(p: Path) -> bool:
    return p.name.startswith(".") or p.name == "__pycache__"


def find_submissions(paths: Sequence[str | Path], notebook_name: str = "",
                     exclude: Sequence[str | Path] = ()) -> list[Submission]:
    """The submissions named by ``paths``, sorted by learner id.

    A path is a notebook (learner id: the file name without ``.ipynb``) or a folder of learners, where
    each ``.ipynb`` directly inside is one learner and each sub-folder is one learner (id: the folder
    name) whose notebook is ``notebook_name`` if present, else the only notebook in it. A learner folder
    without a notebook, or with several and none named ``notebook_name``, becomes a :class:`Submission`
    with a ``problem`` (graded 0). Only regular files (or links to them) count as notebooks: a folder named
    ``x.ipynb`` or a broken link does not. Hidden files and folders (``.ipynb_checkpoints``) are ignored, and
    so is everything under ``exclude`` (the grader's own outputs: the gradebook and the feedback folder, when
    they sit among the submissions). Learner ids are :func:`clean_text` of the names, so every id can be
    written to the gradebook.

    Raises :class:`SubmissionsError` for a path that does not exist, a file that is not ``.ipynb``, a folder
    without any notebook, or two submissions with the same learner id.
    """
    if isinstance(paths, (str, Path)):
        raise TypeError("paths must be a list of paths; got a single path")
    excluded = {Path(e).resolve() for e in exclude}

    def skip(x: Path) -> bool:
        return _hidden(x) or bool(excluded) and x.resolve() in excluded

    subs: list[Submission] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise SubmissionsError(f"submission {clean_text(str(p))}: no such file or folder")
        if p.is_file():
            if p.suffix != ".ipynb":
                raise SubmissionsError(f"submission {clean_text(str(p))}: not a notebook (expected a .ipynb file "
                                       "or a folder)")
            subs.append(Submission(clean_text(p.stem), str(p)))
            continue
        found = []
        for child in sorted(p.iterdir()):
            if skip(child):
                continue
            if child.is_file() and child.suffix == ".ipynb":
                found.append(Submission(clean_text(child.stem), str(child)))
            elif child.is_dir():
                nbs = sorted(x for x in child.rglob("*.ipynb")
                             if x.is_file() and not skip(x)
                             and not any(skip(child / part) for part in x.relative_to(child).parents
                                             if part.name))
                named = [x for x in nbs if x.name == notebook_name]
                learner = clean_text(child.name)
                if named:
                    found.append(Submission(learner, str(named[0])))
                elif len(nbs) == 1:
                    found.append(Submission(learner, str(nbs[0])))
                elif nbs:
                    found.append(Submission(learner, None, f"the folder holds {len(nbs)} notebooks and none "
                                                           f"is named {notebook_name or '(unknown)'}"))
                else:
                    found.append(Submission(learner, None, "the folder holds no notebook (.ipynb)"))
        if not any(s.path for s in found):
            raise SubmissionsError(f"submission folder {clean_text(str(p))}: no notebook (.ipynb) in it or in "
                                   "its sub-folders")
        subs.extend(found)
    seen: dict[str, str] = {}
    for s in subs:
        if s.learner in seen:
            raise SubmissionsError(f"learner {s.learner!r} appears twice ({clean_text(seen[s.learner])} and "
                                   f"{clean_text(s.path or 'a folder')}); learner ids must be unique")
        seen[s.learner] = s.path or ""
    return sorted(subs, key=lambda s: s.learner)


@dataclass(frozen=True)
class LearnerGrade:
    """The grade of one learner: one :class:`CheckResult` per check, plus notes on how the notebook ran."""

    learner: str
    exercise: str
    seed: int
    results: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()
    source: str = ""
    seconds: float = 0.0
    sandbox: tuple[str, ...] = ()  # the confinement the worker reported (limits, Landlock, ...)

    @property
    def score(self) -> float:
        return round(sum(r.points for r in self.results), 6)

    @property
    def max_points(self) -> float:
        return sum(r.max_points for r in self.results)

    def result(self, check: str) -> CheckResult:
        for r in self.results:
            if r.name == check:
                return r
        raise KeyError(check)


# ------------------------------------------------------------------------------------------ the worker

_BOOT = ("import sys; sys.path.insert(0, {root!r}); "
         "from prodai_lessons.tooling.grading._worker import main; main()")


def worker_command() -> list[str]:
    """The worker's command line: isolated mode (no user site, no ``PYTHON*`` variables, no cwd on the
    path, so a learner's ``numpy.py`` cannot shadow anything) and no bytecode writing."""
    return [sys.executable, "-I", "-B", "-c", _BOOT.format(root=_PACKAGE_ROOT)]


def _environment(workdir: str) -> dict[str, str]:
    """The worker's whole environment: nothing inherited (no tokens, no proxies, no PYTHONPATH)."""
    return {"PATH": os.defpath, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": workdir, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


class _Corrupt(Exception):
    pass


class _Frames:
    """Incremental parser of ``<nonce> <length>\\n<json>\\n`` frames; anything else is :class:`_Corrupt`."""

    def __init__(self, nonce: str) -> None:
        self.prefix = nonce.encode("ascii") + b" "
        self.buf = bytearray()
        self.error: str | None = None

    def feed(self, chunk: bytes) -> list[dict]:
        """The complete frames in the stream so far. When the stream turns bad, the frames before the bad
        part are returned first and the next call raises :class:`_Corrupt` (so blame lands on the step
        that was running when the garbage was written, not on an earlier one)."""
        if self.error is not None:
            raise _Corrupt(self.error)
        self.buf += chunk
        out: list[dict] = []
        try:
            while self.buf:
                msg = self._next()
                if msg is None:
                    break
                out.append(msg)
        except _Corrupt as exc:
            if not out:
                raise
            self.error = str(exc)
        return out

    def check(self) -> None:
        """Raise the pending :class:`_Corrupt`, if any."""
        if self.error is not None:
            raise _Corrupt(self.error)

    def _next(self) -> dict | None:
        head = bytes(self.buf[:len(self.prefix)])
        if not self.prefix.startswith(head):
            raise _Corrupt("a message without this run's nonce")
        nl = self.buf.find(b"\n", 0, len(self.prefix) + 12)
        if nl < 0:
            if len(self.buf) >= len(self.prefix) + 12:
                raise _Corrupt("a malformed message header")
            return None
        digits = bytes(self.buf[len(self.prefix):nl])
        if not digits.isdigit() or int(digits) > MAX_FRAME:
            raise _Corrupt("a malformed message length")
        end = nl + 1 + int(digits)
        if len(self.buf) < end + 1:
            return None
        if self.buf[end] != 0x0A:
            raise _Corrupt("a message of the wrong length")
        try:
            msg = json.loads(bytes(self.buf[nl + 1:end]).decode("ascii"))
        except (ValueError, RecursionError) as exc:
            raise _Corrupt(f"a message that is not JSON ({type(exc).__name__})") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
            raise _Corrupt("a message without an event")
        del self.buf[:end + 1]
        return msg


@dataclass
class _Failure:
    step: str  # "startup" | "cell" | "check"
    index: int
    kind: str  # "timeout" | "memory" | "crash" | "exit" | "corrupt" | "fatal"
    detail: str = ""


@dataclass
class _Outcome:
    cell_errors: dict[int, str] = field(default_factory=dict)
    checks: dict[int, dict] = field(default_factory=dict)
    tampered: list[str] = field(default_factory=list)
    sandbox: list[str] = field(default_factory=list)
    output_chars: int = 0
    failure: _Failure | None = None


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()


def _death(returncode: int, killed_by_us: bool) -> tuple[str, str]:
    if returncode < 0:
        sig = -returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if sig == signal.SIGKILL and not killed_by_us:
            return "memory", f"was killed ({name}), most likely by the out-of-memory killer"
        if sig == signal.SIGXCPU:
            return "timeout", "used up its CPU time limit"
        return "crash", f"crashed the process ({name})"
    return "exit", f"ended the process (exit status {returncode}; os._exit?)"


@functools.lru_cache(maxsize=64)
def _inputs_payload(exercise: Exercise, check: str, seed: int) -> bytes:
    """The frame body with one check's inputs for ``seed`` (the same for every learner of a run)."""
    return json.dumps({"inputs": encode_plain(exercise.get_check(check).scenario(seed))}).encode("ascii")


def _run_worker(task: Task, cells: Sequence[ProgramCell], checks: Sequence[str],
                cancel: threading.Event | None) -> _Outcome:
    """One worker run over ``cells`` then ``checks``; stops at the first failure (see ``_Outcome``)."""
    lim = task.limits
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="prodai-grade-")
    r, w = os.pipe()
    reply_r, reply_w = os.pipe()
    os.set_blocking(reply_w, False)
    cpu = math.ceil(lim.timeout * (len(cells) + len(checks) + 2)) + 5
    job = {"nonce": nonce, "fd": w, "reply_fd": reply_r, "module": task.module, "sys_path": list(task.sys_path),
           "cells": [{"label": c.label, "source": c.source} for c in cells], "checks": list(checks),
           "workdir": workdir, "limits": {"memory_mb": lim.memory_mb, "cpu_s": cpu, "fsize_mb": lim.fsize_mb}}
    by_name = {c.name: c for c in task.exercise.checks}
    environments: dict[int, Any] = {}
    out = _Outcome()
    proc = None
    try:
        proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, pass_fds=(w, reply_r), env=_environment(workdir),
                                cwd=workdir, start_new_session=True)
        os.close(w)
        os.close(reply_r)
        w = reply_r = -1
        try:
            proc.stdin.write(json.dumps(job).encode("utf-8"))
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        frames = _Frames(nonce)
        # protocol state: what the worker may send next
        started: tuple[str, int] | None = None  # the step in progress
        next_step: tuple[str, int] = ("startup", 0)
        deadline = time.monotonic() + lim.startup_timeout
        hello = done = killed = False

        def after(step: str, index: int) -> tuple[str, int]:
            if step == "cell" and index + 1 < len(cells):
                return ("cell", index + 1)
            if step == "check":
                return ("check", index + 1)
            return ("check", 0)

        def reply(payload: bytes) -> None:
            """Write one frame to the worker's reply pipe, within the current step's deadline."""
            view = memoryview(nonce.encode("ascii") + b" %d\n" % len(payload) + payload + b"\n")
            while view:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [reply_w], [], left)[1]:
                    raise _Corrupt("the worker stopped reading its inputs")
                try:
                    view = view[os.write(reply_w, view):]
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise _Corrupt(f"the worker's reply pipe closed ({type(exc).__name__})") from None

        def answer(index: int, request: Any) -> None:
            check = by_name[checks[index]]
            if check.environment is None:
                raise _Corrupt("a request from a check that takes none")
            if index not in environments:
                environments[index] = check.environment(task.seed)
            try:
                body = {"ok": encode_plain(environments[index].respond(decode_plain(request)))}
            except ValueError as exc:
                body = {"error": str(exc)[:300]}
            reply(json.dumps(body).encode("ascii"))

        def handle(chunk: bytes) -> None:
            nonlocal started, next_step, deadline, hello, done
            for msg in frames.feed(chunk):
                ev = msg["event"]
                if not hello:
                    if ev == "fatal":
                        raise _Corrupt(str(msg.get("message", ""))[:300])
                    if ev != "hello":
                        raise _Corrupt("an unexpected first message")
                    hello = True
                    out.sandbox = [str(s) for s in msg.get("sandbox", [])][:10]
                    next_step = ("cell", 0) if cells else ("check", 0)
                elif done:
                    raise _Corrupt("a message after the end")
                elif ev == "start":
                    step = (msg.get("step"), msg.get("index"))
                    if started is not None or step != next_step:
                        raise _Corrupt("a message out of order")
                    started = step
                    if step[0] == "check":
                        deadline = time.monotonic() + lim.timeout
                        reply(_inputs_payload(task.exercise, checks[step[1]], task.seed))
                elif ev == "ask":
                    if started is None or started[0] != "check" or msg.get("index") != started[1]:
                        raise _Corrupt("a message out of order")
                    answer(started[1], msg.get("request"))
                elif ev == "end":
                    step = (msg.get("step"), msg.get("index"))
                    if step != started:
                        raise _Corrupt("a message out of order")
                    if step[0] == "cell":
                        err = msg.get("error")
                        if err is not None:
                            out.cell_errors[step[1]] = str(err)[:500]
                    else:
                        out.checks[step[1]] = msg
                    out.tampered = sorted(set(out.tampered) | {str(t) for t in msg.get("tampered", [])})
                    oc = msg.get("output_chars")
                    if isinstance(oc, int):
                        out.output_chars = max(out.output_chars, oc)
                    started, next_step = None, after(*step)
                elif ev == "setup":
                    if started is not None or next_step != ("check", 0):
                        raise _Corrupt("a message out of order")
                    out.tampered = sorted(set(out.tampered) | {str(t) for t in msg.get("tampered", [])})
                elif ev == "done":
                    if started is not None or len(out.checks) != len(checks):
                        raise _Corrupt("a message out of order")
                    done = True
                else:
                    raise _Corrupt(f"an unknown message {ev[:40]!r}")
                deadline = time.monotonic() + (lim.timeout if hello else lim.startup_timeout)
                if started is None and next_step == ("check", len(checks)):
                    deadline = time.monotonic() + lim.startup_timeout  # only "done" and the exit remain
            frames.check()

        def fail(kind: str, detail: str) -> None:
            step, idx = started if started is not None else next_step
            out.failure = (_Failure(step, idx, kind, detail) if hello else
                           _Failure("startup", 0, "fatal", f"the worker failed before running any code ({detail})"))

        try:
            while not done:
                if cancel is not None and cancel.is_set():
                    killed = True
                    _kill(proc)
                    raise GradingCancelled()
                now = time.monotonic()
                if now >= deadline:
                    killed = True
                    _kill(proc)
                    fail("timeout", "")
                    break
                ready, _, _ = select.select([r], [], [], min(deadline - now, 0.2))
                if ready:
                    chunk = os.read(r, 1 << 16)
                    if chunk:
                        handle(chunk)
                        continue
                elif proc.poll() is None:
                    continue
                # end of the pipe, or the worker died (children it forked may hold the pipe open): drain
                while select.select([r], [], [], 0)[0]:
                    chunk = os.read(r, 1 << 16)
                    if not chunk:
                        break
                    handle(chunk)
                if not done:
                    fail(*_death(proc.wait(), killed))
                break
        except (_Corrupt, TypeError, AttributeError) as exc:
            killed = True
            _kill(proc)
            fail("corrupt", str(exc) if isinstance(exc, _Corrupt) else "a malformed message")
    finally:
        for fd in (w, reply_r):
            if fd >= 0:
                os.close(fd)
        os.close(r)
        os.close(reply_w)
        if proc is not None and proc.poll() is None:
            _kill(proc)
        elif proc is not None:
            try:  # the worker is gone; children it left behind go with its process group (and namespace)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(workdir, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------------------- the grading


def _zero(check, status: str, message: str) -> CheckResult:
    return CheckResult(check.name, 0.0, check.max_points, False, message, status=status)


def _all_zero(task: Task, submission: Submission, status: str, message: str, t0: float,
              notes: Sequence[str] = ()) -> LearnerGrade:
    return LearnerGrade(submission.learner, task.exercise.name, task.seed,
                        tuple(_zero(c, status, message) for c in task.exercise.checks), tuple(notes),
                        submission.path or "", time.monotonic() - t0)


def _check_failure(f: _Failure, lim: Limits) -> tuple[str, str]:
    if f.kind == "timeout":
        return "timeout", (f"did not finish within {lim.timeout:g} s (an infinite loop, or far too slow); "
                           "the other checks still ran")
    if f.kind == "memory":
        return "memory", f"ran out of memory (limit {lim.memory_mb} MB): your code {f.detail}"
    if f.kind == "corrupt":
        return "invalid", f"the grader's results channel was corrupted during this check ({f.detail})"
    return "error", f"your code {f.detail} during this check"


def _cell_failure(f: _Failure, lim: Limits) -> str:
    if f.kind == "timeout":
        return f"did not finish within {lim.timeout:g} s"
    if f.kind == "memory":
        return f"ran out of memory (limit {lim.memory_mb} MB)"
    if f.kind == "corrupt":
        return f"corrupted the grader's results channel ({f.detail})"
    return f.detail


def _judge(check, data: Any, seed: int) -> CheckResult:
    """``check.judge`` on untrusted data; whatever goes wrong scores 0 instead of stopping the run."""
    try:
        r = check.judge(data, seed)
    except Exception as exc:  # noqa: BLE001 - a judge must never take the run down
        return _zero(check, "invalid", "the grader could not judge the data collected from your code "
                                       f"({describe_exception(exc)[:200]})")
    if not isinstance(r, CheckResult) or r.max_points != check.max_points:
        return _zero(check, "invalid", "the grader's judge returned no valid result")
    return r


def grade_submission(task: Task, submission: Submission, cancel: threading.Event | None = None) -> LearnerGrade:
    """Grade one submission (never raises for anything the submission does; see the module docstring).

    Raises :class:`GradingCancelled` when ``cancel`` is set while a worker runs, and :class:`GraderError`
    when the worker fails before running any learner code.
    """
    t0 = time.monotonic()
    ex, lim = task.exercise, task.limits
    if submission.problem is not None or submission.path is None:
        return _all_zero(task, submission, "invalid", submission.problem or "no notebook was submitted", t0)
    try:
        learner_cells = read_code_cells(submission.path)
    except NotebookError as exc:
        return _all_zero(task, submission, "invalid", f"the submission is not a readable notebook: {exc}", t0)
    except OSError as exc:
        return _all_zero(task, submission, "invalid",
                         f"the submission could not be read ({type(exc).__name__}: {exc.strerror or exc})", t0)
    program = assemble(task.source, learner_cells, ex.entry_points)

    notes: list[str] = []
    cell_notes: dict[int, str] = {}
    skipped: list[int] = []
    results: dict[str, CheckResult] = {}
    data: dict[str, Any] = {}
    tampered: set[str] = set()
    output_chars = 0
    sandbox: list[str] = []
    pending = [c.name for c in ex.checks]
    by_name = {c.name: c for c in ex.checks}
    while pending:
        active = [i for i in range(len(program)) if i not in skipped]
        outcome = _run_worker(task, [program[i] for i in active], pending, cancel)
        output_chars = max(output_chars, outcome.output_chars)
        sandbox = sandbox or outcome.sandbox
        tampered |= set(outcome.tampered)
        for k, err in outcome.cell_errors.items():
            i = active[k]
            cell_notes.setdefault(i, f"{program[i].label} raised {err}; the cells after it still ran")
        for k, msg in outcome.checks.items():
            name, status = pending[k], msg.get("status")
            if status == "ok" and "data" in msg:
                data[name] = msg["data"]
            elif status in _STATUSES:
                text = msg.get("message") if isinstance(msg.get("message"), str) else ""
                if status == "memory":
                    text = f"ran out of memory (limit {lim.memory_mb} MB)"
                results[name] = _zero(by_name[name], status, text[:500] or status)
            else:
                results[name] = _zero(by_name[name], "invalid", "the worker sent an unexpected check status")
        f = outcome.failure
        if f is not None:
            if f.kind == "fatal" or f.step == "startup":
                raise GraderError(f"{submission.learner}: {f.detail or f.kind}")
            if f.step == "cell":
                i = active[f.index]
                skipped.append(i)
                cell_notes[i] = (f"{program[i].label} {_cell_failure(f, lim)}, so it was skipped; "
                                 "the other cells ran without it")
                if len(skipped) > lim.max_skipped_cells:
                    for name in pending:
                        if name not in results and name not in data:
                            results[name] = _zero(by_name[name], "error",
                                                  f"the notebook could not be run: {len(skipped)} cells hung "
                                                  "or ended the process")
                    break
            elif f.index < len(pending):
                name = pending[f.index]
                status, text = _check_failure(f, lim)
                results[name] = _zero(by_name[name], status, text)
        if tampered:
            break
        pending = [n for n in pending if n not in results and n not in data]

    if tampered:
        shown = ", ".join(sorted(tampered)[:5]) + (" ..." if len(tampered) > 5 else "")
        final = tuple(_zero(c, "invalid", f"graded 0: your code replaced part of the grading code or of "
                                          f"Python's builtins ({shown})") for c in ex.checks)
    else:
        final = tuple(results[c.name] if c.name in results else _judge(c, data[c.name], task.seed)
                      for c in ex.checks)
    notes = [cell_notes[i] for i in sorted(cell_notes)] + notes
    if output_chars > lim.output_note_chars:
        notes.append(f"your code printed {output_chars:,} characters; printed output is discarded while grading")
    return LearnerGrade(submission.learner, ex.name, task.seed, final, tuple(notes), submission.path,
                        time.monotonic() - t0, tuple(sandbox))
