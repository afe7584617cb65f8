"""Crossing the trust boundary (SPEC 4.1): oracle scores and coordinates as exact grid integers.

The one definition of the step that every path takes (the proxy's scenarios, `assurance certify`
scenarios, the evaluation harness): a score x in [0, 1] becomes q(x) = floor(x·10⁶ + ½), the
integer numerator over `SCORE_SCALE`; an embedding coordinate x in [-2, 2] becomes
floor(x·2²⁴ + ½), the numerator over `GRID`. Ties round up. Numbers arrive exact, never as floats:
a JSON integer, decimal text ("0.92", or a float's shortest JSON text such as "1e-07") or "p/q"
(`certifiers.rational.ratio_of`). `score` and `grid` round one number; `score_rows` and
`grid_vector` check a scenario's matrices and vectors (shape, range) and raise `ScenarioError`
naming the first offending cell. The shell's float front (`proxy.assurance.quantize`) computes the
same integers from floats and is tested against `score` and `grid`. No floats here.
"""

from __future__ import annotations

import re
from typing import cast

import msgspec

from certifiers.errors import ScenarioError
from certifiers.rational import ratio_of
from certifiers.types import GRID, SCORE_SCALE

Number = str | int  # an exact number: JSON integer, decimal text or "p/q" (see rational.ratio_of)

MAX_COORDINATE = 2
GRID_LIMIT = MAX_COORDINATE * GRID


def round_to_scale(numerator: int, denominator: int, scale: int) -> int:
    """floor(x·scale + ½) for x = numerator/denominator, denominator > 0: nearest point, ties up."""
    return (2 * numerator * scale + denominator) // (2 * denominator)


def score(value: Number) -> int:
    """q(x) = floor(x·10⁶ + ½) of an exact number (no range check); ValueError if not a number."""
    return round_to_scale(*ratio_of(value), SCORE_SCALE)


def grid(value: Number) -> int:
    """floor(x·2²⁴ + ½) of an exact number (no range check); ValueError if not a number."""
    return round_to_scale(*ratio_of(value), GRID)


def _fail(path: str, expected: str, got: object) -> ScenarioError:
    return ScenarioError(f"Expected {expected}, got {got}", path=path)


def _number(value: Number, path: str) -> tuple[int, int]:
    try:
        return ratio_of(value)
    except ValueError as exc:
        raise ScenarioError(str(exc), path=path) from exc


#: a row of plain decimal scores "0.d…d" (1 to 15 digits) joined by commas: the common case
_DECIMAL_SCORES = re.compile(r"0\.[0-9]{1,15}(?:,0\.[0-9]{1,15})*")
_SCALE_DIGITS = len(str(SCORE_SCALE)) - 1  # 10⁶ = 10^6


def _score_of(marked: int) -> int:
    """q(x) for x = 0.d₁…d_L given as the integer 1d₁…d_L (= 10^L + f): floor(x·10⁶ + ½)."""
    length = len(str(marked)) - 1
    denominator: int = 10**length
    frac = marked - denominator
    if length <= _SCALE_DIGITS:
        pad: int = 10 ** (_SCALE_DIGITS - length)
        return frac * pad
    return round_to_scale(frac, denominator, SCORE_SCALE)


def _plain_scores(row: tuple[Number, ...]) -> tuple[int, ...] | None:
    """q(x) of a row whose cells are all "0.d…d" text, without Fractions; else None.

    Each cell "0.d₁…d_L" is rewritten "1d₁…d_L" (the integer 10^L + f, f = d₁…d_L, x = f/10^L)
    and the row decoded as one JSON integer array. With L = 6 (the usual text) q(x) = f; other
    lengths go through `_score_of`, the same floor(x·10⁶ + ½) as `round_to_scale`.
    """
    try:
        joined = ",".join(cast("tuple[str, ...]", row))
    except TypeError:  # an int (or anything but text) in the row
        return None
    if joined.count(",") != len(row) - 1 or not _DECIMAL_SCORES.fullmatch(joined):
        return None
    # "0." occurs only at the start of a cell: the digits after it contain no "."
    marked: list[int] = msgspec.json.decode("[" + joined.replace("0.", "1") + "]")
    low, high = 10**_SCALE_DIGITS, 2 * 10**_SCALE_DIGITS
    return tuple([m - low if low <= m < high else _score_of(m) for m in marked])


