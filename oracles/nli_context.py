"""Short answers judged in context: the hypothesis an NLI judge sees for one claim.

A QA answer such as "Delhi", "yes" or "Arthur's Magazine" is not a statement by itself, so no NLI
model can judge it against evidence. Rule: a claim is a *full statement* when it has at least
`LONG_STATEMENT_WORDS` words, or at least `MIN_STATEMENT_WORDS` words with a verb cue (a form of
be/have/do, a modal, or a word of at least four letters ending in "ed"); otherwise, when the
request's question is known and at most `MAX_CONTEXT_CHARS` long, the judged hypothesis is
"question + answer" (e.g. "What is the capital of India? Delhi"). Only the judged text changes:
claims, weights and the reconstruction check still use the answer's own words.
"""

from __future__ import annotations

import re

MIN_STATEMENT_WORDS = 4
LONG_STATEMENT_WORDS = 6
MAX_CONTEXT_CHARS = 300
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_VERB_CUES = frozenset(
    {
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "has",
        "have",
        "had",
        "having",
        "hasn't",
        "haven't",
        "hadn't",
        "do",
        "does",
        "did",
        "doesn't",
        "don't",
        "didn't",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "can't",
        "cannot",
        "won't",
        "wouldn't",
        "shouldn't",
    }
)


def is_verb_cue(word: str) -> bool:
    """True for a casefolded word that marks a verb: a form of be/have/do, a modal, or "-ed"."""
    return word in _VERB_CUES or (len(word) >= 4 and word.endswith("ed"))


def is_full_statement(claim: str) -> bool:
    """True when `claim` reads as a statement that an NLI model can judge on its own."""
    words = [word.casefold() for word in _WORD.findall(claim)]
    if len(words) >= LONG_STATEMENT_WORDS:
        return True
    if len(words) < MIN_STATEMENT_WORDS:
        return False
    return any(is_verb_cue(w) for w in words[1:]) or words[0] in _VERB_CUES


def hypothesis_for(claim: str, query: str | None) -> str:
    """The text judged for `claim`: the claim, or "question + answer" for a short answer."""
    if query is None or is_full_statement(claim):
        return claim
    question = " ".join(query.split())
    if not question or len(question) > MAX_CONTEXT_CHARS:
        return claim
    return f"{question} {claim.strip()}"
