"""Tests of rate counting and of the JSON / Markdown / PNG report shapes."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from proxy.evaluation.datasets import load_dataset
from proxy.evaluation.harness import HarnessSettings, evaluate
from proxy.evaluation.plot import write_frontier_png
from proxy.evaluation.report import (
    DatasetInfo,
    EvalReport,
    LabelledOutcome,
    encode_json,
    operating_point,
    render_markdown,
)
from tests.evaluation.fakes import OneHotEmbedder, counting_oracles

FIXTURES = Path(__file__).parent / "fixtures"


async def _report(tmp_path: Path) -> EvalReport:
    cases = load_dataset("halueval-qa", data_dir=FIXTURES / "halueval-qa")
    oracles, _, _ = counting_oracles(embedder=OneHotEmbedder())
    dataset = DatasetInfo(
        name="halueval-qa",
        source="fixture",
        limit=None,
        seed=0,
        cases=len(cases),
        grounded=3,
        unsupported=3,
        refusals_grounded=0,
        refusals_unsupported=0,
    )
    return await evaluate(
        cases, oracles, dataset=dataset, settings=HarnessSettings(), cache_dir=tmp_path
    )


def test_refusals_are_left_out_of_both_denominators() -> None:
    """Refusals count only in refusals_blocked; trims count as catches, not as false blocks."""
    outcomes = [
        LabelledOutcome(label="unsupported", refusal=False, outcome="trim"),
        LabelledOutcome(label="unsupported", refusal=False, outcome="emit"),
        LabelledOutcome(label="unsupported", refusal=True, outcome="block"),
        LabelledOutcome(label="grounded", refusal=False, outcome="trim"),
        LabelledOutcome(label="grounded", refusal=False, outcome="block"),
        LabelledOutcome(label="grounded", refusal=True, outcome="block"),
    ]
    point = operating_point("treatment", "0.50", outcomes)
    assert (point.catch.x, point.catch.n, point.catch_block.x) == (1, 2, 0)
    assert (point.false_block.x, point.false_block.n, point.false_trim.x) == (1, 2, 1)
    assert point.refusals_blocked == 2
    assert point.catch.rate == 0.5


def test_empty_denominators_have_no_rate_and_the_whole_interval() -> None:
    """With no eligible case a rate is None with interval (0, 1)."""
    point = operating_point("b3", "1/2", [])
    assert point.catch.rate is None
    assert point.catch.ci95 == (0.0, 1.0)


async def test_json_report_names_the_oracles_and_round_trips(tmp_path: Path) -> None:
    """The JSON has the documented top-level keys and records adapter and model per oracle."""
    report = await _report(tmp_path)
    data = json.loads(encode_json(report))
    assert set(data) >= {
        "dataset", "oracles", "thresholds", "treatment", "b1", "b3",
        "oracle_calls", "cache_hits", "elapsed_s", "environment",
    }  # fmt: skip
    nli = next(o for o in data["oracles"] if o["role"] == "nli")
    assert (nli["adapter"], nli["heuristic"]) == ("lexical", True)
    assert nli["model"].startswith("oracles.nli_lexical")
    assert data["treatment"][0]["catch"]["ci95"][1] <= 1.0
    assert msgspec.json.decode(encode_json(report), type=EvalReport) == report


async def test_markdown_header_says_which_oracle_produced_the_numbers(tmp_path: Path) -> None:
    """The first Markdown line names the NLI adapter and model and flags heuristics."""
    markdown = render_markdown(await _report(tmp_path))
    header = markdown.splitlines()[0]
    assert "nli=lexical:oracles.nli_lexical" in header
    assert "HEURISTIC" in header
    assert "embedder=fake-one-hot:one-hot/4096 [B1]" in header
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 11 + 20 + 1 + 21
    assert rows[2].startswith("| Treatment θ_e | 0.50 | ")
    assert rows[13].startswith("| Treatment θ_g | 0.05 | ")


async def test_frontier_png_is_written(tmp_path: Path) -> None:
    """The plot is a non-empty PNG file."""
    report = await _report(tmp_path / "cache")
    target = tmp_path / "plots" / "frontier.png"
    write_frontier_png(report, target)
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert target.stat().st_size > 5_000
