"""The proxy in front of a real llama.cpp server (llama-cpp-python, Gemma 3 270M, CPU).

Mode off is compared byte for byte with the same request sent directly to llama.cpp, modulo the
fields that differ between any two calls: every `"id"` (llama.cpp draws a fresh uuid per completion,
and its tool-call ids embed it) and `"created"` (a clock). Requests are deterministic: temperature
0, a fixed seed, and a llama.cpp `grammar` (or a forced tool call, whose arguments a JSON-schema
grammar with an `enum` fixes) where the answer's text matters. Shadow and enforce are checked
streaming with and without tool calls, with `stream_options`, and a client that hangs up must stop
the generation, and one that hangs up right after `[DONE]` is a 200. Answers are kept short
(`max_tokens`) so the tier stays within CI's time.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionNamedToolChoiceParam, ChatCompletionToolParam

from tests.assurance.clinical import DELETE_SCHEMA
from tests.harness import LogCapture, RunningProxy
from tests.real.conftest import skip_reason
from tests.real.llama_server import MODEL_ALIAS, SEED, LlamaServer

_REASON = skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

FACT = "Paris is the capital of France."
EVIDENCE = [{"id": "atlas", "text": FACT, "source": "atlas"}]
ENDLESS_GRAMMAR = 'root ::= "la " root'
PATH = "/sandbox/notes.md"
DELETE_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "delete_file",
        "description": "Delete one file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string", "enum": [PATH]}},
            "required": ["path"],
        },
    },
}
FORCE_DELETE: ChatCompletionNamedToolChoiceParam = {
    "type": "function",
    "function": {"name": "delete_file"},
}
STREAMS = 5
ACTIONS = {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}}
# every `"id"` and `"created"` differs between two calls; nothing else may
_VARYING = (
    (re.compile(rb'"id": ?"[^"]*"'), b'"id": "<id>"'),
    (re.compile(rb'"created": ?\d+'), b'"created": 0'),
)


def _body(content: str = "Name one colour.", **extra: Any) -> dict[str, Any]:
    """A chat request; temperature 0 and a fixed seed make llama.cpp's answer repeatable."""
    return {
        "model": MODEL_ALIAS,
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "seed": SEED,
        "max_tokens": 8,
        **extra,
    }


TOOL_REQUEST: dict[str, Any] = {
    "content": "Delete my notes.",
    "tools": [DELETE_TOOL],
    "tool_choice": FORCE_DELETE,
    "max_tokens": 40,
}
CASES: dict[str, dict[str, Any]] = {
    "json": _body(),
    "stream": _body(stream=True),
    "stream_options": _body(stream=True, stream_options={"include_usage": True}),
    "tools": _body(**TOOL_REQUEST),
    "tools_stream": _body(**TOOL_REQUEST, stream=True),
    # llama.cpp answers a context overflow 400 and a body it cannot validate 500, both as JSON
    "error": _body("x " * 1200),
    "error_stream": _body(max_tokens="many", stream=True),
}


def _normalized(raw: bytes) -> bytes:
    for pattern, replacement in _VARYING:
        raw = pattern.sub(replacement, raw)
    return raw


