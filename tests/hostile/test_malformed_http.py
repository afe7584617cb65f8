"""Malformed HTTP (issue 10 item 12): OpenAI-shaped JSON errors from aiohttp's own parser, and
every log line JSON with no traceback, for requests that never reach the app.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.harness import LogCapture, RunningProxy
from tests.hostile.conftest import no_traceback

_BODY = b'{"model":"gpt-fake","messages":[{"role":"user","content":"hi"}]}'


def _request(*headers: bytes, body: bytes = _BODY, length: bool = True) -> bytes:
    lines = [b"POST /v1/chat/completions HTTP/1.1", b"Host: 127.0.0.1", *headers]
    if length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


MALFORMED: dict[str, bytes] = {
    "header-over-8190-bytes": _request(b"X-Pad: " + b"a" * 9000),
    "long-session-header": _request(b"X-Assurance-Session: " + b"s" * 9000),
    "obs-fold": _request(b"X-Folded: one", b" two"),
    "content-length-and-chunked": _request(b"Transfer-Encoding: chunked"),
    "nul-in-header": _request(b"X-Nul: a\x00b"),
    "bad-request-line": b"GARBAGE\r\n\r\n",
}


async def _exchange(proxy: RunningProxy, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    port = int(proxy.root_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_http_gets_openai_error_json(
    proxy: RunningProxy, logs: LogCapture, case: str
) -> None:
    """aiohttp answered `text/plain` and logged a multi-line traceback for each of these."""
    status, headers, body = await _exchange(proxy, MALFORMED[case])
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "malformed_http_request"
    no_traceback(logs)
    assert logs.events("http_protocol_error")


async def test_stdlib_log_records_become_json_lines(logs: LogCapture) -> None:
    """A library's `logging` record (here with an exception) is one JSON line, traceback inside."""
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("some.library").exception("library failed")
    lines = logs.lines()
    assert lines[-1]["event"] == "library failed"
    assert lines[-1]["logger"] == "some.library"
    assert lines[-1]["level"] == "error"
    assert "ValueError: boom" in lines[-1]["exception"]
    assert len(logs.text().splitlines()) == len(lines)
