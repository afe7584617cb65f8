"""Pure translation for the `/v1/messages` front door to an OpenAI-compatible upstream.

The reverse of `proxy.upstreams.translate` (which serves OpenAI clients from Anthropic):
- `chat_body_from_messages`: an Anthropic Messages request -> a Chat Completions request (system,
  text / image / tool_use / tool_result blocks, tools, tool choice, stop sequences, limits);
  what has no Chat equivalent (documents, thinking, server tools) is an `InvalidRequestError`
  naming the field;
- `message_from_completion`: a `chat.completion` -> an Anthropic `message`;
- `MessageStreamTranslator`: `chat.completion.chunk`s -> Anthropic stream events, live;
- `events_for_message`: the event sequence of a complete `message` (enforce replays);
- `encode_event`: one `event:` / `data:` SSE frame.
No IO, clocks or logging.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from proxy.server.errors import InvalidRequestError

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _bad(param: str, expected: str, got: object) -> InvalidRequestError:
    shown = repr(got) if isinstance(got, str) else type(got).__name__
    return InvalidRequestError(
        f"Expected {param} to be {expected} (translated to Chat Completions), got {shown}",
        param=param,
        code="unsupported_parameter",
    )


def _text_of(blocks: object, where: str) -> str:
    if isinstance(blocks, str):
        return blocks
    if isinstance(blocks, list) and all(
        isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        for b in blocks
    ):
        return "\n".join(b["text"] for b in blocks)
    raise _bad(where, "a string or an array of text blocks", blocks)


def _user_turn(content: object, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise _bad(where, "a string or an array of content blocks", content)
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        at = f"{where}[{index}]"
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image" and isinstance(block.get("source"), dict):
            source = block["source"]
            if source.get("type") == "base64":
                url = f"data:{source.get('media_type')};base64,{source.get('data')}"
            elif source.get("type") == "url":
                url = str(source.get("url"))
            else:
                raise _bad(f"{at}.source.type", "base64 or url", source.get("type"))
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif kind == "tool_result":
            result = block.get("content", "")
            text = _text_of(result, f"{at}.content") if result != "" else ""
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
        else:
            raise _bad(f"{at}.type", "text, image or tool_result", kind)
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        joined: object = "\n".join(p["text"] for p in parts) if only_text else parts
        out.append({"role": "user", "content": joined})
    return out


def _assistant_turn(content: object, where: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise _bad(where, "a string or an array of content blocks", content)
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            function = {"name": block.get("name"), "arguments": arguments}
            calls.append({"id": block.get("id"), "type": "function", "function": function})
        else:
            raise _bad(f"{where}[{index}].type", "text or tool_use", kind)
    turn: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        turn["tool_calls"] = calls
    return turn


def _tool_choice(choice: object) -> object:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool" and isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice.get("name")}}
    raise _bad("tool_choice.type", "auto, any, tool or none", kind)


def chat_body_from_messages(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Chat Completions request for a Messages request (`assurance` already removed)."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None:
        messages.append({"role": "system", "content": _text_of(system, "system")})
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise _bad("messages", "an array", raw)
    for index, message in enumerate(raw):
        where = f"messages[{index}].content"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            messages += _user_turn(message.get("content"), where)
        elif role == "assistant":
            messages.append(_assistant_turn(message.get("content"), where))
        else:
            raise _bad(f"messages[{index}].role", "user or assistant", role)
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if body.get("max_tokens") is not None:
        chat["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("stop_sequences"):
        chat["stop"] = body["stop_sequences"]
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str):
        chat["user"] = user
    tools = body.get("tools")
    if tools:
        chat["tools"] = [_tool(tool, index) for index, tool in enumerate(tools)]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    for key in ("thinking", "container", "mcp_servers"):
        if body.get(key):
            raise _bad(key, "absent", body[key])
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _tool(tool: object, index: int) -> dict[str, Any]:
    if (
        not isinstance(tool, dict)
        or not isinstance(tool.get("name"), str)
        or tool.get("type") not in (None, "custom")
    ):
        kind = tool.get("type") if isinstance(tool, dict) else tool
        raise _bad(f"tools[{index}]", "a custom tool with a name and input_schema", kind)
    function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema", {})}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _usage(usage: object) -> dict[str, Any]:
    fields = usage if isinstance(usage, dict) else {}
    return {
        "input_tokens": int(fields.get("prompt_tokens") or 0),
        "output_tokens": int(fields.get("completion_tokens") or 0),
    }


def _input(arguments: object) -> dict[str, Any]:
    try:
        decoded = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except ValueError:
        decoded = {}
    return decoded if isinstance(decoded, dict) else {}


def message_from_completion(completion: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The Anthropic `message` for one `chat.completion`."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id")),
                "name": str(function.get("name")),
                "input": _input(function.get("arguments")),
            }
        )
    return {
        "id": f"msg_{completion.get('id') or 'translated'}",
        "type": "message",
        "role": "assistant",
        "model": str(completion.get("model") or model),
        "content": content,
        "stop_reason": STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": _usage(completion.get("usage")),
    }


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One Anthropic SSE frame."""
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def events_for_message(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Anthropic's event sequence streaming the complete `message` (one delta per block)."""
    usage = message.get("usage") or {}
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage.get("input_tokens", 0), "output_tokens": 0},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block["text"]}
        else:
            opened = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append({"type": "content_block_start", "index": index, "content_block": opened})
        events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    stop = {
        "stop_reason": message.get("stop_reason"),
        "stop_sequence": message.get("stop_sequence"),
    }
    final_usage = {"output_tokens": usage.get("output_tokens", 0)}
    events.append({"type": "message_delta", "delta": stop, "usage": final_usage})
    events.append({"type": "message_stop"})
    return events


