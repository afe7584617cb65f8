"""Re-derivation of the Hoare-style action gate (SPEC 5.4, paper Sec. 8.1 trajectory certificate).

Replays the recorded calls in order against the recorded schemas and initial state with its own
evaluator of the decidable precondition vocabulary (arguments repeating a JSON object key are
blocked first, `duplicate_argument_keys`), chaining counters from call to call (p_chain):
a blocked call applies no effect. It recomputes each decision (allowed, checked), each audit record
(failed predicate, offending value, expected condition, proposal text) and the post-state counters,
and returns the blocked calls for the card checks. It never executes a tool.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from fractions import Fraction
from typing import NamedTuple
from urllib.parse import urlsplit

from certifiers.canonical import encode_canonical
from certifiers.rational import exact_decoder, format_rational
from certifiers.types import (
    ActionCertificate,
    ArgIn,
    ArgNotIn,
    AuditRecord,
    CounterWithin,
    FileMeta,
    HostInAllowlist,
    MtimeAtLeastDays,
    NumberBetween,
    OwnerIs,
    PathInSandbox,
    PathInSubprefix,
    Predicate,
    ToolCall,
    ToolForbidden,
    ToolSchema,
)
from certifiers.verification.report import Report

__all__ = ["ActionFacts", "check_actions"]

_DAY_SECONDS = 86_400


class ActionFacts(NamedTuple):
    """Recomputed gate outcome used by the card checks."""

    blocked: tuple[tuple[str, str, str], ...]  # (call id, tool name, failed predicate)
    unchecked: tuple[tuple[str, str], ...]  # allowed calls without a schema: (call id, tool name)
    allowed: int


class _Outcome(NamedTuple):
    holds: bool
    offending: str
    expected: str


def _canon_path(path: str) -> str:
    """Lexical normalization; a leading '//' (kept by POSIX normpath) becomes '/'."""
    normal = posixpath.normpath(path)
    while normal.startswith("//"):
        normal = normal[1:]
    return normal


def _text(value: object) -> str:
    return encode_canonical(value).decode()


def _idna_host(name: str) -> str | None:
    """The host compared by host_in_allowlist: one trailing dot off, IDNA (punycode), lower case."""
    if name.endswith("."):
        name = name[:-1]
    if name == "":
        return None
    try:
        ascii_name = name.encode("idna")
    except UnicodeError:
        return None
    return ascii_name.decode("ascii").casefold()


def _url_host(url: str) -> tuple[str | None, str]:
    """(host, "") of an acceptable URL, else (None, the refusal): only http/https, no userinfo,
    no backslash / control / whitespace character (where URL parsers disagree), a valid host."""
    for ch in url:
        if ch == "\\" or ch.isspace() or ord(ch) < 32 or ord(ch) == 127:
            return None, f"URL with a backslash, control or whitespace character: {_text(url)}"
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return None, f"unparseable URL: {_text(url)}"
    if parts.scheme.lower() not in {"http", "https"}:
        return None, f"scheme {_text(parts.scheme)} (not http/https)"
    if "@" in parts.netloc:
        return None, f"URL with userinfo: {_text(url)}"
    host = None if not hostname else _idna_host(hostname)
    if host is None:
        return None, f"no valid host in URL: {_text(url)}"
    return host, ""


class _RepeatedKeyError(ValueError):
    pass


def _reject_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for key, _ in pairs:
        (repeated if key in seen else seen).add(key)
    if repeated:
        raise _RepeatedKeyError(sorted(repeated))
    return dict(pairs)


def _repeated_keys(raw: str) -> list[str] | None:
    """Keys repeated inside one JSON object of the arguments (first such object), else None."""
    try:
        json.loads(raw, object_pairs_hook=_reject_repeats)
    except _RepeatedKeyError as exc:
        keys: list[str] = exc.args[0]
        return keys
    except (ValueError, RecursionError):
        return None
    return None


class _Args:
    """The decoded call arguments with typed accessors that report why a value is unusable."""

    def __init__(self, raw: str) -> None:
        try:
            self.value: object = exact_decoder().decode(raw.encode())
        except (ValueError, RecursionError):
            self.value = None

    def get(self, name: str) -> tuple[object, str | None]:
        if not isinstance(self.value, dict):
            return None, "arguments are not a JSON object"
        if name not in self.value:
            return None, f"missing argument {name!r}"
        return self.value[name], None

    def path(self, name: str) -> tuple[str, str | None]:
        value, problem = self.get(name)
        if problem is not None:
            return "", problem
        if isinstance(value, str) and "\x00" not in value:
            return value, None
        return "", f"non-string or NUL-containing {name}: {_text(value)}"


def _file_meta(files: Mapping[str, FileMeta], path: str) -> FileMeta | None:
    wanted = _canon_path(path)
    for key, meta in files.items():
        if _canon_path(key) == wanted:
            return meta
    return None


def _evaluate(
    pred: Predicate, args: _Args, cert: ActionCertificate, counters: Mapping[str, int], own: int
) -> _Outcome:
    """One precondition of the SPEC 5.4 vocabulary; `own` = this call's increment of the counter."""
    files, now = cert.state.files, cert.state.now
    if isinstance(pred, PathInSandbox | PathInSubprefix):
        sandbox = isinstance(pred, PathInSandbox)
        root = pred.root if isinstance(pred, PathInSandbox) else pred.prefix
        base = _canon_path(root)
        strict = f"an absolute path strictly inside {base}"
        expected = strict if sandbox else f"path within {base}"
        path, problem = args.path(pred.arg)
        if problem is not None:
            return _Outcome(False, problem, expected)
        if sandbox and path[:1] != "/":
            return _Outcome(False, f"not an absolute path: {_text(path)}", expected)
        resolved = _canon_path(posixpath.join(base, path))
        inside = resolved.startswith(base.rstrip("/") + "/") or (resolved == base and not sandbox)
        return _Outcome(inside, resolved, expected)
    if isinstance(pred, OwnerIs | MtimeAtLeastDays):
        if isinstance(pred, OwnerIs):
            expected = f"owner {pred.owner}"
        else:
            expected = f"age >= {format_rational(pred.days)} days"
        path, problem = args.path(pred.arg)
        meta = None if problem is not None else _file_meta(files, path)
        if meta is None:
            return _Outcome(
                False, problem or f"file {_canon_path(path)} absent from state", expected
            )
        if isinstance(pred, OwnerIs):
            return _Outcome(meta.owner == pred.owner, f"owner {meta.owner}", expected)
        age = now - meta.mtime
        return _Outcome(age >= pred.days * _DAY_SECONDS, f"age {age}s", expected)
    if isinstance(pred, CounterWithin):
        after = counters.get(pred.counter, 0) + own
        return _Outcome(
            after <= pred.max, f"{pred.counter} would be {after}", f"{pred.counter} <= {pred.max}"
        )
    if isinstance(pred, ArgIn | ArgNotIn):
        value, problem = args.get(pred.arg)
        found = problem is None and any(
            isinstance(value, bool) == isinstance(v, bool) and value == v for v in pred.values
        )
        want = isinstance(pred, ArgIn)
        expected = f"{'one' if want else 'none'} of {_text(pred.values)}"
        return _Outcome(problem is None and found == want, problem or _text(value), expected)
    if isinstance(pred, NumberBetween):
        expected = f"number in [{format_rational(pred.min)}, {format_rational(pred.max)}]"
        value, problem = args.get(pred.arg)
        if problem is not None:
            return _Outcome(False, problem, expected)
        if isinstance(value, bool) or not isinstance(value, int | Fraction):
            return _Outcome(False, f"non-number {_text(value)}", expected)
        return _Outcome(pred.min <= value <= pred.max, _text(value), expected)
    if isinstance(pred, HostInAllowlist):
        hosts = sorted({h for h in map(_idna_host, pred.hosts) if h is not None})
        expected = f"an http(s) URL without userinfo, host in {_text(hosts)}"
        url, problem = args.path(pred.arg)
        if problem is not None:
            return _Outcome(False, problem, expected)
        host, refusal = _url_host(url)
        if host is None:
            return _Outcome(False, refusal, expected)
        return _Outcome(host in hosts, f"host {host}", expected)
    assert isinstance(pred, ToolForbidden)  # the vocabulary is a closed union
    return _Outcome(False, "tool is forbidden", "a tool that is not forbidden")


