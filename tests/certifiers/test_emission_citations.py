"""The citation mode is digest-covered bundle data and the inline markers are part of
`Bundle.emission` (issue 14 with issue 9): a re-sealed change of either fails verification."""

from __future__ import annotations

import msgspec

from certifiers.bundle import encode_bundle
from certifiers.canonical import canonical_digest
from certifiers.render import cited_answer, residue_answer
from certifiers.types import Bundle
from certifiers.verification.claims import cited_ids
from certifiers.verify import check_bundle
from tests.certifiers.examples import bundle_of, paper_64_scenario

replace = msgspec.structs.replace


def _resealed(bundle: Bundle) -> bytes:
    card = replace(bundle.card, certificate_digest=canonical_digest(bundle.certificates))
    return encode_bundle(replace(bundle, card=card))


def _with_citations(bundle: Bundle, mode: str) -> Bundle:
    context = replace(bundle.certificates.context, citations=mode)
    return replace(bundle, certificates=replace(bundle.certificates, context=context))


def _failed(data: bytes) -> set[str]:
    result = check_bundle(data)
    assert not result.ok
    return {failure.split(":", 1)[0] for failure in result.failures}


def test_inline_mode_puts_the_markers_into_the_verified_emission() -> None:
    """A downgrade under inline mode emits the kept claims with `[e1]` markers, and verifies."""
    bundle = bundle_of(paper_64_scenario(citations="inline"))
    plain = bundle_of(paper_64_scenario())
    assert bundle.certificates.context.citations == "inline"
    assert bundle.emission.kind == plain.emission.kind == "residue"
    assert bundle.emission.inline is True
    assert plain.emission.inline is False
    kept = bundle.certificates.residue.kept if bundle.certificates.residue else ()
    assert plain.emission.text == residue_answer(bundle.certificates.decomposition, kept)
    assert "[e1]" in bundle.emission.text
    assert "[e1]" not in plain.emission.text
    assert bundle.emission.text == cited_answer(
        bundle.certificates.decomposition, set(kept), cited_ids(bundle), ["e1"], whole_answer=False
    )
    assert check_bundle(encode_bundle(bundle)).ok


def test_a_resealed_change_of_the_citation_mode_fails() -> None:
    """Mode inline → none (and none → inline) with the digest re-sealed: the emission disagrees."""
    inline = bundle_of(paper_64_scenario(citations="inline"))
    plain = bundle_of(paper_64_scenario())
    assert {"emission.text", "emission.inline"} <= _failed(
        _resealed(_with_citations(inline, "none"))
    )
    assert {"emission.text", "emission.inline"} <= _failed(
        _resealed(_with_citations(plain, "inline"))
    )


def test_a_resealed_change_of_the_emitted_text_fails() -> None:
    """Stripping the markers, swapping one, or dropping the inline flag is caught."""
    bundle = bundle_of(paper_64_scenario(citations="inline"))
    stripped = bundle_of(paper_64_scenario()).emission.text
    for emission in (
        replace(bundle.emission, text=stripped),
        replace(bundle.emission, text=bundle.emission.text.replace("[e1]", "[#1]", 1)),
        replace(bundle.emission, text=bundle.emission.text + " [e1]"),
    ):
        assert "emission.text" in _failed(_resealed(replace(bundle, emission=emission)))
    flag = replace(bundle.emission, inline=False)
    assert "emission.inline" in _failed(_resealed(replace(bundle, emission=flag)))


def test_a_rejected_answer_under_inline_mode_emits_the_plain_abstention() -> None:
    """Reject: no markers, `inline` false, the abstention unchanged by the mode."""
    scenario = paper_64_scenario(citations="inline", policy="clinical")
    scenario["nli"]["entail"] = [["0.1"]] * 5
    bundle = bundle_of(scenario)
    assert bundle.policy_decision.decision == "reject"
    assert bundle.emission.kind == "abstention"
    assert bundle.emission.inline is False
    plain = dict(scenario, citations="none")
    assert bundle.emission.text == bundle_of(plain).emission.text
    assert check_bundle(encode_bundle(bundle)).ok
