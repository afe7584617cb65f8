"""The boundary crossing (SPEC 4.1): `certifiers.quantize` and the shell's float front agree.

One suite for every path that turns oracle numbers into grid integers: the core's exact rounding
(`score`, `grid`) against `Fraction` arithmetic, its fast row paths against its general path, the
scenario decoder's use of it, and `proxy.assurance.quantize` (floats) against the core's rounding
of each float's shortest JSON text.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from certifiers.errors import ScenarioError
from certifiers.quantize import GRID_LIMIT, _score_row, grid, grid_vector, score, score_rows
from certifiers.scenario import decode_embedding, decode_scenario
from certifiers.types import GRID, SCORE_SCALE
from proxy.assurance.quantize import float_text, grid_vectors, quantize_score, quantized_scores


def _half_up(x: Fraction, scale: int) -> int:
    """The specification: floor(x·scale + ½) in exact rational arithmetic."""
    return math.floor(x * scale + Fraction(1, 2))


# --- the core's definition -------------------------------------------------------------------


def test_scores_are_quantized_to_the_nearest_millionth_ties_up() -> None:
    """q(x) = floor(x·10⁶ + ½): 0.9999995 rounds up to 1, 1/3 down to 333333, 5e-7 up to 1."""
    assert score("0.9999995") == SCORE_SCALE
    assert score("1/3") == 333_333
    assert score("5e-7") == 1
    assert score(1) == SCORE_SCALE


@given(st.fractions(min_value=-4, max_value=4, max_denominator=10**12))
def test_score_and_grid_round_exact_numbers_half_up(x: Fraction) -> None:
    """`score` and `grid` of "p/q" text equal floor(x·scale + ½) computed with Fractions."""
    text = f"{x.numerator}/{x.denominator}"
    assert score(text) == _half_up(x, SCORE_SCALE)
    assert grid(text) == _half_up(x, GRID)


@given(st.integers(0, 10**17 - 1), st.integers(1, 17))
@example(500_000, 12)  # 0.0000005 exactly: a tie, rounds up
def test_decimal_text_rows_take_a_fast_path_with_the_general_result(
    digits: int, length: int
) -> None:
    """A row of "0.d…d" text (any length) gives what the cell-by-cell exact path gives."""
    cell = f"0.{digits % 10**length:0{length}d}"
    row = (cell, "0.5", "0.000001")
    fast = score_rows((row,), 1, 3, "$.m", done=False)
    assert fast == (_score_row(row, "$.m[0]", done=False),)
    assert fast[0][0] == _half_up(Fraction(cell), SCORE_SCALE)


def test_rows_and_vectors_name_the_offending_cell() -> None:
    """Out-of-range and non-numeric cells raise ScenarioError naming `path[i][j]`."""
    with pytest.raises(ScenarioError, match=r"\$\.m\[0\]\[1\]"):
        score_rows((("0.5", "1.25"),), 1, 2, "$.m", done=False)
    with pytest.raises(ScenarioError, match=r"\$\.m\[0\]\[0\]"):
        score_rows((("x",),), 1, 1, "$.m", done=False)
    with pytest.raises(ScenarioError, match=r"\$\.m\[0\]\[0\]"):
        score_rows((("0.5",),), 1, 1, "$.m", done=True)  # quantized rows hold ints only
    with pytest.raises(ScenarioError, match=r"\$\.v\[1\]"):
        grid_vector((0, GRID_LIMIT + 1), 2, "$.v", done=True)
    with pytest.raises(ScenarioError, match=r"\$\.v\[0\]"):
        grid_vector(("-2.5",), 1, "$.v", done=False)
    assert grid_vector(("-2", "0.5"), 2, "$.v", done=False) == (-GRID_LIMIT, GRID // 2)


def test_quantized_embeddings_are_taken_as_grid_integers() -> None:
    """With `quantized: true` integer coordinates are numerators over 2^24, range-checked."""
    data = b'{"answer": "", "embedding": {"dim": 2, "quantized": true, "query": [5, -7]}}'
    scenario = decode_scenario(data)
    assert scenario.embedding is not None
    assert scenario.embedding.query == (5, -7)
    with pytest.raises(ScenarioError, match=r"\$\.embedding\.query\[1\]"):
        decode_scenario(data.replace(b"-7", str(2**26).encode()))


def test_an_embedding_section_decoded_alone_equals_the_one_inside_a_scenario() -> None:
    """`decode_embedding` is the scenario decoder's crossing of that section, errors included."""
    section = {"dim": 2, "query": [0.6, -0.8], "invariant": [[0.5, 0.5]], "inline": "always"}
    inside = decode_scenario(msgspec.json.encode({"answer": "", "embedding": section})).embedding
    alone = decode_embedding(msgspec.json.encode(section))
    assert alone == inside
    assert alone.quantized is True
    with pytest.raises(ScenarioError, match=r"\$\.embedding\.query\[1\]"):
        decode_embedding(msgspec.json.encode({**section, "query": [0.6, 2.5]}))
    with pytest.raises(ScenarioError, match=r"\$\.embedding"):
        decode_embedding(b"null")


def test_a_separately_decoded_section_joins_a_scenario_without_one() -> None:
    """`decode_scenario(data, embedding=...)` adds the section, and refuses a second one."""
    section = decode_embedding(b'{"dim": 1, "query": [0.25]}')
    scenario = decode_scenario(b'{"answer": "a"}', embedding=section)
    assert scenario.embedding == section
    with pytest.raises(ScenarioError, match=r"\$\.embedding"):
        decode_scenario(b'{"answer": "", "embedding": {"dim": 1, "query": [0]}}', embedding=section)


