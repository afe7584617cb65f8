"""Hostile request bodies (issue 10 items 1-7, 10, 13): each is a 400 naming the field, never a 500,
and nothing is forwarded; the `assurance` field is found however its name is spelled.
"""

from __future__ import annotations

import gzip
import json
import zlib

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import LogCapture, RunningProxy
from tests.hostile.conftest import BODY, body_with, no_traceback, post

INVALID_UTF8 = b'{"model":"gpt-fake","messages":[{"role":"user","content":"caf\xe9"}]}'


@pytest.mark.parametrize("mode", ["shadow", "enforce"])
async def test_invalid_utf8_is_a_400_naming_the_field(
    proxy: RunningProxy,
    http: aiohttp.ClientSession,
    fake_upstream: FakeOpenAIServer,
    logs: LogCapture,
    mode: str,
) -> None:
    """Item 1: invalid UTF-8 (no `assurance` field) was a 500 in shadow/enforce."""
    answer = await post(http, proxy, INVALID_UTF8, mode=mode)
    assert answer.status == 400
    error = answer.error()
    assert error["code"] == "invalid_json"
    assert error["param"] == "messages[0].content"
    assert "UTF-8" in error["message"]
    assert fake_upstream.requests == []
    no_traceback(logs)


@pytest.mark.parametrize("mode", ["off", "shadow"])
async def test_deep_nesting_is_a_400(
    proxy: RunningProxy, http: aiohttp.ClientSession, fake_upstream: FakeOpenAIServer, mode: str
) -> None:
    """Item 2: 1,200 nested arrays in `metadata` were a RecursionError 500, even in mode off."""
    body = body_with(metadata="X").replace(b'"X"', b"[" * 1200 + b"]" * 1200)
    answer = await post(http, proxy, body, mode=mode)
    assert answer.status == 400
    assert answer.error()["code"] == "json_too_deep"
    assert fake_upstream.requests == []


async def test_nesting_within_the_limit_is_forwarded(
    proxy: RunningProxy, http: aiohttp.ClientSession, fake_upstream: FakeOpenAIServer
) -> None:
    """The depth limit (64) leaves real bodies alone: 40 levels in `metadata` pass untouched."""
    body = body_with(metadata="X").replace(b'"X"', b'{"a":' * 40 + b"1" + b"}" * 40)
    answer = await post(http, proxy, body)
    assert answer.status == 200
    assert fake_upstream.requests[0].body == body


async def test_number_out_of_range_is_a_400_naming_the_field(
    proxy: RunningProxy, http: aiohttp.ClientSession, fake_upstream: FakeOpenAIServer
) -> None:
    """Item 3: `1e400` in a body with the `assurance` field was a 500."""
    body = body_with(temperature=1, assurance={}).replace(
        b'"temperature": 1', b'"temperature": 1e400'
    )
    answer = await post(http, proxy, body, mode="shadow")
    assert answer.status == 400
    error = answer.error()
    assert (error["param"], error["code"]) == ("temperature", "number_out_of_range")
    assert fake_upstream.requests == []


async def test_deep_policy_is_a_400(proxy: RunningProxy, http: aiohttp.ClientSession) -> None:
    """Item 4: `assurance.policy` nested 500 deep was a RecursionError 500."""
    body = body_with(assurance={"policy": "X"}).replace(b'"X"', b'{"a":' * 500 + b"1" + b"}" * 500)
    answer = await post(http, proxy, body, mode="enforce")
    assert answer.status == 400
    assert answer.error()["code"] == "json_too_deep"


async def test_ill_typed_policy_thresholds_is_a_400_naming_them(
    proxy: RunningProxy, http: aiohttp.ClientSession, fake_upstream: FakeOpenAIServer
) -> None:
    """Item 4: `{"policy": {"thresholds": "x"}}` was a TypeError 500."""
    body = body_with(assurance={"policy": {"thresholds": "x"}})
    answer = await post(http, proxy, body, mode="enforce")
    assert answer.status == 400
    error = answer.error()
    assert error["param"] == "assurance.policy.thresholds"
    assert "object" in error["message"]
    assert fake_upstream.requests == []


