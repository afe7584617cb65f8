"""Per-claim citations derived from the grounding certificate (issue 14); the verifier agrees."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certifiers.builders.citations import claim_citations, emitted_claims, to_wire
from certifiers.types import PolicyDecision
from certifiers.verification.citations import derive_claims, derive_inline
from tests.certifiers.examples import NOW, bundle_of, clean_scenario, paper_64_scenario


def _ranked_scenario(**extra: Any) -> dict[str, Any]:
    """Two claims over three chunks: claim 0 supported by e3 > e1 = e2, claim 1 contested."""
    scenario = clean_scenario(
        answer="Apixaban is an anticoagulant. The dose is 5 mg.",
        claims=[
            {"text": "Apixaban is an anticoagulant.", "span": [0, 29]},
            {"text": "The dose is 5 mg.", "span": [30, 47]},
        ],
        evidence=[{"id": "e1", "text": "a"}, {"id": "e2", "text": "b"}, {"id": "e3", "text": "c"}],
        nli={
            "aggregation": "per_chunk",
            "entail": [["0.8", "0.8", "0.9"], ["0.6", "0.1", "0.2"]],
            "contradict": [["0.1", "0", "0"], ["0.3", "0.7", "0.5"]],
        },
    )
    scenario.update(extra)
    return scenario


def test_supporting_ids_are_ranked_best_first_with_evidence_order_ties() -> None:
    """sigma+ 0.9 (e3) before the tied 0.8s, which keep evidence order (e1, e2)."""
    claims = claim_citations(bundle_of(_ranked_scenario())).claims
    assert claims[0].status == "supported"
    assert claims[0].supporting == ("e3", "e1", "e2")
    assert claims[0].contradicting == ()


def test_contested_claim_cites_both_sides_at_their_thresholds() -> None:
    """Claim 1: sigma+ 0.6 ≥ θ_g = 1/2 (e1); sigma- 0.7 (e2) then 0.5 (e3) reach θ_c = 1/2."""
    claim = claim_citations(bundle_of(_ranked_scenario())).claims[1]
    assert claim.status == "contested"
    assert claim.supporting == ("e1",)
    assert claim.contradicting == ("e2", "e3")


def test_claims_follow_answer_order_by_span_start() -> None:
    """Claims listed out of answer order come back sorted by span start, with their index."""
    scenario = _ranked_scenario()
    scenario["claims"].reverse()
    scenario["nli"]["entail"].reverse()
    scenario["nli"]["contradict"].reverse()
    claims = claim_citations(bundle_of(scenario)).claims
    assert [c.index for c in claims] == [1, 0]
    assert claims[0].text == "Apixaban is an anticoagulant."


def test_concat_aggregation_cites_every_chunk_and_says_so() -> None:
    """One premise made of all chunks: a supported claim cites e1 and e2, in evidence order."""
    scenario = clean_scenario(
        nli={
            "aggregation": "concat",
            "entail": [["0.9"], ["0.9"], ["0.2"]],
            "contradict": [["0"], ["0"], ["0.8"]],
        }
    )
    citations = claim_citations(bundle_of(scenario))
    assert citations.aggregation == "concat"
    assert [c.supporting for c in citations.claims] == [("e1", "e2"), ("e1", "e2"), ()]
    assert citations.claims[2].contradicting == ("e1", "e2")


def test_downgrade_emits_only_the_residue_and_reject_emits_nothing() -> None:
    """Paper §6.4: the residue keeps c₁ and c₃; a rejected bundle emits no claim."""
    bundle = bundle_of(paper_64_scenario())
    assert bundle.policy_decision.decision == "downgrade"
    assert emitted_claims(bundle) == {0, 2}
    assert [c.emitted for c in claim_citations(bundle).claims] == [True, False, True, False, False]
    rejected = msgspec.structs.replace(
        bundle, policy_decision=PolicyDecision(decision="reject", failures=("x",))
    )
    assert emitted_claims(rejected) == frozenset()
    assert not any(c.emitted for c in claim_citations(rejected).claims)


def test_without_grounding_every_claim_is_unknown_and_cites_nothing() -> None:
    """No evidence: no grounding certificate, so statuses are unknown and lists empty."""
    scenario = clean_scenario(evidence=[], policy="creative")
    del scenario["nli"]
    citations = claim_citations(bundle_of(scenario))
    assert citations.aggregation is None
    assert {(c.status, c.supporting, c.contradicting) for c in citations.claims} == {
        ("unknown", (), ())
    }


_SCORE = st.sampled_from(["0", "0.3", "0.5", "0.7", "0.9", "1", "0.6"])


@st.composite
def _scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 5))
    chunks = draw(st.integers(1, 4))
    aggregation = draw(st.sampled_from(["per_chunk", "concat"]))
    columns = chunks if aggregation == "per_chunk" else 1
    texts = [f"claim {i} dose." for i in range(n)]
    claims: list[dict[str, Any]] = [
        {"text": t, "weight": str(draw(st.integers(1, 4)))} for t in texts
    ]
    if draw(st.booleans()):  # spans: markers go into the answer itself on accept
        for i, claim in enumerate(claims):
            start = sum(len(t) + 1 for t in texts[:i])
            claim["span"] = [start, start + len(texts[i]) + (1 if i < n - 1 else 0)]
    return {
        "answer": " ".join(texts),
        "claims": claims,
        "evidence": [{"id": f"e{j}", "text": "t", "retrieved_at": NOW} for j in range(chunks)],
        "nli": {
            "aggregation": aggregation,
            "entail": [[draw(_SCORE) for _ in range(columns)] for _ in range(n)],
            "contradict": [[draw(_SCORE) for _ in range(columns)] for _ in range(n)],
        },
        "thresholds": {"theta_g": draw(st.sampled_from(["1/2", "7/10"]))},
        "disabled_layers": ["stability"],
        "policy": draw(st.sampled_from(["creative", "enterprise_qa", "clinical"])),
        "now": NOW,
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenarios())
def test_builder_and_independent_verifier_derive_the_same_claims(scenario: dict[str, Any]) -> None:
    """On random scenarios the builder's list and inline text equal the verifier's re-derivation."""
    bundle = bundle_of(scenario)
    wire = to_wire(claim_citations(bundle))
    assert wire == derive_claims(bundle)
    statuses = bundle.certificates.grounding.statuses if bundle.certificates.grounding else ()
    by_index = {entry["index"]: entry["status"] for entry in wire}
    assert [by_index[i] for i in range(len(statuses))] == list(statuses)
    inline = bundle_of({**scenario, "citations": "inline"})
    assert inline.emission.inline == (
        inline.policy_decision.decision != "reject" and bool(scenario["claims"])
    )
    if inline.emission.inline:
        assert inline.emission.text == derive_inline(inline)
