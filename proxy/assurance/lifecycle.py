"""Installing the assurance modes into the app and loading what they need once.

`setup_assurance(app)` (called by `proxy.server.app.create_app` and `assurance serve`) registers the
`ASSURED_CHAT` handler, a `cleanup_ctx` that builds the oracles, opens the store (SQLite or
PostgreSQL, `proxy.store.open_store`) and starts its upkeep task (health ping, retention purge),
reads the signing key and the operator's policies and actions file, a readiness check (pipeline
loaded and store healthy), and the replay routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from certifiers.errors import PolicyError
from certifiers.policy import resolve_policies
from oracles.factory import build_oracles
from proxy.assurance.actions_file import load_default_actions
from proxy.assurance.certify import Certifier
from proxy.assurance.chat_clients import chat_clients, embeddings_clients
from proxy.assurance.executors import CPUPools
from proxy.assurance.handler import handle_assured_chat
from proxy.assurance.messages_handler import handle_assured_messages
from proxy.assurance.responses_handler import handle_assured_responses, handle_get_response
from proxy.assurance.responses_store import CERTIFIED_RESPONSES, CertifiedResponses
from proxy.assurance.routes import make_card_handler, make_verify_handler
from proxy.assurance.signing import SigningKey, load_signing_key
from proxy.assurance.slot import PIPELINE, Pipeline, PipelineSlot
from proxy.config import Config, ConfigError
from proxy.server.state import (
    ASSURED_CHAT,
    ASSURED_MESSAGES,
    ASSURED_RESPONSES,
    READINESS_CHECKS,
    STATE,
)
from proxy.store import open_store
from proxy.store.base import Store, StoreError
from proxy.store.maintenance import maintain


def setup_assurance(app: web.Application) -> None:
    """Install modes shadow/enforce, the replay routes and the oracle lifecycle into `app`."""
    slot = PipelineSlot()
    app[PIPELINE] = slot
    app[ASSURED_CHAT] = handle_assured_chat
    app[ASSURED_RESPONSES] = handle_assured_responses
    app[ASSURED_MESSAGES] = handle_assured_messages
    app[CERTIFIED_RESPONSES] = CertifiedResponses()
    app.router.add_get("/v1/responses/{response_id}", handle_get_response)
    app[READINESS_CHECKS].append(
        lambda: slot.pipeline is not None and slot.pipeline.certifier.store.healthy
    )
    app.cleanup_ctx.append(_pipeline_context)
    app.router.add_get(
        "/v1/assurance/cards/{replay_handle}",
        make_card_handler(
            lambda request: request.app[PIPELINE].require().certifier.store,
            retention_days=lambda request: request.app[STATE].config.store.retention_days,
        ),
    )
    app.router.add_post(
        "/v1/assurance/verify",
        make_verify_handler(lambda request: request.app[PIPELINE].require().certifier.trusted_keys),
    )


async def _pipeline_context(app: web.Application) -> AsyncIterator[None]:
    # runs after proxy.server.app's upstream context, so the upstream clients exist
    state = app[STATE]
    config = state.config
    upstreams = state.upstreams
    oracles = await asyncio.to_thread(
        build_oracles,
        config.oracles,
        chat_clients(upstreams),
        embeddings_clients=embeddings_clients(upstreams),
    )
    store: Store | None = None
    upkeep: asyncio.Task[None] | None = None
    try:
        try:
            store = await open_store(config.store)
        except StoreError as exc:
            # a start-up problem of the configuration: one line, exit 2 (`assurance serve`)
            raise ConfigError(str(exc)) from exc
        signing_key = await _signing_key(config)
        try:
            policies = resolve_policies(config.policies)
        except PolicyError as exc:
            raise ConfigError(f"Invalid [policies] configuration: {exc}") from exc
        pools = CPUPools.from_config(config.assurance)
        certifier = Certifier(
            store=store,
            extra_policies=policies,
            signing_key=signing_key,
            on_self_check_failure=state.metrics.count_self_check_failure,
            session_ttl_s=config.assurance.session_ttl_s,
            pool=pools.certify,
        )
        app[PIPELINE].pipeline = Pipeline(
            config=config,
            oracles=oracles,
            certifier=certifier,
            known_policies=frozenset(policies),
            default_actions=await asyncio.to_thread(load_default_actions, config),
            pools=pools,
        )
        upkeep = asyncio.create_task(
            maintain(
                store,
                interval_s=config.store.maintenance_interval_s,
                retention_days=config.store.retention_days,
                session_ttl_s=config.assurance.session_ttl_s,
            )
        )
        yield
    finally:
        pipeline = app[PIPELINE].pipeline
        if pipeline is not None:
            pipeline.pools.shutdown()
        app[PIPELINE].pipeline = None
        if upkeep is not None:
            upkeep.cancel()
            await asyncio.gather(upkeep, return_exceptions=True)
        await oracles.aclose()
        if store is not None:
            await store.aclose()


async def _signing_key(config: Config) -> SigningKey | None:
    path = config.assurance.signing_key_file
    return None if path is None else await asyncio.to_thread(load_signing_key, path)
