"""Pure translation between OpenAI Chat Completions and Anthropic's Messages API.

Three pieces, all free of IO, clocks and logging:
- `to_anthropic_request`: OpenAI request dict -> the arguments of `AsyncAnthropic.messages.create`;
- `completion_from_message`: an Anthropic `Message` -> an OpenAI `chat.completion` dict;
- `ChunkTranslator`: Anthropic raw stream events -> OpenAI `chat.completion.chunk` dicts.
What cannot be expressed faithfully (images, `n > 1`, logprobs, structured `response_format`,
sampling penalties) is refused with `InvalidRequestError` naming the parameter, never dropped
silently. This module does not talk to the network (that is `anthropic_upstream`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from anthropic.types import (
    ContentBlockParam,
    InputJSONDelta,
    Message,
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    StopReason,
    TextBlock,
    TextBlockParam,
    TextDelta,
    ToolChoiceParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
    Usage,
)
from anthropic.types.message_create_params import MessageCreateParamsBase

from proxy.server.errors import InvalidRequestError

DEFAULT_MAX_TOKENS = 4096

_FINISH_REASONS: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# OpenAI parameters whose meaning Anthropic cannot reproduce: any set (truthy) value is refused.
_REFUSED_WHEN_SET = (
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "audio",
    "prediction",
    "functions",
    "function_call",
)


@dataclass(frozen=True, slots=True)
class AnthropicRequest:
    """What `messages.create` receives: typed params plus wire fields the SDK no longer types."""

    params: MessageCreateParamsBase
    extra_body: dict[str, object] = field(default_factory=dict)
    include_usage: bool = False


def _bad(param: str, expected: str, got: object) -> InvalidRequestError:
    shown = json.dumps(got)[:80] if isinstance(got, (str, int, float, list, dict)) else repr(got)
    return InvalidRequestError(f"Expected {expected}, got {shown} - at {param}", param=param)


def _text_parts(content: object, where: str, *, allow_null: bool = False) -> list[str]:
    """The texts of an OpenAI message `content` (a string or a list of text parts)."""
    if content is None and allow_null:
        return []
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise _bad(where, "a string or a list of content parts", content)
    texts: list[str] = []
    for j, part in enumerate(content):
        part_where = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])  # an earlier assistant refusal, replayed as its text
        elif kind in {"image_url", "input_audio", "file"}:
            raise InvalidRequestError(
                f"Expected a text content part, got a {kind!r} part, which the anthropic upstream "
                f"does not translate - at {part_where}",
                param=part_where,
            )
        else:
            raise _bad(part_where, 'a content part {"type": "text", "text": str}', part)
    return texts


def _text_blocks(texts: Sequence[str]) -> list[ContentBlockParam]:
    # Anthropic rejects empty text blocks; an empty string carries nothing to translate.
    return [TextBlockParam(type="text", text=text) for text in texts if text]


def _tool_use_blocks(tool_calls: object, where: str) -> list[ContentBlockParam]:
    if not isinstance(tool_calls, list):
        raise _bad(where, "a list of tool calls", tool_calls)
    blocks: list[ContentBlockParam] = []
    for j, call in enumerate(tool_calls):
        call_where = f"{where}[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(function, dict):
            raise _bad(call_where, 'a tool call {"id", "type": "function", "function"}', call)
        call_id, name = call.get("id"), function.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise _bad(call_where, "string `id` and `function.name`", call)
        arguments = function.get("arguments", "{}")
        try:
            decoded = json.loads(arguments) if isinstance(arguments, str) else None
        except json.JSONDecodeError:
            decoded = None
        if not isinstance(decoded, dict):
            raise _bad(f"{call_where}.function.arguments", "a JSON object string", arguments)
        blocks.append(ToolUseBlockParam(type="tool_use", id=call_id, name=name, input=decoded))
    return blocks


def _turn(message: dict[str, Any], where: str) -> tuple[str, list[ContentBlockParam]]:
    """One non-system OpenAI message as (`user` | `assistant`, Anthropic content blocks)."""
    role, content = message.get("role"), message.get("content")
    if role == "user":
        blocks = _text_blocks(_text_parts(content, f"{where}.content"))
    elif role == "assistant":
        texts = _text_parts(content, f"{where}.content", allow_null=True)
        blocks = _text_blocks(texts)
        if message.get("tool_calls") is not None:
            blocks += _tool_use_blocks(message["tool_calls"], f"{where}.tool_calls")
    elif role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str):
            raise _bad(f"{where}.tool_call_id", "a string", call_id)
        text = "".join(_text_parts(content, f"{where}.content"))
        result = ToolResultBlockParam(type="tool_result", tool_use_id=call_id, content=text)
        return "user", [result]
    else:
        raise _bad(f"{where}.role", "one of system, developer, user, assistant, tool", role)
    if not blocks:
        raise _bad(f"{where}.content", "non-empty content or tool_calls", content)
    return str(role), blocks


def _messages(raw: object) -> tuple[list[TextBlockParam], list[MessageParam]]:
    """System blocks (hoisted, in order) and user/assistant turns with same-role runs merged."""
    if not isinstance(raw, list) or not raw:
        raise _bad("messages", "a non-empty list of messages", raw)
    system: list[TextBlockParam] = []
    turns: list[tuple[str, list[ContentBlockParam]]] = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise _bad(f"messages[{i}]", "a message object", message)
        if message.get("role") in {"system", "developer"}:
            texts = _text_parts(message.get("content"), f"messages[{i}].content")
            system += [TextBlockParam(type="text", text=text) for text in texts if text]
            continue
        role, blocks = _turn(message, f"messages[{i}]")
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, list(blocks)))
    if not turns:
        raise _bad("messages", "at least one user or assistant message", raw)
    merged: list[MessageParam] = [
        {"role": "user", "content": blocks}
        if role == "user"
        else {"role": "assistant", "content": blocks}
        for role, blocks in turns
    ]
    return system, merged


def _tools(raw: object) -> list[ToolParam]:
    if not isinstance(raw, list):
        raise _bad("tools", "a list of function tools", raw)
    tools: list[ToolParam] = []
    for i, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(tool, dict)
            or tool.get("type") != "function"
            or not isinstance(function, dict)
        ):
            raise _bad(f"tools[{i}]", 'a tool {"type": "function", "function": {...}}', tool)
        name, schema = function.get("name"), function.get("parameters")
        if not isinstance(name, str):
            raise _bad(f"tools[{i}].function.name", "a string", name)
        if schema is None:
            schema = {"type": "object", "properties": {}}
        if not isinstance(schema, dict):
            raise _bad(f"tools[{i}].function.parameters", "a JSON schema object", schema)
        param = ToolParam(name=name, input_schema=schema)
        if isinstance(function.get("description"), str):
            param["description"] = function["description"]
        tools.append(param)
    return tools


def _tool_choice(raw: object, parallel: object) -> ToolChoiceParam | None:
    disable_parallel = parallel is False
    if raw is None or raw == "auto":
        return {"type": "auto", "disable_parallel_tool_use": True} if disable_parallel else None
    if raw == "none":
        return {"type": "none"}
    if raw == "required":
        return {"type": "any", "disable_parallel_tool_use": disable_parallel}
    function = raw.get("function") if isinstance(raw, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {
            "type": "tool",
            "name": function["name"],
            "disable_parallel_tool_use": disable_parallel,
        }
    raise _bad("tool_choice", '"none", "auto", "required" or {"type": "function", ...}', raw)


def _number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(key, "a number", value)
    return value


def to_anthropic_request(body: Mapping[str, Any]) -> AnthropicRequest:
    """Translate an OpenAI chat request into `messages.create` arguments, or raise a 400."""
    for key in _REFUSED_WHEN_SET:
        if body.get(key):
            raise _bad(key, "no value (the anthropic upstream cannot honour it)", body[key])
    if body.get("n", 1) not in (1, None):
        raise _bad("n", "1 (the anthropic upstream returns one choice)", body["n"])
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise _bad("response_format", '{"type": "text"} (anthropic upstream)', response_format)
    model = body.get("model")
    if not isinstance(model, str):
        raise _bad("model", "a string", model)
    limit_key = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    max_tokens = body.get(limit_key)
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _bad(limit_key, "a positive integer", max_tokens)
    system, messages = _messages(body.get("messages"))
    params: MessageCreateParamsBase = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": messages,
    }
    if system:
        params["system"] = system
    stop = body.get("stop")
    if isinstance(stop, str):
        params["stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        params["stop_sequences"] = list(stop)
    elif stop is not None:
        raise _bad("stop", "a string or a list of strings", stop)
    if body.get("tools"):
        params["tools"] = _tools(body["tools"])
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None:
        params["tool_choice"] = choice
    if isinstance(body.get("user"), str):
        params["metadata"] = {"user_id": body["user"]}
    extra: dict[str, object] = {}
    for key in ("temperature", "top_p"):
        number = _number(body, key)
        if number is not None:
            extra[key] = number
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return AnthropicRequest(params=params, extra_body=extra, include_usage=include_usage)


def _finish_reason(stop_reason: StopReason | None) -> str:
    return _FINISH_REASONS.get(stop_reason, "stop") if stop_reason is not None else "stop"


def openai_usage(usage: Usage) -> dict[str, Any]:
    """OpenAI `usage` from Anthropic's: prompt tokens include cache writes and reads."""
    cached = usage.cache_read_input_tokens or 0
    prompt = usage.input_tokens + (usage.cache_creation_input_tokens or 0) + cached
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _tool_call(block: ToolUseBlock) -> dict[str, Any]:
    arguments = json.dumps(block.input, ensure_ascii=False, separators=(",", ":"))
    return {
        "id": block.id,
        "type": "function",
        "function": {"name": block.name, "arguments": arguments},
    }


