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

import bisect
import functools
import hashlib
import hmac
import json
import math
import re
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
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
_SPACES_RX = re.compile(r" {2,}")
# Letter-spaced words ("i g n o r e", "m-o-r-o-n"): 3+ single letters, one separator repeated.
_SPACED_RX = re.compile(r"(?<![a-z])[a-z]([ .\-_*])[a-z](?![a-z])(?:\1[a-z](?![a-z]))+")
# Leetspeak, folded only inside a token that also contains a letter ("ign0re", "k1ll"; not "2024"),
# and not in identifiers that end in a number ("base64", "sha256").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                       "@": "a", "$": "s"})
_LEET_RX = re.compile(r"(?<![a-z0-9@$])[a-z]*+[0-9@$][a-z0-9@$]*+")
_IDENT_RX = re.compile(r"[a-z]+[0-9]{2,}")
_LEET_LOOKUP = np.arange(128, dtype=np.uint32)
for _k, _v in {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}.items():
    _LEET_LOOKUP[ord(_k)] = ord(_v)
del _k, _v
#: Texts at least this long are leet-folded with numpy instead of one regex callback per token.
_VECTOR_MIN = 4096


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
    """The same result as ``_LEET_RX.sub(_leet_sub, s)``, computed per token with numpy (long texts)."""
    b = _codepoints(s).copy()
    letter = (b >= 97) & (b <= 122)
    digit = (b >= 48) & (b <= 57)
    sym = (b == 64) | (b == 36)
    in_tok = letter | digit | sym
    prev_in = np.concatenate(([False], in_tok[:-1]))
    starts = in_tok & ~prev_in
    if not starts.any():
        return s
    tok = np.cumsum(starts) - 1
    idx = tok[in_tok]
    ntok = int(starts.sum())
    n_letters = np.bincount(idx, weights=letter[in_tok], minlength=ntok)
    n_digits = np.bincount(idx, weights=digit[in_tok], minlength=ntok)
    n_syms = np.bincount(idx, weights=sym[in_tok], minlength=ntok)
    prev_digit = np.concatenate(([False], digit[:-1]))
    letter_after_digit = np.bincount(idx, weights=(letter & prev_digit)[in_tok], minlength=ntok)
    first_letter = letter[starts]
    ident = (n_syms == 0) & (n_digits >= 2) & (n_letters >= 1) & (letter_after_digit == 0) & first_letter
    fold_tok = (n_letters > 0) & ~ident & ((n_digits + n_syms) > 0)
    where = np.zeros(len(b), dtype=bool)
    where[in_tok] = fold_tok[idx]
    where &= digit | sym
    if not where.any():
        return s
    b[where] = _LEET_LOOKUP[b[where]]
    return _from_codepoints(b)


