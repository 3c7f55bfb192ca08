"""Exercise 2, model routing: checks for ``difficulty_score``, ``choose_tier``, ``routing_cost``, ``sweep`` and
``pick_setting``.

The learner's contract (the stubs in ``exercises/ex2_model_routing.ipynb`` carry the same text):

``difficulty_score(text) -> float`` in [0, 1]
    from what the text shows: whether it asks for reasoning, whether it holds or asks for code, how many
    questions it asks (graded: each further question, up to four, raises the score). Length misleads: a
    pasted passage makes a query long without making it hard.
``choose_tier(score, low, high) -> "small" | "medium" | "large"``
    ``score < low`` -> small, ``low <= score < high`` -> medium, ``score >= high`` -> large.
``routing_cost(queries, tiers, pricing) -> dict``
    each query logged with :class:`prodai_lessons.cost.CostTracker` under ``pricing.model_for_tier(tier)``,
    and again, in a second tracker, under the large model (the baseline); keys ``cost`` and ``baseline_cost``
    (the trackers' ``report().total_cost``), ``savings`` (baseline_cost - cost), ``savings_share``
    (savings / baseline_cost, a fraction), ``quality`` (mean of ``query.quality[tier]``) and
    ``baseline_quality`` (mean of ``query.quality["large"]``), each to within 1e-9.
``sweep(queries, scores, lows, highs, pricing) -> list[dict]``
    one point ``{"low", "high", "cost", "quality"}`` per pair with ``low <= high``.
``pick_setting(points, baseline_quality, target=0.95) -> dict | None``
    the cheapest point whose quality is ``>= target * baseline_quality``: one of the dicts it was given,
    not a copy (None if there is none).

Queries have a hidden difficulty ``d ~ Beta(1, 1.5)`` that drives both what their text shows (noisily) and
how likely each tier is to answer well: ``P(good | d) = 0.05 + 0.93 * sigmoid((c_tier - d) / 0.06)`` with
``c = 0.35, 0.65, 0.95`` for the small, medium and large tier. A query asks for reasoning with probability
``clip(2 (d - 0.25), 0, 1)``, for code with probability ``clip(2 (d - 0.35), 0, 1)``, asks ``Poisson(3 d)``
further questions and gives ``Poisson(0.4 + d)`` sentences of context; independently of ``d``, 40% of the
queries carry a pasted passage (an email, notes, a ticket) of 25 to about 110 words, and half of the
queries that ask for reasoning or code are a single line. So length says little (see ``MIN_SPEARMAN``).
``query.quality`` holds the tiers' probabilities, as an offline evaluation that graded every tier's answer
would; the difficulty itself stays hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np

from prodai_lessons.exercises._core import CheckResult, Exercise, InvalidSubmission, in_scenario
from prodai_lessons.exercises._helpers import (
    BadData,
    Score,
    entry,
    field,
    learner_verbs,
    list_of,
    rng,
    scored_check,
    want_float,
    want_str,
)

__all__ = ["EXERCISE", "check", "hint", "solution", "Query", "make_queries", "TIERS", "QUALITY_CENTERS"]

TIERS = ("small", "medium", "large")
QUALITY_CENTERS = {"small": 0.35, "medium": 0.65, "large": 0.95}
QUALITY_SLOPE = 0.06
#: The end-to-end check asks the learner's router to save at least this share of what a router that knew the
#: hidden difficulty saves (same grid, same target). Measured on seeds 0-199 (``python
#: tests/test_ex2_checks.py`` measures it again): the reference scorer reaches 0.70 to 1.00 of the oracle
#: (median 0.91), a scorer that reads only the word count 0.20 to 0.64 (99th percentile 0.42, median 0.31),
#: uniform random scores 0.15 to 0.53. The bar sits 0.10 below the reference's worst seed, above every random
#: seed and above all length-only seeds but one.
MIN_SHARE_OF_ORACLE = 0.6
#: The scorer's Spearman rank correlation with the hidden difficulty (300 queries) must reach this. Measured
#: on seeds 0-199 (as above): the reference scorer 0.76 to 0.86 (median 0.82), the word count alone 0.01 to
#: 0.36 (median 0.19), random scores -0.15 to 0.13. The bar sits about 0.2 from both ends.
MIN_SPEARMAN = 0.55


@dataclass(frozen=True)
class Query:
    """One user query: its text, token counts and the offline quality of each tier's answer (0 to 1).

    >>> q = Query("Why does the cache miss?", 7, 120, {"small": 0.4, "medium": 0.8, "large": 0.97})
    >>> q, q.quality["large"]
    (Query('Why does the cache miss?', 7+120 tokens), 0.97)
    """

    text: str
    input_tokens: int
    output_tokens: int
    quality: Mapping[str, float]  # read-only: tier -> probability of a good answer

    def __repr__(self) -> str:
        short = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"Query({short!r}, {self.input_tokens}+{self.output_tokens} tokens)"


def _p_good(tier: str, d: float) -> float:
    return 0.05 + 0.93 / (1.0 + math.exp((d - QUALITY_CENTERS[tier]) / QUALITY_SLOPE))


# The pieces queries are made of. Each piece carries one signal only: reasoning requests hold no "?" and no
# code, code requests no reasoning words and no "?", questions neither; context and pasted passages none
# of them (``tests/test_ex2_checks.py`` checks this against a broad list of markers).
_TOPICS = ("the invoice export", "our refund policy", "the onboarding flow", "the Kubernetes cluster",
           "the quarterly report", "the search index", "the login page", "the billing service",
           "the shipping estimate", "the customer survey", "the pricing page", "the data warehouse")
_EASY = ("What is {t}?", "Who owns {t}?", "Where do I find {t}?", "When was {t} last changed?",
         "Give me a one-line summary of {t}.", "Is {t} available on weekends?")
_CONTEXT = ("Our team changed {t} last month.", "Customers have complained about {t}.",
            "The data behind {t} lives in two systems.", "We are moving {t} to a new provider.",
            "Legal wants a review of {t} before Friday.", "The numbers in {t} do not add up.",
            "Two engineers disagree about {t}.", "Traffic to {t} doubled this quarter.")
_REASONING = ("Explain step by step why {t} breaks under load.",
              "Compare two designs for {t} and justify which one is better.",
              "Analyze the root cause of the failures in {t}.",
              "Prove that the proposed change to {t} cannot lose data.",
              "Reason through the trade-offs of caching {t}, including edge cases.",
              "Derive the worst-case latency of {t}.",
              "Explain why {t} slows down when traffic doubles.")
_CODE = ("Fix the bug in this function:\n```python\ndef total(items):\n    return sum(i.price for i in items if i.qty)\n```",
         "Write a SQL query that joins {t} with the orders table and groups by month.",
         "Refactor this code used by {t}:\n```js\nfunction f(a) {{ return a.map(x => x * 2) }}\n```",
         "Write a regex that matches the order IDs in {t}.",
         "Write a Python function that removes duplicate rows from {t}.")
_EXTRA = ("Also, what does this do to the budget?", "What changes if the load doubles?",
          "Which team should own {t}?", "Who signs off on it?", "When can we start?",
          "Is there a fallback for {t}?")
_PASTE_INTRO = ("Here is the email I got:", "Below are the meeting notes:", "This is the message from the vendor:",
                "Pasted from the ticket:", "Here is the announcement:")
_PASTE = ("The shipment left the warehouse on Monday morning.", "Anna will cover the support rota next week.",
          "The invoice total was 4,200 euros including tax.", "Please send the signed form back by Friday.",
          "The office is closed on the public holiday.", "Our contact at the supplier changed in March.",
          "The new badge readers are installed on the second floor.",
          "Lunch for the offsite is booked for twelve people.", "The attached report covers the first two quarters.",
          "Thanks again for the quick turnaround on this.", "Best regards, the operations team.",
          "The parking garage will be repainted over the weekend.",
          "Room 4B is booked for the training on Thursday afternoon.",
          "The old laptops go back to the supplier in May.", "Everyone on the list received the updated handbook.",
          "The next newsletter goes out on the first of the month.")
_PASTE_TASK = ("Summarize it in one line.", "List the names it mentions.", "Translate it into Spanish.",
               "Who wrote it?", "Turn it into three bullet points.", "What is the deadline in it?")


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _fmt(r: np.random.Generator, pool: Sequence[str], t: str, size: int | None = None) -> Any:
    if size is None:
        return str(r.choice(pool)).format(t=t)
    return [str(p).format(t=t) for p in r.choice(pool, size=size, replace=False)]


def _paste(r: np.random.Generator, min_words: int = 25, min_chars: int = 0) -> str:
    """A pasted passage: an intro and 3 to 11 sentences in quotes, at least ``min_words`` words and
    ``min_chars`` characters long (sentences are added until it is)."""
    order = [str(s) for s in r.permutation(_PASTE)]
    n = int(r.integers(3, 12))
    while True:
        text = f"{r.choice(_PASTE_INTRO)} \"{' '.join(order[:n])}\""
        if (len(text.split()) >= min_words and len(text) >= min_chars) or n == len(order):
            return text
        n += 1


def _compose(r: np.random.Generator, d: float) -> str:
    """The text of a query of difficulty ``d`` (the model in the module docstring)."""
    t = str(r.choice(_TOPICS))
    reasoning = bool(r.random() < _clip01(2.0 * (d - 0.25)))
    code = bool(r.random() < _clip01(2.0 * (d - 0.35)))
    one_line = (reasoning or code) and bool(r.random() < 0.5)
    pasted = bool(r.random() < 0.4)
    n_context = min(int(r.poisson(0.4 + d)), len(_CONTEXT))
    n_extra = min(int(r.poisson(3.0 * d)), len(_EXTRA))
    if one_line:
        parts = []
    else:
        parts = _fmt(r, _CONTEXT, t, n_context)
        if pasted:
            parts.append(_paste(r))
    if reasoning:
        parts.append(_fmt(r, _REASONING, t))
    if code:
        parts.append(_fmt(r, _CODE, t))
    if not (reasoning or code):
        parts.append(_fmt(r, _PASTE_TASK if pasted else _EASY, t))
    if not one_line:
        parts += _fmt(r, _EXTRA, t, n_extra)
    return " ".join(parts)


def _queries(r: np.random.Generator, n: int) -> tuple[list[Query], np.ndarray]:
    from prodai_lessons.cost import estimate_tokens

    d = r.beta(1.0, 1.5, size=n)
    out = []
    for di in d:
        text = _compose(r, float(di))
        out.append(Query(text, estimate_tokens(text), int(60 + 700 * di + r.integers(0, 80)),
                         MappingProxyType({tier: _p_good(tier, float(di)) for tier in TIERS})))
    return out, d


def make_queries(n: int = 300, seed: int = 0) -> list[Query]:
    """``n`` queries like the checks use, for your own experiments (the difficulty stays hidden).

    Parameters: ``n`` (how many) and ``seed``.

    >>> qs = make_queries(3, seed=1)
    >>> len(qs), sorted(qs[0].quality)
    (3, ['large', 'medium', 'small'])
    """
    return _queries(rng(seed, 2, 100), int(n))[0]


def _random_pricing(r: np.random.Generator):
    """A price list with random model names and prices (small < medium < large), so nothing can be hard-coded."""
    from prodai_lessons.cost import Pricing

    base = float(np.round(r.uniform(0.2, 1.0), 2))
    names = {"small": f"lite-{int(r.integers(1, 9))}", "medium": f"pro-{int(r.integers(1, 9))}",
             "large": f"ultra-{int(r.integers(1, 9))}"}
    mult = {"small": 1.0, "medium": float(np.round(r.uniform(3, 5), 1)), "large": float(np.round(r.uniform(15, 25), 1))}
    models = {}
    for tier in TIERS:
        inp = round(base * mult[tier], 2)
        models[names[tier]] = {"tier": tier, "input_per_mtok": inp, "output_per_mtok": round(inp * 5, 2)}
    order = list(models)
    r.shuffle(order)
    return Pricing.from_dict({"models": {k: models[k] for k in order}})


def _plain_pricing(pricing) -> dict:
    """A price list as the plain dict :meth:`Pricing.from_dict` reads (to ship it to learner code)."""
    return {"models": {name: {"tier": m.tier, "input_per_mtok": m.input_per_mtok,
                              "output_per_mtok": m.output_per_mtok} for name, m in pricing.models.items()}}


def _plain_queries(queries: Sequence[Query]) -> list[dict]:
    return [{"text": q.text, "input_tokens": q.input_tokens, "output_tokens": q.output_tokens,
             "quality": dict(q.quality)} for q in queries]


def _rebuild(inputs: dict) -> tuple[list[Query], Any]:
    """The queries and the price list of a scenario, rebuilt from the plain data the learner's side gets."""
    from prodai_lessons.cost import Pricing

    qs = [Query(d["text"], d["input_tokens"], d["output_tokens"], MappingProxyType(dict(d["quality"])))
          for d in inputs["queries"]]
    return qs, Pricing.from_dict(inputs["pricing"])


