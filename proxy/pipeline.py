"""Modes `shadow` and `enforce` (SPEC 3.2-3.3, 5.6-5.7): the assurance pipeline behind the chat
route.

`setup_assurance(app)` installs the pipeline into `proxy.app.create_app`: the `ASSURED_CHAT`
handler, a `cleanup_ctx` that loads the oracles, opens the bundle store and reads the signing key
once, a readiness check, and the replay routes. Per request, `handle_assured_chat` validates the
`assurance` field (400 naming the field, nothing forwarded), starts the stability branch
(paraphrases and embeddings need only the request), asks the upstream for a non-streaming answer
(shadow streams are teed live instead), runs decomposition and one NLI round, then certifies, signs,
stores and emits (`proxy.pipeline_emit`, `proxy.pipeline_stream`). Oracle failures become abstain
cards (fail closed); the shell never computes a certificate field.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec
import structlog
from aiohttp import web

from certifiers.errors import CertifierError, PolicyError
from certifiers.policy import resolve_policies
from oracles.factory import OracleSet, build_oracles
from proxy.assurance_request import AssuranceRequest, parse_assurance_request
from proxy.chat_request import ChatRequest
from proxy.config import AssuranceMode, Config, ConfigError
from proxy.errors import ProxyError
from proxy.pipeline_certify import CertifiedCall, Certifier, new_replay_handle
from proxy.pipeline_chat import chat_clients, embeddings_clients
from proxy.pipeline_emit import (
    ParsedAnswer,
    UpstreamAnswerError,
    encode_completion,
    enforced_completion,
    parse_completion,
    parse_completion_object,
    with_assurance,
)
from proxy.pipeline_oracles import Grounding, StabilityOutcome, run_grounding, run_stability
from proxy.pipeline_routes import handle_verify, make_card_handler
from proxy.pipeline_scenario import ActionInputs, OracleFailure, ScenarioInputs, ToolCall
from proxy.pipeline_stream import DONE_EVENT, StreamTee, completion_chunks
from proxy.responses import relay_stream, sse_error_event
from proxy.sessions import SessionCounters
from proxy.signing import SigningKey, load_signing_key
from proxy.state import ASSURED_CHAT, READINESS_CHECKS, REQUEST_INFO, STATE
from proxy.store import BundleStore
from proxy.upstream_base import Upstream

log = structlog.get_logger("proxy.pipeline")
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


class CertificationFailedError(ProxyError):
    """The certifiers rejected the pipeline's own scenario (a bug); nothing uncertified is sent."""

    status = 500
    code = "certification_failed"


@dataclass(frozen=True, slots=True)
class DefaultActions:
    """`[assurance] actions_file`: tool schemas applied when a request brings none."""

    schemas: tuple[dict[str, Any], ...] = ()
    unknown_tools: str | None = None


@dataclass(slots=True)
class Pipeline:
    """Everything the assurance modes need, loaded once per app."""

    config: Config
    oracles: OracleSet
    certifier: Certifier
    known_policies: frozenset[str]
    default_actions: DefaultActions


@dataclass(slots=True)
class _Slot:
    pipeline: Pipeline | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def require(self) -> Pipeline:
        if self.pipeline is None:
            error = ProxyError(
                "Expected the assurance pipeline to be loaded, got a proxy starting up",
                code="assurance_not_ready",
            )
            error.status = 503
            raise error
        return self.pipeline


PIPELINE: web.AppKey[_Slot] = web.AppKey("assurance_pipeline", _Slot)


def setup_assurance(app: web.Application) -> None:
    """Install modes shadow/enforce, the replay routes and the oracle lifecycle into `app`."""
    slot = _Slot()
    app[PIPELINE] = slot
    app[ASSURED_CHAT] = handle_assured_chat
    app[READINESS_CHECKS].append(lambda: slot.pipeline is not None)
    app.cleanup_ctx.append(_pipeline_context)
    app.router.add_get(
        "/v1/assurance/cards/{replay_handle}",
        make_card_handler(lambda request: request.app[PIPELINE].require().certifier.store),
    )
    app.router.add_post("/v1/assurance/verify", handle_verify)


