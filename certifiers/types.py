"""Wire types of the trusted core: certificates, card, policy and bundle (SPEC 5-6, paper §5-§10).

Closed families of frozen msgspec Structs (STYLE 5). Every certificate keeps its *data* (what
the verifier re-derives from) apart from its *derived* fields (what the verifier must recompute
and compare), marked field by field by `# data` and `# derived` comments. Rationals are
`Fraction` here and "p/q" strings on the wire (`certifiers.rational` hooks). Computes nothing.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

import msgspec

Status = Literal["supported", "contradicted", "contested", "unknown"]
Aggregation = Literal["per_chunk", "concat", "joint"]
Admission = Literal["ground_strict", "norefute", "none"]
UnknownTools = Literal["allow", "block"]
DisableableLayer = Literal["stability"]
BUNDLE_FORMAT = "assurance-bundle/1"
VERIFIER_VERSION = "assurance-certifiers/1"
#: denominator of quantized oracle scores: q(x) = round(x * 10^6) / 10^6 (SPEC 4.1)
SCORE_SCALE = 1_000_000
#: embedding coordinates live on the grid 2^-GRID_BITS (SPEC 4.1): integer numerators over GRID
GRID_BITS = 24
GRID = 2**GRID_BITS


class Frozen(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every wire Struct: immutable, keyword-only, unknown fields rejected."""


# --- shared inputs -----------------------------------------------------------------------------


class Claim(Frozen, frozen=True, kw_only=True):
    """An atomic claim (paper §5.1): text, weight > 0, optional [start, end) span in the answer."""

    text: str
    weight: Fraction
    span: tuple[int, int] | None = None


class Decomposition(Frozen, frozen=True, kw_only=True):
    """The answer and its atomic claims; shared data of the grounding and residue certificates."""

    answer: str
    claims: tuple[Claim, ...]


class Thresholds(Frozen, frozen=True, kw_only=True):
    """Grounding thresholds θ_g, θ_c ∈ (0,1], θ_e, θ_r ∈ [0,1] (SPEC 5.1; paper defaults)."""

    theta_g: Fraction = Fraction(1, 2)
    theta_c: Fraction = Fraction(1, 2)
    theta_e: Fraction = Fraction(1, 2)
    theta_r: Fraction = Fraction(1, 20)


class EvidenceRef(Frozen, frozen=True, kw_only=True):
    """One evidence chunk as recorded in a bundle (its text is bound by `evidence_digest`)."""

    id: str
    retrieved_at: int | None = None
    source: str | None = None


class OracleRecord(Frozen, frozen=True, kw_only=True):
    """Which adapter/model answered an oracle role, and its transcript digest."""

    adapter: str
    model: str | None = None
    digest: str | None = None


class OracleFailure(Frozen, frozen=True, kw_only=True):
    """A required oracle that failed (fail closed -> abstain)."""

    oracle: str
    reason: str


class Provenance(Frozen, frozen=True, kw_only=True):
    """Model version and prompt template identifiers (hashed into the card)."""

    model_version: str | None = None
    prompt_template: str | None = None


class Context(Frozen, frozen=True, kw_only=True):
    """Per-call inputs of the card that are no certificate's data (time, limits, provenance)."""

    now: int
    card_ttl_s: int | None = None
    max_claims: int | None = None
    replay_handle: str | None = None
    disabled_layers: tuple[DisableableLayer, ...] = ()
    oracle_failures: tuple[OracleFailure, ...] = ()
    oracles: dict[str, OracleRecord] = msgspec.field(default_factory=dict)
    provenance: Provenance | None = None
    evidence: tuple[EvidenceRef, ...] = ()
    evidence_digest: str | None = None
    #: Ed25519 public key (hex) of the proxy that issues this bundle, inside the digest-covered
    #: data: when set, the bundle must carry a valid signature by exactly this key (SPEC 6)
    signer: str | None = None
    #: the citation mode the client asked for (issue 14): "inline" puts `[id]` markers into the
    #: emitted text (`Bundle.emission`), so the bundle accounts for every emitted byte
    citations: Literal["none", "inline"] = "none"


# --- §5 conflict-aware grounding ---------------------------------------------------------------


