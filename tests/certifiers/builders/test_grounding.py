"""Tests for certifiers.builders.grounding (SPEC 5.1, paper §5, Lemma 5.4)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.builders.grounding import build_grounding, classify, repaired_cell
from certifiers.types import Claim, Decomposition, SupportMatrix, Thresholds
from tests.certifiers.examples import bundle_of, paper_64_scenario

SCALE = 1_000_000


def _support(entail: list[list[int]], contradict: list[list[int]]) -> SupportMatrix:
    return SupportMatrix(
        aggregation="per_chunk",
        scale=SCALE,
        entail=tuple(map(tuple, entail)),
        contradict=tuple(map(tuple, contradict)),
    )


def test_paper_64_statuses_and_masses_are_exact() -> None:
    """The §6.4 example gives Supp, Supp, Supp, Contr, Unk and W⁺ = 6/8, W⁻ = 3/16, W? = 1/16."""
    grounding = bundle_of(paper_64_scenario()).certificates.grounding
    assert grounding is not None
    assert grounding.statuses == ("supported",) * 3 + ("contradicted", "unknown")
    assert grounding.beta_plus[0] == Fraction(92, 100)
    assert grounding.masses.supported == Fraction(6, 8)
    assert grounding.masses.contradicted == Fraction(3, 16)
    assert grounding.masses.unknown == Fraction(1, 16)
    assert grounding.emitted is False


def test_clinical_contradiction_of_eight_percent_blocks_emission_and_yields_residue() -> None:
    """W⁻ = 8/100 exceeds θ_r = 1/20: the gate blocks and the residue keeps the 92% supported."""
    scenario = {
        "answer": "Apixaban is a supported DOAC. CrCl 22 is within range.",
        "claims": [
            {"text": "Apixaban is a supported DOAC.", "weight": "92"},
            {"text": "CrCl 22 is within range.", "weight": "8"},
        ],
        "evidence": [{"id": "guideline", "text": "..."}, {"id": "fda-label", "text": "..."}],
        "nli": {"entail": [[0.94, 0.2], [0.1, 0.05]], "contradict": [[0.01, 0.0], [0.02, 0.89]]},
        "thresholds": {"theta_r": "1/20"},
        "disabled_layers": ["stability"],
        "policy": "clinical",
        "now": 1,
    }
    bundle = bundle_of(scenario)
    grounding = bundle.certificates.grounding
    assert grounding is not None
    assert grounding.masses.contradicted == Fraction(8, 100)
    assert grounding.emitted is False
    assert bundle.card.residue_coverage == Fraction(92, 100)
    assert bundle.card.dropped_claims == ("c2: CrCl 22 is within range. (ground:contradicted)",)
    assert bundle.policy_decision.decision == "downgrade"


def test_overflowing_cell_is_rescaled_onto_the_simplex() -> None:
    """Entail + contradict > 1 is rescaled proportionally, neutral = 0, and the sum is exactly 1."""
    plus, minus, zero = repaired_cell(700_000, 500_000, SCALE)
    assert (plus, minus, zero) == (Fraction(7, 12), Fraction(5, 12), Fraction(0))
    assert sum(repaired_cell(300_000, 200_000, SCALE)) == 1


def test_failed_reconstruction_lists_the_missing_tokens() -> None:
    """An answer token no claim covers fails the decidable reconstruction check."""
    decomposition = Decomposition(
        answer="Take 5 mg twice daily.", claims=(Claim(text="Take 5 mg.", weight=Fraction(1)),)
    )
    cert = build_grounding(decomposition, _support([[SCALE]], [[0]]), Thresholds(), {})
    assert cert.reconstruction.passed is False
    assert cert.reconstruction.missing_tokens == ("daily", "twice")


cells = st.tuples(st.integers(0, SCALE), st.integers(0, SCALE))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=4), min_size=1, max_size=6),
    weights=st.lists(st.integers(1, 20), min_size=6, max_size=6),
    theta=st.tuples(*(st.integers(1, 20) for _ in range(4))),
)
def test_emission_gate_is_sound(
    rows: list[list[tuple[int, int]]], weights: list[int], theta: tuple[int, int, int, int]
) -> None:
    """Lemma 5.4: emitted implies W⁻ + W± ≤ θ_r; masses sum to 1; statuses follow Def. 5.2."""
    width = len(rows[0])
    rows = [(row * width)[:width] for row in rows]
    claims = tuple(Claim(text=f"c{i}", weight=Fraction(weights[i])) for i in range(len(rows)))
    thresholds = Thresholds(
        theta_g=Fraction(theta[0], 20),
        theta_c=Fraction(theta[1], 20),
        theta_e=Fraction(theta[2] - 1, 20),
        theta_r=Fraction(theta[3] - 1, 20),
    )
    support = _support([[e for e, _ in r] for r in rows], [[c for _, c in r] for r in rows])
    cert = build_grounding(Decomposition(answer="", claims=claims), support, thresholds, {})
    m = cert.masses
    assert m.supported + m.contradicted + m.contested + m.unknown == 1
    if cert.emitted:
        assert m.contradicted + m.contested <= thresholds.theta_r
        assert m.supported >= thresholds.theta_e
    for i, row in enumerate(rows):
        best_plus = max(repaired_cell(e, c, SCALE)[0] for e, c in row)
        best_minus = max(repaired_cell(e, c, SCALE)[1] for e, c in row)
        assert cert.beta_plus[i] == best_plus
        assert cert.statuses[i] == classify(best_plus, best_minus, thresholds)
