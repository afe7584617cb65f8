"""Distractor training pairs: the premise joined with an unrelated passage, label unchanged.

The proxy judges a claim against evidence that mostly says nothing about it: a chunk holds several
facts, and the joint column (`aggregation = "joint"`) joins a claim's top chunks into one premise.
NLI corpora pair a hypothesis with a premise written for it, so the model learns that a premise
mostly about something else means neutral. This module adds the shape by a rule, from the training
mix itself: pair i's premise P is joined with the premise D of another pair (a different premise),
"P\\n\\nD" or "D\\n\\nP" (seeded order, the proxy's `EVIDENCE_SEPARATOR`).

The label stays: what P entails or contradicts, P together with an unrelated D still does (D is
from another item, so it neither supports nor refutes the hypothesis, barring a rare accident), and
a neutral P stays neutral. A join longer than `MAX_JOINED_CHARS` (premises plus hypothesis) is
skipped, so that truncation at the training length never cuts the premise that decides the label.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.nli.data import Pair, with_partner_rewrites

SEPARATOR = "\n\n"
MAX_JOINED_CHARS = 560


def with_distractor(pair: Pair, other: Pair, *, first: bool) -> Pair | None:
    """`pair` with `other`'s premise joined to its own (`first`: the distractor leads), or None."""
    premise, distractor = pair.premise.strip(), other.premise.strip()
    if not premise or not distractor or distractor == premise:
        return None
    if len(premise) + len(distractor) + len(pair.hypothesis) > MAX_JOINED_CHARS:
        return None
    parts = (distractor, premise) if first else (premise, distractor)
    return Pair(SEPARATOR.join(parts), pair.hypothesis, pair.label, pair.source)


def with_distractors(pairs: Sequence[Pair], fraction: float, *, seed: int) -> list[Pair]:
    """`pairs` with a seeded `fraction` of them given a distractor passage (partner at random)."""
    return with_partner_rewrites(
        pairs,
        fraction,
        seed=seed,
        flag="distractor",
        rewrite=lambda pair, other, rng: with_distractor(pair, other, first=rng.random() < 0.5),
    )
