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
  with the worker: killing the process group takes its children, and on Linux the worker's own PID
  namespace also takes those that left the group with ``setsid`` (as root directly; as a normal user
  inside an unprivileged user namespace, where the kernel allows one: :func:`sandbox_probe` tells, and
  ``prodai grade`` says so once at the start of a run when it does not). The worker also ends when the
  grader does, even killed outright. Nothing limits how *many* processes learner code starts (root is
  exempt from ``RLIMIT_NPROC``; a cgroup would be needed), so a fork bomb loads the machine until the
  step's timeout, then goes with the worker.
- The *parent* (this module) enforces a wall-clock timeout for every cell and every check, parses frames
  strictly (wrong nonce, wrong order, bad JSON: the step in progress scores 0, "invalid"), and calls each
  check's ``judge`` on the parsed data in its own process, where learner code never ran. A learner cannot
  patch the judge, print a score, or exit with one: the score exists only here.

**Partial credit, without losing the rest.** When a check times out, exhausts memory, crashes the process,
ends it (``os._exit``) or garbles the channel, that check scores 0 with the reason, the worker is killed,
and a fresh worker runs the cells again and the *remaining* checks. When a *cell* does that (an infinite loop
at the top level, ``os._exit()`` while the notebook runs), the cell is skipped and the notebook runs again
without it (at most ``Limits.max_skipped_cells`` times), so one bad exploratory cell costs what it defines,
not the whole grade. A cell that raises (``SystemExit`` included) just ends, as in Jupyter. All of this
happens within :attr:`Limits.learner_timeout` per learner: when grading a learner reaches it, the check
running then and those not yet run score 0 and are named in :attr:`LearnerGrade.cut_off`.

**Sharding.** :func:`shard_of` splits a class into ``N`` stable parts by a SHA-256 of the learner id, so
independent jobs (a Slurm array, a Kubernetes Indexed Job) each grade their part with the same seed and
limits, and :func:`~prodai_lessons.tooling.grading.gradebook.merge_gradebooks` combines their gradebooks.

