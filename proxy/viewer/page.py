"""Render a bundle as one self-contained HTML page for auditors and end users (issue 14).

`card_page(bundle_bytes)` re-verifies the bundle now (`certifiers.verify.check_bundle`), derives the
per-claim citations independently (`certifiers.verification.citations`) and writes: the verdict and
policy decision on top, the answer with each claim marked by status (dropped claims struck through
with the reason), the claims with their evidence ids and scores, the evidence chunks (ids, sources,
age), the tool-call audit, the stability figures and the digests, signature and verification
result. Every bundle string is treated as hostile and HTML-escaped; the page has no script, font or
remote reference and carries a Content-Security-Policy that forbids loading anything. Status is
always written out in words (colour only repeats it). It computes no certificate field.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Collection, Iterable
from fractions import Fraction
from html import escape

from certifiers.builders.citations import ClaimCitation, claim_citations
from certifiers.bundle import card_digest, decode_bundle
from certifiers.canonical import encode_canonical
from certifiers.errors import BundleFormatError
from certifiers.rational import format_rational
from certifiers.types import Abstain, Bundle, Partial, Residue, SupportMatrix
from certifiers.verdict import verdict_name
from certifiers.verify import CheckResult, check_bundle
from proxy.viewer.style import CONTENT_SECURITY_POLICY, CSS


def card_page(data: bytes, *, trusted_keys: Collection[bytes] | None = None) -> str:
    """The viewer page of a bundle's bytes (an unreadable bundle gets a page saying so)."""
    result = check_bundle(data, trusted_keys=trusted_keys)
    try:
        bundle = decode_bundle(data)
    except BundleFormatError as exc:
        body = _verification(result) + f"<p>The bundle cannot be read: {_e(str(exc))}</p>"
        return _document("Unreadable assurance bundle", body)
    sections: list[Callable[[], str]] = [
        lambda: _top(bundle, result),
        lambda: _answer(bundle),
        lambda: _claims(bundle),
        lambda: _evidence(bundle),
        lambda: _tools(bundle),
        lambda: _stability(bundle),
        lambda: _integrity(bundle, result),
    ]
    parts = [_guarded(section) for section in sections]
    return _document(f"Assurance card {bundle.card.replay_handle or ''}", "".join(parts))


def _guarded(section: Callable[[], str]) -> str:
    """A section, or a notice when an inconsistent (invalid) bundle cannot be laid out."""
    try:
        return section()
    except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
        return (
            "<section><h2>Unrenderable section</h2><p>This part of the bundle is inconsistent"
            f" and cannot be shown ({_e(type(exc).__name__)}); see the verification result.</p>"
            "</section>"
        )


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _decimal(value: Fraction | None, places: int = 3) -> str:
    """A rational as a rounded decimal (exact integer arithmetic) followed by its exact value."""
    if value is None:
        return "not measured"
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), 10**places)
    shown = f"{sign}{whole}.{part:0{places}d}"
    exact = format_rational(value)
    return shown if exact == shown.rstrip("0").rstrip(".") else f"{shown} ({exact})"


def _when(unix: int | None) -> str:
    return "unknown" if unix is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def _age(seconds: int) -> str:
    if seconds < 0:
        return f"{-seconds} s in the future"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {rest % 60} s"


def _dl(rows: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], caption: str) -> str:
    """A table; each cell names its column (`data-label`) so a phone can stack the rows."""
    names = [_e(h) for h in headers]
    head = "".join(f'<th scope="col">{name}</th>' for name in names)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td data-label="{name}">{cell}</td>' for name, cell in zip(names, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table><caption>{_e(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _items(values: Iterable[str], empty: str = "none") -> str:
    shown = [f"<li>{_e(v)}</li>" for v in values]
    return f'<ul class="plain">{"".join(shown)}</ul>' if shown else _e(empty)


def _verdict_text(bundle: Bundle) -> str:
    verdict = bundle.card.verdict
    match verdict:
        case Residue(weight=weight):
            return f"residue (kept weight {format_rational(weight)})"
        case Partial(gaps=gaps):
            return f"partial ({len(gaps)} gap{'s' if len(gaps) != 1 else ''})"
        case Abstain(reasons=reasons):
            return f"abstain ({'; '.join(reasons)})"
        case _:
            return "certified"


