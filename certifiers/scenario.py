"""The public certify scenario format and its decoder (CONTRACTS: `decode_scenario`).

JSON numbers are read exactly from their decimal text (never through float) and strings such as
"0.92" or "3/25" too. Shape errors and range errors raise `ScenarioError` naming the field path
(`$.nli.entail[3][0]`). Oracle scores are quantized later (SPEC 4.1), in
`certifiers.builders.certify`. This module only decodes and validates; it computes no certificate.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Any, Literal, cast

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


def _number(value: Number, path: str) -> tuple[int, int]:
    try:
        return ratio_of(value)
    except ValueError as exc:
        raise ScenarioError(str(exc), path=path) from exc


#: a row of plain decimal scores "0.d…d" (1 to 15 digits) joined by commas: the common case
_DECIMAL_SCORES = re.compile(r"0\.[0-9]{1,15}(?:,0\.[0-9]{1,15})*")
_SCALE_DIGITS = len(str(SCORE_SCALE)) - 1  # 10⁶ = 10^6


def _score_of(marked: int) -> int:
    """q(x) for x = 0.d₁…d_L given as the integer 1d₁…d_L (= 10^L + f): floor(x·10⁶ + ½)."""
    length = len(str(marked)) - 1
    denominator: int = 10**length
    frac = marked - denominator
    if length <= _SCALE_DIGITS:
        pad: int = 10 ** (_SCALE_DIGITS - length)
        return frac * pad
    return round_to_scale(frac, denominator, SCORE_SCALE)


def _plain_scores(row: tuple[Number, ...]) -> tuple[int, ...] | None:
    """q(x) of a row whose cells are all "0.d…d" text, without Fractions; else None.

    Each cell "0.d₁…d_L" is rewritten "1d₁…d_L" (the integer 10^L + f, f = d₁…d_L, x = f/10^L)
    and the row decoded as one JSON integer array. With L = 6 (the usual text) q(x) = f; other
    lengths go through `_score_of`, the same floor(x·10⁶ + ½) as `round_to_scale`.
    """
    try:
        joined = ",".join(cast("tuple[str, ...]", row))
    except TypeError:  # an int (or anything but text) in the row
        return None
    if joined.count(",") != len(row) - 1 or not _DECIMAL_SCORES.fullmatch(joined):
        return None
    # "0." occurs only at the start of a cell: the digits after it contain no "."
    marked: list[int] = msgspec.json.decode("[" + joined.replace("0.", "1") + "]")
    low, high = 10**_SCALE_DIGITS, 2 * 10**_SCALE_DIGITS
    return tuple([m - low if low <= m < high else _score_of(m) for m in marked])


def _plain_quantized(row: tuple[Number, ...]) -> tuple[int, ...] | None:
    """The row itself when every cell is exactly an `int` in [0, SCORE_SCALE]; else None."""
    if not row or set(map(type, row)) != {int}:
        return None
    ints = cast("tuple[int, ...]", row)
    return ints if min(ints) >= 0 and max(ints) <= SCORE_SCALE else None


def _quantize_row(row: tuple[Number, ...], path: str, *, done: bool) -> tuple[int, ...]:
    """One row cell by cell (the exact general path, with the first offending cell's error)."""
    cells: list[int] = []
    for j, value in enumerate(row):
        if done and not isinstance(value, int):
            raise _fail(f"{path}[{j}]", "an integer score (quantized)", value)
        num, den = (
            (value, SCORE_SCALE)
            if isinstance(value, int) and done
            else _number(value, f"{path}[{j}]")
        )
        if not 0 <= num <= den:
            raise _fail(f"{path}[{j}]", "a score in [0, 1]", value)
        cells.append(num if done else round_to_scale(num, den, SCORE_SCALE))
    return tuple(cells)


def _quantize_matrix(
    rows: tuple[tuple[Number, ...], ...], n_rows: int, n_cols: int, path: str, *, done: bool
) -> tuple[tuple[int, ...], ...]:
    """Check shape and [0, 1]; return q(x) = floor(x·10⁶ + ½) per cell (SPEC 4.1).

    Rows of exact ints (quantized) or of plain "0.ddd…" text take a fast path with the same
    result; any other row goes through `_quantize_row`, which raises on its first bad cell.
    """
    if len(rows) != n_rows:
        raise _fail(path, f"{n_rows} rows (one per claim)", f"{len(rows)} rows")
    fast = _plain_quantized if done else _plain_scores
    out: list[tuple[int, ...]] = []
    for i, row in enumerate(rows):
        if len(row) != n_cols:
            raise _fail(f"{path}[{i}]", f"{n_cols} scores", f"{len(row)} scores")
        quick = fast(row)
        out.append(quick if quick is not None else _quantize_row(row, f"{path}[{i}]", done=done))
    return tuple(out)


def _checked_ints(values: tuple[Number, ...], path: str) -> tuple[tuple[int, ...], int, int]:
    """`values` itself and its min and max, after checking in C-speed passes that all are ints."""
    try:
        low, high = (min(values), max(values)) if values else (0, 0)
    except TypeError:  # ints and strings do not compare: a mixed tuple
        low = high = ""
    if not (isinstance(low, int) and isinstance(high, int)):
        k = next((i for i, v in enumerate(values) if not isinstance(v, int)), 0)
        raise _fail(f"{path}[{k}]", "an integer (quantized input)", repr(values[k]))
    # min and max are ints and no str compared with them, so every element is an int
    return cast("tuple[int, ...]", values), low, high


def _quantize_vector(
    vector: tuple[Number, ...], dim: int, path: str, *, done: bool, checked: bool = False
) -> tuple[int, ...]:
    """Check length and |x| <= 2; return the integer numerators over 2^GRID_BITS.

    `checked`: the decoder already proved every coordinate a GridInt (`_GridEmbeddingIn`).
    """
    if len(vector) != dim:
        raise _fail(path, f"{dim} coordinates", f"{len(vector)} coordinates")
    if checked:
        return cast("tuple[int, ...]", vector)
    if done:
        grid, low, high = _checked_ints(vector, path)
    else:
        grid = tuple(
            round_to_scale(*_number(v, f"{path}[{i}]"), GRID) for i, v in enumerate(vector)
        )
        low, high = (min(grid), max(grid)) if grid else (0, 0)
    if low < -GRID_LIMIT or high > GRID_LIMIT:
        i = next(k for k, g in enumerate(grid) if not -GRID_LIMIT <= g <= GRID_LIMIT)
        bound = f"a coordinate in [-{MAX_COORDINATE}, {MAX_COORDINATE}]"
        raise _fail(f"{path}[{i}]", bound, vector[i])
    return tuple(grid)


def _normalized(s: Scenario, *, grid_checked: bool = False) -> Scenario:
    """Quantize the bulk numeric arrays once (scores to 10⁻⁶, vectors to 2⁻²⁴), validating them.

    `grid_checked`: the embedding coordinates were decoded as GridInts (see `_decode_grid`).
    """
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
        done, dim, base, ok = emb.quantized, emb.dim, "$.embedding", grid_checked
        emb = msgspec.structs.replace(
            emb,
            query=_quantize_vector(emb.query, dim, f"{base}.query", done=done, checked=ok),
            invariant=tuple(
                _quantize_vector(v, dim, f"{base}.invariant[{k}]", done=done, checked=ok)
                for k, v in enumerate(emb.invariant)
            ),
            significant=tuple(
                _quantize_vector(v, dim, f"{base}.significant[{k}]", done=done, checked=ok)
                for k, v in enumerate(emb.significant)
            ),
            evidence=tuple(
                _quantize_vector(v, dim, f"{base}.evidence[{k}]", done=done, checked=ok)
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
        tools: set[str] = set()
        for k, schema in enumerate(s.actions.schemas):
            if schema.tool in tools:
                raise _fail(
                    f"$.actions.schemas[{k}].tool", "one schema per tool", repr(schema.tool)
                )
            tools.add(schema.tool)
    for k, layer in enumerate(s.layers or ()):
        if layer.gain < 0 or (layer.margin is not None and layer.margin < 0):
            raise _fail(f"$.layers[{k}]", "gain >= 0 and margin >= 0", layer)
        if layer.error < 0 or layer.amplification < 0:
            raise _fail(f"$.layers[{k}]", "error >= 0 and amplification >= 0", layer)
    for name, value in (("max_claims", s.max_claims), ("card_ttl_s", s.card_ttl_s)):
        if value is not None and value < 0:
            raise _fail(f"$.{name}", "a non-negative integer", value)


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


def decode_scenario(data: bytes) -> Scenario:
    """Decode and validate a scenario; raise ScenarioError naming the offending field path.

    Fast paths: one typed decode (JSON floats inside untyped fields kept as text, Fraction fields
    parsed exactly by `dec_hook`), first with quantized embedding coordinates checked by msgspec
    as GridInts, then with the plain `Scenario` shape. A typed decode fails on any invalid input
    (and on JSON non-integer numbers in `Number` fields); the general path below then decodes
    (and reports) exactly as before. Every path gives the same Scenario for the same bytes.
    """
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