def _join_spaced(m: re.Match) -> str:
    return m.group()[::2]


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
    def _owner(self) -> np.ndarray | None:
        """``owner[j]`` = index in ``original`` of the character that produced ``text[j]``."""
        if self._exact:
            return None
        text = self.original
        n = len(text)
        cp = _codepoints(text)
        lengths = np.empty(n, dtype=np.int64)
        ascii_ = cp < 128
        lengths[ascii_] = _ASCII_FOLD_LEN[cp[ascii_]]
        if not ascii_.all():
            uniq, inv = np.unique(cp[~ascii_], return_inverse=True)
            lengths[~ascii_] = np.array([len(_FOLD[int(u)]) for u in uniq], dtype=np.int64)[inv]
        owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
        s = text.translate(_FOLD)
        if self.fold_obfuscation:
            keep = np.ones(len(s), dtype=bool)
            for m in _SPACED_RX.finditer(s):
                keep[m.start() + 1:m.end():2] = False
            if not keep.all():
                owner = owner[keep]
                s = _SPACED_RX.sub(_join_spaced, s)
        if "  " in s:
            b = _codepoints(s) == 32
            keep = ~(b & np.concatenate(([False], b[:-1])))
            owner = owner[keep]
        if len(owner) != len(self.text):  # pragma: no cover - an internal consistency check
            raise RuntimeError("normalize: offset map out of step with the folded text")
        return owner

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map ``text[start:end]`` to ``(s, e)`` such that ``original[s:e]`` produced it."""
        if not (0 <= start <= end <= len(self.text)):
            raise ValueError(f"span must satisfy 0 <= start <= end <= {len(self.text)}; got ({start}, {end})")
        owner = self._owner
        if owner is None:
            return start, end
        if start == end:
            s = int(owner[start]) if start < len(owner) else len(self.original)
            return s, s
        return int(owner[start]), int(owner[end - 1]) + 1


_ASCII_FOLD_LEN = np.array([len(_fold_char(chr(c))) for c in range(128)], dtype=np.int64)


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
       more single letters with one repeated separator, so a wider gap still separates words).
    3. Runs of spaces become one space.
    4. With ``fold_obfuscation``: leetspeak is folded inside tokens that also contain a letter
       ("ign0re" -> "ignore", "@ll" -> "all"; "2024" and identifiers such as "base64" or "sha256"
       stay), and "_" becomes a space.

    Every step is a single left-to-right pass: linear time. Returns a ``NormalizedText``.
    ``TypeError`` for anything but ``str``/UTF-8 ``bytes``; ``ValueError`` for invalid UTF-8.
    """
    text = _as_text("text", text)
    fold_obfuscation = bool(fold_obfuscation)
    if text.isascii() and _ASCII_SPECIAL_RX.search(text) is None:
        s = text.lower()
        exact = True
    else:
        s = text.translate(_FOLD)
        exact = False
    if fold_obfuscation and _SPACED_RX.search(s) is not None:
        s = _SPACED_RX.sub(_join_spaced, s)
        exact = False
    if "  " in s:
        s = _SPACES_RX.sub(" ", s)
        exact = False
    if fold_obfuscation:
        if _LEET_RX.search(s) is not None:
            s = _leet_vectorized(s) if len(s) >= _VECTOR_MIN else _LEET_RX.sub(_leet_sub, s)
        if "_" in s:
            s = s.replace("_", " ")
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
    ("instruction_override", "override_instructions", 0.9, 'ignore disregard forget override overrule bypass skip drop abandon discard set stop do don no cancel neglect',
     rf"\b{_OVERRIDE_VERB} {_MOD}{_TARGET}\b"),
    ("instruction_override", "override_multilingual", 0.9, 'ignorez ignorer ignore ignores oubliez oublie oublier ignora ignoren olvida olvide olviden descarta ignoriere ignorier ignorieren vergiss vergessen missachte dimentica dimenticate ignorate trascura esqueca esquece desconsidere ne',
     rf"\b{_ML_OVERRIDE_VERB} {_ML_MOD}{_ML_TARGET}\b"),
    ("instruction_override", "forget_everything_before", 0.85, 'forget ignore disregard',
     r"\b(?:forget|ignore|disregard) (?:everything|all|anything) (?:(?:that|which) )?"
     r"(?:above|before|prior|previously|so far|up to now|that came before|"
     r"you(?: were|'ve been| have been) (?:told|given|instructed))"),
    ("instruction_override", "forget_everything_multilingual", 0.85, 'oubliez oublie olvida olvide vergiss dimentica',
     r"\b(?:oubliez|oublie) tout(?: ce qui precede| ce que)|\b(?:olvida|olvide) todo(?: lo anterior)?\b|"
     r"\bvergiss alles\b|\bdimentica tutto\b"),
    ("instruction_override", "system_override", 0.8, 'system safety content',
     r"\bsystem override\b|\b(?:safety|content) (?:filters?|guidelines|rules|restrictions) "
     r"(?:are )?(?:disabled|off|removed|lifted|suspended)\b"),
    ("instruction_override", "not_bound_by_rules", 0.6, 'bound restricted limited constrained',
     r"\b(?:no longer|not) (?:bound|restricted|limited|constrained) by\b"),
    ("instruction_override", "new_instructions", 0.6, 'new updated different real actual true',
     r"\b(?:new|updated|different|real|actual|true) (?:instructions|rules|directives|policy|task|orders)"
     r"(?: (?:are|is)\b|:)"),
    ("instruction_override", "forget_what_i_said", 0.4, 'forget ignore disregard',
     r"\b(?:forget|ignore|disregard) (?:everything|all) (?:that )?i (?:said|told you|wrote)\b"),
    ("role_reassignment", "unrestricted_persona", 0.8, 'unrestricted unfiltered uncensored jailbroken unlimited unbound evil rogue amoral unethical dan stan developer god',
     rf"\b{_ROLE_INTRO} {_ROLE_FILLER}{_ROLE_TARGET}\b"),
    ("role_reassignment", "special_mode", 0.75, 'mode',
     r"\b(?:enter|enable|activate|switch to|turn on|you are now in|you are in|engage) (?:the )?"
     r"(?:developer|god|debug|admin|dan|jailbreak|unrestricted|sudo) mode\b|"
     r"\b(?:developer|god|dan|jailbreak) mode (?:enabled|activated|engaged)\b"),
    ("role_reassignment", "without_restrictions", 0.45, 'without with no free sin ohne sans senza sem',
     r"\b(?:without|with no|no|free of|free from|sin|ohne|sans|senza|sem) "
     r"(?:any |all |your |the |aucune |ninguna |jegliche |alcuna |quaisquer )?"
     r"(?:restrictions?|filters?|limits?|limitations?|censorship|rules|guidelines|ethical guidelines|ethics|"
     r"guardrails|content polic(?:y|ies)|restricciones|einschrankungen|restrizioni|restricoes)\b"),
    ("role_reassignment", "you_are_now", 0.35, 'you from tu vous ahora du sie ora agora',
     r"\byou are now\b|\bfrom now on,? you (?:are|will)\b|\b(?:tu es|vous etes) maintenant\b|"
     r"\bahora (?:eres|es)\b|\b(?:du bist|sie sind) jetzt\b|\bora sei\b|\bagora (?:voce e|es)\b"),
    ("role_reassignment", "pretend", 0.3, 'pretend act roleplay role imagine',
     r"\b(?:pretend (?:to be|you are|you're)|act as if|roleplay as|role-play as|imagine you are)\b"),
    ("role_reassignment", "jailbreak_word", 0.3, 'jailbreak jailbreaked jailbreaking', r"\bjailbreak(?:ed|ing)?\b"),
    ("prompt_exfiltration", "reveal_system_prompt", 0.85, 'system initial preprompt pre hidden secret original internal confidential developer first',
     rf"\b{_REVEAL} (?:me |us )?(?:(?:your|the|all|of|entire|full|complete|exact|verbatim|whole|current) )"
     rf"{{0,4}}{_QUALIFIED_PROMPT}\b"),
    ("prompt_exfiltration", "reveal_multilingual", 0.8, 'prompt instrucciones anweisungen systemprompt istruzioni instrucoes instructions consignes',
     r"\b(?:revelez|revele|revela|reveler|montrez|montre|affichez|affiche|muestrame|muestra|muestre|"
     r"zeige|zeig|rivela|mostra|mostrami|mostre) (?:(?:moi|me|mir|uns|votre|ton|tes|vos|tu|tus|el|la|las|"
     r"los|deinen|deine|den|die|ihre|il|le|les|o|a|as|os|seu|sua|suas|ocultas|geheimen|secretes|segrete|"
     r"secretas|internes) ){0,4}(?:prompt|instrucciones|anweisungen|systemprompt|istruzioni|instrucoes|"
     r"instructions|consignes)\b"),
    ("prompt_exfiltration", "reveal_your_rules", 0.7, 'your',
     r"\b" + _REVEAL + r" (?:me |us )?your (?:(?:[a-z']+) ){0,2}"
     r"(?:prompt|instructions|rules|guidelines|configuration|secrets?)\b"),
    ("prompt_exfiltration", "repeat_preceding_text", 0.6, 'repeat print output recite show reveal display dump',
     r"\b(?:repeat|print|output|recite|show|reveal|display|dump) (?:me )?(?:(?:all|everything|the|text|"
     r"words|content|contents|of|verbatim) ){0,3}(?:above|before this|preceding|that came before|"
     r"in your context)\b"),
    ("prompt_exfiltration", "what_is_your_prompt", 0.6, 'what given',
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
    ("encoded_payload", "decode_and_follow", 0.7, 'decode decrypt deobfuscate unscramble translate convert',
     r"\b(?:decode|decrypt|deobfuscate|unscramble|translate|convert) (?:(?:this|the|following|it|that|string|"
     r"text|message|payload|base64|rot13|hex|and|then|is|below) ){0,5}(?:follow|execute|run|obey|perform|"
     r"apply)\b"),
    ("encoded_payload", "escaped_bytes", 0.4, '=\\', r"(?:\\x[0-9a-f]{2}){4}|(?:\\u[0-9a-f]{4}){3}"),
    ("encoded_payload", "encoding_mention", 0.2, 'base rot hex', r"\b(?:base64|base 64|rot13|rot-13|hex-encoded)\b"),
)
# A base64-looking blob (checked on the *original* text: case matters): a run of 20+ characters of
# the base64 alphabet that contains a digit, '+' or '/', or ends in '='. Anchored at the start of
# its run and possessive, so each run is scanned once.
_B64_RX = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{20,}+=?=?(?![A-Za-z0-9+/=])")
_B64_SIGN_RX = re.compile(r"[0-9+/=]")
_B64_WEIGHT = 0.35


