"""Scenario assembly maps client claim dependencies onto decomposed claim indices."""

from __future__ import annotations

from proxy.pipeline_scenario import map_claim_dependencies

CLAIMS = ["Apixaban is a DOAC.", "The CrCl is 22 mL/min.", "Dose reduction is needed."]


def test_dependencies_by_text_and_index() -> None:
    """Names match claims by normalized text or by index; unmatched names are dropped."""
    mapped = map_claim_dependencies(
        {"dose reduction is needed": ["the crcl is 22 ml/min", "unrelated"], "0": [1, 7]},
        CLAIMS,
    )
    assert mapped == {"2": [1], "0": [1]}


def test_self_and_unmatched_dependencies_vanish() -> None:
    """A claim listed as its own prerequisite, or a dependent matching nothing, adds nothing."""
    assert map_claim_dependencies({"1": [1], "nothing": [0]}, CLAIMS) == {}
