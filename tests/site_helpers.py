"""Shared by tests/test_site.py and tests/test_browser.py: one build of each website per test run."""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
import warnings as warnings_module
from pathlib import Path

import nbformat

from prodai_lessons.tooling import build_site

ROOT = Path(__file__).resolve().parents[1]
SUFFIX = " \u2014 Production AI Systems"  # " — Production AI Systems", the theme's title suffix


@functools.lru_cache(maxsize=None)
def built_site(instructor: bool = False) -> tuple[Path, str]:
    """Build the learner (or instructor) site from scratch into a temporary folder, once per run.

    Returns the site folder and the warnings Sphinx printed.
    """
    pytest_skip_without_sphinx()
    tmp = Path(tempfile.mkdtemp(prefix="prodai-site-"))
    atexit.register(shutil.rmtree, tmp, True)
    out = tmp / ("site-instructor" if instructor else "site")
    warnings = tmp / "warnings.txt"
    with warnings_module.catch_warnings():  # the theme's and MyST's use of Sphinx APIs due to change
        warnings_module.filterwarnings("ignore", message=r".*Check CHANGES for Sphinx API modifications")
        build_site.build_site(out, instructor=instructor, fresh=True, warning_file=warnings)
    return out, warnings.read_text(encoding="utf-8") if warnings.exists() else ""


def pytest_skip_without_sphinx() -> None:
    import pytest

    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        pytest.importorskip(module, reason="the website needs the site extra: pip install -e '.[site]'")


def expected_title(page: str) -> str:
    """The ``<title>`` of a page: its notebook's first heading, then the course's name."""
    if page == build_site.HOME:
        return "Course index" + SUFFIX
    md = ROOT / f"{page}.md"
    heading = re.search(r"^# (.+)$", md.read_text(encoding="utf-8"), re.M).group(1).strip()
    if page.startswith("solutions/"):
        heading += " (reference solution)"
    return heading + SUFFIX


def committed_images(page: str) -> int:
    """How many figures (PNG outputs) the committed ``.ipynb`` of a page holds."""
    nb = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.outputs)
