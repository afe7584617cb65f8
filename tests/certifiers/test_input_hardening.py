"""Trusted-core hardening: explicit embedding provenance, strict inputs, URL and path rules."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec
import pytest

from certifiers.builders import certify
from certifiers.bundle import decode_bundle, encode_bundle
from certifiers.canonical import canonical_digest
from certifiers.errors import ScenarioError
from certifiers.scenario import decode_scenario
from certifiers.types import Bundle
from certifiers.verify import check_bundle
from proxy.cli import main
from tests.certifiers.examples import NOW
from tests.certifiers.test_verify_scenarios import embedding_block, full_scenario

GRID_SQ = 4**24


def _bundle(scenario: dict[str, Any]) -> Bundle:
    return certify(decode_scenario(json.dumps(scenario).encode()))


def _scenario_error(scenario: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as caught:
        _bundle(scenario)
    return str(caught.value)


def _big_embedding(inline: str | None) -> dict[str, Any]:
    block = embedding_block(dim=384, n_inv=8, n_sig=3, n_evidence=2)
    if inline is not None:
        block["inline"] = inline
    return {"answer": "x", "query": "q", "embedding": block, "policy": "creative", "now": NOW}


def _forge_distances(bundle: Bundle) -> bytes:
    """Shrink every invariant distance, rewrite the derived fields and re-seal the digest."""
    emb = bundle.certificates.embedding
    assert emb is not None
    inv = tuple(msgspec.structs.replace(m, dist_sq=m.dist_sq * 3 // 10) for m in emb.invariant)
    r2_inv = Fraction(max(m.dist_sq for m in inv), GRID_SQ)
    assert emb.r2_sig is not None
    forged = msgspec.structs.replace(
        emb,
        invariant=inv,
        r2_inv=r2_inv,
        delta_sq=emb.r2_sig - r2_inv,
        drift_bound=r2_inv + emb.eps_eta,
    )
    certs = msgspec.structs.replace(bundle.certificates, embedding=forged)
    card = msgspec.structs.replace(bundle.card, certificate_digest=canonical_digest(certs))
    return encode_bundle(msgspec.structs.replace(bundle, certificates=certs, card=card))


# --- P0-1: non-inlined embeddings are explicit, noted, and optional ----------------------------


def test_non_inlined_embedding_is_marked_recorded_and_noted() -> None:
    """Above 4096 coordinates the certificate says `recorded` and verify notes the limit."""
    bundle = _bundle(_big_embedding(None))
    emb = bundle.certificates.embedding
    assert emb is not None
    assert emb.vectors is None
    assert emb.measurements == "recorded"
    result = check_bundle(encode_bundle(bundle))
    assert result.ok
    assert (
        "embedding.measurements: recorded (vectors not inlined; 5376 coordinates) — bound by "
        "vectors_digest, not re-derived"
    ) in result.notes
    assert "signature: absent (the card is not authenticated)" in result.notes


def test_inline_always_rederives_and_catches_a_forged_distance() -> None:
    """`embedding.inline = always` inlines d=384 x 14 vectors; a re-sealed forgery is caught."""
    bundle = _bundle(_big_embedding("always"))
    emb = bundle.certificates.embedding
    assert emb is not None
    assert emb.vectors is not None
    assert emb.measurements == "derived"
    honest = check_bundle(encode_bundle(bundle))
    assert honest.ok
    assert not [n for n in honest.notes if n.startswith("embedding.")]
    forged = check_bundle(_forge_distances(bundle))
    assert not forged.ok
    assert any(f.startswith("embedding.invariant[0].dist_sq") for f in forged.failures)


def test_auto_mode_forgery_is_noted_not_caught_by_the_embedding_check() -> None:
    """The documented limit: in auto mode the embedding check cannot see the forgery; the note
    says so (only downstream derived values such as the stability chain may still differ)."""
    result = check_bundle(_forge_distances(_bundle(_big_embedding(None))))
    assert not [f for f in result.failures if f.startswith("embedding.")]
    assert any(n.startswith("embedding.measurements: recorded") for n in result.notes)


def test_measurements_flag_must_match_the_vectors() -> None:
    """Claiming `derived` without vectors (re-sealed) is a failure, not a silent pass."""
    bundle = _bundle(_big_embedding(None))
    emb = bundle.certificates.embedding
    assert emb is not None
    certs = msgspec.structs.replace(
        bundle.certificates, embedding=msgspec.structs.replace(emb, measurements="derived")
    )
    card = msgspec.structs.replace(bundle.card, certificate_digest=canonical_digest(certs))
    data = encode_bundle(msgspec.structs.replace(bundle, certificates=certs, card=card))
    assert any(f.startswith("embedding.measurements") for f in check_bundle(data).failures)


def test_verify_command_prints_notes_after_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`assurance verify` prints `valid` then each note prefixed `note: `."""
    path = tmp_path / "b.json"
    path.write_bytes(encode_bundle(_bundle(_big_embedding(None))))
    assert main(["verify", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "valid"
    assert "note: signature: absent (the card is not authenticated)" in lines
    assert any(line.startswith("note: embedding.measurements: recorded") for line in lines)


# --- P0-2: no tracebacks -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["\u00b2", "\u0661", "01", "-1", "+1", " 1"])
def test_non_ascii_decimal_dependency_keys_are_scenario_errors(key: str) -> None:
    """Only ASCII decimal claim indices are accepted as dependency keys."""
    scenario: dict[str, Any] = {"answer": "a b", "claims": [{"text": "a"}, {"text": "b"}]}
    scenario["claim_dependencies"] = {key: [0]}
    assert "claim_dependencies" in _scenario_error(scenario)


@pytest.mark.parametrize(
    "data",
    [
        b'{"answer":"a","claims":[{"text":"a"},{"text":"b"}],"claim_dependencies":{"\xc2\xb2":[0]}}',
        b'{"answer":"a","policy":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_certify_command_exits_2_without_traceback(
    data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A superscript key or a 100 000-deep nesting exits 2 with a one-line message."""
    path = tmp_path / "s.json"
    path.write_bytes(data)
    assert main(["certify", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("assurance certify:")


def test_verify_command_fails_closed_on_deep_nesting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deeply nested bundle is invalid (exit 1), never a traceback."""
    path = tmp_path / "b.json"
    path.write_bytes(b'{"card":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert main(["verify", str(path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.strip()


# --- P1-1: certify rejects what verify rejects -------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"policy_overrides": {"max_age_seconds": -5}}, "$.policy_overrides.max_age_seconds"),
        (
            {"policy_overrides": {"min_supported_mass": "2"}},
            "$.policy_overrides.min_supported_mass",
        ),
        ({"policy_overrides": {"max_contested_mass": "-1/2"}}, "max_contested_mass"),
        ({"policy_overrides": {"max_unverified_gaps": -1}}, "max_unverified_gaps"),
        ({"policy_overrides": {"theta_r": "3/2"}}, "theta_r"),
        ({"policy": {"extends": "creative", "theta_g": "0"}}, "$.policy.theta_g"),
        ({"layers": [{"name": "a", "gain": "1"}], "epsilon0": "-1"}, "$.epsilon0"),
    ],
)
def test_certify_rejects_values_verify_would_reject(extra: dict[str, Any], named: str) -> None:
    """Out-of-range policy values and a negative epsilon0 are ScenarioErrors naming the field."""
    scenario: dict[str, Any] = {"answer": "a", "policy": "creative", "now": NOW, **extra}
    assert named in _scenario_error(scenario)


def test_duplicate_tool_call_ids_are_rejected() -> None:
    """Two calls with one id would mislabel the card: a ScenarioError at the second id."""
    call = {"id": "c", "name": "t", "arguments": "{}"}
    scenario = {"answer": "a", "policy": "creative", "actions": {"calls": [call, call]}}
    assert "$.actions.calls[1].id" in _scenario_error(scenario)


# --- P1-3: host_in_allowlist hardening ---------------------------------------------------------


def _fetch(url: str, hosts: list[str]) -> tuple[bool, str]:
    schema = {
        "tool": "fetch",
        "pre": [{"pred": "host_in_allowlist", "arg": "url", "hosts": hosts}],
    }
    call = {"id": "c1", "name": "fetch", "arguments": json.dumps({"url": url})}
    scenario = {
        "answer": "a",
        "policy": "creative",
        "now": NOW,
        "actions": {"schemas": [schema], "calls": [call]},
    }
    bundle = _bundle(scenario)
    assert check_bundle(encode_bundle(bundle)).ok  # the verifier agrees, audit string included
    actions = bundle.certificates.actions
    assert actions is not None
    decision = actions.decisions[0]
    return decision.allowed, decision.audit.offending_value if decision.audit else ""


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://evil.com\\@good.com/", "backslash"),
        ("http://evil.com\\good.com/", "backslash"),
        ("file://good.com/etc/passwd", "scheme"),
        ("ftp://good.com/", "scheme"),
        ("http://user:pw@good.com:1/", "userinfo"),
        ("http://evil.com@good.com/", "userinfo"),
        ("http://good.com\t/", "whitespace"),
        ("http://good.com\x01.evil/", "control"),
        ("http:///nohost", "no valid host"),
    ],
)
def test_host_allowlist_bypasses_are_blocked(url: str, why: str) -> None:
    """Each audit bypass is blocked by builder and verifier with a reason naming it."""
    allowed, offending = _fetch(url, ["good.com"])
    assert not allowed
    assert why in offending


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("http://bücher.de/x", ["xn--bcher-kva.de"]),
        ("https://xn--bcher-kva.de/x", ["bücher.de"]),
        ("https://GOOD.com./x", ["good.com"]),
        ("https://good.com:8443/x", ["Good.COM."]),
    ],
)
def test_host_allowlist_normalizes_idna_case_and_trailing_dot(url: str, hosts: list[str]) -> None:
    """IDNA, case and one trailing dot are normalized on both sides."""
    assert _fetch(url, hosts) == (True, "")


