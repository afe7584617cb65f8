"""`tei` NLI: a Text Embeddings Inference server's `POST /predict` with a cross-encoder NLI model.

Request `{"inputs": [[premise, hypothesis], ...], "raw_scores": false, "truncate": true}`; answer:
one list of `{"label", "score"}` per pair. Labels are mapped case-insensitively
(`[oracles.nli].labels` extends the defaults) and must form a probability distribution. Pairs are
sent in batches of `batch_size`, all batches of one request concurrently (one round; the first
failed batch cancels the others). The model is what the server says it serves: `GET /info`'s
`model_id` (read once, before the first judgment) becomes `model`, and url + `model_sha` the
`model_version` (a configured `model` name is kept there as `configured=`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oracles.calls import gather_all
from oracles.errors import OracleOutputError
from oracles.nli_common import (
    MODEL_SUM_TOLERANCE,
    LabelMap,
    PairJudge,
    PairScores,
    scores_from_labels,
)
from oracles.tei import PredictResponse, TEIClient
from oracles.types import Aggregation


class TEIJudge(PairJudge):
    """NLI through a TEI server (`[oracles.nli] kind = "tei"`, `url`, `labels`, `batch_size`)."""

    adapter = "tei"

    def __init__(
        self,
        *,
        url: str,
        model: str | None,
        labels: Mapping[str, str],
        aggregation: Aggregation,
        timeout_s: float,
        batch_size: int = 32,
    ) -> None:
        super().__init__(aggregation=aggregation, timeout_s=timeout_s)
        self._configured_model = model
        self.model = model or "tei"
        self.model_version = f"url={url.rstrip('/')}"
        self._labels = LabelMap(self.oracle, labels)
        self._client = TEIClient(url, oracle=self.oracle)
        self._batch_size = batch_size

    async def prepare(self) -> None:
        """Read the served model's id from `GET /info` (once)."""
        self.model, self.model_version = await self._client.identity(self._configured_model)

    async def _predict(self, batch: list[tuple[str, str]]) -> PredictResponse:
        payload = {"inputs": [list(pair) for pair in batch], "raw_scores": False, "truncate": True}
        response = await self._client.post("/predict", payload, PredictResponse)
        if len(response) != len(batch):
            raise OracleOutputError(
                self.oracle, f"expected {len(batch)} predictions from /predict, got {len(response)}"
            )
        return response

    async def _score_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[PairScores], Any]:
        size = self._batch_size
        batches = [pairs[i : i + size] for i in range(0, len(pairs), size)]
        responses = await gather_all(self._predict(batch) for batch in batches)
        predictions = [prediction for response in responses for prediction in response]
        scores = [
            scores_from_labels(
                self._labels,
                [(item.label, item.score) for item in prediction],
                f"/predict pair {index}",
                MODEL_SUM_TOLERANCE,
            )
            for index, prediction in enumerate(predictions)
        ]
        raw = [[{"label": item.label, "score": item.score} for item in p] for p in predictions]
        return scores, raw

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._client.aclose()
