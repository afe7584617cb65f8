"""Independent exact search for the maximal certifiable residue (paper Def. 6.1, SPEC 5.2).

The builder solves MCR by branch and bound; the verifier re-solves it here by a different method,
so a wrong builder optimum is caught. Per-claim constraints (C_ground, C_norefute, C_pol, C_pre)
are applied by the caller, which passes the admissible claims. This module handles what couples
claims: pairwise conflicts (C_cons) and a cost budget (C_bud).

Method: claims that conflict with no admissible claim are always in the optimum when the budget
cannot bind (weights are positive and the family is monotone). The remaining "coupled" claims are
enumerated exhaustively as bitmasks of feasible subsets (depth first, extending only feasible sets:
sound because every constraint is downward closed). With more than `EXHAUSTIVE_LIMIT` coupled
claims an upper-bound cut is added: weight so far + the fractional-knapsack (LP) bound of the
undecided claims that conflict with no chosen one (its room first cut to the largest cost total
they can reach, by a subset-sum bitset, when the scaled room is small), rounded up, <= best
(include-first order finds
an equal-weight, lexicographically smaller residue first, so ties are safe to cut), and the search
gives up with `None` past `node_limit` nodes, so the caller fails closed.
Weights and costs are scaled to integers over a common denominator (no Fraction in the loop).
Ties: the lexicographically smallest sorted index tuple wins (SPEC 5.2).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from fractions import Fraction

__all__ = ["EXHAUSTIVE_LIMIT", "NODE_LIMIT", "best_residue", "subset_is_feasible"]

EXHAUSTIVE_LIMIT = 20
NODE_LIMIT = 2_000_000
#: the subset-sum tightening of the budget bound runs while the scaled room is below this many units
_SUBSET_SUM_ROOM = 1 << 16


def _scaled(values: Sequence[Fraction]) -> list[int]:
    """Integers proportional to `values` (common denominator)."""
    denominator = math.lcm(*(value.denominator for value in values)) if values else 1
    return [value.numerator * (denominator // value.denominator) for value in values]


def subset_is_feasible(
    subset: Collection[int],
    conflicts: Collection[tuple[int, int]],
    costs: Sequence[Fraction] | None,
    budget: Fraction | None,
) -> bool:
    """C_cons and C_bud on one subset: no conflicting pair inside, total cost within the budget."""
    members = set(subset)
    if any(a in members and b in members for a, b in conflicts):
        return False
    if budget is not None and costs is not None:
        return sum((costs[i] for i in members), Fraction(0)) <= budget
    return True


def best_residue(
    weights: Sequence[Fraction],
    admissible: Sequence[int],
    conflicts: Collection[tuple[int, int]],
    costs: Sequence[Fraction] | None = None,
    budget: Fraction | None = None,
    *,
    node_limit: int = NODE_LIMIT,
) -> tuple[int, ...] | None:
    """The max-weight feasible subset of `admissible` as sorted indices; None past `node_limit`."""
    candidates = sorted(set(admissible))
    in_play = set(candidates)
    coupled_pairs = [(a, b) for a, b in conflicts if a in in_play and b in in_play and a != b]
    self_conflicting = {a for a, b in conflicts if a == b}
    candidates = [i for i in candidates if i not in self_conflicting]
    budget_binds = (
        budget is not None
        and costs is not None
        and sum((costs[i] for i in candidates), Fraction(0)) > budget
    )
    touched = {i for pair in coupled_pairs for i in pair}
    if budget_binds:
        coupled = candidates
        free: list[int] = []
    else:
        coupled = [i for i in candidates if i in touched]
        free = [i for i in candidates if i not in touched]
    chosen = _search_coupled(
        coupled,
        free=free,
        weights=weights,
        pairs=coupled_pairs,
        costs=costs if budget_binds else None,
        budget=budget,
        node_limit=node_limit,
    )
    if chosen is None:
        return None
    return tuple(sorted(free + list(chosen)))


def _search_coupled(
    coupled: list[int],
    *,
    free: list[int],
    weights: Sequence[Fraction],
    pairs: Sequence[tuple[int, int]],
    costs: Sequence[Fraction] | None,
    budget: Fraction | None,
    node_limit: int,
) -> tuple[int, ...] | None:
    """Exhaustive search over feasible subsets of `coupled` (positions are bits, in index order)."""
    n = len(coupled)
    if n == 0:
        return ()
    position = {claim: bit for bit, claim in enumerate(coupled)}
    clash = [0] * n
    for a, b in pairs:
        if a in position and b in position:
            clash[position[a]] |= 1 << position[b]
            clash[position[b]] |= 1 << position[a]
    weight = _scaled([weights[i] for i in coupled])
    if costs is not None and budget is not None:
        scaled = _scaled([costs[i] for i in coupled] + [budget])
        cost, limit = scaled[:-1], scaled[-1]
    else:
        cost, limit = [0] * n, 0
    bounded = costs is not None and budget is not None
    remaining = [0] * (n + 1)
    for bit in range(n - 1, -1, -1):
        remaining[bit] = remaining[bit + 1] + weight[bit]
    cut = n > EXHAUSTIVE_LIMIT
    # fractional-knapsack order: free (cost 0) bits first, then by weight/cost decreasing
    by_ratio = sorted(
        range(n), key=lambda b: (1, Fraction(-weight[b], cost[b])) if cost[b] else (0, Fraction(0))
    )

    def reachable_room(bit: int, mask: int, room: int) -> int:
        """The largest total cost <= room of some subset of the open bits (subset-sum bitset)."""
        reach = 1
        window = (1 << (room + 1)) - 1
        for b in range(bit, n):
            if not clash[b] & mask and cost[b]:
                reach = (reach | (reach << cost[b])) & window
        return reach.bit_length() - 1

    def upper(bit: int, mask: int, spent: int, *, tight: bool = False) -> int:
        """Sound bound on the weight the undecided bits >= `bit` can still add: the fractional
        knapsack (LP relaxation) over those not clashing with `mask`, rounded up to an integer.
        `tight`: the room is first cut to the largest cost total those bits can reach exactly."""
        room = limit - spent
        if tight:
            room = reachable_room(bit, mask, room)
        extra = 0
        for b in by_ratio:
            if b < bit or clash[b] & mask:
                continue
            if cost[b] <= room:
                extra += weight[b]
                room -= cost[b]
            else:
                extra += -((-weight[b] * room) // cost[b])
                break
        return extra

    best_weight = -1
    best_mask = 0
    nodes = 0
    # explicit stack of (next bit, chosen mask, weight so far, cost so far)
    stack: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]
    while stack:
        nodes += 1
        if nodes > node_limit:
            return None
        bit, mask, total, spent = stack.pop()
        # include-first depth-first order visits an equal-weight residue with a lexicographically
        # smaller index tuple earlier, so a subtree that cannot beat the incumbent strictly is cut
        if cut and total + remaining[bit] <= best_weight:
            continue
        if cut and total + upper(bit, mask, spent) <= best_weight:
            continue
        if (
            cut
            and bounded
            and limit - spent <= _SUBSET_SUM_ROOM
            and total + upper(bit, mask, spent, tight=True) <= best_weight
        ):
            continue
        if bit == n:
            if total > best_weight or (
                total == best_weight
                and _lex_key(mask, coupled, free) < _lex_key(best_mask, coupled, free)
            ):
                best_weight, best_mask = total, mask
            continue
        stack.append((bit + 1, mask, total, spent))
        if not clash[bit] & mask and (not bounded or spent + cost[bit] <= limit):
            stack.append((bit + 1, mask | (1 << bit), total + weight[bit], spent + cost[bit]))
    return tuple(coupled[bit] for bit in range(n) if best_mask >> bit & 1)


def _lex_key(mask: int, coupled: list[int], free: list[int]) -> tuple[int, ...]:
    """The sorted claim-index tuple of the whole residue a mask stands for (free claims too)."""
    return tuple(sorted(free + [claim for bit, claim in enumerate(coupled) if mask >> bit & 1]))
