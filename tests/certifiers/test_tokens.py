"""Tests for certifiers.tokens.content_tokens (SPEC 5.1 canonicalizer)."""

from __future__ import annotations

from certifiers.tokens import content_tokens


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
