"""Configuration of the oracle adapters (`[oracles.*]` tables of the proxy's TOML config).

Parsed once at start-up into frozen Structs; the proxy embeds `OraclesConfig` in its own config.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class DecomposerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.decomposer]`: answer -> atomic claims."""

    kind: Literal["llm", "sentences"] = "sentences"
    model: str | None = None
    upstream: str | None = None
    timeout_s: float = 30.0


class NLIConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.nli]`: (claim, evidence) -> signed support."""

    kind: Literal["llm", "cross_encoder", "tei", "lexical"] = "lexical"
    model: str | None = None
    upstream: str | None = None
    url: str | None = None
    model_path: str | None = None
    # model label (case-insensitive) -> one of "entailment", "contradiction", "neutral"
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    aggregation: Literal["concat", "per_chunk"] = "concat"
    timeout_s: float = 30.0


class ParaphraserConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.paraphraser]`: text -> (G_inv, G_sig) variant families."""

    kind: Literal["rules", "llm"] = "rules"
    model: str | None = None
    upstream: str | None = None
    timeout_s: float = 30.0


class EmbedderConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[oracles.embedder]`: texts -> unit vectors; `none` turns the stability layer off."""

    kind: Literal["sentence_transformers", "openai", "tei", "none"] = "none"
    model: str | None = None
    upstream: str | None = None
    url: str | None = None
    timeout_s: float = 30.0


class OraclesConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """All `[oracles.*]` tables."""

    decomposer: DecomposerConfig = msgspec.field(default_factory=DecomposerConfig)
    nli: NLIConfig = msgspec.field(default_factory=NLIConfig)
    paraphraser: ParaphraserConfig = msgspec.field(default_factory=ParaphraserConfig)
    embedder: EmbedderConfig = msgspec.field(default_factory=EmbedderConfig)
