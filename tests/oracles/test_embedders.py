"""Embedder adapters: the real MiniLM offline, TEI /embed, an upstream's embeddings, validation."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from oracles.embedders import OpenAIEmbedder, SentenceTransformerEmbedder, TEIEmbedder, unit_vectors
from oracles.errors import OracleOutputError
from tests.fakes.tei_server import FakeTEIServer
from tests.oracles.fake_chat import FakeEmbeddings


@pytest.fixture(scope="module")
def minilm() -> Iterator[SentenceTransformerEmbedder]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield SentenceTransformerEmbedder(model=None, timeout_s=60.0, device="cpu")


def _distance2(u: list[float], v: list[float]) -> float:
    return math.fsum((a - b) ** 2 for a, b in zip(u, v, strict=True))


async def test_minilm_gives_unit_vectors_of_dimension_384(
    minilm: SentenceTransformerEmbedder,
) -> None:
    """The default model loads offline and returns unit vectors of dim 384."""
    batch = await minilm.embed(["Aspirin relieves pain.", "The stock market fell."])
    assert batch.dim == 384
    assert all(abs(math.fsum(x * x for x in v) - 1.0) < 1e-9 for v in batch.vectors)
    assert batch.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert minilm.model_version.startswith("sha256:")


async def test_minilm_puts_paraphrases_closer_than_unrelated_text(
    minilm: SentenceTransformerEmbedder,
) -> None:
    """A paraphrase is nearer to the query than an unrelated sentence."""
    query, paraphrase, unrelated = (
        await minilm.embed(
            [
                "What is the dose of aspirin?",
                "How much aspirin should I take?",
                "Paris is in France.",
            ]
        )
    ).vectors
    assert _distance2(query, paraphrase) < _distance2(query, unrelated)


async def test_minilm_is_deterministic(minilm: SentenceTransformerEmbedder) -> None:
    """The same texts give the same vectors and digest."""
    assert await minilm.embed(["same text"]) == await minilm.embed(["same text"])


async def test_tei_embedder_batches_concurrently_and_normalizes() -> None:
    """5 texts in batches of 2 make 3 concurrent /embed calls; vectors come back unit length."""
    async with FakeTEIServer(delay_s=0.05, dim=8) as tei:
        embedder = TEIEmbedder(url=tei.url, model="bge", timeout_s=5.0, batch_size=2)
        try:
            batch = await embedder.embed([f"text {i}" for i in range(5)])
        finally:
            await embedder.aclose()
        assert [body["inputs"] for body in tei.calls_to("/embed")] == [
            ["text 0", "text 1"],
            ["text 2", "text 3"],
            ["text 4"],
        ]
        assert tei.peak_in_flight == 3
    assert batch.dim == 8
    assert all(abs(math.fsum(x * x for x in v) - 1.0) < 1e-9 for v in batch.vectors)


async def test_openai_embedder_uses_the_embeddings_client() -> None:
    """The upstream client gets the model and texts; vectors are normalized."""
    client = FakeEmbeddings(lambda text: [3.0, 4.0] if text == "a" else [0.0, 2.0])
    embedder = OpenAIEmbedder(
        client, model="text-embedding-3-small", upstream="main", timeout_s=1.0
    )
    batch = await embedder.embed(["a", "b"])
    assert client.calls == [("text-embedding-3-small", ["a", "b"])]
    assert batch.vectors == [[0.6, 0.8], [0.0, 1.0]]


async def test_zero_vectors_are_an_output_error() -> None:
    """A zero vector cannot be normalized and is rejected."""
    embedder = OpenAIEmbedder(
        FakeEmbeddings(lambda _: [0.0, 0.0]), model="m", upstream="u", timeout_s=1.0
    )
    with pytest.raises(OracleOutputError, match="non-zero"):
        await embedder.embed(["a"])


def test_wrong_vector_count_is_an_output_error() -> None:
    """Fewer vectors than texts is rejected."""
    with pytest.raises(OracleOutputError, match="expected 2 vectors, got 1"):
        unit_vectors("embedder:x", [[1.0]], 2)
