"""Partial-coverage training pairs: a hypothesis joined with an unrelated statement by "and".

A two-hop claim judged against one chunk is only half covered by it: the right label is neutral (or
contradiction, when the covered half is false), never entailment. NLI corpora rarely show that
shape, and the model tends to call it a contradiction. This module adds it by a rule, from the
training mix itself: hypothesis H of one pair is joined with the hypothesis H2 of another pair
(another premise, so the premise says nothing about H2): "H and H2".

Labels: entailment -> neutral (H2 is not supported), contradiction -> contradiction (a conjunction
with a false part is false), neutral -> neutral.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.nli.data import LABEL_IDS, Pair, with_partner_rewrites

_JOINED_LABEL = {
    LABEL_IDS["entailment"]: LABEL_IDS["neutral"],
    LABEL_IDS["contradiction"]: LABEL_IDS["contradiction"],
    LABEL_IDS["neutral"]: LABEL_IDS["neutral"],
}
MAX_HYPOTHESIS_CHARS = 200


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first in ("A", "An", "The", "Two", "Three", "Some", "There", "This", "These"):
        return text[:1].lower() + text[1:]
    return text


def joined(pair: Pair, other: Pair) -> Pair | None:
    """`pair` with its hypothesis and `other`'s joined by "and", or None if unsuitable."""
    if other.premise == pair.premise:
        return None
    left, right = pair.hypothesis.strip().rstrip("."), other.hypothesis.strip().rstrip(".")
    if not left or not right or len(left) + len(right) > MAX_HYPOTHESIS_CHARS:
        return None
    text = f"{left} and {_lower_first(right)}."
    return Pair(pair.premise, text, _JOINED_LABEL[pair.label], pair.source)


def with_partial_pairs(pairs: Sequence[Pair], fraction: float, *, seed: int) -> list[Pair]:
    """`pairs` with a seeded `fraction` of them rewritten by `joined` (partner drawn at random)."""
    return with_partner_rewrites(
        pairs,
        fraction,
        seed=seed,
        flag="partial",
        rewrite=lambda pair, other, _rng: joined(pair, other),
    )
