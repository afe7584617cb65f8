"""Deterministic rendering for enforce mode (SPEC 5.7): residue answer, abstention message.

`residue_answer` renders the MCR's kept claims from their *certified claim texts* (the texts the
NLI judged), in answer order; a span only orders claims, its content is never emitted, so a span
that covers a dropped claim's words cannot smuggle them out (issue 9 §1). `cited_answer` adds
inline `[id]` citation markers after each emitted claim (the ids come from the caller's own
citation derivation; a downgrade renders the kept claims' own texts, as the residue does).
`abstention_reasons` / `abstention_message` state why nothing was emitted, in machine-readable
form. `emission_of` is the one rule for what enforce emits (accept: the answer; downgrade that
dropped a claim: the residue; reject: the abstention; with the inline markers when the bundle's
citation mode is inline); builder and verifier both derive `Bundle.emission` with it. No policy
decision is made here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Literal

from certifiers.canonical import encode_canonical
from certifiers.types import Abstain, Card, Decomposition, Emission, PolicyDecision

ABSTENTION_PREFIX = "No certified answer can be given. Reasons: "


def residue_answer(decomposition: Decomposition, kept: Sequence[int]) -> str:
    """The kept claims' texts joined by spaces, in answer order (span start, then claim index)."""
    claims = decomposition.claims

    def position(index: int) -> tuple[int, int]:
        span = claims[index].span
        return (span[0] if span is not None else -1, index)

    unique = set(kept)
    spanned = all(claims[i].span is not None for i in unique)
    ordered = sorted(unique, key=position) if spanned else sorted(unique)
    return " ".join(text for text in (claims[i].text.strip() for i in ordered) if text)


def abstention_reasons(card: Card, decision: PolicyDecision | None = None) -> tuple[str, ...]:
    """Machine-readable reasons: the abstain verdict's reasons, then the policy's failures."""
    reasons: list[str] = []
    if isinstance(card.verdict, Abstain):
        reasons += [f"verdict: {reason}" for reason in card.verdict.reasons]
    if decision is not None:
        reasons += [f"policy: {failure}" for failure in decision.failures]
    if not reasons:
        reasons.append("policy: answer not accepted")
    return tuple(reasons)


def abstention_message(card: Card, decision: PolicyDecision | None = None) -> str:
    """A fixed sentence followed by the reasons as a JSON array (parseable by clients)."""
    reasons = abstention_reasons(card, decision)
    return ABSTENTION_PREFIX + encode_canonical(list(reasons)).decode()


def candidate_text(decomposition: Decomposition, kept: Sequence[int], dropped: bool) -> str:
    """The text emitted unless the policy rejects: the residue when a claim was dropped, else the
    whole answer. Forbidden patterns are checked against it (card `forbidden_check_pass`), not
    only against single claims."""
    return residue_answer(decomposition, kept) if dropped else decomposition.answer


def emission_of(
    decomposition: Decomposition,
    kept: Sequence[int],
    dropped: bool,
    card: Card,
    decision: PolicyDecision,
    *,
    cited: Mapping[int, Sequence[str]] | None = None,
    evidence_ids: Sequence[str] = (),
) -> Emission:
    """SPEC 5.7: the text enforce mode emits (see the module docstring). `kept` / `dropped` are
    the residue's kept claims and whether it dropped any (the verifier passes recomputed ones).

    `cited` (inline citation mode: each claim's supporting evidence ids, derived by the caller)
    renders the emitted claims with `[id]` markers through `cited_answer` (not on reject, nor
    without claims); `evidence_ids` is the bundle's evidence order for `[#N]` labels.
    """
    if decision.decision == "reject":
        return Emission(kind="abstention", text=abstention_message(card, decision))
    residue = decision.decision == "downgrade" and dropped
    kind: Literal["answer", "residue"] = "residue" if residue else "answer"
    if cited is not None and decomposition.claims:
        emitted = set(kept) if residue else set(range(len(decomposition.claims)))
        text = cited_answer(decomposition, emitted, cited, evidence_ids, whole_answer=not residue)
        return Emission(kind=kind, text=text, inline=True)
    if residue:
        return Emission(kind="residue", text=residue_answer(decomposition, kept))
    return Emission(kind="answer", text=decomposition.answer)


# --- inline citation markers (issue 14) ----------------------------------------------------------

#: evidence ids shown verbatim in a marker; any other id is shown as `#N` (its 1-based position)
_MARKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,63}")


def citation_marker(cited: Sequence[str], evidence_ids: Sequence[str]) -> str:
    """`[id]` per cited chunk, in the given order; ids outside a safe alphabet become `[#N]`.

    Evidence ids come from clients and from tool-call ids a model chose: they never reach the
    emitted text unless they are short plain identifiers, so a marker cannot smuggle in prose.
    """
    labels: list[str] = []
    for chunk_id in cited:
        if _MARKER_ID.fullmatch(chunk_id):
            labels.append(chunk_id)
        else:
            labels.append(f"#{list(evidence_ids).index(chunk_id) + 1}")
    return "".join(f"[{label}]" for label in labels)


def _disjoint_spans(decomposition: Decomposition) -> list[tuple[int, int, int]] | None:
    """(start, end, claim) sorted by start when every claim has a span and none overlap."""
    spans = [(c.span[0], c.span[1], i) for i, c in enumerate(decomposition.claims) if c.span]
    if len(spans) != len(decomposition.claims):
        return None
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            return None
    return spans


def cited_answer(
    decomposition: Decomposition,
    emitted: Collection[int],
    cited: Mapping[int, Sequence[str]],
    evidence_ids: Sequence[str],
    *,
    whole_answer: bool,
) -> str:
    """The emitted text with `[id]` markers after each emitted claim that cites evidence.

    `whole_answer` (policy accept): the answer itself, a marker inserted after each claim's span
    (trailing whitespace kept after the marker) when every claim has a span and none overlap.
    Otherwise (a downgrade, or no usable spans): the emitted claims' own texts in answer order
    (span start, then index; claim index without spans), each followed by its marker, joined by
    spaces. Claims citing nothing get no marker.
    """
    claims = decomposition.claims
    spans = _disjoint_spans(decomposition)
    if whole_answer and spans is not None:
        answer = decomposition.answer
        pieces: list[str] = []
        position = 0
        for start, end, index in spans:
            marker = citation_marker(cited.get(index, ()), evidence_ids)
            if index not in emitted or not marker:
                continue
            cut = start + len(answer[start:end].rstrip())
            pieces += [answer[position:cut], " ", marker]
            position = cut
        return "".join([*pieces, answer[position:]])
    order = [i for _, _, i in spans] if spans is not None else list(range(len(claims)))
    parts: list[str] = []
    for index in order:
        text = claims[index].text.strip()
        if index not in emitted or not text:
            continue
        marker = citation_marker(cited.get(index, ()), evidence_ids)
        parts.append(f"{text} {marker}" if marker else text)
    return " ".join(parts)