class Prefilter(Frozen, frozen=True, kw_only=True):
    """Which cells of a `per_chunk` (or `joint`) matrix the NLI oracle judged: top-k chunks.

    Data. `similarity[i][j]` is the pre-filter's recorded similarity of claim i and chunk j
    (integers over 10⁶); `judged[i]` must be the k indices with the highest similarity, best first,
    ties to the lower index, and every other cell scores (0, 0): neutral (assumption
    `EmbeddingPrefilter`: a chunk outside the top k neither supports nor contradicts the claim).
    """

    method: Literal["embedding_top_k"] = "embedding_top_k"
    k: int
    model: str
    similarity: tuple[tuple[int, ...], ...]
    judged: tuple[tuple[int, ...], ...]


class Calibration(Frozen, frozen=True, kw_only=True):
    """The NLI model card's expected calibration error for the exact weights that judged.

    Data, declared as assumption `CalibrationRecord`: measured once on the validation split named
    by its digest, not per call. The card's `calibration_gap` equals `expected_calibration_error`.
    """

    model_fingerprint: str
    validation_digest: str
    validation_pairs: int
    expected_calibration_error: Fraction
    bins: int


class SupportMatrix(Frozen, frozen=True, kw_only=True):
    """Quantized NLI scores, claims x chunks (or claims x 1 for concat), as integers over `scale`.

    `joint` adds one last column per claim: the claim judged against its chunks taken together (its
    pre-filter's judged chunks, best first; every chunk, in evidence order, without a pre-filter),
    so a claim that needs two chunks at once can be supported; the other columns are per chunk.

    Data. sigma+ and sigma- are derived by the simplex repair of SPEC 4.1: if e + c <= scale then
    (e/scale, c/scale, 1 - (e+c)/scale), else (e/(e+c), c/(e+c), 0).
    """

    aggregation: Aggregation
    scale: int
    entail: tuple[tuple[int, ...], ...]
    contradict: tuple[tuple[int, ...], ...]
    prefilter: Prefilter | None = None


class Masses(Frozen, frozen=True, kw_only=True):
    """The four normalized weight masses W⁺, W⁻, W±, W? (sum exactly 1)."""

    supported: Fraction
    contradicted: Fraction
    contested: Fraction
    unknown: Fraction


class Reconstruction(Frozen, frozen=True, kw_only=True):
    """Decidable Def. 5.1: content tokens of the answer missing from the joined claims."""

    passed: bool
    missing_tokens: tuple[str, ...]


class GroundingCertificate(Frozen, frozen=True, kw_only=True):
    """Paper §5.3 ConflictAwareGroundingCertificate (claims: `Certificates.decomposition`)."""

    kind: Literal["grounding"] = "grounding"
    # data
    support: SupportMatrix
    thresholds: Thresholds
    calibration: Calibration | None = None
    # derived
    beta_plus: tuple[Fraction, ...]
    beta_minus: tuple[Fraction, ...]
    statuses: tuple[Status, ...]
    masses: Masses
    emitted: bool
    reconstruction: Reconstruction
    assumptions: tuple[str, ...] = ("DecompositionOracle", "SignedSupportOracle")
    oracle_digests: dict[str, str] = msgspec.field(default_factory=dict)


# --- §6 maximal certifiable residue ------------------------------------------------------------


class Dependency(Frozen, frozen=True, kw_only=True):
    """C_pre: claim `claim` may be kept only if every claim in `requires` is Supported.

    `absent` names prerequisites that match no decomposed claim (the pipeline's unmatched client
    names): such a prerequisite is never Supported, so the claim is excluded (`requires:absent`).
    """

    claim: int
    requires: tuple[int, ...]
    absent: tuple[str, ...] = ()


class Budget(Frozen, frozen=True, kw_only=True):
    """C_bud: the kept claims' total cost must be <= limit (costs default to the weights)."""

    limit: Fraction
    costs: tuple[Fraction, ...]


class Exclusion(Frozen, frozen=True, kw_only=True):
    """A claim excluded per claim before the search, with the first failing constraint's name."""

    claim: int
    reason: str


