"""Certifying one upstream answer: the grounding oracles, the scenario inputs, the certifier.

`certify_answer` runs decomposition and one NLI round over the parsed answer (answer-level failures
such as an over-long answer abstain without decomposing), joins the stability branch started with
the request, assembles the scenario inputs (server clock, operator and client action schemas,
model version) and certifies. A certifier rejection of the pipeline's own scenario is a
`CertificationFailedError` (500, nothing uncertified is sent); oracle failures are abstain inputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import msgspec
import structlog

from certifiers.errors import CertifierError
from oracles.prompts import PROMPT_VERSION
from proxy.assurance.actions_file import DefaultActions
from proxy.assurance.certify import CertifiedCall, new_replay_handle
from proxy.assurance.emit import ParsedAnswer
from proxy.assurance.orchestrate import Budget, Grounding, StabilityOutcome, run_grounding
from proxy.assurance.request import AssuranceRequest
from proxy.assurance.scenario import ActionInputs, OracleFailure, ScenarioInputs, ToolCall
from proxy.assurance.slot import Pipeline
from proxy.config import AssuranceConfig
from proxy.server.errors import InvalidRequestError, ProxyError

log = structlog.get_logger("proxy.assurance")


class CertificationFailedError(ProxyError):
    """The certifiers rejected the pipeline's own scenario (a bug); nothing uncertified is sent."""

    status = 500
    code = "certification_failed"


def oracle_budget(pipeline: Pipeline, areq: AssuranceRequest) -> Budget:
    """The limits of this call's oracle calls: per-call timeout, end-to-end deadline, pool."""
    return Budget(
        timeout_s=pipeline.config.assurance.oracle_timeout_s,
        deadline=areq.deadline_at,
        pool=pipeline.pools.oracles,
    )


def with_deadline(areq: AssuranceRequest, config: AssuranceConfig, now: float) -> AssuranceRequest:
    """`areq` with its deadline: `[assurance] deadline_s` from `now` (or the client's, shorter)."""
    seconds = config.deadline_s
    if areq.field.deadline_s is not None:
        seconds = min(seconds, areq.field.deadline_s)
    return msgspec.structs.replace(areq, deadline_at=now + seconds)


def too_large(size: int, limit: int) -> OracleFailure:
    """The failure of an answer over `[assurance] max_answer_bytes`."""
    return OracleFailure(
        "answer",
        f"expected at most {limit} answer bytes ([assurance] max_answer_bytes), got {size}",
    )


async def certify_answer(
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
            budget=oracle_budget(pipeline, areq),
        )
    stability = await stability_task
    oracles_s = time.perf_counter() - started
    calls = [ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in parsed.calls]
    inputs = scenario_inputs(pipeline, areq, answer=answer, now=int(time.time()), calls=calls)
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


def scenario_inputs(
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
        actions=_actions(
            pipeline.default_actions, areq, now, calls, _policy_unknown_tools(pipeline, areq)
        ),
        policy_overrides=areq.field.policy,
        claim_dependencies=areq.field.claim_dependencies,
        disabled_layers=("stability",) if pipeline.oracles.embedder is None else (),
        citations=areq.field.citations,
    )


def _actions(
    defaults: DefaultActions,
    areq: AssuranceRequest,
    now: int,
    calls: list[ToolCall],
    policy_unknown_tools: str | None,
) -> ActionInputs | None:
    requested = areq.field.actions
    client_schemas = requested.schemas if requested is not None else None
    schemas = merged_schemas(defaults.schemas, client_schemas or ())
    if not schemas and not calls and requested is None:
        return None
    state: dict[str, Any] = {}
    if requested is not None and requested.state is not None:
        state.update(requested.state)
    state["now"] = now  # the server's clock, never the client's (`mtime_at_least_days`)
    operator = defaults.unknown_tools or policy_unknown_tools
    unknown = requested.unknown_tools if requested is not None else None
    return ActionInputs(
        schemas=schemas,
        state=state,
        calls=calls,
        # the request may only tighten the operator's choice (actions_file, else the policy)
        unknown_tools="block" if operator == "block" else unknown or operator,
    )


def _policy_unknown_tools(pipeline: Pipeline, areq: AssuranceRequest) -> str | None:
    policy = pipeline.certifier.extra_policies.get(areq.policy)
    return policy.unknown_tools if policy is not None else None


def merged_schemas(
    operator: Sequence[Mapping[str, Any]], client: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], ...]:
    """The operator's `actions_file` schemas with the client's added as constraints (issue 9 §3):
    a client schema for an operator tool appends its preconditions and effects to the operator's
    (never replaces them); a schema for another tool is added as is. Two client schemas for one
    tool are ambiguous: 400 naming the second (issue 10)."""
    seen: set[object] = set()
    for k, schema in enumerate(client):
        tool = schema.get("tool")
        if tool in seen:
            raise InvalidRequestError(
                f"Invalid assurance field: expected one schema per tool in"
                f" assurance.actions.schemas, got a second for {tool!r}",
                param=f"assurance.actions.schemas[{k}].tool",
                code="invalid_assurance_field",
            )
        seen.add(tool)
    merged: dict[object, dict[str, Any]] = {}
    for schema in (*operator, *client):
        tool = schema.get("tool")
        if tool in merged:
            into = merged[tool]
            into["pre"] = [*into.get("pre", ()), *schema.get("pre", ())]
            into["effects"] = [*into.get("effects", ()), *schema.get("effects", ())]
        else:
            merged[tool] = dict(schema)
    return tuple(merged.values())


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
        prompt_template=prompt_template(grounding),
    )


def prompt_template(grounding: Grounding) -> str | None:
    """The prompts behind the grounding records (hashed into the card's `prompt_template_hash`):
    `role=adapter:version` per decomposer / NLI record, the prompt version for `llm` adapters and
    the adapter's own rule version otherwise; None when neither oracle answered."""
    parts = [
        f"{role}={record.adapter}:{PROMPT_VERSION if record.adapter == 'llm' else record.model}"
        for role, record in (("decomposer", grounding.decomposition), ("nli", grounding.nli))
        if record is not None
    ]
    return ";".join(parts) or None
