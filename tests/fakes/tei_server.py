"""A fake Text Embeddings Inference server (`/predict`, `/embed`, `GET /info`) bound to 127.0.0.1:0.

Deterministic answers: `/predict` scores each (premise, hypothesis) pair with `predict_fn` (default:
ENTAILMENT when every hypothesis word occurs in the premise, CONTRADICTION when the hypothesis says
"not" and the premise does not or vice versa, else NEUTRAL, upper-case labels like many NLI models);
`/embed` returns hash-derived vectors of dimension `dim`. Every call is recorded (route and JSON
body), an injectable delay is slept per call, and the peak number of calls in flight is tracked so
tests can assert that a request's batches ran in one concurrent round. `status` forces an error
status (`error_body` sets its body). `GET /info` answers `{"model_id": model_id, "model_sha":
model_sha, ...}` like TEI (404 when `model_id` is None). It is not a model: use it for wire
format, batching, concurrency and failure handling only.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any, Self

import msgspec
from aiohttp import web

Prediction = list[dict[str, Any]]
PredictFn = Callable[[str, str], Prediction]


def default_predict(premise: str, hypothesis: str) -> Prediction:
    """Deterministic three-way label scores for one pair (a probability distribution)."""
    premise_words = set(premise.lower().split())
    hypothesis_words = set(hypothesis.lower().split())
    if ("not" in premise_words) != ("not" in hypothesis_words) and hypothesis_words - {"not"} <= (
        premise_words | {"not"}
    ):
        scores = {"CONTRADICTION": 0.9, "ENTAILMENT": 0.04, "NEUTRAL": 0.06}
    elif hypothesis_words <= premise_words:
        scores = {"ENTAILMENT": 0.92, "CONTRADICTION": 0.03, "NEUTRAL": 0.05}
    else:
        scores = {"NEUTRAL": 0.8, "ENTAILMENT": 0.1, "CONTRADICTION": 0.1}
    return [{"label": label, "score": score} for label, score in scores.items()]


def hash_vector(text: str, dim: int) -> list[float]:
    """A deterministic, non-normalized vector for `text`."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % len(digest)] - 127.5) / 64.0 for i in range(dim)]


class FakeTEIServer:
    """`async with FakeTEIServer(delay_s=0.02) as tei: tei.url` — a TEI stand-in for tests."""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        predict_fn: PredictFn = default_predict,
        dim: int = 8,
        status: int = 200,
        error_body: str | None = None,
        model_id: str | None = "fake/nli-model",
        model_sha: str | None = "0123abcd",
    ) -> None:
        self.delay_s = delay_s
        self.predict_fn = predict_fn
        self.dim = dim
        self.status = status
        # the body of a forced failure; "{inputs}" is replaced by the request's inputs (as TEI
        # echoes them in some errors), to check they never reach a card
        self.error_body = error_body
        self.model_id = model_id
        self.model_sha = model_sha
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def calls_to(self, route: str) -> list[dict[str, Any]]:
        """Recorded JSON bodies of calls to `route`."""
        return [body for recorded_route, body in self.calls if recorded_route == route]

    async def _handle(self, request: web.Request, route: str) -> web.Response:
        body: dict[str, Any] = msgspec.json.decode(await request.read())
        self.calls.append((route, body))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.status != 200 and self.error_body is not None:
            text = self.error_body.replace("{inputs}", repr(body.get("inputs")))
            return web.Response(text=text, status=self.status, content_type="application/json")
        if self.status != 200:
            return web.json_response(
                {"error": "forced failure", "error_type": "backend"}, status=self.status
            )
        if route == "/predict":
            result: Any = [
                self.predict_fn(premise, hypothesis) for premise, hypothesis in body["inputs"]
            ]
        else:
            result = [hash_vector(text, self.dim) for text in body["inputs"]]
        return web.json_response(result)

    async def _predict(self, request: web.Request) -> web.Response:
        return await self._handle(request, "/predict")

    async def _embed(self, request: web.Request) -> web.Response:
        return await self._handle(request, "/embed")

    async def _info(self, request: web.Request) -> web.Response:
        self.calls.append(("/info", {}))
        if self.model_id is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(
            {
                "model_id": self.model_id,
                "model_sha": self.model_sha,
                "model_dtype": "float32",
                "model_type": {"classifier": {"id2label": {}, "label2id": {}}},
                "version": "fake",
            }
        )

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/predict", self._predict)
        app.router.add_post("/embed", self._embed)
        app.router.add_get("/info", self._info)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