**Tampering.** The worker fingerprints the grading code before learner code runs (the checks' functions,
the exercise package, ``json``, ``builtins``) and reports any replacement; a submission that replaced any
of them scores 0 on every check with the names it replaced. The fingerprint runs inside the worker, so it
catches the plain monkeypatch, not an attacker who also patches the fingerprinting; what such an attacker
still cannot do is listed above.
"""

from __future__ import annotations

import functools
import hashlib
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
           "find_submissions", "grade_submission", "worker_command", "clean_text", "shard_of", "sandbox_probe"]

MAX_FRAME = 16 * 1024 * 1024
_STATUSES = frozenset({"not_attempted", "error", "memory", "invalid", "timeout"})
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])


def clean_text(text: str) -> str:
    """``text`` with everything that is not encodable as UTF-8 (lone surrogates: the undecodable bytes of a
    file name, or a learner's exception message) replaced by backslash escapes (``\\udce9``).

    >>> clean_text("caf\\udce9"), clean_text("café")
    ('caf\\\\udce9', 'café')
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class GraderError(RuntimeError):
    """The grader itself could not run a submission (the worker failed before any learner code ran: a broken
    exercise module, an overloaded machine). Not a grade: the learner is left out so a rerun retries.

    >>> str(GraderError("amy: No module named 'ex9'"))
    "amy: No module named 'ex9'"
    """


class GradingCancelled(Exception):
    """Raised by :func:`grade_submission` when its ``cancel`` event is set (the worker was killed).

    >>> issubclass(GradingCancelled, Exception) and not issubclass(GradingCancelled, GraderError)
    True
    """


@dataclass(frozen=True)
class Limits:
    """Sandbox limits. ``timeout``: wall-clock seconds for each cell and each check; ``learner_timeout``:
    wall-clock seconds for one learner as a whole (default ``LEARNER_TIMEOUT_FACTOR`` x ``timeout``);
    ``memory_mb``: address space of the worker; ``fsize_mb``: largest file it may write;
    ``startup_timeout``: for the worker's own imports; ``max_skipped_cells``: cells that hang or kill the
    worker before the notebook counts as not runnable; ``output_note_chars``: printed output above which
    the feedback mentions it (output is always discarded).

    **Why a cap per learner.** A check that hangs costs ``timeout``, then a fresh worker runs every cell
    again for the remaining checks; so slow cells and several hanging checks multiply (3 cells of just under
    2 s and 5 hanging checks: over 60 s at ``timeout=2``). ``learner_timeout`` bounds the whole: the clock
    starts when the first worker is ready to run the learner's code, and when it runs out the step in
    progress and every check not yet run score 0 (status ``"timeout"``), named in
    :attr:`LearnerGrade.cut_off` and in the feedback. It is at least ``timeout`` and at most
    ``MAX_LEARNER_TIMEOUT`` s.

    Upper bounds (``MAX_TIMEOUT`` s, ``MAX_MEMORY_MB``) keep every limit within what the operating system's
    resource limits can hold (a larger value would only fail later, for every learner).

    >>> Limits(timeout=2).learner_timeout
    10.0
    >>> Limits(timeout=2, learner_timeout=1)
    Traceback (most recent call last):
    ...
    ValueError: learner_timeout must be >= 2.0 (timeout); got 1.0
    """

    MAX_TIMEOUT: ClassVar[float] = 3600.0  # one hour per cell or check
    MAX_LEARNER_TIMEOUT: ClassVar[float] = 86400.0  # one day per learner
    LEARNER_TIMEOUT_FACTOR: ClassVar[float] = 5.0
    MAX_MEMORY_MB: ClassVar[int] = 1024 * 1024  # 1 TiB

    timeout: float = 10.0
    memory_mb: int = 1024
    fsize_mb: int = 64
    startup_timeout: float = 60.0
    max_skipped_cells: int = 3
    output_note_chars: int = 1_000_000
    learner_timeout: float | None = None  # None: LEARNER_TIMEOUT_FACTOR x timeout

    def __post_init__(self) -> None:
        for name in ("timeout", "startup_timeout"):
            check_real(name, getattr(self, name), minimum=0.0, strict_minimum=True, maximum=self.MAX_TIMEOUT)
        for name, lo, hi in (("memory_mb", 64, self.MAX_MEMORY_MB), ("fsize_mb", 1, self.MAX_MEMORY_MB),
                             ("max_skipped_cells", 0, 1000), ("output_note_chars", 0, 2**62)):
            check_int(name, getattr(self, name), minimum=lo, maximum=hi)
        cap = self.learner_timeout
        if cap is None:
            cap = self.LEARNER_TIMEOUT_FACTOR * float(self.timeout)
        cap = check_real("learner_timeout", cap, maximum=self.MAX_LEARNER_TIMEOUT)
        if cap < self.timeout:
            raise ValueError(f"learner_timeout must be >= {float(self.timeout)} (timeout); got {cap}")
        object.__setattr__(self, "learner_timeout", cap)


@dataclass(frozen=True)
class Task:
    """What every submission of one run is graded against: the exercise, its module, its learner version's
    cells, the seed of the scenarios and the limits.

    >>> from prodai_lessons.exercises import ex3
    >>> from prodai_lessons.tooling.grading.notebook import ExerciseSource
    >>> task = Task(ex3.EXERCISE, "prodai_lessons.exercises.ex3", ExerciseSource(("pass",), (True,), "-"), 7)
    >>> task.seed, task.limits.timeout
    (7, 10.0)
    """

    exercise: Exercise
    module: str  # the importable module that defines ``EXERCISE`` (``prodai_lessons.exercises.ex3``)
    source: ExerciseSource
    seed: int
    limits: Limits = field(default_factory=Limits)
    sys_path: tuple[str, ...] = ()  # extra import paths for the worker (tests' fake exercises)
    user_namespace: bool = True  # False: the workers do not try one (sandbox_probe said it cannot be set up)


@dataclass(frozen=True)
class Submission:
    """One learner's notebook; ``problem`` says why there is nothing to run (graded 0).

    >>> Submission("amy", "class/amy.ipynb").problem is None
    True
    """

    learner: str
    path: str | None
    problem: str | None = None


class SubmissionsError(ValueError):
    """The submission arguments cannot be graded at all (a missing path, no notebook, duplicate learners).

    >>> find_submissions(["no/such/folder"])
    Traceback (most recent call last):
    ...
    prodai_lessons.tooling.grading.runner.SubmissionsError: submission no/such/folder: no such file or folder
    """


_OUTSIDE = ("the submitted {what} is a link to a place outside the class folder; only work inside the class "
            "folder is graded (submit a copy of your notebook, not a link)")


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

    **Links.** Inside a folder of learners, a learner folder or a notebook that is a symbolic link (or sits
    under one) to a place outside that folder is not graded: it becomes a :class:`Submission` with a
    ``problem`` (graded 0, the reason in the gradebook), since a link to the solution, or to another class,
    is not the learner's work. Links that stay inside the folder are followed. The paths given here, folders
    or notebooks, are the instructor's and are taken as they are, links or not.

    Raises :class:`SubmissionsError` for a path that does not exist, a file that is not ``.ipynb``, a folder
    without any notebook, or two submissions with the same learner id.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "amy.ipynb").write_text("{}")
    ...     Path(tmp, "bo").mkdir()
    ...     [(s.learner, s.problem) for s in find_submissions([tmp])]
    [('amy', None), ('bo', 'the folder holds no notebook (.ipynb)')]
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
        home = p.resolve()

        def outside(x: Path) -> bool:
            return not x.resolve().is_relative_to(home)

        for child in sorted(p.iterdir()):
            if skip(child):
                continue
            learner = clean_text(child.stem if child.suffix == ".ipynb" and not child.is_dir() else child.name)
            if (child.is_dir() or child.is_file() and child.suffix == ".ipynb") and outside(child):
                found.append(Submission(learner, None, _OUTSIDE.format(
                    what="folder" if child.is_dir() else "notebook")))
            elif child.is_file() and child.suffix == ".ipynb":
                found.append(Submission(learner, str(child)))
            elif child.is_dir():
                nbs = sorted(x for x in child.rglob("*.ipynb")
                             if x.is_file() and not skip(x)
                             and not any(skip(child / part) for part in x.relative_to(child).parents
                                             if part.name))
                named = [x for x in nbs if x.name == notebook_name]
                pick = named[0] if named else nbs[0] if len(nbs) == 1 else None
                if pick is not None and outside(pick):
                    found.append(Submission(learner, None, _OUTSIDE.format(what="notebook")))
                elif pick is not None:
                    found.append(Submission(learner, str(pick)))
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
    """The grade of one learner: one :class:`CheckResult` per check, plus notes on how the notebook ran.

    ``cut_off`` names the checks that scored 0 because grading the learner reached
    :attr:`Limits.learner_timeout` (the one running then, and those not run).

    >>> from prodai_lessons.exercises._core import CheckResult
    >>> g = LearnerGrade("amy", "ex0", 1, (CheckResult("a", 2.0, 2.0, True, "ok"),
    ...                                     CheckResult("b", 0.0, 1.0, False, "no", "timeout")), cut_off=("b",))
    >>> g.score, g.max_points, g.result("b").status, g.cut_off
    (2.0, 3.0, 'timeout', ('b',))
    """

    learner: str
    exercise: str
    seed: int
    results: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()
    source: str = ""
    seconds: float = 0.0
    sandbox: tuple[str, ...] = ()  # the confinement the worker reported (limits, Landlock, ...)
    cut_off: tuple[str, ...] = ()  # checks cut by the per-learner time cap

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


