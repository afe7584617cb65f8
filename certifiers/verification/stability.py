"""Compositional stability arithmetic, re-implemented for the verifier (paper Thm. 9.3, Cor. 9.4).

Pure functions over Fractions: the amplification chain eps*_1 = eps_0, eps*_{i+1} = g_i * eps*_i;
the conditioning number kappa = prod g_i; the budget B = min_i m_i / prod_{j<i} g_j, where a term
whose denominator vanishes (some earlier gain is 0) is +infinity and does not bind (None stands
for +infinity); and the error envelope eps_total = sum_i eps_i * prod_{j>i} (1 + C_j) (SPEC 5.5).
No decoding, no comparison against stored values: `verification.layers` does that.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

__all__ = ["amplification_chain", "conditioning_number", "error_envelope", "stability_budget"]


def amplification_chain(eps0: Fraction, gains: Sequence[Fraction]) -> list[Fraction]:
    """[eps*_1, ..., eps*_n] for n layers: eps*_1 = eps0 and eps*_{i+1} = g_i * eps*_i."""
    chain: list[Fraction] = []
    current = eps0
    for gain in gains:
        chain.append(current)
        current = gain * current
    return chain


def conditioning_number(gains: Sequence[Fraction]) -> Fraction:
    """kappa_Pi = the product of all gains (1 for an empty pipeline)."""
    product = Fraction(1)
    for gain in gains:
        product *= gain
    return product


def stability_budget(
    gains: Sequence[Fraction], margins: Sequence[Fraction | None]
) -> Fraction | None:
    """B_Pi = min_i m_i / prod_{j<i} g_j over the terms before the first zero prefix product.

    A None margin is an unbounded layer and never binds; None as the result stands for +infinity.
    """
    best: Fraction | None = None
    prefix = Fraction(1)
    for gain, margin in zip(gains, margins, strict=True):
        if prefix == 0:
            break
        if margin is None:
            prefix *= gain
            continue
        term = margin / prefix
        if best is None or term < best:
            best = term
        prefix *= gain
    return best


def error_envelope(errors: Sequence[Fraction], constants: Sequence[Fraction]) -> Fraction:
    """eps_total = sum_i eps_i * prod_{j>i} (1 + C_j), computed from the last layer backwards."""
    total = Fraction(0)
    growth = Fraction(1)
    for error, constant in zip(reversed(errors), reversed(constants), strict=True):
        total += error * growth
        growth *= 1 + constant
    return total
