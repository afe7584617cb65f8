"""Property: every bundle the builder certifies from a random scenario verifies (round trip)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certifiers.bundle import encode_bundle
from certifiers.verify import check_bundle
from tests.certifiers.test_verify_scenarios import NOW, bundle_of

_SCORE = st.sampled_from(["0", "0.05", "0.3", "0.5", "0.69", "0.7", "0.71", "0.9", "1"])
_WORDS = ["dose", "renal", "apixaban", "daily", "mg", "patient", "label", "risk", "22.5", "80"]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Small random scenarios: claims, per-chunk NLI, dependencies, conflicts, budget, policy."""
    n = draw(st.integers(1, 7))
    chunks = draw(st.integers(1, 3))
    texts = [
        " ".join(draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3))) for _ in range(n)
    ]
    extra_answer = draw(st.sampled_from(["", " unsupported token"]))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=4))
    scenario: dict[str, Any] = {
        "answer": ". ".join(texts) + extra_answer,
        "claims": [{"text": text, "weight": str(draw(st.integers(1, 6)))} for text in texts],
        "evidence": [
            {"id": f"e{j}", "text": "chunk", "retrieved_at": NOW - draw(st.integers(0, 10**6))}
            for j in range(chunks)
        ],
        "nli": {
            "entail": [[draw(_SCORE) for _ in range(chunks)] for _ in range(n)],
            "contradict": [[draw(_SCORE) for _ in range(chunks)] for _ in range(n)],
        },
        "claim_dependencies": {
            str(i): [draw(st.integers(0, n - 1))] for i in range(n) if draw(st.booleans())
        },
        "conflicts": [[a, b] for a, b in pairs if a != b],
        "thresholds": {"theta_r": draw(st.sampled_from(["0", "1/20", "1/2"]))},
        "disabled_layers": ["stability"],
        "policy": draw(st.sampled_from(["creative", "enterprise_qa", "clinical", "agentic"])),
        "now": NOW,
    }
    if draw(st.booleans()):
        scenario["budget"] = {"max_weight": str(draw(st.integers(0, 12)))}
    return scenario


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_certified_random_scenario_verifies(scenario: dict[str, Any]) -> None:
    """certify then check_bundle accepts: builder and independent verifier agree."""
    result = check_bundle(encode_bundle(bundle_of(scenario)))
    assert result.failures == ()