def shard_of(learner: str, count: int) -> int:
    """The shard, from 0 to ``count - 1``, that grades ``learner`` when a class is split into ``count`` shards.

    The first 8 bytes of the SHA-256 of the learner id (UTF-8), as a big-endian integer, modulo ``count``:
    the same on every machine, in every Python process (``hash()`` of a string changes from one process to
    the next) and whoever else is in the class, so independent jobs agree on who is theirs.

    >>> [shard_of(name, 4) for name in ("amy", "bo", "cy")]
    [0, 3, 2]
    >>> shard_of("amy", 1)
    0
    """
    check_int("count", count, minimum=1)
    digest = hashlib.sha256(learner.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count


# ------------------------------------------------------------------------------------------ the worker

_BOOT = ("import sys; sys.path.insert(0, {root!r}); "
         "from prodai_lessons.tooling.grading._worker import {entry}; {entry}()")


def worker_command() -> list[str]:
    """The worker's command line: isolated mode (no user site, no ``PYTHON*`` variables, no cwd on the
    path, so a learner's ``numpy.py`` cannot shadow anything) and no bytecode writing.

    >>> worker_command()[1:4]
    ['-I', '-B', '-c']
    """
    return [sys.executable, "-I", "-B", "-c", _BOOT.format(root=_PACKAGE_ROOT, entry="main")]


def sandbox_probe() -> tuple[tuple[str, ...], str | None]:
    """The namespaces a worker of this grader gets from the kernel, and why not when it refuses them.

    Runs the worker's own namespace set-up once in a short-lived process (about 0.1 s): ``(applied,
    None)`` when the private PID namespace is there, ``(applied, reason)`` otherwise (a kernel without
    unprivileged user namespaces, a container that forbids them). The grader runs it at the start of a run
    to say *once* what the sandbox lacks, instead of leaving it to every learner's entry.

    >>> applied, refused = sandbox_probe()
    >>> refused is None or isinstance(refused, str)
    True
    """
    cmd = [sys.executable, "-I", "-B", "-c", _BOOT.format(root=_PACKAGE_ROOT, entry="probe")]
    with tempfile.TemporaryDirectory(prefix="prodai-probe-") as workdir:
        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                                 env=_environment(workdir), cwd=workdir)
            doc = json.loads(res.stdout.decode("ascii", "replace").strip().splitlines()[-1])
            applied = tuple(str(a) for a in doc["applied"])
            refused = doc["refused"]
        except (OSError, subprocess.SubprocessError, ValueError, IndexError, KeyError, TypeError) as exc:
            return (), f"the namespace test did not run ({type(exc).__name__})"
    return applied, (None if refused is None else str(refused))


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
    kind: str  # "timeout" | "memory" | "crash" | "exit" | "corrupt" | "fatal" | "cap"
    detail: str = ""


