"""Conflict-aware grounding certificate builder (SPEC 5.1, paper §5, Def. 5.1-5.2, Lemma 5.4).

Inputs: the decomposition, quantized NLI scores (integers over `scale`) and thresholds. Derives
β⁺/β⁻, the four-valued statuses, the four masses, the emission gate and the decidable
reconstruction check. It does not call an NLI model and does not decide the final verdict (see
`certifiers.builders.card`).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from itertools import compress
from operator import add, not_

from certifiers.errors import CertificationError
from certifiers.tokens import content_tokens
from certifiers.types import (
    Calibration,
    Claim,
    Decomposition,
    GroundingCertificate,
    Masses,
    Reconstruction,
    Status,
    SupportMatrix,
    Thresholds,
)


def repaired_cell(entail: int, contradict: int, scale: int) -> tuple[Fraction, Fraction, Fraction]:
    """SPEC 4.1 simplex repair of one quantized cell: (sigma+, sigma-, sigma0), sum exactly 1."""
    total = entail + contradict
    if total <= scale:
        return Fraction(entail, scale), Fraction(contradict, scale), Fraction(scale - total, scale)
    return Fraction(entail, total), Fraction(contradict, total), Fraction(0)


def _row_maxima(
    row_e: tuple[int, ...], row_c: tuple[int, ...], scale: int
) -> tuple[Fraction, Fraction]:
    """max(0, max_j sigma+) and max(0, max_j sigma-) of one row, in integer arithmetic.

    Cell j's repaired sigma+ is e/den and sigma- is c/den with den = max(scale, e + c) (SPEC 4.1),
    so the maxima over cells with den = scale are integer maxima; only the rescaled cells
    (e + c > scale, usually few) are compared as Fractions.
    """
    if len(row_e) != len(row_c) or not row_e:
        raise CertificationError(
            f"Expected equal non-empty NLI rows, got {len(row_e)}/{len(row_c)}"
        )
    sums = list(map(add, row_e, row_c))
    plain = list(map(scale.__ge__, sums))  # den = scale: compare the integers themselves
    best_plus = Fraction(max(0, max(compress(row_e, plain), default=0)), scale)
    best_minus = Fraction(max(0, max(compress(row_c, plain), default=0)), scale)
    for e, c, den in compress(zip(row_e, row_c, sums, strict=True), map(not_, plain)):
        best_plus = max(best_plus, Fraction(e, den))  # den = e + c > scale: rescaled cells
        best_minus = max(best_minus, Fraction(c, den))
    return best_plus, best_minus


def classify(beta_plus: Fraction, beta_minus: Fraction, thresholds: Thresholds) -> Status:
    """Paper Def. 5.2: the claim's epistemic status from its best support and refutation."""
    supported = beta_plus >= thresholds.theta_g
    refuted = beta_minus >= thresholds.theta_c
    if supported and not refuted:
        return "supported"
    if refuted and not supported:
        return "contradicted"
    if supported and refuted:
        return "contested"
    return "unknown"


def masses_of(claims: tuple[Claim, ...], statuses: tuple[Status, ...]) -> Masses:
    """Normalized weight per status class (paper §5.2); the four masses sum exactly to 1."""
    total = sum((c.weight for c in claims), Fraction(0))
    if total <= 0:
        raise CertificationError(f"Expected total claim weight > 0, got {total}")
    by_status: dict[Status, Fraction] = {
        "supported": Fraction(0),
        "contradicted": Fraction(0),
        "contested": Fraction(0),
        "unknown": Fraction(0),
    }
    for claim, status in zip(claims, statuses, strict=True):
        by_status[status] += claim.weight
    return Masses(
        supported=by_status["supported"] / total,
        contradicted=by_status["contradicted"] / total,
        contested=by_status["contested"] / total,
        unknown=by_status["unknown"] / total,
    )


def reconstruction_of(decomposition: Decomposition) -> Reconstruction:
    """Def. 5.1 made decidable: C(answer) ⊆ C(claims joined), with the missing tokens listed."""
    joined = " ".join(claim.text for claim in decomposition.claims)
    missing = content_tokens(decomposition.answer) - content_tokens(joined)
    return Reconstruction(passed=not missing, missing_tokens=tuple(sorted(missing)))


def emission_gate(masses: Masses, thresholds: Thresholds) -> bool:
    """Paper §5.2 / Lemma 5.4: emit iff W⁺ ≥ θ_e and W⁻ + W± ≤ θ_r."""
    return (
        masses.supported >= thresholds.theta_e
        and masses.contradicted + masses.contested <= thresholds.theta_r
    )


def build_grounding(
    decomposition: Decomposition,
    support: SupportMatrix,
    thresholds: Thresholds,
    oracle_digests: Mapping[str, str],
    *,
    calibration: Calibration | None = None,
) -> GroundingCertificate:
    """Build the grounding certificate; every derived field follows from the data above."""
    claims = decomposition.claims
    if len(support.entail) != len(claims) or len(support.contradict) != len(claims):
        raise CertificationError(
            f"Expected {len(claims)} NLI rows (one per claim), got "
            f"{len(support.entail)} entail / {len(support.contradict)} contradict rows"
        )
    beta_plus: list[Fraction] = []
    beta_minus: list[Fraction] = []
    for row_e, row_c in zip(support.entail, support.contradict, strict=True):
        best_plus, best_minus = _row_maxima(row_e, row_c, support.scale)
        beta_plus.append(best_plus)
        beta_minus.append(best_minus)
    statuses = tuple(
        classify(bp, bm, thresholds) for bp, bm in zip(beta_plus, beta_minus, strict=True)
    )
    masses = masses_of(claims, statuses)
    return GroundingCertificate(
        support=support,
        thresholds=thresholds,
        beta_plus=tuple(beta_plus),
        beta_minus=tuple(beta_minus),
        statuses=statuses,
        masses=masses,
        emitted=emission_gate(masses, thresholds),
        reconstruction=reconstruction_of(decomposition),
        calibration=calibration,
        assumptions=grounding_assumptions(support, calibration),
        oracle_digests=dict(oracle_digests),
    )


def grounding_assumptions(
    support: SupportMatrix, calibration: Calibration | None
) -> tuple[str, ...]:
    """The oracle assumptions a grounding certificate relies on (SPEC 6 tier 4, plus records)."""
    names = ["DecompositionOracle", "SignedSupportOracle"]
    if support.prefilter is not None:
        names.append("EmbeddingPrefilter")
    if calibration is not None:
        names.append("CalibrationRecord")
    return tuple(names)
