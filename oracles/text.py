"""Deterministic text utilities for the rule-based adapters: content tokens and segments.

`content_tokens` and `NEGATIONS` are the certifiers' (`certifiers.tokens`), re-exported so that the
splitter and the lexical judge use exactly the tokens the reconstruction check uses. `word_tokens`,
`numbers`, `lexical_tokens` and `is_negated` are this module's own for the lexical heuristic: digits
of any script are read as ASCII digits, thousands separators are joined ("1,000" = "1000") and a
number keeps its sign ("-5" differs from "5"). `segments` splits text into sentence and clause spans
in time linear in the text's length, cutting only at whitespace or after a CJK sentence mark, so
every content token of the text lies inside one span. No model, no randomness.
"""

from __future__ import annotations

import re
import unicodedata

from certifiers.tokens import NEGATIONS, content_tokens

__all__ = [
    "NEGATIONS",
    "content_tokens",
    "is_negated",
    "lexical_tokens",
    "numbers",
    "segments",
    "word_tokens",
]

_TOKEN = re.compile(r"(?:(?<![^\s(\[])-)?\d+(?:[.,]\d+)*|[^\W_]+")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*\Z")
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]|\.\d)")
_NON_ASCII_DIGIT = re.compile(r"[^\x00-\x7f]")

# abbreviations that never end a sentence (a title or a Latin connective precedes more text)
_TITLE_TEXT = "dr mr mrs ms prof sr jr st mt vs cf approx ca resp e.g i.e"
# abbreviations that may end a sentence (units, months, "No.", "etc."): they end one when the next
# word starts with an uppercase letter ("325 mg. Aspirin"), not before a digit or a lowercase word
_ABBREVIATION_TEXT = """
etc fig figs no nos vol ed eds inc ltd co corp dept est jan feb mar apr jun jul aug sep sept oct
nov dec al min max mg mcg ml kg km cm mm g lb lbs oz hr hrs sec
"""
TITLE_ABBREVIATIONS = frozenset(_TITLE_TEXT.split())
ABBREVIATIONS = frozenset(_ABBREVIATION_TEXT.split())

_CLOSERS = "\"')\\]\u00bb\u201d\u2019\u300d\u300f\uff09"
_BOUNDARY = re.compile(
    rf"(?<![.!?])[.!?]++(?:[{_CLOSERS}]|[ \u00a0\u202f]+\u00bb)*+(?=\s)"
    rf"|(?<![\u3002\uff01\uff1f\uff61])[\u3002\uff01\uff1f\uff61]++[{_CLOSERS}]*+"
    r"|;(?=\s)|\n\s*\n|\n(?=\s*(?:[-*\u2022]|\d+[.)])\s)"
)
_CLAUSE = re.compile(r",\s+(?=(?:but|whereas|while|although|though|however)\b)")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_ENUMERATOR = re.compile(r"\A\s*(?:[-*\u2022]\s*)?\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]\Z")
_NEXT = re.compile(r"\s*(\S)")
_NON_SPACE = re.compile(r"\S")
#: characters looked back from a period for the word before it (longer words are no abbreviation)
_WORD_WINDOW = 40
#: longest sentence prefix that can be a list enumerator such as "- (iv)."
_ENUMERATOR_WINDOW = 16


def _ascii_digit(match: re.Match[str]) -> str:
    char = match.group()
    digit = unicodedata.digit(char, None)
    return char if digit is None else str(digit)


