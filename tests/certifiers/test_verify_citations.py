"""`check_response`: a response's claims and inline text are checked against its bundle."""

from __future__ import annotations

import copy
from typing import Any

from certifiers.builders.citations import claim_citations, to_wire
from certifiers.bundle import encode_bundle
from certifiers.verification.citations import check_response, derive_inline
from tests.certifiers.examples import bundle_of, paper_64_scenario


def _response(inline: bool) -> tuple[bytes, dict[str, Any]]:
    bundle = bundle_of(paper_64_scenario())
    content = derive_inline(bundle) if inline else "whatever"
    response = {
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "assurance": {
            "certificate_digest": bundle.card.certificate_digest,
            "claims": to_wire(claim_citations(bundle)),
            "citations": {"aggregation": "per_chunk", "inline": inline},
        },
    }
    return encode_bundle(bundle), response


def test_a_faithful_response_verifies() -> None:
    """Claims copied from the builder and the inline text both match the re-derivation."""
    data, response = _response(inline=True)
    assert check_response(data, response).failures == ()


def test_a_forged_citation_is_caught() -> None:
    """Adding an evidence id to a dropped claim's support is named as a failed obligation."""
    data, response = _response(inline=False)
    forged = copy.deepcopy(response)
    forged["assurance"]["claims"][3]["supporting"] = ["e1"]
    forged["assurance"]["claims"][1]["emitted"] = True
    failures = check_response(data, forged).failures
    assert any(f.startswith("claims[3].supporting") for f in failures)
    assert any(f.startswith("claims[1].emitted") for f in failures)


def test_inline_text_that_adds_a_marker_is_caught() -> None:
    """An inline-cited content with one extra marker does not match the rendering."""
    data, response = _response(inline=True)
    response["choices"][0]["message"]["content"] += " [e1]"
    assert any(f.startswith("content.inline") for f in check_response(data, response).failures)


def test_a_response_of_another_bundle_is_caught() -> None:
    """The response's certificate digest must be the bundle's."""
    data, response = _response(inline=False)
    response["assurance"]["certificate_digest"] = "sha256:" + "0" * 64
    failures = check_response(data, response).failures
    assert failures[0].startswith("assurance.certificate_digest")
