"""Fuzzing the proxy as an attacker would (issue 10): hypothesis, seeded and bounded.

Every case is sent over loopback to the proxy with the assurance pipeline (deterministic oracles)
in front of the fake upstream, and must get: no 5xx (the fake upstream never fails, so none is a
documented upstream one), OpenAI's error shape on every error with `param` naming the field for
any 400 about a JSON body that decoded, and no traceback or `unhandled_error` in the logs. Cases:
byte-level mutations of a valid body (invalid UTF-8, truncation, stray escapes), structured
mutations of every field of the `assurance` object and of the top-level fields the proxy reads,
hostile headers (mode, policy, session, compression with garbage), and mutated bundles posted to
`/v1/assurance/verify`. `derandomize=True` makes every run identical; `ASSURANCE_FUZZ_SCALE`
multiplies the example counts (CI: 1, about 1,800 cases; set it higher for a longer run).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import LogCapture

SCALE = int(os.environ.get("ASSURANCE_FUZZ_SCALE", "1"))
# 400s that cannot name a field: the body is not JSON at all, or the limit is about the whole body
_WHOLE_BODY_CODES = {"invalid_json", "json_too_deep", "request_too_large", "invalid_request"}
_BASE: dict[str, Any] = {
    "model": "gpt-fake",
    "messages": [
        {"role": "system", "content": "Answer from the evidence."},
        {"role": "user", "content": "What dose?"},
    ],
}
_EVIDENCE = [{"id": "e1", "text": "Hello from the fake upstream."}]


class Stack:
    """The fake upstream and the proxy on an event loop in a thread; requests via http.client."""

    def __init__(self, tmp: Path) -> None:
        self.logs = LogCapture()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tmp = tmp
        self._fake = FakeOpenAIServer()
        self._proxy_cm: Any = None
        self.port = 0
        self._connection: http.client.HTTPConnection | None = None
        self.sent = 0

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    async def _start(self) -> int:
        url = await self._fake.start()
        # a stalled body read (see SOUNDNESS.md) answers 408 quickly instead of holding the client
        self._proxy_cm = assured_proxy(url, self._tmp, server={"body_read_timeout_s": 2.0})
        running = await self._proxy_cm.__aenter__()
        return int(running.root_url.rsplit(":", 1)[1])

    async def _stop(self) -> None:
        await self._proxy_cm.__aexit__(None, None, None)
        await self._fake.close()

    def __enter__(self) -> Stack:
        self.logs.__enter__()
        self._thread.start()
        self.port = self._run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._connection is not None:
                self._connection.close()
            self._run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self.logs.__exit__()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST `body`; (status, body). A connection the proxy closed is reopened once."""
        self.sent += 1
        for attempt in (0, 1):
            connection = self._connection or http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30
            )
            self._connection = connection
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    connection.close()
                    self._connection = None
                return response.status, data
            except (ConnectionError, http.client.HTTPException):
                connection.close()
                self._connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One proxy for the whole module (hypothesis runs many examples per test)."""
    with Stack(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def _fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _check(stack: Stack, status: int, body: bytes, *, decoded_json: bool) -> None:
    assert status < 500, (status, body[:300])
    if status >= 400:
        error = json.loads(body)["error"]
        assert set(error) == {"message", "type", "param", "code"}, error
        assert isinstance(error["message"], str)
        assert error["message"]
        if status == 400 and decoded_json and error["code"] not in _WHOLE_BODY_CODES:
            assert error["param"], error
    if stack.sent % 50 == 0:
        _check_logs(stack)


def _check_logs(stack: Stack) -> None:
    text = stack.logs.text()
    assert "Traceback" not in text
    assert "unhandled_error" not in text
    assert "shadow_certification_crashed" not in text


def _send(stack: Stack, body: bytes, mode: str, **headers: str) -> tuple[int, bytes]:
    sent = {"Content-Type": "application/json", "X-Assurance-Mode": mode, **headers}
    return stack.post("/v1/chat/completions", body, sent)


# --- structured values -------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_policy_keys = st.sampled_from(
    ["theta_g", "theta_c", "theta_e", "theta_r", "min_supported_mass", "max_contradicted_mass",
     "max_contested_mass", "thresholds", "extends", "name", "max_unverified_gaps",
     "max_age_seconds", "require_signature", "bogus"]
)  # fmt: skip
_rationals = st.sampled_from(["1/2", "0", "1", "2", "-1/3", "0.7", "9/10", "x", "1/0", "∞"])
_policy = (
    st.sampled_from(["clinical", "legal", "nope"])
    | st.dictionaries(_policy_keys, _rationals | _json, max_size=4)
    | _json
)
_evidence_item = st.fixed_dictionaries(
    {"id": st.text(max_size=6) | _json, "text": st.text(max_size=60) | _json},
    optional={"source": _json, "retrieved_at": _json, "score": _json, "extra": _json},
)
_schema = st.fixed_dictionaries(
    {"tool": st.sampled_from(["delete_file", "send", ""]) | _json},
    optional={
        "pre": st.lists(
            st.fixed_dictionaries(
                {"pred": st.sampled_from(["path_in_sandbox", "counter_within", "nope"]) | _json},
                optional={"arg": _json, "root": _json, "counter": _json, "max": _json},
            ),
            max_size=2,
        )
        | _json,
        "effects": _json,
    },
)
_assurance = st.fixed_dictionaries(
    {},
    optional={
        "evidence": st.lists(_evidence_item, max_size=3) | _json,
        "policy": _policy,
        "actions": st.fixed_dictionaries(
            {},
            optional={
                "schemas": st.lists(_schema, max_size=3) | _json,
                "state": _json,
                "unknown_tools": st.sampled_from(["allow", "block", "x"]) | _json,
            },
        )
        | _json,
        "perturbations": st.fixed_dictionaries(
            {},
            optional={
                "invariant": st.lists(st.text(max_size=20), max_size=2) | _json,
                "significant": st.lists(st.text(max_size=20), max_size=2) | _json,
            },
        )
        | _json,
        "claim_dependencies": st.dictionaries(st.text(max_size=3), _json, max_size=2) | _json,
        "deadline_s": st.floats(allow_nan=False) | _json,
        "unknown": _json,
    },
)
_top = st.fixed_dictionaries(
    {},
    optional={
        "stream": st.booleans() | _json,
        "stream_options": st.fixed_dictionaries({}, optional={"include_usage": _json}) | _json,
        "n": st.integers(-1, 3) | _json,
        "tools": _json,
        "metadata": _json,
        "temperature": _json,
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "tool", "assistant", "x"]) | _json},
                optional={"content": st.text(max_size=30) | _json, "tool_call_id": _json},
            ),
            min_size=1,
            max_size=3,
        )
        | _json,
    },
)


@_fuzz_settings(500)
@given(
    mode=st.sampled_from(["shadow", "enforce"]),
    assurance=_assurance | _json,
    top=_top,
    with_evidence=st.booleans(),
)
def test_fuzz_assurance_fields(
    stack: Stack, mode: str, assurance: Any, top: dict[str, Any], with_evidence: bool
) -> None:
    """Every field of the `assurance` object (and the top-level fields read) mutated."""
    if with_evidence and isinstance(assurance, dict) and "evidence" not in assurance:
        assurance = {**assurance, "evidence": _EVIDENCE}
    body = json.dumps({**_BASE, **top, "assurance": assurance}).encode()
    status, data = _send(stack, body, mode)
    _check(stack, status, data, decoded_json=True)


_valid = json.dumps({**_BASE, "assurance": {"evidence": _EVIDENCE}, "stream": False}).encode()
_fragments = st.sampled_from(
    [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800", b"\\u", b"\\", b'"', b"{", b"[" * 80,
     b"1e400", b"-1e999", b"NaN", b"\x00", b"\\u0061", b"assur\\u0061nce", b"9" * 400, b"\r\n"]
)  # fmt: skip


@_fuzz_settings(800)
@given(
    mode=st.sampled_from(["off", "shadow", "enforce"]),
    cut=st.integers(0, len(_valid)),
    insert=st.lists(st.tuples(st.integers(0, len(_valid)), _fragments | st.binary(max_size=4)),
                    max_size=3),
)  # fmt: skip
def test_fuzz_body_bytes(
    stack: Stack, mode: str, cut: int, insert: list[tuple[int, bytes]]
) -> None:
    """Byte-level mutations of a valid body: invalid UTF-8, escapes, huge numbers, truncation."""
    body = bytearray(_valid)
    for position, fragment in sorted(insert, reverse=True):
        body[position:position] = fragment
    if cut < len(_valid) // 4:
        del body[len(body) - cut :]
    status, data = _send(stack, bytes(body), mode)
    _check(stack, status, data, decoded_json=False)


_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
) | st.sampled_from(["", " ", "enforce ", "SHADOW", "clinical", "x" * 300])


@_fuzz_settings(200)
@given(
    mode=_header_text,
    policy=st.none() | _header_text,
    session=st.none() | _header_text,
    compressed=st.none()
    | st.tuples(
        st.sampled_from(["gzip", "deflate", "br", "identity", "x-garbage"]), st.binary(max_size=40)
    ),
)
def test_fuzz_headers(
    stack: Stack,
    mode: str,
    policy: str | None,
    session: str | None,
    compressed: tuple[str, bytes] | None,
) -> None:
    """Hostile assurance headers, and compressed garbage bodies."""
    encoding, garbage = compressed if compressed is not None else (None, b"")
    headers: dict[str, str] = {}
    if policy is not None:
        headers["X-Assurance-Policy"] = policy
    if session is not None:
        headers["X-Assurance-Session"] = session
    body = _valid
    if encoding is not None:
        headers["Content-Encoding"] = encoding
        body = garbage
    status, data = _send(stack, body, mode, **headers)
    _check(stack, status, data, decoded_json=False)


@pytest.fixture(scope="module")
def bundle(stack: Stack) -> dict[str, Any]:
    """One real bundle, fetched back from the store after an enforce call."""
    status, data = _send(stack, _valid, "enforce")
    assert status == 200
    handle = json.loads(data)["assurance"]["replay_handle"]
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    connection.request("GET", f"/v1/assurance/cards/{handle}")
    stored: dict[str, Any] = json.loads(connection.getresponse().read())
    connection.close()
    return stored


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _leaf_paths(item, (*path, key))]
    if isinstance(value, list) and value:
        return [p for i, item in enumerate(value) for p in _leaf_paths(item, (*path, i))]
    return [path]


@_fuzz_settings(300)
@given(data=st.data())
def test_fuzz_verify_bundles(stack: Stack, bundle: dict[str, Any], data: st.DataObject) -> None:
    """Mutated bundles to the verify endpoint: a 200 verdict or a 4xx, never a 5xx."""
    mutated = json.loads(json.dumps(bundle))
    paths = _leaf_paths(mutated)
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        target = mutated
        for key in path[:-1]:
            target = target[key]
        if path:
            target[path[-1]] = data.draw(_json)
    raw = json.dumps(mutated).encode()
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut] + data.draw(_fragments) + raw[cut:]
    status, body = stack.post("/v1/assurance/verify", raw, {"Content-Type": "application/json"})
    _check(stack, status, body, decoded_json=False)
    if status == 200:
        assert isinstance(json.loads(body)["valid"], bool)


def test_fuzz_logs_are_clean(stack: Stack) -> None:
    """After every case above: JSON lines only, no traceback, no unhandled error."""
    _check_logs(stack)
    assert stack.logs.lines()
