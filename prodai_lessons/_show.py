"""Display the source code of an object, highlighted in a notebook and plain in a terminal."""

from __future__ import annotations

import html
import inspect
import io
import keyword
import re
import textwrap
import tokenize
from dataclasses import dataclass

__all__ = ["show", "Source"]

# Token classes -> CSS colours (a small, readable palette; no pygments dependency).
_STYLE = {
    "kw": "color:#0000cc;font-weight:bold",
    "str": "color:#a31515",
    "com": "color:#008000;font-style:italic",
    "num": "color:#098658",
    "def": "color:#795e26;font-weight:bold",
    "deco": "color:#aa22ff",
}


def _highlight(source: str) -> str:
    """Return ``source`` as HTML with keywords, strings, comments, numbers and names after def/class coloured."""
    out: list[str] = []
    lines = source.splitlines(keepends=True)
    # Absolute offsets of each line start, to slice the gaps between tokens verbatim.
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    pos = 0
    prev_name = ""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return html.escape(source)
    # Python 3.12+ splits an f-string into FSTRING_START ... FSTRING_END tokens; before, it was one
    # STRING token. Treat the whole f-string as one string on every version, so the HTML is the same.
    fstring_start, fstring_end = getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -2)
    depth, fstring_begin = 0, 0
    for tok in tokens:
        if tok.type == tokenize.ENDMARKER:
            break
        (sr, sc), (er, ec) = tok.start, tok.end
        begin = starts[sr - 1] + sc
        end = starts[er - 1] + ec
        if tok.type == fstring_start:
            depth += 1
            if depth == 1:
                fstring_begin = begin
            continue
        if depth:
            if tok.type == fstring_end:
                depth -= 1
                if depth == 0:
                    begin, tok = fstring_begin, tok._replace(type=tokenize.STRING)
            if depth:
                continue
        if begin > pos:
            out.append(html.escape(source[pos:begin]))
        text = html.escape(source[begin:end])
        cls = None
        if tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
            cls = "kw"
        elif tok.type == tokenize.NAME and prev_name in {"def", "class"}:
            cls = "def"
        elif tok.type == tokenize.STRING:
            cls = "str"
        elif tok.type == tokenize.COMMENT:
            cls = "com"
        elif tok.type == tokenize.NUMBER:
            cls = "num"
        elif tok.type == tokenize.OP and tok.string == "@":
            cls = "deco"
        out.append(f'<span style="{_STYLE[cls]}">{text}</span>' if cls else text)
        if tok.type == tokenize.NAME:
            prev_name = tok.string
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            prev_name = ""
        pos = max(pos, end)
    out.append(html.escape(source[pos:]))
    return "".join(out)


@dataclass(frozen=True)
class Source:
    """The source of a Python object, with where it lives.

    Renders as highlighted HTML in Jupyter (``_repr_html_``) and as plain text elsewhere
    (``__str__``/``__repr__``), so the same call works in a notebook and a terminal.
    """

    qualname: str
    filename: str
    first_line: int
    code: str

    def __str__(self) -> str:
        return f"# {self.qualname}  ({self.filename})\n{self.code}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        header = html.escape(f"{self.qualname}  ({self.filename})")
        return (
            f'<div style="font-size:0.8em;color:#666">{header}</div>'
            '<pre style="line-height:1.25;padding:0.5em;background:#f7f7f7;border-radius:4px">'
            f"{_highlight(self.code)}</pre>"
        )


def show(obj: object) -> Source:
    """Return the source of a function, class, method or module, for display.

    In a notebook, make it the last expression of a cell (``show(ks_test)``): Jupyter renders
    the highlighted HTML. In a terminal, ``print(show(ks_test))`` gives plain text. The file
    name is shown relative to the package so outputs are the same on every machine; the line
    number is kept in ``first_line`` but not displayed, so an edit elsewhere in the module does not
    change a notebook's output (an edit of the function itself does, as it should).

    Raises ``TypeError`` naming ``obj`` when it has no retrievable Python source (a builtin, a
    number, an object defined in an interactive session).
    """
    target = obj.fget if isinstance(obj, property) else obj
    try:
        lines, first = inspect.getsourcelines(target)  # type: ignore[arg-type]
        filename = inspect.getsourcefile(target) or "<unknown>"  # type: ignore[arg-type]
    except (TypeError, OSError) as exc:
        raise TypeError(
            f"obj must be a function, class, method or module defined in a Python file; "
            f"got {type(obj).__name__} {obj!r:.60}"
        ) from exc
    filename = re.sub(r"^.*?(prodai_lessons[/\\])", r"\1", filename.replace("\\", "/"))
    qualname = getattr(target, "__qualname__", getattr(target, "__name__", type(target).__name__))
    module = getattr(target, "__module__", None)
    if module and not inspect.ismodule(target):
        qualname = f"{module}.{qualname}"
    return Source(qualname=qualname, filename=filename, first_line=max(first, 1),
                  code=textwrap.dedent("".join(lines)).rstrip("\n"))