# --- P1-5, P1-6, P2 ----------------------------------------------------------------------------


def test_dependency_without_grounding_excludes_the_dependent_claim() -> None:
    """With no grounding certificate nothing is Supported, so C_pre excludes claim 1."""
    scenario = {
        "answer": "a b",
        "claims": [{"text": "a"}, {"text": "b"}],
        "claim_dependencies": {"1": [0]},
        "policy": "creative",
    }
    bundle = _bundle(scenario)
    residue = bundle.certificates.residue
    assert residue is not None
    assert residue.kept == (0,)
    assert [(e.claim, e.reason) for e in residue.exclusions] == [(1, "requires:0")]
    assert check_bundle(encode_bundle(bundle)).ok


def test_verifier_rejects_an_unmet_dependency_that_is_kept() -> None:
    """A residue keeping a claim with an absent prerequisite (re-sealed) is rejected."""
    scenario = {
        "answer": "a b",
        "claims": [{"text": "a"}, {"text": "b"}],
        "unmet_dependencies": {"1": ["gone"]},
        "policy": "creative",
    }
    bundle = _bundle(scenario)
    residue = bundle.certificates.residue
    assert residue is not None
    assert residue.kept == (0,)
    forged = msgspec.structs.replace(
        residue, exclusions=(), kept=(0, 1), dropped=(), kept_weight=Fraction(2)
    )
    forged = msgspec.structs.replace(forged, coverage=Fraction(1))
    certs = msgspec.structs.replace(bundle.certificates, residue=forged)
    card = msgspec.structs.replace(bundle.card, certificate_digest=canonical_digest(certs))
    data = encode_bundle(msgspec.structs.replace(bundle, certificates=certs, card=card))
    failures = check_bundle(data).failures
    assert any(f.startswith("residue.exclusions") for f in failures)


