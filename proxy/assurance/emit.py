"""What reaches the client after certification: the provider's answer, the residue or an abstention.

`parse_completion` reads the upstream's ChatCompletion into a `ParsedAnswer` and fails closed (502,
`UpstreamAnswerError`) on anything it cannot certify exactly: not exactly one choice, `content`
neither a string, null nor an array of text parts, malformed or duplicate tool calls. The text that
is certified is the string content, or the `text` parts of an array joined with no separator. The
proposed actions are every `tool_calls` entry plus a legacy `function_call` (gated as one more
call), in order; the gate's decisions are applied by position. A `function_call` with the same name
and arguments as a `tool_calls` entry (llama.cpp sends both for one call) is that call, gated once;
enforce emits it once, as the tool call.

Enforce mode (SPEC 5.7) always re-emits from an allow-list, whatever the decision: top-level `id`,
`object`, `created`, `model`, `system_fingerprint`, `service_tier`, `usage`; one choice with
`index`, `finish_reason`, `logprobs: null` and a message of `role`, `content` (exactly the bundle's
`emission.text`, which the verifier re-derives: the certified answer, the residue rendered from the
kept claims' texts, or the abstention; with the `[id]` markers when the bundle's `context.citations`
is inline), `refusal: null`, and the calls the gate allowed. Provider fields that were not certified
(`logprobs`, `reasoning_content`, `annotations`, `audio`, a refusal text, unknown keys) are dropped
even on `accept`. Shadow mode never changes the answer: the `"assurance"` object is spliced into the
provider's bytes. This module decides nothing itself: it reads the decision, the residue and the
gate's verdicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from certifiers.types import Bundle
from proxy.server.errors import ProxyError, UpstreamError

REJECT_FINISH_REASON = "content_filter"
FUNCTION_CALL_ID = "function_call"
_TOP_LEVEL_KEYS = (
    "id",
    "object",
    "created",
    "model",
    "system_fingerprint",
    "service_tier",
    "usage",
)


class UpstreamAnswerError(UpstreamError):
    """The upstream answered with a body that is not a certifiable ChatCompletion (one message)."""

    code = "upstream_invalid_answer"


class EmissionMismatchError(ProxyError):
    """The bundle's certified answer is not the upstream's answer (a bug); nothing is sent."""

    code = "emission_mismatch"


@dataclass(frozen=True, slots=True)
class ProposedCall:
    """One proposed action in answer order: `id` is what the gate sees (unique per answer)."""

    id: str
    name: str
    arguments: str
    legacy: bool  # a `function_call`, not a `tool_calls` entry


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """The upstream's completion, its certified text and its proposed calls."""

    completion: dict[str, Any]
    text: str
    calls: tuple[ProposedCall, ...]


def _shape(value: object) -> str:
    # the type (and keys) of a value, never its content: upstream bodies are uncertified text
    if isinstance(value, dict):
        return f"an object with keys {sorted(str(k) for k in value)[:12]}"
    return type(value).__name__


def parse_completion(body: bytes) -> ParsedAnswer:
    """The upstream's ChatCompletion as one certifiable answer; else `UpstreamAnswerError` (502)."""
    try:
        completion = json.loads(body)
    except ValueError as exc:
        raise UpstreamAnswerError(
            f"Expected the upstream to answer a JSON ChatCompletion, got {len(body)} bytes that"
            " are not JSON"
        ) from exc
    return parse_completion_object(completion)


def parse_completion_object(completion: object) -> ParsedAnswer:
    """`parse_completion` for an already decoded object (the shadow stream's accumulation)."""
    if not isinstance(completion, dict):
        raise UpstreamAnswerError(f"Expected a ChatCompletion object, got {_shape(completion)}")
    choices = completion.get("choices")
    if not isinstance(choices, list) or len(choices) != 1:
        got = f"{len(choices)} choices" if isinstance(choices, list) else _shape(choices)
        raise UpstreamAnswerError(
            f"Expected exactly one choice in the upstream's answer (assurance modes certify one"
            f" answer), got {got} - at choices"
        )
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise UpstreamAnswerError(
            f"Expected choices[0].message to be an object, got {_shape(message)}"
        )
    return ParsedAnswer(
        completion=completion, text=_content_text(message.get("content")), calls=_calls(message)
    )


def _content_text(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        for part in content
    ):
        return "".join(part["text"] for part in content)
    raise UpstreamAnswerError(
        "Expected choices[0].message.content to be a string, null or an array of text parts,"
        f" got {_shape(content)} - at choices[0].message.content"
    )


