"""Tests for certifiers.builders.actions (SPEC 5.4, paper §8: Hoare gate, trajectory chaining)."""

from __future__ import annotations

import json
from fractions import Fraction

import msgspec

from certifiers.builders.actions import build_actions
from certifiers.rational import dec_hook
from certifiers.types import (
    ActionCertificate,
    ActionState,
    MtimeAtLeastDays,
    ToolCall,
    ToolSchema,
)

NOW = 1_714_000_000
DAY = 86_400
SCHEMAS = [
    {
        "tool": "delete_file",
        "pre": [
            {"pred": "path_in_sandbox", "arg": "path", "root": "/sandbox"},
            {"pred": "owner_is", "arg": "path", "owner": "user"},
            {"pred": "mtime_at_least_days", "arg": "path", "days": 30},
            {"pred": "counter_within", "counter": "deletes", "max": 5},
        ],
        "effects": [{"counter": "deletes", "add": 1}],
    },
    {
        "tool": "fetch",
        "pre": [{"pred": "host_in_allowlist", "arg": "url", "hosts": ["Example.org"]}],
    },
    {"tool": "set_dose", "pre": [{"pred": "number_between", "arg": "mg", "min": "2.5", "max": 5}]},
    {"tool": "mode", "pre": [{"pred": "arg_in", "arg": "flag", "values": [1, "on"]}]},
    {"tool": "rm_rf", "pre": [{"pred": "tool_forbidden"}]},
]
FILES = {f"/sandbox/old{i}.md": {"owner": "user", "mtime": NOW - 40 * DAY} for i in range(8)}
FILES["/sandbox/team.md"] = {"owner": "team", "mtime": NOW - 40 * DAY}
FILES["/sandbox/new.md"] = {"owner": "user", "mtime": NOW - DAY}


def gate(
    calls: list[tuple[str, dict[str, object]]],
    *,
    counters: dict[str, int] | None = None,
    unknown: str = "block",
) -> ActionCertificate:
    """Run the gate over (tool, arguments) pairs against the fixture schemas and files."""
    schemas = msgspec.convert(SCHEMAS, tuple[ToolSchema, ...], dec_hook=dec_hook)
    state = msgspec.convert({"now": NOW, "counters": counters or {}, "files": FILES}, ActionState)
    tool_calls = tuple(
        ToolCall(id=f"c{i}", name=name, arguments=json.dumps(args))
        for i, (name, args) in enumerate(calls)
    )
    return build_actions(schemas, state, "allow" if unknown == "allow" else "block", tool_calls)


def test_sandbox_escape_is_blocked_with_a_complete_audit_record() -> None:
    """A `..` escape fails path_in_sandbox; the audit names predicate, value, condition, call."""
    cert = gate([("delete_file", {"path": "/sandbox/../etc/passwd"})])
    audit = cert.decisions[0].audit
    assert cert.decisions[0].allowed is False
    assert audit is not None
    assert audit.predicate == "path_in_sandbox"
    assert audit.offending_value == "/etc/passwd"
    assert audit.expected == "an absolute path strictly inside /sandbox"
    assert audit.proposal == 'delete_file({"path": "/sandbox/../etc/passwd"})'


def test_owner_age_and_absent_file_preconditions_fail() -> None:
    """Wrong owner, a too-recent file and a file absent from the state are each blocked."""
    cert = gate(
        [
            ("delete_file", {"path": "/sandbox/team.md"}),
            ("delete_file", {"path": "/sandbox/new.md"}),
            ("delete_file", {"path": "/sandbox/ghost.md"}),
        ]
    )
    audits = [d.audit for d in cert.decisions]
    assert [a.predicate if a else None for a in audits] == [
        "owner_is",
        "mtime_at_least_days",
        "owner_is",
    ]
    assert audits[0] is not None
    assert audits[0].offending_value == "owner team"
    assert audits[2] is not None
    assert "absent" in audits[2].offending_value


def test_sixth_delete_exceeds_the_budget_and_blocked_effects_are_not_applied() -> None:
    """counter_within allows five deletes, blocks the sixth, and the count stays at 5."""
    cert = gate([("delete_file", {"path": f"/sandbox/old{i}.md"}) for i in range(7)])
    assert [d.allowed for d in cert.decisions] == [True] * 5 + [False, False]
    assert cert.post_counters == {"deletes": 5}
    assert cert.decisions[5].audit is not None
    assert cert.decisions[5].audit.offending_value == "deletes would be 6"


def test_post_counters_chain_into_the_next_step() -> None:
    """Step i+1 starting from step i's post-state keeps counting (trajectory chaining)."""
    first = gate([("delete_file", {"path": f"/sandbox/old{i}.md"}) for i in range(4)])
    second = gate([("delete_file", {"path": "/sandbox/old5.md"})] * 2, counters=first.post_counters)
    assert [d.allowed for d in second.decisions] == [True, False]


def test_unknown_tools_follow_the_allow_or_block_setting() -> None:
    """A tool without schema is blocked under `block` and allowed unchecked under `allow`."""
    blocked = gate([("mystery", {})])
    allowed = gate([("mystery", {})], unknown="allow")
    assert blocked.decisions[0].audit is not None
    assert blocked.decisions[0].audit.predicate == "unknown_tool"
    assert (allowed.decisions[0].allowed, allowed.decisions[0].checked) == (True, False)


def test_value_predicates_hosts_numbers_membership_and_forbidden_tools() -> None:
    """Host allowlist, exact number ranges, arg_in (booleans are not 1) and tool_forbidden."""
    cert = gate(
        [
            ("fetch", {"url": "https://EXAMPLE.org/x"}),
            ("fetch", {"url": "https://evil.example.org/"}),
            ("set_dose", {"mg": 2.5}),
            ("set_dose", {"mg": 5.01}),
            ("mode", {"flag": 1}),
            ("mode", {"flag": True}),
            ("rm_rf", {}),
            ("set_dose", {"mg": "5"}),
        ]
    )
    assert [d.allowed for d in cert.decisions] == [
        True,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
    ]


def test_mtime_days_may_be_rational() -> None:
    """Days are exact rationals: a 40-day-old file passes `days = 79/2` and fails `days = 81/2`."""
    decisions = []
    for days in ("79/2", "81/2"):
        schema = ToolSchema(
            tool="rm", pre=(MtimeAtLeastDays(arg="path", days=Fraction(days)),), effects=()
        )
        state = msgspec.convert({"now": NOW, "files": FILES}, ActionState)
        call = ToolCall(id="c", name="rm", arguments='{"path": "/sandbox/old1.md"}')
        decisions.append(build_actions((schema,), state, "block", (call,)).decisions[0].allowed)
    assert decisions == [True, False]
