"""Short answers are judged as "question + answer"; full statements as they are."""

from __future__ import annotations

import pytest

from oracles.nli_context import MAX_CONTEXT_CHARS, hypothesis_for, is_full_statement

QUESTION = "Which city is the capital of India?"


@pytest.mark.parametrize(
    ("claim", "full"),
    [
        ("Delhi", False),
        ("yes", False),
        ("Arthur's Magazine", False),
        ("1969 until 1974", False),
        ("The capital is Delhi.", True),
        ("Delhi has a population of 30 million.", True),
        ("The treaty was signed in 1648.", True),
        ("Barack Obama won the 2008 election easily", True),  # six words: long enough
        ("Obama founded the party", True),  # -ed verb cue
        ("a big red dog", False),
    ],
)
def test_full_statement_rule(claim: str, full: bool) -> None:
    assert is_full_statement(claim) is full


def test_short_claims_get_the_question_and_statements_do_not() -> None:
    assert hypothesis_for("Delhi", QUESTION) == f"{QUESTION} Delhi"
    assert hypothesis_for("The capital is Delhi.", QUESTION) == "The capital is Delhi."
    assert hypothesis_for("Delhi", None) == "Delhi"


def test_a_long_or_empty_question_is_not_used() -> None:
    assert hypothesis_for("Delhi", "x" * (MAX_CONTEXT_CHARS + 1)) == "Delhi"
    assert hypothesis_for("Delhi", "   ") == "Delhi"
    assert hypothesis_for("Delhi", "Which\n city?") == "Which city? Delhi"
