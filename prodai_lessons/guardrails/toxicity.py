"""Toxicity in a model's answer: a small whole-word lexicon of threats and insults, scored by severity.

Word boundaries keep "skill" from matching "kill"; phrases aimed at a person ("you are a ...", "I
will hurt you") weigh more than a bare word; allow-listed look-alikes ("killer whale", "kill -9")
are ignored. The severities combine as a noisy-OR, as the injection rules do. Implicit threats
contain no lexicon word and pass: that is where a trained classifier is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prodai_lessons._validation import check_int, check_real, check_str

from ._rules import _compile_rules, _scan, _word_matches
from ._text import _as_text, _check_name
from .injection import noisy_or
from .normalization import normalize
from .results import Finding, GuardResult

__all__ = ["DEFAULT_ALLOW_LIST", "ToxicityGuard"]


_INSULT_STRONG = r"(?:idiot|idiots|moron|morons|imbecile|imbeciles|cretin|cretins|buffoon|buffoons|halfwit|nitwit)"
_INSULT_MILD_ONLY = (r"(?:stupid|stupidest|dumb|dumber|dumbest|fool|fools|loser|losers|pathetic|worthless|"
                     r"disgusting|ignorant|clown|clowns|garbage|trash|useless|incompetent)")
_INSULT_MILD = "(?:" + _INSULT_MILD_ONLY[3:-1] + "|" + _INSULT_STRONG[3:-1] + ")"  # any insult word
_VIOLENT_VERB = r"(?:kill|murder|hurt|stab|shoot|strangle|choke|punch|slap|smash|break|burn|destroy|poison)"
_FUTURE = (r"(?:will|'ll|shall|am going to|'m going to|are going to|'re going to|gonna|am gonna|'m gonna|"
           r"will personally|swear i will|swear i'll)")

# (category, pattern name, severity, regex). Word boundaries everywhere: "skill", "diet", "studied",
# "stable" or "dumbbell" cannot match.
_TOXIC_PATTERNS: tuple[tuple[str, str, float, str], ...] = (
    ("threat", "first_person_violence", 0.9, 'kill murder hurt stab shoot strangle choke punch slap smash break burn destroy poison & you u ya your y',
     rf"\b(?:i|we) ?{_FUTURE} (?:\w+ )?{_VIOLENT_VERB} (?:you|u|ya|your|y'all)\b"),
    ("threat", "beat_you_up", 0.9, 'beat', r"\bbeat (?:you|u|ya) (?:up|senseless|to death|black and blue)\b"),
    ("threat", "hunt_you_down", 0.85, 'hunt track find & you u', r"\b(?:hunt|track) (?:you|u) down\b|\bfind (?:you|u) and\b"),
    ("threat", "wish_death", 0.9, 'die rot dead', r"\b(?:i hope|hope) (?:you|u) (?:die|rot)\b|\bdrop dead\b|"
     r"\bi wish you were dead\b"),
    ("threat", "you_are_dead", 0.8, 'dead', r"\b(?:you're|you are|ur) (?:so )?dead\b|\byou're a dead man\b"),
    ("threat", "watch_your_back", 0.75, 'watch', r"\bwatch your back\b"),
    ("threat", "make_you_pay", 0.7, 'make & pay suffer regret', r"\bmake (?:you|u) (?:pay|suffer|regret)\b"),
    ("threat", "coming_to_you", 0.7, 'coming', r"\bget what's coming\b"),
    ("insult", "insult_at_you", 0.85, '@INSULT_MILD & you u ur your',  # "ur", "your": (?:you|u) then "r"
     rf"\b(?:you|u)(?:'re| are|r| is)? (?:(?:a|an|the|such|so|complete|absolute|total|utter|"
     rf"little|big|real|{_INSULT_MILD[3:-1]}) ){{0,2}}{_INSULT_MILD}\b"),
    ("insult", "insult_you_are", 0.85, '@INSULT_MILD & you u', rf"\b{_INSULT_MILD} (?:like )?(?:you|u)(?: are|'re)?\b"),
    ("insult", "vocative_insult", 0.8, '@INSULT_MILD', rf"(?:^|[,;:!?] )(?:you )?{_INSULT_MILD}(?= ?[.!?]|$)"),
    ("insult", "hate_you", 0.8, 'hate despise loathe', r"\bi (?:hate|despise|loathe) (?:you|u)\b"),
    ("insult", "waste_of_space", 0.8, 'waste piece', r"\bwaste of (?:space|oxygen|air|skin)\b|\bpiece of (?:garbage|trash)\b"),
    ("insult", "strong_insult_word", 0.6, '@INSULT_STRONG', rf"\b{_INSULT_STRONG}\b"),
    ("insult", "mild_insult_word", 0.35, '@INSULT_MILD_ONLY', rf"\b{_INSULT_MILD_ONLY}\b"),
    ("insult", "shut_up", 0.3, 'shut lost', r"\bshut up\b|\bget lost\b"),
)
#: Whole phrases that contain a lexicon word but are not abusive; a match inside one is ignored.
DEFAULT_ALLOW_LIST: tuple[str, ...] = (
    "killer whale", "kill switch", "kill -9", "kill the process", "garbage collector", "garbage collection",
    "pathetic fallacy", "april fool", "april fools", "fool's gold", "dumb terminal", "dumb phone",
    "stupid question", "dead code", "dead end", "dead link", "break your code", "break your build",
    "burn your calories", "useless fact",
)
_TOXIC_RULES = _compile_rules(_TOXIC_PATTERNS, {"INSULT_MILD": _INSULT_MILD[3:-1], "INSULT_MILD_ONLY": _INSULT_MILD_ONLY[3:-1],
                                              "INSULT_STRONG": _INSULT_STRONG[3:-1]})


class ToxicityGuard:
    """Flag threats and insults with a whole-word lexicon scored by severity; look-alikes pass.

    Parameters: ``threshold`` in (0, 1] (default 0.5), ``allow_list`` (phrases whose matches are
    ignored), ``max_findings``, ``name``.

    >>> toxicity = ToxicityGuard()
    >>> toxicity.check("I will kill you.").passed, toxicity.check("You are an 1d10t.").passed
    (False, False)
    >>> toxicity.check("The skill of a killer whale.").passed
    True

    Notes
    -----
    Patterns run on ``normalize(text)`` (so "1d10t", "i\\u200bdiot", "Y O U  I D I O T" are caught)
    and use word boundaries, so "skill", "diet", "studied", "Scunthorpe"-style embedded words never
    match. Each pattern has a severity; phrases aimed at a person ("you are a ...", "I will hurt
    you") weigh more than a bare word ("stupid question"). ``score`` is the noisy-OR of the
    severities matched (1 - prod(1 - s)), and the text fails at ``threshold`` (0.5). Matches inside
    an ``allow_list`` phrase ("killer whale", "kill -9", "garbage collector") are ignored. At most
    about ``max_findings`` matches are listed; the score counts every pattern.

    The lexicon is deliberately small and clinical (threats of violence, insults). Implicit threats
    ("it would be a shame if something happened to your car") contain no lexicon word and pass: a
    trained classifier (e.g. Perspective API, Detoxify) is needed for those.
    """

    def __init__(self, threshold: float = 0.5, *, allow_list: Iterable[str] = DEFAULT_ALLOW_LIST,
                 max_findings: int = 100, name: str = "toxicity") -> None:
        self.threshold = check_real("threshold", threshold, minimum=0.0, maximum=1.0, strict_minimum=True)
        self.max_findings = check_int("max_findings", max_findings, minimum=1)
        if isinstance(allow_list, (str, bytes)):
            raise TypeError("allow_list must be an iterable of phrases, not a single string")
        phrases = tuple(check_str("allow_list entry", p) for p in allow_list)
        self.allow_list = phrases
        # Longest phrase first, so a phrase is never cut short by one of its prefixes. No look-behind
        # at the start (it would stop the regex engine from skipping ahead): checked in _allowed_spans.
        folded = sorted({normalize(p).text for p in phrases}, key=lambda p: (-len(p), p))
        self._allow_rx = re.compile("|".join(rf"{re.escape(p)}(?!\w)" for p in folded)) if phrases else None
        self.name = _check_name(name)
        self._gate = True  # anchor-word prefilter (tests switch it off to prove it changes nothing)

    def __repr__(self) -> str:
        return f"ToxicityGuard(threshold={self.threshold}, allow_list={len(self.allow_list)} phrases, name={self.name!r})"

    def _allowed_spans(self, t: str) -> list[tuple[int, int]]:
        """Non-overlapping spans of allow-listed phrases in normalized text ``t``, in order."""
        if self._allow_rx is None:
            return []
        return [m.span() for m in _word_matches(self._allow_rx, t)]

    def check(self, text: str | bytes) -> GuardResult:
        """Return the noisy-OR severity score of the lexicon matches outside allow-listed phrases."""
        text = _as_text("text", text)
        norm = normalize(text)
        t = norm.text
        findings: list[Finding] = []
        sev: dict[str, float] = {}
        # covering_end[a]: the end of the last allow-listed phrase that starts at or before a (-1 if
        # none); the phrases do not overlap, so a match (a, b) lies inside one iff b <= covering_end[a].
        # Found once, on the first match.
        covering_end: list[int] = []

        def outside_allow_list(a: int, b: int) -> bool:
            if not covering_end:
                spans = self._allowed_spans(t)
                covering_end.extend([-1] * (spans[0][0] if spans else len(t) + 1))
                for (s, e), (nxt, _) in zip(spans, spans[1:] + [(len(t) + 1, 0)]):
                    covering_end.extend([e] * (nxt - s))
            return b > covering_end[a]

        for rule, a, b in _scan(_TOXIC_RULES, t, gate=self._gate, limit=self.max_findings,
                                accept=outside_allow_list):
            sev[rule.name] = max(sev.get(rule.name, 0.0), rule.weight)
            findings.append(Finding(rule.family, norm.to_original(a, b), rule.name))
        score = noisy_or(sev.values())
        passed = score < self.threshold
        if not sev:
            reason = "no toxic pattern"
        else:
            top = sorted(sev.items(), key=lambda kv: (-kv[1], kv[0]))
            reason = (f"toxicity score {score:.2f} {'<' if passed else '>='} {self.threshold:g}: "
                      + ", ".join(f"{p} ({w:g})" for p, w in top[:3]))
        findings.sort(key=lambda f: (f.span, f.type, f.detail))
        return GuardResult(self.name, passed, score, reason, tuple(findings))
