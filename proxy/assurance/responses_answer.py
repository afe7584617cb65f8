"""The Responses API seen by the certification pipeline: request view, answer, enforce rebuild.

- `chat_view`: a Responses request as the chat-shaped `ChatRequest` that
  `proxy.assurance.request.parse_assurance_request` reads: `input` items become messages, so the
  query is the last user text and every `function_call_output` is `tool_output` evidence.
- `parse_response_answer`: the upstream's `response` object -> `ParsedAnswer` (the certified text is
  the `output_text` parts of the `message` items joined with no separator; the proposed actions are
  the `function_call` items in order); anything else that is not certifiable exactly fails closed
  (502, `UpstreamAnswerError`).
- `enforced_response`: what enforce emits, rebuilt from an allow-list: the settings the response
  echoes, one `message` item whose `output_text` is exactly the bundle's `emission.text` (the
  certified answer, the residue or the abstention, with inline `[id]` markers if bound), and the
  `function_call` items the gate allowed (by position); on reject `status: "incomplete"` and
  `incomplete_details.reason: "content_filter"`. Reasoning, refusals, annotations, built-in tool
  items and unknown fields are dropped even on accept. Decides nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certifiers.types import Bundle
from proxy.assurance.emit import (
    ParsedAnswer,
    ProposedCall,
    UpstreamAnswerError,
    allowed_positions,
    emitted_text,
)
from proxy.server.chat_request import ChatRequest
from proxy.server.errors import InvalidRequestError
from proxy.upstreams.responses_translate import message_item

# top-level `response` fields enforce keeps: identifiers, timing and echoed request settings
_KEPT = (
    "id",
    "object",
    "created_at",
    "model",
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "service_tier",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "usage",
    "user",
)


def _text_content(content: object, where: str) -> object:
    # Responses content parts -> chat text parts, for the query and the evidence
    if isinstance(content, str) or content is None:
        return content
    if not isinstance(content, list):
        raise InvalidRequestError(
            f"Expected {where}.content to be a string or an array of parts", param=where
        )
    return [
        {"type": "text", "text": part["text"]}
        for part in content
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]


def chat_view(request: ChatRequest) -> ChatRequest:
    """`request` (a Responses body) with a chat `messages` view of its `input` items."""
    parsed = request.parsed
    raw = parsed.get("input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise InvalidRequestError(
            "Expected input to be a string or an array of input items", param="input"
        )
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequestError(f"Expected {where} to be an input item", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            content = _text_content(item.get("content"), where)
            messages.append({"role": item.get("role"), "content": content})
        elif kind == "function_call_output":
            output = item.get("output")
            if not isinstance(output, str):
                output = _text_content(output, f"{where}.output")
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": output}
            )
    view: dict[str, Any] = {"model": request.model, "messages": messages}
    return ChatRequest(
        model=request.model,
        stream=request.stream,
        forward_body=request.forward_body,
        parsed=view,
        assurance=request.assurance,
        has_assurance=request.has_assurance,
    )


def _shape(value: object) -> str:
    if isinstance(value, dict):
        return f"an object with keys {sorted(str(k) for k in value)[:12]}"
    return type(value).__name__


def parse_response_object(response: object) -> ParsedAnswer:
    """The upstream's `response` as one certifiable answer; else `UpstreamAnswerError` (502)."""
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        raise UpstreamAnswerError(
            f"Expected a Responses `response` object with an output array, got {_shape(response)}"
        )
    texts: list[str] = []
    calls: list[ProposedCall] = []
    seen: set[str] = set()
    for index, item in enumerate(response["output"]):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            content = item.get("content")
            if not isinstance(content, list):
                raise UpstreamAnswerError(
                    f"Expected output[{index}].content to be an array, got {_shape(content)}"
                )
            for part in content:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    text = part.get("text")
                    if not isinstance(text, str):
                        raise UpstreamAnswerError(
                            f"Expected output[{index}] output_text parts to hold strings"
                        )
                    texts.append(text)
        elif kind == "function_call":
            name, arguments = item.get("name"), item.get("arguments")
            if not isinstance(name, str) or not isinstance(arguments, str):
                raise UpstreamAnswerError(
                    f"Expected output[{index}] to be a function_call with string name and"
                    f" arguments, got {_shape(item)}"
                )
            raw_id = item.get("call_id")
            call_id = raw_id if isinstance(raw_id, str) and raw_id and raw_id not in seen else ""
            call_id = call_id or f"call_{index}"
            while call_id in seen:
                call_id += "_"
            seen.add(call_id)
            calls.append(ProposedCall(call_id, name, arguments, legacy=False))
    completion = {"model": response.get("model")}
    return ParsedAnswer(completion=completion, text="".join(texts), calls=tuple(calls))


def enforced_response(
    response: Mapping[str, Any], answer: ParsedAnswer, bundle: Bundle
) -> dict[str, Any]:
    """The `response` enforce emits, rebuilt from the allow-list (see the module docstring)."""
    emitted: dict[str, Any] = {key: response[key] for key in _KEPT if key in response}
    emitted.setdefault("object", "response")
    emitted["error"] = None
    emitted["status"] = "completed"
    emitted["incomplete_details"] = None
    source = response["output"]
    first_message = next(
        (item for item in source if isinstance(item, dict) and item.get("type") == "message"), None
    )
    message_id = (
        str(first_message.get("id"))
        if first_message is not None
        else f"msg_{response.get('id', 'assured')}"
    )
    if bundle.policy_decision.decision == "reject":
        emitted["output"] = [message_item(bundle.emission.text, message_id)]
        emitted["status"] = "incomplete"
        emitted["incomplete_details"] = {"reason": "content_filter"}
        return emitted
    text = emitted_text(answer, bundle)
    allowed = iter(allowed_positions(bundle, answer.calls))
    calls = iter(answer.calls)
    output: list[dict[str, Any]] = []
    message_done = False
    for item in source:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message" and not message_done:
            message_done = True
            if text:
                output.append(message_item(text, message_id))
        elif kind == "function_call":
            call = next(calls)
            if next(allowed):
                output.append(
                    {
                        "id": item.get("id") or f"fc_{call.id}",
                        "type": "function_call",
                        "status": "completed",
                        "call_id": call.id,
                        "name": call.name,
                        "arguments": call.arguments,
                    }
                )
    if not message_done and text:
        output.insert(0, message_item(text, message_id))
    emitted["output"] = output
    return emitted