def completion_from_message(message: Message, *, created: int) -> dict[str, Any]:
    """An OpenAI `chat.completion` dict from an Anthropic `Message` (thinking blocks dropped)."""
    text = "".join(block.text for block in message.content if isinstance(block, TextBlock))
    calls = [_tool_call(block) for block in message.content if isinstance(block, ToolUseBlock)]
    # `refusal` is required (nullable) in OpenAI's published ChatCompletionResponseMessage schema
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not calls else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": message.id,
        "object": "chat.completion",
        "created": created,
        "model": message.model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": _finish_reason(message.stop_reason),
            }
        ],
        "usage": openai_usage(message.usage),
    }


def error_chunk(message: str, error_type: str, code: str | None = None) -> dict[str, Any]:
    """The OpenAI-style error event sent when a stream fails after it started."""
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


class ChunkTranslator:
    """Turns one Anthropic event stream into OpenAI `chat.completion.chunk` dicts, event by event.

    `ping` is dropped and an `error` event is raised by the SDK before it reaches `feed`; the shell
    turns that into `error_chunk`. `done` says whether `message_stop` arrived.
    """

    def __init__(self, *, created: int, include_usage: bool) -> None:
        self._created = created
        self._include_usage = include_usage
        self._id = ""
        self._model = ""
        self._usage: Usage | None = None
        self._finish: str | None = None
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_call index
        self._arguments_sent: set[int] = set()
        self.done = False

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    def _arguments(self, block_index: int, fragment: str) -> dict[str, Any]:
        self._arguments_sent.add(block_index)
        call = {"index": self._tool_index[block_index], "function": {"arguments": fragment}}
        return self._chunk({"tool_calls": [call]})

    def feed(self, event: RawMessageStreamEvent) -> list[dict[str, Any]]:
        """The OpenAI chunks (possibly none) that this Anthropic event stands for."""
        match event:
            case RawMessageStartEvent(message=message):
                self._id, self._model, self._usage = message.id, message.model, message.usage
                return [self._chunk({"role": "assistant", "content": ""})]
            case RawContentBlockStartEvent(index=index, content_block=TextBlock(text=text)):
                return [self._chunk({"content": text})] if text else []
            case RawContentBlockStartEvent(index=index, content_block=ToolUseBlock() as block):
                self._tool_index[index] = len(self._tool_index)
                call = {
                    "index": self._tool_index[index],
                    "id": block.id,
                    "type": "function",
                    "function": {"name": block.name, "arguments": ""},
                }
                return [self._chunk({"tool_calls": [call]})]
            case RawContentBlockDeltaEvent(delta=TextDelta(text=text)):
                return [self._chunk({"content": text})] if text else []
            case RawContentBlockDeltaEvent(index=index, delta=InputJSONDelta(partial_json=part)):
                if index not in self._tool_index or not part:
                    return []
                return [self._arguments(index, part)]
            case RawContentBlockStopEvent(index=index):
                # A tool called without arguments streams no JSON; OpenAI clients expect "{}".
                if index in self._tool_index and index not in self._arguments_sent:
                    return [self._arguments(index, "{}")]
                return []
            case RawMessageDeltaEvent(delta=delta, usage=usage):
                self._finish = _finish_reason(delta.stop_reason)
                if self._usage is not None:
                    self._usage = self._usage.model_copy(
                        update={"output_tokens": usage.output_tokens}
                    )
                    if usage.input_tokens is not None:
                        self._usage = self._usage.model_copy(
                            update={"input_tokens": usage.input_tokens}
                        )
                return [self._chunk({}, self._finish)]
            case RawMessageStopEvent():
                self.done = True
                if not self._include_usage or self._usage is None:
                    return []
                chunk = self._chunk({})
                chunk["choices"] = []
                chunk["usage"] = openai_usage(self._usage)
                return [chunk]
            case _:
                return []  # thinking, citations, server-tool blocks: no OpenAI counterpart
