"""Independent re-derivation of the per-claim citations and the inline rendering (issue 14).

From a bundle that `certifiers.verify.check_bundle` accepts, this recomputes what
`assurance.claims` must say, without the builders: per claim (answer order: span start then index
when every claim has a span, else index) the repaired sigma+/sigma- of every cell (SPEC 4.1), the
chunks reaching θ_g / θ_c (best first, ties by evidence order; every chunk under `concat`; the
joined chunks when only a `joint` column reaches it), the status *from those lists* (Def. 5.2:
β⁺ ≥ θ_g iff some cell reaches θ_g), and emission from the verified policy decision and residue.
`check_claims` / `check_inline` compare a response's list and its inline-cited text against the
re-derivation (`certifiers.verification.claims`); they fail closed on anything else. The inline
text is rendered by the shared `certifiers.render.cited_answer` from these independently derived
ids.
"""

from __future__ import annotations

from collections.abc import Collection

from certifiers.bundle import decode_bundle
from certifiers.types import Bundle
from certifiers.verification.claims import derive_claims, derive_inline
from certifiers.verification.report import Report
from certifiers.verify import CheckResult, check_bundle

__all__ = ["check_claims", "check_inline", "check_response", "derive_claims", "derive_inline"]


def check_claims(bundle: Bundle, claims: object, report: Report) -> None:
    """`claims` (a decoded `assurance.claims` list) equals the re-derivation, entry by entry.

    The text of a claim that was not emitted may be null (enforce withholds it).
    """
    expected = derive_claims(bundle)
    if not isinstance(claims, list):
        report.fail(
            "claims", f"expected a list of {len(expected)} claims, got {type(claims).__name__}"
        )
        return
    if not report.expect("claims.length", len(expected), len(claims)):
        return
    for n, (want, got) in enumerate(zip(expected, claims, strict=True)):
        if not isinstance(got, dict):
            report.fail(f"claims[{n}]", f"expected an object, got {type(got).__name__}")
            continue
        for key, value in want.items():
            if key == "text" and want["emitted"] is False and got.get(key) is None:
                continue  # enforce withholds the text of a claim it did not emit
            report.expect(f"claims[{n}].{key}", value, got.get(key))


def check_inline(bundle: Bundle, content: object, report: Report) -> None:
    """An inline-cited response's content equals the re-derived rendering (not on reject)."""
    expected = derive_inline(bundle)
    if expected is None:
        report.fail("content.inline", "expected no inline citations on a rejected answer")
        return
    report.expect("content.inline", expected, content)


def _get(value: object, *path: str | int) -> object:
    for key in path:
        if isinstance(key, str) and isinstance(value, dict):
            value = value.get(key)
        elif isinstance(key, int) and isinstance(value, list) and len(value) > key:
            value = value[key]
        else:
            return None
    return value


def check_response(
    data: bytes, response: object, *, trusted_keys: Collection[bytes] | None = None
) -> CheckResult:
    """Verify the bundle, then that a chat completion's `assurance` and cited text follow from it.

    Checks `assurance.certificate_digest` against the bundle's card, `assurance.claims` against
    `derive_claims`, and, when `assurance.citations.inline` is true, the message content against
    `derive_inline`. An invalid bundle is reported as such (nothing is derived from it).
    """
    result = check_bundle(data, trusted_keys=trusted_keys)
    if not result.ok:
        return result
    bundle = decode_bundle(data)
    report = Report()
    assurance = _get(response, "assurance")
    report.expect(
        "assurance.certificate_digest",
        bundle.card.certificate_digest,
        _get(assurance, "certificate_digest"),
    )
    check_claims(bundle, _get(assurance, "claims"), report)
    if _get(assurance, "citations", "inline") is True:
        check_inline(bundle, _get(response, "choices", 0, "message", "content"), report)
    return CheckResult(ok=report.ok, failures=report.failures, notes=result.notes)
