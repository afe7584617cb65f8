"""Ed25519 signing of assurance cards (SPEC 6) with a key read once from a file.

`load_signing_key(path)` reads `[assurance] signing_key_file`. Accepted file contents (surrounding
whitespace ignored):

- a PEM `-----BEGIN PRIVATE KEY-----` block holding an unencrypted PKCS#8 Ed25519 key
  (`openssl genpkey -algorithm ed25519`);
- the 32-byte raw private key (RFC 8032 seed) as 64 hexadecimal characters;
- the same 32 bytes as base64 (standard or URL-safe alphabet, padding optional).

`SigningKey.sign(payload)` signs bytes with `cryptography`; `sign_bundle` signs the card's
canonical encoding (`certifiers.bundle.card_signing_payload`) and returns the bundle with the
signature and the raw public key attached. Key material never leaves this module: it is not logged,
not put in error messages, and `repr(key)` shows only the public key. Verification is
`certifiers.ed25519` (pure Python), so a signed bundle can be checked without this module.
"""

from __future__ import annotations

import base64
import binascii
import string
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from certifiers.bundle import card_signing_payload, with_signature
from certifiers.types import Bundle
from proxy.config import ConfigError

__all__ = [
    "SigningKey",
    "SigningKeyError",
    "load_signing_key",
    "parse_signing_key",
    "sign_bundle",
]

_RAW_KEY_BYTES = 32
_PEM_MARKER = b"-----BEGIN"
_EXPECTED_FORMS = (
    "a PEM PKCS#8 Ed25519 private key, 64 hex characters, or base64 of the 32-byte raw key"
)


class SigningKeyError(ConfigError):
    """The signing key file is missing, unreadable or not an Ed25519 key (no key bytes in it)."""


class SigningKey:
    """An Ed25519 private key that signs cards; `public_key` is the raw 32-byte public key."""

    __slots__ = ("_private", "public_key")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_key: bytes = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, payload: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `payload`."""
        return self._private.sign(payload)

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self.public_key.hex()})"


def _decode_raw_text(text: str, where: str) -> bytes:
    """Decode 64 hex characters or base64 text to the 32 raw key bytes."""
    if len(text) == 2 * _RAW_KEY_BYTES and all(ch in string.hexdigits for ch in text):
        return bytes.fromhex(text)
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (b"+/", b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == _RAW_KEY_BYTES:
            return raw
        raise SigningKeyError(
            f"Expected {_EXPECTED_FORMS}, got base64 of {len(raw)} bytes - at {where}"
        )
    raise SigningKeyError(
        f"Expected {_EXPECTED_FORMS}, got {len(text)} characters of other text - at {where}"
    )


def parse_signing_key(data: bytes, *, where: str) -> SigningKey:
    """Parse key file contents (see the module docstring); `where` names the source in errors."""
    stripped = data.strip()
    if not stripped:
        raise SigningKeyError(f"Expected {_EXPECTED_FORMS}, got an empty file - at {where}")
    if stripped.startswith(_PEM_MARKER):
        try:
            private = load_pem_private_key(stripped, password=None)
        except TypeError:
            raise SigningKeyError(
                f"Expected an unencrypted PEM private key, got an encrypted one - at {where}"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise SigningKeyError(
                f"Expected {_EXPECTED_FORMS}, got a PEM block that does not parse - at {where}"
            ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningKeyError(
                f"Expected an Ed25519 private key, got a {type(private).__name__} - at {where}"
            )
        return SigningKey(private)
    try:
        text = stripped.decode("ascii")
    except UnicodeDecodeError:
        raise SigningKeyError(
            f"Expected {_EXPECTED_FORMS}, got non-ASCII bytes - at {where}"
        ) from None
    raw = _decode_raw_text(text, where)
    return SigningKey(Ed25519PrivateKey.from_private_bytes(raw))


def load_signing_key(path: str | Path) -> SigningKey:
    """Read and parse the signing key file at `path`; raise SigningKeyError naming the path."""
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyError(
            f"Expected a readable signing key file, got {exc.strerror or type(exc).__name__}"
            f" - at {where!r}"
        ) from None
    return parse_signing_key(data, where=repr(where))


def sign_bundle(bundle: Bundle, key: SigningKey) -> Bundle:
    """The bundle with an Ed25519 signature of its canonical card and the raw public key."""
    return with_signature(bundle, key.public_key, key.sign(card_signing_payload(bundle)))
