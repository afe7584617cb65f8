"""`[[clients]]`: the operator, not the client, sets modes and policy (issue 9 §3)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from certifiers.policy import POLICIES, apply_overrides
from proxy.assurance.client_policy import loosened_fields
from proxy.server.clients import rule_matches
from tests.assurance.clinical import (
    DELETE_SCHEMA,
    EVIDENCE,
    MESSAGES,
    SUPPORTED,
    assurance_of,
    tool_call,
)
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_routes import message_item, response_object
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.harness import RunningProxy

WARD = {
    "name": "ward-app",
    "keys_env": "WARD_APP_KEYS",
    "modes": ["enforce"],
    "policy": "clinical",
    "policy_overrides": "tighten",
}
OPEN = {"name": "lab", "keys_env": "LAB_KEYS"}
BATCHER = {
    "name": "batcher",
    "keys_env": "BATCHER_KEYS",
    "modes": ["shadow"],
    "passthrough": ["POST /v1/batches", "GET /v1/batches/*"],
}


@asynccontextmanager
async def _proxy(
    fake: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> AsyncIterator[RunningProxy]:
    monkeypatch.setenv("WARD_APP_KEYS", "ward-1, ward-2")
    monkeypatch.setenv("LAB_KEYS", "lab-1")
    monkeypatch.setenv("LEGACY_KEYS", "legacy-1")
    monkeypatch.setenv("BATCHER_KEYS", "batch-1")
    async with assured_proxy(
        fake.base_url,
        tmp_path,
        clients=[WARD, OPEN, BATCHER],
        server={"client_keys_env": "LEGACY_KEYS"},
        **kwargs,
    ) as running:
        yield running


async def _call(
    px: RunningProxy, key: str, headers: dict[str, str] | None = None, **assurance: Any
) -> Any:
    async with AsyncOpenAI(base_url=px.base_url, api_key=key, max_retries=0) as client:
        return await client.chat.completions.create(
            model="gpt-fake",
            messages=MESSAGES,
            extra_headers=headers or {},
            extra_body={"assurance": {"evidence": EVIDENCE, **assurance}},
        )


def _error_code(exc: openai.APIStatusError) -> tuple[int, str, str | None]:
    error = exc.body["error"] if isinstance(exc.body, dict) and "error" in exc.body else exc.body
    assert isinstance(error, dict)
    return exc.status_code, error["code"], error.get("param")


async def test_unknown_or_missing_key_is_401(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With any [[clients]] entry auth is on: an unknown key is 401 invalid_api_key."""
    async with _proxy(fake_upstream, tmp_path, monkeypatch) as px:
        with pytest.raises(openai.AuthenticationError) as caught:
            await _call(px, "nobody")
    assert _error_code(caught.value)[:2] == (401, "invalid_api_key")
    assert fake_upstream.requests == []


