"""Assemble the certify scenario (the public JSON format of `certifiers.scenario`) for one call.

The shell's whole contribution to a certificate is *data*: the answer, the query, the oracles' raw
records (claims, NLI scores, variant families, embedding vectors), the evidence with its
timestamps, the proposed tool calls with their schemas and state, the policy name and overrides,
`now`, the replay handle, the oracles used and the oracles that failed. `build_scenario` writes that
data as JSON bytes which `certifiers.scenario.decode_scenario` validates and quantizes (SPEC 4.1);
the embedding section is written by `embedding_section` and crossed early, on its own
(`certifiers.scenario.decode_embedding`, see `proxy.assurance.orchestrate`).
Nothing here computes a status, mass, radius, margin or verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from certifiers.scenario import EmbeddingIn
from oracles.types import ClaimRecord, Decomposition, EmbeddingBatch, NLIJudgments, Paraphrases
from proxy.assurance.quantize import grid_vectors, quantized_scores
from proxy.assurance.request import EvidenceChunk

DEFAULT_TOP_K = 3


@dataclass(frozen=True, slots=True)
class OracleFailure:
    """An oracle that raised or timed out during this call (fail closed: SPEC 7)."""

    oracle: str
    reason: str


@dataclass(frozen=True, slots=True)
class Stability:
    """The query's variant families and the one embedding batch `[query, *inv, *sig, *evidence]`.

    `embedding` is the scenario's `embedding` section as `certifiers.scenario.decode_embedding`
    returned it (decoded while the upstream is still answering, off the critical path); the
    certifier receives it next to the scenario bytes, which then carry no embedding section.
    """

    paraphrases: Paraphrases
    embeddings: EmbeddingBatch
    embedding: EmbeddingIn


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model proposed, as the action gate reads it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ActionInputs:
    """The action gate's inputs: schemas, pre-state (counters already chained), proposed calls."""

    schemas: Sequence[Mapping[str, Any]]
    state: Mapping[str, Any]
    calls: Sequence[ToolCall]
    unknown_tools: str | None = None


@dataclass(frozen=True, slots=True)
class ScenarioInputs:
    """Everything one call contributes to its scenario (see the module docstring)."""

    answer: str
    query: str | None
    policy: str
    now: int
    replay_handle: str
    card_ttl_s: int
    max_claims: int
    evidence: Sequence[EvidenceChunk]
    decomposition: Decomposition | None = None
    nli: NLIJudgments | None = None
    stability: Stability | None = None
    actions: ActionInputs | None = None
    policy_overrides: Mapping[str, Any] | None = None
    claim_dependencies: Mapping[str, Sequence[str | int]] | None = None
    failures: Sequence[OracleFailure] = field(default_factory=tuple)
    disabled_layers: Sequence[str] = field(default_factory=tuple)
    model_version: str | None = None
    prompt_template: str | None = None
    #: `assurance.citations`: "inline" records the mode in `context.citations`, so the bundle's
    #: emitted text carries the `[id]` markers (issue 14)
    citations: Literal["none", "inline"] = "none"


def build_scenario(inputs: ScenarioInputs) -> bytes:
    """The scenario JSON bytes for `certifiers.scenario.decode_scenario` (no embedding section)."""
    claims = inputs.decomposition.claims if inputs.decomposition is not None else ()
    scenario: dict[str, Any] = {
        "answer": inputs.answer,
        "claims": [_claim(claim) for claim in claims],
        "evidence": [_evidence(chunk) for chunk in inputs.evidence],
        "policy": inputs.policy,
        "now": inputs.now,
        "replay_handle": inputs.replay_handle,
        "card_ttl_s": inputs.card_ttl_s,
        "max_claims": inputs.max_claims,
        "oracles": _oracles(inputs),
        "oracle_failures": [{"oracle": f.oracle, "reason": f.reason} for f in inputs.failures],
        "disabled_layers": list(inputs.disabled_layers),
        "citations": inputs.citations,
    }
    if inputs.query is not None:
        scenario["query"] = inputs.query
    if inputs.nli is not None:
        scenario["nli"] = nli_section(inputs.nli)
    if inputs.actions is not None:
        scenario["actions"] = _actions(inputs.actions)
    if inputs.policy_overrides:
        scenario["policy_overrides"] = dict(inputs.policy_overrides)
    if inputs.claim_dependencies and claims:
        dependencies, unmet = map_claim_dependencies(
            inputs.claim_dependencies, [claim.text for claim in claims]
        )
        if dependencies:
            scenario["claim_dependencies"] = dependencies
        if unmet:
            scenario["unmet_dependencies"] = unmet
    provenance = {
        key: value
        for key, value in (
            ("model_version", inputs.model_version),
            ("prompt_template", inputs.prompt_template),
        )
        if value is not None
    }
    if provenance:
        scenario["provenance"] = provenance
    return msgspec.json.encode(scenario)


def embedding_texts(
    query: str,
    invariant: Sequence[str],
    significant: Sequence[str],
    evidence: Sequence[EvidenceChunk],
) -> list[str]:
    """The texts of the one embedding batch, in the order `build_scenario` splits them."""
    return [query, *invariant, *significant, *(chunk.text for chunk in evidence)]


