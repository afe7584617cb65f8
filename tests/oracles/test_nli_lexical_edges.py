"""Edge cases of the lexical heuristic: unit abbreviations, signs, separators, other digits."""

from __future__ import annotations

import pytest

from oracles.nli_lexical import LexicalJudge, lexical_scores

CLINICAL = "The usual adult dose is 325 mg. Aspirin is not recommended for children."


async def test_verbatim_first_sentence_after_a_unit_abbreviation_is_entailed() -> None:
    """A claim copied from the evidence is entailed, not contradicted by the next `not`."""
    assert lexical_scores(CLINICAL, "The usual adult dose is 325 mg.") == (1.0, 0.0)
    judged = await LexicalJudge(aggregation="concat").judge(
        ["The usual adult dose is 325 mg.", "Aspirin is recommended for children."], [CLINICAL]
    )
    assert judged.entail == [[1.0], [0.0]]
    assert judged.contradict == [[0.0], [1.0]]


@pytest.mark.parametrize(
    ("premise", "claim"),
    [
        ("Water boils at 100 degrees.", "Water boils at -100 degrees."),
        ("Water boils at -100 degrees.", "Water boils at 100 degrees."),
        ("It was -5 degrees outside.", "It was 5 degrees outside."),
    ],
)
def test_a_sign_change_is_a_contradiction(premise: str, claim: str) -> None:
    """`-100` and `100` are different numbers."""
    assert lexical_scores(premise, claim) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("premise", "claim"),
    [
        ("Patients received 1,000 mg daily.", "Patients received 1000 mg daily."),
        ("Patients received 1000 mg daily.", "Patients received 1,000 mg daily."),
        ("The dose is \u0662\u0662 mg.", "The dose is 22 mg."),
        ("The dose is 22 mg.", "The dose is \u0662\u0662 mg."),
        ("Water boils at -100 degrees.", "Water boils at -100 degrees."),
    ],
)
def test_the_same_number_written_differently_is_entailed(premise: str, claim: str) -> None:
    """Thousands separators and the digit script do not change a number."""
    assert lexical_scores(premise, claim) == (1.0, 0.0)
