"""The card on the wire: the `assurance` body object and the `X-Assurance-*` response headers (SPEC
3.3).

`CardSummary` holds what the certifiers produced for one call (the card's canonical JSON bytes,
verdict, digest, policy decision) and renders it two ways that always agree: `body_field()` for the
top-level `"assurance"` object and `headers()` for the response headers. `X-Assurance-Card` is the
base64url (RFC 4648 section 5, with padding) of the card's canonical JSON, omitted when that header
value would exceed 6 KiB. When the bundle could not be stored (`stored=False`), the body's
`replay_handle` is null with a `replay_error`, and `X-Assurance-Replay-Handle` is omitted: the card
itself still names the handle it was certified under. This module copies fields; it does not
compute any of them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

MAX_CARD_HEADER_BYTES = 6 * 1024

HEADER_VERDICT = "X-Assurance-Verdict"
HEADER_POLICY = "X-Assurance-Policy"
HEADER_DECISION = "X-Assurance-Policy-Decision"
HEADER_DIGEST = "X-Assurance-Card-Digest"
HEADER_HANDLE = "X-Assurance-Replay-Handle"
HEADER_CARD = "X-Assurance-Card"
HEADER_MODE = "X-Assurance-Mode"


@dataclass(frozen=True, slots=True)
class CardSummary:
    """The certifiers' answer for one call, ready for the wire."""

    card_canonical: bytes
    verdict: str
    policy: str
    policy_decision: str
    policy_failures: tuple[str, ...]
    certificate_digest: str
    card_digest: str
    replay_handle: str
    stored: bool = True
    # per-claim citations (`proxy.assurance.citations.claims_field`), copied into the body
    citations: dict[str, Any] | None = None
    inline_citations: bool = False
    # enforce: a claim that is not emitted keeps its status and ids but not its text
    withhold_dropped_text: bool = False

    def body_field(self) -> dict[str, Any]:
        """The top-level `"assurance"` object of the response body."""
        field: dict[str, Any] = {
            "card": json.loads(self.card_canonical),
            "certificate_digest": self.certificate_digest,
            "replay_handle": self.replay_handle if self.stored else None,
            "policy": self.policy,
            "policy_decision": self.policy_decision,
            "policy_failures": list(self.policy_failures),
        }
        if self.citations is not None:
            field["claims"] = [
                {**claim, "text": None}
                if self.withhold_dropped_text and not claim["emitted"]
                else dict(claim)
                for claim in self.citations["claims"]
            ]
            field["citations"] = {**self.citations["citations"], "inline": self.inline_citations}
        if not self.stored:
            field["replay_error"] = "the bundle could not be stored; no replay is available"
        return field

    def headers(self, mode: str) -> dict[str, str]:
        """The `X-Assurance-*` headers; the card itself only when it fits in 6 KiB."""
        headers = {
            HEADER_MODE: mode,
            HEADER_VERDICT: self.verdict,
            HEADER_POLICY: self.policy,
            HEADER_DECISION: self.policy_decision,
            HEADER_DIGEST: self.card_digest,
        }
        if self.stored:
            headers[HEADER_HANDLE] = self.replay_handle
        encoded = encode_card_header(self.card_canonical)
        if encoded is not None:
            headers[HEADER_CARD] = encoded
        return headers


def encode_card_header(card_canonical: bytes) -> str | None:
    """base64url of the canonical card JSON, or None when over `MAX_CARD_HEADER_BYTES`."""
    encoded = base64.urlsafe_b64encode(card_canonical).decode("ascii")
    return encoded if len(encoded) <= MAX_CARD_HEADER_BYTES else None


def decode_card_header(value: str) -> dict[str, Any]:
    """The card object carried by an `X-Assurance-Card` header value (for clients and tests)."""
    card = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))
    if not isinstance(card, dict):
        raise ValueError(
            f"Expected the card header to hold a JSON object, got {type(card).__name__}"
        )
    return card
