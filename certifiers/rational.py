"""Exact rationals on the wire (SPEC 5, STYLE 6): text parsing, msgspec hooks, sound square roots.

Rationals travel as strings "p/q" or "p"; decimal text ("0.92", "-1.5e-3") is read exactly. JSON
numbers are read from their decimal text through `exact_decoder`'s float hook, never via `float`.
Square roots exist only as sound rational bounds (`sqrt_upper`, `sqrt_lower`). No floats anywhere.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec

_RATIO = re.compile(r"[+-]?[0-9]+(?:/[0-9]+)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")

#: bits of precision of the sound square-root bounds (documented for the independent verifier)
SQRT_BITS = 32


def parse_rational(text: str) -> Fraction:
    """Read "p/q", "p" or decimal text ("0.92", "1e-3") exactly; raise ValueError otherwise."""
    stripped = text.strip()
    if _RATIO.fullmatch(stripped):
        num, _, den = stripped.partition("/")
        if den and int(den) == 0:
            raise ValueError(f"expected a rational with a non-zero denominator, got {text!r}")
        return Fraction(int(num), int(den) if den else 1)
    if _DECIMAL.fullmatch(stripped):
        return Fraction(Decimal(stripped))
    raise ValueError(f"expected a rational as 'p/q', an integer or decimal text, got {text!r}")


def format_rational(value: Fraction) -> str:
    """Write a rational as "p" when integral, else "p/q" in lowest terms."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def to_fraction(value: object) -> Fraction:
    """Coerce Fraction, int, Decimal or rational text to Fraction; reject float and bool."""
    if isinstance(value, bool):
        raise TypeError(f"expected a rational, got boolean {value!r}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"expected a finite rational, got {value!r}")
        return Fraction(value)
    if isinstance(value, str):
        return parse_rational(value)
    raise TypeError(
        f"expected a rational ('p/q' string or JSON number), got {type(value).__name__}"
    )


def enc_hook(obj: Any) -> Any:
    """msgspec encode hook: Fraction -> "p/q" string."""
    if isinstance(obj, Fraction):
        return format_rational(obj)
    raise NotImplementedError(f"cannot encode objects of type {type(obj).__name__}")


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec decode hook: "p/q" / decimal text / int / exact number -> Fraction."""
    if type_ is Fraction:
        return to_fraction(obj)
    raise NotImplementedError(f"cannot decode objects of type {type_!r}")


def _float_text_to_fraction(text: str) -> Fraction:
    return parse_rational(text)


def exact_decoder() -> msgspec.json.Decoder[Any]:
    """A JSON decoder to untyped data whose non-integer numbers become exact Fractions."""
    return msgspec.json.Decoder(float_hook=_float_text_to_fraction)


def _keep_text(text: str) -> str:
    return text


def text_number_decoder() -> msgspec.json.Decoder[Any]:
    """A JSON decoder to untyped data that keeps non-integer numbers as their decimal text.

    Used for scenarios: Fraction fields then parse the text exactly (`dec_hook`), and bulk numeric
    arrays (scores, embedding coordinates) go through the fast integer path of `ratio_of`.
    """
    return msgspec.json.Decoder(float_hook=_keep_text)


def ratio_of(value: str | int) -> tuple[int, int]:
    """Exact (numerator, denominator > 0) of an int or rational text, fast for plain decimals."""
    if isinstance(value, int):
        return value, 1
    if "/" not in value and "e" not in value and "E" not in value:
        text = value.strip()
        body = text[1:] if text[:1] in ("+", "-") else text
        whole, _, frac = body.partition(".")
        digits = whole + frac
        if digits and digits.isascii() and digits.isdigit():
            number = int(digits)
            return (-number if text[:1] == "-" else number), 10 ** len(frac)
    exact = parse_rational(value)
    return exact.numerator, exact.denominator


def sqrt_upper(value: Fraction, bits: int = SQRT_BITS) -> Fraction:
    """A sound rational upper bound u >= sqrt(value) with u - sqrt(value) <= 2^-bits / den.

    With value = p/q: u = ceil(sqrt(p*q*4^bits)) / (q*2^bits), so u^2 >= p/q exactly.
    """
    if value < 0:
        raise ValueError(f"expected a non-negative rational for sqrt, got {format_rational(value)}")
    p, q = value.numerator, value.denominator
    scaled = p * q * 4**bits
    root = math.isqrt(scaled)
    if root * root < scaled:
        root += 1
    return Fraction(root, q * 2**bits)


def sqrt_lower(value: Fraction, bits: int = SQRT_BITS) -> Fraction:
    """A sound rational lower bound l <= sqrt(value): floor(sqrt(p*q*4^bits)) / (q*2^bits)."""
    if value < 0:
        raise ValueError(f"expected a non-negative rational for sqrt, got {format_rational(value)}")
    p, q = value.numerator, value.denominator
    return Fraction(math.isqrt(p * q * 4**bits), q * 2**bits)