def _fold(text: str) -> str:
    """NFKC, casefold, digits of every script as ASCII digits, the minus sign as `-`."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("\u2212", "-")
    if folded.isascii():
        return folded
    return _NON_ASCII_DIGIT.sub(_ascii_digit, folded)


def normalize_number(token: str) -> str:
    """Canonical text of a number token: no thousands commas, no leading/trailing zeros."""
    sign = "-" if token.startswith("-") else ""
    token = token.removeprefix("-")
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", token):
        token = token.replace(",", "")
    if re.fullmatch(r"\d+\.\d+", token):
        whole, frac = token.split(".")
        whole = whole.lstrip("0") or "0"
        frac = frac.rstrip("0")
        token = f"{whole}.{frac}" if frac else whole
    elif token.isdigit():
        token = token.lstrip("0") or "0"
    return token if token.strip("0.") == "" else sign + token


def word_tokens(text: str) -> list[str]:
    """All tokens (stopwords kept), NFKC-normalized and casefolded; numbers normalized."""
    tokens = []
    for match in _TOKEN.finditer(_fold(text)):
        token = match.group()
        tokens.append(normalize_number(token) if _NUMBER.match(token) else token)
    return tokens


def numbers(text: str) -> frozenset[str]:
    """Normalized number tokens of `text`, signed ("-5"), thousands joined, any script's digits."""
    return frozenset(t for t in word_tokens(text) if _NUMBER.match(t))


def lexical_tokens(text: str) -> frozenset[str]:
    """`content_tokens` after folding digits to ASCII and joining thousands ("1,000" -> "1000").

    The certifiers' tokens split "1,000" into "1" and "0" (SPEC 5.1); the lexical heuristic compares
    numbers as `numbers` reads them, so it uses this folded variant for its word overlap.
    """
    folded = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), _fold(text))
    return content_tokens(folded)


def is_negated(text: str) -> bool:
    """Whether `text` has a negation word or an `n't` contraction (parity is not considered)."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return "n't" in folded or any(t in NEGATIONS for t in word_tokens(folded))


def _last_word(text: str, start: int, mark_start: int) -> str | None:
    """The whitespace-delimited word ending at `mark_start`; None when longer than the window."""
    low = max(start, mark_start - _WORD_WINDOW)
    window = text[low:mark_start]
    words = window.split()
    if not words or window[-1].isspace():
        return ""
    truncated = low > start and not window[0].isspace() and not text[low - 1].isspace()
    if len(words) == 1 and truncated:
        return None
    return words[-1]


def _is_false_boundary(text: str, start: int, mark_start: int, mark: str) -> bool:
    """Whether the `.` at `mark_start` does not end the sentence that starts at `start`.

    `start` is the sentence's first non-space character. Work per mark is bounded by the two
    windows, so a whole text costs time linear in its length.
    """
    if mark != ".":
        return False
    after = _NEXT.match(text, mark_start + 1)
    following = after.group(1) if after is not None else ""
    word = _last_word(text, start, mark_start)
    if word is not None:
        last = word.lstrip("(\"'").casefold()
        if last in TITLE_ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            return True
        if _DOTTED.fullmatch(last):
            return True
        if last in ABBREVIATIONS and not following.isupper():
            return True
    if mark_start + 1 - start <= _ENUMERATOR_WINDOW and _ENUMERATOR.match(
        text[start : mark_start + 1]
    ):
        return True
    return following.islower()


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end or not any(ch.isalnum() for ch in text[start:end]):
        return None
    return (start, end)


def _sentence_start(text: str, position: int) -> int:
    found = _NON_SPACE.search(text, position)
    return len(text) if found is None else found.start()


def segments(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences and clauses of `text`, in order, whitespace trimmed.

    Boundaries: `.`, `!`, `?` (with closing quotes/brackets/guillemets) before whitespace, except
    after a title abbreviation (`Dr.`, `e.g.`), an initial, a list enumerator, before a lowercase
    word, or after a unit/other abbreviation (`mg.`, `No.`) unless the next word is capitalised;
    the CJK marks U+3002, U+FF01, U+FF1F (no whitespace needed); `;`; blank lines and list
    items; and `, but` / `, whereas` style clause joints. Spans without letters or digits are
    dropped, so every content token of `text` lies in exactly one span. Time is linear in
    `len(text)`.
    """
    cuts: list[int] = []
    start = _sentence_start(text, 0)
    for match in _BOUNDARY.finditer(text):
        mark = match.group()[0]
        if match.start() < start:
            continue
        if mark == "." and _is_false_boundary(text, start, match.start(), mark):
            continue
        cuts.append(match.end())
        start = _sentence_start(text, match.end())
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
