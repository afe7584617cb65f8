"""Tests for `assurance verify BUNDLE.json|-` (exit 0 valid, 1 invalid, 2 unreadable)."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import msgspec
import pytest

from proxy import cli
from proxy.commands import verify as verify_command
from tests.certifiers.test_verify_scenarios import full_bundle_bytes, signing_public_key

_UNPINNED = "signature: present, key not pinned"


def _is_valid_output(out: str, *notes: str) -> bool:
    """`valid` first, then one `note: ...` line starting with each of `notes`, in order."""
    first, *rest = out.splitlines()
    return (
        first == "valid"
        and len(rest) == len(notes)
        and all(line.startswith(f"note: {n}") for line, n in zip(rest, notes, strict=True))
    )


def main(argv: list[str]) -> int:
    """Run the verify subcommand's own parser and `run` (independent of other subcommands)."""
    assert argv[0] == "verify"
    parser = argparse.ArgumentParser(prog="assurance verify")
    verify_command.add_arguments(parser)
    return verify_command.run(parser.parse_args(argv[1:]))


def _write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "bundle.json"
    path.write_bytes(data)
    return str(path)


def _tampered() -> bytes:
    tree = msgspec.json.decode(full_bundle_bytes())
    tree["certificates"]["grounding"]["masses"]["supported"] = "1"
    return msgspec.json.encode(tree)


def test_valid_bundle_file_prints_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid bundle file prints `valid` and exits 0."""
    code = main(["verify", _write(tmp_path, full_bundle_bytes())])
    assert code == 0
    assert _is_valid_output(capsys.readouterr().out, _UNPINNED)


def test_tampered_bundle_prints_each_failed_obligation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered bundle prints one failed obligation per line and exits 1."""
    code = main(["verify", _write(tmp_path, _tampered())])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert "valid" not in lines
    assert any(line.startswith("grounding.masses.supported: expected ") for line in lines)
    assert any(line.startswith("card.certificate_digest: ") for line in lines)


def test_bundle_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-` reads the bundle from standard input."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(full_bundle_bytes())))
    assert main(["verify", "-"]) == 0
    assert _is_valid_output(capsys.readouterr().out, _UNPINNED)


def test_malformed_json_is_an_invalid_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes that are not a bundle print a bundle.format failure and exit 1."""
    code = main(["verify", _write(tmp_path, b"{oops")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("bundle.format: ")


def test_missing_file_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that cannot be read exits 2 with one line on stderr naming it."""
    missing = str(tmp_path / "absent.json")
    code = main(["verify", missing])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "cannot read bundle file" in captured.err
    assert "absent.json" in captured.err


def test_pinned_public_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--public-key accepts the signer and rejects a different key with signature.trusted."""
    path = _write(tmp_path, full_bundle_bytes())
    assert main(["verify", "--public-key", signing_public_key().hex(), path]) == 0
    assert _is_valid_output(capsys.readouterr().out)  # pinned: no signature note
    assert main(["verify", "--public-key", "00" * 32, path]) == 1
    assert capsys.readouterr().out.startswith("signature.trusted: ")


def test_malformed_public_key_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --public-key that is not 64 hex characters exits 2 before reading the bundle."""
    path = _write(tmp_path, full_bundle_bytes())
    assert main(["verify", "--public-key", "abcd", path]) == 2
    assert "--public-key" in capsys.readouterr().err


def test_console_entry_point_dispatches_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`assurance verify FILE` through proxy.cli.main prints `valid` and exits 0."""
    assert cli.main(["verify", _write(tmp_path, full_bundle_bytes())]) == 0
    assert _is_valid_output(capsys.readouterr().out, _UNPINNED)