async def _pipeline_context(app: web.Application) -> AsyncIterator[None]:
    # runs after proxy.app's upstream context, so the upstream clients exist
    state = app[STATE]
    config = state.config
    upstreams = state.upstreams
    oracles = await asyncio.to_thread(
        build_oracles,
        config.oracles,
        chat_clients(upstreams),
        embeddings_clients=embeddings_clients(upstreams),
    )
    store: BundleStore | None = None
    try:
        store = await BundleStore.open(config.store.path)
        signing_key = await _signing_key(config)
        try:
            policies = resolve_policies(config.policies)
        except PolicyError as exc:
            raise ConfigError(f"Invalid [policies] configuration: {exc}") from exc
        certifier = Certifier(
            store=store,
            extra_policies=policies,
            signing_key=signing_key,
            sessions=SessionCounters(),
        )
        app[PIPELINE].pipeline = Pipeline(
            config=config,
            oracles=oracles,
            certifier=certifier,
            known_policies=frozenset(policies),
            default_actions=await asyncio.to_thread(_default_actions, config),
        )
        yield
    finally:
        app[PIPELINE].pipeline = None
        await oracles.aclose()
        if store is not None:
            await store.aclose()


async def _signing_key(config: Config) -> SigningKey | None:
    path = config.assurance.signing_key_file
    return None if path is None else await asyncio.to_thread(load_signing_key, path)


def _default_actions(config: Config) -> DefaultActions:
    path = config.assurance.actions_file
    if path is None:
        return DefaultActions()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        schemas = raw.get("schemas", [])
        unknown = raw.get("unknown_tools")
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"Expected [assurance] actions_file to be a readable JSON object"
            f' {{"schemas": [...], "unknown_tools": ...}}, got {exc} - at {path!r}'
        ) from exc
    if not isinstance(schemas, list) or not all(isinstance(s, dict) for s in schemas):
        raise ConfigError(f"Expected `schemas` to be a list of objects - at {path!r}")
    if unknown not in (None, "allow", "block"):
        raise ConfigError(f"Expected `unknown_tools` allow or block, got {unknown!r} - at {path!r}")
    return DefaultActions(schemas=tuple(schemas), unknown_tools=unknown)


async def handle_assured_chat(
    request: web.Request, upstream: Upstream, chat: ChatRequest, mode: AssuranceMode
) -> web.StreamResponse:
    """The `ASSURED_CHAT` handler: modes shadow and enforce, streaming or not."""
    # every line logged while certifying this request (pipeline, oracles) carries its id
    with structlog.contextvars.bound_contextvars(request_id=request[REQUEST_INFO].request_id):
        return await _handle_assured_chat(request, upstream, chat, mode)


async def _handle_assured_chat(
    request: web.Request, upstream: Upstream, chat: ChatRequest, mode: AssuranceMode
) -> web.StreamResponse:
    slot = request.app[PIPELINE]
    pipeline = slot.require()
    config = pipeline.config
    areq = parse_assurance_request(
        chat,
        request.headers,
        mode=mode,
        known_policies=pipeline.known_policies,
        config=config.assurance,
    )
    now = int(time.time())
    pipeline.certifier.check_client_inputs(_inputs(pipeline, areq, answer="", now=now, calls=[]))
    stability = asyncio.create_task(
        run_stability(
            pipeline.oracles,
            query=areq.query,
            perturbations=areq.field.perturbations,
            evidence=areq.evidence,
            timeout_s=config.assurance.oracle_timeout_s,
        )
    )
    try:
        if mode == "shadow" and chat.stream:
            return await _shadow_stream(
                request,
                pipeline=pipeline,
                upstream=upstream,
                chat=chat,
                areq=areq,
                stability=stability,
            )
        return await _buffered(
            request, pipeline=pipeline, upstream=upstream, chat=chat, areq=areq, stability=stability
        )
    finally:
        if not stability.done():
            stability.cancel()
        await asyncio.gather(stability, return_exceptions=True)


