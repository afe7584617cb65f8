"""Turn one answered call into a stored, optionally signed bundle: scenario -> certify -> sign ->
store.

`Certifier` holds what certification needs across calls (policies from config, the signing key, the
bundle store, the per-session counters). `certify_call` builds the scenario bytes from the oracle
records (`proxy.assurance.scenario`), lets `certifiers.scenario.decode_scenario` and
`certifiers.builders.certify` do every computation, signs the card when a key is configured, stores
the canonical bundle under its replay handle and chains the session's action counters. The returned
`CertifiedCall` carries the typed bundle for emission and the `CardSummary` for the wire. This
module computes no certificate field and decides nothing about emission.

Session counters advance only for calls whose tool calls are actually emitted: mode `enforce`
with decision `accept` or `downgrade` (the gate's post-state counts exactly the allowed calls,
which are the ones emitted). Shadow calls and rejected calls leave the trajectory unchanged. A
store failure does not fail the call: the bundle is certified, so it is still emitted, and the
summary says the replay handle is unavailable (`stored=False`).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import msgspec
import structlog

from certifiers.builders import certify
from certifiers.builders.certify import resolve_policy
from certifiers.bundle import card_digest, card_signing_payload, encode_bundle, with_signature
from certifiers.canonical import encode_canonical
from certifiers.errors import CertifierError, ScenarioError
from certifiers.scenario import decode_scenario
from certifiers.types import Bundle, Policy
from certifiers.verdict import verdict_name
from proxy.assurance.executors import run_in
from proxy.assurance.headers import CardSummary
from proxy.assurance.scenario import (
    ActionInputs,
    ScenarioInputs,
    build_scenario,
    decoded_embedding,
)
from proxy.assurance.sessions import SessionCounters, starting_counters
from proxy.assurance.signing import SigningKey
from proxy.server.errors import InvalidRequestError
from proxy.store.sqlite import BundleStore, StoreError

log = structlog.get_logger("proxy.assurance")

# scenario paths that come from the client's `assurance` field, and where they came from
_CLIENT_PATHS = (
    ("$.policy_overrides", "assurance.policy"),
    ("$.policy", "assurance.policy"),
    ("$.actions.schemas", "assurance.actions.schemas"),
    ("$.actions.state", "assurance.actions.state"),
    ("$.actions.unknown_tools", "assurance.actions.unknown_tools"),
    ("$.evidence", "assurance.evidence"),
)
_PATH_IN_MESSAGE = re.compile(r"`(\$[^`]*)`")


@dataclass(frozen=True, slots=True)
class CertifiedCall:
    """A certified call: its typed bundle, the stored bytes and the wire summary."""

    bundle: Bundle
    bundle_bytes: bytes
    summary: CardSummary


class Certifier:
    """Certification state shared by every call of one proxy."""

    def __init__(
        self,
        *,
        store: BundleStore,
        extra_policies: Mapping[str, Policy],
        signing_key: SigningKey | None,
        sessions: SessionCounters,
        pool: Executor | None = None,
    ) -> None:
        self.store = store
        self.extra_policies = extra_policies
        self.signing_key = signing_key
        self.sessions = sessions
        # the bounded certification pool (`proxy.assurance.executors`); None: asyncio's default
        self.pool = pool

    def check_client_inputs(self, inputs: ScenarioInputs) -> None:
        """Decode a scenario holding only the client's inputs; a bad one is a 400 naming the field.

        Run before anything is forwarded, so policy overrides, action schemas and state the
        certifiers would reject never cost an upstream call (SPEC 3.2).
        """
        try:
            resolve_policy(decode_scenario(build_scenario(inputs)), self.extra_policies)
        except CertifierError as exc:
            path = _scenario_path(exc)
            for prefix, client_name in _CLIENT_PATHS:
                if path.startswith(prefix):
                    raise InvalidRequestError(
                        f"Invalid assurance field: {exc}".replace(prefix, client_name),
                        param=client_name + path[len(prefix) :],
                        code="invalid_assurance_field",
                    ) from exc
            raise InvalidRequestError(
                f"Invalid assurance field: {exc}", param="assurance", code="invalid_assurance_field"
            ) from exc

    async def certify_call(
        self, inputs: ScenarioInputs, session: str | None, *, mode: str
    ) -> CertifiedCall:
        """Certify (in the certification pool), sign, store; chain the session's counters."""
        if session is None or inputs.actions is None:
            bundle = await run_in(self.pool, self._certify_sync, inputs)
        else:
            # one call of a session at a time: each starts from the previous post-state
            async with self.sessions.locked(session):
                inputs = self._chain_counters(inputs, session)
                bundle = await run_in(self.pool, self._certify_sync, inputs)
                actions = bundle.certificates.actions
                emitted = mode == "enforce" and bundle.policy_decision.decision != "reject"
                if actions is not None and emitted:
                    self.sessions.put(session, actions.post_counters)
        bundle_bytes = encode_bundle(bundle)
        summary = summarize(bundle)
        try:
            await self.store.put(inputs.replay_handle, bundle_bytes, inputs.now)
        except StoreError as exc:
            log.error("bundle_store_failed", replay_handle=inputs.replay_handle, error=str(exc))
            summary = replace(summary, stored=False)
        return CertifiedCall(bundle=bundle, bundle_bytes=bundle_bytes, summary=summary)

    def _certify_sync(self, inputs: ScenarioInputs) -> Bundle:
        scenario = decode_scenario(build_scenario(inputs))
        decoded = decoded_embedding(inputs)
        if decoded is not None:
            # the embedding section was decoded ahead of time (`proxy.assurance.orchestrate`)
            scenario = msgspec.structs.replace(scenario, embedding=decoded)
        bundle = certify(scenario, extra_policies=self.extra_policies)
        if self.signing_key is not None:
            signature = self.signing_key.sign(card_signing_payload(bundle))
            bundle = with_signature(bundle, self.signing_key.public_key, signature)
        return bundle

    def _chain_counters(self, inputs: ScenarioInputs, session: str | None) -> ScenarioInputs:
        if session is None or inputs.actions is None:
            return inputs
        state: dict[str, Any] = dict(inputs.actions.state)
        state["counters"] = starting_counters(state.get("counters"), self.sessions.get(session))
        actions = ActionInputs(
            schemas=inputs.actions.schemas,
            state=state,
            calls=inputs.actions.calls,
            unknown_tools=inputs.actions.unknown_tools,
        )
        return replace(inputs, actions=actions)


def summarize(bundle: Bundle) -> CardSummary:
    """The wire summary of a bundle (fields copied from the card and the policy decision)."""
    card = bundle.card
    return CardSummary(
        card_canonical=encode_canonical(card),
        verdict=verdict_name(card),
        policy=bundle.certificates.policy.name,
        policy_decision=bundle.policy_decision.decision,
        policy_failures=tuple(bundle.policy_decision.failures),
        certificate_digest=card.certificate_digest,
        card_digest=card_digest(card),
        replay_handle=card.replay_handle or "",
    )


def new_replay_handle(policy: str, now: int) -> str:
    """A fresh, unguessable replay handle such as `clinical-20260425-7c4fa0b1d2e3f405`."""
    day = time.strftime("%Y%m%d", time.gmtime(now))
    return f"{policy}-{day}-{secrets.token_hex(8)}"


def _scenario_path(error: CertifierError) -> str:
    if isinstance(error, ScenarioError) and error.path != "$":
        return error.path
    found = _PATH_IN_MESSAGE.search(str(error))
    return found.group(1) if found else "$"
