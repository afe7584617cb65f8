"""Decoding untrusted JSON request bodies: a nesting limit, and errors that name the field.

`check_depth` refuses bodies nested deeper than `MAX_JSON_DEPTH` (arrays/objects) before any
recursive decoder sees them (a few C-speed scans; a body with fewer brackets than the limit is not
scanned at all). `decode_object` decodes a whole body into a dict and turns every decoder failure
(invalid UTF-8, a lone surrogate escape, a number out of the float range, bad grammar) into a 400
`InvalidRequestError` whose `param` names the field and whose message says what was wrong; the
slow locating pass runs only on the error path. `may_contain_key` tells whether a body can hold a
top-level key at all, escapes (`"assur\\u0061nce"`) included, so mode `off` keeps its fast path for
bodies that cannot. Nothing here knows which fields a route needs.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

import msgspec

from proxy.server.errors import InvalidRequestError

# arrays/objects inside one another; far above any real chat request, far below Python's stack
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# "[" / "{" -> 3 and "]" / "}" -> 1, so that `byte - 2` is +1 / -1
_BRACKET_STEP = bytes.maketrans(b"[]{}", b"\x03\x01\x03\x01")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Bad:
    """A value Python's json accepts but the proxy's decoder refuses (found by `_locate`)."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


def check_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise a 400 when arrays/objects in `body` nest deeper than `limit`."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return
    steps = (byte - 2 for byte in brackets.translate(_BRACKET_STEP))
    if max(itertools.accumulate(steps)) > limit:
        raise InvalidRequestError(
            f"Expected JSON nested at most {limit} arrays/objects deep, got deeper",
            code="json_too_deep",
        )


def key_pattern(key: str) -> re.Pattern[bytes]:
    """A regex matching the JSON string `key` however it is spelled (each char or its escape)."""
    parts = []
    for char in key:
        hex_digits = "".join(
            f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):04x}"
        )
        parts.append(f"(?:{re.escape(char)}|\\\\u{hex_digits})")
    return re.compile(('"' + "".join(parts) + '"').encode("ascii"))


def may_contain_key(body: bytes, pattern: re.Pattern[bytes]) -> bool:
    """Whether `body` holds the string `pattern` matches anywhere (a cheap superset test)."""
    return pattern.search(body) is not None


def decode_object(body: bytes) -> dict[str, Any]:
    """`body` decoded as a JSON object; any failure is a 400 naming the field when it can."""
    try:
        decoded: dict[str, Any] = msgspec.json.decode(body, type=dict[str, Any])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise decode_error(body, exc) from exc
    return decoded


def decode_error(body: bytes, exc: Exception) -> InvalidRequestError:
    """The client-facing error for a body msgspec refused (`exc`), naming the field if found."""
    if isinstance(exc, RecursionError):
        return InvalidRequestError(
            f"Expected JSON nested at most {MAX_JSON_DEPTH} arrays/objects deep, got deeper",
            code="json_too_deep",
        )
    found = _locate(body)
    if found is not None:
        param, message, code = found
        return InvalidRequestError(message, param=param, code=code)
    return InvalidRequestError(
        f"We could not parse the JSON body of your request: {exc}", code="invalid_json"
    )


def _locate(body: bytes) -> tuple[str | None, str, str] | None:
    """(param, message, code) for a fault Python's lenient json can pin to a field, else None."""
    try:
        text = body.decode("utf-8")
        bad_utf8 = False
    except UnicodeDecodeError:
        # invalid bytes become lone surrogates U+DC80..U+DCFF: found below like escaped ones
        text = body.decode("utf-8", errors="surrogateescape")
        bad_utf8 = True
    try:
        value = json.loads(text, parse_float=_float, parse_constant=_Bad)
    except (ValueError, RecursionError):
        if bad_utf8:
            return None, "Expected the request body to be UTF-8 encoded JSON", "invalid_json"
        return None
    hit = _find(value, "")
    if hit is None:
        return None
    path, problem = hit
    param = path or None
    where = f" at `{path}`" if path else ""
    if isinstance(problem, _Bad):
        if problem.what in ("NaN", "Infinity", "-Infinity"):
            return param, f"Expected a JSON number{where}, got {problem.what}", "invalid_json"
        message = f"Expected a number within the 64-bit float range{where}, got {problem.what}"
        return param, message, "number_out_of_range"
    if bad_utf8:
        return param, f"Expected UTF-8 encoded text{where}, got invalid UTF-8 bytes", "invalid_json"
    message = (
        f"Expected valid Unicode text{where}, got a lone surrogate escape"
        " (\\ud800-\\udfff without its pair)"
    )
    return param, message, "invalid_unicode"


def _float(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) else _Bad(text[:40])


def _find(value: Any, path: str) -> tuple[str, _Bad | str] | None:
    """The path of the first refused value: a `_Bad` number or a string holding a surrogate."""
    if isinstance(value, _Bad):
        return path, value
    if isinstance(value, str):
        return (path, value) if _SURROGATE.search(value) else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            hit = _find(item, f"{path}[{index}]")
            if hit is not None:
                return hit
    if isinstance(value, dict):
        for key, item in value.items():
            shown = key.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
            child = f"{path}.{shown}" if path else shown
            if _SURROGATE.search(key):
                return child, key
            hit = _find(item, child)
            if hit is not None:
                return hit
    return None
