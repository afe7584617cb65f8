"""Every failure the client can meet comes back in OpenAI's error shape with the right status."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from proxy.server.state import ASSURED_CHAT
from tests.fakes.openai_server import (
    DropReply,
    FakeOpenAIServer,
    JsonReply,
    StreamReply,
    stream_chunks,
)
from tests.harness import RunningProxy, proxy_config, running_proxy

MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]
VALID = {"model": "gpt-fake", "messages": MESSAGES}


async def post(
    url: str, *, data: Any = None, json: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    """POST and return status, decoded JSON body and headers."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, json=json, headers=headers) as resp,
    ):
        return resp.status, await resp.json(content_type=None), dict(resp.headers)


def assert_openai_error(body: Any, *, code: str | None = None, param: str | None = None) -> None:
    """`body` is an OpenAI error object (with the given code / param when stated)."""
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    if param is not None:
        assert body["error"]["param"] == param


async def test_malformed_json_is_a_400(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """A body that is not JSON gets 400 invalid_json and nothing is forwarded."""
    status, body, _ = await post(f"{proxy.base_url}/chat/completions", data=b'{"model": ')
    assert status == 400
    assert_openai_error(body, code="invalid_json")
    assert fake_upstream.requests == []


@pytest.mark.parametrize("missing", ["model", "messages"])
async def test_missing_required_field_is_a_400_naming_it(proxy: RunningProxy, missing: str) -> None:
    """Leaving out model or messages gets 400 whose param names the field."""
    request = {k: v for k, v in VALID.items() if k != missing}
    status, body, _ = await post(f"{proxy.base_url}/chat/completions", json=request)
    assert status == 400
    assert_openai_error(body, param=missing, code="missing_required_parameter")


async def test_wrongly_typed_field_is_a_400_naming_it(proxy: RunningProxy) -> None:
    """A non-string model gets 400 whose param is `model`."""
    status, body, _ = await post(f"{proxy.base_url}/chat/completions", json={**VALID, "model": 3})
    assert status == 400
    assert_openai_error(body, param="model")


async def test_unknown_model_is_a_404(fake_upstream: FakeOpenAIServer) -> None:
    """A model no upstream serves gets 404 model_not_found (the SDK's NotFoundError)."""
    config = proxy_config(fake_upstream.base_url, models=("gpt-*",))
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="claude-x", messages=MESSAGES)
    assert caught.value.code == "model_not_found"
    assert fake_upstream.requests == []


async def test_body_over_the_limit_is_a_413(fake_upstream: FakeOpenAIServer) -> None:
    """A body larger than server.max_body_bytes gets 413, declared or chunked."""
    config = proxy_config(fake_upstream.base_url, server={"max_body_bytes": 1000})
    big = {**VALID, "messages": [{"role": "user", "content": "x" * 2000}]}
    async with running_proxy(config) as proxy:
        status, body, _ = await post(f"{proxy.base_url}/chat/completions", json=big)
        assert status == 413
        assert_openai_error(body, code="request_too_large")

        async def chunked() -> Any:
            yield b'{"model": "gpt-fake", "messages": [{"role": "user", "content": "'
            yield b"x" * 2000
            yield b'"}]}'

        status, body, _ = await post(f"{proxy.base_url}/chat/completions", data=chunked())
        assert status == 413
    assert fake_upstream.requests == []


async def test_too_many_concurrent_requests_is_a_429_with_retry_after(
    fake_upstream: FakeOpenAIServer,
) -> None:
    """Past server.max_concurrency in-flight requests the proxy answers 429 with Retry-After."""
    fake_upstream.script(JsonReply({"ok": True}, delay_s=0.5))
    config = proxy_config(fake_upstream.base_url, server={"max_concurrency": 1})
    async with running_proxy(config) as proxy:
        slow = asyncio.ensure_future(post(f"{proxy.base_url}/chat/completions", json=VALID))
        await fake_upstream.wait_for_requests(1)
        status, body, headers = await post(f"{proxy.base_url}/chat/completions", json=VALID)
        assert (await slow)[0] == 200
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert_openai_error(body, code="too_many_concurrent_requests")


async def test_unreachable_upstream_is_a_502() -> None:
    """An upstream that refuses connections gets 502 upstream_unreachable."""
    async with FakeOpenAIServer() as gone:
        url = gone.base_url
    async with running_proxy(proxy_config(url)) as proxy:
        status, body, _ = await post(f"{proxy.base_url}/chat/completions", json=VALID)
    assert status == 502
    assert_openai_error(body, code="upstream_unreachable")


