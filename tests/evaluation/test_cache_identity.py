"""The eval cache never serves one server's / upstream's / model's outputs for another's."""

from __future__ import annotations

from pathlib import Path

from oracles.config import NLIConfig, OraclesConfig
from oracles.decomposers import SentenceDecomposer
from oracles.nli_tei import TEIJudge
from proxy.commands.evaluate import _oracle_settings
from proxy.evaluation.datasets import load_dataset
from proxy.evaluation.harness import HarnessSettings, evaluate
from proxy.evaluation.report import DatasetInfo, EvalReport
from proxy.evaluation.runner import EvalOracles
from tests.fakes.tei_server import FakeTEIServer, Prediction

FIXTURES = Path(__file__).parent / "fixtures"


def _always(label: str) -> Prediction:
    others = [name for name in ("ENTAILMENT", "CONTRADICTION", "NEUTRAL") if name != label]
    return [{"label": label, "score": 0.98}] + [{"label": o, "score": 0.01} for o in others]


async def _run(url: str, cache_dir: Path) -> EvalReport:
    cases = load_dataset("jsonl", path=FIXTURES / "cases.jsonl")
    config = OraclesConfig(nli=NLIConfig(kind="tei", url=url))
    judge = TEIJudge(
        url=url, model=None, labels={}, aggregation="concat", timeout_s=5.0, batch_size=32
    )
    settings = HarnessSettings(concurrency=4, oracle_settings=_oracle_settings(config))
    dataset = DatasetInfo(
        name="jsonl",
        source="fixture",
        limit=None,
        seed=0,
        cases=len(cases),
        grounded=4,
        unsupported=4,
        refusals_grounded=1,
        refusals_unsupported=1,
    )
    try:
        return await evaluate(
            cases,
            EvalOracles(decomposer=SentenceDecomposer(), nli=judge),
            dataset=dataset,
            settings=settings,
            cache_dir=cache_dir,
        )
    finally:
        await judge.aclose()


async def test_two_tei_servers_sharing_one_cache_dir_get_their_own_answers(
    tmp_path: Path,
) -> None:
    """Server B (always contradiction) is called and measured, not served server A's entries."""
    cache = tmp_path / "cache"
    async with (
        FakeTEIServer(predict_fn=lambda p, h: _always("ENTAILMENT"), model_id="org/a") as tei_a,
        FakeTEIServer(predict_fn=lambda p, h: _always("CONTRADICTION"), model_id="org/b") as tei_b,
    ):
        report_a = await _run(tei_a.url, cache)
        report_b = await _run(tei_b.url, cache)
        repeat_a = await _run(tei_a.url, cache)
    assert report_b.oracle_calls.get("nli", 0) > 0
    assert report_b.cache_hits.get("nli", 0) == 0
    b3_a, b3_b = report_a.b3, report_b.b3
    assert b3_a is not None
    assert b3_b is not None
    assert (b3_a.catch.x, b3_a.false_block.x) == (0, 0)
    assert (b3_b.catch.x, b3_b.false_block.x) == (b3_b.catch.n, b3_b.false_block.n)
    assert repeat_a.oracle_calls.get("nli", 0) == 0
    assert repeat_a.b3 == b3_a
    nli_a = next(info for info in report_a.oracles if info.role == "nli")
    nli_b = next(info for info in report_b.oracles if info.role == "nli")
    assert (nli_a.model, nli_b.model) == ("org/a", "org/b")
    assert tei_a.url in nli_a.model_version
    assert tei_b.url in nli_b.model_version


def test_url_and_upstream_are_part_of_the_cache_settings() -> None:
    """The settings in the cache identity keep `url` and `upstream`; only sizes and timeouts go."""
    config = OraclesConfig(nli=NLIConfig(kind="tei", url="http://a:1", timeout_s=3.0))
    settings = _oracle_settings(config)["nli"]
    assert settings["url"] == "http://a:1"
    assert "upstream" in settings
    assert "timeout_s" not in settings
