"""The machinery behind ``guardrails.groundedness``: sentences, words, numbers, dates, names and negation.

``groundedness`` states the checks in a few lines each; this module turns normalized text into what they
compare: sentence spans, content words reduced to a stem (with a small table of irregular forms and
common synonyms), the numbers and dates a sentence states (``3.5 million`` and ``3,500,000`` are one value;
``2 May 2024`` and ``May 2, 2024`` one date), the capitalised names it mentions, and the words each
negation governs. Every pattern is linear in the input. Private: the lesson module imports from here,
never the other way round.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import NamedTuple

from ._lexicon import defines, part_of_speech, related

# -------------------------------------------------------------------------------------------- sentences
#: Abbreviations after which a full stop does not end a sentence (compared lower case, without the dot).
ABBREVIATIONS = frozenset("""mr mrs ms dr prof st jr sr vs etc e.g i.e approx no nos fig figs inc ltd co corp
dept est vol p pp ca cf al a.m p.m u.s u.k e.u mt ft jan feb mar apr jun jul aug sep sept oct nov dec""".split())
_SENTENCE_END_RX = re.compile(r"[.!?]+(?=[\"')\]\u201d\u2019]*(?:\s|$))|\n\s*\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``: ends at . ! ? followed by a space (not after an
    abbreviation or a single initial, not inside a number) or at a blank line; whitespace trimmed."""
    spans, start = [], 0
    for m in _SENTENCE_END_RX.finditer(text):
        p = m.start()
        if text[p] == ".":
            q = p
            while q > start and p - q < 12 and (text[q - 1].isalnum() or text[q - 1] in "._"):
                q -= 1
            w = text[q:p].lower()
            if w in ABBREVIATIONS or (len(w) == 1 and w.isalpha()):
                continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


# ---------------------------------------------------------------------------------------------- words
#: Words that carry no claim of their own (function words, auxiliaries, vague quantifiers).
STOPWORDS = frozenset("""a an the and or but if then than so as of in on at to for from by with about into over
under after before between through during without within up down out off again further once here there when
where why how all any both each few more most other some such only own same too very can will just should now
is are was were be been being am do does did doing have has had having i me my we our you your he him his she
her it its they them their this that these those what which who whom whose also still yet however while
because since until although though would could may might must shall one's per via around roughly about
itself himself herself themselves ourselves yourself myself far another unless whether either every upon among
sure yes yeah okay ok hello hi hey thanks thank please certainly absolutely indeed
approximately nearly almost just some many much lot lots according say says said context text passage document
information mention mentions mentioned provided given st nd rd th cent cents pence""".split())
NEGATIONS = frozenset("not no never none nobody nothing neither nor without cannot lacks lack lacked lacking".split())
#: Irregular forms, common synonyms and unit abbreviations mapped to one stem, so "rose" supports
#: "increased", "bought" "purchased" and "km" "kilometres". Deliberately small: a lexical check knows only
#: the synonyms it is given (an NLI model or an LLM judge knows them all).
_GROUPS = """increase rise rose risen grow grew grown increased climb climbed jump jumped soar soared
decrease fall fell fallen drop dropped decline declined decreased shrink shrank dip dipped slump slumped
buy bought purchase purchased acquire acquired
sell sold
start begin began begun started
finish end ended finished complete completed conclude concluded
large big huge
small little tiny
fast quick rapid
win won
lead led head headed
make made produce produced manufacture manufactured
take took taken
give gave given provide provided supply supplied offer offered
find found
build built
pay paid
spend spent
hold held
keep kept retain retained maintain maintained
leave left
send sent
write wrote written
run ran
come came attend attended
go went gone
fly flew flown
bring brought
tell told
know knew known
choose chose chosen select selected pick picked
lose lost
meet met
hire hired
employee staff worker workers employees personnel
allow allowed permit permitted let enable enabled
need needed require required
receive received get got obtain obtained
show showed shown display displayed exhibit exhibited present presented
help helped assist assisted aid aided
close closed shut
apply applied application applications
hot heat
open opened
cost costs price prices priced fee fees charge charges
part section portion piece
area region zone
car vehicle automobile
company firm business corporation
customer client
shop store
trip journey
switch turn
blink flash flicker
talk speak spoke spoken
fix repair repaired mend mended
try attempt attempted tried
contain include included comprise comprised
answer reply replied respond responded
chief ceo
km kilometre kilometres kilometer kilometers
kg kilogram kilograms kilo kilos
metre metres meter meters
cm centimetre centimetres centimeter centimeters
litre litres liter liters
kw kilowatt kilowatts
watt watts
gb gigabyte gigabytes
mb megabyte megabytes
percent
euro euros eur
dollar dollars usd"""
SYNONYMS = {w: line.split()[0] for line in _GROUPS.splitlines() for w in line.split()}
#: Words a sentence implies without using them: "Monday to Friday" speaks of weekdays.
IMPLIED = (("monday", "friday", "weekday"), ("saturday", "sunday", "weekend"))
#: A model code or rating: letters followed by digits in one word ("IP54", "X1", "A380").
CODE_RX = re.compile(r"\b[^\W\d_]+\d[^\W_]*")
_TOKEN_RX = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix-stripping stem of a lower-case word, through the synonym table ("bikes" -> "bike",
    "closes" -> "close", "purchased" -> "buy")."""
    if word in SYNONYMS:
        return SYNONYMS[word]
    w = word[:-2] if word.endswith("'s") else word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("sses", "shes", "ches", "xes", "zes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w in SYNONYMS:
        return SYNONYMS[w]
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 5 and w.endswith("ly"):
        w = w[:-2]
    if w in SYNONYMS:
        return SYNONYMS[w]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]  # "stopped" -> "stopp" -> "stop"
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]  # "reserve" and "reserved" (-> "reserv") meet
    return SYNONYMS.get(w, w)


def words(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(word, start, end) of the words of normalized ``text[start:end]``; ``n't`` becomes a word ``not``."""
    end = len(text) if end is None else end
    out = [(m.group(), m.start(), m.end()) for m in _TOKEN_RX.finditer(text, start, end)]
    if text.find("'", start, end) < 0:
        return out
    fixed: list[tuple[str, int, int]] = []
    done = 0  # out[:done] is in fixed: the words without an apostrophe are copied over in runs
    for k in [k for k, (w, _, _) in enumerate(out) if "'" in w]:
        fixed += out[done:k]
        done = k + 1
        w, a, b = out[k]
        if w.endswith("n't"):
            base = {"can't": "can", "won't": "will", "shan't": "shall"}.get(w, w[:-3])
            fixed.append((base, a, b - 3))
            fixed.append(("not", b - 3, b))
        elif w.endswith("'s"):
            fixed.append((w[:-2], a, b))
        else:
            fixed.append((w, a, b))
    fixed += out[done:]
    return fixed


