"""The emitted text is part of the bundle and re-derived by the verifier (issue 9 §1)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from certifiers.bundle import encode_bundle
from certifiers.render import ABSTENTION_PREFIX
from certifiers.types import Bundle, Emission
from certifiers.verify import check_bundle
from tests.certifiers.examples import bundle_of, clean_scenario

CONTRADICTED = "Paris has 9 million people."


def _span_smuggling() -> dict[str, Any]:
    """A kept claim whose span covers the whole answer, including a contradicted claim's text."""
    answer = "Paris is the capital of France. " + CONTRADICTED
    return clean_scenario(
        answer=answer,
        claims=[
            {"text": "Paris is the capital of France.", "weight": "1", "span": [0, len(answer)]},
            {"text": CONTRADICTED, "weight": "1", "span": [32, len(answer)]},
        ],
        nli={
            "entail": [["0.95", "0.10"], ["0.01", "0.01"]],
            "contradict": [["0.01", "0.02"], ["0.95", "0.01"]],
        },
        policy="creative",
    )


def _reencoded(bundle: Bundle, **changes: Any) -> bytes:
    return encode_bundle(msgspec.structs.replace(bundle, **changes))


def test_accept_records_the_answer_as_the_emission() -> None:
    """An accepted bundle's emission is the whole answer, and it verifies."""
    bundle = bundle_of(clean_scenario())
    assert bundle.policy_decision.decision == "accept"
    assert bundle.emission == Emission(kind="answer", text=bundle.certificates.decomposition.answer)
    assert check_bundle(encode_bundle(bundle)).ok


def test_downgrade_emits_the_certified_claim_texts_not_the_span() -> None:
    """A span covering a dropped, contradicted claim does not carry its text into the emission."""
    bundle = bundle_of(_span_smuggling())
    assert bundle.policy_decision.decision == "downgrade"
    assert bundle.emission == Emission(kind="residue", text="Paris is the capital of France.")
    assert CONTRADICTED not in bundle.emission.text
    assert check_bundle(encode_bundle(bundle)).ok


def test_reject_records_the_abstention() -> None:
    """A rejected bundle's emission is the abstention message."""
    bundle = bundle_of(clean_scenario(oracle_failures=[{"oracle": "nli", "reason": "timeout"}]))
    assert bundle.policy_decision.decision == "reject"
    assert bundle.emission.kind == "abstention"
    assert bundle.emission.text.startswith(ABSTENTION_PREFIX)


@pytest.mark.parametrize(
    "emission",
    [
        Emission(kind="answer", text="Paris is the capital of France. " + CONTRADICTED),
        Emission(kind="residue", text="Paris is the capital of France. " + CONTRADICTED),
        Emission(kind="abstention", text="Paris is the capital of France."),
    ],
)
def test_a_recorded_emission_that_does_not_follow_is_rejected(emission: Emission) -> None:
    """The verifier re-derives the emission from the certified data and compares kind and text."""
    result = check_bundle(_reencoded(bundle_of(_span_smuggling()), emission=emission))
    assert not result.ok
    assert any(f.startswith("emission.") for f in result.failures)


def test_a_bundle_without_an_emission_is_rejected() -> None:
    """The emission is required: a bundle that omits it does not decode."""
    tree = msgspec.json.decode(encode_bundle(bundle_of(clean_scenario())))
    del tree["emission"]
    result = check_bundle(msgspec.json.encode(tree))
    assert not result.ok
    assert result.failures[0].startswith("bundle.format")


def test_forbidden_pattern_split_across_claims_fails_the_forbidden_check() -> None:
    """A pattern in the emitted answer fails the check even when no single claim contains it."""
    scenario = clean_scenario(
        answer="The acme secret is 42.",
        claims=[
            {"text": "The acme secret exists.", "weight": "1"},
            {"text": "The secret is 42.", "weight": "1"},
        ],
        nli={"entail": [["0.95"], ["0.95"]], "contradict": [["0.01"], ["0.01"]]},
        evidence=[{"id": "e1", "text": "acme"}],
        policy={"extends": "enterprise_qa", "forbidden_patterns": ["acme secret is 42"]},
    )
    bundle = bundle_of(scenario)
    assert bundle.card.forbidden_check_pass is False
    assert bundle.policy_decision.decision == "reject"
    assert bundle.emission.kind == "abstention"
    assert check_bundle(encode_bundle(bundle)).ok