async def _buffered(
    request: web.Request,
    *,
    pipeline: Pipeline,
    upstream: Upstream,
    chat: ChatRequest,
    areq: AssuranceRequest,
    stability: asyncio.Task[StabilityOutcome],
) -> web.StreamResponse:
    """Enforce (streaming or not) and non-streaming shadow: one complete upstream answer first."""
    body = chat.forward_body if not chat.stream else _non_streaming_body(chat.parsed)
    started = time.perf_counter()
    answer = await upstream.chat(body, chat.parsed, request.headers)
    request.app[STATE].metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    if answer.status >= 400 or (answer.status != 200 and areq.mode == "shadow"):
        return web.Response(body=answer.body, status=answer.status, headers=answer.headers)
    if answer.status != 200:
        # only a 200 answer is certifiable: anything else fails closed, without its body
        raise UpstreamAnswerError(
            f"Expected the upstream to answer 200 (or an error status), got {answer.status}"
        )
    limit = pipeline.config.assurance.max_answer_bytes
    parsed = parse_completion(answer.body)
    failures: tuple[OracleFailure, ...] = ()
    if len(answer.body) > limit:
        failures = (_too_large(len(answer.body), limit),)
    try:
        certified = await _certify(pipeline, areq, parsed, stability, failures=failures)
    except CertificationFailedError as exc:
        if areq.mode == "enforce":
            raise
        # shadow never changes the answer, even when certification itself failed
        payload = with_assurance(answer.body, {"error": exc.to_dict()["error"]})
        return web.Response(body=payload, content_type="application/json")
    assurance = certified.summary.body_field()
    headers = certified.summary.headers(areq.mode)
    if areq.mode != "enforce":
        payload = with_assurance(answer.body, assurance)
        return web.Response(body=payload, content_type="application/json", headers=headers)
    emitted = enforced_completion(parsed, certified.bundle)
    if not chat.stream:
        payload = encode_completion(emitted, assurance)
        return web.Response(body=payload, content_type="application/json", headers=headers)
    include_usage = bool((chat.parsed.get("stream_options") or {}).get("include_usage"))
    response = web.StreamResponse(headers={**_SSE_HEADERS, **headers})
    await response.prepare(request)
    for event in completion_chunks(emitted, assurance, include_usage=include_usage):
        await response.write(event)
    await response.write_eof()
    return response


def _too_large(size: int, limit: int) -> OracleFailure:
    return OracleFailure(
        "answer",
        f"expected at most {limit} answer bytes ([assurance] max_answer_bytes), got {size}",
    )


def _non_streaming_body(parsed: Any) -> bytes:
    # enforce buffers: ask the upstream for one complete answer, whatever the client streams
    body = {k: v for k, v in parsed.items() if k not in ("stream", "stream_options")}
    return msgspec.json.encode(body)


async def _shadow_stream(
    request: web.Request,
    *,
    pipeline: Pipeline,
    upstream: Upstream,
    chat: ChatRequest,
    areq: AssuranceRequest,
    stability: asyncio.Task[StabilityOutcome],
) -> web.StreamResponse:
    started = time.perf_counter()
    stream = await upstream.chat_stream(chat.forward_body, chat.parsed, request.headers)
    request.app[STATE].metrics.observe_upstream(upstream.name, time.perf_counter() - started)
    if stream.status != 200:
        return await relay_stream(request, stream)
    limit = pipeline.config.assurance.max_answer_bytes
    tee = StreamTee(max_answer_bytes=limit)
    response = web.StreamResponse(headers={**_SSE_HEADERS, "X-Assurance-Mode": "shadow"})
    try:
        await response.prepare(request)
        # tokens pass through live; only the [DONE] sentinel is held back for the card
        async for chunk in stream.chunks:
            forward = tee.feed(chunk)
            if forward:
                await response.write(forward)
        rest = tee.flush()
        if rest:
            await response.write(rest)
    except ProxyError as exc:
        # the upstream failed midway: there is no complete answer to certify
        await response.write(sse_error_event(exc))
        await response.write_eof()
        return response
    finally:
        await stream.aclose()
    assurance = await _shadow_assurance(pipeline, areq, tee, stability, limit)
    await response.write(tee.trailer_chunk(assurance))
    await response.write(DONE_EVENT)
    await response.write_eof()
    return response


async def _shadow_assurance(
    pipeline: Pipeline,
    areq: AssuranceRequest,
    tee: StreamTee,
    stability: asyncio.Task[StabilityOutcome],
    limit: int,
) -> dict[str, Any]:
    """The trailer's `assurance` object; every failure becomes `{"error": ...}`, never a raise.

    The stream was already relayed, so nothing here may break it: an answer that cannot be
    certified as complete (truncated, over the size limit, several choices) gets an abstain card
    naming why.
    """
    failures: list[OracleFailure] = []
    if not tee.complete:
        failures.append(
            OracleFailure("upstream", "the stream ended without a finish_reason and [DONE]")
        )
    if tee.overflow:
        failures.append(_too_large(limit + 1, limit))
    try:
        if tee.extra_choices:
            raise UpstreamAnswerError("Expected one choice in the stream, got several")
        parsed = parse_completion_object(tee.completion())
        certified = await _certify(pipeline, areq, parsed, stability, failures=tuple(failures))
    except ProxyError as exc:
        return {"error": exc.to_dict()["error"]}
    except Exception as exc:  # the stream is already out: report, never break it
        log.error("shadow_certification_crashed", error_type=type(exc).__name__)
        error = ProxyError("The proxy could not certify this answer; see its logs")
        return {"error": error.to_dict()["error"]}
    return certified.summary.body_field()


