"""Plumbing shared by the guards: text at the public boundary, code point arrays for the numpy paths.

Private: the lesson modules import from here, never the other way round.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prodai_lessons._validation import check_str

#: Texts at least this long take the numpy fast paths instead of one regex callback per match.
_VECTOR_MIN = 4096
_DELETED = 0xFFFFFFFF  # marks a removed character in a numpy code point array (not a code point)


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


def _check_name(name: Any) -> str:
    return check_str("name", name)


def _codepoints(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _from_codepoints(a: np.ndarray) -> str:
    return a.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a boolean array (0 if none)."""
    edges = np.flatnonzero(np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0)))
    return int((edges[1::2] - edges[0::2]).max()) if len(edges) else 0
