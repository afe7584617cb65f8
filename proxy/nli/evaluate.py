"""Measuring an NLI cross-encoder on the validation split, and packaging the shipped fp16 model.

`evaluate_model` reports 3-class accuracy overall, per source and per gold label, the confusion
matrix, the expected calibration error (ECE: 15 equal-width bins over the arg-max probability, the
gap |accuracy - confidence| weighted by bin size) and CPU latency (single pair median, and pairs/s
in batches of 32). `export_model` writes the checkpoint as fp16 safetensors (the form the product
ships) together with its calibration record: the ECE measured on the exported weights, the model
directory's fingerprint and the validation data digest it was measured on.
"""

from __future__ import annotations

import importlib
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from oracles.embedded import CalibrationRecord
from oracles.models import fingerprint
from proxy.nli.data import LABELS, Pair, pairs_digest
from proxy.nli.train import accuracy, predict_probabilities

ECE_BINS = 15


class SourceScore(msgspec.Struct, frozen=True):
    """Accuracy on one slice of the validation split."""

    pairs: int
    accuracy: float


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    """What the model card reports, all measured on the validation split."""

    model_fingerprint: str
    validation_digest: str
    pairs: int
    accuracy: float
    per_source: dict[str, SourceScore]
    per_label: dict[str, SourceScore]
    confusion: dict[str, dict[str, int]]
    expected_calibration_error: float
    single_pair_ms_median: float
    batch32_pairs_per_s: float
    threads: int
    machine: str


def expected_calibration_error(
    rows: Sequence[Sequence[float]], pairs: Sequence[Pair], bins: int = ECE_BINS
) -> float:
    """ECE over the arg-max confidence in `bins` equal-width bins (bin i holds (i/b, (i+1)/b])."""
    totals = [[0, 0.0, 0.0] for _ in range(bins)]  # count, hits, confidence sum
    for row, pair in zip(rows, pairs, strict=True):
        guess = max(range(len(row)), key=row.__getitem__)
        confidence = row[guess]
        index = min(bins - 1, max(0, int(confidence * bins - 1e-12)))
        totals[index][0] += 1
        totals[index][1] += guess == pair.label
        totals[index][2] += confidence
    count = len(pairs)
    return sum(abs(hits - conf) / count for n, hits, conf in totals if n) if count else 0.0


def _slices(
    rows: Sequence[Sequence[float]], pairs: Sequence[Pair], key: Any
) -> dict[str, SourceScore]:
    groups: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(key(pair), []).append(index)
    return {
        name: SourceScore(
            pairs=len(indices),
            accuracy=accuracy([rows[i] for i in indices], [pairs[i] for i in indices]),
        )
        for name, indices in sorted(groups.items())
    }


def load_model(path: Path, threads: int) -> tuple[Any, Any]:
    """Tokenizer and fp32 model from a saved directory (offline)."""
    torch: Any = importlib.import_module("torch")
    transformers: Any = importlib.import_module("transformers")
    torch.set_num_threads(threads)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(path), local_files_only=True, torch_dtype=torch.float32
    )
    return tokenizer, model


def _latency(
    model: Any, tokenizer: Any, pairs: Sequence[Pair], max_length: int
) -> tuple[float, float]:
    sample = list(pairs[:32])
    singles = []
    for pair in sample[:20]:
        started = time.perf_counter()
        predict_probabilities(model, tokenizer, [pair], max_length=max_length)
        singles.append((time.perf_counter() - started) * 1000)
    batch = list(pairs[: 32 * 8])
    started = time.perf_counter()
    predict_probabilities(model, tokenizer, batch, max_length=max_length, batch_size=32)
    return statistics.median(singles), len(batch) / (time.perf_counter() - started)


def evaluate_model(
    path: Path, pairs: Sequence[Pair], *, max_length: int = 128, threads: int = 2
) -> Evaluation:
    """Measure the model saved at `path` on `pairs` (see the module docstring)."""
    tokenizer, model = load_model(path, threads)
    rows = predict_probabilities(model, tokenizer, pairs, max_length=max_length)
    confusion = {gold: dict.fromkeys(LABELS, 0) for gold in LABELS}
    for row, pair in zip(rows, pairs, strict=True):
        confusion[LABELS[pair.label]][LABELS[max(range(len(row)), key=row.__getitem__)]] += 1
    single_ms, per_s = _latency(model, tokenizer, pairs, max_length)
    return Evaluation(
        model_fingerprint=fingerprint(path),
        validation_digest=pairs_digest(list(pairs)),
        pairs=len(pairs),
        accuracy=accuracy(rows, pairs),
        per_source=_slices(rows, pairs, lambda pair: pair.source),
        per_label=_slices(rows, pairs, lambda pair: LABELS[pair.label]),
        confusion=confusion,
        expected_calibration_error=expected_calibration_error(rows, pairs),
        single_pair_ms_median=single_ms,
        batch32_pairs_per_s=per_s,
        threads=threads,
        machine=f"{platform.machine()}, {platform.processor() or 'cpu'}, {threads} threads",
    )


def export_model(checkpoint: Path, out: Path) -> Path:
    """Write `checkpoint` as fp16 safetensors plus tokenizer into `out/model` (replacing it)."""
    torch: Any = importlib.import_module("torch")
    transformers: Any = importlib.import_module("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(checkpoint), local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(checkpoint), local_files_only=True, torch_dtype=torch.float32
    )
    target = out / "model"
    if target.exists():
        for file in sorted(target.rglob("*"), reverse=True):
            file.unlink() if file.is_file() else file.rmdir()
    model.half().save_pretrained(str(target), safe_serialization=True)
    tokenizer.save_pretrained(str(target))
    return target


def calibration_record(evaluation: Evaluation) -> CalibrationRecord:
    """The record the judge attaches to its judgments (the model card's ECE claim)."""
    return CalibrationRecord(
        model_fingerprint=evaluation.model_fingerprint,
        validation_digest=evaluation.validation_digest,
        validation_pairs=evaluation.pairs,
        expected_calibration_error=round(evaluation.expected_calibration_error, 6),
        bins=ECE_BINS,
    )
