"""Differential property (issue 9 §1): the action-gate builder and the independent verifier agree
on random schemas, states and calls, path aliases included; aliased `state.files` are rejected on
decode by both sides."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certifiers.builders import certify
from certifiers.bundle import encode_bundle
from certifiers.canonical import canonical_digest
from certifiers.errors import ScenarioError
from certifiers.scenario import canonical_path, decode_scenario
from certifiers.types import FileMeta
from certifiers.verify import check_bundle
from tests.certifiers.test_verify_scenarios import NOW

_PATHS = [
    "/sandbox/a",
    "/sandbox//a",
    "/sandbox/./a",
    "/sandbox/b/../a",
    "//sandbox/a",
    "/sandbox/b",
    "/sandbox",
    "/etc/passwd",
    "/sandbox/../etc/passwd",
    "a",
    "../a",
    "/sandboxed/a",
]
_TOOLS = ["delete", "fetch", "rename"]
_HOSTS = ["example.org", "evil.test", "EXAMPLE.org"]


def _predicates() -> st.SearchStrategy[dict[str, Any]]:
    arg = st.sampled_from(["path", "url", "n", "mode", "missing"])
    return st.one_of(
        st.builds(
            lambda a, r: {"pred": "path_in_sandbox", "arg": a, "root": r},
            arg,
            st.sampled_from(["/sandbox", "/sandbox/", "/"]),
        ),
        st.builds(
            lambda a, r: {"pred": "path_in_subprefix", "arg": a, "prefix": r},
            arg,
            st.sampled_from(["/sandbox", "/sandbox/b"]),
        ),
        st.builds(
            lambda a, o: {"pred": "owner_is", "arg": a, "owner": o},
            arg,
            st.sampled_from(["user", "root"]),
        ),
        st.builds(
            lambda a, d: {"pred": "mtime_at_least_days", "arg": a, "days": d},
            arg,
            st.integers(0, 40),
        ),
        st.builds(
            lambda m: {"pred": "counter_within", "counter": "ops", "max": m}, st.integers(0, 3)
        ),
        st.builds(
            lambda a, v: {"pred": "arg_in", "arg": a, "values": v},
            arg,
            st.lists(st.sampled_from(["r", "w", 1, True, None]), max_size=3),
        ),
        st.builds(
            lambda a, lo, hi: {"pred": "number_between", "arg": a, "min": lo, "max": hi},
            arg,
            st.integers(-2, 2),
            st.integers(0, 5),
        ),
        st.builds(
            lambda a, h: {"pred": "host_in_allowlist", "arg": a, "hosts": h},
            arg,
            st.lists(st.sampled_from(_HOSTS), min_size=1, max_size=2),
        ),
        st.just({"pred": "tool_forbidden"}),
    )


def _arguments() -> st.SearchStrategy[str]:
    values = st.fixed_dictionaries(
        {},
        optional={
            "path": st.one_of(st.sampled_from(_PATHS), st.integers(0, 2)),
            "url": st.sampled_from(
                ["https://example.org/x", "https://evil.test/", "ftp://example.org", "nope"]
            ),
            "n": st.one_of(st.integers(-3, 6), st.sampled_from([2.5, "3"])),
            "mode": st.sampled_from(["r", "w", 1, True, None]),
        },
    )
    return st.one_of(values.map(json.dumps), st.sampled_from(["", "{", "[1]", "null"]))


@st.composite
def action_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Random schemas (one per tool), a file table with possible aliases, and calls."""
    tools = draw(st.lists(st.sampled_from(_TOOLS), unique=True, max_size=3))
    schemas = [
        {
            "tool": tool,
            "pre": draw(st.lists(_predicates(), max_size=3)),
            "effects": draw(
                st.lists(
                    st.builds(lambda n: {"counter": "ops", "add": n}, st.integers(0, 2)),
                    max_size=1,
                )
            ),
        }
        for tool in tools
    ]
    files = {
        path: {
            "owner": draw(st.sampled_from(["user", "root"])),
            "mtime": NOW - draw(st.integers(0, 50 * 86_400)),
        }
        for path in draw(st.lists(st.sampled_from(_PATHS), unique=True, max_size=4))
    }
    calls = [
        {
            "id": f"c{k}",
            "name": draw(st.sampled_from([*_TOOLS, "shell"])),
            "arguments": draw(_arguments()),
        }
        for k in range(draw(st.integers(1, 4)))
    ]
    return {
        "answer": "",
        "claims": [],
        "disabled_layers": ["stability"],
        "policy": "creative",
        "now": NOW,
        "actions": {
            "schemas": schemas,
            "state": {"now": NOW, "counters": {"ops": draw(st.integers(0, 2))}, "files": files},
            "unknown_tools": draw(st.sampled_from(["allow", "block"])),
            "calls": calls,
        },
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(action_scenarios())
def test_builder_and_verifier_agree_on_the_action_gate(scenario: dict[str, Any]) -> None:
    """Whatever the schemas, state and calls, the builder's gate verifies (or decode refuses)."""
    data = json.dumps(scenario).encode()
    paths = [canonical_path(path) for path in scenario["actions"]["state"]["files"]]
    if len(paths) != len(set(paths)):
        with pytest.raises(ScenarioError, match="distinct after normalization"):
            decode_scenario(data)
        return
    result = check_bundle(encode_bundle(certify(decode_scenario(data))))
    assert result.failures == ()


def _aliased() -> dict[str, Any]:
    meta = {"owner": "user", "mtime": NOW - 40 * 86_400}
    return {
        "answer": "",
        "claims": [],
        "disabled_layers": ["stability"],
        "policy": "creative",
        "now": NOW,
        "actions": {
            "schemas": [
                {"tool": "delete", "pre": [{"pred": "owner_is", "arg": "path", "owner": "user"}]}
            ],
            "state": {
                "now": NOW,
                "files": {"/sandbox/a": meta, "/sandbox//a": {**meta, "owner": "root"}},
            },
            "calls": [{"id": "c1", "name": "delete", "arguments": '{"path": "/sandbox/a"}'}],
        },
    }


def test_aliased_file_paths_are_rejected_on_decode() -> None:
    """`/sandbox//a` next to `/sandbox/a` is a scenario error naming `$.actions.state.files`."""
    with pytest.raises(ScenarioError) as caught:
        decode_scenario(json.dumps(_aliased()).encode())
    assert caught.value.path == "$.actions.state.files"


def test_the_verifier_rejects_aliased_file_paths_in_a_bundle() -> None:
    """A bundle whose state gained an alias (re-sealed) fails `actions.state.files.aliases`."""
    clean = _aliased()
    del clean["actions"]["state"]["files"]["/sandbox//a"]
    bundle = certify(decode_scenario(json.dumps(clean).encode()))
    actions = bundle.certificates.actions
    assert actions is not None
    files = {**actions.state.files, "/sandbox//a": FileMeta(owner="root", mtime=NOW)}
    state = msgspec.structs.replace(actions.state, files=files)
    certs = msgspec.structs.replace(
        bundle.certificates, actions=msgspec.structs.replace(actions, state=state)
    )
    card = msgspec.structs.replace(bundle.card, certificate_digest=canonical_digest(certs))
    data = encode_bundle(msgspec.structs.replace(bundle, certificates=certs, card=card))
    assert any(f.startswith("actions.state.files.aliases") for f in check_bundle(data).failures)