# --- the shell's float front, checked against the core ----------------------------------------


def _ulps(x: float, count: int) -> list[float]:
    """x and its `count` floating-point neighbours on each side."""
    out, up, down = [x], x, x
    for _ in range(count):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


def _score_floats() -> list[float]:
    rng = random.Random(11)
    floats = [rng.random() for _ in range(300)]
    floats += [rng.randint(0, 10**6) / 10**6 for _ in range(100)]
    for _ in range(100):  # floats next to a rounding tie (k + 1/2)/10^6
        floats += _ulps((rng.randint(0, 10**6 - 1) + 0.5) / 10**6, 3)
    floats += [0.0, -0.0, 1.0, 5e-7, 1.5e-6, 0.9999995, 0.1234565, 1e-300, 5e-324]
    return [x for x in floats if 0 <= x <= 1]


def _decoded_scores(floats: list[float]) -> list[int]:
    """What the core's decoder computes from the floats' JSON text (floats sent unquantized)."""
    scenario = {
        "answer": "a",
        "claims": [{"text": "a"}],
        "evidence": [{"id": f"e{j}", "text": "t"} for j in range(len(floats))],
        "nli": {"entail": [floats], "contradict": [[0.0] * len(floats)]},
    }
    nli = decode_scenario(msgspec.json.encode(scenario)).nli
    assert nli is not None
    return [int(cell) for cell in nli.entail[0]]


def test_float_scores_equal_the_cores_decoding_of_their_text() -> None:
    """quantize_score(x) equals the decoder's q(x) of x's JSON text, random and tie-adjacent."""
    floats = _score_floats()
    assert [quantize_score(x) for x in floats] == _decoded_scores(floats)


@given(st.floats(min_value=0.0, max_value=1.0))
@example(5e-7)
@example(0.1234565)
def test_float_score_equals_the_core_score_of_its_text(x: float) -> None:
    """For every float in [0, 1] the float path gives `certifiers.quantize.score` of its text."""
    assert quantize_score(x) == score(float_text(x))


@given(st.integers(0, 10**6 - 1), st.integers(-3, 3))
def test_floats_next_to_a_score_tie_equal_the_core(k: int, steps: int) -> None:
    """Floats a few ulps from a tie (k + ½)/10⁶ round as the core rounds their text."""
    x = (k + 0.5) / 10**6
    for _ in range(abs(steps)):
        x = math.nextafter(x, math.inf if steps > 0 else -math.inf)
    assert quantize_score(x) == score(float_text(x))


def test_decimal_ties_round_up_like_the_core() -> None:
    """Floats whose shortest text is an exact tie (0.0000005) round half up, as the text does."""
    assert quantize_score(5e-7) == 1
    assert quantize_score(0.1234565) == 123457
    assert quantize_score(0.9999995) == 10**6


def test_float_coordinates_equal_the_cores_decoding_of_their_text() -> None:
    """grid_vectors(v) equals the decoder's floor(x·2^24 + 1/2) of each coordinate's text."""
    rng = random.Random(12)
    coords = [rng.uniform(-1.5, 1.5) for _ in range(300)]
    for _ in range(100):  # floats next to a grid half-point (2k + 1)/2^25
        coords += _ulps((2 * rng.randint(-(2**25), 2**25 - 1) + 1) / 2**25, 3)
    coords += [2.0, -2.0, 0.0, -0.0, 1e-300, -5e-324, 1 / GRID / 2, -3 / GRID / 2]
    coords += [(2 * k + 1) / 2**25 for k in range(-40, 40)]  # exactly on half-points
    coords = [x for x in coords if -2 <= x <= 2]
    scenario = {"answer": "a", "embedding": {"dim": len(coords), "query": coords}}
    embedding = decode_scenario(msgspec.json.encode(scenario)).embedding
    assert embedding is not None
    assert grid_vectors([coords]) == [list(embedding.query)]


@given(
    st.lists(st.floats(min_value=-2.0, max_value=2.0), min_size=1, max_size=16)
    | st.lists(st.integers(-(2**25), 2**25 - 1).map(lambda k: (2 * k + 1) / 2**25), min_size=1)
)
@example([2.9802322387695312e-8, -2.0, 2.0, -0.0])
def test_float_coordinates_equal_the_core_grid_of_their_text(vector: list[float]) -> None:
    """For floats within ±2 (half-points included) the float path gives `grid` of the text."""
    assert grid_vectors([vector]) == [[grid(float_text(x)) for x in vector]]


def test_values_the_core_must_judge_are_left_as_floats() -> None:
    """Out-of-range or non-finite values give None, so the proxy sends the floats unchanged."""
    assert quantize_score(1.0000001) is None
    assert quantize_score(-1e-9) is None
    assert quantize_score(math.nan) is None
    assert quantized_scores([[0.5, 0.2], [0.1, 1.5]]) is None
    assert quantized_scores([[0.5, 0.2]]) == [[500000, 200000]]
    assert grid_vectors([[0.5, math.nan]]) is None
    assert grid_vectors([[0.5, math.inf]]) is None
    assert grid_vectors([[2.1]]) is None
    assert grid_vectors([[0.5, -0.25]]) == [[GRID // 2, -GRID // 4]]
