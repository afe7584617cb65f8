"""Shared call plumbing for adapters: timeouts, upstream error mapping, strict JSON reply decoding.

`with_timeout` turns a missed deadline into `OracleTimeoutError` naming the oracle; `gather_all`
runs sibling calls as one `asyncio.TaskGroup` (the first failure cancels the others and is raised
as itself, not as an `ExceptionGroup`); `call_chat` maps
any client exception to `OracleUnavailableError`; `decode_reply` decodes an LLM reply into a typed
Struct and raises `OracleOutputError` on anything that is not exactly one JSON value of the expected
schema (a single surrounding Markdown code fence is the only wrapping tolerated). Nothing here
retries or coerces. Failure reasons reach cards, headers and stored bundles, so they never quote a
reply, a provider's error message or a response body (which may echo evidence or prompt text):
`failure_of` names an exception by type and HTTP status only, `scrubbed` drops quoted values from
a decoder's message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any, TypeVar

import msgspec

from oracles.errors import (
    OracleError,
    OracleOutputError,
    OracleTimeoutError,
    OracleUnavailableError,
)
from oracles.protocols import ChatClient

T = TypeVar("T")

_FENCE = re.compile(r"\A```(?:json|JSON)?[ \t]*\n(?P<body>.*)\n```\Z", re.DOTALL)
_MAX_SHOWN = 120
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def failure_of(exc: BaseException) -> str:
    """An exception as `Type` or `Type (HTTP 503)`: never its message (it may quote content)."""
    status = getattr(exc, "status", None)
    return (
        f"{type(exc).__name__} (HTTP {status})" if isinstance(status, int) else type(exc).__name__
    )


def scrubbed(message: object) -> str:
    """A decoder's message with every quoted value replaced by `'…'` (paths and types kept)."""
    return _QUOTED.sub("'…'", str(message))[:_MAX_SHOWN]


async def with_timeout(oracle: str, timeout_s: float, awaitable: Awaitable[T]) -> T:
    """Await `awaitable`, raising `OracleTimeoutError(oracle)` after `timeout_s` seconds."""
    try:
        async with asyncio.timeout(timeout_s):
            return await awaitable
    except TimeoutError as exc:
        raise OracleTimeoutError(oracle, f"no answer within timeout_s={timeout_s}") from exc


async def gather_all(coroutines: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Results of `coroutines` run concurrently, in order; the first failure cancels the rest.

    `asyncio.gather` leaves siblings running after one fails (cost upstream, unretrieved
    exceptions); a TaskGroup cancels and awaits them. The first error is re-raised unwrapped so
    callers keep catching `OracleError`.
    """
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in coroutines]
    except BaseExceptionGroup as failed:
        first = failed.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]


async def call_chat(
    oracle: str, client: ChatClient, *, model: str, messages: list[dict[str, str]]
) -> str:
    """One chat completion; client failures become `OracleUnavailableError` (ours pass through)."""
    try:
        reply = await client.complete(model=model, messages=messages)
    except OracleError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise OracleUnavailableError(oracle, f"upstream call failed: {failure_of(exc)}") from exc
    if not isinstance(reply, str):
        raise OracleOutputError(oracle, f"expected the reply as text, got {type(reply).__name__}")
    return reply


async def ask_json(
    oracle: str,
    client: ChatClient,
    *,
    model: str,
    messages: list[dict[str, str]],
    timeout_s: float,
    schema: type[T],
) -> tuple[str, T]:
    """One timed chat call whose reply must decode as `schema`: (raw reply, decoded value)."""
    reply = await with_timeout(
        oracle, timeout_s, call_chat(oracle, client, model=model, messages=messages)
    )
    return reply, decode_reply(oracle, reply, schema)


def decode_reply(oracle: str, reply: str, schema: type[T]) -> T:
    """Decode one JSON value of type `schema` from an LLM reply, or raise `OracleOutputError`."""
    body = reply.strip()
    fenced = _FENCE.match(body)
    if fenced is not None:
        body = fenced.group("body").strip()
    try:
        return msgspec.json.decode(body, type=schema)
    except msgspec.ValidationError as exc:
        raise OracleOutputError(
            oracle, f"reply violates the expected JSON schema: {scrubbed(exc)}"
        ) from exc
    except msgspec.DecodeError as exc:
        raise OracleOutputError(
            oracle,
            f"expected a single JSON object, got a {len(reply)}-character reply ({scrubbed(exc)})",
        ) from exc
