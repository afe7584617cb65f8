"""Running the app as a server: bind, log the address, and on SIGTERM/SIGINT drain then exit.

On a stop signal `/readyz` answers 503 at once. For `server.drain_s` seconds (default 0) requests
are still accepted, so load balancers move away first; then the proxy drains: new requests get 503
`shutting_down` (the listener stays open so probes keep answering) and requests in flight get
`server.shutdown_grace_s` seconds to finish; then their handlers are cancelled, and the edge
middleware answers each with 503 or ends its stream with a final `shutting_down` error event.
Only then is aiohttp's own shutdown run, with a short timeout since nothing is left to wait for,
so the process exits 0 about `drain_s` + `shutdown_grace_s` + 0.3 s after the signal at the
latest. Handler cancellation is on, so a client that disconnects cancels its upstream request.
aiohttp's HTTP layer answers malformed requests in OpenAI's error shape (`proxy.server.protocol`).
This module does not parse configuration.
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from proxy.config import Config
from proxy.server.app import SetupAssurance, create_app
from proxy.server.protocol import ProxyRunner
from proxy.server.state import STATE, ProxyState

_log = structlog.get_logger("proxy.server.runner")
# after the grace period: how long cancelled handlers get to send their final event, and
# aiohttp's own per-connection shutdown wait (every handler is finished by then)
CLOSE_WAIT_S = 0.2


def make_runner(app: web.Application, *, shutdown_grace_s: float) -> web.AppRunner:
    """An `AppRunner` with the proxy's settings (no aiohttp access log, handler cancellation).

    `shutdown_grace_s` bounds aiohttp's own wait for handlers still running at cleanup; `serve`
    drains before that, so its cleanup finds none.
    """
    return ProxyRunner(
        app,
        handle_signals=False,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=shutdown_grace_s,
    )


async def drain(state: ProxyState, grace_s: float) -> int:
    """Wait up to `grace_s` for the requests in flight, then cancel the rest; how many were cut."""
    state.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    while state.tasks and (left := deadline - loop.time()) > 0:
        await asyncio.wait(set(state.tasks), timeout=left)
    remaining = set(state.tasks)
    if remaining:
        state.closing = True
        for task in remaining:
            task.cancel()
        await asyncio.wait(remaining, timeout=CLOSE_WAIT_S)
    return len(remaining)


async def serve(
    config: Config,
    *,
    setup_assurance: SetupAssurance | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or until `stop` is set), then drain and return."""
    app = create_app(config, setup_assurance=setup_assurance)
    runner = make_runner(app, shutdown_grace_s=CLOSE_WAIT_S)
    try:
        await runner.setup()
    except BaseException:
        # a failed start-up (e.g. an unopenable store): close what the earlier contexts opened
        await app.cleanup()
        raise
    stop_event = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_event.set)
    state = app[STATE]
    try:
        site = web.TCPSite(runner, config.server.host, config.server.port, backlog=1024)
        await site.start()
        for address in runner.addresses:
            host, port = address[0], address[1]
            _log.info("proxy_listening", host=host, port=port)
        await stop_event.wait()
        state.stopping = True
        drain_s = config.server.drain_s
        if drain_s > 0:
            # /readyz answers 503 while requests are still accepted, so balancers move away first
            _log.info("proxy_draining", in_flight=state.in_flight, drain_s=drain_s)
            await asyncio.sleep(drain_s)
        grace = config.server.shutdown_grace_s
        _log.info("proxy_stopping", in_flight=state.in_flight, grace_s=grace)
        cut = await drain(state, grace)
        if cut:
            _log.warning("proxy_grace_expired", cancelled=cut)
    finally:
        await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    _log.info("proxy_stopped")


def run_server(config: Config, *, setup_assurance: SetupAssurance | None = None) -> int:
    """Blocking entry point used by `assurance serve`; returns the process exit code."""
    asyncio.run(serve(config, setup_assurance=setup_assurance))
    return 0
