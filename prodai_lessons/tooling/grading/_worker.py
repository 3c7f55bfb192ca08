"""The grading worker: one plain Python subprocess per submission (see :mod:`prodai_lessons.tooling.grading.runner`).

Run by the grader as ``python -I -B -c "...main()"``; it never runs on its own. It reads its job (cells,
check names, limits, a per-run nonce and the numbers of the results and reply pipes) from stdin, then:

1. imports the exercise module (its checks' ``collect`` functions), captures the functions it needs for
   the results channel, and replaces the exercise's ``check``/``hint``/``solution`` verbs by no-ops (the
   grader runs the checks itself, one at a time under a timeout);
2. locks itself in (:func:`_sandbox`): resource limits with hard = soft (address space, CPU seconds, file
   size, open files, no core files); on Linux a private network namespace and a private PID namespace
   (nothing the learner starts, detached or not, outlives the worker): directly when the grader runs as
   root, otherwise inside a new unprivileged user namespace where the kernel allows one (the worker's user
   id maps to itself, so learner code runs as the same normal user); every capability dropped (so root
   cannot raise the limits back); ``no_new_privs``; and, where the kernel has Landlock, no filesystem
   writes outside the working directory, no TCP, and no signals to processes outside the sandbox (so
   learner code cannot kill the grader or another learner's worker);
3. moves the results pipe to a random high descriptor, points ``sys.stdout``/``sys.stderr`` at a sink that
   counts characters and keeps none (the descriptors 1 and 2 are ``/dev/null``), and fingerprints the
   grading code (the check functions, the exercise package, ``json``, ``builtins``);
4. executes the cells one by one in one namespace, as Jupyter would: an exception (``SystemExit``
   included) ends its cell, the next cell still runs. As in Jupyter, that namespace is the ``__dict__`` of
   the module ``sys.modules["__main__"]``, so what needs to find a cell's definitions through their module
   (``pickle`` of a class defined in a cell, ``typing.get_type_hints`` on it) works;
5. for each requested check, receives that check's inputs on the reply pipe (only when the check starts),
   runs ``collect(namespace, inputs, ask)`` and sends the returned plain data back. The worker never gets
   the seed or a scenario's truth: the grader keeps both, so nothing learner code can find in memory (frames,
   ``gc.get_objects()``, module globals) tells it the answer. For a check with an environment, ``ask``
   sends a request to the grader and waits for the reply.

The worker asks the kernel for SIGKILL when the grader's thread that started it ends
(``PR_SET_PDEATHSIG``), so a grader killed outright (``kill -9``, an out-of-memory kill) leaves no worker
running; :func:`probe` is the quick test of the namespaces the grader runs once at the start of a run.

Every message is a frame ``<nonce> <length>\\n<json>\\n`` on the results pipe; the parent accepts frames in
the expected order only. A ``start`` frame precedes each cell and check so the parent knows what to blame
when the process hangs or dies. Learner code runs in this process, so none of this is a proof against a
determined attacker who reads the nonce out of memory: the guarantees that matter live in the parent,
which judges in its own process, enforces the timeouts, parses strictly and writes the gradebook.
"""

from __future__ import annotations

import builtins
import ctypes
import importlib
import io
import json
import os
import random
import resource
import select
import signal
import sys
import types

MAX_MESSAGE = 500  # characters of an exception message sent back
MAX_FRAME = 16 * 1024 * 1024