def _reference_cost(queries: Sequence[Query], tiers: Sequence[str], pricing) -> dict:
    """What ``routing_cost`` returns, priced by two CostTrackers (logged in one batch each: the same exact
    integer totals as one ``log_request`` per query)."""
    from prodai_lessons.cost import CostTracker

    tiers = list(tiers)
    inp = np.array([q.input_tokens for q in queries], dtype=np.int64)
    out = np.array([q.output_tokens for q in queries], dtype=np.int64)
    routed, base = CostTracker(pricing), CostTracker(pricing)
    if tiers:
        routed.log_batch([pricing.model_for_tier(t) for t in tiers], inp, out, timestamps=np.zeros(len(tiers)))
        base.log_batch(pricing.model_for_tier("large"), inp, out, timestamps=np.zeros(len(tiers)))
    cost, baseline = routed.report().total_cost, base.report().total_cost
    return {"cost": cost, "baseline_cost": baseline, "savings": baseline - cost,
            "savings_share": (baseline - cost) / baseline,
            "quality": float(np.mean([q.quality[t] for q, t in zip(queries, tiers)])),
            "baseline_quality": float(np.mean([q.quality["large"] for q in queries]))}


def _tier(score: float, low: float, high: float) -> str:
    return "small" if score < low else ("medium" if score < high else "large")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


