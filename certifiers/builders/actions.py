"""Hoare-style action gate builder (SPEC 5.4, paper §8.1 Action/TrajectoryCertificate).

Checks each proposed tool call, in order, against its schema's preconditions from the fixed
decidable vocabulary (arguments repeating a JSON object key are blocked first, predicate
`duplicate_argument_keys`); the first failing predicate blocks the call and yields an audit record
(failed predicate, offending value, expected condition, proposal text). Blocked calls apply no
effects; allowed calls add their counter effects, so step i+1 sees step i's post-state. It never
executes a tool.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from fractions import Fraction
from urllib.parse import urlsplit

from certifiers.canonical import encode_canonical
from certifiers.errors import ScenarioError
from certifiers.rational import exact_decoder, format_rational
from certifiers.types import (
    ActionCertificate,
    ActionState,
    ArgIn,
    ArgNotIn,
    AuditRecord,
    CallDecision,
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
    UnknownTools,
)

SECONDS_PER_DAY = 86_400
#: (holds, offending value, expected condition)
Outcome = tuple[bool, str, str]


def normalize_path(path: str) -> str:
    """posixpath.normpath, with a leading '//' collapsed to '/' (so no alias escapes a root)."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def within(path: str, root: str) -> tuple[bool, str]:
    """Whether `path` (relative paths resolve under `root`) stays inside `root`, normalized."""
    base = normalize_path(root)
    resolved = normalize_path(posixpath.join(base, path))
    inside = resolved == base or resolved.startswith(base.rstrip("/") + "/")
    return inside, resolved


_URL_SCHEMES = ("http", "https")


def canonical_host(host: str) -> str | None:
    """Lower-case IDNA (punycode) form of a host, one trailing dot stripped; None if invalid."""
    name = host[:-1] if host.endswith(".") else host
    if not name:
        return None
    try:
        return name.encode("idna").decode("ascii").casefold()
    except UnicodeError:
        return None