class _Sink(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while learner code runs: counts characters, stores none."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, s):  # noqa: D102
        n = len(s) if isinstance(s, str) else 0
        self.chars += n
        return n

    def writable(self) -> bool:  # noqa: D102
        return True

    def isatty(self) -> bool:  # noqa: D102
        return False

    @property
    def encoding(self) -> str:  # noqa: D102
        return "utf-8"


def _display(*objs, **kwargs) -> None:
    """Stand-in for IPython's ``display`` (plain Python has none): prints the objects' repr."""
    for o in objs:
        print(repr(o))


# --------------------------------------------------------------------------------------------- sandbox

_LANDLOCK_CREATE, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT = 444, 445, 446  # same on x86_64 and arm64
_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP, _PR_SET_PDEATHSIG = 38, 24, 1
_CLONE_NEWNET, _CLONE_NEWPID, _CLONE_NEWUSER = 0x40000000, 0x20000000, 0x10000000


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock(libc, workdir: str) -> str:
    """Forbid writes outside ``workdir`` (and ``/dev/null``), TCP, and signals outside the sandbox."""
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_LANDLOCK_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return "no Landlock (writes outside the working directory are not prevented)"
    write_file, truncate = 1 << 1, 1 << 14
    fs = sum(1 << b for b in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))  # write, remove, make-*
    if abi >= 2:
        fs |= 1 << 13  # refer (rename/link across directories)
    if abi >= 3:
        fs |= truncate
    net = 0b11 if abi >= 4 else 0  # bind and connect TCP
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets, signals
    attr = (ctypes.c_uint64 * 3)(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    rfd = libc.syscall(_LANDLOCK_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if rfd < 0:
        return "no Landlock (ruleset refused)"
    try:
        for path, access in ((workdir, fs), ("/dev/null", write_file | (truncate if abi >= 3 else 0))):
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, pfd)
                if libc.syscall(_LANDLOCK_ADD_RULE, ctypes.c_int(rfd), ctypes.c_int(1), ctypes.byref(rule),
                                ctypes.c_uint32(0)) != 0:
                    return "no Landlock (rule refused)"
            finally:
                os.close(pfd)
        if libc.syscall(_LANDLOCK_RESTRICT, ctypes.c_int(rfd), ctypes.c_uint32(0)) != 0:
            return "no Landlock (restrict refused)"
    finally:
        os.close(rfd)
    return f"landlock abi {abi}" + ("" if net else " (no network rule)") + ("" if scoped else " (no signal scope)")


def _become_namespace_init(libc) -> None:
    """After ``unshare(CLONE_NEWPID)``: fork, and go on as the child, the first process (PID 1) of the new
    namespace. When that process ends, the kernel kills every process left in the namespace, including
    those that left the worker's session and process group with ``setsid`` (which the grader's kill of the
    process group misses). The parent stays outside, invisible from inside, holds nothing but a lifeline
    pipe, waits for the child and ends the way it did (same exit status or signal), so the grader sees one
    process as before. The child asks for SIGKILL when the parent dies: a timeout kills the parent's
    process group, and the namespace goes with its first process."""
    lifeline_r, lifeline_w = os.pipe()
    grader = os.getppid()
    pid = os.fork()
    if pid:  # outside the namespace
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # kept, but set again: it is what matters
        if os.getppid() != grader:  # the grader ended before the request: end now (the child follows)
            os._exit(1)
        os.closerange(3, lifeline_w)
        os.closerange(lifeline_w + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):  # SIGKILL and SIGSTOP cannot be caught anyway
                pass
            os.kill(os.getpid(), sig)
        os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)
    os.close(lifeline_w)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if select.select([lifeline_r], [], [], 0)[0]:  # end of file: the parent died before the request
        os._exit(1)
    os.close(lifeline_r)


def _write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)


def _errno_name(libc) -> str:
    import errno

    code = ctypes.get_errno()
    return errno.errorcode.get(code, f"errno {code}")


