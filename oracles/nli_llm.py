"""`llm` NLI: an upstream chat model as a three-way NLI judge, one call per pair, all pairs
concurrently.

One round (SPEC 4): every pair of a request is in flight at once up to `max_concurrency`
(default `DEFAULT_MAX_CONCURRENCY` = 256, above `max_claims` x chunks for usual requests); a lower
cap trades latency (ceil(pairs / cap) waves) for upstream rate limits. The first failed call
cancels the others (`gather_all`).

Each call carries one claim and its evidence inside escaped data sections (`oracles.prompts`) and
must answer with exactly one JSON object: probabilities `{"entailment", "contradiction", "neutral"}`
(each in [0, 1], summing to 1 within `LLM_SUM_TOLERANCE`) or a label `{"label": ...}` (one-hot).
Anything else — prose, extra keys, a bare label word, both forms at once — is `OracleOutputError`.
The parser is the same whatever the data says; what it cannot do is tell an honest judgment from a
well-formed one that the model was talked into (see SOUNDNESS).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import msgspec

from oracles.calls import call_chat, decode_reply, gather_all
from oracles.errors import OracleOutputError
from oracles.nli_common import LabelMap, PairJudge, PairScores
from oracles.prompts import PROMPT_VERSION, nli_messages
from oracles.protocols import ChatClient
from oracles.types import Aggregation

LLM_SUM_TOLERANCE = 0.01
#: most calls in flight for one request; above max_claims x chunks so a request is one round
DEFAULT_MAX_CONCURRENCY = 256


class _JudgmentOut(msgspec.Struct, forbid_unknown_fields=True):
    entailment: float | None = None
    contradiction: float | None = None
    neutral: float | None = None
    label: str | None = None


class LLMJudge(PairJudge):
    """NLI by an upstream chat model (`[oracles.nli] kind = "llm"`, `upstream`, `model`)."""

    adapter = "llm"

    def __init__(
        self,
        client: ChatClient,
        *,
        model: str,
        upstream: str,
        aggregation: Aggregation,
        timeout_s: float,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        super().__init__(aggregation=aggregation, timeout_s=timeout_s)
        self.model = model
        self.model_version = f"upstream={upstream};{PROMPT_VERSION}"
        self._client = client
        self._labels = LabelMap(self.oracle, {})
        self._max_concurrency = max_concurrency

    def _parse(self, reply: str, where: str) -> PairScores:
        out = decode_reply(self.oracle, reply, _JudgmentOut)
        probabilities = (out.entailment, out.contradiction, out.neutral)
        if out.label is not None:
            if any(p is not None for p in probabilities):
                raise OracleOutputError(
                    self.oracle, f"expected either a label or probabilities, got both - at {where}"
                )
            canonical = self._labels.canonical(out.label.strip())
            if canonical is None:
                raise OracleOutputError(
                    self.oracle,
                    "expected label entailment|contradiction|neutral, got another"
                    f" ({len(out.label)} characters) - at {where}",
                )
            return (float(canonical == "entailment"), float(canonical == "contradiction"))
        entail, contradict, neutral = probabilities
        if entail is None or contradict is None or neutral is None:
            raise OracleOutputError(
                self.oracle,
                "expected entailment, contradiction and neutral probabilities, got a reply"
                f" without them - at {where}",
            )
        for name, value in zip(
            ("entailment", "contradiction", "neutral"), probabilities, strict=True
        ):
            if value is None or not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise OracleOutputError(
                    self.oracle, f"expected {name} in [0, 1], got {value!r} - at {where}"
                )
        total = entail + contradict + neutral
        if abs(total - 1.0) > LLM_SUM_TOLERANCE:
            raise OracleOutputError(
                self.oracle,
                f"expected probabilities summing to 1 (+/- {LLM_SUM_TOLERANCE}), got {total!r} "
                f"- at {where}",
            )
        return (entail, contradict)

    async def _one(
        self, semaphore: asyncio.Semaphore, index: int, premise: str, claim: str
    ) -> tuple[PairScores, dict[str, Any]]:
        messages = nli_messages(claim, premise)
        async with semaphore:
            reply = await call_chat(self.oracle, self._client, model=self.model, messages=messages)
        return self._parse(reply, f"pair {index}"), {"messages": messages, "reply": reply}

    async def _score_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        semaphore = asyncio.Semaphore(self._max_concurrency)
        results = await gather_all(
            self._one(semaphore, i, premise, claim) for i, (premise, claim) in enumerate(pairs)
        )
        return [scores for scores, _ in results], [raw for _, raw in results]