_WORD_RX = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class _Rule:
    """One compiled pattern. ``words``/``substrings``: at least one occurs in every match (a cheap gate)."""

    family: str
    name: str
    weight: float
    words: frozenset
    substrings: tuple[str, ...]
    rx: re.Pattern
    left_boundary: bool


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

    A leading word boundary ``\\b`` on every top-level alternative is removed from the regex and
    checked in Python instead: a pattern that starts with literal words lets the regex engine skip
    ahead to the characters that can start a match, several times faster on long texts.
    """
    rules = []
    for fam, pname, w, anchors, src in patterns:
        words, subs = set(), []
        for a in anchors.split():
            if a.startswith("="):
                subs.append(a[1:])
            elif a.startswith("@"):
                words.update(vocab[a[1:]].split("|"))
            else:
                words.add(a)
        alts = _top_level_alternatives(src)
        left = all(a.startswith(r"\b") for a in alts)
        if left:
            src = "|".join(a[2:] for a in alts)
        rules.append(_Rule(fam, pname, w, frozenset(words), tuple(subs), re.compile(src), left))
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
        self.vocab = frozenset(index)
        self.by_substring = tuple((i, r.substrings) for i, r in enumerate(rules) if r.substrings)


def _scan(ruleset: _RuleSet, t: str, *, gate: bool = True, limit: int = 100,
          accept: Callable[[int, int], bool] | None = None):
    """Yield (rule, start, end) for the matches of every rule in ``t`` (non-overlapping per rule).

    With ``gate`` a rule runs only if one of its anchor words occurs in ``t`` as a word (or one of
    its anchor substrings occurs); the tests check that gating never changes the result. After
    ``limit`` matches in all, each further rule yields at most its first match: enough for a
    score that depends on *which* rules matched, while the work on a hostile text stays bounded.
    ``accept(start, end)`` can veto a match (it then neither counts nor is yielded).
    """
    rules = ruleset.rules
    if gate:
        index = ruleset.index
        chosen = set()
        for w in ruleset.vocab.intersection(_WORD_RX.findall(t)):
            chosen.update(index[w])
        for i, subs in ruleset.by_substring:
            if any(x in t for x in subs):
                chosen.add(i)
        rules = [rules[i] for i in sorted(chosen)]
    count = 0
    for rule in rules:
        rx, pos = rule.rx, 0
        while True:
            m = rx.search(t, pos)
            if m is None:
                break
            s, e = m.span()
            if rule.left_boundary and s > 0 and (t[s - 1].isalnum() or t[s - 1] == "_"):
                pos = s + 1  # started inside a word: what "\b" would have refused
                continue
            if accept is not None and not accept(s, e):
                pos = e if e > s else e + 1
                continue
            yield rule, s, e
            count += 1
            if count >= limit:
                break
            pos = e if e > s else e + 1


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
        for m in _B64_RX.finditer(text):
            if _B64_SIGN_RX.search(m.group()) is None:
                continue  # a long word, not an encoding
            weights["base64_blob"] = _B64_WEIGHT
            if len(findings) < self.max_findings:
                findings.append(Finding("encoded_payload", m.span(), "base64_blob"))
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


# Pictographic symbols (emoji and the symbol blocks they come from), after which a zero-width joiner
# or a variation selector is part of an emoji sequence rather than hidden text.
_EMOJI = ("\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf"
          "\u2934\u2935\u2b00-\u2bff\u3030\u303d\u3297\u3299\U0001F000-\U0001FAFF")
_EMOJI_JOINER_RX = re.compile(f"(?<=[{_EMOJI}\ufe0f])[\u200d\ufe0e\ufe0f]")
_INVISIBLE_RUN_RX = re.compile(f"[{_INV}]+")


class InvisibleTextGuard:
    """Fail texts that carry more than ``max_invisible`` invisible characters.

    Invisible characters (zero-width spaces and joiners, bidirectional overrides as in the "Trojan
    Source" attack, Boucher & Anderson 2021; Unicode tag characters that smuggle ASCII; control
    characters) hide instructions from a human reviewer while a model still reads them. Findings
    report each one with its kind (``zero_width``, ``bidi_control``, ``tag``, ``control``,
    ``variation_selector``, ``other_invisible``) and span, the first ``max_findings`` of them; the
    count in ``reason`` and ``score`` is exact. A zero-width joiner or variation selector right
    after a pictographic symbol is part of an emoji sequence (a family emoji, a coloured heart) and
    is not counted when ``allow_emoji_sequences`` is true. ``score`` is min(1, count / (max_invisible + 1)).
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
        total = len(text) - len(_INVISIBLE_RUN_RX.sub("", text))
        emoji_ok: set[int] = set()
        if total and self.allow_emoji_sequences and ("\u200d" in text or "\ufe0f" in text or "\ufe0e" in text):
            emoji_ok = {m.start() for m in _EMOJI_JOINER_RX.finditer(text)}
        count = total - len(emoji_ok)
        findings: list[Finding] = []
        if count:
            for m in _INVISIBLE_RX.finditer(text):
                k = m.start()
                if k in emoji_ok:
                    continue
                cp = ord(m.group())
                findings.append(Finding(_invisible_kind(cp), (k, k + 1), f"U+{cp:04X}"))
                if len(findings) >= self.max_findings:
                    break
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
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


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
    remainder = 0
    for ch in rearranged:  # digit-by-digit mod 97, so no big integers are needed
        v = ord(ch) - 48 if ch.isdigit() else ord(ch) - 55
        remainder = (remainder * (100 if v > 9 else 10) + v) % 97
    return remainder == 1


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
    r"(?<![a-z0-9._%+\-])[a-z0-9._%+\-]{1,64}(?: dot [a-z0-9\-]{1,63}){0,3} (?:at|\[at\]|\(at\)) "
    r"[a-z0-9\-]{1,63}(?: (?:dot|\[dot\]|\(dot\)) [a-z0-9\-]{1,63}){0,3} (?:dot|\[dot\]|\(dot\)) "
    r"(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz)\b")