# ------------------------------------------------------------------------------------------- scorer


def _scorer(ns: Mapping[str, Any]):
    fn = entry(ns, "difficulty_score", kind="function")

    def call(text: str, where: str) -> float:
        with in_scenario(where):
            return want_float(fn(text), "difficulty_score()", lo=0.0, hi=1.0)
    return call


#: One check per signal: 12 pairs of two versions of one query. The harder version adds the signal (a
#: reasoning request, a code request, more questions); the easier one adds a pasted passage at least as
#: long, in words and in characters. So a score that follows length ranks every pair the wrong way.
SIGNALS = ("reasoning", "code", "questions")
N_PAIRS = 12


@lru_cache(maxsize=48)
def _signal_cases(kind: str, seed: int) -> list[tuple[str, str, int, bool]]:
    """(easier text, harder text, questions the easier one asks, harder shown first) for signal ``kind``.
    The learner's side gets each pair in a random order, so which text is harder stays with the judge."""
    r = rng(seed, 2, 1, SIGNALS.index(kind))
    cases = []
    for k in range(N_PAIRS):
        t = str(r.choice(_TOPICS))
        n_q = 1 + k % 3  # questions the base already asks: 1, 2 or 3 (more than one: a count, not a flag)
        if kind != "questions":
            n_q = int(r.integers(1, 3))
        asked = [_fmt(r, _EASY[:4] + _EASY[5:], t)] + _fmt(r, _EXTRA, t, n_q - 1 + 3)
        base = " ".join(_fmt(r, _CONTEXT, t, int(r.integers(0, 3))) + asked[:n_q])
        if kind == "reasoning":
            added = _fmt(r, _REASONING, t)
        elif kind == "code":
            added = _fmt(r, _CODE, t)
        else:
            added = " ".join(asked[n_q:n_q + int(r.integers(1, 5 - n_q))])
        easier = base + " " + _paste(r, min_words=len(added.split()) + 2, min_chars=len(added) + 10)
        cases.append((easier, base + " " + added, n_q, bool(r.random() < 0.5)))
    return cases


