"""Partial-coverage training pairs: "H and H2" with H2 from another premise, and their labels."""

from __future__ import annotations

import pytest

from proxy.nli.data import LABEL_IDS, Pair
from proxy.nli.partial import joined, with_partial_pairs
from proxy.nli.qa_form import with_qa_forms

ENTAIL, NEUTRAL, CONTRADICT = (LABEL_IDS[n] for n in ("entailment", "neutral", "contradiction"))
OTHER = Pair("A cat sleeps.", "The cat is asleep.", ENTAIL, "snli")


@pytest.mark.parametrize(
    ("label", "expected"), [(ENTAIL, NEUTRAL), (CONTRADICT, CONTRADICT), (NEUTRAL, NEUTRAL)]
)
def test_joining_an_unrelated_statement_leaves_it_unsupported(label: int, expected: int) -> None:
    pair = Pair("A man plays a guitar.", "A man is playing music.", label, "snli")
    out = joined(pair, OTHER)
    assert out is not None
    assert out.hypothesis == "A man is playing music and the cat is asleep."
    assert (out.premise, out.label, out.source) == (pair.premise, expected, "snli")


def test_a_partner_with_the_same_premise_or_too_long_a_result_is_skipped() -> None:
    pair = Pair("A cat sleeps.", "A cat rests.", ENTAIL, "snli")
    assert joined(pair, OTHER) is None
    long = Pair("P.", "word " * 45, ENTAIL, "snli")
    assert joined(long, Pair("Q.", "word " * 5, ENTAIL, "snli")) is None


def test_the_share_is_seeded_and_qa_forms_skip_joined_pairs() -> None:
    pairs = [Pair(f"Premise {i}.", f"Person {i} is running.", ENTAIL, "snli") for i in range(300)]
    first = with_partial_pairs(pairs, 0.3, seed=4)
    assert first == with_partial_pairs(pairs, 0.3, seed=4)
    changed = [a != b for a, b in zip(pairs, first, strict=True)]
    assert 50 < sum(changed) < 130
    assert all(b.label == NEUTRAL for a, b, c in zip(pairs, first, changed, strict=True) if c)
    asked = with_qa_forms(first, 1.0, seed=4, keep=changed)
    assert all(
        q == p for p, q, c in zip(first, asked, changed, strict=True) if c
    )  # joined pairs stay statements
    assert sum(q != p for p, q in zip(first, asked, strict=True)) > 100
    with pytest.raises(ValueError, match="--partial"):
        with_partial_pairs(pairs, 2.0, seed=4)
