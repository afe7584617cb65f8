"""Installing the assurance modes into the app and loading what they need once.

`setup_assurance(app)` (called by `proxy.server.app.create_app` and `assurance serve`) registers the
`ASSURED_CHAT` handler, a `cleanup_ctx` that builds the oracles, opens the bundle store, reads the
signing key and the operator's policies and actions file, a readiness check, and the replay routes.
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
from proxy.assurance.routes import handle_verify, make_card_handler
from proxy.assurance.sessions import SessionCounters
from proxy.assurance.signing import SigningKey, load_signing_key
from proxy.assurance.slot import PIPELINE, Pipeline, PipelineSlot
from proxy.config import Config, ConfigError
from proxy.server.state import ASSURED_CHAT, READINESS_CHECKS, STATE
from proxy.store.sqlite import BundleStore, StoreError


def setup_assurance(app: web.Application) -> None:
    """Install modes shadow/enforce, the replay routes and the oracle lifecycle into `app`."""
    slot = PipelineSlot()
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
    store: BundleStore | None = None
    try:
        try:
            store = await BundleStore.open(config.store.path)
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
            sessions=SessionCounters(),
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
        yield
    finally:
        pipeline = app[PIPELINE].pipeline
        if pipeline is not None:
            pipeline.pools.shutdown()
        app[PIPELINE].pipeline = None
        await oracles.aclose()
        if store is not None:
            await store.aclose()


async def _signing_key(config: Config) -> SigningKey | None:
    path = config.assurance.signing_key_file
    return None if path is None else await asyncio.to_thread(load_signing_key, path)
