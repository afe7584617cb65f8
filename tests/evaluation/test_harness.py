"""End-to-end tests of the grounding harness on a fixture dataset with known answers."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from proxy.evaluation.datasets import load_dataset
from proxy.evaluation.harness import HarnessSettings, evaluate
from proxy.evaluation.report import DatasetInfo, EvalReport, OperatingPoint
from proxy.evaluation.runner import EvalOracles
from tests.evaluation.fakes import FailingJudge, OneHotEmbedder, counting_oracles

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = HarnessSettings(concurrency=3, oracle_settings={"nli": {"aggregation": "concat"}})


def _dataset(cases: int) -> DatasetInfo:
    return DatasetInfo(
        name="jsonl",
        source="fixture",
        limit=None,
        seed=0,
        cases=cases,
        grounded=4,
        unsupported=4,
        refusals_grounded=1,
        refusals_unsupported=1,
    )


async def _run(oracles: EvalOracles, cache_dir: Path | None) -> EvalReport:
    cases = load_dataset("jsonl", path=FIXTURES / "cases.jsonl")
    return await evaluate(
        cases, oracles, dataset=_dataset(len(cases)), settings=SETTINGS, cache_dir=cache_dir
    )


def _at(points: list[OperatingPoint], threshold: str) -> OperatingPoint:
    return next(point for point in points if point.threshold == threshold)


async def test_fixture_rates_match_the_hand_computed_outcomes(tmp_path: Path) -> None:
    """Lexical NLI on the fixture: catch 3/3 (2 blocked, 1 trimmed), no false block."""
    oracles, _, _ = counting_oracles()
    report = await _run(oracles, tmp_path)
    low = _at(report.treatment, "0.50")
    assert (low.catch.x, low.catch.n, low.catch_block.x) == (3, 3, 2)
    assert (low.false_block.x, low.false_block.n, low.false_trim.x) == (0, 3, 0)
    # at θ_e > 1/2 the half-supported grounded answer loses its unsupported sentence
    assert _at(report.treatment, "0.55").false_trim.x == 1
    assert [p.threshold for p in report.treatment][0::5] == ["0.50", "0.75", "1.00"]
    assert len(report.treatment) == 11
    # θ_g sweep at θ_e = 1/2: its 0.50 point is the default operating point above
    assert len(report.treatment_theta_g) == 20
    same = _at(report.treatment_theta_g, "0.50")
    assert (same.catch, same.false_block) == (low.catch, low.false_block)
    # B3 only sees the lexical number contradiction (450 vs 330 metres)
    assert report.b3 is not None
    assert (report.b3.catch.x, report.b3.false_block.x) == (1, 0)
    assert low.refusals_blocked == 2


async def test_second_run_makes_zero_oracle_calls(tmp_path: Path) -> None:
    """With the same cache directory a re-run answers every oracle call from disk."""
    first_oracles, first_decomposer, first_judge = counting_oracles()
    first = await _run(first_oracles, tmp_path)
    assert first_decomposer.calls == 8
    assert first_judge.calls == 8
    again_oracles, again_decomposer, again_judge = counting_oracles()
    again = await _run(again_oracles, tmp_path)
    assert (again_decomposer.calls, again_judge.calls) == (0, 0)
    assert again.oracle_calls == {}
    assert again.cache_hits == {"decomposer": 8, "nli": 8}
    assert again.treatment == first.treatment
    assert again.b3 == first.b3


async def test_without_a_cache_directory_every_case_calls_the_oracles() -> None:
    """cache_dir=None reads and writes nothing, so a second run calls the oracles again."""
    for _ in range(2):
        oracles, decomposer, _ = counting_oracles()
        report = await _run(oracles, None)
        assert decomposer.calls == 8
        assert report.oracle_calls == {"decomposer": 8, "nli": 8}
        assert report.cache_hits == {}


async def test_b1_with_a_one_hot_embedder_blocks_all_but_verbatim_answers(tmp_path: Path) -> None:
    """B1 emits only the answer equal to an evidence chunk (cosine 1) once θ > 0."""
    embedder = OneHotEmbedder()
    oracles, _, _ = counting_oracles(embedder=embedder)
    report = await _run(oracles, tmp_path)
    assert embedder.calls == 8
    zero, some = _at(report.b1, "0.00"), _at(report.b1, "0.05")
    assert (zero.catch.x, zero.false_block.x) == (0, 0)
    assert (some.catch.x, some.catch.n, some.false_block.x, some.false_block.n) == (3, 3, 2, 3)
    assert _at(report.b1, "1.00").false_block.x == 2
    assert len(report.b1) == 21
    assert [info.role for info in report.oracles] == ["decomposer", "nli", "embedder"]


async def test_oracle_failures_count_as_blocks_and_are_reported(tmp_path: Path) -> None:
    """A failing NLI oracle blocks every case (fail closed) and each failure is recorded."""
    oracles, _, _ = counting_oracles()
    failing = EvalOracles(decomposer=oracles.decomposer, nli=FailingJudge())
    report = await _run(failing, tmp_path)
    assert report.oracle_failures == 8
    assert report.failures[0].endswith("nli: connection refused")
    point = _at(report.treatment, "0.50")
    assert (point.catch.x, point.false_block.x) == (3, 3)
    assert not (tmp_path / "nli").exists()


async def test_custom_sweep_grids_are_honoured(tmp_path: Path) -> None:
    """The θ_e grid of the settings decides which Treatment points are reported."""
    oracles, _, _ = counting_oracles()
    cases = load_dataset("jsonl", path=FIXTURES / "cases.jsonl")
    settings = HarnessSettings(theta_e_grid=(Fraction(1, 2), Fraction(3, 4)))
    report = await evaluate(
        cases, oracles, dataset=_dataset(len(cases)), settings=settings, cache_dir=tmp_path
    )
    assert [p.threshold for p in report.treatment] == ["0.50", "0.75"]
