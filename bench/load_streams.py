"""Stream load (issue 10): 256 concurrent streaming clients against `assurance serve`, RSS growth.

The proxy runs as its own process (`python -m proxy.commands.serve`, deterministic oracles, SQLite
store in a temporary directory) in front of the fixed-answer upstream (`proxy.upstreams.demo`, its
own process too); the clients (aiohttp, one session, `--clients` at once) stream chat completions
over loopback, each request reading the SSE body to `[DONE]`. Per mode (`off`, `shadow`): a warm-up
round (one request per client), the proxy's RSS, then `--requests` requests per client (bounded by
`--time-limit-s`), RSS again. Reports requests, errors (non-200 or a stream without `[DONE]` or,
in shadow, without the card), p50/p99 latency, throughput and RSS growth, as JSON.

Run: `.venv/bin/python -m bench.load_streams [--clients 256] [--requests 8] [--out FILE]`.
It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from proxy.upstreams.demo import FixedAnswer, serve_fixed_answer

MESSAGES = [{"role": "user", "content": "What is the recommended dose?"}]
EVIDENCE = [{"id": "e1", "text": "The recommended dose is five milligrams twice a day."}]
ANSWER = "The recommended dose is five milligrams twice a day."


async def _upstream_main() -> None:
    async with serve_fixed_answer(FixedAnswer(content=ANSWER)) as url:
        print(url, flush=True)
        await asyncio.Event().wait()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _start(args: list[str], until: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, env={**os.environ}
    )
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=120)).decode()
        if not line:
            raise RuntimeError(f"{args} exited early")
        if until in line:
            # drain the rest of its output so the pipe never fills
            asyncio.get_running_loop().create_task(_drain(process.stdout))
            return process, line.strip()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def _one(session: aiohttp.ClientSession, url: str, mode: str) -> tuple[bool, float]:
    body: dict[str, Any] = {"model": "demo-model", "messages": MESSAGES, "stream": True}
    if mode != "off":
        body["assurance"] = {"evidence": EVIDENCE}
    started = time.perf_counter()
    try:
        async with session.post(url, json=body, headers={"X-Assurance-Mode": mode}) as response:
            data = await response.read()
            ok = response.status == 200 and data.endswith(b"data: [DONE]\n\n")
            if mode == "shadow":
                ok = ok and b'"assurance"' in data
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    return ok, time.perf_counter() - started


async def _phase(url: str, mode: str, options: argparse.Namespace, pid: int) -> dict[str, Any]:
    clients, per_client, time_limit_s = options.clients, options.requests, options.time_limit_s
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(_one(session, url, mode) for _ in range(clients)))  # warm-up
        rss_before = _rss_kib(pid)
        deadline = time.monotonic() + time_limit_s
        results: list[tuple[bool, float]] = []

        async def client() -> None:
            for _ in range(per_client):
                if time.monotonic() > deadline:
                    return
                results.append(await _one(session, url, mode))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        rss_after = _rss_kib(pid)
    latencies = sorted(latency for _, latency in results)
    return {
        "mode": mode,
        "clients": clients,
        "requests": len(results),
        "errors": sum(1 for ok, _ in results if not ok),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1),
        "throughput_rps": round(len(results) / elapsed, 1),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_growth_pct": round(100.0 * (rss_after - rss_before) / rss_before, 2),
    }


async def main(options: argparse.Namespace) -> dict[str, Any]:
    """Start upstream and proxy, run the phases, stop both; the report."""
    upstream, upstream_url = await _start(
        ["-m", "bench.load_streams", "--upstream-only"], "http://"
    )
    try:
        return await _measure(options, upstream_url)
    finally:
        upstream.terminate()
        await upstream.wait()


async def _measure(options: argparse.Namespace, upstream_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "proxy.toml"
        config.write_text(
            f"[server]\nmax_concurrency = {options.clients * 2}\nport = 0\n"
            f'[[upstreams]]\nname = "demo"\nbase_url = "{upstream_url}"\n'
            f'[store]\npath = "{Path(tmp) / "store.sqlite3"}"\n'
        )
        proxy, line = await _start(
            ["-m", "proxy.commands.serve", "--config", str(config)],
            "proxy_listening",
        )
        port = json.loads(line)["port"]
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        try:
            phases = [
                await _phase(url, mode, options, proxy.pid) for mode in options.modes.split(",")
            ]
        finally:
            proxy.terminate()
            await proxy.wait()
    return {
        "benchmark": "load: concurrent streaming clients, proxy RSS growth",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "settings": {"clients": options.clients, "requests_per_client": options.requests},
        "phases": phases,
    }


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--requests", type=int, default=8, help="per client and mode")
    parser.add_argument("--time-limit-s", type=float, default=180.0, help="per mode")
    parser.add_argument("--modes", default="off,shadow")
    parser.add_argument("--out", help="also write the JSON report here")
    parser.add_argument("--upstream-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    parsed = _parse()
    if parsed.upstream_only:
        asyncio.run(_upstream_main())
    else:
        report = asyncio.run(main(parsed))
        text = json.dumps(report, indent=2)
        print(text)
        if parsed.out:
            Path(parsed.out).write_text(text + "\n")
