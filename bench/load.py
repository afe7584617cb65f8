"""Load and drain benchmark: many concurrent streaming clients against `assurance serve`, per store.

For each store backend (SQLite file, PostgreSQL) it starts a fixed-answer upstream
(`proxy.upstreams.demo`) and the proxy as separate processes, warms up, then measures
`--requests` streaming requests at `--concurrency` clients in mode `off` and in mode `shadow`, and
`--enforce-requests` at `--enforce-concurrency` clients in mode `enforce` (deterministic oracles:
sentence decomposer, lexical NLI, rules paraphraser, no embedder). It reports p50/p99 latency,
errors, throughput, and the proxy's RSS after warm-up and at the end (growth %). Finally SIGTERM
under load: with streams in flight it signals the proxy and records what `/readyz` answered, how
many in-flight streams (answered by a second upstream after 2 s) completed, the exit code and the
time to exit, with `[server] drain_s = --drain-s`.

PostgreSQL comes from `--pg-url` (password in `PGPASSWORD`), else a throwaway cluster is started
with the tests' `tests.pg.PostgresServer` (initdb/pg_ctl). The issue's full size is
`--requests 10000 --concurrency 256 --enforce-concurrency 64`; smaller runs fit a loaded machine.

Run: `python -m bench.load [--requests N] [--backends sqlite,postgresql] [--out FILE]`.
It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from proxy.upstreams.demo import FixedAnswer, serve_fixed_answer
from tests.pg import PASSWORD, PostgresServer

ANSWER = "Aspirin inhibits cyclooxygenase enzymes. It reduces fever and pain in adults."
EVIDENCE = [{"id": "e1", "text": ANSWER}]
# the upstream think time of the SIGTERM phase's requests (model `slow-model`)
SLOW_S = 2.0


def _body(mode: str, model: str = "demo-model") -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "What does aspirin do?"}],
        "stream": True,
    }
    if mode != "off":
        body["assurance"] = {"evidence": EVIDENCE}
    return json.dumps(body).encode()


def _config(upstream: str, slow: str, store: str, grace_s: float, drain_s: float) -> str:
    return f"""
[server]
host = "127.0.0.1"
port = 0
max_concurrency = 1024
shutdown_grace_s = {grace_s}
drain_s = {drain_s}

[[upstreams]]
name = "slow"
kind = "openai"
base_url = "{slow}"
models = ["slow-*"]

[[upstreams]]
name = "demo"
kind = "openai"
base_url = "{upstream}"
models = ["*"]

[assurance]
default_mode = "off"
default_policy = "creative"

[oracles.decomposer]
kind = "sentences"

[oracles.nli]
kind = "lexical"
aggregation = "concat"

[oracles.paraphraser]
kind = "rules"

[oracles.embedder]
kind = "none"

[store]
{store}
"""


class Proxy:
    """`python -m proxy.commands.serve --config FILE` with its stdout drained."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self._drain = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, config: str, directory: Path) -> Proxy:
        path = directory / "proxy.toml"
        path.write_text(config)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy.commands.serve", "--config", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "OPENAI_API_KEY": ""},
        )  # fmt: skip
        try:
            return cls(process, await asyncio.wait_for(_listening_port(process), timeout=120))
        except BaseException:
            process.kill()
            await process.wait()
            raise

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for _ in self.process.stdout:
            pass

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=60)


async def _listening_port(process: asyncio.subprocess.Process) -> int:
    assert process.stdout is not None
    while True:
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError("the proxy exited before listening")
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("event") == "proxy_listening":
                return int(event["port"])


async def _stream(session: aiohttp.ClientSession, url: str, body: bytes, mode: str) -> float:
    """One streaming request; its latency, or raises on any error or a missing [DONE]."""
    started = time.perf_counter()
    headers = {"Content-Type": "application/json", "X-Assurance-Mode": mode}
    async with session.post(url, data=body, headers=headers) as response:
        data = await response.read()
    if response.status != 200 or not data.rstrip().endswith(b"data: [DONE]"):
        raise RuntimeError(f"status {response.status}")
    return time.perf_counter() - started


