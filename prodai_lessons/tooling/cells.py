"""Cell text rules shared by the grader and the exercise builder (a leaf module: it imports neither).

IPython syntax in a cell is made plain Python by :func:`strip_magics`: line magics and shell escapes
(``%matplotlib inline``, ``!pip install x``) become ``pass``, an assignment from one (``files = !ls``) assigns an
empty list (shell) or None (magic), and a leading ``%%`` cell magic line is dropped. As in IPython, only a ``%``
or ``!`` that *starts a logical line* is IPython syntax: a continuation line and a line inside a triple-quoted
string are Python and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["strip_magics"]

_MAGIC = re.compile(r"^(?P<indent>[ \t]*)[%!]")
# ``files = !ls``, ``a, b = %sx cmd`` (IPython's assign_from_system / assign_from_magic)
_MAGIC_ASSIGN = re.compile(r"^(?P<lhs>[ \t]*[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)[ \t]*=[ \t]*(?P<esc>[%!])(?P<cmd>.*)$")


class _LineScanner:
    """Python's lexical state at the end of each physical line, fed one line at a time.

    Tracks what makes the next physical line a *continuation* rather than the start of a logical line
    (the Python reference, "Lexical analysis", 2.1: explicit and implicit line joining): an open bracket,
    an open triple-quoted string (or a one-quote string whose newline is escaped), a backslash at the end
    of the line. Comments and strings are skipped so that brackets and quotes inside them do not count.
    String prefixes do not matter here: in every kind of string a backslash keeps the next character from
    closing it. Version independent (unlike :mod:`tokenize`, whose behaviour on IPython syntax changed with
    the C tokenizer in Python 3.12); the tests compare it with :mod:`tokenize` on valid Python.
    """

    def __init__(self) -> None:
        self.depth = 0  # open brackets
        self.quote: str | None = None  # the delimiter of the open string
        self.joined = False  # the last line ended with a backslash outside a string

    @property
    def at_logical_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.joined

    def feed(self, line: str) -> None:
        self.joined = False
        i, n = 0, len(line)
        while i < n:
            if self.quote is not None:  # jump to the next backslash or quote character
                m = _IN_STRING[self.quote[0]].search(line, i)
                if m is None:
                    break
                i = m.start()
                if line[i] == "\\":
                    i += 2
                elif line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                else:
                    i += 1
                continue
            m = _SIGNIFICANT.search(line, i)  # the next character that matters outside strings
            if m is None:
                break
            i, ch = m.start(), m.group()
            if ch == "#":
                break
            if ch in "'\"":
                self.quote = ch * 3 if line.startswith(ch * 3, i) else ch
                i += len(self.quote)
                continue
            if ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            elif ch == "\\" and i == n - 1:
                self.joined = True
            i += 1
        if self.quote is not None and len(self.quote) == 1 and not _escapes_newline(line):
            self.quote = None  # an unterminated one-quote string: a syntax error Python will report


_SIGNIFICANT = re.compile(r"[#'\"\\()\[\]{}]")
_IN_STRING = {"'": re.compile(r"[\\']"), '"': re.compile(r'[\\"]')}


def _escapes_newline(line: str) -> bool:
    """Whether ``line`` ends with an odd number of backslashes (the newline is escaped)."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _logical_line_starts(lines: Sequence[str]) -> list[bool]:
    """For each physical line, whether it starts a logical line (lines are taken as they are)."""
    scanner, out = _LineScanner(), []
    for line in lines:
        out.append(scanner.at_logical_start)
        scanner.feed(line)
    return out


def strip_magics(src: str) -> str:
    """``src`` with IPython-only lines made plain Python (see the module docstring).

    >>> print(strip_magics("%matplotlib inline\\nx = 1"))
    pass  # matplotlib inline
    x = 1

    A line is IPython syntax only where it starts a logical line, given the lines before it as they will
    run (a neutralised magic line no longer opens a bracket or a string). A magic line ending with a
    backslash continues on the next line, as in IPython; the continuation is commented out with it.
    """
    lines = re.split(r"\r\n?|\n", src)  # Python's line ends only (str.splitlines also splits at \f, \u2028...)
    first = next((k for k, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        lines = lines[:first] + lines[first + 1:]
    scanner, out = _LineScanner(), []
    in_magic = False  # the previous line was a magic line ending with a backslash
    for line in lines:
        if in_magic:
            new = re.sub(r"^([ \t]*)", r"\1# ", line, count=1)
            in_magic = _escapes_newline(line)
        elif scanner.at_logical_start and (m := _MAGIC.match(line)):
            new = m.group("indent") + "pass  # " + line[m.end():]
            in_magic = _escapes_newline(line)
        elif scanner.at_logical_start and (m := _MAGIC_ASSIGN.match(line)):
            value = "[]" if m.group("esc") == "!" else "None"
            new = f"{m.group('lhs')} = {value}  # {m.group('esc')}{m.group('cmd')}"
            in_magic = _escapes_newline(line)
        else:
            new = line
        out.append(new)
        scanner.feed(new)
    return "\n".join(out)
