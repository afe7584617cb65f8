"""`cross_encoder` NLI: a local cross-encoder NLI model.

The model is loaded once (by the factory) from `[oracles.nli].model_path`, offline: a directory
with `model.onnx` (the shipped int8 model) runs on onnxruntime, any other on
`sentence_transformers.CrossEncoder`. Output columns
are named by the model config's `id2label`, mapped case-insensitively through `[oracles.nli].labels`
(which extends the defaults); every column must map and one must be `entailment`, checked at load
time. Probabilities are the softmax of the logits. All pairs of a request go through one `predict`
call (batched by `batch_size`) in a worker thread. A timeout stops waiting, not the worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oracles.embedded import EMBEDDED_NLI_DIR, EMBEDDED_NLI_NAME, read_calibration
from oracles.errors import OracleConfigError, OracleOutputError
from oracles.models import cross_encoder_model, fingerprint
from oracles.nli_common import (
    MODEL_SUM_TOLERANCE,
    LabelMap,
    PairJudge,
    PairScores,
    scores_from_labels,
)
from oracles.types import Aggregation, CalibrationClaim


def _model_name(path: Path) -> str:
    return EMBEDDED_NLI_NAME if path.resolve() == EMBEDDED_NLI_DIR / "model" else path.name


class CrossEncoderJudge(PairJudge):
    """NLI by a local cross-encoder (`kind = "cross_encoder"`, `model_path`, `labels`)."""

    adapter = "cross_encoder"

    def __init__(
        self,
        *,
        model_path: str,
        model: str | None,
        labels: Mapping[str, str],
        aggregation: Aggregation,
        timeout_s: float,
        batch_size: int = 32,
        device: str | None = None,
    ) -> None:
        super().__init__(aggregation=aggregation, timeout_s=timeout_s)
        path = Path(model_path)
        try:
            self.model_version = fingerprint(path)
            # the model's identity is its weights: name@fingerprint (calibration records bind to it)
            self.model = f"{model or _model_name(path)}@{self.model_version}"
            self._model = cross_encoder_model(path, device=device)
            record = read_calibration(path, self.model_version)
        except (OSError, ValueError) as exc:
            raise OracleConfigError(
                self.oracle, f"cannot load a cross-encoder from model_path={model_path!r}: {exc}"
            ) from exc
        if record is not None:
            self.calibration = CalibrationClaim(
                model_fingerprint=record.model_fingerprint,
                validation_digest=record.validation_digest,
                validation_pairs=record.validation_pairs,
                expected_calibration_error=f"{record.expected_calibration_error:.6f}",
                bins=record.bins,
            )
        self._labels = LabelMap(self.oracle, labels)
        self.columns = self._column_labels(self._model.id2label())
        self._batch_size = batch_size

    def _column_labels(self, id2label: dict[int, str]) -> list[str]:
        if sorted(id2label) != list(range(len(id2label))):
            raise OracleConfigError(
                self.oracle, f"expected id2label keys 0..n-1, got {sorted(id2label)}"
            )
        names = [id2label[index] for index in range(len(id2label))]
        unmapped = [name for name in names if self._labels.canonical(name) is None]
        if unmapped:
            raise OracleConfigError(
                self.oracle,
                f"expected every model label to map to entailment|contradiction|neutral, got "
                f"unmapped {unmapped}; set [oracles.nli].labels",
            )
        if not any(self._labels.canonical(name) == "entailment" for name in names):
            raise OracleConfigError(
                self.oracle, f"expected a label mapped to entailment, got model labels {names}"
            )
        return names

    async def _score_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        rows = await asyncio.to_thread(self._model.predict, pairs, batch_size=self._batch_size)
        if len(rows) != len(pairs) or any(len(row) != len(self.columns) for row in rows):
            raise OracleOutputError(
                self.oracle, f"expected {len(pairs)} rows of {len(self.columns)} probabilities"
            )
        scores = [
            scores_from_labels(
                self._labels,
                list(zip(self.columns, row, strict=True)),
                f"pair {index}",
                MODEL_SUM_TOLERANCE,
            )
            for index, row in enumerate(rows)
        ]
        return scores, rows
