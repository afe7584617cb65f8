"""Tests for certifiers.policy: Table 4 policies, overrides, new policies and policy_accepts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import msgspec
import pytest

from certifiers.errors import PolicyError
from certifiers.policy import (
    POLICIES,
    apply_overrides,
    get_policy,
    policy_accepts,
    resolve_policies,
)
from tests.certifiers.examples import bundle_of, clean_scenario, paper_64_scenario


def test_named_policies_match_table_4() -> None:
    """The five policies carry SPEC 5.7's values, including max_age ∞ for creative."""
    assert POLICIES["clinical"].min_supported_mass == Fraction(19, 20)
    assert POLICIES["agentic"].max_contradicted_mass == 0
    assert POLICIES["legal"].max_contested_mass == Fraction(2, 25)
    assert POLICIES["creative"].max_age_seconds == "∞"
    assert POLICIES["agentic"].max_age_seconds == 3600
    assert POLICIES["enterprise_qa"].max_unverified_gaps == 2


def test_certified_card_is_accepted_and_residue_downgraded() -> None:
    """accept for certified, downgrade for a residue that passes every criterion."""
    assert bundle_of(clean_scenario()).policy_decision.decision == "accept"
    assert bundle_of(paper_64_scenario()).policy_decision.decision == "downgrade"


def test_failed_criteria_are_named_in_the_rejection() -> None:
    """A partial card with three gaps fails legal's max_unverified_gaps and in-scope rule."""
    card = bundle_of(clean_scenario(evidence=[], nli=None, disabled_layers=[])).card
    decision = policy_accepts(card, POLICIES["legal"])
    assert decision.decision == "reject"
    assert "too many unverified layers" in decision.failures
    assert "not in scope" in decision.failures
    assert "emitted masses unmeasured" in decision.failures
    assert policy_accepts(card, POLICIES["creative"]).decision == "accept"


def test_overrides_and_new_policies_validate_exactly() -> None:
    """Overrides replace fields (flat thresholds too); new names extend enterprise_qa by default."""
    strict = apply_overrides(
        POLICIES["enterprise_qa"], {"min_supported_mass": "9/10", "theta_g": "7/10"}
    )
    assert strict.min_supported_mass == Fraction(9, 10)
    assert strict.thresholds.theta_g == Fraction(7, 10)
    resolved = resolve_policies(
        {"mine": {"max_age_seconds": "∞", "max_contested_mass": Decimal("0.3")}}
    )
    assert resolved["mine"].name == "mine"
    assert resolved["mine"].max_contested_mass == Fraction(3, 10)
    assert resolved["mine"].max_unverified_gaps == 2


@pytest.mark.parametrize(
    "overrides",
    [{"min_supported_mass": 0.9}, {"no_such_field": 1}, {"max_age_seconds": "forever"}],
)
def test_bad_policy_definitions_raise_policy_error(overrides: dict[str, object]) -> None:
    """Floats, unknown fields and malformed values are rejected with a PolicyError."""
    with pytest.raises(PolicyError):
        apply_overrides(POLICIES["legal"], overrides)


def test_unknown_policy_name_is_an_error_listing_known_names() -> None:
    """get_policy names the known policies when the name is unknown."""
    with pytest.raises(PolicyError, match="clinical"):
        get_policy("nope")
    assert msgspec.structs.replace(POLICIES["legal"], name="x").name == "x"