def _plain_quantized(row: tuple[Number, ...]) -> tuple[int, ...] | None:
    """The row itself when every cell is exactly an `int` in [0, SCORE_SCALE]; else None."""
    if not row or set(map(type, row)) != {int}:
        return None
    ints = cast("tuple[int, ...]", row)
    return ints if min(ints) >= 0 and max(ints) <= SCORE_SCALE else None


def _score_row(row: tuple[Number, ...], path: str, *, done: bool) -> tuple[int, ...]:
    """One row cell by cell (the exact general path, with the first offending cell's error)."""
    cells: list[int] = []
    for j, value in enumerate(row):
        if done and not isinstance(value, int):
            raise _fail(f"{path}[{j}]", "an integer score (quantized)", value)
        num, den = (
            (value, SCORE_SCALE)
            if isinstance(value, int) and done
            else _number(value, f"{path}[{j}]")
        )
        if not 0 <= num <= den:
            raise _fail(f"{path}[{j}]", "a score in [0, 1]", value)
        cells.append(num if done else round_to_scale(num, den, SCORE_SCALE))
    return tuple(cells)


def score_rows(
    rows: tuple[tuple[Number, ...], ...], n_rows: int, n_cols: int, path: str, *, done: bool
) -> tuple[tuple[int, ...], ...]:
    """Check shape and [0, 1]; return q(x) per cell (`done`: cells are already q(x) integers).

    Rows of exact ints (quantized) or of plain "0.ddd…" text take a fast path with the same
    result; any other row goes through `_score_row`, which raises on its first bad cell.
    """
    if len(rows) != n_rows:
        raise _fail(path, f"{n_rows} rows (one per claim)", f"{len(rows)} rows")
    fast = _plain_quantized if done else _plain_scores
    out: list[tuple[int, ...]] = []
    for i, row in enumerate(rows):
        if len(row) != n_cols:
            raise _fail(f"{path}[{i}]", f"{n_cols} scores", f"{len(row)} scores")
        quick = fast(row)
        out.append(quick if quick is not None else _score_row(row, f"{path}[{i}]", done=done))
    return tuple(out)


def _checked_ints(values: tuple[Number, ...], path: str) -> tuple[tuple[int, ...], int, int]:
    """`values` itself and its min and max, after checking in C-speed passes that all are ints."""
    try:
        low, high = (min(values), max(values)) if values else (0, 0)
    except TypeError:  # ints and strings do not compare: a mixed tuple
        low = high = ""
    if not (isinstance(low, int) and isinstance(high, int)):
        k = next((i for i, v in enumerate(values) if not isinstance(v, int)), 0)
        raise _fail(f"{path}[{k}]", "an integer (quantized input)", repr(values[k]))
    # min and max are ints and no str compared with them, so every element is an int
    return cast("tuple[int, ...]", values), low, high


def grid_vector(
    vector: tuple[Number, ...], dim: int, path: str, *, done: bool, checked: bool = False
) -> tuple[int, ...]:
    """Check length and |x| <= 2; return the integer numerators over 2^GRID_BITS.

    `done`: the coordinates are already grid integers; `checked`: the decoder already proved every
    one a grid integer within ±2 (`certifiers.scenario.GridInt`).
    """
    if len(vector) != dim:
        raise _fail(path, f"{dim} coordinates", f"{len(vector)} coordinates")
    if checked:
        return cast("tuple[int, ...]", vector)
    if done:
        ints, low, high = _checked_ints(vector, path)
    else:
        ints = tuple(
            round_to_scale(*_number(v, f"{path}[{i}]"), GRID) for i, v in enumerate(vector)
        )
        low, high = (min(ints), max(ints)) if ints else (0, 0)
    if low < -GRID_LIMIT or high > GRID_LIMIT:
        i = next(k for k, g in enumerate(ints) if not -GRID_LIMIT <= g <= GRID_LIMIT)
        bound = f"a coordinate in [-{MAX_COORDINATE}, {MAX_COORDINATE}]"
        raise _fail(f"{path}[{i}]", bound, vector[i])
    return tuple(ints)
