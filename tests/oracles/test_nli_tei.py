"""The TEI NLI adapter against the fake TEI server: wire format, labels, batching, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from oracles.errors import (
    OracleConfigError,
    OracleOutputError,
    OracleTimeoutError,
    OracleUnavailableError,
)
from oracles.nli_tei import TEIJudge
from oracles.types import Aggregation
from tests.fakes.tei_server import FakeTEIServer, Prediction


def _judge(
    tei: FakeTEIServer,
    *,
    aggregation: Aggregation = "per_chunk",
    labels: dict[str, str] | None = None,
    batch_size: int = 32,
    timeout_s: float = 5.0,
) -> TEIJudge:
    return TEIJudge(
        url=tei.url,
        model="nli-deberta",
        labels=labels or {},
        aggregation=aggregation,
        timeout_s=timeout_s,
        batch_size=batch_size,
    )


@pytest.fixture
async def tei() -> AsyncIterator[FakeTEIServer]:
    async with FakeTEIServer() as server:
        yield server


async def test_predict_request_and_case_insensitive_labels(tei: FakeTEIServer) -> None:
    """Pairs go as [premise, hypothesis]; upper-case labels map to entailment/contradiction."""
    judge = _judge(tei)
    try:
        result = await judge.judge(
            ["the cat sat", "the cat did not sit"], ["the cat sat on the mat"]
        )
    finally:
        await judge.aclose()
    assert tei.calls_to("/predict")[0]["inputs"] == [
        ["the cat sat on the mat", "the cat sat"],
        ["the cat sat on the mat", "the cat did not sit"],
    ]
    assert result.entail == [[0.92], [0.1]]
    assert result.contradict == [[0.03], [0.1]]


async def test_concat_joins_evidence_into_one_premise(tei: FakeTEIServer) -> None:
    """`concat` sends one pair per claim with all chunks joined."""
    judge = _judge(tei, aggregation="concat")
    try:
        result = await judge.judge(["cat sat"], ["the cat", "sat down"])
    finally:
        await judge.aclose()
    assert tei.calls_to("/predict")[0]["inputs"] == [["the cat\n\nsat down", "cat sat"]]
    assert result.entail == [[0.92]]


async def test_n_claims_by_m_chunks_run_in_one_concurrent_round() -> None:
    """6 claims x 5 chunks in batches of 8 make 4 /predict calls, all in flight at once."""
    async with FakeTEIServer(delay_s=0.05) as tei:
        judge = _judge(tei, batch_size=8)
        try:
            result = await judge.judge(
                [f"claim {i}" for i in range(6)], [f"chunk {j}" for j in range(5)]
            )
        finally:
            await judge.aclose()
        assert len(tei.calls_to("/predict")) == 4
        assert sum(len(body["inputs"]) for body in tei.calls_to("/predict")) == 30
        assert tei.peak_in_flight == 4
    assert [len(row) for row in result.entail] == [5] * 6


async def test_configured_labels_map_model_specific_names() -> None:
    """`labels` maps LABEL_0/1/2 style names case-insensitively."""

    def numbered(premise: str, hypothesis: str) -> Prediction:
        return [
            {"label": "LABEL_0", "score": 0.2},
            {"label": "LABEL_1", "score": 0.5},
            {"label": "LABEL_2", "score": 0.3},
        ]

    labels = {"label_0": "contradiction", "LABEL_1": "entailment", "Label_2": "neutral"}
    async with FakeTEIServer(predict_fn=numbered) as tei:
        judge = _judge(tei, labels=labels)
        try:
            result = await judge.judge(["h"], ["p"])
        finally:
            await judge.aclose()
    assert (result.entail, result.contradict) == ([[0.5]], [[0.2]])


async def test_unknown_label_is_an_output_error() -> None:
    """A label outside the map is rejected, naming the label."""

    def odd(premise: str, hypothesis: str) -> Prediction:
        return [{"label": "ENTAILMENT", "score": 0.5}, {"label": "MAYBE", "score": 0.5}]

    async with FakeTEIServer(predict_fn=odd) as tei:
        judge = _judge(tei)
        try:
            with pytest.raises(OracleOutputError, match="'MAYBE'"):
                await judge.judge(["h"], ["p"])
        finally:
            await judge.aclose()


async def test_scores_that_are_not_a_distribution_are_rejected() -> None:
    """Raw logits (not summing to 1) are an output error, not silently renormalized."""

    def logits(premise: str, hypothesis: str) -> Prediction:
        return [
            {"label": "entailment", "score": 0.9},
            {"label": "neutral", "score": 0.9},
            {"label": "contradiction", "score": 0.1},
        ]

    async with FakeTEIServer(predict_fn=logits) as tei:
        judge = _judge(tei)
        try:
            with pytest.raises(OracleOutputError, match="summing to 1"):
                await judge.judge(["h"], ["p"])
        finally:
            await judge.aclose()


async def test_server_error_is_unavailable() -> None:
    """A 503 from TEI becomes OracleUnavailableError with the status."""
    async with FakeTEIServer(status=503) as tei:
        judge = _judge(tei)
        try:
            with pytest.raises(OracleUnavailableError, match="got 503"):
                await judge.judge(["h"], ["p"])
        finally:
            await judge.aclose()


async def test_unreachable_server_is_unavailable() -> None:
    """A closed port becomes OracleUnavailableError, not a raw aiohttp error."""
    async with FakeTEIServer() as tei:
        url = tei.url
    judge = TEIJudge(url=url, model=None, labels={}, aggregation="concat", timeout_s=5.0)
    try:
        with pytest.raises(OracleUnavailableError, match="nli:tei"):
            await judge.judge(["h"], ["p"])
    finally:
        await judge.aclose()


async def test_slow_server_times_out_naming_the_oracle() -> None:
    """A /predict slower than timeout_s raises OracleTimeoutError."""
    async with FakeTEIServer(delay_s=0.5) as tei:
        judge = _judge(tei, timeout_s=0.05)
        try:
            with pytest.raises(OracleTimeoutError, match="nli:tei"):
                await judge.judge(["h"], ["p"])
        finally:
            await judge.aclose()


def test_label_map_targets_must_be_canonical() -> None:
    """A labels value other than entailment/contradiction/neutral is a config error."""
    with pytest.raises(OracleConfigError, match=r"labels\.LABEL_0"):
        TEIJudge(
            url="http://127.0.0.1:1",
            model=None,
            labels={"LABEL_0": "yes"},
            aggregation="concat",
            timeout_s=1.0,
        )


async def test_model_id_comes_from_the_servers_info_endpoint() -> None:
    """`GET /info`'s model_id is the judge's model and is recorded in the transcript digest."""
    async with (
        FakeTEIServer(model_id="org/nli-a", model_sha="aaa") as first,
        FakeTEIServer(model_id="org/nli-b", model_sha="bbb") as second,
    ):
        judge_a, judge_b = _judge(first), _judge(second)
        result_a = await judge_a.judge(["x"], ["x"])
        result_b = await judge_b.judge(["x"], ["x"])
        await judge_a.aclose()
        await judge_b.aclose()
    assert (result_a.model, result_b.model) == ("org/nli-a", "org/nli-b")
    assert f"url={first.url};model_sha=aaa" in judge_a.model_version
    assert "configured=nli-deberta" in judge_a.model_version
    assert result_a.entail == result_b.entail
    assert result_a.digest != result_b.digest
    assert len(first.calls_to("/info")) == 1


async def test_server_without_info_keeps_the_configured_name() -> None:
    """A TEI-compatible server answering 404 on /info is still usable, marked `info=absent`."""
    async with FakeTEIServer(model_id=None) as server:
        judge = _judge(server)
        result = await judge.judge(["x"], ["x"])
        await judge.aclose()
    assert result.model == "nli-deberta"
    assert "info=absent" in judge.model_version