def _verification(result: CheckResult, *, anchor: bool = True) -> str:
    ident = ' id="verification"' if anchor else ""
    if result.ok:
        status = f'<strong class="badge valid"{ident}>VALID</strong>'
        detail = "every obligation re-derived from the bundle's data holds"
    else:
        status = f'<strong class="badge invalid"{ident}>INVALID</strong>'
        detail = f"{len(result.failures)} failed obligation(s)"
    failures = _items(result.failures, "") if result.failures else ""
    notes = f"<p>Notes:</p>{_items(result.notes)}" if result.notes else ""
    return f"<p>Re-verified just now: {status} — {_e(detail)}</p>{failures}{notes}"


def _top(bundle: Bundle, result: CheckResult) -> str:
    kind = verdict_name(bundle.card)
    decision = bundle.policy_decision
    policy = bundle.certificates.policy.name
    failures = f"<p>Policy failures:</p>{_items(decision.failures)}" if decision.failures else ""
    reasons = ""
    if isinstance(bundle.card.verdict, Partial):
        reasons = f"<p>Gaps:</p>{_items(bundle.card.verdict.gaps)}"
    return (
        '<header class="top"><h1>Assurance card</h1>'
        f'<p>Verdict: <strong class="badge v-{_e(kind)}" id="verdict">{_e(_verdict_text(bundle))}'
        "</strong></p>"
        f'<p>Policy <strong>{_e(policy)}</strong> decision: <strong class="badge d-'
        f'{_e(decision.decision)}" id="decision">{_e(decision.decision)}</strong></p>'
        f"{failures}{reasons}{_verification(result)}</header>"
    )


def _drop_reason(bundle: Bundle, index: int) -> str:
    if bundle.policy_decision.decision == "reject":
        return "the policy rejected the answer"
    residue = bundle.certificates.residue
    reasons = {ex.claim: ex.reason for ex in residue.exclusions} if residue is not None else {}
    return reasons.get(index, "not in the maximal certifiable residue")


def _claim_html(bundle: Bundle, claim: ClaimCitation, text: str) -> str:
    number, status = claim.index + 1, claim.status
    cited = ", ".join(claim.supporting) if claim.supporting else "no supporting evidence"
    inner = f'<span class="text">{_e(text)}</span>'
    tag = f'<span class="tag">[c{number}: {_e(status)}; {_e(cited)}]</span>'
    if not claim.emitted:
        reason = _e(_drop_reason(bundle, claim.index))
        return (
            f'<span class="claim st-{_e(status)}" id="claim-{number}" data-status="{_e(status)}"'
            f' data-emitted="false"><del>{inner}</del>{tag}'
            f' <span class="reason">dropped: {reason}</span></span>'
        )
    return (
        f'<span class="claim st-{_e(status)}" id="claim-{number}" data-status="{_e(status)}"'
        f' data-emitted="true">{inner}{tag}</span>'
    )


def _answer(bundle: Bundle) -> str:
    decomposition = bundle.certificates.decomposition
    answer = decomposition.answer
    claims = claim_citations(bundle).claims
    spans = [c.span for c in claims if c.span is not None]
    ordered = len(spans) == len(claims) and all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    pieces: list[str] = []
    if ordered and claims:
        position = 0
        for claim, (start, end) in zip(claims, spans, strict=True):
            pieces.append(_e(answer[position:start]))
            pieces.append(_claim_html(bundle, claim, answer[start:end]))
            position = end
        pieces.append(_e(answer[position:]))
        text = "".join(pieces)
    elif claims:
        text = " ".join(_claim_html(bundle, c, c.text) for c in claims)
    else:
        text = _e(answer) or "<em>(empty answer)</em>"
    return (
        '<section aria-labelledby="h-answer"><h2 id="h-answer">Answer</h2>'
        f'<p class="answer">{text}</p><p class="reason">Each claim is tagged with its number, its'
        " status and the evidence that supports it; struck-through claims were not emitted.</p>"
        "</section>"
    )


