"""Lifecycle: a client that goes away cancels the upstream call; SIGTERM drains then exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.openai_server import (
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    chat_completion,
    stream_chunks,
)
from tests.harness import RunningProxy

BODY: dict[str, Any] = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}


async def _until(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_client_disconnect_cancels_a_pending_upstream_request(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """When the client hangs up while the upstream is thinking, the upstream request is dropped."""
    fake_upstream.script(JsonReply(chat_completion(), delay_s=3.0))
    async with aiohttp.ClientSession() as session:
        call = asyncio.ensure_future(session.post(f"{proxy.base_url}/chat/completions", json=BODY))
        await fake_upstream.wait_for_requests(1)
        call.cancel()
    assert await _until(lambda: fake_upstream.abandoned == 1)


async def test_client_disconnect_mid_stream_stops_the_upstream_stream(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """When the client leaves mid-stream, the proxy closes the upstream stream too."""
    fake_upstream.script(StreamReply(stream_chunks(tuple("abcdefghij")), delay_s=0.2))
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{proxy.base_url}/chat/completions", json={**BODY, "stream": True}
        )
        await resp.content.readuntil(b"\n\n")
        resp.close()
    assert await _until(lambda: fake_upstream.abandoned == 1)
    assert proxy.app  # the proxy is still serving


async def _read_port(stdout: asyncio.StreamReader, stderr: Path) -> int:
    while True:
        line = await asyncio.wait_for(stdout.readline(), timeout=20)
        if not line:
            tail = (await asyncio.to_thread(stderr.read_text, errors="replace"))[-2000:]
            raise AssertionError(f"assurance serve exited before listening; stderr: {tail}")
        event = json.loads(line)
        if event.get("event") == "proxy_listening":
            return int(event["port"])


async def test_sigterm_drains_in_flight_requests_then_exits_zero(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """`assurance serve` finishes a request in flight at SIGTERM, refuses new ones, exits 0.

    It runs `python -m proxy.commands.serve`, the module `assurance serve` dispatches to, in
    `tmp_path` (its default store file lands there, not in the checkout).
    """
    fake_upstream.script(JsonReply(chat_completion("drained"), delay_s=1.0))
    env = {**os.environ, "OPENAI_API_KEY": ""}
    stderr_path = tmp_path / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy.commands.serve",
            "--upstream-url", fake_upstream.base_url, "--host", "127.0.0.1", "--port", "0",
            stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        port = await _read_port(process.stdout, stderr_path)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        async with aiohttp.ClientSession() as session:
            pending = asyncio.ensure_future(session.post(url, json=BODY))
            await fake_upstream.wait_for_requests(1)
            process.send_signal(signal.SIGTERM)
            response = await pending
            body = await response.json()
            response.release()
            code = await asyncio.wait_for(process.wait(), timeout=10)
            refused = False
            try:
                await session.post(url, json=BODY)
            except aiohttp.ClientConnectionError:
                refused = True
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert response.status == 200
    assert body["choices"][0]["message"]["content"] == "drained"
    assert code == 0
    assert refused