def _namespaces(libc, user_namespace: bool = True) -> tuple[list[str], str | None]:
    """Private network and PID namespaces: what was applied, and why not when the kernel refused.

    As root (``CAP_SYS_ADMIN``): ``unshare`` directly. Otherwise (or when root lacks the capability, as in
    some containers): ``unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID)``, then the one-line maps of
    this process' user and group ids to themselves (``setgroups`` denied first, as the kernel requires of
    an unprivileged writer). In both cases the process then forks and goes on as the PID namespace's first
    process (:func:`_become_namespace_init`). ``user_namespace=False``: no user namespace is tried (the
    grader's start-of-run :func:`probe` found it cannot be set up)."""
    applied: list[str] = []
    if os.geteuid() == 0:
        if libc.unshare(_CLONE_NEWNET) == 0:
            applied.append("private network namespace")
        if libc.unshare(_CLONE_NEWPID) == 0:
            _become_namespace_init(libc)
            return applied + ["private PID namespace"], None
    if not user_namespace:
        return applied, "the grader's start-of-run test found no usable user namespace"
    uid, gid = os.geteuid(), os.getegid()
    flags = _CLONE_NEWUSER | _CLONE_NEWPID | (0 if applied else _CLONE_NEWNET)
    if libc.unshare(flags) != 0:
        return applied, f"the kernel refused a user namespace ({_errno_name(libc)})"
    _write_file("/proc/self/setgroups", "deny")
    _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
    _write_file("/proc/self/gid_map", f"{gid} {gid} 1")
    applied.append("user namespace")
    if flags & _CLONE_NEWNET:
        applied.append("private network namespace")
    _become_namespace_init(libc)
    return applied + ["private PID namespace"], None


def probe() -> None:
    """Entry point of the grader's start-of-run test: try :func:`_namespaces` as a worker would, print the
    outcome as one JSON line on stdout, exit. Runs as ``python -I -B -c "...probe()"``; never on its own."""
    result: dict = {"applied": [], "refused": "not Linux"}
    if sys.platform.startswith("linux"):
        try:
            applied, refused = _namespaces(ctypes.CDLL(None, use_errno=True))
            result = {"applied": applied, "refused": refused}
        except OSError as exc:
            result = {"applied": [], "refused": f"the user namespace could not be set up ({exc.strerror})"}
    os.write(1, (json.dumps(result) + "\n").encode("ascii"))
    os._exit(0)


def _sandbox(limits: dict, workdir: str, user_namespace: bool = True) -> list[str]:
    """Apply the limits and confinement described in the module docstring; return what was applied."""
    applied = []
    mem = int(limits["memory_mb"]) * 1024 * 1024
    cpu = int(limits["cpu_s"])
    for res, soft, hard in ((resource.RLIMIT_AS, mem, mem), (resource.RLIMIT_CPU, cpu, cpu + 5),
                            (resource.RLIMIT_FSIZE, int(limits["fsize_mb"]) * 1024 * 1024, None),
                            (resource.RLIMIT_NOFILE, 256, None), (resource.RLIMIT_CORE, 0, None)):
        resource.setrlimit(res, (soft, soft if hard is None else hard))  # SIGXCPU first, SIGKILL 5 s later
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write raises OSError instead of killing
    applied.append(f"rlimits as={limits['memory_mb']}MB cpu={limits['cpu_s']}s fsize={limits['fsize_mb']}MB")
    if not sys.platform.startswith("linux"):
        return applied
    libc = ctypes.CDLL(None, use_errno=True)
    namespaces, refused = _namespaces(libc, user_namespace)
    applied += namespaces
    if refused is not None:
        applied.append(f"no private PID namespace ({refused})")
    for cap in range(64):  # bounding set first (needs CAP_SETPCAP), then the process' own sets
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: no such cap
            break
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    capset = getattr(libc, "capset", None)
    if capset is not None and capset(ctypes.byref(header), ctypes.byref(data)) == 0:
        applied.append("capabilities dropped")
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    applied.append(_landlock(libc, workdir))
    return applied


# ----------------------------------------------------------------------------------------- fingerprint


def _watched(module_names) -> list[tuple[str, object, str, object]]:
    """(where, owner, attribute, object) for every function, class and module the grader relies on."""
    out = []
    for name in module_names:
        mod = sys.modules.get(name)
        if mod is None:
            continue
        out.append(("sys.modules", sys.modules, name, mod))
        for attr, value in list(vars(mod).items()):
            if callable(value) or isinstance(value, types.ModuleType):
                out.append((name, mod, attr, value))
                code = getattr(value, "__code__", None)
                if code is not None:
                    out.append((f"{name}.{attr}", value, "__code__", code))
                if isinstance(value, type) and value.__module__.startswith("prodai_lessons"):
                    for k, v in list(vars(value).items()):
                        if callable(v):
                            out.append((f"{name}.{attr}", value, k, v))
    return out