def _audit(call: ToolCall, predicate: str, offending: str, expected: str) -> AuditRecord:
    return AuditRecord(
        call_id=call.id,
        tool=call.name,
        predicate=predicate,
        offending_value=offending,
        expected=expected,
        proposal=f"{call.name}({call.arguments})",
    )


def _gate(
    call: ToolCall, schema: ToolSchema | None, cert: ActionCertificate, counters: dict[str, int]
) -> tuple[bool, bool, AuditRecord | None]:
    """(allowed, checked, audit) of one call against the current counters."""
    if schema is None:
        if cert.unknown_tools == "allow":
            return True, False, None
        expected = "a declared schema for the tool (unknown_tools = block)"
        return False, True, _audit(call, "unknown_tool", call.name, expected)
    repeated = _repeated_keys(call.arguments)
    if repeated is not None:
        return (
            False,
            True,
            _audit(
                call,
                "duplicate_argument_keys",
                f"keys {_text(repeated)} repeated in the arguments",
                "JSON arguments without duplicate object keys",
            ),
        )
    args = _Args(call.arguments)
    for pred in schema.pre:
        own = 0
        if isinstance(pred, CounterWithin):
            own = sum(e.add for e in schema.effects if e.counter == pred.counter)
        outcome = _evaluate(pred, args, cert, counters, own)
        if not outcome.holds:
            tag = str(type(pred).__struct_config__.tag)
            return False, True, _audit(call, tag, outcome.offending, outcome.expected)
    return True, True, None


