"""The course in a real browser: the website as a reader sees it, and JupyterLab as a learner uses it.

Debian's chromium, driven by Playwright (``executable_path``: Playwright's own browser download does
not work offline). The website is built afresh and served by a local http.server on 127.0.0.1;
JupyterLab runs on a copy of the course folder, so running and clearing cells changes no tracked
file. Every request the browser makes is recorded, and none may leave 127.0.0.1. Screenshots go to
``_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

from site_helpers import ROOT, built_site, committed_images, expected_title
from prodai_lessons.tooling import build_site

CHROMIUM = os.environ.get("PRODAI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the site extra is not installed
    sync_playwright = None
if CHROMIUM is None or sync_playwright is None:
    pytest.skip("browser tests need Debian's chromium and Playwright: apt-get install chromium "
                "(and pip install -e '.[site]')", allow_module_level=True)

SHOTS = ROOT / "_build" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LAB_LESSON = "notebooks/05_guardrails"  # the lesson run cell by cell in JupyterLab (3 figures, about 3 s)
EXERCISE = "exercises/ex1_concept_drift"


def external(urls: list[str]) -> list[str]:
    """The requests that went to a host other than this machine (data: and blob: URLs stay local)."""
    return sorted({u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss", "ftp")
                   and urlparse(u).hostname not in LOCAL_HOSTS})


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


class Recorder:
    """Every request a page makes, and its console errors and uncaught exceptions."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(f"console: {m.text} ({m.location.get('url')})")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)


# ---------------------------------------------------------------- the website


