"""Content tokens and the sentence/clause segmenter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import certifiers.tokens
from oracles.text import content_tokens, is_negated, lexical_tokens, numbers, segments
from tests.token_table import TABLE

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


def test_unit_abbreviation_before_a_capitalised_word_ends_the_sentence() -> None:
    """`325 mg. Aspirin ...` is two sentences; `mg. daily` and `No. 5` are not cut."""
    clinical = "The usual adult dose is 325 mg. Aspirin is not recommended for children."
    assert _pieces(clinical) == [
        "The usual adult dose is 325 mg.",
        "Aspirin is not recommended for children.",
    ]
    assert _pieces("The dose is 22.5 mg. It is taken twice daily.") == [
        "The dose is 22.5 mg.",
        "It is taken twice daily.",
    ]
    assert _pieces("No. It is not.") == ["No.", "It is not."]
    assert _pieces("See No. 5 and take 5 mg. daily. Dr. Smith agrees.") == [
        "See No. 5 and take 5 mg. daily.",
        "Dr. Smith agrees.",
    ]


def test_cjk_and_fullwidth_sentence_marks_split_without_whitespace() -> None:
    """The ideographic full stop and fullwidth marks end a sentence with no space after them."""
    text = (
        "\u963f\u53f8\u5339\u6797\u662f\u836f\u3002"
        "\u5b83\u53ef\u4ee5\u6b62\u75db\uff01\u5bf9\u5417\uff1f"
    )
    assert _pieces(text) == [
        "\u963f\u53f8\u5339\u6797\u662f\u836f\u3002",
        "\u5b83\u53ef\u4ee5\u6b62\u75db\uff01",
        "\u5bf9\u5417\uff1f",
    ]


def test_closing_guillemet_stays_with_its_sentence() -> None:
    """A spaced closing guillemet (French style) belongs to the sentence it closes."""
    assert _pieces("\u00ab Non. \u00bb Oui.") == ["\u00ab Non. \u00bb", "Oui."]


def test_a_megabyte_of_abbreviations_splits_in_linear_work() -> None:
    """1 MB of `Dr. ` is one sentence; the former quadratic splitter needed ~25 s for 160 KB."""
    # quadratic cost would be ~(1000/160)^2 * 25 s, i.e. about 16 minutes, for this input
    text = "Dr. " * 250_000
    assert segments(text) == [(0, len(text) - 1)]
    numbered = "The value was 3. and then " * 40_000
    assert segments(numbered) == [(0, len(numbered) - 1)]


def test_numbers_keep_sign_fold_scripts_and_join_thousands() -> None:
    """`-5` differs from `5`, Arabic-Indic digits read as ASCII, `1,000` is `1000`."""
    assert numbers("boils at -100 degrees") == {"-100"}
    assert numbers("a range of 3-5 mg") == {"3", "5"}
    assert numbers("\u0662\u0662 mg") == {"22"}
    assert numbers("\u22125 and -0.0") == {"-5", "0"}
    assert lexical_tokens("received 1,000 mg") == {"received", "1000", "mg"}
    assert content_tokens("received 1,000 mg") == {"received", "1", "0", "mg"}


@pytest.mark.parametrize(("text", "negated", "signed"), TABLE)
def test_oracle_tokenizer_agrees_with_the_shared_table(
    text: str, negated: bool, signed: frozenset[str]
) -> None:
    """`is_negated` and `numbers` read negation and sign as the shared table (and the core) do."""
    assert is_negated(text) is negated
    assert numbers(text) == signed
