"""The start every assured request shares (chat, Responses, Messages): validate, start stability.

`certification(request, chat, mode)` validates the `assurance` field and headers against the loaded
pipeline (400 naming the field, nothing forwarded yet), imposes the client's `[[clients]]` policy
rules (403), pre-checks the client's certifier inputs, starts the stability branch (it needs only
the request) and, on exit, cancels and reaps it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from proxy.assurance.answer import oracle_budget, scenario_inputs, with_deadline
from proxy.assurance.client_policy import impose_client_policy
from proxy.assurance.orchestrate import StabilityOutcome, run_stability
from proxy.assurance.request import AssuranceRequest, parse_assurance_request
from proxy.assurance.slot import PIPELINE, Pipeline
from proxy.config import AssuranceMode
from proxy.server.chat_request import ChatRequest
from proxy.server.clients import client_config
from proxy.server.state import REQUEST_INFO


@dataclass(frozen=True, slots=True)
class Started:
    """A validated assured request with its stability branch running."""

    pipeline: Pipeline
    areq: AssuranceRequest
    stability: asyncio.Task[StabilityOutcome]


@asynccontextmanager
async def certification(
    request: web.Request, chat: ChatRequest, mode: AssuranceMode
) -> AsyncIterator[Started]:
    """Validate `chat` (a chat-shaped view) for `mode` and run the stability branch meanwhile."""
    pipeline = request.app[PIPELINE].require()
    config = pipeline.config
    areq = parse_assurance_request(
        chat,
        request.headers,
        mode=mode,
        known_policies=pipeline.known_policies,
        config=config.assurance,
    )
    client_name = request[REQUEST_INFO].client
    areq = impose_client_policy(
        areq,
        request.headers,
        client_name=client_name,
        client=client_config(config, client_name),
        policies=pipeline.certifier.extra_policies,
    )
    areq = with_deadline(areq, config.assurance, asyncio.get_running_loop().time())
    pipeline.certifier.check_client_inputs(
        scenario_inputs(pipeline, areq, answer="", now=int(time.time()), calls=[])
    )
    stability = asyncio.create_task(
        run_stability(
            pipeline.oracles,
            query=areq.query,
            perturbations=areq.field.perturbations,
            evidence=areq.evidence,
            timeout_s=config.assurance.oracle_timeout_s,
            inline=config.assurance.inline_embeddings,
            budget=oracle_budget(pipeline, areq),
        )
    )
    try:
        yield Started(pipeline=pipeline, areq=areq, stability=stability)
    finally:
        if not stability.done():
            stability.cancel()
        await asyncio.gather(stability, return_exceptions=True)