@dataclass
class _Clock:
    """The per-learner cap (:attr:`Limits.learner_timeout`): it starts when the first worker says hello."""

    cap: float
    deadline: float = math.inf

    def start(self) -> None:
        if self.deadline == math.inf:
            self.deadline = time.monotonic() + self.cap

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


class _CapReached(Exception):
    pass


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
                cancel: threading.Event | None, clock: _Clock | None = None) -> _Outcome:
    """One worker run over ``cells`` then ``checks``; stops at the first failure (see ``_Outcome``), at
    ``cancel``, or when ``clock`` (the learner's cap, started here at the first hello) runs out."""
    lim = task.limits
    clock = clock if clock is not None else _Clock(lim.learner_timeout)
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="prodai-grade-")
    r, w = os.pipe()
    reply_r, reply_w = os.pipe()
    os.set_blocking(reply_w, False)
    cpu = math.ceil(lim.timeout * (len(cells) + len(checks) + 2)) + 5
    job = {"nonce": nonce, "fd": w, "reply_fd": reply_r, "module": task.module, "sys_path": list(task.sys_path),
           "cells": [{"label": c.label, "source": c.source} for c in cells], "checks": list(checks),
           "workdir": workdir, "parent": os.getpid(), "user_namespace": bool(task.user_namespace),
           "limits": {"memory_mb": lim.memory_mb, "cpu_s": cpu, "fsize_mb": lim.fsize_mb}}
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
                if cancel is not None and cancel.is_set():
                    raise GradingCancelled()
                left = min(deadline, clock.deadline) - time.monotonic()
                if left <= 0 and clock.expired():
                    raise _CapReached()
                if left <= 0:
                    raise _Corrupt("the worker stopped reading its inputs")
                if not select.select([], [reply_w], [], min(left, 0.2))[1]:
                    continue
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
                    clock.start()
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
            out.failure = (_Failure(step, idx, kind, detail) if hello or kind == "cap" else
                           _Failure("startup", 0, "fatal", f"the worker failed before running any code ({detail})"))

        try:
            while not done:
                if cancel is not None and cancel.is_set():
                    killed = True
                    _kill(proc)
                    raise GradingCancelled()
                now = time.monotonic()
                if now >= min(deadline, clock.deadline):
                    killed = True
                    _kill(proc)
                    fail("cap" if clock.deadline <= deadline else "timeout", "")
                    break
                ready, _, _ = select.select([r], [], [], min(min(deadline, clock.deadline) - now, 0.2))
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
        except _CapReached:
            killed = True
            _kill(proc)
            fail("cap", "")
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
                           "grading went on with the other checks")
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


