"""The buffered half shared by the Responses and Messages handlers: one complete answer, certified.

`complete_answer` (also the chat handler's) awaits one upstream call, timed into the upstream
metric, and settles its status: an upstream error is relayed as it came (and any non-200 in
shadow), any other non-200 fails closed. In `certify_buffered` the handler names the upstream
call, the stream keys to drop and the document parser; this asks the upstream once, parses the
JSON document, certifies its answer (an answer over `max_answer_bytes` abstains), and settles
every outcome that is not an enforce emission: shadow's card or certification error is appended
to the provider's bytes. What is left for the handler is enforce: the certified document, its
parsed answer, the card headers and the enforce `assurance` field.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web

from proxy.assurance.answer import CertificationFailedError, certify_answer, too_large
from proxy.assurance.begin import Started
from proxy.assurance.certify import CertifiedCall
from proxy.assurance.citations import enforce_summary
from proxy.assurance.emit import ParsedAnswer, UpstreamAnswerError, with_assurance
from proxy.assurance.scenario import OracleFailure
from proxy.server.chat_request import ChatRequest
from proxy.server.state import STATE
from proxy.upstreams.base import Upstream, UpstreamResponse

CreateCall = Callable[
    [Upstream, bytes, Mapping[str, Any], Mapping[str, str]], Awaitable[UpstreamResponse]
]


class EnforceReady:
    """A certified document in mode enforce, ready to be rebuilt and emitted by its handler."""

    __slots__ = ("assurance", "certified", "document", "headers", "parsed")

    def __init__(
        self, document: dict[str, Any], parsed: ParsedAnswer, certified: CertifiedCall
    ) -> None:
        self.document = document
        self.parsed = parsed
        self.certified = certified
        self.headers = certified.summary.headers("enforce")
        inline = certified.bundle.emission.inline
        self.assurance = enforce_summary(certified.summary, inline=inline).body_field()


async def complete_answer(
    request: web.Request, upstream: Upstream, mode: str, call: Awaitable[UpstreamResponse]
) -> UpstreamResponse | web.Response:
    """Await one complete upstream answer, timed into the upstream metric.

    An error status (and, in shadow, any non-200) is relayed as it came; a 200 is returned for
    certification; anything else fails closed, without its body.
    """
    began = time.perf_counter()
    answer = await call
    request.app[STATE].metrics.observe_upstream(upstream.name, time.perf_counter() - began)
    if answer.status >= 400 or (answer.status != 200 and mode == "shadow"):
        return web.Response(body=answer.body, status=answer.status, headers=answer.headers)
    if answer.status != 200:
        raise UpstreamAnswerError(
            f"Expected the upstream to answer 200 (or an error status), got {answer.status}"
        )
    return answer


async def certify_buffered(
    request: web.Request,
    started: Started,
    upstream: Upstream,
    *,
    create: CreateCall,
    req: ChatRequest,
    stream_keys: tuple[str, ...],
    parse: Callable[[Any], ParsedAnswer],
    kind: str,
) -> web.Response | EnforceReady:
    """One `create` call certified; a response for every outcome but an enforce emission.

    The upstream is always asked for one complete answer: a streaming request is forwarded
    without its `stream_keys` (re-encoded), any other as the client sent it.
    """
    pipeline, areq = started.pipeline, started.areq
    parsed = {k: v for k, v in req.parsed.items() if k not in stream_keys}
    body = req.forward_body if not req.stream else msgspec.json.encode(parsed)
    reply = await complete_answer(
        request, upstream, areq.mode, create(upstream, body, parsed, request.headers)
    )
    if isinstance(reply, web.Response):
        return reply
    answer = reply
    try:
        document = json.loads(answer.body)
    except ValueError as exc:
        raise UpstreamAnswerError(f"Expected the upstream to answer a JSON {kind}") from exc
    answer_parsed = parse(document)
    limit = pipeline.config.assurance.max_answer_bytes
    failures: tuple[OracleFailure, ...] = ()
    if len(answer.body) > limit:
        failures = (too_large(len(answer.body), limit),)
    try:
        certified = await certify_answer(
            pipeline, areq, answer_parsed, started.stability, failures=failures
        )
    except CertificationFailedError as exc:
        if areq.mode == "enforce":
            raise
        payload = with_assurance(answer.body, {"error": exc.to_dict()["error"]})
        return web.Response(body=payload, content_type="application/json")
    if areq.mode != "enforce":
        payload = with_assurance(answer.body, certified.summary.body_field())
        headers = certified.summary.headers(areq.mode)
        return web.Response(body=payload, content_type="application/json", headers=headers)
    return EnforceReady(document, answer_parsed, certified)
