"""Step zero of every guard that matches words: fold the text into one canonical spelling.

Attackers do not type ``ignore previous instructions`` in lower case: they write ``IgNoRe``,
``ign0re``, put a zero-width space inside a word, use Cyrillic look-alike letters or fullwidth
forms. ``fold`` states what is folded and why, in a few lines. ``normalize`` is what the guards
call: the same folded text, computed fast (one ``str.translate`` per text, numpy for long texts), and
a map from every folded character back to the original, so a finding can point at (and a redaction
replace) what the user really sent. The fold tables and fast paths live in ``_fold.py``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ._fold import (
    HOMOGLYPHS,
    IDENT_RX,
    INVISIBLE_RX,
    LEET,
    SPACED_RX,
    _LEET_RX,
    _SPACES_RX,
    _char_label,
    _fold_chars,
    _has_mixed_token,
    _has_spaced_letters,
    _join_spaced,
    _leet_sub,
    _leet_vectorized,
    _owner_numpy,
    _owner_slices,
)
from ._text import _VECTOR_MIN, _as_text

__all__ = ["fold", "NormalizedText", "normalize"]


def fold(text: str) -> str:
    """Fold ``text`` into the one spelling the guards match on (each step closes one way to hide a word).

    Invisible characters go (they split a word for the matcher only); NFKC and case folding turn
    fullwidth, "mathematical" and capital letters into plain ones; accents and look-alike letters
    of other scripts become Latin; letter-spaced words are re-joined; leetspeak digits inside a word
    become letters. Assumes a ``str``; ``normalize`` adds the map back to the original.

    >>> fold("IGN0RE  PREV\u0456OUS_instructions from 2024")
    'ignore previous instructions from 2024'
    """
    chars = []
    for ch in text:
        if INVISIBLE_RX.match(ch):  # zero-width space, soft hyphen, bidi control
            continue
        ch = unicodedata.normalize("NFKC", ch).casefold()  # fullwidth or bold "I" -> "i"
        ch = "".join(HOMOGLYPHS.get(c, c) for c in unicodedata.normalize("NFD", ch)
                     if not unicodedata.combining(c))  # "é" -> "e", Cyrillic "о" -> "o"
        chars.append(" " if ch.isspace() else ch)
    t = SPACED_RX.sub(lambda m: m.group()[::2], "".join(chars))  # "i g n o r e" -> "ignore"
    t = re.sub(r"[ _]+", " ", t)

    def unleet(m: re.Match) -> str:  # "ign0re" -> "ignore"; "2024" and "sha256" stay
        w = m.group()
        return w if not re.search("[a-z]", w) or IDENT_RX.fullmatch(w) else w.translate(LEET)

    return re.sub(r"[a-z0-9@$]+", unleet, t)


@dataclass(frozen=True)
class NormalizedText:
    """The result of ``normalize``: the folded ``text``, the ``original``, and the way back.

    Parameters: ``original`` (the text as sent), ``text`` (its folded form), ``fold_obfuscation``
    (whether letter spacing and leetspeak were folded too).

    >>> n = normalize("Hi  IG\u200bNORE")
    >>> n.text, n.to_original(3, 9), n.removed
    ('hi ignore', (4, 11), ((6, 'U+200B ZERO WIDTH SPACE'),))

    Notes
    -----
    ``to_original(start, end)`` maps a span of ``text`` to the span of ``original`` that produced it
    (a span touching a folded character covers all of it; removed invisible characters inside the
    span are covered too). ``removed`` lists the invisible characters that were dropped, as
    ``(index in original, "U+200B ZERO WIDTH SPACE")``. Both are computed on first use only: most
    texts have no finding to map back.
    """

    original: str
    text: str
    fold_obfuscation: bool = True
    _exact: bool = field(default=False, repr=False, compare=False)  # text[i] came from original[i]

    @functools.cached_property
    def removed(self) -> tuple[tuple[int, str], ...]:
        """Invisible characters removed from ``original``: ``(index, "U+XXXX NAME")``, in order."""
        return tuple((m.start(), _char_label(m.group())) for m in INVISIBLE_RX.finditer(self.original))

    @functools.cached_property
    def _owner(self) -> list[int] | np.ndarray | None:
        """``owner[j]`` = index in ``original`` of the character that produced ``text[j]``.

        ``None`` when every position is kept. Short texts build the map from list slices (only the
        characters whose fold is not one character, and the dropped separators and spaces, are
        visited); long ones with numpy. The tests check that both give the same map.
        """
        if self._exact:
            return None
        build = _owner_slices if len(self.original) < _VECTOR_MIN else _owner_numpy
        owner = build(self.original, self.fold_obfuscation)
        if len(owner) != len(self.text):  # pragma: no cover - an internal consistency check
            raise RuntimeError("normalize: offset map out of step with the folded text")
        return owner

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map ``text[start:end]`` to ``(s, e)`` such that ``original[s:e]`` produced it."""
        if not (0 <= start <= end <= len(self.text)):
            raise ValueError(f"span must satisfy 0 <= start <= end <= {len(self.text)}; got ({start}, {end})")
        if self._exact:
            return start, end
        owner = self._owner
        if owner is None:
            return start, end
        if start == end:
            s = int(owner[start]) if start < len(owner) else len(self.original)
            return s, s
        return int(owner[start]), int(owner[end - 1]) + 1

    def _spans_to_original(self, starts: list[int], ends: list[int]) -> list[tuple[int, int]]:
        """``[to_original(s, e) for s, e in zip(starts, ends)]`` for non-empty spans of ``text``, in bulk."""
        owner = None if self._exact else self._owner
        if owner is None:
            return list(zip(starts, ends))
        if isinstance(owner, list):
            return [(owner[s], owner[e - 1] + 1) for s, e in zip(starts, ends)]
        if not starts:
            return []
        a = owner[np.asarray(starts, dtype=np.int64)].tolist()
        b = (owner[np.asarray(ends, dtype=np.int64) - 1] + 1).tolist()
        return list(zip(a, b))


