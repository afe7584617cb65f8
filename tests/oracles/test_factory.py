"""build_oracles: adapter selection, config errors, and resource cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest

import oracles.embedded
from oracles.config import (
    DecomposerConfig,
    EmbedderConfig,
    NLIConfig,
    OraclesConfig,
    ParaphraserConfig,
)
from oracles.decomposers import LLMDecomposer, SentenceDecomposer
from oracles.embedded import EMBEDDED_NLI_NAME, embedded_nli_model_path
from oracles.embedders import OpenAIEmbedder, TEIEmbedder
from oracles.errors import OracleConfigError
from oracles.factory import build_oracles
from oracles.models import fingerprint
from oracles.nli_cross_encoder import CrossEncoderJudge
from oracles.nli_lexical import LexicalJudge
from oracles.nli_llm import LLMJudge
from oracles.nli_tei import TEIJudge
from oracles.paraphrasers import LLMParaphraser, RulesParaphraser
from oracles.protocols import ChatClient
from tests.fakes.tei_server import FakeTEIServer
from tests.oracles.fake_chat import FakeChat, FakeEmbeddings


class ChatWithEmbeddings(FakeChat):
    """A chat client that also serves embeddings, like an OpenAI upstream."""

    async def embed(self, *, model: str, inputs: list[str]) -> list[list[float]]:
        """Constant unit vectors."""
        return [[1.0, 0.0] for _ in inputs]


def test_defaults_build_the_embedded_model_without_an_upstream() -> None:
    """The default config needs no upstream: sentences, the embedded cross-encoder judging each
    claim's top 3 chunks, rules, no embedder."""
    oracles = build_oracles(OraclesConfig(), {})
    assert isinstance(oracles.decomposer, SentenceDecomposer)
    assert isinstance(oracles.nli, CrossEncoderJudge)
    assert oracles.nli.model.startswith(EMBEDDED_NLI_NAME + "@sha256:")
    assert oracles.nli.model.endswith(fingerprint(embedded_nli_model_path()))
    assert (embedded_nli_model_path() / "model.onnx").is_file()  # the shipped int8 ONNX graph
    assert oracles.nli.calibration is not None  # its calibration record matches those weights
    assert oracles.nli.aggregation == "per_chunk"
    assert oracles.nli.prefilter is not None
    assert oracles.nli.prefilter.k == 3
    assert isinstance(oracles.paraphraser, RulesParaphraser)
    assert oracles.embedder is None


def test_lexical_stays_selectable() -> None:
    """`kind = "lexical"` still builds the heuristic."""
    oracles = build_oracles(OraclesConfig(nli=NLIConfig(kind="lexical", top_k=0)), {})
    assert isinstance(oracles.nli, LexicalJudge)
    assert oracles.nli.prefilter is None


def test_llm_oracles_use_the_named_upstream() -> None:
    """LLM adapters are bound to the configured upstream's client and model."""
    config = OraclesConfig(
        decomposer=DecomposerConfig(kind="llm", model="gpt-x", upstream="main"),
        nli=NLIConfig(kind="llm", model="gpt-x", upstream="main", aggregation="per_chunk"),
        paraphraser=ParaphraserConfig(kind="llm", model="gpt-x", upstream="main"),
        embedder=EmbedderConfig(kind="openai", model="emb", upstream="main"),
    )
    clients: dict[str, ChatClient] = {"main": ChatWithEmbeddings("{}")}
    oracles = build_oracles(config, clients)
    assert isinstance(oracles.decomposer, LLMDecomposer)
    assert isinstance(oracles.nli, LLMJudge)
    assert oracles.nli.aggregation == "per_chunk"
    assert isinstance(oracles.paraphraser, LLMParaphraser)
    assert isinstance(oracles.embedder, OpenAIEmbedder)


def test_unknown_upstream_name_is_a_clear_config_error() -> None:
    """An upstream not among the clients is refused, listing the known ones."""
    config = OraclesConfig(nli=NLIConfig(kind="llm", model="m", upstream="missing"))
    with pytest.raises(OracleConfigError, match=r"\['main'\], got 'missing'"):
        build_oracles(config, {"main": FakeChat("{}")})


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (OraclesConfig(decomposer=DecomposerConfig(kind="llm", upstream="main")), "model"),
        (OraclesConfig(nli=NLIConfig(kind="tei")), "url"),
        (OraclesConfig(embedder=EmbedderConfig(kind="openai", model="m")), "upstream"),
    ],
)
def test_missing_required_keys_are_config_errors(config: OraclesConfig, key: str) -> None:
    """Each adapter's required key is named when absent."""
    with pytest.raises(OracleConfigError, match=rf"\.{key} for kind"):
        build_oracles(config, {"main": FakeChat("{}")})


def test_a_missing_embedded_model_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without model_path and without the shipped weights, the error says so and names the key."""
    monkeypatch.setattr(oracles.embedded, "EMBEDDED_NLI_DIR", Path("/nonexistent/nli"))
    with pytest.raises(OracleConfigError, match="set model_path"):
        build_oracles(OraclesConfig(nli=NLIConfig(kind="cross_encoder", top_k=0)), {})


def test_openai_embedder_needs_an_embeddings_capable_upstream() -> None:
    """A chat-only upstream cannot serve /v1/embeddings."""
    config = OraclesConfig(embedder=EmbedderConfig(kind="openai", model="m", upstream="main"))
    with pytest.raises(OracleConfigError, match="/v1/embeddings"):
        build_oracles(config, {"main": FakeChat("{}")})


def test_explicit_embeddings_clients_are_used() -> None:
    """`embeddings_clients` supplies the embeddings client by upstream name."""
    config = OraclesConfig(embedder=EmbedderConfig(kind="openai", model="m", upstream="emb"))
    oracles = build_oracles(config, {}, embeddings_clients={"emb": FakeEmbeddings(lambda _: [1.0])})
    assert isinstance(oracles.embedder, OpenAIEmbedder)


async def test_tei_oracles_work_and_aclose_releases_sessions() -> None:
    """TEI NLI and embedder run against the fake server and aclose() closes their sessions."""
    async with FakeTEIServer() as tei:
        config = OraclesConfig(
            nli=NLIConfig(kind="tei", url=tei.url),
            embedder=EmbedderConfig(kind="tei", url=tei.url),
        )
        oracles = build_oracles(config, {})
        assert isinstance(oracles.nli, TEIJudge)
        assert isinstance(oracles.embedder, TEIEmbedder)
        judged = await oracles.nli.judge(["the cat"], ["the cat sat"])
        embedded = await oracles.embedder.embed(["x"])
        await oracles.aclose()
        await oracles.aclose()
    assert judged.entail == [[0.92]]
    assert embedded.dim == 8


def test_lexical_nli_logs_a_heuristic_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Building the lexical judge warns that it is a heuristic, not a model."""
    with caplog.at_level("WARNING", logger="oracles.factory"):
        build_oracles(OraclesConfig(nli=NLIConfig(kind="lexical")), {})
    assert any("HEURISTIC" in record.getMessage() for record in caplog.records)


def test_joint_aggregation_gets_the_top_k_prefilter_too() -> None:
    oracles = build_oracles(
        OraclesConfig(nli=NLIConfig(kind="lexical", aggregation="joint", top_k=2)), {}
    )
    assert isinstance(oracles.nli, LexicalJudge)
    assert oracles.nli.aggregation == "joint"
    assert oracles.nli.prefilter is not None
    assert oracles.nli.prefilter.k == 2
