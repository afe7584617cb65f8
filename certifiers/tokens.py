"""Content tokens for the decidable reconstruction check (SPEC 5.1, paper Def. 5.1 made decidable).

C(t): NFKC-normalize, casefold, split on non-alphanumerics keeping decimals such as `22.5` whole,
normalize numbers (`022.50` -> `22.5`), drop a fixed built-in stopword list. Pure and deterministic.
It does not judge meaning: passing reconstruction is a token-coverage check, not semantic equality.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"\d+\.\d+|[^\W_]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

#: fixed English stopword list (function words that carry no content)
STOPWORDS: frozenset[str] = frozenset(
    {
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "either",
        "else",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "neither",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "thus",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
    }
)


def normalize_number(token: str) -> str:
    """Canonical text of a decimal numeral: no leading zeros, no trailing fractional zeros."""
    whole, _, frac = token.partition(".")
    whole = str(int(whole))
    frac = frac.rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def content_tokens(text: str) -> frozenset[str]:
    """The set of content tokens of `text` (SPEC 5.1)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    tokens: set[str] = set()
    for match in _TOKEN.finditer(folded):
        token = match.group(0)
        if _NUMBER.fullmatch(token) and token.isascii():
            token = normalize_number(token)
        if token not in STOPWORDS:
            tokens.add(token)
    return frozenset(tokens)
