"""The pipeline's integer scores and grid coordinates equal the certifier's rounding of floats."""

from __future__ import annotations

import math
import random

import msgspec

from certifiers.scenario import decode_scenario
from proxy.assurance.quantize import GRID, grid_vectors, quantize_score, quantized_scores


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


def _certifier_scores(floats: list[float]) -> list[int]:
    """What the certifier computes from the floats' JSON text (what the pipeline used to send)."""
    scenario = {
        "answer": "a",
        "claims": [{"text": "a"}],
        "evidence": [{"id": f"e{j}", "text": "t"} for j in range(len(floats))],
        "nli": {"entail": [floats], "contradict": [[0.0] * len(floats)]},
    }
    nli = decode_scenario(msgspec.json.encode(scenario)).nli
    assert nli is not None
    return [int(cell) for cell in nli.entail[0]]


def test_scores_equal_the_certifiers_rounding_of_the_float_text() -> None:
    """quantize_score(x) equals q(x) of x's JSON text for random and tie-adjacent floats."""
    floats = _score_floats()
    assert [quantize_score(x) for x in floats] == _certifier_scores(floats)


def test_decimal_ties_round_up_like_the_certifier() -> None:
    """Floats whose shortest text is an exact tie (0.0000005) round half up, as the text does."""
    assert quantize_score(5e-7) == 1
    assert quantize_score(0.1234565) == 123457
    assert quantize_score(0.9999995) == 10**6


def test_grid_coordinates_equal_the_certifiers_rounding_of_the_float_text() -> None:
    """grid_vectors(v) equals the certifier's floor(x·2^24 + 1/2) of each coordinate's text."""
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


def test_values_the_certifier_must_judge_are_left_as_floats() -> None:
    """Out-of-range or non-finite values give None, so the pipeline sends the floats unchanged."""
    assert quantize_score(1.0000001) is None
    assert quantize_score(-1e-9) is None
    assert quantize_score(math.nan) is None
    assert quantized_scores([[0.5, 0.2], [0.1, 1.5]]) is None
    assert quantized_scores([[0.5, 0.2]]) == [[500000, 200000]]
    assert grid_vectors([[0.5, math.nan]]) is None
    assert grid_vectors([[0.5, math.inf]]) is None
    assert grid_vectors([[2.1]]) is None
    assert grid_vectors([[0.5, -0.25]]) == [[GRID // 2, -GRID // 4]]
