"""Paraphraser adapters and client-declared families."""

from __future__ import annotations

import json

import pytest

from oracles.errors import OracleOutputError
from oracles.paraphrasers import LLMParaphraser, RulesParaphraser, with_declared
from tests.oracles.fake_chat import FakeChat, data_sections

QUERY = "Is a dose of 325 mg of aspirin safe for Anna in Boston?"


async def test_rules_invariant_family_has_surface_edits_and_synonym_swaps() -> None:
    """G_inv holds the lower-cased text, a punctuation edit and a synonym swap."""
    result = await RulesParaphraser().paraphrase(QUERY)
    assert QUERY.lower() in result.invariant
    assert QUERY[:-1] in result.invariant
    assert "Is a dosage of 325 mg of aspirin safe for Anna in Boston?" in result.invariant
    assert QUERY not in result.invariant


async def test_rules_significant_family_negates_swaps_entities_and_changes_numbers() -> None:
    """G_sig holds a negation, an entity swap and a number change."""
    result = await RulesParaphraser().paraphrase(QUERY)
    assert "Is not a dose of 325 mg of aspirin safe for Anna in Boston?" in result.significant
    assert "Is a dose of 325 mg of aspirin safe for Boston in Boston?" in result.significant
    assert "Is a dose of 3251 mg of aspirin safe for Anna in Boston?" in result.significant


async def test_rules_negation_is_removed_when_present() -> None:
    """A negated auxiliary loses its `not`."""
    result = await RulesParaphraser().paraphrase("Aspirin is not safe.")
    assert "Aspirin is safe." in result.significant


async def test_rules_are_deterministic() -> None:
    """Two runs give identical families and digest."""
    assert await RulesParaphraser().paraphrase(QUERY) == await RulesParaphraser().paraphrase(QUERY)


async def test_llm_paraphraser_parses_both_families() -> None:
    """A JSON reply becomes the two families; the text is sent as a data section."""
    chat = FakeChat(json.dumps({"invariant": ["a?"], "significant": ["b?", "c?"]}))
    result = await LLMParaphraser(chat, model="m", upstream="u", timeout_s=1.0).paraphrase(QUERY)
    assert (result.invariant, result.significant) == (("a?",), ("b?", "c?"))
    assert data_sections(chat.calls[0][1]) == {"text": QUERY}


@pytest.mark.parametrize(
    "reply", ['{"invariant": [], "significant": ["x"]}', '{"invariant": ["x"]}', "x, y, z"]
)
async def test_llm_paraphraser_rejects_malformed_replies(reply: str) -> None:
    """Empty families, missing keys or prose are OracleOutputError."""
    paraphraser = LLMParaphraser(FakeChat(reply), model="m", upstream="u", timeout_s=1.0)
    with pytest.raises(OracleOutputError):
        await paraphraser.paraphrase(QUERY)


async def test_declared_families_skip_the_oracle() -> None:
    """With both families declared the oracle is not called."""
    chat = FakeChat("not json")
    paraphraser = LLMParaphraser(chat, model="m", upstream="u", timeout_s=1.0)
    result = await with_declared(paraphraser, QUERY, invariant=["x"], significant=["y"])
    assert (result.invariant, result.significant, result.adapter) == (("x",), ("y",), "client")
    assert chat.calls == []


async def test_one_declared_family_takes_precedence_over_the_generated_one() -> None:
    """A declared G_sig replaces the generated G_sig; G_inv still comes from the rules."""
    generated = await RulesParaphraser().paraphrase(QUERY)
    result = await with_declared(RulesParaphraser(), QUERY, significant=["Is aspirin toxic?"])
    assert result.significant == ("Is aspirin toxic?",)
    assert result.invariant == generated.invariant
    assert result.adapter == "client+rules"
    assert result.digest != generated.digest