def _signal_inputs(kind: str) -> Callable[[int], dict]:
    def scenario(seed: int) -> dict:
        return {"pairs": [[b, a] if first else [a, b] for a, b, _, first in _signal_cases(kind, seed)]}
    return scenario


def _collect_pairs(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    call = _scorer(ns)
    return {"pairs": [[call(a, f"difficulty_score, pair {k} (first text)"),
                       call(b, f"difficulty_score, pair {k} (second text)")]
                      for k, (a, b) in enumerate(inputs["pairs"], start=1)]}


_ADDED = {"reasoning": "a request for reasoning", "code": "a request for code",
          "questions": "more questions"}


def _judge_signal(kind: str) -> Callable[[Any, int, Score], CheckResult]:
    def judge(data: Any, seed: int, score: Score) -> CheckResult:
        cases = _signal_cases(kind, seed)
        pairs = list_of(field(data, "pairs", list), list, "pairs", length=len(cases))
        lower, same, several = 0, 0, 0
        for (_, _, n_q, first), p in zip(cases, pairs):
            a, b = list_of(p, (int, float), "pair", length=2)
            harder, easier = (a, b) if first else (b, a)
            if harder <= easier + 1e-12:
                lower += harder < easier - 1e-12
                same += abs(harder - easier) <= 1e-12
                several += n_q > 1
        wrong = lower + same
        if not wrong:
            return score(1.0, "")
        what = (f"in {wrong} of {len(cases)} pairs the version with {_ADDED[kind]} did not score higher than "
                f"the same query with a pasted passage at least as long instead")
        if lower:
            why = f" ({lower} scored lower: the score follows length more than {kind})"
        elif kind == "questions" and several == wrong:
            why = (" (each time the query already asked several questions: count the questions, one more "
                   "question should raise the score)")
        else:
            why = f" (they scored the same: {kind} should raise the score)"
        return score(0.5 * (len(cases) - wrong) / len(cases), what + why)
    return judge


@lru_cache(maxsize=16)
def _informative_queries(seed: int) -> tuple[list[Query], np.ndarray]:
    return _queries(rng(seed, 2, 2), 300)


def _texts(queries: Callable[[int], tuple[list[Query], np.ndarray]]) -> Callable[[int], dict]:
    """The scenario of a scorer check: the texts only (the difficulty and the quality stay with the judge)."""
    def scenario(seed: int) -> dict:
        return {"texts": [q.text for q in queries(seed)[0]]}
    return scenario


def _collect_informative(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    call = _scorer(ns)
    return {"scores": [call(t, f"difficulty_score, query {k}") for k, t in enumerate(inputs["texts"], start=1)]}


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson correlation of the tie-averaged ranks); 0 if either is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=float)), _ranks(np.asarray(y, dtype=float))
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def _judge_informative(data: Any, seed: int, score: Score) -> CheckResult:
    _, d = _informative_queries(seed)
    scores = list_of(field(data, "scores", list), (int, float), "scores", length=len(d))
    rho = spearman(scores, d)
    if rho >= MIN_SPEARMAN:
        return score(1.0, f"rank correlation with the hidden difficulty {rho:.2f}")
    return score(max(0.0, rho) / MIN_SPEARMAN * 0.5,
                 f"your scores barely follow the hidden difficulty (rank correlation {rho:.2f}; needs "
                 f">= {MIN_SPEARMAN}): use more of what the text shows, and less of its length")


# ------------------------------------------------------------------------------------------- router


