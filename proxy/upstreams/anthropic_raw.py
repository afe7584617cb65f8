"""Raw HTTP to an Anthropic upstream, for the `/v1/messages` front door's byte-for-byte relay.

`AnthropicRaw.open_raw(method, tail, client_headers, body)` sends one request under the upstream's
`/v1` (the SDK is bypassed so bytes, SSE framing and headers pass untouched). The client's headers
go through `proxy.upstreams.passthrough.request_headers` (so `anthropic-version` and
`anthropic-beta` are kept) and the key is the upstream's own, else the client's `x-api-key` or
bearer token when forwarding is allowed, else none. Transport failures become 502/504.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping

import aiohttp

from proxy.config import UpstreamConfig
from proxy.server.errors import UpstreamConnectError, UpstreamTimeoutError
from proxy.upstreams.passthrough import request_headers

DEFAULT_VERSION = "2023-06-01"


class AnthropicRaw:
    """One pooled aiohttp session to an Anthropic base URL, opened on first use."""

    def __init__(
        self, config: UpstreamConfig, *, api_key: str | None, forward_client_auth: bool
    ) -> None:
        self.name = config.name
        self.config = config
        base = config.base_url.rstrip("/")
        self._base_url = (base.removesuffix("/v1") or base) + "/v1"
        self._api_key = api_key
        self._forward_client_auth = forward_client_auth and not api_key
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # opened on first use, inside the running loop (the upstream may be built outside one)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self.config.connect_timeout_s,
                    sock_read=self.config.read_timeout_s,
                ),
                skip_auto_headers=("Accept-Encoding",),
                raise_for_status=False,
            )
        return self._session

    def _key(self, client_headers: Mapping[str, str]) -> str | None:
        if self._api_key:
            return self._api_key
        if not self._forward_client_auth:
            return None
        key = client_headers.get("x-api-key") or client_headers.get("X-Api-Key")
        bearer = client_headers.get("Authorization") or ""
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[len("bearer ") :].strip()
        return key or None

    @contextlib.contextmanager
    def transport_errors(self) -> Iterator[None]:
        """Map transport failures to 502 / 504."""
        try:
            yield
        except TimeoutError as exc:
            raise UpstreamTimeoutError(f"Upstream {self.name!r} did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamConnectError(
                f"Could not reach upstream {self.name!r}: {type(exc).__name__}"
            ) from exc

    async def open_raw(
        self,
        method: str,
        tail: str,
        client_headers: Mapping[str, str],
        body: bytes | aiohttp.StreamReader | None,
    ) -> aiohttp.ClientResponse:
        """Send one request (`tail` after `/v1`, query included); the caller releases it."""
        headers = request_headers(client_headers)
        if not isinstance(body, aiohttp.StreamReader):
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        if not any(name.lower() == "anthropic-version" for name in headers):
            headers["anthropic-version"] = DEFAULT_VERSION
        key = self._key(client_headers)
        if key:
            headers["x-api-key"] = key
        with self.transport_errors():
            return await self._open().request(
                method, self._base_url + tail, data=body, headers=headers
            )

    async def relay_body(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        """An answer's body chunk by chunk; the connection is released (or dropped) at the end."""
        finished = False
        try:
            with self.transport_errors():
                async for chunk in resp.content.iter_any():
                    yield chunk
            finished = True
        finally:
            if finished:
                resp.release()
            else:
                resp.close()

    async def aclose(self) -> None:
        """Close the session (if it was ever opened)."""
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)