async def _load(base: str, mode: str, requests: int, concurrency: int) -> dict[str, Any]:
    url = f"{base}/v1/chat/completions"
    body = _body(mode)
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            nonlocal errors
            for _ in remaining:
                try:
                    latencies.append(await _stream(session, url, body, mode))
                except (aiohttp.ClientError, RuntimeError, TimeoutError):
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "mode": mode,
        "requests": requests,
        "concurrency": concurrency,
        "errors": errors,
        "p50_ms": round(1000 * _pct(latencies, 0.50), 1),
        "p99_ms": round(1000 * _pct(latencies, 0.99), 1),
        "throughput_rps": round(len(latencies) / elapsed, 1),
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


async def _drain(proxy: Proxy, in_flight: int, grace_s: float, drain_s: float) -> dict[str, Any]:
    """SIGTERM with `in_flight` shadow streams running: what completes, readyz, exit code."""
    url = f"{proxy.url}/v1/chat/completions"
    body = _body("shadow", model="slow-model")
    connector = aiohttp.TCPConnector(limit=in_flight + 1)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [
            asyncio.ensure_future(_stream(session, url, body, "shadow")) for _ in range(in_flight)
        ]
        # the slow upstream answers after SLOW_S: every request is inside the proxy by now
        await asyncio.sleep(SLOW_S / 2)
        signalled = time.perf_counter()
        proxy.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        readyz: str
        try:
            async with session.get(f"{proxy.url}/readyz") as response:
                readyz = str(response.status)
        except aiohttp.ClientError:
            readyz = "refused"
        results = await asyncio.gather(*tasks, return_exceptions=True)
        code = await asyncio.wait_for(proxy.process.wait(), timeout=grace_s + 30)
        exited_s = time.perf_counter() - signalled
    completed = sum(1 for r in results if isinstance(r, float))
    return {
        "in_flight": in_flight,
        "completed": completed,
        "failed": in_flight - completed,
        "readyz_after_sigterm": readyz,
        "exit_code": code,
        "exit_s": round(exited_s, 2),
        "grace_s": grace_s,
        "drain_s": drain_s,
        "upstream_delay_s": SLOW_S,
    }


async def _backend(
    name: str, store: str, upstreams: tuple[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    upstream, slow = upstreams
    config = _config(upstream, slow, store, args.grace_s, args.drain_s)
    with tempfile.TemporaryDirectory() as directory:
        proxy = await Proxy.start(config, Path(directory))
        try:
            await _load(proxy.url, "shadow", args.warmup, min(args.concurrency, 64))
            rss_start = proxy.rss_mib()
            phases = [
                await _load(proxy.url, "off", args.requests, args.concurrency),
                await _load(proxy.url, "shadow", args.requests, args.concurrency),
                await _load(proxy.url, "enforce", args.enforce_requests, args.enforce_concurrency),
            ]
            rss_end = proxy.rss_mib()
            drain = await _drain(proxy, args.drain_in_flight, args.grace_s, args.drain_s)
        finally:
            if proxy.process.returncode is None:
                proxy.process.kill()
                await proxy.process.wait()
    return {
        "backend": name,
        "phases": phases,
        "rss_mib_after_warmup": round(rss_start, 1),
        "rss_mib_end": round(rss_end, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 1),
        "sigterm": drain,
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    server: Any = None
    async with (
        serve_fixed_answer(FixedAnswer(content=ANSWER, model="demo-model")) as upstream,
        serve_fixed_answer(FixedAnswer(content=ANSWER, model="slow-model", delay_s=SLOW_S)) as slow,
    ):
        try:
            for backend in args.backends.split(","):
                if backend == "sqlite":
                    store = f'path = "{tempfile.mkdtemp()}/store.sqlite3"'
                else:
                    url = args.pg_url
                    if url is None:
                        server = PostgresServer()
                        await asyncio.to_thread(server.init)
                        url = server.url
                        os.environ["PGPASSWORD"] = PASSWORD
                    store = f'url = "{url}"\npassword_env = "PGPASSWORD"\npool_max_size = 20'
                results.append(await _backend(backend, store, (upstream, slow), args))
        finally:
            if server is not None:
                await asyncio.to_thread(server.close)
    return {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "note": "upstream, proxy and clients share this machine; fixed answer, no think time",
        "results": results,
    }


def main() -> int:
    """Parse flags, run, print (and optionally write) the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--enforce-requests", type=int, default=2_000)
    parser.add_argument("--enforce-concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--drain-in-flight", type=int, default=64)
    parser.add_argument("--grace-s", type=float, default=10.0)
    parser.add_argument("--drain-s", type=float, default=2.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    report = asyncio.run(_run(args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
