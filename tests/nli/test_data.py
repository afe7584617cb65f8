"""The NLI training data reader: top-level files only, three-way rows, seeded caps, digests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.nli.data import (
    DataError,
    pairs_digest,
    source_files,
    stratified_subset,
    training_mix,
    validation_pairs,
)


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _row(i: int, split: str, label: str = "entailment", **extra: object) -> dict[str, object]:
    return {
        "premise": f"p{i}",
        "hypothesis": f"h{i}",
        "label": label,
        "source": "s",
        "split": split,
        **extra,
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    _write(
        tmp_path / "alpha.jsonl",
        [_row(i, "train") for i in range(10)] + [_row(99, "validation", "neutral")],
    )
    _write(
        tmp_path / "beta.jsonl",
        [_row(i, "train", "contradiction") for i in range(10, 14)]
        + [_row(50, "train", "not_entailment", two_class=True)],
    )
    (tmp_path / "license-review").mkdir()
    _write(tmp_path / "license-review" / "gamma.jsonl", [_row(i, "train") for i in range(20, 30)])
    return tmp_path


def test_license_review_is_never_read(data_dir: Path) -> None:
    assert sorted(source_files(data_dir)) == ["alpha", "beta"]


def test_mix_caps_each_source_and_drops_two_class_rows(data_dir: Path) -> None:
    mix = training_mix(data_dir, {"alpha": 3, "beta": None}, seed=1)
    assert len(mix) == 3 + 4
    assert {pair.label for pair in mix} == {0, 2}
    assert training_mix(data_dir, {"alpha": 3, "beta": None}, seed=1) == mix
    assert training_mix(data_dir, {"alpha": 3, "beta": None}, seed=2) != mix


def test_validation_keeps_every_three_way_row(data_dir: Path) -> None:
    pairs = validation_pairs(data_dir)
    assert [(p.premise, p.label) for p in pairs] == [("p99", 1)]
    assert pairs_digest(pairs) != pairs_digest([])


def test_malformed_rows_name_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path / "bad.jsonl", [_row(0, "train"), _row(1, "train", "maybe")])
    with pytest.raises(DataError, match=r"bad.jsonl:2: label"):
        training_mix(tmp_path, {"bad": None}, seed=0)
    with pytest.raises(DataError, match="expected files for sources"):
        training_mix(tmp_path, {"missing": None}, seed=0)


def test_stratified_subset_keeps_every_source(data_dir: Path) -> None:
    pairs = training_mix(data_dir, {"alpha": None, "beta": None}, seed=0)
    subset = stratified_subset(pairs, 5, seed=0)
    assert {p.source for p in subset} == {"s"}
    assert len(subset) == 5
