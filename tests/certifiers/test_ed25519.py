"""Tests for the pure-Python Ed25519 verifier: RFC 8032 vectors, `cryptography`, tampering."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certifiers import ed25519
from certifiers.ed25519 import verify_signature

# RFC 8032 section 7.1, TEST 1-3: (secret key, public key, message, signature), hex.
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

_L = 2**252 + 27742317777372353535851937790883648493
_P = 2**255 - 19


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_rfc8032_vectors_verify(secret: str, public: str, message: str, signature: str) -> None:
    """Each RFC 8032 test vector's signature verifies under its public key."""
    assert verify_signature(bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature))


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_rfc8032_vectors_agree_with_cryptography(
    secret: str, public: str, message: str, signature: str
) -> None:
    """`cryptography` derives the same public key and signature from each vector's secret key."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert _public_bytes(key).hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature


@pytest.mark.parametrize("length", [0, 1, 31, 64, 100, 1023, 4096])
def test_signatures_made_by_cryptography_verify(length: int) -> None:
    """Signatures made by `cryptography` over messages of many lengths verify."""
    seed = hashlib.sha256(f"seed-{length}".encode()).digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    message = hashlib.shake_256(f"message-{length}".encode()).digest(length) if length else b""
    assert verify_signature(_public_bytes(key), message, key.sign(message))


def test_tampered_message_is_rejected() -> None:
    """Changing one bit of the signed message makes verification fail."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    message = b'{"verdict":"certified"}'
    signature = key.sign(message)
    for index in range(len(message)):
        tampered = bytearray(message)
        tampered[index] ^= 0x01
        assert not verify_signature(_public_bytes(key), bytes(tampered), signature)


def test_tampered_signature_is_rejected() -> None:
    """Flipping any single byte of the signature makes verification fail."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    message = b"card"
    signature = key.sign(message)
    for index in range(len(signature)):
        tampered = bytearray(signature)
        tampered[index] ^= 0x40
        assert not verify_signature(_public_bytes(key), message, bytes(tampered))


def test_other_public_key_is_rejected() -> None:
    """A valid signature does not verify under a different public key."""
    signer = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    assert not verify_signature(_public_bytes(other), b"card", signer.sign(b"card"))


@pytest.mark.parametrize(
    ("key_length", "signature_length"), [(31, 64), (33, 64), (32, 63), (32, 65), (0, 0)]
)
def test_malformed_lengths_are_rejected(key_length: int, signature_length: int) -> None:
    """Public keys that are not 32 bytes and signatures that are not 64 bytes are rejected."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = (_public_bytes(key) * 2)[:key_length]
    signature = (key.sign(b"m") + b"\x00")[:signature_length]
    assert not verify_signature(public, b"m", signature)


def test_scalar_not_reduced_is_rejected() -> None:
    """A signature whose S is replaced by S + L (same point, non-canonical scalar) is rejected."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signature = key.sign(b"m")
    s = int.from_bytes(signature[32:], "little")
    if s + _L < 2**256:
        malleated = signature[:32] + (s + _L).to_bytes(32, "little")
        assert not verify_signature(_public_bytes(key), b"m", malleated)
    too_big = signature[:32] + _L.to_bytes(32, "little")
    assert not verify_signature(_public_bytes(key), b"m", too_big)


def test_non_canonical_public_key_encoding_is_rejected() -> None:
    """A public key whose y coordinate is encoded as y + p (>= p) is rejected."""
    # y = 1 (the identity's y) written as 1 + p, still below 2^255: a non-canonical encoding.
    non_canonical = (1 + _P).to_bytes(32, "little")
    assert not verify_signature(non_canonical, b"m", bytes(64))


def test_public_key_not_on_curve_is_rejected() -> None:
    """A 32-byte string that encodes no curve point is rejected as a public key."""
    # y = 2 has no matching x on edwards25519 (u/v is not a square).
    assert ed25519._decode_point((2).to_bytes(32, "little")) is None
    assert not verify_signature((2).to_bytes(32, "little"), b"m", bytes(64))


def test_negative_zero_x_is_rejected() -> None:
    """The encoding of x = 0 with the sign bit set (RFC 8032 5.1.3 step 4) is rejected."""
    encoded = (1 | (1 << 255)).to_bytes(32, "little")
    assert ed25519._decode_point(encoded) is None


def test_non_canonical_r_encoding_is_rejected() -> None:
    """A signature whose R is re-encoded non-canonically (y + p) is rejected."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signature = key.sign(b"m")
    r_value = int.from_bytes(signature[:32], "little")
    y = r_value & ((1 << 255) - 1)
    if y + _P < 2**255:
        bumped = (r_value + _P).to_bytes(32, "little")
        assert not verify_signature(_public_bytes(key), b"m", bumped + signature[32:])
    assert verify_signature(_public_bytes(key), b"m", signature)


def test_base_point_constants_are_on_the_curve() -> None:
    """The hard-coded base point satisfies -x^2 + y^2 = 1 + d x^2 y^2 and y = 4/5."""
    x, y = ed25519._BASE_X, ed25519._BASE_Y
    assert (-x * x + y * y - 1 - ed25519._D * x * x * y * y) % _P == 0
    assert (5 * y) % _P == 4
    assert x % 2 == 0