def embedding_section(
    paraphrases: Paraphrases,
    embeddings: EmbeddingBatch,
    query: str | None,
    evidence_count: int,
    *,
    inline: Literal["auto", "always"],
) -> dict[str, Any]:
    """The scenario's `embedding` section: the vectors split by role, top-k and `inline`.

    Coordinates go as exact grid integers (`quantized: true`, see `proxy.assurance.quantize`);
    vectors the certifier must judge itself (non-finite, beyond ±2) go as floats, as before.
    `inline` is `[assurance] inline_embeddings`.
    """
    floats = embeddings.vectors
    n_inv = len(paraphrases.invariant)
    n_sig = len(paraphrases.significant)
    if len(floats) - (1 + n_inv + n_sig) != evidence_count:
        raise ValueError(
            f"Expected {1 + n_inv + n_sig + evidence_count} embedding vectors, got {len(floats)}"
        )
    grid = grid_vectors(floats)
    vectors: Sequence[Sequence[float]] = floats if grid is None else grid
    block: dict[str, Any] = {
        "text": query,
        "dim": embeddings.dim,
        "inline": inline,
        "query": vectors[0],
        "invariant": vectors[1 : 1 + n_inv],
        "significant": vectors[1 + n_inv : 1 + n_inv + n_sig],
    }
    if grid is not None:
        block["quantized"] = True
    if evidence_count:
        block["evidence"] = vectors[1 + n_inv + n_sig :]
        block["top_k"] = min(DEFAULT_TOP_K, evidence_count)
    return block


def nli_section(nli: NLIJudgments) -> dict[str, Any]:
    """The scenario's `nli` section: scores as exact integers over 10⁶ (`quantized: true`).

    When a score is outside [0, 1] (or not finite) the floats go as before: the certifier rejects
    them with its own message.
    """
    records: dict[str, Any] = {}
    if nli.prefilter is not None:
        records["prefilter"] = msgspec.to_builtins(nli.prefilter)
    if nli.calibration is not None:
        records["calibration"] = msgspec.to_builtins(nli.calibration)
    entail, contradict = quantized_scores(nli.entail), quantized_scores(nli.contradict)
    if entail is None or contradict is None:  # out of [0, 1] or not finite: let certifiers judge
        return {
            "aggregation": nli.aggregation,
            "entail": nli.entail,
            "contradict": nli.contradict,
            **records,
        }
    return {
        "aggregation": nli.aggregation,
        "quantized": True,
        "entail": entail,
        "contradict": contradict,
        **records,
    }


def _claim(claim: ClaimRecord) -> dict[str, Any]:
    record: dict[str, Any] = {"text": claim.text, "weight": claim.weight}
    if claim.span is not None:
        record["span"] = list(claim.span)
    return record


def _evidence(chunk: EvidenceChunk) -> dict[str, Any]:
    record: dict[str, Any] = {"id": chunk.id, "text": chunk.text}
    for key in ("source", "retrieved_at", "score"):
        value = getattr(chunk, key)
        if value is not None:
            record[key] = value
    return record


def _actions(actions: ActionInputs) -> dict[str, Any]:
    block: dict[str, Any] = {
        "schemas": [dict(schema) for schema in actions.schemas],
        "state": dict(actions.state),
        "calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in actions.calls],
    }
    if actions.unknown_tools is not None:
        block["unknown_tools"] = actions.unknown_tools
    return block


def _oracles(inputs: ScenarioInputs) -> dict[str, dict[str, str]]:
    used: dict[str, dict[str, str]] = {}
    records: list[
        tuple[str, Decomposition | NLIJudgments | Paraphrases | EmbeddingBatch | None]
    ] = [
        ("decomposer", inputs.decomposition),
        ("nli", inputs.nli),
    ]
    if inputs.stability is not None:
        records += [
            ("paraphraser", inputs.stability.paraphrases),
            ("embedder", inputs.stability.embeddings),
        ]
    for name, record in records:
        if record is not None:
            used[name] = {"adapter": record.adapter, "model": record.model, "digest": record.digest}
    return used


_SPACES = re.compile(r"\s+")


def _normalized(text: str) -> str:
    return _SPACES.sub(" ", text.casefold()).strip().rstrip(".;,!?").strip()


def map_claim_dependencies(
    dependencies: Mapping[str, Sequence[str | int]], claim_texts: Sequence[str]
) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """Client dependencies (claim text or 0-based index -> prerequisites) as scenario indices.

    A claim is named by its index or by its text (compared case- and whitespace-insensitively,
    ignoring final punctuation). Returns (claim_dependencies, unmet_dependencies): a prerequisite
    that matches no decomposed claim is kept by name in the second map, where the certifier treats
    it as never Supported (the dependent claim is excluded, `requires:absent`), so an unmatched
    prerequisite is enforced, not silently dropped. A dependent that matches no claim has nothing
    to exclude and is dropped; a claim listed as its own prerequisite adds nothing.
    """
    index_of = {_normalized(text): i for i, text in reversed(list(enumerate(claim_texts)))}

    def resolve(name: str | int) -> int | None:
        if isinstance(name, int) or (name.isascii() and name.isdigit()):
            index = int(name)
            return index if 0 <= index < len(claim_texts) else None
        return index_of.get(_normalized(name))

    mapped: dict[str, list[int]] = {}
    unmet: dict[str, list[str]] = {}
    for dependent, prerequisites in dependencies.items():
        target = resolve(dependent)
        if target is None:
            continue
        found = [(p, resolve(p)) for p in prerequisites]
        resolved = sorted({i for _, i in found if i is not None} - {target})
        missing = sorted({str(p) for p, i in found if i is None})
        if resolved:
            mapped[str(target)] = sorted({*mapped.get(str(target), []), *resolved})
        if missing:
            unmet[str(target)] = sorted({*unmet.get(str(target), []), *missing})
    return mapped, unmet
