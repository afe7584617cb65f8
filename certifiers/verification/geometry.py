"""Integer geometry on the 2^-24 embedding grid for the verifier (paper Sec. 7, SPEC 4.1 and 5.3).

Embedding coordinates are rationals k / 2^24, handled as their integer numerators k, so a squared
distance or inner product is an exact integer scaled by 2^48. The rounding budget eps_eta is checked
for soundness without square roots: eps >= 2*D*delta + delta^2 with D^2 = the largest squared
distance it must cover and delta^2 = d * 2^-48 is equivalent to
(eps - delta^2 >= 0) and (eps - delta^2)^2 >= 4 * D^2 * delta^2, all exact rationals.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from certifiers.types import GRID_BITS

__all__ = ["dot", "eps_eta_is_sound", "squared_distance", "squared_norm"]


def squared_distance(u: Sequence[int], v: Sequence[int]) -> int:
    """||u - v||^2 of two numerator vectors (scaled by the grid denominator squared)."""
    return sum((a - b) * (a - b) for a, b in zip(u, v, strict=True))


def squared_norm(u: Sequence[int]) -> int:
    """||u||^2 of a numerator vector (scaled by the grid denominator squared)."""
    return sum(a * a for a in u)


def dot(u: Sequence[int], v: Sequence[int]) -> int:
    """<u, v> of two numerator vectors (scaled by the grid denominator squared)."""
    return sum(a * b for a, b in zip(u, v, strict=True))


def eps_eta_is_sound(eps: Fraction, dimension: int, max_squared_distance: Fraction) -> bool:
    """True iff eps >= 2 * sqrt(max_squared_distance) * delta + delta^2, delta = sqrt(d) * 2^-24."""
    delta_sq = Fraction(dimension, 1 << (2 * GRID_BITS))
    slack = eps - delta_sq
    if slack < 0 or max_squared_distance < 0:
        return False
    return slack * slack >= 4 * max_squared_distance * delta_sq
