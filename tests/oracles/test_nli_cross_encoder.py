"""The cross-encoder NLI adapter, on a tiny BERT classifier built and saved locally by the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from sentence_transformers import CrossEncoder
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

from oracles.errors import OracleConfigError
from oracles.models import fingerprint
from oracles.nli_cross_encoder import CrossEncoderJudge

WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "dog",
    "not",
]
ID2LABEL = {0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}


def build_tiny_nli_model(directory: Path, id2label: dict[int, str]) -> Path:
    """Save a random 2-layer BERT with a 3-way head (num_labels from id2label) and its tokenizer."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    config = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={label: index for index, label in id2label.items()},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(str(directory))
    BertTokenizer(vocab_file=str(vocab), model_max_length=64).save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield build_tiny_nli_model(tmp_path_factory.mktemp("tiny-nli"), ID2LABEL)


def _judge(path: Path, labels: dict[str, str] | None = None) -> CrossEncoderJudge:
    return CrossEncoderJudge(
        model_path=str(path),
        model=None,
        labels=labels or {},
        aggregation="per_chunk",
        timeout_s=30.0,
        device="cpu",
    )


async def test_cross_encoder_scores_have_claims_by_chunks_shape_and_lie_in_the_simplex(
    tiny_model: Path,
) -> None:
    """2 claims x 3 chunks give 2x3 matrices with sigma+ + sigma- <= 1."""
    judge = _judge(tiny_model)
    result = await judge.judge(
        ["the cat sat", "the dog sat"], ["the mat", "the cat", "not the dog"]
    )
    assert [len(row) for row in result.entail] == [3, 3]
    for e_row, c_row in zip(result.entail, result.contradict, strict=True):
        for e, c in zip(e_row, c_row, strict=True):
            assert 0.0 <= e <= 1.0
            assert 0.0 <= c <= 1.0
            assert e + c <= 1.0 + 1e-6
    assert result.adapter == "cross_encoder"
    # the model's identity is its weights: name@fingerprint of the directory
    assert result.model == f"{tiny_model.name}@{fingerprint(tiny_model)}"


async def test_cross_encoder_columns_follow_id2label(tiny_model: Path) -> None:
    """sigma+ is the ENTAILMENT column and sigma- the CONTRADICTION column of the softmax."""
    judge = _judge(tiny_model)
    assert judge.columns == ["CONTRADICTION", "ENTAILMENT", "NEUTRAL"]
    result = await judge.judge(["the cat sat"], ["the dog sat on the mat"])
    reference = CrossEncoder(str(tiny_model), device="cpu", local_files_only=True)
    probabilities = reference.predict(
        [("the dog sat on the mat", "the cat sat")], apply_softmax=True, show_progress_bar=False
    ).tolist()[0]
    assert result.entail[0][0] == pytest.approx(probabilities[1], abs=1e-6)
    assert result.contradict[0][0] == pytest.approx(probabilities[0], abs=1e-6)


async def test_cross_encoder_records_a_model_fingerprint(tiny_model: Path) -> None:
    """The model version is a sha256 of the model directory, stable across loads."""
    assert _judge(tiny_model).model_version == _judge(tiny_model).model_version
    assert _judge(tiny_model).model_version.startswith("sha256:")


def test_unmapped_model_labels_are_a_config_error(tmp_path: Path) -> None:
    """LABEL_n names without a `labels` map are refused at load time."""
    path = build_tiny_nli_model(tmp_path / "numbered", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(OracleConfigError, match="unmapped"):
        _judge(path)


async def test_configured_labels_map_numbered_model_labels(tmp_path: Path) -> None:
    """With a `labels` map, LABEL_n columns are read as the configured classes."""
    path = build_tiny_nli_model(tmp_path / "numbered", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    labels = {"label_0": "entailment", "label_1": "neutral", "label_2": "contradiction"}
    result = await _judge(path, labels).judge(["the cat"], ["the mat"])
    assert 0.0 < result.entail[0][0] < 1.0


def test_missing_model_directory_is_a_config_error(tmp_path: Path) -> None:
    """A model_path that does not exist is refused with the path in the message."""
    with pytest.raises(OracleConfigError, match="model_path"):
        _judge(tmp_path / "absent")
