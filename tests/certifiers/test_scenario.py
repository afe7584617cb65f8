"""Tests for certifiers.scenario.decode_scenario: the issue's shape, exact numbers, field paths."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest

from certifiers.errors import ScenarioError
from certifiers.scenario import decode_scenario
from tests.certifiers.examples import clean_scenario

ISSUE_SHAPE = b"""{"answer": "text", "query": "last user message",
 "claims": [{"text": "text", "weight": "3"}],
 "evidence": [{"id": "e1", "text": "..."}, {"id": "e2", "text": "..."}],
 "nli": {"aggregation": "per_chunk", "entail": [["0.92", "0.10"]],
         "contradict": [["0.03", "0.01"]]},
 "thresholds": {"theta_g": "7/10", "theta_c": "1/2", "theta_e": "1/2", "theta_r": "1/20"},
 "claim_dependencies": {"0": []}, "conflicts": [], "budget": {"max_weight": "5"},
 "embedding": {"dim": 3, "query": [0.6, 0.8, 0.0], "invariant": [[0.6, 0.79, 0.1]],
               "significant": [[0.0, 0.6, 0.8]], "evidence": [[1, 0, 0], [0, 1, 0]], "top_k": 2},
 "actions": {"schemas": [], "state": {"now": 1714000000},
             "calls": [{"id": "c1", "name": "delete_file",
                        "arguments": "{\\"path\\": \\"/sandbox/a\\"}"}]},
 "layers": [{"name": "embedding", "gain": "1", "margin": "3/25"}],
 "policy": "clinical", "now": 1714000000}"""


def test_issue_shape_is_accepted_with_exact_numbers() -> None:
    """The issue's scenario decodes; JSON 0.6 and "0.92" are read exactly, then quantized."""
    scenario = decode_scenario(ISSUE_SHAPE)
    assert scenario.embedding is not None
    assert scenario.embedding.query[0] == (2 * 3 * 2**24 + 5) // 10  # 3/5 on the 2^-24 grid
    assert scenario.embedding.quantized is True
    assert scenario.nli is not None
    assert scenario.nli.entail[0][0] == 920_000  # q(0.92) over 10^6
    assert scenario.layers is not None
    assert scenario.layers[0].margin == Fraction(3, 25)


def test_json_number_point_one_is_read_exactly() -> None:
    """A JSON number 0.1 in a rational field becomes exactly 1/10 (never through a float)."""
    scenario = decode_scenario(b'{"answer": "", "claims": [{"text": "a", "weight": 0.1}]}')
    assert scenario.claims[0].weight == Fraction(1, 10)


def test_only_answer_is_required() -> None:
    """A scenario with just an answer decodes with empty defaults."""
    scenario = decode_scenario(b'{"answer": ""}')
    assert scenario.claims == ()
    assert scenario.policy == "enterprise_qa"


def _mutated(**changes: Any) -> bytes:
    return json.dumps(clean_scenario(**changes)).encode()


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            _mutated(nli={"entail": [["0.9", "1.3"]] * 3, "contradict": [["0", "0"]] * 3}),
            "$.nli.entail[0][1]",
        ),
        (
            _mutated(nli={"entail": [["0.9", "x"]] * 3, "contradict": [["0", "0"]] * 3}),
            "$.nli.entail[0][1]",
        ),
        (_mutated(nli={"entail": [["0.9"]] * 3, "contradict": [["0"]] * 3}), "$.nli.entail[0]"),
        (_mutated(claims=[{"text": "a", "weight": "-1"}]), "$.claims[0].weight"),
        (_mutated(thresholds={"theta_g": "0"}), "$.thresholds.theta_g"),
        (_mutated(conflicts=[[0, 7]]), "$.conflicts[0][1]"),
        (_mutated(claim_dependencies={"x": [1]}), "$.claim_dependencies.x"),
        (_mutated(now="soon"), "$.now"),
        (_mutated(surprise=1), "$"),
        (_mutated(embedding={"dim": 2, "query": [1, 0, 0]}), "$.embedding.query"),
        (_mutated(actions={"calls": [{"id": "c", "name": "t"}]}), "$.actions.calls[0]"),
        (b"[1, 2]", "$"),
    ],
)
def test_malformed_scenarios_name_the_field(data: bytes, path: str) -> None:
    """Every malformed field raises ScenarioError whose message names its JSON path."""
    with pytest.raises(ScenarioError) as info:
        decode_scenario(data)
    assert f"`{path}`" in str(info.value)


def test_undecodable_bytes_are_a_scenario_error() -> None:
    """Bytes that are not JSON raise ScenarioError, not a decoder exception."""
    with pytest.raises(ScenarioError, match="JSON"):
        decode_scenario(b"{not json")
