"""Compositional stability certificate builder (SPEC 5.5, paper §9: Def. 9.1, Thm 9.3, Cor. 9.4).

κ_Π = ∏ gᵢ; B_Π = minᵢ mᵢ / ∏_{j<i} gⱼ, terms after the first zero prefix product ignored (+∞) and
layers without a finite margin skipped; ε*₁ = ε₀, ε*ᵢ₊₁ = gᵢ ε*ᵢ; error envelope Σᵢ εᵢ ∏_{j>i} (1 +
Cⱼ). Also derives the proxy's own layers from the other certificates.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from certifiers.rational import sqrt_upper
from certifiers.types import (
    GRID_BITS,
    ActionCertificate,
    EmbeddingCertificate,
    GroundingCertificate,
    Layer,
    StabilityCertificate,
)


def pipeline_budget(layers: tuple[Layer, ...]) -> Fraction | None:
    """Corollary 9.4's B_Π (None when no layer binds, i.e. the budget is unbounded)."""
    prefix = Fraction(1)
    best: Fraction | None = None
    for layer in layers:
        if prefix == 0:
            break
        if layer.margin is not None:
            term = layer.margin / prefix
            best = term if best is None or term < best else best
        prefix *= layer.gain
    return best


def conditioning(layers: tuple[Layer, ...]) -> Fraction:
    """κ_Π = ∏ gᵢ (1 for the empty pipeline)."""
    kappa = Fraction(1)
    for layer in layers:
        kappa *= layer.gain
    return kappa


def epsilon_chain(layers: tuple[Layer, ...], epsilon0: Fraction) -> tuple[Fraction, ...]:
    """Theorem 9.3: ε*₁ = ε₀ and ε*ᵢ₊₁ = gᵢ·ε*ᵢ, one entry per layer."""
    chain: list[Fraction] = []
    current = epsilon0
    for layer in layers:
        chain.append(current)
        current = layer.gain * current
    return tuple(chain)


def error_envelope(layers: tuple[Layer, ...]) -> Fraction:
    """ε_total = Σᵢ εᵢ ∏_{j>i} (1 + Cⱼ) for accumulated per-layer errors."""
    total = Fraction(0)
    for layer in layers:  # Horner form: each later layer amplifies everything before it
        total = total * (1 + layer.amplification) + layer.error
    return total


def proxy_layers(
    embedding: EmbeddingCertificate | None,
    grounding: GroundingCertificate | None,
    actions: ActionCertificate | None,
) -> tuple[tuple[Layer, ...], Fraction | None]:
    """SPEC 5.5 layers: embedding (g=1, m=rank margin), grounding gate (g=0), action gate (g=0)."""
    layers: list[Layer] = []
    epsilon0: Fraction | None = None
    if embedding is not None:
        error = embedding.sqrt_dim_upper / 2 ** (GRID_BITS + 1)
        layers.append(
            Layer(
                name="embedding",
                gain=Fraction(1),
                margin=embedding.rank_margin,
                error=error,
                amplification=Fraction(1),
            )
        )
        if embedding.drift_bound is not None:
            epsilon0 = sqrt_upper(embedding.drift_bound)
    if grounding is not None:
        w, t = grounding.masses, grounding.thresholds
        slack = min(w.supported - t.theta_e, t.theta_r - w.contradicted - w.contested)
        layers.append(
            Layer(name="grounding_gate", gain=Fraction(0), margin=max(Fraction(0), slack))
        )
    if actions is not None:
        layers.append(Layer(name="action_gate", gain=Fraction(0), margin=None))
    return tuple(layers), epsilon0


def build_stability(
    layers: tuple[Layer, ...], *, source: Literal["declared", "derived"], epsilon0: Fraction | None
) -> StabilityCertificate:
    """Build the certificate for declared or derived layers."""
    chain = epsilon_chain(layers, epsilon0) if epsilon0 is not None else None
    within = (
        all(m is None or e < m for e, m in zip(chain, (la.margin for la in layers), strict=True))
        if chain is not None
        else None
    )
    return StabilityCertificate(
        layers=layers,
        source=source,
        epsilon0=epsilon0,
        kappa=conditioning(layers),
        budget=pipeline_budget(layers),
        epsilon_chain=chain,
        chain_within_margins=within,
        error_envelope=error_envelope(layers),
    )