@lru_cache(maxsize=16)
def _tier_cases(seed: int) -> list[tuple[float, float, float]]:
    r = rng(seed, 2, 3)
    cases = []
    for _ in range(60):
        low, high = sorted(np.round(r.uniform(0, 1, 2), 2))
        s = float(r.choice([low, high, round(float(r.uniform(0, 1)), 3), max(0.0, low - 0.01),
                            min(1.0, high + 0.01)]))
        cases.append((float(s), float(low), float(high)))
    cases += [(0.5, 0.5, 0.5), (0.49, 0.5, 0.5), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)]
    return cases


def _tier_inputs(seed: int) -> dict:
    return {"cases": [list(c) for c in _tier_cases(seed)]}


def _collect_tiers(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "choose_tier", kind="function")
    out = []
    for k, (s, lo, hi) in enumerate(inputs["cases"], start=1):
        with in_scenario(f"choose_tier, case {k}"):
            out.append(want_str(fn(s, lo, hi), "choose_tier()", TIERS))
    return {"tiers": out}


def _judge_tiers(data: Any, seed: int, score: Score) -> CheckResult:
    cases = _tier_cases(seed)
    got = list_of(field(data, "tiers", list), str, "tiers", length=len(cases))
    wrong = [(c, g) for c, g in zip(cases, got) if g != _tier(*c)]
    if not wrong:
        return score(1.0, "")
    (s, lo, hi), g = wrong[0]
    if len(set(got)) == 1:
        why = f"every query went to {got[0]!r}"
    elif s == lo or s == hi:
        why = f"a score equal to a threshold went to {g!r} (low <= score < high is medium, score >= high large)"
    else:
        why = f"score {s:g} with low={lo:g}, high={hi:g} went to {g!r}"
    return score(0.0, f"{len(wrong)} of {len(cases)} routes wrong; e.g. {why}")


# ---------------------------------------------------------------------------------------------- cost

_COST_KEYS = ("cost", "baseline_cost", "savings", "savings_share", "quality", "baseline_quality")


@lru_cache(maxsize=16)
def _cost_scenario(seed: int):
    r = rng(seed, 2, 4)
    qs, _ = _queries(r, 120)
    tiers = [str(t) for t in r.choice(TIERS, size=len(qs), p=r.dirichlet([2, 2, 2]))]
    return qs, tiers, _random_pricing(r)


def _plain_result(got: Any, keys: Sequence[str], what: str) -> dict:
    if not isinstance(got, Mapping):
        raise InvalidSubmission(f"{what} must return a dict with keys {', '.join(keys)}; got {type(got).__name__}")
    missing = [k for k in keys if k not in got]
    if missing:
        raise InvalidSubmission(f"{what} must return a dict with keys {', '.join(keys)}; missing {', '.join(missing)}")
    return {k: want_float(got[k], f"{what}[{k!r}]") for k in keys}


def _cost_inputs(seed: int) -> dict:
    qs, tiers, pricing = _cost_scenario(seed)
    return {"queries": _plain_queries(qs), "tiers": list(tiers), "pricing": _plain_pricing(pricing)}


def _collect_cost(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "routing_cost", kind="function")
    qs, pricing = _rebuild(inputs)
    tiers = inputs["tiers"]
    with in_scenario("routing_cost on 120 queries"):
        got = fn(list(qs), list(tiers), pricing)
    return _plain_result(got, _COST_KEYS, "routing_cost()")


_MONEY_KEYS = ("cost", "baseline_cost", "savings", "savings_share")


def _judge_cost(data: Any, seed: int, score: Score) -> CheckResult:
    qs, tiers, pricing = _cost_scenario(seed)
    ref = _reference_cost(qs, tiers, pricing)
    wrong = [k for k in _COST_KEYS if not isinstance(data.get(k), (int, float)) or not _close(data[k], ref[k])]
    if not wrong:
        return score(1.0, "")
    problems = []
    share = data.get("savings_share")
    if "savings_share" in wrong and isinstance(share, (int, float)) and _close(share, 100 * ref["savings_share"]):
        problems.append("savings_share is a percent: give it as a fraction (0.4 for 40%)")
        wrong.remove("savings_share")
    money = [k for k in wrong if k in _MONEY_KEYS]
    if money:
        problems.append(f"{', '.join(money)} not equal to what CostTracker computes for the same requests "
                        "(each query under its tier's model; the baseline under the large model)")
    if "quality" in wrong:
        problems.append("quality is not the mean over the queries of q.quality[tier] with each query's own tier")
    if "baseline_quality" in wrong:
        problems.append('baseline_quality is not the mean over the queries of q.quality["large"]')
    n_wrong = len(wrong) + any(p.startswith("savings_share is a percent") for p in problems)
    return score((len(_COST_KEYS) - n_wrong) / len(_COST_KEYS) * 0.5, "; ".join(problems))


# ---------------------------------------------------------------------------------------- sweep/pick


