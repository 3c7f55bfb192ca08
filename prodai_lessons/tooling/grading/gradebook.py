"""The gradebook (CSV for spreadsheets, JSON with every message), feedback files and the run summary.

Every file is written atomically (a temporary file in the same folder, flushed and fsynced, then
``os.replace``), by the grader's own process only, after each learner: an interrupted run loses at most the
learners in progress, and a rerun reads the JSON back and skips everyone already in it. A file at ``--out``
that is not a gradebook of this exercise and seed is never overwritten (:class:`GradebookError`).

**One set of rules per gradebook.** The JSON records the sandbox limits and a SHA-256 of the exercise source
(the learner version's code cells and which of them are answer cells) the grades were given under; resuming
with other limits or another source is refused (:class:`GradebookError`), so a gradebook never mixes grades
given under different rules; ``--force`` starts it afresh. One run at a time: :class:`RunLock` holds an
exclusive lock on a file beside the gradebook for the whole run.

**Shards.** A run with ``--shard K/N`` records ``"shard": "K/N"`` in its settings (so it resumes only as the
same shard); :func:`merge_gradebooks` checks that the parts agree on everything else and writes the
gradebook one run over the whole class would have written.

**Text that cannot be written.** Learner ids come from file names (on Linux, any bytes: Python holds the
undecodable ones as lone surrogates) and messages from learner exceptions; :func:`clean_text` turns what is
not valid Unicode into backslash escapes before anything is written, so such a learner can never stop a run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prodai_lessons.exercises._core import CheckResult, Exercise
from prodai_lessons.tooling.grading.runner import LearnerGrade, clean_text

__all__ = ["GradebookError", "Gradebook", "Summary", "RunLock", "Merged", "atomic_write_text", "feedback_markdown",
           "write_feedback", "feedback_path", "summarize", "safe_filename", "clean_text", "merge_gradebooks",
           "parse_shard", "part_exercise"]

FORMAT = "prodai-gradebook"
VERSION = 2  # 2: the grading settings (limits, exercise source hash) are recorded
_BASE_COLUMNS = ["learner", "exercise", "score", "max"]


class GradebookError(Exception):
    """An existing gradebook that cannot be read, or belongs to another exercise or seed.

    >>> from prodai_lessons.exercises import ex1
    >>> merge_gradebooks("all.csv", [], ex1.EXERCISE)
    Traceback (most recent call last):
    ...
    prodai_lessons.tooling.grading.gradebook.GradebookError: no part to merge
    """


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a partial one.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     atomic_write_text(Path(tmp, "sub", "a.txt"), "one")
    ...     Path(tmp, "sub", "a.txt").read_text(), sorted(p.name for p in Path(tmp, "sub").iterdir())
    ('one', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # callers pass clean_text()-ed text; the error handler is a last safety net, never a crash
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


_PLAIN_NAME = re.compile(r"[a-z0-9_][a-z0-9_.@+-]{0,119}")
_HASHED_NAME = re.compile(r".*-[0-9a-f]{8}")


def safe_filename(learner: str) -> str:
    """A file name (without extension) for ``learner``, distinct for distinct learner ids.

    An id of lowercase ASCII letters, digits and ``_.@+-`` (not starting with ``.-@+``, at most 120
    characters) is used as it is. Any other id (spaces, capitals, accents, path characters) has anything but
    letters, digits and ``.-_@+`` replaced by ``_`` and gets ``-`` plus the first 8 hex digits of the id's
    SHA-256 appended: ``ann smith`` -> ``ann_smith-1f0c...``, so it cannot take the name of ``ann_smith``,
    and ``Ann`` and ``ann`` stay apart on a case-insensitive file system. A plain id that itself ends like a
    hash suffix gets one too, so the two kinds of names never meet.

    >>> safe_filename("ann_smith"), safe_filename("ann smith")[:10]
    ('ann_smith', 'ann_smith-')
    """
    if _PLAIN_NAME.fullmatch(learner) and not _HASHED_NAME.fullmatch(learner):
        return learner
    digest = hashlib.sha256(learner.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    base = re.sub(r"[^\w.@+-]", "_", clean_text(learner)).lstrip(".-@+")[:100].rstrip(".") or "_"
    return f"{base}-{digest}"


def _csv_safe(text: str) -> str:
    """A learner id as a spreadsheet shows it, never as a formula (a leading ``= + - @`` gets a ``'``)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _fmt(x: float) -> str:
    return f"{x:g}"


def _grade_to_json(g: LearnerGrade) -> dict:
    c = clean_text
    return {"learner": c(g.learner), "score": g.score, "max": g.max_points, "seconds": round(g.seconds, 3),
            "source": c(g.source), "notes": [c(n) for n in g.notes], "sandbox": [c(s) for s in g.sandbox],
            "cut_off": [c(n) for n in g.cut_off],
            "checks": [{"name": r.name, "points": r.points, "max_points": r.max_points, "passed": r.passed,
                        "status": r.status, "message": c(r.message)} for r in g.results]}


def _grade_from_json(d: object, exercise: str, seed: int) -> LearnerGrade:
    if not isinstance(d, dict) or not isinstance(d.get("learner"), str) or not isinstance(d.get("checks"), list):
        raise ValueError("a learner entry without 'learner' and 'checks'")
    results = []
    for c in d["checks"]:
        if not isinstance(c, dict):
            raise ValueError("a check entry that is not an object")
        results.append(CheckResult(str(c["name"]), float(c["points"]), float(c["max_points"]), bool(c["passed"]),
                                   str(c["message"]), str(c["status"])))
    notes = d.get("notes", [])
    sandbox = d.get("sandbox", [])
    cut_off = d.get("cut_off", [])
    if not isinstance(notes, list) or not isinstance(sandbox, list) or not isinstance(cut_off, list):
        raise ValueError("notes, sandbox and cut_off must be lists")
    return LearnerGrade(d["learner"], exercise, seed, tuple(results), tuple(map(str, notes)),
                        str(d.get("source", "")), float(d.get("seconds", 0.0)), tuple(map(str, sandbox)),
                        tuple(map(str, cut_off)))


def source_sha256(cells: Sequence[str], answer: Sequence[bool]) -> str:
    """SHA-256 of an exercise source: its code cells and which of them are answer cells."""
    doc = json.dumps({"cells": list(cells), "answer": [bool(a) for a in answer]}, ensure_ascii=True)
    return hashlib.sha256(doc.encode("ascii")).hexdigest()


def _csv_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix(".csv") if p.suffix.lower() == ".json" else p


class Gradebook:
    """The grades of one exercise graded with one seed; ``path`` is the CSV, its ``.json`` sits beside it.

    ``settings`` (JSON-able: the limits and the exercise source's hash) are recorded in the JSON; a gradebook
    on disk graded under other settings is refused by :meth:`load`, unless ``force`` (then it starts afresh).

    >>> import tempfile
    >>> from prodai_lessons.exercises import ex1
    >>> from prodai_lessons.exercises._core import CheckResult
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     book = Gradebook(Path(tmp, "g.csv"), ex1.EXERCISE, 3, {"limits": {"timeout": 10.0}})
    ...     book.add(LearnerGrade("amy", "ex1", 3, tuple(CheckResult(c.name, c.max_points, c.max_points, True, "")
    ...                                                  for c in ex1.EXERCISE.checks)))
    ...     book.save()
    ...     again = Gradebook(Path(tmp, "g.csv"), ex1.EXERCISE, 3, {"limits": {"timeout": 10.0}}).load()
    ...     sorted(again.grades), again.grades["amy"].score == ex1.EXERCISE.max_points
    (['amy'], True)
    """

    def __init__(self, path: str | Path, exercise: Exercise, seed: int,
                 settings: Mapping[str, Any] | None = None) -> None:
        self.csv_path = _csv_path(path)
        self.json_path = self.csv_path.with_suffix(".json")
        self.exercise = exercise
        self.seed = seed
        self.settings = json.loads(json.dumps(dict(settings or {}), allow_nan=False))  # as the JSON holds it
        self.checks = [(c.name, float(c.max_points)) for c in exercise.checks]
        self.grades: dict[str, LearnerGrade] = {}
        self.discarded = 0  # grades dropped by ``load(force=True)`` because the settings changed

    # ---------------------------------------------------------------- reading

    @staticmethod
    def stored_seed(path: str | Path) -> int | None:
        """The seed recorded in an existing gradebook's JSON (None when there is none or it is unreadable)."""
        j = _csv_path(path).with_suffix(".json")
        try:
            seed = json.loads(j.read_text(encoding="utf-8")).get("seed")
        except (OSError, ValueError, AttributeError):
            return None
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    def load(self, *, force: bool = False) -> "Gradebook":
        """Read the grades already on disk (if any); raise :class:`GradebookError` when they cannot be used.

        ``force`` allows a CSV gradebook whose JSON is missing (it is rewritten from scratch) and one graded
        under other settings (its grades are dropped: :attr:`discarded` says how many); a file that is not a
        gradebook, or one of another exercise, seed or set of checks, is an error either way.
        """
        have_csv, have_json = self.csv_path.exists(), self.json_path.exists()
        if have_csv:
            self._check_csv()
        if have_json:
            self._read_json(force)
        elif have_csv and not force:
            raise GradebookError(f"{self.csv_path} exists but {self.json_path.name} (with the messages) does "
                                 "not, so the run cannot be resumed; pass --force to regrade and rewrite both")
        return self

    def _check_csv(self) -> None:
        try:
            with open(self.csv_path, encoding="utf-8", newline="") as f:
                header = next(csv.reader(f), [])
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise GradebookError(f"cannot read the gradebook {self.csv_path}: {exc}") from None
        if header[:4] != _BASE_COLUMNS:
            raise GradebookError(f"{self.csv_path} is not a prodai gradebook (its header is not "
                                 f"{','.join(_BASE_COLUMNS)},...); choose another --out")
        if header[4:] != [n for n, _ in self.checks]:
            raise GradebookError(f"{self.csv_path} has the columns {','.join(header[4:]) or '(none)'}, not the "
                                 f"checks of {self.exercise.name}; choose another --out")

    def _read_json(self, force: bool = False) -> None:
        try:
            doc = json.loads(self.json_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise GradebookError(f"cannot read the gradebook {self.json_path}: {exc}") from None
        except ValueError as exc:
            raise GradebookError(f"{self.json_path} is not valid JSON ({exc}); it is not a gradebook the "
                                 "grader wrote, so it is left alone: choose another --out") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise GradebookError(f"{self.json_path} is not a prodai gradebook; choose another --out")
        if doc.get("exercise") != self.exercise.name:
            raise GradebookError(f"{self.json_path} holds grades of {doc.get('exercise')!r}, not "
                                 f"{self.exercise.name!r}; choose another --out")
        if doc.get("seed") != self.seed:
            raise GradebookError(f"{self.json_path} was graded with --seed {doc.get('seed')}, not {self.seed}; "
                                 "rerun with that seed to resume, or choose another --out")
        checks = doc.get("checks")
        if not isinstance(checks, list) or [(c.get("name"), c.get("max_points")) for c in checks
                                            if isinstance(c, dict)] != self.checks:
            raise GradebookError(f"{self.json_path} was graded with other checks than {self.exercise.name} has "
                                 "now; choose another --out")
        stored = doc.get("settings")
        if stored != self.settings:
            if not force:
                raise GradebookError(f"{self.json_path} was graded under other settings "
                                     f"({_settings_diff(stored, self.settings)}); mixing grades given under "
                                     "different rules is refused: rerun with the same settings to resume, pass "
                                     "--force to regrade everyone under the new ones, or choose another --out")
            self.discarded = len(doc.get("learners") or [])
            return
        try:
            learners = doc["learners"]
            for d in learners:
                self.add(_grade_from_json(d, self.exercise.name, self.seed))  # checks it, cleans the id
        except (KeyError, TypeError, ValueError) as exc:
            raise GradebookError(f"{self.json_path} is damaged ({exc}); choose another --out or repair it") \
                from None

    # ---------------------------------------------------------------- writing

    def add(self, grade: LearnerGrade) -> None:
        """Record ``grade`` (replacing the learner's earlier one) under its :func:`clean_text` id: the one place
        ids are cleaned, so every key of :attr:`grades` can be written as it is."""
        if grade.exercise != self.exercise.name or [(r.name, r.max_points) for r in grade.results] != self.checks:
            raise ValueError(f"grade of learner {clean_text(grade.learner)!r} must be for the checks of "
                             f"{self.exercise.name}; got {grade.exercise}")
        learner = clean_text(grade.learner)
        self.grades[learner] = grade if learner == grade.learner else replace(grade, learner=learner)

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(_BASE_COLUMNS + [n for n, _ in self.checks])
        for learner in sorted(self.grades):
            g = self.grades[learner]
            w.writerow([_csv_safe(learner), self.exercise.name, _fmt(g.score), _fmt(g.max_points)]
                       + [_fmt(r.points) for r in g.results])
        return buf.getvalue()

    def json_text(self) -> str:
        doc = {"format": FORMAT, "version": VERSION, "exercise": self.exercise.name, "seed": self.seed,
               "settings": self.settings, "checks": [{"name": n, "max_points": m} for n, m in self.checks],
               "learners": [_grade_to_json(self.grades[k]) for k in sorted(self.grades)]}
        return json.dumps(doc, indent=1, allow_nan=False) + "\n"

    def save(self) -> None:
        """Write the JSON, then the CSV (each atomically)."""
        atomic_write_text(self.json_path, self.json_text())
        atomic_write_text(self.csv_path, self.csv_text())


def _settings_diff(stored: object, now: Mapping[str, Any], then_label: str = "then", now_label: str = "now") -> str:
    if not isinstance(stored, dict):
        return "none recorded (an older gradebook)"
    parts = []
    for key in sorted(set(stored) | set(now)):
        a, b = stored.get(key), now.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            parts += [f"{key}.{k} {a.get(k)!r} {then_label}, {b.get(k)!r} {now_label}" for k in sorted(set(a) | set(b))
                      if a.get(k) != b.get(k)]
        elif key == "source_sha256":
            parts.append("the exercise source differs" if then_label != "then" else "the exercise source changed")
        else:
            parts.append(f"{key} {a!r} {then_label}, {b!r} {now_label}")
    return "; ".join(parts)


_SHARD = re.compile(r"(\d{1,9})/(\d{1,9})")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` as ``(K, N)``: shard ``K`` (counted from 0) of ``N``; ``ValueError`` unless ``0 <= K < N``.

    >>> parse_shard("2/8")
    (2, 8)
    >>> parse_shard("8/8")
    Traceback (most recent call last):
    ...
    ValueError: shard must be K/N with 0 <= K < N (K counts from 0); got '8/8'
    """
    m = _SHARD.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None or not int(m.group(1)) < int(m.group(2)):
        raise ValueError(f"shard must be K/N with 0 <= K < N (K counts from 0); got {text!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Merged:
    """What :func:`merge_gradebooks` made: the merged :class:`Gradebook`, the shard count of the parts (0 when
    none was a shard) and the shards it did not get (a job that failed or is still running).

    >>> Merged(None, 4, (2,)).missing
    (2,)
    """

    book: Gradebook | None
    shards: int
    missing: tuple[int, ...]


def _part_doc(part: Path) -> dict:
    j = _csv_path(part).with_suffix(".json")
    try:
        doc = json.loads(j.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GradebookError(f"part {part}: {j} does not exist (a part is a gradebook the grader wrote: its "
                             ".csv or .json)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GradebookError(f"part {part}: cannot read {j}: {exc}") from None
    except ValueError as exc:
        raise GradebookError(f"part {part}: {j} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GradebookError(f"part {part}: {j} is not a prodai gradebook")
    return doc


def part_exercise(part: str | Path) -> str:
    """The exercise name recorded in a gradebook part (for :func:`merge_gradebooks`' caller to load it).

    >>> import tempfile
    >>> from prodai_lessons.exercises import ex1
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     Gradebook(Path(tmp, "g.csv"), ex1.EXERCISE, 3).save()
    ...     part_exercise(Path(tmp, "g.csv"))
    'ex1'
    """
    name = _part_doc(Path(part)).get("exercise")
    if not isinstance(name, str):
        raise GradebookError(f"part {part}: no exercise recorded")
    return name


def merge_gradebooks(out: str | Path, parts: Sequence[str | Path], exercise: Exercise) -> Merged:
    """One gradebook at ``out`` (not yet saved) holding the learners of every part, e.g. the shards of a run.

    Every part must be a gradebook of ``exercise`` with the same checks, seed and settings (limits, exercise
    source hash; the ``shard`` each part graded aside) and parts that are shards must split the class the
    same way (the same ``N``). Refused, with a :class:`GradebookError` naming the part: another exercise,
    seed or set of settings, a shard given twice, a learner in two parts. The merged gradebook records the
    settings without ``shard``: it is the gradebook one run over the whole class writes (a rerun on it
    grades whoever a missing shard held).

    >>> import tempfile
    >>> from prodai_lessons.exercises import ex1
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for k in range(2):
    ...         Gradebook(Path(tmp, f"s{k}.csv"), ex1.EXERCISE, 3, {"shard": f"{k}/3"}).save()
    ...     merge_gradebooks(Path(tmp, "all.csv"), [Path(tmp, "s0.csv"), Path(tmp, "s1.csv")], ex1.EXERCISE).missing
    (2,)
    """
    if not parts:
        raise GradebookError("no part to merge")
    base: tuple[Path, int, dict] | None = None
    shards: dict[tuple[int, int], Path] = {}
    owner: dict[str, Path] = {}
    grades: list[LearnerGrade] = []
    want_checks = [(c.name, float(c.max_points)) for c in exercise.checks]
    given: dict[Path, Path] = {}
    for raw in parts:
        part = Path(raw)
        key_path = _csv_path(part).resolve()
        if key_path in given:
            raise GradebookError(f"part {part} is given twice ({given[key_path]} and {part})")
        given[key_path] = part
        doc = _part_doc(part)
        if doc.get("exercise") != exercise.name:
            raise GradebookError(f"part {part} holds grades of {doc.get('exercise')!r}, not {exercise.name!r}")
        checks = doc.get("checks")
        if not isinstance(checks, list) or [(c.get("name"), c.get("max_points")) for c in checks
                                            if isinstance(c, dict)] != want_checks:
            raise GradebookError(f"part {part} was graded with other checks than {exercise.name} has now")
        settings = doc.get("settings")
        if not isinstance(settings, dict):
            raise GradebookError(f"part {part} records no grading settings (an older gradebook); regrade it")
        settings = dict(settings)
        shard = settings.pop("shard", None)
        seed = doc.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise GradebookError(f"part {part} records no seed")
        if base is None:
            base = (part, seed, settings)
        elif seed != base[1]:
            raise GradebookError(f"part {part} was graded with --seed {seed}, not {base[1]} as {base[0]}; "
                                 "the parts of one gradebook share one seed")
        elif settings != base[2]:
            raise GradebookError(f"part {part} was graded under other settings than {base[0]} ("
                                 f"{_settings_diff(base[2], settings, f'in {base[0].name}', f'in {part.name}')})"
                                 "; the parts of one gradebook are graded under the same rules")
        if shard is not None:
            try:
                key = parse_shard(shard)
            except ValueError:
                raise GradebookError(f"part {part} records a malformed shard {shard!r}") from None
            other_n = {n for _, n in shards}
            if other_n and key[1] not in other_n:
                raise GradebookError(f"part {part} is shard {shard}, but the parts before it split the class "
                                     f"into {other_n.pop()} shards; merge the shards of one split")
            if key in shards:
                raise GradebookError(f"part {part} and part {shards[key]} are both shard {shard}; give each "
                                     "shard once")
            shards[key] = part
        try:
            entries = [_grade_from_json(d, exercise.name, seed) for d in doc.get("learners") or []]
        except (KeyError, TypeError, ValueError) as exc:
            raise GradebookError(f"part {part} is damaged ({exc})") from None
        for g in entries:
            learner = clean_text(g.learner)
            if learner in owner:
                raise GradebookError(f"learner {learner!r} is in part {owner[learner]} and in part {part}; "
                                     "each learner must be in one part only")
            owner[learner] = part
            grades.append(g)
    book = Gradebook(out, exercise, base[1], base[2])
    for g in grades:
        book.add(g)
    n = next(iter(shards))[1] if shards else 0
    return Merged(book, n, tuple(k for k in range(n) if (k, n) not in shards))


class RunLock:
    """An exclusive lock for one run on a gradebook: ``fcntl.flock`` on ``.<name>.lock`` beside the CSV.

    ``acquire()`` returns False at once when another run holds it (the lock goes with that process, even
    when it is killed). Where ``fcntl`` is missing (Windows) or the file system refuses locks, there is no
    lock: ``acquire()`` returns True and :attr:`active` is False.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with RunLock(Path(tmp, "g.csv")) as first:
    ...         first.acquire(), RunLock(Path(tmp, "g.csv")).acquire()
    (True, False)
    """

    def __init__(self, gradebook_path: str | Path) -> None:
        csv_path = _csv_path(gradebook_path)
        self.path = csv_path.with_name(f".{csv_path.name}.lock")
        self.active = False
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:  # a file system without locks (some network mounts): go on unlocked
            os.close(fd)
            return True
        self._fd, self.active = fd, True
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd, self.active = None, False

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ------------------------------------------------------------------------------------------- feedback


def _cell(text: str) -> str:
    """``text`` as one Markdown table cell (or list item): backslashes and ``|`` escaped, every line break
    (``\\r``, ``\\n``, ``\\u2028``, ...: whatever :meth:`str.splitlines` splits at) flattened to a space."""
    flat = " ".join(clean_text(text).splitlines())
    return flat.replace("\\", "\\\\").replace("|", "\\|")


def feedback_markdown(grade: LearnerGrade, exercise: Exercise) -> str:
    """The learner's feedback: score, one row per check with its message, then notes on how the notebook ran.

    >>> from prodai_lessons.exercises import ex1
    >>> from prodai_lessons.exercises._core import CheckResult
    >>> g = LearnerGrade("amy", "ex1", 0, tuple(CheckResult(c.name, 0.0, c.max_points, False, "not yet",
    ...                                                     "not_attempted") for c in ex1.EXERCISE.checks))
    >>> feedback_markdown(g, ex1.EXERCISE).splitlines()[2]
    'Feedback for **amy**: **0 / 22** points.'
    """
    lines = [f"# {exercise.name}: {exercise.title}", "",
             f"Feedback for **{_cell(grade.learner)}**: **{_fmt(grade.score)} / {_fmt(grade.max_points)}** points.", "",
             "| check | points | result | message |", "|---|---:|---|---|"]
    for r in grade.results:
        if r.passed:
            verdict = "passed"
        elif r.status == "ok":
            verdict = "partial" if r.points > 0 else "failed"
        else:
            verdict = r.status.replace("_", " ")
        lines.append(f"| {_cell(r.name)} | {_fmt(r.points)}/{_fmt(r.max_points)} | {verdict} | {_cell(r.message)} |")
    if grade.notes:
        lines += ["", "## How your notebook ran", ""] + [f"- {_cell(n)}" for n in grade.notes]
    lines += ["", "Each check ran your code on scenarios generated for grading (not the ones `check()` shows "
                  "you); a check that timed out, crashed or ran out of memory scored 0 and grading went on with the "
              "others, within a time limit for the whole notebook.",
              ""]
    return "\n".join(lines)


def feedback_path(learner: str, directory: str | Path) -> Path:
    """Where :func:`write_feedback` writes ``learner``'s feedback (see :func:`safe_filename`).

    >>> feedback_path("amy", "feedback").as_posix()
    'feedback/amy.md'
    """
    return Path(directory) / f"{safe_filename(learner)}.md"


def write_feedback(grade: LearnerGrade, exercise: Exercise, directory: str | Path) -> Path:
    """Write ``directory/<learner>.md`` atomically; return its path.

    >>> import tempfile
    >>> from prodai_lessons.exercises import ex1
    >>> from prodai_lessons.exercises._core import CheckResult
    >>> g = LearnerGrade("amy", "ex1", 0, tuple(CheckResult(c.name, 0.0, c.max_points, False, "")
    ...                                         for c in ex1.EXERCISE.checks))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_feedback(g, ex1.EXERCISE, tmp).name
    'amy.md'
    """
    path = feedback_path(grade.learner, directory)
    atomic_write_text(path, feedback_markdown(grade, exercise))
    return path


# -------------------------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Summary:
    """Scores of a run: mean, median, range, a histogram over ``bins`` equal slices of the maximum (the last
    slice includes full marks), and per check how many learners did not pass it, by reason.

    >>> from prodai_lessons.exercises import ex1
    >>> summarize([], ex1.EXERCISE).n
    0
    """

    n: int
    max_points: float
    mean: float
    median: float
    minimum: float
    maximum: float
    histogram: tuple[tuple[float, float, int], ...]
    failures: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


def summarize(grades: Iterable[LearnerGrade], exercise: Exercise, bins: int = 5) -> Summary:
    """Summary statistics of ``grades`` (an empty run gives NaN mean/median and zero counts).

    >>> from prodai_lessons.exercises import ex1
    >>> from prodai_lessons.exercises._core import CheckResult
    >>> def grade(name, passed):
    ...     return LearnerGrade(name, "ex1", 0, tuple(CheckResult(c.name, c.max_points if passed else 0.0,
    ...                         c.max_points, passed, "") for c in ex1.EXERCISE.checks))
    >>> s = summarize([grade("amy", True), grade("bo", False), grade("cy", True)], ex1.EXERCISE)
    >>> s.n, s.median, [count for _, _, count in s.histogram]
    (3, 22, [1, 0, 0, 0, 2])
    """
    gs: Sequence[LearnerGrade] = list(grades)
    scores = sorted(g.score for g in gs)
    top = float(exercise.max_points)
    n = len(scores)
    if n:
        mean = sum(scores) / n
        median = scores[n // 2] if n % 2 else (scores[n // 2 - 1] + scores[n // 2]) / 2
    else:
        mean = median = math.nan
    edges = [top * k / bins for k in range(bins + 1)]
    counts = [0] * bins
    for s in scores:
        k = min(int(s / top * bins), bins - 1) if top > 0 else 0
        counts[k] += 1
    failures = []
    for c in exercise.checks:
        reasons: dict[str, int] = {}
        for g in gs:
            r = next((x for x in g.results if x.name == c.name), None)
            if r is None or r.passed:
                continue
            why = "failed" if r.status == "ok" else r.status
            reasons[why] = reasons.get(why, 0) + 1
        failures.append((c.name, tuple(sorted(reasons.items()))))
    return Summary(n, top, mean, median, scores[0] if n else math.nan, scores[-1] if n else math.nan,
                   tuple((edges[k], edges[k + 1], counts[k]) for k in range(bins)), tuple(failures))
