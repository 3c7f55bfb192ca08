"""Groundedness: does the retrieved context support what the answer claims? (a lexical hallucination check)

An answer built from retrieved documents (RAG) should say only what the documents say. The check reads
the answer one claim (sentence) at a time, after the shared ``normalize`` (so an invisible character or a
look-alike letter cannot hide a number or a name), in four steps:

1. **Sentences.** Split the answer into sentences (``split_sentences``); each one is a claim. Sentences
   that say the context does not answer ("I could not find ...") make no claim about the facts.
2. **Facts.** Every number, amount and date the claim states must be stated by the context, as a value:
   "3.5 million" is 3,500,000 (and a rounding of 3,512,000), "2 May 2024" is "May 2, 2024". Every name
   (a capitalised word that does not start the sentence, an acronym) must occur in the context.
3. **Words.** Find the context sentence that matches the claim best (BM25, the ranking function of most
   search engines) and measure how much of the claim's content it covers, each word weighted by its
   inverse document frequency and its rarity in English (``weighted_support``): "harbour" found counts for
   more than "company". A word WordNet relates to a word of that sentence counts as found (``related``:
   "growth" for "increase"), and a number the context states counts where the context states it.
4. **Negation.** A word both sentences use but only one negates is a flip (``negation_flip``): "the
   kettle is dishwasher safe" against "it is not dishwasher safe".

``GroundednessGuard`` fails an answer with any unsupported claim; its score is the share of unsupported
claims, its findings point at each unsupported sentence with the reason.

What a lexical check cannot do. RAGAS's faithfulness metric and TruLens's groundedness feedback ask an
LLM to list the answer's claims and judge each against the context; LLM Guard's factual-consistency
scanner scores entailment with a natural-language-inference (NLI) model. Those catch what shares no
words with the error: a contradiction in other words ("the bridge reopened" against "the bridge stays
closed until 2025"), a swap of two values that both occur in the context, a wrong inference from a
correct sentence, and a claim that needs world knowledge to judge. They cost a model call per claim,
and they are wrong in their own ways (an LLM judge is lenient with fluent text). This check is cheap,
explainable and deterministic, and it is strong exactly where generation fails most visibly: numbers,
names and invented extra sentences. The lesson measures both sides per category.

>>> guard = GroundednessGuard()
>>> ctx = "The plant opened in 2019. It employs 320 people and does not export."
>>> guard.check("The plant opened in 2019 and employs 320 people.", context=ctx).passed
True
>>> r = guard.check("The plant opened in 2017.", context=ctx)
>>> r.passed, r.findings[0].detail
(False, "number '2017' is not in the context")
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from prodai_lessons._validation import check_real

from ._grounding import (
    CODE_RX,
    CONTRAST_RX,
    DEMONYM_ENDINGS,
    clause_negated,
    clauses,
    NEGATIONS,
    REFUSAL_RX,
    ContextIndex,
    content_stems,
    content_words,
    initials_of,
    may_stand_for,
    refine,
    names,
    negated_stems,
    number_supported,
    numbers_and_dates,
    sentence_spans,
    stem,
    substitutions,
    words,
)
from ._lexicon import rarity
from ._text import _as_text, _check_name
from .normalization import normalize
from .results import Finding, GuardResult

__all__ = ["split_sentences", "weighted_support", "negation_flip", "GroundednessGuard", "load_groundedness_corpus",
           "GROUNDEDNESS_CATEGORIES"]

#: The corpus batches, in the order they were written (see ``load_groundedness_corpus``).
GROUNDEDNESS_BATCHES = ("v1", "v2", "v3", "v4", "v5")
#: The corpus categories, and whether an answer of the category should fail the check (1) or pass (0).
GROUNDEDNESS_CATEGORIES: dict[str, int] = {
    "supported_verbatim": 0, "supported_paraphrase": 0, "refusal": 0, "wrong_number": 1, "wrong_entity": 1,
    "negation_flip": 1, "unsupported_extra": 1, "partially_supported": 1}


def split_sentences(text: str | bytes) -> list[str]:
    """The sentences of ``text``: a sentence ends at ``.``, ``!`` or ``?`` before a space (not after an
    abbreviation such as "Dr." or "a.m.", an initial, or inside a number such as 3.5) or at a blank line.

    Parameters: ``text`` (``str`` or UTF-8 ``bytes``).

    >>> split_sentences("Dr. Yusuf leads the team. It costs 3.5 million! Open at 8 a.m. on Mondays.")
    ['Dr. Yusuf leads the team.', 'It costs 3.5 million!', 'Open at 8 a.m. on Mondays.']
    """
    text = _as_text("text", text)
    return [text[a:b] for a, b in sentence_spans(text)]


def weighted_support(claim: Iterable[str], source: set[str], idf: Mapping[str, float]) -> float:
    """Share of a claim's content words that the source sentence contains, each weighted by its idf.

    Parameters: ``claim`` (its content words), ``source`` (the sentence's words), ``idf`` (word -> weight).
    >>> weighted_support(["revenue", "rise", "paris"], {"revenue", "rise"}, {"revenue": 1.0, "rise": 1.0, "paris": 2.0})
    0.5
    """
    words = set(claim)
    total = sum(idf[w] for w in words)
    return sum(idf[w] for w in words if w in source) / total if total else 1.0


def negation_flip(claim_negated: set[str], source_negated: set[str], shared: set[str]) -> set[str]:
    """Words both sentences use (``shared``) that exactly one of them negates.

    Parameters: ``claim_negated``, ``source_negated`` (the words each sentence negates), ``shared``.
    >>> negation_flip({"dishwasher", "safe"}, set(), {"kettle", "dishwasher", "safe"}) == {"dishwasher", "safe"}
    True
    """
    return (claim_negated ^ source_negated) & shared


def _context_text(context: Any) -> str:
    if isinstance(context, (str, bytes, bytearray)):
        return _as_text("context", context)
    if isinstance(context, Sequence) or (isinstance(context, Iterable) and not isinstance(context, Mapping)):
        parts = list(context)
        return "\n\n".join(_as_text(f"context[{i}]", p) for i, p in enumerate(parts))
    raise TypeError(f"context must be a str (or UTF-8 bytes) or a sequence of passages; got {type(context).__name__}")


class GroundednessGuard:
    """Fail answers that make claims the context does not support (numbers, names, words, negation).

    Parameters: ``min_support`` (each clause of a claim needs at least this ``weighted_support`` from
    its best-matching context sentence; default 0.3), ``check_names``, ``check_substitutions`` and
    ``check_negation`` (switch those checks off), ``name``.

    >>> guard = GroundednessGuard()
    >>> ctx = ["Harbor Analytics was founded in 2014 in Gothenburg.", "Its 2023 revenue was 3,500,000 euros."]
    >>> guard.check("Revenue reached 3.5 million euros in 2023.", context=ctx).passed
    True
    >>> r = guard.check("It was founded in 2014 in Oslo. It has 40 staff.", context=ctx)
    >>> r.score, [f.detail for f in r.findings]
    (1.0, ["name 'Oslo' is not in the context", "number '40' is not in the context"])

    Notes
    -----
    ``check(answer, context=...)`` takes the context as one text or as a sequence of passages (retrieved
    chunks). A context that is missing or empty fails closed: there is nothing to support any claim.
    Answer and context go through ``normalize`` (invisible characters removed, look-alike letters and
    fullwidth forms folded, no leetspeak folding, so digits stay digits); names keep the case of the
    original text. Each sentence of the answer is a claim if it has content words, a number, a date or a
    name; a sentence saying that the context does not tell ("The leaflet does not say ...", "I could not
    find ...") is no claim, except for a clause after "but" or "however". For each claim, in this order:

    - every date must agree with a context date on each part it states ("March 2022" is supported by
      "3 March 2022"; 03/04/2021 may be read either way);
    - every name (a capitalised word that does not start the sentence, a run of them, an acronym) must
      occur in the context; an acronym may also spell the initials of context words ("CTO", "chief
      technology officer"); a code of letters and digits ("IP54", "X1", also "X1s") must occur in the
      context too;
    - every number must equal a context number of its kind (times of day apart: "6 p.m." is 18:00), or
      be one rounded to the digits it is written with ("3.5 million" for 3,512,000); a number stated
      twice needs two context numbers. Values are compared without their units;
    - each clause of the claim (split at "; ", ", and", " but " ...) must get ``weighted_support`` of at
      least ``min_support`` from its BM25-best context sentence or a sentence stating one of its numbers,
      each word weighted by its idf over the context sentences (a word the context never uses weighs as
      much as one it uses once) times its rarity in English (from WordNet's tagged corpus); a claim word
      ``related`` to a word of the sentence (WordNet synonym, hypernym or derivation, in the three most
      frequent senses of each) counts as found, and so does a number the sentence states;
    - no run of words the context never uses may stand where the best sentence has other words
      ("made of brushed copper" against "made of brushed steel"; a substitution), unless one of them is
      related to or defined with one of the sentence's words there, or all of them are mostly verbs or
      adverbs ("takes" for "lasts");
    - no content word may be negated in one of the two sentences while its clause in the other has no
      negation ("no more than six" is a bound, not a negation).

    "9 in the morning" is a time (9:00), "under 12 may visit" states the number 12 and no date, a month
    the context names alone is a date of the context, and "one" or "single" needs no context number.

    ``score`` = unsupported claims / claims (0.0 when there is no claim); ``passed`` is ``score == 0``.
    One finding per unsupported sentence, typed ``unsupported_date``, ``unsupported_name``,
    ``unsupported_number``, ``low_support``, ``substitution`` or ``negation_flip`` (the first problem
    found in the order above), with the sentence's span in the original answer and the reason.
    """

    extra_inputs = ("context",)

    def __init__(self, min_support: float = 0.3, *, check_names: bool = True, check_substitutions: bool = True,
                 check_negation: bool = True, name: str = "groundedness") -> None:
        self.min_support = check_real("min_support", min_support, minimum=0.0, maximum=1.0)
        for label, value in (("check_names", check_names), ("check_substitutions", check_substitutions),
                             ("check_negation", check_negation)):
            if not isinstance(value, bool):
                raise TypeError(f"{label} must be a bool; got {type(value).__name__}")
        self.check_names = check_names
        self.check_substitutions = check_substitutions
        self.check_negation = check_negation
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"GroundednessGuard(min_support={self.min_support}, name={self.name!r})"

    def check(self, answer: str | bytes, context: str | bytes | Sequence[str] | None = None) -> GuardResult:
        """Check every claim of ``answer`` against ``context``; fail on any unsupported claim."""
        answer = _as_text("answer", answer)
        if context is None:
            return GuardResult(self.name, False, 1.0, "no context given: nothing to check the answer against",
                               (Finding("no_context", (0, len(answer))),))
        ctx = _context_text(context)
        if not ctx.strip():
            return GuardResult(self.name, False, 1.0, "empty context: nothing to check the answer against",
                               (Finding("no_context", (0, len(answer))),))
        index = ContextIndex.build(normalize(ctx, fold_obfuscation=False).text)
        norm = normalize(answer, fold_obfuscation=False)
        t = norm.text
        ws_all = words(t)
        starts = [a for _, a, _ in ws_all]
        spans_all = norm._spans_to_original(starts, [b for _, _, b in ws_all]) if ws_all else []
        nums_all, dates_all = refine(t, *numbers_and_dates(t, ws=ws_all))
        num_starts, date_starts = [n.span[0] for n in nums_all], [d.span[0] for d in dates_all]
        claims = 0
        findings: list[Finding] = []
        # The sentences come in order: look for each one's words, numbers and dates from where the last
        # one's ended.
        j = n1 = d1 = 0
        for a, b in sentence_spans(t):
            i = bisect.bisect_left(starts, a, j)
            j = bisect.bisect_left(starts, b, i)
            n0 = bisect.bisect_left(num_starts, a, n1)
            n1 = bisect.bisect_left(num_starts, b, n0)
            d0 = bisect.bisect_left(date_starts, a, d1)
            d1 = bisect.bisect_left(date_starts, b, d0)
            nums, dates = nums_all[n0:n1], dates_all[d0:d1]
            problem = self._check_claim(answer, t, a, b, ws_all[i:j], spans_all[i:j], nums, dates, index)
            if problem is None:
                continue
            claims += 1
            if problem:
                kind, detail = problem
                findings.append(Finding(kind, norm.to_original(a, b), detail))
        score = len(findings) / claims if claims else 0.0
        if not claims:
            return GuardResult(self.name, True, 0.0, "no claim to check")
        if not findings:
            return GuardResult(self.name, True, 0.0, f"all {claims} claim(s) supported by the context")
        return GuardResult(self.name, False, score,
                           f"{len(findings)} of {claims} claim(s) not supported: {findings[0].detail}",
                           tuple(findings))

    def _check_claim(self, original: str, t: str, a: int, b: int, ws: list[tuple[str, int, int]],
                     spans: list[tuple[int, int]], nums: list[Any], dates: list[Any], index: ContextIndex
                     ) -> tuple[str, str] | tuple[()] | None:
        """``None``: no claim; ``()``: a supported claim; else (finding type, reason). ``ws`` and ``spans``:
        the sentence's words in the normalized text ``t`` and in the ``original``; ``nums``, ``dates``:
        the numbers and dates it states."""
        refusal = REFUSAL_RX.search(t, a, b)
        if refusal is not None:  # "I could not find X[, but Y]": only a clause after a contrast claims anything
            contrast = CONTRAST_RX.search(t, refusal.end(), b)
            if contrast is None:
                return None
            a = contrast.end()
            k = bisect.bisect_left([x for _, x, _ in ws], a)
            ws, spans = ws[k:], spans[k:]
            nums = [n for n in nums if n.span[0] >= a]
            dates = [d for d in dates if d.span[0] >= a]
        found = names(original, ws, spans) if self.check_names else []
        stems = content_stems(ws)
        if not (stems or nums or dates or found):
            return None
        for d in dates:
            if not index.date_supported(d):
                return "unsupported_date", f"date {d.text!r} is not in the context"
        acronyms = set()
        for k in found:
            w = ws[k][0]
            if w in index.words or stem(w) in index.stem_set or any(w + e in index.words for e in DEMONYM_ENDINGS):
                continue
            s, e = spans[k]
            if original[s:e].isupper() and initials_of(w, index.initials):
                acronyms.add(stem(w))
                continue
            return "unsupported_name", f"name {original[s:e]!r} is not in the context"
        if self.check_names:
            for m in CODE_RX.finditer(t, a, b):
                code = m.group()
                if code not in index.codes and not (code.endswith("s") and code[:-1] in index.codes):
                    return "unsupported_name", f"code {m.group()!r} is not in the context"
        used: set[int] = set()
        counted = []  # the numbers the claim states, each a content word found where the context states it
        for n in nums:
            i = index.match_number(n, used)
            if i is None and n.kind == "time" and n.value < 780 and not any(c.isalpha() for c in n.text):
                i = index.match_number(n._replace(value=n.value + 720), used)  # "1:00" may be 1 p.m.
            if i is None and n.text in ("one", "single"):  # "on one charge": the singular says one, as "a" would
                continue
            if i is None:
                return "unsupported_number", f"number {n.text!r} is not in the context"
            used.add(i)
            counted.append(n)
        parts = clauses(t, ws)
        starts = [p[0][1] for p in parts]
        ranked = []
        for k, part in enumerate(parts):
            part_words = content_words(part)
            part_stems = [stem(w) for w in part_words] if len(parts) > 1 else stems
            mine = [n for n in counted if bisect.bisect_right(starts, n.span[0]) - 1 == k or len(parts) == 1]
            if not part_stems and not mine:
                continue
            terms = part_stems + [f"#{j}" for j in range(len(mine))]
            weights = {s: index.weight(s) * rarity(w) for w, s in zip(reversed(part_words), reversed(part_stems))}
            # a number weighs as a word the context uses once and the lexicon does not know ("#")
            weights |= {f"#{j}": index.weight("#") * rarity("#") for j in range(len(mine))}
            ranked = index.best_sentences(part_stems, 1) if part_stems else []
            best_support, best_at = -1.0, None
            for i in dict.fromkeys(ranked + [i for n in mine for i in index.number_sentences(n)]):
                source = set(index.stems[i]) | acronyms
                # a claim word WordNet relates to a word of the sentence counts as found
                source |= {s for w, s in zip(part_words, part_stems) if s not in source and index.relates(i, w)}
                source |= {f"#{j}" for j, n in enumerate(mine) if i in index.number_sentences(n)}
                support = weighted_support(terms, source, weights)
                if support > best_support:
                    best_support, best_at = support, i
            if best_at is None:
                best_support = weighted_support(terms, acronyms, weights)
            if best_support < self.min_support - 1e-9:
                where = f"context sentence {best_at + 1}" if best_at is not None else "no context sentence"
                return "low_support", f"support {best_support:.2f} < {self.min_support:g} (best match: {where})"
            ranked = [best_at] if best_at is not None else []
            if self.check_negation and best_at is not None and len(parts) > 1:
                flip = self._flip(t, part, best_at, index)
                if flip:
                    return flip
        if len(parts) != 1:
            ranked = index.best_sentences(stems, 1)
        best = ranked[0] if ranked else None
        if best is not None and self.check_substitutions:
            stem_set = set(stems)
            novel = {stem(w) for w, _, _ in ws if not w.endswith(("ed", "ing")) and stem(w) in stem_set
                     and stem(w) not in index.stem_set and stem(w) not in acronyms}
            if novel:
                source, source_words = index.sequence(best)
                mine_words = content_words(ws)
                for (i, k), (j, l) in substitutions(stems, source, novel):
                    if not may_stand_for(mine_words[i:k], source_words[j:l]):
                        return ("substitution", f"{' '.join(mine_words[i:k])!r} where the context says "
                                f"{' '.join(source_words[j:l])!r}")
        if self.check_negation and best is not None:
            flip = self._flip(t, ws, best, index)
            if flip:
                return flip
        return ()

    @staticmethod
    def _flip(t: str, ws: list[tuple[str, int, int]], best: int, index: ContextIndex) -> tuple[str, str] | None:
        """A negation flip between the words ``ws`` of the answer and context sentence ``best``, or None."""
        mine = negated_stems(t, ws) if NEGATIONS.intersection(w for w, _, _ in ws) else set()
        # a word negated on one side flips only if its clause on the other side has no negation at all
        # ("neither trains nor cable cars are covered" against "trains and cable cars are not covered")
        a_best, b_best = index.spans[best]
        theirs = clause_negated(index.text, words(index.text, a_best, b_best)) if index.negated[best] else set()
        flipped = negation_flip(mine - theirs, index.negated[best] - clause_negated(t, ws),
                                set(content_stems(ws)) & set(index.stems[best]))
        if flipped:
            side = "the answer" if flipped & mine else "the context"
            return "negation_flip", f"negation flip: only {side} negates {sorted(flipped)[0]!r}"
        return None


def load_groundedness_corpus(batch: str | None = None, *, categories: Iterable[str] | None = None
                             ) -> tuple[dict[str, Any], ...]:
    """The labelled groundedness corpus shipped with the package (``data/groundedness_corpus.jsonl``).

    Parameters: ``batch`` (one of ``GROUNDEDNESS_BATCHES``; default all), ``categories`` (keep only these).

    >>> rows = load_groundedness_corpus("v1")
    >>> len(rows), rows[0]["category"], rows[0]["label"]
    (208, 'supported_verbatim', 0)
    >>> len(load_groundedness_corpus("v4", categories=["supported_paraphrase"]))
    93

    Notes
    -----
    Each row has ``context``, ``answer``, ``label`` (1 = the check should fail the answer), ``category``
    (see ``GROUNDEDNESS_CATEGORIES``), ``context_id`` and ``batch``. Batch ``v1`` was written before the
    rules and the rules were developed on it (figures on it are in-sample); batches ``v2`` to ``v5`` were
    each written after a freeze of the rules (the file records each freeze's hash) and evaluated once,
    untuned. After v2, v3 and v4 the rules were revised with the failures in view, so v1 to v4 are
    in-sample for the rules as they are; ``v5`` (by writers who never saw the rules) is the batch to read
    for what happens on new answers.
    """
    if batch is not None and batch not in GROUNDEDNESS_BATCHES:
        raise ValueError(f"batch must be one of {', '.join(map(repr, GROUNDEDNESS_BATCHES))} or None; got {batch!r}")
    cats = None
    if categories is not None:
        if isinstance(categories, (str, bytes)):
            raise TypeError("categories must be an iterable of category names, not a single string")
        cats = set(categories)
        unknown = sorted(cats - set(GROUNDEDNESS_CATEGORIES))
        if unknown:
            raise ValueError(f"categories contains unknown categories {unknown}; known: {sorted(GROUNDEDNESS_CATEGORIES)}")
    raw = resources.files("prodai_lessons").joinpath("data/groundedness_corpus.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    contexts = {r["id"]: r["text"] for r in records if r["type"] == "context"}
    rows = [{"context": contexts[r["context_id"]], "answer": r["answer"], "label": r["label"],
             "category": r["category"], "context_id": r["context_id"], "batch": r["batch"]}
            for r in records if r["type"] == "item"]
    return tuple(r for r in rows if (batch is None or r["batch"] == batch) and (cats is None or r["category"] in cats))
