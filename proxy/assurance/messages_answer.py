"""The Anthropic Messages API seen by the certification pipeline: request view, answer, rebuild.

- `chat_view`: a Messages request as the chat-shaped `ChatRequest` that
  `parse_assurance_request` reads (user text -> the query, `tool_result` blocks -> `tool_output`
  evidence);
- `parse_message_object`: the upstream's `message` -> `ParsedAnswer` (text blocks joined with no
  separator; `tool_use` blocks are the proposed actions, their `input` as JSON arguments);
  anything not certifiable exactly fails closed (502);
- `enforced_message`: what enforce emits from an allow-list: `id`, `type`, `role`, `model`,
  `usage`, one text block (exactly the bundle's `emission.text`: certified text, residue or
  abstention, with inline `[id]` markers if bound), the `tool_use` blocks the gate
  allowed (by position), `stop_reason` (`refusal` on reject; `end_turn` when every call was
  removed), `stop_sequence`. Thinking, citations and unknown fields are dropped. Decides nothing.
"""

from __future__ import annotations

import json
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

REJECT_STOP_REASON = "refusal"


def _text(content: object) -> object:
    if isinstance(content, str) or content is None:
        return content
    if isinstance(content, list):
        return [
            {"type": "text", "text": block["text"]}
            for block in content
            if isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        ]
    return None


def chat_view(request: ChatRequest) -> ChatRequest:
    """`request` (a Messages body) with a chat `messages` view for the assurance parser."""
    raw = request.parsed.get("messages")
    if not isinstance(raw, list):
        raise InvalidRequestError("Expected messages to be an array", param="messages")
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise InvalidRequestError(
                f"Expected messages[{index}] to be an object", param=f"messages[{index}]"
            )
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    result = block.get("content", "")
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": block.get("tool_use_id"),
                            "content": _text(result),
                        }
                    )
        messages.append({"role": message.get("role"), "content": _text(content)})
    view: dict[str, Any] = {"model": request.model, "messages": messages}
    return ChatRequest(
        model=request.model,
        stream=request.stream,
        forward_body=request.forward_body,
        parsed=view,
        assurance=request.assurance,
        has_assurance=request.has_assurance,
    )


def parse_message_object(message: object) -> ParsedAnswer:
    """The upstream's `message` as one certifiable answer; else `UpstreamAnswerError` (502)."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise UpstreamAnswerError("Expected an Anthropic message object with a content array")
    texts: list[str] = []
    calls: list[ProposedCall] = []
    seen: set[str] = set()
    for index, block in enumerate(message["content"]):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise UpstreamAnswerError(f"Expected content[{index}].text to be a string")
            texts.append(block["text"])
        elif kind == "tool_use":
            name = block.get("name")
            if not isinstance(name, str) or not isinstance(block.get("input"), dict):
                raise UpstreamAnswerError(
                    f"Expected content[{index}] to be a tool_use with a name and an input object"
                )
            raw_id = block.get("id")
            call_id = raw_id if isinstance(raw_id, str) and raw_id and raw_id not in seen else ""
            call_id = call_id or f"call_{index}"
            while call_id in seen:
                call_id += "_"
            seen.add(call_id)
            arguments = json.dumps(block["input"], ensure_ascii=False)
            calls.append(ProposedCall(call_id, name, arguments, legacy=False))
    completion = {"model": message.get("model")}
    return ParsedAnswer(completion=completion, text="".join(texts), calls=tuple(calls))


def enforced_message(
    message: Mapping[str, Any], answer: ParsedAnswer, bundle: Bundle
) -> dict[str, Any]:
    """The `message` enforce emits (see the module docstring)."""
    emitted: dict[str, Any] = {
        key: message[key] for key in ("id", "type", "role", "model", "usage") if key in message
    }
    emitted.setdefault("type", "message")
    emitted.setdefault("role", "assistant")
    emitted["stop_sequence"] = message.get("stop_sequence")
    stop_reason = message.get("stop_reason")
    if bundle.policy_decision.decision == "reject":
        emitted["content"] = [{"type": "text", "text": bundle.emission.text}]
        emitted["stop_reason"] = REJECT_STOP_REASON
        emitted["stop_sequence"] = None
        return emitted
    text = emitted_text(answer, bundle)
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    allowed = allowed_positions(bundle, answer.calls)
    kept = [call for call, ok in zip(answer.calls, allowed, strict=True) if ok]
    for call in kept:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": json.loads(call.arguments),
            }
        )
    if len(kept) < len(answer.calls) and not kept and stop_reason == "tool_use":
        stop_reason = "end_turn"
    emitted["content"] = content
    emitted["stop_reason"] = stop_reason
    return emitted
