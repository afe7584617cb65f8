"""Decoding and validation of the `[oracles.*]` configuration tables."""

from __future__ import annotations

import msgspec
import pytest

from oracles.config import OraclesConfig


def test_tables_decode_with_defaults_for_missing_keys() -> None:
    """A partial `[oracles.nli]` table keeps defaults for the other keys and tables."""
    config = msgspec.convert(
        {"nli": {"kind": "tei", "url": "http://127.0.0.1:8080", "labels": {"LABEL_0": "neutral"}}},
        OraclesConfig,
    )
    assert (config.nli.kind, config.nli.batch_size, config.nli.aggregation) == (
        "tei",
        32,
        "per_chunk",
    )
    assert config.embedder.kind == "none"


def test_unknown_keys_are_rejected_with_their_path() -> None:
    """A misspelt key fails naming the table."""
    with pytest.raises(msgspec.ValidationError, match=r"\$\.nli"):
        msgspec.convert({"nli": {"kind": "tei", "uri": "x"}}, OraclesConfig)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"nli": {"timeout_s": 0}}, "timeout_s > 0"),
        ({"nli": {"batch_size": 0}}, "batch_size >= 1"),
        ({"embedder": {"batch_size": -1}}, "batch_size >= 1"),
        ({"decomposer": {"timeout_s": -5}}, "timeout_s > 0"),
    ],
)
def test_non_positive_limits_are_rejected(table: dict[str, object], message: str) -> None:
    """Timeouts and batch sizes must be positive."""
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(table, OraclesConfig)


def test_joint_aggregation_is_accepted_and_a_misspelt_one_names_the_field() -> None:
    config = msgspec.convert({"nli": {"aggregation": "joint", "top_k": 2}}, OraclesConfig)
    assert (config.nli.aggregation, config.nli.top_k) == ("joint", 2)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.nli\.aggregation"):
        msgspec.convert({"nli": {"aggregation": "jointly"}}, OraclesConfig)
