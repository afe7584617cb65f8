"""Distractor pairs: the premise joined with another pair's, label kept; seeded; bounded."""

from __future__ import annotations

import pytest

from proxy.nli.data import LABEL_IDS, Pair
from proxy.nli.distractor import MAX_JOINED_CHARS, with_distractor, with_distractors

ENTAIL, CONTRADICT = LABEL_IDS["entailment"], LABEL_IDS["contradiction"]
PAIR = Pair("A man plays a guitar.", "A man is playing music.", CONTRADICT, "snli")
OTHER = Pair("The bridge opened in 1932.", "A bridge exists.", ENTAIL, "fever_nli")


@pytest.mark.parametrize(
    ("first", "premise"),
    [
        (False, "A man plays a guitar.\n\nThe bridge opened in 1932."),
        (True, "The bridge opened in 1932.\n\nA man plays a guitar."),
    ],
)
def test_the_premise_gains_an_unrelated_passage_and_keeps_its_label(
    first: bool, premise: str
) -> None:
    out = with_distractor(PAIR, OTHER, first=first)
    assert out == Pair(premise, PAIR.hypothesis, CONTRADICT, "snli")


def test_the_same_premise_an_empty_one_or_too_long_a_join_is_skipped() -> None:
    assert with_distractor(PAIR, Pair(PAIR.premise, "x", ENTAIL, "snli"), first=True) is None
    assert with_distractor(PAIR, Pair("  ", "x", ENTAIL, "snli"), first=True) is None
    long = Pair("word " * (MAX_JOINED_CHARS // 5), "x", ENTAIL, "snli")
    assert with_distractor(PAIR, long, first=False) is None


def test_the_share_is_seeded_and_only_premises_change() -> None:
    pairs = [Pair(f"Premise {i}.", f"Hypothesis {i}.", i % 3, "snli") for i in range(300)]
    first = with_distractors(pairs, 0.3, seed=4)
    assert first == with_distractors(pairs, 0.3, seed=4)
    assert first != with_distractors(pairs, 0.3, seed=5)
    changed = [(a, b) for a, b in zip(pairs, first, strict=True) if a != b]
    assert 50 < len(changed) < 130
    for before, after in changed:
        assert (after.hypothesis, after.label, after.source) == (
            before.hypothesis,
            before.label,
            before.source,
        )
        assert before.premise in after.premise.split("\n\n")
        assert len(after.premise.split("\n\n")) == 2
    with pytest.raises(ValueError, match="--distractor"):
        with_distractors(pairs, 1.5, seed=4)
