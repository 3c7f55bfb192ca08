"""GroundednessGuard: the four checks, bad input, the labelled corpus and its frozen-rules batches, scaling.

The corpus figures below are the ones lesson 5 prints. Batches v2, v3 and v4 were each written after a freeze
of the rules; after v2 and after v3 the rules were revised with the failures in view, so only the latest
batch, v4, is out of sample. ``test_the_rules_are_the_ones_frozen_last`` recomputes the fingerprint of the
latest freeze recorded in the data file (the code and the lexicon it reads), so a change of the rules shows
up here (and v4 would then no longer be out of sample).
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prodai_lessons.guardrails import (
    GROUNDEDNESS_CATEGORIES,
    ConfidenceGuard,
    GroundednessGuard,
    GuardrailPipeline,
    LanguageGuard,
    LengthGuard,
    PIIGuard,
    PromptInjectionGuard,
    ToxicityGuard,
    load_corpus,
    load_groundedness_corpus,
    negation_flip,
    split_sentences,
    weighted_support,
    wilson_interval,
)
from prodai_lessons.guardrails._grounding import (
    clause_negated,
    negated_stems,
    numbers_and_dates,
    refine,
    sentence_spans,
    stem,
    words,
)

ROOT = Path(__file__).resolve().parents[1]
GUARD = GroundednessGuard()
CTX = ("Harbor Analytics was founded in 2014 by Maria Lindqvist in Gothenburg. In 2023 its revenue reached "
       "3,512,000 euros. It opened an office in Rotterdam on 3 March 2022. The company has not raised outside "
       "funding. The chief technology officer is Tomas Ek.")


def verdict(answer, context=CTX):
    return GUARD.check(answer, context=context)


# --------------------------------------------------------------------------------------------- the steps
def test_sentences_end_at_punctuation_but_not_at_abbreviations_or_decimals():
    text = "Dr. Yusuf leads the team. It costs 3.5 million! Open 8 a.m. to 6 p.m. on weekdays. J. Smith agrees?"
    assert split_sentences(text) == ["Dr. Yusuf leads the team.", "It costs 3.5 million!",
                                     "Open 8 a.m. to 6 p.m. on weekdays.", "J. Smith agrees?"]
    assert split_sentences("") == [] and split_sentences("no end") == ["no end"]
    assert sentence_spans("First part.\n\nSecond part") == [(0, 11), (13, 24)]


@pytest.mark.parametrize("written,value", [
    ("3.5 million", 3_500_000), ("3,500,000", 3_500_000), ("$3.5m", 3_500_000), ("4.2bn", 4.2e9), ("12%", 12),
    ("twenty-five", 25), ("four and a half", 4.5), ("a thousand", 1000), ("twice", 2), ("2,200-watt", 2200),
    ("17th", 17)])
def test_numbers_are_read_as_values(written, value):
    (n,) = numbers_and_dates(written)[0]
    assert n.value == pytest.approx(value)


def test_times_dates_and_units_are_read_apart():
    nums, _ = numbers_and_dates("from 8 a.m. to 6 p.m., or 18:00; the mast is 5 m high")
    assert [(n.value, n.kind) for n in nums] == [(480, "time"), (1080, "time"), (1080, "time"), (5, "number")]
    _, dates = numbers_and_dates("on 14 september 2021, may 2, 2024, 2024-05-02, 03/04/2021 and in march")
    assert [d.readings for d in dates] == [((2021, 9, 14),), ((2024, 5, 2),), ((2024, 5, 2),),
                                           ((2021, 3, 4), (2021, 4, 3)), ((None, 3, None),)]
    assert numbers_and_dates("the IP68 rating") == ([], [])  # digits inside a word are no number


@pytest.mark.parametrize("answer", [
    "Revenue was 3.5 million euros in 2023.",         # rounded, another notation
    "Revenue was 3,512,000 euros in 2023.",
    "The Rotterdam office opened on March 3, 2022.",  # another date format
    "The Rotterdam office opened in March 2022.",     # a less precise date
    "The company was founded in 2014.",
    "Its CTO is Tomas Ek.",                           # an acronym for words of the context
    "Harbor Analytics has not raised outside funding.",
])
def test_supported_claims_pass(answer):
    assert verdict(answer).passed, verdict(answer).reason


@pytest.mark.parametrize("answer,kind", [
    ("Revenue was 3.6 million euros in 2023.", "unsupported_number"),
    ("Revenue was 4,200,000 euros in 2023.", "unsupported_number"),
    ("The Rotterdam office opened on 4 March 2022.", "unsupported_date"),
    ("The company was founded in 2014 by Maria Lindqvist in Malmo.", "unsupported_name"),
    ("Harbor Analytics has raised outside funding.", "negation_flip"),
    ("The company was founded in 2014. It also makes drones for farmers.", "low_support"),
])
def test_unsupported_claims_fail_with_the_reason(answer, kind):
    r = verdict(answer)
    assert not r.passed and r.findings[-1].type == kind, r


@pytest.mark.parametrize("text, value, kind", [("9 in the morning", 540, "time"), ("8 in the evening", 1200, "time"),
                                               ("5 in the afternoon", 1020, "time"), ("11 at night", 1380, "time"),
                                               ("2 at night", 120, "time"), ("12 at night", 0, "time"),
                                               ("9 in the box", 9, "number"), ("a single day", 1, "number")])
def test_hours_of_the_day_in_words_are_times(text, value, kind):
    nums, _ = refine(text, *numbers_and_dates(text))
    assert [(n.value, n.kind) for n in nums] == [(value, kind)]


def test_may_after_a_number_is_a_month_only_without_a_verb_after_it():
    for text in ("children under 12 may visit", "the 12th of may apply", "12 may not enter"):
        nums, dates = refine(text, *numbers_and_dates(text))
        assert dates == [] and [n.value for n in nums] == [12]
    for text in ("apply by 15 may through the portal", "on 12 may 2024 it", "by 3 may, the"):
        assert len(refine(text, *numbers_and_dates(text))[1]) == 1


def test_a_context_names_months_alone_and_a_claim_only_after_a_preposition():
    text = "paid in two instalments, in october and february."
    assert [d.text for d in refine(text, *numbers_and_dates(text), in_context=True)[1]] == ["october", "february"]
    assert [d.text for d in refine(text, *numbers_and_dates(text))[1]] == ["october"]
    ctx = "It is paid in two instalments, in October and February."
    assert verdict("One instalment is paid in February.", ctx).passed
    assert not verdict("One instalment is paid in March.", ctx).passed


def test_a_bound_is_no_negation_and_a_negated_clause_is_no_flip():
    t = "take no more than six tablets, and not after 8 p.m."
    assert negated_stems(t, words(t)) == set()  # "no more than", a bound; "not after 8 p.m.": no content word
    t = "railjet trains and cable cars are not covered, and dogs are welcome"
    assert clause_negated(t, words(t)) == {stem(w) for w in ("railjet", "trains", "cable", "cars", "covered")}
    ctx = "Railjet trains and mountain cable cars are not covered by the pass."
    assert verdict("Neither Railjet trains nor mountain cable cars are covered by the pass.", ctx).passed
    assert not verdict("Railjet trains and mountain cable cars are covered by the pass.", ctx).passed
    ctx = "The scholarship does not need to be repaid, and it can be combined with a maintenance loan."
    assert not verdict("The scholarship cannot be combined with a maintenance loan.", ctx).passed


def test_paraphrases_the_lexicon_knows_pass_and_swaps_of_things_fail():
    ctx = ("The dishwasher's eco programme uses 9.5 litres of water and lasts 3 hours and 40 minutes. "
           "Salmon numbers increased most in sheltered bays. The library opens at 9 a.m. and closes at 8 p.m.")
    for answer in ["The eco cycle takes 3 hours and 40 minutes.", "Most of the growth in salmon numbers was in "
                   "sheltered bays.", "You can visit the library between 9 in the morning and 8 in the evening."]:
        assert verdict(answer, ctx).passed, answer
    for answer, kind in [("The eco programme uses 9.5 litres of milk.", "substitution"),
                         ("Salmon numbers increased most in sheltered harbours.", "substitution"),
                         ("The library opens at 10 in the morning.", "unsupported_number")]:
        r = verdict(answer, ctx)
        assert not r.passed and r.findings[0].type == kind, (answer, r.reason)


def test_a_number_is_content_found_where_the_context_states_it():
    ctx = "The museum was founded in 1887 by the merchant Tobias Lund. It holds about 40,000 objects."
    # shares one content word with the second sentence, and its number is stated there
    assert verdict("Lund founded the museum in 1887, and about 40,000 objects are kept there.", ctx).passed
    assert not verdict("Lund founded the museum in 1887, and about 41,000 objects are kept there.", ctx).passed
    # the weight of a found number can carry a clause whose other words are not found: a known limit, which
    # the lesson shows ("40,000 visitors" passes against "40,000 objects")
    assert verdict("Lund founded the museum in 1887, and about 40,000 visitors come each year.", ctx).passed


def test_a_number_stated_twice_needs_two_context_numbers():
    ctx = "The clinic is open from 8 a.m. to 6 p.m. on weekdays."
    assert verdict("It is open from 8 a.m. to 6 p.m. on weekdays.", ctx).passed
    assert verdict("It is open from 8 a.m. to 8 a.m. on weekdays.", ctx).findings[0].detail == \
        "number '8 a.m.' is not in the context"


def test_score_is_the_share_of_unsupported_claims_and_findings_point_at_the_sentences():
    answer = "Harbor Analytics was founded in 2014. Its revenue was 9 million euros. It is based in Oslo."
    r = verdict(answer)
    assert not r.passed and r.score == pytest.approx(2 / 3)
    assert [answer[a:b] for a, b in (f.span for f in r.findings)] == [
        "Its revenue was 9 million euros.", "It is based in Oslo."]
    assert r.reason.startswith("2 of 3 claim(s) not supported: number '9 million'")


def test_refusals_make_no_claim_but_a_clause_after_but_does():
    assert verdict("The context does not say who the largest customer is.").reason == "no claim to check"
    assert verdict("I could not find that.").passed
    r = verdict("I could not find the founder, but the company was founded in 2019.")
    assert not r.passed and "2019" in r.findings[0].detail
    assert verdict("Sure! Yes, thanks.").reason == "no claim to check"
    assert verdict("").passed


def test_cores():
    idf = {"revenue": 1.0, "rise": 1.0, "paris": 2.0}
    assert weighted_support(["revenue", "rise", "paris"], {"revenue", "rise"}, idf) == 0.5
    assert weighted_support([], set(), {}) == 1.0
    assert negation_flip({"close"}, set(), {"plant", "close"}) == {"close"}
    assert negation_flip({"close"}, {"close"}, {"plant", "close"}) == set()
    assert negation_flip(set(), {"export"}, {"plant"}) == set()  # a negated word the claim does not use
    assert [stem(w) for w in ("bikes", "closes", "closed", "purchased", "km", "kilometres")] == [
        "bike", "close", "close", "buy", "km", "km"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["revenue", "rise", "paris", "plant", "open", "staff"]), max_size=8),
       st.sets(st.sampled_from(["revenue", "rise", "paris", "plant"])))
def test_weighted_support_is_a_share(claim, source):
    idf = {"revenue": 0.5, "rise": 1.0, "paris": 2.0, "plant": 0.1, "open": 1.5, "staff": 0.7}
    s = weighted_support(claim, source, idf)
    assert 0.0 <= s <= 1.0
    assert s == 1.0 if set(claim) <= source else s < 1.0


# ------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("context,reason", [
    (None, "no context given: nothing to check the answer against"),
    ("", "empty context: nothing to check the answer against"),
    ("  \n ", "empty context: nothing to check the answer against"),
    ([], "empty context: nothing to check the answer against"),
    (["", " "], "empty context: nothing to check the answer against"),
])
def test_a_missing_or_empty_context_fails_closed(context, reason):
    r = GUARD.check("The company was founded in 2014.", context=context)
    assert (r.passed, r.score, r.reason) == (False, 1.0, reason)


def test_non_text_input_raises_type_error_naming_the_argument():
    with pytest.raises(TypeError, match="^answer must be a str"):
        GUARD.check(5, context=CTX)
    with pytest.raises(TypeError, match="^context must be a str"):
        GUARD.check("x", context=5)
    with pytest.raises(TypeError, match=r"^context\[1\] must be a str"):
        GUARD.check("x", context=["fine", 3])
    with pytest.raises(TypeError, match="check_names must be a bool"):
        GroundednessGuard(check_names="yes")
    with pytest.raises(ValueError, match="min_support"):
        GroundednessGuard(min_support=1.5)


def test_passages_and_bytes_are_accepted():
    passages = ["Harbor Analytics was founded in 2014.", "Its revenue reached 3,512,000 euros in 2023."]
    assert GUARD.check(b"Revenue was 3.5 million euros in 2023.", context=passages).passed
    assert not GUARD.check("Revenue was 5 million euros in 2023.", context=tuple(passages)).passed


def test_a_coarse_rounding_passes_as_a_rounding():
    # "4 million" is 3,512,000 rounded to the nearest million: the rule accepts it, a reader may not
    assert verdict("Revenue was 4 million euros in 2023.").passed
    assert not verdict("Revenue was 4.0 million euros in 2023.").passed


@pytest.mark.parametrize("answer", [
    "Revenue was 4\u200b,200,000 euros in 2023.",        # a zero-width space inside a wrong number
    "Revenue was \uff14,200,000 euros in 2023.",          # a fullwidth digit
    "The company was founded in 2014 in \u0422allinn.",  # a Cyrillic letter in an unsupported name
    "The company was founded in 20\u00ad17.",            # a soft hyphen inside a year
])
def test_invisible_characters_and_homoglyphs_cannot_hide_a_number_or_a_name(answer):
    r = verdict(answer)
    assert not r.passed
    a, b = r.findings[0].span
    assert answer[a:b] == answer  # the span covers the whole sentence, hidden characters included


def test_look_alike_letters_of_a_supported_name_are_read_as_the_name():
    assert verdict("It was founded in 2014 in G\u043ethenburg by Maria Lindq\u200bvist.").passed


# ---------------------------------------------------------------------------------------------- corpus
CORPUS = load_groundedness_corpus()


def test_corpus_size_categories_and_labels():
    assert len(CORPUS) >= 200
    by_batch = Counter(r["batch"] for r in CORPUS)
    assert by_batch == {"v1": 208, "v2": 108, "v3": 72, "v4": 261, "v5": 257}
    for batch, least in (("v1", 12), ("v2", 12), ("v3", 8)):
        cats = Counter(r["category"] for r in CORPUS if r["batch"] == batch)
        assert set(cats) == set(GROUNDEDNESS_CATEGORIES) and min(cats.values()) >= least
    v3 = Counter(r["category"] for r in CORPUS if r["batch"] == "v3")
    assert v3["supported_paraphrase"] >= 12 and v3["wrong_entity"] >= 8
    assert all(r["label"] == GROUNDEDNESS_CATEGORIES[r["category"]] for r in CORPUS)
    assert len({(r["context"], r["answer"]) for r in CORPUS}) == len(CORPUS)
    ids = {b: {r["context_id"] for r in CORPUS if r["batch"] == b} for b in ("v1", "v2", "v3")}
    assert not ids["v1"] & ids["v2"] and not ids["v1"] & ids["v3"] and not ids["v2"] & ids["v3"]
    texts = {b: {r["context"] for r in CORPUS if r["batch"] == b} for b in ("v1", "v2", "v3")}
    assert not (texts["v1"] | texts["v2"]) & texts["v3"]
    assert load_groundedness_corpus("v2", categories=["refusal"])[0]["label"] == 0
    with pytest.raises(ValueError, match="unknown categories"):
        load_groundedness_corpus(categories=["nope"])
    with pytest.raises(ValueError, match="batch"):
        load_groundedness_corpus("v6")


def _fingerprint(files):
    """SHA-256 over the syntax trees of ``files`` without docstrings, and the bytes of a data file (as
    recorded in the data file)."""
    h = hashlib.sha256()
    for f in files:
        if not f.endswith(".py"):  # data the rules read (the lexicon): its bytes
            h.update(f.encode() + b"\0" + (ROOT / f).read_bytes() + b"\0")
            continue
        tree = ast.parse((ROOT / f).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                        and isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
        h.update(f.encode() + b"\0" + ast.dump(tree).encode() + b"\0")
    return h.hexdigest()


def test_the_rules_are_the_ones_frozen_last():
    records = [json.loads(line) for line in
               (ROOT / "prodai_lessons/data/groundedness_corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    freezes = [(i, r) for i, r in enumerate(records) if r["type"] == "freeze"]
    assert [r["batch"] for _, r in freezes] == ["v2", "v3", "v4", "v5"]
    for at, rec in freezes:  # each freeze record comes before every item of the batch written after it
        assert all(r["batch"] != rec["batch"] for r in records[:at] if r["type"] in ("item", "context"))
    assert len({r["rules_ast_sha256"] for _, r in freezes}) == 4
    # after a freeze, code may change only where no verdict does (input checks, speed): a revision record
    # then holds the new fingerprint and the hash of the verdicts, the same before and after the change
    revisions = [(i, r) for i, r in enumerate(records) if r["type"] == "revision"]
    for _, rec in (r for r in revisions if r[0] > freezes[-1][0]):  # the earlier ones are history
        assert _verdicts_digest() == rec["verdicts_sha256"]
    freeze = max(freezes + revisions)[1]  # the code in force is the one recorded last
    assert "prodai_lessons/data/lexicon.json.gz" in freeze["files"]
    if freeze["python"] != f"{sys.version_info.major}.{sys.version_info.minor}":
        pytest.skip(f"the syntax-tree dump was recorded on Python {freeze['python']}")
    assert _fingerprint(freeze["files"]) == freeze["rules_ast_sha256"]


def _verdicts_digest(guard=GUARD):
    """SHA-256 over every verdict on each corpus answer against its context, against itself, and each context
    against its answer (as recorded in a revision record)."""
    h = hashlib.sha256()
    for r in load_groundedness_corpus():
        for a, c in ((r["answer"], r["context"]), (r["answer"], r["answer"]), (r["context"], r["answer"])):
            res = guard.check(a, context=c)
            h.update(repr((res.passed, res.score, res.reason, [(f.type, f.span, f.detail) for f in res.findings]))
                     .encode())
    return h.hexdigest()


def test_the_verdicts_digest_sees_a_changed_setting():
    # a guard that decides differently on even a few answers must give another digest
    assert _verdicts_digest(GroundednessGuard(min_support=0.31)) != _verdicts_digest()


def test_the_fingerprint_changes_with_the_code_and_with_the_lexicon(tmp_path, monkeypatch):
    # a change of one operator in the rules, or of one byte of the lexicon, must change the hash
    files = ["prodai_lessons/guardrails/_grounding.py", "prodai_lessons/data/lexicon.json.gz"]
    base = _fingerprint(files)
    for f, old, new in [(files[0], b"<= max_gap", b"< max_gap"), (files[1], None, None)]:
        copy = tmp_path / f
        copy.parent.mkdir(parents=True, exist_ok=True)
        data = (ROOT / f).read_bytes()
        copy.write_bytes(data.replace(old, new, 1) if old else data[:-1] + bytes([data[-1] ^ 1]))
        for other in files:
            if other != f:
                (tmp_path / other).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / other).write_bytes((ROOT / other).read_bytes())
        monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
        assert _fingerprint(files) != base
        monkeypatch.undo()


def _flagged(batch):
    out = Counter()
    for r in load_groundedness_corpus(batch):
        out[r["category"]] += not GUARD.check(r["answer"], context=r["context"]).passed
    return dict(out)


def test_figures_on_v1_to_v4_in_sample():
    # v2, v3 and v4 were each written after a freeze (then: paraphrases flagged 5 of 24, 7 of 16 and 25 of 93);
    # the rules were revised with their failures in view, so these figures are in-sample now
    assert _flagged("v1") == {"supported_verbatim": 0, "supported_paraphrase": 0, "refusal": 0, "wrong_number": 26,
                              "wrong_entity": 23, "negation_flip": 24, "unsupported_extra": 25,
                              "partially_supported": 20}
    assert _flagged("v2") == {"supported_verbatim": 0, "supported_paraphrase": 0, "refusal": 0, "wrong_number": 12,
                              "wrong_entity": 11, "negation_flip": 12, "unsupported_extra": 11,
                              "partially_supported": 10}
    assert _flagged("v3") == {"supported_verbatim": 0, "supported_paraphrase": 0, "refusal": 0, "wrong_number": 8,
                              "wrong_entity": 8, "negation_flip": 8, "unsupported_extra": 8, "partially_supported": 5}
    assert _flagged("v4") == {"supported_verbatim": 0, "supported_paraphrase": 21, "refusal": 0, "wrong_number": 23,
                              "wrong_entity": 19, "negation_flip": 14, "unsupported_extra": 20,
                              "partially_supported": 17}


@pytest.mark.parametrize("batch, n, paraphrases", [("v4", 261, 93), ("v5", 257, 90)])
def test_the_blind_batches_were_written_apart_from_the_others(batch, n, paraphrases):
    rows = [r for r in CORPUS if r["batch"] == batch]
    assert len(rows) == n and len({r["context_id"] for r in rows}) == 24
    assert Counter(r["category"] for r in rows)["supported_paraphrase"] == paraphrases
    others = {r["context"] for r in CORPUS if r["batch"] != batch}
    assert not others & {r["context"] for r in rows}


def test_figures_on_v5_written_after_the_fourth_freeze():
    flagged = _flagged("v5")
    assert flagged == {"supported_verbatim": 2, "supported_paraphrase": 27, "refusal": 2, "wrong_number": 22,
                       "wrong_entity": 20, "negation_flip": 12, "unsupported_extra": 20, "partially_supported": 9}
    # out of sample the paraphrase false-positive rate is far above 0.10 (as after every freeze before it:
    # 0.21, 0.44, 0.27), and wrong names and extra claims stay below 0.85: the lesson reports it as it is
    low, high = wilson_interval(flagged["supported_paraphrase"], 90)
    assert (round(low, 2), round(high, 2)) == (0.22, 0.40)
    low, high = wilson_interval(flagged["wrong_entity"], 24)
    assert (round(low, 2), round(high, 2)) == (0.64, 0.93)


# ------------------------------------------------------------------------------------- pipeline, scaling
def test_pipeline_passes_context_and_signals_to_the_guards_that_use_them():
    pipe = GuardrailPipeline([LanguageGuard()], [GroundednessGuard(), ConfidenceGuard()],
                             policy={"groundedness": "flag", "confidence": "flag"})
    ok = pipe.check_output("The plant opened in 2019.", context="The plant opened in 2019.", logprobs=[-0.1, -0.2])
    assert ok.allowed and not ok.triggered
    bad = pipe.check_output("The plant opened in 2017.", context="The plant opened in 2019.",
                            samples=["It opened in 2019.", "It opened in 2019."])
    assert bad.flagged_by == ("groundedness", "confidence")
    no_context = pipe.check_output("The plant opened in 2017.")
    assert [r.reason for r in no_context.results] == ["no context given: nothing to check the answer against",
                                                      "no confidence signal given (logprobs or samples)"]
    assert not pipe.check_input("Wo finde ich die Rechnung vom letzten Monat?").allowed


def test_existing_guards_ignore_the_new_arguments_so_every_corpus_verdict_stays():
    plain = GuardrailPipeline([], [PIIGuard(), ToxicityGuard()], policy={"pii": "redact", "toxicity": "flag"})
    extra = GuardrailPipeline([], [PIIGuard(), ToxicityGuard()], policy={"pii": "redact", "toxicity": "flag"})
    for row in load_corpus():
        a = plain.check_output(row["text"])
        b = extra.check_output(row["text"], context="unrelated", logprobs=[-0.1], samples=["x"])
        assert (a.allowed, a.text, a.triggered, [r.score for r in a.results]) == \
            (b.allowed, b.text, b.triggered, [r.score for r in b.results])
    inputs = GuardrailPipeline([PromptInjectionGuard(), LengthGuard()], [])
    assert sum(not inputs.check_input(r["text"]).allowed for r in load_corpus("injection")) == \
        sum(not PromptInjectionGuard().check(r["text"]).passed for r in load_corpus("injection"))


def test_dashboard_counts_the_new_guards_only_when_asked():
    from prodai_lessons.dashboard import simulate_observed_day

    plain = simulate_observed_day(seed=0)
    assert not {"groundedness", "language"} & set(plain.data.guardrail_triggers)
    day = simulate_observed_day(seed=0, answer_checks=True)
    counts = day.data.summary.guardrail_by_guard
    assert {"groundedness", "language"} <= set(counts)
    assert {k: counts[k] for k in plain.data.summary.guardrail_by_guard if k != "pii"} == \
        {k: v for k, v in plain.data.summary.guardrail_by_guard.items() if k != "pii"}
    stats = day.guardrails.stats().by_guard
    assert stats["groundedness"].action == "flag" and 0.05 < stats["groundedness"].trigger_rate < 0.3


def _cpu(fn):
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("shape", ["context", "answer", "day ranges"])
def test_time_grows_linearly_with_the_input(shape):
    rows = load_groundedness_corpus("v1")
    context = " ".join(dict.fromkeys(r["context"] for r in rows))
    answers = " ".join(r["answer"] for r in rows)
    if shape == "day ranges":  # every range "3-4 May" adds a date and removes a number: once each, not per pair
        context, shape = "Open 3-4 May, 10 to 12 June and 7 and 9 July for 25 euros. ", "context"

    def run(n):
        base = (context if shape == "context" else answers) + " "
        big = (base * (n // len(base) + 1))[:n]
        return (lambda: GUARD.check(answers[:300], context=big)) if shape == "context" else \
            (lambda: GUARD.check(big, context=context[:2000]))

    small, large = _cpu(run(50_000)), _cpu(run(400_000))
    assert large / small < 8 * 2.5  # 8x the input; a quadratic scan would take 64x
