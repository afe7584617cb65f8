"""One table of negation and sign cases shared by the core and oracle tokenizer tests (issue 9).

Each row: a text, whether it is negated, and the signed numbers it contains. The certifiers'
`content_tokens` and `oracles.text` (`is_negated`, `numbers`) must both agree with every row, so the
reconstruction check and the lexical judge read negation and sign the same way.
"""

from __future__ import annotations

#: (text, negated, signed numbers)
TABLE: tuple[tuple[str, bool, frozenset[str]], ...] = (
    ("The drug is safe.", False, frozenset()),
    ("The drug is not safe.", True, frozenset()),
    ("The drug isn't safe.", True, frozenset()),
    ("The drug isn\u2019t safe.", True, frozenset()),
    ("It can't be given.", True, frozenset()),
    ("It cannot be given.", True, frozenset()),
    ("It won't help.", True, frozenset()),
    ("No dose is needed.", True, frozenset()),
    ("It is never given.", True, frozenset()),
    ("None of them work.", True, frozenset()),
    ("Neither works, nor helps.", True, frozenset()),
    ("Given without food.", True, frozenset()),
    ("Nobody knows; nothing helps.", True, frozenset()),
    ("The balance is -5 dollars.", False, frozenset({"-5"})),
    ("The balance is \u22125 dollars.", False, frozenset({"-5"})),
    ("The balance is 5 dollars.", False, frozenset({"5"})),
    ("It fell (-2.50) today.", False, frozenset({"-2.5"})),
    ("Take 5-6 tablets.", False, frozenset({"5", "6"})),
    ("COVID-19 spread.", False, frozenset({"19"})),
)