def test_layer_margin_is_optional() -> None:
    """`layers[].margin` may be omitted (unbounded), as the README documents."""
    scenario = {"answer": "a", "policy": "creative", "layers": [{"name": "a", "gain": "1"}]}
    bundle = _bundle(scenario)
    assert bundle.certificates.stability is not None
    assert bundle.certificates.stability.layers[0].margin is None
    assert check_bundle(encode_bundle(bundle)).ok


def test_future_retrieved_at_is_not_fresh() -> None:
    """Evidence retrieved after `now` does not count as fresh (even with max_age ∞)."""
    for policy in ("enterprise_qa", "creative"):
        scenario = full_scenario(policy=policy)
        scenario["evidence"][0]["retrieved_at"] = NOW + 10
        bundle = _bundle(scenario)
        assert "evidence_fresh" not in bundle.card.scope_predicates_held
        assert check_bundle(encode_bundle(bundle)).ok


def _one_call(path: object, root: str = "/sandbox") -> bool:
    schema = {"tool": "rm", "pre": [{"pred": "path_in_sandbox", "arg": "path", "root": root}]}
    call = {"id": "c1", "name": "rm", "arguments": json.dumps({"path": path})}
    scenario = {
        "answer": "a",
        "policy": "creative",
        "actions": {"schemas": [schema], "calls": [call]},
    }
    bundle = _bundle(scenario)
    assert check_bundle(encode_bundle(bundle)).ok
    actions = bundle.certificates.actions
    assert actions is not None
    return actions.decisions[0].allowed


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/sandbox", False),
        ("/sandbox/", False),
        ("/sandbox/a/..", False),
        ("", False),
        ("a", False),
        ("a/..", False),
        ("/sandbox/a", True),
        ("/sandbox/a/../b", True),
    ],
)
def test_path_in_sandbox_requires_an_absolute_path_strictly_inside(
    path: str, allowed: bool
) -> None:
    """The root itself, empty and relative paths are not inside the sandbox."""
    assert _one_call(path) is allowed


