"""Generate the learner notebooks in ``exercises/`` from the instructor notebooks in ``solutions/``.

One source, as nbgrader does it: ``solutions/exN_name.md`` is the full notebook, with the reference code
between marker lines inside code cells::

    def update(self, correct: bool) -> None:
        ### BEGIN SOLUTION: append the outcome and compare the two windows
        ...reference code...
        ### END SOLUTION

The learner version replaces each block by one stub line at the marker's indentation, keeping everything
around it (signatures, docstrings, the code after the block)::

        raise NotImplementedError  # append the outcome and compare the two windows

The text after ``BEGIN SOLUTION:`` is the comment; without it the comment is ``write your code here``.
A block must sit inside a function or method body: a stub at the top level of a cell, in a class body or in
a top-level loop would raise when the notebook runs, and the exercise notebooks must run clean. This is
checked on the learner version of each cell with :mod:`ast` (the stub must have a function among its
enclosing nodes, and the cell must still be valid Python).

The markers are exact (``###``, upper case, one space). A line that looks like a marker but is not one
(``## BEGIN SOLUTION``, ``#### END SOLUTION``, ``### Begin Solution``, ``<!-- begin solution -->``) is an
error rather than ordinary text: kept verbatim it would leak the solution into the learner notebook.

Whole regions that only the solution shows (a demo that calls the learner's code, a discussion of the
answer) are wrapped, *outside* code cells, in ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``
lines; the learner version drops the region, markers included.

``prodai build-exercises`` writes ``exercises/<name>.md`` and its executed ``.ipynb`` for every
``solutions/*.md`` notebook; ``--check`` only reports what is out of date (for CI and the tests).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prodai_lessons.tooling.build_notebooks import execute_source, find_sources
from prodai_lessons.tooling.cells import strip_magics

__all__ = ["strip_solutions", "exercise_sources", "build_exercises", "stale_exercises", "SolutionMarkupError"]

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)###\s*BEGIN SOLUTION\b[ \t]*(?::[ \t]*(?P<comment>.*?))?[ \t]*$")
_END = re.compile(r"^[ \t]*###\s*END SOLUTION\b.*$")
_MD_BEGIN = re.compile(r"^\s*<!--\s*BEGIN SOLUTION\s*-->\s*$")
_MD_END = re.compile(r"^\s*<!--\s*END SOLUTION\s*-->\s*$")
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,})\{code-cell\}")
_NEAR_CODE = re.compile(r"(?i)^\s*#+\s*(begin|end)\s+solution")
_NEAR_MD = re.compile(r"(?i)^\s*<!--\s*(begin|end)\s+solution")
DEFAULT_COMMENT = "write your code here"
GENERATED_NOTE = ("<!-- Generated from solutions/{name} by `prodai build-exercises`: "
                  "edit that file, then rebuild. -->")


class SolutionMarkupError(ValueError):
    """A solution notebook whose markers cannot be turned into a learner version (names file and line).

    >>> strip_solutions("```{code-cell} ipython3\\n### BEGIN SOLUTION\\nx = 1\\n```\\n")
    Traceback (most recent call last):
    ...
    prodai_lessons.tooling.build_exercises.SolutionMarkupError: <text>:2: a solution block at the top level of a cell would make the exercise notebook raise; put it inside a function or method
    """


@dataclass(frozen=True)
class _Pos:
    source: str
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}"


def strip_solutions(text: str, *, source: str = "<text>", name: str | None = None) -> str:
    """Return the learner version of a solution notebook's MyST text.

    ``source`` names the file in error messages; ``name`` (the solution file's name) adds a one-line
    "generated from" comment under the notebook's title. Raises :class:`SolutionMarkupError` for an
    unclosed, nested or stray marker, a code marker outside a code cell, a line that looks like a marker
    but is not one, a block outside a function body, or a learner cell that is not valid Python.

    >>> cell = "```{code-cell} ipython3\\ndef f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION\\n```\\n"
    >>> print(strip_solutions(cell))
    ```{code-cell} ipython3
    def f():
        raise NotImplementedError  # write your code here
    ```
    <BLANKLINE>
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    fence: str | None = None  # the fence of the code cell we are in
    code_block: tuple[_Pos, str, str] | None = None  # (where, indent, comment) of an open code block
    md_block: _Pos | None = None
    cell: list[str] = []  # the learner version of the open code cell, lines without their ends
    stubs: list[tuple[int, _Pos]] = []  # (line in ``cell``, 1-based; where the block began) of its stubs
    title_done = name is None
    in_front_matter = bool(lines) and lines[0].strip() == "---"
    for i, line in enumerate(lines, start=1):
        pos = _Pos(source, i)
        bare = line.rstrip("\r\n")
        if in_front_matter:
            out.append(line)
            if i > 1 and bare.strip() == "---":
                in_front_matter = False
            continue
        if fence is None:
            m = _FENCE_OPEN.match(bare)
            if _BEGIN.match(bare) or _END.match(bare):
                raise SolutionMarkupError(f"{pos}: '### BEGIN/END SOLUTION' outside a code cell; "
                                          "use <!-- BEGIN SOLUTION --> in markdown")
            if _NEAR_MD.match(bare) and not (_MD_BEGIN.match(bare) or _MD_END.match(bare)):
                raise SolutionMarkupError(f"{pos}: {bare.strip()!r} is not a solution marker; write exactly "
                                          "<!-- BEGIN SOLUTION --> or <!-- END SOLUTION -->")
            if _MD_BEGIN.match(bare):
                if md_block is not None:
                    raise SolutionMarkupError(f"{pos}: nested <!-- BEGIN SOLUTION --> (the open one is at "
                                              f"line {md_block.line})")
                md_block = pos
                continue
            if _MD_END.match(bare):
                if md_block is None:
                    raise SolutionMarkupError(f"{pos}: <!-- END SOLUTION --> without a BEGIN")
                md_block = None
                continue
            if m:
                fence = m.group("fence")
                cell, stubs = [], []
            if md_block is None:
                out.append(line)
                if not title_done and bare.startswith("# "):
                    out.append("\n" + GENERATED_NOTE.format(name=name) + "\n")
                    title_done = True
            continue
        # inside a code cell
        if bare.strip() == fence:
            if code_block is not None:
                raise SolutionMarkupError(f"{code_block[0]}: BEGIN SOLUTION not closed before the end of "
                                          "its code cell")
            fence = None
            if md_block is None:
                if stubs:
                    _check_stubs(cell, stubs)
                out.append(line)
            continue
        if _NEAR_MD.match(bare):
            raise SolutionMarkupError(f"{pos}: a markdown solution marker inside a code cell; close the code "
                                      "cell first (or use ### BEGIN SOLUTION inside the code)")
        if _NEAR_CODE.match(bare) and not (_BEGIN.match(bare) or _END.match(bare)):
            raise SolutionMarkupError(f"{pos}: {bare.strip()!r} is not a solution marker; write exactly "
                                      "'### BEGIN SOLUTION' (optionally ': comment') or '### END SOLUTION'")
        b = _BEGIN.match(bare)
        if b:
            if code_block is not None:
                raise SolutionMarkupError(f"{pos}: nested BEGIN SOLUTION (the open one is at line "
                                          f"{code_block[0].line})")
            indent = b.group("indent")
            if not indent:
                raise SolutionMarkupError(f"{pos}: a solution block at the top level of a cell would make "
                                          "the exercise notebook raise; put it inside a function or method")
            code_block = (pos, indent, (b.group("comment") or "").strip() or DEFAULT_COMMENT)
            continue
        if _END.match(bare):
            if code_block is None:
                raise SolutionMarkupError(f"{pos}: END SOLUTION without a BEGIN")
            begun, indent, comment = code_block
            if md_block is None:
                stub = f"{indent}raise NotImplementedError  # {comment}"
                out.append(stub + (line[len(bare):] or "\n"))  # the file's own line ending
                cell.append(stub)
                stubs.append((len(cell), begun))
            code_block = None
            continue
        if code_block is None and md_block is None:
            out.append(line)
            cell.append(bare)
    if code_block is not None:
        raise SolutionMarkupError(f"{code_block[0]}: BEGIN SOLUTION is never closed")
    if fence is not None:
        raise SolutionMarkupError(f"{source}: a code cell is never closed")
    if md_block is not None:
        raise SolutionMarkupError(f"{md_block}: <!-- BEGIN SOLUTION --> is never closed")
    return "".join(out)


def _check_stubs(cell: list[str], stubs: list[tuple[int, _Pos]]) -> None:
    """Each stub of a learner cell must sit in a function body, and the cell must parse (see module doc)."""
    first = stubs[0][1]
    cell = list(cell)
    k = 0
    if cell and cell[0].strip() == "---":  # MyST cell options (YAML), blanked to keep the line numbers
        end = next((j for j in range(1, len(cell)) if cell[j].strip() == "---"), 0)
        k = end + 1
    while k < len(cell) and re.match(r"^:[\w-]+:", cell[k]):  # short-form options
        k += 1
    cell[:k] = [""] * k
    try:
        tree = ast.parse(strip_magics("\n".join(cell)))
    except SyntaxError as exc:
        raise SolutionMarkupError(f"{first}: with its solution blocks replaced by stubs, this code cell is not "
                                  f"valid Python ({exc.msg}, line {exc.lineno} of the cell); check the "
                                  "markers' indentation") from None
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    raises = {n.lineno: n for n in ast.walk(tree) if isinstance(n, ast.Raise)}
    for line, where in stubs:
        node: ast.AST | None = raises.get(line)
        if node is None:  # pragma: no cover - the stub line always parses as a raise statement
            raise SolutionMarkupError(f"{where}: the stub of this solution block was not found")
        enclosing = []
        while node in parents:
            node = parents[node]
            enclosing.append(node)
        if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in enclosing):
            inside = next((type(n).__name__ for n in enclosing if not isinstance(n, ast.Module)), None)
            what = {"ClassDef": "a class body", "For": "a top-level for loop", "While": "a top-level while loop",
                    "If": "a top-level if", "With": "a top-level with", "Try": "a top-level try"}.get(
                        inside or "", f"top-level code ({inside})" if inside else "the top level")
            raise SolutionMarkupError(f"{where}: a solution block in {what} would make the exercise notebook "
                                      "raise when the cell runs; put it inside a function or method body")


