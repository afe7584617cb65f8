"""A minimal async client for a Text Embeddings Inference (TEI) server's `/predict` and `/embed`.

It owns one `aiohttp.ClientSession`, created lazily inside the running loop and closed by
`aclose()`. Transport failures and non-200 answers raise `OracleUnavailableError`; bodies that do
not decode to the expected shape raise `OracleOutputError`. It knows nothing about labels or vectors
beyond their wire shape.
"""

from __future__ import annotations

from typing import Any, TypeVar

import aiohttp
import msgspec

from oracles.calls import shorten
from oracles.errors import OracleOutputError, OracleUnavailableError

T = TypeVar("T")


class TEIPrediction(msgspec.Struct):
    """One label score of a `/predict` answer (extra fields a server may add are ignored)."""

    label: str
    score: float


PredictResponse = list[list[TEIPrediction]]
EmbedResponse = list[list[float]]


class TEIClient:
    """POSTs JSON to `{url}/predict` and `{url}/embed`."""

    def __init__(self, url: str, *, oracle: str) -> None:
        self.url = url.rstrip("/")
        self._oracle = oracle
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def post(self, route: str, payload: dict[str, Any], response_type: type[T]) -> T:
        """POST `payload` to `{url}{route}` and decode the answer as `response_type`."""
        endpoint = f"{self.url}{route}"
        try:
            async with self._get_session().post(
                endpoint,
                data=msgspec.json.encode(payload),
                headers={"Content-Type": "application/json"},
            ) as resp:
                body = await resp.read()
                status = resp.status
        except aiohttp.ClientError as exc:
            raise OracleUnavailableError(
                self._oracle, f"TEI request to {endpoint} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if status != 200:
            text = shorten(body.decode("utf-8", errors="replace"))
            raise OracleUnavailableError(
                self._oracle, f"expected HTTP 200 from {endpoint}, got {status}: {text!r}"
            )
        try:
            return msgspec.json.decode(body, type=response_type)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise OracleOutputError(
                self._oracle, f"unexpected response shape from {endpoint}: {exc}"
            ) from exc

    async def aclose(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