def test_duplicate_argument_keys_block_the_call() -> None:
    """`{"path": "/etc/passwd", "path": "/sandbox/a"}` is blocked with a clear audit record."""
    schema = {"tool": "rm", "pre": [{"pred": "path_in_sandbox", "arg": "path", "root": "/sandbox"}]}
    arguments = '{"path": "/etc/passwd", "path": "/sandbox/a"}'
    call = {"id": "c1", "name": "rm", "arguments": arguments}
    scenario = {
        "answer": "a",
        "policy": "creative",
        "actions": {"schemas": [schema], "calls": [call]},
    }
    bundle = _bundle(scenario)
    actions = bundle.certificates.actions
    assert actions is not None
    audit = actions.decisions[0].audit
    assert audit is not None
    assert audit.predicate == "duplicate_argument_keys"
    assert audit.offending_value == 'keys ["path"] repeated in the arguments'
    assert check_bundle(encode_bundle(bundle)).ok
    # the verifier recomputes it independently: an "allowed" forgery is caught
    forged_decision = msgspec.structs.replace(actions.decisions[0], allowed=True, audit=None)
    forged = msgspec.structs.replace(actions, decisions=(forged_decision,))
    certs = msgspec.structs.replace(bundle.certificates, actions=forged)
    card = msgspec.structs.replace(bundle.card, certificate_digest=canonical_digest(certs))
    data = encode_bundle(msgspec.structs.replace(bundle, certificates=certs, card=card))
    assert any(f.startswith("actions.decisions[0]") for f in check_bundle(data).failures)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"answer": "a", "now": 1.5}', "Expected an integer, got 1.5 - at `$.now`"),
        (
            b'{"answer": "a", "actions": {"schemas": [{"tool": "t", "pre": '
            b'[{"pred": "counter_within", "counter": "c", "max": 1.5}]}]}}',
            "Expected an integer, got 1.5 - at `$.actions.schemas[0].pre[0].max`",
        ),
    ],
)
def test_decimal_in_an_integer_field_says_so(data: bytes, message: str) -> None:
    """A JSON decimal where an integer is required reads "expected an integer, got 1.5"."""
    with pytest.raises(ScenarioError) as caught:
        decode_scenario(data)
    assert str(caught.value) == message


def test_bundle_roundtrip_keeps_new_fields() -> None:
    """`measurements` and `Dependency.absent` survive the canonical encoding."""
    bundle = _bundle(_big_embedding(None))
    assert decode_bundle(encode_bundle(bundle)) == bundle
