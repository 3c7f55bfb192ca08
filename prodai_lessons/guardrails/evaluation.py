"""Measuring guards honestly: precision, recall and false-positive rate on a labelled corpus.

``evaluate`` compares a guard's verdicts with labels (1 = the guard should fail the text);
``rates_by_category`` breaks the same down per corpus category; ``load_corpus`` loads the labelled
corpus shipped with the package, with a batch written after the rules were frozen and categories
the rules are expected to miss. ``SubstringGuard`` is the naive baseline every rule must beat.
Every figure is a proportion of a few dozen texts, so each comes with a ``wilson_interval``
(``Evaluation.interval``, ``CategoryRate.interval``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from prodai_lessons._validation import check_choice, check_int, check_probability, check_str
from prodai_lessons.stats import wilson_interval

from ._text import _as_text, _check_name
from .results import Finding, GuardResult

__all__ = ["wilson_interval", "evaluate", "Evaluation", "rates_by_category", "CategoryRate", "load_corpus",
           "SubstringGuard"]


#: What each ratio of ``Evaluation`` counts, from ``((TN, FP), (FN, TP))``: (successes, trials).
_RATIOS = {
    "precision": lambda tn, fp, fn, tp: (tp, tp + fp),
    "recall": lambda tn, fp, fn, tp: (tp, tp + fn),
    "false_positive_rate": lambda tn, fp, fn, tp: (fp, fp + tn),
}


@dataclass(frozen=True)
class Evaluation:
    """Binary classification quality of a guard (positive = "the guard should fail this text").

    >>> ev = evaluate(SubstringGuard(["kill"]), [("I will kill you", 1), ("the skill of it", 0), ("hello", 0)])
    >>> ev.precision, ev.recall, ev.confusion, ev.false_positives
    (0.5, 1.0, ((1, 1), (0, 1)), ('the skill of it',))

    Notes
    -----
    ``confusion`` is ``((TN, FP), (FN, TP))``: rows are the true label (0, 1), columns the guard's
    verdict (passed, failed), as ``sklearn.metrics.confusion_matrix`` orders them. Ratios with a
    zero denominator are 0.0 (scikit-learn's ``zero_division=0``). ``false_negatives`` and
    ``false_positives`` list the texts the guard got wrong, for reading. ``interval(metric)`` gives
    the Wilson interval of precision, recall or false-positive rate from the same counts.
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

        def ci(metric: str) -> str:
            low, high = self.interval(metric)
            return f"[{low:.2f}, {high:.2f}]"

        return (f"<table><tr><th></th><th>passed</th><th>failed</th></tr>"
                f"<tr><th>benign (0)</th><td>TN {tn}</td><td>FP {fp}</td></tr>"
                f"<tr><th>harmful (1)</th><td>FN {fn}</td><td>TP {tp}</td></tr></table>"
                f"<p>precision {self.precision:.3f} {ci('precision')}, recall {self.recall:.3f} {ci('recall')}, "
                f"F1 {self.f1:.3f}, false-positive rate {self.false_positive_rate:.3f} "
                f"{ci('false_positive_rate')} (n={self.n}; 95% Wilson intervals)</p>")

    def interval(self, metric: str, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of ``"precision"``, ``"recall"`` or ``"false_positive_rate"``.

        Each is a proportion of the confusion counts: TP of TP + FP, TP of TP + FN, FP of FP + TN;
        see :func:`wilson_interval`. A ratio with no trials (no text flagged, say) gives (0.0, 1.0).

        >>> ev = evaluate(SubstringGuard(["kill"]), [("I will kill you", 1), ("the skill of it", 0), ("hello", 0)])
        >>> ev.recall, [round(x, 2) for x in ev.interval("recall")]  # 1 of 1: a perfect score says little
        (1.0, [0.21, 1.0])
        """
        check_choice("metric", metric, tuple(_RATIOS))
        (tn, fp), (fn, tp) = self.confusion
        return wilson_interval(*_RATIOS[metric](tn, fp, fn, tp), confidence)


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

    Parameters: ``guard`` (anything with ``check(text)``), ``examples`` (``{"text", "label"}``
    mappings or ``(text, label)`` pairs).

    >>> evaluate(SubstringGuard(["kill"]), [("I will kill you", 1), ("the skill of it", 0), ("hello", 0)])
    Evaluation(n=3, precision=0.500, recall=1.000, f1=0.667, false_positive_rate=0.500, TP=1, FP=1, FN=0, TN=1)

    Notes
    -----
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
    """How often a guard failed the texts of one corpus category.

    >>> CategoryRate("toxic_lookalike", 0, n=4, flagged=1).rate
    0.25
    """

    category: str
    label: int
    n: int
    flagged: int

    @property
    def rate(self) -> float:
        """``flagged / n``."""
        return self.flagged / self.n

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of ``rate`` (:func:`wilson_interval` of ``flagged`` in ``n``).

        >>> [round(x, 2) for x in CategoryRate("toxic_lookalike", 0, n=4, flagged=1).interval()]
        [0.05, 0.7]
        """
        return wilson_interval(self.flagged, self.n, confidence)


def rates_by_category(guard: Any, examples: Iterable[Any]) -> tuple[CategoryRate, ...]:
    """Share of texts the guard fails, per (category, label), in first-seen order.

    For a harmful category this is the recall on it; for a benign one, its false-positive rate.
    Parameters: as ``evaluate``; each example may carry a ``category``.

    >>> examples = [{"text": "I will kill you", "label": 1, "category": "threat"},
    ...             {"text": "the skill of it", "label": 0, "category": "lookalike"},
    ...             {"text": "hello", "label": 0, "category": "lookalike"}]
    >>> [(c.category, c.rate) for c in rates_by_category(SubstringGuard(["kill"]), examples)]
    [('threat', 1.0), ('lookalike', 0.5)]
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

    Parameters: ``guard`` (``"injection"``, ``"pii"`` or ``"toxicity"``; default all),
    ``categories`` (keep only these categories).

    >>> corpus = load_corpus()
    >>> len(corpus), len(load_corpus("pii")), corpus[0]["category"]
    (502, 138, 'injection_plain')

    Notes
    -----
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


class SubstringGuard:
    """The naive guard: fail when any ``word`` occurs as a substring of the lower-cased text.

    Parameters: ``words`` (the substrings), ``name``.

    >>> SubstringGuard(["kill"]).check("The skill of a killer whale.")
    GuardResult('substring', FAIL, score=1.00, reason="substring 'kill' found", findings=1)

    Notes
    -----
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
