"""Build step for the course's notebooks (``make notebooks``).

The MyST ``.md`` file is the source of truth. ``notebooks`` reads it with jupytext, executes it
with nbclient in the notebook's own folder, and writes the paired ``.ipynb`` with its outputs, so
both files always hold the same cells. These tools come with the ``course`` extra; they are
imported here lazily so the package itself needs numpy and matplotlib only.

The website (``make site``, ``make html``) is built from the executed pairs by
:mod:`prodai_lessons.tooling.build_site`, without executing anything.

Run as ``python -m prodai_lessons.tooling.build_notebooks notebooks DIR...``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["find_sources", "execute_source", "build_notebooks"]

KERNEL = "python3"


def find_sources(paths: Iterable[str | Path]) -> list[Path]:
    """The notebook sources (``*.md`` files with a jupytext header) under ``paths``, sorted.

    ``README.md`` files and markdown files without a ``jupytext`` header are not notebooks.
    Raises ``FileNotFoundError`` naming a path that does not exist.

    >>> [p.name for p in find_sources(["notebooks"])][:2]  # run from the course's root folder
    ['00_index.md', '01_deployment_patterns.md']
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"paths: {p} does not exist")
        candidates = [p] if p.is_file() else sorted(p.glob("*.md"))
        for md in candidates:
            if md.suffix == ".md" and _is_notebook_source(md):
                found.append(md)
    return sorted(found)


def _is_notebook_source(md: Path) -> bool:
    head = md.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "jupytext:" in head.split("\n---", 1)[0]


def execute_source(md: Path, *, timeout: int = 600):
    """Read ``md`` with jupytext, execute it with nbclient in its folder, return the notebook.

    Cell timing metadata is not recorded, so a rebuild only changes the ``.ipynb`` where an
    output really changed. (The example is not run by the test suite: it starts a kernel.)

    >>> nb = execute_source(Path("notebooks/09_summary.md"))  # doctest: +SKIP
    >>> nb.cells[-2].outputs[0]["text"].splitlines()[0]  # doctest: +SKIP
    'lesson 01: Where the always-on API becomes cheaper       checks: break_even'
    """
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(md)
    for i, cell in enumerate(nb.cells):  # stable ids: a rebuild only changes what really changed
        cell["id"] = f"cell-{i}"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        record_timing=False,
        resources={"metadata": {"path": str(md.parent.resolve())}},
    )
    client.execute()
    for cell in nb.cells:  # one stream output per run of prints, however the kernel flushed them
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    return nb


def _coalesce_streams(outputs: list) -> list:
    merged: list = []
    for out in outputs:
        if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == out.get("name")):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def build_notebooks(paths: Sequence[str | Path], *, log=print) -> list[Path]:
    """Execute every notebook source under ``paths`` and write its paired ``.ipynb``.

    ``log`` gets one line per notebook. Returns the written ``.ipynb`` paths.

    >>> build_notebooks(["notebooks/09_summary.md"], log=lambda line: None)  # doctest: +SKIP
    [PosixPath('notebooks/09_summary.ipynb')]
    """
    import jupytext

    written = []
    for md in find_sources(paths):
        log(f"executing {md}")
        nb = execute_source(md)
        out = md.with_suffix(".ipynb")
        jupytext.write(nb, out, fmt="ipynb")
        written.append(out)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prodai_lessons.tooling.build_notebooks")
    parser.add_argument("step", choices=["notebooks"])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    build_notebooks(args.paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
