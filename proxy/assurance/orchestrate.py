"""Run the oracles of one call concurrently and collect their records or their failures (SPEC 4, 7).

Two independent branches: `run_stability` (paraphrase the query, or take the client's families, then
one embedding batch of query, variants and evidence) depends only on the request, so the pipeline
starts it before the upstream answers; `run_grounding` (decompose the answer, then ONE concurrent
NLI round over all claims and chunks) starts when the answer is known. The critical path is
therefore upstream answer -> decomposition -> one NLI round, whatever the number of claims.

Every oracle exception, and a call running past `[assurance] oracle_timeout_s` or past the call's
end-to-end `deadline` (`[assurance] deadline_s`, or the client's shorter `assurance.deadline_s`),
becomes an `OracleFailure` naming the oracle: the pipeline fails closed (abstain card), never with
a 500. Failure reasons are fixed texts plus the oracle's own `reason` (which adapters keep free of
upstream/TEI response bodies and evidence text); an adapter crash reports only its type. If
the decomposer's claims do not cover the answer's content tokens (the reconstruction check, SPEC
5.1), the deterministic sentence decomposer is tried instead. Nothing here judges a claim or decides
emission.

The built-in local adapters (`sentences` decomposer, `lexical` NLI, `rules` paraphraser) are
synchronous code behind an `async def`: `_guarded` runs them on a fresh event loop in a worker
thread of the proxy's bounded oracle pool (`proxy.assurance.executors`), so the proxy's loop keeps
serving (`/healthz`, other requests) and the timeout fires on
time. Python cannot stop a thread: after a timeout the worker finishes its computation in the
background and its result is discarded. Network adapters (TEI, LLM) and the model adapters (which
already use a thread) run on the proxy's loop, where their sessions live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

import msgspec
import structlog

from certifiers.errors import ScenarioError
from certifiers.scenario import decode_embedding
from certifiers.tokens import content_tokens
from oracles.errors import OracleError
from oracles.paraphrasers import with_declared
from oracles.protocols import Decomposer, Embedder, NLIJudge, Paraphraser
from oracles.types import Decomposition, NLIJudgments
from proxy.assurance.executors import run_in
from proxy.assurance.request import EvidenceChunk, PerturbationsField
from proxy.assurance.scenario import OracleFailure, Stability, embedding_section, embedding_texts

T = TypeVar("T")
log = structlog.get_logger("proxy.assurance")

# adapters whose coroutine never awaits I/O: CPU work that must leave the event loop
LOCAL_ADAPTERS = frozenset({"decomposer:sentences", "nli:lexical", "paraphraser:rules"})


class OracleSetView(Protocol):
    """What the pipeline reads of `oracles.factory.OracleSet`."""

    @property
    def decomposer(self) -> Decomposer: ...

    @property
    def nli(self) -> NLIJudge: ...

    @property
    def paraphraser(self) -> Paraphraser: ...

    @property
    def embedder(self) -> Embedder | None: ...

    @property
    def fallback_decomposer(self) -> Decomposer: ...


@dataclass(frozen=True, slots=True)
class Grounding:
    """The grounding branch's records (None where an oracle failed or had nothing to do)."""

    decomposition: Decomposition | None
    nli: NLIJudgments | None
    failures: tuple[OracleFailure, ...]


@dataclass(frozen=True, slots=True)
class StabilityOutcome:
    """The stability branch's records, or the failure that stopped it."""

    stability: Stability | None
    failures: tuple[OracleFailure, ...]


