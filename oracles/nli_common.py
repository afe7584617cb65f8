"""Shared machinery of the NLI adapters: label mapping, claim x evidence pairing, result assembly.

`LabelMap` maps model labels (case-insensitively) to the canonical `entailment` / `contradiction` /
`neutral`; `scores_from_labels` turns one pair's `[(label, score), ...]` into (sigma+, sigma-) and
rejects unknown labels, out-of-range scores and non-distributions. `PairJudge` is the base of every
NLI adapter: it builds all (premise, hypothesis) pairs of a request for the configured aggregation,
lets the adapter identify its model (`prepare`, e.g. TEI's `/info`) and score them in one
concurrent round, reshapes the result and records the transcript
digest. It does not quantize scores (SPEC 4.1 is the certifiers' step).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from oracles.calls import with_timeout
from oracles.errors import OracleConfigError, OracleOutputError
from oracles.nli_context import hypothesis_for
from oracles.nli_prefilter import ChunkPrefilter
from oracles.transcript import digest_call
from oracles.types import Aggregation, CalibrationClaim, NLIJudgments, PrefilterRecord

CANONICAL_LABELS = ("entailment", "contradiction", "neutral")
DEFAULT_LABELS: Mapping[str, str] = {
    "entailment": "entailment",
    "entails": "entailment",
    "entail": "entailment",
    "contradiction": "contradiction",
    "contradicts": "contradiction",
    "contradict": "contradiction",
    "neutral": "neutral",
}
EVIDENCE_SEPARATOR = "\n\n"
MODEL_SUM_TOLERANCE = 1e-3

PairScores = tuple[float, float]


class LabelMap:
    """Case-insensitive model label -> canonical label; config entries extend the defaults."""

    def __init__(self, oracle: str, overrides: Mapping[str, str]) -> None:
        self.oracle = oracle
        mapping = dict(DEFAULT_LABELS)
        for label, canonical in overrides.items():
            target = canonical.casefold()
            if target not in CANONICAL_LABELS:
                raise OracleConfigError(
                    oracle,
                    f"expected labels values in {list(CANONICAL_LABELS)}, got {canonical!r} "
                    f"- at [oracles.nli].labels.{label}",
                )
            mapping[label.casefold()] = target
        self.mapping: Mapping[str, str] = mapping

    def canonical(self, label: str) -> str | None:
        """The canonical label for `label`, or None when it is not mapped."""
        return self.mapping.get(label.casefold())


def scores_from_labels(
    label_map: LabelMap, items: Sequence[tuple[str, float]], where: str, tolerance: float
) -> PairScores:
    """(sigma+, sigma-) from one pair's label scores, which must form a probability distribution."""
    oracle = label_map.oracle
    totals = dict.fromkeys(CANONICAL_LABELS, 0.0)
    seen: set[str] = set()
    for label, score in items:
        canonical = label_map.canonical(label)
        if canonical is None:
            raise OracleOutputError(
                oracle,
                f"expected a label mapped to {list(CANONICAL_LABELS)}, got {label!r} - at {where}; "
                "map it with [oracles.nli].labels",
            )
        if label.casefold() in seen:
            raise OracleOutputError(
                oracle, f"expected each label once, got {label!r} twice - at {where}"
            )
        seen.add(label.casefold())
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise OracleOutputError(
                oracle, f"expected a score in [0, 1], got {score!r} - at {where}"
            )
        totals[canonical] += score
    if not any(label_map.canonical(label) == "entailment" for label, _ in items):
        raise OracleOutputError(
            oracle, f"expected an entailment label, got {[name for name, _ in items]} - at {where}"
        )
    total = sum(totals.values())
    if abs(total - 1.0) > tolerance:
        raise OracleOutputError(
            oracle, f"expected scores summing to 1 (+/- {tolerance}), got {total!r} - at {where}"
        )
    return (totals["entailment"], totals["contradiction"])


def judged_cells(
    claims: int, width: int, prefilter: PrefilterRecord | None
) -> list[tuple[int, int]]:
    """(claim, column) cells to judge, row-major: every cell, or each claim's top-k chunks."""
    if prefilter is None:
        return [(i, j) for i in range(claims) for j in range(width)]
    return [(i, j) for i in range(claims) for j in sorted(prefilter.judged[i])]


def joined_chunks(claim: int, chunks: int, prefilter: PrefilterRecord | None) -> list[int]:
    """The chunks a `joint` column judges together: the top-k best first, else all in order."""
    return list(prefilter.judged[claim]) if prefilter is not None else list(range(chunks))


