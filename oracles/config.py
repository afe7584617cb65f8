"""Configuration of the oracle adapters (`[oracles.*]` tables of the proxy's TOML config).

Parsed once at start-up into frozen Structs; the proxy embeds `OraclesConfig` in its own config.
"""

from __future__ import annotations

from typing import Literal

import msgspec


def _check_limits(table: str, timeout_s: float, **counts: int) -> None:
    """Reject non-positive timeouts and counts (msgspec reports this as a ValidationError)."""
    if not timeout_s > 0:
        raise ValueError(f"Expected timeout_s > 0, got {timeout_s!r} - at [{table}]")
    for key, value in counts.items():
        if value < 1:
            raise ValueError(f"Expected {key} >= 1, got {value!r} - at [{table}]")


class DecomposerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.decomposer]`: answer -> atomic claims."""

    kind: Literal["llm", "sentences"] = "sentences"
    model: str | None = None
    upstream: str | None = None
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        _check_limits("oracles.decomposer", self.timeout_s)


class NLIConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.nli]`: (claim, evidence) -> signed support."""

    # default: the embedded cross-encoder shipped in the package (`oracles.embedded`)
    kind: Literal["llm", "cross_encoder", "tei", "lexical"] = "cross_encoder"
    model: str | None = None
    upstream: str | None = None
    url: str | None = None
    # cross_encoder weights; None = the embedded model
    model_path: str | None = None
    # model label (case-insensitive) -> one of "entailment", "contradiction", "neutral"
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    aggregation: Literal["concat", "per_chunk", "joint"] = "per_chunk"
    # per_chunk: judge each claim against its top_k chunks by MiniLM similarity (0 = every chunk);
    # joint: the same, plus one judgment against those chunks taken together (multi-hop claims)
    top_k: int = 3
    timeout_s: float = 30.0
    # pairs per TEI /predict request or cross-encoder batch (a request's batches run concurrently)
    batch_size: int = 32
    # most LLM judge calls in flight at once for one request; the default keeps one request's
    # claim x chunk pairs in a single round (SPEC 4); lower it only for upstream rate limits
    max_concurrency: int = 256
    # torch device for `cross_encoder` ("cpu", "cuda", ...); None lets sentence-transformers choose
    device: str | None = None

    def __post_init__(self) -> None:
        _check_limits(
            "oracles.nli",
            self.timeout_s,
            batch_size=self.batch_size,
            max_concurrency=self.max_concurrency,
        )
        if self.top_k < 0:
            raise ValueError(f"Expected top_k >= 0, got {self.top_k!r} - at [oracles.nli]")


class ParaphraserConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.paraphraser]`: text -> (G_inv, G_sig) variant families."""

    kind: Literal["rules", "llm"] = "rules"
    model: str | None = None
    upstream: str | None = None
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        _check_limits("oracles.paraphraser", self.timeout_s)


class EmbedderConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.embedder]`: texts -> unit vectors; `none` turns the stability layer off."""

    kind: Literal["sentence_transformers", "openai", "tei", "none"] = "none"
    model: str | None = None
    upstream: str | None = None
    url: str | None = None
    timeout_s: float = 30.0
    # texts per TEI /embed request or sentence-transformers batch
    batch_size: int = 32
    # torch device for `sentence_transformers`; None lets sentence-transformers choose
    device: str | None = None

    def __post_init__(self) -> None:
        _check_limits("oracles.embedder", self.timeout_s, batch_size=self.batch_size)


class OraclesConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """All `[oracles.*]` tables."""

    decomposer: DecomposerConfig = msgspec.field(default_factory=DecomposerConfig)
    nli: NLIConfig = msgspec.field(default_factory=NLIConfig)
    paraphraser: ParaphraserConfig = msgspec.field(default_factory=ParaphraserConfig)
    embedder: EmbedderConfig = msgspec.field(default_factory=EmbedderConfig)