def url_host(url: str) -> tuple[str | None, str]:
    """(canonical host, "") of an http(s) URL, or (None, why the URL is refused).

    Refused: a backslash, control or whitespace character (parser differentials with WHATWG
    URL parsers), a scheme other than http/https, userinfo (`@` in the authority), no host.
    """
    if any(ch == "\\" or ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None, f"URL with a backslash, control or whitespace character: {_json(url)}"
    try:
        parts = urlsplit(url)
        raw_host = parts.hostname
    except ValueError:
        return None, f"unparseable URL: {_json(url)}"
    if parts.scheme.lower() not in _URL_SCHEMES:
        return None, f"scheme {_json(parts.scheme)} (not http/https)"
    if "@" in parts.netloc:
        return None, f"URL with userinfo: {_json(url)}"
    host = canonical_host(raw_host) if raw_host else None
    if host is None:
        return None, f"no valid host in URL: {_json(url)}"
    return host, ""


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        raise DuplicateKeyError(repeated)
    return dict(pairs)


class DuplicateKeyError(ValueError):
    """A JSON object in the call arguments repeats a key (parsers disagree on which one wins)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(f"duplicate keys {keys}")
        self.keys = keys


def duplicate_keys(arguments: str) -> list[str] | None:
    """The repeated keys of the first JSON object in `arguments` that repeats one, else None."""
    try:
        json.loads(arguments, object_pairs_hook=_no_duplicates)
    except DuplicateKeyError as exc:
        return exc.keys
    except (ValueError, RecursionError):  # not JSON: the exact decoder reports it
        return None
    return None


def _json(value: object) -> str:
    return encode_canonical(value).decode()


def _arg(args: object, name: str) -> tuple[object, str | None]:
    """The argument's value, or an offending-value message when it is unavailable."""
    if not isinstance(args, dict):
        return None, "arguments are not a JSON object"
    if name not in args:
        return None, f"missing argument {name!r}"
    return args[name], None


def _str_arg(args: object, name: str) -> tuple[str, str | None]:
    value, problem = _arg(args, name)
    if problem is not None:
        return "", problem
    if not isinstance(value, str) or "\x00" in value:
        return "", f"non-string or NUL-containing {name}: {_json(value)}"
    return value, None


def _same(a: object, b: object) -> bool:
    """JSON equality that keeps booleans apart from numbers."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _file(state: ActionState, path: str) -> FileMeta | None:
    files = {normalize_path(p): meta for p, meta in state.files.items()}
    return files.get(normalize_path(path))


def check(
    pred: Predicate, args: object, state: ActionState, counters: Mapping[str, int], inc: int
) -> Outcome:
    """Evaluate one precondition (SPEC 5.4 vocabulary); `inc` = this call's own increments."""
    match pred:
        case PathInSandbox(arg=arg, root=root):
            path, problem = _str_arg(args, arg)
            expected = f"an absolute path strictly inside {normalize_path(root)}"
            if problem is not None:
                return False, problem, expected
            if not path.startswith("/"):
                return False, f"not an absolute path: {_json(path)}", expected
            inside, resolved = within(path, root)
            return inside and resolved != normalize_path(root), resolved, expected
        case PathInSubprefix(arg=arg, prefix=root):
            path, problem = _str_arg(args, arg)
            expected = f"path within {normalize_path(root)}"
            if problem is not None:
                return False, problem, expected
            inside, resolved = within(path, root)
            return inside, resolved, expected
        case OwnerIs(arg=arg, owner=owner):
            path, problem = _str_arg(args, arg)
            meta = _file(state, path) if problem is None else None
            expected = f"owner {owner}"
            if meta is None:
                return False, problem or f"file {normalize_path(path)} absent from state", expected
            return meta.owner == owner, f"owner {meta.owner}", expected
        case MtimeAtLeastDays(arg=arg, days=days):
            path, problem = _str_arg(args, arg)
            expected = f"age >= {format_rational(days)} days"
            meta = _file(state, path) if problem is None else None
            if meta is None:
                return False, problem or f"file {normalize_path(path)} absent from state", expected
            age = state.now - meta.mtime
            return age >= days * SECONDS_PER_DAY, f"age {age}s", expected
        case CounterWithin(counter=counter, max=limit):
            total = counters.get(counter, 0) + inc
            return total <= limit, f"{counter} would be {total}", f"{counter} <= {limit}"
        case ArgIn(arg=arg, values=values) | ArgNotIn(arg=arg, values=values):
            value, problem = _arg(args, arg)
            member = problem is None and any(_same(value, v) for v in values)
            wanted = isinstance(pred, ArgIn)
            expected = f"{'one' if wanted else 'none'} of {_json(values)}"
            holds = problem is None and member == wanted
            return holds, problem or _json(value), expected
        case NumberBetween(arg=arg, min=low, max=high):
            value, problem = _arg(args, arg)
            expected = f"number in [{format_rational(low)}, {format_rational(high)}]"
            if problem is not None:
                return False, problem, expected
            if isinstance(value, bool) or not isinstance(value, int | Fraction):
                return False, f"non-number {_json(value)}", expected
            return low <= value <= high, _json(value), expected
        case HostInAllowlist(arg=arg, hosts=hosts):
            url, problem = _str_arg(args, arg)
            allowed = {h for h in map(canonical_host, hosts) if h is not None}
            expected = f"an http(s) URL without userinfo, host in {_json(sorted(allowed))}"
            if problem is not None:
                return False, problem, expected
            host, problem = url_host(url)
            if host is None:
                return False, problem, expected
            return host in allowed, f"host {host}", expected
        case ToolForbidden():
            return False, "tool is forbidden", "a tool that is not forbidden"


def _increments(schema: ToolSchema, counter: str) -> int:
    return sum(effect.add for effect in schema.effects if effect.counter == counter)


def decide(
    call: ToolCall,
    schema: ToolSchema | None,
    state: ActionState,
    counters: Mapping[str, int],
    unknown_tools: UnknownTools,
) -> CallDecision:
    """Gate one call against the current counters (does not mutate them)."""
    proposal = f"{call.name}({call.arguments})"
    if schema is None:
        if unknown_tools == "allow":
            return CallDecision(id=call.id, allowed=True, checked=False)
        audit = AuditRecord(
            call_id=call.id,
            tool=call.name,
            predicate="unknown_tool",
            offending_value=call.name,
            expected="a declared schema for the tool (unknown_tools = block)",
            proposal=proposal,
        )
        return CallDecision(id=call.id, allowed=False, checked=True, audit=audit)
    repeated = duplicate_keys(call.arguments)
    if repeated is not None:
        audit = AuditRecord(
            call_id=call.id,
            tool=call.name,
            predicate="duplicate_argument_keys",
            offending_value=f"keys {_json(repeated)} repeated in the arguments",
            expected="JSON arguments without duplicate object keys",
            proposal=proposal,
        )
        return CallDecision(id=call.id, allowed=False, checked=True, audit=audit)
    try:
        args: object = exact_decoder().decode(call.arguments.encode())
    except (ValueError, RecursionError):
        args = None
    for pred in schema.pre:
        inc = _increments(schema, pred.counter) if isinstance(pred, CounterWithin) else 0
        holds, offending, expected = check(pred, args, state, counters, inc)
        if not holds:
            tag = type(pred).__struct_config__.tag
            audit = AuditRecord(
                call_id=call.id,
                tool=call.name,
                predicate=str(tag),
                offending_value=offending,
                expected=expected,
                proposal=proposal,
            )
            return CallDecision(id=call.id, allowed=False, checked=True, audit=audit)
    return CallDecision(id=call.id, allowed=True, checked=True)


def build_actions(
    schemas: tuple[ToolSchema, ...],
    state: ActionState,
    unknown_tools: UnknownTools,
    calls: tuple[ToolCall, ...],
) -> ActionCertificate:
    """Run the gate over the calls in order, chaining counters (paper §8.1 p_chain)."""
    by_tool: dict[str, ToolSchema] = {}
    for schema in schemas:
        if schema.tool in by_tool:
            raise ScenarioError(f"Expected unique tool schemas, got {schema.tool!r} twice")
        by_tool[schema.tool] = schema
    counters = dict(state.counters)
    decisions: list[CallDecision] = []
    for call in calls:
        found = by_tool.get(call.name)
        decision = decide(call, found, state, counters, unknown_tools)
        if decision.allowed and found is not None:
            for effect in found.effects:
                counters[effect.counter] = counters.get(effect.counter, 0) + effect.add
        decisions.append(decision)
    return ActionCertificate(
        schemas=schemas,
        state=state,
        unknown_tools=unknown_tools,
        calls=calls,
        decisions=tuple(decisions),
        post_counters=counters,
    )
