"""Runs the oracles over evaluation cases in-process and concurrently, collecting raw outputs.

For each case: decompose the answer (query = the question), judge the claims against the evidence
chunks with the NLI oracle, and, when B1 is wanted, embed the answer and every chunk. Cases run as
asyncio tasks bounded by a semaphore; a tqdm bar on stderr counts finished cases. An `OracleError`
on a case is recorded as that case's failure (the proxy would abstain: fail closed); any other
exception is a bug and propagates. This module decides nothing: scoring and thresholds live in
`proxy.evaluation.scoring`.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from tqdm import tqdm

from oracles.errors import OracleError
from oracles.protocols import Decomposer, Embedder, NLIJudge
from oracles.types import Decomposition, NLIJudgments
from proxy.evaluation.datasets import EvalCase
from proxy.evaluation.refusals import is_refusal


@dataclass(frozen=True, kw_only=True)
class EvalOracles:
    """The oracles one evaluation uses; `embedder` is the B1 embedder (None: B1 is not run)."""

    decomposer: Decomposer
    nli: NLIJudge
    embedder: Embedder | None = None


class CaseOutputs(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the oracles said about one case; `failure` names the failed oracle, if any."""

    case: EvalCase
    refusal: bool
    decomposition: Decomposition | None = None
    nli: NLIJudgments | None = None
    best_cosine: float | None = None
    failure: str | None = None


def _cosine(u: Sequence[float], v: Sequence[float]) -> float:
    norm = math.sqrt(math.fsum(x * x for x in u)) * math.sqrt(math.fsum(y * y for y in v))
    return 0.0 if norm == 0.0 else math.fsum(x * y for x, y in zip(u, v, strict=True)) / norm


async def _best_cosine(embedder: Embedder, case: EvalCase) -> float:
    """max over evidence chunks of cos(E(answer), E(chunk))."""
    batch = await embedder.embed([case.answer, *case.evidence])
    if len(batch.vectors) != 1 + len(case.evidence):
        raise OracleError(
            f"embedder:{embedder.adapter}",
            f"expected {1 + len(case.evidence)} vectors, got {len(batch.vectors)}",
        )
    answer, *chunks = batch.vectors
    return max(_cosine(answer, chunk) for chunk in chunks)


async def run_case(case: EvalCase, oracles: EvalOracles) -> CaseOutputs:
    """Run the oracles on one case; an `OracleError` becomes the case's recorded failure."""
    refusal = is_refusal(case.answer)
    stage = "decomposer"
    try:
        decomposition = await oracles.decomposer.decompose(case.answer, query=case.question or None)
        stage = "nli"
        judgments = (
            await oracles.nli.judge(
                [claim.text for claim in decomposition.claims],
                case.evidence,
                query=case.question or None,
            )
            if decomposition.claims
            else None
        )
        stage = "embedder"
        best = None if oracles.embedder is None else await _best_cosine(oracles.embedder, case)
    except OracleError as exc:
        return CaseOutputs(case=case, refusal=refusal, failure=f"{stage}: {exc.reason}")
    return CaseOutputs(
        case=case,
        refusal=refusal,
        decomposition=decomposition,
        nli=judgments,
        best_cosine=best,
    )


async def run_cases(
    cases: Sequence[EvalCase],
    oracles: EvalOracles,
    *,
    concurrency: int = 8,
    progress: bool = False,
) -> list[CaseOutputs]:
    """Run every case with at most `concurrency` in flight; results come back in case order."""
    if concurrency < 1:
        raise ValueError(f"Expected concurrency >= 1, got {concurrency} - at --concurrency")
    semaphore = asyncio.Semaphore(concurrency)
    results: list[CaseOutputs | None] = [None] * len(cases)
    with tqdm(
        total=len(cases), desc="eval grounding", unit="case", file=sys.stderr, disable=not progress
    ) as bar:

        async def one(index: int, case: EvalCase) -> None:
            async with semaphore:
                results[index] = await run_case(case, oracles)
            bar.update(1)

        async with asyncio.TaskGroup() as group:
            for index, case in enumerate(cases):
                group.create_task(one(index, case))
    return [result for result in results if result is not None]
