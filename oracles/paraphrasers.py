"""Paraphraser adapters: text -> (G_inv, G_sig) variant families (ParaphraseOracle), and client
families.

`RulesParaphraser` (`rules`) is deterministic. G_inv: lower-cased, whitespace-doubled, trailing
punctuation removed or changed, and one variant per synonym swap from a small built-in table. G_sig:
negation added or removed, a named entity swapped (another capitalised word of the text, or a fixed
stand-in), a number changed to a different value. A G_sig variant that equals the input or a G_inv
variant up to `oracles.text.word_tokens` (case, punctuation, spacing, number spelling) is dropped,
so G_sig never holds a meaning-preserving edit the rules can detect; blank text has empty families.
Auxiliaries are negated only in lower case or capitalised before a lowercase word ("May 2020", "Will
Smith" are names), and all-caps words count as entities only in mixed-case text. `LLMParaphraser`
(`llm`) asks an upstream model for JSON lists. `with_declared` lets client-declared families
(request field `assurance.perturbations`) take precedence over generated ones. Whether a
"meaning-preserving" variant really preserves meaning is the declared assumption, not something
checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

import msgspec

from oracles.calls import ask_json
from oracles.errors import OracleOutputError
from oracles.prompts import PROMPT_VERSION, paraphrase_messages
from oracles.protocols import ChatClient, Paraphraser
from oracles.text import word_tokens
from oracles.transcript import digest_call
from oracles.types import Paraphrases

RULES_VERSION = "oracles.paraphrasers.rules/2"

SYNONYMS: dict[str, str] = {
    "big": "large",
    "large": "big",
    "small": "little",
    "quick": "fast",
    "fast": "quick",
    "begin": "start",
    "start": "begin",
    "buy": "purchase",
    "purchase": "buy",
    "help": "assist",
    "show": "display",
    "use": "utilize",
    "answer": "reply",
    "car": "automobile",
    "doctor": "physician",
    "physician": "doctor",
    "medicine": "medication",
    "medication": "medicine",
    "dose": "dosage",
    "dosage": "dose",
    "safe": "harmless",
    "about": "regarding",
    "get": "obtain",
    "need": "require",
    "tell": "inform",
    "explain": "describe",
    "happy": "glad",
    "maybe": "perhaps",
    "often": "frequently",
}
AUXILIARIES = (
    "is",
    "are",
    "was",
    "were",
    "can",
    "could",
    "does",
    "do",
    "did",
    "should",
    "will",
    "would",
    "has",
    "have",
    "had",
    "may",
    "must",
)
STAND_IN_ENTITY = "Atlantis"

_WORD = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_AUX_WORDS = "|".join(AUXILIARIES)
_CAPITALISED_AUX = "|".join(aux.capitalize() for aux in AUXILIARIES)
# lower-case auxiliaries anywhere; a capitalised one only before a lower-case word ("Is it ...")
_AUX_TEXT = rf"\b(?:(?:{_AUX_WORDS})|(?:{_CAPITALISED_AUX})(?=\s+[a-z]))\b"
_NEGATED_AUX = re.compile(rf"({_AUX_TEXT}) not\b")
_AUX = re.compile(rf"({_AUX_TEXT})")
_TITLE_ENTITY = re.compile(r"(?<=[^\s.!?]\s)[A-Z][a-z]+")
_CAPS_ENTITY = re.compile(r"(?<=[^\s.!?] )[A-Z]{2,}\b")


def _unique(original: str, variants: Sequence[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for variant in variants:
        if variant != original and variant.strip() and variant not in seen:
            seen.append(variant)
    return tuple(seen)


def _normal(text: str) -> tuple[str, ...]:
    """Text up to case, punctuation, spacing and number spelling ("0.0" = "0")."""
    return tuple(word_tokens(text))


def _entities(text: str) -> list[str]:
    found = [m.group() for m in _TITLE_ENTITY.finditer(text)]
    if any(ch.islower() for ch in text):
        found += [
            m.group() for m in _CAPS_ENTITY.finditer(text) if m.group().lower() not in AUXILIARIES
        ]
    return list(dict.fromkeys(found))


def _changed_number(value: str) -> str:
    """A different value: n -> 10n + 1 for integers, x -> 10x for decimals, 0.0 -> 1."""
    if value.isdigit():
        return str(int(value) * 10 + 1)
    number = Decimal(value)
    return "1" if number == 0 else f"{number * 10:f}"


def invariant_variants(text: str) -> tuple[str, ...]:
    """G_inv: surface edits plus synonym swaps (each swap applied to the first occurrence)."""
    if not text.strip():
        return ()
    stripped = text.strip()
    variants = [text.lower(), " ".join(text.split()).replace(" ", "  ")]
    variants.append(
        stripped[:-1] if stripped[-1:] in ".?!" else stripped + ("?" if "?" in text else ".")
    )
    for match in _WORD.finditer(text):
        replacement = SYNONYMS.get(match.group().lower())
        if replacement is not None:
            if match.group()[0].isupper():
                replacement = replacement.capitalize()
            variants.append(text[: match.start()] + replacement + text[match.end() :])
    return _unique(text, variants)


def significant_variants(text: str, invariant: Iterable[str] = ()) -> tuple[str, ...]:
    """G_sig: negation toggled, an entity swapped, a number changed.

    Variants equal (up to `_normal`) to `text` or to one of `invariant` are left out.
    """
    if not text.strip():
        return ()
    variants: list[str] = []
    negated = _NEGATED_AUX.search(text)
    if negated is not None:
        variants.append(text[: negated.start()] + negated.group(1) + text[negated.end() :])
    elif (aux := _AUX.search(text)) is not None:
        variants.append(text[: aux.end()] + " not" + text[aux.end() :])
    else:
        variants.append("It is not the case that " + text.strip())
    entities = _entities(text)
    for entity in entities[:2]:
        other = next((e for e in entities if e != entity), STAND_IN_ENTITY)
        variants.append(re.sub(rf"\b{re.escape(entity)}\b", other, text))
    number = _NUMBER.search(text)
    if number is not None:
        changed = _changed_number(number.group())
        variants.append(text[: number.start()] + changed + text[number.end() :])
    same = {_normal(text), *(_normal(variant) for variant in invariant)}
    return tuple(v for v in _unique(text, variants) if _normal(v) not in same)


class RulesParaphraser:
    """Deterministic rule-based variants (`[oracles.paraphraser] kind = "rules"`)."""

    adapter = "rules"
    model = RULES_VERSION

    async def paraphrase(self, text: str) -> Paraphrases:
        """Both families of `text` by the built-in rules."""
        invariant = invariant_variants(text)
        significant = significant_variants(text, invariant)
        digest = digest_call(
            oracle="paraphraser",
            adapter=self.adapter,
            model=self.model,
            inputs={"text": text},
            outputs={"invariant": invariant, "significant": significant},
        )
        return Paraphrases(
            invariant=invariant,
            significant=significant,
            adapter=self.adapter,
            model=self.model,
            digest=digest,
        )


class _ParaphrasesOut(msgspec.Struct, forbid_unknown_fields=True):
    invariant: list[str]
    significant: list[str]


class LLMParaphraser:
    """Variants generated by an upstream chat model (`kind = "llm"`, `upstream`, `model`)."""

    adapter = "llm"

    def __init__(self, client: ChatClient, *, model: str, upstream: str, timeout_s: float) -> None:
        self.model = model
        self._client = client
        self._upstream = upstream
        self._timeout_s = timeout_s
        self._oracle = "paraphraser:llm"

    async def paraphrase(self, text: str) -> Paraphrases:
        """Ask for both families; empty or blank variants are an output error."""
        messages = paraphrase_messages(text)
        reply, out = await ask_json(
            self._oracle,
            self._client,
            model=self.model,
            messages=messages,
            timeout_s=self._timeout_s,
            schema=_ParaphrasesOut,
        )
        for family, values in (("invariant", out.invariant), ("significant", out.significant)):
            if not values or any(not v.strip() for v in values):
                raise OracleOutputError(
                    self._oracle, f"expected a non-empty list of non-blank strings - at $.{family}"
                )
        digest = digest_call(
            oracle="paraphraser",
            adapter=self.adapter,
            model=self.model,
            model_version=f"upstream={self._upstream};{PROMPT_VERSION}",
            inputs={"text": text, "messages": messages},
            outputs={"reply": reply, "invariant": out.invariant, "significant": out.significant},
        )
        return Paraphrases(
            invariant=tuple(out.invariant),
            significant=tuple(out.significant),
            adapter=self.adapter,
            model=self.model,
            digest=digest,
        )


async def with_declared(
    paraphraser: Paraphraser,
    text: str,
    *,
    invariant: Sequence[str] | None = None,
    significant: Sequence[str] | None = None,
) -> Paraphrases:
    """Variant families with client-declared ones taking precedence over generated ones.

    Both declared: the oracle is not called (adapter `client`). One declared: the oracle fills the
    other family and the adapter reads e.g. `client+rules`. None: the oracle's answer unchanged.
    """
    if invariant is None and significant is None:
        return await paraphraser.paraphrase(text)
    generated = None
    if invariant is None or significant is None:
        generated = await paraphraser.paraphrase(text)
    inv = tuple(invariant) if invariant is not None else generated.invariant if generated else ()
    sig = (
        tuple(significant)
        if significant is not None
        else generated.significant
        if generated
        else ()
    )
    adapter = "client" if generated is None else f"client+{generated.adapter}"
    model = "client" if generated is None else generated.model
    digest = digest_call(
        oracle="paraphraser",
        adapter=adapter,
        model=model,
        inputs={
            "text": text,
            "declared_invariant": invariant is not None,
            "declared_significant": significant is not None,
            "generated_digest": generated.digest if generated else None,
        },
        outputs={"invariant": inv, "significant": sig},
    )
    return Paraphrases(invariant=inv, significant=sig, adapter=adapter, model=model, digest=digest)