async def test_stream_options_not_an_object_is_a_400(
    proxy: RunningProxy, http: aiohttp.ClientSession, fake_upstream: FakeOpenAIServer
) -> None:
    """Item 5: enforce with `stream_options: "x"` was an AttributeError 500 (after forwarding)."""
    body = body_with(stream=True, stream_options="x", assurance={})
    answer = await post(http, proxy, body, mode="enforce")
    assert answer.status == 400
    assert answer.error()["param"] == "stream_options"
    assert fake_upstream.requests == []


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_corrupt_compressed_body_is_a_400(
    proxy: RunningProxy, http: aiohttp.ClientSession, logs: LogCapture, encoding: str
) -> None:
    """Item 6: a corrupt gzip/deflate body was a 500 with two tracebacks in the log."""
    good = gzip.compress(body_with()) if encoding == "gzip" else zlib.compress(body_with())
    corrupt = good[:6] + bytes(b ^ 0x5A for b in good[6:20]) + good[20:]
    answer = await post(http, proxy, corrupt, headers={"Content-Encoding": encoding})
    assert answer.status == 400
    error = answer.error()
    assert (error["param"], error["code"]) == ("Content-Encoding", "invalid_content_encoding")
    no_traceback(logs)


async def test_valid_gzip_body_still_works(
    proxy: RunningProxy, http: aiohttp.ClientSession
) -> None:
    """A well-formed compressed body is decoded and served."""
    answer = await post(
        http, proxy, gzip.compress(body_with()), headers={"Content-Encoding": "gzip"}
    )
    assert answer.status == 200


@pytest.mark.parametrize("mode", ["shadow", "enforce"])
async def test_duplicate_tool_schemas_are_a_400_naming_the_field(
    proxy: RunningProxy, http: aiohttp.ClientSession, fake_upstream: FakeOpenAIServer, mode: str
) -> None:
    """Item 7: two schemas for one tool passed validation, then enforce answered 500."""
    schema = {"tool": "delete_file", "pre": [], "effects": []}
    body = body_with(assurance={"actions": {"schemas": [schema, schema]}})
    answer = await post(http, proxy, body, mode=mode)
    assert answer.status == 400
    assert answer.error()["param"] == "assurance.actions.schemas[1].tool"
    assert fake_upstream.requests == []


@pytest.mark.parametrize(
    "spelling", [b'"assur\\u0061nce"', b'"\\u0061ssurance"', b'"\\u0041ssurance"']
)
async def test_escaped_assurance_key_is_recognised(
    proxy: RunningProxy,
    http: aiohttp.ClientSession,
    fake_upstream: FakeOpenAIServer,
    spelling: bytes,
) -> None:
    """Item 10: an escaped `assurance` key was forwarded with its evidence to the provider."""
    evidence = [{"id": "e1", "text": "SECRET-EVIDENCE-TEXT"}]
    body = body_with(assurance={"evidence": evidence}).replace(b'"assurance"', spelling)
    answer = await post(http, proxy, body, mode="shadow")
    forwarded = fake_upstream.requests[0].body
    if spelling == b'"\\u0041ssurance"':
        # "Assurance" is another key: not the field, forwarded untouched
        assert forwarded == body
        return
    assert answer.status == 200
    assert b"SECRET-EVIDENCE-TEXT" not in forwarded
    assert "assurance" not in json.loads(forwarded)
    card = answer.json()["assurance"]["card"]
    assert "grounding: no evidence supplied" not in json.dumps(card)


async def test_body_without_the_key_is_forwarded_byte_for_byte(
    proxy: RunningProxy, http: aiohttp.ClientSession, fake_upstream: FakeOpenAIServer
) -> None:
    """Off's fast path: a body with escapes but no `assurance` key keeps its exact bytes."""
    body = body_with(user="caf\\u00e9").replace(b"caf\\\\u00e9", b"caf\\u00e9")
    answer = await post(http, proxy, body)
    assert answer.status == 200
    assert fake_upstream.requests[0].body == body


@pytest.mark.parametrize("mode", ["off", "shadow"])
async def test_lone_surrogate_names_the_field(
    proxy: RunningProxy, http: aiohttp.ClientSession, mode: str
) -> None:
    """Item 13: `"\\ud800"` got `invalid_json` with `param: null` and a byte-offset message."""
    body = body_with(assurance={}).replace(b'"hi"', b'"x\\ud800y"')
    answer = await post(http, proxy, body, mode=mode)
    assert answer.status == 400
    error = answer.error()
    assert error["param"] == "messages[0].content"
    assert "surrogate" in error["message"]
    assert "byte" not in error["message"]


async def test_lone_surrogate_in_a_key_is_named_safely(
    proxy: RunningProxy, http: aiohttp.ClientSession
) -> None:
    """A surrogate inside a key: the path is shown escaped (the error itself stays valid JSON)."""
    body = json.dumps({**BODY, "assurance": {}}).encode().replace(b'"assurance"', b'"a\\udc00"', 1)
    body = body[:-1] + b', "assurance": {}}'
    answer = await post(http, proxy, body, mode="shadow")
    assert answer.status == 400
    assert answer.error()["param"] == "a\\udc00"