def exercise_sources(solutions_dir: str | Path = "solutions") -> list[Path]:
    """The solution notebooks (``*.md`` with a jupytext header) in ``solutions_dir``, sorted.

    >>> [p.name for p in exercise_sources("solutions")][:1]  # run from the course's root folder
    ['ex1_concept_drift.md']
    """
    d = Path(solutions_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"solutions_dir: {d} is not a directory")
    return find_sources([d])


def _targets(solutions_dir: str | Path, exercises_dir: str | Path) -> list[tuple[Path, Path, str]]:
    out = []
    for md in exercise_sources(solutions_dir):
        text = strip_solutions(md.read_text(encoding="utf-8"), source=str(md), name=md.name)
        out.append((md, Path(exercises_dir) / md.name, text))
    return out


def build_exercises(solutions_dir: str | Path = "solutions", exercises_dir: str | Path = "exercises", *,
                    execute: bool = True, log: Callable[[str], None] | None = None) -> list[Path]:
    """Write ``exercises_dir/<name>.md`` for every solution notebook, and its executed ``.ipynb``.

    All sources are converted (and their markers validated) before anything is written, so a markup error
    leaves ``exercises_dir`` untouched; a notebook is executed from a hidden temporary copy beside its
    target, and its ``.md`` and ``.ipynb`` are written only once it ran, so a cell that fails leaves the
    previous pair as it was. With ``execute=False`` the ``.ipynb`` is written without outputs (quick; nbval
    then has nothing to compare). Returns the written paths.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> sorted(p.name for p in build_exercises("solutions", out, execute=False))[:2]
    ['ex1_concept_drift.ipynb', 'ex1_concept_drift.md']
    """
    import jupytext

    targets = _targets(solutions_dir, exercises_dir)
    Path(exercises_dir).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for src, md, text in targets:
        if log:
            log(f"{'executing' if execute else 'writing'} {md} (from {src})")
        nb = None
        if execute:
            tmp = md.with_name(f".{md.stem}.building.md")
            tmp.write_text(text, encoding="utf-8")
            try:
                nb = execute_source(tmp)
            finally:
                tmp.unlink(missing_ok=True)
        md.write_text(text, encoding="utf-8")
        written.append(md)
        if nb is None:
            nb = jupytext.read(md)
        ipynb = md.with_suffix(".ipynb")
        jupytext.write(nb, ipynb, fmt="ipynb")
        written.append(ipynb)
    return written