def normalize(text: str | bytes, *, fold_obfuscation: bool = True) -> NormalizedText:
    """Fold ``text`` as ``fold`` does, fast, and keep the way back to the original.

    Parameters: ``text`` (``str`` or UTF-8 ``bytes``); ``fold_obfuscation`` (default true: also
    re-join letter-spaced words and read leetspeak; the PII guard turns it off, digits matter there).

    >>> normalize("IGN0RE  PREV\u0456OUS_instructions").text
    'ignore previous instructions'
    >>> normalize("Call 4I5-555", fold_obfuscation=False).text
    'call 4i5-555'

    Notes
    -----
    1. Every character goes through one translation table (``str.translate``, so this is C speed):
       invisible characters (all Unicode format characters such as U+200B ZERO WIDTH SPACE, U+00AD
       SOFT HYPHEN, U+2060 WORD JOINER, U+FEFF, bidirectional controls; C0/C1 controls; variation
       selectors) are removed (``removed`` reports them); Unicode *tag* characters U+E0020..U+E007E,
       which smuggle ASCII text invisibly, are decoded to that ASCII (``fold`` drops them); every
       other character is NFKC-normalized (UAX #15), case folded, stripped of combining marks and
       mapped through a homoglyph table (after the confusables of Unicode TR #39); any whitespace
       becomes a space.
    2. With ``fold_obfuscation``: letter-spaced words are re-joined ("I G N O R E" -> "ignore",
       "m-o-r-o-n" -> "moron": three or more single letters with one repeated separator, so a wider
       gap still separates words), then "_" becomes a space.
    3. Runs of spaces become one space.
    4. With ``fold_obfuscation``: leetspeak is folded inside tokens that also contain a letter
       ("ign0re" -> "ignore", "@ll" -> "all"; "2024" and identifiers such as "base64" stay).

    Every step is a single left-to-right pass: linear time. ``TypeError`` for anything but
    ``str``/UTF-8 ``bytes``; ``ValueError`` for invalid UTF-8.
    """
    text = _as_text("text", text)
    fold_obfuscation = bool(fold_obfuscation)
    s, exact = _fold_chars(text)
    if fold_obfuscation and _has_spaced_letters(s):
        s = SPACED_RX.sub(_join_spaced, s)
        exact = False
    if fold_obfuscation and "_" in s:
        s = s.replace("_", " ")  # before runs of spaces collapse, so "a__b" and "a _b" become "a b"
    if "  " in s:
        s = _SPACES_RX.sub(" ", s)
        exact = False
    if fold_obfuscation and _has_mixed_token(s):
        s = _leet_vectorized(s) if len(s) >= _VECTOR_MIN else _LEET_RX.sub(_leet_sub, s)
    return NormalizedText(text, s, fold_obfuscation, exact)