class ResidueCertificate(Frozen, frozen=True, kw_only=True):
    """Paper §6.3 MCRCertificate over `Certificates.decomposition.claims`."""

    kind: Literal["residue"] = "residue"
    # data (configured constraints)
    forbidden_patterns: tuple[str, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    conflicts: tuple[tuple[int, int], ...] = ()
    budget: Budget | None = None
    # derived
    admission: Admission
    exclusions: tuple[Exclusion, ...]
    kept: tuple[int, ...]
    dropped: tuple[int, ...]
    kept_weight: Fraction
    total_weight: Fraction
    coverage: Fraction
    assumptions: tuple[str, ...] = ()
    oracle_digests: dict[str, str] = msgspec.field(default_factory=dict)


# --- §7 embedding sensitivity ------------------------------------------------------------------


class VariantMeasure(Frozen, frozen=True, kw_only=True):
    """One variant: |v|^2 and |u-v|^2 in grid units (over 4^GRID_BITS), and its top-k set."""

    norm_sq: int
    dist_sq: int
    top_k: tuple[int, ...] | None = None


class EvidenceMeasure(Frozen, frozen=True, kw_only=True):
    """One evidence embedding: |d|^2 and <u, d> in grid units (over 4^GRID_BITS)."""

    norm_sq: int
    dot: int


class QuantizedVectors(Frozen, frozen=True, kw_only=True):
    """The quantized vectors (integer numerators over 2^GRID_BITS), inlined when small."""

    query: tuple[int, ...]
    invariant: tuple[tuple[int, ...], ...]
    significant: tuple[tuple[int, ...], ...]
    evidence: tuple[tuple[int, ...], ...]


class EmbeddingCertificate(Frozen, frozen=True, kw_only=True):
    """Paper §7.2 EmbeddingSensitivityCertificate as integer measurements + ranking (SPEC 5.3)."""

    kind: Literal["embedding"] = "embedding"
    # data
    text: str | None = None
    dim: int
    grid_bits: int = GRID_BITS
    norm_tolerance: Fraction
    top_k: int | None = None
    query_norm_sq: int
    invariant: tuple[VariantMeasure, ...]
    significant: tuple[VariantMeasure, ...]
    evidence: tuple[EvidenceMeasure, ...] = ()
    vectors_digest: str
    vectors: QuantizedVectors | None = None
    #: "derived": vectors inlined, every measurement re-derivable; "recorded": vectors left out,
    #: the integer measurements are the embedder's output (ParaphraseOracle scope) bound by
    #: `vectors_digest` but not re-derivable by a verifier
    measurements: Literal["derived", "recorded"]
    # derived
    r2_inv: Fraction | None
    r2_sig: Fraction | None
    delta_sq: Fraction | None
    selective: bool | None
    sqrt_dim_upper: Fraction
    max_dist_upper: Fraction
    eps_eta: Fraction
    drift_bound: Fraction | None
    norms_bounded: bool
    ranking: tuple[int, ...] | None = None
    rank_margin: Fraction | None = None
    rank_margin_sq: Fraction | None = None
    variant_flips: int | None = None
    semantic_agreement: Fraction | None = None
    assumptions: tuple[str, ...] = ("ParaphraseOracle",)
    oracle_digests: dict[str, str] = msgspec.field(default_factory=dict)


# --- §8 Hoare-style action gate ----------------------------------------------------------------


class Pred(Frozen, frozen=True, kw_only=True, tag_field="pred"):
    """Base of the decidable precondition vocabulary (SPEC 5.4)."""


class PathInSandbox(Pred, frozen=True, kw_only=True, tag="path_in_sandbox"):
    arg: str
    root: str


class PathInSubprefix(Pred, frozen=True, kw_only=True, tag="path_in_subprefix"):
    arg: str
    prefix: str


class OwnerIs(Pred, frozen=True, kw_only=True, tag="owner_is"):
    arg: str
    owner: str


class MtimeAtLeastDays(Pred, frozen=True, kw_only=True, tag="mtime_at_least_days"):
    arg: str
    days: Fraction


class CounterWithin(Pred, frozen=True, kw_only=True, tag="counter_within"):
    counter: str
    max: int


class ArgIn(Pred, frozen=True, kw_only=True, tag="arg_in"):
    arg: str
    values: tuple[str | int | bool | None, ...]


class ArgNotIn(Pred, frozen=True, kw_only=True, tag="arg_not_in"):
    arg: str
    values: tuple[str | int | bool | None, ...]


class NumberBetween(Pred, frozen=True, kw_only=True, tag="number_between"):
    arg: str
    min: Fraction
    max: Fraction


class HostInAllowlist(Pred, frozen=True, kw_only=True, tag="host_in_allowlist"):
    arg: str
    hosts: tuple[str, ...]


class ToolForbidden(Pred, frozen=True, kw_only=True, tag="tool_forbidden"):
    pass


Predicate = (
    PathInSandbox
    | PathInSubprefix
    | OwnerIs
    | MtimeAtLeastDays
    | CounterWithin
    | ArgIn
    | ArgNotIn
    | NumberBetween
    | HostInAllowlist
    | ToolForbidden
)


class Effect(Frozen, frozen=True, kw_only=True):
    """A counter increment applied when the call is allowed."""

    counter: str
    add: int


class ToolSchema(Frozen, frozen=True, kw_only=True):
    """Preconditions (checked in order) and effects of one tool."""

    tool: str
    pre: tuple[Predicate, ...] = ()
    effects: tuple[Effect, ...] = ()


class FileMeta(Frozen, frozen=True, kw_only=True):
    owner: str
    mtime: int


class ActionState(Frozen, frozen=True, kw_only=True):
    """The state model: time, counters and a file table (paths normalized by the gate)."""

    now: int
    counters: dict[str, int] = msgspec.field(default_factory=dict)
    files: dict[str, FileMeta] = msgspec.field(default_factory=dict)


class ToolCall(Frozen, frozen=True, kw_only=True):
    """A proposed tool call: id, tool name and the raw JSON argument text."""

    id: str
    name: str
    arguments: str


class AuditRecord(Frozen, frozen=True, kw_only=True):
    """Why a call was blocked: failed predicate, offending value, expected condition, proposal."""

    call_id: str
    tool: str
    predicate: str
    offending_value: str
    expected: str
    proposal: str


class CallDecision(Frozen, frozen=True, kw_only=True):
    """Gate outcome for one call; `checked` is false for an allowed call with no schema."""

    id: str
    allowed: bool
    checked: bool
    audit: AuditRecord | None = None


class ActionCertificate(Frozen, frozen=True, kw_only=True):
    """Paper §8.1 TrajectoryCertificate for the calls of one response, chained via counters."""

    kind: Literal["actions"] = "actions"
    # data
    schemas: tuple[ToolSchema, ...]
    state: ActionState
    unknown_tools: UnknownTools
    calls: tuple[ToolCall, ...]
    # derived
    decisions: tuple[CallDecision, ...]
    post_counters: dict[str, int]
    assumptions: tuple[str, ...] = ()
    oracle_digests: dict[str, str] = msgspec.field(default_factory=dict)


# --- §9 compositional stability ----------------------------------------------------------------


class Layer(Frozen, frozen=True, kw_only=True):
    """A certified layer (Def. 9.1): gain g, margin m (None = unbounded), error ε, constant C."""

    name: str
    gain: Fraction
    margin: Fraction | None = None
    error: Fraction = Fraction(0)
    amplification: Fraction = Fraction(0)


class StabilityCertificate(Frozen, frozen=True, kw_only=True):
    """Corollary 9.4 (κ_Π, B_Π), Theorem 9.3's ε* chain, error envelope Σ εᵢ ∏_{j>i}(1+Cⱼ)."""

    kind: Literal["stability"] = "stability"
    # data
    layers: tuple[Layer, ...]
    source: Literal["declared", "derived"]
    epsilon0: Fraction | None = None
    # derived
    kappa: Fraction
    budget: Fraction | None
    epsilon_chain: tuple[Fraction, ...] | None = None
    chain_within_margins: bool | None = None
    error_envelope: Fraction
    assumptions: tuple[str, ...] = ()
    oracle_digests: dict[str, str] = msgspec.field(default_factory=dict)


# --- §10 policy, card, bundle ------------------------------------------------------------------


class Policy(Frozen, frozen=True, kw_only=True):
    """Application acceptance policy (paper Table 4 + SPEC 5.7); max_age_seconds "∞" = unbounded."""

    name: str
    min_supported_mass: Fraction
    max_contradicted_mass: Fraction
    max_contested_mass: Fraction
    required_in_scope: bool
    max_unverified_gaps: int
    require_action_safe: bool
    max_age_seconds: int | Literal["∞"]
    forbidden_must_pass: bool
    max_calibration_gap: Fraction | None = None
    min_perturbation_budget: Fraction | None = None
    require_proof_of_sampling: bool = False
    thresholds: Thresholds = Thresholds()
    forbidden_patterns: tuple[str, ...] = ()
    unknown_tools: UnknownTools = "block"
    allowed_oracles: tuple[str, ...] | None = None


class PolicyDecision(Frozen, frozen=True, kw_only=True):
    decision: Literal["accept", "downgrade", "reject"]
    failures: tuple[str, ...]


class Certified(Frozen, frozen=True, kw_only=True, tag_field="kind", tag="certified"):
    pass


class Partial(Frozen, frozen=True, kw_only=True, tag_field="kind", tag="partial"):
    gaps: tuple[str, ...]


class Residue(Frozen, frozen=True, kw_only=True, tag_field="kind", tag="residue"):
    weight: Fraction


class Abstain(Frozen, frozen=True, kw_only=True, tag_field="kind", tag="abstain"):
    reasons: tuple[str, ...]


Verdict = Certified | Partial | Residue | Abstain


class Card(Frozen, frozen=True, kw_only=True):
    """The Universal Assurance Card (paper §10.2), null where unmeasured, plus `emitted` masses."""

    verdict: Verdict
    # stability
    perturbation_budget: Fraction | None
    budget_convention: Literal["stability_radius"] = "stability_radius"
    variant_flips: int | None
    semantic_agreement: Fraction | None
    # evidence (all claims) and emitted (claims actually emitted)
    supported_mass: Fraction | None
    contradicted_mass: Fraction | None
    contested_mass: Fraction | None
    unknown_mass: Fraction | None
    emitted: Masses | None
    # calibration and reproducibility (not measured by this proxy)
    conformal_set_size: int | None = None
    calibration_gap: Fraction | None = None
    is_deterministic: bool | None = None
    sample_count: int | None = None
    proof_of_sampling: str | None = None
    # scope and freshness
    in_scope: bool
    scope_predicates_held: tuple[str, ...]
    source_snapshot_hash: str | None
    evidence_oldest_at: int | None
    issue_time: int
    expiry_time: int | None
    # safety
    forbidden_check_pass: bool | None
    action_precondition: bool | None
    budget_under_limit: bool | None
    # residue
    residue_coverage: Fraction
    dropped_claims: tuple[str, ...]
    # gaps and provenance
    unverified_layers: tuple[str, ...]
    model_version_hash: str | None
    prompt_template_hash: str | None
    human_signatures: tuple[str, ...] = ()
    # audit handle
    certificate_digest: str
    verifier_version: str = VERIFIER_VERSION
    replay_handle: str | None


class Certificates(Frozen, frozen=True, kw_only=True):
    """Everything the digest covers: inputs, every certificate, oracle records, the policy used."""

    context: Context
    policy: Policy
    decomposition: Decomposition
    grounding: GroundingCertificate | None = None
    residue: ResidueCertificate | None = None
    embedding: EmbeddingCertificate | None = None
    actions: ActionCertificate | None = None
    stability: StabilityCertificate | None = None


class Signature(Frozen, frozen=True, kw_only=True):
    """Ed25519 over `card_signing_payload` (canonical card bytes); key and signature as hex."""

    algorithm: Literal["ed25519"] = "ed25519"
    public_key: str
    signature: str


class Emission(Frozen, frozen=True, kw_only=True):
    """The text enforce mode emits for this bundle (SPEC 5.7), derived from the certified data.

    `answer`: the decomposition's answer (accept, or a downgrade that dropped no claim);
    `residue`: the kept claims' texts rendered by `certifiers.render.residue_answer`;
    `abstention`: `certifiers.render.abstention_message` (reject). `inline`: the text carries
    `[id]` citation markers (`certifiers.render.cited_answer`) because `context.citations` is
    "inline" and there are claims to mark (not on reject). The verifier re-derives every field;
    the proxy emits exactly `text` in enforce mode.
    """

    kind: Literal["answer", "residue", "abstention"]
    text: str
    inline: bool = False


class Bundle(Frozen, frozen=True, kw_only=True):
    """The card + certificates (digest in the card) + policy decision + emitted text + optional
    signature."""

    format: Literal["assurance-bundle/1"] = "assurance-bundle/1"
    card: Card
    certificates: Certificates
    policy_decision: PolicyDecision
    emission: Emission
    signature: Signature | None = None
