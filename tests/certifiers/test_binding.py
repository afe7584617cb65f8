"""Single-field edits a verifier used to accept are caught (issue 9 §2): the signer recorded in
the digest-covered data, the policy bound to what was certified, every policy field range-checked,
an independent check of epsilon0, and no floats in the trusted core."""

from __future__ import annotations

import ast
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import certifiers
from certifiers.builders import certify
from certifiers.builders import stability as builder_stability
from certifiers.bundle import card_signing_payload, encode_bundle, with_signature
from certifiers.canonical import canonical_digest
from certifiers.scenario import decode_scenario
from certifiers.types import Bundle
from certifiers.verification import layers as verifier_layers
from certifiers.verify import check_bundle
from tests.certifiers.test_verify_scenarios import SIGNING_SEED, full_scenario

_KEY = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
_PUBLIC = _KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
_FOREIGN = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _signed_by_proxy(scenario: dict[str, Any]) -> Bundle:
    """What a signing proxy issues: its key recorded as signer, then the card signed."""
    bundle = certify(decode_scenario(json.dumps(scenario).encode()), signer=_PUBLIC.hex())
    return with_signature(bundle, _PUBLIC, _KEY.sign(card_signing_payload(bundle)))


def _resealed(bundle: Bundle, **certificate_changes: Any) -> bytes:
    """Change certificate fields and recompute the digest, as anyone without the key can."""
    certs = msgspec.structs.replace(bundle.certificates, **certificate_changes)
    card = msgspec.structs.replace(bundle.card, certificate_digest=canonical_digest(certs))
    return encode_bundle(msgspec.structs.replace(bundle, certificates=certs, card=card))


BUNDLE = _signed_by_proxy(full_scenario())


def test_a_proxy_signed_bundle_verifies_and_names_its_signer() -> None:
    """The signer is part of the digest-covered context and the untouched bundle verifies."""
    assert BUNDLE.certificates.context.signer == _PUBLIC.hex()
    assert check_bundle(encode_bundle(BUNDLE)).ok


def test_a_stripped_signature_is_an_error_not_a_note() -> None:
    """Setting `signature` to null on a bundle with a recorded signer fails verification."""
    result = check_bundle(encode_bundle(msgspec.structs.replace(BUNDLE, signature=None)))
    assert not result.ok
    assert any(f.startswith("signature.signer") for f in result.failures)


def test_a_foreign_signature_is_an_error() -> None:
    """Re-signing the card with another key fails: the recorded signer does not match."""
    foreign_public = _FOREIGN.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    resigned = with_signature(BUNDLE, foreign_public, _FOREIGN.sign(card_signing_payload(BUNDLE)))
    result = check_bundle(encode_bundle(resigned))
    assert any(f.startswith("signature.signer") for f in result.failures)


def test_policy_thresholds_must_equal_the_grounding_certificates() -> None:
    """A re-sealed edit of the policy's thresholds no longer matches what grounding used."""
    policy = BUNDLE.certificates.policy
    thresholds = msgspec.structs.replace(policy.thresholds, theta_e=Fraction(1, 100))
    edited = msgspec.structs.replace(policy, thresholds=thresholds)
    result = check_bundle(_resealed(BUNDLE, policy=edited))
    assert any(f.startswith("grounding.thresholds") for f in result.failures)


def test_unknown_tools_must_follow_from_the_policy() -> None:
    """A re-sealed `unknown_tools` of the actions certificate that the policy does not say fails."""
    actions = BUNDLE.certificates.actions
    assert actions is not None
    assert actions.unknown_tools == "block"
    policy = msgspec.structs.replace(BUNDLE.certificates.policy, unknown_tools="allow")
    result = check_bundle(_resealed(BUNDLE, policy=policy))
    assert any(f.startswith("actions.unknown_tools") for f in result.failures)


def test_scenario_thresholds_are_folded_into_the_recorded_policy() -> None:
    """Thresholds given by the scenario are the recorded policy's (so the binding can hold)."""
    bundle = _signed_by_proxy(full_scenario(thresholds={"theta_g": "0.7"}))
    assert bundle.certificates.policy.thresholds.theta_g == Fraction(7, 10)
    assert bundle.certificates.grounding is not None
    assert bundle.certificates.grounding.thresholds == bundle.certificates.policy.thresholds
    assert check_bundle(encode_bundle(bundle)).ok


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_calibration_gap", Fraction(-1)),
        ("min_perturbation_budget", Fraction(-1, 2)),
        ("forbidden_patterns", ("",)),
        ("allowed_oracles", ("",)),
        ("name", ""),
    ],
)
def test_every_policy_field_is_range_checked(field: str, value: object) -> None:
    """An out-of-range policy field, re-sealed, is named by the verifier."""
    policy = msgspec.structs.replace(BUNDLE.certificates.policy, **{field: value})
    result = check_bundle(_resealed(BUNDLE, policy=policy))
    assert any(f.startswith(f"policy.{field}") for f in result.failures)


def test_epsilon0_is_checked_independently_of_the_shared_sqrt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shared square-root bug (builder and verifier agree on a too-small eps0) is still caught."""

    def too_small(value: Fraction, bits: int = 0) -> Fraction:
        return Fraction(0)

    monkeypatch.setattr(builder_stability, "sqrt_upper", too_small)
    monkeypatch.setattr(verifier_layers, "sqrt_upper", too_small)
    bundle = certify(decode_scenario(json.dumps(full_scenario()).encode()))
    assert bundle.certificates.embedding is not None
    assert bundle.certificates.embedding.drift_bound
    result = check_bundle(encode_bundle(bundle))
    assert any(f.startswith("stability.epsilon0.bounds_drift") for f in result.failures)


def _float_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"{path.name}:{node.lineno} float literal")
        if isinstance(node, ast.Attribute) and node.attr in ("inf", "nan"):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "float":
            found.append(f"{path.name}:{node.lineno} float()")
    return found


def test_the_trusted_core_uses_no_floats() -> None:
    """No float literal, `float(...)` call or float infinity anywhere in `certifiers/`."""
    root = Path(certifiers.__file__).parent
    found = [use for path in sorted(root.rglob("*.py")) for use in _float_uses(path)]
    assert found == []