@lru_cache(maxsize=16)
def _sweep_scenario(seed: int):
    r = rng(seed, 2, 5)
    qs, d = _queries(r, 100)
    scores = np.clip(d + r.normal(0, 0.1, len(d)), 0, 1).round(4).tolist()
    shared = round(float(r.uniform(0.3, 0.7)), 2)  # one value in both lists: the pair low == high counts
    lows = sorted(set(np.round(r.uniform(0, 0.7, 3), 2).tolist()) | {shared})
    highs = sorted(set(np.round(r.uniform(0.3, 1.0, 3), 2).tolist()) | {shared})
    return qs, scores, lows, highs, _random_pricing(r)


def _point(p: Any, what: str) -> dict:
    if not isinstance(p, Mapping):
        raise InvalidSubmission(f"{what} must be a dict with keys low, high, cost, quality; got {type(p).__name__}")
    missing = [k for k in ("low", "high", "cost", "quality") if k not in p]
    if missing:
        raise InvalidSubmission(f"{what} is missing key(s) {', '.join(missing)}")
    return {k: want_float(p[k], f"{what}[{k!r}]") for k in ("low", "high", "cost", "quality")}


def _sweep_inputs(seed: int) -> dict:
    qs, scores, lows, highs, pricing = _sweep_scenario(seed)
    return {"queries": _plain_queries(qs), "scores": list(scores), "lows": list(lows), "highs": list(highs),
            "pricing": _plain_pricing(pricing)}


def _collect_sweep(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "sweep", kind="function")
    qs, pricing = _rebuild(inputs)
    scores, lows, highs = inputs["scores"], inputs["lows"], inputs["highs"]
    with in_scenario("sweep on 100 queries"):
        got = fn(list(qs), list(scores), list(lows), list(highs), pricing)
    if not isinstance(got, (list, tuple)):
        raise InvalidSubmission(f"sweep() must return a list of dicts; got {type(got).__name__}")
    return {"points": [_point(p, "each point of sweep()") for p in got]}


def _expected_points(qs, scores, lows, highs, pricing) -> dict:
    out = {}
    for lo in lows:
        for hi in highs:
            if lo <= hi:
                ref = _reference_cost(qs, [_tier(s, lo, hi) for s in scores], pricing)
                out[(lo, hi)] = (ref["cost"], ref["quality"])
    return out


@lru_cache(maxsize=16)
def _expected_sweep(seed: int) -> dict:
    return _expected_points(*_sweep_scenario(seed))


def _judge_sweep(data: Any, seed: int, score: Score) -> CheckResult:
    expected = _expected_sweep(seed)
    points = list_of(field(data, "points", list), dict, "points")
    got = {}
    for p in points:
        got[(p["low"], p["high"])] = (p["cost"], p["quality"])
    if len(points) != len(got):
        return score(0.0, "sweep() returned the same (low, high) pair twice")
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        why = []
        if missing:
            why.append(f"{len(missing)} (low, high) pair(s) with low <= high missing")
        if extra:
            why.append(f"{len(extra)} pair(s) that are not in the grid or have low > high")
        return score(0.0, "; ".join(why))
    wrong_cost = sum(not _close(got[k][0], expected[k][0]) for k in expected)
    wrong_q = sum(not _close(got[k][1], expected[k][1]) for k in expected)
    if wrong_cost or wrong_q:
        return score(0.5 * (1 - (wrong_cost + wrong_q) / (2 * len(expected))),
                     f"cost wrong on {wrong_cost} and quality wrong on {wrong_q} of {len(expected)} points "
                     "(route with choose_tier, price with routing_cost)")
    return score(1.0, f"{len(expected)} points")


@lru_cache(maxsize=16)
def _pick_scenarios(seed: int) -> list[dict]:
    """Candidate points with a random target: the cheapest overall misses it, the best quality costs most."""
    r = rng(seed, 2, 6)
    out = []
    for k in range(6):
        n = int(r.integers(12, 30))
        base_q = float(r.uniform(0.8, 0.95))
        target = float(np.round(r.uniform(0.85, 0.98), 3))
        costs = np.sort(r.uniform(1.0, 10.0, n))
        quality = np.clip(base_q * (0.7 + 0.32 * (costs - 1) / 9 + r.normal(0, 0.04, n)), 0, 1)
        quality[0] = base_q * target * 0.9  # the cheapest point misses the target
        if k == 5:
            quality = np.minimum(quality, base_q * target * 0.99)  # nothing meets it
        goal = target * base_q
        quality = np.where(np.abs(quality - goal) < 1e-6, quality + 2e-6, quality)
        order = r.permutation(n)
        lows = np.round(r.uniform(0, 0.5, n), 3)
        out.append({"points": [{"low": float(lows[i]), "high": float(round(lows[i] + 0.1 + 0.01 * j, 3)),
                                "cost": float(costs[i]), "quality": float(quality[i])}
                               for j, i in enumerate(order)],
                    "baseline_quality": base_q, "target": target})
    return out


def _pick_inputs(seed: int) -> dict:
    return {"cases": _pick_scenarios(seed)}


