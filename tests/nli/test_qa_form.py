"""QA-form training pairs: each rule's rewrite, the label it keeps or flips, and the seeded mix."""

from __future__ import annotations

import random

import pytest

from oracles.nli_context import hypothesis_for
from proxy.nli.data import LABEL_IDS, Pair
from proxy.nli.qa_form import qa_form, with_qa_forms

ENTAIL, NEUTRAL, CONTRADICT = (LABEL_IDS[n] for n in ("entailment", "neutral", "contradiction"))


def _forms(hypothesis: str, label: int = ENTAIL) -> set[tuple[str, int]]:
    """Every rewrite the rules can pick for `hypothesis` (over many seeds)."""
    pair = Pair("premise", hypothesis, label, "snli")
    out: set[tuple[str, int]] = set()
    for seed in range(200):
        rewritten = qa_form(pair, random.Random(seed))
        assert rewritten is not None
        assert (rewritten.premise, rewritten.source) == ("premise", "snli")
        out.add((rewritten.hypothesis, rewritten.label))
    return out


def test_a_statement_becomes_a_subject_an_object_or_a_yes_no_question() -> None:
    assert _forms("The Oberoi Group was based in Delhi.") == {
        ("What was based in Delhi? The Oberoi Group", ENTAIL),
        ("The Oberoi Group was based in what? Delhi", ENTAIL),
        ("Was the Oberoi Group based in Delhi? yes", ENTAIL),
        ("Was the Oberoi Group based in Delhi? no", CONTRADICT),
    }


def test_a_named_subject_is_asked_with_who() -> None:
    assert ("Who worked with Fox? Nikolaj Coster-Waldau", NEUTRAL) in _forms(
        "Nikolaj Coster-Waldau worked with Fox.", NEUTRAL
    )


@pytest.mark.parametrize(
    ("label", "on_no"), [(ENTAIL, CONTRADICT), (CONTRADICT, ENTAIL), (NEUTRAL, NEUTRAL)]
)
def test_answering_no_swaps_entailment_and_contradiction_and_keeps_neutral(
    label: int, on_no: int
) -> None:
    labels = {
        lab for text, lab in _forms("A man is playing a guitar.", label) if text.endswith(" no")
    }
    assert labels == {on_no}


def test_no_rule_applies_without_a_verb_cue_or_to_a_lone_pronoun_subject() -> None:
    rng = random.Random(0)
    assert qa_form(Pair("p", "Two dogs outside.", ENTAIL, "snli"), rng) is None
    assert qa_form(Pair("p", "", ENTAIL, "snli"), rng) is None
    forms = _forms("She is asleep on the sofa.")
    assert not any(text.startswith(("Who ", "What ")) for text, _ in forms)


def test_answers_stay_short_like_the_answers_judged_in_context() -> None:
    forms = _forms("The film was shown in the largest cinema of the old and very pretty town.")
    assert not any("what?" in text for text, _ in forms)  # the object has 7 words
    assert ("The film was shown in what? the old town", ENTAIL) in _forms(
        "The film was shown in the old town."
    )
    # the rewritten form is the one the request path builds for a short answer
    assert hypothesis_for("Delhi", "The Oberoi Group was based in what?") == (
        "The Oberoi Group was based in what? Delhi"
    )


def test_the_mix_rewrites_a_seeded_share_and_is_deterministic() -> None:
    pairs = [Pair(f"p{i}", f"Person {i} is running outside.", ENTAIL, "snli") for i in range(400)]
    first = with_qa_forms(pairs, 0.3, seed=5)
    assert first == with_qa_forms(pairs, 0.3, seed=5)
    changed = sum(a != b for a, b in zip(pairs, first, strict=True))
    assert 80 < changed < 160
    assert with_qa_forms(pairs, 0.0, seed=5) == pairs
    assert with_qa_forms(pairs, 0.3, seed=6) != first


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_a_fraction_outside_0_to_1_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="--qa-form"):
        with_qa_forms([], fraction, seed=1)
