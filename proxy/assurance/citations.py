"""The response's per-claim citations: `assurance.claims` and the inline-cited text (issue 14).

Copies what `certifiers.builders.citations` derives from a certified bundle into the wire shape
shared by every route that carries an `assurance` object (chat completions here; Responses and
Messages attach the same `claims_field`). Enforce's inline `[id]` markers are not rendered here:
they are part of the bundle's `emission.text` (`context.citations` = "inline"), which enforce emits.
In enforce a claim that was not emitted keeps its status, span and ids but its text is withheld
(`"text": null`): enforce never shows dropped text. It computes no certificate field and decides
nothing: the ids, statuses and emission flags are the certifiers', and `assurance verify --response`
re-derives them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from certifiers.builders.citations import claim_citations, to_wire
from certifiers.types import Bundle
from proxy.assurance.headers import CardSummary

CONCAT_NOTE = (
    "concat aggregation: every chunk was judged as one premise, so a claim that reaches a"
    " threshold cites all chunks"
)


JOINT_NOTE = (
    "joint aggregation: each claim was also judged against its chunks taken together; when only"
    " that judgment reaches a threshold, the claim cites every chunk of it"
)


def citations_meta(aggregation: str | None, *, inline: bool) -> dict[str, Any]:
    """`assurance.citations`: the NLI aggregation behind the ids and whether markers are inline."""
    meta: dict[str, Any] = {"aggregation": aggregation, "inline": inline}
    if aggregation == "concat":
        meta["note"] = CONCAT_NOTE
    elif aggregation == "joint":
        meta["note"] = JOINT_NOTE
    return meta


def claims_field(bundle: Bundle, *, inline: bool = False) -> dict[str, Any]:
    """`{"claims": [...], "citations": {...}}` for a response's `assurance` object."""
    citations = claim_citations(bundle)
    return {
        "claims": to_wire(citations),
        "citations": citations_meta(citations.aggregation, inline=inline),
    }


def enforce_summary(summary: CardSummary, *, inline: bool) -> CardSummary:
    """The summary as enforce sends it: claims it did not emit lose their text (never shown)."""
    return replace(summary, inline_citations=inline, withhold_dropped_text=True)
