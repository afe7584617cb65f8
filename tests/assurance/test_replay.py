"""Stored bundles: fetched by replay handle, verified offline by the CLI and the endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from openai import AsyncOpenAI

from proxy.cli import main
from tests.assurance.clinical import EVIDENCE, MESSAGES, WITH_CONTRADICTION, assurance_of, headers
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.harness import RunningProxy


async def _certified_handle(client: AsyncOpenAI, fake_upstream: FakeOpenAIServer) -> str:
    fake_upstream.script(JsonReply(chat_completion(WITH_CONTRADICTION)))
    completion = await client.chat.completions.create(
        model="gpt-fake",
        messages=MESSAGES,
        extra_headers=headers("enforce"),
        extra_body={"assurance": {"evidence": EVIDENCE}},
    )
    handle = assurance_of(completion)["replay_handle"]
    assert isinstance(handle, str)
    return handle


async def test_stored_bundle_verifies_with_assurance_verify(
    client: AsyncOpenAI,
    fake_upstream: FakeOpenAIServer,
    proxy: RunningProxy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GET /v1/assurance/cards/{handle} returns a bundle that `assurance verify` accepts."""
    handle = await _certified_handle(client, fake_upstream)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{proxy.base_url}/assurance/cards/{handle}") as response,
    ):
        assert response.status == 200
        bundle = await response.read()
    assert json.loads(bundle)["card"]["replay_handle"] == handle
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle)
    capsys.readouterr()  # drop the proxy's own log lines
    assert main(["verify", str(path)]) == 0
    first, *notes = capsys.readouterr().out.splitlines()
    assert first == "valid"
    assert notes
    assert all(note.startswith("note: signature: ") for note in notes)


async def test_verify_endpoint_rejects_a_tampered_bundle(
    client: AsyncOpenAI, fake_upstream: FakeOpenAIServer, proxy: RunningProxy
) -> None:
    """POST /v1/assurance/verify says valid for the stored bundle and lists errors once tampered."""
    handle = await _certified_handle(client, fake_upstream)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{proxy.base_url}/assurance/cards/{handle}") as response:
            bundle = json.loads(await response.read())
        async with session.post(
            f"{proxy.base_url}/assurance/verify", data=json.dumps(bundle)
        ) as response:
            accepted = await response.json()
        assert (accepted["valid"], accepted["errors"]) == (True, [])
        assert accepted["notes"]
        assert accepted["notes"][0].startswith("signature: ")
        bundle["card"]["verdict"] = {"kind": "certified"}
        async with session.post(
            f"{proxy.base_url}/assurance/verify", data=json.dumps(bundle)
        ) as response:
            answer = await response.json()
    assert answer["valid"] is False
    assert answer["errors"]


async def test_unknown_replay_handle_is_a_404_in_openai_shape(proxy: RunningProxy) -> None:
    """An unknown handle answers 404 with an OpenAI error object."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{proxy.base_url}/assurance/cards/nope") as response,
    ):
        assert response.status == 404
        error = (await response.json())["error"]
    assert error["code"] == "card_not_found"
    assert error["param"] == "replay_handle"
