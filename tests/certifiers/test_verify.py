"""Tests for the independent bundle verifier: valid bundles pass, wrong ones fail by name."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from typing import Any

import msgspec
import pytest

from certifiers.bundle import decode_bundle, encode_bundle
from certifiers.canonical import canonical_digest
from certifiers.types import Bundle, Certified, Masses, Residue
from certifiers.verify import BundleRejectedError, CheckResult, check_bundle, verify_bundle
from tests.certifiers.examples import clean_scenario, paper_64_scenario
from tests.certifiers.test_verify_scenarios import (
    bundle_of,
    embedding_block,
    full_bundle_bytes,
    full_scenario,
    signed,
    signing_public_key,
)

replace = msgspec.structs.replace

# paper 9.3: g = (1,0,0,0,1,0,0), m = (0.12, 50, 3, 0.08, 0.77, 1, 1)
_PAPER_93_LAYERS = [
    {"name": f"L{i + 1}", "gain": gain, "margin": margin}
    for i, (gain, margin) in enumerate(
        zip(
            ["1", "0", "0", "0", "1", "0", "0"],
            ["0.12", "50", "3", "0.08", "0.77", "1", "1"],
            strict=True,
        )
    )
]


def _resealed(bundle: Bundle) -> bytes:
    """Recompute the certificate digest, as anyone can without a signing key."""
    card = replace(bundle.card, certificate_digest=canonical_digest(bundle.certificates))
    return encode_bundle(replace(bundle, card=card))


def _failures(data: bytes) -> tuple[str, ...]:
    result = check_bundle(data)
    assert not result.ok
    return result.failures


def _names(failures: tuple[str, ...]) -> set[str]:
    return {failure.split(":", 1)[0] for failure in failures}


def test_signed_full_bundle_verifies() -> None:
    """The signed all-layer bundle verifies with no failure."""
    result = check_bundle(full_bundle_bytes())
    assert (result.ok, result.failures) == (True, ())
    assert [n for n in result.notes if n.startswith("signature: present, key not pinned")]


@pytest.mark.parametrize(
    "scenario",
    [
        full_scenario(),
        paper_64_scenario(),
        clean_scenario(),
        full_scenario(oracle_failures=[{"oracle": "nli", "reason": "timeout after 10s"}]),
        full_scenario(disabled_layers=["stability"]),
        full_scenario(budget={"max_weight": "4"}, conflicts=[[0, 1], [1, 3]]),
        full_scenario(policy="creative", thresholds={"theta_r": "1/2"}),
        full_scenario(evidence=[], nli=None),
        full_scenario(claims=[], answer="", nli=None, claim_dependencies={}, conflicts=[]),
        full_scenario(embedding=embedding_block(dim=384, n_inv=30, n_sig=20, n_evidence=5)),
        full_scenario(layers=_PAPER_93_LAYERS, epsilon0="1/10"),
        full_scenario(oracles={"nli": {"adapter": "lexical"}}, policy={"allowed_oracles": ["llm"]}),
    ],
    ids=[
        "full",
        "paper-6.4",
        "clean",
        "oracle-failure",
        "stability-disabled",
        "budget-and-conflicts",
        "creative",
        "no-evidence",
        "no-claims",
        "large-embedding-not-inlined",
        "declared-layers-paper-9.3",
        "disallowed-oracle-out-of-scope",
    ],
)
def test_certified_scenarios_verify(scenario: dict[str, Any]) -> None:
    """Bundles certified from varied scenarios (every verdict, every layer) verify."""
    result = check_bundle(encode_bundle(bundle_of(scenario)))
    assert result.failures == ()


def test_paper_worked_example_is_recomputed() -> None:
    """Paper 6.4 bundle: residue {c1, c3} of weight 4 out of 8 verifies."""
    bundle = bundle_of(paper_64_scenario())
    assert bundle.certificates.residue is not None
    assert bundle.certificates.residue.kept == (0, 2)
    assert bundle.card.verdict == Residue(weight=Fraction(1, 2))
    verify_bundle(encode_bundle(bundle))


def test_clean_scenario_is_certified_and_verifies() -> None:
    """The clean scenario's certified verdict passes verification."""
    bundle = bundle_of(clean_scenario())
    assert bundle.card.verdict == Certified()
    verify_bundle(encode_bundle(bundle))


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty input"),
        (b"   \n", "empty input"),
        (b"null", "bundle.format"),
        (b"[]", "bundle.format"),
        (b"{}", "bundle.format"),
        (b"{not json", "bundle.format"),
        (b"\xff\xfe\x00", "bundle.format"),
        (b'{"format": "assurance-bundle/2"}', "bundle.format"),
    ],
)
def test_malformed_input_fails_closed(data: bytes, fragment: str) -> None:
    """Empty, non-JSON and schema-violating input yields a named failure, not an exception."""
    failures = _failures(data)
    assert any(fragment in failure for failure in failures)
    assert all(failure.startswith("bundle.format") for failure in failures)