def premise_pairs(
    hypotheses: Sequence[str],
    evidence: Sequence[str],
    aggregation: Aggregation,
    prefilter: PrefilterRecord | None,
) -> tuple[int, list[tuple[int, int]], list[tuple[str, str]]]:
    """(matrix width, judged cells, their (premise, hypothesis) pairs) for one judgment round.

    `per_chunk`: one column per chunk; `concat`: one column, every chunk joined; `joint`: one
    column per chunk plus a last one per claim, its judged chunks joined (`joined_chunks`).
    """
    claims, chunks = len(hypotheses), len(evidence)
    if aggregation == "concat":
        premise = EVIDENCE_SEPARATOR.join(evidence)
        return 1, [(i, 0) for i in range(claims)], [(premise, h) for h in hypotheses]
    cells = judged_cells(claims, chunks, prefilter)
    pairs = [(evidence[j], hypotheses[i]) for i, j in cells]
    if aggregation == "per_chunk":
        return chunks, cells, pairs
    for i, hypothesis in enumerate(hypotheses):
        together = EVIDENCE_SEPARATOR.join(evidence[j] for j in joined_chunks(i, chunks, prefilter))
        cells.append((i, chunks))
        pairs.append((together, hypothesis))
    return chunks + 1, cells, pairs


class PairJudge(ABC):
    """Base NLI adapter: subclasses implement `_score_pairs` for all pairs of one request."""

    adapter: str
    model: str
    model_version: str = ""
    #: judge short claims as "question + answer" (off for the lexical heuristic)
    judges_in_context: bool = True

    def __init__(
        self,
        *,
        aggregation: Aggregation,
        timeout_s: float,
        prefilter: ChunkPrefilter | None = None,
    ) -> None:
        self.aggregation: Aggregation = aggregation
        self._timeout_s = timeout_s
        self.prefilter = prefilter
        self.calibration: CalibrationClaim | None = None

    @property
    def oracle(self) -> str:
        """Name used in errors, e.g. `nli:tei`."""
        return f"nli:{self.adapter}"

    async def prepare(self) -> None:
        """Settle `model` / `model_version` before the first judgment (default: nothing to do)."""
        return

    async def _run(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        await self.prepare()
        if not pairs:
            return [], []
        return await self._score_pairs(pairs)

    @abstractmethod
    async def _score_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        """Scores per pair plus the raw model output (recorded in the transcript)."""

    async def judge(
        self, claims: Sequence[str], evidence: Sequence[str], *, query: str | None = None
    ) -> NLIJudgments:
        """Judge every claim against the evidence in one concurrent round.

        Short claims are judged as "question + answer" (`oracles.nli_context`); with `per_chunk`
        or `joint` and a pre-filter, each claim only against its top-k chunks
        (`oracles.nli_prefilter`), and under `joint` also against those chunks joined.
        """
        if not evidence:
            raise ValueError(
                "Expected at least one evidence chunk for NLI, got none - at judge(evidence)"
            )
        context = query if self.judges_in_context else None
        hypotheses = [hypothesis_for(claim, context) for claim in claims]
        prefilter: PrefilterRecord | None = None
        if (
            self.aggregation in ("per_chunk", "joint")
            and self.prefilter is not None
            and len(evidence) > self.prefilter.k
        ):
            prefilter = await with_timeout(
                self.oracle, self._timeout_s, self.prefilter.select(hypotheses, evidence)
            )
        width, cells, all_pairs = premise_pairs(hypotheses, evidence, self.aggregation, prefilter)
        # an identical (premise, hypothesis) is judged once (a joint of one chunk is that chunk)
        pairs = list(dict.fromkeys(all_pairs))
        unique, raw = await with_timeout(self.oracle, self._timeout_s, self._run(pairs))
        if len(unique) != len(pairs):
            raise OracleOutputError(
                self.oracle, f"expected {len(pairs)} judgments, got {len(unique)} - at outputs"
            )
        by_pair = dict(zip(pairs, unique, strict=True))
        scores = [by_pair[pair] for pair in all_pairs]
        entail = [[0.0] * width for _ in claims]
        contradict = [[0.0] * width for _ in claims]
        for (i, j), (plus, minus) in zip(cells, scores, strict=True):
            entail[i][j], contradict[i][j] = plus, minus
        digest = digest_call(
            oracle="nli",
            adapter=self.adapter,
            model=self.model,
            model_version=self.model_version,
            inputs={
                "claims": list(claims),
                "hypotheses": hypotheses,
                "evidence": list(evidence),
                "aggregation": self.aggregation,
                "prefilter": None if prefilter is None else msgspec.to_builtins(prefilter),
            },
            outputs={"entail": entail, "contradict": contradict, "raw": raw},
        )
        return NLIJudgments(
            entail=entail,
            contradict=contradict,
            aggregation=self.aggregation,
            adapter=self.adapter,
            model=self.model,
            digest=digest,
            prefilter=prefilter,
            calibration=self.calibration,
        )