class _OracleFailedError(Exception):
    def __init__(self, failure: OracleFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def _run_on_own_loop(call: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await call()

    return asyncio.run(main())


@dataclass(frozen=True, slots=True)
class Budget:
    """Where an oracle call may run and for how long: the per-call timeout, the call's end-to-end
    deadline (event-loop time, None for none) and the pool for local adapters."""

    timeout_s: float
    deadline: float | None = None
    pool: Executor | None = None

    def limit(self) -> tuple[float, bool]:
        """(seconds this call may take, whether the deadline rather than the timeout binds)."""
        if self.deadline is None:
            return self.timeout_s, False
        left = self.deadline - asyncio.get_running_loop().time()
        return (left, True) if left < self.timeout_s else (self.timeout_s, False)


async def _guarded(role: str, adapter: str, budget: Budget, call: Callable[[], Awaitable[T]]) -> T:
    """Run one oracle call; any failure raises `_OracleFailedError` with an `OracleFailure`.

    A local (CPU-bound) adapter runs on its own loop in a worker thread, so the limit bounds
    the wait even though the computation itself cannot be interrupted.
    """
    limit_s, by_deadline = budget.limit()
    try:
        if limit_s <= 0:
            raise TimeoutError
        async with asyncio.timeout(limit_s):
            if f"{role}:{adapter}" in LOCAL_ADAPTERS:
                return await run_in(budget.pool, _run_on_own_loop, call)
            return await call()
    except TimeoutError:
        reason = (
            "the call's assurance deadline ([assurance] deadline_s / assurance.deadline_s) passed"
            if by_deadline
            else f"no answer within {budget.timeout_s} s"
        )
        failure = OracleFailure(f"{role}:{adapter}", reason)
    except OracleError as exc:
        failure = OracleFailure(exc.oracle, exc.reason)
    except Exception as exc:  # an adapter bug must still fail closed, never a 500
        log.error("oracle_crashed", oracle=role, adapter=adapter, error=type(exc).__name__)
        # the type only: an exception's text may quote the evidence or a provider's answer
        failure = OracleFailure(f"{role}:{adapter}", f"the adapter crashed ({type(exc).__name__})")
    raise _OracleFailedError(failure)


def covers_answer(answer: str, decomposition: Decomposition) -> bool:
    """Whether the claims' content tokens include the answer's (SPEC 5.1 reconstruction)."""
    covered: set[str] = set()
    for claim in decomposition.claims:
        covered |= content_tokens(claim.text)
    return content_tokens(answer) <= covered


async def run_grounding(
    oracles: OracleSetView,
    *,
    answer: str,
    query: str | None,
    evidence: Sequence[EvidenceChunk],
    max_claims: int,
    timeout_s: float,
    budget: Budget | None = None,
) -> Grounding:
    """Decompose `answer`, then judge every claim against the evidence in one NLI round."""
    limits = budget or Budget(timeout_s=timeout_s)
    decomposer = oracles.decomposer
    try:
        decomposition = await _guarded(
            "decomposer",
            decomposer.adapter,
            limits,
            lambda: decomposer.decompose(answer, query=query),
        )
        fallback = oracles.fallback_decomposer
        # tokenizing the whole answer is CPU work: off the loop, like the local adapters
        covered = await run_in(limits.pool, covers_answer, answer, decomposition)
        if not covered and decomposer.adapter != fallback.adapter:
            decomposition = await _guarded(
                "decomposer",
                fallback.adapter,
                limits,
                lambda: fallback.decompose(answer, query=query),
            )
    except _OracleFailedError as failed:
        return Grounding(decomposition=None, nli=None, failures=(failed.failure,))
    claims = [claim.text for claim in decomposition.claims]
    if len(claims) > max_claims:
        failure = OracleFailure(
            f"decomposer:{decomposition.adapter}",
            f"expected at most {max_claims} claims ([assurance] max_claims), got {len(claims)}",
        )
        return Grounding(decomposition=decomposition, nli=None, failures=(failure,))
    if not evidence or not claims:
        return Grounding(decomposition=decomposition, nli=None, failures=())
    judge = oracles.nli
    texts = [chunk.text for chunk in evidence]
    try:
        nli = await _guarded(
            "nli", judge.adapter, limits, lambda: judge.judge(claims, texts, query=query)
        )
    except _OracleFailedError as failed:
        return Grounding(decomposition=decomposition, nli=None, failures=(failed.failure,))
    return Grounding(decomposition=decomposition, nli=nli, failures=())


async def run_stability(
    oracles: OracleSetView,
    *,
    query: str | None,
    perturbations: PerturbationsField | None,
    evidence: Sequence[EvidenceChunk],
    timeout_s: float,
    inline: Literal["auto", "always"] = "auto",
    budget: Budget | None = None,
) -> StabilityOutcome:
    """Variant families of the query (client's first), then one embedding batch; None if off.

    The batch crosses the boundary here, early (`decode_embedding`); `inline` is the section's
    `[assurance] inline_embeddings`. Vectors the core rejects are an embedder failure.
    """
    limits = budget or Budget(timeout_s=timeout_s)
    embedder = oracles.embedder
    if embedder is None or query is None:
        return StabilityOutcome(stability=None, failures=())
    declared = perturbations or PerturbationsField()
    paraphraser = oracles.paraphraser
    try:
        paraphrases = await _guarded(
            "paraphraser",
            paraphraser.adapter,
            limits,
            lambda: with_declared(
                paraphraser,
                query,
                invariant=declared.invariant,
                significant=declared.significant,
            ),
        )
        texts = embedding_texts(query, paraphrases.invariant, paraphrases.significant, evidence)
        embeddings = await _guarded(
            "embedder", embedder.adapter, limits, lambda: embedder.embed(texts)
        )
    except _OracleFailedError as failed:
        return StabilityOutcome(stability=None, failures=(failed.failure,))
    if len(embeddings.vectors) != len(texts):
        failure = OracleFailure(
            f"embedder:{embedder.adapter}",
            f"expected {len(texts)} vectors, got {len(embeddings.vectors)}",
        )
        return StabilityOutcome(stability=None, failures=(failure,))
    section = embedding_section(paraphrases, embeddings, query, len(evidence), inline=inline)
    try:
        # decoding ~(variants + chunks) x dim numbers is CPU work: do it now, in a thread, while
        # the upstream is still answering, not after the NLI round
        embedding = await run_in(limits.pool, decode_embedding, msgspec.json.encode(section))
    except ScenarioError as exc:
        failure = OracleFailure(f"embedder:{embedder.adapter}", f"unusable vectors: {exc}")
        return StabilityOutcome(stability=None, failures=(failure,))
    stability = Stability(paraphrases=paraphrases, embeddings=embeddings, embedding=embedding)
    return StabilityOutcome(stability=stability, failures=())
