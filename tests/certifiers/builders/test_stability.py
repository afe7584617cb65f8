"""Tests for certifiers.builders.stability (SPEC 5.5, paper §9: Corollary 9.4, Theorem 9.3)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.builders.stability import build_stability, error_envelope, pipeline_budget
from certifiers.types import Layer

F = Fraction


def _layers(gains: list[Fraction], margins: list[Fraction | None]) -> tuple[Layer, ...]:
    return tuple(
        Layer(name=f"L{i}", gain=g, margin=m)
        for i, (g, m) in enumerate(zip(gains, margins, strict=True))
    )


def test_paper_93_seven_layer_pipeline_has_kappa_0_and_budget_12_percent() -> None:
    """§9.3: g = (1,0,0,0,1,0,0), m = (0.12,50,3,0.08,0.77,1,1) gives κ = 0 and B = 0.12."""
    gains = [F(1), F(0), F(0), F(0), F(1), F(0), F(0)]
    margins: list[Fraction | None] = [F(12, 100), F(50), F(3), F(8, 100), F(77, 100), F(1), F(1)]
    cert = build_stability(_layers(gains, margins), source="declared", epsilon0=F(1, 10))
    assert cert.kappa == 0
    assert cert.budget == F(12, 100)
    assert cert.epsilon_chain == (F(1, 10), F(1, 10), F(0), F(0), F(0), F(0), F(0))
    assert cert.chain_within_margins is True


def test_budget_divides_by_prefix_gains_and_skips_unbounded_margins() -> None:
    """B = min(m₁, m₂/g₁, …); a layer without margin does not bind; none binding gives None."""
    assert pipeline_budget(_layers([F(2), F(1)], [F(1), F(1)])) == F(1, 2)
    assert pipeline_budget(_layers([F(1), F(0)], [None, F(3)])) == F(3)
    assert pipeline_budget(_layers([F(0)], [None])) is None


@settings(max_examples=100)
@given(st.lists(st.tuples(st.fractions(0, 3), st.fractions(0, 2)), min_size=0, max_size=6))
def test_error_envelope_matches_its_closed_form(pairs: list[tuple[Fraction, Fraction]]) -> None:
    """ε_total = Σᵢ εᵢ ∏_{j>i}(1 + Cⱼ) exactly."""
    layers = tuple(
        Layer(name=str(i), gain=F(1), margin=None, error=e, amplification=c)
        for i, (e, c) in enumerate(pairs)
    )
    expected = F(0)
    for i, (error, _) in enumerate(pairs):
        factor = F(1)
        for _, amp in pairs[i + 1 :]:
            factor *= 1 + amp
        expected += error * factor
    assert error_envelope(layers) == expected
