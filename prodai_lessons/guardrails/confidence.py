"""Confidence: flag answers the model itself was unsure of, from signals a serving stack already has.

Two signals, both cheap next to a second model call:

- **Token log-probabilities.** Most inference servers (vLLM, TGI, the OpenAI API with ``logprobs``) can
  return ``log p`` of every generated token. A model that is guessing spreads its probability: the
  mean log-probability drops and more tokens fall below a low probability (``token_confidence``).
- **Self-consistency.** Sample the same prompt a few more times at a temperature above zero; an answer
  the model knows comes back, a made-up one changes (Wang et al. 2022; SelfCheckGPT, Manakul et al.
  2023, scores the same disagreement against the answer's sentences). ``agreement`` is the share of
  samples that say the same thing as the answer.

Neither signal knows the truth: a model can be confidently wrong (a fact learned wrong, a leading
question), and a correct answer phrased unusually has low probabilities. So each threshold is chosen on
labelled data at the false-alarm rate the product can live with (``threshold_for_fpr``), and the
figures are measured on data the threshold was not chosen on. ``synthetic_confidence_data`` makes seeded
synthetic examples to show the method; they are not measurements of any real model.

>>> guard = ConfidenceGuard()
>>> guard.check("Paris.", logprobs=[-0.01, -0.05]).passed
True
>>> guard.check("Lyon.", logprobs=[-2.3, -1.9, -0.2]).reason
'mean token log-probability -1.47 < -1'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from prodai_lessons._validation import as_1d_array, check_int, check_probability, check_real

from ._grounding import STOPWORDS
from ._text import _as_text, _check_name
from .normalization import normalize
from .results import Finding, GuardResult

__all__ = ["token_confidence", "agreement", "threshold_for_fpr", "ConfidenceGuard", "synthetic_confidence_data"]

_WORD_RX = re.compile(r"[^\W_]+(?:[.,][0-9]+)*")


def token_confidence(logprobs: Sequence[float], low: float = 0.1) -> tuple[float, float]:
    """Mean token log-probability, and the share of tokens with probability below ``low``.

    Parameters: ``logprobs`` (natural-log probabilities of the answer's tokens), ``low``.
    >>> [round(x, 3) for x in token_confidence([math.log(0.9), math.log(0.05)])]
    [-1.551, 0.5]
    """
    lp = np.asarray(logprobs, dtype=float)
    return float(lp.mean()), float((lp < math.log(low)).mean())


def agreement(answer: str, samples: Iterable[str], min_overlap: float = 0.6) -> float:
    """Share of sampled answers that say the same as ``answer``: the same numbers, and a Jaccard overlap
    of their sets of content words of at least ``min_overlap``.

    Parameters: ``answer``, ``samples`` (further answers to the same prompt), ``min_overlap``.

    >>> round(agreement("It opened in 2019.", ["Opened in 2019.", "It opened in 2017.", "It opened in 2019!"]), 3)
    0.667
    """
    def bag(text: str) -> set[str]:
        return {w for w in _WORD_RX.findall(normalize(text, fold_obfuscation=False).text) if w not in STOPWORDS}

    def same(a: set[str], b: set[str]) -> bool:
        numbers = {w for w in a | b if any(c.isdigit() for c in w)}
        return numbers <= (a & b) and (len(a & b) / len(a | b) >= min_overlap if a | b else True)

    mine = bag(answer)
    votes = [same(mine, bag(s)) for s in samples]
    return sum(votes) / len(votes)


def threshold_for_fpr(values: Sequence[float], labels: Sequence[int], max_fpr: float = 0.1) -> float:
    """The highest threshold ``t`` such that flagging ``value < t`` flags at most ``max_fpr`` of the label-0 texts.

    Parameters: ``values`` (a signal where lower means less confident), ``labels`` (1 = wrong answer,
    should be flagged), ``max_fpr``. Flagging below the ``k``-th smallest label-0 value, with
    ``k = floor(max_fpr * n0)``, flags exactly the ``k`` label-0 values below it (ties permitting): the
    most recall this data allows at that false-positive rate.

    >>> threshold_for_fpr([-2.0, -1.5, -0.4, -0.3, -0.2, -0.1], [1, 1, 0, 0, 0, 0], max_fpr=0.25)
    -0.3
    """
    v = as_1d_array("values", values)
    y = as_1d_array("labels", labels)
    if v.shape != y.shape or not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, one per value ({v.size}); got shape {y.shape}")
    check_probability("max_fpr", max_fpr, open_interval=False)
    correct = np.sort(v[y == 0])
    if correct.size == 0:
        raise ValueError("labels must include at least one 0 (a correct answer) to bound the false-positive rate")
    k = int(math.floor(max_fpr * correct.size + 1e-9))
    return float(correct[k]) if k < correct.size else math.inf


class ConfidenceGuard:
    """Fail answers the model was unsure of: low token probabilities, or sampled answers that disagree.

    Parameters: ``min_mean_logprob`` (default -1.0, a geometric-mean token probability of 0.37),
    ``max_low_share`` (most tokens allowed below probability ``low``; default 0.3 of them below 0.1),
    ``min_agreement`` (share of samples that must agree; default 0.5), ``name``.

    >>> guard = ConfidenceGuard()
    >>> r = guard.check("It opened in 2019.", samples=["It opened in 2017.", "Opened 2015.", "It opened in 2019."])
    >>> r.passed, r.reason
    (False, 'agreement 0.33 < 0.5 (1 of 3 samples agree)')

    Notes
    -----
    ``check(text, logprobs=..., samples=...)``: ``logprobs`` are the natural-log probabilities of the
    answer's tokens as the server returned them; ``samples`` are further answers to the same prompt. Give
    either or both; with neither the guard fails closed (it has nothing to judge by). The answer fails
    when any given signal is past its threshold. ``score`` is one minus the lowest confidence among the
    signals given: ``exp(mean log-probability)`` (the geometric-mean token probability), one minus the
    low-probability share, and the agreement. The defaults are starting points; choose the thresholds on
    labelled answers of your model with ``threshold_for_fpr``.
    """

    extra_inputs = ("logprobs", "samples")

    def __init__(self, min_mean_logprob: float = -1.0, max_low_share: float = 0.3, *, low: float = 0.1,
                 min_agreement: float = 0.5, name: str = "confidence") -> None:
        self.min_mean_logprob = check_real("min_mean_logprob", min_mean_logprob, maximum=0.0)
        self.max_low_share = check_probability("max_low_share", max_low_share, open_interval=False)
        self.low = check_real("low", low, minimum=0.0, maximum=1.0, strict_minimum=True)
        self.min_agreement = check_probability("min_agreement", min_agreement, open_interval=False)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return (f"ConfidenceGuard(min_mean_logprob={self.min_mean_logprob:g}, max_low_share={self.max_low_share:g}, "
                f"min_agreement={self.min_agreement:g}, name={self.name!r})")

    def check(self, text: str | bytes = "", *, logprobs: Any = None, samples: Any = None) -> GuardResult:
        """Judge the answer ``text`` by its token ``logprobs`` and/or sampled answers ``samples``."""
        text = _as_text("text", text)
        if logprobs is None and samples is None:
            return GuardResult(self.name, False, 1.0, "no confidence signal given (logprobs or samples)",
                               (Finding("no_signal", (0, len(text))),))
        problems: list[str] = []
        confidences: list[float] = []
        if logprobs is not None:
            lp = as_1d_array("logprobs", logprobs)
            if (lp > 0).any():
                raise ValueError("logprobs must be natural-log probabilities (<= 0); got a positive value")
            mean, low_share = token_confidence(lp, self.low)
            confidences += [math.exp(mean), 1.0 - low_share]
            if mean < self.min_mean_logprob:
                problems.append(f"mean token log-probability {mean:.2f} < {self.min_mean_logprob:g}")
            if low_share > self.max_low_share:
                problems.append(f"{low_share:.0%} of tokens below p={self.low:g} > {self.max_low_share:.0%}")
        if samples is not None:
            if isinstance(samples, (str, bytes)) or not isinstance(samples, Iterable):
                raise TypeError(f"samples must be a sequence of sampled answers; got {type(samples).__name__}")
            texts = [_as_text(f"samples[{i}]", s) for i, s in enumerate(samples)]
            if not texts:
                raise ValueError("samples must hold at least one sampled answer")
            share = agreement(text, texts)
            confidences.append(share)
            if share < self.min_agreement:
                problems.append(f"agreement {share:.2f} < {self.min_agreement:g} "
                                f"({round(share * len(texts))} of {len(texts)} samples agree)")
        score = 1.0 - min(confidences)
        if problems:
            return GuardResult(self.name, False, score, "; ".join(problems), (Finding("low_confidence", (0, len(text))),))
        return GuardResult(self.name, True, score, f"confident (lowest signal {min(confidences):.2f})")


_FACTS = (("The bridge opened in {}.", (1932, 1936, 1941, 1958, 1967)),
          ("The company employs {} people.", (120, 340, 800, 1500, 2600)),
          ("The mountain is {} metres high.", (2961, 3412, 4478, 4808, 5642)),
          ("The treaty was signed in {}.", (1648, 1713, 1815, 1871, 1919)),
          ("The lake covers {} square kilometres.", (58, 140, 581, 1130, 5648)))


def synthetic_confidence_data(n: int = 400, *, seed: int = 0, n_samples: int = 5,
                              error_rate: float = 0.3) -> list[dict[str, Any]]:
    """Seeded synthetic answers with token log-probabilities, sampled answers and a label (1 = wrong).

    Parameters: ``n`` answers, ``seed``, ``n_samples`` sampled answers each, ``error_rate`` (share of
    wrong answers). Synthetic, to show the method: not a measurement of any model.

    >>> data = synthetic_confidence_data(4, seed=1)
    >>> sorted(data[0]), len(data[0]["samples"])
    (['answer', 'label', 'logprobs', 'samples'], 5)

    Notes
    -----
    A correct answer's tokens have probabilities drawn from Beta(12, 1) (mean 0.92); a wrong one mixes
    such tokens with guessed ones from Beta(2, 2) (mean 0.5), 25% of its tokens on average, so the two
    classes overlap as they do in practice. Each sampled answer repeats the answer's fact with
    probability 0.85 if it is correct and 0.35 if it is wrong (otherwise it states another value).
    """
    n = check_int("n", n, minimum=1)
    n_samples = check_int("n_samples", n_samples, minimum=1)
    error_rate = check_probability("error_rate", error_rate, open_interval=False)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        template, values = _FACTS[int(rng.integers(len(_FACTS)))]
        value = values[int(rng.integers(len(values)))]
        wrong = bool(rng.random() < error_rate)
        length = int(rng.integers(8, 40))
        p = rng.beta(12.0, 1.0, size=length)
        if wrong:
            guessed = rng.random(length) < rng.uniform(0.1, 0.4)
            p = np.where(guessed, rng.beta(2.0, 2.0, size=length), p)
        keep = 0.35 if wrong else 0.85
        samples = [template.format(value if rng.random() < keep else
                                   values[(values.index(value) + int(rng.integers(1, len(values)))) % len(values)])
                   for _ in range(n_samples)]
        out.append({"answer": template.format(value), "logprobs": np.log(np.clip(p, 1e-6, 1.0)).round(4).tolist(),
                    "samples": samples, "label": int(wrong)})
    return out
