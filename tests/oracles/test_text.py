"""Content tokens and the sentence/clause segmenter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import certifiers.tokens
from oracles.text import content_tokens, is_negated, numbers, segments

PIECES = [*"aZ19.,;:!?\n \t\"')-*", "Dr", "e.g", "but", "\u2022", "\u00e9", "22.5", "\ufb01"]


def _pieces(text: str) -> list[str]:
    return [text[start:end] for start, end in segments(text)]


def test_abbreviations_and_decimals_do_not_split_sentences() -> None:
    """`Dr.`, `e.g.`, `U.S.` and `22.5` stay inside their sentence."""
    text = "Dr. Smith gave 22.5 mg daily, e.g. at noon. The U.S. FDA agreed."
    assert _pieces(text) == ["Dr. Smith gave 22.5 mg daily, e.g. at noon.", "The U.S. FDA agreed."]


def test_semicolons_and_contrast_clauses_split() -> None:
    """`;` and `, but` start a new claim."""
    text = "It is cheap; it is safe, but it is slow."
    assert _pieces(text) == ["It is cheap;", "it is safe,", "but it is slow."]


def test_list_items_are_separate_and_keep_their_numbers() -> None:
    """Numbered list items split at the newline and keep their enumerator."""
    text = "Steps:\n1. Take with food.\n2. Avoid alcohol."
    assert _pieces(text) == ["Steps:", "1. Take with food.", "2. Avoid alcohol."]


def test_spans_index_the_original_text() -> None:
    """Every span slices exactly the claim text out of the answer, in order, without overlap."""
    text = "  First one.  Second one!\n\nThird?  "
    spans = segments(text)
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one!", "Third?"]
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def test_content_tokens_are_the_certifiers_tokens() -> None:
    """The splitter uses the reconstruction check's own token function."""
    assert content_tokens is certifiers.tokens.content_tokens
    assert content_tokens("The DOSE is 22.50 mg, e.g. 007") == {"dose", "22.5", "mg", "e", "g", "7"}


def test_numbers_and_negation_helpers() -> None:
    """Numbers are normalized tokens; contractions count as negation."""
    assert numbers("between 1,000 and 2.0 units") == {"1000", "2"}
    assert is_negated("It doesn't work")
    assert not is_negated("It works")


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_segments_cover_every_content_token(text: str) -> None:
    """The union of the segments' content tokens contains every content token of the text."""
    covered: set[str] = set()
    for start, end in segments(text):
        covered |= content_tokens(text[start:end])
    assert content_tokens(text) <= covered
