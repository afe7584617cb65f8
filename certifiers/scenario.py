"""The public certify scenario format and its decoder, `decode_scenario` (the core's input API).

JSON numbers are read exactly from their decimal text (never through float) and strings such as
"0.92" or "3/25" too. Shape errors and range errors raise `ScenarioError` naming the field path
(`$.nli.entail[3][0]`). NLI scores and embedding coordinates cross the boundary here, once, through
`certifiers.quantize` (SPEC 4.1); `decode_embedding` does the same for one embedding section on its
own (the proxy's early crossing). This module only decodes and validates; it computes no
certificate.
"""

from __future__ import annotations

import posixpath
import re
from fractions import Fraction
from typing import Annotated, Any, Literal

import msgspec

from certifiers.errors import ScenarioError
from certifiers.quantize import GRID_LIMIT, Number, grid_vector, score_rows
from certifiers.rational import dec_hook, text_number_decoder
from certifiers.types import (
    ActionState,
    Aggregation,
    Calibration,
    DisableableLayer,
    Frozen,
    Layer,
    OracleFailure,
    OracleRecord,
    Prefilter,
    Provenance,
    ToolCall,
    ToolSchema,
    UnknownTools,
)

MAX_DIM = 4096


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


class NLIIn(Frozen, frozen=True, kw_only=True):
    """Scores in [0, 1]; `quantized` = already integers over SCORE_SCALE (set by the decoder)."""

    aggregation: Aggregation = "per_chunk"
    entail: tuple[tuple[Number, ...], ...]
    contradict: tuple[tuple[Number, ...], ...]
    quantized: bool = False
    prefilter: Prefilter | None = None
    calibration: Calibration | None = None


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
    #: "auto": vectors inlined when small (INLINE_COORDINATES); "always": always inlined, so every
    #: measurement is re-derivable by a verifier (larger bundles)
    inline: Literal["auto", "always"] = "auto"


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
    #: claim index -> prerequisite names that match no claim (never Supported: `requires:absent`)
    unmet_dependencies: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
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
    #: "inline": the emitted text carries `[id]` citation markers (recorded in `context.citations`)
    citations: Literal["none", "inline"] = "none"


#: a quantized coordinate as msgspec checks it while decoding: an int on the grid within ±2
GridInt = Annotated[int, msgspec.Meta(ge=-GRID_LIMIT, le=GRID_LIMIT)]


class _GridEmbeddingIn(EmbeddingIn, frozen=True, kw_only=True):
    """`EmbeddingIn` with `quantized: true` and every coordinate a GridInt (decode fast path)."""

    query: tuple[GridInt, ...]
    invariant: tuple[tuple[GridInt, ...], ...] = ()
    significant: tuple[tuple[GridInt, ...], ...] = ()
    evidence: tuple[tuple[GridInt, ...], ...] = ()
    quantized: Literal[True]


class _GridScenario(Scenario, frozen=True, kw_only=True):
    """`Scenario` whose embedding section, if any, is a `_GridEmbeddingIn` (decode fast path)."""

    embedding: _GridEmbeddingIn | None = None


def _fields(struct: msgspec.Struct) -> dict[str, Any]:
    return {name: getattr(struct, name) for name in struct.__struct_fields__}


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


