"""The shell's float front of the boundary crossing (SPEC 4.1): oracle floats as exact integers.

The definition is the trusted core's: `certifiers.quantize.score` / `grid` round an exact number,
and a float enters the core as its shortest JSON text, read exactly (what `decode_scenario` reads
when floats are sent). Rounding that text for every one of ~10⁴-10⁵ embedding coordinates costs
tens of milliseconds per call, so this module computes the same integers with float arithmetic,
falling back to the core's exact rounding of the text near a tie; tests/certifiers/test_quantize.py
checks `quantize_score` and `grid_vectors` against the core on random, tie-adjacent and
half-point floats. The proxy then sends the integers (`"quantized": true`) and the core only checks
them. Values the core must judge itself (scores outside [0, 1], coordinates beyond ±2, non-finite
or non-numeric values) make these functions return None: the caller then sends the floats and the
core reports them. Floats are used only to find the integers, never in a certificate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import sub

import msgspec

from certifiers import quantize as core
from certifiers.quantize import GRID_LIMIT
from certifiers.types import GRID, SCORE_SCALE

#: x·10⁶ in binary floating point is within 2e-10 of the exact product with the float's decimal
#: text; fractional parts this close to ½ are rounded from the text instead (exactly)
_TIE_WINDOW = 1e-6
_NUMERIC = frozenset({float, int})


def float_text(x: float) -> str:
    """The float's shortest JSON text: what the core reads exactly when the float is sent."""
    return msgspec.json.encode(x).decode()


def exact_score(x: float) -> int:
    """q(x) of the float's JSON text by the core (`certifiers.quantize.score`): the reference."""
    return core.score(float_text(x))


def quantize_score(x: float) -> int | None:
    """q(x) = floor(x·10⁶ + ½) of the float's decimal text, or None outside [0, 1] (or NaN).

    The text t and the float x differ by at most half an ulp, and fl(x·10⁶) differs from t·10⁶ by
    less than 2e-10 for x in [0, 1]; away from a tie (fractional part within 1e-6 of ½) both round
    to the same integer, and near a tie the text is rounded exactly (`exact_score`).
    """
    if type(x) not in _NUMERIC or not 0 <= x <= 1:
        return None
    scaled = x * SCORE_SCALE
    whole = math.floor(scaled)
    rest = scaled - whole
    if abs(rest - 0.5) <= _TIE_WINDOW:
        return exact_score(x)
    return whole + (rest > 0.5)


def quantized_scores(matrix: Sequence[Sequence[float]]) -> list[list[int]] | None:
    """Every score as an integer over 10⁶, or None when any one is not in [0, 1]."""
    out: list[list[int]] = []
    for row in matrix:
        cells = [quantize_score(x) for x in row]
        ints = [cell for cell in cells if cell is not None]
        if len(ints) != len(cells):
            return None
        out.append(ints)
    return out


def exact_grid(x: float) -> int:
    """floor(x·2²⁴ + ½) of the float's JSON text by the core (`certifiers.quantize.grid`)."""
    return core.grid(float_text(x))


def grid_vectors(vectors: Sequence[Sequence[float]]) -> list[list[int]] | None:
    """Every coordinate as floor(x·2²⁴ + ½) of its text, or None when one is not a finite number
    within ±2 on the grid.

    x·2²⁴ is exact in binary floating point and so is adding ½ (|x·2²⁴| < 2⁵²). Every grid
    half-point (2k + 1)/2²⁵ within ±2 is itself a double, so none lies strictly between a float
    and its shortest decimal text: both round alike, except when the float *is* a half-point (its
    text may then fall just below it, e.g. 2⁻²⁵ prints as 2.9802322387695312e-8); those rare
    coordinates are rounded from the text (`exact_grid`).
    """
    scale, half = float(GRID), 0.5
    out: list[list[int]] = []
    for vector in vectors:
        if not set(map(type, vector)) <= _NUMERIC:
            return None
        scaled = list(map(scale.__mul__, vector))
        try:
            grid = list(map(math.floor, map(half.__add__, scaled)))
        except (ValueError, OverflowError):  # NaN or infinity
            return None
        if half in map(sub, grid, scaled):  # a coordinate exactly on a grid half-point
            grid = [
                exact_grid(x) if g - y == half else g
                for x, g, y in zip(vector, grid, scaled, strict=True)
            ]
        if grid and (min(grid) < -GRID_LIMIT or max(grid) > GRID_LIMIT):
            return None
        out.append(grid)
    return out
