"""Content tokens for the decidable reconstruction check (SPEC 5.1, paper Def. 5.1 made decidable).

C(t): NFKC-normalize, casefold, split on non-alphanumerics keeping decimals such as `22.5` whole,
normalize numbers (`022.50` -> `22.5`), drop a fixed built-in stopword list. Negations are content
(`NEGATIONS`, and `n't` / `cannot` read as `not`), and a number keeps its sign: `-5` (a `-` or
U+2212 at the start of the text, after whitespace or an opening bracket) is not `5` (issue 9 §1).
`oracles.text` imports `NEGATIONS` and uses the same sign rule; one test table checks both. Pure
and deterministic. It does not judge meaning: passing reconstruction is a token-coverage check, not
semantic equality.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"(?:(?<![^\s(\[])-)?\d+(?:\.\d+)?|[^\W_]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CONTRACTED = re.compile(r"\b(?:(can|ca)n?'t|cannot|(wo)n't|(sha)n't|(\w+)n't)\b")
_CONTRACTION_BASE = {"can": "can", "ca": "can", "wo": "will", "sha": "shall"}

#: negation words: always content (never stopwords), shared with `oracles.text.is_negated`
NEGATIONS: frozenset[str] = frozenset(
    ["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without"]
)

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
    """Canonical text of a decimal numeral: sign kept, no leading zeros, no trailing fractional
    zeros (`-05.10` -> `-5.1`; `-0` -> `0`)."""
    sign = "-" if token.startswith("-") else ""
    whole, _, frac = token.removeprefix("-").partition(".")
    whole = str(int(whole))
    frac = frac.rstrip("0")
    text = f"{whole}.{frac}" if frac else whole
    return sign + text if text != "0" else text


def _expand_negation(match: re.Match[str]) -> str:
    can, will, shall, other = match.groups()
    if can is not None or match.group(0) == "cannot":
        return "can not"
    base = will or shall
    return f"{_CONTRACTION_BASE[base]} not" if base is not None else f"{other} not"


def content_tokens(text: str) -> frozenset[str]:
    """The set of content tokens of `text` (SPEC 5.1)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("\u2212", "-").replace("\u2019", "'")
    if "'t" in folded or "cannot" in folded:
        folded = _CONTRACTED.sub(_expand_negation, folded)
    tokens: set[str] = set()
    for match in _TOKEN.finditer(folded):
        token = match.group(0)
        if _NUMBER.fullmatch(token) and token.isascii():
            token = normalize_number(token)
        if token not in STOPWORDS:
            tokens.add(token)
    return frozenset(tokens)
