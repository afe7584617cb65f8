"""Bundle (de)serialization, digests and the signing payload (SPEC 6).

`decode_bundle` turns bytes into a typed `Bundle` or raises `BundleFormatError`; it checks the
schema only, never an obligation (that is `certifiers.verify`). Signing happens in the shell
(`proxy/assurance/signing.py`) because the core may not import `cryptography`; here we only define
what is signed and attach the result.
"""

from __future__ import annotations

import msgspec

from certifiers.canonical import canonical_digest, encode_canonical
from certifiers.errors import BundleFormatError
from certifiers.rational import dec_hook
from certifiers.types import Bundle, Card, Certificates, Signature

_DECODER = msgspec.json.Decoder(Bundle, dec_hook=dec_hook)
ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64


def decode_bundle(data: bytes) -> Bundle:
    """Decode bundle JSON into the typed schema; raise BundleFormatError naming the field."""
    if not data.strip():
        raise BundleFormatError("Expected a bundle JSON object, got empty input - at `$`")
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise BundleFormatError(f"Bundle does not match the schema: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BundleFormatError(f"Expected bundle JSON, got undecodable bytes: {exc}") from exc


def encode_bundle(bundle: Bundle) -> bytes:
    """The canonical JSON bytes of a bundle (what `assurance certify` prints)."""
    return encode_canonical(bundle)


def certificate_digest(certificates: Certificates) -> str:
    """ "sha256:" + hex of the canonical encoding of the certificates (recorded in the card)."""
    return canonical_digest(certificates)


def card_digest(card: Card) -> str:
    """ "sha256:" + hex of the canonical card (the `X-Assurance-Card-Digest` header)."""
    return canonical_digest(card)


def card_signing_payload(bundle: Bundle) -> bytes:
    """The bytes an Ed25519 signature covers: the canonical encoding of the card alone."""
    return encode_canonical(bundle.card)


def with_signature(bundle: Bundle, public_key: bytes, signature: bytes) -> Bundle:
    """Return `bundle` with an Ed25519 signature (raw 32-byte key, 64-byte signature) attached."""
    if len(public_key) != ED25519_PUBLIC_KEY_BYTES:
        raise ValueError(
            f"Expected a {ED25519_PUBLIC_KEY_BYTES}-byte Ed25519 public key, "
            f"got {len(public_key)} bytes"
        )
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise ValueError(
            f"Expected a {ED25519_SIGNATURE_BYTES}-byte Ed25519 signature, "
            f"got {len(signature)} bytes"
        )
    sig = Signature(public_key=public_key.hex(), signature=signature.hex())
    return msgspec.structs.replace(bundle, signature=sig)
