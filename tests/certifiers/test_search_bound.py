"""The verifier's independent MCR search verifies large honest residues with a binding budget."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.builders.residue import solve_mcr
from certifiers.types import Budget
from certifiers.verification import search
from certifiers.verification.search import best_residue, subset_is_feasible

Instance = tuple[list[Fraction], list[tuple[int, int]], Fraction]


@st.composite
def instances(draw: st.DrawFn, low: int, high: int, top: int = 100) -> Instance:
    """n claims with weights 1..top, sparse conflicts and a budget of a third to two thirds."""
    n = draw(st.integers(low, high))
    weights = [Fraction(draw(st.integers(1, top))) for _ in range(n)]
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=n))
    conflicts = sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b})
    share = draw(st.sampled_from([Fraction(1, 3), Fraction(1, 2), Fraction(2, 3)]))
    return weights, conflicts, sum(weights, Fraction(0)) * share


def _builder(
    weights: list[Fraction], conflicts: list[tuple[int, int]], limit: Fraction
) -> tuple[int, ...]:
    budget = Budget(limit=limit, costs=tuple(weights))
    return solve_mcr(range(len(weights)), weights, conflicts, budget)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(instances(30, 40))
def test_search_matches_the_builder_at_30_to_40_claims_with_binding_budget(case: Instance) -> None:
    """At n = 30..40 with a binding budget the verifier finds the builder's optimum in budget."""
    weights, conflicts, limit = case
    n = len(weights)
    found = best_residue(weights, range(n), conflicts, weights, limit, node_limit=2_000_000)
    assert found is not None  # no fail-closed rejection of an honest bundle
    assert found == _builder(weights, conflicts, limit)
    assert subset_is_feasible(found, conflicts, weights, limit)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(instances(6, 13))
def test_bounded_search_matches_brute_force(case: Instance) -> None:
    """With the cut forced on (EXHAUSTIVE_LIMIT = 0) the result equals brute force."""
    weights, conflicts, limit = case
    n = len(weights)
    with patch.object(search, "EXHAUSTIVE_LIMIT", 0):
        found = search.best_residue(weights, range(n), conflicts, weights, limit)
    best: tuple[Fraction, tuple[int, ...]] = (Fraction(0), ())
    for size in range(n + 1):
        for subset in combinations(range(n), size):
            if subset_is_feasible(subset, conflicts, weights, limit):
                total = sum((weights[i] for i in subset), Fraction(0))
                if total > best[0] or (total == best[0] and subset < best[1]):
                    best = (total, subset)
    assert found == best[1]


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(instances(30, 40, top=12))
def test_search_handles_heavy_ties_at_30_to_40_claims(case: Instance) -> None:
    """Near-equal weights (many equal-weight optima) with a binding budget stay within the limit."""
    weights, conflicts, limit = case
    n = len(weights)
    found = best_residue(weights, range(n), conflicts, weights, limit)
    assert found is not None
    assert subset_is_feasible(found, conflicts, weights, limit)
    # nothing feasible is heavier: adding any open claim breaks a constraint
    for extra in set(range(n)) - set(found):
        assert not subset_is_feasible([*found, extra], conflicts, weights, limit)


def test_node_limit_still_fails_closed() -> None:
    """A search that needs more nodes than allowed returns None (the caller rejects)."""
    weights = [Fraction(50 + i % 7) for i in range(40)]
    limit = sum(weights, Fraction(0)) / 2
    assert best_residue(weights, range(40), [], weights, limit, node_limit=10) is None


def test_sixty_four_claims_with_binding_budget_verify_quickly() -> None:
    """assurance.max_claims = 64 with a binding budget is within the verifier's node limit."""
    weights = [Fraction(10 + (i * 37) % 91) for i in range(64)]
    conflicts = [(i, i + 1) for i in range(0, 64, 5)]
    limit = sum(weights, Fraction(0)) / 2
    found = best_residue(weights, range(64), conflicts, weights, limit)
    assert found is not None
    assert subset_is_feasible(found, conflicts, weights, limit)
