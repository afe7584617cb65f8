"""What the proxy sends upstream: the `assurance` field stripped, keys chosen, headers kept."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import RunningProxy, proxy_config, running_proxy

MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]
ASSURANCE = {"evidence": [{"id": "e1", "text": "The sky is blue."}]}


async def test_assurance_field_is_stripped_before_forwarding(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """A body sent with extra_body assurance reaches the upstream without it, all else intact."""
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            temperature=0.5,
            extra_body={"assurance": ASSURANCE},
        )
    forwarded = fake_upstream.requests[-1].json()
    assert "assurance" not in forwarded
    assert forwarded["temperature"] == 0.5
    assert forwarded["messages"] == MESSAGES


async def test_null_assurance_field_is_stripped_too(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Even `"assurance": null` is removed (providers reject unknown parameters)."""
    body = {"model": "gpt-fake", "messages": MESSAGES, "assurance": None}
    async with aiohttp.ClientSession() as session:
        await (await session.post(f"{proxy.base_url}/chat/completions", json=body)).read()
    assert "assurance" not in fake_upstream.requests[-1].json()


async def test_word_assurance_inside_content_leaves_bytes_untouched(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """A message that merely mentions "assurance" is forwarded as the client's exact bytes."""
    raw = b'{"model":"gpt-fake","messages":[{"role":"user","content":"\\"assurance\\" means?"}]}'
    async with aiohttp.ClientSession() as session:
        await (await session.post(f"{proxy.base_url}/chat/completions", data=raw)).read()
    assert fake_upstream.requests[-1].body == raw


async def test_upstream_key_replaces_the_client_authorization(
    fake_upstream: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an upstream key configured, the upstream sees that key and never the client's."""
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", "sk-upstream-123")
    config = proxy_config(fake_upstream.base_url, api_key_env="FAKE_UPSTREAM_KEY")
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="client-key", max_retries=0) as client,
    ):
        await client.chat.completions.create(model="gpt-fake", messages=MESSAGES)
    assert fake_upstream.requests[-1].headers["Authorization"] == "Bearer sk-upstream-123"


async def test_client_authorization_is_forwarded_when_upstream_has_no_key(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Without an upstream key, the client's own Authorization goes upstream unchanged."""
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="client-key", max_retries=0) as c:
        await c.chat.completions.create(model="gpt-fake", messages=MESSAGES)
    assert fake_upstream.requests[-1].headers["Authorization"] == "Bearer client-key"


async def test_proxy_auth_rejects_missing_and_wrong_keys(
    fake_upstream: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With client keys configured, no key or a wrong key gets 401 and nothing is forwarded."""
    monkeypatch.setenv("PROXY_CLIENT_KEYS", "pk-one, pk-two")
    config = proxy_config(fake_upstream.base_url, server={"client_keys_env": "PROXY_CLIENT_KEYS"})
    body = {"model": "gpt-fake", "messages": MESSAGES}
    url_statuses: list[tuple[int, Any]] = []
    async with running_proxy(config) as proxy, aiohttp.ClientSession() as session:
        for headers in (
            {},
            {"Authorization": "Bearer pk-three"},
            {"Authorization": "Basic pk-one"},
        ):
            async with session.post(
                f"{proxy.base_url}/chat/completions", json=body, headers=headers
            ) as resp:
                url_statuses.append((resp.status, await resp.json()))
        async with session.get(f"{proxy.root_url}/healthz") as resp:
            health = resp.status
    assert [s for s, _ in url_statuses] == [401, 401, 401]
    assert all(b["error"]["code"] == "invalid_api_key" for _, b in url_statuses)
    assert fake_upstream.requests == []
    assert health == 200


async def test_proxy_auth_accepts_a_listed_key_and_keeps_it_from_upstream(
    fake_upstream: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A key from the keys file is accepted, and the proxy key is not sent to a keyless upstream."""
    keys = tmp_path / "keys.txt"
    keys.write_text("# proxy clients\npk-file-key\n")
    config = proxy_config(fake_upstream.base_url, server={"client_keys_file": str(keys)})
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="pk-file-key", max_retries=0) as client,
    ):
        completion = await client.chat.completions.create(model="gpt-fake", messages=MESSAGES)
    assert completion.choices[0].message.content
    assert "Authorization" not in fake_upstream.requests[-1].headers


async def test_routing_picks_the_first_matching_upstream_in_config_order() -> None:
    """Models go to the first upstream whose globs match; others fall through to the catch-all."""
    async with FakeOpenAIServer() as first, FakeOpenAIServer() as second:
        upstreams = [
            {"name": "a", "base_url": first.base_url, "models": ["gpt-4*", "exact-model"]},
            {"name": "b", "base_url": second.base_url, "models": ["*"]},
        ]
        config = proxy_config(first.base_url, extra={"upstreams": upstreams})
        async with (
            running_proxy(config) as proxy,
            AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
        ):
            for model in ("gpt-4o", "exact-model", "llama-3", "gpt-3.5"):
                await client.chat.completions.create(model=model, messages=MESSAGES)
    assert [r.json()["model"] for r in first.requests] == ["gpt-4o", "exact-model"]
    assert [r.json()["model"] for r in second.requests] == ["llama-3", "gpt-3.5"]


async def test_models_lists_the_union_of_upstreams() -> None:
    """GET /v1/models merges the exact names and each provider's models that match the globs."""
    async with FakeOpenAIServer(models=("gpt-4o", "dall-e")) as first:
        upstreams = [
            {"name": "a", "base_url": first.base_url, "models": ["gpt-*"]},
            {"name": "b", "base_url": first.base_url, "models": ["local-llama", "gpt-4o"]},
        ]
        config = proxy_config(first.base_url, extra={"upstreams": upstreams})
        async with (
            running_proxy(config) as proxy,
            AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
        ):
            ids = [m.id async for m in client.models.list()]
    assert sorted(ids) == ["gpt-4o", "local-llama"]


async def test_embeddings_pass_through(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """POST /v1/embeddings reaches the upstream unchanged and its vectors reach the SDK."""
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        result = await client.embeddings.create(
            model="text-embedding-fake", input="hi", encoding_format="float"
        )
    assert result.data[0].embedding == [0.5, -0.25, 0.125]
    assert fake_upstream.requests[-1].path == "/v1/embeddings"
    assert json.loads(fake_upstream.requests[-1].body)["input"] == "hi"


async def test_every_response_carries_a_distinct_request_id(proxy: RunningProxy) -> None:
    """X-Request-Id is set on JSON, streamed and error responses, and differs between requests."""
    body = {"model": "gpt-fake", "messages": MESSAGES}
    ids = []
    async with aiohttp.ClientSession() as session:
        for payload in (body, {**body, "stream": True}, {"messages": MESSAGES}):
            async with session.post(f"{proxy.base_url}/chat/completions", json=payload) as resp:
                await resp.read()
                ids.append(resp.headers["X-Request-Id"])
    assert len(set(ids)) == 3
    assert all(i.startswith("req_") for i in ids)


async def test_probes_report_health_and_readiness(proxy: RunningProxy) -> None:
    """/healthz answers ok and /readyz answers ready once upstreams are open."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{proxy.root_url}/healthz") as resp:
            assert (resp.status, await resp.json()) == (200, {"status": "ok"})
        async with session.get(f"{proxy.root_url}/readyz") as resp:
            assert resp.status == 200
            assert (await resp.json())["upstreams"] == ["fake"]