def test_non_bytes_input_fails_closed() -> None:
    """A str passed where bytes are expected fails with a bundle.format failure."""
    text: Any = full_bundle_bytes().decode()
    assert _names(_failures(text)) == {"bundle.format"}


def test_unknown_field_is_rejected() -> None:
    """A bundle with an extra field anywhere is rejected by the schema."""
    tree = msgspec.json.decode(full_bundle_bytes())
    tree["certificates"]["grounding"]["note"] = "trust me"
    assert _names(_failures(msgspec.json.encode(tree))) == {"bundle.format"}


def test_non_canonical_rational_is_rejected() -> None:
    """An equal but non-canonical rational ("6/10" for "3/5") fails bundle.canonical."""
    tree = msgspec.json.decode(encode_bundle(bundle_of(full_scenario())))
    weight = tree["certificates"]["decomposition"]["claims"][0]["weight"]
    tree["certificates"]["decomposition"]["claims"][0]["weight"] = f"{int(weight) * 2}/2"
    assert _names(_failures(msgspec.json.encode(tree))) == {"bundle.canonical"}


def test_pinned_key_accepts_its_signature_and_rejects_others() -> None:
    """trusted_keys accepts the signer's key, rejects another key and an unsigned bundle."""
    data = full_bundle_bytes()
    assert check_bundle(data, trusted_keys=[signing_public_key()]).ok
    other = check_bundle(data, trusted_keys=[bytes(32)])
    assert _names(other.failures) == {"signature.trusted"}
    unsigned = encode_bundle(bundle_of(full_scenario()))
    assert _names(check_bundle(unsigned, trusted_keys=[signing_public_key()]).failures) == {
        "signature.required"
    }


def test_malformed_signature_encoding_is_rejected() -> None:
    """A signature whose hex has the wrong length fails signature.encoding."""
    bundle = signed(bundle_of(full_scenario()))
    assert bundle.signature is not None
    short = replace(bundle.signature, signature=bundle.signature.signature[:-2])
    failures = _failures(encode_bundle(replace(bundle, signature=short)))
    assert _names(failures) == {"signature.encoding"}


def test_lying_masses_are_caught_even_with_a_resealed_digest() -> None:
    """Declaring W- = 0 while shipping a contradicted claim fails grounding.masses (paper 5.3)."""
    bundle = bundle_of(full_scenario())
    grounding = bundle.certificates.grounding
    assert grounding is not None
    lie = Masses(
        supported=grounding.masses.supported + grounding.masses.contradicted,
        contradicted=Fraction(0),
        contested=grounding.masses.contested,
        unknown=grounding.masses.unknown,
    )
    certs = replace(bundle.certificates, grounding=replace(grounding, masses=lie))
    failures = _failures(_resealed(replace(bundle, certificates=certs)))
    assert "grounding.masses.supported" in _names(failures)
    assert "grounding.masses.contradicted" in _names(failures)
    assert not any(f.startswith("card.") for f in failures)


