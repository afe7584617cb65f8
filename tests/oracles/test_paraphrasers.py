"""Paraphraser adapters and client-declared families."""

from __future__ import annotations

import json

import pytest

from oracles.errors import OracleOutputError
from oracles.paraphrasers import LLMParaphraser, RulesParaphraser, with_declared
from oracles.text import word_tokens
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


async def test_rules_number_change_changes_the_value() -> None:
    """`0.0` becomes `1`, never `0`: the significant family must change the number's value."""
    result = await RulesParaphraser().paraphrase("0.0 percent of people agree.")
    assert "1 percent of people agree." in result.significant
    assert not any(v.startswith(("0 ", "0.0 ")) for v in result.significant)


async def test_rules_significant_variants_differ_from_input_and_invariant_family() -> None:
    """No G_sig variant equals the input or a G_inv variant up to case, punctuation and spacing."""
    for text in [QUERY, "0.0 percent of people agree.", "ASPIRIN IS SAFE", "Aspirin is not safe."]:
        result = await RulesParaphraser().paraphrase(text)
        same = {tuple(word_tokens(v)) for v in (text, *result.invariant)}
        assert result.significant
        assert all(tuple(word_tokens(v)) not in same for v in result.significant)


async def test_rules_all_caps_text_gets_no_duplicated_words() -> None:
    """All-caps words are not entities in all-caps text: no `ASPIRIN SAFE SAFE`."""
    result = await RulesParaphraser().paraphrase("ASPIRIN IS SAFE")
    assert "ASPIRIN SAFE SAFE" not in result.significant
    assert "ASPIRIN IS IS" not in result.significant
    assert result.significant == ("It is not the case that ASPIRIN IS SAFE",)


async def test_rules_capitalised_names_are_not_negated_as_auxiliaries() -> None:
    """`May 2020` and `Will Smith` are not auxiliaries; the real verb is negated."""
    may = await RulesParaphraser().paraphrase("May 2020 was hot.")
    assert may.significant[0] == "May 2020 was not hot."
    will = await RulesParaphraser().paraphrase("Will Smith acted well.")
    assert not any("Will not" in v for v in will.significant)


@pytest.mark.parametrize("text", ["", "   \n"])
async def test_rules_blank_text_has_empty_families(text: str) -> None:
    """Blank input yields no variants at all (no `It is not the case that `)."""
    result = await RulesParaphraser().paraphrase(text)
    assert (result.invariant, result.significant) == ((), ())