def _calls(message: dict[str, Any]) -> tuple[ProposedCall, ...]:
    raw_calls = message.get("tool_calls")
    if raw_calls is None:
        raw_calls = []
    if not isinstance(raw_calls, list):
        raise UpstreamAnswerError(
            f"Expected choices[0].message.tool_calls to be an array, got {_shape(raw_calls)}"
        )
    entries: list[tuple[object, object, bool]] = [(c, _get(c, "id"), False) for c in raw_calls]
    legacy = message.get("function_call")
    if legacy is not None and not _duplicates_a_tool_call(legacy, raw_calls):
        entries.append(({"function": legacy}, FUNCTION_CALL_ID, True))
    calls: list[ProposedCall] = []
    seen: set[str] = set()
    for index, (call, raw_id, is_legacy) in enumerate(entries):
        function = _get(call, "function")
        name, arguments = _get(function, "name"), _get(function, "arguments")
        if not isinstance(name, str) or not isinstance(arguments, str | None):
            where = "function_call" if is_legacy else f"tool_calls[{index}].function"
            raise UpstreamAnswerError(
                f"Expected choices[0].message.{where} with a string name and arguments, got"
                f" {_shape(function)}"
            )
        # the gate needs one unique id per call: a missing, non-string or repeated id becomes
        # `call_<position>`; emission applies the decisions by position, never by raw id
        call_id = raw_id if isinstance(raw_id, str) and raw_id and raw_id not in seen else ""
        call_id = call_id or f"call_{index}"
        while call_id in seen:
            call_id += "_"
        seen.add(call_id)
        calls.append(ProposedCall(call_id, name, arguments or "", is_legacy))
    return tuple(calls)


def _duplicates_a_tool_call(legacy: object, raw_calls: list[Any]) -> bool:
    # one call sent twice, as `tool_calls[i]` and as the legacy `function_call` copy
    name, arguments = _get(legacy, "name"), _get(legacy, "arguments")
    if not isinstance(name, str) or not isinstance(arguments, str | None):
        return False
    for call in raw_calls:
        function = _get(call, "function")
        if _get(function, "name") == name and (_get(function, "arguments") or "") == (
            arguments or ""
        ):
            return True
    return False


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def allowed_positions(bundle: Bundle, calls: tuple[ProposedCall, ...]) -> tuple[bool, ...]:
    """Per proposed call (in order): whether the action gate allowed it (no gate: all allowed)."""
    actions = bundle.certificates.actions
    if actions is None:
        return tuple(True for _ in calls)
    decisions = actions.decisions
    if len(decisions) != len(calls) or any(
        d.id != c.id for d, c in zip(decisions, calls, strict=True)
    ):
        # the gate did not judge exactly these calls: emit none of them (fail closed)
        return tuple(False for _ in calls)
    return tuple(decision.allowed for decision in decisions)


def emitted_text(answer: ParsedAnswer, bundle: Bundle) -> str:
    """The text enforce emits: exactly `bundle.emission.text` (every route emits this).

    An `answer` emission must certify this very answer: a bundle over another text is a bug and
    raises `EmissionMismatchError` (nothing is sent).
    """
    emission = bundle.emission
    if emission.kind == "answer" and bundle.certificates.decomposition.answer != answer.text:
        raise EmissionMismatchError(
            "Expected the certified answer to be the upstream's answer, got a different text"
        )
    return emission.text


def enforced_completion(answer: ParsedAnswer, bundle: Bundle) -> dict[str, Any]:
    """The completion enforce mode emits, rebuilt from the allow-list (see the module docstring).

    The text is exactly `bundle.emission.text`: with inline citations (`context.citations`) the
    bundle's emission already carries the `[id]` markers, so nothing is added here.
    """
    source = answer.completion
    choice = source["choices"][0]
    emitted = {key: source[key] for key in _TOP_LEVEL_KEYS if key in source}
    emitted.setdefault("object", "chat.completion")
    decision = bundle.policy_decision.decision
    finish_reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    emission = bundle.emission
    if decision == "reject":
        message["content"] = emission.text
        finish_reason = REJECT_FINISH_REASON
    else:
        emitted_text(answer, bundle)  # the certified answer must be this answer
        content = choice["message"].get("content")
        if emission.kind != "answer" or emission.text or content is not None:
            message["content"] = emission.text
        allowed = allowed_positions(bundle, answer.calls)
        kept = [call for call, ok in zip(answer.calls, allowed, strict=True) if ok]
        tool_calls = [_tool_call(call) for call in kept if not call.legacy]
        legacy = [call for call in kept if call.legacy]
        if tool_calls:
            message["tool_calls"] = tool_calls
        if legacy:
            message["function_call"] = {"name": legacy[0].name, "arguments": legacy[0].arguments}
        if len(kept) < len(answer.calls) and finish_reason in ("tool_calls", "function_call"):
            finish_reason = finish_reason if kept else "stop"
    emitted["choices"] = [
        {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    ]
    return emitted


def _tool_call(call: ProposedCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def with_assurance(body: bytes, assurance: dict[str, Any]) -> bytes:
    """The provider's JSON object bytes with a top-level `"assurance"` member appended."""
    stripped = body.rstrip()
    if not stripped.endswith(b"}"):
        raise UpstreamAnswerError(
            f"Expected a JSON object body, got {len(body)} bytes not ending in '}}'"
        )
    head = stripped[:-1].rstrip()
    separator = b"" if head.endswith(b"{") else b","
    member = b'"assurance":' + json.dumps(assurance, ensure_ascii=False).encode("utf-8")
    return head + separator + member + b"}"


def encode_completion(completion: dict[str, Any], assurance: dict[str, Any]) -> bytes:
    """A rewritten completion (enforce mode) with its `"assurance"` member, as JSON bytes."""
    return json.dumps({**completion, "assurance": assurance}, ensure_ascii=False).encode("utf-8")
