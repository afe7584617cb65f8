"""The wire quirks of real OpenAI-compatible servers (llama.cpp, vLLM), reproduced by the fake.

Each test scripts the fake upstream to answer as llama-cpp-python's server does (see the
`llama_cpp_*` builders) and checks the proxy handles it as the same answer from OpenAI: tool-call
deltas that resend `id`/`name`, a legacy `function_call` copy of `tool_calls[0]`, the upstream's
`Content-Type` charset, a JSON error to a streaming request, a hang-up right after `[DONE]`, and
`content: null` on a tool-only answer. `tests/real/` runs the same checks against llama.cpp.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from openai import AsyncOpenAI

from proxy.server.state import STATE
from tests.assurance.clinical import DELETE_SCHEMA, MESSAGES, assurance_of, headers
from tests.fakes.openai_server import (
    LLAMA_CPP_CONTENT_TYPE,
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    llama_cpp_tool_chunks,
    llama_cpp_tool_completion,
    stream_chunks,
)
from tests.harness import LogCapture, RunningProxy, proxy_config, running_proxy

ACTIONS: dict[str, Any] = {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}}
PIECES = ('{"path": ', '"/sandbox/', 'a.md"}')
ARGUMENTS = "".join(PIECES)
ERROR = {"error": {"message": "bad field", "type": "invalid_request_error", "param": None}}


def _body(stream: bool, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-fake", "messages": MESSAGES, "stream": stream, **extra}


def _events(raw: bytes) -> list[Any]:
    lines = [line for line in raw.split(b"\n") if line.startswith(b"data: ")]
    return [
        line[len(b"data: ") :].decode()
        if line == b"data: [DONE]"
        else json.loads(line[len(b"data: ") :])
        for line in lines
    ]


async def _post(
    proxy: RunningProxy, body: dict[str, Any], mode: str
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{proxy.base_url}/chat/completions", json=body, headers=headers(mode, "creative")
        ) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def test_shadow_stream_with_resent_tool_call_names_gates_the_named_tool(
    fake_upstream: FakeOpenAIServer, proxy: RunningProxy
) -> None:
    """Quirk 1: `id`/`name` in every delta are one name, so shadow streaming certifies what the
    same answer non-streaming certifies (before: `delete_filedelete_file`, an unknown tool)."""
    fake_upstream.script(
        StreamReply(llama_cpp_tool_chunks("delete_file", PIECES)),
        JsonReply(llama_cpp_tool_completion("delete_file", ARGUMENTS)),
    )
    body = _body(True, assurance={"actions": ACTIONS})
    status, _, raw = await _post(proxy, body, "shadow")
    assert status == 200
    streamed = _events(raw)[-2]["assurance"]
    _, _, raw_json = await _post(proxy, {**body, "stream": False}, "shadow")
    buffered = json.loads(raw_json)["assurance"]
    assert streamed["policy_decision"] == buffered["policy_decision"] == "accept"
    assert streamed["card"]["verdict"] == buffered["card"]["verdict"]
    assert streamed["card"]["dropped_claims"] == buffered["card"]["dropped_claims"] == []


async def test_a_function_call_copy_of_the_tool_call_is_gated_once(
    fake_upstream: FakeOpenAIServer, proxy: RunningProxy
) -> None:
    """Quirk 2: with a `deletes <= 1` budget, the `function_call` copy is not a second delete."""
    fake_upstream.script(
        JsonReply(llama_cpp_tool_completion("delete_file", ARGUMENTS)),
        StreamReply(llama_cpp_tool_chunks("delete_file", PIECES)),
    )
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers("enforce", "creative"),
            extra_body={"assurance": {"actions": ACTIONS}},
        )
    assurance = assurance_of(completion)
    assert assurance["policy_decision"] == "accept"
    assert assurance["card"]["dropped_claims"] == []
    message = completion.choices[0].message
    calls = [c.model_dump() for c in message.tool_calls or []]
    assert [c["function"] for c in calls] == [{"name": "delete_file", "arguments": ARGUMENTS}]
    assert message.function_call is None  # emitted once, as the tool call the gate judged
    _, _, raw = await _post(proxy, _body(True, assurance={"actions": ACTIONS}), "shadow")
    assert _events(raw)[-2]["assurance"]["policy_decision"] == "accept"


async def test_shadow_stream_keeps_the_upstream_content_type_and_disables_buffering(
    fake_upstream: FakeOpenAIServer, proxy: RunningProxy
) -> None:
    """Quirk 3: shadow relays `Content-Type` with its charset and sends `X-Accel-Buffering: no`,
    as mode off does."""
    for mode in ("off", "shadow"):
        fake_upstream.script(StreamReply(stream_chunks(), content_type=LLAMA_CPP_CONTENT_TYPE))
        status, got, _ = await _post(proxy, _body(True), mode)
        assert status == 200
        assert got["Content-Type"] == LLAMA_CPP_CONTENT_TYPE, mode
        assert got["X-Accel-Buffering"] == "no", mode
        assert got["Cache-Control"] == "no-cache", mode


async def test_an_upstream_json_error_to_a_streaming_request_is_relayed_as_sent(
    fake_upstream: FakeOpenAIServer, proxy: RunningProxy
) -> None:
    """Quirk 3: a 4xx JSON body to `stream: true` is not turned into a chunked SSE response."""
    raw_error = json.dumps(ERROR).encode()
    for mode in ("off", "shadow", "enforce"):
        fake_upstream.script(JsonReply(raw=raw_error, status=422))
        status, got, body = await _post(proxy, _body(True), mode)
        assert (status, body) == (422, raw_error), mode
        assert got["Content-Type"] == "application/json", mode
        assert got["Content-Length"] == str(len(raw_error)), mode
        assert "Transfer-Encoding" not in got, mode
        assert "X-Accel-Buffering" not in got, mode


async def _read_to_done_and_hang_up(proxy: RunningProxy, mode: str) -> list[Any]:
    """Read the raw stream up to `[DONE]`, then close the connection at once (as SDKs may)."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        resp = await session.post(
            f"{proxy.base_url}/chat/completions",
            json=_body(True),
            headers=headers(mode, "creative"),
        )
        raw = b""
        while b"data: [DONE]" not in raw:
            raw += await resp.content.readany()
        resp.close()
    return _events(raw)


