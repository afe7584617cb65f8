"""Every other `/v1/` route through the proxy (mode off), driven by the official openai SDK.

Files (multipart upload), audio speech (binary stream) and transcriptions (multipart), stored chat
completions, models retrieve/delete, batches and Responses reach the fake upstream unchanged and
their answers come back as the SDK's typed objects.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from openai import AsyncOpenAI, AuthenticationError, NotFoundError

from tests.fakes.openai_routes import SPEECH_CHUNKS
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply
from tests.harness import LogCapture, RunningProxy, proxy_config, running_proxy


@pytest.fixture
async def client(proxy: RunningProxy) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="client-key", max_retries=0) as sdk:
        yield sdk


async def test_file_upload_is_streamed_multipart(
    fake_upstream: FakeOpenAIServer,
) -> None:
    """A multipart upload larger than max_body_bytes still goes through: it is never read whole."""
    content = b"x" * 50_000
    config = proxy_config(fake_upstream.base_url, server={"max_body_bytes": 4096})
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        uploaded = await client.files.create(
            file=("data.jsonl", io.BytesIO(content)), purpose="batch"
        )
    assert uploaded.id == "file-fake"
    assert uploaded.filename == "data.jsonl"
    assert uploaded.bytes == len(content)
    assert uploaded.purpose == "batch"
    assert fake_upstream.uploads == [content]
    recorded = fake_upstream.requests[-1]
    assert recorded.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert recorded.headers["Authorization"] == "Bearer k"


async def test_file_retrieve_content_and_delete(client: AsyncOpenAI) -> None:
    """GET/DELETE /v1/files/{id} and the raw content route pass through."""
    assert (await client.files.retrieve("file-abc")).id == "file-abc"
    content = await client.files.content("file-abc")
    assert content.content == b'{"line": 1}\n'
    assert (await client.files.delete("file-abc")).deleted is True


async def test_audio_speech_streams_binary(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """audio/speech comes back as the upstream's exact bytes, with its content type."""
    async with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello"
    ) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        received = b"".join([chunk async for chunk in response.iter_bytes()])
    assert received == b"".join(SPEECH_CHUNKS)
    assert fake_upstream.requests[-1].json()["voice"] == "alloy"


async def test_audio_transcription_multipart(client: AsyncOpenAI) -> None:
    """A multipart transcription request arrives with its file and fields."""
    result = await client.audio.transcriptions.create(
        file=("clip.mp3", io.BytesIO(b"\x00\x01audio")), model="whisper-1"
    )
    assert result.text == "heard clip.mp3 with whisper-1"


async def test_stored_chat_completions(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer
) -> None:
    """Stored completions: retrieve, update, list, messages, delete (GET/POST/DELETE)."""
    assert (await client.chat.completions.retrieve("chatcmpl-9")).id == "chatcmpl-9"
    updated = await client.chat.completions.update("chatcmpl-9", metadata={"k": "v"})
    assert updated.metadata == {"k": "v"}
    listed = [c.id async for c in client.chat.completions.list(limit=2)]
    assert listed == ["chatcmpl-1", "chatcmpl-2"]
    assert fake_upstream.requests[-1].path == "/v1/chat/completions?limit=2"
    messages = [m.id async for m in client.chat.completions.messages.list("chatcmpl-9")]
    assert messages == ["chatcmpl-9-0"]
    assert (await client.chat.completions.delete("chatcmpl-9")).deleted is True


async def test_models_retrieve_and_delete(client: AsyncOpenAI) -> None:
    """GET/DELETE /v1/models/{id}; an unknown model is the upstream's own 404."""
    assert (await client.models.retrieve("gpt-fake")).id == "gpt-fake"
    assert (await client.models.delete("ft:gpt-fake:me")).deleted is True
    with pytest.raises(NotFoundError):
        await client.models.retrieve("no-such-model")


