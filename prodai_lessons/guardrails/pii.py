"""Personal data in a model's answer: find candidates, validate each one, report all of them, redact by span.

A pattern finds *candidates*; validation decides. A 16-digit number is a card only with a known
issuer prefix and a correct Luhn check digit (``luhn``); an IBAN needs its country's length and
mod-97 = 1; an SSN cannot start with 000, 666 or 9. Redaction replaces the findings by their
positions in the original text (``redact_spans``). The candidate patterns and the scans that never
let one candidate hide another (plain and numpy) live in ``_pii_scan.py``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from prodai_lessons._validation import check_choice, check_str

from ._pii_scan import _IBAN_LETTER_VALUES, IBAN_LENGTHS, find_candidates
from ._text import _as_text, _check_name
from .normalization import normalize
from .results import Finding, GuardResult

__all__ = ["luhn", "redact_spans", "luhn_valid", "iban_valid", "ssn_valid", "IBAN_LENGTHS", "PIIGuard"]


def luhn(digits: str) -> bool:
    """Luhn check (ISO/IEC 7812-1): double every second digit from the right; the sum must end in 0.

    A doubled digit above 9 counts as the sum of its two digits (7 -> 14 -> 1 + 4 = 5, i.e. 2d - 9).
    One wrong digit always fails the check. Assumes ASCII digits only (``luhn_valid`` checks that).

    >>> luhn("4111111111111111"), luhn("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:  # every second digit, counting from the check digit at the right end
            d = 2 * d - 9 if d > 4 else 2 * d
        total += d
    return total % 10 == 0


def redact_spans(text: str, replacements: Iterable[tuple[int, int, str]]) -> str:
    """Replace each span ``text[start:end]`` by its new text and keep everything else as it was.

    Redact by position, not by value: a finding's span points into the original text, so a value
    written there with a zero-width space inside is still replaced whole. Assumes spans sorted and
    disjoint, as ``PIIGuard.find`` gives them.

    >>> redact_spans("call 415-555-0123 or ann@example.com", [(5, 17, "<PHONE>"), (21, 36, "<EMAIL>")])
    'call <PHONE> or <EMAIL>'
    """
    out, pos = [], 0
    for start, end, new in replacements:
        out.append(text[pos:start])  # the untouched text since the previous span
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def luhn_valid(digits: str) -> bool:
    """``luhn`` at the public boundary: ``digits`` must be a non-empty string of ASCII digits.

    Parameters: ``digits`` (the card number without separators).

    >>> luhn_valid("4111111111111111")
    True
    >>> luhn_valid("4111-1111")
    Traceback (most recent call last):
    ...
    ValueError: digits must contain ASCII digits only; got '4111-1111'
    """
    check_str("digits", digits)
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"digits must contain ASCII digits only; got {digits[:30]!r}")
    return luhn(digits)


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: known country, its registered length, and mod-97 of the rearranged number == 1.

    Parameters: ``iban`` (spaces and dashes are ignored, letters may be any case).

    >>> iban_valid("GB82 WEST 1234 5698 7654 32"), iban_valid("GB00 WEST 1234 5698 7654 32")
    (True, False)

    Notes
    -----
    Rearrangement: move the first four characters to the end, replace letters by 10..35, and the
    resulting integer mod 97 must equal 1 (ISO 7064 MOD 97-10).
    """
    check_str("iban", iban)
    s = iban.replace(" ", "").replace("-", "").upper()
    if not (s.isascii() and s.isalnum()) or len(s) < 5:
        return False
    country = s[:2]
    if IBAN_LENGTHS.get(country) != len(s) or not s[2:4].isdigit() or not country.isalpha():
        return False
    rearranged = s[4:] + s[:4]
    return int(rearranged.translate(_IBAN_LETTER_VALUES)) % 97 == 1  # at most ~70 digits: a small integer


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US Social Security number rules (SSA): area not 000, 666 or 900-999; group not 00; serial not 0000.

    Parameters: the three digit groups of ``area-group-serial``.

    >>> ssn_valid("536", "22", "8104"), ssn_valid("666", "45", "1234")
    (True, False)
    """
    a, g, s = int(area), int(group), int(serial)
    return 0 < a < 900 and a != 666 and g != 0 and s != 0


_PII_TAGS = {"email": "EMAIL", "phone": "PHONE", "ssn": "US_SSN", "credit_card": "CREDIT_CARD",
             "ipv4": "IP_ADDRESS", "ipv6": "IP_ADDRESS", "iban": "IBAN"}


