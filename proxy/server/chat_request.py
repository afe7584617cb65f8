"""Reading and checking a `/v1/chat/completions` request body before it is forwarded.

Only the fields the proxy acts on are decoded (`model`, `messages`, `stream`); the rest of the body
is left as the client sent it. The `assurance` field is removed before forwarding in every mode
(SPEC 3.2): when it is absent the forwarded bytes are the client's bytes, untouched. The full
decoded body is only built on demand (`parsed`). This module does not validate the contents of
`assurance` (the pipeline does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from proxy.server.errors import InvalidRequestError

ASSURANCE_FIELD = "assurance"
_ASSURANCE_MARKER = b'"assurance"'
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
            decoded: dict[str, Any] = msgspec.json.decode(self._raw, type=dict[str, Any])
            self._data = decoded
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
    try:
        envelope = msgspec.json.decode(body, type=_ChatEnvelope)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request: {exc}", code="invalid_json"
        ) from exc
    stream = bool(envelope.stream)
    if _ASSURANCE_MARKER not in body:
        return ChatRequest(
            model=envelope.model, stream=stream, forward_body=body, parsed=LazyJSONObject(body)
        )
    decoded: dict[str, Any] = msgspec.json.decode(body, type=dict[str, Any])
    if ASSURANCE_FIELD not in decoded:
        # the marker occurred inside a string value; nothing to strip
        return ChatRequest(
            model=envelope.model,
            stream=stream,
            forward_body=body,
            parsed=LazyJSONObject(body, decoded),
        )
    assurance = decoded.pop(ASSURANCE_FIELD)
    return ChatRequest(
        model=envelope.model,
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
