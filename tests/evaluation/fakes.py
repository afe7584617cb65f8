"""Test doubles for the evaluation harness: call counters, a one-hot embedder, a failing judge."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from oracles.decomposers import SentenceDecomposer
from oracles.errors import OracleUnavailableError
from oracles.nli_lexical import LexicalJudge
from oracles.protocols import Decomposer, NLIJudge
from oracles.transcript import digest_call
from oracles.types import Decomposition, EmbeddingBatch, NLIJudgments
from proxy.evaluation.runner import EvalOracles

ONE_HOT_DIM = 4096


class CountingDecomposer:
    """Forwards to a decomposer and counts the calls."""

    def __init__(self, inner: Decomposer) -> None:
        self.inner, self.calls = inner, 0
        self.adapter, self.model = inner.adapter, inner.model

    async def decompose(self, answer: str, *, query: str | None) -> Decomposition:
        """Count, then forward."""
        self.calls += 1
        return await self.inner.decompose(answer, query=query)


class CountingJudge:
    """Forwards to an NLI judge and counts the calls."""

    def __init__(self, inner: NLIJudge) -> None:
        self.inner, self.calls = inner, 0
        self.adapter, self.model = inner.adapter, inner.model

    async def judge(
        self, claims: Sequence[str], evidence: Sequence[str], *, query: str | None = None
    ) -> NLIJudgments:
        """Count, then forward."""
        self.calls += 1
        return await self.inner.judge(claims, evidence, query=query)


class FailingJudge:
    """An NLI judge whose service is always down."""

    adapter = "fake-failing"
    model = "none"

    async def judge(
        self, claims: Sequence[str], evidence: Sequence[str], *, query: str | None = None
    ) -> NLIJudgments:
        """Always raise `OracleUnavailableError`."""
        raise OracleUnavailableError("nli:fake-failing", "connection refused")


class OneHotEmbedder:
    """Each distinct text -> a one-hot vector (sha256 bucket): cosine 1 for equal texts, else 0."""

    adapter = "fake-one-hot"
    model = "one-hot/4096"

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> EmbeddingBatch:
        """One one-hot vector per text."""
        self.calls += 1
        vectors = []
        for text in texts:
            bucket = int(hashlib.sha256(text.encode()).hexdigest(), 16) % ONE_HOT_DIM
            vectors.append([1.0 if i == bucket else 0.0 for i in range(ONE_HOT_DIM)])
        digest = digest_call(
            oracle="embedder",
            adapter=self.adapter,
            model=self.model,
            inputs={"texts": list(texts)},
            outputs={"buckets": [v.index(1.0) for v in vectors]},
        )
        return EmbeddingBatch(
            vectors=vectors, adapter=self.adapter, model=self.model, digest=digest
        )


def counting_oracles(
    *, embedder: OneHotEmbedder | None = None
) -> tuple[EvalOracles, CountingDecomposer, CountingJudge]:
    """Sentence decomposer + lexical NLI (concat), both wrapped in call counters."""
    decomposer = CountingDecomposer(SentenceDecomposer())
    judge = CountingJudge(LexicalJudge(aggregation="concat"))
    return EvalOracles(decomposer=decomposer, nli=judge, embedder=embedder), decomposer, judge