def _events(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for line in raw.splitlines():
        if line.startswith(b"data: "):
            payload = line[len(b"data: ") :]
            out.append(payload.decode() if payload == b"[DONE]" else json.loads(payload))
    return out


async def _post(
    base_url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/chat/completions", json=body, headers=headers or {}) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


def _mode(mode: str) -> dict[str, str]:
    return {"X-Assurance-Mode": mode, "X-Assurance-Policy": "creative"}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_mode_off_is_byte_exact_against_llama_cpp(
    case: str, llama: LlamaServer, off_proxy: RunningProxy
) -> None:
    """Status, Content-Type and body equal a direct call's (ids and `created` aside); an error
    to a streaming request stays llama.cpp's exact JSON bytes, not a chunked SSE response."""
    body = CASES[case]
    # llama.cpp reuses the previous prompt's KV cache: after a different prompt the same text can
    # come out in other tokens (measured: 19 vs 18 completion tokens for identical tool-call
    # arguments), so both compared calls follow one warm-up call of the same request
    await _post(llama.base_url, body)
    direct = await _post(llama.base_url, body)
    proxied = await _post(off_proxy.base_url, body)
    assert proxied[0] == direct[0]
    assert proxied[1]["Content-Type"] == direct[1]["Content-Type"]
    assert _normalized(proxied[2]) == _normalized(direct[2])
    if case.startswith("error"):
        assert direct[0] >= 400
        assert proxied[2] == direct[2]
        assert "Transfer-Encoding" not in proxied[1]
        assert "X-Accel-Buffering" not in proxied[1]
    elif body.get("stream"):
        assert _events(proxied[2])[-1] == "[DONE]"
        assert proxied[1]["X-Accel-Buffering"] == "no"


async def test_shadow_stream_relays_llama_cpp_and_certifies_it(
    llama: LlamaServer, assured: RunningProxy
) -> None:
    """Shadow relays llama.cpp's events and headers (its charset too), then one card chunk that
    certifies the relayed text."""
    body = _body("What is the capital of France?", stream=True)
    direct = await _post(llama.base_url, body)
    status, headers, raw = await _post(
        assured.base_url, {**body, "assurance": {"evidence": EVIDENCE}}, _mode("shadow")
    )
    assert status == 200
    assert headers["Content-Type"] == direct[1]["Content-Type"]
    assert headers["X-Accel-Buffering"] == "no"
    # llama.cpp's bytes up to its `[DONE]`, then the card chunk, then the proxy's `[DONE]`
    relayed = _normalized(direct[2])
    relayed = relayed[: relayed.rindex(b"data: [DONE]")]
    assert _normalized(raw).startswith(relayed)
    events = _events(raw)
    assert events[-2]["choices"] == []
    card = events[-2]["assurance"]["card"]
    assert card["verdict"]["kind"] in ("certified", "partial", "residue", "abstain")
    assert events[-2]["assurance"]["replay_handle"]


async def test_shadow_tool_call_stream_is_certified_like_the_json_answer(
    assured: RunningProxy,
) -> None:
    """llama.cpp resends `id`/`name` in every delta and adds a `function_call` copy: the shadow
    card gates one `delete_file` call, as for the same answer non-streaming (quirks 1 and 2)."""
    body = {**_body(**TOOL_REQUEST), "assurance": {"actions": ACTIONS}}
    _, _, raw_json = await _post(assured.base_url, body, _mode("shadow"))
    answer = json.loads(raw_json)
    message = answer["choices"][0]["message"]
    assert message["function_call"]["name"] == message["tool_calls"][0]["function"]["name"]
    status, _, raw = await _post(assured.base_url, {**body, "stream": True}, _mode("shadow"))
    assert status == 200
    events = _events(raw)
    deltas = [e["choices"][0]["delta"] for e in events[:-2] if e["choices"]]
    assert sum(1 for d in deltas if d.get("tool_calls")) > 1  # the name really is resent
    streamed, buffered = events[-2]["assurance"], answer["assurance"]
    assert streamed["policy_decision"] == buffered["policy_decision"] == "accept"
    assert streamed["card"]["dropped_claims"] == buffered["card"]["dropped_claims"] == []


async def test_enforce_streams_a_tool_call_once_with_content_null(assured: RunningProxy) -> None:
    """Enforce replays llama.cpp's forced tool call: one call (its `function_call` copy is the
    same call), `content: null` from the first chunk on, decision accept under `deletes <= 1`."""
    async with (
        AsyncOpenAI(base_url=assured.base_url, api_key="k", max_retries=0) as client,
        client.chat.completions.with_streaming_response.create(
            model=MODEL_ALIAS,
            messages=[{"role": "user", "content": "Delete my notes."}],
            stream=True,
            temperature=0,
            seed=SEED,
            max_tokens=40,
            tools=[DELETE_TOOL],
            tool_choice=FORCE_DELETE,
            extra_headers=_mode("enforce"),
            extra_body={"assurance": {"actions": ACTIONS}},
        ) as response,
    ):
        raw = await response.read()
    events = [e for e in _events(raw) if isinstance(e, dict)]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    calls = [call for delta in deltas for call in delta.get("tool_calls") or ()]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("delete_file", {"path": PATH})
    ]
    assert not any("function_call" in delta for delta in deltas)
    assert events[-1]["assurance"]["policy_decision"] == "accept"


async def test_enforce_stream_options_usage_is_llama_cpp_usage(
    llama: LlamaServer, assured: RunningProxy
) -> None:
    """Enforce asks llama.cpp once without streaming and replays it: the accepted text is
    llama.cpp's, and `include_usage` gets the usage chunk with llama.cpp's own token counts."""
    body = _body("What is the capital of France?")
    _, _, direct = await _post(llama.base_url, body)
    async with AsyncOpenAI(base_url=assured.base_url, api_key="k", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=MODEL_ALIAS,
            messages=body["messages"],
            stream=True,
            stream_options={"include_usage": True},
            temperature=0,
            seed=SEED,
            max_tokens=8,
            extra_headers=_mode("enforce"),
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    answer = json.loads(direct)
    assurance = (chunks[-1].model_extra or {})["assurance"]
    assert assurance["policy_decision"] == "accept"
    assert text == answer["choices"][0]["message"]["content"]
    usage, expected = chunks[-1].usage, answer["usage"]
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        expected["prompt_tokens"],
        expected["completion_tokens"],
    )


@pytest.mark.parametrize("mode", ["off", "shadow"])
async def test_a_client_that_hangs_up_stops_the_generation(
    mode: str, llama: LlamaServer, off_proxy: RunningProxy, assured: RunningProxy
) -> None:
    """A reader that leaves after three events makes the proxy drop its upstream connection:
    llama.cpp logs the disconnect and its next request is served at once (it does not interrupt
    one request for the next here, so a generation left running would hold it back)."""
    proxy = off_proxy if mode == "off" else assured
    before = llama.log_text().count("Disconnected from client")
    endless = _body("Sing.", grammar=ENDLESS_GRAMMAR, max_tokens=1000, stream=True)
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{proxy.base_url}/chat/completions", json=endless, headers=_mode(mode)
        )
        raw = b""
        while raw.count(b"data: ") < 3:
            raw += await resp.content.readany()
        resp.close()
    deadline = time.monotonic() + 30
    while llama.log_text().count("Disconnected from client") == before:
        assert time.monotonic() < deadline, llama.log_tail()
        await asyncio.sleep(0.1)
    started = time.monotonic()
    status, _, quick = await _post(proxy.base_url, _body(max_tokens=2), _mode(mode))
    assert status == 200, quick
    assert time.monotonic() - started < 30


async def test_clients_that_hang_up_right_after_done_are_logged_200(
    off_proxy: RunningProxy,
) -> None:
    """A reader that closes the connection as soon as it has `[DONE]` (as SDK streams may) got the
    whole answer: each access line says 200, none 499."""
    with LogCapture() as logs:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(STREAMS):
                resp = await session.post(
                    f"{off_proxy.base_url}/chat/completions", json=_body(max_tokens=4, stream=True)
                )
                raw = b""
                while b"data: [DONE]" not in raw:
                    raw += await resp.content.readany()
                resp.close()
        for _ in range(600):  # the last access line follows the hang-up by a moment
            if len(logs.events("request")) >= STREAMS:
                break
            await asyncio.sleep(0.05)
        statuses = [line["status"] for line in logs.events("request")]
    assert statuses == [200] * STREAMS
