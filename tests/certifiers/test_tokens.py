"""Tests for certifiers.tokens.content_tokens (SPEC 5.1 canonicalizer)."""

from __future__ import annotations

import pytest

from certifiers.tokens import NEGATIONS, content_tokens
from tests.token_table import TABLE


def test_decimals_stay_whole_and_numbers_are_normalized() -> None:
    """`22.50` and `022.5` both canonicalize to `22.5`; `007` to `7`."""
    assert "22.5" in content_tokens("CrCl of 22.50 mL/min")
    assert content_tokens("022.5") == content_tokens("22.5")
    assert content_tokens("007") == frozenset({"7"})


def test_stopwords_and_case_are_dropped() -> None:
    """Function words vanish and case/compatibility forms fold (NFKC + casefold)."""
    assert content_tokens("The Patient IS on \uff21PIXABAN") == frozenset({"patient", "apixaban"})


def test_punctuation_and_underscores_split_tokens() -> None:
    """Non-alphanumerics (including `_` and `/`) separate tokens."""
    assert content_tokens("mL/min, dose_twice") == frozenset({"ml", "min", "dose", "twice"})


@pytest.mark.parametrize(("text", "negated", "signed"), TABLE)
def test_core_tokens_agree_with_the_shared_table(
    text: str, negated: bool, signed: frozenset[str]
) -> None:
    """Negation words are content tokens and numbers keep their sign, as the shared table says."""
    tokens = content_tokens(text)
    assert bool(tokens & NEGATIONS) is negated
    assert {t for t in tokens if t.lstrip("-").replace(".", "").isdigit()} == signed


def test_dropping_a_not_or_a_minus_sign_fails_reconstruction() -> None:
    """A claim that drops the answer's "not" or its minus sign no longer covers the answer."""
    assert content_tokens("The drug is not safe.") - content_tokens("The drug is safe.") == {"not"}
    assert content_tokens("It isn't safe.") - content_tokens("It is safe.") == {"not"}
    assert content_tokens("It is -5.") - content_tokens("It is 5.") == {"-5"}
    assert content_tokens("It is 5.") - content_tokens("It is -5.") == {"5"}
