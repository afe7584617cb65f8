"""Tests for certifiers.bundle and canonical encoding: round trip, digests, signature slot."""

from __future__ import annotations

import msgspec
import pytest

from certifiers.bundle import (
    card_digest,
    card_signing_payload,
    certificate_digest,
    decode_bundle,
    encode_bundle,
    with_signature,
)
from certifiers.canonical import encode_canonical
from certifiers.errors import BundleFormatError
from tests.certifiers.examples import bundle_of, paper_64_scenario


def test_bundle_round_trips_through_canonical_json() -> None:
    """decode(encode(b)) == b and re-encoding is byte-identical (keys sorted, rationals p/q)."""
    bundle = bundle_of(paper_64_scenario())
    data = encode_bundle(bundle)
    assert decode_bundle(data) == bundle
    assert encode_bundle(decode_bundle(data)) == data
    assert b'"kept_weight":"4"' in data


def test_card_records_the_certificate_digest() -> None:
    """card.certificate_digest is sha256 of the canonical certificates."""
    bundle = bundle_of(paper_64_scenario())
    assert bundle.card.certificate_digest == certificate_digest(bundle.certificates)
    assert card_digest(bundle.card).startswith("sha256:")


def test_signature_is_attached_as_hex_and_signs_the_card_only() -> None:
    """with_signature stores hex key/signature; the payload is the canonical card."""
    bundle = bundle_of(paper_64_scenario())
    signed = with_signature(bundle, b"k" * 32, b"s" * 64)
    assert signed.signature is not None
    assert signed.signature.public_key == (b"k" * 32).hex()
    assert card_signing_payload(signed) == encode_canonical(bundle.card)
    with pytest.raises(ValueError, match="32-byte"):
        with_signature(bundle, b"short", b"s" * 64)


@pytest.mark.parametrize("data", [b"", b"{", b'{"format": "assurance-bundle/1"}', b"[]"])
def test_malformed_bundles_raise_bundle_format_error(data: bytes) -> None:
    """Empty, truncated, incomplete or non-object input is a BundleFormatError."""
    with pytest.raises(BundleFormatError):
        decode_bundle(data)


def test_float_rationals_in_a_bundle_are_rejected() -> None:
    """A rational written as a JSON float (not "p/q") does not decode."""
    raw = msgspec.json.decode(encode_bundle(bundle_of(paper_64_scenario())))
    raw["certificates"]["residue"]["kept_weight"] = 4.0
    with pytest.raises(BundleFormatError, match="kept_weight"):
        decode_bundle(msgspec.json.encode(raw))
