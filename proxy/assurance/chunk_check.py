"""Type checks of one upstream `chat.completion.chunk` before the shadow tee accumulates it.

A provider (or anything posing as one) may send chunks whose fields have the wrong JSON types
(`"choices": 5`, `"delta": "oops"`, `tool_calls[0].index: null`). `chunk_fault` names the first such
field, with a fixed description that never quotes the upstream's values (they may carry evidence
or prompt text), so the tee can record the fault and the card can abstain naming it, instead of
the tee raising after the stream's headers left. It checks only the fields the tee reads.
"""

from __future__ import annotations

from typing import Any

_TOP_STRINGS = ("id", "model", "system_fingerprint")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_EXPECTED: dict[type, str] = {str: "a string", dict: "an object", list: "an array"}


def _optional(chunk: dict[str, Any], key: str, kind: type, path: str) -> str | None:
    value = chunk.get(key)
    if value is None or isinstance(value, kind):
        return None
    return f"{path}{key} is {_kind(value)}, expected {_EXPECTED[kind]} or null"


def chunk_fault(chunk: Any) -> str | None:
    """The first ill-typed field of `chunk` (a decoded JSON value), or None when it is usable."""
    if not isinstance(chunk, dict):
        return f"the chunk is {_kind(chunk)}, expected an object"
    for key in _TOP_STRINGS:
        if (fault := _optional(chunk, key, str, "")) is not None:
            return fault
    created = chunk.get("created")
    if created is not None and not _is_int(created):
        return f"created is {_kind(created)}, expected an integer"
    if (fault := _optional(chunk, "usage", dict, "")) is not None:
        return fault
    choices = chunk.get("choices")
    if choices is None:
        return None
    if not isinstance(choices, list):
        return f"choices is {_kind(choices)}, expected an array"
    for i, choice in enumerate(choices):
        if (fault := _choice_fault(choice, f"choices[{i}]")) is not None:
            return fault
    return None


def _choice_fault(choice: Any, path: str) -> str | None:
    if not isinstance(choice, dict):
        return f"{path} is {_kind(choice)}, expected an object"
    index = choice.get("index", 0)
    if not _is_int(index):
        return f"{path}.index is {_kind(index)}, expected an integer"
    if (fault := _optional(choice, "finish_reason", str, f"{path}.")) is not None:
        return fault
    delta = choice.get("delta")
    if delta is None:
        return None
    if not isinstance(delta, dict):
        return f"{path}.delta is {_kind(delta)}, expected an object"
    where = f"{path}.delta."
    if (fault := _optional(delta, "content", str, where)) is not None:
        return fault
    legacy = delta.get("function_call")
    if legacy is not None:
        if not isinstance(legacy, dict):
            return f"{where}function_call is {_kind(legacy)}, expected an object"
        for key in ("name", "arguments"):
            if (fault := _optional(legacy, key, str, f"{where}function_call.")) is not None:
                return fault
    calls = delta.get("tool_calls")
    if calls is None:
        return None
    if not isinstance(calls, list):
        return f"{where}tool_calls is {_kind(calls)}, expected an array"
    for k, call in enumerate(calls):
        if (fault := _call_fault(call, f"{where}tool_calls[{k}]")) is not None:
            return fault
    return None


def _call_fault(call: Any, path: str) -> str | None:
    if not isinstance(call, dict):
        return f"{path} is {_kind(call)}, expected an object"
    index = call.get("index", 0)
    if not _is_int(index) or index < 0:
        return f"{path}.index is {_kind(index)}, expected an integer >= 0"
    for key in ("id", "type"):
        if (fault := _optional(call, key, str, f"{path}.")) is not None:
            return fault
    function = call.get("function")
    if function is None:
        return None
    if not isinstance(function, dict):
        return f"{path}.function is {_kind(function)}, expected an object"
    for key in ("name", "arguments"):
        if (fault := _optional(function, key, str, f"{path}.function.")) is not None:
            return fault
    return None