def test_suboptimal_residue_is_caught() -> None:
    """A feasible but lighter residue (one claim dropped) fails residue.optimality."""
    bundle = bundle_of(full_scenario())
    residue = bundle.certificates.residue
    assert residue is not None
    assert len(residue.kept) >= 2
    weaker = replace(residue, kept=residue.kept[:-1])
    certs = replace(bundle.certificates, residue=weaker)
    names = _names(_failures(_resealed(replace(bundle, certificates=certs))))
    assert {"residue.optimality", "residue.weight"} <= names


def test_undeclared_assumption_is_rejected() -> None:
    """An assumption outside the allowed tier-4 set fails residue.assumptions.allowed."""
    bundle = bundle_of(full_scenario())
    residue = bundle.certificates.residue
    assert residue is not None
    certs = replace(bundle.certificates, residue=replace(residue, assumptions=("MagicOracle",)))
    names = _names(_failures(_resealed(replace(bundle, certificates=certs))))
    assert names == {"residue.assumptions.allowed", "residue.assumptions"}


def test_hidden_oracle_assumption_is_rejected() -> None:
    """A grounding certificate that omits SignedSupportOracle fails grounding.assumptions."""
    bundle = bundle_of(full_scenario())
    grounding = bundle.certificates.grounding
    assert grounding is not None
    hidden = replace(grounding, assumptions=("DecompositionOracle",))
    certs = replace(bundle.certificates, grounding=hidden)
    assert _names(_failures(_resealed(replace(bundle, certificates=certs)))) == {
        "grounding.assumptions"
    }


def test_wrong_digest_is_caught() -> None:
    """A card whose certificate_digest does not match the certificates fails."""
    bundle = bundle_of(full_scenario())
    card = replace(bundle.card, certificate_digest="sha256:" + "0" * 64)
    failures = _failures(encode_bundle(replace(bundle, card=card)))
    assert _names(failures) == {"card.certificate_digest"}


def test_verify_bundle_raises_with_every_failure() -> None:
    """verify_bundle raises BundleRejectedError carrying the failures of check_bundle."""
    with pytest.raises(BundleRejectedError) as info:
        verify_bundle(b"{}")
    assert info.value.failures == check_bundle(b"{}").failures
    assert "Bundle rejected" in str(info.value)


def test_check_result_requires_ok_to_match_failures() -> None:
    """CheckResult refuses ok=True with failures and ok=False without."""
    with pytest.raises(ValueError, match="ok == "):
        CheckResult(ok=True, failures=("x: y",))
    with pytest.raises(ValueError, match="ok == "):
        CheckResult(ok=False, failures=())


def test_internal_errors_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A defect inside a check becomes a verifier.internal failure instead of an exception."""

    def broken(*_args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("certifiers.verify.check_rules", broken)
    failures = _failures(full_bundle_bytes())
    assert failures == ("verifier.internal: unexpected ZeroDivisionError: boom",)


def test_verifier_never_loads_the_builders() -> None:
    """Importing and running the verifier loads no module of certifiers.builders."""
    code = (
        "import sys; from certifiers.verify import check_bundle; check_bundle(b'{}'); "
        "print(sorted(m for m in sys.modules if m.startswith('certifiers.builders')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_decoded_bundle_round_trips_canonically() -> None:
    """The canonical encoding of a decoded valid bundle is byte-identical (the digest is stable)."""
    data = full_bundle_bytes()
    assert encode_bundle(decode_bundle(data)) == data


def test_declared_paper_layers_give_budget_three_twenty_fifths() -> None:
    """Declared paper 9.3 layers: the verified card's perturbation budget is 0.12 (= 3/25)."""
    bundle = bundle_of(full_scenario(layers=_PAPER_93_LAYERS, epsilon0="1/10"))
    assert bundle.card.perturbation_budget == Fraction(3, 25)
    assert bundle.certificates.stability is not None
    assert bundle.certificates.stability.kappa == 0
    verify_bundle(encode_bundle(bundle))
