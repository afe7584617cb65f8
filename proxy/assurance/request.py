"""Parse and validate what a chat request asks of the assurance pipeline (SPEC 3.2).

Reads the `X-Assurance-*` headers and the `assurance` body field into one frozen `AssuranceRequest`,
and gathers the evidence: the field's chunks plus every `role: "tool"` message (source role
`tool_output`). Every problem raises `InvalidRequestError` whose `param` names the offending field
(`assurance.evidence[0].text`), before anything is forwarded. Limits from `[assurance]` (evidence
chunks and bytes) are enforced here too. This module does not call oracles or certifiers and
computes no certificate field: policy overrides and action schemas are passed on raw for
`certifiers` to validate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from proxy.config import AssuranceConfig, AssuranceMode
from proxy.server.chat_request import ChatRequest
from proxy.server.errors import InvalidRequestError

MAX_SESSION_ID_CHARS = 200


class EvidenceChunk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One evidence chunk of `assurance.evidence` (or a tool message turned into one)."""

    id: str
    text: str
    source: str | None = None
    retrieved_at: int | None = None
    score: float | None = None


class ActionsField(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`assurance.actions`: tool schemas and the world state the action gate checks against."""

    schemas: list[dict[str, Any]] | None = None
    state: dict[str, Any] | None = None
    unknown_tools: Literal["allow", "block"] | None = None


class PerturbationsField(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`assurance.perturbations`: client-declared paraphrase families (they take precedence)."""

    invariant: list[str] | None = None
    significant: list[str] | None = None


class AssuranceField(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `assurance` body field, exactly as the SDK's `extra_body` sends it."""

    evidence: list[EvidenceChunk] = msgspec.field(default_factory=list)
    policy: dict[str, Any] | None = None
    actions: ActionsField | None = None
    perturbations: PerturbationsField | None = None
    claim_dependencies: dict[str, list[str | int]] | None = None
    #: "inline": enforce appends `[id]` citation markers after each emitted claim (issue 14)
    citations: Literal["inline", "none"] = "none"
    # the client's end-to-end deadline for this call's oracles; may only shorten the configured one
    deadline_s: float | None = None


class AssuranceRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the pipeline needs to know about one request, validated."""

    mode: AssuranceMode
    policy: str
    session: str | None
    field: AssuranceField
    evidence: tuple[EvidenceChunk, ...]
    query: str | None
    stream: bool
    # end-to-end oracle deadline of this call in event-loop time (set by the handler on arrival)
    deadline_at: float | None = None


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED = re.compile(r"(?:unknown|required) field `(?P<name>[^`]+)`")


def parse_assurance_request(
    chat: ChatRequest,
    headers: Mapping[str, str],
    *,
    mode: AssuranceMode,
    known_policies: frozenset[str],
    config: AssuranceConfig,
) -> AssuranceRequest:
    """Validate headers and body for an assurance mode; `InvalidRequestError` names the field."""
    policy = (headers.get("X-Assurance-Policy") or config.default_policy).strip()
    if policy not in known_policies:
        raise InvalidRequestError(
            f"Expected X-Assurance-Policy to name a known policy"
            f" ({', '.join(sorted(known_policies))}), got {policy!r}",
            param="X-Assurance-Policy",
            code="unknown_policy",
        )
    session = headers.get("X-Assurance-Session")
    if session is not None and not 0 < len(session) <= MAX_SESSION_ID_CHARS:
        raise InvalidRequestError(
            f"Expected X-Assurance-Session to hold 1 to {MAX_SESSION_ID_CHARS} characters,"
            f" got {len(session)}",
            param="X-Assurance-Session",
        )
    parsed = chat.parsed
    n = parsed.get("n")
    if n is not None and not (type(n) is int and n == 1):
        raise InvalidRequestError(
            f"Expected n to be 1 in assurance mode {mode!r} (one answer is certified per call),"
            f" got {n!r}",
            param="n",
            code="unsupported_n",
        )
    options = parsed.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequestError(
            f"Expected stream_options to be an object, got {type(options).__name__}",
            param="stream_options",
        )
    field = _decode_field(chat.assurance)
    if field.deadline_s is not None and not 0 < field.deadline_s < float("inf"):
        raise InvalidRequestError(
            f"Expected assurance.deadline_s to be a number of seconds > 0, got {field.deadline_s}",
            param="assurance.deadline_s",
            code="invalid_assurance_field",
        )
    messages = parsed.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequestError(
            f"Expected messages to be an array, got {type(messages).__name__}", param="messages"
        )
    evidence = (*field.evidence, *_tool_evidence(messages))
    _check_evidence_limits(evidence, config)
    return AssuranceRequest(
        mode=mode,
        policy=policy,
        session=session,
        field=field,
        evidence=evidence,
        query=last_user_text(messages),
        stream=chat.stream,
    )


def last_user_text(messages: list[Any]) -> str | None:
    """The text of the last `role: "user"` message (the query `x` of SPEC 5.3), if any."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return None


def message_text(content: object) -> str | None:
    """A message's text: a string, or the `text` parts of a content array joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts) if parts else None
    return None


def _decode_field(raw: object) -> AssuranceField:
    if raw is None:
        return AssuranceField()
    try:
        return msgspec.convert(raw, AssuranceField, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        raise InvalidRequestError(
            f"Invalid assurance field: {message.replace('`$', '`assurance')}",
            param=_param_of(message),
            code="invalid_assurance_field",
        ) from exc


def _param_of(message: str) -> str:
    # "Expected `str`, got `int` - at `$.evidence[0].text`" -> "assurance.evidence[0].text";
    # unknown / missing fields name the field after the path of the object holding it
    at = _AT.search(message)
    path = "assurance" + (at.group("path") if at else "")
    named = _NAMED.search(message)
    return f"{path}.{named.group('name')}" if named else path


def _tool_evidence(messages: list[Any]) -> list[EvidenceChunk]:
    chunks: list[EvidenceChunk] = []
    for index, message in enumerate(messages):
        if not (isinstance(message, dict) and message.get("role") == "tool"):
            continue
        text = message_text(message.get("content"))
        if text is None:
            raise InvalidRequestError(
                f"Expected the tool message's content to be text, got {message.get('content')!r}",
                param=f"messages[{index}].content",
            )
        call_id = message.get("tool_call_id")
        chunk_id = f"tool:{call_id}" if isinstance(call_id, str) else f"tool:messages[{index}]"
        chunks.append(EvidenceChunk(id=chunk_id, text=text, source="tool_output"))
    return chunks


def _check_evidence_limits(evidence: tuple[EvidenceChunk, ...], config: AssuranceConfig) -> None:
    if len(evidence) > config.max_evidence_chunks:
        raise InvalidRequestError(
            f"Expected at most {config.max_evidence_chunks} evidence chunks"
            f" (assurance.max_evidence_chunks), got {len(evidence)}",
            param="assurance.evidence",
            code="too_many_evidence_chunks",
        )
    total = sum(len(chunk.text.encode("utf-8")) for chunk in evidence)
    if total > config.max_evidence_bytes:
        raise InvalidRequestError(
            f"Expected at most {config.max_evidence_bytes} bytes of evidence text"
            f" (assurance.max_evidence_bytes), got {total}",
            param="assurance.evidence",
            code="evidence_too_large",
        )
    seen: set[str] = set()
    for index, chunk in enumerate(evidence):
        if chunk.id in seen:
            raise InvalidRequestError(
                f"Expected unique evidence ids, got {chunk.id!r} twice",
                param=f"assurance.evidence[{index}].id",
            )
        seen.add(chunk.id)
