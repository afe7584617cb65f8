"""A deterministic detector of refusals and abstentions ("I don't know", "No information").

A refusal carries no factual claim, so blocking it is not a false block and emitting it is not a
miss: the harness reports refusals separately and leaves them out of the catch and false-block
denominators (paper §12.7, "Refusals vs. false-blocks"). The detector is a fixed list of phrases
matched against a normalized answer; it does not judge whether a refusal was warranted and will
miss refusals phrased otherwise.

Definition. normalize(t) = NFKC, casefold, curly apostrophes -> "'", every run of characters other
than letters, digits and "'" -> one space, trimmed. An answer is a refusal iff normalize(answer) is
empty, equals one of `_WHOLE_ANSWERS`, or starts with one of `_OPENINGS` followed by the end or a
space.
"""

from __future__ import annotations

import re
import unicodedata

_WHOLE_ANSWERS: frozenset[str] = frozenset(
    {
        "unknown",
        "no answer",
        "n a",
        "not known",
        "unanswerable",
        "insufficient information",
        "no idea",
    }
)

_OPENINGS: tuple[str, ...] = (
    "i don't know",
    "i do not know",
    "i dont know",
    "i'm not sure",
    "i am not sure",
    "i'm unable to",
    "i am unable to",
    "i cannot answer",
    "i can't answer",
    "i can not answer",
    "i cannot determine",
    "i can't determine",
    "i could not find",
    "i couldn't find",
    "i have no information",
    "i don't have enough information",
    "i do not have enough information",
    "insufficient information",
    "not enough information",
    "there is not enough information",
    "there is no information",
    "there is insufficient information",
    "the provided information does not",
    "the provided context does not",
    "the context does not",
    "the evidence does not",
    "the sources do not",
    "cannot be determined",
    "it cannot be determined",
    "it is not possible to determine",
    "unable to answer",
    "unable to determine",
)

_NON_WORD = re.compile(r"[^\w']+|_+")


def normalize_answer(text: str) -> str:
    """The normalized form the detector matches against (see the module docstring)."""
    folded = (
        unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'").replace("\u2018", "'")
    )
    return _NON_WORD.sub(" ", folded).strip()


def is_refusal(answer: str) -> bool:
    """Whether the answer is a refusal or abstention by the fixed phrase list."""
    norm = normalize_answer(answer)
    if not norm or norm in _WHOLE_ANSWERS:
        return True
    return any(norm == opening or norm.startswith(opening + " ") for opening in _OPENINGS)