def _scores(support: SupportMatrix, row: int, ids: list[str]) -> str:
    """The non-zero (entail, contradict) cells of one claim's row; zero cells are summarized."""
    scale = support.scale
    cells = []
    zero = 0
    for j, (e, c) in enumerate(zip(support.entail[row], support.contradict[row], strict=True)):
        if e == 0 and c == 0:
            zero += 1
            continue
        den = max(scale, e + c)
        if support.aggregation == "concat":
            name = "all chunks (concat)"
        else:
            name = ids[j] if j < len(ids) else "its chunks together (joint)"
        plus, minus = _decimal(Fraction(e, den)), _decimal(Fraction(c, den))
        cells.append(f"<li><code>{_e(name)}</code>: entail {_e(plus)}, contradict {_e(minus)}</li>")
    if zero:
        cells.append(f"<li>{zero} chunk{'s' if zero != 1 else ''}: entail 0, contradict 0</li>")
    return f'<ul class="plain">{"".join(cells)}</ul>'


def _claims(bundle: Bundle) -> str:
    grounding = bundle.certificates.grounding
    ids = [ref.id for ref in bundle.certificates.context.evidence]
    rows = []
    for claim in claim_citations(bundle).claims:
        scores = _scores(grounding.support, claim.index, ids) if grounding else "no grounding"
        rows.append(
            [
                f"c{claim.index + 1}",
                _e(claim.text),
                f'<span class="st-{_e(claim.status)}"><strong>{_e(claim.status)}</strong></span>',
                "emitted" if claim.emitted else "<strong>dropped</strong>",
                _items(claim.supporting),
                _items(claim.contradicting),
                scores,
            ]
        )
    note = "no grounding certificate"
    if grounding is not None:
        theta = grounding.thresholds
        note = (
            f"NLI aggregation {grounding.support.aggregation}; supporting: entail ≥ θ_g ="
            f" {format_rational(theta.theta_g)}; contradicting: contradict ≥ θ_c ="
            f" {format_rational(theta.theta_c)}"
        )
        if grounding.support.aggregation == "concat":
            note += "; every chunk was judged as one premise, so a claim cites all chunks"
        if grounding.support.aggregation == "joint":
            note += (
                "; each claim was also judged against its chunks together, and a claim that"
                " only that judgment supports cites them all"
            )
    headers = ("#", "claim", "status", "emitted", "supporting", "contradicting", "scores")
    return (
        '<section aria-labelledby="h-claims"><h2 id="h-claims">Claims and citations</h2>'
        f"{_table(headers, rows, note)}</section>"
    )


def _evidence(bundle: Bundle) -> str:
    context = bundle.certificates.context
    now = bundle.card.issue_time
    grounding = bundle.certificates.grounding
    rows = []
    for j, ref in enumerate(context.evidence):
        text = getattr(ref, "text", None)  # shown only if the bundle format ever holds it
        age = _age(now - ref.retrieved_at) if ref.retrieved_at is not None else "unknown"
        rows.append(
            [
                f"<code>{_e(ref.id)}</code>",
                _e(ref.source or "not given"),
                _e(_when(ref.retrieved_at)),
                _e(age),
                _chunk_scores(grounding.support, j) if grounding else "no grounding",
                _e(text) if isinstance(text, str) else "<em>not in the bundle</em>",
            ]
        )
    caption = f"evidence digest {context.evidence_digest or 'none'}; age at issue time"
    headers = ("id", "source", "retrieved", "age", "scores per claim", "text")
    return (
        '<section aria-labelledby="h-evidence"><h2 id="h-evidence">Evidence</h2>'
        f"{_table(headers, rows, caption)}</section>"
    )


def _chunk_scores(support: SupportMatrix, column: int) -> str:
    """Per claim, this chunk's non-zero (entail, contradict); concat judged all chunks at once."""
    if support.aggregation == "concat":
        return "judged together with every chunk (concat); see the claims"
    lines = []
    for i, (row_e, row_c) in enumerate(zip(support.entail, support.contradict, strict=True)):
        e, c = row_e[column], row_c[column]
        if e or c:
            den = max(support.scale, e + c)
            plus, minus = _decimal(Fraction(e, den)), _decimal(Fraction(c, den))
            lines.append(f"c{i + 1}: entail {plus}, contradict {minus}")
    return _items(lines, "0 for every claim")


