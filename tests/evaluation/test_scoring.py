"""Tests of per-case outcomes: Treatment through the certifiers' builders, B1 and B3."""

from __future__ import annotations

from fractions import Fraction

import pytest

from oracles.types import ClaimRecord, Decomposition, NLIJudgments
from proxy.evaluation.datasets import EvalCase
from proxy.evaluation.harness import THETA_E_GRID
from proxy.evaluation.runner import CaseOutputs
from proxy.evaluation.scoring import (
    b1_outcome,
    b3_outcome,
    treatment_outcomes,
    treatment_outcomes_theta_g,
)

DIGEST = "sha256:" + "0" * 64


def _outputs(
    answer: str,
    claims: list[tuple[str, float]],
    scores: list[tuple[float, float]],
    *,
    best_cosine: float | None = None,
) -> CaseOutputs:
    """A case whose oracles gave `claims` (text, weight) and concat (entail, contradict) scores."""
    case = EvalCase(case_id="c", question="q", evidence=("e",), answer=answer, label="unsupported")
    decomposition = Decomposition(
        claims=tuple(ClaimRecord(text=t, weight=w) for t, w in claims),
        adapter="fake",
        model="fake",
        digest=DIGEST,
    )
    nli = NLIJudgments(
        entail=[[e] for e, _ in scores],
        contradict=[[c] for _, c in scores],
        aggregation="concat",
        adapter="fake",
        model="fake",
        digest=DIGEST,
    )
    return CaseOutputs(
        case=case, refusal=False, decomposition=decomposition, nli=nli, best_cosine=best_cosine
    )


TWO = "Alpha rose. Beta fell."
TWO_CLAIMS = [("Alpha rose.", 1.0), ("Beta fell.", 1.0)]


def test_fully_supported_answer_is_emitted_at_every_threshold() -> None:
    """Every claim Supported: the gate passes and nothing is dropped at any θ_e."""
    outputs = _outputs(TWO, TWO_CLAIMS, [(0.9, 0.0), (0.8, 0.1)])
    assert set(treatment_outcomes(outputs, THETA_E_GRID)) == {"emit"}


def test_half_supported_answer_is_emitted_at_one_half_and_trimmed_above() -> None:
    """W⁺ = 1/2 passes θ_e = 1/2; at 0.55 the gate blocks and the residue keeps claim 0."""
    outputs = _outputs(TWO, TWO_CLAIMS, [(0.9, 0.0), (0.2, 0.1)])
    outcomes = treatment_outcomes(outputs, [Fraction(1, 2), Fraction(11, 20)])
    assert outcomes == ["emit", "trim"]


def test_a_contradicted_claim_is_trimmed_even_when_support_is_high() -> None:
    """W⁻ = 1/4 > θ_r blocks the gate; C_ground strict keeps the three Supported claims."""
    answer = "Alpha rose. Beta fell. Gamma held. Delta won."
    claims = [(s, 1.0) for s in ("Alpha rose.", "Beta fell.", "Gamma held.", "Delta won.")]
    scores = [(0.9, 0.0), (0.9, 0.0), (0.9, 0.0), (0.0, 0.9)]
    assert treatment_outcomes(_outputs(answer, claims, scores), [Fraction(1, 2)]) == ["trim"]


def test_an_answer_without_supported_claims_is_blocked() -> None:
    """No Supported claim: the residue is empty and the case is blocked."""
    outputs = _outputs(TWO, TWO_CLAIMS, [(0.1, 0.0), (0.4, 0.0)])
    assert set(treatment_outcomes(outputs, THETA_E_GRID)) == {"block"}


def test_failed_reconstruction_is_blocked() -> None:
    """Claims that do not cover the answer's content tokens never count as emitted."""
    outputs = _outputs(TWO, [("Alpha rose.", 1.0)], [(1.0, 0.0)])
    assert treatment_outcomes(outputs, [Fraction(1, 2)]) == ["block"]


def test_missing_oracle_output_is_blocked_by_every_method() -> None:
    """A case with a recorded oracle failure is blocked by Treatment, B1 and B3."""
    case = EvalCase(case_id="c", question="", evidence=("e",), answer="a", label="grounded")
    failed = CaseOutputs(case=case, refusal=False, failure="nli: down")
    assert treatment_outcomes(failed, [Fraction(1, 2)]) == ["block"]
    assert b3_outcome(failed) == "block"
    assert b1_outcome(failed, Fraction(0)) == "block"


@pytest.mark.parametrize(
    ("weight", "contradict", "expected"),
    [(1.0, 0.5, "block"), (1.0, 0.49, "emit"), (0.4, 1.0, "emit"), (2.0, 0.3, "block")],
)
def test_b3_blocks_iff_weighted_refutation_reaches_one_half(
    weight: float, contradict: float, expected: str
) -> None:
    """B3 compares max wᵢ·βᵢ⁻ with 1/2 exactly (≥ blocks)."""
    outputs = _outputs("Alpha rose.", [("Alpha rose.", weight)], [(0.0, contradict)])
    assert b3_outcome(outputs) == expected


def test_b1_blocks_strictly_below_the_threshold() -> None:
    """B1 emits at cosine = θ and blocks just below it."""
    outputs = _outputs(TWO, TWO_CLAIMS, [(0.9, 0.0), (0.9, 0.0)], best_cosine=0.75)
    assert b1_outcome(outputs, Fraction(3, 4)) == "emit"
    assert b1_outcome(outputs, Fraction(4, 5)) == "block"


def test_the_theta_g_sweep_moves_a_single_claim_answer_the_theta_e_sweep_cannot() -> None:
    """One claim at entail 0.6: emitted at every θ_e; blocked once θ_g passes 0.6."""
    outputs = _outputs("Alpha rose.", [("Alpha rose.", 1.0)], [(0.6, 0.1)])
    assert set(treatment_outcomes(outputs, THETA_E_GRID)) == {"emit"}
    grid = [Fraction(11, 20), Fraction(3, 5), Fraction(13, 20)]
    assert treatment_outcomes_theta_g(outputs, grid) == ["emit", "emit", "block"]
