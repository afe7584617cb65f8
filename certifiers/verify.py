"""The independent bundle verifier (SPEC 6): re-derives every obligation of SPEC 5.1-5.6.

`check_bundle(data)` returns a `CheckResult(ok, failures, notes)` naming each failed obligation
(`grounding.masses.supported: expected 3/5, got 2/3`) and each datum taken as recorded rather than
re-derived (notes: non-inlined embedding measurements, an absent or unpinned signature);
`verify_bundle(data)` is the thin wrapper that raises `BundleRejectedError` (python-tuf style: a
check returns a verdict, a wrapper raises).
Steps, in order: decode against the schema and require canonical form; the certificate digest;
the Ed25519 signature when present (pure-Python `certifiers.ed25519`), optionally pinned to
trusted keys; declared assumptions within the allowed tiers; presence rules and context/policy
sanity; then each certificate from its recorded data (`certifiers.verification.*`), the card from
the recomputed facts, VerdictConsistent, and the policy decision. It trusts no stored derived
value, calls no oracle and never imports the builders (`certifiers.builders`). Empty, unknown or
malformed input fails closed with a named failure, never a traceback.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec

from certifiers.bundle import card_signing_payload, decode_bundle
from certifiers.canonical import canonical_digest, encode_canonical
from certifiers.ed25519 import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verify_signature
from certifiers.errors import BundleFormatError, CertifierError
from certifiers.types import Bundle, Signature
from certifiers.verification.bundle_rules import check_rules
from certifiers.verification.report import Report
from certifiers.verification.run import check_certificates

__all__ = ["BundleRejectedError", "CheckResult", "check_bundle", "verify_bundle"]


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict of `check_bundle`: ok iff there are no failures.

    `notes` name every datum taken as recorded rather than re-derived (non-inlined embedding
    measurements, an absent or unpinned signature): what "valid" does not cover.
    """

    ok: bool
    failures: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.ok == bool(self.failures):
            raise ValueError(f"Expected ok == (no failures), got ok={self.ok} with failures")


class BundleRejectedError(CertifierError):
    """A bundle failed verification; `failures` names every failed obligation."""

    def __init__(self, failures: tuple[str, ...]) -> None:
        shown = "; ".join(failures[:5]) + (
            f"; ... ({len(failures)} in all)" if failures[5:] else ""
        )
        super().__init__(f"Bundle rejected: {shown}")
        self.failures = failures


def _hex(text: str, size: int) -> bytes | None:
    if len(text) != 2 * size:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _check_signature(
    bundle: Bundle,
    signature: Signature | None,
    trusted_keys: Collection[bytes] | None,
    report: Report,
) -> None:
    """SPEC 6: Ed25519 over the canonical card; when keys are pinned a signature is required.

    A bundle whose digest-covered context names a `signer` must carry a valid signature by exactly
    that key: stripping the signature or re-signing with another key is an error, not a note.
    """
    signer = bundle.certificates.context.signer
    if signer is not None:
        report.require(
            "signature.signer",
            signature is not None and signature.public_key == signer,
            f"expected a signature by the recorded signer {signer}, got "
            + ("none" if signature is None else f"key {signature.public_key}"),
        )
    if signature is None:
        if trusted_keys is not None:
            report.fail("signature.required", "expected a signature by a trusted key, got none")
        elif signer is None:
            report.note("signature: absent (the card is not authenticated)")
        return
    if trusted_keys is None:
        report.note(
            f"signature: present, key not pinned ({signature.public_key}); it proves integrity "
            "under that key only, not who signed"
        )
    key = _hex(signature.public_key, PUBLIC_KEY_BYTES)
    sig = _hex(signature.signature, SIGNATURE_BYTES)
    if key is None or sig is None:
        report.fail(
            "signature.encoding",
            f"expected {2 * PUBLIC_KEY_BYTES} hex characters of key and "
            f"{2 * SIGNATURE_BYTES} of signature, got {len(signature.public_key)} and "
            f"{len(signature.signature)}",
        )
        return
    report.require(
        "signature.valid",
        verify_signature(key, card_signing_payload(bundle), sig),
        "expected a valid Ed25519 signature of the canonical card, got one that does not verify",
    )
    if trusted_keys is not None:
        report.require(
            "signature.trusted",
            key in set(trusted_keys),
            f"expected a signature by a trusted key, got key {signature.public_key}",
        )


def _decode(data: object, report: Report) -> Bundle | None:
    """Schema decoding plus canonical form: every value as the canonical encoder writes it."""
    if not isinstance(data, bytes | bytearray | memoryview):
        report.fail("bundle.format", f"expected bundle bytes, got {type(data).__name__}")
        return None
    raw = bytes(data)
    try:
        bundle = decode_bundle(raw)
    except BundleFormatError as exc:
        report.fail("bundle.format", str(exc))
        return None
    canonical = msgspec.json.decode(encode_canonical(bundle))
    report.require(
        "bundle.canonical",
        msgspec.json.decode(raw) == canonical,
        "expected the canonical form (every field present, rationals as lowest-terms 'p/q')",
    )
    return bundle


def check_bundle(data: bytes, *, trusted_keys: Collection[bytes] | None = None) -> CheckResult:
    """Re-check a bundle offline; `trusted_keys` (raw Ed25519 keys) pins the signer when given."""
    report = Report()
    try:
        bundle = _decode(data, report)
        if bundle is not None:
            certs = bundle.certificates
            report.expect(
                "card.certificate_digest", canonical_digest(certs), bundle.card.certificate_digest
            )
            _check_signature(bundle, bundle.signature, trusted_keys, report)
            check_rules(certs, report)
            check_certificates(bundle, report)
    except Exception as exc:  # fail closed: a verifier defect must reject, never crash the caller
        report.fail("verifier.internal", f"unexpected {type(exc).__name__}: {exc}")
    return CheckResult(ok=report.ok, failures=report.failures, notes=report.notes)


def verify_bundle(data: bytes, *, trusted_keys: Collection[bytes] | None = None) -> None:
    """Raise BundleRejectedError unless `check_bundle` accepts the bundle."""
    result = check_bundle(data, trusted_keys=trusted_keys)
    if not result.ok:
        raise BundleRejectedError(result.failures)
