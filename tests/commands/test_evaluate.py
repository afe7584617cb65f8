"""Tests of `assurance eval grounding` through its subcommand module: outputs and exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from proxy.commands import evaluate

FIXTURES = Path(__file__).parents[1] / "evaluation" / "fixtures"


def _run(argv: list[str]) -> int:
    """Parse like `assurance eval ...` does and run the command."""
    parser = argparse.ArgumentParser(prog="assurance")
    sub = parser.add_subparsers(dest="command", required=True)
    evaluate.add_arguments(sub.add_parser("eval"))
    args = parser.parse_args(["eval", *argv])
    return evaluate.run(args)


def test_jsonl_run_writes_json_markdown_and_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CI-sized run writes all three outputs and prints the Markdown table."""
    out, md, png = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.png"
    code = _run(
        [
            "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
            "--no-b1", "--quiet", "--cache-dir", str(tmp_path / "cache"),
            "--out", str(out), "--markdown", str(md), "--plot", str(png),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert printed == md.read_text(encoding="utf-8")
    assert printed.startswith("**Oracles:** decomposer=sentences:")
    report = json.loads(out.read_bytes())
    assert report["dataset"]["refusals_grounded"] == 1
    assert report["treatment"][0]["catch"]["x"] == 3
    assert report["b1"] == []
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_halueval_data_dir_override_and_json_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data-dir points the named dataset at a fixture; --format json prints the report."""
    code = _run(
        [
            "grounding", "--dataset", "halueval-qa", "--data-dir", str(FIXTURES / "halueval-qa"),
            "--limit", "2", "--seed", "3", "--no-b1", "--quiet", "--no-cache", "--format", "json",
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["dataset"]["cases"], report["dataset"]["limit"]) == (4, 2)
    assert report["oracle_calls"] == {"decomposer": 4, "nli": 4}


def test_config_file_selects_the_nli_aggregation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`[oracles.nli]` from --config reaches the oracles (per_chunk gives one column per chunk)."""
    config = tmp_path / "assurance.toml"
    config.write_text(
        '[server]\nport = 1\n[oracles.nli]\nkind = "lexical"\naggregation = "per_chunk"\n'
    )
    cache = tmp_path / "cache"
    code = _run(
        [
            "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
            "--config", str(config), "--no-b1", "--quiet", "--cache-dir", str(cache),
        ]
    )  # fmt: skip
    assert code == 0
    capsys.readouterr()
    stored = [json.loads(p.read_bytes()) for p in (cache / "nli").rglob("*.json")]
    assert {record["aggregation"] for record in stored} == {"per_chunk"}
    assert max(len(record["entail"][0]) for record in stored) == 2


def test_missing_dataset_directory_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing HaluEval directory is a usage error naming the path and --data-dir."""
    missing = tmp_path / "halueval-qa"
    code = _run(["grounding", "--dataset", "halueval-qa", "--data-dir", str(missing), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "--data-dir" in err


def test_malformed_jsonl_row_exits_2_naming_line_and_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A row without `answer` stops the run before any oracle call, naming line 2 and the field."""
    code = _run(
        ["grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "missing_answer.jsonl")]
    )
    assert code == 2
    assert "missing_answer.jsonl:2, field 'answer'" in capsys.readouterr().err


def test_invalid_oracle_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown NLI kind in --config is reported with the file, not as a traceback."""
    config = tmp_path / "bad.toml"
    config.write_text('[oracles.nli]\nkind = "magic"\n')
    code = _run(
        [
            "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
            "--config", str(config), "--no-b1",
        ]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "oracles.nli" in err or "magic" in err
    assert str(config) in err


def test_jsonl_without_path_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--dataset jsonl needs --path."""
    assert _run(["grounding", "--dataset", "jsonl"]) == 2
    assert "--path" in capsys.readouterr().err


def _run_with_dead_nli(tmp_path: Path, *extra: str) -> int:
    """`eval grounding` over cases.jsonl with a TEI NLI nobody serves: every case fails."""
    config = tmp_path / "assurance.toml"
    config.write_text('[oracles.nli]\nkind = "tei"\nurl = "http://127.0.0.1:9"\ntimeout_s = 5\n')
    return _run(
        [
            "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
            "--config", str(config), "--no-b1", "--quiet", "--no-cache", *extra,
        ]
    )  # fmt: skip


def test_mostly_failed_oracle_run_warns_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead NLI server fails every case: stderr warns and the exit status is 3, not 0."""
    out = tmp_path / "r.json"
    code = _run_with_dead_nli(tmp_path, "--out", str(out))
    assert code == evaluate.EXIT_ORACLE_FAILURES == 3
    err = capsys.readouterr().err
    assert "warning:" in err
    assert "failed an oracle" in err
    assert "--max-failure-rate" in err
    report = json.loads(out.read_bytes())
    assert report["oracle_failures"] == report["dataset"]["cases"]


def test_failures_under_the_allowed_rate_warn_but_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --max-failure-rate 1 the same run only warns."""
    code = _run_with_dead_nli(tmp_path, "--max-failure-rate", "1")
    assert code == 0
    assert "warning:" in capsys.readouterr().err


def test_unwritable_out_path_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An --out under a regular file is a clear error (exit 2) before any oracle runs."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = _run(
        [
            "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
            "--no-b1", "--quiet", "--no-cache", "--out", str(blocker / "r.json"),
        ]
    )  # fmt: skip
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: Expected a writable output")
    assert "--out" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
