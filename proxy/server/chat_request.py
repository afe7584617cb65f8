"""Reading and checking a `/v1/chat/completions` request body before it is forwarded.

Only the fields the proxy acts on are decoded (`model`, `messages`, `stream`); the rest of the body
is left as the client sent it. The `assurance` field is removed before forwarding in every mode
(SPEC 3.2): when it is absent the forwarded bytes are the client's bytes, untouched. The full
decoded body is only built on demand (`parsed`). This module does not validate the contents of
`assurance` (the pipeline does). Decoding failures and nesting past
`proxy.server.json_body.MAX_JSON_DEPTH` are 400s naming the field (`proxy.server.json_body`);
the field is found however its name is spelled (`"assur\\u0061nce"` too).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from proxy.server.errors import InvalidRequestError
from proxy.server.json_body import (
    check_depth,
    decode_error,
    decode_object,
    key_pattern,
    may_contain_key,
)

ASSURANCE_FIELD = "assurance"
# the field's name as JSON spells it, escapes included: bodies without a match keep the fast path
_ASSURANCE_KEY = key_pattern(ASSURANCE_FIELD)
_PATH = re.compile(r"at `\$\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]*)`")


class _ChatEnvelope(msgspec.Struct):
    model: str
    messages: list[msgspec.Raw]
    stream: bool | None = None


class LazyJSONObject(Mapping[str, Any]):
    """A JSON object body decoded on first access (mode `off` never pays for it)."""

    __slots__ = ("_data", "_raw")

    def __init__(self, raw: bytes, data: dict[str, Any] | None = None) -> None:
        self._raw = raw
        self._data = data

    def _decoded(self) -> dict[str, Any]:
        if self._data is None:
            # a failure is a 400 naming the field (the envelope decode skips most of the body)
            self._data = decode_object(self._raw)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A checked chat request: what to forward and the few fields the proxy needs."""

    model: str
    stream: bool
    # exactly the bytes to send upstream (the client's, or re-encoded without `assurance`)
    forward_body: bytes
    # the decoded body that `forward_body` encodes (lazily decoded)
    parsed: Mapping[str, Any]
    # the client's `assurance` value as decoded JSON, when the field was present
    assurance: Any = None
    has_assurance: bool = False


def parse_chat_request(body: bytes) -> ChatRequest:
    """Check `body` and prepare it for forwarding; `InvalidRequestError` (400) names the param."""
    check_depth(body)
    try:
        envelope = msgspec.json.decode(body, type=_ChatEnvelope)
    except msgspec.ValidationError as exc:
        if str(exc).startswith("Number out of range"):
            raise decode_error(body, exc) from exc
        raise _invalid(str(exc)) from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise decode_error(body, exc) from exc
    return split_assurance(body, model=envelope.model, stream=bool(envelope.stream))


def split_assurance(body: bytes, *, model: str, stream: bool) -> ChatRequest:
    """The checked request for a body whose envelope decoded: the `assurance` field (however its
    key is escaped) removed, the client's bytes kept when it is absent. Shared by every route
    that takes the field (chat, Responses, Messages)."""
    if not may_contain_key(body, _ASSURANCE_KEY):
        return ChatRequest(
            model=model, stream=stream, forward_body=body, parsed=LazyJSONObject(body)
        )
    decoded = decode_object(body)
    if ASSURANCE_FIELD not in decoded:
        # the marker occurred inside a string value; nothing to strip
        return ChatRequest(
            model=model,
            stream=stream,
            forward_body=body,
            parsed=LazyJSONObject(body, decoded),
        )
    assurance = decoded.pop(ASSURANCE_FIELD)
    return ChatRequest(
        model=model,
        stream=stream,
        forward_body=msgspec.json.encode(decoded),
        parsed=decoded,
        assurance=assurance,
        has_assurance=True,
    )


def _invalid(message: str) -> InvalidRequestError:
    missing = _MISSING.search(message)
    if missing is not None:
        param = missing.group(1)
        return InvalidRequestError(
            f"Missing required parameter: '{param}'", param=param, code="missing_required_parameter"
        )
    at = _PATH.search(message)
    param = at.group(1) if at is not None and at.group(1) else None
    return InvalidRequestError(f"Invalid request body: {message}", param=param)