class PIIGuard:
    """Find personal data in a text, validate each candidate, report *all* findings; redact on request.

    Parameters: ``entities`` (the types to look for, default all of ``ENTITY_TYPES``), ``name``.

    >>> pii = PIIGuard()
    >>> pii.check("card 4111 1111 1111 1111, mail ann@example.com").reason
    'found 2 PII entities: 1 credit_card, 1 email'
    >>> pii.check("order 4111 1111 1111 1112").passed
    True
    >>> pii.redact("call 415-555-0123 now")
    'call <PHONE> now'

    Notes
    -----
    Entity types (``Finding.type``) and the checks applied to each candidate:

    - ``email``: RFC 5321 shape (local part <= 64, labelled domain, alphabetic or punycode TLD, so
      ``a@xn--d1acufc.xn--p1ai`` too); also the spoken
      form "name at example dot com", unless the word before "at" is ordinary prose ("look at
      this dot com", "I work at google dot com").
    - ``phone``: NANP (+1, area and exchange codes 2-9xx, separated as 212-555-0143, (212) 555-0143,
      212.555.0143; bare 10 digits only after a word such as "phone", "call", "tel") and international
      E.164 (+, country code, 8-15 digits in all, ITU-T E.164; the national length where the country
      has a fixed one, so "+44 20 7946 0958 10 to 5" ends before "10").
    - ``ssn``: US SSN as ddd-dd-dddd, ddd dd dddd or ddd.dd.dddd (one kind of separator; a dotted one
      not inside a longer dotted number; bare 9 digits only after "SSN"/"social security"), with the
      SSA validity rules of ``ssn_valid``.
    - ``credit_card``: 13-19 digits with optional space/dash separators, a known issuer prefix
      (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro, UATP) and a valid ``luhn``
      check digit; a longer run of digit groups is searched for cards inside it (a CVV after the
      number, two cards in a row).
    - ``ipv4``: four dotted octets 0-255, not part of a longer dotted number (version strings); with
      its prefix length when written as a network (10.0.0.0/8).
    - ``ipv6``: eight groups of hex digits, or fewer with one "::" (RFC 4291), an IPv4 address as the
      last 32 bits allowed (``::ffff:192.0.2.1``, ``64:ff9b::198.51.100.1``), with a zone (``%eth0``)
      and prefix length (``/64``); one finding for the whole address, also inside brackets
      (``[2001:db8::1]:8080``). Not a finding: "::" alone, groups without a digit (``a::b``), and a
      subscript (``x[1::2]``).
    - ``iban``: country code, registered length for that country, ISO 7064 mod-97 check; single
      spaces or dashes may separate the characters.

    Matching runs on ``normalize(text, fold_obfuscation=False)``, so fullwidth digits and zero-width
    characters inside a number do not hide it; spans refer to the original text. Overlapping
    candidates are resolved earliest-then-longest. ``passed`` is False when anything is found;
    ``score`` is 1.0 then, else 0.0. Validation rules follow Microsoft Presidio's predefined
    recognizers (which likewise check Luhn, IBAN mod-97 and SSN ranges); Presidio's own recognizer
    test vectors run against this guard in ``tests/test_presidio_vectors.py``, which lists the cases
    decided differently and why.
    """

    ENTITY_TYPES = tuple(_PII_TAGS)

    def __init__(self, entities: Iterable[str] | None = None, *, name: str = "pii") -> None:
        if entities is None:
            chosen = self.ENTITY_TYPES
        else:
            if isinstance(entities, (str, bytes)):
                raise TypeError("entities must be an iterable of entity type names, not a single string")
            chosen = tuple(entities)
            if not chosen:
                raise ValueError("entities must name at least one entity type")
            for e in chosen:
                check_choice("entities", e, self.ENTITY_TYPES)
        self.entities = tuple(e for e in self.ENTITY_TYPES if e in chosen)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"PIIGuard(entities={self.entities}, name={self.name!r})"

    def find(self, text: str | bytes) -> tuple[Finding, ...]:
        """All validated PII findings in ``text``, sorted by position, overlaps resolved."""
        text = _as_text("text", text)
        norm = normalize(text, fold_obfuscation=False)
        kept = find_candidates(norm.text, self.entities, luhn=luhn, ssn_valid=ssn_valid)
        if not kept:
            return ()
        spans = norm._spans_to_original([c[0] for c in kept], [c[1] for c in kept])
        return tuple([Finding(c[2], span, c[3]) for c, span in zip(kept, spans)])

    def check(self, text: str | bytes) -> GuardResult:
        """Fail when any PII is found; ``findings`` lists every one (type, span, detail)."""
        findings = self.find(text)
        if not findings:
            return GuardResult(self.name, True, 0.0, "no PII found")
        types = [f.type for f in findings]
        listed = ", ".join(f"{types.count(t)} {t}" for t in sorted(set(types)))
        return GuardResult(self.name, False, 1.0, f"found {len(findings)} PII entit{'y' if len(findings) == 1 else 'ies'}: {listed}",
                           findings)

    def redact(self, text: str | bytes, mode: str = "tag", *, key: str | bytes = b"",
               mask_char: str = "*") -> str:
        """Return ``text`` with every finding replaced (``redact_spans``), like Presidio's anonymizer operators.

        - ``mode="tag"`` (Presidio ``replace``): ``<EMAIL>``, ``<PHONE>``, ``<US_SSN>``, ``<CREDIT_CARD>``,
          ``<IP_ADDRESS>`` (IPv4 and IPv6), ``<IBAN>``.
        - ``mode="mask"``: every letter and digit becomes ``mask_char``; separators stay, so the shape
          remains ("***-**-****").
        - ``mode="hash"``: ``<EMAIL:1a2b3c4d5e6f>``, the first 12 hex digits of HMAC-SHA256(key, value):
          the same value gets the same pseudonym, so joins still work. Without a secret ``key`` a phone
          number or SSN can be recovered by hashing all candidates (there are only 10^9 SSNs), so pass
          one in production.
        """
        text = _as_text("text", text)
        check_choice("mode", mode, ("tag", "mask", "hash"))
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key must be str or bytes; got {type(key).__name__}")
        check_str("mask_char", mask_char)
        if len(mask_char) != 1:
            raise ValueError(f"mask_char must be a single character; got {mask_char!r}")
        replacements = []
        for f in self.find(text):
            value, tag = text[f.span[0]:f.span[1]], _PII_TAGS[f.type]
            if mode == "tag":
                new = f"<{tag}>"
            elif mode == "mask":
                new = "".join(mask_char if c.isalnum() else c for c in value)
            else:
                digest = hmac.new(bytes(key), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
                new = f"<{tag}:{digest[:12]}>"
            replacements.append((f.span[0], f.span[1], new))
        return redact_spans(text, replacements)