@pytest.fixture(scope="module")
def site_url():
    site = built_site(False)[0]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def site_page(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    rec = Recorder(page)
    yield page, rec, site_url
    context.close()
    print(f"\nwebsite: {len(rec.requests)} requests, {len(external(rec.requests))} to another host")


RAW_TEX = r"\$\$|\\\(|\\\)|\\\[|\\\]|\\(?:frac|sqrt|text|hat|bar|sum|prod|le|ge|qquad|delta)\b"


@pytest.mark.parametrize("page_name", build_site.site_pages(ROOT))
def test_site_page_renders_offline(site_page, page_name):
    page, rec, base = site_page
    start = len(rec.requests), len(rec.errors)
    page.goto(f"{base}/{page_name}.html", wait_until="networkidle")
    assert page.title() == expected_title(page_name)

    n_math = page.locator("article .math").count()
    if n_math:  # MathJax loaded, then its first typesetting pass over the page done
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
    typeset = page.locator("article .math mjx-container").count()
    assert typeset == n_math, f"{n_math - typeset} of {n_math} formulas were not typeset by MathJax"
    prose = page.evaluate("""() => { const a = document.querySelector('article').cloneNode(true);
        a.querySelectorAll('pre, code, mjx-container, .cell_output, script').forEach(e => e.remove());
        return a.innerText; }""")
    raw = re.findall(RAW_TEX, prose)
    assert not raw, f"raw TeX left on the page: {raw[:5]}"
    source = (ROOT / f"{page_name}.md").read_text(encoding="utf-8")
    if re.search(r"\$[^$\n]*\\[a-z]+", source):  # the notebook has formulas: they must be on the page
        assert n_math > 0

    widths = page.evaluate("() => [...document.querySelectorAll('article img')]"
                           ".map(i => i.complete ? i.naturalWidth : 0)")
    figures = page.locator("article .cell_output img").count()
    assert figures == committed_images(page_name)
    assert all(w > 0 for w in widths), f"images that did not load: {widths}"

    lab = page.get_by_role("link", name="Open in JupyterLab")
    assert lab.get_attribute("href") == f"/lab/tree/{page_name}.ipynb"
    download = page.locator("a.prodai-badge-download")
    assert download.get_attribute("href") == page_name.rsplit("/", 1)[1] + ".ipynb"
    if n_math:  # the screenshot shows the first formula
        page.locator("article .math").first.scroll_into_view_if_needed()
    shot(page, "site-" + page_name.replace("/", "-"))
    assert rec.errors[start[1]:] == []
    assert external(rec.requests[start[0]:]) == []


def test_site_index_search_and_downloads(site_page):
    page, rec, base = site_page
    start = len(rec.requests), len(rec.errors)
    page.goto(f"{base}/index.html")
    page.wait_for_url(f"{base}/notebooks/00_index.html")
    page.wait_for_load_state("networkidle")
    assert page.title() == "Course index \u2014 Production AI Systems"
    nav = page.locator("nav.bd-docs-nav a.reference").all_inner_texts()
    assert [t.strip() for t in nav][:2] == ["Production AI Systems", "1. Deployment patterns"]
    assert [t.strip() for t in nav][-1] == "Exercise 3: Automated rollback"

    page.get_by_role("link", name="Data drift detection").click()  # a link in the course map
    page.wait_for_url(f"{base}/notebooks/02_data_drift.html")

    page.goto(f"{base}/search.html?q=Kolmogorov")
    page.wait_for_selector("#search-results li", timeout=15000)
    results = page.locator("#search-results li a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert any("02_data_drift" in href for href in results), results
    assert page.title() == "Search - Production AI Systems"
    shot(page, "site-search")

    with urllib.request.urlopen(f"{base}/notebooks/05_guardrails.ipynb") as r:
        assert r.read() == (ROOT / "notebooks/05_guardrails.ipynb").read_bytes()
    assert rec.errors[start[1]:] == []
    assert external(rec.requests[start[0]:]) == []


# ---------------------------------------------------------------- JupyterLab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_settings(folder: Path) -> None:
    """User settings for the test's JupyterLab: every cell in the page, no autosave, no news."""
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@contextmanager
def jupyter_lab():
    """JupyterLab on a copy of the course (token disabled, bound to 127.0.0.1), stopped by its PID."""
    work = Path(tempfile.mkdtemp(prefix="prodai-lab-"))
    course = work / "course"
    for folder in ("notebooks", "exercises"):  # new modification times, as in a fresh clone
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
                        copy_function=shutil.copyfile)
    shutil.copyfile(ROOT / "jupytext.toml", course / "jupytext.toml")
    _lab_settings(work / "settings")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel's inline backend draws figures
    env.update(JUPYTERLAB_SETTINGS_DIR=str(work / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
           f"--ServerApp.root_dir={course}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (work / "lab.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    kernels: set[int] = set()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(work / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.2)

        def note_kernels():
            kernels.update(_children(proc.pid))

        yield base, course, note_kernels
    finally:
        kernels |= _children(proc.pid)
        proc.terminate()  # SIGTERM: the server shuts its kernels down, then exits
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        left = [pid for pid in kernels if Path(f"/proc/{pid}").exists()]
        for pid in left:
            os.kill(pid, 9)
        shutil.rmtree(work, ignore_errors=True)
        assert not left, f"processes left behind by JupyterLab: {left}"


NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _menu(page, menu: str, item: str) -> None:
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=menu).click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def _wait_opened(page, name: str, heading: str) -> None:
    page.wait_for_selector(f'.lm-TabBar-tab.lm-mod-current:has-text("{name}")', timeout=30000)
    page.wait_for_selector(f'{NOTEBOOK} .jp-RenderedMarkdown h1:has-text("{heading}")', timeout=30000)
    page.wait_for_selector(f'{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=30000)


def _run_all_from_clear(page) -> list[dict]:
    """Clear every output, run every cell through the menus, return each code cell's source and outputs."""
    _menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"""() => [...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell')].every(c =>
        !c.querySelector('.jp-OutputArea-output') && /\\[ \\]/.test(c.querySelector('.jp-InputPrompt').textContent))""")
    _menu(page, "Run", "Run All Cells")
    page.wait_for_function(f"""() => {{ const cells = [...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell')];
        return cells.length > 0
            && cells.every(c => /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent)); }}""",
                           timeout=60000)
    page.wait_for_selector(f'{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=30000)
    return page.evaluate(f"""() => [...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell')].map(c => ({{
        prompt: c.querySelector('.jp-InputPrompt').textContent.trim(),
        source: c.querySelector('.cm-content').innerText,
        text: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n'),
        stderr: c.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
        images: [...c.querySelectorAll('.jp-OutputArea-output img')].map(i => i.complete ? i.naturalWidth : 0),
    }}))""")


def test_jupyterlab_as_a_learner_uses_it(browser):
    with jupyter_lab() as (base, course, note_kernels):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        rec = Recorder(page)
        try:
            # The course index, through the website's "Open in JupyterLab" link, then one of its links.
            home = (built_site(False)[0] / "notebooks/00_index.html").read_text(encoding="utf-8")
            href = re.search(r'class="prodai-badge prodai-badge-lab" href="([^"]+)"', home).group(1)
            assert href.startswith("/lab/tree/")
            page.goto(base + href)
            _wait_opened(page, "00_index.ipynb", "Production AI Systems")
            shot(page, "lab-index")
            page.locator(f"{NOTEBOOK} .jp-RenderedMarkdown a", has_text="Deployment patterns").first.click()
            _wait_opened(page, "01_deployment_patterns.ipynb", "Deployment patterns")

            # One lesson, outputs cleared, every cell run through the UI.
            page.locator(".jp-DirListing-item", has_text=f"{LAB_LESSON.split('/')[1]}.ipynb").dblclick()
            _wait_opened(page, f"{LAB_LESSON.split('/')[1]}.ipynb", "Guardrails")
            cells = _run_all_from_clear(page)
            note_kernels()
            page.locator(f"{NOTEBOOK} .jp-OutputArea-output img").last.scroll_into_view_if_needed()
            shot(page, "lab-lesson-run-all")
            assert [c["prompt"] for c in cells] == [f"[{i}]:" for i in range(1, len(cells) + 1)]
            assert sum(c["stderr"] for c in cells) == 0, [c["text"] for c in cells if c["stderr"]]
            assert not any("Traceback" in c["text"] for c in cells)
            widths = [w for c in cells for w in c["images"]]
            assert len(widths) == committed_images(LAB_LESSON) and all(w > 0 for w in widths), widths

            # The untouched exercise stub: its checks say "not attempted", no traceback.
            page.locator(".lm-TabBar-tab", has_text="00_index.ipynb").click()
            page.locator(f"{NOTEBOOK} .jp-RenderedMarkdown a", has_text="Ex 1: concept drift").first.click()
            _wait_opened(page, "ex1_concept_drift.ipynb", "Concept drift")
            cells = _run_all_from_clear(page)
            note_kernels()
            shot(page, "lab-exercise-stub")
            assert sum(c["stderr"] for c in cells) == 0 and not any("Traceback" in c["text"] for c in cells)
            checks = [c["text"] for c in cells if "ex1.check(" in c["source"]]
            assert checks, "no check cell in the exercise"
            for text in checks:
                lines = [line for line in text.splitlines() if line.startswith("[")]
                assert lines and all("not attempted" in line for line in lines), text
                assert "Score: 0/" in text
        finally:
            context.close()
        print(f"\nJupyterLab: {len(rec.requests)} requests, {len(external(rec.requests))} to another host")
        assert rec.errors == []
        assert external(rec.requests) == []
