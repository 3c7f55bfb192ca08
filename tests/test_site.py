"""The course website (``make site``, ``make site-instructor``), read as files: pages, order, titles,
committed outputs, notebook links, solutions only for instructors, nothing loaded from another host.

What a browser makes of the same pages (MathJax, figures, requests) is tests/test_browser.py.
"""

from __future__ import annotations

import html
import posixpath
import re
import types
from pathlib import Path

import jupytext
import nbformat
import pytest

from prodai_lessons.tooling import build_site
from site_helpers import ROOT, built_site, committed_images, expected_title

LEARNER_PAGES = build_site.site_pages(ROOT)
INSTRUCTOR_PAGES = build_site.site_pages(ROOT, instructor=True)


@pytest.fixture(scope="module")
def site() -> Path:
    return built_site(False)[0]


def read(site: Path, page: str) -> str:
    return (site / f"{page}.html").read_text(encoding="utf-8")


def title_of(text: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", text, re.S).group(1).strip())


def sidebar_links(text: str) -> list[str]:
    nav = re.search(r'<nav class="bd-links bd-docs-nav".*?</nav>', text, re.S).group(0)
    return re.findall(r'<a class="[^"]*\breference internal\b[^"]*" href="([^"]*)"', nav)


# ---------------------------------------------------------------- pages and order


def test_pages_are_the_lessons_in_course_order_then_the_exercises():
    lessons = sorted(p.stem for p in (ROOT / "notebooks").glob("*.md"))
    exercises = sorted(p.stem for p in (ROOT / "exercises").glob("*.md"))
    assert lessons[0] == "00_index" and lessons[-1] == "09_summary"
    assert LEARNER_PAGES == [f"notebooks/{s}" for s in lessons] + [f"exercises/{s}" for s in exercises]
    assert not any(p.startswith("solutions/") for p in LEARNER_PAGES)
    solutions = sorted(p.stem for p in (ROOT / "solutions").glob("*.md"))
    assert INSTRUCTOR_PAGES == LEARNER_PAGES + [f"solutions/{s}" for s in solutions]


def test_learner_site_builds_without_warnings(site):
    assert built_site(False)[1] == ""


def test_navigation_lists_every_page_in_order_with_the_course_index_first(site):
    here = "notebooks/05_guardrails"  # seen from a lesson, as a learner sees it
    links = sidebar_links(read(site, here))
    pages = [here if href == "#" else posixpath.normpath(posixpath.join("notebooks", href))[:-len(".html")]
             for href in links]
    assert pages == LEARNER_PAGES
    assert "Lessons" in read(site, "notebooks/00_index") and "Exercises" in read(site, "notebooks/00_index")


def test_index_html_leads_to_the_course_index(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    assert title_of(text) == "Production AI Systems"
    assert 'http-equiv="refresh" content="0; url=notebooks/00_index.html"' in text


@pytest.mark.parametrize("page", LEARNER_PAGES)
def test_every_page_has_its_own_title(site, page):
    assert title_of(read(site, page)) == expected_title(page)


def test_search_and_index_pages_have_titles_and_a_search_index(site):
    assert title_of((site / "search.html").read_text(encoding="utf-8")) == "Search - Production AI Systems"
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    assert "kolmogorov" in index.lower() and "02_data_drift" in index


# ---------------------------------------------------------------- committed outputs, links


@pytest.mark.parametrize("page", LEARNER_PAGES)
def test_page_shows_the_committed_outputs(site, page):
    text = read(site, page)
    images = re.findall(r'<img alt="[^"]*" src="(\.\./_images/[^"]+\.png)"', text)
    assert len(images) == committed_images(page), f"{page}: figures on the page vs in the committed .ipynb"
    for src in images:
        assert (site / page).parent.joinpath(src).resolve().is_file(), src
    nb = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    streams = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    for out in streams:
        line = next(s for s in out.splitlines() if s.strip())
        assert html.escape(line.strip(), quote=False) in text, f"{page}: output line {line!r} is not on the page"


@pytest.mark.parametrize("page", LEARNER_PAGES)
def test_page_links_to_jupyterlab_and_to_the_committed_notebook(site, page):
    text = read(site, page)
    name = page.rsplit("/", 1)[1] + ".ipynb"
    links = re.search(r'<h1>.*?</h1>\s*<p class="prodai-notebook-links">(.*?)</p>', text, re.S)
    assert links, f"{page}: no notebook links under the title"
    assert f'href="/lab/tree/{page}.ipynb"' in links.group(1) and "Open in JupyterLab" in links.group(1)
    assert f'href="{name}" download="{name}"' in links.group(1)
    assert (site / f"{page}.ipynb").read_bytes() == (ROOT / f"{page}.ipynb").read_bytes()


# ---------------------------------------------------------------- offline


def test_pages_load_nothing_from_another_host(site):
    remote = re.compile(r'<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.I)
    for path in sorted(site.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        assert not remote.search(text), f"{path.relative_to(site)} loads {remote.search(text).group(0)}"
    for css in sorted((site / "_static").rglob("*.css")):
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css.read_text(encoding="utf-8")), css.name


def test_math_is_typeset_by_the_mathjax_served_with_the_site(site):
    text = read(site, "notebooks/04_ab_testing")
    script = re.search(r'<script[^>]*src="\.\./(_static/mathjax/tex-chtml\.js)[?"]', text)
    assert script and (site / script.group(1)).is_file()
    assert (site / "_static/mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert 'class="math notranslate nohighlight"' in text
    assert "require.js" not in text


# ---------------------------------------------------------------- instructor site


def test_solutions_are_not_on_the_learner_site(site):
    assert not (site / "solutions").exists()
    for path in site.rglob("*.html"):
        assert not re.search(r'href="[^"]*solutions/', path.read_text(encoding="utf-8")), path.name


def test_instructor_site_adds_the_solutions():
    site, warnings = built_site(True)
    stale = [w for w in warnings.splitlines() if w.strip()]
    assert not stale, "\n".join(stale)
    links = sidebar_links(read(site, "notebooks/00_index"))
    assert [h for h in links if "solutions/" in h] == [f"../{p}.html" for p in INSTRUCTOR_PAGES
                                                       if p.startswith("solutions/")]
    assert "Reference solutions" in read(site, "notebooks/00_index")
    for page in INSTRUCTOR_PAGES:
        assert title_of(read(site, page)) == expected_title(page)


# ---------------------------------------------------------------- the .md is the source


class _Log:
    def __init__(self):
        self.warnings: list[str] = []

    def warning(self, message, **kwargs):
        self.warnings.append(message)


def test_a_page_is_the_md_source_with_the_committed_outputs(tmp_path):
    src = ROOT / "notebooks" / "01_deployment_patterns"
    (tmp_path / "notebooks").mkdir()
    md_text = src.with_suffix(".md").read_text(encoding="utf-8")
    md = jupytext.reads(md_text, fmt="md:myst")
    first_md = next(i for i, c in enumerate(md.cells) if c.cell_type == "markdown" and i > 0)
    last_code = max(i for i, c in enumerate(md.cells) if c.cell_type == "code")
    edited = md_text.replace(md.cells[first_md].source, md.cells[first_md].source + " (edited)", 1)
    edited = edited.replace(md.cells[last_code].source, md.cells[last_code].source + "\nx_new = 1", 1)
    (tmp_path / "notebooks" / "01_deployment_patterns.md").write_text(edited, encoding="utf-8")
    executed = src.with_suffix(".ipynb").read_text(encoding="utf-8")
    app = types.SimpleNamespace(env=types.SimpleNamespace(note_dependency=lambda path: None))
    log = _Log()
    page = nbformat.reads(build_site._page_notebook(app, tmp_path, "notebooks/01_deployment_patterns", executed,
                                                    nav=[], logger=log), as_version=4)
    committed = nbformat.reads(executed, as_version=4)
    assert page.cells[first_md].source.endswith("(edited)")  # prose comes from the .md
    assert len(log.warnings) == 1 and f"[{last_code}]" in log.warnings[0] and "make notebooks" in log.warnings[0]
    assert page.cells[last_code].get("outputs", []) == []  # a changed cell shows no stale output
    kept = [i for i, c in enumerate(page.cells) if c.cell_type == "code" and i != last_code]
    assert all(page.cells[i].outputs == committed.cells[i].outputs for i in kept)
