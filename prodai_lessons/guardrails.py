"""Rule-based guardrails for LLM inputs and outputs, and an honest way to measure them (notebook 05).

Where they sit::

    user text -> [input guards] -> model -> [output guards] -> user
                 injection, length,          PII, toxicity,
                 invisible text, rate limit  JSON format

Every guard has a ``name`` and a ``check(text) -> GuardResult``. ``GuardrailPipeline`` runs a list of
input guards and a list of output guards, applies a per-guard action (block / redact / flag), keeps
counts per guard and a bounded log. ``evaluate`` scores a guard on labelled examples; the course ships
a labelled corpus (``load_corpus``) written before the rules, including categories the rules are
*expected* to miss (paraphrased attacks, implicit threats).

Design points (each one fixes a measured failure of the naive "substring in lower-cased text" approach):

- Matching runs on ``normalize(text)``: NFKC, case folding, invisible characters removed *and
  reported*, homoglyphs and leetspeak folded, letter-spaced words re-joined, whitespace collapsed.
  Every match maps back to a span of the original text.
- Patterns are whole-word regular expressions, written so that matching is linear in the input:
  every repetition is bounded or cannot overlap with what follows, and candidates are anchored with
  look-behinds so a long run of near-matches is scanned once (no catastrophic backtracking).
  Cheap necessary conditions run first and skip the patterns that cannot match: anchor words (a
  rule needs its verb *and* its object), required characters, and on long texts numpy passes
  (digit-run lengths for the PII patterns, letter/digit adjacency for leetspeak). Each one has a
  plain twin in the tests that it must agree with, so skipping never changes a result.
- A candidate never hides a finding: where a number can run into the next one (a card and its CVV,
  a phone number and a year, an IBAN and the next word), the scan tries the shorter ends too and
  resumes after a failed candidate, still in linear time (the plain scans are checked against brute
  force in the tests; the numpy versions for long texts against the plain ones).
- Injection is a *score*: weighted pattern families combined as a noisy-OR, compared to a threshold,
  so one weak signal ("system:" in "system: Linux") does not block on its own.
- PII findings are validated (Luhn for cards, ISO 13616 mod-97 for IBANs, SSA rules for SSNs, octet
  ranges for IPv4) and *all* of them are reported; ``PIIGuard.redact`` replaces them like Presidio's
  anonymizer operators ``replace`` / ``mask`` / ``hash``.

Rules stop where wording changes: a paraphrased attack with none of the listed words gets through.
The corpus category ``injection_paraphrased_heldout`` measures exactly that; a learned classifier
(trained on many paraphrases) is the tool for it, with the rules as a cheap, explainable first layer.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import re
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate
from dataclasses import dataclass, field
from importlib import resources
from operator import itemgetter
from typing import Any

import numpy as np

from prodai_lessons._validation import check_choice, check_int, check_real, check_str

__all__ = [
    "NormalizedText",
    "normalize",
    "Finding",
    "GuardResult",
    "PromptInjectionGuard",
    "LengthGuard",
    "InvisibleTextGuard",
    "RateLimitGuard",
    "PIIGuard",
    "ToxicityGuard",
    "FormatGuard",
    "SubstringGuard",
    "GuardrailPipeline",
    "PipelineResult",
    "GuardCounts",
    "PipelineStats",
    "LogEntry",
    "Evaluation",
    "evaluate",
    "CategoryRate",
    "rates_by_category",
    "load_corpus",
    "luhn_valid",
    "iban_valid",
    "ssn_valid",
    "ACTIONS",
    "IBAN_LENGTHS",
    "DEFAULT_ALLOW_LIST",
]

#: What a pipeline may do when a guard fails.
ACTIONS = ("block", "redact", "flag")


# ----------------------------------------------------------------------------------------------
# Text input
# ----------------------------------------------------------------------------------------------

def _as_text(name: str, value: Any) -> str:
    """Return ``value`` as ``str``: ``str`` as is, ``bytes`` decoded as strict UTF-8, else raise.

    ``None`` and other objects raise ``TypeError``; bytes that are not valid UTF-8 raise
    ``ValueError`` naming the byte offset. The empty string is valid (it passes every guard).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{name} must be text; got bytes that are not valid UTF-8 "
                f"(byte {exc.start}: {bytes(value)[exc.start:exc.start + 1]!r})"
            ) from None
    raise TypeError(f"{name} must be a str (or UTF-8 bytes); got {type(value).__name__}")


# ----------------------------------------------------------------------------------------------
# Normalization
# ----------------------------------------------------------------------------------------------

# Characters that render as nothing: every Unicode "format" character (category Cf), C0/C1 controls
# other than whitespace, variation selectors, the combining grapheme joiner, Hangul fillers and Khmer
# inherent vowels. The test suite checks that every Cf code point is covered.
_INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0008), (0x000E, 0x001B), (0x007F, 0x0084), (0x0086, 0x009F), (0x00AD, 0x00AD),
    (0x034F, 0x034F), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
)
_INV = "".join(
    re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _INVISIBLE_RANGES
)
_INVISIBLE_RX = re.compile(f"[{_INV}]")

# Look-alike letters from other scripts, matched after case folding (so uppercase forms are covered).
_HOMOGLYPHS = {
    # Cyrillic
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u043a": "k", "\u043c": "m",
    "\u043d": "h", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y",
    "\u0445": "x", "\u0456": "i", "\u0457": "i", "\u0458": "j", "\u0455": "s", "\u0501": "d",
    "\u04bb": "h", "\u04cf": "l", "\u051b": "q", "\u051d": "w", "\u0491": "r",
    # Greek
    "\u03b1": "a", "\u03bf": "o", "\u03bd": "v", "\u03b9": "i", "\u03ba": "k", "\u03c1": "p",
    "\u03c4": "t", "\u03c5": "u", "\u03c7": "x", "\u03b5": "e", "\u03c3": "o", "\u03c2": "s",
    # Latin look-alikes that case folding keeps
    "\u0131": "i", "\u0237": "j", "\u0261": "g", "\u0251": "a", "\u026a": "i", "\u1d00": "a",
    # Typographic punctuation
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2212": "-", "\u2044": "/",
}


def _fold_char(ch: str) -> str:
    """The folded form of one character (the value ``normalize`` puts in its place)."""
    cp = ord(ch)
    if cp < 128:
        if 65 <= cp <= 90:
            return chr(cp + 32)
        if ch in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f":
            return " "
        return "" if (cp < 32 or cp == 127) else ch
    if _INVISIBLE_RX.match(ch):
        return chr(cp - 0xE0000).lower() if 0xE0020 <= cp <= 0xE007E else ""  # tags smuggle ASCII
    if ch.isspace():
        return " "
    s = unicodedata.normalize("NFKC", ch).casefold()
    s = unicodedata.normalize("NFD", s)
    s = "".join(_HOMOGLYPHS.get(c, c) for c in s if not unicodedata.combining(c))
    return " " if s.isspace() else s


class _FoldTable(dict):
    """``str.translate`` table for ``normalize``: precomputed for common blocks, computed (not stored)
    for any other character, so the table never grows with the input."""

    def __missing__(self, cp: int) -> str:
        return _fold_char(chr(cp))


_FOLD = _FoldTable()
for _lo, _hi in ((0x0000, 0x058F), (0x1D00, 0x1DBF), (0x2000, 0x24FF), (0x3000, 0x303F), (0xFE00, 0xFFEF)):
    for _cp in range(_lo, _hi + 1):
        _FOLD[_cp] = _fold_char(chr(_cp))
for _lo, _hi in _INVISIBLE_RANGES:
    for _cp in range(_lo, _hi + 1):
        _FOLD[_cp] = _fold_char(chr(_cp))
del _lo, _hi, _cp

_ASCII_SPECIAL_RX = re.compile(r"[\x00-\x1f\x7f]")
# ASCII characters the fold table deletes (controls that are not whitespace). Every other ASCII
# character folds to exactly one character, so an ASCII text without these keeps its positions.
_ASCII_DROPPED_RX = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
# Characters whose folded form may not be exactly one character: all but printable ASCII and the
# whitespace controls (which become one space).
_IRREGULAR_RX = re.compile(r"[^\t-\r\x1c-\x7e]")
_SPACES_RX = re.compile(r" {2,}")
# Letter-spaced words ("i g n o r e", "m-o-r-o-n"): 3+ single letters, one separator repeated.
_SPACED_RX = re.compile(r"(?<![a-z])[a-z]([ .\-_*])[a-z](?![a-z])(?:\1[a-z](?![a-z]))+")
# Leetspeak, folded only inside a token that also contains a letter ("ign0re", "k1ll"; not "2024"),
# and not in identifiers that end in a number ("base64", "sha256").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                       "@": "a", "$": "s"})
_LEET_RX = re.compile(r"(?<![a-z0-9@$])[a-z]*[0-9@$][a-z0-9@$]*")
# A token holding both a letter and a digit/"@"/"$" has the two side by side somewhere: without such
# a pair there is nothing to fold (most texts, and every text without letters, skip the fold).
_MIXED_RX = re.compile(r"[a-z][0-9@$]|[0-9@$][a-z]")
_IDENT_RX = re.compile(r"[a-z]+[0-9]{2,}")
_LEET_LOOKUP = np.arange(128, dtype=np.uint32)
for _k, _v in {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}.items():
    _LEET_LOOKUP[ord(_k)] = ord(_v)
del _k, _v
#: Texts at least this long are folded with numpy instead of one regex callback per token.
_VECTOR_MIN = 4096
_DELETED = 0xFFFFFFFF  # marks a removed character in a numpy code point array (not a code point)


