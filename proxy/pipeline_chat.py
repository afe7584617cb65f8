"""The `oracles.protocols.ChatClient` the proxy hands to LLM oracles: one per configured upstream.

An LLM oracle (decomposer, NLI judge, paraphraser) calls `complete(model=, messages=)`; this client
sends a non-streaming, JSON-mode, temperature-0 Chat Completions request through the proxy's own
provider client (`proxy.upstream_base.Upstream.chat`), so oracle traffic uses the same keys,
timeouts and translation (Anthropic included) as client traffic. Failures become
`oracles.errors.OracleUnavailableError` / `OracleTimeoutError` / `OracleOutputError` naming the
upstream. It does not parse the oracle's JSON: that is the adapter's job (and an unparseable answer
is the adapter's failure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from oracles.errors import OracleOutputError, OracleTimeoutError, OracleUnavailableError
from proxy.errors import UpstreamError, UpstreamTimeoutError
from proxy.upstream_base import Upstream


class UpstreamChatClient:
    """`ChatClient` over one upstream; `oracle` in its errors reads `chat:<upstream name>`."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream
        self._name = f"chat:{upstream.name}"

    async def complete(self, *, model: str, messages: list[dict[str, str]]) -> str:
        """The assistant text of a JSON-mode completion of `messages` by `model`."""
        request: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": 0,
            "stream": False,
            "response_format": {"type": "json_object"},
        }
        body = msgspec.json.encode(request)
        try:
            response = await self._upstream.chat(body, request, {})
        except UpstreamTimeoutError as exc:
            raise OracleTimeoutError(self._name, exc.message) from exc
        except UpstreamError as exc:
            raise OracleUnavailableError(self._name, exc.message) from exc
        if response.status != 200:
            raise OracleUnavailableError(
                self._name, f"expected HTTP 200 from the upstream, got {response.status}"
            )
        return self._content(response.body)

    def _content(self, body: bytes) -> str:
        try:
            parsed = msgspec.json.decode(body)
            content = parsed["choices"][0]["message"]["content"]
        except (msgspec.DecodeError, KeyError, IndexError, TypeError) as exc:
            raise OracleOutputError(
                self._name, "expected a ChatCompletion with choices[0].message.content"
            ) from exc
        if not isinstance(content, str):
            raise OracleOutputError(
                self._name,
                f"expected choices[0].message.content to be a string, got {type(content).__name__}",
            )
        return content


class UpstreamEmbeddingsClient:
    """`EmbeddingsClient` over an upstream's `/v1/embeddings`; errors name `embeddings:<name>`."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream
        self._name = f"embeddings:{upstream.name}"

    async def embed(self, *, model: str, inputs: list[str]) -> list[list[float]]:
        """One vector per input text, in input order."""
        body = msgspec.json.encode({"model": model, "input": inputs, "encoding_format": "float"})
        try:
            response = await self._upstream.embeddings(body, {})
        except UpstreamTimeoutError as exc:
            raise OracleTimeoutError(self._name, exc.message) from exc
        except UpstreamError as exc:
            raise OracleUnavailableError(self._name, exc.message) from exc
        if response.status != 200:
            raise OracleUnavailableError(
                self._name, f"expected HTTP 200 from the upstream, got {response.status}"
            )
        try:
            parsed = msgspec.json.decode(response.body, type=_EmbeddingsBody)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise OracleOutputError(self._name, f"expected an embeddings list: {exc}") from exc
        by_index = sorted(parsed.data, key=lambda item: item.index)
        if [item.index for item in by_index] != list(range(len(inputs))):
            raise OracleOutputError(
                self._name, f"expected {len(inputs)} embeddings, got {len(parsed.data)}"
            )
        return [item.embedding for item in by_index]


class _EmbeddingItem(msgspec.Struct):
    index: int
    embedding: list[float]


class _EmbeddingsBody(msgspec.Struct):
    data: list[_EmbeddingItem]


def chat_clients(upstreams: Sequence[Upstream]) -> Mapping[str, UpstreamChatClient]:
    """One chat client per upstream, keyed by its name (what `[oracles.*].upstream` names)."""
    return {upstream.name: UpstreamChatClient(upstream) for upstream in upstreams}


def embeddings_clients(upstreams: Sequence[Upstream]) -> Mapping[str, UpstreamEmbeddingsClient]:
    """One embeddings client per upstream, keyed by its name."""
    return {upstream.name: UpstreamEmbeddingsClient(upstream) for upstream in upstreams}
