"""What a guard returns: a verdict with a score and a reason, and the findings that point into the text.

Every guard has a ``name`` and a ``check(text) -> GuardResult``; that is the whole interface a
``GuardrailPipeline`` needs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "GuardResult"]


@dataclass(frozen=True)
class Finding:
    """One thing a guard found: its ``type``, the ``span`` (start, end) in the original text, a ``detail``.

    >>> text = "mail ann@example.com"
    >>> f = Finding("email", (5, 20), "address")
    >>> text[f.span[0]:f.span[1]]
    'ann@example.com'
    """

    type: str
    span: tuple[int, int]
    detail: str = ""


@dataclass(frozen=True)
class GuardResult:
    """What one guard decided about one text.

    Parameters: ``guard`` (its name), ``passed`` (False when the guard objects), ``score`` in [0, 1]
    (how strongly; its meaning is documented per guard), ``reason`` (a short sentence),
    ``findings`` (matches with spans in the original text), ``error`` (set when the guard itself
    raised inside a pipeline; then ``passed`` is False unless the pipeline fails open).

    >>> GuardResult("length", False, 1.0, "too long: 9000 characters > 8000")
    GuardResult('length', FAIL, score=1.00, reason='too long: 9000 characters > 8000', findings=0)
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
