"""Tests for certifiers.builders.residue (SPEC 5.2, paper §6, Theorem 6.3)."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.builders.residue import build_residue, forbidden_match, solve_mcr
from certifiers.types import Budget, Claim
from tests.certifiers.examples import bundle_of, paper_64_scenario


def brute_force(
    candidates: list[int],
    weights: list[Fraction],
    conflicts: list[tuple[int, int]],
    budget: Budget | None,
) -> tuple[int, ...]:
    """Exhaustive MCR: the heaviest feasible subset, lexicographically smallest among ties."""
    best: tuple[int, ...] = ()
    best_weight = Fraction(0)
    for size in range(len(candidates) + 1):
        for subset in combinations(sorted(candidates), size):
            if not feasible(subset, conflicts, budget):
                continue
            weight = sum((weights[i] for i in subset), Fraction(0))
            if weight > best_weight or (weight == best_weight and subset < best):
                best, best_weight = subset, weight
    return best


def feasible(
    subset: tuple[int, ...], conflicts: list[tuple[int, int]], budget: Budget | None
) -> bool:
    """C_cons and C_bud on a subset."""
    chosen = set(subset)
    if any(a in chosen and b in chosen for a, b in conflicts):
        return False
    return budget is None or sum((budget.costs[i] for i in subset), Fraction(0)) <= budget.limit


def test_paper_64_residue_is_c1_c3_with_weight_4() -> None:
    """The §6.4 worked example: MCR = {c₁, c₃}, weight 4, c₂ dropped for its dependency on c₄."""
    residue = bundle_of(paper_64_scenario()).certificates.residue
    assert residue is not None
    assert residue.kept == (0, 2)
    assert residue.kept_weight == 4
    assert residue.admission == "ground_strict"
    assert {ex.claim: ex.reason for ex in residue.exclusions} == {
        1: "requires:3",
        3: "ground:contradicted",
        4: "ground:unknown",
    }


def test_forbidden_patterns_are_case_insensitive_substrings() -> None:
    """C_pol excludes a claim containing a forbidden pattern in any case, and only that claim."""
    claims = (
        Claim(text="Buy ACME stock now", weight=Fraction(2)),
        Claim(text="ok", weight=Fraction(1)),
    )
    assert forbidden_match("Buy ACME stock now", ["acme stock"]) == "acme stock"
    residue = build_residue(
        claims, None, forbidden_patterns=("acme stock",), dependencies=(), conflicts=(), budget=None
    )
    assert residue.kept == (1,)
    assert residue.exclusions[0].reason == "forbidden:acme stock"


def test_ties_break_to_the_lexicographically_smallest_index_tuple() -> None:
    """Equal-weight alternatives {0,3} and {1,2} resolve to (0, 3)."""
    weights = [Fraction(1)] * 4
    kept = solve_mcr([0, 1, 2, 3], weights, [(0, 1), (0, 2), (1, 3), (2, 3)], None)
    assert kept == (0, 3)
    assert kept == brute_force([0, 1, 2, 3], weights, [(0, 1), (0, 2), (1, 3), (2, 3)], None)


instances = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(1, 6), min_size=n, max_size=n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2 * n),
        st.one_of(st.none(), st.integers(0, 6 * n)),
        st.lists(st.integers(0, 6), min_size=n, max_size=n),
        st.sets(st.integers(0, n - 1)),
    )
)


@settings(max_examples=120, deadline=None)
@given(instances)
def test_mcr_equals_brute_force_and_satisfies_theorem_6_3(
    instance: tuple[list[int], list[tuple[int, int]], int | None, list[int], set[int]],
) -> None:
    """Branch and bound equals exhaustive search; residue certifiable, optimal, idempotent."""
    raw_weights, raw_conflicts, limit, raw_costs, excluded = instance
    n = len(raw_weights)
    weights = [Fraction(w, 2) for w in raw_weights]
    conflicts = sorted({(min(a, b), max(a, b)) for a, b in raw_conflicts if a != b})
    budget = (
        None
        if limit is None
        else Budget(limit=Fraction(limit, 2), costs=tuple(map(Fraction, raw_costs)))
    )
    candidates = [i for i in range(n) if i not in excluded]
    kept = solve_mcr(candidates, weights, conflicts, budget)
    assert kept == brute_force(candidates, weights, conflicts, budget)
    assert set(kept) <= set(candidates)
    assert feasible(kept, conflicts, budget)
    assert solve_mcr(list(kept), weights, conflicts, budget) == kept  # (iii) idempotence
    weight = sum((weights[i] for i in kept), Fraction(0))
    tighter = solve_mcr(
        candidates, weights, [*conflicts, (0, n - 1)] if n > 1 else conflicts, budget
    )
    assert sum((weights[i] for i in tighter), Fraction(0)) <= weight  # (iv) more constraints
    fewer = solve_mcr(candidates[1:], weights, conflicts, budget)
    assert (
        sum((weights[i] for i in fewer), Fraction(0)) <= weight
    )  # a stricter per-claim constraint