async def test_locked_client_gets_its_default_mode_and_policy(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without headers, ward-app's call is enforce under clinical (its first mode, its policy)."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with _proxy(fake_upstream, tmp_path, monkeypatch) as px:
        completion = await _call(px, "ward-2")
    assurance = assurance_of(completion)
    assert assurance["policy"] == "clinical"
    assert "policy_decision" in assurance


@pytest.mark.parametrize(
    "case",
    [
        ({"X-Assurance-Mode": "shadow"}, {}, (403, "mode_not_allowed", "X-Assurance-Mode")),
        ({"X-Assurance-Mode": "off"}, {}, (403, "mode_not_allowed", "X-Assurance-Mode")),
        (
            {"X-Assurance-Policy": "creative"},
            {},
            (403, "policy_not_allowed", "X-Assurance-Policy"),
        ),
        (
            {},
            {"policy": {"min_supported_mass": "1/2"}},
            (403, "policy_override_not_allowed", "assurance.policy.min_supported_mass"),
        ),
        (
            {},
            {"policy": {"thresholds": {"theta_g": "1/10"}}},
            (403, "policy_override_not_allowed", "assurance.policy.thresholds.theta_g"),
        ),
        (
            {},
            {"policy": {"unknown_tools": "allow"}},
            (403, "policy_override_not_allowed", "assurance.policy.unknown_tools"),
        ),
    ],
)
async def test_locked_client_cannot_loosen_what_the_operator_set(
    fake_upstream: FakeOpenAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[dict[str, str], dict[str, Any], tuple[int, str, str]],
) -> None:
    """Another mode, another policy or a looser override is 403 naming the field; nothing sent."""
    headers, assurance, expected = case
    async with _proxy(fake_upstream, tmp_path, monkeypatch) as px:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await _call(px, "ward-1", headers, **assurance)
    assert _error_code(caught.value) == expected
    assert fake_upstream.requests == []


async def test_locked_client_may_tighten_its_policy(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stricter override is certified, and the recorded policy carries it."""
    fake_upstream.script(JsonReply(chat_completion(SUPPORTED)))
    async with _proxy(fake_upstream, tmp_path, monkeypatch) as px:
        completion = await _call(px, "ward-1", policy={"max_unverified_gaps": 0, "theta_g": "0.9"})
        handle = assurance_of(completion)["replay_handle"]
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{px.base_url}/assurance/cards/{handle}",
                headers={"Authorization": "Bearer ward-1"},
            ) as response,
        ):
            bundle = json.loads(await response.read())
    policy = bundle["certificates"]["policy"]
    assert policy["name"] == "clinical"
    assert policy["thresholds"]["theta_g"] == "9/10"


async def test_unlocked_and_legacy_clients_choose_freely(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client without locks and a `client_keys_env` key pick mode and policy per request."""
    fake_upstream.script(
        JsonReply(chat_completion(SUPPORTED)), JsonReply(chat_completion(SUPPORTED))
    )
    headers = {"X-Assurance-Mode": "shadow", "X-Assurance-Policy": "creative"}
    async with _proxy(fake_upstream, tmp_path, monkeypatch) as px:
        for key in ("lab-1", "legacy-1"):
            completion = await _call(px, key, headers, policy={"min_supported_mass": "0"})
            assert assurance_of(completion)["policy"] == "creative"
            assert completion.choices[0].message.content == SUPPORTED
        async with aiohttp.ClientSession() as session:
            metrics_url = px.base_url.removesuffix("/v1") + "/metrics"
            async with session.get(metrics_url) as response:
                metrics = await response.text()
    for name in ("lab", "default"):
        assert f'assurance_proxy_client_requests_total{{client="{name}"}} 1.0' in metrics


async def test_sessions_are_namespaced_per_client(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients using session "s1" never share action counters."""
    actions = {"schemas": [DELETE_SCHEMA], "state": {"counters": {"deletes": 0}}}
    reply = chat_completion(None, tool_calls=[tool_call("c1", "/sandbox/a.md")])
    fake_upstream.script(*(JsonReply(reply) for _ in range(3)))
    headers = {
        "X-Assurance-Mode": "enforce",
        "X-Assurance-Policy": "creative",
        "X-Assurance-Session": "s1",
    }
    kept = []
    async with _proxy(fake_upstream, tmp_path, monkeypatch) as px:
        for key in ("lab-1", "legacy-1", "lab-1"):
            completion = await _call(px, key, headers, actions=actions)
            kept.append([call.id for call in completion.choices[0].message.tool_calls or []])
    assert kept == [["c1"], ["c1"], []]


async def test_client_schemas_add_to_the_operators_and_never_replace_them(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client schema for an operator tool without its sandbox rule still gets the rule."""
    actions_file = tmp_path / "actions.json"
    actions_file.write_text(json.dumps({"schemas": [DELETE_SCHEMA]}))
    loose = {"tool": "delete_file", "pre": [], "effects": []}
    reply = chat_completion(None, tool_calls=[tool_call("c1", "/etc/passwd")])
    fake_upstream.script(JsonReply(reply))
    headers = {"X-Assurance-Mode": "enforce", "X-Assurance-Policy": "creative"}
    async with _proxy(
        fake_upstream, tmp_path, monkeypatch, assurance={"actions_file": str(actions_file)}
    ) as px:
        completion = await _call(
            px, "lab-1", headers, actions={"schemas": [loose], "unknown_tools": "allow"}
        )
    assert completion.choices[0].message.tool_calls is None
    dropped = assurance_of(completion)["card"]["dropped_claims"]
    assert any("path_in_sandbox" in line for line in dropped)


async def test_a_client_locked_out_of_off_gets_no_uncertified_model_output(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ward-app (enforce only) cannot reach completions, batches or stored completions; files and
    models (no model output) still work; nothing refused reaches the upstream."""
    async with (
        _proxy(fake_upstream, tmp_path, monkeypatch) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="ward-1", max_retries=0) as ward,
    ):
        refused = [
            ward.completions.create(model="gpt-fake", prompt="Dose?"),
            ward.batches.create(
                input_file_id="file-1", endpoint="/v1/chat/completions", completion_window="24h"
            ),
            ward.chat.completions.retrieve("chatcmpl-1"),
            ward.files.content("file-1"),
        ]
        for call in refused:
            with pytest.raises(openai.PermissionDeniedError) as caught:
                await call
            assert _error_code(caught.value)[:2] == (403, "route_not_allowed")
            assert "exclude off" in caught.value.message
        assert fake_upstream.requests == []
        assert (await ward.files.retrieve("file-1")).id == "file-1"
        assert (await ward.models.retrieve("gpt-fake")).id == "gpt-fake"
        assert (await ward.chat.completions.delete("chatcmpl-1")).deleted
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer ward-1"}) as http:
            for tricky in ("/files/file-1%2Fcontent", "/files/..", "/files/", "/files/a/content"):
                async with http.get(px.base_url + tricky) as response:
                    assert response.status == 403, tricky
                    assert (await response.json())["error"]["code"] == "route_not_allowed"
    assert [r.path for r in fake_upstream.requests] == [
        "/v1/files/file-1",
        "/v1/models/gpt-fake",
        "/v1/chat/completions/chatcmpl-1",
    ]


async def test_passthrough_rules_open_exactly_the_routes_they_name(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """batcher's rules replace the default: batches work, files (not listed) do not; lab (which
    may use off) reaches every route."""
    async with (
        _proxy(fake_upstream, tmp_path, monkeypatch) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="batch-1", max_retries=0) as batcher,
        AsyncOpenAI(base_url=px.base_url, api_key="lab-1", max_retries=0) as lab,
    ):
        batch = await batcher.batches.create(
            input_file_id="file-1", endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert (await batcher.batches.retrieve(batch.id)).status == "in_progress"
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await batcher.files.retrieve("file-1")
        assert "clients[batcher].passthrough" in caught.value.message
        assert (await lab.chat.completions.retrieve("chatcmpl-1")).id == "chatcmpl-1"
    assert [r.path for r in fake_upstream.requests] == [
        "/v1/batches",
        "/v1/batches/batch_fake",
        "/v1/chat/completions/chatcmpl-1",
    ]


async def test_a_locked_client_gets_a_responses_copy_only_when_certified(
    fake_upstream: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /v1/responses/{id}: the certified copy of ward-app's own enforced call is served; an id
    the proxy never certified would be the provider's uncertified copy, so it is refused."""
    original = response_object([message_item(SUPPORTED)], response_id="resp_w")
    fake_upstream.stored_responses["resp_w"] = original
    fake_upstream.stored_responses["resp_other"] = {**original, "id": "resp_other"}
    fake_upstream.script(JsonReply(original))
    async with (
        _proxy(fake_upstream, tmp_path, monkeypatch) as px,
        AsyncOpenAI(base_url=px.base_url, api_key="ward-1", max_retries=0) as ward,
    ):
        emitted = await ward.responses.create(
            model="gpt-fake", input="Dose?", extra_body={"assurance": {"evidence": EVIDENCE}}
        )
        fetched = await ward.responses.retrieve("resp_w")
        assert fetched.output_text == emitted.output_text
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await ward.responses.retrieve("resp_other")
        assert _error_code(caught.value)[:2] == (403, "route_not_allowed")


@pytest.mark.parametrize(
    ("rule", "method", "path", "matches"),
    [
        ("GET /v1/files/*", "GET", "/v1/files/file-1", True),
        ("GET /v1/files/*", "POST", "/v1/files/file-1", False),
        ("GET /v1/files/*", "HEAD", "/v1/files/file-1", True),
        ("POST /v1/files", "HEAD", "/v1/files", False),
        ("* /v1/files/*", "DELETE", "/v1/files/file-1", True),
        ("GET /v1/files/*", "GET", "/v1/files/file-1/content", False),
        ("GET /v1/files/*", "GET", "/v1/files/a%2Fcontent", False),
        ("GET /v1/files/*", "GET", "/v1/files/..", False),
        ("GET /v1/files/*", "GET", "/v1/files/", False),
        ("GET /v1/files/*", "GET", "/v1/files/v1.2", True),
        ("GET /v1/files", "GET", "/v1/files", True),
    ],
)
def test_rules_match_segment_by_segment(rule: str, method: str, path: str, matches: bool) -> None:
    assert rule_matches(rule, method, path) is matches


def test_loosened_fields_names_every_looser_field() -> None:
    """Stricter-or-equal is field by field: higher minimums, lower maximums, more requirements."""
    base = POLICIES["enterprise_qa"]
    stricter = apply_overrides(
        base, {"min_supported_mass": "9/10", "forbidden_patterns": ["x"], "theta_r": "0"}
    )
    assert loosened_fields(base, stricter) == []
    looser = apply_overrides(
        base,
        {
            "max_contradicted_mass": "1/2",
            "required_in_scope": False,
            "max_age_seconds": "∞",
            "theta_e": "0",
        },
    )
    assert loosened_fields(base, looser) == [
        "max_contradicted_mass",
        "required_in_scope",
        "max_age_seconds",
        "theta_e",
    ]
