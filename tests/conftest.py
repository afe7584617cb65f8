"""Fixtures for proxy tests: a scripted fake upstream, the proxy in front of it, captured logs.

`fake_upstream` is a started `FakeOpenAIServer`; `proxy` is a `RunningProxy` forwarding every model
to it with default limits; `logs` captures structlog JSON lines. Tests needing other settings use
`tests.harness.running_proxy(proxy_config(fake_upstream.base_url, ...))` directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import LogCapture, RunningProxy, proxy_config, running_proxy


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeOpenAIServer]:
    """A started fake OpenAI-compatible upstream."""
    async with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
async def proxy(fake_upstream: FakeOpenAIServer) -> AsyncIterator[RunningProxy]:
    """The proxy (mode off by default) in front of `fake_upstream`."""
    async with running_proxy(proxy_config(fake_upstream.base_url)) as running:
        yield running


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """structlog output captured as JSON lines for the duration of the test."""
    with LogCapture() as capture:
        yield capture
