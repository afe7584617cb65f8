"""`assurance demo` runs offline end to end and prints the verdicts and the stored bundle check."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.commands import demo
from proxy.commands.demo import run_demo


async def test_demo_prints_enforce_and_shadow_verdicts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Both calls get a card, the bundle verifies, what enforce emits is exactly the claims the
    card says were emitted, and the embedded model drops only the wrong claim; shadow keeps the
    answer."""
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
    verdicts = [line for line in lines if line.startswith("verdict: ")]
    assert len(verdicts) == 2
    assert verdicts[0] == verdicts[1]  # same inputs, same certification in both modes
    received = [line for line in lines if line.startswith("answer received: ")]
    assert received[1] == "answer received: " + demo.ANSWER  # shadow never changes the answer
    sentences = [part if part.endswith(".") else part + "." for part in demo.ANSWER.split(". ")]
    claims = [line for line in lines if line.startswith("claim c")][: len(sentences)]
    assert len(claims) == len(sentences)
    for number, line in enumerate(claims, start=1):
        assert line.startswith(f"claim c{number} ")
        emitted = ", emitted" in line
        assert emitted == (sentences[number - 1] in received[0]), line
    # the shipped model gets the demo right: only the wrong 15 mL/min claim (c3) is dropped
    assert [line.split()[1] for line in claims if ", dropped" in line] == ["c3"]
    assert "POST /v1/assurance/verify -> valid=True errors=[]" in text
    assert f"card viewer page written to {page.resolve()}" in text
    assert 'id="verdict"' in page.read_text(encoding="utf-8")


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
