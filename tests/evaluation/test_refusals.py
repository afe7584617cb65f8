"""Tests of the deterministic refusal detector."""

from __future__ import annotations

import pytest

from proxy.evaluation.refusals import is_refusal


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know.",
        "I don\u2019t know",
        "i do not know the answer",
        "Insufficient information.",
        "  UNKNOWN ",
        "N/A",
        "",
        "The provided context does not say who designed it.",
        "There is not enough information to answer.",
    ],
)
def test_refusal_phrases_are_detected(answer: str) -> None:
    """Each listed refusal phrasing is detected after normalization."""
    assert is_refusal(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "Delhi",
        "Unknownland is a country.",
        "I don't knowingly lie: it was 1889.",
        "The answer is not known to be 12, it is 13.",
        "Nobody knows, but Paris is likely.",
    ],
)
def test_factual_answers_are_not_refusals(answer: str) -> None:
    """Answers that merely contain refusal-like words are not refusals."""
    assert not is_refusal(answer)