def _collect_pick(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    fn = entry(ns, "pick_setting", kind="function")
    out = []
    for k, sc in enumerate(inputs["cases"], start=1):
        points = [dict(p) for p in sc["points"]]
        with in_scenario(f"pick_setting, case {k}"):
            got = fn(points, sc["baseline_quality"], target=sc["target"])
        if got is None:
            out.append(None)
            continue
        # which of the dicts it was given came back (None: a new dict); identity is checked here, where the
        # objects are, and travels as plain data
        picked = _point(got, "pick_setting()")
        picked["given"] = next((i for i, p in enumerate(points) if got is p), None)
        out.append(picked)
    return {"picked": out}


def _judge_pick(data: Any, seed: int, score: Score) -> CheckResult:
    scenarios = _pick_scenarios(seed)
    picked = list_of(field(data, "picked", list), dict, "picked", length=len(scenarios), allow_none=True)
    problems, copies = [], 0
    for k, (sc, got) in enumerate(zip(scenarios, picked), start=1):
        goal = sc["target"] * sc["baseline_quality"]
        feasible = [p for p in sc["points"] if p["quality"] >= goal]
        best = min(feasible, key=lambda p: p["cost"]) if feasible else None
        if best is None:
            if got is not None:
                problems.append(f"case {k}: picked a point although none reaches the target (return None)")
            continue
        if got is None:
            problems.append(f"case {k}: returned None although some points reach the target")
            continue
        match = [p for p in sc["points"] if (p["low"], p["high"]) == (got["low"], got["high"])]
        if not match:
            problems.append(f"case {k}: picked a point that is not one of the candidates")
        elif match[0]["quality"] < goal:
            problems.append(f"case {k}: picked a point below target x baseline quality")
        elif match[0] is not best and match[0]["cost"] > best["cost"]:
            problems.append(f"case {k}: a cheaper point also reaches the target")
        else:
            given = got.get("given")
            if given is None:
                copies += 1
            elif isinstance(given, bool) or not isinstance(given, int) or not 0 <= given < len(sc["points"]):
                raise BadData("'given' is not an index of the points")
    if not problems and not copies:
        return score(1.0, "")
    if copies:  # the right point, but a new dict: one problem, whatever the number of cases
        problems.append(f"in {copies} case(s) it returned a new dict with the right values: return the point "
                        "itself, one of the dicts in `points`")
    return score((len(scenarios) - len(problems)) / len(scenarios) * 0.5,
                 "; ".join(problems[:2]) + (f" (+{len(problems) - 2} more)" if len(problems) > 2 else ""))


# ---------------------------------------------------------------------------------------- end to end

GRID = tuple(k / 8 for k in range(9))


@lru_cache(maxsize=16)
def _e2e_queries(seed: int) -> tuple[list[Query], np.ndarray]:
    return _queries(rng(seed, 2, 7), 300)


_GRID_PAIRS = tuple((lo, hi) for lo in GRID for hi in GRID if lo <= hi)


def _collect_e2e(ns: Mapping[str, Any], inputs: dict, ask=None) -> dict:
    call = _scorer(ns)
    route = entry(ns, "choose_tier", kind="function")
    scores = [call(t, f"difficulty_score, query {k}") for k, t in enumerate(inputs["texts"], start=1)]
    routes = []
    with in_scenario("end to end: choose_tier on the grid"):
        for lo, hi in _GRID_PAIRS:
            routes.append([want_str(route(s, lo, hi), "choose_tier()", TIERS) for s in scores])
    return {"scores": scores, "routes": routes}


def _best_setting(qs: Sequence[Query], routes: Sequence[Sequence[str]], pricing, target: float = 0.95) -> dict:
    """Of the routings given (one per grid pair), the cheapest that keeps ``target`` of the large model's
    quality, priced as routing_cost does; always-large (low = high = 0) always qualifies."""
    points = [_reference_cost(qs, tiers, pricing) for tiers in routes]
    ok = [p for p in points if p["quality"] >= target * p["baseline_quality"]]
    return min(ok, key=lambda p: p["cost"]) if ok else points[0]


def _fast_outcome(qs: Sequence[Query], scores: Sequence[float], low: float, high: float, costs: dict,
                  quality: dict) -> tuple[float, float]:
    """(cost, quality) of a routing from per-tier arrays (floats; for benchmarks, not for exact money)."""
    s = np.asarray(scores, dtype=float)
    tier = np.where(s < low, 0, np.where(s < high, 1, 2))
    c = np.choose(tier, [costs[t] for t in TIERS]).sum()
    q = np.choose(tier, [quality[t] for t in TIERS]).mean()
    return float(c), float(q)


def oracle_savings(qs: Sequence[Query], difficulty: Sequence[float], pricing, target: float = 0.95) -> float:
    """The savings share a router that knew the hidden difficulty reaches on ``GRID`` at ``target``."""
    costs = {t: np.array([pricing.cost(pricing.model_for_tier(t), q.input_tokens, q.output_tokens) for q in qs])
             for t in TIERS}
    quality = {t: np.array([q.quality[t] for q in qs]) for t in TIERS}
    base_cost, base_q = costs["large"].sum(), quality["large"].mean()
    best = 0.0
    for lo in GRID:
        for hi in GRID:
            if lo <= hi:
                c, q = _fast_outcome(qs, difficulty, lo, hi, costs, quality)
                if q >= target * base_q:
                    best = max(best, 1 - c / base_cost)
    return best


@lru_cache(maxsize=16)
def _oracle(seed: int) -> float:
    from prodai_lessons.cost import load_pricing

    qs, d = _e2e_queries(seed)
    return oracle_savings(qs, d, load_pricing())


def _judge_e2e(data: Any, seed: int, score: Score) -> CheckResult:
    from prodai_lessons.cost import load_pricing

    qs, d = _e2e_queries(seed)
    list_of(field(data, "scores", list), (int, float), "scores", length=len(qs))
    routes = list_of(field(data, "routes", list), list, "routes", length=len(_GRID_PAIRS))
    for r in routes:
        if any(t not in TIERS for t in list_of(r, str, "route", length=len(qs))):
            raise BadData("a route that is not a tier")
    if all(r == routes[0] for r in routes) and len(set(routes[0])) == 1:
        return score(0.0, f"every query went to {routes[0][0]!r} whatever the thresholds: nothing to choose from")
    ref = _best_setting(qs, routes, load_pricing())
    oracle = _oracle(seed)
    if ref["savings_share"] < MIN_SHARE_OF_ORACLE * oracle:
        return score(0.5 if ref["savings_share"] > 0 else 0.0,
                     f"routed by your scorer and choose_tier at 95% of the large model's quality, "
                     f"{ref['savings_share']:.0%} is "
                     f"saved against always-large, where a router that knew the hidden difficulty saves "
                     f"{oracle:.0%}: reach {MIN_SHARE_OF_ORACLE:.0%} of that (look at the scorer's signals)",
                     passed=False)
    return score(1.0, f"{ref['savings_share']:.0%} cheaper than always-large at "
                      f"{ref['quality'] / ref['baseline_quality']:.1%} of its quality "
                      f"(a difficulty oracle: {oracle:.0%})")


EXERCISE = Exercise(
    name="ex2",
    title="Model routing",
    solution_path="solutions/ex2_model_routing.ipynb",
    entry_points=("difficulty_score", "choose_tier", "routing_cost", "sweep", "pick_setting"),
    checks=(
        scored_check("scorer_reasoning", 2, "a query asking for reasoning scores higher than a longer easy one",
                     _signal_inputs("reasoning"), _collect_pairs, _judge_signal("reasoning")),
        scored_check("scorer_code", 2, "a query asking for code scores higher than a longer easy one",
                     _signal_inputs("code"), _collect_pairs, _judge_signal("code")),
        scored_check("scorer_questions", 2, "each further question raises the score more than pasted text does",
                     _signal_inputs("questions"), _collect_pairs, _judge_signal("questions")),
        scored_check("scorer_informative", 2, "scores rank queries like their hidden difficulty",
                     _texts(_informative_queries), _collect_informative, _judge_informative),
        scored_check("routes_respect_thresholds", 2, "choose_tier follows low and high, boundaries included",
                     _tier_inputs, _collect_tiers, _judge_tiers),
        scored_check("cost_exact", 2, "routing_cost equals CostTracker's totals, savings and quality",
                     _cost_inputs, _collect_cost, _judge_cost),
        scored_check("sweep_curve", 2, "sweep returns every (low, high) pair with its cost and quality",
                     _sweep_inputs, _collect_sweep, _judge_sweep),
        scored_check("pick_meets_target", 2, "pick_setting returns the cheapest point that meets the target",
                     _pick_inputs, _collect_pick, _judge_pick),
        scored_check("end_to_end", 2, "your scorer and router save money at 95% of the large model's quality",
                     _texts(_e2e_queries), _collect_e2e, _judge_e2e),
    ),
    hints=(
        "difficulty_score: add up a few signals, each scaled to [0, 1]: whether reasoning words appear "
        "('why', 'explain', 'compare', 'prove', 'step by step', ...), whether code appears ('```', 'def ', "
        "'SQL', 'regex', 'function'), and the number of '?' (divided by 4, capped at 1). Weight them, clip to "
        "[0, 1]. Leave the length out, or give it a small weight: pasted text is long and easy.",
        "routing_cost: model = pricing.model_for_tier(tier); CostTracker(pricing).log_request(model, "
        "q.input_tokens, q.output_tokens) for each query, then tracker.report().total_cost. A second tracker "
        "logs every query under pricing.model_for_tier('large'). quality is the mean of q.quality[tier].",
        "sweep: for low in lows, for high in highs, skip low > high, route every score with choose_tier and "
        "price with routing_cost. pick_setting: keep points with quality >= target * baseline_quality and "
        "return min(kept, key=cost), or None if nothing is kept.",
    ),
)


#: The learner's verbs: ``check(globals())``, ``hint(n)``, ``solution()``.
check, hint, solution = learner_verbs(EXERCISE)