def _cell_sources(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def stale_exercises(solutions_dir: str | Path = "solutions",
                    exercises_dir: str | Path = "exercises") -> list[str]:
    """What differs between ``exercises_dir`` and what the build would write (empty when up to date).

    Compares each ``.md`` byte for byte and the cells of each ``.ipynb`` (type and source; outputs are
    nbval's business), and reports files in ``exercises_dir`` that no solution generates.

    >>> stale_exercises("solutions", "solutions")[0]  # a folder that is not the build's output
    'solutions/ex1_concept_drift.md differs from what solutions/ex1_concept_drift.md generates (run `prodai build-exercises`)'

    """
    import jupytext

    problems: list[str] = []
    expected: set[str] = set()
    for src, md, text in _targets(solutions_dir, exercises_dir):
        expected |= {md.name, md.with_suffix(".ipynb").name}
        if not md.exists():
            problems.append(f"{md} is missing (run `prodai build-exercises`)")
            continue
        if md.read_text(encoding="utf-8") != text:
            problems.append(f"{md} differs from what {src} generates (run `prodai build-exercises`)")
        ipynb = md.with_suffix(".ipynb")
        if not ipynb.exists():
            problems.append(f"{ipynb} is missing (run `prodai build-exercises`)")
        elif _cell_sources(jupytext.read(ipynb)) != _cell_sources(jupytext.reads(text, fmt="md:myst")):
            problems.append(f"{ipynb} cells differ from {md} (run `prodai build-exercises`)")
    d = Path(exercises_dir)
    if d.is_dir():
        for extra in sorted(d.glob("ex*")):
            if extra.suffix in (".md", ".ipynb") and extra.name not in expected:
                problems.append(f"{extra} is not generated from any solution notebook")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``prodai build-exercises`` (also ``python -m prodai_lessons.tooling.build_exercises``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="prodai build-exercises")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser) -> None:
    parser.add_argument("--solutions", default="solutions", help="folder of solution notebooks (default: solutions)")
    parser.add_argument("--out", default="exercises", help="folder to write the exercises to (default: exercises)")
    parser.add_argument("--no-execute", action="store_true", help="write the .ipynb without executing it")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 listing what is out of date")


def run(args) -> int:
    try:
        if args.check:
            problems = stale_exercises(args.solutions, args.out)
            for p in problems:
                print(p)
            if not problems:
                print(f"{args.out}/ is up to date with {args.solutions}/")
            return 1 if problems else 0
        build_exercises(args.solutions, args.out, execute=not args.no_execute, log=print)
        return 0
    except (FileNotFoundError, SolutionMarkupError) as exc:
        import sys

        print(f"prodai build-exercises: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main())
