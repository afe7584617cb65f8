"""Metrics and logs: Prometheus counts per route, status and upstream; one JSON line per request."""

from __future__ import annotations

from typing import Any

import aiohttp
from openai import AsyncOpenAI

from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import LogCapture, proxy_config, running_proxy

PRIVATE_PROMPT = "my-private-diagnosis-text"
MESSAGES: list[Any] = [{"role": "user", "content": PRIVATE_PROMPT}]


async def test_metrics_count_requests_by_route_status_and_upstream(
    fake_upstream: FakeOpenAIServer,
) -> None:
    """/metrics reports request counts, the upstream latency histogram and the in-flight gauge."""
    async with running_proxy(proxy_config(fake_upstream.base_url)) as proxy:
        async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
            await client.chat.completions.create(model="gpt-fake", messages=MESSAGES)
            await client.chat.completions.create(model="gpt-fake", messages=MESSAGES)
        async with aiohttp.ClientSession() as session:
            await (await session.post(f"{proxy.base_url}/chat/completions", data=b"{")).read()
            async with session.get(f"{proxy.root_url}/metrics") as resp:
                text = await resp.text()
                content_type = resp.headers["Content-Type"]
    assert content_type.startswith("text/plain")
    ok = 'route="/v1/chat/completions",status="200",upstream="fake"'
    bad = 'route="/v1/chat/completions",status="400",upstream="none"'
    assert f"assurance_proxy_requests_total{{{ok}}} 2.0" in text
    assert f"assurance_proxy_requests_total{{{bad}}} 1.0" in text
    assert 'assurance_proxy_upstream_latency_seconds_count{upstream="fake"} 2.0' in text
    assert "assurance_proxy_in_flight_requests 0.0" in text


async def test_one_log_line_per_request_without_secrets_or_content(
    fake_upstream: FakeOpenAIServer, logs: LogCapture, monkeypatch: Any
) -> None:
    """Each request logs one JSON line with id, route, model, status, latency; no key or prompt."""
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", "sk-upstream-secret-999")
    config = proxy_config(fake_upstream.base_url, api_key_env="FAKE_UPSTREAM_KEY")
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="sk-client-secret", max_retries=0) as client,
    ):
        completion = await client.chat.completions.with_raw_response.create(
            model="gpt-fake", messages=MESSAGES
        )
        stream = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, stream=True
        )
        async for _ in stream:
            pass
    lines = logs.events("request")
    assert len(lines) == 2
    first = lines[0]
    assert first["request_id"] == completion.headers["X-Request-Id"]
    assert first["route"] == "/v1/chat/completions"
    assert first["model"] == "gpt-fake"
    assert first["upstream"] == "fake"
    assert first["status"] == 200
    assert first["mode"] == "off"
    assert isinstance(first["latency_ms"], float)
    assert lines[1]["stream"] is True
    everything = logs.text()
    for secret in ("sk-upstream-secret-999", "sk-client-secret", PRIVATE_PROMPT, "Hello from"):
        assert secret not in everything
