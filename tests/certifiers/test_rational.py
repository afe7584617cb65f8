"""Tests for certifiers.rational: exact parsing, wire hooks and sound square-root bounds."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.rational import (
    dec_hook,
    enc_hook,
    exact_decoder,
    format_rational,
    parse_rational,
    sqrt_lower,
    sqrt_upper,
    to_fraction,
)


def test_json_number_point_one_is_exactly_one_tenth() -> None:
    """A JSON number 0.1 is read from its decimal text, giving exactly 1/10."""
    decoded = exact_decoder().decode(b'{"x": 0.1, "y": [1e-3, 12345678901234567890.5]}')
    assert decoded["x"] == Fraction(1, 10)
    assert decoded["y"] == [Fraction(1, 1000), Fraction(24691357802469135781, 2)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3/25", Fraction(3, 25)),
        ("0.92", Fraction(23, 25)),
        ("-7", Fraction(-7)),
        (".5", Fraction(1, 2)),
    ],
)
def test_parse_rational_reads_ratios_integers_and_decimals(text: str, value: Fraction) -> None:
    """Ratio, integer and decimal text all parse exactly."""
    assert parse_rational(text) == value


@pytest.mark.parametrize("text", ["abc", "1/0", "nan", "inf", "1/-2", "0x10", ""])
def test_parse_rational_rejects_non_rational_text(text: str) -> None:
    """Text that is not an exact finite rational raises ValueError."""
    with pytest.raises(ValueError, match="rational"):
        parse_rational(text)


def test_to_fraction_rejects_float_and_bool() -> None:
    """Floats and booleans never become rationals."""
    with pytest.raises(TypeError, match="float"):
        to_fraction(0.5)
    with pytest.raises(TypeError, match="boolean"):
        to_fraction(True)
    assert to_fraction(Decimal("0.25")) == Fraction(1, 4)


def test_hooks_round_trip_fraction_as_p_over_q_string() -> None:
    """Fractions encode as "p/q" (or "p") and decode back unchanged."""
    assert enc_hook(Fraction(6, 4)) == "3/2"
    assert format_rational(Fraction(4, 2)) == "2"
    assert dec_hook(Fraction, "3/2") == Fraction(3, 2)


@settings(max_examples=200)
@given(st.fractions(min_value=0, max_value=10**6))
def test_sqrt_bounds_bracket_the_true_root(x: Fraction) -> None:
    """sqrt_lower(x)² ≤ x ≤ sqrt_upper(x)², and the bracket is at most one grid step wide."""
    low, high = sqrt_lower(x), sqrt_upper(x)
    assert low * low <= x <= high * high
    assert high - low <= Fraction(1, x.denominator * 2**32)