_NANP_RX = re.compile(
    r"(?<![\w+])(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}(?!\w)")
_NANP_BARE_RX = re.compile(
    r"\b(?:phone|tel|telephone|cell|mobile|call|fax|text|whatsapp|sms)\b[^0-9\n]{0,20}?"
    r"(?<![\d+])(?P<num>(?:\+?1)?[2-9]\d{2}[2-9]\d{6})(?!\d)")
_E164_RX = re.compile(r"(?<![\w+])\+[1-9][0-9 ().\-]{6,22}+")
_SSN_RX = re.compile(r"(?<![\w\-])(\d{3})([ \-])(\d{2})\2(\d{4})(?![\w\-])")
_SSN_BARE_RX = re.compile(
    r"\b(?:ssn|social security(?: number| no\.?| #)?)\b[^0-9\n]{0,20}?(?<!\d)(?P<num>\d{9})(?!\d)")
_CARD_RX = re.compile(r"(?<![\w\-])\d(?:[ \-]?\d){12,18}+(?![\w\-])")
_IPV4_RX = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?!\w|\.\d)")
_IBAN_RX = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?: ?[a-z0-9]){11,30}")


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


class PIIGuard:
    """Find personal data in a text, validate each candidate, report *all* findings; redact on request.

    Entity types (``Finding.type``) and the checks applied to each candidate:

    - ``email``: RFC 5321 shape (local part <= 64, labelled domain, alphabetic TLD); also the spoken
      form "name at example dot com".
    - ``phone``: NANP (+1, area and exchange codes 2-9xx, separated as 212-555-0143, (212) 555-0143,
      212.555.0143; bare 10 digits only after a word such as "phone", "call", "tel") and international
      E.164 (+, country code, 8-15 digits in all, ITU-T E.164).
    - ``ssn``: US SSN as ddd-dd-dddd or ddd dd dddd (bare 9 digits only after "SSN"/"social security"),
      with the SSA validity rules (area not 000/666/9xx, group not 00, serial not 0000).
    - ``credit_card``: 13-19 digits with optional space/dash separators, a known issuer prefix
      (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro) and a valid Luhn check digit.
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
        cands: list[tuple[int, int, str, str]] = []
        want = self.entities
        if "email" in want and "@" in t:
            cands += [(*m.span(), "email", "address") for m in _EMAIL_RX.finditer(t)]
        if "email" in want and " at " in t:
            cands += [(*m.span(), "email", "spoken") for m in _EMAIL_SPOKEN_RX.finditer(t)]
        if "phone" in want:
            cands += [(*m.span(), "phone", "nanp") for m in _NANP_RX.finditer(t)]
            cands += [(*m.span("num"), "phone", "nanp") for m in _NANP_BARE_RX.finditer(t)]
            if "+" in t:
                n = len(t)
                for m in _E164_RX.finditer(t):
                    s, e = m.span()
                    if e < n and t[e].isdigit():
                        continue  # the bounded run stopped inside a longer digit string
                    chunk = m.group().rstrip(" ().-")  # trailing separators belong to the sentence
                    seps = chunk.count(" ") + chunk.count(".") + chunk.count("-")
                    opened = chunk.count("(")
                    n_digits = len(chunk) - 1 - seps - opened - chunk.count(")")
                    if 8 <= n_digits <= 15 and "  " not in chunk and opened == chunk.count(")"):
                        cands.append((s, s + len(chunk), "phone", "e164"))
        if "ssn" in want:
            for m in _SSN_RX.finditer(t):
                if ssn_valid(m.group(1), m.group(3), m.group(4)):
                    cands.append((*m.span(), "ssn", "us"))
            for m in _SSN_BARE_RX.finditer(t):
                d = m.group("num")
                if ssn_valid(d[:3], d[3:5], d[5:]):
                    cands.append((*m.span("num"), "ssn", "us"))
        if "credit_card" in want:
            for m in _CARD_RX.finditer(t):
                chunk = m.group()
                digits = chunk.replace(" ", "").replace("-", "")
                if " " in chunk and "-" in chunk:
                    continue  # mixed separators: not how card numbers are written
                net = _card_network(digits)
                if net is not None and luhn_valid(digits):
                    cands.append((*m.span(), "credit_card", net))
        if "ipv4" in want and "." in t:
            cands += [(*m.span(), "ipv4", "") for m in _IPV4_RX.finditer(t)]
        if "iban" in want:
            for m in _IBAN_RX.finditer(t):
                s = m.start()
                country = t[s:s + 2].upper()
                length = IBAN_LENGTHS.get(country)
                if length is None:
                    continue
                # Take exactly `length` alphanumerics (the regex may have run into the next word).
                count, k = 0, s
                while k < m.end() and count < length:
                    if t[k] != " ":
                        count += 1
                    k += 1
                if count < length or (k < len(t) and t[k].isalnum()):
                    continue
                if iban_valid(t[s:k]):
                    cands.append((s, k, "iban", country))
        cands.sort(key=lambda c: (c[0], -(c[1] - c[0])))
        findings: list[Finding] = []
        last_end = -1
        for s, e, typ, detail in cands:
            if s < last_end:
                continue  # overlaps a finding already kept
            findings.append(Finding(typ, norm.to_original(s, e), detail))
            last_end = e
        return tuple(findings)

    def check(self, text: str | bytes) -> GuardResult:
        """Fail when any PII is found; ``findings`` lists every one (type, span, detail)."""
        findings = self.find(text)
        if not findings:
            return GuardResult(self.name, True, 0.0, "no PII found")
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.type] = counts.get(f.type, 0) + 1
        listed = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
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
    ("threat", "first_person_violence", 0.9, 'kill murder hurt stab shoot strangle choke punch slap smash break burn destroy poison',
     rf"\b(?:i|we) ?{_FUTURE} (?:\w+ )?{_VIOLENT_VERB} (?:you|u|ya|your|y'all)\b"),
    ("threat", "beat_you_up", 0.9, 'beat', r"\bbeat (?:you|u|ya) (?:up|senseless|to death|black and blue)\b"),
    ("threat", "hunt_you_down", 0.85, 'hunt track find', r"\b(?:hunt|track) (?:you|u) down\b|\bfind (?:you|u) and\b"),
    ("threat", "wish_death", 0.9, 'die rot dead', r"\b(?:i hope|hope) (?:you|u) (?:die|rot)\b|\bdrop dead\b|"
     r"\bi wish you were dead\b"),
    ("threat", "you_are_dead", 0.8, 'dead', r"\b(?:you're|you are|ur) (?:so )?dead\b|\byou're a dead man\b"),
    ("threat", "watch_your_back", 0.75, 'watch', r"\bwatch your back\b"),
    ("threat", "make_you_pay", 0.7, 'make', r"\bmake (?:you|u) (?:pay|suffer|regret)\b"),
    ("threat", "coming_to_you", 0.7, 'coming', r"\bget what's coming\b"),
    ("insult", "insult_at_you", 0.85, '@INSULT_MILD',
     rf"\b(?:you|u)(?:'re| are|r| is)? (?:(?:a|an|the|such|so|complete|absolute|total|utter|"
     rf"little|big|real|{_INSULT_MILD[3:-1]}) ){{0,2}}{_INSULT_MILD}\b"),
    ("insult", "insult_you_are", 0.85, '@INSULT_MILD', rf"\b{_INSULT_MILD} (?:like )?(?:you|u)(?: are|'re)?\b"),
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
        out: list[tuple[int, int]] = []
        if self._allow_rx is None:
            return out
        pos = 0
        while True:
            m = self._allow_rx.search(t, pos)
            if m is None:
                return out
            s, e = m.span()
            if s > 0 and (t[s - 1].isalnum() or t[s - 1] == "_"):
                pos = s + 1  # starts inside a word
                continue
            out.append((s, e))
            pos = e

    def check(self, text: str | bytes) -> GuardResult:
        """Return the noisy-OR severity score of the lexicon matches outside allow-listed phrases."""
        text = _as_text("text", text)
        norm = normalize(text)
        t = norm.text
        findings: list[Finding] = []
        sev: dict[str, float] = {}
        allowed: list[tuple[int, int]] = []  # allow-listed phrases: found once, on the first match
        starts: list[int] = []
        searched = False

        def outside_allow_list(a: int, b: int) -> bool:
            nonlocal searched
            if not searched:
                searched = True
                allowed.extend(self._allowed_spans(t))
                starts.extend(x for x, _ in allowed)
            k = bisect.bisect_right(starts, a) - 1  # the spans do not overlap: one candidate
            return not (k >= 0 and b <= allowed[k][1])

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
_JSON_TYPES = {"string": str, "number": (int, float), "integer": int, "boolean": bool, "array": list,
               "object": dict, "null": type(None)}


class FormatGuard:
    """The output must be a JSON object holding ``required`` fields (optionally of given JSON types).

    ``required`` is a sequence of field names, or a mapping name -> JSON type name (``"string"``,
    ``"number"``, ``"integer"``, ``"boolean"``, ``"array"``, ``"object"``, ``"null"``), a small subset
    of JSON Schema's ``required`` + ``type`` keywords. A Markdown code fence around the JSON is
    accepted when ``allow_code_fence`` is true (models often add one). Booleans are not numbers here,
    as in JSON Schema. ``score`` is 1.0 on failure, else 0.0. Findings: ``invalid_json`` (span at the
    parse error), ``not_an_object``, ``missing_field``, ``wrong_type``.
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
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            at = offset + exc.pos
            return GuardResult(self.name, False, 1.0, f"not valid JSON: {exc.msg} at character {at}",
                               (Finding("invalid_json", (at, min(at + 1, len(text)))),))
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
            c[{"block": "blocked", "redact": "redacted", "flag": "flagged"}[action]] += 1
        allowed = not blocked
        self._totals[f"{stage}s_checked"] += 1
        if not allowed:
            self._totals[f"{stage}s_blocked"] += 1
        self._seq += 1
        result = PipelineResult(stage, allowed, current if allowed else None, tuple(results), tuple(blocked),
                                tuple(redacted), tuple(flagged), tuple(errors))
        self.log.append(LogEntry(self._seq, stage, user, timestamp, len(text), allowed, result.triggered,
                                 tuple(actions), tuple(r.reason for r in results if not r.passed)))
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