def _codepoints(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _from_codepoints(a: np.ndarray) -> str:
    return a.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _leet_sub(m: re.Match) -> str:
    token = m.group()
    if not any("a" <= c <= "z" for c in token) or _IDENT_RX.fullmatch(token):
        return token  # a number ("2024") or an identifier ending in a number ("base64", "sha256")
    return token.translate(_LEET)


def _leet_vectorized(s: str) -> str:
    """The same result as ``_LEET_RX.sub(_leet_sub, s)``, computed per token with numpy (long texts).

    A token is a maximal run of ``[a-z0-9@$]``. Sums per token (``np.add.reduceat``) give its number of
    letters, digits and symbols and of letters that follow a digit; a token is folded when it has a letter and
    a digit or symbol and is not an identifier ``[a-z]+[0-9]{2,}``. Works on bytes for ASCII text.
    """
    ascii_ = s.isascii()
    b = np.frombuffer(s.encode("ascii"), dtype=np.uint8) if ascii_ else _codepoints(s)
    letter = (b >= 97) & (b <= 122)
    digit = (b >= 48) & (b <= 57)
    sym = (b == 64) | (b == 36)
    digit_or_sym = digit | sym
    in_tok = letter | digit_or_sym
    starts = np.flatnonzero(in_tok & ~np.concatenate(([False], in_tok[:-1])))
    if len(starts) == 0:
        return s

    def per_token(mask: np.ndarray) -> np.ndarray:
        # Sum from one token start to the next: the characters between tokens add nothing.
        return np.add.reduceat(mask.view(np.uint8), starts, dtype=np.int64)

    letter_after_digit = np.zeros(len(b), dtype=bool)
    letter_after_digit[1:] = letter[1:] & digit[:-1]
    n_letters, n_digits, n_syms = per_token(letter), per_token(digit), per_token(sym)
    ident = ((n_syms == 0) & (n_digits >= 2) & (per_token(letter_after_digit) == 0) & letter[starts])
    fold = (n_letters > 0) & ((n_digits + n_syms) > 0) & ~ident
    if not fold.any():
        return s
    # Spread each token's verdict over its characters (and the gap after it, which has no digits).
    in_folded = np.zeros(len(b), dtype=bool)
    in_folded[starts[0]:] = np.repeat(fold, np.diff(np.append(starts, len(b))))
    where = in_folded & digit_or_sym
    out = b.copy()
    out[where] = _LEET_LOOKUP[out[where]]
    return out.tobytes().decode("ascii") if ascii_ else _from_codepoints(out)


def _join_spaced(m: re.Match) -> str:
    return m.group()[::2]


def _ascii_classes(s: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """For a long ASCII text: masks of its letters a-z, of its digits/"@"/"$", and the bytes; else None.

    A regex search over a long text costs tens of milliseconds per megabyte even when it finds
    nothing (when a pattern starts with a look-behind, or with a class most characters fit, the
    engine tries every position); these masks answer the same "is there any?" questions in a few
    vectorized passes.
    """
    if len(s) < _VECTOR_MIN or not s.isascii():
        return None
    b = np.frombuffer(s.encode("ascii"), dtype=np.uint8)
    letter = (b >= 97) & (b <= 122)
    digit_or_sym = ((b >= 48) & (b <= 57)) | (b == 64) | (b == 36)
    return letter, digit_or_sym, b


def _has_spaced_letters(s: str) -> bool:
    """Whether ``_SPACED_RX`` matches in ``s``. Every match starts with three lone letters (no letter
    on either side) with the same separator between them ("a.b.c"); long texts without such a
    triple are ruled out with numpy."""
    classes = _ascii_classes(s) if len(s) >= _VECTOR_MIN else None
    if classes is not None:
        letter, _, b = classes
        lone = letter.copy()
        lone[1:] &= ~letter[:-1]
        lone[:-1] &= ~letter[1:]
        sep = (b == 32) | (b == 46) | (b == 45) | (b == 95) | (b == 42)  # " .-_*"
        triple = lone[:-4] & sep[1:-3] & lone[2:-2] & (b[1:-3] == b[3:-1]) & lone[4:]
        if not triple.any():
            return False
    return _SPACED_RX.search(s) is not None


def _has_mixed_token(s: str) -> bool:
    """Whether ``_MIXED_RX`` matches in ``s``: a letter next to a digit, "@" or "$"."""
    classes = _ascii_classes(s) if len(s) >= _VECTOR_MIN else None
    if classes is None:
        return _MIXED_RX.search(s) is not None
    letter, digit_or_sym, _ = classes
    return bool((letter[:-1] & digit_or_sym[1:]).any() or (digit_or_sym[:-1] & letter[1:]).any())


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a boolean array (0 if none)."""
    edges = np.flatnonzero(np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0)))
    return int((edges[1::2] - edges[0::2]).max()) if len(edges) else 0


#: ``str.translate`` table that turns every ASCII character but a-z into a space.
_LETTERS_ONLY = {c: " " for c in range(128) if not 97 <= c <= 122}


def _words(t: str) -> list[str]:
    """The words ``[a-z]+`` of ``t``, as ``_WORD_RX.findall(t)``; a long ASCII text by translate + split."""
    if len(t) >= _VECTOR_MIN and t.isascii():
        return t.translate(_LETTERS_ONLY).split()
    return _WORD_RX.findall(t)


def _char_label(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}"


@dataclass(frozen=True)
class NormalizedText:
    """The result of ``normalize``: the folded ``text``, the ``original``, and the way back.

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
        return tuple((m.start(), _char_label(m.group())) for m in _INVISIBLE_RX.finditer(self.original))

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


def _fold_chars(text: str) -> tuple[str, bool]:
    """Step 1 of ``normalize``: every character through the fold table.

    Returns the folded string and whether every position was kept (character i came from character
    i). A long non-ASCII text is folded with numpy: each distinct character once, then one lookup
    for the whole text (through ``str.translate`` every character costs a dictionary lookup, and
    one outside the precomputed blocks, such as CJK or emoji, a call of ``_fold_char``).
    """
    if text.isascii():
        if _ASCII_SPECIAL_RX.search(text) is None:
            return text.lower(), True
        return text.translate(_FOLD), _ASCII_DROPPED_RX.search(text) is None
    if len(text) < _VECTOR_MIN:
        return text.translate(_FOLD), False
    cp = _codepoints(text)
    present = np.flatnonzero(np.bincount(cp)).tolist()
    folds = [_FOLD[c] for c in present]
    if any(len(f) > 1 for f in folds):  # a character that expands ("\ufb01" -> "fi"): str.translate
        return text.translate(dict(zip(present, folds))), False
    lookup = np.zeros(present[-1] + 1, dtype=np.uint32)
    lookup[present] = [ord(f) if f else _DELETED for f in folds]
    out = lookup[cp]
    if "" in folds:
        out = out[out != _DELETED]
    return _from_codepoints(out), False


def _without_runs(owner: list[int], s: str, fold_obfuscation: bool) -> list[int]:
    """Steps 2 and 3 of ``normalize`` applied to an owner map of the character-folded text ``s``."""
    if fold_obfuscation and _SPACED_RX.search(s) is not None:
        kept: list[int] = []
        prev = 0
        for m in _SPACED_RX.finditer(s):
            a, e = m.span()
            kept += owner[prev:a]
            kept += owner[a:e:2]  # the letters; the separators between them go
            prev = e
        kept += owner[prev:]
        owner, s = kept, _SPACED_RX.sub(_join_spaced, s)
    if fold_obfuscation and "_" in s:
        s = s.replace("_", " ")  # one character for one: the map does not change
    if "  " in s:
        kept, prev = [], 0
        for m in _SPACES_RX.finditer(s):
            kept += owner[prev:m.start() + 1]  # the first space of a run stays
            prev = m.end()
        kept += owner[prev:]
        owner = kept
    return owner


def _owner_slices(text: str, fold_obfuscation: bool) -> list[int]:
    """The owner map of ``normalize(text)`` as a list, built from slices (short texts)."""
    owner: list[int] = []
    prev = 0
    for m in _IRREGULAR_RX.finditer(text):
        k = len(_FOLD[ord(m.group())])
        if k != 1:
            i = m.start()
            owner += range(prev, i)
            owner += [i] * k
            prev = i + 1
    owner += range(prev, len(text))
    return _without_runs(owner, _fold_chars(text)[0], fold_obfuscation)


def _owner_numpy(text: str, fold_obfuscation: bool) -> np.ndarray:
    """The owner map of ``normalize(text)`` as an array, built with numpy (long texts)."""
    cp = _codepoints(text)
    present = np.flatnonzero(np.bincount(cp, minlength=1)).tolist()  # the distinct code points
    fold_length = np.zeros((present[-1] if present else 0) + 1, dtype=np.int64)
    fold_length[present] = [len(_FOLD[c]) for c in present]
    owner = np.repeat(np.arange(len(text), dtype=np.int64), fold_length[cp])
    s = _fold_chars(text)[0]
    if fold_obfuscation:
        keep = np.ones(len(s), dtype=bool)
        for m in _SPACED_RX.finditer(s):
            keep[m.start() + 1:m.end():2] = False
        if not keep.all():
            owner = owner[keep]
            s = _SPACED_RX.sub(_join_spaced, s)
        if "_" in s:
            s = s.replace("_", " ")
    if "  " in s:
        b = _codepoints(s) == 32
        keep = ~(b & np.concatenate(([False], b[:-1])))
        owner = owner[keep]
    return owner



def normalize(text: str | bytes, *, fold_obfuscation: bool = True) -> NormalizedText:
    """Fold ``text`` into the canonical form the guards match on; spans map back to the original.

    1. Every character goes through one translation table (``str.translate``, so this is C speed):
       invisible characters (all Unicode format characters such as U+200B ZERO WIDTH SPACE, U+00AD
       SOFT HYPHEN, U+2060 WORD JOINER, U+FEFF, bidirectional controls; C0/C1 controls; variation
       selectors) are removed (``removed`` reports them); Unicode *tag* characters U+E0020..U+E007E,
       which smuggle ASCII text invisibly, are decoded to that ASCII; every other character is
       NFKC-normalized (fullwidth, circled and mathematical letters become ASCII; UAX #15), case
       folded, stripped of combining marks ("précédentes" -> "precedentes") and mapped through a
       homoglyph table (Cyrillic "о" -> "o", Greek "Ι" -> "i", dotless "ı" -> "i"; after the
       confusables of Unicode TR #39); any whitespace becomes a space.
    2. With ``fold_obfuscation`` (the default; the PII guard turns it off, digits matter there):
       letter-spaced words are re-joined ("I G N O R E" -> "ignore", "m-o-r-o-n" -> "moron": three or
       more single letters with one repeated separator, so a wider gap still separates words), then
       "_" becomes a space ("ignore__previous" -> "ignore  previous", collapsed by the next step).
    3. Runs of spaces become one space.
    4. With ``fold_obfuscation``: leetspeak is folded inside tokens that also contain a letter
       ("ign0re" -> "ignore", "@ll" -> "all"; "2024" and identifiers such as "base64" or "sha256"
       stay).

    Every step is a single left-to-right pass: linear time. Returns a ``NormalizedText``.
    ``TypeError`` for anything but ``str``/UTF-8 ``bytes``; ``ValueError`` for invalid UTF-8.
    """
    text = _as_text("text", text)
    fold_obfuscation = bool(fold_obfuscation)
    s, exact = _fold_chars(text)
    if fold_obfuscation and _has_spaced_letters(s):
        s = _SPACED_RX.sub(_join_spaced, s)
        exact = False
    if fold_obfuscation and "_" in s:
        s = s.replace("_", " ")  # before runs of spaces collapse, so "a__b" and "a _b" become "a b"
    if "  " in s:
        s = _SPACES_RX.sub(" ", s)
        exact = False
    if fold_obfuscation and _has_mixed_token(s):
        s = _leet_vectorized(s) if len(s) >= _VECTOR_MIN else _LEET_RX.sub(_leet_sub, s)
    return NormalizedText(text, s, fold_obfuscation, exact)


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One thing a guard found: its ``type``, the ``span`` (start, end) in the original text, a ``detail``."""

    type: str
    span: tuple[int, int]
    detail: str = ""


@dataclass(frozen=True)
class GuardResult:
    """What one guard decided about one text.

    ``passed`` is False when the guard objects; ``score`` in [0, 1] says how strongly (its meaning is
    documented per guard); ``reason`` is a short human-readable sentence; ``findings`` are the
    matches with spans in the original text. ``error`` is set when the guard itself raised inside a
    pipeline (then ``passed`` is False unless the pipeline fails open).
    """

    guard: str
    passed: bool
    score: float
    reason: str
    findings: tuple[Finding, ...] = ()
    error: str | None = None

    def __repr__(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return (f"GuardResult({self.guard!r}, {verdict}, score={self.score:.2f}, reason={self.reason!r}, "
                f"findings={len(self.findings)})")


def _check_name(name: Any) -> str:
    return check_str("name", name)


# ----------------------------------------------------------------------------------------------
# Prompt injection
# ----------------------------------------------------------------------------------------------

# Building blocks. All repetitions are bounded ({0,4}) over disjoint word/space tokens: linear time.
_MOD = (r"(?:(?:all|any|every|each|of|the|your|my|its|these|those|this|that|previous|previously|prior|"
        r"above|earlier|preceding|foregoing|former|initial|original|old|existing|current|system|safety|"
        r"content|default|built-in|and|following|other|given|ethical) ){0,4}")
_TARGET = (r"(?:instructions?|directions?|directives?|guidelines?|rules?|prompts?|commands?|orders?|"
           r"context|programming|constraints?|restrictions?|polic(?:y|ies)|guardrails?|filters?|training)")
_OVERRIDE_VERB = (r"(?:ignore|disregard|forget|override|overrule|bypass|skip|drop|abandon|discard|"
                  r"set aside|stop following|do not follow|don't follow|no longer follow|cancel|neglect)")
_ML_OVERRIDE_VERB = (r"(?:ignorez|ignorer|ignore|ignores|oubliez|oublie|oublier|ignora|ignoren|olvida|"
                     r"olvide|olviden|descarta|ignoriere|ignorier|ignorieren sie|vergiss|vergessen sie|"
                     r"missachte|dimentica|dimenticate|ignorate|trascura|esqueca|esquece|desconsidere|"
                     r"ne tiens pas compte|ne tenez pas compte)")
_ML_MOD = (r"(?:(?:de|des|du|les|la|le|toutes|tous|tout|vos|tes|ces|todas|todos|las|los|tus|sus|mis|"
           r"alle|die|deine|ihre|bisherigen|vorherigen|fruheren|obigen|vorigen|tutte|tutti|gli|le|i|tue|"
           r"sue|as|os|suas|tuas) ){0,4}")
_ML_TARGET = (r"(?:instructions?|consignes?|regles|directives|instrucciones|reglas|indicaciones|"
              r"directrices|anweisungen|instruktionen|regeln|richtlinien|befehle|istruzioni|regole|"
              r"direttive|instrucoes|regras|diretrizes)")
_REVEAL = (r"(?:reveal|show|print|display|output|repeat|tell|give|share|leak|dump|recite|expose|"
           r"write out|spell out|list|disclose|return|provide|paste)")
_QUALIFIED_PROMPT = (r"(?:system prompt|system message|initial prompt|pre-?prompt|system instructions|"
                     r"(?:hidden|secret|initial|original|internal|confidential|developer|first) "
                     r"(?:instructions|prompt|rules|guidelines|message))")
_ROLE_INTRO = (r"(?:you are|you're|act as|acting as|behave as|pretend to be|pretend you are|"
               r"pretend you're|roleplay as|role-play as|become|you will be|respond as|answer as)")
_ROLE_FILLER = (r"(?:(?:a|an|the|my|now|in|if|you|were|no|longer|completely|totally|fully|truly|ai|"
                r"assistant|an) ){0,4}")
_ROLE_TARGET = (r"(?:unrestricted|unfiltered|uncensored|jailbroken|unlimited|unbound|evil|rogue|amoral|"
                r"unethical|dan|stan|developer mode|god mode)")

# (family, pattern name, weight, regex on normalized text). Within a family: strongest first.
_INJECTION_PATTERNS: tuple[tuple[str, str, float, str], ...] = (
    ("instruction_override", "override_instructions", 0.9, 'ignore disregard forget override overrule bypass skip drop abandon discard set stop do don no cancel neglect & instruction instructions direction directions directive directives guideline guidelines rule rules prompt prompts command commands order orders context programming constraint constraints restriction restrictions policy policies guardrail guardrails filter filters training',
     rf"\b{_OVERRIDE_VERB} {_MOD}{_TARGET}\b"),
    ("instruction_override", "override_multilingual", 0.9, 'ignorez ignorer ignore ignores oubliez oublie oublier ignora ignoren olvida olvide olviden descarta ignoriere ignorier ignorieren vergiss vergessen missachte dimentica dimenticate ignorate trascura esqueca esquece desconsidere ne & instruction instructions consigne consignes regles directives instrucciones reglas indicaciones directrices anweisungen instruktionen regeln richtlinien befehle istruzioni regole direttive instrucoes regras diretrizes',
     rf"\b{_ML_OVERRIDE_VERB} {_ML_MOD}{_ML_TARGET}\b"),
    ("instruction_override", "forget_everything_before", 0.85, 'forget ignore disregard & everything all anything',
     r"\b(?:forget|ignore|disregard) (?:everything|all|anything) (?:(?:that|which) )?"
     r"(?:above|before|prior|previously|so far|up to now|that came before|"
     r"you(?: were|'ve been| have been) (?:told|given|instructed))"),
    ("instruction_override", "forget_everything_multilingual", 0.85, 'oubliez oublie olvida olvide vergiss dimentica',
     r"\b(?:oubliez|oublie) tout(?: ce qui precede| ce que)|\b(?:olvida|olvide) todo(?: lo anterior)?\b|"
     r"\bvergiss alles\b|\bdimentica tutto\b"),
    ("instruction_override", "system_override", 0.8, 'system safety content & override disabled off removed lifted suspended',
     r"\bsystem override\b|\b(?:safety|content) (?:filters?|guidelines|rules|restrictions) "
     r"(?:are )?(?:disabled|off|removed|lifted|suspended)\b"),
    ("instruction_override", "not_bound_by_rules", 0.6, 'bound restricted limited constrained & longer not',
     r"\b(?:no longer|not) (?:bound|restricted|limited|constrained) by\b"),
    ("instruction_override", "new_instructions", 0.6, 'new updated different real actual true & instructions rules directives policy task orders',
     r"\b(?:new|updated|different|real|actual|true) (?:instructions|rules|directives|policy|task|orders)"
     r"(?: (?:are|is)\b|:)"),
    ("instruction_override", "forget_what_i_said", 0.4, 'forget ignore disregard & everything all & said told wrote',
     r"\b(?:forget|ignore|disregard) (?:everything|all) (?:that )?i (?:said|told you|wrote)\b"),
    ("role_reassignment", "unrestricted_persona", 0.8, 'unrestricted unfiltered uncensored jailbroken unlimited unbound evil rogue amoral unethical dan stan developer god & you act acting behave pretend roleplay role become respond answer',
     rf"\b{_ROLE_INTRO} {_ROLE_FILLER}{_ROLE_TARGET}\b"),
    ("role_reassignment", "special_mode", 0.75, 'mode',
     r"\b(?:enter|enable|activate|switch to|turn on|you are now in|you are in|engage) (?:the )?"
     r"(?:developer|god|debug|admin|dan|jailbreak|unrestricted|sudo) mode\b|"
     r"\b(?:developer|god|dan|jailbreak) mode (?:enabled|activated|engaged)\b"),
    ("role_reassignment", "without_restrictions", 0.45, 'without with no free sin ohne sans senza sem & restriction restrictions filter filters limit limits limitation limitations censorship rules guidelines ethics guardrails policy policies restricciones einschrankungen restrizioni restricoes',
     r"\b(?:without|with no|no|free of|free from|sin|ohne|sans|senza|sem) "
     r"(?:any |all |your |the |aucune |ninguna |jegliche |alcuna |quaisquer )?"
     r"(?:restrictions?|filters?|limits?|limitations?|censorship|rules|guidelines|ethical guidelines|ethics|"
     r"guardrails|content polic(?:y|ies)|restricciones|einschrankungen|restrizioni|restricoes)\b"),
    ("role_reassignment", "you_are_now", 0.35, 'you from tu vous ahora du sie ora agora & now maintenant eres es jetzt sei voce',
     r"\byou are now\b|\bfrom now on,? you (?:are|will)\b|\b(?:tu es|vous etes) maintenant\b|"
     r"\bahora (?:eres|es)\b|\b(?:du bist|sie sind) jetzt\b|\bora sei\b|\bagora (?:voce e|es)\b"),
    ("role_reassignment", "pretend", 0.3, 'pretend act roleplay role imagine & be you as if',
     r"\b(?:pretend (?:to be|you are|you're)|act as if|roleplay as|role-play as|imagine you are)\b"),
    ("role_reassignment", "jailbreak_word", 0.3, 'jailbreak jailbreaked jailbreaking', r"\bjailbreak(?:ed|ing)?\b"),
    ("prompt_exfiltration", "reveal_system_prompt", 0.85, 'system initial preprompt pre hidden secret original internal confidential developer first & reveal show print display output repeat tell give share leak dump recite expose write spell list disclose return provide paste',
     rf"\b{_REVEAL} (?:me |us )?(?:(?:your|the|all|of|entire|full|complete|exact|verbatim|whole|current) )"
     rf"{{0,4}}{_QUALIFIED_PROMPT}\b"),
    ("prompt_exfiltration", "reveal_multilingual", 0.8, 'prompt instrucciones anweisungen systemprompt istruzioni instrucoes instructions consignes',
     r"\b(?:revelez|revele|revela|reveler|montrez|montre|affichez|affiche|muestrame|muestra|muestre|"
     r"zeige|zeig|rivela|mostra|mostrami|mostre) (?:(?:moi|me|mir|uns|votre|ton|tes|vos|tu|tus|el|la|las|"
     r"los|deinen|deine|den|die|ihre|il|le|les|o|a|as|os|seu|sua|suas|ocultas|geheimen|secretes|segrete|"
     r"secretas|internes) ){0,4}(?:prompt|instrucciones|anweisungen|systemprompt|istruzioni|instrucoes|"
     r"instructions|consignes)\b"),
    ("prompt_exfiltration", "reveal_your_rules", 0.7, 'your & reveal show print display output repeat tell give share leak dump recite expose write spell list disclose return provide paste & prompt instructions rules guidelines configuration secret secrets',
     r"\b" + _REVEAL + r" (?:me |us )?your (?:(?:[a-z']+) ){0,2}"
     r"(?:prompt|instructions|rules|guidelines|configuration|secrets?)\b"),
    ("prompt_exfiltration", "repeat_preceding_text", 0.6, 'repeat print output recite show reveal display dump & above before preceding context',
     r"\b(?:repeat|print|output|recite|show|reveal|display|dump) (?:me )?(?:(?:all|everything|the|text|"
     r"words|content|contents|of|verbatim) ){0,3}(?:above|before this|preceding|that came before|"
     r"in your context)\b"),
    ("prompt_exfiltration", "what_is_your_prompt", 0.6, 'what given & system instructions prompt rules',
     r"\bwhat (?:is|are|were) (?:your|the (?:exact|original|initial|hidden|secret|system|full)) "
     r"(?:(?:exact|original|initial|hidden|secret|full|system) ){0,2}(?:system prompt|instructions|prompt|"
     r"rules)\b|\b(?:instructions|prompt|rules) (?:that )?you (?:were|have been) given\b"),
    ("prompt_exfiltration", "mentions_system_prompt", 0.3, 'system', r"\bsystem prompt\b"),
    ("delimiter_injection", "fake_system_turn", 0.7, 'system sys',
     r"<\|im[ _]start\|> ?system\b|(?:\[|<|###? ?|\*\*)system(?:\]|>|:|\*\*)|<<sys>>"),
    ("delimiter_injection", "chat_template_token", 0.45, 'im system user assistant endoftext eot start end inst s',
     r"<\|(?:im[ _]start|im[ _]end|system|user|assistant|endoftext|eot[ _]id|start[ _]header[ _]id|"
     r"end[ _]header[ _]id)\|>|"
     r"\[/?inst\]|</s> ?<s>"),
    ("delimiter_injection", "role_label", 0.3, 'system assistant developer', r"(?:^|(?<=[ .!?]))(?:system|assistant|developer) ?:"),
    ("encoded_payload", "decode_and_follow", 0.7, 'decode decrypt deobfuscate unscramble translate convert & follow execute run obey perform apply',
     r"\b(?:decode|decrypt|deobfuscate|unscramble|translate|convert) (?:(?:this|the|following|it|that|string|"
     r"text|message|payload|base64|rot13|hex|and|then|is|below) ){0,5}(?:follow|execute|run|obey|perform|"
     r"apply)\b"),
    ("encoded_payload", "escaped_bytes", 0.4, '=\\', r"(?:\\x[0-9a-f]{2}){4}|(?:\\u[0-9a-f]{4}){3}"),
    ("encoded_payload", "encoding_mention", 0.2, 'base rot hex', r"\b(?:base64|base 64|rot13|rot-13|hex-encoded)\b"),
)
# A base64-looking blob (checked on the *original* text: case matters): a run of 20+ characters of
# the base64 alphabet that contains a digit, '+' or '/', or ends in '='. Anchored at the start of
# its run, so each run is scanned once (giving characters back can never match: the lookahead then
# sees a run character).
_B64_RX = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{20,}=?=?(?![A-Za-z0-9+/=])")
_B64_SIGN_RX = re.compile(r"[0-9+/=]")
_B64_WEIGHT = 0.35


def _base64_blobs(text: str) -> Iterator[tuple[int, int]]:
    """Spans of base64-looking blobs in the original ``text`` (see ``_B64_RX``), in order."""
    if _B64_SIGN_RX.search(text) is None:
        return  # every blob holds a digit, "+", "/" or "="; most texts have none of them
    if len(text) >= _VECTOR_MIN and text.isascii():  # and a run of 20 or more base64 characters
        b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        alphabet = (((b >= 65) & (b <= 90)) | ((b >= 97) & (b <= 122)) | ((b >= 48) & (b <= 57))
                    | (b == 43) | (b == 47))
        if _longest_run(alphabet) < 20:
            return
    for m in _B64_RX.finditer(text):
        if _B64_SIGN_RX.search(m.group()) is not None:  # else a long word, not an encoding
            yield m.span()


_WORD_RX = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class _Rule:
    """One compiled pattern. ``words``/``substrings``: at least one occurs in every match (a cheap gate);
    ``also``: further word sets, each of which must have a word in the text too."""

    family: str
    name: str
    weight: float
    words: frozenset
    substrings: tuple[str, ...]
    rx: re.Pattern
    left_boundary: bool
    also: tuple[frozenset, ...] = ()


def _top_level_alternatives(src: str) -> list[str]:
    parts, depth, cur, i = [], 0, [], 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            cur.append(src[i:i + 2])
            i += 2
            continue
        if ch == "[":  # a character class: copy through its closing bracket
            j = i + 1
            if j < len(src) and src[j] == "^":
                j += 1
            if j < len(src) and src[j] == "]":
                j += 1
            while src[j] != "]":
                j += 2 if src[j] == "\\" else 1
            cur.append(src[i:j + 1])
            i = j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _compile_rules(patterns, vocab: Mapping[str, str]) -> _RuleSet:
    """Compile (family, name, weight, anchors, regex) tuples.

    ``anchors``: words of which every match contains at least one as a whole word (``=x``: a
    substring instead; ``@NAME``: the words of ``vocab[NAME]``); groups separated by ``&`` must
    *each* be met ("ignore ... & instructions ..."), so a rule whose verb occurs but none of its
    objects is not run at all.

    A leading word boundary ``\\b`` on every top-level alternative is removed from the regex and
    checked in Python instead: a pattern that starts with literal words lets the regex engine skip
    ahead to the characters that can start a match, several times faster on long texts.
    """
    rules = []
    for fam, pname, w, anchors, src in patterns:
        groups = []
        for group in anchors.split("&"):
            words, subs = set(), []
            for a in group.split():
                if a.startswith("="):
                    subs.append(a[1:])
                elif a.startswith("@"):
                    words.update(vocab[a[1:]].split("|"))
                else:
                    words.add(a)
            groups.append((frozenset(words), tuple(subs)))
        (words, subs), also = groups[0], tuple(g for g, _ in groups[1:])
        alts = _top_level_alternatives(src)
        left = all(a.startswith(r"\b") for a in alts)
        if left:
            src = "|".join(a[2:] for a in alts)
        rules.append(_Rule(fam, pname, w, words, subs, re.compile(src), left, also))
    return _RuleSet(tuple(rules))


class _RuleSet:
    """Compiled rules plus an inverted index: anchor word -> the rules that need it."""

    def __init__(self, rules: tuple[_Rule, ...]) -> None:
        self.rules = rules
        index: dict[str, list[int]] = {}
        for i, r in enumerate(rules):
            for w in r.words:
                index.setdefault(w, []).append(i)
        self.index = index
        self.vocab = frozenset(index).union(*(g for r in rules for g in r.also))
        self.by_substring = tuple((i, r.substrings) for i, r in enumerate(rules) if r.substrings)


def _scan(ruleset: _RuleSet, t: str, *, gate: bool = True, limit: int = 100,
          accept: Callable[[int, int], bool] | None = None):
    """Yield (rule, start, end) for the matches of every rule in ``t`` (non-overlapping per rule).

    With ``gate`` a rule runs only if one of its anchor words occurs in ``t`` as a word (or one of
    its anchor substrings occurs) and each of its ``also`` sets has a word in ``t``; the tests
    check that gating never changes the result. After ``limit`` matches in all, each further rule
    yields at most its first match: enough for a score that depends on *which* rules matched,
    while the work on a hostile text stays bounded.
    ``accept(start, end)`` can veto a match (it then neither counts nor is yielded).
    """
    rules = ruleset.rules
    if gate:
        index = ruleset.index
        present = ruleset.vocab.intersection(_words(t))
        chosen = set()
        for w in present:
            chosen.update(index.get(w, ()))
        for i, subs in ruleset.by_substring:
            if any(x in t for x in subs):
                chosen.add(i)
        selected = []
        for i in sorted(chosen):
            for group in rules[i].also:
                if present.isdisjoint(group):
                    break
            else:
                selected.append(rules[i])
        rules = selected
    count = 0
    for rule in rules:
        for m in _word_matches(rule.rx, t, rule.left_boundary):
            s, e = m.span()
            if accept is not None and not accept(s, e):
                continue
            yield rule, s, e
            count += 1
            if count >= limit:
                break


def _word_matches(rx: re.Pattern, t: str, left_boundary: bool = True) -> Iterator[re.Match]:
    """The matches of ``rx.finditer(t)``, as if ``rx`` began with ``\\b`` when ``left_boundary`` is set.

    A match that starts inside a word is refused and the search goes on one character after its
    start (what the engine does when ``\\b`` fails there); after an empty match it goes on one
    character later. finditer does the rest in C, so a long run of matches costs no Python-level
    search call per match.
    """
    pos: int | None = 0
    while pos is not None and pos <= len(t):  # (re clamps a start past the end back to the end)
        matches, pos = rx.finditer(t, pos), None
        for m in matches:
            s, e = m.span()
            if left_boundary and s > 0 and (t[s - 1].isalnum() or t[s - 1] == "_"):
                pos = s + 1
                break
            yield m
            if e == s:
                pos = e + 1
                break


_INJECTION_RULES = _compile_rules(_INJECTION_PATTERNS, {})


class PromptInjectionGuard:
    """Score a text for prompt-injection signals; fail when the score reaches ``threshold``.

    Five pattern families run on ``normalize(text)``: *instruction override* ("ignore previous
    instructions", also in French, Spanish, German, Italian, Portuguese), *role reassignment*
    ("you are now DAN", "developer mode enabled", "without any restrictions"), *system prompt
    exfiltration* ("print your system prompt", "repeat the text above"), *delimiter / role-tag
    injection* ("<|im_start|>system", "[system]") and *encoded payload hints* ("decode this and
    follow it", a base64 blob). Each pattern has a weight ``w`` in (0, 1); the score combines every
    distinct pattern that matched as a noisy-OR::

        score = 1 - prod_p (1 - w_p)

    so one strong signal (w >= threshold) fails the text alone and weak signals ("you are now",
    "system:", "jailbreak") only in combination. The default threshold 0.5 keeps "please disregard
    my last email" and "system: Linux" passing. Findings carry the family as ``type`` and the pattern
    name as ``detail``; on a text with more than ``max_findings`` matches only the first ones are
    listed (the score still counts every pattern). Pattern families follow the taxonomy of OWASP LLM01 (prompt injection) and
    Perez & Ribeiro 2022, "Ignore Previous Prompt".

    The rules catch known phrasings and their obfuscations; they miss paraphrases (see the corpus
    category ``injection_paraphrased_heldout``).
    """

    def __init__(self, threshold: float = 0.5, *, max_findings: int = 100, name: str = "prompt_injection") -> None:
        self.threshold = check_real("threshold", threshold, minimum=0.0, maximum=1.0, strict_minimum=True)
        self.max_findings = check_int("max_findings", max_findings, minimum=1)
        self.name = _check_name(name)
        self._gate = True  # anchor-word prefilter (tests switch it off to prove it changes nothing)

    def __repr__(self) -> str:
        return f"PromptInjectionGuard(threshold={self.threshold}, name={self.name!r})"

    def check(self, text: str | bytes) -> GuardResult:
        """Return a ``GuardResult`` whose ``score`` is the noisy-OR of the matched pattern weights."""
        text = _as_text("text", text)
        norm = normalize(text)
        t = norm.text
        findings: list[Finding] = []
        weights: dict[str, float] = {}
        for rule, a, b in _scan(_INJECTION_RULES, t, gate=self._gate, limit=self.max_findings):
            weights[rule.name] = rule.weight
            findings.append(Finding(rule.family, norm.to_original(a, b), rule.name))
        for span in _base64_blobs(text):
            weights["base64_blob"] = _B64_WEIGHT
            if len(findings) < self.max_findings:
                findings.append(Finding("encoded_payload", span, "base64_blob"))
            else:
                break
        prod = 1.0
        for w in weights.values():
            prod *= 1.0 - w
        score = 1.0 - prod
        passed = score < self.threshold
        if not weights:
            reason = "no injection pattern"
        else:
            top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
            listed = ", ".join(f"{p} ({w:g})" for p, w in top[:3])
            reason = f"injection score {score:.2f} {'<' if passed else '>='} {self.threshold:g}: {listed}"
        findings.sort(key=lambda f: (f.span, f.type, f.detail))
        return GuardResult(self.name, passed, score, reason, tuple(findings))


# ----------------------------------------------------------------------------------------------
# Length, invisible text, rate limit
# ----------------------------------------------------------------------------------------------

class LengthGuard:
    """Fail texts longer than ``max_chars`` characters or ``max_tokens`` estimated tokens.

    Tokens are estimated without a tokenizer, by the usual rule of thumb for BPE vocabularies
    (OpenAI: "one token is about 4 characters of English text"), counting each non-ASCII character
    as a whole token because CJK and most non-Latin scripts take about one token per character::

        tokens ~= ceil(ascii_chars / chars_per_token) + non_ascii_chars

    ``score`` is the larger of chars/max_chars and tokens/max_tokens, capped at 1. The empty text passes.
    """

    def __init__(self, max_chars: int = 8000, max_tokens: int = 2000, *, chars_per_token: float = 4.0,
                 name: str = "length") -> None:
        self.max_chars = check_int("max_chars", max_chars, minimum=1)
        self.max_tokens = check_int("max_tokens", max_tokens, minimum=1)
        self.chars_per_token = check_real("chars_per_token", chars_per_token, minimum=0.0, strict_minimum=True)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"LengthGuard(max_chars={self.max_chars}, max_tokens={self.max_tokens}, name={self.name!r})"

    def estimate_tokens(self, text: str | bytes) -> int:
        """Estimated token count: ``ceil(ascii / chars_per_token) + non_ascii`` (see the class docstring)."""
        text = _as_text("text", text)
        n_ascii = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
        return math.ceil(n_ascii / self.chars_per_token) + (len(text) - n_ascii)

    def check(self, text: str | bytes) -> GuardResult:
        """Fail when the text is over either limit."""
        text = _as_text("text", text)
        n = len(text)
        tokens = self.estimate_tokens(text)
        score = min(1.0, max(n / self.max_chars, tokens / self.max_tokens))
        problems = []
        if n > self.max_chars:
            problems.append(f"{n} characters > {self.max_chars}")
        if tokens > self.max_tokens:
            problems.append(f"~{tokens} tokens > {self.max_tokens}")
        if problems:
            return GuardResult(self.name, False, score, "too long: " + "; ".join(problems),
                               (Finding("too_long", (0, n)),))
        return GuardResult(self.name, True, score, f"{n} characters, ~{tokens} tokens")


def _invisible_kind(cp: int) -> str:
    if 0xE0000 <= cp <= 0xE007F:
        return "tag"
    if 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069 or cp in (0x200E, 0x200F, 0x061C):
        return "bidi_control"
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0x180B <= cp <= 0x180F:
        return "variation_selector"
    if cp < 0x20 or 0x7F <= cp <= 0x9F:
        return "control"
    if cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF):
        return "zero_width"
    return "other_invisible"


# Pictographic symbols (emoji and the symbol blocks they come from; skin-tone modifiers are among them).
# Following Unicode TS #51, an invisible character belongs to an emoji sequence only in these places:
# ONE variation selector right after a pictographic symbol (presentation sequence, "\u2764\ufe0f"); a
# zero-width joiner between two elements of a ZWJ sequence (an element may end with its selector); and
# the U+FE0F of a keycap sequence ("#\ufe0f\u20e3"). A run of selectors or joiners is hidden text.
_EMOJI_RANGES: tuple[tuple[int, int], ...] = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122), (0x2139, 0x2139),
    (0x2194, 0x21AA), (0x231A, 0x23FF), (0x24C2, 0x24C2), (0x25AA, 0x27BF), (0x2934, 0x2935), (0x2B00, 0x2BFF),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299), (0x1F000, 0x1FAFF),
)
_EMOJI = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _EMOJI_RANGES)
# After an invisible character has been read: is it part of an emoji sequence? (Each look-behind
# includes the character itself, so each alternative applies to one kind of character only.)
_IN_EMOJI_SEQUENCE = (f"(?:(?<=[{_EMOJI}][\ufe0e\ufe0f])"                          # presentation selector
                      f"|(?<=[{_EMOJI}]\u200d)(?=[{_EMOJI}])|(?<=[{_EMOJI}][\ufe0e\ufe0f]\u200d)(?=[{_EMOJI}])"  # joiner
                      f"|(?<=[0-9#*]\ufe0f)(?=\u20e3))")                             # keycap
# Both start with a character class, so the engine skips ahead to the candidates.
_EMOJI_JOINER_RX = re.compile(f"[\u200d\ufe0e\ufe0f]{_IN_EMOJI_SEQUENCE}")  # the exempt ones
_HIDDEN_RX = re.compile(f"[{_INV}](?!{_IN_EMOJI_SEQUENCE})")  # the invisible characters that count
_INV_BOUNDS = (np.array([a for a, _ in _INVISIBLE_RANGES]), np.array([b for _, b in _INVISIBLE_RANGES]))
_EMOJI_BOUNDS = (np.array([a for a, _ in _EMOJI_RANGES]), np.array([b for _, b in _EMOJI_RANGES]))


def _in_ranges(cp: np.ndarray, bounds: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Whether each code point lies in one of the sorted, disjoint ranges ``bounds`` = (starts, ends)."""
    lo, hi = bounds
    i = np.searchsorted(lo, cp, side="right") - 1
    return (i >= 0) & (cp <= hi[np.maximum(i, 0)])


def _hidden_mask(cp: np.ndarray, allow_emoji_sequences: bool) -> np.ndarray:
    """The characters ``_HIDDEN_RX`` (or, without the emoji exemption, ``_INVISIBLE_RX``) matches, with numpy.

    The same rules as ``_IN_EMOJI_SEQUENCE``, each a comparison with the neighbouring code points:
    a selector after a pictographic symbol; a joiner before one and after one (or after one and its
    selector); U+FE0F between a keycap base and U+20E3.
    """
    invisible = _in_ranges(cp, _INV_BOUNDS)
    if not allow_emoji_sequences:
        return invisible
    pict = _in_ranges(cp, _EMOJI_BOUNDS)
    sel = (cp == 0xFE0E) | (cp == 0xFE0F)
    no = np.zeros(1, dtype=bool)

    def before(a: np.ndarray) -> np.ndarray:  # before(a)[i] = a[i - 1]
        return np.concatenate((no, a[:-1]))

    def after(a: np.ndarray) -> np.ndarray:  # after(a)[i] = a[i + 1]
        return np.concatenate((a[1:], no))

    pict_before = before(pict)
    keycap_base = ((cp >= 48) & (cp <= 57)) | (cp == 35) | (cp == 42)
    exempt = ((sel & pict_before)
              | ((cp == 0x200D) & after(pict) & (pict_before | (before(sel) & before(pict_before))))
              | ((cp == 0xFE0F) & before(keycap_base) & after(cp == 0x20E3)))
    return invisible & ~exempt
_INVISIBLE_RUN_RX = re.compile(f"[{_INV}]+")


class InvisibleTextGuard:
    """Fail texts that carry more than ``max_invisible`` invisible characters.

    Invisible characters (zero-width spaces and joiners, bidirectional overrides as in the "Trojan
    Source" attack, Boucher & Anderson 2021; Unicode tag characters that smuggle ASCII; control
    characters) hide instructions from a human reviewer while a model still reads them. Findings
    report each one with its kind (``zero_width``, ``bidi_control``, ``tag``, ``control``,
    ``variation_selector``, ``other_invisible``) and span, the first ``max_findings`` of them; the
    count in ``reason`` and ``score`` is exact. Invisible characters that are part of an emoji
    sequence (Unicode TS #51) are not counted when ``allow_emoji_sequences`` is true: one variation
    selector right after a pictographic symbol (a coloured heart), a zero-width joiner between two
    emoji (a family emoji), the selector of a keycap. Further selectors or joiners count: a run of
    them after an emoji is hidden text like any other. ``score`` is min(1, count / (max_invisible + 1)).
    """

    def __init__(self, max_invisible: int = 0, *, allow_emoji_sequences: bool = True,
                 max_findings: int = 100, name: str = "invisible_text") -> None:
        self.max_invisible = check_int("max_invisible", max_invisible, minimum=0)
        self.allow_emoji_sequences = bool(allow_emoji_sequences)
        self.max_findings = check_int("max_findings", max_findings, minimum=1)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"InvisibleTextGuard(max_invisible={self.max_invisible}, name={self.name!r})"

    def check(self, text: str | bytes) -> GuardResult:
        """Count invisible characters (emoji joiners excepted) and fail above ``max_invisible``."""
        text = _as_text("text", text)
        if text.isascii() and _ASCII_SPECIAL_RX.search(text) is None:
            return GuardResult(self.name, True, 0.0, "0 invisible character(s)")
        if len(text) >= _VECTOR_MIN:  # the same answer with numpy (tests check both agree)
            where = np.flatnonzero(_hidden_mask(_codepoints(text), self.allow_emoji_sequences))
            count = len(where)
            positions = where[:self.max_findings].tolist()
        else:
            count = len(text) - len(_INVISIBLE_RUN_RX.sub("", text))
            skip_emoji = bool(count and self.allow_emoji_sequences
                              and ("\u200d" in text or "\ufe0f" in text or "\ufe0e" in text))
            if skip_emoji:  # joiners and selectors inside emoji sequences are neither counted nor listed
                count -= _EMOJI_JOINER_RX.subn("", text)[1]
            positions = []
            if count:
                for m in (_HIDDEN_RX if skip_emoji else _INVISIBLE_RX).finditer(text):
                    positions.append(m.start())
                    if len(positions) >= self.max_findings:
                        break
        findings: list[Finding] = []
        for k in positions:
            cp = ord(text[k])
            findings.append(Finding(_invisible_kind(cp), (k, k + 1), f"U+{cp:04X}"))
        score = min(1.0, count / (self.max_invisible + 1))
        if count > self.max_invisible:
            kinds = sorted({f.type for f in findings})
            return GuardResult(self.name, False, score,
                               f"{count} invisible character(s) > {self.max_invisible}: {', '.join(kinds)}",
                               tuple(findings))
        return GuardResult(self.name, True, score, f"{count} invisible character(s)", tuple(findings))


class RateLimitGuard:
    """Token bucket per user: ``capacity`` requests in a burst, refilled at ``rate`` per second.

    Each user's bucket starts full. On a request at time ``now`` (from the injectable ``clock``,
    default ``time.monotonic``)::

        tokens = min(capacity, tokens + (now - last) * rate);   pass and tokens -= cost  if tokens >= cost

    which is the classic token bucket (e.g. Tanenbaum, *Computer Networks*, 5.4; the algorithm behind
    most API gateways). A clock that goes backwards is treated as no time passing. At most
    ``max_users`` buckets are kept (least recently seen evicted first, so memory stays bounded).
    ``score`` is the share of the bucket in use after the request (1.0 when refused).
    Call ``check(text, user=...)``; the pipeline passes its ``user`` argument through.
    """

    uses_user = True

    def __init__(self, capacity: float = 10.0, rate: float = 1.0, *, cost: float = 1.0,
                 clock: Callable[[], float] | None = None, max_users: int = 100_000,
                 name: str = "rate_limit") -> None:
        self.capacity = check_real("capacity", capacity, minimum=0.0, strict_minimum=True)
        self.rate = check_real("rate", rate, minimum=0.0)
        self.cost = check_real("cost", cost, minimum=0.0, strict_minimum=True)
        if self.cost > self.capacity:
            raise ValueError(f"cost must be <= capacity ({self.capacity:g}); got {self.cost:g}")
        if clock is None:
            clock = time.monotonic
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds; got {type(clock).__name__}")
        self.clock = clock
        self.max_users = check_int("max_users", max_users, minimum=1)
        self.name = _check_name(name)
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __repr__(self) -> str:
        return (f"RateLimitGuard(capacity={self.capacity:g}, rate={self.rate:g}/s, cost={self.cost:g}, "
                f"users={len(self._buckets)}, name={self.name!r})")

    def tokens(self, user: str) -> float:
        """Tokens ``user`` has right now (without consuming any)."""
        user = check_str("user", user)
        now = self._now()
        b = self._buckets.get(user)
        if b is None:
            return self.capacity
        return min(self.capacity, b[0] + max(0.0, now - b[1]) * self.rate)

    def _now(self) -> float:
        now = self.clock()
        if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
            raise ValueError(f"clock must return a finite number of seconds; got {now!r}")
        return float(now)

    def check(self, text: str | bytes = "", *, user: str = "anonymous") -> GuardResult:
        """Take ``cost`` tokens from ``user``'s bucket; fail (and take nothing) if there are too few."""
        _as_text("text", text)
        user = check_str("user", user)
        now = self._now()
        b = self._buckets.get(user)
        if b is None:
            b = [self.capacity, now]
            self._buckets[user] = b
            if len(self._buckets) > self.max_users:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(user)
            b[0] = min(self.capacity, b[0] + max(0.0, now - b[1]) * self.rate)
            b[1] = max(b[1], now)
        if b[0] >= self.cost:
            b[0] -= self.cost
            return GuardResult(self.name, True, 1.0 - b[0] / self.capacity,
                               f"{b[0]:.2f} of {self.capacity:g} tokens left for {user!r}")
        wait = (self.cost - b[0]) / self.rate if self.rate > 0 else math.inf
        return GuardResult(self.name, False, 1.0,
                           f"rate limit: {user!r} has {b[0]:.2f} tokens, needs {self.cost:g}; retry in {wait:.2f} s",
                           (Finding("rate_limited", (0, 0), user),))


# ----------------------------------------------------------------------------------------------
# PII
# ----------------------------------------------------------------------------------------------

def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check, ISO/IEC 7812-1 Annex B: double every second digit from the right.

    ``digits`` must be a non-empty string of ASCII digits (``TypeError``/``ValueError`` otherwise).
    """
    check_str("digits", digits)
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"digits must contain ASCII digits only; got {digits[:30]!r}")
    from_right = digits[::-1]
    kept = sum(map(int, from_right[0::2]))  # 1st, 3rd, ... digit from the right: as it is
    doubled = sum(_LUHN_DOUBLED[int(ch)] for ch in from_right[1::2])  # 2nd, 4th, ...: doubled
    return (kept + doubled) % 10 == 0


#: Digit d doubled, minus 9 when that exceeds 9 (the sum of the two digits of 2d).
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


#: IBAN lengths by country (ISO 13616 / SWIFT IBAN registry).
IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: known country, its registered length, and mod-97 of the rearranged number == 1.

    Spaces are ignored and letters may be any case. Rearrangement: move the first four characters to
    the end, replace letters by 10..35, and the resulting integer mod 97 must equal 1 (ISO 7064 MOD 97-10).
    """
    check_str("iban", iban)
    s = iban.replace(" ", "").upper()
    if not (s.isascii() and s.isalnum()) or len(s) < 5:
        return False
    country = s[:2]
    if IBAN_LENGTHS.get(country) != len(s) or not s[2:4].isdigit() or not country.isalpha():
        return False
    rearranged = s[4:] + s[:4]
    return int(rearranged.translate(_IBAN_LETTER_VALUES)) % 97 == 1  # at most ~70 digits: a small integer


#: A -> "10", B -> "11", ..., Z -> "35" (the ISO 13616 letter values), for ``str.translate``.
_IBAN_LETTER_VALUES = {ord(c): str(ord(c) - 55) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US Social Security number rules (SSA): area not 000, 666 or 900-999; group not 00; serial not 0000."""
    a, g, s = int(area), int(group), int(serial)
    return 0 < a < 900 and a != 666 and g != 0 and s != 0


_PII_TAGS = {"email": "EMAIL", "phone": "PHONE", "ssn": "US_SSN", "credit_card": "CREDIT_CARD",
             "ipv4": "IP_ADDRESS", "iban": "IBAN"}

# All patterns run on normalize(text, fold_obfuscation=False): lower case, NFKC (fullwidth digits are
# ASCII), invisible characters removed. Every candidate is anchored with a look-behind so it starts
# at the beginning of its run, and every repetition is bounded or possessive: linear time.
_EMAIL_RX = re.compile(
    r"(?<![a-z0-9._%+'\-])[a-z0-9._%+'\-]{1,64}@[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?){0,8}\.[a-z]{2,24}(?![a-z0-9\-])")
_EMAIL_SPOKEN_RX = re.compile(
    r"(?<![a-z0-9._%+\-])(?P<local>[a-z0-9._%+\-]{1,64}(?: dot [a-z0-9\-]{1,63}){0,3}) (?:at|\[at\]|\(at\)) "
    r"[a-z0-9\-]{1,63}(?: (?:dot|\[dot\]|\(dot\)) [a-z0-9\-]{1,63}){0,3} (?:dot|\[dot\]|\(dot\)) "
    r"(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz)\b")
# Words that stand before "at" in ordinary prose ("look at this dot com", "I work at google dot com",
# "email me at ...") and are not mailbox names: a spoken address whose local part is one of them is
# prose, not an address.
_NOT_A_MAILBOX = frozenset(
    "i me you he him she her it we us they them this that these those the a an is are was were be been am "
    "look looks looked looking work works worked working live lives lived living stay stays stayed staying "
    "meet meets met meeting arrive arrives arrived arriving available here there good great job".split())


def _spoken_emails(t: str) -> list[tuple[int, int, str, str]]:
    """Spoken e-mail addresses ("jo dot lee at example dot com"), without the prose look-alikes.

    A match whose local part is a word of ``_NOT_A_MAILBOX`` is refused and the search goes on from
    the next character (an address may start at a later word). Each search is linear in what it reads.
    """
    out = []
    pos = 0
    while True:
        m = _EMAIL_SPOKEN_RX.search(t, pos)
        if m is None:
            return out
        if m.group("local") in _NOT_A_MAILBOX:
            pos = m.start() + 1
            continue
        out.append((m.start(), m.end(), "email", "spoken"))
        pos = m.end()


_NANP_RX = re.compile(
    r"(?<![\w+])(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}(?!\w)")
# The two bare-number patterns start with a keyword; the "\b" before it is checked by _word_matches,
# so the engine can jump between the letters a keyword starts with.
_NANP_BARE_RX = re.compile(
    r"(?:phone|tel|telephone|cell|mobile|call|fax|text|whatsapp|sms)\b[^0-9\n]{0,20}?"
    r"(?<![\d+])(?P<num>(?:\+?1)?[2-9]\d{2}[2-9]\d{6})(?!\d)")
# The look-behind sits after the "+" (checking the character before it), so the engine can jump
# from one "+" to the next instead of trying every position.
_E164_RX = re.compile(r"\+(?<![\w+]\+)[1-9][0-9 ().\-]{6,22}")
_SSN_RX = re.compile(r"(?<![\w\-])(\d{3})([ \-])(\d{2})\2(\d{4})(?![\w\-])")
_SSN_BARE_RX = re.compile(
    r"(?:ssn|social security(?: number| no\.?| #)?)\b[^0-9\n]{0,20}?(?<!\d)(?P<num>\d{9})(?!\d)")
# Card numbers: 13 to 19 ASCII digits, optionally grouped by single spaces or hyphens. A card lies in
# a "segment" (digit groups joined by single separators); a segment may hold more than one card, or a
# card and other numbers (a CVV after it, an order number before it): see _card_candidates_plain.
_CARD_SEGMENT_RX = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")
_IPV4_RX = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?!\w|\.\d)")
# An IBAN candidate: the country code and check digits, followed by at least 11 more alphanumerics
# (the shortest IBAN has 15). Only these four characters are consumed: a candidate that fails (or runs
# into the following words) never hides an IBAN starting inside it.
_IBAN_RX = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?=(?: ?[a-z0-9]){11})")
# The rest of an IBAN of each length: exactly that many alphanumerics, each after at most one space.
_IBAN_TAIL_RX = {n - 4: re.compile(f"(?: ?[a-z0-9]){{{n - 4}}}") for n in sorted(set(IBAN_LENGTHS.values()))}
_DIGIT_RX = re.compile(r"\d")


@dataclass(frozen=True)
class _DigitRuns:
    """What a long ASCII text offers the digit patterns, found with numpy in one pass.

    ``longest``: the longest run of digits; ``joined``: the longest once all spaces, or all dashes,
    are deleted (the digits of a card number written with one kind of separator then stand
    together; one with both kinds is refused anyway); ``letters``: whether there is any letter.
    Each digit pattern needs a minimum (NANP and SSN a run of 4, bare numbers 9 or 10, a card 13
    joined, an IBAN letters and a run of 2), so a flood of short numbers skips the patterns it
    cannot feed.
    """

    longest: int
    joined: int
    letters: bool

    @staticmethod
    def of(t: str) -> "_DigitRuns":
        b = np.frombuffer(t.encode("ascii"), dtype=np.uint8)
        digit = (b >= 48) & (b <= 57)
        joined = max(_longest_run(digit[b != 32]), _longest_run(digit[b != 45]))
        return _DigitRuns(_longest_run(digit), joined, bool(((b >= 97) & (b <= 122)).any()))


#: With no run information (short or non-ASCII texts) every digit pattern runs.
_ANY_RUNS = _DigitRuns(10**9, 10**9, True)
# Each bare-number pattern needs one of these words; checking them as substrings first is cheap.
_PHONE_WORDS = ("phone", "tel", "cell", "mobile", "call", "fax", "text", "whatsapp", "sms")


#: Digits after the country code (the national significant number) of fixed-line and mobile numbers,
#: for country codes where that length is fixed, from libphonenumber's metadata (``possible_length``
#: of ``fixed_line`` and ``mobile``). Other country codes get E.164's bounds only: 8-15 digits in all.
_NSN_LENGTHS: Mapping[str, tuple[int, ...]] = {
    "1": (10,), "7": (10,), "31": (9,), "32": (8, 9), "33": (9,), "34": (9,), "41": (9,), "44": (9, 10),
    "45": (8,), "47": (8,), "48": (9,), "61": (9,), "81": (9, 10), "91": (10,),
}
_DIGIT_GROUP_RX = re.compile(r"[0-9]+")
#: ``_E164_PREFIX_RX[d]``: "+" and the characters up to the d-th digit.
_E164_PREFIX_RX = {d: re.compile(rf"\+(?:[^0-9]*[0-9]){{{d}}}") for d in range(1, 16)}


def _e164_candidates(t: str) -> list[tuple[int, int, str, str]]:
    """E.164 numbers in ``t``, in order (``_e164_candidates_plain``; numpy for long texts)."""
    return _e164_candidates_numpy(t) if len(t) >= _VECTOR_MIN else _e164_candidates_plain(t)


def _e164_candidates_plain(t: str) -> list[tuple[int, int, str, str]]:
    """E.164 numbers in ``t``: + and 8-15 digits, single separators, balanced parentheses.

    ``_E164_RX`` takes the run of digits and separators after a "+" (at most 23 characters). Words or
    numbers can follow a phone number in that run ("+44 20 7946 0958 2024", "... 10 to 5"), so the
    number may end after any digit group of the run (not inside a group, and not before the last
    group when the run stopped inside a longer digit string), longest first: if the country code has
    a fixed national length (``_NSN_LENGTHS``) the longest prefix of that length, else (or if no
    prefix has it) the longest one with 8-15 digits. The whole run is taken directly when it fits or
    when no shorter prefix could; the groups are visited only otherwise. Linear time.
    """
    out = []
    n = len(t)
    for m in _E164_RX.finditer(t):
        s, e = m.span()
        chunk = m.group()
        if e < n and t[e].isdigit():
            chunk = chunk.rstrip("0123456789")  # the run stopped inside a digit group: end before it
        chunk = chunk.rstrip(" ().-")  # trailing separators belong to the sentence
        if len(chunk) < 2:
            continue
        opened, closed = chunk.count("("), chunk.count(")")
        # digits after the "+" (str.count is much cheaper than deleting the separators)
        total = len(chunk) - 1 - opened - closed - chunk.count(" ") - chunk.count(".") - chunk.count("-")
        shape = opened == closed and "  " not in chunk  # as _e164_shape_ok
        cc = chunk[1:2]
        if cc not in _NSN_LENGTHS:
            cc = chunk[1:3]
            if cc not in _NSN_LENGTHS:
                cc = chunk[1:4] if chunk[1:4] in _NSN_LENGTHS else None
        if cc is not None:
            allowed = _NSN_LENGTHS[cc]
            if shape and total - len(cc) in allowed:
                out.append((s, s + len(chunk), "phone", "e164"))
                continue
            shorter_may_fit = total - len(cc) > min(allowed)
        else:
            shorter_may_fit = False
        if not shorter_may_fit and total <= 15:
            # No prefix can have the national length, and no prefix beats the whole run on 8-15 digits
            # unless the whole run has the wrong shape: the whole run or, rarely, the long way.
            if shape and 8 <= total:
                out.append((s, s + len(chunk), "phone", "e164"))
                continue
            if total < 8:
                continue
        # The long way. The prefix with exactly d digits is one C-level match; it is a candidate when
        # a separator (or the end) follows. First the national lengths, then the group ends with 8-15.
        chosen = 0
        if cc is not None:
            for d in sorted((len(cc) + x for x in allowed if len(cc) + x <= total), reverse=True):
                k = _E164_PREFIX_RX[d].match(chunk).end()
                if (k == len(chunk) or not chunk[k].isdigit()) and _e164_shape_ok(chunk[:k]):
                    chosen = k
                    break
        if not chosen:
            for d in sorted(set(accumulate(map(len, _DIGIT_GROUP_RX.findall(chunk)))), reverse=True):
                if 8 <= d <= 15:
                    k = _E164_PREFIX_RX[d].match(chunk).end()
                    if _e164_shape_ok(chunk[:k]):
                        chosen = k
                        break
        if chosen:
            out.append((s, s + chosen, "phone", "e164"))
    return out


def _e164_shape_ok(number: str) -> bool:
    """Balanced parentheses and no double space (the separators of a written phone number)."""
    return number.count("(") == number.count(")") and "  " not in number


# _NSN_LENGTHS as arrays indexed by the country code's value (keys have one or two digits, and a
# one-digit key is never the first digit of a two-digit one: country codes are a prefix code).
_NSN_CC_DIGITS = np.zeros(100, dtype=np.int64)  # 0: not listed
_NSN_LONGER = np.full(100, -1, dtype=np.int64)
_NSN_SHORTER = np.full(100, -1, dtype=np.int64)
for _cc, _lengths in _NSN_LENGTHS.items():
    _NSN_CC_DIGITS[int(_cc)] = len(_cc)
    _NSN_LONGER[int(_cc)] = max(_lengths)
    _NSN_SHORTER[int(_cc)] = min(_lengths) if len(_lengths) > 1 else -1
del _cc, _lengths


def _by_character(cp: np.ndarray, ascii_answer: np.ndarray, predicate: Callable[[str], bool]) -> np.ndarray:
    """``ascii_answer`` with the non-ASCII code points answered by ``predicate`` (once per distinct value)."""
    high = cp >= 128
    if high.any():
        values, inverse = np.unique(cp[high], return_inverse=True)
        ascii_answer[high] = np.array([predicate(chr(v)) for v in values.tolist()], dtype=bool)[inverse]
    return ascii_answer


def _e164_candidates_numpy(t: str) -> list[tuple[int, int, str, str]]:
    """The result of ``_e164_candidates_plain``, for every "+" at once with numpy (long texts).

    The run after each "+" ends at the first character outside ``[0-9 ().-]`` or after 23 characters;
    the candidate is cut as in the plain scan (before the last digit group if a digit follows the run,
    then after its last digit). Prefix sums give, for any prefix, its digits, parentheses and double
    spaces; the prefix with exactly d digits ends at the d-th digit after the "+". So each rule is one
    vectorized pass: the whole run, then the national lengths (at most two), then d = 15 down to 8.
    """
    b = np.frombuffer(t.encode("ascii"), dtype=np.uint8) if t.isascii() else _codepoints(t)
    b = b.astype(np.int64)
    n = len(b)
    p = np.flatnonzero(b[:-1] == 43)
    p = p[(b[p + 1] >= 49) & (b[p + 1] <= 57)]  # "+" then 1-9
    if len(p):
        before = b[np.maximum(p - 1, 0)]
        word = _isalnum_array(before) | (before == 95)  # Python's \w
        p = p[(p == 0) | ~(word | (before == 43))]  # nothing of \w or "+" before the "+"
    if len(p) == 0:
        return []
    idx = np.arange(n)
    digit = (b >= 48) & (b <= 57)
    sep = (b == 32) | (b == 40) | (b == 41) | (b == 46) | (b == 45)
    outside = np.minimum.accumulate(np.where(digit | sep, n, idx)[::-1])[::-1]  # next index not in the run class
    e = np.minimum(outside[p + 1], p + 24)
    keep = e - p >= 8  # "+", 1-9 and at least 6 more
    p, e = p[keep], e[keep]
    if len(p) == 0:
        return []
    last_digit = np.maximum.accumulate(np.where(digit, idx, -1))  # the last digit at or before i
    group_start = np.maximum.accumulate(np.where(digit & ~np.concatenate(([False], digit[:-1])), idx, -1))
    after = b[np.minimum(e, n - 1)]
    digit_after = (e < n) & _by_character(after, (after >= 48) & (after <= 57), str.isdigit)
    cut = digit_after & digit[e - 1]
    upto = np.where(cut, group_start[e - 1] - 1, e - 1)
    ce = last_digit[upto] + 1  # the end of the chunk
    keep = ce > p + 1
    p, ce = p[keep], ce[keep]
    if len(p) == 0:
        return []
    zero = np.zeros(1, dtype=np.int64)
    digits_before = np.concatenate((zero, np.cumsum(digit)))  # digits in t[:i]
    opens = np.concatenate((zero, np.cumsum(b == 40)))
    closes = np.concatenate((zero, np.cumsum(b == 41)))
    double = np.concatenate((zero, zero, np.cumsum((b[1:] == 32) & (b[:-1] == 32))))  # pairs ending before i

    def shape(k: np.ndarray) -> np.ndarray:  # _e164_shape_ok(t[p:k])
        return ((opens[k] - opens[p]) == (closes[k] - closes[p])) & (double[k] - double[p + 1] == 0)

    total = digits_before[ce] - digits_before[p + 1]
    c1 = b[p + 1] - 48
    second = b[np.minimum(p + 2, n - 1)]
    c2 = np.where((p + 3 <= ce) & (second >= 48) & (second <= 57), c1 * 10 + second - 48, 0)
    code = np.where(_NSN_CC_DIGITS[c1] == 1, c1, np.where(_NSN_CC_DIGITS[c2] == 2, c2, 0))
    cc_len = _NSN_CC_DIGITS[code]
    listed = cc_len > 0
    longer, shorter = _NSN_LONGER[code], _NSN_SHORTER[code]
    whole_shape = shape(ce)
    national = total - cc_len
    chosen = np.where(listed & whole_shape & ((national == longer) | (national == shorter)), ce, 0)
    shortest = np.where(shorter >= 0, shorter, longer)
    shorter_may_fit = listed & (national > shortest)
    quick = (chosen == 0) & ~shorter_may_fit & (total <= 15)
    chosen = np.where(quick & whole_shape & (total >= 8), ce, chosen)
    slow = (chosen == 0) & ~(quick & (whole_shape | (total < 8)))
    if slow.any():
        digit_at = np.flatnonzero(digit)
        first_digit = digits_before[p + 1]  # index into digit_at of the first digit after the "+"

        def try_digits(d: np.ndarray, where: np.ndarray, need_group_end: bool) -> None:
            nonlocal chosen
            where = where & (d >= 1) & (d <= total) & (chosen == 0)
            k = digit_at[np.minimum(first_digit + np.maximum(d, 1) - 1, len(digit_at) - 1)] + 1
            ok = where & shape(k)
            if need_group_end:
                ok &= (k == ce) | ~digit[np.minimum(k, n - 1)]
            chosen = np.where(ok, k, chosen)

        try_digits(cc_len + longer, slow & listed & (longer >= 0), True)
        try_digits(cc_len + shorter, slow & listed & (shorter >= 0), True)
        for d in range(15, 7, -1):
            try_digits(np.full(len(p), d), slow, True)
    found = np.flatnonzero(chosen)
    return [(s_, k_, "phone", "e164") for s_, k_ in zip(p[found].tolist(), chosen[found].tolist())]


def _iban_candidates(t: str) -> list[tuple[int, int, str, str]]:
    """IBANs in ``t``, in order and disjoint (``_iban_candidates_plain``; numpy for long texts)."""
    return _iban_candidates_numpy(t) if len(t) >= _VECTOR_MIN else _iban_candidates_plain(t)


def _iban_candidates_plain(t: str) -> list[tuple[int, int, str, str]]:
    """IBANs in ``t``: a known country, exactly its registered length, the mod-97 check.

    Every start is tried (``_IBAN_RX`` consumes only the first four characters); the rest is exactly
    the country's length of alphanumerics with single spaces (``_IBAN_TAIL_RX``), not followed by a
    letter or digit. After a valid IBAN the starts inside it are skipped, so findings do not overlap.
    Each start costs at most one match of at most 60 characters: linear time.
    """
    out = []
    n = len(t)
    last_end = 0
    for m in _IBAN_RX.finditer(t):
        s = m.start()
        if s < last_end:
            continue
        country = t[s:s + 2].upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        tail = _IBAN_TAIL_RX[length - 4].match(t, s + 4)
        if tail is None:
            continue
        k = tail.end()
        if k < n and t[k].isalnum():
            continue
        check = t[s + 2:s + 4]
        if not check.isascii():
            continue  # "\d" also matches other scripts' digits
        # ISO 13616 check (as in iban_valid): country and check digits moved to the end, letters as numbers.
        rearranged = (t[s + 4:k].replace(" ", "") + country + check).upper()
        if int(rearranged.translate(_IBAN_LETTER_VALUES)) % 97 == 1:
            out.append((s, k, "iban", country))
            last_end = k
    return out


#: IBAN length by country, indexed by 26 * (first letter) + (second letter); 0 for no such country.
_IBAN_LENGTH_BY_INDEX = np.zeros(26 * 26, dtype=np.int64)
for _c, _n in IBAN_LENGTHS.items():
    _IBAN_LENGTH_BY_INDEX[26 * (ord(_c[0]) - 65) + ord(_c[1]) - 65] = _n
del _c, _n
_POW10_MOD97 = np.array([pow(10, e, 97) for e in range(96)], dtype=np.int64)  # 10**96 = 1 (mod 97)
_POW10_INV_MOD97 = np.array([pow(10, -e, 97) for e in range(96)], dtype=np.int64)


def _isalnum_array(cp: np.ndarray) -> np.ndarray:
    """``str.isalnum`` for an array of code points (ASCII by comparison, others once per distinct value)."""
    ascii_answer = ((cp >= 48) & (cp <= 57)) | ((cp >= 65) & (cp <= 90)) | ((cp >= 97) & (cp <= 122))
    return _by_character(cp, ascii_answer, str.isalnum)


def _iban_candidates_numpy(t: str) -> list[tuple[int, int, str, str]]:
    """The result of ``_iban_candidates_plain``, for all starts at once with numpy (long texts).

    A start is two letters a-z and two ASCII digits with no letter a-z or digit before, for a known
    country of length L. Over the letters and digits of ``t`` (index j), consecutive ones are linked
    when adjacent or one space apart; the IBAN is the start's 4 characters and the next L - 4 linked
    ones, with no letter or digit after. Its mod-97 check without big integers: with widths w_j (1 for
    a digit, 2 for a letter, whose value is 10-35) and S_j their prefix sums, the digits of a segment
    [a, b) read as one number are sum v_j 10^(S_b - S_(j+1)) = 10^S_b * sum v_j 10^(-S_(j+1)), and 10
    is invertible mod 97, so the inner sum is a difference of prefix sums. The rearranged number is
    that tail followed by the country letters and check digits (6 decimal digits).
    """
    b = np.frombuffer(t.encode("ascii"), dtype=np.uint8) if t.isascii() else _codepoints(t)
    b = b.astype(np.int64)
    n = len(b)
    if n < 15:
        return []
    lower = (b >= 97) & (b <= 122)
    digit = (b >= 48) & (b <= 57)
    alnum = lower | digit
    head = lower[:-3] & lower[1:-2] & digit[2:-1] & digit[3:]
    head[1:] &= ~alnum[:n - 4]
    start = np.flatnonzero(head)
    if len(start) == 0:
        return []
    length = _IBAN_LENGTH_BY_INDEX[26 * (b[start] - 97) + b[start + 1] - 97]
    start, length = start[length > 0], length[length > 0]
    if len(start) == 0:
        return []
    pos = np.flatnonzero(alnum)  # the letters and digits; rank[p] = their index
    rank = np.cumsum(alnum) - 1
    gap = np.diff(pos)
    linked = (gap == 1) | ((gap == 2) & (b[np.minimum(pos[:-1] + 1, n - 1)] == 32))
    zero = np.zeros(1, dtype=np.int64)
    unlinked = np.concatenate((zero, np.cumsum(~linked)))  # unlinked[j]: broken links before index j
    first = rank[start]
    last = first + length - 1
    ok = last < len(pos)
    last = np.minimum(last, len(pos) - 1)
    ok &= unlinked[last] == unlinked[first + 3]
    end = pos[last] + 1
    ok &= (end == n) | ~_isalnum_array(b[np.minimum(end, n - 1)])
    if not ok.any():
        return []
    start, first, last, end = start[ok], first[ok], last[ok], end[ok]
    value = np.where(digit[pos], b[pos] - 48, b[pos] - 87)  # "a" -> 10 ... "z" -> 35
    width = np.where(digit[pos], 1, 2)
    widths = np.concatenate((zero, np.cumsum(width)))
    scaled = np.concatenate((zero, np.cumsum(value * _POW10_INV_MOD97[widths[1:] % 96])))
    tail = ((scaled[last + 1] - scaled[first + 4]) % 97) * _POW10_MOD97[widths[last + 1] % 96] % 97
    c1, c2 = b[start] - 87, b[start + 1] - 87
    check = (b[start + 2] - 48) * 10 + b[start + 3] - 48
    valid = (tail * _POW10_MOD97[6] + (c1 * 100 + c2) * 100 + check) % 97 == 1
    out = []
    taken_to = 0
    for s_, e_ in zip(start[valid].tolist(), end[valid].tolist()):
        if s_ >= taken_to:
            out.append((s_, e_, "iban", t[s_:s_ + 2].upper()))
            taken_to = e_
    return out


def _card_network(d: str) -> str | None:
    n = len(d)
    two, three, four, six = int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if d[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if (four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= three <= 305 or two in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if two == 62 and 16 <= n <= 19:
        return "unionpay"
    if (two == 50 or 56 <= two <= 58 or d[0] == "6") and 12 <= n <= 19:
        return "maestro"
    return None


_CARD_NETWORKS = ("visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay", "maestro")


def _wordish(ch: str) -> bool:
    """Whether ``ch`` matches ``[\\w\\-]`` (Python's Unicode ``\\w``: ``isalnum()`` or "_"; or a dash)."""
    return ch.isalnum() or ch == "_" or ch == "-"


def _card_candidates(t: str) -> list[tuple[int, int, str, str]]:
    """Card numbers in ``t``, in order and disjoint (``_card_candidates_plain``; numpy for long texts)."""
    return _card_candidates_numpy(t) if len(t) >= _VECTOR_MIN else _card_candidates_plain(t)


def _card_candidates_plain(t: str) -> list[tuple[int, int, str, str]]:
    """Card numbers in ``t``: the leftmost start first, the longest valid number there, then on after it.

    A *start* is the first digit of a group with no word character or dash before it; an *end* is
    the last digit of a group with none after it (so a card may end before a space, never inside a
    dashed identifier). A candidate runs from a start to an end, holds 13-19 digits and one kind of
    separator; it is a card when its prefix names an issuer (``_card_network``) and its Luhn digit
    is right. Giving digits back is what finds the card before a CVV ("4111 ... 1111 123") and both
    cards of "4111111111111111 5500000000000004". Each start tries at most seven ends (13 to 19
    digits), each a fixed amount of work: linear time.
    """
    out = []
    n = len(t)
    for m in _CARD_SEGMENT_RX.finditer(t):
        a0, b0 = m.span()
        if b0 - a0 < 13:
            continue  # fewer than 13 characters: fewer than 13 digits
        seg = m.group()
        # The digit groups: their spans in t and the separator before each (None before the first).
        starts, ends, seps = [a0], [], [None]
        for k, ch in enumerate(seg):
            if ch == " " or ch == "-":
                ends.append(a0 + k)
                starts.append(a0 + k + 1)
                seps.append(ch)
        ends.append(b0)
        g = len(starts)
        cum = [0]  # cum[i]: digits in groups 0..i-1
        for gs, ge in zip(starts, ends):
            cum.append(cum[-1] + ge - gs)
        start_ok = [seps[i] == " " if i else (a0 == 0 or not _wordish(t[a0 - 1])) for i in range(g)]
        end_ok = [seps[j + 1] == " " if j + 1 < g else (b0 == n or not _wordish(t[b0])) for j in range(g)]
        i = 0
        while i < g:
            hit = None
            if start_ok[i]:
                j = i
                while j + 1 < g and cum[j + 2] - cum[i] <= 19:
                    j += 1
                while j >= i and cum[j + 1] - cum[i] >= 13:
                    if end_ok[j] and len(set(seps[i + 1:j + 1])) < 2:  # one kind of separator at most
                        number = t[starts[i]:ends[j]].replace(" ", "").replace("-", "")
                        net = _card_network(number)
                        if net is not None and luhn_valid(number):
                            hit = (j, net)
                            break
                    j -= 1
            if hit is None:
                i += 1
            else:
                out.append((starts[i], ends[hit[0]], "credit_card", hit[1]))
                i = hit[0] + 1
    return out


def _wordish_array(cp: np.ndarray) -> np.ndarray:
    """``_wordish`` for an array of code points (ASCII by comparison, others once per distinct value)."""
    ascii_answer = (((cp >= 48) & (cp <= 57)) | ((cp >= 65) & (cp <= 90)) | ((cp >= 97) & (cp <= 122))
                    | (cp == 95) | (cp == 45))
    return _by_character(cp, ascii_answer, _wordish)


def _card_networks_array(length: int, d0, two, three, four, six) -> np.ndarray:
    """``_card_network`` for numbers of ``length`` digits, vectorized over their leading digits.

    Returns 1 + the index into ``_CARD_NETWORKS``, or 0 where no issuer matches (same order of tests).
    """
    n = length
    conditions = [
        (d0 == 4) & (n in (13, 16, 19)),
        (((two >= 51) & (two <= 55)) | ((four >= 2221) & (four <= 2720))) & (n == 16),
        ((two == 34) | (two == 37)) & (n == 15),
        ((four == 6011) | (two == 65) | ((three >= 644) & (three <= 649)) | ((six >= 622126) & (six <= 622925)))
        & (16 <= n <= 19),
        ((four >= 3528) & (four <= 3589)) & (16 <= n <= 19),
        (((three >= 300) & (three <= 305)) | (two == 36) | (two == 38) | (two == 39)) & (14 <= n <= 19),
        (two == 62) & (16 <= n <= 19),
        ((two == 50) | ((two >= 56) & (two <= 58)) | (d0 == 6)) & (12 <= n <= 19),
    ]
    return np.select(conditions, np.arange(1, len(conditions) + 1), 0)


def _card_candidates_numpy(t: str) -> list[tuple[int, int, str, str]]:
    """The result of ``_card_candidates_plain``, computed for all starts at once with numpy (long texts).

    Over the digits of ``t`` (index k): a start is a digit whose left neighbour is not ``[\\w-]`` and
    whose value is 2-6 (every issuer prefix begins so), an end one whose right neighbour is not;
    consecutive digits are linked when adjacent or one space or dash apart. For each length L = 19
    down to 13, the candidate from start a to digit a+L-1 is checked at once for every a: no broken
    link and not both separator kinds (prefix counts), an issuer (``_card_network`` vectorized over
    the first six digits) and the Luhn sum, which is a difference of two prefix sums (one per parity
    of the last digit: the digits of that parity are kept, the others doubled). The longest valid
    length per start, then the plain scan's left-to-right choice, in a loop over the valid starts only.
    """
    b = np.frombuffer(t.encode("ascii"), dtype=np.uint8) if t.isascii() else _codepoints(t)
    n = len(b)
    pos = np.flatnonzero((b >= 48) & (b <= 57))
    m = len(pos)
    if m < 13:
        return []
    dv = (b[pos] - 48).astype(np.int32)
    head = pos[:m - 12]  # a start needs 12 more digits after it
    before = b[np.maximum(head - 1, 0)]
    start = np.flatnonzero((head == 0) | ~_wordish_array(before))
    start = start[(dv[start] >= 2) & (dv[start] <= 6)]
    if len(start) == 0:
        return []
    gap = np.diff(pos)
    between = b[np.minimum(pos[:-1] + 1, n - 1)]
    space = (gap == 2) & (between == 32)
    dash = (gap == 2) & (between == 45)
    broken = ~((gap == 1) | space | dash)
    zero = np.zeros(1, dtype=np.int32)
    n_broken = np.concatenate((zero, np.cumsum(broken, dtype=np.int32)))  # broken links among digits 0..k
    n_space = np.concatenate((zero, np.cumsum(space, dtype=np.int32)))
    n_dash = np.concatenate((zero, np.cumsum(dash, dtype=np.int32)))
    after = b[np.minimum(pos + 1, n - 1)]
    end_ok = (pos == n - 1) | ~_wordish_array(after)
    d0, d1, d2, d3, d4, d5 = (dv[start + i] for i in range(6))  # start + 12 < m
    two = d0 * 10 + d1
    three = two * 10 + d2
    four = three * 10 + d3
    six = four * 100 + d4 * 10 + d5
    doubled = np.array(_LUHN_DOUBLED, dtype=np.int32)[dv]
    even = (np.arange(m) % 2) == 0
    luhn_even = np.concatenate((zero, np.cumsum(np.where(even, dv, doubled), dtype=np.int32)))  # last digit even
    luhn_odd = np.concatenate((zero, np.cumsum(np.where(even, doubled, dv), dtype=np.int32)))
    best_len = np.zeros(len(start), dtype=np.int32)
    best_net = np.zeros(len(start), dtype=np.int32)
    for length in range(19, 12, -1):
        last = start + (length - 1)
        ok = (last < m) & (best_len == 0)
        last = np.minimum(last, m - 1)
        ok &= end_ok[last] & (n_broken[last] == n_broken[start])
        ok &= ~((n_space[last] > n_space[start]) & (n_dash[last] > n_dash[start]))
        if not ok.any():
            continue
        net = _card_networks_array(length, d0, two, three, four, six)
        total = np.where(last % 2 == 0, luhn_even[last + 1] - luhn_even[start], luhn_odd[last + 1] - luhn_odd[start])
        ok &= (net > 0) & (total % 10 == 0)
        best_len[ok] = length
        best_net[ok] = net[ok]
    valid = np.flatnonzero(best_len)
    first = start[valid]
    final = first + best_len[valid] - 1
    out = []
    taken_to = -1
    for a, z, s_, e_, k in zip(first.tolist(), final.tolist(), pos[first].tolist(), (pos[final] + 1).tolist(),
                               best_net[valid].tolist()):
        if a > taken_to:
            out.append((s_, e_, "credit_card", _CARD_NETWORKS[k - 1]))
            taken_to = z
    return out


class PIIGuard:
    """Find personal data in a text, validate each candidate, report *all* findings; redact on request.

    Entity types (``Finding.type``) and the checks applied to each candidate:

    - ``email``: RFC 5321 shape (local part <= 64, labelled domain, alphabetic TLD); also the spoken
      form "name at example dot com", unless the word before "at" is ordinary prose ("look at
      this dot com", "I work at google dot com"; see ``_NOT_A_MAILBOX``).
    - ``phone``: NANP (+1, area and exchange codes 2-9xx, separated as 212-555-0143, (212) 555-0143,
      212.555.0143; bare 10 digits only after a word such as "phone", "call", "tel") and international
      E.164 (+, country code, 8-15 digits in all, ITU-T E.164; the national length where the country
      has a fixed one, so "+44 20 7946 0958 10 to 5" ends before "10").
    - ``ssn``: US SSN as ddd-dd-dddd or ddd dd dddd (bare 9 digits only after "SSN"/"social security"),
      with the SSA validity rules (area not 000/666/9xx, group not 00, serial not 0000).
    - ``credit_card``: 13-19 digits with optional space/dash separators, a known issuer prefix
      (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro) and a valid Luhn check digit;
      a longer run of digit groups is searched for cards inside it (a CVV after the number, two
      cards in a row).
    - ``ipv4``: four dotted octets 0-255, not part of a longer dotted number (version strings).
    - ``iban``: country code, registered length for that country, ISO 7064 mod-97 check.

    Matching runs on ``normalize(text, fold_obfuscation=False)``, so fullwidth digits and zero-width
    characters inside a number do not hide it; spans refer to the original text. Overlapping
    candidates are resolved earliest-then-longest. ``passed`` is False when anything is found;
    ``score`` is 1.0 then, else 0.0. Validation rules follow Microsoft Presidio's predefined
    recognizers (which likewise check Luhn, IBAN mod-97 and SSN ranges).
    """

    ENTITY_TYPES = tuple(_PII_TAGS)

    def __init__(self, entities: Iterable[str] | None = None, *, name: str = "pii") -> None:
        if entities is None:
            chosen = self.ENTITY_TYPES
        else:
            if isinstance(entities, (str, bytes)):
                raise TypeError("entities must be an iterable of entity type names, not a single string")
            chosen = tuple(entities)
            if not chosen:
                raise ValueError("entities must name at least one entity type")
            for e in chosen:
                check_choice("entities", e, self.ENTITY_TYPES)
        self.entities = tuple(e for e in self.ENTITY_TYPES if e in chosen)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"PIIGuard(entities={self.entities}, name={self.name!r})"

    def find(self, text: str | bytes) -> tuple[Finding, ...]:
        """All validated PII findings in ``text``, sorted by position, overlaps resolved."""
        text = _as_text("text", text)
        norm = normalize(text, fold_obfuscation=False)
        t = norm.text
        want = self.entities
        # One list per pattern. finditer gives each list in order and without overlaps; the cheap
        # tests in front (a character or word the pattern needs) skip patterns that cannot match.
        runs: list[list[tuple[int, int, str, str]]] = []
        digits = _DIGIT_RX.search(t) is not None
        d = _DigitRuns.of(t) if digits and len(t) >= _VECTOR_MIN and t.isascii() else _ANY_RUNS
        if "email" in want and "@" in t:
            runs.append([(*m.span(), "email", "address") for m in _EMAIL_RX.finditer(t)])
        if "email" in want and " at " in t:
            runs.append(_spoken_emails(t))
        if "phone" in want and digits:
            if d.longest >= 4:
                runs.append([(*m.span(), "phone", "nanp") for m in _NANP_RX.finditer(t)])
            if d.longest >= 10 and any(w in t for w in _PHONE_WORDS):
                runs.append([(*m.span("num"), "phone", "nanp") for m in _word_matches(_NANP_BARE_RX, t)])
            if "+" in t:
                runs.append(_e164_candidates(t))
        if "ssn" in want and digits:
            if d.longest >= 4:
                runs.append([(*m.span(), "ssn", "us") for m in _SSN_RX.finditer(t) if ssn_valid(*m.group(1, 3, 4))])
            if d.longest >= 9 and ("ssn" in t or "social security" in t):
                runs.append([(*m.span("num"), "ssn", "us") for m in _word_matches(_SSN_BARE_RX, t)
                             if ssn_valid(m.group("num")[:3], m.group("num")[3:5], m.group("num")[5:])])
        if "credit_card" in want and digits and d.joined >= 13:
            runs.append(_card_candidates(t))
        if "ipv4" in want and digits and "." in t:
            runs.append([(*m.span(), "ipv4", "") for m in _IPV4_RX.finditer(t)])
        if "iban" in want and digits and d.letters and d.longest >= 2:
            runs.append(_iban_candidates(t))
        runs = [r for r in runs if r]
        if not runs:
            return ()
        if len(runs) == 1:
            kept = runs[0]  # one pattern's matches: in order and disjoint already
        else:
            cands = [c for r in runs for c in r]
            # Earliest first, then longest, then in pattern order: two stable sorts, the minor key first.
            cands.sort(key=itemgetter(1), reverse=True)
            cands.sort(key=itemgetter(0))
            kept, last_end = [], -1
            for c in cands:
                if c[0] >= last_end:  # else it overlaps a finding already kept
                    kept.append(c)
                    last_end = c[1]
        spans = norm._spans_to_original([c[0] for c in kept], [c[1] for c in kept])
        return tuple([Finding(c[2], span, c[3]) for c, span in zip(kept, spans)])

    def check(self, text: str | bytes) -> GuardResult:
        """Fail when any PII is found; ``findings`` lists every one (type, span, detail)."""
        findings = self.find(text)
        if not findings:
            return GuardResult(self.name, True, 0.0, "no PII found")
        types = [f.type for f in findings]
        listed = ", ".join(f"{types.count(t)} {t}" for t in sorted(set(types)))
        return GuardResult(self.name, False, 1.0, f"found {len(findings)} PII entit{'y' if len(findings) == 1 else 'ies'}: {listed}",
                           findings)

    def redact(self, text: str | bytes, mode: str = "tag", *, key: str | bytes = b"",
               mask_char: str = "*") -> str:
        """Return ``text`` with every finding replaced, like Presidio's anonymizer operators.

        - ``mode="tag"`` (Presidio ``replace``): ``<EMAIL>``, ``<PHONE>``, ``<US_SSN>``, ``<CREDIT_CARD>``,
          ``<IP_ADDRESS>``, ``<IBAN>``.
        - ``mode="mask"``: every letter and digit becomes ``mask_char``; separators stay, so the shape
          remains ("***-**-****").
        - ``mode="hash"``: ``<EMAIL:1a2b3c4d5e6f>``, the first 12 hex digits of HMAC-SHA256(key, value):
          the same value gets the same pseudonym, so joins still work. Without a secret ``key`` a phone
          number or SSN can be recovered by hashing all candidates (there are only 10^9 SSNs), so pass
          one in production.
        """
        text = _as_text("text", text)
        check_choice("mode", mode, ("tag", "mask", "hash"))
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key must be str or bytes; got {type(key).__name__}")
        check_str("mask_char", mask_char)
        if len(mask_char) != 1:
            raise ValueError(f"mask_char must be a single character; got {mask_char!r}")
        out: list[str] = []
        pos = 0
        for f in self.find(text):
            s, e = f.span
            out.append(text[pos:s])
            value = text[s:e]
            tag = _PII_TAGS[f.type]
            if mode == "tag":
                out.append(f"<{tag}>")
            elif mode == "mask":
                out.append("".join(mask_char if c.isalnum() else c for c in value))
            else:
                digest = hmac.new(bytes(key), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
                out.append(f"<{tag}:{digest[:12]}>")
            pos = e
        out.append(text[pos:])
        return "".join(out)


# ----------------------------------------------------------------------------------------------
# Toxicity
# ----------------------------------------------------------------------------------------------

_INSULT_STRONG = r"(?:idiot|idiots|moron|morons|imbecile|imbeciles|cretin|cretins|buffoon|buffoons|halfwit|nitwit)"
_INSULT_MILD_ONLY = (r"(?:stupid|stupidest|dumb|dumber|dumbest|fool|fools|loser|losers|pathetic|worthless|"
                     r"disgusting|ignorant|clown|clowns|garbage|trash|useless|incompetent)")
_INSULT_MILD = "(?:" + _INSULT_MILD_ONLY[3:-1] + "|" + _INSULT_STRONG[3:-1] + ")"  # any insult word
_VIOLENT_VERB = r"(?:kill|murder|hurt|stab|shoot|strangle|choke|punch|slap|smash|break|burn|destroy|poison)"
_FUTURE = (r"(?:will|'ll|shall|am going to|'m going to|are going to|'re going to|gonna|am gonna|'m gonna|"
           r"will personally|swear i will|swear i'll)")

# (category, pattern name, severity, regex). Word boundaries everywhere: "skill", "diet", "studied",
# "stable" or "dumbbell" cannot match.
_TOXIC_PATTERNS: tuple[tuple[str, str, float, str], ...] = (
    ("threat", "first_person_violence", 0.9, 'kill murder hurt stab shoot strangle choke punch slap smash break burn destroy poison & you u ya your y',
     rf"\b(?:i|we) ?{_FUTURE} (?:\w+ )?{_VIOLENT_VERB} (?:you|u|ya|your|y'all)\b"),
    ("threat", "beat_you_up", 0.9, 'beat', r"\bbeat (?:you|u|ya) (?:up|senseless|to death|black and blue)\b"),
    ("threat", "hunt_you_down", 0.85, 'hunt track find & you u', r"\b(?:hunt|track) (?:you|u) down\b|\bfind (?:you|u) and\b"),
    ("threat", "wish_death", 0.9, 'die rot dead', r"\b(?:i hope|hope) (?:you|u) (?:die|rot)\b|\bdrop dead\b|"
     r"\bi wish you were dead\b"),
    ("threat", "you_are_dead", 0.8, 'dead', r"\b(?:you're|you are|ur) (?:so )?dead\b|\byou're a dead man\b"),
    ("threat", "watch_your_back", 0.75, 'watch', r"\bwatch your back\b"),
    ("threat", "make_you_pay", 0.7, 'make & pay suffer regret', r"\bmake (?:you|u) (?:pay|suffer|regret)\b"),
    ("threat", "coming_to_you", 0.7, 'coming', r"\bget what's coming\b"),
    ("insult", "insult_at_you", 0.85, '@INSULT_MILD & you u ur your',  # "ur", "your": (?:you|u) then "r"
     rf"\b(?:you|u)(?:'re| are|r| is)? (?:(?:a|an|the|such|so|complete|absolute|total|utter|"
     rf"little|big|real|{_INSULT_MILD[3:-1]}) ){{0,2}}{_INSULT_MILD}\b"),
    ("insult", "insult_you_are", 0.85, '@INSULT_MILD & you u', rf"\b{_INSULT_MILD} (?:like )?(?:you|u)(?: are|'re)?\b"),
    ("insult", "vocative_insult", 0.8, '@INSULT_MILD', rf"(?:^|[,;:!?] )(?:you )?{_INSULT_MILD}(?= ?[.!?]|$)"),
    ("insult", "hate_you", 0.8, 'hate despise loathe', r"\bi (?:hate|despise|loathe) (?:you|u)\b"),
    ("insult", "waste_of_space", 0.8, 'waste piece', r"\bwaste of (?:space|oxygen|air|skin)\b|\bpiece of (?:garbage|trash)\b"),
    ("insult", "strong_insult_word", 0.6, '@INSULT_STRONG', rf"\b{_INSULT_STRONG}\b"),
    ("insult", "mild_insult_word", 0.35, '@INSULT_MILD_ONLY', rf"\b{_INSULT_MILD_ONLY}\b"),
    ("insult", "shut_up", 0.3, 'shut lost', r"\bshut up\b|\bget lost\b"),
)
#: Whole phrases that contain a lexicon word but are not abusive; a match inside one is ignored.
DEFAULT_ALLOW_LIST: tuple[str, ...] = (
    "killer whale", "kill switch", "kill -9", "kill the process", "garbage collector", "garbage collection",
    "pathetic fallacy", "april fool", "april fools", "fool's gold", "dumb terminal", "dumb phone",
    "stupid question", "dead code", "dead end", "dead link", "break your code", "break your build",
    "burn your calories", "useless fact",
)
_TOXIC_RULES = _compile_rules(_TOXIC_PATTERNS, {"INSULT_MILD": _INSULT_MILD[3:-1], "INSULT_MILD_ONLY": _INSULT_MILD_ONLY[3:-1],
                                              "INSULT_STRONG": _INSULT_STRONG[3:-1]})


class ToxicityGuard:
    """Flag threats and insults with a whole-word lexicon scored by severity; look-alikes pass.

    Patterns run on ``normalize(text)`` (so "1d10t", "i\\u200bdiot", "Y O U  I D I O T" are caught)
    and use word boundaries, so "skill", "diet", "studied", "Scunthorpe"-style embedded words never
    match. Each pattern has a severity; phrases aimed at a person ("you are a ...", "I will hurt
    you") weigh more than a bare word ("stupid question"). ``score`` is the noisy-OR of the
    severities matched (1 - prod(1 - s)), and the text fails at ``threshold`` (0.5). Matches inside
    an ``allow_list`` phrase ("killer whale", "kill -9", "garbage collector") are ignored. At most
    about ``max_findings`` matches are listed; the score counts every pattern.

    The lexicon is deliberately small and clinical (threats of violence, insults). Implicit threats
    ("it would be a shame if something happened to your car") contain no lexicon word and pass: a
    trained classifier (e.g. Perspective API, Detoxify) is needed for those.
    """

    def __init__(self, threshold: float = 0.5, *, allow_list: Iterable[str] = DEFAULT_ALLOW_LIST,
                 max_findings: int = 100, name: str = "toxicity") -> None:
        self.threshold = check_real("threshold", threshold, minimum=0.0, maximum=1.0, strict_minimum=True)
        self.max_findings = check_int("max_findings", max_findings, minimum=1)
        if isinstance(allow_list, (str, bytes)):
            raise TypeError("allow_list must be an iterable of phrases, not a single string")
        phrases = tuple(check_str("allow_list entry", p) for p in allow_list)
        self.allow_list = phrases
        # Longest phrase first, so a phrase is never cut short by one of its prefixes. No look-behind
        # at the start (it would stop the regex engine from skipping ahead): checked in _allowed_spans.
        folded = sorted({normalize(p).text for p in phrases}, key=lambda p: (-len(p), p))
        self._allow_rx = re.compile("|".join(rf"{re.escape(p)}(?!\w)" for p in folded)) if phrases else None
        self.name = _check_name(name)
        self._gate = True  # anchor-word prefilter (tests switch it off to prove it changes nothing)

    def __repr__(self) -> str:
        return f"ToxicityGuard(threshold={self.threshold}, allow_list={len(self.allow_list)} phrases, name={self.name!r})"

    def _allowed_spans(self, t: str) -> list[tuple[int, int]]:
        """Non-overlapping spans of allow-listed phrases in normalized text ``t``, in order."""
        if self._allow_rx is None:
            return []
        return [m.span() for m in _word_matches(self._allow_rx, t)]

    def check(self, text: str | bytes) -> GuardResult:
        """Return the noisy-OR severity score of the lexicon matches outside allow-listed phrases."""
        text = _as_text("text", text)
        norm = normalize(text)
        t = norm.text
        findings: list[Finding] = []
        sev: dict[str, float] = {}
        # covering_end[a]: the end of the last allow-listed phrase that starts at or before a (-1 if
        # none); the phrases do not overlap, so a match (a, b) lies inside one iff b <= covering_end[a].
        # Found once, on the first match.
        covering_end: list[int] = []

        def outside_allow_list(a: int, b: int) -> bool:
            if not covering_end:
                spans = self._allowed_spans(t)
                covering_end.extend([-1] * (spans[0][0] if spans else len(t) + 1))
                for (s, e), (nxt, _) in zip(spans, spans[1:] + [(len(t) + 1, 0)]):
                    covering_end.extend([e] * (nxt - s))
            return b > covering_end[a]

        for rule, a, b in _scan(_TOXIC_RULES, t, gate=self._gate, limit=self.max_findings,
                                accept=outside_allow_list):
            sev[rule.name] = max(sev.get(rule.name, 0.0), rule.weight)
            findings.append(Finding(rule.family, norm.to_original(a, b), rule.name))
        prod = 1.0
        for w in sev.values():
            prod *= 1.0 - w
        score = 1.0 - prod
        passed = score < self.threshold
        if not sev:
            reason = "no toxic pattern"
        else:
            top = sorted(sev.items(), key=lambda kv: (-kv[1], kv[0]))
            reason = (f"toxicity score {score:.2f} {'<' if passed else '>='} {self.threshold:g}: "
                      + ", ".join(f"{p} ({w:g})" for p, w in top[:3]))
        findings.sort(key=lambda f: (f.span, f.type, f.detail))
        return GuardResult(self.name, passed, score, reason, tuple(findings))


# ----------------------------------------------------------------------------------------------
# Output format
# ----------------------------------------------------------------------------------------------

_FENCE_RX = re.compile(r"\A\s*```(?:json)?[ \t]*\n(.*)\n```\s*\Z", re.DOTALL | re.IGNORECASE)
# A JSON string or one of the constants Python's json accepts but JSON (RFC 8259) does not: strings are
# skipped whole, so a "NaN" inside one is not reported. Linear: each alternative consumes what it tests.
_JSON_CONSTANT_RX = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


class _NotJSONConstant(ValueError):
    """Raised by ``parse_constant`` for NaN / Infinity / -Infinity, which are not JSON."""


def _refuse_constant(name: str) -> Any:
    raise _NotJSONConstant(name)
_JSON_TYPES = {"string": str, "number": (int, float), "integer": int, "boolean": bool, "array": list,
               "object": dict, "null": type(None)}


class FormatGuard:
    """The output must be a JSON object holding ``required`` fields (optionally of given JSON types).

    ``required`` is a sequence of field names, or a mapping name -> JSON type name (``"string"``,
    ``"number"``, ``"integer"``, ``"boolean"``, ``"array"``, ``"object"``, ``"null"``), a small subset
    of JSON Schema's ``required`` + ``type`` keywords. A Markdown code fence around the JSON is
    accepted when ``allow_code_fence`` is true (models often add one). Booleans are not numbers here,
    as in JSON Schema. ``score`` is 1.0 on failure, else 0.0. Findings: ``invalid_json`` (span at the
    parse error), ``not_an_object``, ``missing_field``, ``wrong_type``. ``NaN``, ``Infinity`` and
    ``-Infinity`` (which Python's ``json`` reads but JSON does not allow), nesting too deep for the
    parser and integers longer than Python's conversion limit are ``invalid_json`` too: the guard
    fails, it does not raise.
    """

    def __init__(self, required: Sequence[str] | Mapping[str, str] = (), *, allow_code_fence: bool = True,
                 name: str = "format") -> None:
        if isinstance(required, (str, bytes)):
            raise TypeError("required must be a sequence of field names or a mapping name -> JSON type; "
                            "got a single string")
        if isinstance(required, Mapping):
            fields = {}
            for k, v in required.items():
                check_str("required field name", k)
                fields[k] = check_choice(f"required[{k!r}]", v, tuple(_JSON_TYPES))
        else:
            fields = {check_str("required field name", k): None for k in required}
        self.required: dict[str, str | None] = fields
        self.allow_code_fence = bool(allow_code_fence)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"FormatGuard(required={list(self.required)}, name={self.name!r})"

    def check(self, text: str | bytes) -> GuardResult:
        """Parse ``text`` as JSON and check the required fields and their types."""
        text = _as_text("text", text)
        body, offset = text, 0
        if self.allow_code_fence:
            m = _FENCE_RX.match(text)
            if m:
                body, offset = m.group(1), m.start(1)
        try:
            data = json.loads(body, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            at = offset + exc.pos
            return GuardResult(self.name, False, 1.0, f"not valid JSON: {exc.msg} at character {at}",
                               (Finding("invalid_json", (at, min(at + 1, len(text)))),))
        except _NotJSONConstant as exc:
            name = str(exc)
            m = next((m for m in _JSON_CONSTANT_RX.finditer(body) if m.group(1) == name), None)
            at = offset + (m.start(1) if m is not None else 0)
            return GuardResult(self.name, False, 1.0, f"not valid JSON: {name} is not a JSON value "
                               f"(RFC 8259 has no NaN or Infinity) at character {at}",
                               (Finding("invalid_json", (at, at + len(name))),))
        except RecursionError:
            return GuardResult(self.name, False, 1.0, "not valid JSON: nested too deeply to parse",
                               (Finding("invalid_json", (0, len(text))),))
        except ValueError as exc:  # e.g. an integer longer than Python's int conversion limit
            return GuardResult(self.name, False, 1.0, f"not valid JSON: cannot be parsed ({exc})",
                               (Finding("invalid_json", (0, len(text))),))
        if not isinstance(data, dict):
            return GuardResult(self.name, False, 1.0, f"JSON must be an object; got {type(data).__name__}",
                               (Finding("not_an_object", (0, len(text))),))
        findings: list[Finding] = []
        for k, typ in self.required.items():
            if k not in data:
                findings.append(Finding("missing_field", (0, len(text)), k))
            elif typ is not None:
                v = data[k]
                ok = isinstance(v, _JSON_TYPES[typ]) and not (typ in ("number", "integer") and isinstance(v, bool))
                if not ok:
                    findings.append(Finding("wrong_type", (0, len(text)), f"{k}: expected {typ}"))
        if findings:
            return GuardResult(self.name, False, 1.0,
                               "; ".join(f"{f.type.replace('_', ' ')} {f.detail}" for f in findings), tuple(findings))
        return GuardResult(self.name, True, 0.0, "valid JSON with the required fields")


# ----------------------------------------------------------------------------------------------
# The naive baseline (what not to do)
# ----------------------------------------------------------------------------------------------

class SubstringGuard:
    """The naive guard: fail when any ``word`` occurs as a substring of the lower-cased text.

    Kept as the *baseline to beat*: it flags "skill" for "kill" and "diet" for "die", and misses
    "IgNoRe   previous", "ign0re" or a zero-width space inside a word. ``score`` is 1.0 on a hit.
    """

    def __init__(self, words: Iterable[str], *, name: str = "substring") -> None:
        if isinstance(words, (str, bytes)):
            raise TypeError("words must be an iterable of strings, not a single string")
        self.words = tuple(check_str("words entry", w).lower() for w in words)
        if not self.words:
            raise ValueError("words must contain at least one string")
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"SubstringGuard({len(self.words)} words, name={self.name!r})"

    def check(self, text: str | bytes) -> GuardResult:
        """Fail at the first word found as a substring (the naive approach)."""
        text = _as_text("text", text)
        low = text.lower()
        for w in self.words:
            i = low.find(w)
            if i >= 0:
                return GuardResult(self.name, False, 1.0, f"substring {w!r} found", (Finding("substring", (i, i + len(w)), w),))
        return GuardResult(self.name, True, 0.0, "no listed substring")


# ----------------------------------------------------------------------------------------------
# Pipeline
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PipelineResult:
    """The outcome of ``check_input`` / ``check_output``.

    ``allowed`` is False when a guard with action ``block`` failed (or a guard raised and the pipeline
    fails closed). ``text`` is the text to pass on, with redactions applied, or ``None`` when blocked
    (so a blocked output cannot leak by accident). ``results`` holds every guard's ``GuardResult``
    in order; ``blocked_by`` / ``redacted_by`` / ``flagged_by`` / ``errors`` name the guards.
    """

    stage: str
    allowed: bool
    text: str | None
    results: tuple[GuardResult, ...]
    blocked_by: tuple[str, ...] = ()
    redacted_by: tuple[str, ...] = ()
    flagged_by: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def triggered(self) -> tuple[str, ...]:
        """Names of the guards that did not pass, in pipeline order."""
        return tuple(r.guard for r in self.results if not r.passed)

    def __repr__(self) -> str:
        verdict = "allowed" if self.allowed else "BLOCKED"
        parts = [f"{self.stage}: {verdict}"]
        for label, names in (("blocked_by", self.blocked_by), ("redacted_by", self.redacted_by),
                             ("flagged_by", self.flagged_by), ("errors", self.errors)):
            if names:
                parts.append(f"{label}={list(names)}")
        return "PipelineResult(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class GuardCounts:
    """Counters for one guard: texts ``checked``, ``triggered`` (failed), and what was done about it."""

    guard: str
    stage: str
    action: str
    checked: int = 0
    triggered: int = 0
    blocked: int = 0
    redacted: int = 0
    flagged: int = 0
    errors: int = 0

    @property
    def trigger_rate(self) -> float:
        """``triggered / checked`` (0.0 before the first check)."""
        return self.triggered / self.checked if self.checked else 0.0


@dataclass(frozen=True)
class PipelineStats:
    """Totals per stage and a ``GuardCounts`` per guard (``by_guard[name]``)."""

    inputs_checked: int
    inputs_blocked: int
    outputs_checked: int
    outputs_blocked: int
    by_guard: Mapping[str, GuardCounts]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{c.guard}</td><td>{c.stage}</td><td>{c.action}</td><td>{c.checked}</td>"
            f"<td>{c.triggered}</td><td>{c.trigger_rate:.1%}</td><td>{c.blocked}</td><td>{c.redacted}</td>"
            f"<td>{c.flagged}</td><td>{c.errors}</td></tr>" for c in self.by_guard.values())
        return ("<table><tr><th>guard</th><th>stage</th><th>action</th><th>checked</th><th>triggered</th>"
                "<th>rate</th><th>blocked</th><th>redacted</th><th>flagged</th><th>errors</th></tr>"
                f"{rows}</table><p>inputs: {self.inputs_checked} checked, {self.inputs_blocked} blocked; "
                f"outputs: {self.outputs_checked} checked, {self.outputs_blocked} blocked</p>")


@dataclass(frozen=True)
class LogEntry:
    """One pipeline decision. The text itself is *not* logged (it may hold PII); only its length."""

    seq: int
    stage: str
    user: str
    timestamp: float | None
    chars: int
    allowed: bool
    triggered: tuple[str, ...]
    actions: tuple[tuple[str, str], ...]
    reasons: tuple[str, ...]


_COUNTER_OF_ACTION = {"block": "blocked", "redact": "redacted", "flag": "flagged"}
_STAGE_TOTALS = {"input": ("inputs_checked", "inputs_blocked"), "output": ("outputs_checked", "outputs_blocked")}


class GuardrailPipeline:
    """Run input guards before the model and output guards after it, with an action per guard.

    ``policy`` maps a guard name to ``"block"`` (the text is refused), ``"redact"`` (the guard's
    ``redact`` rewrites the text and it goes on; only for guards that have ``redact``, e.g.
    ``PIIGuard``) or ``"flag"`` (the text goes on and the trigger is counted and logged). Guards not
    named in the policy block. Guards run in order, each on the text as left by the previous one
    (so a toxicity guard after a redacting PII guard sees the redacted text).

    A guard that raises is recorded as a failed ``GuardResult`` with ``error`` set. By default the
    pipeline then *fails closed* (the text is blocked); ``fail_open=True`` lets it through and counts
    the error (a choice for availability over safety; make it explicitly).

    ``stats()`` gives counts per guard; ``log`` keeps the last ``log_size`` decisions (a ``deque``
    with ``maxlen``: memory stays bounded however long the service runs).
    """

    def __init__(self, input_guards: Sequence[Any] = (), output_guards: Sequence[Any] = (),
                 policy: Mapping[str, str] | None = None, *, fail_open: bool = False,
                 log_size: int = 1000) -> None:
        self.input_guards = self._check_guards("input_guards", input_guards)
        self.output_guards = self._check_guards("output_guards", output_guards)
        names = [g.name for g in self.input_guards + self.output_guards]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"guard names must be unique across input and output guards; repeated: {dup}")
        if policy is None:
            policy = {}
        if not isinstance(policy, Mapping):
            raise TypeError(f"policy must be a mapping guard name -> action; got {type(policy).__name__}")
        for gname, action in policy.items():
            if gname not in names:
                raise ValueError(f"policy names unknown guard {gname!r}; known guards: {sorted(names)}")
            check_choice(f"policy[{gname!r}]", action, ACTIONS)
            if action == "redact":
                guard = next(g for g in self.input_guards + self.output_guards if g.name == gname)
                if not callable(getattr(guard, "redact", None)):
                    raise ValueError(f"policy[{gname!r}] is 'redact' but guard {gname!r} has no redact() method")
        self.policy: dict[str, str] = {n: policy.get(n, "block") for n in names}
        if not isinstance(fail_open, bool):
            raise TypeError(f"fail_open must be a bool; got {type(fail_open).__name__}")
        self.fail_open = fail_open
        self.log: deque[LogEntry] = deque(maxlen=check_int("log_size", log_size, minimum=1))
        self._counts: dict[str, dict[str, int]] = {
            n: dict(checked=0, triggered=0, blocked=0, redacted=0, flagged=0, errors=0) for n in names}
        self._stage_of = {g.name: "input" for g in self.input_guards}
        self._stage_of.update({g.name: "output" for g in self.output_guards})
        self._totals = dict(inputs_checked=0, inputs_blocked=0, outputs_checked=0, outputs_blocked=0)
        self._seq = 0

    @staticmethod
    def _check_guards(name: str, guards: Any) -> list[Any]:
        if isinstance(guards, (str, bytes)) or not isinstance(guards, Iterable):
            raise TypeError(f"{name} must be a sequence of guards; got {type(guards).__name__}")
        out = list(guards)
        for i, g in enumerate(out):
            if not callable(getattr(g, "check", None)) or not isinstance(getattr(g, "name", None), str):
                raise TypeError(f"{name}[{i}] must be a guard with a str .name and a .check(text) method; "
                                f"got {type(g).__name__}")
        return out

    def __repr__(self) -> str:
        return (f"GuardrailPipeline(input={[g.name for g in self.input_guards]}, "
                f"output={[g.name for g in self.output_guards]}, fail_open={self.fail_open})")

    def check_input(self, text: str | bytes, *, user: str = "anonymous",
                    timestamp: float | None = None) -> PipelineResult:
        """Run the input guards on a user's text (``user`` feeds per-user guards such as rate limits)."""
        return self._run("input", self.input_guards, text, user, timestamp)

    def check_output(self, text: str | bytes, *, user: str = "anonymous",
                     timestamp: float | None = None) -> PipelineResult:
        """Run the output guards on the model's text before it reaches the user."""
        return self._run("output", self.output_guards, text, user, timestamp)

    def _run(self, stage: str, guards: list[Any], text: Any, user: Any, timestamp: Any) -> PipelineResult:
        text = _as_text("text", text)
        user = check_str("user", user)
        if timestamp is not None:
            timestamp = check_real("timestamp", timestamp)
        current = text
        results: list[GuardResult] = []
        blocked, redacted, flagged, errors = [], [], [], []
        actions: list[tuple[str, str]] = []
        for g in guards:
            c = self._counts[g.name]
            c["checked"] += 1
            try:
                res = g.check(current, user=user) if getattr(g, "uses_user", False) else g.check(current)
                if not isinstance(res, GuardResult):
                    raise TypeError(f"check() returned {type(res).__name__}, not GuardResult")
            except Exception as exc:  # a broken guard is a failed guard, never a crashed request
                c["errors"] += 1
                errors.append(g.name)
                res = GuardResult(g.name, False, 1.0, f"guard raised {type(exc).__name__}: {exc}",
                                  error=f"{type(exc).__name__}: {exc}")
                results.append(res)
                c["triggered"] += 1
                if self.fail_open:
                    flagged.append(g.name)
                    c["flagged"] += 1
                    actions.append((g.name, "flag"))
                else:
                    blocked.append(g.name)
                    c["blocked"] += 1
                    actions.append((g.name, "block"))
                continue
            results.append(res)
            if res.passed:
                continue
            c["triggered"] += 1
            action = self.policy[g.name]
            if action == "redact":
                try:
                    new = g.redact(current)
                    if not isinstance(new, str):
                        raise TypeError(f"redact() returned {type(new).__name__}, not str")
                except Exception as exc:
                    c["errors"] += 1
                    errors.append(g.name)
                    action = "flag" if self.fail_open else "block"
                else:
                    current = new
            actions.append((g.name, action))
            {"block": blocked, "redact": redacted, "flag": flagged}[action].append(g.name)
            c[_COUNTER_OF_ACTION[action]] += 1
        allowed = not blocked
        checked_key, blocked_key = _STAGE_TOTALS[stage]
        self._totals[checked_key] += 1
        if not allowed:
            self._totals[blocked_key] += 1
        self._seq += 1
        result = PipelineResult(stage, allowed, current if allowed else None, tuple(results), tuple(blocked),
                                tuple(redacted), tuple(flagged), tuple(errors))
        failed = [r for r in results if not r.passed] if actions else []  # every failure takes an action
        self.log.append(LogEntry(self._seq, stage, user, timestamp, len(text), allowed,
                                 tuple(r.guard for r in failed), tuple(actions), tuple(r.reason for r in failed)))
        return result

    def stats(self) -> PipelineStats:
        """A snapshot of the counters (later checks do not change it)."""
        by = {n: GuardCounts(n, self._stage_of[n], self.policy[n], **c) for n, c in self._counts.items()}
        return PipelineStats(by_guard=by, **self._totals)


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """Binary classification quality of a guard (positive = "the guard should fail this text").

    ``confusion`` is ``((TN, FP), (FN, TP))``: rows are the true label (0, 1), columns the guard's
    verdict (passed, failed), as ``sklearn.metrics.confusion_matrix`` orders them. Ratios with a
    zero denominator are 0.0 (scikit-learn's ``zero_division=0``). ``false_negatives`` and
    ``false_positives`` list the texts the guard got wrong, for reading.
    """

    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    confusion: tuple[tuple[int, int], tuple[int, int]]
    n: int
    false_negatives: tuple[str, ...] = field(default=(), repr=False)
    false_positives: tuple[str, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        (tn, fp), (fn, tp) = self.confusion
        return (f"Evaluation(n={self.n}, precision={self.precision:.3f}, recall={self.recall:.3f}, "
                f"f1={self.f1:.3f}, false_positive_rate={self.false_positive_rate:.3f}, "
                f"TP={tp}, FP={fp}, FN={fn}, TN={tn})")

    def _repr_html_(self) -> str:
        (tn, fp), (fn, tp) = self.confusion
        return (f"<table><tr><th></th><th>passed</th><th>failed</th></tr>"
                f"<tr><th>benign (0)</th><td>TN {tn}</td><td>FP {fp}</td></tr>"
                f"<tr><th>harmful (1)</th><td>FN {fn}</td><td>TP {tp}</td></tr></table>"
                f"<p>precision {self.precision:.3f}, recall {self.recall:.3f}, F1 {self.f1:.3f}, "
                f"false-positive rate {self.false_positive_rate:.3f} (n={self.n})</p>")


def _iter_examples(examples: Any) -> list[tuple[str, int, str]]:
    if examples is None or isinstance(examples, (str, bytes)) or not isinstance(examples, Iterable):
        raise TypeError("examples must be an iterable of {'text', 'label'} mappings or (text, label) pairs")
    out = []
    for i, ex in enumerate(examples):
        if isinstance(ex, Mapping):
            if "text" not in ex or "label" not in ex:
                raise ValueError(f"examples[{i}] must have keys 'text' and 'label'; got {sorted(ex)}")
            text, label, cat = ex["text"], ex["label"], ex.get("category", "")
        elif isinstance(ex, (tuple, list)) and len(ex) == 2:
            (text, label), cat = ex, ""
        else:
            raise TypeError(f"examples[{i}] must be a mapping or a (text, label) pair; got {type(ex).__name__}")
        text = _as_text(f"examples[{i}] text", text)
        if isinstance(label, bool):
            label = int(label)
        if label not in (0, 1) or isinstance(label, float):
            raise ValueError(f"examples[{i}] label must be 0 or 1 (or a bool); got {label!r}")
        out.append((text, int(label), str(cat)))
    if not out:
        raise ValueError("examples must contain at least one example")
    return out


def evaluate(guard: Any, examples: Iterable[Any]) -> Evaluation:
    """Run ``guard.check`` on every example and compare "failed" with the label (1 = should fail).

    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R),
    false-positive rate = FP / (FP + TN); a zero denominator gives 0.0.
    """
    if not callable(getattr(guard, "check", None)):
        raise TypeError(f"guard must have a check(text) method; got {type(guard).__name__}")
    data = _iter_examples(examples)
    tp = fp = fn = tn = 0
    fns: list[str] = []
    fps: list[str] = []
    for text, label, _ in data:
        flagged = not guard.check(text).passed
        if label and flagged:
            tp += 1
        elif label:
            fn += 1
            fns.append(text)
        elif flagged:
            fp += 1
            fps.append(text)
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return Evaluation(precision, recall, f1, fpr, ((tn, fp), (fn, tp)), len(data), tuple(fns), tuple(fps))


@dataclass(frozen=True)
class CategoryRate:
    """How often a guard failed the texts of one corpus category."""

    category: str
    label: int
    n: int
    flagged: int

    @property
    def rate(self) -> float:
        """``flagged / n``."""
        return self.flagged / self.n


def rates_by_category(guard: Any, examples: Iterable[Any]) -> tuple[CategoryRate, ...]:
    """Share of texts the guard fails, per (category, label), in first-seen order.

    For a harmful category this is the recall on it; for a benign one, its false-positive rate.
    """
    if not callable(getattr(guard, "check", None)):
        raise TypeError(f"guard must have a check(text) method; got {type(guard).__name__}")
    counts: dict[tuple[str, int], list[int]] = {}
    for text, label, cat in _iter_examples(examples):
        c = counts.setdefault((cat, label), [0, 0])
        c[0] += 1
        c[1] += 0 if guard.check(text).passed else 1
    return tuple(CategoryRate(cat, label, n, k) for (cat, label), (n, k) in counts.items())


def load_corpus(guard: str | None = None, *, categories: Iterable[str] | None = None) -> tuple[dict, ...]:
    """The labelled guardrails corpus shipped with the package (``data/guardrails_corpus.jsonl``).

    Each example is a dict with ``text``, ``label`` (1 = the guard should fail it), ``category``,
    ``guard`` (``"injection"``, ``"pii"`` or ``"toxicity"``) and, for PII positives, ``entities``
    (the sorted list of entity types present), and ``batch``:

    - ``"v1"``: written before the rules. The rules were then developed with v1 in view, so figures
      on v1 alone are optimistic (in-sample).
    - ``"v2"``: written after the rules were frozen and evaluated once, untuned: the out-of-sample check.

    Categories ending in ``_heldout`` hold paraphrased attacks and implicit threats that rules are
    expected to miss; report them separately. Filter with ``guard`` and ``categories``.
    """
    if guard is not None:
        check_choice("guard", guard, ("injection", "pii", "toxicity"))
    cats = None
    if categories is not None:
        if isinstance(categories, (str, bytes)):
            raise TypeError("categories must be an iterable of category names, not a single string")
        cats = set(categories)
    raw = resources.files("prodai_lessons").joinpath("data/guardrails_corpus.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    if cats is not None:
        known = {r["category"] for r in rows}
        unknown = sorted(cats - known)
        if unknown:
            raise ValueError(f"categories contains unknown categories {unknown}; known: {sorted(known)}")
    return tuple(r for r in rows if (guard is None or r["guard"] == guard) and (cats is None or r["category"] in cats))
