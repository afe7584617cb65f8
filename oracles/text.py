"""Deterministic text utilities for the rule-based adapters: content tokens and segments.

`content_tokens` is the certifiers' SPEC 5.1 function (`certifiers.tokens`), re-exported so that the
splitter and the lexical judge use exactly the tokens the reconstruction check uses. `word_tokens`,
`numbers` and `is_negated` are this module's own (stopwords kept, thousands separators joined) for
the lexical heuristic. `segments` splits text into sentence and clause spans, cutting only at
whitespace, so every content token of the text lies inside one span. No model, no randomness.
"""

from __future__ import annotations

import re
import unicodedata

from certifiers.tokens import content_tokens

__all__ = ["content_tokens", "is_negated", "numbers", "segments", "word_tokens"]

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*\Z")

_NEGATION_TEXT = "not no never none nobody nothing neither nor cannot without"
_ABBREVIATION_TEXT = """
dr mr mrs ms prof sr jr st mt vs etc e.g i.e approx fig figs no nos vol ed eds inc ltd co corp
dept est jan feb mar apr jun jul aug sep sept oct nov dec al cf ca resp min max mg ml kg km
"""
NEGATIONS = frozenset(_NEGATION_TEXT.split())
ABBREVIATIONS = frozenset(_ABBREVIATION_TEXT.split())

_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*(?=\s)|;(?=\s)|\n\s*\n|\n(?=\s*(?:[-*\u2022]|\d+[.)])\s)")
_CLAUSE = re.compile(r",\s+(?=(?:but|whereas|while|although|though|however)\b)")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_ENUMERATOR = re.compile(r"\A\s*(?:[-*\u2022]\s*)?\(?[0-9a-zA-Z]{1,3}[.)]\Z")


def normalize_number(token: str) -> str:
    """Canonical text of a number token: no thousands commas, no leading/trailing zeros."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", token):
        token = token.replace(",", "")
    if re.fullmatch(r"\d+\.\d+", token):
        whole, frac = token.split(".")
        whole = whole.lstrip("0") or "0"
        frac = frac.rstrip("0")
        return f"{whole}.{frac}" if frac else whole
    if token.isdigit():
        return token.lstrip("0") or "0"
    return token


def word_tokens(text: str) -> list[str]:
    """All tokens (stopwords kept), NFKC-normalized and casefolded; numbers normalized."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    tokens = []
    for match in _TOKEN.finditer(folded):
        token = match.group()
        tokens.append(normalize_number(token) if _NUMBER.match(token) else token)
    return tokens


def numbers(text: str) -> frozenset[str]:
    """Normalized number tokens of `text`."""
    return frozenset(t for t in word_tokens(text) if _NUMBER.match(t))


def is_negated(text: str) -> bool:
    """Whether `text` has a negation word or an `n't` contraction (parity is not considered)."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return "n't" in folded or any(t in NEGATIONS for t in word_tokens(folded))


def _is_false_boundary(text: str, start: int, mark_start: int, mark: str) -> bool:
    if mark != ".":
        return False
    word = text[start:mark_start].split()[-1:] or [""]
    last = word[0].lstrip("(\"'").casefold()
    if last in ABBREVIATIONS or (len(last) == 1 and last.isalpha()) or _DOTTED.fullmatch(last):
        return True
    if _ENUMERATOR.match(text[start : mark_start + 1]):
        return True
    following = text[mark_start + 1 :].lstrip()
    return bool(following) and following[0].islower()


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end or not any(ch.isalnum() for ch in text[start:end]):
        return None
    return (start, end)


def segments(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences and clauses of `text`, in order, whitespace trimmed.

    Boundaries: `.`, `!`, `?` (with closing quotes/brackets) before whitespace, except after an
    abbreviation, an initial, a list enumerator, or before a lowercase word; `;`; blank lines and
    list items; and `, but` / `, whereas` style clause joints. Spans without letters or digits are
    dropped,
    so every content token of `text` lies in exactly one span.
    """
    cuts: list[int] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        mark = match.group()[0]
        if mark in ".!?" and _is_false_boundary(text, start, match.start(), mark):
            continue
        cuts.append(match.end())
        start = match.end()
    spans: list[tuple[int, int]] = []
    previous = 0
    for cut in [*cuts, len(text)]:
        sentence = _trimmed(text, previous, cut)
        previous = cut
        if sentence is None:
            continue
        clause_start = sentence[0]
        for joint in _CLAUSE.finditer(text, sentence[0], sentence[1]):
            clause = _trimmed(text, clause_start, joint.start() + 1)
            if clause is not None:
                spans.append(clause)
            clause_start = joint.end()
        clause = _trimmed(text, clause_start, sentence[1])
        if clause is not None:
            spans.append(clause)
    return spans
