"""Rule machinery shared by the injection and toxicity guards: compile, gate and scan weighted patterns.

A rule is (family, name, weight, anchor words, regex). ``_scan`` runs only the rules whose anchor
words occur in the text (a set intersection over its words), emulates a leading ``\\b`` in Python so
the regex engine can skip ahead to the letters a match starts with, and bounds the work on hostile
texts. The tests check that none of this ever changes a result. Private: the lesson modules import
from here, never the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from ._fold import _words
from ._text import _VECTOR_MIN, _longest_run


# A base64-looking blob (checked on the *original* text: case matters): a run of 20+ characters of
# the base64 alphabet that contains a digit, '+' or '/', or ends in '='. Anchored at the start of
# its run, so each run is scanned once (giving characters back can never match: the lookahead then
# sees a run character).
_B64_RX = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{20,}=?=?(?![A-Za-z0-9+/=])")
_B64_SIGN_RX = re.compile(r"[0-9+/=]")


def _base64_blobs(text: str) -> Iterator[tuple[int, int]]:
    """Spans of base64-looking blobs in the original ``text`` (see ``_B64_RX``), in order."""
    if _B64_SIGN_RX.search(text) is None:
        return  # every blob holds a digit, "+", "/" or "="; most texts have none of them
    if len(text) >= _VECTOR_MIN and text.isascii():  # and a run of 20 or more base64 characters
        b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        alphabet = (((b >= 65) & (b <= 90)) | ((b >= 97) & (b <= 122)) | ((b >= 48) & (b <= 57))
                    | (b == 43) | (b == 47))
        if _longest_run(alphabet) < 20:
            return
    for m in _B64_RX.finditer(text):
        if _B64_SIGN_RX.search(m.group()) is not None:  # else a long word, not an encoding
            yield m.span()


@dataclass(frozen=True)
class _Rule:
    """One compiled pattern. ``words``/``substrings``: at least one occurs in every match (a cheap gate);
    ``also``: further word sets, each of which must have a word in the text too."""

    family: str
    name: str
    weight: float
    words: frozenset
    substrings: tuple[str, ...]
    rx: re.Pattern
    left_boundary: bool
    also: tuple[frozenset, ...] = ()


def _top_level_alternatives(src: str) -> list[str]:
    parts, depth, cur, i = [], 0, [], 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            cur.append(src[i:i + 2])
            i += 2
            continue
        if ch == "[":  # a character class: copy through its closing bracket
            j = i + 1
            if j < len(src) and src[j] == "^":
                j += 1
            if j < len(src) and src[j] == "]":
                j += 1
            while src[j] != "]":
                j += 2 if src[j] == "\\" else 1
            cur.append(src[i:j + 1])
            i = j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _compile_rules(patterns, vocab: Mapping[str, str]) -> _RuleSet:
    """Compile (family, name, weight, anchors, regex) tuples.

    ``anchors``: words of which every match contains at least one as a whole word (``=x``: a
    substring instead; ``@NAME``: the words of ``vocab[NAME]``); groups separated by ``&`` must
    *each* be met ("ignore ... & instructions ..."), so a rule whose verb occurs but none of its
    objects is not run at all.

    A leading word boundary ``\\b`` on every top-level alternative is removed from the regex and
    checked in Python instead: a pattern that starts with literal words lets the regex engine skip
    ahead to the characters that can start a match, several times faster on long texts.
    """
    rules = []
    for fam, pname, w, anchors, src in patterns:
        groups = []
        for group in anchors.split("&"):
            words, subs = set(), []
            for a in group.split():
                if a.startswith("="):
                    subs.append(a[1:])
                elif a.startswith("@"):
                    words.update(vocab[a[1:]].split("|"))
                else:
                    words.add(a)
            groups.append((frozenset(words), tuple(subs)))
        (words, subs), also = groups[0], tuple(g for g, _ in groups[1:])
        alts = _top_level_alternatives(src)
        left = all(a.startswith(r"\b") for a in alts)
        if left:
            src = "|".join(a[2:] for a in alts)
        rules.append(_Rule(fam, pname, w, words, subs, re.compile(src), left, also))
    return _RuleSet(tuple(rules))


class _RuleSet:
    """Compiled rules plus an inverted index: anchor word -> the rules that need it."""

    def __init__(self, rules: tuple[_Rule, ...]) -> None:
        self.rules = rules
        index: dict[str, list[int]] = {}
        for i, r in enumerate(rules):
            for w in r.words:
                index.setdefault(w, []).append(i)
        self.index = index
        self.vocab = frozenset(index).union(*(g for r in rules for g in r.also))
        self.by_substring = tuple((i, r.substrings) for i, r in enumerate(rules) if r.substrings)


def _scan(ruleset: _RuleSet, t: str, *, gate: bool = True, limit: int = 100,
          accept: Callable[[int, int], bool] | None = None):
    """Yield (rule, start, end) for the matches of every rule in ``t`` (non-overlapping per rule).

    With ``gate`` a rule runs only if one of its anchor words occurs in ``t`` as a word (or one of
    its anchor substrings occurs) and each of its ``also`` sets has a word in ``t``; the tests
    check that gating never changes the result. After ``limit`` matches in all, each further rule
    yields at most its first match: enough for a score that depends on *which* rules matched,
    while the work on a hostile text stays bounded.
    ``accept(start, end)`` can veto a match (it then neither counts nor is yielded).
    """
    rules = ruleset.rules
    if gate:
        index = ruleset.index
        present = ruleset.vocab.intersection(_words(t))
        chosen = set()
        for w in present:
            chosen.update(index.get(w, ()))
        for i, subs in ruleset.by_substring:
            if any(x in t for x in subs):
                chosen.add(i)
        selected = []
        for i in sorted(chosen):
            for group in rules[i].also:
                if present.isdisjoint(group):
                    break
            else:
                selected.append(rules[i])
        rules = selected
    count = 0
    for rule in rules:
        for m in _word_matches(rule.rx, t, rule.left_boundary):
            s, e = m.span()
            if accept is not None and not accept(s, e):
                continue
            yield rule, s, e
            count += 1
            if count >= limit:
                break


def _word_matches(rx: re.Pattern, t: str, left_boundary: bool = True) -> Iterator[re.Match]:
    """The matches of ``rx.finditer(t)``, as if ``rx`` began with ``\\b`` when ``left_boundary`` is set.

    A match that starts inside a word is refused and the search goes on one character after its
    start (what the engine does when ``\\b`` fails there); after an empty match it goes on one
    character later. finditer does the rest in C, so a long run of matches costs no Python-level
    search call per match.
    """
    pos: int | None = 0
    while pos is not None and pos <= len(t):  # (re clamps a start past the end back to the end)
        matches, pos = rx.finditer(t, pos), None
        for m in matches:
            s, e = m.span()
            if left_boundary and s > 0 and (t[s - 1].isalnum() or t[s - 1] == "_"):
                pos = s + 1
                break
            yield m
            if e == s:
                pos = e + 1
                break