class MessageStreamTranslator:
    """Chat chunks -> Anthropic stream events as they arrive (text and tool_use blocks)."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._open: tuple[str, int] | None = None  # ("text" | tool index key, block index)
        self._blocks = 0
        self._finish: object = None
        self._usage: object = None
        self.done = False

    def _start(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        self._started = True
        message: dict[str, Any] = {
            "id": f"msg_{chunk.get('id') or 'translated'}",
            "type": "message",
            "role": "assistant",
            "model": str(chunk.get("model") or self._model),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}]

    def _switch(self, key: str, block: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._open is not None and self._open[0] == key:
            return events
        if self._open is not None:
            events.append({"type": "content_block_stop", "index": self._open[1]})
        self._open = (key, self._blocks)
        self._blocks += 1
        events.append(
            {"type": "content_block_start", "index": self._open[1], "content_block": block}
        )
        return events

    def feed(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Events for one chat chunk."""
        events = [] if self._started else self._start(chunk)
        if chunk.get("usage") is not None:
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                events += self._switch("text", {"type": "text", "text": ""})
                assert self._open is not None
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": self._open[1],
                        "delta": {"type": "text_delta", "text": text},
                    }
                )
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                key = f"tool:{call.get('index', 0)}"
                block = {
                    "type": "tool_use",
                    "id": str(call.get("id") or key),
                    "name": str(function.get("name") or ""),
                    "input": {},
                }
                events += self._switch(key, block)
                assert self._open is not None
                fragment = function.get("arguments") or ""
                if fragment:
                    events.append(
                        {
                            "type": "content_block_delta",
                            "index": self._open[1],
                            "delta": {"type": "input_json_delta", "partial_json": fragment},
                        }
                    )
            if choice.get("finish_reason") is not None:
                self._finish = choice["finish_reason"]
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The closing events after the chat stream's `[DONE]`."""
        events = [] if self._started else self._start({})
        if self._open is not None:
            events.append({"type": "content_block_stop", "index": self._open[1]})
        stop = {
            "stop_reason": STOP_REASONS.get(str(self._finish), "end_turn"),
            "stop_sequence": None,
        }
        usage = _usage(self._usage)
        events.append({"type": "message_delta", "delta": stop, "usage": usage})
        events.append({"type": "message_stop"})
        self.done = True
        return events
