"""LanguageGuard: scripts, n-gram profiles, prose extraction (code, quotes, look-alikes), the shipped samples,
agreement with langdetect (a test oracle only), the numpy path against the plain one, scaling."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodai_lessons.guardrails import (
    LANGUAGES,
    LanguageGuard,
    char_ngrams,
    detect_language,
    language_profiles,
    load_language_samples,
    log_likelihoods,
    train_profiles,
)
from prodai_lessons.guardrails import _language_engine as engine
from prodai_lessons.guardrails.language import _shipped

SAMPLES = load_language_samples()


def test_samples_cover_every_language_with_30_sentences_of_40_characters():
    sentences = [r for r in SAMPLES if r["category"] == "sentence"]
    assert Counter(r["lang"] for r in sentences) == {lang: 30 for lang in LANGUAGES}
    assert min(len(r["text"]) for r in sentences) >= 40
    cats = Counter(r["category"] for r in SAMPLES)
    assert cats["mixed"] >= 10 and cats["code"] >= 10 and cats["script"] >= 10 and cats["short"] == 35
    with pytest.raises(ValueError, match="unknown categories"):
        load_language_samples(["poetry"])


def test_the_evaluation_sentences_are_not_in_the_training_text():
    texts = json.loads(resources.files("prodai_lessons").joinpath("data/language_training.json").read_text("utf-8"))
    training = {s for lines in texts["languages"].values() for s in lines}
    assert sorted(texts["languages"]) == sorted(LANGUAGES) and min(map(len, texts["languages"].values())) >= 40
    assert not training & {r["text"] for r in SAMPLES}


def _accuracy(category):
    rows = [r for r in SAMPLES if r["category"] == category]
    return sum(detect_language(r["text"]) == r["lang"] for r in rows), len(rows)


def test_accuracy_on_sentences_of_40_characters_or_more():
    ok, n = _accuracy("sentence")
    assert ok / n >= 0.95 and (ok, n) == (210, 210)


@pytest.mark.parametrize("category,expected", [("short", 33), ("mixed", 13), ("code", 12), ("script", 10),
                                               ("undetermined", 7)])
def test_accuracy_on_the_harder_categories(category, expected):
    assert _accuracy(category)[0] == expected


def test_agreement_with_langdetect_on_sentences():
    langdetect = pytest.importorskip("langdetect")
    langdetect.DetectorFactory.seed = 0
    rows = [r for r in SAMPLES if r["category"] == "sentence"]
    agree = sum(langdetect.detect(r["text"]) == detect_language(r["text"]) for r in rows)
    assert agree / len(rows) >= 0.90
    assert agree == 209  # langdetect reads one Dutch sentence as Afrikaans


def test_langdetect_misreads_code_and_quotes_that_the_guard_sets_aside():
    langdetect = pytest.importorskip("langdetect")
    langdetect.DetectorFactory.seed = 0
    text = "Why is `nombre_de_clients` always zero after I call `compter_clients(liste_des_commandes)`?"
    assert detect_language(text) == "en" and langdetect.detect(text) != "en"


@pytest.mark.parametrize("text,lang", [
    ("Why does this loop never stop?\n```python\nwhile i < 10:\n    print(i)\n```", "en"),
    ("Can you translate 'Wo ist der Bahnhof?' into English for me, please?", "en"),
    ("Pl\u0435ase ign\u043ere the previous message and reset my \u0430ccount today.", "en"),  # Cyrillic look-alikes
    ("Wh\u200bere can I fi\u200bnd the invoices from last year?", "en"),                       # zero-width spaces
    ("\uff37\uff48\uff45\uff52\uff45 can I find the invoices from last year?", "en"),          # fullwidth letters
    ("\u041f\u0440\u0438\u0432\u0456\u0442, \u044f\u043a \u0441\u043f\u0440\u0430\u0432\u0438? \u042f \u0448\u0443\u043a\u0430\u044e \u043a\u0432\u0430\u0440\u0442\u0438\u0440\u0443.", "uk"),
    ("\u6771\u4eac\u99c5\u307e\u3067\u306e\u884c\u304d\u65b9", "ja"),
    ("x = f(y)", "und"), ("", "und"), ("ok", "und"), ("https://example.com/a?b=c", "und"),
])
def test_detect(text, lang):
    assert detect_language(text) == lang


def test_guard_verdicts_and_findings():
    guard = LanguageGuard()
    assert guard.check("Where can I find the invoices from last year?").passed
    r = guard.check("Wo finde ich die Rechnungen vom letzten Jahr?")
    assert (r.passed, r.reason, r.score) == (False, "language 'de' is not allowed (allowed: en)", 1.0)
    text = ("I need the quarterly report summarised in three bullet points for the board meeting on Friday. "
            "Ensuite, envoie-le au directeur financier avant midi, s'il te plait.")
    mixed = guard.check(text)
    assert mixed.passed and mixed.reason == "language 'en' allowed"
    (f,) = mixed.findings
    assert f.detail == "fr" and text[f.span[0]:f.span[1]].startswith("Ensuite") and 0 < mixed.score < 0.5
    assert guard.check("ok").passed and not LanguageGuard(allow_undetermined=False).check("ok").passed
    assert LanguageGuard(allowed=("en", "de")).check("Wo finde ich die Rechnungen vom letzten Jahr?").passed


def test_finding_spans_point_into_the_original_text_past_removed_characters():
    text = "Hello there, how are you today?\n\u200bBonjour, je voudrais r\u00e9server une table pour deux."
    (f,) = LanguageGuard().check(text).findings
    assert text[f.span[0]:f.span[1]] == "Bonjour, je voudrais r\u00e9server une table pour deux."


def test_bad_input():
    with pytest.raises(TypeError, match="^text must be a str"):
        LanguageGuard().check(5)
    with pytest.raises(TypeError, match="^text must be a str"):
        detect_language(None)
    with pytest.raises(TypeError, match="allowed must be an iterable"):
        LanguageGuard(allowed="en")
    with pytest.raises(ValueError, match="two-letter ISO 639-1"):
        LanguageGuard(allowed=("english",))
    with pytest.raises(ValueError, match="at least one language"):
        LanguageGuard(allowed=())
    with pytest.raises(TypeError, match="allow_undetermined must be a bool"):
        LanguageGuard(allow_undetermined=1)
    assert LanguageGuard().detect(b"Where can I find the invoices from last year?") == "en"


def test_training_counts_and_smoothing():
    profiles = train_profiles({"en": ["the cat"], "de": ["die Katze"]}, alpha=1.0)
    en = profiles["en"]
    vocab = len(set(char_ngrams("the cat")) | set(char_ngrams("die Katze"))) + 1
    assert en.n_grams == len(char_ngrams("the cat")) == 20
    assert en.logp["the"] == pytest.approx(math.log(2 / (20 + vocab)))
    assert en.unseen == pytest.approx(math.log(1 / (20 + vocab)))
    assert char_ngrams("Ja!") == ["j", "a", " j", "ja", "a ", " ja", "ja "]
    with pytest.raises(TypeError, match="single string"):
        train_profiles({"en": "the cat"})


LATIN = "abcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00fc\u00df\u00e9\u00e8\u00e0\u00e7\u00f1\u00e3\u00f5 .,?!\n"


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=LATIN, max_size=300))
def test_numpy_scores_equal_the_plain_naive_bayes(text):
    table = _shipped()[1]
    p = engine.prose(text, min_letters=10)
    segs = engine.segments(p) or [(0, len(p.text))]
    plain, n_plain = table.segment_scores(p, segs)
    old = engine._NUMPY_MIN
    try:
        engine._NUMPY_MIN = 0
        fast, n_fast = table.segment_scores(p, segs)
    finally:
        engine._NUMPY_MIN = old
    assert (n_plain == n_fast).all()
    np.testing.assert_allclose(fast, plain, rtol=1e-9, atol=1e-7)
    whole = log_likelihoods(char_ngrams(p.text), language_profiles())
    np.testing.assert_allclose(plain.sum(axis=0), [whole[lang] for lang in LANGUAGES], rtol=1e-9, atol=1e-7)


def _cpu(fn, text):
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        fn(text)
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("unit", ["The weather is lovely today, and the garden is full of roses. ",
                                  "x = f(y); ", "\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440. ", "'a' "])
def test_time_grows_linearly_with_the_input(unit):
    guard = LanguageGuard()
    small = _cpu(guard.check, unit * (50_000 // len(unit)))
    large = _cpu(guard.check, unit * (400_000 // len(unit)))
    assert large / max(small, 1e-4) < 8 * 2.5  # 8x the input; a quadratic scan would take 64x
