"""`build_oracles`: the one place that turns `OraclesConfig` into adapter instances.

Local models (cross-encoder, sentence-transformers) are loaded here, once, at start-up.
Configuration that cannot be satisfied — a missing `model`, `url` or `model_path`, or an `upstream`
name that is not among the configured upstreams — raises `OracleConfigError` naming the oracle and
the key. The returned `OracleSet` owns every adapter's resources; `aclose()` releases them (HTTP
sessions). No request-time work happens here. Building the `lexical` NLI heuristic logs a WARNING
(logger `oracles.factory`): SPEC 4 says it is never for real use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import msgspec

from oracles.config import (
    DecomposerConfig,
    EmbedderConfig,
    NLIConfig,
    OraclesConfig,
    ParaphraserConfig,
)
from oracles.decomposers import LLMDecomposer, SentenceDecomposer
from oracles.embedded import embedded_nli_model_path
from oracles.embedders import OpenAIEmbedder, SentenceTransformerEmbedder, TEIEmbedder
from oracles.errors import OracleConfigError
from oracles.nli_common import PairJudge
from oracles.nli_cross_encoder import CrossEncoderJudge
from oracles.nli_lexical import LexicalJudge
from oracles.nli_llm import LLMJudge
from oracles.nli_prefilter import EmbeddingPrefilter
from oracles.nli_tei import TEIJudge
from oracles.paraphrasers import LLMParaphraser, RulesParaphraser
from oracles.protocols import (
    ChatClient,
    Decomposer,
    Embedder,
    EmbeddingsClient,
    NLIJudge,
    Paraphraser,
)

_LOG = logging.getLogger(__name__)


class _Closeable(Protocol):
    async def aclose(self) -> None: ...


class OracleSet(msgspec.Struct, frozen=True, kw_only=True):
    """The configured oracles; `embedder` is None when `[oracles.embedder] kind = "none"`."""

    decomposer: Decomposer
    nli: NLIJudge
    paraphraser: Paraphraser
    embedder: Embedder | None
    fallback_decomposer: Decomposer = msgspec.field(default_factory=SentenceDecomposer)

    async def aclose(self) -> None:
        """Release HTTP sessions held by adapters (idempotent)."""
        for oracle in (self.decomposer, self.nli, self.paraphraser, self.embedder):
            close = getattr(oracle, "aclose", None)
            if close is not None:
                await close()


def _need(oracle: str, value: str | None, key: str, kind: str) -> str:
    if not value:
        raise OracleConfigError(oracle, f"expected [{oracle}].{key} for kind = {kind!r}, got none")
    return value


def _chat(
    oracle: str, upstream: str | None, kind: str, clients: Mapping[str, ChatClient]
) -> ChatClient:
    name = _need(oracle, upstream, "upstream", kind)
    if name not in clients:
        raise OracleConfigError(
            oracle,
            f"expected upstream to name a configured upstream {sorted(clients)}, got {name!r}",
        )
    return clients[name]


def _decomposer(cfg: DecomposerConfig, chat: Mapping[str, ChatClient]) -> Decomposer:
    where = "oracles.decomposer"
    if cfg.kind == "sentences":
        return SentenceDecomposer()
    client = _chat(where, cfg.upstream, cfg.kind, chat)
    model = _need(where, cfg.model, "model", cfg.kind)
    return LLMDecomposer(client, model=model, upstream=str(cfg.upstream), timeout_s=cfg.timeout_s)


def _nli(cfg: NLIConfig, chat: Mapping[str, ChatClient]) -> NLIJudge:
    judge = _nli_judge(cfg, chat)
    if cfg.aggregation in ("per_chunk", "joint") and cfg.top_k > 0:
        try:
            judge.prefilter = EmbeddingPrefilter(cfg.top_k, device=cfg.device)
        except (OSError, ValueError) as exc:
            raise OracleConfigError(
                "nli", f"cannot load the top_k pre-filter's embedding model: {exc}"
            ) from exc
    return judge


def _nli_judge(cfg: NLIConfig, chat: Mapping[str, ChatClient]) -> PairJudge:
    where = "oracles.nli"
    match cfg.kind:
        case "lexical":
            _LOG.warning(
                "[oracles.nli] kind = 'lexical' is a token-overlap HEURISTIC, not an NLI model; "
                "configure llm, tei or cross_encoder for real use"
            )
            return LexicalJudge(aggregation=cfg.aggregation, timeout_s=cfg.timeout_s)
        case "llm":
            client = _chat(where, cfg.upstream, cfg.kind, chat)
            return LLMJudge(
                client,
                model=_need(where, cfg.model, "model", cfg.kind),
                upstream=str(cfg.upstream),
                aggregation=cfg.aggregation,
                timeout_s=cfg.timeout_s,
                max_concurrency=cfg.max_concurrency,
            )
        case "tei":
            return TEIJudge(
                url=_need(where, cfg.url, "url", cfg.kind),
                model=cfg.model,
                labels=cfg.labels,
                aggregation=cfg.aggregation,
                timeout_s=cfg.timeout_s,
                batch_size=cfg.batch_size,
            )
        case "cross_encoder":
            return CrossEncoderJudge(
                model_path=cfg.model_path or str(_embedded_model(where)),
                model=cfg.model,
                labels=cfg.labels,
                aggregation=cfg.aggregation,
                timeout_s=cfg.timeout_s,
                batch_size=cfg.batch_size,
                device=cfg.device,
            )


def _embedded_model(where: str) -> Path:
    try:
        return embedded_nli_model_path()
    except FileNotFoundError as exc:
        raise OracleConfigError("nli", f"{exc}; set model_path - at [{where}]") from exc


def _paraphraser(cfg: ParaphraserConfig, chat: Mapping[str, ChatClient]) -> Paraphraser:
    where = "oracles.paraphraser"
    if cfg.kind == "rules":
        return RulesParaphraser()
    client = _chat(where, cfg.upstream, cfg.kind, chat)
    model = _need(where, cfg.model, "model", cfg.kind)
    return LLMParaphraser(client, model=model, upstream=str(cfg.upstream), timeout_s=cfg.timeout_s)


def _embedder(
    cfg: EmbedderConfig,
    chat: Mapping[str, ChatClient],
    embeddings: Mapping[str, EmbeddingsClient],
) -> Embedder | None:
    where = "oracles.embedder"
    match cfg.kind:
        case "none":
            return None
        case "sentence_transformers":
            return SentenceTransformerEmbedder(
                model=cfg.model,
                timeout_s=cfg.timeout_s,
                batch_size=cfg.batch_size,
                device=cfg.device,
            )
        case "tei":
            return TEIEmbedder(
                url=_need(where, cfg.url, "url", cfg.kind),
                model=cfg.model,
                timeout_s=cfg.timeout_s,
                batch_size=cfg.batch_size,
            )
        case "openai":
            name = _need(where, cfg.upstream, "upstream", cfg.kind)
            candidate: object = embeddings.get(name) or chat.get(name)
            if not isinstance(candidate, EmbeddingsClient):
                known = sorted(
                    set(embeddings)
                    | {n for n, c in chat.items() if isinstance(c, EmbeddingsClient)}
                )
                raise OracleConfigError(
                    where,
                    f"expected upstream to name an upstream with /v1/embeddings {known}, "
                    f"got {name!r}",
                )
            return OpenAIEmbedder(
                candidate,
                model=_need(where, cfg.model, "model", cfg.kind),
                upstream=name,
                timeout_s=cfg.timeout_s,
            )


def build_oracles(
    config: OraclesConfig,
    chat_clients: Mapping[str, ChatClient],
    *,
    embeddings_clients: Mapping[str, EmbeddingsClient] | None = None,
) -> OracleSet:
    """Instantiate (and load) every configured oracle; raises `OracleConfigError` on bad config."""
    return OracleSet(
        decomposer=_decomposer(config.decomposer, chat_clients),
        nli=_nli(config.nli, chat_clients),
        paraphraser=_paraphraser(config.paraphraser, chat_clients),
        embedder=_embedder(config.embedder, chat_clients, embeddings_clients or {}),
    )
