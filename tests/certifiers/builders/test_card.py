"""Tests for certifiers.builders.card: scope, gaps, verdict order and VerdictConsistent (SPEC
5.6)."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.canonical import encode_canonical
from certifiers.types import Abstain, Certified, Partial, Residue
from certifiers.verdict import verdict_consistent, verdict_name
from tests.certifiers.examples import NOW, bundle_of, clean_scenario, paper_64_scenario


def test_clean_answer_is_certified_and_in_scope() -> None:
    """Supported claims, evidence, passing reconstruction and no gaps give `certified`."""
    card = bundle_of(clean_scenario()).card
    assert card.verdict == Certified()
    assert card.in_scope is True
    assert card.contradicted_mass == 0
    assert card.emitted is not None
    assert card.emitted.supported == 1
    assert len(encode_canonical(card)) <= 2048


def test_no_evidence_gives_partial_naming_the_gap() -> None:
    """Without evidence the grounding layer is unverified and the verdict is `partial`."""
    scenario = clean_scenario(evidence=[], nli=None)
    card = bundle_of(scenario).card
    assert card.verdict == Partial(gaps=card.unverified_layers)
    assert "grounding: no evidence supplied" in card.unverified_layers
    assert "scope: evidence_supplied does not hold" in card.unverified_layers
    assert card.supported_mass is None


def test_missing_embedding_is_a_stability_gap_unless_disabled() -> None:
    """An enabled stability layer without embedding data is named; a disabled one is not."""
    enabled = bundle_of(clean_scenario(disabled_layers=[])).card
    assert enabled.unverified_layers == ("stability: no embedding data supplied",)


def test_oracle_failure_abstains_with_zero_coverage() -> None:
    """A failed required oracle fails closed: abstain, reasons, residue_coverage 0."""
    scenario = clean_scenario(oracle_failures=[{"oracle": "nli", "reason": "timeout"}])
    bundle = bundle_of(scenario)
    assert bundle.card.verdict == Abstain(reasons=("oracle nli failed: timeout",))
    assert bundle.card.residue_coverage == 0
    assert bundle.policy_decision.decision == "reject"


def test_paper_64_is_a_residue_with_labelled_drops() -> None:
    """§6.4: residue 1/2 (weight 4 of 8); dropped claims carry 1-based labels and reasons."""
    card = bundle_of(paper_64_scenario()).card
    assert card.verdict == Residue(weight=Fraction(1, 2))
    assert card.dropped_claims == (
        "c2: Recommended drug. (requires:3)",
        "c4: Allergy check. (ground:contradicted)",
        "c5: Follow-up. (ground:unknown)",
    )
    assert verdict_name(card) == "residue"


def test_stale_evidence_leaves_scope() -> None:
    """Evidence older than the policy's max_age fails evidence_fresh (a scope gap)."""
    scenario = clean_scenario(
        evidence=[
            {"id": "e1", "text": "x", "retrieved_at": NOW - 31 * 86_400},
            {"id": "e2", "text": "y"},
        ]
    )
    card = bundle_of(scenario).card
    assert "evidence_fresh" not in card.scope_predicates_held
    assert card.in_scope is False
    assert card.verdict == Partial(gaps=("scope: evidence_fresh does not hold",))


def _random_scenario(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 5))
    chunks = draw(st.integers(0, 2))
    score = st.integers(0, 100).map(lambda x: f"{x}/100")
    claims = [
        {"text": f"claim {i} token{i}", "weight": str(draw(st.integers(1, 5)))} for i in range(n)
    ]
    scenario: dict[str, Any] = {
        "answer": " ".join(c["text"] for c in claims) + draw(st.sampled_from(["", " extra"])),
        "claims": claims,
        "evidence": [{"id": f"e{j}", "text": "t"} for j in range(chunks)],
        "thresholds": {"theta_r": draw(st.sampled_from(["0", "1/20", "1/2"]))},
        "policy": draw(st.sampled_from(["creative", "enterprise_qa", "clinical", "agentic"])),
        "disabled_layers": draw(st.sampled_from([[], ["stability"]])),
        "now": NOW,
    }
    if chunks and n and draw(st.booleans()):
        scenario["nli"] = {
            "entail": [[draw(score) for _ in range(chunks)] for _ in range(n)],
            "contradict": [[draw(score) for _ in range(chunks)] for _ in range(n)],
        }
    if n > 1 and draw(st.booleans()):
        scenario["conflicts"] = [[0, n - 1]]
    if draw(st.booleans()):
        scenario["budget"] = {"max_weight": str(draw(st.integers(0, 10)))}
    if draw(st.booleans()):
        scenario["oracle_failures"] = [{"oracle": "nli", "reason": "error"}]
    if draw(st.booleans()):
        scenario["actions"] = {
            "schemas": [{"tool": "t", "pre": [{"pred": "arg_in", "arg": "x", "values": [1]}]}],
            "unknown_tools": draw(st.sampled_from(["allow", "block"])),
            "calls": [
                {
                    "id": f"k{i}",
                    "name": draw(st.sampled_from(["t", "u"])),
                    "arguments": json.dumps({"x": draw(st.integers(0, 1))}),
                }
                for i in range(draw(st.integers(0, 3)))
            ],
        }
    return scenario


@settings(max_examples=120, deadline=None)
@given(st.composite(_random_scenario)())
def test_every_card_the_builder_makes_is_verdict_consistent(scenario: dict[str, Any]) -> None:
    """VerdictConsistent holds for every card built from arbitrary well-formed scenarios."""
    bundle = bundle_of(scenario)
    assert verdict_consistent(bundle.card)
    if isinstance(bundle.card.verdict, Abstain):
        assert bundle.policy_decision.decision == "reject"
