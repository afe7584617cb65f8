"""The oracle protocols (SPEC 4) and the client protocols adapters call through.

Every oracle method is async and returns a typed record from `oracles.types` carrying a transcript
digest. `ChatClient` and `EmbeddingsClient` are implemented by the proxy over its provider clients,
so this package never imports `proxy`. This module holds no implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from oracles.types import Decomposition, EmbeddingBatch, NLIJudgments, Paraphrases


@runtime_checkable
class ChatClient(Protocol):
    """One upstream's chat completion: returns the assistant message text."""

    async def complete(self, *, model: str, messages: list[dict[str, str]]) -> str: ...


@runtime_checkable
class EmbeddingsClient(Protocol):
    """One upstream's `/v1/embeddings`: one vector per input text, in input order."""

    async def embed(self, *, model: str, inputs: list[str]) -> list[list[float]]: ...


class Decomposer(Protocol):
    """Answer -> atomic claims with weights and spans (DecompositionOracle)."""

    adapter: str
    model: str

    async def decompose(self, answer: str, *, query: str | None) -> Decomposition: ...


class NLIJudge(Protocol):
    """(claims, evidence chunks) -> signed support matrices (SignedSupportOracle)."""

    adapter: str
    model: str

    async def judge(
        self, claims: Sequence[str], evidence: Sequence[str], *, query: str | None = None
    ) -> NLIJudgments: ...


class Paraphraser(Protocol):
    """Text -> (G_inv, G_sig) variant families (ParaphraseOracle)."""

    adapter: str
    model: str

    async def paraphrase(self, text: str) -> Paraphrases: ...


class Embedder(Protocol):
    """Texts -> unit vectors (inside ParaphraseOracle's scope)."""

    adapter: str
    model: str

    async def embed(self, texts: Sequence[str]) -> EmbeddingBatch: ...
