"""Measuring an NLI cross-encoder on the validation split, on the runtime the proxy runs it with.

`evaluate_model` reports 3-class accuracy overall, per source and per gold label, the confusion
matrix, the expected calibration error (ECE: 15 equal-width bins over the arg-max probability, the
gap |accuracy - confidence| weighted by bin size) and CPU latency (single pair median, and pairs/s
in batches of 32), all through `oracles.models` (onnxruntime for the shipped int8 ONNX model), so
the figures are the product's. `calibration_record` is what the judge attaches: the ECE measured
on the exported model, the model directory's fingerprint and the validation data digest.

`shapes` measures the same pairs in the two shapes the proxy judges that plain NLI data rarely has:
`qa_form` (the pairs a `proxy.nli.qa_form` rule applies to, as "question + short answer") and
`distractor` (each pair's premise joined with another validation pair's, as the proxy joins
chunks; `proxy.nli.distractor`). Both are seeded rewrites of the validation split, so they measure
the judge's behaviour on those shapes without any QA benchmark's data.
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
from oracles.models import (
    ONNX_MODEL_FILE,
    CrossEncoderModel,
    OnnxCrossEncoderModel,
    fingerprint,
)
from proxy.nli.data import LABELS, Pair, pairs_digest
from proxy.nli.distractor import with_distractors
from proxy.nli.qa_form import with_qa_forms
from proxy.nli.train import accuracy

ECE_BINS = 15


class SourceScore(msgspec.Struct, frozen=True):
    """Accuracy on one slice of the validation split."""

    pairs: int
    accuracy: float


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """The fp32 torch checkpoint the shipped model was exported from, on the same pairs."""

    accuracy: float
    expected_calibration_error: float
    single_pair_ms_median: float
    batch32_pairs_per_s: float
    #: fraction of pairs where the shipped model's arg-max label equals the checkpoint's
    label_agreement: float
    max_probability_difference: float
    weights_bytes: int
    shipped_bytes: int


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
    reference: Reference | None = None
    #: accuracy on the validation pairs rewritten into the proxy's shapes (module docstring)
    shapes: dict[str, SourceScore] = msgspec.field(default_factory=dict)


def _argmax(row: Sequence[float]) -> int:
    return max(range(len(row)), key=row.__getitem__)


def _bytes(path: Path, pattern: str) -> int:
    return sum(file.stat().st_size for file in path.glob(pattern) if file.is_file())


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


def load_runtime(
    path: Path, threads: int, *, max_length: int | None = None
) -> CrossEncoderModel | OnnxCrossEncoderModel:
    """The model at `path` on the runtime the proxy uses for it (onnxruntime for `model.onnx`);
    with `max_length`, pairs are cut to that many tokens instead of the model's own limit."""
    torch: Any = importlib.import_module("torch")
    torch.set_num_threads(threads)
    if (path / ONNX_MODEL_FILE).is_file():
        return OnnxCrossEncoderModel(path, threads=threads, max_length=max_length)
    return CrossEncoderModel(path, device="cpu", max_length=max_length)


def _texts(pairs: Sequence[Pair]) -> list[tuple[str, str]]:
    return [(pair.premise, pair.hypothesis) for pair in pairs]


def _latency(
    model: CrossEncoderModel | OnnxCrossEncoderModel, pairs: Sequence[Pair]
) -> tuple[float, float]:
    singles = []
    for pair in _texts(pairs[:20]):
        started = time.perf_counter()
        model.predict([pair], batch_size=1)
        singles.append((time.perf_counter() - started) * 1000)
    batch = _texts(pairs[: 32 * 8])
    started = time.perf_counter()
    model.predict(batch, batch_size=32)
    return statistics.median(singles), len(batch) / (time.perf_counter() - started)


def _reference(
    checkpoint: Path,
    shipped: Path,
    rows: Sequence[Sequence[float]],
    pairs: Sequence[Pair],
    threads: int,
) -> Reference:
    model = load_runtime(checkpoint, threads)
    fp32 = model.predict(_texts(pairs), batch_size=32)
    single_ms, per_s = _latency(model, pairs)
    return Reference(
        accuracy=accuracy(fp32, pairs),
        expected_calibration_error=expected_calibration_error(fp32, pairs),
        single_pair_ms_median=single_ms,
        batch32_pairs_per_s=per_s,
        label_agreement=sum(_argmax(a) == _argmax(b) for a, b in zip(rows, fp32, strict=True))
        / max(1, len(pairs)),
        max_probability_difference=max(
            (
                abs(x - y)
                for a, b in zip(rows, fp32, strict=True)
                for x, y in zip(a, b, strict=True)
            ),
            default=0.0,
        ),
        weights_bytes=_bytes(checkpoint, "*.safetensors"),
        shipped_bytes=_bytes(shipped, "*.onnx"),
    )


def shaped_pairs(pairs: Sequence[Pair], *, seed: int) -> dict[str, list[Pair]]:
    """The validation pairs a seeded rewrite changed, per shape (`qa_form`, `distractor`)."""
    shapes = {
        "qa_form": with_qa_forms(pairs, 1.0, seed=seed),
        "distractor": with_distractors(pairs, 1.0, seed=seed),
    }
    return {
        name: [after for before, after in zip(pairs, out, strict=True) if after != before]
        for name, out in shapes.items()
    }


def _shape_scores(
    model: CrossEncoderModel | OnnxCrossEncoderModel, pairs: Sequence[Pair], seed: int
) -> dict[str, SourceScore]:
    scores = {}
    for name, shaped in shaped_pairs(pairs, seed=seed).items():
        rows = model.predict(_texts(shaped), batch_size=32)
        scores[name] = SourceScore(pairs=len(shaped), accuracy=accuracy(rows, shaped))
    return scores


def evaluate_model(
    path: Path,
    pairs: Sequence[Pair],
    *,
    threads: int = 2,
    reference: Path | None = None,
    shape_seed: int | None = None,
) -> Evaluation:
    """Measure the model saved at `path` on `pairs` (see the module docstring).

    With `reference` (the checkpoint it was exported from), the checkpoint is measured on the
    same pairs with torch fp32 too, and the two runtimes compared. With `shape_seed`, the pairs
    are also measured in the proxy's shapes (`shaped_pairs`).
    """
    model = load_runtime(path, threads)
    rows = model.predict(_texts(pairs), batch_size=32)
    confusion = {gold: dict.fromkeys(LABELS, 0) for gold in LABELS}
    for row, pair in zip(rows, pairs, strict=True):
        confusion[LABELS[pair.label]][LABELS[_argmax(row)]] += 1
    single_ms, per_s = _latency(model, pairs)
    compared = None if reference is None else _reference(reference, path, rows, pairs, threads)
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
        reference=compared,
        shapes={} if shape_seed is None else _shape_scores(model, pairs, shape_seed),
    )


def calibration_record(evaluation: Evaluation) -> CalibrationRecord:
    """The record the judge attaches to its judgments (the model card's ECE claim)."""
    return CalibrationRecord(
        model_fingerprint=evaluation.model_fingerprint,
        validation_digest=evaluation.validation_digest,
        validation_pairs=evaluation.pairs,
        expected_calibration_error=round(evaluation.expected_calibration_error, 6),
        bins=ECE_BINS,
    )
