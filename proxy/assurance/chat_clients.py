"""The `oracles.protocols.ChatClient` the proxy hands to LLM oracles: one per configured upstream.

An LLM oracle (decomposer, NLI judge, paraphraser) calls `complete(model=, messages=)`; this client
sends a non-streaming, temperature-0 Chat Completions request through the proxy's own provider
client (`proxy.upstreams.base.Upstream.chat`), so oracle traffic uses the same keys, timeouts and
translation (Anthropic included) as client traffic. JSON mode (`response_format: json_object`) is
asked of OpenAI-compatible upstreams only: the Anthropic translation refuses any `response_format`
but text (it has no faithful equivalent), so for `kind = "anthropic"` the request carries none and
JSON rests on the oracle prompts, which demand one JSON object, and on the adapters' strict parsers,
which reject anything else. Failures become
`oracles.errors.OracleUnavailableError` / `OracleTimeoutError` / `OracleOutputError` naming the
upstream. It does not parse the oracle's JSON: that is the adapter's job (and an unparseable answer
is the adapter's failure).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import msgspec

from oracles.errors import OracleOutputError, OracleTimeoutError, OracleUnavailableError
from proxy.server.errors import UpstreamError, UpstreamTimeoutError
from proxy.upstreams.base import Upstream, UpstreamResponse

#: upstream kinds whose translation refuses `response_format` other than text (a 400)
_NO_JSON_MODE_KINDS = frozenset({"anthropic"})


async def _answered(oracle: str, call: Awaitable[UpstreamResponse]) -> UpstreamResponse:
    """Await an upstream call; transport errors and non-200 answers become oracle errors."""
    try:
        response = await call
    except UpstreamTimeoutError as exc:
        raise OracleTimeoutError(oracle, exc.message) from exc
    except UpstreamError as exc:
        raise OracleUnavailableError(oracle, exc.message) from exc
    if response.status != 200:
        raise OracleUnavailableError(
            oracle, f"expected HTTP 200 from the upstream, got {response.status}"
        )
    return response


class UpstreamChatClient:
    """`ChatClient` over one upstream; `oracle` in its errors reads `chat:<upstream name>`."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream
        self._name = f"chat:{upstream.name}"
        self._json_mode = upstream.kind not in _NO_JSON_MODE_KINDS

    async def complete(self, *, model: str, messages: list[dict[str, str]]) -> str:
        """The assistant text of a completion of `messages` by `model` (JSON mode where offered)."""
        request: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": 0,
            "stream": False,
        }
        if self._json_mode:
            request["response_format"] = {"type": "json_object"}
        body = msgspec.json.encode(request)
        response = await _answered(self._name, self._upstream.chat(body, request, {}))
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
        response = await _answered(self._name, self._upstream.embeddings(body, {}))
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