def check_actions(cert: ActionCertificate, report: Report) -> ActionFacts:
    """Replay the gate over the recorded calls and compare every decision and the post-state."""
    tools = [schema.tool for schema in cert.schemas]
    report.require(
        "actions.schemas.unique", len(tools) == len(set(tools)), f"expected unique tools: {tools}"
    )
    canon = [_canon_path(path) for path in cert.state.files]
    report.require(
        "actions.state.files.aliases",
        len(canon) == len(set(canon)),
        "expected file paths that stay distinct after normalization, got aliases",
    )
    schemas = {schema.tool: schema for schema in reversed(cert.schemas)}  # first one wins
    counters = dict(cert.state.counters)
    blocked: list[tuple[str, str, str]] = []
    unchecked: list[tuple[str, str]] = []
    allowed_count = 0
    report.expect("actions.decisions.count", len(cert.calls), len(cert.decisions))
    for index, call in enumerate(cert.calls):
        schema = schemas.get(call.name)
        allowed, checked, audit = _gate(call, schema, cert, counters)
        if allowed and schema is not None:
            for effect in schema.effects:
                counters[effect.counter] = counters.get(effect.counter, 0) + effect.add
        if audit is not None:
            blocked.append((call.id, call.name, audit.predicate))
        allowed_count += allowed
        if allowed and not checked:
            unchecked.append((call.id, call.name))
        where = f"actions.decisions[{index}]"
        if index >= len(cert.decisions):
            continue
        stored = cert.decisions[index]
        report.expect(f"{where}.id", call.id, stored.id)
        report.expect(f"{where}.allowed", allowed, stored.allowed)
        report.expect(f"{where}.checked", checked, stored.checked)
        if audit is None or stored.audit is None:
            report.expect(f"{where}.audit", audit, stored.audit)
        else:
            for field in AuditRecord.__struct_fields__:
                want, got = getattr(audit, field), getattr(stored.audit, field)
                report.expect(f"{where}.audit.{field}", want, got)
    report.expect(
        "actions.post_counters", sorted(counters.items()), sorted(cert.post_counters.items())
    )
    return ActionFacts(blocked=tuple(blocked), unchecked=tuple(unchecked), allowed=allowed_count)