async def test_upstream_dropping_the_connection_is_a_502(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """An upstream that closes the connection without answering gets 502."""
    fake_upstream.script(DropReply())
    status, body, _ = await post(f"{proxy.base_url}/chat/completions", json=VALID)
    assert status == 502
    assert_openai_error(body, code="upstream_unreachable")


async def test_slow_upstream_is_a_504(fake_upstream: FakeOpenAIServer) -> None:
    """An upstream slower than read_timeout_s gets 504 upstream_timeout, raised by the SDK."""
    fake_upstream.script(JsonReply({"late": True}, delay_s=1.0))
    config = proxy_config(fake_upstream.base_url, upstream={"read_timeout_s": 0.2})
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="gpt-fake", messages=MESSAGES)
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
async def test_upstream_error_status_and_body_pass_through(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer, status: int
) -> None:
    """An upstream 4xx/5xx reaches the client with its status and its exact body."""
    raw = b'{"error": {"message": "provider says no", "type": "x", "param": null, "code": "c"}}'
    fake_upstream.script(JsonReply(raw=raw, status=status))
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.base_url}/chat/completions", json=VALID) as resp,
    ):
        assert resp.status == status
        assert await resp.read() == raw


async def test_upstream_error_on_a_stream_passes_through(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """A stream the upstream refuses reaches the SDK with the upstream's status and code."""
    raw = b'{"error": {"message": "quota gone", "type": "insufficient_quota", "param": null,'
    raw += b' "code": "insufficient_quota"}}'
    fake_upstream.script(JsonReply(raw=raw, status=429))
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-fake", messages=MESSAGES, stream=True)
    assert caught.value.code == "insufficient_quota"


async def test_malformed_upstream_body_passes_through_in_mode_off(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Mode off does not judge the upstream's body: malformed bytes reach the client unchanged."""
    fake_upstream.script(JsonReply(raw=b"{not json", status=200))
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.base_url}/chat/completions", json=VALID) as resp,
    ):
        assert resp.status == 200
        assert await resp.read() == b"{not json"


async def test_stream_cut_midway_ends_with_an_error_event(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """When the upstream drops a stream midway the client gets an SSE error event, not silence."""
    fake_upstream.script(StreamReply(stream_chunks(("a", "b", "c", "d")), drop_after=2))
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-fake", messages=MESSAGES, stream=True
        )
        received: list[Any] = []

        async def drain() -> None:
            async for chunk in stream:
                received.append(chunk)

        with pytest.raises(openai.APIError) as caught:
            await drain()
    assert len(received) == 2
    assert "upstream" in caught.value.message.lower()


async def test_unknown_assurance_mode_is_a_400(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """An X-Assurance-Mode outside off/shadow/enforce gets 400 naming the header."""
    status, body, _ = await post(
        f"{proxy.base_url}/chat/completions", json=VALID, headers={"X-Assurance-Mode": "audit"}
    )
    assert status == 400
    assert_openai_error(body, param="X-Assurance-Mode", code="invalid_assurance_mode")
    assert fake_upstream.requests == []


@pytest.mark.parametrize("mode", ["shadow", "enforce"])
async def test_assurance_modes_without_a_pipeline_are_a_501(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer, mode: str
) -> None:
    """Without an installed pipeline, shadow and enforce answer 501 and forward nothing."""
    status, body, _ = await post(
        f"{proxy.base_url}/chat/completions", json=VALID, headers={"X-Assurance-Mode": mode}
    )
    assert status == 501
    assert_openai_error(body, code="assurance_mode_unavailable")
    assert fake_upstream.requests == []


async def test_unknown_route_is_an_openai_shaped_404(proxy: RunningProxy) -> None:
    """A path outside /v1/ (which is passed through) gets 404 in OpenAI's error shape."""
    status, body, _ = await post(f"{proxy.root_url}/v2/completions-legacy", json=VALID)
    assert status == 404
    assert_openai_error(body, code="not_found")


async def test_unknown_v1_route_relays_the_upstream_404(proxy: RunningProxy) -> None:
    """An unknown /v1/ path is passed through: the upstream's own 404 comes back."""
    status, body, _ = await post(f"{proxy.base_url}/completions-legacy", json=VALID)
    assert status == 404
    assert "Invalid URL" in body["error"]["message"]


async def test_unexpected_exception_is_a_500_without_traceback(
    fake_upstream: FakeOpenAIServer,
) -> None:
    """A bug in a handler gives a generic 500 error body that leaks no exception text."""

    async def broken(*_: Any) -> Any:
        raise RuntimeError("secret internal detail")

    def install(app: Any) -> None:
        app[ASSURED_CHAT] = broken

    async with running_proxy(proxy_config(fake_upstream.base_url), setup_assurance=install) as px:
        status, body, _ = await post(
            f"{px.base_url}/chat/completions", json=VALID, headers={"X-Assurance-Mode": "shadow"}
        )
    assert status == 500
    assert_openai_error(body)
    assert "secret" not in body["error"]["message"]
    assert "Traceback" not in body["error"]["message"]
