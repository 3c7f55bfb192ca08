"""What a learner reads: the code each lesson shows with ``show()``, and the words the course uses.

The lessons display *teaching cores*: short functions that state one idea each. These tests hold them to
that: every unit shown is at most 45 lines, at most a quarter of its lines check input, and the lessons
01-08 show at most 600 lines in all. The objects shown are found the way a learner finds them: by
running the notebook's import statements and evaluating the argument of each ``show(...)`` call.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest

import prodai_lessons
from prodai_lessons import show

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p for p in (ROOT / "notebooks").glob("0[1-8]_*.md"))
MAX_UNIT_LINES = 45
MAX_TOTAL_LINES = 600
MAX_CHECK_SHARE = 0.25

#: A line that checks input rather than stating the idea: a raise, an isinstance test, an assert, or a
#: call to one of the shared validators (``check_*``, ``as_*_array``).
_CHECK_LINE = re.compile(r"\braise\b|\bisinstance\(|^\s*assert\b|\bcheck_[a-z_]+\(|\bas_[a-z0-9_]*array\(")


def _code_cells(md: Path) -> list[str]:
    text = md.read_text(encoding="utf-8")
    return re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, flags=re.S | re.M)


def _shown(md: Path) -> list[tuple[str, object]]:
    """``(expression, object)`` for every ``show(expression)`` call in the lesson's code cells."""
    namespace: dict = {}
    calls: list[str] = []
    for cell in _code_cells(md):
        source = "\n".join(line for line in cell.splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(compile(ast.Module([node], []), str(md), "exec"), namespace)  # noqa: S102
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "show"
                    and len(node.args) == 1):
                calls.append(ast.unparse(node.args[0]))
    return [(expr, eval(expr, namespace)) for expr in calls]  # noqa: S307


def _lines(obj: object) -> list[str]:
    return [line for line in show(obj).code.splitlines() if line.strip()]


SHOWN = {md.stem: _shown(md) for md in LESSONS}


@pytest.mark.parametrize("lesson", sorted(SHOWN))
def test_every_lesson_shows_code(lesson):
    assert SHOWN[lesson], f"{lesson} shows no code with show()"


@pytest.mark.parametrize("lesson,expr", [(k, e) for k, v in sorted(SHOWN.items()) for e, _ in v])
def test_each_shown_unit_is_a_short_core(lesson, expr):
    obj = dict(SHOWN[lesson])[expr]
    lines = _lines(obj)
    checks = [line for line in lines if _CHECK_LINE.search(line)]
    assert len(lines) <= MAX_UNIT_LINES, f"{lesson}: show({expr}) displays {len(lines)} lines"
    assert len(checks) <= MAX_CHECK_SHARE * len(lines), (
        f"{lesson}: show({expr}) has {len(checks)} input-check lines of {len(lines)}: {checks}")


def test_lessons_show_at_most_600_lines_in_all():
    total = sum(len(_lines(obj)) for shown in SHOWN.values() for _, obj in shown)
    assert total <= MAX_TOTAL_LINES, f"the lessons show {total} lines of code"


def test_the_check_line_rule_catches_validation():
    # the rule must see the usual validation idioms, or the share above measures nothing
    for line in ("raise ValueError('x')", "if not isinstance(x, int):", "x = as_1d_array('x', x)",
                 "n = check_int('n', n, minimum=1)", "assert n > 0"):
        assert _CHECK_LINE.search(line), line
    for line in ("return np.max(np.abs(cdf_a - cdf_b))", "d = (a.mean() - b.mean()) / se"):
        assert not _CHECK_LINE.search(line), line


# --------------------------------------------------------------------------------------------- docstrings

def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(prodai_lessons.__path__, "prodai_lessons."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def _public_api() -> list[tuple[str, str]]:
    out = []
    for modname in _public_modules():
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if callable(obj) and getattr(obj, "__module__", None) == modname:
                out.append((modname, name))
    return out


@pytest.mark.parametrize("modname,name", _public_api())
def test_every_public_function_has_a_summary_and_an_example(modname, name):
    obj = getattr(importlib.import_module(modname), name)
    doc = obj.__doc__ or ""
    summary = doc.strip().split("\n", 1)[0]
    assert summary, f"{modname}.{name} has no one-line summary"
    assert ">>>" in doc, f"{modname}.{name} has no runnable example in its docstring"


# ---------------------------------------------------------------------------------------- product language

#: Phrases that speak of how the course was written rather than of what it teaches.
_HISTORY = re.compile(r"\bthe issue\b|\bissue #?\d+|\boriginal lesson\b|\bthis session\b|\bthe seed lesson\b",
                      re.I)


def _learner_facing_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder, pattern in (("notebooks", "*.md"), ("exercises", "*.md"), ("solutions", "*.md"),
                            ("prodai_lessons", "**/*.py"), ("tests", "*.py"), ("benchmarks", "*.py")):
        files += sorted((ROOT / folder).glob(pattern))
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


@pytest.mark.parametrize("path", _learner_facing_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_course_speaks_of_itself_only(path):
    hits = [f"line {n}: {line.strip()[:100]}" for n, line in
            enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if _HISTORY.search(line)]
    assert not hits, f"{path.relative_to(ROOT)} speaks of how the course was written:\n" + "\n".join(hits)


# ---------------------------------------------------------------------------------------------- sizes

MAX_MODULE_LINES = 900
MAX_CLASS_LINES = 250


def _lesson_modules() -> list[str]:
    """Every prodai_lessons module a lesson imports (directly, or the package module behind a name)."""
    names: set[str] = set()
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        for cell in _code_cells(md):
            source = "\n".join(line for line in cell.splitlines() if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("prodai_lessons"):
                    names.add(node.module)
                    for alias in node.names:
                        candidate = f"{node.module}.{alias.name}"
                        if importlib.util.find_spec(candidate.split(".")[0]) and _is_module(candidate):
                            names.add(candidate)
                elif isinstance(node, ast.Import):
                    names |= {a.name for a in node.names if a.name.startswith("prodai_lessons")}
    return sorted(names)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _file_of(modname: str) -> Path:
    spec = importlib.util.find_spec(modname)
    return Path(spec.origin)


@pytest.mark.parametrize("modname", _lesson_modules())
def test_no_module_a_lesson_imports_is_over_900_lines(modname):
    n = len(_file_of(modname).read_text(encoding="utf-8").splitlines())
    assert n <= MAX_MODULE_LINES, f"{modname} has {n} lines"


@pytest.mark.parametrize("path", sorted((ROOT / "prodai_lessons").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_class_is_over_250_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    big = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
           if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES]
    assert not big, f"{path.relative_to(ROOT)}: classes over {MAX_CLASS_LINES} lines: {big}"


def test_the_size_rules_see_the_lessons_modules():
    # the lessons import their section modules; if the import scan broke, the size test would pass on nothing
    assert {"prodai_lessons.drift", "prodai_lessons.monitoring", "prodai_lessons.abtest",
            "prodai_lessons.cost"} <= set(_lesson_modules())
