"""Per-case outcomes (emit | trim | block) of Treatment, B1 and B3, decided by the certifiers'
builders.

Treatment at θ_e (θ_g = θ_c = 1/2, θ_r = 1/20 fixed, SPEC 5.1 defaults): the oracle outputs cross
the trust boundary exactly as in the proxy (quantized support matrix, rational weights), then
`certifiers.builders.grounding.build_grounding` decides the emission gate and
`certifiers.builders.residue.build_residue` the maximal certifiable residue under the admission rule
of SPEC 5.2 (C_ground strict when the gate blocks, C_norefute when it passes with W⁻ + W± > 0), with
no
policy patterns, dependencies, conflicts or budget. Outcome: **emit** when the residue drops no
claim (the answer goes out unchanged), **trim** when it drops some and keeps some (verdict
`residue`), **block** when it keeps none (verdict `abstain`). A case whose oracle failed, whose
decomposition is empty, or whose reconstruction check fails is **block**: the proxy fails closed
there (an abstain card, or a grounding layer left unverified that every policy with
`required_in_scope` rejects).

B3 (raw NLI, no support gate): block iff max_i wᵢ·βᵢ⁻ ≥ 1/2, with wᵢ the decomposer's weight and βᵢ⁻
the certifier's exact β⁻. B1 (cosine): block iff the best float cosine between the answer and an
evidence chunk is < θ. This module computes no rates (see `proxy.evaluation.report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import msgspec

from certifiers.builders.grounding import build_grounding
from certifiers.builders.residue import build_residue
from certifiers.types import (
    SCORE_SCALE,
    Claim,
    Decomposition,
    GroundingCertificate,
    SupportMatrix,
    Thresholds,
)
from proxy.assurance.quantize import quantized_scores
from proxy.evaluation.report import Outcome
from proxy.evaluation.runner import CaseOutputs

DEFAULT_THRESHOLDS = Thresholds()
B3_THRESHOLD = Fraction(1, 2)


def certifier_inputs(outputs: CaseOutputs) -> tuple[Decomposition, SupportMatrix] | None:
    """The decomposition and support matrix as the certifiers receive them (None if unavailable).

    Scores cross the boundary as in the proxy (`proxy.assurance.quantize.quantized_scores`, equal
    to the core's q(x) of each float's JSON text); a score the core would reject makes the case
    unavailable (block), as the proxy fails closed.
    """
    if outputs.decomposition is None or outputs.nli is None or outputs.failure is not None:
        return None
    entail = quantized_scores(outputs.nli.entail)
    contradict = quantized_scores(outputs.nli.contradict)
    if entail is None or contradict is None:
        return None
    decomposition = Decomposition(
        answer=outputs.case.answer,
        claims=tuple(
            Claim(text=c.text, weight=Fraction(repr(c.weight)), span=c.span)
            for c in outputs.decomposition.claims
        ),
    )
    support = SupportMatrix(
        aggregation=outputs.nli.aggregation,
        scale=SCORE_SCALE,
        entail=tuple(map(tuple, entail)),
        contradict=tuple(map(tuple, contradict)),
    )
    return decomposition, support


def grounding_at(
    decomposition: Decomposition, support: SupportMatrix, thresholds: Thresholds
) -> GroundingCertificate:
    """The grounding certificate at `thresholds` (no oracle digests: nothing is emitted)."""
    return build_grounding(decomposition, support, thresholds, {})


def outcome_of(decomposition: Decomposition, grounding: GroundingCertificate) -> Outcome:
    """emit / trim / block from the gate and the residue (see the module docstring)."""
    if not grounding.reconstruction.passed:
        return "block"
    residue = build_residue(
        decomposition.claims,
        grounding,
        forbidden_patterns=(),
        dependencies=(),
        conflicts=(),
        budget=None,
    )
    if not residue.dropped:
        return "emit"
    return "trim" if residue.kept else "block"


def _outcomes(outputs: CaseOutputs, points: Sequence[Thresholds]) -> list[Outcome]:
    """Treatment's outcome at each set of thresholds (an oracle failure blocks at every one)."""
    inputs = certifier_inputs(outputs)
    if inputs is None:
        return ["block"] * len(points)
    decomposition, support = inputs
    return [outcome_of(decomposition, grounding_at(decomposition, support, t)) for t in points]


def treatment_outcomes(outputs: CaseOutputs, thetas: Sequence[Fraction]) -> list[Outcome]:
    """Treatment's outcome at each θ_e of the sweep (other thresholds at their defaults)."""
    replace = msgspec.structs.replace
    return _outcomes(outputs, [replace(DEFAULT_THRESHOLDS, theta_e=t) for t in thetas])


def treatment_outcomes_theta_g(outputs: CaseOutputs, thetas: Sequence[Fraction]) -> list[Outcome]:
    """Treatment's outcome at each θ_g of the sweep, θ_e at its default (see the harness)."""
    replace = msgspec.structs.replace
    return _outcomes(outputs, [replace(DEFAULT_THRESHOLDS, theta_g=t) for t in thetas])


def b3_outcome(outputs: CaseOutputs) -> Outcome:
    """B3: block iff max_i wᵢ·βᵢ⁻ ≥ 1/2 (β⁻ does not depend on θ_e)."""
    inputs = certifier_inputs(outputs)
    if inputs is None:
        return "block"
    decomposition, support = inputs
    grounding = grounding_at(decomposition, support, DEFAULT_THRESHOLDS)
    worst = max(
        claim.weight * beta
        for claim, beta in zip(decomposition.claims, grounding.beta_minus, strict=True)
    )
    return "block" if worst >= B3_THRESHOLD else "emit"


def b1_outcome(outputs: CaseOutputs, theta: Fraction) -> Outcome:
    """B1: block iff max_j cos(answer, chunk_j) < θ (an embedder failure blocks)."""
    if outputs.best_cosine is None:
        return "block"
    return "block" if Fraction(outputs.best_cosine) < theta else "emit"
