"""Language: read which language a text is written in, so a product that serves some languages can refuse the rest.

Two steps, as most language identifiers take them (CLD3, fastText's lid.176, langdetect):

1. **Script.** Unicode tells the script of every letter. A text in Hangul is Korean, one in Greek
   letters Greek, one with kana Japanese: no statistics needed. Latin script is shared by dozens of
   languages, so it needs step 2.
2. **Character n-grams.** Each language has a profile: how often each letter, pair and triple of letters
   occurs in text written in it (``char_ngrams``; "the" and "ing" in English, "sch" and "ein" in German,
   "ção" in Portuguese). A text is scored by naive Bayes, ``log P(text | language) = sum of
   log P(n-gram | language)`` (``log_likelihoods``), and the best language wins (Cavnar & Trenkle 1994
   ranked n-grams; Dunning 1994 and langdetect use this likelihood).

Before either step, the prose is separated from what is not prose (``LanguageGuard`` reads the frame a
user writes, not the material they paste): code blocks and inline code, indented code lines, identifiers
(``snake_case``, ``camelCase``, ``obj.attr``), URLs, numbers and ALL-CAPS keywords are masked, and so is
quoted material when enough prose is left outside the quotes ("Can you translate 'Wo ist der Bahnhof?'"
is an English question). Look-alike letters of another script inside mostly Latin text are read as Latin.

The profiles are trained on the short text shipped in ``data/language_training.json`` (about 4.5 kB per
language for en, de, fr, es, it, nl, pt): enough for sentences, not for a word or two, so texts with fewer
than ``min_letters`` letters, or whose two best languages score too close, are ``"und"`` (undetermined).

>>> LanguageGuard().detect("Where can I find the invoices from last year?")
'en'
>>> LanguageGuard().check("Wo finde ich die Rechnungen vom letzten Jahr?").reason
"language 'de' is not allowed (allowed: en)"
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from prodai_lessons._validation import check_int, check_real, check_str

from ._language_engine import SCRIPTS, Prose, ScoreTable, prose, script_ids, segments, table_from_profiles
from ._text import _as_text, _check_name
from .results import Finding, GuardResult

__all__ = ["LANGUAGES", "char_ngrams", "log_likelihoods", "LanguageProfile", "train_profiles",
           "language_profiles", "detect_language", "LanguageGuard", "load_language_samples"]

#: The languages the shipped n-gram profiles know (ISO 639-1).
LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt")

#: Scripts used by one language only (or by one far more than by any other): no n-grams needed.
_SCRIPT_LANGUAGE = {"Greek": "el", "Hebrew": "he", "Thai": "th", "Hangul": "ko", "Devanagari": "hi",
                    "Arabic": "ar", "Cyrillic": "ru", "Han": "zh", "Hiragana": "ja", "Katakana": "ja"}
_UKRAINIAN_ONLY = set("\u0456\u0457\u0454\u0491")  # і ї є ґ: letters Russian does not use
_PERSIAN_ONLY = set("\u067e\u0686\u0698\u06af")  # پ چ ژ گ
_WIDE_SCRIPTS = ("Han", "Hiragana", "Katakana", "Hangul")  # one character is about one syllable or word


def char_ngrams(text: str) -> list[str]:
    """The letter 1-, 2- and 3-grams of every word of ``text``, each word read with a space on either side.

    Parameters: ``text`` (a ``str``; letters of any script make words, everything else separates them).

    >>> char_ngrams("Ja!")
    ['j', 'a', ' j', 'ja', 'a ', ' ja', 'ja ']
    """
    grams = []
    for word in re.findall(r"[^\W\d_]+", text.lower()):
        padded = f" {word} "
        grams += list(word)
        grams += [padded[i:i + 2] for i in range(len(padded) - 1)]
        grams += [padded[i:i + 3] for i in range(len(padded) - 2)]
    return grams


@dataclass(frozen=True)
class LanguageProfile:
    """A language's n-gram model: ``logp[gram]`` = log P(gram | language); ``unseen`` for any other gram.

    Parameters: ``language`` (ISO 639-1 code), ``logp``, ``unseen``, ``n_grams`` (training n-grams).

    >>> p = train_profiles({"en": ["the cat"], "de": ["die Katze"]})["en"]
    >>> p.language, round(math.exp(p.logp[" th"]), 4), p.logp["the"] > p.unseen
    ('en', 0.038, True)
    """

    language: str
    logp: Mapping[str, float] = field(repr=False)
    unseen: float = field(repr=False)
    n_grams: int = 0


def log_likelihoods(grams: list[str], profiles: Mapping[str, LanguageProfile]) -> dict[str, float]:
    """Naive Bayes: log P(text | language) = the sum of log P(gram | language) over the text's n-grams.

    Parameters: ``grams`` (``char_ngrams`` of the text), ``profiles`` (language -> ``LanguageProfile``).
    >>> scores = log_likelihoods(char_ngrams("the weather is lovely"), language_profiles())
    >>> max(scores, key=scores.get)
    'en'
    """
    return {lang: sum(p.logp.get(g, p.unseen) for g in grams) for lang, p in profiles.items()}


def train_profiles(texts: Mapping[str, Iterable[str]], *, alpha: float = 0.5) -> dict[str, LanguageProfile]:
    """Count each language's n-grams and turn the counts into smoothed log-probabilities.

    Parameters: ``texts`` (language code -> training sentences), ``alpha`` (Lidstone smoothing).
    ``P(gram | language) = (count + alpha) / (N + alpha V)``, with ``N`` the language's n-gram count and
    ``V`` the number of distinct n-grams of all languages plus one (for unseen ones), so that every
    language gives every n-gram a probability and the likelihoods compare.

    >>> profiles = train_profiles({"en": ["the cat sat"], "de": ["die Katze sitzt"]})
    >>> sorted(profiles), profiles["en"].n_grams
    (['de', 'en'], 30)
    """
    if not isinstance(texts, Mapping) or not texts:
        raise TypeError("texts must be a non-empty mapping language -> iterable of sentences")
    alpha = check_real("alpha", alpha, minimum=0.0, strict_minimum=True)
    counts = {}
    for lang, sentences in texts.items():
        if isinstance(sentences, (str, bytes)):
            raise TypeError(f"texts[{lang!r}] must be an iterable of sentences, not a single string")
        counts[check_str("language", lang)] = Counter(g for s in sentences for g in char_ngrams(_as_text("sentence", s)))
    vocab = len(set().union(*counts.values())) + 1
    out = {}
    for lang, c in counts.items():
        n = sum(c.values())
        denom = math.log(n + alpha * vocab)
        logp = {g: math.log(k + alpha) - denom for g, k in c.items()}
        out[lang] = LanguageProfile(lang, logp, math.log(alpha) - denom, n)
    return out


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple[dict[str, LanguageProfile], ScoreTable]:
    raw = resources.files("prodai_lessons").joinpath("data/language_training.json").read_text(encoding="utf-8")
    texts = json.loads(raw)["languages"]
    profiles = train_profiles({lang: texts[lang] for lang in LANGUAGES})
    table = table_from_profiles(LANGUAGES, [dict(profiles[lang].logp) for lang in LANGUAGES],
                                [profiles[lang].unseen for lang in LANGUAGES])
    return profiles, table


def language_profiles() -> dict[str, LanguageProfile]:
    """The profiles of ``LANGUAGES``, trained on the shipped text (``data/language_training.json``).

    >>> sorted(language_profiles()) == sorted(LANGUAGES)
    True
    """
    return dict(_shipped()[0])


# ------------------------------------------------------------------------------------------ detection
def _script_language(counts: Mapping[str, int], text: str) -> str:
    """The language a non-Latin script stands for (see ``detect_language``)."""
    script = max(counts, key=lambda s: (counts[s], s))
    if script in ("Han", "Hiragana", "Katakana") and (counts.get("Hiragana", 0) + counts.get("Katakana", 0)):
        return "ja"
    if script == "Cyrillic" and _UKRAINIAN_ONLY & set(text):
        return "uk"
    if script == "Arabic" and _PERSIAN_ONLY & set(text):
        return "fa"
    return _SCRIPT_LANGUAGE.get(script, "und")


def _enough(counts: Mapping[str, int], min_letters: int) -> bool:
    wide = sum(counts.get(s, 0) for s in _WIDE_SCRIPTS)
    return (sum(counts.values()) - wide) + 4 * wide >= min_letters


def _decide(counts: Mapping[str, int], text: str, scores: np.ndarray, n_grams: int, min_letters: int,
            min_margin: float) -> str:
    """The language of a piece of prose from its letters per script and its n-gram scores (see ``detect_language``)."""
    if not counts or not _enough(counts, min_letters):
        return "und"
    latin = counts.get("Latin", 0)
    if latin * 2 < sum(counts.values()):
        return _script_language(counts, text)
    if latin < min_letters or n_grams == 0:
        return "und"
    order = np.argsort(-scores, kind="stable")
    margin = (scores[order[0]] - scores[order[1]]) / n_grams
    return LANGUAGES[int(order[0])] if margin >= min_margin else "und"


def _languages(p: Prose, min_letters: int, min_margin: float, *, per_segment: bool
               ) -> tuple[str, list[tuple[int, int, str, int]]]:
    """The language of the whole prose and, if asked, (start, end, language, letters) of each segment.

    The same rule as ``_decide``, for all segments at once: letters per script from cumulative counts,
    the n-gram decision with numpy; only segments mostly in another script go through ``_decide``.
    """
    table = _shipped()[1]
    segs = segments(p) if per_segment else [(0, len(p.text))]
    if not segs:
        return "und", []
    scores, n_grams = table.segment_scores(p, segs)
    whole = _decide(p.scripts, p.text, scores.sum(axis=0), int(n_grams.sum()), min_letters, min_margin)
    if not per_segment:
        return whole, []
    ids = script_ids(p.cps)
    present = np.unique(ids[ids >= 0]).tolist()
    a = np.array([x for x, _ in segs])
    b = np.array([y for _, y in segs])
    per_script = {}
    for k in present:
        c = np.concatenate(([0], np.cumsum(ids == k)))
        per_script[SCRIPTS[k]] = c[b] - c[a]
    zero = np.zeros(len(segs), dtype=np.int64)
    letters = sum(per_script.values(), zero)
    latin = per_script.get("Latin", zero)
    wide = sum((per_script.get(w, zero) for w in _WIDE_SCRIPTS), zero)
    enough = (letters - wide) + 4 * wide >= min_letters
    top2 = np.sort(scores, axis=1)[:, -2:] if scores.shape[1] > 1 else np.hstack([scores, scores])
    margin = (top2[:, 1] - top2[:, 0]) / np.maximum(n_grams, 1)
    best = np.argmax(scores, axis=1)
    ok_latin = enough & (latin * 2 >= letters) & (latin >= min_letters) & (n_grams > 0) & (margin >= min_margin)
    other = enough & (latin * 2 < letters)
    out = []
    for k, (x, y) in enumerate(segs):
        if ok_latin[k]:
            lang = LANGUAGES[int(best[k])]
        elif other[k]:
            counts = {name: int(v[k]) for name, v in per_script.items() if v[k]}
            lang = _script_language(counts, p.text[x:y])
        else:
            lang = "und"
        out.append((x, y, lang, int(letters[k])))
    return whole, out


def detect_language(text: str | bytes, *, min_letters: int = 10, min_margin: float = 0.02) -> str:
    """The ISO 639-1 code of the language of ``text``'s prose, or ``"und"`` when it cannot be told.

    Parameters: ``text``; ``min_letters`` (fewer letters of prose give ``"und"``; a CJK character counts
    as four); ``min_margin`` (the best language must beat the runner-up by this many nats per n-gram).

    >>> detect_language("Ceci n'est pas une pipe, c'est un tableau."), detect_language("ok")
    ('fr', 'und')
    >>> detect_language("Why does `for k, v in d.items(): print(k)` print only the keys?")
    'en'

    Notes
    -----
    Scripts first: mostly Greek letters give ``el``, Hebrew ``he``, Thai ``th``, Hangul ``ko``, kana
    (with or without Han) ``ja``, Han alone ``zh``, Devanagari ``hi``, Arabic ``ar`` (``fa`` with the
    letters only Persian adds), Cyrillic ``ru`` (``uk`` with the letters only Ukrainian uses; other
    Cyrillic languages such as Bulgarian or Serbian are not told apart and read as ``ru``). Mostly Latin
    prose is scored by ``log_likelihoods`` against the profiles of ``LANGUAGES``; any other Latin-script
    language is read as the closest of them (there is no "other" class).
    """
    text = _as_text("text", text)
    min_letters = check_int("min_letters", min_letters, minimum=1)
    min_margin = check_real("min_margin", min_margin, minimum=0.0)
    return _languages(prose(text, min_letters=min_letters), min_letters, min_margin, per_segment=False)[0]


class LanguageGuard:
    """Fail texts whose prose is not in one of the ``allowed`` languages.

    Parameters: ``allowed`` (ISO 639-1 codes, default ``("en",)``), ``allow_undetermined`` (let texts
    through whose language cannot be told: too short, code only; default true), ``min_letters``,
    ``min_margin`` (as in ``detect_language``), ``max_findings``, ``name``.

    >>> guard = LanguageGuard(allowed=("en", "fr"))
    >>> guard.check("Bonjour, pouvez-vous m'envoyer la facture du mois dernier ?").passed
    True
    >>> r = guard.check("Hallo, k\\u00f6nnen Sie mir bitte die Rechnung vom letzten Monat schicken?")
    >>> r.passed, r.reason
    (False, "language 'de' is not allowed (allowed: en, fr)")

    Notes
    -----
    The verdict comes from ``detect(text)``, the language of the text's prose as a whole (code, URLs,
    identifiers and quoted material set aside; see ``detect_language``). A text that cannot be told
    (``"und"``) passes when ``allow_undetermined`` is true: a one-word reply or a code snippet is not a
    language problem, and an attacker gains little from a text too short to read. Set it to false to
    fail closed. ``findings`` list the sentences (of at least ``min_letters`` letters) detected in a
    language that is not allowed, with their spans in the original text, so a mostly English text with
    a French sentence passes and still shows the sentence. ``score`` is the share of the letters in
    determined sentences that are in a language not allowed.
    """

    def __init__(self, allowed: Iterable[str] = ("en",), *, allow_undetermined: bool = True, min_letters: int = 10,
                 min_margin: float = 0.02, max_findings: int = 100, name: str = "language") -> None:
        if isinstance(allowed, (str, bytes)):
            raise TypeError("allowed must be an iterable of ISO 639-1 codes such as ('en', 'fr'), not a single string")
        codes = tuple(check_str("allowed entry", c).lower() for c in allowed)
        if not codes:
            raise ValueError("allowed must name at least one language")
        bad = [c for c in codes if not re.fullmatch(r"[a-z]{2}", c)]
        if bad:
            raise ValueError(f"allowed must hold two-letter ISO 639-1 codes; got {bad}")
        self.allowed = codes
        if not isinstance(allow_undetermined, bool):
            raise TypeError(f"allow_undetermined must be a bool; got {type(allow_undetermined).__name__}")
        self.allow_undetermined = allow_undetermined
        self.min_letters = check_int("min_letters", min_letters, minimum=1)
        self.min_margin = check_real("min_margin", min_margin, minimum=0.0)
        self.max_findings = check_int("max_findings", max_findings, minimum=1)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"LanguageGuard(allowed={self.allowed}, name={self.name!r})"

    def detect(self, text: str | bytes) -> str:
        """The language of ``text`` (ISO 639-1) or ``"und"``; see ``detect_language``."""
        return detect_language(text, min_letters=self.min_letters, min_margin=self.min_margin)

    def check(self, text: str | bytes) -> GuardResult:
        """Detect the language of the prose and fail when it is not allowed."""
        text = _as_text("text", text)
        p = prose(text, min_letters=self.min_letters)
        lang, segs = _languages(p, self.min_letters, self.min_margin, per_segment=True)
        determined = sum(n for _, _, l, n in segs if l != "und")
        foreign = [(a, b, l, n) for a, b, l, n in segs if l != "und" and l not in self.allowed]
        score = sum(n for *_, n in foreign) / determined if determined else 0.0
        findings = tuple(Finding("language", p.to_original(a, b, len(text)), l)
                         for a, b, l, _ in foreign[:self.max_findings])
        allowed = ", ".join(self.allowed)
        if lang == "und":
            passed = self.allow_undetermined
            reason = ("language undetermined (too little prose to tell)" +
                      ("" if passed else f"; only {allowed} allowed"))
        else:
            passed = lang in self.allowed
            reason = f"language {lang!r}" + (" allowed" if passed else f" is not allowed (allowed: {allowed})")
        return GuardResult(self.name, passed, score, reason, findings)


def load_language_samples(categories: Iterable[str] | None = None) -> tuple[dict[str, Any], ...]:
    """The labelled language samples shipped with the package (``data/language_samples.jsonl``).

    Parameters: ``categories`` (keep only these: ``"sentence"`` (40+ characters, 30 per language),
    ``"short"``, ``"mixed"``, ``"code"``, ``"script"``, ``"undetermined"``).

    >>> rows = load_language_samples(["sentence"])
    >>> len(rows), rows[0]["lang"], sorted({r["lang"] for r in rows}) == sorted(LANGUAGES)
    (210, 'en', True)

    Notes
    -----
    Each row has ``text``, ``lang`` (the expected ``detect_language`` answer) and ``category``. The
    sentences are on other topics than the training text. ``mixed``: a frame in one language quoting
    another, or loan words; ``code``: questions around code, whose identifiers may be in another language.
    """
    raw = resources.files("prodai_lessons").joinpath("data/language_samples.jsonl").read_text(encoding="utf-8")
    rows = tuple(json.loads(line) for line in raw.splitlines() if line.strip())
    if categories is None:
        return rows
    if isinstance(categories, (str, bytes)):
        raise TypeError("categories must be an iterable of category names, not a single string")
    cats = set(categories)
    unknown = sorted(cats - {r["category"] for r in rows})
    if unknown:
        raise ValueError(f"categories contains unknown categories {unknown}")
    return tuple(r for r in rows if r["category"] in cats)
