"""A minimal async client for a Text Embeddings Inference server: `/predict`, `/embed`, `/info`.

It owns one `aiohttp.ClientSession`, created lazily inside the running loop and closed by
`aclose()`. Transport failures and non-200 answers raise `OracleUnavailableError`; bodies that do
not decode to the expected shape raise `OracleOutputError`. It knows nothing about labels or vectors
beyond their wire shape. `identity` reads `GET /info` once (TEI answers `{"model_id", "model_sha",
...}`) so transcripts and caches name the model the server really serves, not a configured label.
"""

from __future__ import annotations

from typing import Any, TypeVar

import aiohttp
import msgspec

from oracles.calls import failure_of, scrubbed
from oracles.errors import OracleOutputError, OracleUnavailableError

T = TypeVar("T")


class TEIPrediction(msgspec.Struct):
    """One label score of a `/predict` answer (extra fields a server may add are ignored)."""

    label: str
    score: float


class TEIInfo(msgspec.Struct):
    """The fields of TEI's `GET /info` that identify the served model (others are ignored)."""

    model_id: str
    model_sha: str | None = None


PredictResponse = list[list[TEIPrediction]]
EmbedResponse = list[list[float]]


class TEIClient:
    """POSTs JSON to `{url}/predict` and `{url}/embed`; GETs `{url}/info` once."""

    def __init__(self, url: str, *, oracle: str) -> None:
        self.url = url.rstrip("/")
        self._oracle = oracle
        self._session: aiohttp.ClientSession | None = None
        self._identity: tuple[str, str] | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def identity(self, configured: str | None) -> tuple[str, str]:
        """(model, model_version) from `GET /info`: the served `model_id`, and url + `model_sha`.

        The served id wins over a configured `model` name (kept in `model_version` as
        `configured=...`). A server without `/info` (HTTP 404) keeps the configured name, marked
        `info=absent`.
        """
        if self._identity is None:
            info = await self._request("GET", "/info", None, TEIInfo, missing_ok=True)
            label = f";configured={configured}" if configured else ""
            if info is None:
                self._identity = (configured or "tei", f"url={self.url};info=absent{label}")
            else:
                version = f"url={self.url};model_sha={info.model_sha}{label}"
                self._identity = (info.model_id, version)
        return self._identity

    async def post(self, route: str, payload: dict[str, Any], response_type: type[T]) -> T:
        """POST `payload` to `{url}{route}` and decode the answer as `response_type`."""
        result = await self._request("POST", route, payload, response_type)
        if result is None:
            raise OracleOutputError(self._oracle, f"expected a JSON body from {self.url}{route}")
        return result

    async def _request(
        self,
        method: str,
        route: str,
        payload: dict[str, Any] | None,
        response_type: type[T],
        *,
        missing_ok: bool = False,
    ) -> T | None:
        endpoint = f"{self.url}{route}"
        data = None if payload is None else msgspec.json.encode(payload)
        try:
            async with self._get_session().request(
                method, endpoint, data=data, headers={"Content-Type": "application/json"}
            ) as resp:
                body = await resp.read()
                status = resp.status
        except aiohttp.ClientError as exc:
            raise OracleUnavailableError(
                self._oracle, f"TEI request to {endpoint} failed: {failure_of(exc)}"
            ) from exc
        if status == 404 and missing_ok:
            return None
        if status != 200:
            # never the body: a TEI error may echo the inputs (evidence text)
            raise OracleUnavailableError(
                self._oracle, f"expected HTTP 200 from {endpoint}, got {status}"
            )
        try:
            return msgspec.json.decode(body, type=response_type)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise OracleOutputError(
                self._oracle, f"unexpected response shape from {endpoint}: {scrubbed(exc)}"
            ) from exc

    async def aclose(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
