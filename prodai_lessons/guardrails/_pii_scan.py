"""The PII scanners behind ``PIIGuard``: candidate patterns, and scans that never let a candidate hide a finding.

Every pattern runs on ``normalize(text, fold_obfuscation=False)`` and is linear in the text. Where a
number can run into the next one (a card and its CVV, a phone number and a year, an IBAN and the
next word), the scan tries the shorter ends too and resumes after a failed candidate. Each scan
has a plain version (short texts) and a numpy twin for long texts (``_*_numpy``); the tests check
the plain scans against brute force from the definitions and the twins against the plain scans.
``find_candidates`` runs them all and resolves overlaps. Private: the lesson modules import from
here, never the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter

import numpy as np

from ._rules import _word_matches
from ._text import _VECTOR_MIN, _codepoints, _longest_run


#: Digit d doubled, minus 9 when that exceeds 9 (the sum of the two digits of 2d).
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


#: IBAN lengths by country (ISO 13616 / SWIFT IBAN registry).
IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "LY": 25,
}

#: A -> "10", B -> "11", ..., Z -> "35" (the ISO 13616 letter values), for ``str.translate``.
_IBAN_LETTER_VALUES = {ord(c): str(ord(c) - 55) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


# All patterns run on normalize(text, fold_obfuscation=False): lower case, NFKC (fullwidth digits are
# ASCII), invisible characters removed. Every candidate is anchored with a look-behind so it starts
# at the beginning of its run, and every repetition is bounded or possessive: linear time.
# The top-level domain is alphabetic, or an internationalised one in its ASCII (punycode) form, "xn--p1ai"
# for .рф (RFC 3490); labels before it may be punycode too ("xn--80ak6aa92e").
_EMAIL_RX = re.compile(
    r"(?<![a-z0-9._%+'\-])[a-z0-9._%+'\-]{1,64}@[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?){0,8}\.(?:[a-z]{2,24}|xn--[a-z0-9](?:[a-z0-9\-]{0,57}[a-z0-9])?)"
    r"(?![a-z0-9\-])")
_EMAIL_SPOKEN_RX = re.compile(
    r"(?<![a-z0-9._%+\-])(?P<local>[a-z0-9._%+\-]{1,64}(?: dot [a-z0-9\-]{1,63}){0,3}) (?:at|\[at\]|\(at\)) "
    r"[a-z0-9\-]{1,63}(?: (?:dot|\[dot\]|\(dot\)) [a-z0-9\-]{1,63}){0,3} (?:dot|\[dot\]|\(dot\)) "
    r"(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz)\b")
# Words that stand before "at" in ordinary prose ("look at this dot com", "I work at google dot com",
# "email me at ...") and are not mailbox names: a spoken address whose local part is one of them is
# prose, not an address.
_NOT_A_MAILBOX = frozenset(
    "i me you he him she her it we us they them this that these those the a an is are was were be been am "
    "look looks looked looking work works worked working live lives lived living stay stays stayed staying "
    "meet meets met meeting arrive arrives arrived arriving available here there good great job".split())


def _spoken_emails(t: str) -> list[tuple[int, int, str, str]]:
    """Spoken e-mail addresses ("jo dot lee at example dot com"), without the prose look-alikes.

    A match whose local part is a word of ``_NOT_A_MAILBOX`` is refused and the search goes on from
    the next character (an address may start at a later word). Each search is linear in what it reads.
    """
    out = []
    pos = 0
    while True:
        m = _EMAIL_SPOKEN_RX.search(t, pos)
        if m is None:
            return out
        if m.group("local") in _NOT_A_MAILBOX:
            pos = m.start() + 1
            continue
        out.append((m.start(), m.end(), "email", "spoken"))
        pos = m.end()


_NANP_RX = re.compile(
    r"(?<![\w+])(?:\+?1[ .\-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}(?!\w)")
# The two bare-number patterns start with a keyword; the "\b" before it is checked by _word_matches,
# so the engine can jump between the letters a keyword starts with.
_NANP_BARE_RX = re.compile(
    r"(?:phone|tel|telephone|cell|mobile|call|fax|text|whatsapp|sms)\b[^0-9\n]{0,20}?"
    r"(?<![\d+])(?P<num>(?:\+?1)?[2-9]\d{2}[2-9]\d{6})(?!\d)")
# The look-behind sits after the "+" (checking the character before it), so the engine can jump
# from one "+" to the next instead of trying every position.
_E164_RX = re.compile(r"\+(?<![\w+]\+)[1-9][0-9 ().\-]{6,22}")
# The two separators are the same: a dash, a space or a dot (078.05.1120). A dotted one must not be part of
# a longer dotted number (``_dotted_ssn_alone``).
_SSN_RX = re.compile(r"(?<![\w\-])(\d{3})([ \-.])(\d{2})\2(\d{4})(?![\w\-])")
_SSN_BARE_RX = re.compile(
    r"(?:ssn|social security(?: number| no\.?| #)?)\b[^0-9\n]{0,20}?(?<!\d)(?P<num>\d{9})(?!\d)")
# Card numbers: 13 to 19 ASCII digits, optionally grouped by single spaces or hyphens. A card lies in
# a "segment" (digit groups joined by single separators); a segment may hold more than one card, or a
# card and other numbers (a CVV after it, an order number before it): see _card_candidates_plain.
_CARD_SEGMENT_RX = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")
# An IPv4 address, with its prefix length when it is written as a network (10.0.0.0/8, CIDR): the finding
# covers both, as Presidio's does. "/33" and "/123" are not prefix lengths: the address ends before the "/".
_IPV4_RX = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?:/(?:3[0-2]|[12]?[0-9]))?(?!\w|\.\d)")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_H = r"[0-9a-f]{1,4}"
# The textual forms of an IPv6 address (RFC 4291 section 2.2), lower case (the text is folded): eight
# groups of at most 4 hex digits, or fewer with one "::" standing for one or more zero groups (at most 7
# written; "::" alone, the unspecified address, holds no one's data and is not listed), and the same with
# an IPv4 address as the last 32 bits (::ffff:192.0.2.1, 64:ff9b::192.0.2.1: at most 5 groups written
# around the "::", or 6 without it). One alternative per number of groups on the left of the "::"; the
# forms that start with "::" come first, in one branch (each alternative tried costs time).
_IPV6_HEX_FIRST = "|".join([
    rf"(?:{_H}:){{7}}{_H}", rf"(?:{_H}:){{1,7}}:", rf"(?:{_H}:){{1,6}}:{_H}", rf"(?:{_H}:){{1,5}}(?::{_H}){{1,2}}",
    rf"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}", rf"(?:{_H}:){{1,3}}(?::{_H}){{1,4}}", rf"(?:{_H}:){{1,2}}(?::{_H}){{1,5}}",
    rf"{_H}:(?::{_H}){{1,6}}",
])
_IPV6_V4_HEX_FIRST = "|".join([rf"(?:{_H}:){{6}}"] + [rf"(?:{_H}:){{{k}}}:(?:{_H}:){{0,{5 - k}}}" for k in range(1, 6)])
_IPV4_TAIL = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_ZONE_PREFIX = r"(?:%[0-9a-z]+)?(?:/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?"
_END_V4 = r"(?!\w|\.[0-9])"  # after an IPv4 tail a colon starts a port
_END = r"(?!\w|\.[0-9]|:(?:[\w:]|\.[0-9]))"  # a colon only where it ends a clause
# An IPv6 address, with its zone ("%eth0", RFC 4007) and prefix length ("/64"), as one candidate. Not
# inside a word or after a colon; not a subscript (a "[" after a name or bracket: x[1::2], a[::3]); with a
# digit in it (a::b and abc::def are C++ or Rust far more often than addresses); not followed by a letter
# or digit or ".digit" (a longer dotted number). A colon may follow: after an IPv4 tail it starts a port,
# otherwise it must end a clause ("from fe80::1: refused"), with no letter, digit, colon or ".digit" after
# it. The look-ahead for "::" or six colons skips, before any alternative is tried, runs that cannot be an
# address. Every repetition is bounded: each start costs a bounded amount of work, linear time.
_IPV6_RX = re.compile(
    r"(?<![\w:])(?<![\w)\]]\[)(?=[0-9a-f:]{0,38}::|(?:[0-9a-f]{1,4}:){6})(?=[a-f:]{0,38}[0-9])"
    rf"(?:::(?:(?:{_H}:){{0,5}}{_IPV4_TAIL}{_ZONE_PREFIX}{_END_V4}|{_H}(?::{_H}){{0,6}}{_ZONE_PREFIX}{_END})"
    rf"|(?:{_IPV6_V4_HEX_FIRST}){_IPV4_TAIL}{_ZONE_PREFIX}{_END_V4}"
    rf"|(?:{_IPV6_HEX_FIRST}){_ZONE_PREFIX}{_END})")
# An IBAN candidate: the country code and check digits, followed by at least 11 more alphanumerics
# (the shortest IBAN has 15). Only these four characters are consumed: a candidate that fails (or runs
# into the following words) never hides an IBAN starting inside it.
_IBAN_RX = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?=(?:[ \-]?[a-z0-9]){11})")
# The rest of an IBAN of each length: exactly that many alphanumerics, each after at most one separator
# (a space, as printed, or a dash: AL47-2121-1009-...).
_IBAN_TAIL_RX = {n - 4: re.compile(f"(?:[ \\-]?[a-z0-9]){{{n - 4}}}") for n in sorted(set(IBAN_LENGTHS.values()))}
_DIGIT_RX = re.compile(r"\d")


def _dotted_ssn_alone(t: str, s: int, e: int) -> bool:
    """Whether the dotted SSN candidate ``t[s:e]`` is not part of a longer dotted number (1.123.45.6789)."""
    before = s >= 2 and t[s - 1] == "." and t[s - 2].isdigit()
    after = e + 1 < len(t) and t[e] == "." and t[e + 1].isdigit()
    return not (before or after)


@dataclass(frozen=True)
class _DigitRuns:
    """What a long ASCII text offers the digit patterns, found with numpy in one pass.

    ``longest``: the longest run of digits; ``joined``: the longest once all spaces, or all dashes,
    are deleted (the digits of a card number written with one kind of separator then stand
    together; one with both kinds is refused anyway); ``letters``: whether there is any letter.
    Each digit pattern needs a minimum (NANP and SSN a run of 4, bare numbers 9 or 10, a card 13
    joined, an IBAN letters and a run of 2), so a flood of short numbers skips the patterns it
    cannot feed.
    """

    longest: int
    joined: int
    letters: bool

    @staticmethod
    def of(t: str) -> "_DigitRuns":
        b = np.frombuffer(t.encode("ascii"), dtype=np.uint8)
        digit = (b >= 48) & (b <= 57)
        joined = max(_longest_run(digit[b != 32]), _longest_run(digit[b != 45]))
        return _DigitRuns(_longest_run(digit), joined, bool(((b >= 97) & (b <= 122)).any()))


#: With no run information (short or non-ASCII texts) every digit pattern runs.
_ANY_RUNS = _DigitRuns(10**9, 10**9, True)
# Each bare-number pattern needs one of these words; checking them as substrings first is cheap.
_PHONE_WORDS = ("phone", "tel", "cell", "mobile", "call", "fax", "text", "whatsapp", "sms")


#: Digits after the country code (the national significant number) of fixed-line and mobile numbers,
#: for country codes where that length is fixed, from libphonenumber's metadata (``possible_length``
#: of ``fixed_line`` and ``mobile``). Other country codes get E.164's bounds only: 8-15 digits in all.
_NSN_LENGTHS: Mapping[str, tuple[int, ...]] = {
    "1": (10,), "7": (10,), "31": (9,), "32": (8, 9), "33": (9,), "34": (9,), "41": (9,), "44": (9, 10),
    "45": (8,), "47": (8,), "48": (9,), "61": (9,), "81": (9, 10), "91": (10,),
}
_DIGIT_GROUP_RX = re.compile(r"[0-9]+")
#: ``_E164_PREFIX_RX[d]``: "+" and the characters up to the d-th digit.
_E164_PREFIX_RX = {d: re.compile(rf"\+(?:[^0-9]*[0-9]){{{d}}}") for d in range(1, 16)}


def _e164_candidates(t: str) -> list[tuple[int, int, str, str]]:
    """E.164 numbers in ``t``, in order (``_e164_candidates_plain``; numpy for long texts)."""
    return _e164_candidates_numpy(t) if len(t) >= _VECTOR_MIN else _e164_candidates_plain(t)


def _e164_candidates_plain(t: str) -> list[tuple[int, int, str, str]]:
    """E.164 numbers in ``t``: + and 8-15 digits, single separators, balanced parentheses.

    ``_E164_RX`` takes the run of digits and separators after a "+" (at most 23 characters). Words or
    numbers can follow a phone number in that run ("+44 20 7946 0958 2024", "... 10 to 5"), so the
    number may end after any digit group of the run (not inside a group, and not before the last
    group when the run stopped inside a longer digit string), longest first: if the country code has
    a fixed national length (``_NSN_LENGTHS``) the longest prefix of that length, else (or if no
    prefix has it) the longest one with 8-15 digits. The whole run is taken directly when it fits or
    when no shorter prefix could; the groups are visited only otherwise. Linear time.
    """
    out = []
    n = len(t)
    for m in _E164_RX.finditer(t):
        s, e = m.span()
        chunk = m.group()
        if e < n and t[e].isdigit():
            chunk = chunk.rstrip("0123456789")  # the run stopped inside a digit group: end before it
        chunk = chunk.rstrip(" ().-")  # trailing separators belong to the sentence
        if len(chunk) < 2:
            continue
        opened, closed = chunk.count("("), chunk.count(")")
        # digits after the "+" (str.count is much cheaper than deleting the separators)
        total = len(chunk) - 1 - opened - closed - chunk.count(" ") - chunk.count(".") - chunk.count("-")
        shape = opened == closed and "  " not in chunk  # as _e164_shape_ok
        cc = chunk[1:2]
        if cc not in _NSN_LENGTHS:
            cc = chunk[1:3]
            if cc not in _NSN_LENGTHS:
                cc = chunk[1:4] if chunk[1:4] in _NSN_LENGTHS else None
        if cc is not None:
            allowed = _NSN_LENGTHS[cc]
            if shape and total - len(cc) in allowed:
                out.append((s, s + len(chunk), "phone", "e164"))
                continue
            shorter_may_fit = total - len(cc) > min(allowed)
        else:
            shorter_may_fit = False
        if not shorter_may_fit and total <= 15:
            # No prefix can have the national length, and no prefix beats the whole run on 8-15 digits
            # unless the whole run has the wrong shape: the whole run or, rarely, the long way.
            if shape and 8 <= total:
                out.append((s, s + len(chunk), "phone", "e164"))
                continue
            if total < 8:
                continue
        # The long way. The prefix with exactly d digits is one C-level match; it is a candidate when
        # a separator (or the end) follows. First the national lengths, then the group ends with 8-15.
        chosen = 0
        if cc is not None:
            for d in sorted((len(cc) + x for x in allowed if len(cc) + x <= total), reverse=True):
                k = _E164_PREFIX_RX[d].match(chunk).end()
                if (k == len(chunk) or not chunk[k].isdigit()) and _e164_shape_ok(chunk[:k]):
                    chosen = k
                    break
        if not chosen:
            for d in sorted(set(accumulate(map(len, _DIGIT_GROUP_RX.findall(chunk)))), reverse=True):
                if 8 <= d <= 15:
                    k = _E164_PREFIX_RX[d].match(chunk).end()
                    if _e164_shape_ok(chunk[:k]):
                        chosen = k
                        break
        if chosen:
            out.append((s, s + chosen, "phone", "e164"))
    return out


def _e164_shape_ok(number: str) -> bool:
    """Balanced parentheses and no double space (the separators of a written phone number)."""
    return number.count("(") == number.count(")") and "  " not in number


# _NSN_LENGTHS as arrays indexed by the country code's value (keys have one or two digits, and a
# one-digit key is never the first digit of a two-digit one: country codes are a prefix code).
_NSN_CC_DIGITS = np.zeros(100, dtype=np.int64)  # 0: not listed
_NSN_LONGER = np.full(100, -1, dtype=np.int64)
_NSN_SHORTER = np.full(100, -1, dtype=np.int64)
for _cc, _lengths in _NSN_LENGTHS.items():
    _NSN_CC_DIGITS[int(_cc)] = len(_cc)
    _NSN_LONGER[int(_cc)] = max(_lengths)
    _NSN_SHORTER[int(_cc)] = min(_lengths) if len(_lengths) > 1 else -1
del _cc, _lengths


def _by_character(cp: np.ndarray, ascii_answer: np.ndarray, predicate: Callable[[str], bool]) -> np.ndarray:
    """``ascii_answer`` with the non-ASCII code points answered by ``predicate`` (once per distinct value)."""
    high = cp >= 128
    if high.any():
        values, inverse = np.unique(cp[high], return_inverse=True)
        ascii_answer[high] = np.array([predicate(chr(v)) for v in values.tolist()], dtype=bool)[inverse]
    return ascii_answer


def _e164_candidates_numpy(t: str) -> list[tuple[int, int, str, str]]:
    """The result of ``_e164_candidates_plain``, for every "+" at once with numpy (long texts).

    The run after each "+" ends at the first character outside ``[0-9 ().-]`` or after 23 characters;
    the candidate is cut as in the plain scan (before the last digit group if a digit follows the run,
    then after its last digit). Prefix sums give, for any prefix, its digits, parentheses and double
    spaces; the prefix with exactly d digits ends at the d-th digit after the "+". So each rule is one
    vectorized pass: the whole run, then the national lengths (at most two), then d = 15 down to 8.
    """
    b = np.frombuffer(t.encode("ascii"), dtype=np.uint8) if t.isascii() else _codepoints(t)
    b = b.astype(np.int64)
    n = len(b)
    p = np.flatnonzero(b[:-1] == 43)
    p = p[(b[p + 1] >= 49) & (b[p + 1] <= 57)]  # "+" then 1-9
    if len(p):
        before = b[np.maximum(p - 1, 0)]
        word = _isalnum_array(before) | (before == 95)  # Python's \w
        p = p[(p == 0) | ~(word | (before == 43))]  # nothing of \w or "+" before the "+"
    if len(p) == 0:
        return []
    idx = np.arange(n)
    digit = (b >= 48) & (b <= 57)
    sep = (b == 32) | (b == 40) | (b == 41) | (b == 46) | (b == 45)
    outside = np.minimum.accumulate(np.where(digit | sep, n, idx)[::-1])[::-1]  # next index not in the run class
    e = np.minimum(outside[p + 1], p + 24)
    keep = e - p >= 8  # "+", 1-9 and at least 6 more
    p, e = p[keep], e[keep]
    if len(p) == 0:
        return []
    last_digit = np.maximum.accumulate(np.where(digit, idx, -1))  # the last digit at or before i
    group_start = np.maximum.accumulate(np.where(digit & ~np.concatenate(([False], digit[:-1])), idx, -1))
    after = b[np.minimum(e, n - 1)]
    digit_after = (e < n) & _by_character(after, (after >= 48) & (after <= 57), str.isdigit)
    cut = digit_after & digit[e - 1]
    upto = np.where(cut, group_start[e - 1] - 1, e - 1)
    ce = last_digit[upto] + 1  # the end of the chunk
    keep = ce > p + 1
    p, ce = p[keep], ce[keep]
    if len(p) == 0:
        return []
    zero = np.zeros(1, dtype=np.int64)
    digits_before = np.concatenate((zero, np.cumsum(digit)))  # digits in t[:i]
    opens = np.concatenate((zero, np.cumsum(b == 40)))
    closes = np.concatenate((zero, np.cumsum(b == 41)))
    double = np.concatenate((zero, zero, np.cumsum((b[1:] == 32) & (b[:-1] == 32))))  # pairs ending before i

    def shape(k: np.ndarray) -> np.ndarray:  # _e164_shape_ok(t[p:k])
        return ((opens[k] - opens[p]) == (closes[k] - closes[p])) & (double[k] - double[p + 1] == 0)

    total = digits_before[ce] - digits_before[p + 1]
    c1 = b[p + 1] - 48
    second = b[np.minimum(p + 2, n - 1)]
    c2 = np.where((p + 3 <= ce) & (second >= 48) & (second <= 57), c1 * 10 + second - 48, 0)
    code = np.where(_NSN_CC_DIGITS[c1] == 1, c1, np.where(_NSN_CC_DIGITS[c2] == 2, c2, 0))
    cc_len = _NSN_CC_DIGITS[code]
    listed = cc_len > 0
    longer, shorter = _NSN_LONGER[code], _NSN_SHORTER[code]
    whole_shape = shape(ce)
    national = total - cc_len
    chosen = np.where(listed & whole_shape & ((national == longer) | (national == shorter)), ce, 0)
    shortest = np.where(shorter >= 0, shorter, longer)
    shorter_may_fit = listed & (national > shortest)
    quick = (chosen == 0) & ~shorter_may_fit & (total <= 15)
    chosen = np.where(quick & whole_shape & (total >= 8), ce, chosen)
    slow = (chosen == 0) & ~(quick & (whole_shape | (total < 8)))
    if slow.any():
        digit_at = np.flatnonzero(digit)
        first_digit = digits_before[p + 1]  # index into digit_at of the first digit after the "+"

        def try_digits(d: np.ndarray, where: np.ndarray, need_group_end: bool) -> None:
            nonlocal chosen
            where = where & (d >= 1) & (d <= total) & (chosen == 0)
            k = digit_at[np.minimum(first_digit + np.maximum(d, 1) - 1, len(digit_at) - 1)] + 1
            ok = where & shape(k)
            if need_group_end:
                ok &= (k == ce) | ~digit[np.minimum(k, n - 1)]
            chosen = np.where(ok, k, chosen)

        try_digits(cc_len + longer, slow & listed & (longer >= 0), True)
        try_digits(cc_len + shorter, slow & listed & (shorter >= 0), True)
        for d in range(15, 7, -1):
            try_digits(np.full(len(p), d), slow, True)
    found = np.flatnonzero(chosen)
    return [(s_, k_, "phone", "e164") for s_, k_ in zip(p[found].tolist(), chosen[found].tolist())]


def _ipv6_candidates(t: str) -> list[tuple[int, int, str, str]]:
    """IPv6 addresses in ``t``, in order: one candidate for each whole address (``_IPV6_RX``).

    One finding covers the groups, an IPv4 tail, the zone and the prefix length, so redaction leaves no
    part of the address behind ("::ffff:" left in the text would say an IPv4 address was there). The
    pattern decides everything (the forms of RFC 4291, the look-alikes it refuses), so the scan is one
    ``finditer``: linear time, no Python work per refused candidate.
    """
    return [(*m.span(), "ipv6", "") for m in _IPV6_RX.finditer(t)]


def _iban_candidates(t: str) -> list[tuple[int, int, str, str]]:
    """IBANs in ``t``, in order and disjoint (``_iban_candidates_plain``; numpy for long texts)."""
    return _iban_candidates_numpy(t) if len(t) >= _VECTOR_MIN else _iban_candidates_plain(t)


def _iban_candidates_plain(t: str) -> list[tuple[int, int, str, str]]:
    """IBANs in ``t``: a known country, exactly its registered length, the mod-97 check.

    Every start is tried (``_IBAN_RX`` consumes only the first four characters); the rest is exactly
    the country's length of alphanumerics with single spaces or dashes (``_IBAN_TAIL_RX``), not followed by a
    letter or digit. After a valid IBAN the starts inside it are skipped, so findings do not overlap.
    Each start costs at most one match of at most 60 characters: linear time.
    """
    out = []
    n = len(t)
    last_end = 0
    for m in _IBAN_RX.finditer(t):
        s = m.start()
        if s < last_end:
            continue
        country = t[s:s + 2].upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        tail = _IBAN_TAIL_RX[length - 4].match(t, s + 4)
        if tail is None:
            continue
        k = tail.end()
        if k < n and t[k].isalnum():
            continue
        check = t[s + 2:s + 4]
        if not check.isascii():
            continue  # "\d" also matches other scripts' digits
        # ISO 13616 check (as in iban_valid): country and check digits moved to the end, letters as numbers.
        rearranged = (t[s + 4:k].replace(" ", "").replace("-", "") + country + check).upper()
        if int(rearranged.translate(_IBAN_LETTER_VALUES)) % 97 == 1:
            out.append((s, k, "iban", country))
            last_end = k
    return out


#: IBAN length by country, indexed by 26 * (first letter) + (second letter); 0 for no such country.
_IBAN_LENGTH_BY_INDEX = np.zeros(26 * 26, dtype=np.int64)
for _c, _n in IBAN_LENGTHS.items():
    _IBAN_LENGTH_BY_INDEX[26 * (ord(_c[0]) - 65) + ord(_c[1]) - 65] = _n
del _c, _n
_POW10_MOD97 = np.array([pow(10, e, 97) for e in range(96)], dtype=np.int64)  # 10**96 = 1 (mod 97)
_POW10_INV_MOD97 = np.array([pow(10, -e, 97) for e in range(96)], dtype=np.int64)


def _isalnum_array(cp: np.ndarray) -> np.ndarray:
    """``str.isalnum`` for an array of code points (ASCII by comparison, others once per distinct value)."""
    ascii_answer = ((cp >= 48) & (cp <= 57)) | ((cp >= 65) & (cp <= 90)) | ((cp >= 97) & (cp <= 122))
    return _by_character(cp, ascii_answer, str.isalnum)


def _iban_candidates_numpy(t: str) -> list[tuple[int, int, str, str]]:
    """The result of ``_iban_candidates_plain``, for all starts at once with numpy (long texts).

    A start is two letters a-z and two ASCII digits with no letter a-z or digit before, for a known
    country of length L. Over the letters and digits of ``t`` (index j), consecutive ones are linked
    when adjacent or one space or dash apart; the IBAN is the start's 4 characters and the next L - 4 linked
    ones, with no letter or digit after. Its mod-97 check without big integers: with widths w_j (1 for
    a digit, 2 for a letter, whose value is 10-35) and S_j their prefix sums, the digits of a segment
    [a, b) read as one number are sum v_j 10^(S_b - S_(j+1)) = 10^S_b * sum v_j 10^(-S_(j+1)), and 10
    is invertible mod 97, so the inner sum is a difference of prefix sums. The rearranged number is
    that tail followed by the country letters and check digits (6 decimal digits).
    """
    b = np.frombuffer(t.encode("ascii"), dtype=np.uint8) if t.isascii() else _codepoints(t)
    b = b.astype(np.int64)
    n = len(b)
    if n < 15:
        return []
    lower = (b >= 97) & (b <= 122)
    digit = (b >= 48) & (b <= 57)
    alnum = lower | digit
    head = lower[:-3] & lower[1:-2] & digit[2:-1] & digit[3:]
    head[1:] &= ~alnum[:n - 4]
    start = np.flatnonzero(head)
    if len(start) == 0:
        return []
    length = _IBAN_LENGTH_BY_INDEX[26 * (b[start] - 97) + b[start + 1] - 97]
    start, length = start[length > 0], length[length > 0]
    if len(start) == 0:
        return []
    pos = np.flatnonzero(alnum)  # the letters and digits; rank[p] = their index
    rank = np.cumsum(alnum) - 1
    gap = np.diff(pos)
    between = b[np.minimum(pos[:-1] + 1, n - 1)]
    linked = (gap == 1) | ((gap == 2) & ((between == 32) | (between == 45)))
    zero = np.zeros(1, dtype=np.int64)
    unlinked = np.concatenate((zero, np.cumsum(~linked)))  # unlinked[j]: broken links before index j
    first = rank[start]
    last = first + length - 1
    ok = last < len(pos)
    last = np.minimum(last, len(pos) - 1)
    ok &= unlinked[last] == unlinked[first + 3]
    end = pos[last] + 1
    ok &= (end == n) | ~_isalnum_array(b[np.minimum(end, n - 1)])
    if not ok.any():
        return []
    start, first, last, end = start[ok], first[ok], last[ok], end[ok]
    value = np.where(digit[pos], b[pos] - 48, b[pos] - 87)  # "a" -> 10 ... "z" -> 35
    width = np.where(digit[pos], 1, 2)
    widths = np.concatenate((zero, np.cumsum(width)))
    scaled = np.concatenate((zero, np.cumsum(value * _POW10_INV_MOD97[widths[1:] % 96])))
    tail = ((scaled[last + 1] - scaled[first + 4]) % 97) * _POW10_MOD97[widths[last + 1] % 96] % 97
    c1, c2 = b[start] - 87, b[start + 1] - 87
    check = (b[start + 2] - 48) * 10 + b[start + 3] - 48
    valid = (tail * _POW10_MOD97[6] + (c1 * 100 + c2) * 100 + check) % 97 == 1
    out = []
    taken_to = 0
    for s_, e_ in zip(start[valid].tolist(), end[valid].tolist()):
        if s_ >= taken_to:
            out.append((s_, e_, "iban", t[s_:s_ + 2].upper()))
            taken_to = e_
    return out


def _card_network(d: str) -> str | None:
    n = len(d)
    two, three, four, six = int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if d[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if (four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= three <= 305 or two in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if two == 62 and 16 <= n <= 19:
        return "unionpay"
    if (two == 50 or 56 <= two <= 58 or d[0] == "6") and 12 <= n <= 19:
        return "maestro"
    if d[0] == "1" and n == 15:  # UATP (airline cards): 1 and 14 more digits
        return "uatp"
    return None


_CARD_NETWORKS = ("visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay", "maestro", "uatp")


def _wordish(ch: str) -> bool:
    """Whether ``ch`` matches ``[\\w\\-]`` (Python's Unicode ``\\w``: ``isalnum()`` or "_"; or a dash)."""
    return ch.isalnum() or ch == "_" or ch == "-"


def _card_candidates(t: str, luhn: Callable[[str], bool]) -> list[tuple[int, int, str, str]]:
    """Card numbers in ``t``, in order and disjoint (``_card_candidates_plain``; numpy for long texts)."""
    return _card_candidates_numpy(t) if len(t) >= _VECTOR_MIN else _card_candidates_plain(t, luhn)


def _card_candidates_plain(t: str, luhn: Callable[[str], bool]) -> list[tuple[int, int, str, str]]:
    """Card numbers in ``t``: the leftmost start first, the longest valid number there, then on after it.

    A *start* is the first digit of a group with no word character or dash before it; an *end* is
    the last digit of a group with none after it (so a card may end before a space, never inside a
    dashed identifier). A candidate runs from a start to an end, holds 13-19 digits and one kind of
    separator; it is a card when its prefix names an issuer (``_card_network``) and its Luhn digit
    is right (``luhn``, the check the lesson shows). Giving digits back is what finds the card before a CVV ("4111 ... 1111 123") and both
    cards of "4111111111111111 5500000000000004". Each start tries at most seven ends (13 to 19
    digits), each a fixed amount of work: linear time.
    """
    out = []
    n = len(t)
    for m in _CARD_SEGMENT_RX.finditer(t):
        a0, b0 = m.span()
        if b0 - a0 < 13:
            continue  # fewer than 13 characters: fewer than 13 digits
        seg = m.group()
        # The digit groups: their spans in t and the separator before each (None before the first).
        starts, ends, seps = [a0], [], [None]
        for k, ch in enumerate(seg):
            if ch == " " or ch == "-":
                ends.append(a0 + k)
                starts.append(a0 + k + 1)
                seps.append(ch)
        ends.append(b0)
        g = len(starts)
        cum = [0]  # cum[i]: digits in groups 0..i-1
        for gs, ge in zip(starts, ends):
            cum.append(cum[-1] + ge - gs)
        start_ok = [seps[i] == " " if i else (a0 == 0 or not _wordish(t[a0 - 1])) for i in range(g)]
        end_ok = [seps[j + 1] == " " if j + 1 < g else (b0 == n or not _wordish(t[b0])) for j in range(g)]
        i = 0
        while i < g:
            hit = None
            if start_ok[i]:
                j = i
                while j + 1 < g and cum[j + 2] - cum[i] <= 19:
                    j += 1
                while j >= i and cum[j + 1] - cum[i] >= 13:
                    if end_ok[j] and len(set(seps[i + 1:j + 1])) < 2:  # one kind of separator at most
                        number = t[starts[i]:ends[j]].replace(" ", "").replace("-", "")
                        net = _card_network(number)
                        if net is not None and luhn(number):
                            hit = (j, net)
                            break
                    j -= 1
            if hit is None:
                i += 1
            else:
                out.append((starts[i], ends[hit[0]], "credit_card", hit[1]))
                i = hit[0] + 1
    return out


def _wordish_array(cp: np.ndarray) -> np.ndarray:
    """``_wordish`` for an array of code points (ASCII by comparison, others once per distinct value)."""
    ascii_answer = (((cp >= 48) & (cp <= 57)) | ((cp >= 65) & (cp <= 90)) | ((cp >= 97) & (cp <= 122))
                    | (cp == 95) | (cp == 45))
    return _by_character(cp, ascii_answer, _wordish)


def _card_networks_array(length: int, d0, two, three, four, six) -> np.ndarray:
    """``_card_network`` for numbers of ``length`` digits, vectorized over their leading digits.

    Returns 1 + the index into ``_CARD_NETWORKS``, or 0 where no issuer matches (same order of tests).
    """
    n = length
    conditions = [
        (d0 == 4) & (n in (13, 16, 19)),
        (((two >= 51) & (two <= 55)) | ((four >= 2221) & (four <= 2720))) & (n == 16),
        ((two == 34) | (two == 37)) & (n == 15),
        ((four == 6011) | (two == 65) | ((three >= 644) & (three <= 649)) | ((six >= 622126) & (six <= 622925)))
        & (16 <= n <= 19),
        ((four >= 3528) & (four <= 3589)) & (16 <= n <= 19),
        (((three >= 300) & (three <= 305)) | (two == 36) | (two == 38) | (two == 39)) & (14 <= n <= 19),
        (two == 62) & (16 <= n <= 19),
        ((two == 50) | ((two >= 56) & (two <= 58)) | (d0 == 6)) & (12 <= n <= 19),
        (d0 == 1) & (n == 15),
    ]
    return np.select(conditions, np.arange(1, len(conditions) + 1), 0)


def _card_candidates_numpy(t: str) -> list[tuple[int, int, str, str]]:
    """The result of ``_card_candidates_plain``, computed for all starts at once with numpy (long texts).

    Over the digits of ``t`` (index k): a start is a digit whose left neighbour is not ``[\\w-]`` and
    whose value is 1-6 (every issuer prefix begins so), an end one whose right neighbour is not;
    consecutive digits are linked when adjacent or one space or dash apart. For each length L = 19
    down to 13, the candidate from start a to digit a+L-1 is checked at once for every a: no broken
    link and not both separator kinds (prefix counts), an issuer (``_card_network`` vectorized over
    the first six digits) and the Luhn sum, which is a difference of two prefix sums (one per parity
    of the last digit: the digits of that parity are kept, the others doubled). The longest valid
    length per start, then the plain scan's left-to-right choice, in a loop over the valid starts only.
    """
    b = np.frombuffer(t.encode("ascii"), dtype=np.uint8) if t.isascii() else _codepoints(t)
    n = len(b)
    pos = np.flatnonzero((b >= 48) & (b <= 57))
    m = len(pos)
    if m < 13:
        return []
    dv = (b[pos] - 48).astype(np.int32)
    head = pos[:m - 12]  # a start needs 12 more digits after it
    before = b[np.maximum(head - 1, 0)]
    start = np.flatnonzero((head == 0) | ~_wordish_array(before))
    start = start[(dv[start] >= 1) & (dv[start] <= 6)]
    if len(start) == 0:
        return []
    gap = np.diff(pos)
    between = b[np.minimum(pos[:-1] + 1, n - 1)]
    space = (gap == 2) & (between == 32)
    dash = (gap == 2) & (between == 45)
    broken = ~((gap == 1) | space | dash)
    zero = np.zeros(1, dtype=np.int32)
    n_broken = np.concatenate((zero, np.cumsum(broken, dtype=np.int32)))  # broken links among digits 0..k
    n_space = np.concatenate((zero, np.cumsum(space, dtype=np.int32)))
    n_dash = np.concatenate((zero, np.cumsum(dash, dtype=np.int32)))
    after = b[np.minimum(pos + 1, n - 1)]
    end_ok = (pos == n - 1) | ~_wordish_array(after)
    d0, d1, d2, d3, d4, d5 = (dv[start + i] for i in range(6))  # start + 12 < m
    two = d0 * 10 + d1
    three = two * 10 + d2
    four = three * 10 + d3
    six = four * 100 + d4 * 10 + d5
    doubled = np.array(_LUHN_DOUBLED, dtype=np.int32)[dv]
    even = (np.arange(m) % 2) == 0
    luhn_even = np.concatenate((zero, np.cumsum(np.where(even, dv, doubled), dtype=np.int32)))  # last digit even
    luhn_odd = np.concatenate((zero, np.cumsum(np.where(even, doubled, dv), dtype=np.int32)))
    best_len = np.zeros(len(start), dtype=np.int32)
    best_net = np.zeros(len(start), dtype=np.int32)
    for length in range(19, 12, -1):
        last = start + (length - 1)
        ok = (last < m) & (best_len == 0)
        last = np.minimum(last, m - 1)
        ok &= end_ok[last] & (n_broken[last] == n_broken[start])
        ok &= ~((n_space[last] > n_space[start]) & (n_dash[last] > n_dash[start]))
        if not ok.any():
            continue
        net = _card_networks_array(length, d0, two, three, four, six)
        total = np.where(last % 2 == 0, luhn_even[last + 1] - luhn_even[start], luhn_odd[last + 1] - luhn_odd[start])
        ok &= (net > 0) & (total % 10 == 0)
        best_len[ok] = length
        best_net[ok] = net[ok]
    valid = np.flatnonzero(best_len)
    first = start[valid]
    final = first + best_len[valid] - 1
    out = []
    taken_to = -1
    for a, z, s_, e_, k in zip(first.tolist(), final.tolist(), pos[first].tolist(), (pos[final] + 1).tolist(),
                               best_net[valid].tolist()):
        if a > taken_to:
            out.append((s_, e_, "credit_card", _CARD_NETWORKS[k - 1]))
            taken_to = z
    return out


def find_candidates(t: str, entities: tuple[str, ...], *, luhn: Callable[[str], bool],
                    ssn_valid: Callable[[str, str, str], bool]) -> list[tuple[int, int, str, str]]:
    """Every validated PII candidate ``(start, end, type, detail)`` in folded text ``t``, in order, disjoint.

    Cards are checked with ``luhn`` and SSNs with ``ssn_valid`` (the lesson's functions). One list per
    pattern: finditer gives each list in order and without overlaps; the cheap tests in front (a
    character or word the pattern needs, digit-run lengths on long texts) skip patterns that cannot
    match. Overlaps between lists are resolved earliest first, then longest, then in pattern order.
    """
    want = entities
    runs: list[list[tuple[int, int, str, str]]] = []
    digits = _DIGIT_RX.search(t) is not None
    d = _DigitRuns.of(t) if digits and len(t) >= _VECTOR_MIN and t.isascii() else _ANY_RUNS
    if "email" in want and "@" in t:
        runs.append([(*m.span(), "email", "address") for m in _EMAIL_RX.finditer(t)])
    if "email" in want and " at " in t:
        runs.append(_spoken_emails(t))
    if "phone" in want and digits:
        if d.longest >= 4:
            runs.append([(*m.span(), "phone", "nanp") for m in _NANP_RX.finditer(t)])
        if d.longest >= 10 and any(w in t for w in _PHONE_WORDS):
            runs.append([(*m.span("num"), "phone", "nanp") for m in _word_matches(_NANP_BARE_RX, t)])
        if "+" in t:
            runs.append(_e164_candidates(t))
    if "ssn" in want and digits:
        if d.longest >= 4:
            runs.append([(*m.span(), "ssn", "us") for m in _SSN_RX.finditer(t)
                         if ssn_valid(*m.group(1, 3, 4)) and (m.group(2) != "." or _dotted_ssn_alone(t, *m.span()))])
        if d.longest >= 9 and ("ssn" in t or "social security" in t):
            runs.append([(*m.span("num"), "ssn", "us") for m in _word_matches(_SSN_BARE_RX, t)
                         if ssn_valid(m.group("num")[:3], m.group("num")[3:5], m.group("num")[5:])])
    if "credit_card" in want and digits and d.joined >= 13:
        runs.append(_card_candidates(t, luhn))
    if "ipv4" in want and digits and "." in t:
        runs.append([(*m.span(), "ipv4", "") for m in _IPV4_RX.finditer(t)])
    if "ipv6" in want and digits and ("::" in t or t.count(":") >= 6):  # 8 groups, or 6 and an IPv4 tail
        runs.append(_ipv6_candidates(t))
    if "iban" in want and digits and d.letters and d.longest >= 2:
        runs.append(_iban_candidates(t))
    runs = [r for r in runs if r]
    if len(runs) <= 1:
        return runs[0] if runs else []  # one pattern's matches: in order and disjoint already
    cands = [c for r in runs for c in r]
    # Earliest first, then longest, then in pattern order: two stable sorts, the minor key first.
    cands.sort(key=itemgetter(1), reverse=True)
    cands.sort(key=itemgetter(0))
    kept, last_end = [], -1
    for c in cands:
        if c[0] >= last_end:  # else it overlaps a finding already kept
            kept.append(c)
            last_end = c[1]
    return kept