def _current(owner, attr, isinstance=isinstance, getattr=getattr, vars=vars, dict=dict, type=type):
    if isinstance(owner, dict):
        return owner.get(attr)
    if isinstance(owner, type):
        return vars(owner).get(attr)
    return getattr(owner, attr, None)


def _guard(watched, current=_current, setattr=setattr, isinstance=isinstance, dict=dict, type=type,
           BaseException=BaseException) -> list[str]:
    """The watched names that no longer hold their original object; each is put back, so the worker's own
    code (the JSON encoder, the pipe) keeps working and can report the tampering. The builtins this uses
    are bound at import, before learner code runs."""
    bad = []
    for where, owner, attr, value in watched:
        if current(owner, attr) is value:
            continue
        bad.append(f"sys.modules[{attr!r}]" if where == "sys.modules" else f"{where}.{attr}")
        try:
            if isinstance(owner, dict):
                owner[attr] = value
            elif isinstance(owner, type):
                type.__setattr__(owner, attr, value)
            else:
                setattr(owner, attr, value)
        except BaseException:  # noqa: S110 - best effort; the report is what matters
            pass
    return bad


# ---------------------------------------------------------------------------------------------- main


def main() -> None:  # noqa: C901 - one linear protocol, easier to audit in one place
    if sys.platform.startswith("linux"):  # end with the grader, even when it is killed outright
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    if sys.platform.startswith("linux") and os.getppid() != job.get("parent", os.getppid()):
        os._exit(5)  # the grader ended before the request above took effect
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    nonce = job["nonce"].encode("ascii")
    fd, reply_fd = int(job["fd"]), int(job["reply_fd"])
    write, dumps = os.write, json.JSONEncoder(allow_nan=True, ensure_ascii=True).encode
    exit_now, perf = os._exit, __import__("time").perf_counter
    # builtins used after learner code ran, bound now (a learner may replace them in ``builtins``)
    BaseExc, MemoryErr, compile_, exec_ = BaseException, MemoryError, compile, exec
    len_, str_, type_, memoryview_, sorted_ = len, str, type, memoryview, sorted

    def send(msg: dict) -> None:
        payload = dumps(msg).encode("ascii")
        frame = nonce + b" %d\n" % len_(payload) + payload + b"\n"
        view = memoryview_(frame)
        while view:
            n = write(fd, view)
            view = view[n:]

    try:
        for p in reversed(job.get("sys_path", [])):
            sys.path.insert(0, p)
        module = importlib.import_module(job["module"])
        from prodai_lessons.exercises import _core

        exercise = module.EXERCISE
        checks = [exercise.get_check(name) for name in job["checks"]]
        collects = [(c, c.collect) for c in checks]
        interactive = [c.environment is not None for c in checks]
        for_exception, describe, decode = _core.result_for_exception, _core.describe_exception, _core.decode_plain
        encode, loads = _core.encode_plain, json.loads
        for verb in ("check", "hint", "solution"):
            if hasattr(module, verb):
                setattr(module, verb, lambda *a, **k: None)
        workdir = job["workdir"]
        os.chdir(workdir)
        applied = _sandbox(job["limits"], workdir, bool(job.get("user_namespace", True)))
    except BaseExc as exc:  # the grader's own setup failed: report it, it is not the learner's fault
        send({"event": "fatal", "message": f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE]})
        exit_now(3)

    # the pipes move to random descriptors; learner code has no reason to know where
    high, reply_high = random.SystemRandom().sample(range(100, 250), 2)
    os.dup2(fd, high)
    os.close(fd)
    os.dup2(reply_fd, reply_high)
    os.close(reply_fd)
    fd, reply_fd = high, reply_high
    read, int_, ValueErr = os.read, int, ValueError

    def receive() -> object:
        """The next frame the grader wrote on the reply pipe: ``<nonce> <length>\\n<json>\\n``."""
        header = b""
        while not header.endswith(b"\n"):
            byte = read(reply_fd, 1)
            if not byte or len_(header) > 100:
                exit_now(4)  # the grader is gone or the channel is broken: nothing sensible is left to do
            header += byte
        tag, _, size = header[:-1].partition(b" ")
        if tag != nonce:
            exit_now(4)
        want, body = int_(size) + 1, b""
        while len_(body) < want:
            chunk = read(reply_fd, want - len_(body))
            if not chunk:
                exit_now(4)
            body += chunk
        return loads(body[:-1].decode("ascii"))
    watch = _watched(["builtins", "json", "json.encoder", __name__, "prodai_lessons", "prodai_lessons.exercises",
                      "prodai_lessons.exercises._core", "prodai_lessons.exercises._helpers", job["module"]])
    watch += [(f"check {c.name}", c, "collect", f) for c, f in collects]
    watch += [(f"check {c.name}.collect", f, "__code__", f.__code__) for c, f in collects
              if hasattr(f, "__code__")]
    guard = _guard
    tampered: set = set()

    def report() -> list:
        tampered.update(guard(watch))
        return sorted_(tampered)

    sink = _Sink()
    send({"event": "hello", "sandbox": applied})
    sys.stdout = sys.stderr = sink
    sys.argv = ["notebook"]

    # the notebook's namespace is the __main__ module's, as in a kernel (the worker's own -c script module
    # is not used after this point; sys.modules["__main__"] is not among the fingerprinted entries)
    main_module = types.ModuleType("__main__")
    namespace = main_module.__dict__
    namespace.update({"__builtins__": builtins, "display": _display})
    sys.modules["__main__"] = main_module
    for k, cell in enumerate(job["cells"]):
        send({"event": "start", "step": "cell", "index": k})
        error = None
        try:
            # dont_inherit: this module's ``from __future__ import annotations`` must not leak into the
            # learner's code (Jupyter evaluates annotations at definition time)
            code = compile_(cell["source"], f"<{cell['label']}>", "exec", dont_inherit=True)
            exec_(code, namespace)  # noqa: S102 - running learner code is the point
        except MemoryErr:
            error = "MemoryError (out of memory)"
        except BaseExc as exc:  # SystemExit and KeyboardInterrupt included, as in Jupyter
            try:
                error = str_(describe(exc))[:MAX_MESSAGE]
            except BaseExc:
                error = "an exception that cannot be displayed"
        send({"event": "end", "step": "cell", "index": k, "error": error, "output_chars": sink.chars,
              "tampered": report()})

    send({"event": "setup", "tampered": report()})
    def asker(k: int):
        def ask(request):
            send({"event": "ask", "index": k, "request": encode(request)})
            reply = receive()
            if "error" in reply:
                raise ValueErr(str_(reply["error"]))
            return decode(reply["ok"])
        return ask

    for k, (check, collect) in enumerate(collects):
        send({"event": "start", "step": "check", "index": k})
        inputs = decode(receive()["inputs"])
        t0 = perf()
        status, message, data = "ok", "", None
        try:
            data = collect(namespace, inputs, asker(k) if interactive[k] else None)
        except MemoryErr:
            status, message = "memory", "ran out of memory"
        except BaseExc as exc:
            try:
                r = for_exception(check, exc)
                status, message = str_(r.status), str_(r.message)[:MAX_MESSAGE]
            except BaseExc:
                status, message = "error", "your code raised an exception that cannot be displayed"
        msg = {"event": "end", "step": "check", "index": k, "status": status, "message": message,
               "seconds": perf() - t0, "tampered": report(), "output_chars": sink.chars}
        if status == "ok":
            try:
                msg["data"] = data
                payload = dumps(msg)
                if len_(payload) > MAX_FRAME:
                    raise ValueError("the data is over the size limit")
            except BaseExc as exc:
                del msg["data"]
                msg["status"] = "invalid"
                msg["message"] = ("the data collected from your code could not be sent to the grader "
                                  f"({type_(exc).__name__})")
        send(msg)
        inputs = data = msg = None  # this check's inputs are not left lying around for the next one
    send({"event": "done"})
    exit_now(0)  # skip atexit handlers and finalizers the learner may have registered
