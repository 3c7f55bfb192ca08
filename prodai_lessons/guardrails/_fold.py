"""The machinery behind ``normalize``: fold tables, the offset map back to the original, numpy paths.

``guardrails.normalization.fold`` states what folding does in a few lines; ``normalize`` gives the
same text fast (one ``str.translate`` per text, numpy for long texts) and a map from every folded
character back to the original. The tests check every fast path here against its plain twin.
Private: the lesson modules import from here, never the other way round.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from ._text import _DELETED, _VECTOR_MIN, _codepoints, _from_codepoints

# Characters that render as nothing: every Unicode "format" character (category Cf), C0/C1 controls
# other than whitespace, variation selectors, the combining grapheme joiner, Hangul fillers and Khmer
# inherent vowels. The test suite checks that every Cf code point is covered.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0008), (0x000E, 0x001B), (0x007F, 0x0084), (0x0086, 0x009F), (0x00AD, 0x00AD),
    (0x034F, 0x034F), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
)
_INV = "".join(
    re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in INVISIBLE_RANGES
)
INVISIBLE_RX = re.compile(f"[{_INV}]")

# Look-alike letters from other scripts, matched after case folding (so uppercase forms are covered).
HOMOGLYPHS = {
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
    if INVISIBLE_RX.match(ch):
        return chr(cp - 0xE0000).lower() if 0xE0020 <= cp <= 0xE007E else ""  # tags smuggle ASCII
    if ch.isspace():
        return " "
    s = unicodedata.normalize("NFKC", ch).casefold()
    s = unicodedata.normalize("NFD", s)
    s = "".join(HOMOGLYPHS.get(c, c) for c in s if not unicodedata.combining(c))
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
for _lo, _hi in INVISIBLE_RANGES:
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
SPACED_RX = re.compile(r"(?<![a-z])[a-z]([ .\-_*])[a-z](?![a-z])(?:\1[a-z](?![a-z]))+")
# Leetspeak, folded only inside a token that also contains a letter ("ign0re", "k1ll"; not "2024"),
# and not in identifiers that end in a number ("base64", "sha256").
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                      "@": "a", "$": "s"})
_LEET_RX = re.compile(r"(?<![a-z0-9@$])[a-z]*[0-9@$][a-z0-9@$]*")
# A token holding both a letter and a digit/"@"/"$" has the two side by side somewhere: without such
# a pair there is nothing to fold (most texts, and every text without letters, skip the fold).
_MIXED_RX = re.compile(r"[a-z][0-9@$]|[0-9@$][a-z]")
IDENT_RX = re.compile(r"[a-z]+[0-9]{2,}")
_LEET_LOOKUP = np.arange(128, dtype=np.uint32)
for _k, _v in {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}.items():
    _LEET_LOOKUP[ord(_k)] = ord(_v)
del _k, _v


def _leet_sub(m: re.Match) -> str:
    token = m.group()
    if not any("a" <= c <= "z" for c in token) or IDENT_RX.fullmatch(token):
        return token  # a number ("2024") or an identifier ending in a number ("base64", "sha256")
    return token.translate(LEET)


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
    """Whether ``SPACED_RX`` matches in ``s``. Every match starts with three lone letters (no letter
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
    return SPACED_RX.search(s) is not None


def _has_mixed_token(s: str) -> bool:
    """Whether ``_MIXED_RX`` matches in ``s``: a letter next to a digit, "@" or "$"."""
    classes = _ascii_classes(s) if len(s) >= _VECTOR_MIN else None
    if classes is None:
        return _MIXED_RX.search(s) is not None
    letter, digit_or_sym, _ = classes
    return bool((letter[:-1] & digit_or_sym[1:]).any() or (digit_or_sym[:-1] & letter[1:]).any())




#: ``str.translate`` table that turns every ASCII character but a-z into a space.
_LETTERS_ONLY = {c: " " for c in range(128) if not 97 <= c <= 122}
_WORD_RX = re.compile(r"[a-z]+")


def _words(t: str) -> list[str]:
    """The words ``[a-z]+`` of ``t``, as ``_WORD_RX.findall(t)``; a long ASCII text by translate + split."""
    if len(t) >= _VECTOR_MIN and t.isascii():
        return t.translate(_LETTERS_ONLY).split()
    return _WORD_RX.findall(t)


def _char_label(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}"


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
    if fold_obfuscation and SPACED_RX.search(s) is not None:
        kept: list[int] = []
        prev = 0
        for m in SPACED_RX.finditer(s):
            a, e = m.span()
            kept += owner[prev:a]
            kept += owner[a:e:2]  # the letters; the separators between them go
            prev = e
        kept += owner[prev:]
        owner, s = kept, SPACED_RX.sub(_join_spaced, s)
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
        for m in SPACED_RX.finditer(s):
            keep[m.start() + 1:m.end():2] = False
        if not keep.all():
            owner = owner[keep]
            s = SPACED_RX.sub(_join_spaced, s)
        if "_" in s:
            s = s.replace("_", " ")
    if "  " in s:
        b = _codepoints(s) == 32
        keep = ~(b & np.concatenate(([False], b[:-1])))
        owner = owner[keep]
    return owner

