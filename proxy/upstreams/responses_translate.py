"""Pure translation between the Responses API and Chat Completions, both ways (as LiteLLM does).

For upstreams without a Responses endpoint (`[[upstreams]] responses = "translate"`, Anthropic):
- `chat_body_from_responses`: a Responses request -> a Chat Completions request (instructions,
  input items incl. `function_call` / `function_call_output`, function tools, tool choice, text
  format, sampling and token limits); what has no Chat equivalent (built-in tools, `background`,
  `previous_response_id`, non-text input parts) is refused with `InvalidRequestError` naming it;
- `response_from_completion`: a `chat.completion` -> a `response` object;
- `StreamTranslator`: `chat.completion.chunk`s -> Responses stream events, live;
- `events_for_response`: the standard event sequence of a complete `response` (enforce replays);
- `encode_event`: one named SSE event.
No IO, clocks or logging here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from proxy.server.errors import InvalidRequestError

# request fields echoed into the `response` object (absent ones get these defaults)
_ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "temperature": None,
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "user": None,
}
_REFUSED = ("previous_response_id", "background", "conversation", "prompt")
_STATUS: dict[str, tuple[str, str | None]] = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "function_call": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}


def _bad(param: str, expected: str, got: object) -> InvalidRequestError:
    shown = type(got).__name__ if not isinstance(got, str) else repr(got)
    return InvalidRequestError(
        f"Expected {param} to be {expected} (translated to Chat Completions), got {shown}",
        param=param,
        code="unsupported_parameter",
    )


def _content(content: object, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(where, "a string or an array of text parts", content)
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
        else:
            raise _bad(f"{where}[{index}]", "an input_text, output_text or input_image part", kind)
    return parts


def _input_messages(raw: object) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise _bad("input", "a string or an array of input items", raw)
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise _bad(where, "an input item object", item)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise _bad(f"{where}.role", "user, assistant, system or developer", role)
            messages.append({"role": role, "content": _content(item.get("content"), where)})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments", "")},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else _content(output, f"{where}.output")
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
        else:
            raise _bad(f"{where}.type", "message, function_call or function_call_output", kind)
    return messages


def _tools(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise _bad("tools", "an array", raw)
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(raw):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else tool
            raise _bad(f"tools[{index}].type", "function (built-in tools need Responses)", kind)
        function = {
            k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool
        }
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(raw: object) -> object:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict) and raw.get("type") == "function":
        return {"type": "function", "function": {"name": raw.get("name")}}
    raise _bad("tool_choice", "auto, none, required or a function choice", raw)


def _response_format(text: object) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise _bad("text.format", "text, json_object or json_schema", fmt)


def chat_body_from_responses(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Chat Completions request for a Responses request (`assurance` already removed)."""
    for key in _REFUSED:
        if body.get(key):
            raise _bad(key, "absent", body[key])
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        messages.append({"role": "system", "content": instructions})
    messages += _input_messages(body.get("input"))
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for key in ("temperature", "top_p", "user", "parallel_tool_calls", "metadata", "store"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def usage_from_chat(usage: object) -> dict[str, Any] | None:
    """A Responses `usage` object for a Chat `usage` object."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int(cached), "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(reasoning)},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def message_item(text: str, item_id: str, *, status: str = "completed") -> dict[str, Any]:
    """An assistant `message` output item holding one `output_text` part."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call_item(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A completed `function_call` output item (item id derived from the call id)."""
    return {
        "id": f"fc_{call_id}",
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def response_shell(
    request: Mapping[str, Any], *, response_id: str, created_at: int, model: str
) -> dict[str, Any]:
    """A `response` object with no output yet, echoing the request's settings."""
    shell: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "text": request.get("text") or {"format": {"type": "text"}},
        "usage": None,
    }
    for key, default in _ECHOED.items():
        value = request.get(key)
        shell[key] = default if value is None else value
    return shell


def _finish(response: dict[str, Any], finish_reason: object) -> None:
    status, reason = _STATUS.get(str(finish_reason), ("completed", None))
    response["status"] = status
    response["incomplete_details"] = None if reason is None else {"reason": reason}


def response_from_completion(
    completion: Mapping[str, Any], request: Mapping[str, Any], *, created_at: int
) -> dict[str, Any]:
    """The `response` object for one `chat.completion` answering `request`."""
    completion_id = str(completion.get("id") or "chatcmpl")
    response = response_shell(
        request,
        response_id=f"resp_{completion_id}",
        created_at=int(completion.get("created") or created_at),
        model=str(completion.get("model") or request.get("model")),
    )
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    output: list[dict[str, Any]] = []
    if content:
        output.append(message_item(content, f"msg_{completion_id}"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        output.append(
            function_call_item(
                str(call.get("id")), str(function.get("name")), function.get("arguments") or ""
            )
        )
    response["output"] = output
    response["usage"] = usage_from_chat(completion.get("usage"))
    _finish(response, choice.get("finish_reason"))
    return response


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One named SSE event as OpenAI streams it."""
    data = json.dumps(event, ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


class _Sequencer:
    def __init__(self) -> None:
        self.next = 0

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        event["sequence_number"] = self.next
        self.next += 1
        return event


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def _item_events(seq: _Sequencer, index: int, item: Mapping[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    if item["type"] == "message":
        opened = {**item, "status": "in_progress", "content": []}
        events.append(
            seq({"type": "response.output_item.added", "output_index": index, "item": opened})
        )
        for part_index, part in enumerate(item["content"]):
            where = {"item_id": item["id"], "output_index": index, "content_index": part_index}
            text = part.get("text", "")
            events.append(
                seq({"type": "response.content_part.added", **where, "part": _text_part("")})
            )
            if text:
                events.append(
                    seq(
                        {
                            "type": "response.output_text.delta",
                            **where,
                            "delta": text,
                            "logprobs": [],
                        }
                    )
                )
            events.append(
                seq({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
            )
            events.append(seq({"type": "response.content_part.done", **where, "part": part}))
    elif item["type"] == "function_call":
        opened = {**item, "status": "in_progress", "arguments": ""}
        events.append(
            seq({"type": "response.output_item.added", "output_index": index, "item": opened})
        )
        where = {"item_id": item["id"], "output_index": index}
        arguments = item["arguments"]
        if arguments:
            events.append(
                seq({"type": "response.function_call_arguments.delta", **where, "delta": arguments})
            )
        events.append(
            seq({"type": "response.function_call_arguments.done", **where, "arguments": arguments})
        )
    else:
        events.append(
            seq({"type": "response.output_item.added", "output_index": index, "item": item})
        )
    events.append(seq({"type": "response.output_item.done", "output_index": index, "item": item}))
    return events


def terminal_event_type(response: Mapping[str, Any]) -> str:
    """`response.completed`, `response.incomplete` or `response.failed`, by the status."""
    status = response.get("status")
    if status == "incomplete":
        return "response.incomplete"
    if status == "failed":
        return "response.failed"
    return "response.completed"


def events_for_response(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The standard event sequence that streams the complete `response` (one delta per part)."""
    seq = _Sequencer()
    start = {
        **response,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "incomplete_details": None,
    }
    events = [
        seq({"type": "response.created", "response": start}),
        seq({"type": "response.in_progress", "response": start}),
    ]
    for index, item in enumerate(response["output"]):
        events += _item_events(seq, index, item)
    events.append(seq({"type": terminal_event_type(response), "response": dict(response)}))
    return events


class StreamTranslator:
    """Chat `chat.completion.chunk`s -> Responses stream events, emitted as the chunks arrive."""

    def __init__(self, request: Mapping[str, Any], *, created_at: int) -> None:
        self._request = request
        self._created_at = created_at
        self._seq = _Sequencer()
        self._response: dict[str, Any] | None = None
        self._text: list[str] = []
        self._message_index: int | None = None
        self._calls: dict[int, dict[str, Any]] = {}  # chat tool index -> item
        self._call_index: dict[int, int] = {}  # chat tool index -> output index
        self._finish: object = None
        self._usage: object = None
        self._items = 0
        self.done = False

    def _start(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        chunk_id = str(chunk.get("id") or "chatcmpl")
        self._id = chunk_id
        self._response = response_shell(
            self._request,
            response_id=f"resp_{chunk_id}",
            created_at=int(chunk.get("created") or self._created_at),
            model=str(chunk.get("model") or self._request.get("model")),
        )
        return [
            self._seq({"type": "response.created", "response": dict(self._response)}),
            self._seq({"type": "response.in_progress", "response": dict(self._response)}),
        ]

    def _message_where(self) -> dict[str, Any]:
        return {
            "item_id": f"msg_{self._id}",
            "output_index": self._message_index,
            "content_index": 0,
        }

    def feed(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Events for one chunk (the first chunk also opens the response)."""
        events = self._start(chunk) if self._response is None else []
        if chunk.get("usage") is not None:
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                if self._message_index is None:
                    self._message_index = self._items
                    self._items += 1
                    opened = message_item("", f"msg_{self._id}", status="in_progress")
                    opened["content"] = []
                    events.append(
                        self._seq(
                            {
                                "type": "response.output_item.added",
                                "output_index": self._message_index,
                                "item": opened,
                            }
                        )
                    )
                    events.append(
                        self._seq(
                            {
                                "type": "response.content_part.added",
                                **self._message_where(),
                                "part": _text_part(""),
                            }
                        )
                    )
                self._text.append(content)
                events.append(
                    self._seq(
                        {
                            "type": "response.output_text.delta",
                            **self._message_where(),
                            "delta": content,
                            "logprobs": [],
                        }
                    )
                )
            for call in delta.get("tool_calls") or []:
                events += self._call_delta(call)
            if choice.get("finish_reason") is not None:
                self._finish = choice["finish_reason"]
        return events

    def _call_delta(self, call: Mapping[str, Any]) -> list[dict[str, Any]]:
        index = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[dict[str, Any]] = []
        item = self._calls.get(index)
        if item is None:
            call_id = str(call.get("id") or f"call_{index}")
            item = function_call_item(call_id, str(function.get("name") or ""), "")
            item["status"] = "in_progress"
            self._calls[index] = item
            self._call_index[index] = self._items
            self._items += 1
            events.append(
                self._seq(
                    {
                        "type": "response.output_item.added",
                        "output_index": self._call_index[index],
                        "item": dict(item),
                    }
                )
            )
        fragment = function.get("arguments") or ""
        if fragment:
            item["arguments"] += fragment
            events.append(
                self._seq(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": item["id"],
                        "output_index": self._call_index[index],
                        "delta": fragment,
                    }
                )
            )
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The closing events once the chat stream ended (`[DONE]`)."""
        if self._response is None:
            self._start({})
        assert self._response is not None
        events: list[dict[str, Any]] = []
        output: list[tuple[int, dict[str, Any]]] = []
        if self._message_index is not None:
            text = "".join(self._text)
            where = self._message_where()
            item = message_item(text, f"msg_{self._id}")
            events.append(
                self._seq(
                    {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
                )
            )
            events.append(
                self._seq({"type": "response.content_part.done", **where, "part": _text_part(text)})
            )
            events.append(
                self._seq(
                    {
                        "type": "response.output_item.done",
                        "output_index": self._message_index,
                        "item": item,
                    }
                )
            )
            output.append((self._message_index, item))
        for index, item in self._calls.items():
            item["status"] = "completed"
            where = {"item_id": item["id"], "output_index": self._call_index[index]}
            events.append(
                self._seq(
                    {
                        "type": "response.function_call_arguments.done",
                        **where,
                        "arguments": item["arguments"],
                    }
                )
            )
            events.append(
                self._seq(
                    {
                        "type": "response.output_item.done",
                        "output_index": self._call_index[index],
                        "item": item,
                    }
                )
            )
            output.append((self._call_index[index], item))
        self._response["output"] = [item for _, item in sorted(output, key=lambda p: p[0])]
        self._response["usage"] = usage_from_chat(self._usage)
        _finish(self._response, self._finish)
        events.append(
            self._seq({"type": terminal_event_type(self._response), "response": self._response})
        )
        self.done = True
        return events
