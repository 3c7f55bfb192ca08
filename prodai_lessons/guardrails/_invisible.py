"""Invisible characters for the ``InvisibleTextGuard``: their kinds, and which ones belong to an emoji.

Following Unicode TS #51, a zero-width joiner or variation selector inside an emoji sequence (a
family emoji, a coloured heart, a keycap) is not hidden text; anything more is. ``_hidden`` counts
the rest with regexes on short texts and numpy on long ones (the tests check both agree). Private:
the lesson modules import from here, never the other way round.
"""

from __future__ import annotations

import re

import numpy as np

from ._fold import _INV, INVISIBLE_RANGES, INVISIBLE_RX
from ._text import _VECTOR_MIN, _codepoints


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
_INV_BOUNDS = (np.array([a for a, _ in INVISIBLE_RANGES]), np.array([b for _, b in INVISIBLE_RANGES]))
_EMOJI_BOUNDS = (np.array([a for a, _ in _EMOJI_RANGES]), np.array([b for _, b in _EMOJI_RANGES]))


def _in_ranges(cp: np.ndarray, bounds: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Whether each code point lies in one of the sorted, disjoint ranges ``bounds`` = (starts, ends)."""
    lo, hi = bounds
    i = np.searchsorted(lo, cp, side="right") - 1
    return (i >= 0) & (cp <= hi[np.maximum(i, 0)])


def _hidden_mask(cp: np.ndarray, allow_emoji_sequences: bool) -> np.ndarray:
    """The characters ``_HIDDEN_RX`` (or, without the emoji exemption, ``INVISIBLE_RX``) matches, with numpy.

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


def _hidden(text: str, allow_emoji_sequences: bool, max_positions: int) -> tuple[int, list[int]]:
    """How many invisible characters ``text`` hides (emoji joiners excepted if allowed), and where the first are.

    Returns ``(count, positions)`` with at most ``max_positions`` positions, in order.
    """
    if len(text) >= _VECTOR_MIN:  # the same answer with numpy (the tests check both agree)
        where = np.flatnonzero(_hidden_mask(_codepoints(text), allow_emoji_sequences))
        return len(where), where[:max_positions].tolist()
    count = len(text) - len(_INVISIBLE_RUN_RX.sub("", text))
    skip_emoji = bool(count and allow_emoji_sequences
                      and ("\u200d" in text or "\ufe0f" in text or "\ufe0e" in text))
    if skip_emoji:  # joiners and selectors inside emoji sequences are neither counted nor listed
        count -= _EMOJI_JOINER_RX.subn("", text)[1]
    positions: list[int] = []
    if count:
        for m in (_HIDDEN_RX if skip_emoji else INVISIBLE_RX).finditer(text):
            positions.append(m.start())
            if len(positions) >= max_positions:
                break
    return count, positions
