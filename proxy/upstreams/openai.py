"""An upstream for any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama, LiteLLM, ...).

Requests are forwarded as the bytes the proxy was given and answers come back untouched: status,
body and the headers a client cares about (`content-type`, rate-limit and `openai-*` headers).
Streams are relayed chunk by chunk as they arrive (`iter_any`), never buffered. One pooled
`aiohttp.ClientSession` per upstream carries every request. Non-2xx answers are returned, not
raised, so mode `off` can pass them through byte for byte; transport failures are raised as
`UpstreamConnectError` (502) or `UpstreamTimeoutError` (504). This module never parses or rewrites a
chat body.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiohttp
import msgspec
from multidict import CIMultiDictProxy

from proxy.config import UpstreamConfig
from proxy.server.errors import UpstreamConnectError, UpstreamHTTPError, UpstreamTimeoutError
from proxy.upstreams.base import UpstreamResponse, UpstreamStream
from proxy.upstreams.passthrough import request_headers
from proxy.upstreams.routing import ModelMatcher, is_glob

# client headers that carry meaning for an OpenAI-compatible provider and are safe to forward
_FORWARDED_CLIENT_HEADERS = ("OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta")
_PASSED_BACK_PREFIXES = ("x-ratelimit-", "openai-")
_PASSED_BACK_NAMES = frozenset({"content-type", "retry-after"})


class _ModelList(msgspec.Struct):
    data: list[dict[str, Any]] = msgspec.field(default_factory=list)


class OpenAIUpstream:
    """`proxy.upstreams.base.Upstream` over HTTP to an OpenAI-compatible `base_url`.

    Construct it inside a running event loop (it opens its `ClientSession`); `aclose()` closes it.
    The client's own `Authorization` header is forwarded only when this upstream has no key of its
    own and `forward_client_auth` is true (false when the proxy checks client keys itself).
    """

    kind = "openai"

    def __init__(
        self,
        config: UpstreamConfig,
        *,
        api_key: str | None,
        forward_client_auth: bool = True,
        max_connections: int = 256,
    ) -> None:
        self.name = config.name
        self.config = config
        self._matcher = ModelMatcher(config.models)
        base = config.base_url.rstrip("/")
        self._base_url = base
        self._chat_url = f"{base}/chat/completions"
        self._embeddings_url = f"{base}/embeddings"
        self._models_url = f"{base}/models"
        self._has_key = bool(api_key)
        self._forward_client_auth = forward_client_auth and not api_key
        self._base_headers = {"Content-Type": "application/json"}
        if api_key:
            self._base_headers["Authorization"] = f"Bearer {api_key}"
        connector = aiohttp.TCPConnector(
            limit=max_connections, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30.0
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=config.connect_timeout_s, sock_read=config.read_timeout_s
            ),
            # ask for identity encoding so bodies pass through without a decompress/re-encode step
            skip_auto_headers=("Accept-Encoding",),
            raise_for_status=False,
        )

    @classmethod
    def from_env(
        cls, config: UpstreamConfig, *, forward_client_auth: bool = True, max_connections: int = 256
    ) -> OpenAIUpstream:
        """Build the upstream, reading its key from the environment variable the config names."""
        api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        return cls(
            config,
            api_key=api_key or None,
            forward_client_auth=forward_client_auth,
            max_connections=max_connections,
        )

    @property
    def has_key(self) -> bool:
        """Whether a provider key was found for this upstream."""
        return self._has_key

    def serves(self, model: str) -> bool:
        """Whether this upstream's model patterns match `model`."""
        return self._matcher.matches(model)

    def _headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        headers = dict(self._base_headers)
        if self._forward_client_auth:
            auth = client_headers.get("Authorization")
            if auth:
                headers["Authorization"] = auth
        for name in _FORWARDED_CLIENT_HEADERS:
            value = client_headers.get(name)
            if value is not None:
                headers[name] = value
        return headers

    def transport_errors(self) -> contextlib.AbstractContextManager[None]:
        """Context mapping transport failures to 502/504 (for readers of `open_raw` answers)."""
        return self._translate_errors()

    def relay_body(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        """An `open_raw` answer's body chunk by chunk; the connection is released at the end."""
        return self._relay(resp)

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except TimeoutError as exc:
            raise UpstreamTimeoutError(
                f"Upstream {self.name!r} did not answer within its timeout "
                f"(connect {self.config.connect_timeout_s}s, read {self.config.read_timeout_s}s)"
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamConnectError(
                f"Could not reach upstream {self.name!r}: {type(exc).__name__}"
            ) from exc

    async def _post(
        self, url: str, body: bytes, client_headers: Mapping[str, str]
    ) -> UpstreamResponse:
        with self._translate_errors():
            async with self._session.post(
                url, data=body, headers=self._headers(client_headers)
            ) as resp:
                payload = await resp.read()
                return UpstreamResponse(resp.status, payload, _passed_back(resp.headers))

    async def chat(
        self, body: bytes, parsed: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamResponse:
        """Forward a non-streaming chat completion; statuses come back as sent."""
        return await self._post(self._chat_url, body, client_headers)

    async def chat_stream(
        self, body: bytes, parsed: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamStream:
        """Forward a streaming chat completion; a non-2xx answer is one chunk."""
        with self._translate_errors():
            resp = await self._session.post(
                self._chat_url, data=body, headers=self._headers(client_headers)
            )
            if resp.status >= 400:
                try:
                    payload = await resp.read()
                finally:
                    resp.release()
                return UpstreamStream(resp.status, _passed_back(resp.headers), _one_chunk(payload))
        return UpstreamStream(resp.status, _passed_back(resp.headers), self._relay(resp))

    async def _relay(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        finished = False
        try:
            with self._translate_errors():
                async for chunk in resp.content.iter_any():
                    yield chunk
            finished = True
        finally:
            if finished:
                resp.release()
            else:
                # the client went away or the upstream failed: drop the connection so upstream stops
                resp.close()

    async def embeddings(self, body: bytes, client_headers: Mapping[str, str]) -> UpstreamResponse:
        """Forward `/v1/embeddings` unchanged."""
        return await self._post(self._embeddings_url, body, client_headers)

    async def open_raw(
        self,
        method: str,
        tail: str,
        client_headers: Mapping[str, str],
        body: bytes | aiohttp.StreamReader | None,
    ) -> aiohttp.ClientResponse:
        """Send one pass-through request (`tail` = path after `/v1`, with its query string).

        The client's headers go through `proxy.upstreams.passthrough.request_headers`, with this
        upstream's authorization; a `StreamReader` body is streamed, never read whole. The caller
        reads the answer and must `release()` (or `close()`) it.
        """
        headers = request_headers(client_headers)
        if not isinstance(body, aiohttp.StreamReader):
            # a bytes body may differ from the client's (fields stripped): aiohttp sets the length
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        auth = self._headers(client_headers).get("Authorization")
        if auth:
            headers["Authorization"] = auth
        with self._translate_errors():
            return await self._session.request(
                method, self._base_url + tail, data=body, headers=headers
            )

    async def list_models(
        self, client_headers: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Models this upstream offers: exact names plus provider models matching globs."""
        exact = [p for p in self.config.models if not is_glob(p)]
        models = [_model_object(m, self.name) for m in exact]
        if len(exact) == len(self.config.models):
            return models
        with self._translate_errors():
            async with self._session.get(
                self._models_url, headers=self._headers(client_headers or {})
            ) as resp:
                payload = await resp.read()
                if resp.status >= 400:
                    # relayed as such: a 401 for a bad client key stays a 401
                    raise UpstreamHTTPError(
                        _error_message(payload)
                        or f"Upstream {self.name!r} answered {resp.status} to GET /models",
                        status=resp.status,
                        error_type="invalid_request_error" if resp.status < 500 else "api_error",
                    )
        try:
            listed = msgspec.json.decode(payload, type=_ModelList).data
        except msgspec.DecodeError as exc:
            raise UpstreamHTTPError(
                f"Upstream {self.name!r} returned a malformed model list: {exc}", status=502
            ) from exc
        seen = set(exact)
        for model in listed:
            model_id = model.get("id")
            if isinstance(model_id, str) and model_id not in seen and self.serves(model_id):
                seen.add(model_id)
                models.append(model)
        return models

    async def aclose(self) -> None:
        """Close the pooled session."""
        await self._session.close()
        # let the transports finish closing so no ResourceWarning escapes
        await asyncio.sleep(0)


def _passed_back(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in _PASSED_BACK_NAMES or lower.startswith(_PASSED_BACK_PREFIXES):
            kept[name] = value
    return kept


class _ErrorBody(msgspec.Struct):
    message: str


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody


def _error_message(payload: bytes) -> str | None:
    try:
        return msgspec.json.decode(payload, type=_ErrorEnvelope).error.message
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


async def _one_chunk(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


def _model_object(model_id: str, owner: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}
