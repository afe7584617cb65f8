"""Fixtures for pipeline tests: a scripted fake upstream and the proxy with the pipeline installed.

`assured_proxy(upstream_url, tmp_path, ...)` serves `create_app(config, setup_assurance=...)` with
deterministic oracles by default (sentence decomposer, `lexical` NLI, rules paraphraser, no
embedder) and a SQLite store under `tmp_path`; tests override any `[oracles.*]` or `[assurance]`
key and may add `[policies.NAME]` tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from proxy.assurance.lifecycle import setup_assurance
from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import RunningProxy, proxy_config, running_proxy

DEFAULT_ORACLES: dict[str, dict[str, Any]] = {
    "decomposer": {"kind": "sentences"},
    "nli": {"kind": "lexical", "aggregation": "concat"},
    "paraphraser": {"kind": "rules"},
    "embedder": {"kind": "none"},
}


@asynccontextmanager
async def assured_proxy(
    upstream_url: str,
    tmp_path: Path,
    *,
    oracles: dict[str, dict[str, Any]] | None = None,
    assurance: dict[str, Any] | None = None,
    policies: dict[str, dict[str, Any]] | None = None,
    clients: list[dict[str, Any]] | None = None,
    server: dict[str, Any] | None = None,
    store: dict[str, Any] | None = None,
    upstream: dict[str, Any] | None = None,
) -> AsyncIterator[RunningProxy]:
    """The proxy with the assurance pipeline in front of `upstream_url` (plus `[policies]`,
    `[[clients]]` and `[server]` keys).

    `store` adds `[store]` keys to the SQLite default under `tmp_path`.
    """
    config = proxy_config(
        upstream_url,
        assurance=assurance,
        server=server,
        upstream=upstream,
        extra={
            "oracles": {**DEFAULT_ORACLES, **(oracles or {})},
            "store": {"path": str(tmp_path / "store.sqlite3"), **(store or {})},
            "policies": policies or {},
            **({"clients": clients} if clients else {}),
        },
    )
    async with running_proxy(config, setup_assurance=setup_assurance) as running:
        yield running


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeOpenAIServer]:
    """A started fake OpenAI-compatible upstream."""
    async with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
async def proxy(fake_upstream: FakeOpenAIServer, tmp_path: Path) -> AsyncIterator[RunningProxy]:
    """The proxy with default (deterministic) oracles in front of `fake_upstream`."""
    async with assured_proxy(fake_upstream.base_url, tmp_path) as running:
        yield running


@pytest.fixture
async def client(proxy: RunningProxy) -> AsyncIterator[AsyncOpenAI]:
    """The official async OpenAI SDK pointed at `proxy`."""
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as sdk:
        yield sdk
