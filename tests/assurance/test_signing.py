"""Tests for loading the Ed25519 card-signing key and signing with it."""

from __future__ import annotations

import base64
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from certifiers.bundle import encode_bundle
from certifiers.ed25519 import verify_signature
from certifiers.verify import check_bundle
from proxy.assurance.signing import (
    SigningKey,
    SigningKeyError,
    load_signing_key,
    parse_signing_key,
    sign_bundle,
)
from tests.certifiers.test_verify_scenarios import bundle_of, full_scenario

SEED = bytes(range(7, 39))


def _private() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(SEED)


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _expected_public() -> bytes:
    return SigningKey(_private()).public_key


@pytest.mark.parametrize(
    "contents",
    [
        _pem(_private()),
        SEED.hex().encode(),
        SEED.hex().upper().encode() + b"\n",
        base64.b64encode(SEED),
        base64.urlsafe_b64encode(SEED).rstrip(b"="),
        b"  \n" + base64.b64encode(SEED) + b"\n\n",
    ],
    ids=["pem", "hex", "hex-upper-newline", "base64", "base64url-unpadded", "base64-whitespace"],
)
def test_every_documented_format_loads_the_same_key(tmp_path: Path, contents: bytes) -> None:
    """PEM PKCS#8, hex and base64 files of one key all load that key."""
    path = tmp_path / "card.key"
    path.write_bytes(contents)
    key = load_signing_key(path)
    assert key.public_key == _expected_public()


def test_signature_verifies_with_the_pure_python_verifier() -> None:
    """A signature made by a loaded key verifies with certifiers.ed25519."""
    key = parse_signing_key(SEED.hex().encode(), where="test")
    payload = b'{"verdict":"certified"}'
    signature = key.sign(payload)
    assert len(signature) == 64
    assert verify_signature(key.public_key, payload, signature)
    assert not verify_signature(key.public_key, payload + b" ", signature)


def test_repr_shows_only_the_public_key() -> None:
    """repr of a signing key contains the public key and none of the private key's encodings."""
    key = parse_signing_key(SEED.hex().encode(), where="test")
    text = repr(key)
    assert key.public_key.hex() in text
    for secret_form in (SEED.hex(), SEED.hex().upper(), base64.b64encode(SEED).decode()):
        assert secret_form not in text


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing key file raises SigningKeyError naming the path."""
    path = tmp_path / "absent.key"
    with pytest.raises(SigningKeyError, match=r"readable signing key file.*absent\.key"):
        load_signing_key(path)


@pytest.mark.parametrize(
    ("contents", "fragment"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b"not a key!" * 4, "other text"),
        (base64.b64encode(SEED[:16]), "base64 of 16 bytes"),
        ("é".encode() * 10, "non-ASCII"),
        (b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n", "does not parse"),
    ],
)
def test_malformed_contents_are_rejected_without_echoing_them(
    contents: bytes, fragment: str
) -> None:
    """Malformed key files raise SigningKeyError naming the problem, never echoing the bytes."""
    with pytest.raises(SigningKeyError, match=fragment) as info:
        parse_signing_key(contents, where="card.key")
    assert "card.key" in str(info.value)
    if contents.strip():
        assert contents.strip().decode("utf-8") not in str(info.value)


def test_hex_of_secret_is_never_in_error_messages() -> None:
    """A 62-hex-character near-miss key is rejected and its characters are not in the message."""
    near_miss = SEED.hex()[:62].encode()
    with pytest.raises(SigningKeyError) as info:
        parse_signing_key(near_miss, where="card.key")
    assert SEED.hex()[:20] not in str(info.value)


def test_encrypted_pem_is_rejected() -> None:
    """An encrypted PKCS#8 PEM key is rejected with a message saying it is encrypted."""
    encrypted = _private().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"passphrase")
    )
    with pytest.raises(SigningKeyError, match="encrypted"):
        parse_signing_key(encrypted, where="card.key")


def test_non_ed25519_pem_is_rejected() -> None:
    """A PEM key of another algorithm (P-256) is rejected naming the key type."""
    ec_pem = generate_private_key(SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(SigningKeyError, match="Expected an Ed25519 private key"):
        parse_signing_key(ec_pem, where="card.key")


def test_signed_bundle_verifies_and_tampered_card_does_not() -> None:
    """sign_bundle attaches a signature that check_bundle accepts; a changed card breaks it."""
    bundle = bundle_of(full_scenario())
    key = parse_signing_key(SEED.hex().encode(), where="test")
    signed_bundle = sign_bundle(bundle, key)
    assert signed_bundle.signature is not None
    assert signed_bundle.signature.public_key == key.public_key.hex()
    assert check_bundle(encode_bundle(signed_bundle), trusted_keys=[key.public_key]).ok
    card = msgspec.structs.replace(signed_bundle.card, replay_handle="other")
    tampered = msgspec.structs.replace(signed_bundle, card=card)
    failures = check_bundle(encode_bundle(tampered)).failures
    assert any(f.startswith("signature.valid") for f in failures)
