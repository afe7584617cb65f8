"""The card travels in the body and, when small enough, in the X-Assurance-Card header."""

from __future__ import annotations

import json

from proxy.assurance.headers import (
    HEADER_CARD,
    MAX_CARD_HEADER_BYTES,
    CardSummary,
    decode_card_header,
)


def _summary(card: dict[str, object]) -> CardSummary:
    return CardSummary(
        card_canonical=json.dumps(card, sort_keys=True, separators=(",", ":")).encode(),
        verdict="certified",
        policy="clinical",
        policy_decision="accept",
        policy_failures=(),
        certificate_digest="sha256:" + "0" * 64,
        card_digest="sha256:" + "1" * 64,
        replay_handle="h",
    )


def test_card_header_decodes_to_the_body_card() -> None:
    """The header's base64url decodes to exactly the card in the body field."""
    summary = _summary({"verdict": {"kind": "certified"}, "in_scope": True})
    headers = summary.headers("enforce")
    assert decode_card_header(headers[HEADER_CARD]) == summary.body_field()["card"]
    assert headers["X-Assurance-Card-Digest"] == "sha256:" + "1" * 64
    assert summary.body_field()["certificate_digest"] == "sha256:" + "0" * 64


def test_card_over_six_kib_is_left_out_of_the_headers() -> None:
    """A card whose header would exceed 6 KiB is omitted from the headers but kept in the body."""
    summary = _summary({"dropped_claims": ["x" * MAX_CARD_HEADER_BYTES]})
    headers = summary.headers("shadow")
    assert HEADER_CARD not in headers
    assert headers["X-Assurance-Verdict"] == "certified"
    assert summary.body_field()["card"]["dropped_claims"][0].startswith("xxx")
