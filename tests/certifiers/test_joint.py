"""`joint` support matrices: one column per chunk plus a last column per claim for its chunks
taken together; certified, cited and re-derived by the verifier like any other column."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from certifiers.builders.citations import claim_citations, to_wire
from certifiers.bundle import encode_bundle
from certifiers.errors import ScenarioError
from certifiers.verification.claims import derive_claims
from certifiers.verify import check_bundle
from tests.certifiers.examples import bundle_of
from tests.certifiers.test_prefilter_calibration import (
    _failure_names,
    _resealed,
    prefiltered_scenario,
)

replace = msgspec.structs.replace


def joint_scenario(prefilter: bool = True) -> dict[str, Any]:
    """Claim 0 is supported by chunk 0 alone; claim 1 only by its top-2 chunks together."""
    scenario = prefiltered_scenario(
        aggregation="joint",
        entail=[["0.9", "0", "0.2", "0.8"], ["0.05", "0.3", "0", "0.9"]],
        contradict=[["0.05", "0", "0.1", "0.05"], ["0.01", "0.1", "0", "0.02"]],
    )
    if not prefilter:
        del scenario["nli"]["prefilter"]
        scenario["nli"]["entail"][1][2] = "0.1"
    return scenario


def test_a_joint_column_supports_a_claim_no_single_chunk_supports() -> None:
    bundle = bundle_of(joint_scenario())
    grounding = bundle.certificates.grounding
    assert grounding is not None
    assert grounding.support.aggregation == "joint"
    assert grounding.statuses == ("supported", "supported")
    assert check_bundle(encode_bundle(bundle)).ok
    # the same scores without the joint column leave claim 1 unknown
    per_chunk = prefiltered_scenario(
        entail=[["0.9", "0", "0.2"], ["0.05", "0.3", "0"]],
        contradict=[["0.05", "0", "0.1"], ["0.01", "0.1", "0"]],
    )
    plain = bundle_of(per_chunk).certificates.grounding
    assert plain is not None
    assert plain.statuses == ("supported", "unknown")


def test_a_joint_hit_cites_the_chunks_judged_together_when_no_chunk_alone_does() -> None:
    bundle = bundle_of(joint_scenario())
    citations = claim_citations(bundle)
    # claim 0: chunk e1 alone reaches θ_g (its joint hit adds nothing); claim 1's judged chunks
    # are [1, 0] (best first), and only the joint column reaches θ_g: it cites e2 then e1
    assert [c.supporting for c in citations.claims] == [("e1",), ("e2", "e1")]
    assert derive_claims(bundle) == to_wire(citations)
    # without a pre-filter the joint premise is every chunk, in evidence order
    unfiltered = bundle_of(joint_scenario(prefilter=False))
    assert [c.supporting for c in claim_citations(unfiltered).claims] == [
        ("e1",),
        ("e1", "e2", "e3"),
    ]
    assert derive_claims(unfiltered) == to_wire(claim_citations(unfiltered))


def test_a_joint_matrix_without_its_last_column_is_refused() -> None:
    scenario = joint_scenario()
    scenario["nli"]["entail"] = [row[:3] for row in scenario["nli"]["entail"]]
    with pytest.raises(ScenarioError) as caught:
        bundle_of(scenario)
    assert caught.value.path == "$.nli.entail[0]"


def test_an_unjudged_chunk_cell_with_a_score_is_still_refused() -> None:
    scenario = joint_scenario()
    scenario["nli"]["entail"][0][1] = "0.4"  # claim 0 was judged against chunks 0 and 2 only
    with pytest.raises(ScenarioError) as caught:
        bundle_of(scenario)
    assert caught.value.path == "$.nli.entail[0][1]"


def test_the_verifier_counts_the_joint_column() -> None:
    """Relabelling a joint matrix per_chunk (re-sealed) fails the shape check by name."""
    bundle = bundle_of(joint_scenario())
    grounding = bundle.certificates.grounding
    assert grounding is not None
    support = replace(grounding.support, aggregation="per_chunk")
    certs = replace(bundle.certificates, grounding=replace(grounding, support=support))
    names = _failure_names(_resealed(replace(bundle, certificates=certs)))
    assert "grounding.support.entail[0].columns" in names
