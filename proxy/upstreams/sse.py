"""Incremental server-sent-events framing: raw bytes in any network framing -> whole events.

`SSESplitter.feed(bytes)` returns each complete event (its raw bytes, terminator included, and
its joined `data:` payload) as soon as its blank line arrives; `rest()` is what remained when the
stream ended. Accepts `\\n\\n`, `\\r\\n\\r\\n` and `\\r\\r` terminators. No JSON decoding, no IO.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TERMINATOR = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\n|\r")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: its bytes as received and its `data` lines joined by newlines."""

    raw: bytes
    data: str
    event: str | None


def parse_event(raw: bytes) -> SSEEvent:
    """The fields of one complete event's bytes."""
    data: list[str] = []
    name: str | None = None
    for line in _LINE.split(raw):
        if line.startswith(b"data:"):
            data.append(line[5:].removeprefix(b" ").decode("utf-8", "replace"))
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
    return SSEEvent(raw=raw, data="\n".join(data), event=name)


class SSESplitter:
    """Splits a byte stream into events; linear in the stream's size."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by `chunk`."""
        # rescan a few bytes back in case a terminator straddles the previous chunk
        start_scan = max(0, len(self._buffer) - 3)
        self._buffer += chunk
        events: list[SSEEvent] = []
        start = 0
        for match in _TERMINATOR.finditer(self._buffer, start_scan):
            if match.start() < start:
                continue
            events.append(parse_event(bytes(self._buffer[start : match.end()])))
            start = match.end()
        del self._buffer[:start]
        return events

    def rest(self) -> bytes:
        """Bytes of an unterminated last event (empty for a well-formed stream)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest
