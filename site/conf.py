"""Sphinx configuration of the course website (``make site``, ``make site-instructor``).

The source folder is the course folder itself; only the notebooks are documents:
``notebooks/*.ipynb`` and ``exercises/*.ipynb`` for learners, plus ``solutions/*.ipynb`` when the
``instructor`` tag is set (``sphinx-build -t instructor``). Each page is the notebook's MyST
``.md`` source with the outputs committed in its executed ``.ipynb`` (nothing is executed here),
and everything a page loads (theme, search, MathJax) is served from the site itself, so it works
offline. The site tooling lives in ``prodai_lessons/tooling/build_site.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prodai_lessons.tooling import build_site as _site  # noqa: E402

INSTRUCTOR = tags.has("instructor")  # noqa: F821 (``tags`` is given to conf.py by Sphinx)
FOLDERS = _site.site_folders(instructor=INSTRUCTOR)

# ---------------------------------------------------------------- project

project = "Production AI Systems"
author = "the prodai course authors"
copyright = "the prodai course authors, MIT licence"
root_doc = "notebooks/00_index"
language = "en"

extensions = [
    "myst_nb",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: formulas render offline
]

# The source folder is the course folder: read the executed notebooks and nothing else.
include_patterns = [f"{folder}/*.ipynb" for folder in FOLDERS]
exclude_patterns = [".*", "_build", "build", "dist", "site", "prodai_lessons", "tests", "benchmarks",
                    "**/.ipynb_checkpoints"]

# ---------------------------------------------------------------- MyST-NB

nb_execution_mode = "off"  # the committed outputs are the outputs
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# ---------------------------------------------------------------- HTML

html_theme = "sphinx_book_theme"
html_title = "Production AI Systems"
html_short_title = "Production AI Systems"
html_copy_source = False  # the download link gives the executed .ipynb instead
html_show_sphinx = False
html_last_updated_fmt = None
html_static_path = ["_static"]
html_css_files = ["prodai.css"]
html_favicon = "_static/favicon.svg"
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
    "extra_footer": "",
    "navbar_persistent": [],  # one search box, in the sidebar
}
html_context = {"default_mode": "light"}

# Where "Open in JupyterLab" points, followed by the notebook's path: JupyterLab's tree on the host
# that serves the site. PRODAI_LAB_URL sets another, e.g. http://localhost:8888/lab/tree/ for learners
# who run `make lab` themselves; changing it rebuilds every page.
prodai_lab_url = os.environ.get("PRODAI_LAB_URL", "/lab/tree/")


def setup(app):
    _site.setup_sphinx(app, root=ROOT, instructor=INSTRUCTOR)
