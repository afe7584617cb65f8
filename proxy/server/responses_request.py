"""Reading and checking a `POST /v1/responses` body before it is forwarded.

Only `model` (required string) and `stream` are decoded up front; the `assurance` field is removed
in every mode (as for chat), so the forwarded bytes are the client's own when it is absent. The
result is a `proxy.server.chat_request.ChatRequest` (the same checked-request record the chat
route uses). Errors are 400s naming the parameter, in OpenAI's shape.
"""

from __future__ import annotations

import msgspec

from proxy.server.chat_request import ChatRequest, split_assurance
from proxy.server.errors import InvalidRequestError
from proxy.server.json_body import check_depth, decode_error


class _ResponsesEnvelope(msgspec.Struct):
    model: str
    stream: bool | None = None


def parse_responses_request(body: bytes) -> ChatRequest:
    """Check `body` and prepare it for forwarding; `InvalidRequestError` (400) names the param."""
    check_depth(body)
    try:
        envelope = msgspec.json.decode(body, type=_ResponsesEnvelope)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.startswith("Number out of range"):
            raise decode_error(body, exc) from exc
        param = "model" if "model" in message else "stream" if "stream" in message else None
        raise InvalidRequestError(f"Invalid responses request: {message}", param=param) from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise decode_error(body, exc) from exc
    return split_assurance(body, model=envelope.model, stream=bool(envelope.stream))
