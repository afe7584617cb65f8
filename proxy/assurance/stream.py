"""Server-sent events for the assurance modes (SPEC 3.3): tee an upstream stream, and replay an
answer.

`StreamTee` reads the upstream's OpenAI SSE bytes as they pass through to the client (shadow mode)
and accumulates the message: content, tool calls and a legacy `function_call` (arguments joined
across deltas, a resent identical `id`/`name` kept once), finish reason, usage; it records whether
the stream ended properly (`complete`), whether another choice index appeared, and whether the text
exceeded `max_answer_bytes`. A chunk that is not JSON or has ill-typed fields
(`proxy.assurance.chunk_check`) is relayed but not accumulated: the tee records the first such
`fault` (for an abstain card) and never raises. Whatever the upstream's framing, `separator()` says
what must precede an event the proxy adds (trailer, error), so it is never glued to an unterminated
upstream line.
`completion_chunks` turns a finished ChatCompletion (enforce mode, after certification) into chunk
events: a role chunk, the content in several pieces, the tool calls, a finish chunk, then the usage
chunk when `stream_options.include_usage` asked for it; the last chunk before `[DONE]` carries
`"assurance"`. This module neither certifies nor decides what is emitted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from proxy.assurance.chunk_check import chunk_fault

DONE_EVENT = b"data: [DONE]\n\n"
CONTENT_PIECE_CHARS = 48


def sse_event(payload: dict[str, Any]) -> bytes:
    """One `data: {...}` event."""
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"


class StreamTee:
    """Accumulates a streamed chat completion from its SSE bytes, whatever their network framing.

    Work is linear in the stream's size: the buffer is a `bytearray` scanned from where the last
    scan stopped. Memory is bounded by `max_answer_bytes`: past it the accumulated text is dropped
    (`overflow`), the bytes still pass through, and an unterminated event longer than the limit is
    forwarded as it is.
    """

    def __init__(self, max_answer_bytes: int = 1 << 20) -> None:
        self._buffer = bytearray()
        self._scan = 0
        self._max_bytes = max_answer_bytes
        self._accumulated = 0
        self.done = False
        self.overflow = False
        self.extra_choices = False
        self.id: str | None = None
        self.created: int | None = None
        self.model: str | None = None
        self.system_fingerprint: str | None = None
        self.content_parts: list[str] = []
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self._tool_calls: dict[int, dict[str, Any]] = {}
        self._function_call: dict[str, str] | None = None
        # the first malformed event (fixed text naming the field, no upstream values)
        self.fault: str | None = None
        self._events = 0
        # the last bytes relayed, to frame whatever the proxy appends as an event of its own
        self._tail = b""

    @property
    def complete(self) -> bool:
        """Whether the upstream ended the answer properly (a finish reason, then `[DONE]`)."""
        return self.done and self.finish_reason is not None

    def feed(self, data: bytes) -> bytes:
        """Consume raw bytes; return the complete events to forward now (all but `[DONE]`).

        Events are forwarded whole as soon as their blank-line terminator arrives, so a well-framed
        upstream stream passes through with no added delay; `[DONE]` is held back for the caller.
        """
        self._buffer += data
        forward: list[bytes] = []
        start = 0
        while True:
            end = _event_end(self._buffer, max(start, self._scan))
            if end < 0:
                break
            event = bytes(self._buffer[start:end])
            start = self._scan = end
            if self._event(event):
                forward.append(event)
        del self._buffer[:start]
        if len(self._buffer) > self._max_bytes:
            # one unterminated event beyond the limit: relay it, stop certifying the text
            forward.append(bytes(self._buffer))
            self._buffer.clear()
            self._overflowed()
        # a separator may straddle two feeds: rescan the last 3 bytes next time
        self._scan = max(0, len(self._buffer) - 3)
        return self._relayed(b"".join(forward))

    def flush(self) -> bytes:
        """At the end of the upstream stream: the unterminated remainder, if any, to forward.

        A remainder that parses is relayed with its missing blank line added (so the client
        dispatches what was certified); one that does not (a cut-off event) is dropped, as an SSE
        client discards an unterminated event, and recorded as the stream's fault.
        """
        rest = bytes(self._buffer)
        self._buffer.clear()
        self._scan = 0
        if not rest.strip():
            return b""
        had_fault = self.fault is not None
        keep = self._event(rest)
        if self.fault is not None and not had_fault:
            self.fault = f"the stream ended inside an unterminated event ({self.fault})"
            return b""
        if not keep:
            return b""
        return self._relayed(rest + (b"\n" if rest.endswith(b"\n") else b"\n\n"))

    def _relayed(self, data: bytes) -> bytes:
        if data:
            self._tail = (self._tail + data)[-4:]
        return data

    def separator(self) -> bytes:
        """The line ends needed before a new event, given the last bytes relayed."""
        if not self._tail or self._tail.endswith((b"\n\n", b"\r\n\r\n", b"\r\r")):
            return b""
        return b"\n" if self._tail.endswith((b"\n", b"\r")) else b"\n\n"

    def _faulted(self, reason: str) -> None:
        if self.fault is None:
            self.fault = f"event {self._events}: {reason}"

    def _overflowed(self) -> None:
        self.overflow = True
        self.content_parts.clear()
        self._tool_calls.clear()

    def _count(self, size: int) -> bool:
        # whether `size` more accumulated bytes stay within the limit
        self._accumulated += size
        if self._accumulated > self._max_bytes and not self.overflow:
            self._overflowed()
        return not self.overflow

    def _event(self, event: bytes) -> bool:
        # one SSE event (its lines and terminator); False for the `[DONE]` sentinel
        self._events += 1
        keep = True
        for line in event.splitlines():
            stripped = line.strip()
            if stripped in (b"data: [DONE]", b"data:[DONE]"):
                self.done = True
                keep = False
            else:
                self._line(stripped)
        return keep

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        payload = line[len(b"data:") :].strip()
        try:
            chunk = json.loads(payload)
        except (ValueError, RecursionError):
            self._faulted("data is not JSON")
            return
        fault = chunk_fault(chunk)
        if fault is not None:
            self._faulted(fault)
            return
        try:
            self._chunk(chunk)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # a shape chunk_check lets through but the accumulation cannot use: never raise
            self._faulted(f"unusable chunk ({type(exc).__name__})")

    def _chunk(self, chunk: dict[str, Any]) -> None:
        self.id = chunk.get("id", self.id)
        self.created = chunk.get("created", self.created)
        self.model = chunk.get("model", self.model)
        self.system_fingerprint = chunk.get("system_fingerprint", self.system_fingerprint)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                self.extra_choices = True
                continue
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str) and self._count(len(content)):
                self.content_parts.append(content)
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    self._tool_call_delta(call)
            legacy = delta.get("function_call")
            if isinstance(legacy, dict):
                self._function_call_delta(legacy)

    def _function_call_delta(self, delta: dict[str, Any]) -> None:
        if self.overflow:
            return
        slot = self._function_call = self._function_call or {"name": "", "arguments": ""}
        self._join(slot, delta)

    def _tool_call_delta(self, call: dict[str, Any]) -> None:
        if self.overflow:
            return
        function = call.get("function")
        slot = self._tool_calls.setdefault(
            int(call.get("index", 0)),
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if isinstance(call.get("id"), str) and call["id"]:
            slot["id"] = call["id"]
        if isinstance(function, dict):
            self._join(slot["function"], function)

    def _join(self, slot: dict[str, str], delta: dict[str, Any]) -> None:
        # arguments are appended; a name equal to the one accumulated so far is a repeat, not a
        # fragment (llama.cpp and vLLM resend `name` in every delta): openai-node's stream helper
        # takes it as is, and so do we, while a differing fragment is still appended
        name, arguments = delta.get("name"), delta.get("arguments")
        name = name if isinstance(name, str) and name != slot["name"] else ""
        arguments = arguments if isinstance(arguments, str) else ""
        if self._count(len(name) + len(arguments)):
            slot["name"] += name
            slot["arguments"] += arguments

    def completion(self) -> dict[str, Any]:
        """The accumulated answer as a non-streaming ChatCompletion object."""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content_parts)}
        if self._tool_calls:
            message["tool_calls"] = [self._tool_calls[i] for i in sorted(self._tool_calls)]
        if self._function_call is not None:
            message["function_call"] = dict(self._function_call)
        completion: dict[str, Any] = {
            "id": self.id or "",
            "object": "chat.completion",
            "created": self.created or 0,
            "model": self.model or "",
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
        }
        if self.usage is not None:
            completion["usage"] = self.usage
        return completion

    def trailer_chunk(self, assurance: dict[str, Any]) -> bytes:
        """Shadow mode's extra chunk: `"choices": []` and the `"assurance"` object, framed as an
        event of its own whatever the upstream's last bytes were."""
        return self.separator() + sse_event(
            {
                "id": self.id or "",
                "object": "chat.completion.chunk",
                "created": self.created or 0,
                "model": self.model or "",
                "choices": [],
                "assurance": assurance,
            }
        )


