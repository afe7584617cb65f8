"""Fixtures for the hostile-input and fault suites: the proxy with the assurance pipeline (default
deterministic oracles) in front of a scripted fake upstream, raw HTTP helpers, captured logs.

Raw `aiohttp` requests are used where the official SDKs cannot send the bytes under test (invalid
UTF-8, escaped keys, corrupt compression); streams are read through the `openai` SDK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import LogCapture, RunningProxy

BODY: dict[str, Any] = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}


@dataclass(frozen=True)
class Answer:
    """One raw HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        """The OpenAI error object of the answer (asserting the shape)."""
        payload = self.json()
        assert set(payload) == {"error"}, payload
        error = payload["error"]
        assert set(error) == {"message", "type", "param", "code"}, error
        assert isinstance(error["message"], str)
        assert error["message"]
        return dict(error)


def no_traceback(logs: LogCapture) -> None:
    """Every captured line is one JSON object and none carries a traceback."""
    text = logs.text()
    lines = logs.lines()  # raises on a non-JSON line
    assert len(lines) == len([line for line in text.splitlines() if line.strip()])
    assert "Traceback" not in text
    assert not [line for line in lines if "exception" in line or "exc_info" in line]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """structlog (and stdlib logging) output captured as JSON lines."""
    with LogCapture() as capture:
        yield capture


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeOpenAIServer]:
    """A started fake OpenAI-compatible upstream."""
    async with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
async def proxy(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, logs: LogCapture
) -> AsyncIterator[RunningProxy]:
    """The proxy with the assurance pipeline (logs captured from its start)."""
    async with assured_proxy(fake_upstream.base_url, tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session (sends whatever bytes a test gives it)."""
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession,
    proxy: RunningProxy,
    body: bytes,
    *,
    mode: str = "off",
    path: str = "/chat/completions",
    headers: dict[str, str] | None = None,
) -> Answer:
    """POST raw `body` to the proxy with `X-Assurance-Mode: mode`."""
    sent = {"Content-Type": "application/json", "X-Assurance-Mode": mode, **(headers or {})}
    async with http.post(proxy.base_url + path, data=body, headers=sent) as response:
        return Answer(response.status, await response.read(), dict(response.headers))


def body_with(**fields: Any) -> bytes:
    """BODY plus `fields`, JSON-encoded."""
    return json.dumps({**BODY, **fields}).encode()
