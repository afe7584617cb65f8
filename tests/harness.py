"""Reusable test plumbing: run a fake upstream and the proxy on loopback, in-loop or in a thread.

- `proxy_config(upstream_url, ...)`: a `Config` with one OpenAI-compatible upstream (all models)
  and optional `[server]` / `[assurance]` overrides.
- `running_proxy(config)`: async context manager that serves `create_app(config)` on 127.0.0.1:0
  with the same runner settings as `assurance serve`; yields a `RunningProxy` (base URL ending in
  `/v1`, and the app for inspecting state).
- `ThreadedStack`: a fake upstream plus the proxy on an event loop in a background thread, so the
  synchronous `openai.OpenAI` client can be driven from the test thread.
- `LogCapture`: structlog configured to render JSON lines into memory (`lines()` decodes them).

The pipeline tests reuse these with their own `setup_assurance`.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from aiohttp import web

from proxy.config import Config, config_from_mapping
from proxy.server.app import SetupAssurance, create_app
from proxy.server.log import configure_logging, reset_stdlib_logging
from proxy.server.runner import make_runner
from tests.fakes.openai_server import FakeOpenAIServer

T = TypeVar("T")


def proxy_config(
    upstream_url: str,
    *,
    api_key_env: str | None = None,
    models: tuple[str, ...] = ("*",),
    server: dict[str, Any] | None = None,
    assurance: dict[str, Any] | None = None,
    upstream: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Config:
    """A config with one OpenAI-compatible upstream named `fake` at `upstream_url`.

    `server`, `assurance`, `upstream` override those tables' keys; `extra` adds or replaces tables.
    """
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 2.0, **(server or {})},
        "upstreams": [
            {
                "name": "fake",
                "kind": "openai",
                "base_url": upstream_url,
                "api_key_env": api_key_env,
                "models": list(models),
                "connect_timeout_s": 2.0,
                "read_timeout_s": 5.0,
                **(upstream or {}),
            }
        ],
        **(extra or {}),
    }
    if api_key_env is None and extra is None:
        del raw["upstreams"][0]["api_key_env"]
    if assurance is not None:
        raw["assurance"] = assurance
    return config_from_mapping(raw)


@dataclass(frozen=True)
class RunningProxy:
    """A proxy serving on loopback."""

    app: web.Application
    root_url: str  # http://127.0.0.1:PORT

    @property
    def base_url(self) -> str:
        """The OpenAI SDK `base_url` for this proxy."""
        return f"{self.root_url}/v1"


@asynccontextmanager
async def running_proxy(
    config: Config, *, setup_assurance: SetupAssurance | None = None
) -> AsyncIterator[RunningProxy]:
    """Serve the proxy for `config` on 127.0.0.1 (free port) for the duration of the block."""
    app = create_app(config, setup_assurance=setup_assurance)
    runner = make_runner(app, shutdown_grace_s=config.server.shutdown_grace_s)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield RunningProxy(app=app, root_url=f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


class ThreadedStack:
    """A fake upstream and a proxy running on an event loop in a daemon thread.

    Use as a context manager; `fake` is the `FakeOpenAIServer` (script it from the test thread
    before sending requests) and `proxy.base_url` is the SDK base URL.
    """

    def __init__(self, **config_options: Any) -> None:
        self._options = config_options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.fake = FakeOpenAIServer()
        self._proxy_cm: Any = None
        self.proxy: RunningProxy | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    @property
    def base_url(self) -> str:
        """The proxy's SDK base URL."""
        assert self.proxy is not None
        return self.proxy.base_url

    async def _start(self) -> RunningProxy:
        url = await self.fake.start()
        self._proxy_cm = running_proxy(proxy_config(url, **self._options))
        proxy: RunningProxy = await self._proxy_cm.__aenter__()
        return proxy

    async def _stop(self) -> None:
        if self._proxy_cm is not None:
            await self._proxy_cm.__aexit__(None, None, None)
        await self.fake.close()

    def __enter__(self) -> ThreadedStack:
        self._thread.start()
        self.proxy = self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


class LogCapture:
    """structlog rendering JSON lines into memory, as `assurance serve` renders them to stdout."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def __enter__(self) -> LogCapture:
        configure_logging(self.buffer, level="debug", cache_loggers=False)
        return self

    def __exit__(self, *exc: object) -> None:
        structlog.reset_defaults()
        reset_stdlib_logging()

    def text(self) -> str:
        """Everything logged so far, verbatim."""
        return self.buffer.getvalue().decode()

    def lines(self) -> list[dict[str, Any]]:
        """Every log line decoded."""
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]

    def events(self, event: str) -> list[dict[str, Any]]:
        """The decoded lines whose `event` is `event`."""
        return [line for line in self.lines() if line.get("event") == event]
