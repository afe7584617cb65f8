"""Tests for the verifier's independent replay of the action gate (SPEC 5.4)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from certifiers.bundle import encode_bundle
from certifiers.canonical import canonical_digest
from certifiers.types import Bundle
from certifiers.verify import check_bundle
from tests.certifiers.test_verify_scenarios import NOW, bundle_of, full_scenario

replace = msgspec.structs.replace

_SCHEMAS: list[dict[str, Any]] = [
    {
        "tool": "write",
        "pre": [
            {"pred": "path_in_subprefix", "arg": "path", "prefix": "/work/out"},
            {"pred": "arg_in", "arg": "mode", "values": ["w", "a", True, 3]},
            {"pred": "arg_not_in", "arg": "flag", "values": ["force", None]},
        ],
        "effects": [{"counter": "writes", "add": 2}],
    },
    {"tool": "rm", "pre": [{"pred": "tool_forbidden"}]},
    {
        "tool": "age",
        "pre": [
            {"pred": "owner_is", "arg": "p", "owner": "user"},
            {"pred": "mtime_at_least_days", "arg": "p", "days": "1/2"},
            {"pred": "counter_within", "counter": "writes", "max": 1},
        ],
    },
]

# (arguments, expected allowed, expected failed predicate)
_CASES: list[tuple[str, str, bool, str | None]] = [
    ("write", '{"path": "/work/out/a.txt", "mode": "w", "flag": "x"}', True, None),
    ("write", '{"path": "../../etc/b", "mode": "a", "flag": "y"}', False, "path_in_subprefix"),
    ("write", '{"path": "/work/out/c", "mode": 1, "flag": "y"}', False, "arg_in"),
    ("write", '{"path": "/work/out/c", "mode": true, "flag": null}', False, "arg_not_in"),
    ("write", '{"path": "/work/outside", "mode": 3}', False, "path_in_subprefix"),
    ("write", "not json", False, "path_in_subprefix"),
    ("write", '{"mode": "w"}', False, "path_in_subprefix"),
    ("rm", "{}", False, "tool_forbidden"),
    ("age", '{"p": "/data/x"}', False, "counter_within"),
    ("age", '{"p": "//data/./x"}', False, "counter_within"),
    ("age", '{"p": "/data/y"}', False, "mtime_at_least_days"),
    ("age", '{"p": "/data/absent"}', False, "owner_is"),
    ("age", '{"p": 7}', False, "owner_is"),
    ("other", "{}", True, None),
]


def _scenario() -> dict[str, Any]:
    calls = [
        {"id": f"k{index}", "name": name, "arguments": arguments}
        for index, (name, arguments, _, _) in enumerate(_CASES)
    ]
    actions = {
        "schemas": _SCHEMAS,
        "state": {
            "now": NOW,
            "counters": {"writes": 0},
            "files": {
                "/data/x": {"owner": "user", "mtime": NOW - 86_400},
                "/data/y": {"owner": "user", "mtime": NOW - 3600},
            },
        },
        "unknown_tools": "allow",
        "calls": calls,
    }
    return full_scenario(actions=actions)


def _bundle() -> Bundle:
    return bundle_of(_scenario())


def test_every_predicate_outcome_is_replayed_identically() -> None:
    """The replay agrees with the gate on every predicate outcome and the bundle verifies."""
    bundle = _bundle()
    actions = bundle.certificates.actions
    assert actions is not None
    outcomes = [
        (d.allowed, d.audit.predicate if d.audit is not None else None) for d in actions.decisions
    ]
    assert outcomes == [(allowed, predicate) for _, _, allowed, predicate in _CASES]
    assert actions.post_counters == {"writes": 2}
    assert check_bundle(encode_bundle(bundle)).failures == ()


def test_unknown_tool_allowed_is_a_named_gap() -> None:
    """An allowed call with no schema (unknown_tools = allow) is listed as an actions gap."""
    gaps = _bundle().card.unverified_layers
    assert any(gap.startswith("actions: call k13 'other' has no schema") for gap in gaps)


@pytest.mark.parametrize("index", [0, 1, 8])
def test_flipped_decision_is_caught_after_resealing(index: int) -> None:
    """Flipping one recorded decision, digest recomputed, fails actions.decisions[i].allowed."""
    bundle = _bundle()
    actions = bundle.certificates.actions
    assert actions is not None
    decisions = list(actions.decisions)
    decisions[index] = replace(decisions[index], allowed=not decisions[index].allowed)
    certs = replace(bundle.certificates, actions=replace(actions, decisions=tuple(decisions)))
    card = replace(bundle.card, certificate_digest=canonical_digest(certs))
    result = check_bundle(encode_bundle(replace(bundle, certificates=certs, card=card)))
    assert f"actions.decisions[{index}].allowed" in {f.split(":")[0] for f in result.failures}
