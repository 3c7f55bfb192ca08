"""Which code the grader runs: the learner's cells, with the instructor-owned cells taken from the exercise.

**Instructor-owned cells.** The learner notebook is generated from ``solutions/exN_*.md`` by
``prodai build-exercises``: every code cell that holds a ``### BEGIN SOLUTION`` block becomes an *answer cell*
(the block replaced by ``raise NotImplementedError``), every other code cell is copied unchanged. So the grader
reads two notebooks of the course, the solution and the generated exercise, and calls a code cell of the
exercise an answer cell when its text is not a code cell of the solution (the stub differs from the solution
exactly where a block was stripped); every other code cell of the exercise is *instructor-owned* (imports,
scenario setup, ``exN.check(globals())`` calls). Nothing in the learner's file decides what is instructor-owned.

**Taking a submission apart** (as nbgrader restores locked cells): the learner's code cells are aligned with
the exercise's code cells (:class:`difflib.SequenceMatcher` on their normalised text). A learner cell equal to
an instructor cell is that cell, and the exercise's own copy runs in its place; an instructor cell the learner
deleted or edited still runs, from the exercise, at its place; every other learner cell (the answers, cells
the learner added, an edited copy of an instructor cell) is learner code and runs in the learner's order.

**Instructor cells that are not run while grading**: those that *use* the learner's code rather than prepare
for it, i.e. call ``check``, ``hint`` or ``solution`` or mention one of the exercise's entry points. The grader
runs the checks itself, one at a time under a timeout; running them inside a notebook cell as well would only
cost time (and an infinite loop there would block the cell instead of one check).

The worker is plain Python, not a Jupyter kernel, so IPython syntax is neutralised here: line magics and
shell escapes (``%matplotlib inline``, ``!pip install x``) become ``pass``, an assignment from one
(``files = !ls``, ``t = %timeit -o f()``) assigns an empty list (shell) or None (magic), and a leading ``%%`` cell
magic line is dropped. As in IPython, only a ``%`` or ``!`` that *starts a logical line* is IPython syntax: a
continuation line (``... "%r" \n    % (x,)`` or ``(a\n != b)``) and a line inside a triple-quoted string
are Python and stay as they are (:func:`prodai_lessons.tooling.cells.strip_magics`).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prodai_lessons.tooling.build_exercises import strip_solutions
from prodai_lessons.tooling.cells import strip_magics

__all__ = ["NotebookError", "ProgramCell", "ExerciseSource", "read_code_cells", "load_exercise_source",
           "assemble", "strip_magics"]

#: The largest notebook the grader reads (outputs included); bigger files are graded 0 as malformed.
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024

_VERBS = frozenset({"check", "hint", "solution"})


class NotebookError(ValueError):
    """A file that is not a readable Jupyter notebook (the message says why, for the feedback file).

    >>> issubclass(NotebookError, ValueError)
    True
    """


@dataclass(frozen=True)
class ProgramCell:
    """One cell of the program the worker runs.

    ``origin`` is ``"learner"`` or ``"exercise"``; ``label`` names the cell in feedback
    ("your code cell 3 (class ModelRegistry:...)", "exercise cell 1").

    >>> ProgramCell("exercise", "exercise cell 1", "import numpy as np").label
    'exercise cell 1'
    """

    origin: str
    label: str
    source: str


@dataclass(frozen=True)
class ExerciseSource:
    """The exercise's code cells in order, each flagged as an answer cell or instructor-owned.

    >>> ExerciseSource(("import math", "def f():\\n    raise NotImplementedError"), (False, True), "-").n_answer_cells
    1
    """

    cells: tuple[str, ...]
    answer: tuple[bool, ...]
    path: str

    @property
    def n_answer_cells(self) -> int:
        return sum(self.answer)


def _normalise(src: str) -> str:
    return "\n".join(line.rstrip() for line in src.strip().splitlines())


def _cell_text(cell: object, where: str) -> tuple[str, str] | None:
    """(type, source) of a notebook cell, validating its shape."""
    if not isinstance(cell, dict):
        raise NotebookError(f"{where} is not a JSON object")
    ctype = cell.get("cell_type")
    if not isinstance(ctype, str):
        raise NotebookError(f"{where} has no cell_type")
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        src = "".join(src)
    if not isinstance(src, str):
        raise NotebookError(f"{where} has a source that is neither a string nor a list of strings")
    return ctype, src


def read_code_cells(path: str | Path) -> list[str]:
    """The code cells of a Jupyter notebook (``.ipynb``, nbformat 4) as strings, in order.

    Raises :class:`NotebookError` saying what is wrong for a file that is not valid JSON, not a notebook,
    too large or of an unsupported nbformat; ``OSError`` when it cannot be read at all.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     nb = Path(tmp, "a.ipynb")
    ...     _ = nb.write_text(json.dumps({"nbformat": 4, "cells": [
    ...         {"cell_type": "markdown", "source": "# title"},
    ...         {"cell_type": "code", "source": ["x = 1\\n", "y = 2"]}]}))
    ...     read_code_cells(nb)
    ['x = 1\\ny = 2']
    """
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"the notebook is {size / 1e6:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 10**6} MB "
                            "limit (clear its outputs)")
    raw = p.read_bytes()
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotebookError(f"the notebook is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"the notebook is not valid JSON ({exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno}); was it saved completely?") from None
    except RecursionError:
        raise NotebookError("the notebook's JSON is nested too deeply") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            raise NotebookError("the notebook uses nbformat 3; open and save it in Jupyter to upgrade it")
        raise NotebookError("the file is JSON but not a Jupyter notebook (no 'cells' list)")
    fmt = nb.get("nbformat")
    if fmt != 4:
        raise NotebookError(f"the notebook has nbformat {fmt!r}; the grader reads nbformat 4")
    out = []
    for i, cell in enumerate(nb["cells"], start=1):
        ctype, src = _cell_text(cell, f"cell {i}")
        if ctype == "code":
            out.append(src)
    return out


def _myst_code_cells(text: str) -> list[str]:
    """Code cells of a MyST notebook (the ``.md`` source): fenced ``{code-cell}`` blocks, options removed."""
    lines = text.splitlines()
    cells: list[str] = []
    i = 0
    if lines and lines[0].strip() == "---":  # front matter
        i = 1
        while i < len(lines) and lines[i].strip() != "---":
            i += 1
        i += 1
    while i < len(lines):
        m = re.match(r"^(`{3,})\{code-cell\}", lines[i])
        i += 1
        if not m:
            continue
        fence, body = m.group(1), []
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        i += 1
        if body and body[0].strip() == "---":  # YAML cell options
            end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), 0)
            body = body[end + 1:]
        while body and re.match(r"^:[\w-]+:", body[0]):  # short-form options
            body = body[1:]
        cells.append("\n".join(body))
    return cells


def _read_md(path: Path) -> str:
    """A MyST source's text; :class:`NotebookError` when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path} is not UTF-8 text (byte {exc.start})") from None