def content_words(ws: list[tuple[str, int, int]]) -> list[str]:
    """The words that carry content: not stop words or negations, not number or month words (numbers and
    dates are compared as values), two letters or more."""
    return [w for w, _, _ in ws if len(w) > 1 and w not in _NOT_CONTENT]


def content_stems(ws: list[tuple[str, int, int]]) -> list[str]:
    """The stems of ``content_words(ws)``, in order."""
    return [stem(w) for w, _, _ in ws if len(w) > 1 and w not in _NOT_CONTENT]


# ---------------------------------------------------------------------------------------------- numbers
_UNITS = {"0": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
SCALES = {"hundred": 1e2, "thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9,
          "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12}
MONTHS = {m: i for i, m in enumerate("january february march april may june july august september october "
                                     "november december".split(), start=1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WORD_NUMBER = (r"(?:(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(k for k in _UNITS if k.isalpha() and
                _UNITS[k] < 10 and _UNITS[k] > 0) + r"))?|" + "|".join(k for k in _UNITS if k.isalpha()) + r")")
_SCALE = r"(?:hundred|thousand|million|billion|trillion|mn|bn|tn|k|m|b)"
# Each pattern is tried only where its first character can be: the two that start at a digit as one scan
# (``_AT_DIGIT``) that starts only at a run of digits, the others at a month or a number word
# (``numbers_and_dates`` finds those first); never at every position of the text.
_DATE_AT_DIGIT = re.compile(
    rf"(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?: of)? (?P<m1>{_MONTH})\b\.?(?:,? (?P<y1>\d{{4}}))?(?!\w)"
    rf"|(?P<y4>\d{{4}})-(?P<m4>\d{{1,2}})-(?P<d4>\d{{1,2}})(?!\w)"
    rf"|(?P<a5>\d{{1,2}})[/.](?P<b5>\d{{1,2}})[/.](?P<y5>\d{{4}})(?![\w/])")
_DATE_AT_MONTH = re.compile(
    rf"(?P<m2>{_MONTH})\.? (?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b(?!:)(?:,? (?P<y2>\d{{4}}))?(?!\w)"
    rf"|(?P<m3>{_MONTH})\.?,? (?:of )?(?P<y3>\d{{4}})(?!\w)")
_MONTH_ONLY_BEFORE = frozenset("in by since until from of during early late mid".split())
_NUMBER_AT_DIGIT = re.compile(
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))? ?(?P<ampm>a\.m\.|p\.m\.|am\b|pm\b)"
    r"|(?P<hh>\d{1,2}):(?P<mm>\d{2})(?![\d:])"
    rf"|(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:(?:st|nd|rd|th)\b)?"
    rf"(?P<half> and a half\b)?(?:[ -]?(?P<scale>{_SCALE})\b)?")
_NUMBER_AT_WORD = re.compile(
    rf"(?P<word>{_WORD_NUMBER}|twice|thrice)\b(?P<whalf> and a half\b)?(?:[ -](?P<wscale>{_SCALE})\b)?"
    r"|(?P<a>a|one) (?P<ascale>hundred|thousand|million|billion)\b")
_NOT_CONTENT = STOPWORDS | NEGATIONS | frozenset(_UNITS) | frozenset(_TENS) | frozenset(
    "hundred thousand million billion trillion".split()) | frozenset(MONTHS)


class Number(NamedTuple):
    """A number a sentence states: its ``value``, the ``step`` of its last written digit times its scale
    (``3.5 million``: step 100,000), the ``text`` as written, its ``span`` in the normalized text, and its
    ``kind`` ("number", or "time": minutes after midnight, so "6 p.m." and "18:00" are both 1080)."""

    value: float
    step: float
    text: str
    span: tuple[int, int]
    kind: str = "number"


class Date(NamedTuple):
    """A date a sentence states, as the (year, month, day) ``readings`` it allows (``None`` for a part not
    given; 03/04/2021 allows two), the ``text`` as written and its ``span``."""

    readings: tuple[tuple[int | None, int | None, int | None], ...]
    text: str
    span: tuple[int, int]


def _month(name: str) -> int:
    return MONTHS[name[:3]]


def _word_value(w: str) -> int:
    parts = re.split(r"[- ]", w)
    return sum(_TENS.get(p, _UNITS.get(p, 0)) for p in parts)


_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(("twice", "thrice"))
#: One scan for what starts at a run of digits that is not inside a number or a word (after a letter, a
#: digit, "_", ".", ",", ":" or "/"): a date (group ``date``, tried first) or else a number. The
#: look-ahead for a digit comes first, so every other position fails at once.
_AT_DIGIT = re.compile(rf"(?=\d)(?<![\w.,:/])(?:(?P<date>{_DATE_AT_DIGIT.pattern})|{_NUMBER_AT_DIGIT.pattern})")
_ANCHOR_WORDS = frozenset(MONTHS) | _NUMBER_WORDS | frozenset(("a", "one"))


def numbers_and_dates(text: str, start: int = 0, end: int | None = None,
                      ws: list[tuple[str, int, int]] | None = None) -> tuple[list[Number], list[Date]]:
    """The numbers and dates stated in normalized ``text[start:end]``; a date's parts are not also numbers,
    but its year is (so "in 2021" is supported by "3 March 2021"). ``ws``: the words of that stretch,
    if already known."""
    end = len(text) if end is None else end
    if ws is None:
        ws = words(text, start, end)
    # Where a number or a date can start at a word: a month, a number word, "a" or "one" before
    # "hundred" ... Sorted by position.
    at_words: list[tuple[int, str]] = []
    for k in [k for k, (w, _, _) in enumerate(ws) if w in _ANCHOR_WORDS]:
        w, a, _ = ws[k]
        if w in MONTHS:
            at_words.append((a, "month"))
            before = ws[k - 1][0] if k else ""
            if before in _MONTH_ONLY_BEFORE:
                at_words.append((a, "month only " + w))
        if w in _NUMBER_WORDS or (w in ("a", "one") and k + 1 < len(ws) and ws[k + 1][0] in SCALES):
            at_words.append((a, "word"))
    at_words.sort()
    dates: list[Date] = []
    nums: list[Number] = []
    busy = -1  # end of the last date or number found: nothing starts inside it
    # Walk the places in order of position: ``digit``, the next find of the digit scan, or the next word.
    digit = _AT_DIGIT.search(text, start, end)
    k = 0
    while True:
        if digit is not None and (k == len(at_words) or digit.start() < at_words[k][0]):
            p, kind = digit.start(), "digit"
        elif k < len(at_words):
            p, kind = at_words[k]
            k += 1
            if p < busy:
                continue
        else:
            break
        date = number = None
        if kind == "digit":
            m = digit
            if m.lastgroup == "date":
                date = _date(m)
                if date is None:  # not a valid date (a 13th month ...): a number starts here all the same
                    m = _NUMBER_AT_DIGIT.match(text, p, end)
            if date is None:
                number = _number(m)
        elif kind == "month":
            m = _DATE_AT_MONTH.match(text, p, end)
            date = _date(m) if m is not None else None
        elif kind == "word":
            m = _NUMBER_AT_WORD.match(text, p, end)
            number = _number(m) if m is not None else None
        elif not (dates and dates[-1].span[0] == p):  # "month only <name>": "in May", "since March"
            name = kind[len("month only "):]
            date = Date(((None, _month(name), None),), name, (p, p + len(name)))
        if date is not None:
            dates.append(date)
            busy = date.span[1]
            y = date.readings[0][0]
            if y is not None:  # the year of a date is a number the sentence states too
                a = date.span[0] + date.text.rfind(str(y))
                nums.append(Number(float(y), 1.0, str(y), (a, a + 4)))
        elif number is not None:
            nums.append(number)
            busy = number.span[1]
        after = max(busy, p + 1)  # the digit scan goes on past this place and past what was found here
        if digit is not None and digit.start() < after:
            digit = _AT_DIGIT.search(text, after, end)
    nums.sort(key=attrgetter("span"))
    return nums, dates


def _date(m: re.Match) -> Date | None:
    at_month = m.re is _DATE_AT_MONTH
    month_name = (m.group("m2") or m.group("m3")) if at_month else m.group("m1")
    if month_name:
        day_text = m.group("d2") if at_month else m.group("d1")
        year_text = (m.group("y2") or m.group("y3")) if at_month else m.group("y1")
        day = int(day_text) if day_text else None
        if day is not None and not 1 <= day <= 31:
            return None
        return Date(((int(year_text) if year_text else None, _month(month_name), day),), m.group(), m.span())
    if m.group("y4"):
        y, mo, d = int(m.group("y4")), int(m.group("m4")), int(m.group("d4"))
        return Date(((y, mo, d),), m.group(), m.span()) if 1 <= mo <= 12 and 1 <= d <= 31 else None
    a, b, y = int(m.group("a5")), int(m.group("b5")), int(m.group("y5"))
    readings = tuple(dict.fromkeys((y, mo, d) for mo, d in ((a, b), (b, a)) if 1 <= mo <= 12 and 1 <= d <= 31))
    return Date(readings, m.group(), m.span()) if readings else None


def _number(m: re.Match) -> Number | None:
    if m.re is _NUMBER_AT_WORD:
        word = m.group("word")
        if word:
            wscale, whalf = m.group("wscale"), m.group("whalf")
            scale = SCALES[wscale] if wscale else 1.0
            value = ({"twice": 2, "thrice": 3}.get(word) or _word_value(word)) + (0.5 if whalf else 0.0)
            return Number(value * scale, (0.1 if whalf else 1.0) * scale, m.group(), m.span())
        scale = SCALES[m.group("ascale")]
        return Number(scale, scale, m.group(), m.span())
    hour, hh, minute_text, mm, ampm, num, half, scale_word = m.group(
        "hour", "hh", "minute", "mm", "ampm", "num", "half", "scale")
    hour = hour or hh
    if hour:
        h, minute = int(hour), int(minute_text or mm or 0)
        if ampm:
            if not 1 <= h <= 12:
                return None
            h = h % 12 + (12 if ampm[0] == "p" else 0)
        if h > 24 or minute > 59:
            return None
        return Number(float(h * 60 + minute), 0.0, m.group(), m.span(), "time")
    digits = num.replace(",", "")
    value = float(digits) + (0.5 if half else 0.0)
    decimals = len(digits) - digits.index(".") - 1 if "." in digits else (1 if half else 0)
    span, written = m.span(), m.group()
    if scale_word in ("m", "b", "k") and m.end("num") != m.start("scale"):
        scale_word, span, written = None, m.span("num"), num  # "5 m" written apart is metres
    scale = SCALES[scale_word] if scale_word else 1.0
    return Number(value * scale, 10.0 ** -decimals * scale, written, span)


def number_supported(n: Number, context: list[Number]) -> bool:
    """True when ``n`` equals a context number of the same kind, or is one rounded to the precision ``n``
    is written with ("3.5 million" for 3,512,000; never "3.6 million", and "12" only for 11.5 to 12.5)."""
    return any(c.kind == n.kind and abs(c.value - n.value) <= n.step / 2 + 1e-9 * max(1.0, abs(c.value))
               for c in context)


def date_supported(d: Date, context_dates: list[Date]) -> bool:
    """True when some reading of ``d`` agrees with a reading of a context date on every part ``d`` states."""
    for y, m, day in d.readings:
        for c in context_dates:
            for cy, cm, cd in c.readings:
                if all(a is None or a == b for a, b in ((y, cy), (m, cm), (day, cd))):
                    return True
    return False


# ---------------------------------------------------------------------------------------------- names
#: Capitalised words that are not names: titles, pronoun "I", and words commonly capitalised in headings.
NOT_NAMES = frozenset("i mr mrs ms dr prof sir madam st a an the".split()) | frozenset(MONTHS) | frozenset(
    "monday tuesday wednesday thursday friday saturday sunday".split()) | frozenset(
    "mondays tuesdays wednesdays thursdays fridays saturdays sundays".split())
#: Units and symbols written in capitals that are not names.
UNITS = frozenset("kw kwh mw gw w v a db dba gb mb tb kb mah km kg mm cm ml hz khz mhz ghz mph kph rpm mp usd eur gbp "
                  "chf sek nok dkk jpy cad aud am pm k m bn ip".split())


#: A name may stand in the context as its adjective ("Scandinavia", "Scandinavian designers").
DEMONYM_ENDINGS = ("n", "an", "ian", "ese", "ish", "i")


def names(original: str, ws: list[tuple[str, int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """Indices of the words of a sentence that read as names. ``ws``: the sentence's words in the
    normalized text; ``spans``: their spans in ``original``, where the case survives. A name is
    capitalised in the original and is not the sentence's first word, unless that word is in capitals or
    begins a run of capitalised words ("Grace Wanjiru won ..."). Units, titles, month and day names are
    not names."""
    caps = [e > s and original[s].isupper() for s, e in spans]
    out = []
    for k, (w, _, _) in enumerate(ws):
        if not caps[k] or w in NOT_NAMES or w in UNITS or w in NEGATIONS or len(w) < 2:
            continue
        if k == 0:
            s, e = spans[k]
            all_caps = e - s >= 2 and original[s:e].isupper()
            if not all_caps and (w in STOPWORDS or not (k + 1 < len(ws) and caps[k + 1]
                                                        and ws[k + 1][0] not in NOT_NAMES)):
                continue
        out.append(k)
    return out


def initials_of(acronym: str, initials: str) -> bool:
    """True when ``acronym`` ("cto") spells the first letters of consecutive context words
    ("chief technology officer"), given those first letters in order (``ContextIndex.initials``)."""
    return len(acronym) >= 2 and acronym in initials


# ------------------------------------------------------------------------------------------- negation
_CLAUSE_END_RX = re.compile(r"[,;:.!?]|\b(?:but|while|whereas|although|though)\b")


#: Where the polarity of a sentence may change: a new clause after ; : ", and" ", which" or a contrast
#: word (not at a bare comma: "Plastic bags, including compostable ones, may not be placed ..." negates the bags).
_POLARITY_END_RX = re.compile(r"[;:.!?]|,\s+(?:and|or|so|which|who|where)\b|\b(?:but|while|whereas|although|though)\b")


def clause_negated(text: str, ws: list[tuple[str, int, int]]) -> set[str]:
    """Stems of the content words that stand in a clause with a negation in it ("Railjet trains and cable
    cars are not covered": all five; "dogs are allowed but smoking is not": "smok" only)."""
    out: set[str] = set()
    if NEGATIONS.isdisjoint(w for w, _, _ in ws):
        return out
    clause: list[str] = []
    negated = False
    cut = _POLARITY_END_RX.search(text, ws[0][1]) if ws else None
    for w, a, _ in ws:
        while cut is not None and a >= cut.end():
            if negated:
                out.update(clause)
            clause, negated = [], False
            cut = _POLARITY_END_RX.search(text, cut.end())
        if w in NEGATIONS:
            negated = True
        elif len(w) > 1 and w not in _NOT_CONTENT:
            clause.append(stem(w))
    if negated:
        out.update(clause)
    return out


_BOUNDS = frozenset("more less fewer later earlier sooner longer shorter".split())


def negated_stems(text: str, ws: list[tuple[str, int, int]], scope: int = 1) -> set[str]:
    """Stems of the content words a negation governs: up to ``scope`` content words after each negation
    word, within its clause ("did not close; it was sold" negates "close" only). A bound is no negation:
    "no more than six tablets" and "not later than Friday" say how many and when, as "at most" would."""
    out: set[str] = set()
    for k, (w, a, b) in enumerate(ws):
        if w not in NEGATIONS:
            continue
        if k + 2 < len(ws) and ws[k + 1][0] in _BOUNDS and ws[k + 2][0] == "than":
            continue
        stop = _CLAUSE_END_RX.search(text, b)
        limit = stop.start() if stop else len(text)
        taken = 0
        for w2, a2, _ in ws[k + 1:]:
            if a2 >= limit or taken >= scope:
                break
            if w2 in NEGATIONS or w2 == "longer":
                continue
            if len(w2) > 1 and w2 not in _NOT_CONTENT:
                out.add(stem(w2))
                taken += 1
    return out


# --------------------------------------------------------------------------------------------- refusal
_SOURCE = (r"(?:context|text|document|documents|passage|passages|article|report|page|notice|leaflet|source|sources|"
           r"information|profile|announcement|instructions|rules|policy|sheet|excerpt|material|website|manual|guide|"
           r"description|records|data|summary|specification|specifications|study|brochure|listing|table|"
           r"schedule|statement|timetable|label|faq|terms|conditions|release|press release|post|email|letter|"
           r"update|advert|ad|entry|it|they)")
#: A sentence that says the context does not answer ("The leaflet does not say ...", "I could not find ...").
REFUSAL_RX = re.compile(
    r"\bi (?:do not|don't|cannot|can't|could not|couldn't|am not able to|am unable to|was unable to) (?:know|find|tell|"
    r"say|answer|determine|see)\b|\bi(?:'m| am) (?:not sure|unsure)\b|\bnot sure (?:what|whether|if|who|when|how)\b"
    rf"|\b{_SOURCE}(?: [\w-]+){{0,2}} (?:does not|doesn't|do not|don't|did not|didn't) (?:say|mention|specify|state|include|list|give|"
    r"provide|contain|tell|explain|name|cover|show|report|indicate|reveal|disclose|detail|note|clarify)\b|\bno information (?:about|on|regarding)\b"
    r"|\b(?:is|are|was|were) not (?:mentioned|stated|given|specified|provided|listed)\b|\bunable to (?:find|answer|"
    r"determine)\b|\bthere is no (?:mention|information)\b|\bi (?:do not|don't) have (?:any )?information\b"
    r"|\bcannot be determined\b|\bcan't tell\b")
#: After a refusal, these words start a clause that may claim something again ("..., but it opened in 2019").
CONTRAST_RX = re.compile(r"\b(?:but|however|although|though|yet|still)\b")


def substitutions(claim: list[str], source: list[str], novel: set[str], max_gap: int = 3
                  ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Words of the claim that stand where the source sentence has other words: a run of claim words the
    context never uses (``novel``), between two words claim and source share, where the source has up to
    ``max_gap`` words the claim lacks ("made of brushed copper" against "made of brushed steel"; at the
    end of the claim one shared word on the left is enough). Returns ((i, k), (j, l)) pairs: the run
    ``claim[i:k]`` stands where the source has ``source[j:l]``."""
    where: dict[str, list[int]] = {}
    for j, w in enumerate(source):
        where.setdefault(w, []).append(j)
    mine = set(claim)
    out = []
    i = 0
    while i < len(claim):
        if claim[i] not in novel:
            i += 1
            continue
        k = i
        while k < len(claim) and claim[k] in novel:
            k += 1
        left = claim[i - 1] if i > 0 else None
        right = claim[k] if k < len(claim) else None
        for j in where.get(left, []) if left is not None else []:
            if right is None:
                gap = [w for w in source[j + 1:j + 1 + max_gap] if w not in mine]
                if gap and source[j + 1] not in mine:
                    out.append(((i, k), (j + 1, j + 1 + min(len(gap), k - i))))
                    break
            else:
                hit = next((j2 for j2 in where.get(right, []) if 1 <= j2 - j - 1 <= max_gap
                            and all(w not in mine for w in source[j + 1:j2])), None)
                if hit is not None:
                    out.append(((i, k), (j + 1, hit)))
                    break
        i = k
    return out


_DAY_PART_RX = re.compile(r" (?:in the (?P<am>morning)|in the (?:afternoon|evening)|at night)\b")
_MAY_VERB_RX = re.compile(r"\d{1,2}(?:st|nd|rd|th)?(?: of)? may (?!\d)(?P<next>[a-z]+)")
_MONTH_WORD_RX = re.compile(rf"\b{_MONTH}\b")
_SINGLE_RX = re.compile(r"\bsingle\b")
_SUBUNIT_RX = re.compile(r"(?: ?(?:cents?|pence)|p)\b")
_DAY_RANGE_RX = re.compile(rf"\b(?P<first>\d{{1,2}})(?:st|nd|rd|th)? ?(?:-|\u2013|to|and) ?\d{{1,2}}(?:st|nd|rd|th)? (?P<month>{_MONTH})\b")
_DAY_DIGITS_RX = re.compile(r"\d+")
#: Words after "may" that make it the verb ("under 12 may visit", "12 may not"), not the month.
_AFTER_MODAL = frozenset("be not also only still have need apply use stay visit bring take".split())


def refine(text: str, nums: list[Number], dates: list[Date], in_context: bool = False
           ) -> tuple[list[Number], list[Date]]:
    """What the scanner reads from ``text``, with three readings the surrounding words decide:

    - a whole hour from 1 to 12 followed by "in the morning", "in the afternoon", "in the evening" or "at
      night" is a time of day: "9 in the morning" is 9 a.m. (540 minutes after midnight), "8 in the
      evening" 20:00, "11 at night" 23:00, "2 at night" 02:00;
    - "12 may visit" is the number 12 and the verb "may", not 12 May (a verb follows, no year);
    - "single" is the number one ("in a single day" states what "in one day" does);
    - "29 cents" and "20 pence" are 0.29 and 0.20 (of the currency, as the context may write them);
    - in "from 18 to 20 July" or "18-20 July" the first day is a date too (18 July);
    - in a context (``in_context``), a month named without a day or a preposition ("in October and
      February") is a date too, so a claim "in February" finds it ("may" only as the scanner reads it).
    """
    parts = {m.start(): m for m in _DAY_PART_RX.finditer(text)}
    out = list(nums)
    if parts:
        out = []
        for n in nums:
            m = parts.get(n.span[1]) if n.kind == "number" and n.step == 1.0 else None
            if m is None or not (n.value == int(n.value) and 1 <= n.value <= 12):
                out.append(n)
                continue
            h = int(n.value) % 12
            if m.group("am") is None and not (m.group().endswith("night") and h < 5):
                h += 12
            out.append(Number(float(h * 60), 0.0, text[n.span[0]:m.end()], (n.span[0], m.end()), "time"))
    out += [Number(1.0, 1.0, m.group(), m.span()) for m in _SINGLE_RX.finditer(text)]  # "a single day"
    subunits = {m.start(): m for m in _SUBUNIT_RX.finditer(text)}
    if subunits:  # "29 cents" is 0.29 (of a euro or a dollar), "20 pence" 0.20 of a pound
        out = [Number(n.value / 100, n.step / 100, n.text, n.span, n.kind)
               if n.kind == "number" and n.span[1] in subunits else n for n in out]
    kept = []
    for d in dates:
        m = _MAY_VERB_RX.match(text, d.span[0]) if d.text.endswith("may") else None
        nxt = m.group("next") if m is not None else ""
        if nxt and (nxt in _AFTER_MODAL or part_of_speech(nxt) == "verb"):
            day = _DAY_DIGITS_RX.match(d.text).group()
            out.append(Number(float(day), 1.0, day, (d.span[0], d.span[0] + len(day))))
            continue
        kept.append(d)
    firsts = set()
    for m in _DAY_RANGE_RX.finditer(text):  # "from 18 to 20 July", "18-20 July": the first day is a date too
        day = int(m.group("first"))
        if 1 <= day <= 31:
            kept.append(Date(((None, _month(m.group("month")), day),), m.group("first"), m.span("first")))
            firsts.add(m.span("first"))
    if firsts:  # no longer a number
        out = [n for n in out if n.span not in firsts]
    kept.sort(key=lambda d: d.span)
    if in_context:  # months outside every date the scanner found (dates and months both come in order)
        bare, k = [], 0
        for m in _MONTH_WORD_RX.finditer(text):
            while k < len(kept) and kept[k].span[1] <= m.start():
                k += 1
            inside = k < len(kept) and kept[k].span[0] <= m.start()
            if m.group() != "may" and not inside:
                bare.append(Date(((None, _month(m.group()), None),), m.group(), m.span()))
        if bare:
            kept = sorted(kept + bare, key=lambda d: d.span)
    out.sort(key=lambda n: n.span)
    return out, kept


def may_stand_for(mine: list[str], theirs: list[str]) -> bool:
    """True when the answer's words ``mine`` may say what the context's ``theirs`` says: one of them is
    WordNet-related to one of theirs or defines it ("growth" for "increase", "money" back for a "refund"),
    or every word of ``mine`` is mostly a verb or an adverb ("takes" for "lasts", "as often as they like"
    for "unlimited"): a substitution of a thing (a material, a place, a product: "bank transfer" for
    "card") is a noun or adjective swap."""
    if any(related(a, b) or defines(a, b) for a in mine for b in theirs):
        return True
    return all(part_of_speech(w) in ("verb", "adv") for w in mine)


# ------------------------------------------------------------------------------------------ the index
_K1, _B = 1.2, 0.75  # BM25's usual constants (Robertson & Zaragoza 2009)
#: At most this many context sentences are scored for one claim (the ones sharing its rarest words), so a
#: huge context costs time in proportion to its length, not to its length times the answer's.
MAX_CANDIDATES = 2000


@dataclass
class ContextIndex:
    """The context, prepared once: normalized text, sentence spans, per sentence its content stems (with
    counts) and negated stems, document frequencies for BM25, and the numbers, dates and words it states."""

    text: str
    spans: list[tuple[int, int]]
    stems: list[dict[str, int]]
    lengths: list[int]
    negated: list[set[str]]
    df: dict[str, int]
    postings: dict[str, list[int]]
    values: list[Number]
    dates: list[Date]
    words: set[str]
    stem_set: set[str]
    _initials: str | None = None
    _sorted: list[tuple[str, float, int]] | None = None
    _keys: list[tuple[str, float]] | None = None
    _sequences: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)
    _date_keys: set[tuple[int | None, int | None, int | None]] | None = None
    _codes: set[str] | None = None
    _number_sentences: dict[tuple[str, float, float], list[int]] = field(default_factory=dict)
    _starts: list[int] | None = None
    _relates: dict[tuple[int, str], bool] = field(default_factory=dict)

    @classmethod
    def build(cls, text: str) -> ContextIndex:
        spans = sentence_spans(text)
        ws_all = words(text)
        starts = [a for _, a, _ in ws_all]
        stems, lengths, negated = [], [], []
        postings: dict[str, list[int]] = {}
        j = 0  # the sentences come in order: look for each one's words from where the last one's ended
        for i, (a, b) in enumerate(spans):
            k = bisect.bisect_left(starts, a, j)
            j = bisect.bisect_left(starts, b, k)
            ws = ws_all[k:j]
            counts: dict[str, int] = {}
            for s in content_stems(ws):
                counts[s] = counts.get(s, 0) + 1
            for first, last, implied in IMPLIED:
                if first in counts and last in counts:
                    counts[implied] = counts.get(implied, 0) + 1
            stems.append(counts)
            lengths.append(sum(counts.values()))
            negated.append(set() if NEGATIONS.isdisjoint(map(itemgetter(0), ws)) else negated_stems(text, ws))
            for s in counts:
                postings.setdefault(s, []).append(i)
        df = {s: len(sentences) for s, sentences in postings.items()}  # the number of sentences using s
        nums, dates = refine(text, *numbers_and_dates(text, ws=ws_all), in_context=True)
        return cls(text, spans, stems, lengths, negated, df, postings, nums, dates, {w for w, _, _ in ws_all}, set(df))

    def supporting(self, n: Number) -> Iterator[int]:
        """Indices of the context numbers that support ``n`` (see ``number_supported``), by kind and value:
        a binary search finds where they start."""
        if self._sorted is None:
            self._sorted = sorted((c.kind, c.value, i) for i, c in enumerate(self.values))
            self._keys = [(k, v) for k, v, _ in self._sorted]
        tol = n.step / 2 + 2e-9 * max(1.0, abs(n.value))
        for kind, value, i in self._sorted[bisect.bisect_left(self._keys, (n.kind, n.value - tol)):]:
            if kind != n.kind or value > n.value + tol:
                break
            if number_supported(n, [self.values[i]]):
                yield i

    def match_number(self, n: Number, used: set[int]) -> int | None:
        """Index of a context number that supports ``n`` and is not in ``used``."""
        return next((i for i in self.supporting(n) if i not in used), None)

    def relates(self, i: int, word: str) -> bool:
        """True when ``word`` is ``related`` to a content word of context sentence ``i`` in one of the
        three most frequent senses of each (remembered per sentence and word)."""
        key = (i, word)
        if key not in self._relates:
            self._relates[key] = any(related(word, x, senses=3) for x in self.sequence(i)[1])
        return self._relates[key]

    def number_sentences(self, n: Number) -> list[int]:
        """Indices of the context sentences that state a number supporting ``n``, in order."""
        key = (n.kind, n.value, n.step)
        if key not in self._number_sentences:
            if self._starts is None:
                self._starts = [a for a, _ in self.spans]
            self._number_sentences[key] = sorted({bisect.bisect_right(self._starts, self.values[i].span[0]) - 1
                                                  for i in self.supporting(n)})
        return self._number_sentences[key]

    def date_supported(self, d: Date) -> bool:
        """``date_supported(d, self.dates)``, by one look-up per reading of ``d``: every context reading
        is stored with each of its parts also left out."""
        if self._date_keys is None:
            self._date_keys = {(y if my else None, m if mm else None, day if md else None)
                               for c in self.dates for y, m, day in c.readings
                               for my in (0, 1) for mm in (0, 1) for md in (0, 1)}
        return any(r in self._date_keys for r in d.readings)

    @property
    def codes(self) -> set[str]:
        """The model codes and ratings the context states (``CODE_RX``)."""
        if self._codes is None:
            self._codes = {m.group() for m in CODE_RX.finditer(self.text)}
        return self._codes

    @property
    def initials(self) -> str:
        """The first letters of the context's content words, in order (for acronyms)."""
        if self._initials is None:
            self._initials = "".join(w[0] for w, _, _ in words(self.text) if w not in STOPWORDS)
        return self._initials

    def idf(self, s: str) -> float:
        """BM25's inverse document frequency, ln(1 + (N - n + 0.5) / (n + 0.5)), over context sentences."""
        n, big_n = self.df.get(s, 0), len(self.spans)
        return math.log(1.0 + (big_n - n + 0.5) / (n + 0.5))

    def weight(self, s: str) -> float:
        """The weight of a claim word in the support: its ``idf``, but a word the context never uses weighs
        as much as one it uses once (BM25's idf would weigh it more, and a paraphrase uses new words)."""
        n, big_n = max(1, self.df.get(s, 0)), len(self.spans)
        return math.log(1.0 + (big_n - n + 0.5) / (n + 0.5))

    def sequence(self, i: int) -> tuple[list[str], list[str]]:
        """The content stems of context sentence ``i`` in order, and the words they stem from."""
        if i not in self._sequences:
            a, b = self.spans[i]
            surface = content_words(words(self.text, a, b))
            self._sequences[i] = ([stem(w) for w in surface], surface)
        return self._sequences[i]

    def best_sentences(self, query: list[str], k: int) -> list[int]:
        """Indices of the ``k`` context sentences with the highest BM25 scores for ``query``, best first
        (the earlier sentence on ties)."""
        terms = sorted(set(query), key=lambda s: (self.df.get(s, 0), s))
        candidates: dict[int, None] = {}
        for s in terms:
            for i in self.postings.get(s, ()):
                candidates[i] = None
                if len(candidates) >= MAX_CANDIDATES:
                    break
            if len(candidates) >= MAX_CANDIDATES:
                break
        if not candidates:
            return []
        avg = sum(self.lengths) / len(self.lengths) if self.lengths else 1.0
        idf = {s: self.idf(s) for s in terms}
        scored = []
        for i in candidates:
            tf_row, norm = self.stems[i], _K1 * (1 - _B + _B * self.lengths[i] / (avg or 1.0))
            score = 0.0
            for s in terms:
                tf = tf_row.get(s, 0)
                if tf:
                    score += idf[s] * tf * (_K1 + 1) / (tf + norm)
            scored.append((-score, i))
        return [i for _, i in heapq.nsmallest(k, scored)]


_CLAUSE_RX = re.compile(r"[,;:]\s+(?:and|but|which|while|whereas|so|who|where)\b|;\s|\s(?:and|but|while|whereas)\s")


def clauses(text: str, ws: list[tuple[str, int, int]], min_words: int = 2) -> list[list[tuple[str, int, int]]]:
    """The words of a sentence split into clauses at "; ", ", and", ", which", " but " and the like, each
    clause keeping at least ``min_words`` content words (a shorter piece joins the one before it, so
    "China and Turkey" stays one clause). Every clause is a claim of its own."""
    if not ws:
        return []
    a, b = ws[0][1], ws[-1][2]
    cuts = [m.start() for m in _CLAUSE_RX.finditer(text, a, b)]
    if not cuts:
        return [list(ws)]
    pieces: list[list[tuple[str, int, int]]] = [[]]
    k = 0
    for w in ws:
        while k < len(cuts) and w[1] >= cuts[k]:
            pieces.append([])
            k += 1
        pieces[-1].append(w)
    out: list[list[tuple[str, int, int]]] = []
    for p in pieces:
        if out and len(content_stems(p)) < min_words:
            out[-1].extend(p)
        elif not out or len(content_stems(out[-1])) >= min_words:
            out.append(list(p))
        else:
            out[-1].extend(p)
    return [p for p in out if p]