async def _certify(
    pipeline: Pipeline,
    areq: AssuranceRequest,
    parsed: ParsedAnswer,
    stability_task: asyncio.Task[StabilityOutcome],
    *,
    failures: tuple[OracleFailure, ...] = (),
) -> CertifiedCall:
    """Run the oracles over `parsed` and certify it; `failures` (answer-level) abstain first."""
    config = pipeline.config.assurance
    answer = parsed.text if not failures else ""
    started = time.perf_counter()
    if failures:
        # an answer that cannot be certified as a whole is not decomposed: abstain with reasons
        grounding = Grounding(decomposition=None, nli=None, failures=failures)
    else:
        grounding = await run_grounding(
            pipeline.oracles,
            answer=answer,
            query=areq.query,
            evidence=areq.evidence,
            max_claims=config.max_claims,
            timeout_s=config.oracle_timeout_s,
        )
    stability = await stability_task
    oracles_s = time.perf_counter() - started
    calls = [ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in parsed.calls]
    inputs = _inputs(pipeline, areq, answer=answer, now=int(time.time()), calls=calls)
    inputs = _with_oracles(inputs, grounding, stability, parsed.completion)
    try:
        certified = await pipeline.certifier.certify_call(inputs, areq.session, mode=areq.mode)
    except CertifierError as exc:
        # the message may quote scenario values (answer text): log and answer the path only
        where = getattr(exc, "path", "$")
        log.error(
            "certification_failed",
            error_type=type(exc).__name__,
            at=where,
            replay_handle=inputs.replay_handle,
        )
        raise CertificationFailedError(
            f"Expected the certifiers to accept the pipeline's scenario, got {type(exc).__name__}"
            f" at {where}"
        ) from exc
    content: dict[str, Any] = {}
    if config.log_content:
        content = {"query": areq.query, "answer": parsed.text}
    log.info(
        "assurance_certified",
        mode=areq.mode,
        policy=areq.policy,
        verdict=certified.summary.verdict,
        policy_decision=certified.summary.policy_decision,
        replay_handle=certified.summary.replay_handle,
        claims=len(inputs.decomposition.claims) if inputs.decomposition else 0,
        evidence=len(areq.evidence),
        answer_chars=len(parsed.text),
        oracle_failures=[f.oracle for f in inputs.failures],
        oracles_ms=round(oracles_s * 1000, 2),
        **content,
    )
    return certified


def _inputs(
    pipeline: Pipeline,
    areq: AssuranceRequest,
    *,
    answer: str,
    now: int,
    calls: list[ToolCall],
) -> ScenarioInputs:
    config = pipeline.config.assurance
    return ScenarioInputs(
        answer=answer,
        query=areq.query,
        policy=areq.policy,
        now=now,
        replay_handle=new_replay_handle(areq.policy, now),
        card_ttl_s=config.card_ttl_s,
        max_claims=config.max_claims,
        evidence=areq.evidence,
        actions=_actions(pipeline.default_actions, areq, now, calls),
        policy_overrides=areq.field.policy,
        claim_dependencies=areq.field.claim_dependencies,
        disabled_layers=("stability",) if pipeline.oracles.embedder is None else (),
        inline_embeddings=config.inline_embeddings,
    )


def _actions(
    defaults: DefaultActions, areq: AssuranceRequest, now: int, calls: list[ToolCall]
) -> ActionInputs | None:
    requested = areq.field.actions
    schemas = (
        requested.schemas
        if requested is not None and requested.schemas is not None
        else defaults.schemas
    )
    if not schemas and not calls and requested is None:
        return None
    state: dict[str, Any] = {}
    if requested is not None and requested.state is not None:
        state.update(requested.state)
    state["now"] = now  # the server's clock, never the client's (`mtime_at_least_days`)
    unknown = requested.unknown_tools if requested is not None else None
    return ActionInputs(
        schemas=schemas,
        state=state,
        calls=calls,
        unknown_tools=unknown or defaults.unknown_tools,
    )


def _with_oracles(
    inputs: ScenarioInputs,
    grounding: Grounding,
    stability: StabilityOutcome,
    completion: dict[str, Any],
) -> ScenarioInputs:
    model = completion.get("model")
    fingerprint = completion.get("system_fingerprint")
    version = f"{model}@{fingerprint}" if model and fingerprint else model
    return replace(
        inputs,
        decomposition=grounding.decomposition,
        nli=grounding.nli,
        stability=stability.stability,
        failures=(*grounding.failures, *stability.failures),
        model_version=version if isinstance(version, str) else None,
    )