def _source_cells(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        return read_code_cells(path)
    return _myst_code_cells(_read_md(path))


def _existing(path: Path) -> Path | None:
    """``path`` itself or its paired ``.ipynb``/``.md`` (whichever exists, ``.ipynb`` first)."""
    for cand in (path.with_suffix(".ipynb"), path.with_suffix(".md")):
        if cand.is_file():
            return cand
    return None


def load_exercise_source(solution_path: str | Path, exercise_path: str | Path | None = None) -> ExerciseSource:
    """The learner version's code cells, each marked as an answer cell or instructor-owned.

    With the solution's MyST source (``solution_path`` with ``.md``) at hand, the learner version is what
    ``prodai build-exercises`` makes of it (:func:`~prodai_lessons.tooling.build_exercises.strip_solutions`), so
    the grader never depends on ``exercises/`` being rebuilt. Otherwise the two notebooks are read as they
    are: ``exercise_path`` (default: the solution's name in the ``exercises/`` folder beside ``solutions/``)
    and the solution, either as ``.ipynb`` or ``.md``. Raises ``FileNotFoundError`` naming what is missing,
    :class:`NotebookError` when no cell is an answer cell or a file is not UTF-8 (or not a notebook), and
    :class:`~prodai_lessons.tooling.build_exercises.SolutionMarkupError` when the solution's markers are broken.

    >>> from prodai_lessons.exercises import ex3
    >>> root = Path(__file__).resolve().parents[3]
    >>> source = load_exercise_source(root / ex3.EXERCISE.solution_path)
    >>> source.n_answer_cells >= 1 and len(source.cells) > source.n_answer_cells
    True
    """
    sol = Path(solution_path)
    sol_md = sol.with_suffix(".md")
    if exercise_path is None and sol_md.is_file():
        text = _read_md(sol_md)
        solution_cells = _myst_code_cells(text)
        cells = tuple(_myst_code_cells(strip_solutions(text, source=str(sol_md))))
        where = f"{sol_md} (learner version)"
    else:
        ex = Path(exercise_path) if exercise_path is not None else sol.parent.parent / "exercises" / sol.name
        sol_file, ex_file = _existing(sol), _existing(ex)
        if sol_file is None:
            raise FileNotFoundError(f"the solution notebook {sol.with_suffix('.ipynb')} (or .md) does not exist")
        if ex_file is None:
            raise FileNotFoundError(f"the exercise notebook {ex.with_suffix('.ipynb')} (or .md) does not "
                                    "exist; run `prodai build-exercises`")
        solution_cells = _source_cells(sol_file)
        cells = tuple(_source_cells(ex_file))
        where = str(ex_file)
    solution = {_normalise(c) for c in solution_cells}
    answer = tuple(_normalise(c) not in solution for c in cells)
    if not any(answer):
        raise NotebookError(f"{where} has no answer cell (no code cell differs from the solution's)")
    return ExerciseSource(cells=cells, answer=answer, path=where)


def _uses_learner_code(src: str, entry_points: Iterable[str]) -> bool:
    """Whether an instructor cell calls a check verb or mentions an entry point (so it is not run)."""
    names = set(entry_points)
    try:
        tree = ast.parse(strip_magics(src))
    except SyntaxError:
        return any(re.search(rf"\b{re.escape(n)}\b", src) for n in names | _VERBS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names:
            return True
        if isinstance(node, ast.Call):
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if called in _VERBS:
                return True
    return False


def _label(k: int, src: str) -> str:
    first = next((ln.strip() for ln in src.splitlines() if ln.strip()), "")
    first = first if len(first) <= 40 else first[:37] + "..."
    return f"your code cell {k}" + (f" ({first})" if first else " (empty)")


def assemble(source: ExerciseSource, learner_cells: Sequence[str],
             entry_points: Iterable[str] = ()) -> list[ProgramCell]:
    """The program to run: instructor cells from ``source`` and the learner's own cells, in notebook order.

    See the module docstring for the rules. Empty learner cells are dropped.

    >>> source = ExerciseSource(("import math", "def f():\\n    raise NotImplementedError", "check(f)"),
    ...                         (False, True, False), "-")
    >>> learner = ["import math", "def f():\\n    return 1", "%time f()"]
    >>> [(c.origin, c.source) for c in assemble(source, learner, ["f"])]
    [('exercise', 'import math'), ('learner', 'def f():\\n    return 1'), ('learner', 'pass  # time f()')]
    """
    entry_points = tuple(entry_points)
    src_norm = [_normalise(c) for c in source.cells]
    lrn_norm = [_normalise(c) for c in learner_cells]
    matcher = difflib.SequenceMatcher(None, src_norm, lrn_norm, autojunk=False)
    anchor: dict[int, int] = {}  # learner index -> source index, instructor cells only
    for i, j, n in matcher.get_matching_blocks():
        for d in range(n):
            if not source.answer[i + d]:
                anchor[j + d] = i + d

    program: list[ProgramCell] = []
    next_src = 0

    def emit_source(upto: int) -> None:
        nonlocal next_src
        for k in range(next_src, upto):
            if not source.answer[k] and not _uses_learner_code(source.cells[k], entry_points):
                program.append(ProgramCell("exercise", f"exercise cell {k + 1}", strip_magics(source.cells[k])))
        next_src = max(next_src, upto)

    for j, src in enumerate(learner_cells):
        if j in anchor:
            emit_source(anchor[j] + 1)
        elif lrn_norm[j]:
            program.append(ProgramCell("learner", _label(j + 1, src), strip_magics(src)))
    emit_source(len(source.cells))
    return program
