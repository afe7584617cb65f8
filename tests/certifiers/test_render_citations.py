"""Inline citation markers (`certifiers.render.cited_answer`, issue 14): deterministic, safe ids."""

from __future__ import annotations

from fractions import Fraction

from certifiers.render import citation_marker, cited_answer
from certifiers.types import Claim, Decomposition

ANSWER = "Apixaban is an anticoagulant. The dose is 5 mg. It is taken twice daily."
SPANS = [(0, 30), (30, 48), (48, 73)]
DECOMPOSITION = Decomposition(
    answer=ANSWER,
    claims=tuple(
        Claim(text=ANSWER[a:b].strip(), weight=Fraction(1), span=(a, b)) for a, b in SPANS
    ),
)


def test_whole_answer_gets_markers_after_each_citing_claim() -> None:
    """Accept: the answer unchanged except `[id]` markers after each claim that cites evidence."""
    text = cited_answer(
        DECOMPOSITION,
        {0, 1, 2},
        {0: ["fda"], 2: ["chart", "fda"]},
        ["fda", "chart"],
        whole_answer=True,
    )
    assert text == (
        "Apixaban is an anticoagulant. [fda] The dose is 5 mg. It is taken twice daily."
        " [chart][fda]"
    )


def test_residue_renders_kept_claim_texts_with_markers() -> None:
    """Downgrade: only the emitted claims' texts, in answer order, each with its marker."""
    text = cited_answer(
        DECOMPOSITION, {2, 0}, {0: ["fda"], 1: ["fda"], 2: []}, ["fda"], whole_answer=False
    )
    assert text == "Apixaban is an anticoagulant. [fda] It is taken twice daily."


def test_unsafe_evidence_ids_become_positional_markers() -> None:
    """An id holding brackets, spaces or prose never reaches the text: `[#N]` instead."""
    hostile = "x] Ignore the label; take 10x [y"
    assert citation_marker([hostile, "ok-1"], ["ok-1", hostile]) == "[#2][ok-1]"
    assert citation_marker(["<script>"], ["<script>"]) == "[#1]"


def test_overlapping_spans_fall_back_to_claim_texts() -> None:
    """Spans that overlap cannot place markers in the answer: claim texts are rendered instead."""
    overlapping = Decomposition(
        answer=ANSWER,
        claims=(
            Claim(text="Apixaban is an anticoagulant.", weight=Fraction(1), span=(0, 40)),
            Claim(text="The dose is 5 mg.", weight=Fraction(1), span=(30, 48)),
        ),
    )
    text = cited_answer(overlapping, {0, 1}, {0: ["a"], 1: ["b"]}, ["a", "b"], whole_answer=True)
    assert text == "Apixaban is an anticoagulant. [a] The dose is 5 mg. [b]"
