"""Tests for certifiers.render: residue answer order and the abstention message."""

from __future__ import annotations

import json
from fractions import Fraction

from certifiers.render import ABSTENTION_PREFIX, abstention_message, residue_answer
from certifiers.types import Claim, Decomposition
from tests.certifiers.examples import bundle_of, clean_scenario

ANSWER = "Alpha holds. Beta holds. Gamma holds."


def test_residue_answer_renders_claim_texts_in_span_order() -> None:
    """Kept claims render their certified texts (never the span's content), ordered by span."""
    claims = (
        Claim(text="Gamma holds.", weight=Fraction(1), span=(25, 38)),
        Claim(text="Alpha holds.", weight=Fraction(1), span=(0, 12)),
        Claim(text="Beta holds.", weight=Fraction(1), span=(13, 24)),
    )
    decomposition = Decomposition(answer=ANSWER, claims=claims)
    assert residue_answer(decomposition, [0, 1]) == "Alpha holds. Gamma holds."


def test_a_span_covering_a_dropped_claim_does_not_emit_its_text() -> None:
    """A kept claim whose span covers the whole answer emits only its own certified text."""
    claims = (
        Claim(text="Alpha holds.", weight=Fraction(1), span=(0, len(ANSWER))),
        Claim(text="Beta holds.", weight=Fraction(1), span=(13, 24)),
    )
    decomposition = Decomposition(answer=ANSWER, claims=claims)
    assert residue_answer(decomposition, [0]) == "Alpha holds."


def test_residue_answer_falls_back_to_claim_text_in_index_order() -> None:
    """Without spans the claim texts are joined in claim order."""
    claims = (Claim(text="A.", weight=Fraction(1)), Claim(text="B.", weight=Fraction(1)))
    assert residue_answer(Decomposition(answer="", claims=claims), [1, 0]) == "A. B."


def test_abstention_message_carries_machine_readable_reasons() -> None:
    """The message ends with a JSON array of the verdict's and policy's reasons."""
    bundle = bundle_of(clean_scenario(oracle_failures=[{"oracle": "nli", "reason": "timeout"}]))
    message = abstention_message(bundle.card, bundle.policy_decision)
    reasons = json.loads(message.removeprefix(ABSTENTION_PREFIX))
    assert reasons[0] == "verdict: oracle nli failed: timeout"
    assert "policy: verdict is abstain" in reasons
