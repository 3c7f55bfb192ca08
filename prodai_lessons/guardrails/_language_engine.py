"""The machinery behind ``guardrails.language``: prose extraction, Unicode scripts, n-gram scores with numpy.

``language.char_ngrams`` and ``language.log_likelihoods`` state the model in a few lines; this module
computes the same numbers for long texts without a Python loop per n-gram, finds the prose in a text
(code blocks, inline code, identifiers, URLs and quoted material are masked with spaces, so every
offset still points into the original), and counts letters per Unicode script. Every step is one
linear pass (regexes that cannot backtrack over a whole text, or numpy). The tests check the numpy
path against the plain one. Private: the lesson module imports from here, never the other way round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ._fold import HOMOGLYPHS, INVISIBLE_RANGES
from ._text import _codepoints, _from_codepoints

# ------------------------------------------------------------------------------------------ scripts
#: (first, last, script) code point ranges of the letters each script uses; anything else is no letter.
SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x005A, "Latin"), (0x0061, 0x007A, "Latin"), (0x00C0, 0x00D6, "Latin"), (0x00D8, 0x00F6, "Latin"),
    (0x00F8, 0x024F, "Latin"), (0x1E00, 0x1EFF, "Latin"),
    (0x0370, 0x03FF, "Greek"), (0x1F00, 0x1FFF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"), (0x0750, 0x077F, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x1100, 0x11FF, "Hangul"), (0x3130, 0x318F, "Hangul"), (0xAC00, 0xD7AF, "Hangul"),
    (0x3040, 0x309F, "Hiragana"), (0x30A0, 0x30FF, "Katakana"),
    (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"), (0xF900, 0xFAFF, "Han"),
)
SCRIPTS: tuple[str, ...] = tuple(dict.fromkeys(s for _, _, s in SCRIPT_RANGES))
_SORTED = sorted(SCRIPT_RANGES)  # searchsorted needs the ranges in code point order
_STARTS = np.array([a for a, _, _ in _SORTED], dtype=np.int64)
_ENDS = np.array([b for _, b, _ in _SORTED], dtype=np.int64)
_SCRIPT_ID = np.array([SCRIPTS.index(s) for _, _, s in _SORTED], dtype=np.int64)
_LATIN = SCRIPTS.index("Latin")


def script_ids(cps: np.ndarray) -> np.ndarray:
    """Index into ``SCRIPTS`` of every code point, or -1 for characters that are no letter of a known script."""
    cps = cps.astype(np.int64, copy=False)
    k = np.searchsorted(_STARTS, cps, side="right") - 1
    ok = (k >= 0) & (cps <= _ENDS[np.maximum(k, 0)])
    return np.where(ok, _SCRIPT_ID[np.maximum(k, 0)], -1)


def script_counts(cps: np.ndarray) -> dict[str, int]:
    """Letters per script, for the scripts that occur."""
    ids = script_ids(cps)
    counts = np.bincount(ids[ids >= 0], minlength=len(SCRIPTS))
    return {SCRIPTS[i]: int(c) for i, c in enumerate(counts) if c}


# ------------------------------------------------------------------------------------------- prose
_INVISIBLE_STARTS = np.array([a for a, _ in INVISIBLE_RANGES], dtype=np.int64)
_INVISIBLE_ENDS = np.array([b for _, b in INVISIBLE_RANGES], dtype=np.int64)
_TAB_NL = np.array([9, 10, 11, 12, 13], dtype=np.int64)

#: Look-alike letters of other scripts folded to Latin when a text is mostly Latin (one character each,
#: so offsets stay valid); fullwidth ASCII forms become ASCII.
_TO_LATIN = {ord(k): v for k, v in HOMOGLYPHS.items() if len(v) == 1 and "a" <= v <= "z"}
_TO_LATIN.update({ord(k.upper()): v.upper() for k, v in HOMOGLYPHS.items()
                  if len(v) == 1 and "a" <= v <= "z" and len(k.upper()) == 1 and k.upper() != k})
_FULLWIDTH = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}

_FENCE_RX = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE_RX = re.compile(r"`[^`\n]*`")
_URL_RX = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_CODE_LINE_RX = re.compile(
    r"^(?:[ \t]{4,}|\t)[^\n]*$"  # an indented line
    r"|^[ \t]*(?:def|class|import|from|return|for|while|if|elif|else|try|except|with|print|const|let|var|"
    r"function|public|private|static|void|int|SELECT|INSERT|UPDATE|DELETE|CREATE)\b[^\n]*[:;{}()=,\]][ \t]*$",
    re.M)
_SQL_WORDS = ("SELECT", "INSERT INTO", "UPDATE", "DELETE FROM", "CREATE TABLE")
_SQL_RX = re.compile(r"\b(?:SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE TABLE)\b[^\n]*")
# A whitespace-delimited token that reads as code: a symbol prose does not use, a digit, a dot or a
# parenthesis between word characters (obj.attr, f(x)), or camelCase. Tried at token starts only.
_CODE_TOKEN_RX = re.compile(r"(?<!\S)\S*?(?:[_=<>{}\[\]|\\@#$%^&*+~/0-9]|\w[.(]\w|[a-z][A-Z])\S*")
_ALL_CAPS_RX = re.compile(r"\b[A-Z]{2,}\b")
# Quoted material: 'x' (the quote neither after nor before a letter, so "don't" and "l'eau" stay),
# "x", curly and angle quotes; one line, at most 300 characters.
_QUOTE_RX = re.compile(r"(?<!\w)'[^'\n]{1,300}?'(?!\w)|\"[^\"\n]{1,300}?\"|\u201c[^\u201d\n]{1,300}?\u201d"
                       r"|\u2018[^\u2019\n]{1,300}?\u2019(?!\w)|\u00ab[^\u00bb\n]{1,300}?\u00bb"
                       r"|\u201e[^\u201c\u201d\n]{1,300}?[\u201c\u201d]")
_SEGMENT_RX = re.compile(r"[^.!?;\n\u3002\uff01\uff1f]+[.!?;\u3002\uff01\uff1f]*")


def _blank(s: str, rx: re.Pattern) -> str:
    """``s`` with every match of ``rx`` replaced by as many spaces (offsets are kept)."""
    return rx.sub(lambda m: " " * (m.end() - m.start()), s)


@dataclass(frozen=True)
class Prose:
    """A text reduced to the prose a language can be read from.

    ``text``: the cleaned text (invisible characters dropped; code, URLs and, when enough prose is
    left, quoted material replaced by spaces; look-alike letters folded to Latin in mostly Latin text;
    lower case); ``keep[i]``: the index in the original of ``text[i]``; ``scripts``: letters per script.
    """

    text: str
    cps: np.ndarray
    keep: np.ndarray | None
    scripts: dict[str, int]

    def to_original(self, start: int, end: int, original_length: int) -> tuple[int, int]:
        if self.keep is None:
            return start, end
        if start >= end:
            s = int(self.keep[start]) if start < len(self.keep) else original_length
            return s, s
        return int(self.keep[start]), int(self.keep[end - 1]) + 1


def prose(text: str, *, min_letters: int) -> Prose:
    """Extract the prose of ``text`` (see :class:`Prose`); linear in the length of the text."""
    keep = None
    if not text.isascii():
        cps = _codepoints(text).astype(np.int64)
        k = np.searchsorted(_INVISIBLE_STARTS, cps, side="right") - 1
        invisible = (k >= 0) & (cps <= _INVISIBLE_ENDS[np.maximum(k, 0)]) & ~np.isin(cps, _TAB_NL)
        if invisible.any():
            keep = np.flatnonzero(~invisible)
            text = _from_codepoints(cps[keep])
    s = text
    if not s.isascii() and _has_fullwidth(s):
        s = s.translate(_FULLWIDTH)
    if "`" in s:
        s = _blank(_blank(s, _FENCE_RX), _INLINE_CODE_RX)
    if "://" in s or "www." in s.lower():
        s = _blank(s, _URL_RX)
    if "\n" in s or _CODE_LINE_RX.match(s):
        s = _blank(s, _CODE_LINE_RX)
    if any(w in s for w in _SQL_WORDS):
        s = _blank(s, _SQL_RX)
    s = _blank(s, _CODE_TOKEN_RX)
    if not s.islower():
        s = _blank(s, _ALL_CAPS_RX)
    unquoted = _blank(s, _QUOTE_RX)
    cps = _codepoints(unquoted)
    counts = script_counts(cps)
    if sum(counts.values()) >= min_letters:
        s = unquoted  # enough prose outside the quotes: read the language from the frame, not the quote
    else:
        cps = _codepoints(s)
        counts = script_counts(cps)
    mixed = counts.get("Cyrillic", 0) + counts.get("Greek", 0)
    if mixed and counts.get("Latin", 0) >= mixed:  # Latin text with look-alike letters in it
        s = s.translate(_TO_LATIN)
        counts = script_counts(_codepoints(s))
    low = s.replace("\u0130", "i").lower()  # U+0130 is the one letter whose lower case is two characters
    return Prose(low, _codepoints(low).astype(np.int64), keep, counts)


def _has_fullwidth(s: str) -> bool:
    cps = _codepoints(s)
    return bool(((cps >= 0xFF01) & (cps <= 0xFF5E)).any())


def segments(p: Prose) -> list[tuple[int, int]]:
    """Spans of ``p.text`` between sentence ends and line breaks (whitespace trimmed)."""
    out = []
    for m in _SEGMENT_RX.finditer(p.text):
        a, b = m.span()
        while a < b and p.text[a].isspace():
            a += 1
        while b > a and p.text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


# ---------------------------------------------------------------------------------- n-gram scoring
_LATIN_WORD_RX = re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                                           for a, b, k in SCRIPT_RANGES if k == "Latin") + "]+")
_LATIN_END = max(b for _, b, k in SCRIPT_RANGES if k == "Latin") + 1
#: Below this length the n-grams are looked up one by one in the profiles' dicts (numpy's per-call
#: overhead is larger than the work); from it on, with numpy.
_NUMPY_MIN = 2048


def latin_grams(text: str, start: int = 0, end: int | None = None) -> list[str]:
    """``language.char_ngrams`` of the Latin-script words of ``text[start:end]`` (other letters separate words)."""
    grams: list[str] = []
    for word in _LATIN_WORD_RX.findall(text, start, len(text) if end is None else end):
        padded = f" {word} "
        grams += list(word)
        grams += [padded[i:i + 2] for i in range(len(padded) - 1)]
        grams += [padded[i:i + 3] for i in range(len(padded) - 2)]
    return grams


@dataclass(frozen=True)
class ScoreTable:
    """The profiles in two forms: ``gram_row`` and ``rows`` (an n-gram's log-probabilities in every
    language, one dict lookup away; for short texts); and for numpy, a small alphabet (0 = space, 1..A the letters of the training text,
    A + 1 any other Latin letter), per n a dense map from the n-gram's number in base A + 2 to its row,
    and per n a matrix of log-probabilities (rows: n-grams, the last one unseen; columns: languages)."""

    languages: tuple[str, ...]
    unseen: np.ndarray
    char_index: np.ndarray
    base: int
    row_of: tuple[np.ndarray, np.ndarray, np.ndarray]
    matrix: tuple[np.ndarray, np.ndarray, np.ndarray]
    columns: tuple[tuple[np.ndarray, ...], ...]  # columns[n][j]: matrix[n][:, j], contiguous
    gram_row: dict[str, int]  # every n-gram of the profiles -> its row in ``rows``
    rows: np.ndarray  # log-probabilities per n-gram (rows, the last one unseen) and language (columns)

    def segment_scores(self, p: Prose, segs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(log-likelihood per segment and language, n-grams per segment) of the Latin words of ``p``."""
        n_langs = len(self.languages)
        scores = np.zeros((len(segs), n_langs))
        counts = np.zeros(len(segs), dtype=np.int64)
        if len(p.text) < _NUMPY_MIN:  # one dict lookup per n-gram gives its row of log-probabilities
            get, unseen = self.gram_row.get, len(self.rows) - 1
            for k, (a, b) in enumerate(segs):
                grams = latin_grams(p.text, a, b)
                counts[k] = len(grams)
                if grams:
                    scores[k] = self.rows[[get(g, unseen) for g in grams]].sum(axis=0)
            return scores, counts
        cps = p.cps
        t = self.char_index[np.where(cps < _LATIN_END, cps, 0)]
        t = np.concatenate(([0], t, [0]))
        letter = t != 0
        n = len(cps)
        idx = np.arange(n + 1, dtype=np.int64)  # window i starts at t[i], which is text position i - 1
        sel = (letter[1:-1], letter[:-1] | letter[1:], letter[1:-1])  # trigram window i has its middle at t[i + 1]
        base = self.base
        keys = (t[1:-1], t[:-1] * base + t[1:], (t[:-2] * base + t[1:-1]) * base + t[2:])
        where = (idx[:n], np.where(letter[:-1], idx - 1, idx), idx[:n])  # a letter's position in each n-gram
        starts = np.array([a for a, _ in segs], dtype=np.int64)
        ends = np.array([b for _, b in segs], dtype=np.int64)
        for g in range(3):
            pos = where[g][sel[g]]
            rows = self.row_of[g][keys[g][sel[g]]]
            i, j = np.searchsorted(pos, starts), np.searchsorted(pos, ends)
            counts += j - i
            if len(segs) == 1:  # one segment: count each row once, then one small matrix product
                scores[0] += np.bincount(rows, minlength=len(self.columns[g][0])) @ self.matrix[g]
                continue
            cum = np.zeros(len(rows) + 1)
            for lang, column in enumerate(self.columns[g]):
                np.cumsum(column[rows], out=cum[1:])
                scores[:, lang] += cum[j] - cum[i]
        return scores, counts


