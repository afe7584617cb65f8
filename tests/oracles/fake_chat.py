"""Fake `ChatClient` / `EmbeddingsClient` for the LLM adapter tests (no network).

`FakeChat` answers from a script: a fixed reply, a list consumed in order, or a function of the
messages. It records every call, sleeps an optional delay, tracks the peak number of calls in
flight, and can raise a given exception. `data_sections` extracts the decoded data sections of a
prompt so that a fake "judge" can read its inputs the way the prompt defines them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence

Messages = list[dict[str, str]]
Script = str | Sequence[str] | Callable[[Messages], str]

_SECTION = re.compile(r'<data name="(?P<name>[a-z_]+)">\n(?P<body>.*?)\n</data>', re.DOTALL)


def data_sections(messages: Messages) -> dict[str, str]:
    """name -> decoded text of each data section in the user message."""
    user = messages[-1]["content"]
    return {m.group("name"): json.loads(m.group("body")) for m in _SECTION.finditer(user)}


class FakeChat:
    """Scripted chat client implementing `oracles.protocols.ChatClient`."""

    def __init__(
        self, script: Script, *, delay_s: float = 0.0, error: Exception | None = None
    ) -> None:
        self.script = script
        self.delay_s = delay_s
        self.error = error
        self.calls: list[tuple[str, Messages]] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    async def complete(self, *, model: str, messages: Messages) -> str:
        """Record the call and answer from the script."""
        index = len(self.calls)
        self.calls.append((model, messages))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.error is not None:
            raise self.error
        if isinstance(self.script, str):
            return self.script
        if callable(self.script):
            return self.script(messages)
        return self.script[index]


class FakeEmbeddings:
    """Scripted embeddings client implementing `oracles.protocols.EmbeddingsClient`."""

    def __init__(self, vectors: Callable[[str], list[float]]) -> None:
        self.vectors = vectors
        self.calls: list[tuple[str, list[str]]] = []

    async def embed(self, *, model: str, inputs: list[str]) -> list[list[float]]:
        """One vector per input from the `vectors` function."""
        self.calls.append((model, inputs))
        return [self.vectors(text) for text in inputs]
