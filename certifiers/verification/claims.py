"""Independent re-derivation of the per-claim citations and the inline-cited text (issue 14).

Without the builders: per claim (answer order: span start then index when every claim has a
span, else index) the repaired sigma+/sigma- of every cell (SPEC 4.1), the chunks reaching θ_g /
θ_c (best first, ties by evidence order; every chunk under `concat`; under `joint`, the chunks
judged together when only the joint column reaches it), the status *from those
lists* (Def. 5.2) and emission from the policy decision and residue. `cited_ids` feeds the
verifier's re-derivation of `Bundle.emission` when `context.citations` is "inline"
(`certifiers.verification.run`); `certifiers.verification.citations` checks responses with it.
Imports nothing from `certifiers.verify`, so the bundle check itself can use it.
"""

from __future__ import annotations

from fractions import Fraction

from certifiers.render import cited_answer
from certifiers.types import Bundle, Status

__all__ = ["Wire", "cited_ids", "derive_claims", "derive_inline"]

Wire = dict[str, object]


def _sigma(entail: int, contradict: int, scale: int) -> tuple[Fraction, Fraction]:
    """SPEC 4.1: (e/scale, c/scale) when e + c <= scale, else rescaled (e/(e+c), c/(e+c))."""
    denominator = max(scale, entail + contradict)
    return Fraction(entail, denominator), Fraction(contradict, denominator)


def _status(supported: bool, refuted: bool) -> Status:
    if supported:
        return "contested" if refuted else "supported"
    return "contradicted" if refuted else "unknown"


def _order(bundle: Bundle) -> list[int]:
    claims = bundle.certificates.decomposition.claims
    keyed = [(c.span[0], i) for i, c in enumerate(claims) if c.span is not None]
    if len(keyed) == len(claims):
        return [i for _, i in sorted(keyed)]
    return list(range(len(claims)))


def _joint_ids(hits: list[int], together: list[int], ids: list[str]) -> list[str]:
    """Chunk hits; with none, a hit on the joint column (index len(ids)) cites the joined chunks."""
    out = [j for j in hits if j < len(ids)]
    if not out and len(ids) in hits:
        out = [j for j in together if 0 <= j < len(ids)]
    return [ids[j] for j in out]


def _emitted(bundle: Bundle) -> set[int]:
    certs = bundle.certificates
    if bundle.policy_decision.decision == "reject":
        return set()
    residue = certs.residue
    if bundle.policy_decision.decision == "downgrade" and residue is not None and residue.dropped:
        return set(residue.kept)
    return set(range(len(certs.decomposition.claims)))


def derive_claims(bundle: Bundle) -> list[Wire]:
    """The `assurance.claims` list a verified bundle implies (the wire form, JSON-ready)."""
    certs = bundle.certificates
    ids = [ref.id for ref in certs.context.evidence]
    grounding = certs.grounding
    emitted = _emitted(bundle)
    out: list[Wire] = []
    for i in _order(bundle):
        claim = certs.decomposition.claims[i]
        supporting: list[str] = []
        contradicting: list[str] = []
        if grounding is not None:
            support, theta = grounding.support, grounding.thresholds
            cells = [
                _sigma(e, c, support.scale)
                for e, c in zip(support.entail[i], support.contradict[i], strict=True)
            ]
            plus = sorted((-p, j) for j, (p, _) in enumerate(cells) if p >= theta.theta_g)
            minus = sorted((-m, j) for j, (_, m) in enumerate(cells) if m >= theta.theta_c)
            if support.aggregation == "concat":
                supporting = list(ids) if plus else []
                contradicting = list(ids) if minus else []
            elif support.aggregation == "joint":
                pre = support.prefilter
                judged = pre.judged[i] if pre is not None and i < len(pre.judged) else None
                together = list(range(len(ids))) if judged is None else list(judged)
                supporting = _joint_ids([j for _, j in plus], together, ids)
                contradicting = _joint_ids([j for _, j in minus], together, ids)
            else:
                supporting = [ids[j] for _, j in plus]
                contradicting = [ids[j] for _, j in minus]
        out.append(
            {
                "index": i,
                "text": claim.text,
                "span": list(claim.span) if claim.span is not None else None,
                "status": _status(bool(supporting), bool(contradicting)),
                "emitted": i in emitted,
                "supporting": supporting,
                "contradicting": contradicting,
            }
        )
    return out


def cited_ids(bundle: Bundle) -> dict[int, list[str]]:
    """Each claim's supporting evidence ids, as `derive_claims` derives them."""
    cited: dict[int, list[str]] = {}
    for entry in derive_claims(bundle):
        index, supporting = entry["index"], entry["supporting"]
        if isinstance(index, int) and isinstance(supporting, list):
            cited[index] = [str(chunk) for chunk in supporting]
    return cited


def derive_inline(bundle: Bundle) -> str | None:
    """The inline-cited emitted text (None on reject: the abstention carries no claims)."""
    decision = bundle.policy_decision.decision
    if decision == "reject":
        return None
    cited = cited_ids(bundle)
    emitted = _emitted(bundle)
    residue = bundle.certificates.residue
    whole = not (decision == "downgrade" and residue is not None and residue.dropped)
    return cited_answer(
        bundle.certificates.decomposition,
        emitted,
        cited,
        [ref.id for ref in bundle.certificates.context.evidence],
        whole_answer=whole,
    )
