"""Replicas for scale-out tests: `assurance serve` subprocesses sharing one `[store]`.

`Replica.start(config_text)` writes the TOML, runs `python -m proxy.commands.serve --config FILE`
(the module `assurance serve` dispatches to), reads the listening port from its JSON log and keeps
draining stdout (so a chatty replica never blocks on a full pipe). `kill()` is SIGKILL, `stop()` is
SIGTERM and waits for the exit code. `replica_config` renders the shared TOML.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path


def replica_config(
    upstream_url: str, store_toml: str, *, mode: str = "off", server_toml: str = ""
) -> str:
    """TOML for one replica: the fake upstream, deterministic oracles, the given `[store]`."""
    return f"""
[server]
host = "127.0.0.1"
port = 0
shutdown_grace_s = 5.0
{server_toml}

[[upstreams]]
name = "fake"
kind = "openai"
base_url = "{upstream_url}"
models = ["*"]
connect_timeout_s = 2.0
read_timeout_s = 10.0

[assurance]
default_mode = "{mode}"

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
{store_toml}
"""


class Replica:
    """One `assurance serve` process."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.lines: list[str] = []
        self._drain = asyncio.ensure_future(self._read_rest())

    @property
    def root_url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The SDK base URL."""
        return f"{self.root_url}/v1"

    @classmethod
    async def start(cls, config_text: str, directory: Path, name: str) -> Replica:
        """Write the config and start the process; returns once it is listening."""
        path = directory / f"{name}.toml"
        path.write_text(config_text)
        env = {**os.environ, "OPENAI_API_KEY": ""}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy.commands.serve", "--config", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            port = await asyncio.wait_for(_listening_port(process.stdout), timeout=60)
        except BaseException:
            process.kill()
            await process.wait()
            raise
        return cls(process, port)

    async def _read_rest(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace"))

    def kill(self) -> None:
        """SIGKILL: the replica dies mid-whatever."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=timeout_s)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._drain, timeout=5)
        return code


async def _listening_port(stdout: asyncio.StreamReader) -> int:
    lines: list[str] = []
    while True:
        line = await stdout.readline()
        if not line:
            raise AssertionError("assurance serve exited before listening:\n" + "".join(lines))
        lines.append(line.decode(errors="replace"))
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("event") == "proxy_listening":
                return int(event["port"])
