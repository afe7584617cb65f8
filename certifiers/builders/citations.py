"""Per-claim citations derived from a bundle's grounding certificate (issue 14; SPEC 5.1, 5.7).

For every decomposed claim, in answer order: its text and span, its status (paper Def. 5.2, as
certified), whether enforce emits it (accept: every claim; downgrade with dropped claims: the MCR's
kept claims; reject: none) and the evidence ids behind the status: `supporting` are the chunks
whose repaired sigma+ reaches θ_g, `contradicting` those whose sigma- reaches θ_c, best score
first, ties by evidence order. Under `concat` aggregation all chunks were judged as one premise, so
a claim that reaches a threshold cites every chunk (in evidence order) and `aggregation` says so.
Under `joint`, a claim cites its per-chunk hits; only when no chunk alone reaches the threshold but
the joint column does, it cites the chunks judged together (pre-filter order; evidence order
without one). A
pure function of the bundle: no new certificate field, nothing decided here;
`certifiers.verification.citations` re-derives the same list without importing this module.
"""

from __future__ import annotations

from fractions import Fraction

from certifiers.builders.grounding import repaired_cell
from certifiers.types import Aggregation, Bundle, Frozen, GroundingCertificate, Status

__all__ = ["Citations", "ClaimCitation", "claim_citations", "emitted_claims", "to_wire"]


class ClaimCitation(Frozen, frozen=True, kw_only=True):
    """One claim as a reader sees it: status, emission and the evidence ids behind the status."""

    index: int
    text: str
    span: tuple[int, int] | None
    status: Status
    emitted: bool
    supporting: tuple[str, ...]
    contradicting: tuple[str, ...]


class Citations(Frozen, frozen=True, kw_only=True):
    """Every claim's citation in answer order; `aggregation` None when nothing was grounded."""

    aggregation: Aggregation | None
    claims: tuple[ClaimCitation, ...]


def answer_order(bundle: Bundle) -> tuple[int, ...]:
    """Claim indices by span start (then index) when every claim has a span, else by index."""
    claims = bundle.certificates.decomposition.claims
    starts = [claim.span[0] for claim in claims if claim.span is not None]
    if len(starts) == len(claims):
        return tuple(sorted(range(len(claims)), key=lambda i: (starts[i], i)))
    return tuple(range(len(claims)))


def emitted_claims(bundle: Bundle) -> frozenset[int]:
    """The claims enforce emits under the bundle's policy decision (`proxy.assurance.emit`)."""
    certs = bundle.certificates
    everything = frozenset(range(len(certs.decomposition.claims)))
    decision = bundle.policy_decision.decision
    if decision == "reject":
        return frozenset()
    if decision == "downgrade" and certs.residue is not None and certs.residue.dropped:
        return frozenset(certs.residue.kept)
    return everything


def _ranked(scores: list[tuple[Fraction, int]], threshold: Fraction) -> tuple[int, ...]:
    """Chunk indices whose score reaches the threshold, best first, ties by chunk index."""
    return tuple(j for score, j in sorted((-s, j) for s, j in scores if s >= threshold))


def _cited(
    grounding: GroundingCertificate, row: int, evidence_ids: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    support = grounding.support
    chunks = len(evidence_ids)
    cells = [
        repaired_cell(e, c, support.scale)
        for e, c in zip(support.entail[row], support.contradict[row], strict=True)
    ]
    plus = _ranked([(cell[0], j) for j, cell in enumerate(cells)], grounding.thresholds.theta_g)
    minus = _ranked([(cell[1], j) for j, cell in enumerate(cells)], grounding.thresholds.theta_c)
    if support.aggregation == "concat":
        # one premise made of every chunk: a judgment reaching the threshold cites them all
        return (evidence_ids if plus else ()), (evidence_ids if minus else ())
    if support.aggregation == "joint":
        pre = support.prefilter
        together = tuple(pre.judged[row]) if pre is not None else tuple(range(chunks))
        return _with_joint(plus, together, chunks, evidence_ids), _with_joint(
            minus, together, chunks, evidence_ids
        )
    return tuple(evidence_ids[j] for j in plus), tuple(evidence_ids[j] for j in minus)


def _with_joint(
    ranked: tuple[int, ...], together: tuple[int, ...], chunks: int, ids: tuple[str, ...]
) -> tuple[str, ...]:
    """Per-chunk hits; with none, the joined chunks when the joint column (`chunks`) is a hit."""
    cited = [j for j in ranked if j < chunks]
    if not cited and chunks in ranked:
        cited = [j for j in together if 0 <= j < chunks]
    return tuple(ids[j] for j in cited)


def claim_citations(bundle: Bundle) -> Citations:
    """The per-claim citations of a bundle (see the module docstring)."""
    certs = bundle.certificates
    claims = certs.decomposition.claims
    grounding = certs.grounding
    evidence_ids = tuple(ref.id for ref in certs.context.evidence)
    emitted = emitted_claims(bundle)
    entries: list[ClaimCitation] = []
    for i in answer_order(bundle):
        status: Status = "unknown"
        supporting: tuple[str, ...] = ()
        contradicting: tuple[str, ...] = ()
        if grounding is not None:
            status = grounding.statuses[i]
            supporting, contradicting = _cited(grounding, i, evidence_ids)
        entries.append(
            ClaimCitation(
                index=i,
                text=claims[i].text,
                span=claims[i].span,
                status=status,
                emitted=i in emitted,
                supporting=supporting,
                contradicting=contradicting,
            )
        )
    aggregation = grounding.support.aggregation if grounding is not None else None
    return Citations(aggregation=aggregation, claims=tuple(entries))


def to_wire(citations: Citations) -> list[dict[str, object]]:
    """The `assurance.claims` JSON list (spans as `[start, end]`, ids as lists)."""
    return [
        {
            "index": c.index,
            "text": c.text,
            "span": list(c.span) if c.span is not None else None,
            "status": c.status,
            "emitted": c.emitted,
            "supporting": list(c.supporting),
            "contradicting": list(c.contradicting),
        }
        for c in citations.claims
    ]
