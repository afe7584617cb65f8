"""Tests for `assurance certify` (proxy/commands/certify.py) through the CLI's main(argv)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from certifiers.bundle import decode_bundle
from proxy.cli import main
from tests.certifiers.examples import paper_64_scenario


def test_certify_prints_the_bundle_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid scenario file prints a decodable bundle and exits 0."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(paper_64_scenario()))
    assert main(["certify", str(path)]) == 0
    bundle = decode_bundle(capsys.readouterr().out.encode())
    assert bundle.certificates.residue is not None
    assert bundle.certificates.residue.kept == (0, 2)


def test_certify_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-` reads the scenario from stdin."""
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps(paper_64_scenario()).encode()))
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["certify", "-"]) == 0
    assert '"certificate_digest"' in capsys.readouterr().out


def test_malformed_scenario_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad field gives a one-line message with its path on stderr, exit 2, no traceback."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(paper_64_scenario(thresholds={"theta_c": "3/2"})))
    assert main(["certify", str(path)]) == 2
    captured = capsys.readouterr()
    assert "$.thresholds.theta_c" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable path is reported on stderr with exit 2."""
    assert main(["certify", str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
