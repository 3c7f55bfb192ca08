"""The WordNet-derived lexicon behind the groundedness check: its relations, its build, its licence."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import pytest

from prodai_lessons.guardrails import GroundednessGuard
from prodai_lessons.guardrails._grounding import may_stand_for
from prodai_lessons.guardrails._lexicon import defines, lemmas, part_of_speech, rarity, related, synsets
from prodai_lessons.tooling import build_lexicon

WORDNET = Path("/usr/share/wordnet")


def _shipped() -> dict:
    raw = resources.files("prodai_lessons").joinpath("data/lexicon.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


def test_the_shipped_file_carries_the_wordnet_licence_and_its_parts():
    data = _shipped()
    assert "Princeton University" in data["license"] and "WordNet 3.0" in data["license"]
    assert set(data) == {"license", "lemmas", "links", "exceptions", "glosses", "counts"}
    assert len(data["lemmas"]) > 20_000
    pos, ids = data["lemmas"]["copper"]
    assert pos == "noun" and ids and all(isinstance(i, int) for i in ids)


@pytest.mark.parametrize("word, base", [("took", "take"), ("bays", "bay"), ("stopped", "stop"), ("children", "child"),
                                        ("reopened", "reopen"), ("cheaper", "cheap"), ("mice", "mouse")])
def test_inflected_forms_find_their_base(word, base):
    assert base in lemmas(word)


def test_unknown_words_have_no_base_and_no_relations():
    assert lemmas("qwxzt") == () and synsets("qwxzt") == frozenset()
    assert not related("qwxzt", "copper") and not defines("qwxzt", "copper") and part_of_speech("qwxzt") is None


@pytest.mark.parametrize("a, b", [("growth", "increase"), ("bike", "bicycle"), ("houses", "homes"), ("kids", "children"),
                                  ("purchased", "bought"), ("reopens", "open"), ("copper", "metal"), ("big", "large")])
def test_synonyms_hypernyms_and_derivations_are_related(a, b):
    assert related(a, b) and related(b, a)


@pytest.mark.parametrize("a, b", [("copper", "steel"), ("wine", "cheese"), ("airport", "university"), ("bus", "train"),
                                  ("plastic", "glass"), ("spa", "gym"), ("students", "pensioners")])
def test_cohyponyms_are_not_related(a, b):
    # two members of one class (two metals, two drinks ...) are the swap a wrong-entity answer makes
    assert not related(a, b) and not defines(a, b)


def test_definitions_link_a_word_to_the_words_it_is_defined_with():
    assert defines("refund", "money") and defines("money", "refund") and defines("minimum", "least")
    assert not defines("copper", "steel")


def test_fewer_senses_relate_fewer_pairs():
    pairs = [("passed", "paid"), ("harmed", "damaging"), ("items", "objects"), ("cover", "device")]
    for a, b in pairs:
        assert related(a, b, senses=3) <= related(a, b)  # a sense limit can only remove relations


def test_parts_of_speech_and_rarity():
    assert part_of_speech("takes") == "verb" and part_of_speech("made") == "verb"
    assert part_of_speech("cheese") == "noun" and part_of_speech("qwxzt") is None
    assert rarity("give") < rarity("membership") < rarity("sauna") == rarity("qwxzt")


def test_may_stand_for_separates_paraphrase_from_swaps():
    assert may_stand_for(["takes"], ["lasts"])  # a lone verb: a different way of saying it
    assert may_stand_for(["growth"], ["increase", "most"])
    assert not may_stand_for(["copper"], ["steel"])
    assert not may_stand_for(["bank", "transfer"], ["card", "used", "buy"])  # a noun phrase: a swap


def test_the_lexicon_changes_verdicts_where_it_should_and_not_elsewhere():
    guard = GroundednessGuard()
    ctx = "The factory employs 450 workers and produces 2,000 bicycles a week."
    assert guard.check("Every week the plant makes 2,000 bikes.", context=ctx).passed
    r = guard.check("The factory employs 450 workers and produces 2,000 scooters a week.", context=ctx)
    assert not r.passed and r.findings[0].type == "substitution" and "'scooters'" in r.findings[0].detail
    ctx = "The cycle lasts 3 hours and 40 minutes."
    assert guard.check("The cycle takes 3 hours and 40 minutes.", context=ctx).passed
    assert not guard.check("The cycle takes 4 hours and 40 minutes.", context=ctx).passed


def test_a_rebuild_from_wordnet_gives_the_shipped_bytes():
    if not (WORDNET / "index.noun").is_file():
        pytest.skip("WordNet is not installed: `apt-get install wordnet-base` (CI's .ci/run does) to rebuild the lexicon")
    shipped = resources.files("prodai_lessons").joinpath("data/lexicon.json.gz").read_bytes()
    assert build_lexicon.encode(build_lexicon.build(WORDNET)) == shipped


def test_the_build_refuses_a_directory_without_wordnet(tmp_path, capsys):
    assert build_lexicon.main([str(tmp_path), str(tmp_path / "out.json.gz")]) == 2
    assert "no WordNet" in capsys.readouterr().err and not (tmp_path / "out.json.gz").exists()


@pytest.mark.parametrize("args, error, match", [((1, "copper"), TypeError, "a must be a str"),
                                                (("copper", None), TypeError, "b must be a str"),
                                                (("", "copper"), ValueError, "a must be a non-empty"),
                                                (("copper", "steel", 0), ValueError, "senses must be >= 1"),
                                                (("copper", "steel", 2.5), TypeError, "senses must be an integer")])
def test_related_refuses_bad_input_naming_the_argument(args, error, match):
    with pytest.raises(error, match=match):
        related(*args)


def test_related_folds_case():
    assert related("Growth", "INCREASE") and not related("Copper", "Steel")
