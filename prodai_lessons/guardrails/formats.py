"""Format: the answer must be the JSON object the caller expects, with the fields it needs.

A model asked for JSON often adds a Markdown fence, drops a field, writes a number as a word, or
writes ``NaN`` (which Python's ``json`` reads but JSON does not allow). ``FormatGuard`` fails such
answers, so the caller can retry, instead of crashing later on a missing key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from prodai_lessons._validation import check_choice, check_str

from ._text import _as_text, _check_name
from .results import Finding, GuardResult

__all__ = ["FormatGuard"]


_FENCE_RX = re.compile(r"\A\s*```(?:json)?[ \t]*\n(.*)\n```\s*\Z", re.DOTALL | re.IGNORECASE)
# A JSON string or one of the constants Python's json accepts but JSON (RFC 8259) does not: strings are
# skipped whole, so a "NaN" inside one is not reported. Linear: each alternative consumes what it tests.
_JSON_CONSTANT_RX = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


class _NotJSONConstant(ValueError):
    """Raised by ``parse_constant`` for NaN / Infinity / -Infinity, which are not JSON."""


def _refuse_constant(name: str) -> Any:
    raise _NotJSONConstant(name)


_JSON_TYPES = {"string": str, "number": (int, float), "integer": int, "boolean": bool, "array": list,
               "object": dict, "null": type(None)}


class FormatGuard:
    """The output must be a JSON object holding ``required`` fields (optionally of given JSON types).

    Parameters: ``required`` (field names, or a mapping name -> JSON type name), ``allow_code_fence``
    (accept a Markdown fence around the JSON, default true), ``name``.

    >>> fmt = FormatGuard({"answer": "string", "confidence": "number"})
    >>> fmt.check('{"answer": "Paris", "confidence": 0.9}').passed
    True
    >>> fmt.check('{"answer": "Paris", "confidence": "high"}').reason
    'wrong type confidence: expected number'

    Notes
    -----
    ``required`` is a sequence of field names, or a mapping name -> JSON type name (``"string"``,
    ``"number"``, ``"integer"``, ``"boolean"``, ``"array"``, ``"object"``, ``"null"``), a small subset
    of JSON Schema's ``required`` + ``type`` keywords. A Markdown code fence around the JSON is
    accepted when ``allow_code_fence`` is true (models often add one). Booleans are not numbers here,
    as in JSON Schema. ``score`` is 1.0 on failure, else 0.0. Findings: ``invalid_json`` (span at the
    parse error), ``not_an_object``, ``missing_field``, ``wrong_type``. ``NaN``, ``Infinity`` and
    ``-Infinity`` (which Python's ``json`` reads but JSON does not allow), nesting too deep for the
    parser and integers longer than Python's conversion limit are ``invalid_json`` too: the guard
    fails, it does not raise.
    """

    def __init__(self, required: Sequence[str] | Mapping[str, str] = (), *, allow_code_fence: bool = True,
                 name: str = "format") -> None:
        if isinstance(required, (str, bytes)):
            raise TypeError("required must be a sequence of field names or a mapping name -> JSON type; "
                            "got a single string")
        if isinstance(required, Mapping):
            fields = {}
            for k, v in required.items():
                check_str("required field name", k)
                fields[k] = check_choice(f"required[{k!r}]", v, tuple(_JSON_TYPES))
        else:
            fields = {check_str("required field name", k): None for k in required}
        self.required: dict[str, str | None] = fields
        self.allow_code_fence = bool(allow_code_fence)
        self.name = _check_name(name)

    def __repr__(self) -> str:
        return f"FormatGuard(required={list(self.required)}, name={self.name!r})"

    def check(self, text: str | bytes) -> GuardResult:
        """Parse ``text`` as JSON and check the required fields and their types."""
        text = _as_text("text", text)
        body, offset = text, 0
        if self.allow_code_fence:
            m = _FENCE_RX.match(text)
            if m:
                body, offset = m.group(1), m.start(1)
        try:
            data = json.loads(body, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            at = offset + exc.pos
            return GuardResult(self.name, False, 1.0, f"not valid JSON: {exc.msg} at character {at}",
                               (Finding("invalid_json", (at, min(at + 1, len(text)))),))
        except _NotJSONConstant as exc:
            name = str(exc)
            m = next((m for m in _JSON_CONSTANT_RX.finditer(body) if m.group(1) == name), None)
            at = offset + (m.start(1) if m is not None else 0)
            return GuardResult(self.name, False, 1.0, f"not valid JSON: {name} is not a JSON value "
                               f"(RFC 8259 has no NaN or Infinity) at character {at}",
                               (Finding("invalid_json", (at, at + len(name))),))
        except RecursionError:
            return GuardResult(self.name, False, 1.0, "not valid JSON: nested too deeply to parse",
                               (Finding("invalid_json", (0, len(text))),))
        except ValueError as exc:  # e.g. an integer longer than Python's int conversion limit
            return GuardResult(self.name, False, 1.0, f"not valid JSON: cannot be parsed ({exc})",
                               (Finding("invalid_json", (0, len(text))),))
        if not isinstance(data, dict):
            return GuardResult(self.name, False, 1.0, f"JSON must be an object; got {type(data).__name__}",
                               (Finding("not_an_object", (0, len(text))),))
        findings: list[Finding] = []
        for k, typ in self.required.items():
            if k not in data:
                findings.append(Finding("missing_field", (0, len(text)), k))
            elif typ is not None:
                v = data[k]
                ok = isinstance(v, _JSON_TYPES[typ]) and not (typ in ("number", "integer") and isinstance(v, bool))
                if not ok:
                    findings.append(Finding("wrong_type", (0, len(text)), f"{k}: expected {typ}"))
        if findings:
            return GuardResult(self.name, False, 1.0,
                               "; ".join(f"{f.type.replace('_', ' ')} {f.detail}" for f in findings), tuple(findings))
        return GuardResult(self.name, True, 0.0, "valid JSON with the required fields")
