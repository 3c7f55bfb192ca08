"""The course website (``make site``, ``make site-instructor``): Sphinx + MyST-NB, offline.

The site's configuration is ``site/conf.py``; this module holds what it does at build time and
the command that runs it:

- each page is a notebook's MyST ``.md`` source combined with the outputs committed in its
  executed ``.ipynb`` (jupytext's ``combine_inputs_with_outputs``); nothing is executed. A code
  cell whose source changed since the last ``make notebooks`` has no committed output: the build
  warns and names the notebook.
- the course index (``notebooks/00_index``) is the home page; the navigation lists the lessons in
  course order, then the exercises, then (instructor site only) the solutions.
- every notebook page gets two links under its title: "Open in JupyterLab" (``/lab/tree/<path>``,
  which works while ``make lab`` serves the course folder) and a download of the committed
  ``.ipynb``, copied next to the page.
- ``index.html`` at the site's root leads to the course index.

Sphinx, MyST-NB and the theme come with the ``site`` extra; they are imported lazily, so the
package itself needs numpy and matplotlib only.

Run as ``python -m prodai_lessons.tooling.build_site [--instructor] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["LEARNER_FOLDERS", "INSTRUCTOR_FOLDERS", "site_folders", "site_pages", "build_site", "setup_sphinx"]

ROOT = Path(__file__).resolve().parents[2]
LEARNER_FOLDERS = ("notebooks", "exercises")
INSTRUCTOR_FOLDERS = ("notebooks", "exercises", "solutions")
CAPTIONS = {"notebooks": "Lessons", "exercises": "Exercises", "solutions": "Reference solutions"}
HOME = "notebooks/00_index"


def site_folders(*, instructor: bool) -> tuple[str, ...]:
    """The folders whose notebooks become pages: solutions only on the instructor site.

    >>> site_folders(instructor=False), site_folders(instructor=True)[-1]
    (('notebooks', 'exercises'), 'solutions')
    """
    return INSTRUCTOR_FOLDERS if instructor else LEARNER_FOLDERS


def site_pages(root: str | Path = ROOT, *, instructor: bool = False) -> list[str]:
    """The pages of the site (``folder/stem``), in navigation order: the course index first.

    >>> site_pages()[:2]
    ['notebooks/00_index', 'notebooks/01_deployment_patterns']
    """
    root = Path(root)
    pages = [f"{folder}/{p.stem}" for folder in site_folders(instructor=instructor)
             for p in sorted((root / folder).glob("*.ipynb"))]
    pages.remove(HOME)
    return [HOME, *pages]


# ---------------------------------------------------------------- Sphinx hooks


def setup_sphinx(app, *, root: Path, instructor: bool) -> None:
    """Connect the site's build steps to a Sphinx application (called from ``site/conf.py``).

    Registers ``prodai_lab_url``: where "Open in JupyterLab" points, followed by the notebook's path.

    >>> # in site/conf.py, which Sphinx runs:
    >>> def setup(app):  # doctest: +SKIP
    ...     setup_sphinx(app, root=ROOT, instructor=False)
    """
    from sphinx.util import logging

    logger = logging.getLogger("prodai.site")
    app.add_config_value("prodai_lab_url", "/lab/tree/", "html", types=(str,))
    nav = [p for p in site_pages(root, instructor=instructor) if p != HOME]

    def source_read(app, docname: str, source: list[str]) -> None:
        source[0] = _page_notebook(app, Path(app.srcdir), docname, source[0], nav=nav, logger=logger)

    def page_context(app, pagename: str, templatename: str, context: dict, doctree) -> None:
        if pagename == HOME:  # its heading is the course's name, already the suffix of every title
            context["title"] = "Course index"
        if doctree is None or not (Path(app.srcdir) / f"{pagename}.ipynb").exists():
            return
        links = _notebook_links(pagename, app.config.prodai_lab_url)
        context["body"] = re.sub(r"(</h1>)", lambda m: m.group(1) + links, context["body"], count=1)

    def build_finished(app, exc) -> None:
        if exc is not None or app.builder.format != "html":
            return
        out = Path(app.outdir)
        for docname in app.env.found_docs:  # the committed notebooks, for the download links
            target = out / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(app.srcdir) / f"{docname}.ipynb", target)
        icon = app.config.html_favicon and f"_static/{Path(app.config.html_favicon).name}"
        (out / "index.html").write_text(_redirect_page(f"{HOME}.html", app.config.html_title, icon),
                                        encoding="utf-8")

    app.connect("source-read", source_read)
    app.connect("html-page-context", page_context)
    app.connect("build-finished", build_finished)


def _page_notebook(app, srcdir: Path, docname: str, text: str, *, nav: list[str], logger) -> str:
    """The notebook a page shows: the ``.md`` cells with the committed outputs of the ``.ipynb``."""
    import jupytext
    import nbformat
    from jupytext.combine import combine_inputs_with_outputs

    executed = nbformat.reads(text, as_version=4)
    md = srcdir / f"{docname}.md"
    if md.exists():
        app.env.note_dependency(str(md))
        source = jupytext.read(md)
        committed = {c.source for c in executed.cells if c.cell_type == "code"}
        stale = [i for i, c in enumerate(source.cells) if c.cell_type == "code" and c.source not in committed]
        if stale:
            rebuild = "make exercises" if docname.startswith("exercises/") else f"make notebooks NB={docname}.md"
            logger.warning(f"{docname}.md: code cell(s) {stale} changed since the .ipynb was executed, so they "
                           f"show no output; run `{rebuild}`", location=docname)
        nb = combine_inputs_with_outputs(source, executed)
        for i in stale:  # jupytext keeps outputs of a cell that changed in place: they are not its outputs
            nb.cells[i].outputs, nb.cells[i].execution_count = [], None
        nb.metadata.setdefault("language_info", executed.metadata.get("language_info", {"name": "python"}))
    else:
        nb = executed
    if docname.startswith("solutions/"):  # the same titles as the exercises: say which one this is
        first = next(c for c in nb.cells if c.cell_type == "markdown")
        first.source = re.sub(r"^(# .+)$", r"\1 (reference solution)", first.source, count=1, flags=re.M)
    if docname == HOME:
        nb.cells.append(nbformat.v4.new_markdown_cell(_toctree_markup(nav)))
    return nbformat.writes(nb)


def _toctree_markup(nav: list[str]) -> str:
    blocks = []
    for folder, caption in CAPTIONS.items():
        entries = [f"/{page}" for page in nav if page.startswith(folder + "/")]
        if entries:
            blocks.append("```{toctree}\n:hidden:\n:caption: " + caption + "\n\n" + "\n".join(entries) + "\n```")
    return "\n\n".join(blocks)


def _notebook_links(pagename: str, lab_url: str) -> str:
    name = pagename.rsplit("/", 1)[-1] + ".ipynb"
    lab = html.escape(lab_url + pagename + ".ipynb")
    return (
        '\n<p class="prodai-notebook-links">'
        f'<a class="prodai-badge prodai-badge-lab" href="{lab}" '
        'title="Open this notebook in JupyterLab (while `make lab` serves the course)">Open in JupyterLab</a> '
        f'<a class="prodai-badge prodai-badge-download" href="{html.escape(name)}" download="{html.escape(name)}" '
        f'title="Download the executed notebook">Download {html.escape(name)}</a></p>\n'
    )


def _redirect_page(target: str, title: str, icon: str | None = None) -> str:
    t, esc = html.escape(title), html.escape(target)
    icon_link = f"<link rel=\"icon\" href=\"{html.escape(icon)}\">" if icon else ""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{t}</title><meta http-equiv=\"refresh\" content=\"0; url={esc}\">"
        f"<link rel=\"canonical\" href=\"{esc}\">{icon_link}</head>\n"
        f"<body><p><a href=\"{esc}\">{t}: the course index</a></p></body></html>\n"
    )


# ---------------------------------------------------------------- the build


def build_site(out: str | Path, *, instructor: bool = False, root: str | Path = ROOT, fresh: bool = False,
               jobs: int | str = 1, quiet: bool = True, warning_file: str | Path | None = None) -> Path:
    """Build the site into ``out`` and return its ``index.html``.

    Raises ``RuntimeError`` when Sphinx fails. Doctrees are cached in ``.doctrees/<name>`` beside ``out``, so a
    rebuild reads only the notebooks that changed (``fresh=True`` rebuilds everything). Warnings
    go to stderr and, with ``warning_file``, to that file too. (The example is not run by the test suite:
    ``tests/test_site.py`` builds the site.)

    >>> build_site("_build/site").name  # doctest: +SKIP
    'index.html'
    """
    from sphinx.cmd.build import build_main

    root, out = Path(root).resolve(), Path(out).resolve()
    doctrees = out.parent / ".doctrees" / out.name  # beside the site, not in what gets published
    args = ["-b", "html", "-c", str(root / "site"), "-d", str(doctrees), "-j", str(jobs)]
    if instructor:
        args += ["-t", "instructor"]
    if fresh:
        args += ["-E", "-a"]
    if quiet:
        args += ["-q"]
    if warning_file is not None:
        args += ["-w", str(warning_file)]
    status = build_main([*args, str(root), str(out)])
    if status != 0:
        raise RuntimeError(f"sphinx-build failed with status {status}")
    return out / "index.html"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prodai_lessons.tooling.build_site",
                                     description="Build the course website (offline) with Sphinx and MyST-NB.")
    parser.add_argument("--instructor", action="store_true", help="include the reference solutions")
    parser.add_argument("--out", help="output folder (default _build/site or _build/site-instructor)")
    parser.add_argument("--fresh", action="store_true", help="rebuild every page, not only the changed ones")
    args = parser.parse_args(argv)
    out = Path(args.out or ("_build/site-instructor" if args.instructor else "_build/site"))
    start = time.perf_counter()
    index = build_site(out, instructor=args.instructor, fresh=args.fresh)
    print(f"wrote {index} ({len(site_pages(instructor=args.instructor))} pages, "
          f"{time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
