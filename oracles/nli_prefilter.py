"""Top-k pre-filter for `per_chunk` NLI: judge each claim only against its most similar chunks.

Claims and chunks are embedded with the packaged all-MiniLM-L6-v2 (unit vectors, one batch), the
cosine of every (claim, chunk) becomes an integer over 10⁶, and each claim keeps the `k` chunks
with the highest integer similarity, ties to the lower chunk index. The integers and the chosen
indices are recorded (`PrefilterRecord`) so the certifiers can check which pairs were judged; a
pair left out scores (0, 0), i.e. neutral — an assumption the certificate declares.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from oracles.models import SentenceTransformerModel, default_embedding_model_path, fingerprint
from oracles.types import PrefilterRecord

SIMILARITY_SCALE = 10**6


def top_k(row: Sequence[int], k: int) -> list[int]:
    """Indices of the k largest values, best first, ties to the lower index."""
    return sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]


def similarity_ints(
    claims: Sequence[Sequence[float]], chunks: Sequence[Sequence[float]]
) -> list[list[int]]:
    """round(cos · 10⁶) of unit vectors, clamped to [-10⁶, 10⁶]."""
    out: list[list[int]] = []
    for claim in claims:
        row = []
        for chunk in chunks:
            cosine = sum(a * b for a, b in zip(claim, chunk, strict=True))
            row.append(
                max(-SIMILARITY_SCALE, min(SIMILARITY_SCALE, round(cosine * SIMILARITY_SCALE)))
            )
        out.append(row)
    return out


class ChunkPrefilter(Protocol):
    """Chooses the chunks each claim is judged against (`k` per claim)."""

    k: int

    async def select(self, claims: Sequence[str], chunks: Sequence[str]) -> PrefilterRecord: ...


class EmbeddingPrefilter:
    """Chooses each claim's top-k chunks by MiniLM cosine similarity (a local model)."""

    def __init__(
        self, k: int, *, model_path: Path | None = None, device: str | None = None
    ) -> None:
        path = model_path or default_embedding_model_path()
        self.k = k
        self.model = f"all-MiniLM-L6-v2@{fingerprint(path)}"
        self._model = SentenceTransformerModel(path, device=device)

    async def select(self, claims: Sequence[str], chunks: Sequence[str]) -> PrefilterRecord:
        """The record of which chunks each claim is judged against."""
        vectors = await asyncio.to_thread(self._model.encode, [*claims, *chunks], batch_size=64)
        similarity = similarity_ints(vectors[: len(claims)], vectors[len(claims) :])
        return PrefilterRecord(
            k=self.k,
            model=self.model,
            similarity=similarity,
            judged=[top_k(row, self.k) for row in similarity],
        )
