"""Shutdown under load (issue 10 item 11), with `assurance serve` as a subprocess.

With `shutdown_grace_s = 2` and a 12 s stream in flight, SIGTERM must: turn `/readyz` false at
once (new requests get 503), let the stream run for the grace period, then end it with a final
`shutting_down` error event, and exit 0 within grace + about 0.5 s (the stream used to be cut at
4 s and the process to exit after 4.8-6.2 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer, StreamReply, stream_chunks

GRACE_S = 2.0
BODY = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}], "stream": True}


async def _read_port(stdout: asyncio.StreamReader) -> int:
    while True:
        line = await asyncio.wait_for(stdout.readline(), timeout=60)
        assert line, "the proxy exited before listening"
        event = json.loads(line)
        if event.get("event") == "proxy_listening":
            return int(event["port"])


async def test_sigterm_drains_for_the_grace_period_then_closes_streams(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Readiness off at once, stream kept for the grace, final error event, exit 0 on time."""
    fake_upstream.script(
        StreamReply(stream_chunks(tuple(f"w{i} " for i in range(24))), delay_s=0.5)
    )
    config = tmp_path / "proxy.toml"
    config.write_text(
        f"[server]\nshutdown_grace_s = {GRACE_S}\n"
        f'[[upstreams]]\nname = "fake"\nbase_url = "{fake_upstream.base_url}"\n'
        f'[store]\npath = "{tmp_path / "store.sqlite3"}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.commands.serve", "--config", str(config), "--port", "0",
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "OPENAI_API_KEY": ""},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = await _read_port(process.stdout)
        root = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{root}/readyz") as ready:
                assert ready.status == 200
            async with session.post(f"{root}/v1/chat/completions", json=BODY) as stream:
                assert stream.status == 200
                first = await stream.content.readuntil(b"\n\n")
                assert b"chat.completion.chunk" in first
                signalled = time.monotonic()
                process.send_signal(signal.SIGTERM)
                async with aiohttp.ClientSession() as fresh:
                    async with fresh.get(f"{root}/readyz") as draining:
                        readyz_after = time.monotonic() - signalled
                        assert draining.status == 503
                        assert (await draining.json())["status"] == "draining"
                    async with fresh.post(f"{root}/v1/chat/completions", json=BODY) as refused:
                        assert refused.status == 503
                        assert (await refused.json())["error"]["code"] == "shutting_down"
                rest = await stream.content.read()
                cut_at = time.monotonic() - signalled
            code = await asyncio.wait_for(process.wait(), timeout=GRACE_S + 10)
            exited_at = time.monotonic() - signalled
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    events = [e for e in rest.split(b"\n\n") if e.strip()]
    final = json.loads(events[-1].removeprefix(b"data: "))
    assert final["error"]["code"] == "shutting_down"
    delivered = sum(1 for e in events if b"chat.completion.chunk" in e)
    assert delivered >= 2  # the stream kept flowing during the grace period
    assert readyz_after < 1.0
    assert GRACE_S - 0.2 <= cut_at <= GRACE_S + 1.0
    assert code == 0
    assert exited_at <= GRACE_S + 1.0
