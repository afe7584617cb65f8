"""The contract every upstream provider client implements, whatever its wire format.

An upstream takes an OpenAI Chat Completions request and answers in OpenAI's format: an
OpenAI-compatible upstream forwards bytes untouched; an Anthropic upstream translates both ways.
Failures are raised as `proxy.server.errors.UpstreamConnectError`, `UpstreamTimeoutError` or
`UpstreamHTTPError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from proxy.config import UpstreamConfig


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """A complete (non-streaming) upstream answer in OpenAI's wire format."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class UpstreamStream:
    """A streaming upstream answer: status and headers known up front, then OpenAI SSE bytes.

    `chunks` yields raw bytes exactly as they should reach the client (`data: {...}\\n\\n` events,
    ending with `data: [DONE]\\n\\n`). `aclose()` cancels the upstream request (client disconnect).
    """

    status: int
    headers: Mapping[str, str]
    chunks: AsyncIterator[bytes]

    async def aclose(self) -> None:
        """Stop reading and release the upstream connection."""
        closer = getattr(self.chunks, "aclose", None)
        if closer is not None:
            await closer()


class Upstream(Protocol):
    """A named provider client that serves a set of models."""

    name: str
    kind: str
    config: UpstreamConfig

    def serves(self, model: str) -> bool:
        """Whether this upstream's model patterns match `model`."""
        ...

    async def list_models(
        self, client_headers: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """OpenAI `model` objects this upstream offers (`client_headers` may carry the key)."""
        ...

    async def chat(
        self, body: bytes, parsed: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """Non-streaming completion: `body` is the request to forward, `parsed` its decoded form."""
        ...

    async def chat_stream(
        self, body: bytes, parsed: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamStream:
        """Streaming completion; raises before returning if the upstream refuses the request."""
        ...

    async def embeddings(self, body: bytes, client_headers: Mapping[str, str]) -> UpstreamResponse:
        """Pass-through `/v1/embeddings`; without embeddings support raise UpstreamHTTPError 404."""
        ...

    async def aclose(self) -> None:
        """Release sessions and connections."""
        ...
