"""The gradebook (CSV for spreadsheets, JSON with every message), feedback files and the run summary.

Every file is written atomically (a temporary file in the same folder, flushed and fsynced, then
``os.replace``), by the grader's own process only, after each learner: an interrupted run loses at most the
learners in progress, and a rerun reads the JSON back and skips everyone already in it. A file at ``--out``
that is not a gradebook of this exercise and seed is never overwritten (:class:`GradebookError`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prodai_lessons.exercises._core import CheckResult, Exercise
from prodai_lessons.grading.runner import LearnerGrade

__all__ = ["GradebookError", "Gradebook", "Summary", "atomic_write_text", "feedback_markdown", "write_feedback",
           "summarize", "safe_filename"]

FORMAT = "prodai-gradebook"
VERSION = 1
_BASE_COLUMNS = ["learner", "exercise", "score", "max"]


class GradebookError(Exception):
    """An existing gradebook that cannot be read, or belongs to another exercise or seed."""


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
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


def safe_filename(learner: str) -> str:
    """A learner id usable as a file name (anything but letters, digits, ``.-_@+`` becomes ``_``)."""
    name = re.sub(r"[^\w.@+-]", "_", learner).strip(".") or "_"
    return name[:120]


def _csv_safe(text: str) -> str:
    """A learner id as a spreadsheet shows it, never as a formula (a leading ``= + - @`` gets a ``'``)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _fmt(x: float) -> str:
    return f"{x:g}"


def _grade_to_json(g: LearnerGrade) -> dict:
    return {"learner": g.learner, "score": g.score, "max": g.max_points, "seconds": round(g.seconds, 3),
            "source": g.source, "notes": list(g.notes), "sandbox": list(g.sandbox),
            "checks": [{"name": r.name, "points": r.points, "max_points": r.max_points, "passed": r.passed,
                        "status": r.status, "message": r.message} for r in g.results]}


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
    if not isinstance(notes, list) or not isinstance(sandbox, list):
        raise ValueError("notes and sandbox must be lists")
    return LearnerGrade(d["learner"], exercise, seed, tuple(results), tuple(map(str, notes)),
                        str(d.get("source", "")), float(d.get("seconds", 0.0)), tuple(map(str, sandbox)))


class Gradebook:
    """The grades of one exercise graded with one seed; ``path`` is the CSV, its ``.json`` sits beside it."""

    def __init__(self, path: str | Path, exercise: Exercise, seed: int) -> None:
        p = Path(path)
        self.csv_path = p.with_suffix(".csv") if p.suffix.lower() == ".json" else p
        self.json_path = self.csv_path.with_suffix(".json")
        self.exercise = exercise
        self.seed = seed
        self.checks = [(c.name, float(c.max_points)) for c in exercise.checks]
        self.grades: dict[str, LearnerGrade] = {}

    # ---------------------------------------------------------------- reading

    @staticmethod
    def stored_seed(path: str | Path) -> int | None:
        """The seed recorded in an existing gradebook's JSON (None when there is none or it is unreadable)."""
        p = Path(path)
        j = (p.with_suffix(".csv") if p.suffix.lower() == ".json" else p).with_suffix(".json")
        try:
            seed = json.loads(j.read_text(encoding="utf-8")).get("seed")
        except (OSError, ValueError, AttributeError):
            return None
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    def load(self, *, force: bool = False) -> "Gradebook":
        """Read the grades already on disk (if any); raise :class:`GradebookError` when they cannot be used.

        ``force`` allows a CSV gradebook whose JSON is missing (it is rewritten from scratch); a file that
        is not a gradebook, or one of another exercise, seed or set of checks, is an error either way.
        """
        have_csv, have_json = self.csv_path.exists(), self.json_path.exists()
        if have_csv:
            self._check_csv()
        if have_json:
            self._read_json()
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

    def _read_json(self) -> None:
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
        try:
            learners = doc["learners"]
            for d in learners:
                g = _grade_from_json(d, self.exercise.name, self.seed)
                if [(r.name, r.max_points) for r in g.results] != self.checks:
                    raise ValueError(f"learner {g.learner!r} has results for other checks")
                self.grades[g.learner] = g
        except (KeyError, TypeError, ValueError) as exc:
            raise GradebookError(f"{self.json_path} is damaged ({exc}); choose another --out or repair it") \
                from None

    # ---------------------------------------------------------------- writing

    def add(self, grade: LearnerGrade) -> None:
        if grade.exercise != self.exercise.name or [(r.name, r.max_points) for r in grade.results] != self.checks:
            raise ValueError(f"grade must be for the checks of {self.exercise.name}; got {grade.exercise}")
        self.grades[grade.learner] = grade

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
               "checks": [{"name": n, "max_points": m} for n, m in self.checks],
               "learners": [_grade_to_json(self.grades[k]) for k in sorted(self.grades)]}
        return json.dumps(doc, indent=1, allow_nan=False) + "\n"

    def save(self) -> None:
        """Write the JSON, then the CSV (each atomically)."""
        atomic_write_text(self.json_path, self.json_text())
        atomic_write_text(self.csv_path, self.csv_text())


# ------------------------------------------------------------------------------------------- feedback


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def feedback_markdown(grade: LearnerGrade, exercise: Exercise) -> str:
    """The learner's feedback: score, one row per check with its message, then notes on how the notebook ran."""
    lines = [f"# {exercise.name}: {exercise.title}", "",
             f"Feedback for **{grade.learner}**: **{_fmt(grade.score)} / {_fmt(grade.max_points)}** points.", "",
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
        lines += ["", "## How your notebook ran", ""] + [f"- {n}" for n in grade.notes]
    lines += ["", "Each check ran your code on scenarios generated for grading (not the ones `check()` shows "
                  "you); a check that timed out, crashed or ran out of memory scored 0 and the others still ran.",
              ""]
    return "\n".join(lines)


def write_feedback(grade: LearnerGrade, exercise: Exercise, directory: str | Path) -> Path:
    """Write ``directory/<learner>.md`` atomically; return its path."""
    path = Path(directory) / f"{safe_filename(grade.learner)}.md"
    atomic_write_text(path, feedback_markdown(grade, exercise))
    return path


# -------------------------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Summary:
    """Scores of a run: mean, median, range, a histogram over ``bins`` equal slices of the maximum (the last
    slice includes full marks), and per check how many learners did not pass it, by reason."""

    n: int
    max_points: float
    mean: float
    median: float
    minimum: float
    maximum: float
    histogram: tuple[tuple[float, float, int], ...]
    failures: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


def summarize(grades: Iterable[LearnerGrade], exercise: Exercise, bins: int = 5) -> Summary:
    """Summary statistics of ``grades`` (an empty run gives NaN mean/median and zero counts)."""
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