def _event_end(buffer: bytearray, start: int = 0) -> int:
    """Index just past the first event terminator (a blank line) at or after `start`, else -1."""
    ends = [i + len(sep) for sep in (b"\n\n", b"\r\n\r\n") if (i := buffer.find(sep, start)) >= 0]
    return min(ends) if ends else -1


def completion_chunks(
    completion: dict[str, Any], assurance: dict[str, Any], *, include_usage: bool
) -> Iterator[bytes]:
    """Enforce mode's stream of an already certified completion, ending with `[DONE]`."""
    base = {
        "id": completion.get("id", ""),
        "object": "chat.completion.chunk",
        "created": completion.get("created", 0),
        "model": completion.get("model", ""),
    }
    if "system_fingerprint" in completion:
        base["system_fingerprint"] = completion["system_fingerprint"]
    choice = completion["choices"][0]
    message = choice.get("message") or {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    # a tool-only answer keeps `content: null` from its first chunk on, as the upstream sent it
    content = message.get("content")
    events: list[dict[str, Any]] = [
        chunk({"role": "assistant", "content": None if content is None else ""})
    ]
    content = content or ""
    events.extend(chunk({"content": piece}) for piece in split_content(content))
    for index, call in enumerate(message.get("tool_calls") or ()):
        events.append(chunk({"tool_calls": [{"index": index, **call}]}))
    if message.get("function_call") is not None:
        events.append(chunk({"function_call": message["function_call"]}))
    events.append(chunk({}, choice.get("finish_reason") or "stop"))
    if include_usage:
        events.append({**base, "choices": [], "usage": completion.get("usage")})
    events[-1] = {**events[-1], "assurance": assurance}
    for event in events:
        yield sse_event(event)
    yield DONE_EVENT


def split_content(content: str, piece_chars: int = CONTENT_PIECE_CHARS) -> list[str]:
    """Split text into pieces of about `piece_chars` at word boundaries; joined they are it."""
    pieces: list[str] = []
    start = 0
    while start < len(content):
        end = min(start + piece_chars, len(content))
        if end < len(content):
            space = content.rfind(" ", start + 1, end)
            end = space + 1 if space > start else end
        pieces.append(content[start:end])
        start = end
    return pieces
