"""Word relations from WordNet for the groundedness check: may one word stand for another, and what is a word mostly?

``data/lexicon.json.gz`` (built by ``prodai_lessons.tooling.build_lexicon`` from WordNet 3.0, Princeton
University, under the WordNet license kept in the file) lists, for 28,905 English words (those WordNet's
tagged corpus uses, and their synonyms), their synsets in order of frequency, their most frequent part of
speech and how often the corpus uses them; the links between synsets (hypernym, derivation, similar
adjective, pertainym, attribute, verb group, also-see) and the words of their definitions; and irregular
forms ("took" -> "take"). Private: ``_grounding`` asks it; it imports only the shared
validation.
"""

from __future__ import annotations

import functools
import gzip
import math
import json
from importlib import resources
from typing import NamedTuple

from prodai_lessons._validation import check_int, check_str

#: WordNet's detachment rules: a suffix an inflected form may end with, and what replaces it in the base.
_DETACH = (("ies", "y"), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
           ("es", "e"), ("es", ""), ("s", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""), ("er", ""),
           ("est", ""), ("er", "e"), ("est", "e"))


class _Lexicon(NamedTuple):
    lemmas: dict[str, list]  # word -> [most frequent part of speech, synset ids by frequency]
    links: dict[int, tuple[int, ...]]  # synset -> the synsets it links to
    exceptions: dict[str, list[str]]  # irregular form -> base forms
    glosses: dict[int, tuple[str, ...]]  # synset -> the content words of its definition
    counts: dict[str, int]  # word -> uses in the tagged corpus
    total: int  # all tagged uses


@functools.cache
def _data() -> _Lexicon:
    raw = resources.files("prodai_lessons").joinpath("data/lexicon.json.gz").read_bytes()
    d = json.loads(gzip.decompress(raw))
    return _Lexicon(d["lemmas"], {int(k): tuple(v) for k, v in d["links"].items()}, d["exceptions"],
                    {int(k): tuple(v) for k, v in d["glosses"].items()}, d["counts"], sum(d["counts"].values()))


@functools.lru_cache(maxsize=65536)
def lemmas(word: str) -> tuple[str, ...]:
    """The base forms WordNet knows for a lower-case ``word`` ("took" -> ("take",), "bays" -> ("bay",)),
    the word itself first when it is one; () for a word the lexicon does not have."""
    known = _data().lemmas
    out = [word] if word in known else []
    out += [b for b in _data().exceptions.get(word, ()) if b not in out]
    for suffix, repl in _DETACH:
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            base = word[:-len(suffix)] + repl
            if base in known and base not in out:
                out.append(base)
    if len(word) > 4 and word.endswith(("ed", "ing")):  # "stopped", "stopping" -> "stop"
        base = word[:-2] if word.endswith("ed") else word[:-3]
        if len(base) > 2 and base[-1] == base[-2] and base[:-1] in known and base[:-1] not in out:
            out.append(base[:-1])
    return tuple(out)


@functools.lru_cache(maxsize=65536)
def synsets(word: str, senses: int | None = None) -> frozenset[int]:
    """The synsets of every base form of ``word`` (only the ``senses`` most frequent of each, if given)."""
    known = _data().lemmas
    return frozenset(s for b in lemmas(word) for s in known[b][1][:senses])


@functools.lru_cache(maxsize=65536)
def _reach(word: str, senses: int | None) -> frozenset[int]:
    links = _data().links
    own = synsets(word, senses)
    return own.union(*(links.get(s, ()) for s in own)) if own else own


@functools.lru_cache(maxsize=65536)
def _defined_with(word: str, senses: int) -> frozenset[str]:
    known, glosses = _data().lemmas, _data().glosses
    return frozenset(g for base in lemmas(word) for s in known[base][1][:senses] for w in glosses.get(s, ())
                     for g in (lemmas(w) or (w,)))


def defines(a: str, b: str, senses: int = 3) -> bool:
    """True when the definition of one of the ``senses`` most frequent senses of ``a`` uses ``b`` (a base
    form of it), or the other way round ("refund": "money returned to a payer")."""
    la, lb = set(lemmas(a)), set(lemmas(b))
    return bool(la and lb and (lb & _defined_with(a, senses) or la & _defined_with(b, senses)))


def related(a: str, b: str, senses: int | None = None) -> bool:
    """True when words ``a`` and ``b`` share a synset or one's synset links to the other's (hypernym
    "metal" for "copper", derivation "growth" for "grow", a similar adjective ...): in some sense, one may
    stand for the other. Cohyponyms ("copper" and "steel", both metals) are not related.
    ``senses``: consider only that many of each word's most frequent senses (default: all).

    >>> related("growth", "increase"), related("Reopened", "open"), related("copper", "steel")
    (True, True, False)
    """
    a, b = check_str("a", a).lower(), check_str("b", b).lower()
    senses = None if senses is None else check_int("senses", senses, minimum=1)
    if a == b:
        return True
    sa, sb = synsets(a, senses), synsets(b, senses)
    return bool(sa and sb and (sa & _reach(b, senses) or sb & _reach(a, senses)))


def part_of_speech(word: str) -> str | None:
    """The most frequent part of speech ("noun", "verb", "adj", "adv") of ``word``'s first base form, or
    None; an inflected form of a verb is a verb ("made" -> "make", "closes" -> "close")."""
    base = lemmas(word)
    if not base:
        return None
    known = _data().lemmas
    if any(b != word and known[b][0] == "verb" for b in base):
        return "verb"
    return known[base[0]][0]


@functools.lru_cache(maxsize=65536)
def rarity(word: str) -> float:
    """How much a word says by being there: ln(T / (1 + uses)), with ``uses`` the number of times WordNet's
    sense-tagged corpus uses the word's most used base form and T all its tagged uses, about 240,000
    ("give": 5.7, "membership": 9.4, "sauna" or a word the lexicon lacks: 12.4)."""
    counts = _data().counts
    uses = max((counts.get(b, 0) for b in lemmas(word)), default=0)
    return math.log(_data().total / (1 + uses))
