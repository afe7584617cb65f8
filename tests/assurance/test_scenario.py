"""Scenario assembly maps client claim dependencies onto decomposed claim indices."""

from __future__ import annotations

import json

from certifiers.builders import certify
from certifiers.bundle import encode_bundle
from certifiers.scenario import decode_scenario
from certifiers.verify import check_bundle
from proxy.assurance.scenario import map_claim_dependencies

CLAIMS = ["Apixaban is a DOAC.", "The CrCl is 22 mL/min.", "Dose reduction is needed."]


def test_dependencies_by_text_and_index() -> None:
    """Names match claims by normalized text or by index; unmatched prerequisites are kept."""
    mapped, unmet = map_claim_dependencies(
        {"dose reduction is needed": ["the crcl is 22 ml/min", "unrelated"], "0": [1, 7]},
        CLAIMS,
    )
    assert mapped == {"2": [1], "0": [1]}
    assert unmet == {"2": ["unrelated"], "0": ["7"]}


def test_self_dependency_and_unmatched_dependent_vanish_but_unmatched_prerequisite_stays() -> None:
    """A self-prerequisite or a dependent matching nothing adds nothing; an unmatched
    prerequisite of a real claim is recorded as unmet instead of silently dropped."""
    assert map_claim_dependencies({"1": [1], "nothing": [0]}, CLAIMS) == ({}, {})
    assert map_claim_dependencies({"1": ["no such claim"]}, CLAIMS) == (
        {},
        {"1": ["no such claim"]},
    )


def test_unmet_prerequisite_excludes_the_dependent_claim_end_to_end() -> None:
    """An unmatched prerequisite excludes its claim (`requires:absent`) and the bundle verifies."""
    mapped, unmet = map_claim_dependencies({"2": ["a claim the answer never made"]}, CLAIMS)
    scenario = {
        "answer": " ".join(CLAIMS),
        "claims": [{"text": text} for text in CLAIMS],
        "claim_dependencies": mapped,
        "unmet_dependencies": unmet,
        "policy": "creative",
        "disabled_layers": ["stability"],
    }
    bundle = certify(decode_scenario(json.dumps(scenario).encode()))
    residue = bundle.certificates.residue
    assert residue is not None
    assert [(e.claim, e.reason) for e in residue.exclusions] == [(2, "requires:absent")]
    assert residue.kept == (0, 1)
    assert check_bundle(encode_bundle(bundle)).ok
