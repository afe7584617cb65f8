"""Canonical JSON (SPEC 6): msgspec encoding with sorted keys and rationals as "p/q" strings.

The same object always encodes to the same bytes; digests are "sha256:" + hex of these bytes.
This module does not decode (see `certifiers.bundle`) and does not sign.
"""

from __future__ import annotations

import hashlib

import msgspec

from certifiers.rational import enc_hook

_ENCODER = msgspec.json.Encoder(enc_hook=enc_hook, order="sorted")


def encode_canonical(obj: object) -> bytes:
    """Encode any Struct/container of the core as canonical JSON bytes."""
    return _ENCODER.encode(obj)


def sha256_digest(data: bytes) -> str:
    """Return "sha256:" + lowercase hex of the SHA-256 of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_digest(obj: object) -> str:
    """Return the sha256 digest of the canonical encoding of `obj`."""
    return sha256_digest(encode_canonical(obj))
