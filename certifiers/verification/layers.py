"""Re-derivation of the compositional stability certificate (SPEC 5.5, paper Sec. 9).

For layers the bundle declares, the layers and eps_0 are data: each gain and margin must be a
non-negative rational (Def. 9.1). For layers the proxy derives, the layers themselves are recomputed
from the other certificates' recomputed facts (never their stored fields): the embedding layer
(gain 1, margin = rank margin, error = sqrt(d)-upper / 2^25, C = 1), the grounding gate (gain 0,
margin = the coverage slack) and the action gate (gain 0, unbounded), with eps_0 = sqrt_upper of the
drift bound. Then kappa, the budget B, the eps* chain, the chain-within-margins flag and the error
envelope are recomputed by `verification.stability` and compared.
"""

from __future__ import annotations

from fractions import Fraction

from certifiers.rational import sqrt_upper
from certifiers.types import GRID_BITS, Layer, StabilityCertificate
from certifiers.verification.embedding import EmbeddingFacts
from certifiers.verification.grounding import GroundingFacts
from certifiers.verification.report import Report
from certifiers.verification.stability import (
    amplification_chain,
    conditioning_number,
    error_envelope,
    stability_budget,
)

__all__ = ["check_stability"]


def _derived_layers(
    embedding: EmbeddingFacts | None, grounding: GroundingFacts | None, has_actions: bool
) -> tuple[list[Layer], Fraction | None]:
    """The proxy's own pipeline (SPEC 5.5) from recomputed facts."""
    layers: list[Layer] = []
    epsilon0: Fraction | None = None
    if embedding is not None:
        layers.append(
            Layer(
                name="embedding",
                gain=Fraction(1),
                margin=embedding.rank_margin,
                error=embedding.sqrt_dim_upper / (1 << (GRID_BITS + 1)),
                amplification=Fraction(1),
            )
        )
        if embedding.drift_bound is not None:
            epsilon0 = sqrt_upper(embedding.drift_bound)
    if grounding is not None:
        masses, theta = grounding.masses, grounding.thresholds
        slack = min(
            masses["supported"] - theta.theta_e,
            theta.theta_r - masses["contradicted"] - masses["contested"],
        )
        layers.append(
            Layer(name="grounding_gate", gain=Fraction(0), margin=max(Fraction(0), slack))
        )
    if has_actions:
        layers.append(Layer(name="action_gate", gain=Fraction(0), margin=None))
    return layers, epsilon0


def check_stability(
    cert: StabilityCertificate,
    embedding: EmbeddingFacts | None,
    grounding: GroundingFacts | None,
    has_actions: bool,
    report: Report,
) -> Fraction | None:
    """Check every obligation of the stability certificate; return the recomputed budget B."""
    layers = list(cert.layers)
    epsilon0 = cert.epsilon0
    if cert.source == "derived":
        layers, epsilon0 = _derived_layers(embedding, grounding, has_actions)
        report.expect("stability.layers", layers, list(cert.layers))
        report.expect("stability.epsilon0", epsilon0, cert.epsilon0)
    for index, layer in enumerate(layers):
        where = f"stability.layers[{index}]"
        report.require(f"{where}.gain", layer.gain >= 0, f"expected >= 0, got {layer.gain}")
        report.require(
            f"{where}.margin",
            layer.margin is None or layer.margin >= 0,
            f"expected >= 0 or null, got {layer.margin}",
        )
        report.require(
            f"{where}.error",
            layer.error >= 0 and layer.amplification >= 0,
            f"expected error and amplification >= 0, got {layer.error}, {layer.amplification}",
        )
    report.require(
        "stability.epsilon0", epsilon0 is None or epsilon0 >= 0, f"expected >= 0, got {epsilon0}"
    )
    drift = embedding.drift_bound if embedding is not None else None
    if cert.source == "derived" and drift is not None:
        # independent of the shared `sqrt_upper`: eps0 must bound sqrt(drift), square-root-free
        report.require(
            "stability.epsilon0.bounds_drift",
            epsilon0 is not None and epsilon0 >= 0 and epsilon0 * epsilon0 >= drift,
            f"expected epsilon0^2 >= drift bound {drift}, got epsilon0 {epsilon0}",
        )
    gains = [layer.gain for layer in layers]
    margins = [layer.margin for layer in layers]
    report.expect("stability.kappa", conditioning_number(gains), cert.kappa)
    budget = stability_budget(gains, margins)
    report.expect("stability.budget", budget, cert.budget)
    chain = amplification_chain(epsilon0, gains) if epsilon0 is not None else None
    report.expect("stability.epsilon_chain", chain, cert.epsilon_chain)
    within = None
    if chain is not None:
        within = all(m is None or e < m for e, m in zip(chain, margins, strict=True))
    report.expect("stability.chain_within_margins", within, cert.chain_within_margins)
    envelope = error_envelope(
        [layer.error for layer in layers], [layer.amplification for layer in layers]
    )
    report.expect("stability.error_envelope", envelope, cert.error_envelope)
    return budget
