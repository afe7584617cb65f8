"""Reading and checking a `POST /v1/responses` body before it is forwarded.

Only `model` (required string) and `stream` are decoded up front; the `assurance` field is removed
in every mode (as for chat), so the forwarded bytes are the client's own when it is absent. The
result is a `proxy.server.chat_request.ChatRequest` (the same checked-request record the chat
route uses). Errors are 400s naming the parameter, in OpenAI's shape.
"""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.server.chat_request import ASSURANCE_FIELD, ChatRequest, LazyJSONObject
from proxy.server.errors import InvalidRequestError


class _ResponsesEnvelope(msgspec.Struct):
    model: str
    stream: bool | None = None


def parse_responses_request(body: bytes) -> ChatRequest:
    """Check `body` and prepare it for forwarding; `InvalidRequestError` (400) names the param."""
    try:
        envelope = msgspec.json.decode(body, type=_ResponsesEnvelope)
    except msgspec.ValidationError as exc:
        message = str(exc)
        param = "model" if "model" in message else "stream" if "stream" in message else None
        raise InvalidRequestError(f"Invalid responses request: {message}", param=param) from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request: {exc}", code="invalid_json"
        ) from exc
    stream = bool(envelope.stream)
    if b'"assurance"' not in body:
        return ChatRequest(
            model=envelope.model, stream=stream, forward_body=body, parsed=LazyJSONObject(body)
        )
    decoded: dict[str, Any] = msgspec.json.decode(body, type=dict[str, Any])
    if ASSURANCE_FIELD not in decoded:
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