def _normalized(s: Scenario, *, grid_checked: bool = False) -> Scenario:
    """Quantize the bulk numeric arrays once (scores to 10⁻⁶, vectors to 2⁻²⁴), validating them.

    `grid_checked`: the embedding coordinates were decoded as GridInts (see `_decode_grid`).
    """
    nli, emb = s.nli, s.embedding
    if nli is not None:
        cols = {"concat": 1, "per_chunk": len(s.evidence), "joint": len(s.evidence) + 1}[
            nli.aggregation
        ]
        n, done = len(s.claims), nli.quantized
        nli = msgspec.structs.replace(
            nli,
            entail=score_rows(nli.entail, n, cols, "$.nli.entail", done=done),
            contradict=score_rows(nli.contradict, n, cols, "$.nli.contradict", done=done),
            quantized=True,
        )
    if emb is not None:
        _validate_embedding(emb)
        done, dim, base, ok = emb.quantized, emb.dim, "$.embedding", grid_checked
        emb = msgspec.structs.replace(
            emb,
            query=grid_vector(emb.query, dim, f"{base}.query", done=done, checked=ok),
            invariant=tuple(
                grid_vector(v, dim, f"{base}.invariant[{k}]", done=done, checked=ok)
                for k, v in enumerate(emb.invariant)
            ),
            significant=tuple(
                grid_vector(v, dim, f"{base}.significant[{k}]", done=done, checked=ok)
                for k, v in enumerate(emb.significant)
            ),
            evidence=tuple(
                grid_vector(v, dim, f"{base}.evidence[{k}]", done=done, checked=ok)
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
        _check_key(key, n, path)
        for k, index in enumerate(required):
            _check_index(index, n, f"{path}[{k}]")
    for key, names in s.unmet_dependencies.items():
        path = f"$.unmet_dependencies.{key}"
        _check_key(key, n, path)
        if not names:
            raise _fail(path, "at least one prerequisite name", "[]")
    for k, (a, b) in enumerate(s.conflicts):
        _check_index(a, n, f"$.conflicts[{k}][0]")
        _check_index(b, n, f"$.conflicts[{k}][1]")
        if a == b:
            raise _fail(f"$.conflicts[{k}]", "two different claims", [a, b])
    _validate_budget(s.budget, n)
    if s.epsilon0 is not None and s.epsilon0 < 0:
        raise _fail("$.epsilon0", "a rational >= 0", s.epsilon0)
    if s.actions is not None:
        seen: set[str] = set()
        for k, call in enumerate(s.actions.calls):
            if call.id in seen:
                raise _fail(
                    f"$.actions.calls[{k}].id", "a call id unique in the call list", call.id
                )
            seen.add(call.id)
        _validate_action_data(s.actions)
    for k, layer in enumerate(s.layers or ()):
        if layer.gain < 0 or (layer.margin is not None and layer.margin < 0):
            raise _fail(f"$.layers[{k}]", "gain >= 0 and margin >= 0", layer)
        if layer.error < 0 or layer.amplification < 0:
            raise _fail(f"$.layers[{k}]", "error >= 0 and amplification >= 0", layer)
    for name, value in (("max_claims", s.max_claims), ("card_ttl_s", s.card_ttl_s)):
        if value is not None and value < 0:
            raise _fail(f"$.{name}", "a non-negative integer", value)


def canonical_path(path: str) -> str:
    """SPEC 5.4 lexical path normalization: posixpath.normpath, a leading '//' as '/'."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def _validate_action_data(actions: ActionsIn) -> None:
    """One schema per tool, and no two `state.files` keys naming the same normalized path (an
    alias such as `/sandbox//a` next to `/sandbox/a` would make the gate's lookup ambiguous)."""
    tools: set[str] = set()
    for k, schema in enumerate(actions.schemas):
        if schema.tool in tools:
            raise _fail(f"$.actions.schemas[{k}].tool", "one schema per tool", schema.tool)
        tools.add(schema.tool)
    if actions.state is None:
        return
    paths: dict[str, str] = {}
    for key in actions.state.files:
        other = paths.setdefault(canonical_path(key), key)
        if other != key:
            raise _fail(
                "$.actions.state.files",
                "file paths that stay distinct after normalization",
                f"{other!r} and {key!r}",
            )


_INDEX_KEY = re.compile(r"0|[1-9][0-9]*")


def _check_key(key: str, n: int, path: str) -> None:
    """A claim index written as an object key: ASCII decimal, no sign or leading zero."""
    if not _INDEX_KEY.fullmatch(key):
        raise _fail(path, "a claim index (ASCII decimal) as the key", repr(key))
    _check_index(int(key), n, path)


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


def decode_scenario(data: bytes, *, embedding: EmbeddingIn | None = None) -> Scenario:
    """Decode and validate a scenario; raise ScenarioError naming the offending field path.

    Fast paths: one typed decode (JSON floats inside untyped fields kept as text, Fraction fields
    parsed exactly by `dec_hook`), first with quantized embedding coordinates checked by msgspec
    as GridInts, then with the plain `Scenario` shape. A typed decode fails on any invalid input
    (and on JSON non-integer numbers in `Number` fields); the general path below then decodes
    (and reports) exactly as before. Every path gives the same Scenario for the same bytes.

    `embedding`: the scenario's embedding section as `decode_embedding` returned it, for a caller
    that decoded it ahead of the rest; `data` must then have no `embedding` of its own.
    """
    scenario = _decode(data)
    if embedding is None:
        return scenario
    if scenario.embedding is not None:
        raise _fail("$.embedding", "no section (one was decoded separately)", "a section")
    return msgspec.structs.replace(scenario, embedding=embedding)


def decode_embedding(data: bytes) -> EmbeddingIn:
    """One `embedding` section (JSON object bytes) decoded, validated and quantized on its own.

    Exactly the decoding of that section inside a scenario (errors name `$.embedding...`). Only
    the section is returned, so bytes that are not one JSON value can at worst yield another,
    equally validated section.
    """
    section = _decode(b'{"answer": "", "embedding": ' + data + b"}").embedding
    if section is None:
        raise _fail("$.embedding", "an embedding section", "null")
    return section


def _decode(data: bytes) -> Scenario:
    try:
        grid = _decode_grid(data)
        if grid is not None:
            return grid
        typed = msgspec.json.Decoder(Scenario, dec_hook=dec_hook, float_hook=str)
        try:
            fast = typed.decode(data)
        except Exception:  # any failure: the general path below decides and reports
            return normalize_scenario(_decode_general(data))
        return normalize_scenario(fast)
    except RecursionError as exc:
        raise ScenarioError(
            "Expected a JSON scenario of bounded depth, got one nested too deeply"
        ) from exc


def _decode_grid(data: bytes) -> Scenario | None:
    """The scenario when it decodes as `_GridScenario` (embedding, if any, quantized), else None."""
    decoder = msgspec.json.Decoder(_GridScenario, dec_hook=dec_hook, float_hook=str)
    try:
        grid = decoder.decode(data)
    except Exception:  # not that form, or invalid: the other paths decide and report
        return None
    emb = grid.embedding
    fields = _fields(grid)
    fields["embedding"] = EmbeddingIn(**_fields(emb)) if emb is not None else None
    scenario = Scenario(**fields)
    _validate(scenario)
    return _normalized(scenario, grid_checked=emb is not None)


def _decode_general(data: bytes) -> Scenario:
    """Untyped decode keeping non-integer numbers as text, then convert (the reference path)."""
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
        raise ScenarioError(_clearer(str(exc), raw)) from exc
    return scenario


_INT_GOT_TEXT = re.compile(r"Expected `int`, got `str` - at `(\$[^`]*)`")
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[([0-9]+)\]")


def _clearer(message: str, raw: object) -> str:
    """Rewrite msgspec's "Expected `int`, got `str`" for a JSON decimal kept as text.

    The message then reads "Expected an integer, got 1.5" with the same path.
    """
    match = _INT_GOT_TEXT.fullmatch(message)
    if match is None:
        return message
    node = raw
    for key, index in _PATH_STEP.findall(match.group(1)[1:]):
        if key and isinstance(node, dict) and key in node:
            node = node[key]
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return message
    if isinstance(node, str) and _NUMBER_TEXT.fullmatch(node):
        return f"Expected an integer, got {node} - at `{match.group(1)}`"
    return message


_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
