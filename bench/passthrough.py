"""Benchmark of mode `off`: the proxy's added latency and throughput against a minimal forwarder.

Three targets are measured round by round, interleaved: (a) the upstream directly, (b) the floor, a
minimal aiohttp forwarder (read body, POST upstream on one shared ClientSession, return the body),
and (c) the proxy in mode `off`. The upstream is a local fake with zero think time answering a small
ChatCompletion or 50 SSE chunks. Each server runs in its own process so the client does not steal
their CPU. Reports p50/p99 of sequential requests, throughput with 32 concurrent clients, and
time-to-first-chunk for streams, as JSON with medians over rounds and proxy/floor ratios.

Run: `.venv/bin/python -m bench.passthrough [--rounds 5] [--requests 400] [--concurrent-s 3]`.
It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from proxy.config import CliOverrides, load_config
from proxy.server.app import create_app
from proxy.server.log import configure_logging

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1714000000,
        "model": "gpt-bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris is the capital of France."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 8, "total_tokens": 17},
    }
).encode()
STREAM_CHUNKS = 50
REQUEST = json.dumps(
    {"model": "gpt-bench", "messages": [{"role": "user", "content": "Capital of France?"}]}
).encode()
STREAM_REQUEST = json.dumps(
    {
        "model": "gpt-bench",
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "stream": True,
    }
).encode()
CONCURRENCY = 32
JSON = "application/json"


def _chunk(i: int) -> bytes:
    delta = {"content": f" tok{i}"}
    body = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip
    return b"data: " + json.dumps(body).encode() + b"\n\n"


# ---------------------------------------------------------------- servers (child processes)


async def _upstream_app() -> web.Application:
    chunks = [_chunk(i) for i in range(STREAM_CHUNKS)]

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if b'"stream": true' not in body:
            return web.Response(body=COMPLETION, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def _forwarder_app(upstream: str) -> web.Application:
    sessions: list[aiohttp.ClientSession] = []

    async def lifecycle(app: web.Application) -> Any:
        sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)))
        yield
        await sessions[0].close()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with sessions[0].post(f"{upstream}/chat/completions", data=body) as resp:
            if b'"stream": true' not in body:
                payload = await resp.read()
                return web.Response(
                    body=payload, status=resp.status, content_type="application/json"
                )
            out = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await out.prepare(request)
            async for piece in resp.content.iter_any():
                await out.write(piece)
            await out.write_eof()
            return out

    app = web.Application()
    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def _serve_child(role: str, upstream: str) -> None:
    if role == "proxy":
        configure_logging()  # one JSON line per request, as in production (stdout is /dev/null)
        config = load_config(None, CliOverrides(upstream_url=upstream, port=0))
        app = create_app(config)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    else:
        app = await (_upstream_app() if role == "upstream" else _forwarder_app(upstream))
        runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sys.stderr.write(f"PORT {runner.addresses[0][1]}\n")
    sys.stderr.flush()
    await asyncio.Event().wait()


def _start(role: str, upstream: str = "") -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.passthrough", "--serve", role, "--upstream", upstream],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OPENAI_API_KEY": ""},
    )
    assert process.stderr is not None
    line = process.stderr.readline().decode()
    if not line.startswith("PORT "):
        raise RuntimeError(f"Expected 'PORT n' from the {role} process, got {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}/v1"


# ---------------------------------------------------------------- client measurements


async def _one(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[float, float]:
    """(time to first body bytes, total time) of one request, in seconds."""
    started = time.perf_counter()
    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
        first = await r.content.readany()
        first_at = time.perf_counter() - started
        while await r.content.readany():
            pass
        if r.status != 200 or not first:
            raise RuntimeError(f"Expected 200 with a body from {url}, got {r.status}")
    return first_at, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _sequential(url: str, body: bytes, n: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        for _ in range(20):
            await _one(session, url, body)
        samples = [await _one(session, url, body) for _ in range(n)]
    totals = [t for _, t in samples]
    firsts = [f for f, _ in samples]
    return {
        "p50_ms": _pct(totals, 0.5) * 1e3,
        "p99_ms": _pct(totals, 0.99) * 1e3,
        "ttfc_p50_ms": _pct(firsts, 0.5) * 1e3,
    }


async def _throughput(url: str, body: bytes, seconds: float) -> float:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(CONCURRENCY):
            await _one(session, url, body)
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await _one(session, url, body)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return done / (time.perf_counter() - started)


Measure = Callable[[str], Awaitable[dict[str, float]]]


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    upstream, upstream_url = _start("upstream")
    forwarder, forwarder_url = _start("forwarder", upstream_url)
    proxy, proxy_url = _start("proxy", upstream_url)
    targets = {"direct": upstream_url, "floor": forwarder_url, "proxy": proxy_url}
    results: dict[str, dict[str, list[float]]] = {t: {} for t in targets}
    try:
        for _ in range(args.rounds):
            for target, base in targets.items():
                url = f"{base}/chat/completions"
                row = results[target]
                seq = await _sequential(url, REQUEST, args.requests)
                sseq = await _sequential(url, STREAM_REQUEST, args.requests // 2)
                figures = {
                    "json_p50_ms": seq["p50_ms"],
                    "json_p99_ms": seq["p99_ms"],
                    "stream_p50_ms": sseq["p50_ms"],
                    "stream_p99_ms": sseq["p99_ms"],
                    "stream_ttfc_p50_ms": sseq["ttfc_p50_ms"],
                    "json_rps_32": await _throughput(url, REQUEST, args.concurrent_s),
                    "stream_rps_32": await _throughput(url, STREAM_REQUEST, args.concurrent_s),
                }
                for key, value in figures.items():
                    row.setdefault(key, []).append(value)
    finally:
        for process in (proxy, forwarder, upstream):
            process.terminate()
            process.wait(timeout=10)
    medians = {
        t: {k: round(statistics.median(v), 4) for k, v in r.items()} for t, r in results.items()
    }
    p, f, d = medians["proxy"], medians["floor"], medians["direct"]
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "aiohttp": aiohttp.__version__,
        },
        "rounds": args.rounds,
        "requests_per_round": args.requests,
        "medians": medians,
        "comparison": {
            "json_added_p50_ms_vs_floor": round(p["json_p50_ms"] - f["json_p50_ms"], 4),
            "stream_added_p50_ms_vs_floor": round(p["stream_p50_ms"] - f["stream_p50_ms"], 4),
            "json_throughput_ratio_vs_floor": round(p["json_rps_32"] / f["json_rps_32"], 3),
            "stream_throughput_ratio_vs_floor": round(p["stream_rps_32"] / f["stream_rps_32"], 3),
            "stream_ttfc_added_ms_vs_direct": round(
                p["stream_ttfc_p50_ms"] - d["stream_ttfc_p50_ms"], 4
            ),
        },
    }


def main() -> int:
    """Run the benchmark (or, with --serve, one of its server processes)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrent-s", type=float, default=3.0)
    parser.add_argument("--serve", choices=("upstream", "forwarder", "proxy"))
    parser.add_argument("--upstream", default="")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve_child(args.serve, args.upstream))
        return 0
    print(json.dumps(asyncio.run(_run(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