_CUT_RUNNING = ("was still running when grading your notebook reached its time limit of {cap:g} s for the "
                "whole notebook (slow cells and checks that time out use it up: after each timeout your cells "
                "run again)")
_CUT_BEFORE = ("not run: grading your notebook reached its time limit of {cap:g} s for the whole notebook before "
               "this check (slow cells and checks that time out use it up: after each timeout your cells run "
               "again)")


def grade_submission(task: Task, submission: Submission, cancel: threading.Event | None = None) -> LearnerGrade:
    """Grade one submission (never raises for anything the submission does; see the module docstring).

    Raises :class:`GradingCancelled` when ``cancel`` is set while a worker runs, and :class:`GraderError`
    when the worker fails before running any learner code. Grading stops at
    :attr:`Limits.learner_timeout`: the checks cut then score 0 and are named in
    :attr:`LearnerGrade.cut_off`.

    >>> from prodai_lessons.exercises import ex3
    >>> from prodai_lessons.tooling.grading.notebook import ExerciseSource
    >>> task = Task(ex3.EXERCISE, "prodai_lessons.exercises.ex3", ExerciseSource(("pass",), (True,), "-"), 0)
    >>> g = grade_submission(task, Submission("amy", None, "the folder holds no notebook (.ipynb)"))
    >>> g.score, g.results[0].status, g.results[0].message
    (0.0, 'invalid', 'the folder holds no notebook (.ipynb)')
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
    clock = _Clock(lim.learner_timeout)
    cut: list[str] = []

    def cut_rest(running: str | None) -> None:
        for name in pending:
            if name not in results and name not in data:
                text = _CUT_RUNNING if name == running else _CUT_BEFORE
                results[name] = _zero(by_name[name], "timeout", text.format(cap=lim.learner_timeout))
                cut.append(name)

    while pending:
        if clock.expired():  # no time left for another worker
            cut_rest(None)
            break
        active = [i for i in range(len(program)) if i not in skipped]
        outcome = _run_worker(task, [program[i] for i in active], pending, cancel, clock)
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
        if f is not None and f.kind == "cap":
            if f.step == "cell":
                i = active[f.index]
                cell_notes[i] = (f"{program[i].label} was still running when grading reached the time limit of "
                                 f"{lim.learner_timeout:g} s for the whole notebook")
            cut_rest(pending[f.index] if f.step == "check" and f.index < len(pending) else None)
            break
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
    if cut and not tampered:
        notes.append(f"grading stopped at the time limit of {lim.learner_timeout:g} s for the whole notebook; "
                     f"checks cut off: {', '.join(cut)}")
    if output_chars > lim.output_note_chars:
        notes.append(f"your code printed {output_chars:,} characters; printed output is discarded while grading")
    return LearnerGrade(submission.learner, ex.name, task.seed, final, tuple(notes), submission.path,
                        time.monotonic() - t0, tuple(sandbox), tuple(cut) if not tampered else ())