async def test_batches(client: AsyncOpenAI, fake_upstream: FakeOpenAIServer) -> None:
    """Batches create, retrieve, cancel and list."""
    created = await client.batches.create(
        input_file_id="file-fake", endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert created.status == "validating"
    assert fake_upstream.requests[-1].json()["input_file_id"] == "file-fake"
    assert (await client.batches.retrieve("batch_1")).status == "in_progress"
    assert (await client.batches.cancel("batch_1")).status == "cancelling"
    assert [b.id async for b in client.batches.list()] == ["batch_fake"]


async def test_responses_off_is_byte_for_byte(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Mode off: POST /v1/responses (JSON and SSE) and its GET/DELETE/cancel/input_items."""
    async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
        response = await client.responses.create(model="gpt-fake", input="hi")
        assert response.output_text == "Hello from the fake upstream."
        events = [
            e.type
            async for e in await client.responses.create(model="gpt-fake", input="hi", stream=True)
        ]
        assert events[0] == "response.created"
        assert events[-1] == "response.completed"
        assert (await client.responses.retrieve(response.id)).id == response.id
        assert (await client.responses.cancel(response.id)).status == "cancelled"
        items = [i.id async for i in client.responses.input_items.list(response.id)]
        assert items == ["msg_in"]
        await client.responses.delete(response.id)
    async with aiohttp.ClientSession() as session:
        body = {"model": "gpt-fake", "input": "hi", "stream": True}
        async with session.post(f"{proxy.base_url}/responses", json=body) as direct:
            through = await direct.read()
        async with session.post(f"{fake_upstream.base_url}/responses", json=body) as upstream:
            expected = await upstream.read()
    assert through == expected


async def test_headers_forwarded_minus_hop_by_hop(
    proxy: RunningProxy, fake_upstream: FakeOpenAIServer
) -> None:
    """Custom headers and the query string reach upstream; hop-by-hop and assurance ones do not."""
    headers = {
        "X-Custom": "1",
        "OpenAI-Beta": "assistants=v2",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "secret",
        "X-Assurance-Mode": "off",
        "Authorization": "Bearer mine",
    }
    url = f"{proxy.base_url}/batches?limit=3&after=b1"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 200
    recorded = fake_upstream.requests[-1]
    assert recorded.path == "/v1/batches?limit=3&after=b1"
    assert recorded.headers["X-Custom"] == "1"
    assert recorded.headers["OpenAI-Beta"] == "assistants=v2"
    assert recorded.headers["Authorization"] == "Bearer mine"
    assert "X-Hop" not in recorded.headers
    assert "X-Assurance-Mode" not in recorded.headers


async def test_proxy_auth_key_never_goes_upstream(
    fake_upstream: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With proxy auth on, the client's proxy key is not forwarded on pass-through routes."""
    monkeypatch.setenv("PROXY_KEYS", "proxy-secret")
    config = proxy_config(fake_upstream.base_url, server={"client_keys_env": "PROXY_KEYS"})
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="proxy-secret", max_retries=0) as client,
    ):
        await client.batches.retrieve("batch_1")
    assert "Authorization" not in fake_upstream.requests[-1].headers


async def test_routing_by_model_then_paths_then_first() -> None:
    """JSON `model` picks its upstream; else `paths` globs; else the first upstream."""
    async with FakeOpenAIServer() as first, FakeOpenAIServer() as second:
        config = proxy_config(
            first.base_url,
            models=("gpt-*",),
            extra={
                "upstreams": [
                    {"name": "a", "base_url": first.base_url, "models": ["gpt-*"]},
                    {
                        "name": "b",
                        "base_url": second.base_url,
                        "models": ["tts-*"],
                        "paths": ["/v1/files*"],
                    },
                ]
            },
        )
        async with (
            running_proxy(config) as proxy,
            AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
        ):
            async with client.audio.speech.with_streaming_response.create(
                model="tts-1", voice="alloy", input="x"
            ) as speech:
                await speech.read()
            await client.files.retrieve("file-1")
            await client.batches.retrieve("batch_1")
    assert [r.path for r in second.requests] == ["/v1/audio/speech", "/v1/files/file-1"]
    assert [r.path for r in first.requests] == ["/v1/batches/batch_1"]


async def test_anthropic_upstream_answers_openai_shaped_404(
    fake_upstream: FakeOpenAIServer,
) -> None:
    """A route an Anthropic upstream cannot serve is a 404 in OpenAI's error shape."""
    config = proxy_config(
        fake_upstream.base_url,
        extra={
            "upstreams": [
                {"name": "claude", "kind": "anthropic", "base_url": fake_upstream.base_url}
            ]
        },
    )
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        with pytest.raises(NotFoundError) as caught:
            await client.batches.retrieve("batch_1")
    assert caught.value.code == "route_not_supported"
    assert fake_upstream.requests == []


async def test_models_list_forwards_the_client_key_and_relays_401(
    fake_upstream: FakeOpenAIServer,
) -> None:
    """GET /v1/models sends the client's key like chat; an upstream 401 stays a 401."""
    config = proxy_config(fake_upstream.base_url, models=("gpt-*",))
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="client-key", max_retries=0) as client,
    ):
        assert [m.id async for m in client.models.list()] == ["gpt-fake"]
        assert fake_upstream.requests[-1].headers["Authorization"] == "Bearer client-key"
        fake_upstream.script(
            JsonReply(
                {"error": {"message": "bad key", "type": "invalid_request_error"}}, status=401
            )
        )
        with pytest.raises(AuthenticationError) as caught:
            await client.models.list()
    assert "bad key" in caught.value.message


async def test_models_list_skips_a_down_upstream(
    fake_upstream: FakeOpenAIServer, logs: LogCapture
) -> None:
    """An unreachable upstream is skipped (logged) when another one answered."""
    config = proxy_config(
        fake_upstream.base_url,
        extra={
            "upstreams": [
                {"name": "down", "base_url": "http://127.0.0.1:9/v1", "models": ["x-*"]},
                {"name": "up", "base_url": fake_upstream.base_url, "models": ["gpt-*"]},
            ]
        },
    )
    async with (
        running_proxy(config) as proxy,
        AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client,
    ):
        assert [m.id async for m in client.models.list()] == ["gpt-fake"]
    assert [line["upstream"] for line in logs.events("model_list_failed")] == ["down"]
