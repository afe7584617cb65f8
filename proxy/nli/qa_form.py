"""QA-form training pairs: a statement hypothesis rewritten as "question + short answer".

At request time a short answer ("Delhi", "yes") is judged as the hypothesis "question + answer"
(`oracles.nli_context`), a form no NLI corpus contains. This module rewrites a share of the
training hypotheses into that form so the model sees it, using rules only (no model, no new data):

- *subject*: "Nikolaj worked with Fox." -> "Who worked with Fox? Nikolaj" (the words before the
  first verb cue become the answer; "What" unless the subject starts with a capitalized name);
- *object*: "The group has its head office in Delhi." -> "The group has its head office in what?
  Delhi" (the words after the last preposition become the answer);
- *yes/no*: "A man is playing." -> "Is a man playing? yes" keeps the label; "... ? no" swaps
  entailment and contradiction (a contradicted statement makes "no" the entailed answer) and keeps
  neutral.

Each rewrite asserts what the statement asserts, so the label carries over (flipped for "no").
Answers keep at most `MAX_ANSWER_WORDS` words, like the short answers that are judged in context.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from oracles.nli_context import is_verb_cue
from proxy.nli.data import LABEL_IDS, Pair

MAX_ANSWER_WORDS = 5
MAX_SUBJECT_START = 6
_PREPOSITIONS = frozenset(
    [
        "in",
        "on",
        "at",
        "of",
        "by",
        "for",
        "with",
        "from",
        "to",
        "into",
        "as",
        "about",
        "near",
        "during",
        "after",
        "before",
        "under",
        "over",
    ]
)
_FRONTABLE = frozenset(
    ["is", "are", "was", "were", "can", "could", "will", "would", "should", "might", "must"]
)
_DETERMINERS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "his",
        "her",
        "its",
        "their",
        "my",
        "our",
        "your",
        "some",
        "one",
        "two",
        "three",
        "all",
        "every",
        "each",
        "no",
        "many",
        "most",
        "few",
        "several",
        "both",
    ]
)
# a lone pronoun makes no answer ("Who was aware...? I")
_PRONOUNS = frozenset(
    ["i", "you", "he", "she", "it", "we", "they", "this", "that", "these", "those", "there", "one"]
)
_SWAP_ON_NO = {
    LABEL_IDS["entailment"]: LABEL_IDS["contradiction"],
    LABEL_IDS["contradiction"]: LABEL_IDS["entailment"],
    LABEL_IDS["neutral"]: LABEL_IDS["neutral"],
}


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'()").casefold()


def _first_cue(words: Sequence[str]) -> int | None:
    for index, word in enumerate(words[: MAX_SUBJECT_START + 1]):
        if index > 0 and is_verb_cue(_bare(word)):
            return index
    return None


def _subject_form(words: Sequence[str], cue: int) -> tuple[str, str] | None:
    subject, predicate = words[:cue], words[cue:]
    if len(subject) > MAX_ANSWER_WORDS or len(predicate) < 2:
        return None
    head = _bare(subject[0]).split("'")[0]
    if head == "there" or (len(subject) == 1 and head in _PRONOUNS):
        return None
    named = subject[0][:1].isupper() and _bare(subject[0]) not in _DETERMINERS
    wh = "Who" if named else "What"
    return f"{wh} {' '.join(predicate)}?", " ".join(subject)


def _object_form(words: Sequence[str], cue: int) -> tuple[str, str] | None:
    for index in range(len(words) - 2, cue, -1):
        if _bare(words[index]) in _PREPOSITIONS:
            answer = words[index + 1 :]
            if len(answer) > MAX_ANSWER_WORDS:
                return None
            return f"{' '.join(words[: index + 1])} what?", " ".join(answer)
    return None


def _yes_no_form(words: Sequence[str], cue: int) -> tuple[str, str] | None:
    verb = _bare(words[cue])
    if verb not in _FRONTABLE or len(words) - cue < 2:
        return None
    first = words[0]
    if _bare(first) in _DETERMINERS or (_bare(first) in _PRONOUNS and first != "I"):
        first = first[:1].lower() + first[1:]
    rest = [first, *words[1:cue], *words[cue + 1 :]]
    return f"{verb.capitalize()} {' '.join(rest)}?", "yes"


def qa_form(pair: Pair, rng: random.Random) -> Pair | None:
    """`pair` with its hypothesis as "question + answer", or None when no rule applies."""
    words = pair.hypothesis.split()
    if words:
        words[-1] = words[-1].rstrip(".!")
    words = [word for word in words if word]
    cue = _first_cue(words)
    if cue is None:
        return None
    forms = [
        form
        for form in (_subject_form(words, cue), _object_form(words, cue), _yes_no_form(words, cue))
        if form is not None
    ]
    if not forms:
        return None
    question, answer = rng.choice(forms)
    label = pair.label
    if answer == "yes" and rng.random() < 0.5:
        answer, label = "no", _SWAP_ON_NO[label]
    return Pair(pair.premise, f"{question} {answer}", label, pair.source)


def with_qa_forms(
    pairs: Sequence[Pair], fraction: float, *, seed: int, keep: Sequence[bool] | None = None
) -> list[Pair]:
    """`pairs` with a seeded `fraction` of them rewritten by `qa_form` (where a rule applies);
    `keep[i]` leaves pair i as it is (the draw for it is still made, so the rest stay the same)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"Expected a QA-form fraction in [0, 1], got {fraction!r} - at --qa-form")
    rng = random.Random(f"{seed}:qa-form")
    out: list[Pair] = []
    for index, pair in enumerate(pairs):
        chosen = rng.random() < fraction and not (keep is not None and keep[index])
        rewritten = qa_form(pair, rng) if chosen else None
        out.append(pair if rewritten is None else rewritten)
    return out
