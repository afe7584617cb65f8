"""What reaches the client after certification: the provider's answer, the residue or an abstention.

Enforce mode (SPEC 5.7) follows the policy decision already in the bundle: `accept` emits the answer
as the provider sent it; `downgrade` emits the residue answer rendered by `certifiers.render` (kept
claims in answer order) with the blocked tool calls removed; `reject` emits the abstention message
rendered by `certifiers.render`, with machine-readable reasons and `finish_reason:
"content_filter"`. Shadow mode never changes the answer. In every case the `"assurance"` object is
added at the top level; when the content is unchanged it is spliced into the provider's bytes, which
stay otherwise untouched. This module decides nothing itself: it reads the decision, the residue and
the gate's verdicts.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from certifiers.render import abstention_message, residue_answer
from certifiers.types import Bundle
from proxy.errors import UpstreamError

REJECT_FINISH_REASON = "content_filter"


class UpstreamAnswerError(UpstreamError):
    """The upstream answered 200 with a body that is not a ChatCompletion with one message."""

    code = "upstream_invalid_answer"


def parse_completion(body: bytes) -> dict[str, Any]:
    """The upstream's ChatCompletion; `UpstreamAnswerError` (502) without `choices[0].message`."""
    try:
        completion = json.loads(body)
        message = completion["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UpstreamAnswerError(
            "Expected the upstream to answer a ChatCompletion with choices[0].message, got"
            f" {body[:120]!r}"
        ) from exc
    if not isinstance(message, dict):
        raise UpstreamAnswerError(
            f"Expected choices[0].message to be an object, got {type(message).__name__}"
        )
    return dict(completion)


def answer_text(completion: dict[str, Any]) -> str:
    """The assistant message's text ("" when the model only proposed tool calls)."""
    content = completion["choices"][0]["message"].get("content")
    return content if isinstance(content, str) else ""


def proposed_tool_calls(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The assistant message's tool calls (OpenAI shape), in order."""
    calls = completion["choices"][0]["message"].get("tool_calls") or []
    return [call for call in calls if isinstance(call, dict)]


def blocked_call_ids(bundle: Bundle) -> frozenset[str]:
    """Ids of the tool calls the action gate blocked."""
    actions = bundle.certificates.actions
    if actions is None:
        return frozenset()
    return frozenset(decision.id for decision in actions.decisions if not decision.allowed)


def enforced_completion(completion: dict[str, Any], bundle: Bundle) -> dict[str, Any] | None:
    """The completion enforce mode emits, or None when it is the provider's answer unchanged."""
    decision = bundle.policy_decision.decision
    if decision == "accept":
        return None
    emitted = copy.deepcopy(completion)
    choice = emitted["choices"][0]
    message = choice["message"]
    if decision == "reject":
        message.pop("tool_calls", None)
        message["content"] = abstention_message(bundle.card, bundle.policy_decision)
        choice["finish_reason"] = REJECT_FINISH_REASON
        return emitted
    residue = bundle.certificates.residue
    if residue is not None and residue.dropped:
        message["content"] = residue_answer(bundle.certificates.decomposition, residue.kept)
    blocked = blocked_call_ids(bundle)
    if blocked:
        kept = [call for call in proposed_tool_calls(completion) if call.get("id") not in blocked]
        if kept:
            message["tool_calls"] = kept
        else:
            message.pop("tool_calls", None)
            if choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
    return emitted


def with_assurance(body: bytes, assurance: dict[str, Any]) -> bytes:
    """The provider's JSON object bytes with a top-level `"assurance"` member appended."""
    stripped = body.rstrip()
    if not stripped.endswith(b"}"):
        raise UpstreamAnswerError(f"Expected a JSON object body, got {body[:120]!r}")
    head = stripped[:-1].rstrip()
    separator = b"" if head.endswith(b"{") else b","
    member = b'"assurance":' + json.dumps(assurance, ensure_ascii=False).encode("utf-8")
    return head + separator + member + b"}"


def encode_completion(completion: dict[str, Any], assurance: dict[str, Any]) -> bytes:
    """A rewritten completion (enforce mode) with its `"assurance"` member, as JSON bytes."""
    return json.dumps({**completion, "assurance": assurance}, ensure_ascii=False).encode("utf-8")
