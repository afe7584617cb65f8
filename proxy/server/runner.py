"""Running the app as a server: bind, log the address, and on SIGTERM/SIGINT drain then exit.

On a stop signal `/readyz` turns false and, for `server.drain_s` seconds (default 0), requests are
still accepted; then the listening socket closes (new connections are refused), in-flight
requests get `server.shutdown_grace_s` seconds to finish, then the rest are cancelled and upstream
sessions closed. Handler cancellation is on, so a client that disconnects cancels its upstream
request. This module does not parse configuration.
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from proxy.config import Config
from proxy.server.app import SetupAssurance, create_app
from proxy.server.state import STATE

_log = structlog.get_logger("proxy.server.runner")


def make_runner(app: web.Application, *, shutdown_grace_s: float) -> web.AppRunner:
    """An `AppRunner` with the proxy's settings (no aiohttp access log, handler cancellation)."""
    return web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=shutdown_grace_s,
    )


async def serve(
    config: Config,
    *,
    setup_assurance: SetupAssurance | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or until `stop` is set), then drain and return."""
    app = create_app(config, setup_assurance=setup_assurance)
    runner = make_runner(app, shutdown_grace_s=config.server.shutdown_grace_s)
    await runner.setup()
    stop_event = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_event.set)
    try:
        site = web.TCPSite(runner, config.server.host, config.server.port, backlog=1024)
        await site.start()
        for address in runner.addresses:
            host, port = address[0], address[1]
            _log.info("proxy_listening", host=host, port=port)
        await stop_event.wait()
        drain_s = config.server.drain_s
        if drain_s > 0:
            # /readyz answers 503 while the listener still accepts, so balancers move away first
            app[STATE].ready = False
            _log.info("proxy_draining", in_flight=app[STATE].in_flight, drain_s=drain_s)
            await asyncio.sleep(drain_s)
        _log.info(
            "proxy_stopping",
            in_flight=app[STATE].in_flight,
            grace_s=config.server.shutdown_grace_s,
        )
    finally:
        await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    _log.info("proxy_stopped")


def run_server(config: Config, *, setup_assurance: SetupAssurance | None = None) -> int:
    """Blocking entry point used by `assurance serve`; returns the process exit code."""
    asyncio.run(serve(config, setup_assurance=setup_assurance))
    return 0
