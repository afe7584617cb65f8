"""Decomposer adapters: answer -> atomic claims with weights and answer spans (DecompositionOracle).

`SentenceDecomposer` (`sentences`) is deterministic: one claim per sentence/clause span of the
answer (`oracles.text.segments`), weight 1, so the claims jointly cover every content token of the
answer. `LLMDecomposer` (`llm`) asks an upstream model for FActScore-style atomic facts as JSON; a
reply that does not parse or violates the schema raises `OracleOutputError` (no repair, no partial
acceptance). Neither adapter judges whether the claims are *faithful* to the answer: the certifiers'
reconstruction check (SPEC 5.1) and the declared DecompositionOracle assumption cover that.
"""

from __future__ import annotations

import math

import msgspec

from oracles.calls import ask_json
from oracles.errors import OracleOutputError
from oracles.prompts import PROMPT_VERSION, decompose_messages
from oracles.protocols import ChatClient
from oracles.text import segments
from oracles.transcript import digest_call
from oracles.types import ClaimRecord, Decomposition

SPLITTER_VERSION = "oracles.text.segments/2"


class SentenceDecomposer:
    """Deterministic sentence/clause splitter with spans (`kind = "sentences"`)."""

    adapter = "sentences"
    model = SPLITTER_VERSION

    async def decompose(self, answer: str, *, query: str | None = None) -> Decomposition:
        """Split `answer`; `query` is not used (the split depends on the answer alone)."""
        claims = tuple(
            ClaimRecord(text=answer[start:end], weight=1.0, span=(start, end))
            for start, end in segments(answer)
        )
        digest = digest_call(
            oracle="decomposer",
            adapter=self.adapter,
            model=self.model,
            inputs={"answer": answer},
            outputs={"claims": claims},
        )
        return Decomposition(claims=claims, adapter=self.adapter, model=self.model, digest=digest)


class _ClaimOut(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    weight: float = 1.0
    span: tuple[int, int] | None = None


class _DecompositionOut(msgspec.Struct, forbid_unknown_fields=True):
    claims: list[_ClaimOut]


class LLMDecomposer:
    """FActScore-style decomposition by an upstream chat model (`kind = "llm"`)."""

    adapter = "llm"

    def __init__(self, client: ChatClient, *, model: str, upstream: str, timeout_s: float) -> None:
        self.model = model
        self._client = client
        self._upstream = upstream
        self._timeout_s = timeout_s
        self._oracle = "decomposer:llm"

    async def decompose(self, answer: str, *, query: str | None = None) -> Decomposition:
        """Ask the model for atomic claims; raise `OracleOutputError` on any schema violation."""
        messages = decompose_messages(answer, query)
        reply, parsed = await ask_json(
            self._oracle,
            self._client,
            model=self.model,
            messages=messages,
            timeout_s=self._timeout_s,
            schema=_DecompositionOut,
        )
        claims = tuple(self._claim(answer, index, out) for index, out in enumerate(parsed.claims))
        if not claims and answer.strip():
            raise OracleOutputError(
                self._oracle, "expected at least one claim for a non-empty answer, got none"
            )
        digest = digest_call(
            oracle="decomposer",
            adapter=self.adapter,
            model=self.model,
            model_version=f"upstream={self._upstream};{PROMPT_VERSION}",
            inputs={"answer": answer, "query": query, "messages": messages},
            outputs={"reply": reply, "claims": claims},
        )
        return Decomposition(claims=claims, adapter=self.adapter, model=self.model, digest=digest)

    def _claim(self, answer: str, index: int, out: _ClaimOut) -> ClaimRecord:
        where = f"$.claims[{index}]"
        if not out.text.strip():
            raise OracleOutputError(
                self._oracle, f"expected non-empty text, got {out.text!r} - at {where}"
            )
        if not (math.isfinite(out.weight) and out.weight > 0):
            raise OracleOutputError(
                self._oracle,
                f"expected a finite weight > 0, got {out.weight!r} - at {where}.weight",
            )
        if out.span is not None and not 0 <= out.span[0] < out.span[1] <= len(answer):
            raise OracleOutputError(
                self._oracle,
                f"expected a span within [0, {len(answer)}] with start < end, got "
                f"{list(out.span)} - at {where}.span",
            )
        return ClaimRecord(text=out.text, weight=out.weight, span=out.span)