def table_from_profiles(languages: tuple[str, ...], logp: list[dict[str, float]],
                        unseen: list[float]) -> ScoreTable:
    """Build the score table from per-language ``{gram: log-probability}`` and unseen values."""
    letters = sorted({ch for prof in logp for g in prof for ch in g if ch != " "})
    if any(ord(ch) >= _LATIN_END for ch in letters):  # pragma: no cover - the profiles hold Latin letters only
        raise ValueError("profiles must hold Latin-script letters only")
    other = len(letters) + 1
    base = len(letters) + 2
    char_index = np.zeros(_LATIN_END, dtype=np.int64)
    latin = np.flatnonzero(script_ids(np.arange(_LATIN_END)) == _LATIN)
    char_index[latin] = other
    code = {" ": 0}
    for i, ch in enumerate(letters, start=1):
        char_index[ord(ch)] = i
        code[ch] = i
    grams = sorted({g for prof in logp for g in prof}, key=lambda g: (len(g), g))
    row_of, matrix = [], []
    for n in (1, 2, 3):
        these = [g for g in grams if len(g) == n]
        rows = np.full(base ** n, len(these), dtype=np.int64)  # unseen: the last row
        m = np.tile(np.array(unseen, dtype=np.float64), (len(these) + 1, 1))
        for r, g in enumerate(these):
            key = 0
            for ch in g:
                key = key * base + code[ch]
            rows[key] = r
            for j, prof in enumerate(logp):
                if g in prof:
                    m[r, j] = prof[g]
        row_of.append(rows)
        matrix.append(m)
    gram_row = {g: i for i, g in enumerate(grams)}
    rows = np.array([[prof.get(g, u) for prof, u in zip(logp, unseen)] for g in grams] + [list(unseen)],
                    dtype=np.float64)
    return ScoreTable(tuple(languages), np.array(unseen, dtype=np.float64),
                      char_index, base, tuple(row_of), tuple(matrix),
                      tuple(tuple(np.ascontiguousarray(m[:, j]) for j in range(m.shape[1])) for m in matrix),
                      gram_row, rows)
