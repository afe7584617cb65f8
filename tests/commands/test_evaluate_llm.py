"""`assurance eval grounding --config` with an `llm` NLI judge over a configured `[[upstreams]]`.

The fake OpenAI server answers every judge call with one scripted NLI JSON object; the command runs
in a worker thread (its own event loop) while the test's loop serves the fake.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.commands.test_evaluate import FIXTURES, _run
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion

ENTAILED = {"entailment": 1, "contradiction": 0, "neutral": 0}
CONTRADICTED = {"label": "contradiction"}
# more replies than the fixture needs (one per claim: concat aggregation)
SCRIPTED_REPLIES = 200


def _config(tmp_path: Path, base_url: str, upstream: str = "judge") -> Path:
    """A proxy-style TOML config: one upstream and an llm NLI judge naming `upstream`."""
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "assurance.toml"
    path.write_text(
        f"""
[[upstreams]]
name = "judge"
base_url = "{base_url}"
read_timeout_s = 5.5

[oracles.nli]
kind = "llm"
upstream = "{upstream}"
model = "gpt-fake"
timeout_s = 10.0
""",
        encoding="utf-8",
    )
    return path


async def _evaluate(tmp_path: Path, fake: FakeOpenAIServer, judgment: dict[str, Any]) -> Any:
    """Run eval grounding on the small fixture with every judge call answered by `judgment`."""
    reply = JsonReply(chat_completion(json.dumps(judgment)))
    fake.script(*([reply] * SCRIPTED_REPLIES))
    out = tmp_path / "report.json"
    argv = [
        "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
        "--config", str(_config(tmp_path, fake.base_url)), "--no-b1", "--quiet", "--no-cache",
        "--out", str(out),
    ]  # fmt: skip
    code = await asyncio.to_thread(_run, argv)
    assert code == 0
    return json.loads(out.read_bytes())


async def test_llm_nli_over_a_configured_upstream_runs_and_names_the_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The judge's calls reach the upstream as JSON-mode requests; provenance names llm/gpt-fake."""
    async with FakeOpenAIServer() as fake:
        report = await _evaluate(tmp_path, fake, ENTAILED)
        requests = list(fake.requests)
    capsys.readouterr()
    nli = next(info for info in report["oracles"] if info["role"] == "nli")
    assert (nli["adapter"], nli["model"], nli["heuristic"]) == ("llm", "gpt-fake", False)
    assert requests, "expected the llm judge to call the configured upstream"
    assert report["oracle_failures"] == 0
    for request in requests:
        body = request.json()
        assert request.path == "/v1/chat/completions"
        assert (body["model"], body["temperature"], body["stream"]) == ("gpt-fake", 0, False)
        assert body["response_format"] == {"type": "json_object"}
    prompts = " ".join(json.dumps(request.json()["messages"]) for request in requests)
    assert "450 metres tall" in prompts


async def test_judge_answers_change_the_measured_catch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All-entailed judgments block nothing; all-contradicted ones block every scored answer."""
    async with FakeOpenAIServer() as fake:
        entailed = await _evaluate(tmp_path / "entailed", fake, ENTAILED)
    async with FakeOpenAIServer() as fake:
        contradicted = await _evaluate(tmp_path / "contradicted", fake, CONTRADICTED)
    capsys.readouterr()
    for point in entailed["treatment"]:
        assert (point["catch"]["x"], point["false_block"]["x"]) == (0, 0)
    for point in contradicted["treatment"]:
        assert point["catch"]["x"] == point["catch"]["n"] > 0
        assert point["false_block"]["x"] == point["false_block"]["n"] > 0


async def test_llm_nli_naming_an_unconfigured_upstream_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`upstream` must name one of the file's `[[upstreams]]`; otherwise a clean exit 2."""
    async with FakeOpenAIServer() as fake:
        argv = [
            "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
            "--config", str(_config(tmp_path, fake.base_url, upstream="elsewhere")), "--no-b1",
            "--quiet", "--no-cache",
        ]  # fmt: skip
        code = await asyncio.to_thread(_run, argv)
        assert fake.requests == []
    assert code == 2
    err = capsys.readouterr().err
    assert "elsewhere" in err
    assert "judge" in err


async def test_missing_upstream_key_warns_on_stderr_and_keeps_stdout_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset `api_key_env` is a warning on stderr; the JSON report on stdout stays parseable."""
    monkeypatch.delenv("ASSURANCE_EVAL_TEST_UNSET_KEY", raising=False)
    async with FakeOpenAIServer() as fake:
        fake.script(*([JsonReply(chat_completion(json.dumps(ENTAILED)))] * SCRIPTED_REPLIES))
        config = _config(tmp_path, fake.base_url)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace(
                'name = "judge"\n',
                'name = "judge"\napi_key_env = "ASSURANCE_EVAL_TEST_UNSET_KEY"\n',
            ),
            encoding="utf-8",
        )
        argv = [
            "grounding", "--dataset", "jsonl", "--path", str(FIXTURES / "cases.jsonl"),
            "--config", str(config), "--no-b1", "--quiet", "--no-cache", "--format", "json",
        ]  # fmt: skip
        code = await asyncio.to_thread(_run, argv)
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["oracle_failures"] == 0
    assert "upstream_key_missing" in captured.err
    assert "ASSURANCE_EVAL_TEST_UNSET_KEY" in captured.err
