"""Authoring hygiene: opening and saving a notebook that did not change changes no file.

JupyterLab saves a paired notebook through jupytext's contents manager, which writes both the
``.ipynb`` and the ``.md``. If the ``.md`` header carried jupytext's own version, every save with
another jupytext release would rewrite it; ``jupytext.toml`` and each notebook's metadata filter
that field out. Each test works on a copy of the course's notebooks in a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: jupytext depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "exercises", "solutions")
PAIRS = sorted(p.relative_to(ROOT).as_posix() for d in FOLDERS for p in (ROOT / d).glob("*.ipynb")
               if p.with_suffix(".md").exists())
VERSION_FILTER = "-jupytext.text_representation.jupytext_version"


def copy_course(tmp_path: Path, pairs: list[str]) -> dict[str, bytes]:
    """Copy ``pairs`` (both files) and jupytext.toml to ``tmp_path``; return every copied file's bytes."""
    shutil.copy2(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    before = {}
    for pair in pairs:
        for suffix in (".md", ".ipynb"):
            rel = Path(pair).with_suffix(suffix).as_posix()
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, tmp_path / rel)
            before[rel] = (ROOT / rel).read_bytes()
    return before


def changed(tmp_path: Path, before: dict[str, bytes]) -> list[str]:
    return [rel for rel, data in before.items() if (tmp_path / rel).read_bytes() != data]


def test_jupytext_config_pairs_ipynb_with_myst_and_keeps_its_version_out():
    config = tomllib.loads((ROOT / "jupytext.toml").read_text(encoding="utf-8"))
    assert config["formats"] == "ipynb,md:myst"
    assert config["notebook_metadata_filter"] == VERSION_FILTER


@pytest.mark.parametrize("pair", PAIRS)
def test_opening_and_saving_in_jupyterlab_changes_no_file(tmp_path, pair):
    """What JupyterLab does on open and Ctrl-S, through the contents manager it uses (jupytext's)."""
    jupytext = pytest.importorskip("jupytext")
    before = copy_course(tmp_path, [pair])
    md, ipynb = tmp_path / Path(pair).with_suffix(".md"), tmp_path / pair
    # as after `make notebooks`, or a pull that changed outputs only: the .ipynb is the newer file
    os.utime(ipynb, (md.stat().st_mtime + 10, md.stat().st_mtime + 10))

    async def open_and_save():
        cm = jupytext.AsyncTextFileContentsManager(root_dir=str(tmp_path))
        model = await cm.get(pair)
        await cm.save(model, pair)

    resync = "put the filter in every notebook's metadata: see README, Authoring"
    try:
        asyncio.run(open_and_save())
    except Exception as exc:  # JupyterLab shows this as "File Load Error"
        pytest.fail(f"JupyterLab cannot open {pair} once its .ipynb is the newer file ({resync}):\n{exc}")
    diffs = changed(tmp_path, before)
    assert not diffs, f"saving the unchanged {pair} in JupyterLab rewrote {diffs} ({resync})"


def test_jupytext_sync_changes_no_file(tmp_path):
    before = copy_course(tmp_path, PAIRS)
    texts = [Path(p).with_suffix(".md").as_posix() for p in PAIRS]
    r = subprocess.run([sys.executable, "-m", "jupytext", "--sync", *texts], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert changed(tmp_path, before) == []
