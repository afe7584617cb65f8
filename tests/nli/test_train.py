"""A tiny real training run: MiniLM weights, a handful of pairs, checkpoints, resume, determinism,
and the exported int8 ONNX model running on onnxruntime close to the fp32 checkpoint."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from oracles.models import (
    CrossEncoderModel,
    OnnxCrossEncoderModel,
    cross_encoder_model,
    fingerprint,
)
from proxy.nli.card import render_card
from proxy.nli.data import LABELS
from proxy.nli.evaluate import calibration_record, evaluate_model, shaped_pairs
from proxy.nli.export import export_model
from proxy.nli.train import batch_schedule, train
from tests.nli.toy import PAIRS, SETTINGS


def _weights(out: Path) -> dict[str, Any]:
    torch: Any = importlib.import_module("torch")
    state: dict[str, Any] = torch.load(out / "last" / "trainer_state.pt", weights_only=False)
    weights: dict[str, Any] = state["model"]
    return weights


def test_schedule_is_seeded_and_covers_every_pair_once() -> None:
    lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6, 0, 11, 10]
    first = batch_schedule(lengths, SETTINGS, 0)
    assert sorted(i for batch in first for i in batch) == list(range(12))
    assert batch_schedule(lengths, SETTINGS, 0) == first
    assert batch_schedule(lengths, SETTINGS, 1) != first


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    validation = PAIRS[::3]
    best = train(PAIRS, validation, SETTINGS, straight, log=lambda _: None)
    assert (best / "model.safetensors").is_file()
    lines: list[str] = []
    train(PAIRS, validation, SETTINGS, resumed, time_limit_s=0.0, log=lines.append)
    assert any("time limit" in line for line in lines)
    train(PAIRS, validation, SETTINGS, resumed, log=lines.append)
    assert any(line.startswith("resumed at step 1/3") for line in lines)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    assert all(bool((a[name] == b[name]).all()) for name in a)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A one-step checkpoint and its int8 ONNX export."""
    root = tmp_path_factory.mktemp("export")
    best = train(PAIRS, PAIRS[:3], SETTINGS, root / "run", max_steps=1, log=lambda _: None)
    return best, export_model(best, root / "export")


def test_the_exported_onnx_model_matches_the_fp32_checkpoint(exported: tuple[Path, Path]) -> None:
    best, model_dir = exported
    assert sorted(path.name for path in model_dir.glob("*.onnx")) == ["model.onnx"]
    assert not list(model_dir.glob("*.safetensors"))  # only the int8 graph ships
    shipped = cross_encoder_model(model_dir, device=None)
    assert isinstance(shipped, OnnxCrossEncoderModel)
    assert shipped.id2label() == {0: "entailment", 1: "neutral", 2: "contradiction"}
    # pairs of different lengths in one batch: padding and token types must match torch's
    pairs = [(pair.premise, pair.hypothesis) for pair in PAIRS] + [("A cat sat.", "A cat.")]
    rows = shipped.predict(pairs, batch_size=5)
    fp32 = CrossEncoderModel(best, device="cpu").predict(pairs, batch_size=5)
    assert all(abs(sum(row) - 1.0) < 1e-6 for row in rows)
    gaps = [abs(x - y) for a, b in zip(rows, fp32, strict=True) for x, y in zip(a, b, strict=True)]
    assert max(gaps) < 0.05
    # a pair's probabilities do not depend on the other pairs of the call
    assert shipped.predict(pairs[::-1], batch_size=5) == rows[::-1]
    assert shipped.predict(pairs[:1], batch_size=1) == rows[:1]


def test_an_onnx_model_refuses_a_non_cpu_device(exported: tuple[Path, Path]) -> None:
    _, model_dir = exported
    with pytest.raises(ValueError, match="CPU only"):
        cross_encoder_model(model_dir, device="cuda")


def test_a_continuation_starts_from_the_given_model(tmp_path: Path) -> None:
    """`init_from` loads a saved classifier instead of a fresh head."""
    torch: Any = importlib.import_module("torch")
    first = train(PAIRS, PAIRS[:3], SETTINGS, tmp_path / "one", max_steps=1, log=lambda _: None)
    settings = msgspec.structs.replace(SETTINGS, init_from=str(first), learning_rate=0.0)
    settings = msgspec.structs.replace(settings, head_learning_rate=0.0)
    train(PAIRS, PAIRS[:3], settings, tmp_path / "two", max_steps=1, log=lambda _: None)
    saved = torch.load(tmp_path / "one" / "last" / "trainer_state.pt", weights_only=False)
    weights = _weights(tmp_path / "two")
    # with a zero learning rate the continuation keeps the first run's classifier exactly
    assert bool((weights["classifier.weight"] == saved["model"]["classifier.weight"]).all())


def test_the_export_is_measured_on_onnxruntime_next_to_the_checkpoint(
    exported: tuple[Path, Path],
) -> None:
    best, model_dir = exported
    evaluation = evaluate_model(model_dir, PAIRS, threads=1, reference=best, shape_seed=3)
    assert evaluation.model_fingerprint == fingerprint(model_dir)
    shaped = shaped_pairs(PAIRS, seed=3)
    assert {name: score.pairs for name, score in evaluation.shapes.items()} == {
        name: len(pairs) for name, pairs in shaped.items()
    }
    assert evaluation.shapes["distractor"].pairs > len(PAIRS) // 2  # a self-draw is skipped
    assert evaluation.pairs == len(PAIRS)
    assert sum(evaluation.confusion[label][guess] for label in LABELS for guess in LABELS) == 12
    reference = evaluation.reference
    assert reference is not None
    assert 0.0 <= reference.label_agreement <= 1.0
    assert 0 < reference.shipped_bytes < reference.weights_bytes  # int8 is smaller than fp32
    record = calibration_record(evaluation)
    assert record.model_fingerprint == fingerprint(model_dir)
    assert record.validation_pairs == len(PAIRS)
    run = {"settings": {"seed": 13, "base_model": "x"}, "train_digest": "sha256:00"}
    card_for = functools.partial(render_card, train_counts={"snli": 12}, evaluation=evaluation)
    card = card_for(
        run=run,
        command="assurance nli train --qa-form 0.3",
        export_command="assurance nli export ckpt --qa-form 0.3",
        qa_form=0.3,
        distractor=0.25,
    )
    assert "a seeded 30.0 % of the pairs had their hypothesis" in card
    assert "a seeded 25.0 % of the pairs had the premise of" in card
    assert f"| distractor | {evaluation.shapes['distractor'].pairs} |" in card
    assert "| **total** | | **12** |" in card
    assert "assurance nli export ckpt --qa-form 0.3" in card
    plain = card_for(run=run, command="c", export_command="e")
    assert "proxy.nli.qa_form" not in plain
    assert "proxy.nli.distractor" not in plain
    assert "distilled" not in plain
    distilled = {
        "settings": {"seed": 13, "base_model": "x", "teacher": "t/model", "distill_weight": 0.5},
        "train_digest": "sha256:00",
        "teacher_fingerprint": "sha256:11",
    }
    card = card_for(run=distilled, command="c", export_command="e")
    assert "The last run was distilled (`proxy.nli.distill`): 0.5 of its loss was" in card
    assert "Teacher `t/model`,\nfingerprint `sha256:11`" in card
    bare = msgspec.structs.replace(evaluation, shapes={})
    assert "| shape |" not in card_for(run=run, evaluation=bare, command="c", export_command="e")
