"""The course skeleton: dependencies, notebook pairs, the prodai command, show(), the build helpers."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

import prodai_lessons
from prodai_lessons import show
from prodai_lessons.tooling import build_notebooks as _build
from prodai_lessons.tooling.cli import LESSONS, main

try:
    import tomllib
except ImportError:  # Python 3.10: jupytext depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIRS = ("notebooks", "exercises", "solutions")


# ---------------------------------------------------------------- dependencies


def _normalise(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def pyproject_dependencies(pyproject: dict) -> set[str]:
    """Runtime + course + test requirements (``dev`` only refers to the other two extras)."""
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    return {_normalise(r) for r in [*project["dependencies"], *extras["course"], *extras["test"]]}


def environment_dependencies(text: str) -> tuple[set[str], list[str], str | None]:
    """(conda packages other than python and pip, pip entries, the python spec) of an environment.yml."""
    conda, pip, python, section, in_pip = set(), [], None, None, False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line.startswith(" "):
            section, in_pip = line.rstrip(":"), False
            continue
        if section != "dependencies":
            continue
        item = line.strip()
        if item == "- pip:":
            in_pip = True
        elif in_pip and len(line) - len(line.lstrip()) > 2:
            pip.append(item[1:].strip() if item.startswith("- ") else item)
        else:
            in_pip = False
            name = _normalise(item[1:] if item.startswith("-") else item)
            if name.startswith("python"):
                python = name[len("python"):]
            elif name != "pip":
                conda.add(name)
    return conda, pip, python


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_has_the_same_dependencies_as_pyproject(pyproject):
    conda, pip, python = environment_dependencies((ROOT / "environment.yml").read_text(encoding="utf-8"))
    expected = pyproject_dependencies(pyproject)
    assert conda == expected, (
        f"environment.yml and pyproject.toml differ: only in environment.yml {sorted(conda - expected)}, "
        f"only in pyproject.toml {sorted(expected - conda)}")
    assert pip == ["-e .[dev]"]
    assert python == _normalise(pyproject["project"]["requires-python"])


def test_dependency_comparison_notices_a_missing_package(pyproject):
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    mutated = "\n".join(line for line in text.splitlines() if "scipy" not in line)
    conda, _, _ = environment_dependencies(mutated)
    assert pyproject_dependencies(pyproject) - conda == {"scipy>=1.11"}
    bumped, _, _ = environment_dependencies(text.replace("numpy>=1.24", "numpy>=2.0"))
    assert bumped != pyproject_dependencies(pyproject)


def test_runtime_dependencies_are_numpy_and_matplotlib_only(pyproject):
    names = {re.split(r"[<>=!~ ]", r)[0] for r in pyproject["project"]["dependencies"]}
    assert names == {"numpy", "matplotlib"}
    assert pyproject["project"]["optional-dependencies"]["dev"] == ["prodai-lessons[course,test,site]"]


ORACLES = {"scipy", "statsmodels", "sklearn", "pandas"}


@pytest.mark.parametrize("module", sorted(p.relative_to(ROOT).as_posix()
                                          for p in (ROOT / "prodai_lessons").rglob("*.py")))
def test_package_does_not_import_the_test_oracles(module):
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & ORACLES, f"{module} imports {sorted(imported & ORACLES)}: oracles are for tests only"


# ---------------------------------------------------------------- notebook pairs


def notebook_sources() -> list[Path]:
    return _build.find_sources(ROOT / d for d in NOTEBOOK_DIRS if (ROOT / d).exists())


def pair_differences(md: Path, ipynb: Path) -> list[str]:
    """Where the cells of a .md source and its .ipynb differ (empty when in sync)."""
    if not ipynb.exists():
        return [f"{ipynb.name} is missing"]
    text = jupytext.read(md)
    nb = nbformat.read(ipynb, as_version=4)
    problems = []
    if len(text.cells) != len(nb.cells):
        problems.append(f"{len(text.cells)} cells in {md.name}, {len(nb.cells)} in {ipynb.name}")
    for i, (a, b) in enumerate(zip(text.cells, nb.cells)):
        if a.cell_type != b.cell_type or a.source != b.source:
            first = (a.source.splitlines() or [""])[0][:60]
            problems.append(f"cell {i} ({a.cell_type}, starting {first!r}) differs")
    return problems


def test_there_are_notebooks():
    stems = {p.stem for p in notebook_sources()}
    assert {"00_index", "01_deployment_patterns"} <= stems


@pytest.mark.parametrize("md", notebook_sources(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pair_is_in_sync_and_executed(md):
    ipynb = md.with_suffix(".ipynb")
    problems = pair_differences(md, ipynb)
    assert not problems, f"{md.relative_to(ROOT)} and its .ipynb are out of sync ({'; '.join(problems)}); " \
                         f"run `make notebooks`"
    header = md.read_text(encoding="utf-8").split("\n---", 1)[0]
    assert re.search(r"kernelspec:\s*\n(\s+.*\n)*?\s+name: python3\b", header + "\n"), \
        f"{md.relative_to(ROOT)}: the jupytext header must carry the python3 kernelspec"
    nb = nbformat.read(ipynb, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{ipynb.name} is committed unexecuted"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{ipynb.name} was not executed top to bottom in one run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{ipynb.name} has error outputs committed"


@pytest.mark.parametrize("ipynb", sorted(p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_ipynb_has_a_markdown_source(ipynb):
    assert ipynb.with_suffix(".md").exists(), f"{ipynb.relative_to(ROOT)} has no .md source"


def test_pair_check_detects_an_edited_cell(tmp_path):
    src = ROOT / "notebooks" / "01_deployment_patterns.md"
    md, ipynb = tmp_path / src.name, tmp_path / (src.stem + ".ipynb")
    md.write_text(src.read_text(encoding="utf-8").replace("rates = [0.01", "rates = [0.02"), encoding="utf-8")
    ipynb.write_bytes(src.with_suffix(".ipynb").read_bytes())
    problems = pair_differences(md, ipynb)
    assert len(problems) == 1 and "differs" in problems[0]
    (tmp_path / "lonely.md").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    assert pair_differences(tmp_path / "lonely.md", tmp_path / "lonely.ipynb") == ["lonely.ipynb is missing"]


def test_index_links_every_lesson():
    index = (ROOT / "notebooks" / "00_index.md").read_text(encoding="utf-8")
    for stem, _, _ in LESSONS[1:]:
        assert f"({stem}.ipynb)" in index, f"00_index does not link {stem}"


def test_find_sources_skips_plain_markdown_and_names_missing_paths(tmp_path):
    (tmp_path / "README.md").write_text("# not a notebook\n", encoding="utf-8")
    assert _build.find_sources([tmp_path]) == []
    with pytest.raises(FileNotFoundError, match="nowhere"):
        _build.find_sources([tmp_path / "nowhere"])


# ---------------------------------------------------------------- the prodai command


def run_prodai(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prodai_lessons.tooling.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_version_and_help():
    r = run_prodai("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"prodai {prodai_lessons.__version__}"
    r = run_prodai("--help")
    assert r.returncode == 0 and "usage: prodai" in r.stdout and "lessons" in r.stdout


@pytest.mark.parametrize("args", [["no-such-command"], []], ids=["unknown", "none"])
def test_unknown_or_missing_command_exits_2_with_usage(args):
    r = run_prodai(*args)
    assert r.returncode == 2
    assert "usage: prodai" in r.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "prodai"
    assert script.exists(), "the prodai console script is not installed next to this Python"
    r = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == f"prodai {prodai_lessons.__version__}"


def test_lessons_command_lists_every_notebook(capsys):
    assert main(["lessons"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == [stem for stem, _, _ in LESSONS]


# ---------------------------------------------------------------- show()


def test_show_returns_source_as_text_and_highlighted_html():
    from prodai_lessons.deployment import fifo_queue

    src = show(fifo_queue)
    text = str(src)
    assert text.startswith("# prodai_lessons.deployment.fifo_queue  (prodai_lessons/deployment.py)\n")
    assert src.first_line > 1
    assert "def fifo_queue(" in text and "heapq.heapreplace" in text
    html = src._repr_html_()
    assert '<span style="color:#0000cc;font-weight:bold">def</span>' in html
    assert "&lt;" not in text and "-&gt;" in html  # escaped in HTML only
    assert str(show(prodai_lessons.deployment.DeploymentConfig)).count("class DeploymentConfig") == 1


@pytest.mark.parametrize("obj", [len, 3, "text"])
def test_show_rejects_objects_without_source(obj):
    with pytest.raises(TypeError, match="obj must be a function, class, method or module"):
        show(obj)


# ---------------------------------------------------------------- make


def test_make_fails_loudly_when_a_step_fails():
    """A failing step makes the target fail (non-zero), never half-succeed."""
    stamp = ROOT / ".venv" / ".prodai-installed"
    if not stamp.exists():
        pytest.skip("needs the .venv made by `make install`")
    r = subprocess.run(["make", "-o", str(stamp.relative_to(ROOT)), "notebooks", "NOTEBOOK_DIRS=no-such-dir"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "no-such-dir does not exist" in r.stderr


def test_show_highlights_an_f_string_as_one_string_on_every_python():
    """Python 3.12 tokenizes f-strings into pieces; the HTML must not depend on the version."""
    from prodai_lessons._show import _highlight

    html = _highlight('x = f"a {b!r} {f\'{c}\'} d" + "s"  # note\n')
    assert html.count('<span style="color:#a31515">') == 2  # the f-string and "s", nothing inside
    assert '<span style="color:#a31515">f&quot;a {b!r} {f&#x27;{c}&#x27;} d&quot;</span>' in html
