"""Tests for the verifier's independent math: MCR search, stability arithmetic, grid geometry."""

from __future__ import annotations

import itertools
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.verification.geometry import eps_eta_is_sound, squared_distance
from certifiers.verification.search import best_residue, subset_is_feasible
from certifiers.verification.stability import (
    amplification_chain,
    conditioning_number,
    error_envelope,
    stability_budget,
)


def _brute_force(
    weights: list[Fraction],
    admissible: list[int],
    conflicts: list[tuple[int, int]],
    costs: list[Fraction] | None,
    budget: Fraction | None,
) -> tuple[int, ...]:
    """Max weight, then lexicographically smallest sorted tuple, over every subset."""
    best: tuple[Fraction, tuple[int, ...]] | None = None
    for size in range(len(admissible) + 1):
        for subset in itertools.combinations(sorted(admissible), size):
            if not subset_is_feasible(subset, conflicts, costs, budget):
                continue
            weight = sum((weights[i] for i in subset), Fraction(0))
            if best is None or weight > best[0] or (weight == best[0] and subset < best[1]):
                best = (weight, subset)
    assert best is not None
    return best[1]


def test_paper_worked_example_residue_is_c1_c3() -> None:
    """Paper 6.4: with c2, c4, c5 inadmissible the residue is {c1, c3} of weight 4."""
    weights = [Fraction(3), Fraction(2), Fraction(1), Fraction(3, 2), Fraction(1, 2)]
    assert best_residue(weights, [0, 2], []) == (0, 2)


@settings(max_examples=150, deadline=None)
@given(
    weights=st.lists(st.integers(1, 6), min_size=1, max_size=9),
    data=st.data(),
)
def test_search_matches_brute_force(weights: list[int], data: st.DataObject) -> None:
    """The verifier's search equals brute force on random conflicts, budgets and admissible sets."""
    n = len(weights)
    fractions = [Fraction(w, 2) for w in weights]
    admissible = data.draw(st.lists(st.integers(0, n - 1), unique=True))
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=8))
    use_budget = data.draw(st.booleans())
    costs = [Fraction(c) for c in data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))]
    budget = Fraction(data.draw(st.integers(0, 10))) if use_budget else None
    expected = _brute_force(fractions, admissible, pairs, costs if use_budget else None, budget)
    got = best_residue(fractions, admissible, pairs, costs if use_budget else None, budget)
    assert got == expected


def test_ties_break_to_lexicographically_smallest_tuple() -> None:
    """Two equal-weight optima {0} and {1} (conflicting) resolve to (0,) plus free claims."""
    weights = [Fraction(1), Fraction(1), Fraction(5)]
    assert best_residue(weights, [0, 1, 2], [(0, 1)]) == (0, 2)


def test_more_than_twenty_coupled_claims_are_solved_with_the_bound_cut() -> None:
    """A 24-claim conflict chain, beyond the exhaustive size, is solved exactly."""
    weights = [Fraction(1)] * 24
    chain = [(i, i + 1) for i in range(23)]
    assert best_residue(weights, list(range(24)), chain) == tuple(range(0, 24, 2))


def test_node_limit_exceeded_returns_none() -> None:
    """A search that exceeds its node limit reports None so that the caller fails closed."""
    weights = [Fraction(1)] * 10
    assert best_residue(weights, list(range(10)), [(0, 1)], node_limit=3) is None


def test_paper_stability_example_budget_and_kappa() -> None:
    """Paper 9.3: g = (1,0,0,0,1,0,0), m = (0.12,50,3,0.08,0.77,1,1) gives kappa 0 and B 0.12."""
    gains = [Fraction(g) for g in (1, 0, 0, 0, 1, 0, 0)]
    margins = [Fraction(m) for m in ("0.12", "50", "3", "0.08", "0.77", "1", "1")]
    assert conditioning_number(gains) == 0
    assert stability_budget(gains, margins) == Fraction(3, 25)


def test_chain_envelope_and_empty_budget() -> None:
    """The amplification chain multiplies gains, the envelope compounds, no layers give None."""
    assert amplification_chain(Fraction(1, 10), [Fraction(2), Fraction(3), Fraction(0)]) == [
        Fraction(1, 10),
        Fraction(1, 5),
        Fraction(3, 5),
    ]
    errors = [Fraction(1), Fraction(2), Fraction(3)]
    constants = [Fraction(10), Fraction(1), Fraction(1, 2)]
    assert error_envelope(errors, constants) == 1 * 2 * Fraction(3, 2) + 2 * Fraction(3, 2) + 3
    assert stability_budget([], []) is None


def test_eps_eta_soundness_is_exact() -> None:
    """The exact eps_eta bound accepts a value just above 2*D*delta + delta^2 and rejects below."""
    dimension = 4  # delta = 2 * 2^-24
    delta = Fraction(2, 1 << 24)
    exact = 2 * 1 * delta + delta * delta  # D = 1
    assert eps_eta_is_sound(exact, dimension, Fraction(1))
    assert not eps_eta_is_sound(exact - Fraction(1, 1 << 80), dimension, Fraction(1))
    assert squared_distance([3, 4], [0, 0]) == 25
