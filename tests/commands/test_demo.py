"""`assurance demo` runs offline end to end and prints the verdicts and the stored bundle check."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.commands import demo
from proxy.commands.demo import run_demo


async def test_demo_prints_enforce_and_shadow_verdicts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The demo's enforce call downgrades to a residue, shadow keeps the answer, bundle is valid."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    lines: list[str] = []
    page = tmp_path / "card.html"
    assert await run_demo(short=True, bundle_out=None, out=lines.append, page_out=str(page)) == 0
    text = "\n".join(lines)
    assert "REPLAYS A FIXED ANSWER" in text
    assert "The NLI judge is a real model" in text
    assert "=== mode enforce, policy clinical" in text
    assert "=== mode shadow, policy clinical" in text
    assert text.count("verdict: residue   policy decision: downgrade") == 2
    received = [line for line in lines if line.startswith("answer received: ")]
    assert "15 mL/min" not in received[0]
    assert "15 mL/min" in received[1]
    assert any(line.startswith("dropped: c3:") for line in lines)
    assert "POST /v1/assurance/verify -> valid=True errors=[]" in text
    assert f"card viewer page written to {page.resolve()}" in text
    assert 'id="verdict"' in page.read_text(encoding="utf-8")
    assert received[0].endswith("alternative anticoagulant. [fda-label]")
    assert "[acc-aha-guideline]" in received[0]
    assert "claim c2 supported, emitted: cites patient-chart" in text
    assert "claim c3 contradicted, dropped: cites nothing; contradicted by fda-label" in text


async def test_demo_reports_a_failed_call_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call the proxy refuses is reported on one line and the demo exits 1."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(demo, "evidence", lambda now: [{"id": "fda-label"}])
    lines: list[str] = []
    assert await demo.run_demo(short=True, bundle_out=None, out=lines.append) == 1
    assert lines[-1].startswith("error: the enforce call failed:")
    assert "assurance.evidence[0]" in lines[-1]
