"""Cheap input guards: a length limit, hidden characters, and a per-user rate limit.

They run before the model, so a blocked request costs nothing. Each is a small class with a
``name`` and a ``check(text)``; the rate limiter also takes the ``user`` (the pipeline passes it).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from prodai_lessons._validation import check_int, check_real, check_str

from ._fold import _ASCII_SPECIAL_RX
from ._invisible import _hidden, _invisible_kind
from ._text import _as_text, _check_name
from .results import Finding, GuardResult

__all__ = ["LengthGuard", "InvisibleTextGuard", "RateLimitGuard"]


class LengthGuard:
    """Fail texts longer than ``max_chars`` characters or ``max_tokens`` estimated tokens.

    Parameters: ``max_chars`` and ``max_tokens`` (the limits), ``chars_per_token`` (ASCII characters
    per token in the estimate, default 4), ``name``.

    >>> guard = LengthGuard(max_chars=20, max_tokens=4)
    >>> guard.check("hello world")
    GuardResult('length', pass, score=0.75, reason='11 characters, ~3 tokens', findings=0)
    >>> guard.check("a" * 30).reason
    'too long: 30 characters > 20; ~8 tokens > 4'

    Notes
    -----
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


class InvisibleTextGuard:
    """Fail texts that carry more than ``max_invisible`` invisible characters.

    Parameters: ``max_invisible`` (how many are tolerated, default 0), ``allow_emoji_sequences``
    (do not count the joiners and selectors that are part of an emoji), ``max_findings``, ``name``.

    >>> guard = InvisibleTextGuard()
    >>> r = guard.check("pay\u200b now")
    >>> r.reason, r.findings
    ('1 invisible character(s) > 0: zero_width', (Finding(type='zero_width', span=(3, 4), detail='U+200B'),))
    >>> guard.check("\u2764\ufe0f").passed
    True

    Notes
    -----
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
        if text.isascii() and _ASCII_SPECIAL_RX.search(text) is None:  # most texts: nothing to look for
            return GuardResult(self.name, True, 0.0, "0 invisible character(s)")
        count, positions = _hidden(text, self.allow_emoji_sequences, self.max_findings)
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

    Parameters: ``capacity`` (burst size), ``rate`` (tokens per second), ``cost`` (tokens per
    request), ``clock`` (a callable returning seconds; default ``time.monotonic``), ``max_users``
    (buckets kept), ``name``.

    >>> now = [0.0]
    >>> limiter = RateLimitGuard(capacity=2, rate=1.0, clock=lambda: now[0])
    >>> [limiter.check(user="ann").passed for _ in range(3)]
    [True, True, False]
    >>> now[0] = 1.0
    >>> limiter.check(user="ann").passed
    True

    Notes
    -----
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
