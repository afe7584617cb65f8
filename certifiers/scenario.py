"""The public certify scenario format and its decoder (CONTRACTS: `decode_scenario`).

JSON numbers are read exactly from their decimal text (never through float) and strings such as
"0.92" or "3/25" too. Shape errors and range errors raise `ScenarioError` naming the field path
(`$.nli.entail[3][0]`). Oracle scores are quantized later (SPEC 4.1), in `certifiers.build.certify`.
This module only decodes and validates; it computes no certificate.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, cast

import msgspec

from certifiers.errors import ScenarioError
from certifiers.rational import dec_hook, ratio_of, round_to_scale, text_number_decoder
from certifiers.types import (
    GRID_BITS,
    SCORE_SCALE,
    ActionState,
    Aggregation,
    DisableableLayer,
    Frozen,
    Layer,
    OracleFailure,
    OracleRecord,
    Provenance,
    ToolCall,
    ToolSchema,
    UnknownTools,
)

MAX_DIM = 4096
MAX_COORDINATE = 2
GRID = 2**GRID_BITS
GRID_LIMIT = MAX_COORDINATE * GRID


class ClaimIn(Frozen, frozen=True, kw_only=True):
    text: str
    weight: Fraction = Fraction(1)
    span: tuple[int, int] | None = None


class EvidenceIn(Frozen, frozen=True, kw_only=True):
    id: str
    text: str
    source: str | None = None
    retrieved_at: int | None = None
    score: Fraction | None = None


Number = str | int  # an exact number: JSON integer, decimal text or "p/q" (see rational.ratio_of)


class NLIIn(Frozen, frozen=True, kw_only=True):
    """Scores in [0, 1]; `quantized` = already integers over SCORE_SCALE (set by the decoder)."""

    aggregation: Aggregation = "per_chunk"
    entail: tuple[tuple[Number, ...], ...]
    contradict: tuple[tuple[Number, ...], ...]
    quantized: bool = False


class ThresholdsIn(Frozen, frozen=True, kw_only=True):
    theta_g: Fraction | None = None
    theta_c: Fraction | None = None
    theta_e: Fraction | None = None
    theta_r: Fraction | None = None


class BudgetIn(Frozen, frozen=True, kw_only=True):
    max_weight: Fraction | None = None
    max_cost: Fraction | None = None
    costs: tuple[Fraction, ...] | None = None


class EmbeddingIn(Frozen, frozen=True, kw_only=True):
    """Vectors as exact numbers; `quantized` = already integer numerators over 2^GRID_BITS."""

    dim: int
    query: tuple[Number, ...]
    invariant: tuple[tuple[Number, ...], ...] = ()
    significant: tuple[tuple[Number, ...], ...] = ()
    evidence: tuple[tuple[Number, ...], ...] = ()
    quantized: bool = False
    top_k: int | None = None
    norm_tolerance: Fraction = Fraction(1, 100_000)
    text: str | None = None


class ActionsIn(Frozen, frozen=True, kw_only=True):
    schemas: tuple[ToolSchema, ...] = ()
    state: ActionState | None = None
    unknown_tools: UnknownTools | None = None
    calls: tuple[ToolCall, ...] = ()


class Scenario(Frozen, frozen=True, kw_only=True):
    """A recorded call: answer, claims, evidence, oracle outputs, constraints, policy and time."""

    answer: str
    query: str | None = None
    claims: tuple[ClaimIn, ...] = ()
    evidence: tuple[EvidenceIn, ...] = ()
    nli: NLIIn | None = None
    thresholds: ThresholdsIn | None = None
    claim_dependencies: dict[str, tuple[int, ...]] = msgspec.field(default_factory=dict)
    conflicts: tuple[tuple[int, int], ...] = ()
    budget: BudgetIn | None = None
    embedding: EmbeddingIn | None = None
    actions: ActionsIn | None = None
    layers: tuple[Layer, ...] | None = None
    epsilon0: Fraction | None = None
    policy: str | dict[str, Any] = "enterprise_qa"
    policy_overrides: dict[str, Any] | None = None
    now: int = 0
    replay_handle: str | None = None
    card_ttl_s: int | None = None
    oracles: dict[str, OracleRecord] = msgspec.field(default_factory=dict)
    oracle_failures: tuple[OracleFailure, ...] = ()
    max_claims: int | None = None
    disabled_layers: tuple[DisableableLayer, ...] = ()
    provenance: Provenance | None = None


def _fail(path: str, expected: str, got: object) -> ScenarioError:
    return ScenarioError(f"Expected {expected}, got {got}", path=path)


def _in_range(value: Fraction, low: Fraction, high: Fraction, path: str, *, open_low: bool) -> None:
    bad_low = value <= low if open_low else value < low
    if bad_low or value > high:
        interval = f"{'(' if open_low else '['}{low}, {high}]"
        raise _fail(path, f"a rational in {interval}", value)


def _check_index(value: int, count: int, path: str) -> None:
    if not 0 <= value < count:
        raise _fail(path, f"a claim index in [0, {count})", value)


def _number(value: Number, path: str) -> tuple[int, int]:
    try:
        return ratio_of(value)
    except ValueError as exc:
        raise ScenarioError(str(exc), path=path) from exc


def _quantize_matrix(
    rows: tuple[tuple[Number, ...], ...], n_rows: int, n_cols: int, path: str, *, done: bool
) -> tuple[tuple[int, ...], ...]:
    """Check shape and [0, 1]; return q(x) = floor(x·10⁶ + ½) per cell (SPEC 4.1)."""
    if len(rows) != n_rows:
        raise _fail(path, f"{n_rows} rows (one per claim)", f"{len(rows)} rows")
    out: list[tuple[int, ...]] = []
    for i, row in enumerate(rows):
        if len(row) != n_cols:
            raise _fail(f"{path}[{i}]", f"{n_cols} scores", f"{len(row)} scores")
        cells: list[int] = []
        for j, value in enumerate(row):
            if done and not isinstance(value, int):
                raise _fail(f"{path}[{i}][{j}]", "an integer score (quantized)", value)
            num, den = (
                (value, SCORE_SCALE)
                if isinstance(value, int) and done
                else _number(value, f"{path}[{i}][{j}]")
            )
            if not 0 <= num <= den:
                raise _fail(f"{path}[{i}][{j}]", "a score in [0, 1]", value)
            cells.append(num if done else round_to_scale(num, den, SCORE_SCALE))
        out.append(tuple(cells))
    return tuple(out)


def _checked_ints(values: tuple[Number, ...], path: str) -> tuple[int, ...]:
    """`values` itself, after checking in C-speed passes that every element is an int."""
    try:
        low, high = (min(values), max(values)) if values else (0, 0)
    except TypeError:  # ints and strings do not compare: a mixed tuple
        low = high = ""
    if not (isinstance(low, int) and isinstance(high, int)):
        k = next((i for i, v in enumerate(values) if not isinstance(v, int)), 0)
        raise _fail(f"{path}[{k}]", "an integer (quantized input)", repr(values[k]))
    # min and max are ints and no str compared with them, so every element is an int
    return cast("tuple[int, ...]", values)


def _quantize_vector(
    vector: tuple[Number, ...], dim: int, path: str, *, done: bool
) -> tuple[int, ...]:
    """Check length and |x| <= 2; return the integer numerators over 2^GRID_BITS."""
    if len(vector) != dim:
        raise _fail(path, f"{dim} coordinates", f"{len(vector)} coordinates")
    if done:
        grid = _checked_ints(vector, path)
    else:
        grid = tuple(
            round_to_scale(*_number(v, f"{path}[{i}]"), GRID) for i, v in enumerate(vector)
        )
    if grid and (min(grid) < -GRID_LIMIT or max(grid) > GRID_LIMIT):
        i = next(k for k, g in enumerate(grid) if not -GRID_LIMIT <= g <= GRID_LIMIT)
        bound = f"a coordinate in [-{MAX_COORDINATE}, {MAX_COORDINATE}]"
        raise _fail(f"{path}[{i}]", bound, vector[i])
    return tuple(grid)


def _normalized(s: Scenario) -> Scenario:
    """Quantize the bulk numeric arrays once (scores to 10⁻⁶, vectors to 2⁻²⁴), validating them."""
    nli, emb = s.nli, s.embedding
    if nli is not None:
        cols = 1 if nli.aggregation == "concat" else len(s.evidence)
        n, done = len(s.claims), nli.quantized
        nli = msgspec.structs.replace(
            nli,
            entail=_quantize_matrix(nli.entail, n, cols, "$.nli.entail", done=done),
            contradict=_quantize_matrix(nli.contradict, n, cols, "$.nli.contradict", done=done),
            quantized=True,
        )
    if emb is not None:
        _validate_embedding(emb)
        done, dim, base = emb.quantized, emb.dim, "$.embedding"
        emb = msgspec.structs.replace(
            emb,
            query=_quantize_vector(emb.query, dim, f"{base}.query", done=done),
            invariant=tuple(
                _quantize_vector(v, dim, f"{base}.invariant[{k}]", done=done)
                for k, v in enumerate(emb.invariant)
            ),
            significant=tuple(
                _quantize_vector(v, dim, f"{base}.significant[{k}]", done=done)
                for k, v in enumerate(emb.significant)
            ),
            evidence=tuple(
                _quantize_vector(v, dim, f"{base}.evidence[{k}]", done=done)
                for k, v in enumerate(emb.evidence)
            ),
            quantized=True,
        )
    return msgspec.structs.replace(s, nli=nli, embedding=emb)


def _validate(s: Scenario) -> None:
    n = len(s.claims)
    for i, claim in enumerate(s.claims):
        if claim.weight <= 0:
            raise _fail(f"$.claims[{i}].weight", "a weight > 0", claim.weight)
        if claim.span is not None and not 0 <= claim.span[0] <= claim.span[1] <= len(s.answer):
            raise _fail(f"$.claims[{i}].span", f"0 <= start <= end <= {len(s.answer)}", claim.span)
    if s.thresholds is not None:
        for name in ("theta_g", "theta_c", "theta_e", "theta_r"):
            value = getattr(s.thresholds, name)
            if value is not None:
                open_low = name in ("theta_g", "theta_c")
                _in_range(
                    value, Fraction(0), Fraction(1), f"$.thresholds.{name}", open_low=open_low
                )
    for key, required in s.claim_dependencies.items():
        path = f"$.claim_dependencies.{key}"
        if not key.isdigit():
            raise _fail(path, "a claim index as the key", repr(key))
        _check_index(int(key), n, path)
        for k, index in enumerate(required):
            _check_index(index, n, f"{path}[{k}]")
    for k, (a, b) in enumerate(s.conflicts):
        _check_index(a, n, f"$.conflicts[{k}][0]")
        _check_index(b, n, f"$.conflicts[{k}][1]")
        if a == b:
            raise _fail(f"$.conflicts[{k}]", "two different claims", [a, b])
    _validate_budget(s.budget, n)
    for k, layer in enumerate(s.layers or ()):
        if layer.gain < 0 or (layer.margin is not None and layer.margin < 0):
            raise _fail(f"$.layers[{k}]", "gain >= 0 and margin >= 0", layer)
        if layer.error < 0 or layer.amplification < 0:
            raise _fail(f"$.layers[{k}]", "error >= 0 and amplification >= 0", layer)
    for name, value in (("max_claims", s.max_claims), ("card_ttl_s", s.card_ttl_s)):
        if value is not None and value < 0:
            raise _fail(f"$.{name}", "a non-negative integer", value)


def _validate_budget(budget: BudgetIn | None, n: int) -> None:
    if budget is None:
        return
    limits = [x for x in (budget.max_weight, budget.max_cost) if x is not None]
    if len(limits) != 1 or limits[0] < 0:
        raise _fail("$.budget", "exactly one of max_weight / max_cost, >= 0", budget)
    if budget.max_cost is not None and (budget.costs is None or len(budget.costs) != n):
        raise _fail("$.budget.costs", f"{n} costs (one per claim) with max_cost", budget.costs)
    for k, cost in enumerate(budget.costs or ()):
        if cost < 0:
            raise _fail(f"$.budget.costs[{k}]", "a cost >= 0", cost)


def _validate_embedding(emb: EmbeddingIn) -> None:
    if not 1 <= emb.dim <= MAX_DIM:
        raise _fail("$.embedding.dim", f"an integer in [1, {MAX_DIM}]", emb.dim)
    if emb.top_k is not None and emb.top_k < 1:
        raise _fail("$.embedding.top_k", "an integer >= 1", emb.top_k)
    if emb.norm_tolerance < 0:
        raise _fail("$.embedding.norm_tolerance", "a rational >= 0", emb.norm_tolerance)


def normalize_scenario(scenario: Scenario) -> Scenario:
    """Validate a Scenario (decoded or built in code) and quantize its bulk arrays."""
    _validate(scenario)
    return _normalized(scenario)


def decode_scenario(data: bytes) -> Scenario:
    """Decode and validate a scenario; raise ScenarioError naming the offending field path."""
    try:
        raw = text_number_decoder().decode(data)
    except msgspec.DecodeError as exc:
        raise ScenarioError(f"Expected a JSON scenario, got undecodable input: {exc}") from exc
    except ValueError as exc:
        raise ScenarioError(f"Expected exact JSON numbers, got {exc}") from exc
    if not isinstance(raw, dict):
        raise _fail("$", "a JSON object", type(raw).__name__)
    try:
        scenario = msgspec.convert(raw, Scenario, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        raise ScenarioError(str(exc)) from exc
    return normalize_scenario(scenario)
