"""Turn one answered call into a stored, optionally signed bundle: scenario -> certify -> sign ->
store.

`Certifier` holds what certification needs across calls (policies from config, the signing key, the
bundle store, the per-session counters). `certify_call` builds the scenario bytes from the oracle
records (`proxy.assurance.scenario`), lets `certifiers.scenario.decode_scenario` and
`certifiers.builders.certify` do every computation, signs the card when a key is configured, stores
the canonical bundle under its replay handle and chains the session's action counters. The returned
`CertifiedCall` carries the typed bundle for emission and the `CardSummary` for the wire. This
module computes no certificate field and decides nothing about emission.

Verify before emit: every bundle passes the independent verifier (`certifiers.verify`, pinned to
the proxy's own key when it signs) in the same worker thread, before the response leaves. A
failure is logged (`bundle_self_check_failed`, obligation names only), counted
(`on_self_check_failure`) and, in enforce mode, replaced by an abstain bundle (the same inputs plus
a `verifier` oracle failure) so nothing unverified is emitted; if that abstain bundle fails too,
certification fails (500, nothing sent). Shadow keeps the bundle (its answer is unchanged anyway).

Session counters advance only for calls whose tool calls are actually emitted: mode `enforce`
with decision `accept` or `downgrade` (the gate's post-state counts exactly the allowed calls,
which are the ones emitted). Shadow calls and rejected calls leave the trajectory unchanged. The
counters live in the store: a call reads the session's state, certifies from it, and advances it
by compare-and-swap on the version it read; when another replica advanced first, the call
re-certifies from the new state (at most `MAX_ADVANCE_ATTEMPTS` times, then 503), so no two
emitted calls ever start from one pre-state. A store failure while storing the bundle does not
fail the call: the bundle is certified, so it is still emitted, and the summary says the replay
handle is unavailable (`stored=False`). A store that cannot be read or advanced for a session
with actions fails closed in enforce (503 `store_unavailable`, nothing emitted) and, in shadow,
certifies from the request's counters with `stored=False`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import structlog

from certifiers.builders import certify
from certifiers.builders.certify import resolve_policy
from certifiers.bundle import card_digest, encode_bundle
from certifiers.canonical import encode_canonical
from certifiers.errors import CertificationError, CertifierError, ScenarioError
from certifiers.scenario import decode_scenario
from certifiers.types import Bundle, Policy
from certifiers.verdict import verdict_name
from certifiers.verify import CheckResult, check_bundle
from proxy.assurance.citations import claims_field
from proxy.assurance.executors import run_in
from proxy.assurance.headers import CardSummary
from proxy.assurance.scenario import (
    ActionInputs,
    OracleFailure,
    ScenarioInputs,
    build_scenario,
)
from proxy.assurance.sessions import Counters, SessionLocks, starting_counters
from proxy.assurance.signing import SigningKey, sign_bundle
from proxy.server.errors import InvalidRequestError, ProxyError
from proxy.store.base import SessionState, Store, StoreError

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

# how often one call re-certifies after losing the session's compare-and-swap to another replica
MAX_ADVANCE_ATTEMPTS = 32


class StoreUnavailableError(ProxyError):
    """Enforce needs the store (a session's counters, a Responses certified copy) and cannot
    reach it: nothing is emitted."""

    status = 503
    code = "store_unavailable"


#: the oracle failure an enforce bundle that fails the in-process verifier is replaced with
SELF_CHECK_FAILURE = OracleFailure("verifier", "independent verification of the bundle failed")


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
        store: Store,
        extra_policies: Mapping[str, Policy],
        signing_key: SigningKey | None,
        session_ttl_s: int = 86400,
        on_self_check_failure: Callable[[], None] = lambda: None,
        pool: Executor | None = None,
    ) -> None:
        self.store = store
        self.extra_policies = extra_policies
        self.signing_key = signing_key
        self.session_ttl_s = session_ttl_s
        self.sessions = SessionLocks()
        self.on_self_check_failure = on_self_check_failure
        self.trusted_keys = (signing_key.public_key,) if signing_key is not None else None
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
        """Certify (in the certification pool), sign, store; chain the session's action counters."""
        store_ok = True
        if session is None or inputs.actions is None:
            bundle, bundle_bytes = await run_in(self.pool, self._certify_checked, inputs, mode)
        else:
            # one call of a session at a time here; the store's compare-and-swap across replicas
            async with self.sessions.locked(session):
                bundle, bundle_bytes, store_ok = await self._certify_in_session(
                    inputs, session, mode
                )
        summary = summarize(bundle)
        if store_ok:
            try:
                await self.store.put(inputs.replay_handle, bundle_bytes, inputs.now)
            except StoreError as exc:
                log.error("bundle_store_failed", replay_handle=inputs.replay_handle, error=str(exc))
                store_ok = False
        if not store_ok:
            summary = replace(summary, stored=False)
        return CertifiedCall(bundle=bundle, bundle_bytes=bundle_bytes, summary=summary)

    def _certify_checked(self, inputs: ScenarioInputs, mode: str) -> tuple[Bundle, bytes]:
        """Certify, then verify the bundle independently before anything is emitted."""
        bundle = self._certify_sync(inputs)
        bundle_bytes = encode_bundle(bundle)
        result = self.self_check(bundle_bytes, inputs.replay_handle)
        if result.ok or mode != "enforce":
            return bundle, bundle_bytes
        failures = (*inputs.failures, SELF_CHECK_FAILURE)
        bundle = self._certify_sync(replace(inputs, failures=failures))
        bundle_bytes = encode_bundle(bundle)
        if not self.self_check(bundle_bytes, inputs.replay_handle).ok:
            raise CertificationError("Expected the abstain bundle to verify, got failures")
        return bundle, bundle_bytes

    def self_check(self, bundle_bytes: bytes, replay_handle: str) -> CheckResult:
        """The independent verifier over the bundle bytes; a failure is logged and counted."""
        result = check_bundle(bundle_bytes, trusted_keys=self.trusted_keys)
        if not result.ok:
            # obligation names only: failure details may quote answer text
            names = sorted({failure.partition(":")[0] for failure in result.failures})
            log.error("bundle_self_check_failed", replay_handle=replay_handle, obligations=names)
            self.on_self_check_failure()
        return result

    async def _certify_in_session(
        self, inputs: ScenarioInputs, session: str, mode: str
    ) -> tuple[Bundle, bytes, bool]:
        """Certify (and self-check) from the session's stored counters; advance them if it emits."""
        for _ in range(MAX_ADVANCE_ATTEMPTS):
            try:
                state = await self.store.session(session, now=inputs.now, ttl_s=self.session_ttl_s)
            except StoreError as exc:
                if mode == "enforce":
                    raise _unavailable(session, exc) from exc
                log.error("session_store_failed", session=session, error=str(exc))
                bundle, bundle_bytes = await run_in(self.pool, self._certify_checked, inputs, mode)
                return bundle, bundle_bytes, False
            bundle, bundle_bytes = await run_in(
                self.pool, self._certify_checked, self._chain_counters(inputs, state.counters), mode
            )
            actions = bundle.certificates.actions
            emitted = mode == "enforce" and bundle.policy_decision.decision != "reject"
            if actions is None or not emitted:
                return bundle, bundle_bytes, True
            if await self._advance(session, state, actions.post_counters, inputs.now):
                return bundle, bundle_bytes, True
            log.info("session_advance_lost", session=session, version=state.version)
        raise StoreUnavailableError(
            f"Expected to advance session {session!r} within {MAX_ADVANCE_ATTEMPTS} attempts;"
            " other calls of it kept advancing first",
            param="X-Assurance-Session",
            code="session_contended",
        )

    async def _advance(
        self, session: str, state: SessionState, counters: Counters, now: int
    ) -> bool:
        try:
            return await self.store.advance_session(
                session, expected_version=state.version, counters=dict(counters), now=now
            )
        except StoreError as exc:
            raise _unavailable(session, exc) from exc

    def _certify_sync(self, inputs: ScenarioInputs) -> Bundle:
        # the embedding section crossed the boundary ahead of time (`proxy.assurance.orchestrate`)
        embedding = inputs.stability.embedding if inputs.stability is not None else None
        scenario = decode_scenario(build_scenario(inputs), embedding=embedding)
        signer = self.signing_key.public_key.hex() if self.signing_key is not None else None
        bundle = certify(scenario, extra_policies=self.extra_policies, signer=signer)
        if self.signing_key is not None:
            bundle = sign_bundle(bundle, self.signing_key)
        return bundle

    def _chain_counters(self, inputs: ScenarioInputs, counters: Counters) -> ScenarioInputs:
        if inputs.actions is None:
            return inputs
        state: dict[str, Any] = dict(inputs.actions.state)
        state["counters"] = starting_counters(state.get("counters"), counters)
        actions = ActionInputs(
            schemas=inputs.actions.schemas,
            state=state,
            calls=inputs.actions.calls,
            unknown_tools=inputs.actions.unknown_tools,
        )
        return replace(inputs, actions=actions)


def _unavailable(session: str, error: StoreError) -> StoreUnavailableError:
    log.error("session_store_failed", session=session, error=str(error))
    return StoreUnavailableError(
        "The assurance store is unavailable, so the action counters of session"
        f" {session!r} cannot be checked; nothing was emitted",
        param="X-Assurance-Session",
    )


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
        citations=claims_field(bundle),
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
