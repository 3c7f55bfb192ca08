"""Build ``prodai_lessons/data/lexicon.json.gz``, the word relations the groundedness check uses, from WordNet.

WordNet (Princeton University) groups English words into synsets (sets of synonyms), links the synsets
(a hypernym, "metal" for "copper"; a derivation, "grow" and "growth"; a similar adjective) and defines
each ("refund": "money returned to a payer"). The groundedness check asks three questions of it: may this
answer word stand for that context word (the same synset, one is the other's hypernym, one derives from
the other, or one's definition uses the other), is this word mostly a noun, and how common is it?

This script keeps the words WordNet's own sense-tagged corpus uses (``tagsense_cnt`` > 0 in the index
files) and the rarer words that share a synset with one of them. It writes, for each word, its synsets in
order of frequency, its most frequent part of speech and how often the tagged corpus uses it
(``cntlist.rev``, so "give" can weigh less than "sauna"); for each kept synset, the kept synsets it links
to and the content words of its definition; and the irregular forms (``*.exc``).

Run (WordNet 3.0 from Debian's ``wordnet-base``, installed in /usr/share/wordnet)::

    .venv/bin/python -m prodai_lessons.tooling.build_lexicon [WORDNET_DIR] [OUT]

The output is deterministic (sorted keys, no time stamp), so a rebuild from the same WordNet gives the
same bytes; ``tests/test_lexicon.py`` checks that when WordNet is installed.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from pathlib import Path

POS = ("noun", "verb", "adj", "adv")
#: Pointers that mean "may stand for": hypernym and instance hypernym, derivationally related form,
#: similar to (adjective satellites), pertainym, attribute, verb group, also see.
LINKS = ("@", "@i", "+", "&", "\\", "=", "$", "^")
LICENSE_NOTE = ("Derived from WordNet 3.0. WordNet 3.0 Copyright 2006 by Princeton University. All rights "
                "reserved. THIS SOFTWARE AND DATABASE IS PROVIDED \"AS IS\" AND PRINCETON UNIVERSITY MAKES NO "
                "REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. Permission to use, copy, modify and "
                "distribute this database for any purpose and without fee or royalty is granted under the "
                "WordNet license: https://wordnet.princeton.edu/license-and-commercial-use")
#: Words of a definition that say nothing about the word defined.
_GLOSS_STOP = frozenset("""the and for with that which from into onto such this these those its their has have
having was were are being been not any all some one ones who whom whose what when where how used using
especially usually often very more most less other than something someone somebody person thing things
act make made being state quality kind way manner part form""".split())
_SS_POS = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}


def _read_index(root: Path):
    """(lemma, pos, tagged sense count, synset offsets in frequency order) for single-word lemmas."""
    for pos in POS:
        for line in (root / f"index.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue
            f = line.split()
            lemma, p_cnt = f[0], int(f[3])
            if not lemma.isalpha() or not lemma.isascii():
                continue
            sense_cnt, tagged = int(f[4 + p_cnt]), int(f[5 + p_cnt])
            yield lemma, pos, tagged, [int(x) for x in f[6 + p_cnt:6 + p_cnt + sense_cnt]]


def _read_pointers(root: Path):
    """((pos, offset), pointer symbol, (pos, offset)) for every pointer of every synset, and
    ((pos, offset), "|", definition) for its gloss (the definition, without the examples)."""
    for pos in POS:
        for line in (root / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue
            f = line.split()
            offset, ss_type, w_cnt = int(f[0]), f[2], int(f[3], 16)
            k = 4 + 2 * w_cnt
            p_cnt = int(f[k])
            for j in range(p_cnt):
                sym, target, tpos = f[k + 1 + 4 * j], int(f[k + 2 + 4 * j]), f[k + 3 + 4 * j]
                yield (_SS_POS[ss_type], offset), sym, (_SS_POS[tpos], target)
            gloss = line.split(" | ", 1)[1] if " | " in line else ""
            yield (_SS_POS[ss_type], offset), "|", gloss.split('"', 1)[0].split(";", 1)[0]


def build(root: Path) -> dict:
    """The lexicon as a JSON-ready dict (see the module docstring)."""
    senses: dict[str, list[tuple[int, str, int]]] = {}  # lemma -> (rank, pos, offset) per sense
    weight: dict[str, dict[str, int]] = {}
    rows = list(_read_index(root))
    common = set()  # the synsets of the words the tagged corpus uses
    for lemma, pos, tagged, offsets in rows:
        if tagged > 0:
            common.update((pos, off) for off in offsets)
    for lemma, pos, tagged, offsets in rows:
        # a common word, or a rarer synonym of one ("bike" shares a synset with "bicycle")
        kept = [(rank, pos, off) for rank, off in enumerate(offsets) if (pos, off) in common]
        if tagged <= 0 and not kept:
            continue
        weight.setdefault(lemma, {})[pos] = tagged + 0.5 * bool(kept)
        senses.setdefault(lemma, []).extend(kept if tagged <= 0 else
                                            [(rank, pos, off) for rank, off in enumerate(offsets)])
    ids: dict[tuple[str, str | int], int] = {}
    for lemma in sorted(senses):
        for _, pos, off in sorted(senses[lemma]):
            ids.setdefault((pos, off), len(ids))
    links: dict[int, set[int]] = {}
    glosses: dict[int, list[str]] = {}
    for src, sym, dst in _read_pointers(root):
        if sym == "|":
            a = ids.get(src)
            if a is not None:
                glosses[a] = sorted({w for w in re.findall(r"[a-z]+", dst.lower()) if len(w) > 2 and w not in _GLOSS_STOP})
            continue
        a, b = ids.get(src), ids.get(dst)
        if a is None or b is None or a == b:
            continue
        if sym in LINKS:
            links.setdefault(a, set()).add(b)
    counts: dict[str, int] = {}  # how often the tagged corpus uses each kept word, over all its senses
    for line in (root / "cntlist.rev").read_text(encoding="latin-1").splitlines():
        key, _, tag_cnt = line.split()
        lemma = key.split("%", 1)[0]
        if lemma in senses:
            counts[lemma] = counts.get(lemma, 0) + int(tag_cnt)
    exceptions: dict[str, list[str]] = {}
    for pos in POS:
        for line in (root / f"{pos}.exc").read_text(encoding="latin-1").splitlines():
            form, *bases = line.split()
            keep = [b for b in bases if b in senses and b != form]
            if form.isalpha() and keep:
                exceptions.setdefault(form, [])
                exceptions[form].extend(b for b in keep if b not in exceptions[form])
    return {
        "license": LICENSE_NOTE,
        # lemma -> [most frequent part of speech, synset ids in order of frequency]
        "lemmas": {lemma: [max(sorted(weight[lemma]), key=lambda p: weight[lemma][p]),
                           [ids[(pos, off)] for _, pos, off in sorted(senses[lemma])]]
                   for lemma in sorted(senses)},
        "links": {str(a): sorted(b) for a, b in sorted(links.items())},
        # synset id -> the content words of its definition
        "glosses": {str(a): g for a, g in sorted(glosses.items()) if g},
        "exceptions": {form: exceptions[form] for form in sorted(exceptions)},
        # lemma -> uses in the tagged corpus (words it never uses are left out)
        "counts": {lemma: counts[lemma] for lemma in sorted(counts) if counts[lemma] > 0},
    }


def encode(lexicon: dict) -> bytes:
    """The gzip bytes of ``lexicon``, the same for the same input (no file name, no time stamp)."""
    raw = json.dumps(lexicon, sort_keys=True, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(raw)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path("/usr/share/wordnet")
    out = Path(args[1]) if len(args) > 1 else Path(__file__).resolve().parents[1] / "data" / "lexicon.json.gz"
    if not (root / "index.noun").is_file():
        sys.stderr.write(f"no WordNet at {root}: install Debian's wordnet-base or pass its directory\n")
        return 2
    data = encode(build(root))
    out.write_bytes(data)
    sys.stderr.write(f"wrote {out} ({len(data):,} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