async def test_a_client_that_hangs_up_right_after_done_is_a_200(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Quirk 4: the upstream keeps the response open after `[DONE]` (llama.cpp does); a client
    that leaves then got the whole answer, so the log line and the metric say 200, not 499."""
    config = proxy_config(fake_upstream.base_url)
    with LogCapture() as logs:
        async with running_proxy(config) as proxy:
            fake_upstream.script(StreamReply(stream_chunks(), linger_after_done_s=2.0))
            events = await _read_to_done_and_hang_up(proxy, "off")
            await _wait_for_access_line(logs)
            metrics = proxy.app[STATE].metrics.render().decode()
        lines = logs.events("request")
    assert events[-1] == "[DONE]"
    assert [line["status"] for line in lines] == [200]
    assert 'status="200"' in metrics
    assert 'status="499"' not in metrics


async def _wait_for_access_line(logs: LogCapture) -> None:
    for _ in range(200):
        if logs.events("request"):
            return
        await asyncio.sleep(0.05)


async def test_enforce_tool_only_stream_keeps_content_null(
    fake_upstream: FakeOpenAIServer, proxy: RunningProxy
) -> None:
    """Quirk 5: enforce's replay of a tool-only answer has `content: null` in its first chunk, as
    the upstream's answer had."""
    fake_upstream.script(JsonReply(llama_cpp_tool_completion("delete_file", ARGUMENTS)))
    status, _, raw = await _post(proxy, _body(True, assurance={"actions": ACTIONS}), "enforce")
    assert status == 200
    chunks = [e for e in _events(raw) if isinstance(e, dict)]
    first = chunks[0]["choices"][0]["delta"]
    assert first == {"role": "assistant", "content": None}
    assert all(c["choices"][0]["delta"].get("content") is None for c in chunks if c["choices"])