def _tools(bundle: Bundle) -> str:
    actions = bundle.certificates.actions
    if actions is None:
        body = "<p>No tool calls were proposed.</p>"
    else:
        names = {call.id: call for call in actions.calls}
        rows = []
        for decision in actions.decisions:
            call = names.get(decision.id)
            audit = decision.audit
            verdict = (
                '<strong class="allowed">allowed</strong>'
                if decision.allowed
                else '<strong class="blocked">blocked</strong>'
            )
            if decision.allowed and not decision.checked:
                verdict += " (no schema)"
            rows.append(
                [
                    f"<code>{_e(decision.id)}</code>",
                    _e(call.name if call else "?"),
                    verdict,
                    _e(audit.predicate) if audit else "",
                    f"<code>{_e(audit.offending_value)}</code>" if audit else "",
                    _e(audit.expected) if audit else "",
                    f"<code>{_e(call.arguments if call else '')}</code>",
                ]
            )
        headers = ("call", "tool", "decision", "failed predicate", "offending value", "expected")
        body = _table((*headers, "arguments"), rows, f"unknown tools: {actions.unknown_tools}")
    return f'<section aria-labelledby="h-tools"><h2 id="h-tools">Tool calls</h2>{body}</section>'


def _stability(bundle: Bundle) -> str:
    card = bundle.card
    rows = [
        ("perturbation budget", _e(_decimal(card.perturbation_budget))),
        ("budget convention", _e(card.budget_convention)),
        ("variant flips", _e(card.variant_flips if card.variant_flips is not None else "n/a")),
        ("semantic agreement", _e(_decimal(card.semantic_agreement))),
    ]
    embedding = bundle.certificates.embedding
    if embedding is not None:
        rows += [
            ("R² invariant (drift)", _e(_decimal(embedding.r2_inv, 6))),
            ("Δ² (selectivity gap)", _e(_decimal(embedding.delta_sq, 6))),
            ("ε_η (rounding budget)", _e(_decimal(embedding.eps_eta, 9))),
            ("rank margin", _e(_decimal(embedding.rank_margin, 6))),
            ("measurements", _e(embedding.measurements)),
        ]
    stability = bundle.certificates.stability
    if stability is not None:
        rows.append(("κ (product of gains)", _e(_decimal(stability.kappa))))
    masses = (
        ("supported mass", card.supported_mass),
        ("contradicted mass", card.contradicted_mass),
        ("contested mass", card.contested_mass),
        ("unknown mass", card.unknown_mass),
    )
    rows += [(name, _e(_decimal(value))) for name, value in masses]
    return (
        '<section aria-labelledby="h-stability"><h2 id="h-stability">Stability and masses</h2>'
        f"{_dl(rows)}</section>"
    )


def _integrity(bundle: Bundle, result: CheckResult) -> str:
    card = bundle.card
    signature = bundle.signature
    signed = (
        f"Ed25519 by key <code>{_e(signature.public_key)}</code>: "
        f"<code>{_e(signature.signature)}</code>"
        if signature is not None
        else "absent (the card is not authenticated)"
    )
    rows = [
        ("certificate digest", f"<code>{_e(card.certificate_digest)}</code>"),
        ("card digest", f"<code>{_e(card_digest(card))}</code>"),
        ("signature", signed),
        ("replay handle", f"<code>{_e(card.replay_handle or 'none')}</code>"),
        ("issued / expires", _e(f"{_when(card.issue_time)} / {_when(card.expiry_time)}")),
        ("in scope", _e(f"{card.in_scope}: {', '.join(card.scope_predicates_held) or 'none'}")),
        ("unverified layers", _items(card.unverified_layers)),
        ("verifier", _e(card.verifier_version)),
        ("re-verification", _verification(result, anchor=False)),
    ]
    card_json = json.dumps(json.loads(encode_canonical(card)), indent=2, ensure_ascii=False)
    return (
        '<section aria-labelledby="h-integrity"><h2 id="h-integrity">Integrity</h2>'
        f"{_dl(rows)}<details><summary>The card as JSON</summary><pre>{_e(card_json)}</pre>"
        "</details></section>"
    )
