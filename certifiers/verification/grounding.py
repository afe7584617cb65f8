"""Re-derivation of the conflict-aware grounding certificate (SPEC 5.1, paper Sec. 5.3).

From the recorded data only (claims and weights, the quantized NLI matrices, the thresholds) this
recomputes: the simplex of every cell after the SPEC 4.1 repair, beta+ and beta- as maxima, the
four-valued statuses (Def. 5.2), total weight > 0, the four masses and their sum, the emission rule
(Lemma 5.4) and the reconstruction check (Def. 5.1 made decidable). Each stored derived field is
compared with the recomputed one. The recomputed values (never the stored ones) are returned for the
residue, card and stability checks. It does not judge whether the NLI scores are right (tier 4).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import compress
from operator import add, not_
from typing import NamedTuple

from certifiers.tokens import content_tokens
from certifiers.types import SCORE_SCALE, Certificates, GroundingCertificate, Status, Thresholds
from certifiers.verification.report import Report

__all__ = ["GroundingFacts", "check_grounding", "classify_status", "mass_vector"]

_STATUSES: tuple[Status, ...] = ("supported", "contradicted", "contested", "unknown")
SIMILARITY_SCALE = 10**6


class GroundingFacts(NamedTuple):
    """Recomputed grounding outcome used downstream."""

    statuses: tuple[Status, ...]
    masses: dict[Status, Fraction]
    emitted: bool
    reconstruction_passed: bool
    thresholds: Thresholds


def classify_status(beta_plus: Fraction, beta_minus: Fraction, thresholds: Thresholds) -> Status:
    """Def. 5.2 as a lookup on the two threshold comparisons."""
    table: dict[tuple[bool, bool], Status] = {
        (True, False): "supported",
        (False, True): "contradicted",
        (True, True): "contested",
        (False, False): "unknown",
    }
    return table[(beta_plus >= thresholds.theta_g, beta_minus >= thresholds.theta_c)]


def mass_vector(
    weights: tuple[Fraction, ...], statuses: tuple[Status, ...]
) -> dict[Status, Fraction]:
    """Normalized weight per status over the given claims (all zero when the total is zero)."""
    total = sum(weights, Fraction(0))
    sums = {status: Fraction(0) for status in _STATUSES}
    for weight, status in zip(weights, statuses, strict=True):
        sums[status] += weight
    if total == 0:
        return sums
    return {status: value / total for status, value in sums.items()}


def _check_thresholds(thresholds: Thresholds, report: Report) -> None:
    """theta_g, theta_c in (0, 1]; theta_e, theta_r in [0, 1] (SPEC 5.1)."""
    for name in ("theta_g", "theta_c"):
        value = getattr(thresholds, name)
        report.require(
            f"grounding.thresholds.{name}", 0 < value <= 1, f"expected in (0, 1], got {value}"
        )
    for name in ("theta_e", "theta_r"):
        value = getattr(thresholds, name)
        report.require(
            f"grounding.thresholds.{name}", 0 <= value <= 1, f"expected in [0, 1], got {value}"
        )


def _in_range(row: tuple[int, ...], scale: int) -> bool:
    """Every score of the row in [0, scale] (C-speed passes; the common, valid case)."""
    return min(row) >= 0 and max(row) <= scale


def _row_betas_in_range(
    entail: tuple[int, ...], contradict: tuple[int, ...], scale: int
) -> tuple[Fraction, Fraction]:
    """`_row_betas` for a row whose scores are all in [0, scale]: the same maxima, no failures.

    Plain cells (e + c <= scale) contribute e/scale and c/scale: their maxima are taken over the
    integers; only the rescaled cells (e + c > scale, usually none or few) need Fractions.
    """
    sums = list(map(add, entail, contradict))
    plain = list(map(scale.__ge__, sums))
    plain_e = max(compress(entail, plain), default=0)
    plain_c = max(compress(contradict, plain), default=0)
    repaired_e, repaired_c = Fraction(0), Fraction(0)
    for e, c, total in compress(zip(entail, contradict, sums, strict=True), map(not_, plain)):
        repaired_e = max(repaired_e, Fraction(e, total))
        repaired_c = max(repaired_c, Fraction(c, total))
    return max(Fraction(plain_e, scale), repaired_e), max(Fraction(plain_c, scale), repaired_c)


def _row_betas(
    entail: tuple[int, ...], contradict: tuple[int, ...], scale: int, where: str, report: Report
) -> tuple[Fraction, Fraction]:
    """Simplex check of one row and max(0, max_j sigma) of the repaired sigma+ and sigma-."""
    if entail and _in_range(entail, scale) and _in_range(contradict, scale):
        return _row_betas_in_range(entail, contradict, scale)
    plain_e, plain_c = 0, 0  # cells with e + c <= scale: sigma = value / scale
    repaired_e, repaired_c = Fraction(0), Fraction(0)  # cells rescaled by the SPEC 4.1 repair
    for j, (e, c) in enumerate(zip(entail, contradict, strict=True)):
        if not (0 <= e <= scale and 0 <= c <= scale):
            report.fail(
                "grounding.simplex",
                f"expected scores in [0, {scale}], got ({e}, {c}) at {where}[{j}]",
            )
            continue
        if e + c <= scale:
            plain_e, plain_c = max(plain_e, e), max(plain_c, c)
        else:  # (e/(e+c), c/(e+c), 0): non-negative, sums to 1
            repaired_e = max(repaired_e, Fraction(e, e + c))
            repaired_c = max(repaired_c, Fraction(c, e + c))
    return max(Fraction(plain_e, scale), repaired_e), max(Fraction(plain_c, scale), repaired_c)


def _top_k(row: tuple[int, ...], k: int) -> tuple[int, ...]:
    """The k indices with the largest values, best first, ties to the lower index."""
    ranked: list[int] = []
    remaining = list(range(len(row)))
    while remaining and len(ranked) < k:
        best = remaining[0]
        for j in remaining[1:]:
            if row[j] > row[best]:
                best = j
        ranked.append(best)
        remaining.remove(best)
    return tuple(ranked)


def _check_prefilter(cert: GroundingCertificate, columns: int, report: Report) -> None:
    """Judged sets are each claim's top k by the recorded similarity; unjudged cells are (0, 0).

    `columns` counts the chunks: a `joint` matrix's last column is always judged.
    """
    support, pre = cert.support, cert.support.prefilter
    if pre is None:
        return
    report.require(
        "grounding.support.prefilter.aggregation",
        support.aggregation in ("per_chunk", "joint"),
        f"expected per_chunk or joint with a prefilter, got {support.aggregation}",
    )
    report.require(
        "grounding.support.prefilter.k",
        1 <= pre.k < columns,
        f"expected 1 <= k < {columns} chunks, got {pre.k}",
    )
    rows = len(support.entail)
    if not report.expect("grounding.support.prefilter.rows", rows, len(pre.similarity)):
        return
    if not report.expect("grounding.support.prefilter.rows", rows, len(pre.judged)):
        return
    for i, row in enumerate(pre.similarity):
        where = f"grounding.support.prefilter.similarity[{i}]"
        if not report.expect(f"{where}.columns", columns, len(row)):
            continue
        report.require(
            where,
            all(-SIMILARITY_SCALE <= v <= SIMILARITY_SCALE for v in row),
            "expected similarities within [-10^6, 10^6]",
        )
        report.expect(f"grounding.support.prefilter.judged[{i}]", _top_k(row, pre.k), pre.judged[i])
        judged = set(pre.judged[i])
        entail, contradict = support.entail[i], support.contradict[i]
        stray = [
            j
            for j in range(min(columns, len(entail), len(contradict)))
            if j not in judged and (entail[j] != 0 or contradict[j] != 0)
        ]
        report.expect(f"grounding.support.prefilter.unjudged[{i}]", [], stray)


def _check_calibration(certs: Certificates, cert: GroundingCertificate, report: Report) -> None:
    """The calibration record is in range and names the fingerprint of the NLI model that judged."""
    record = cert.calibration
    if record is None:
        return
    error = record.expected_calibration_error
    report.require(
        "grounding.calibration.expected_calibration_error",
        Fraction(0) <= error <= 1,
        f"expected a rational in [0, 1], got {error}",
    )
    report.require(
        "grounding.calibration.counts",
        record.validation_pairs >= 1 and record.bins >= 1,
        "expected validation_pairs >= 1 and bins >= 1",
    )
    nli = certs.context.oracles.get("nli")
    model = nli.model if nli is not None else None
    report.require(
        "grounding.calibration.model_fingerprint",
        model is not None and model.endswith("@" + record.model_fingerprint),
        f"expected the fingerprint of the recorded NLI model {model!r}, got "
        f"{record.model_fingerprint!r}",
    )


def check_grounding(
    certs: Certificates, cert: GroundingCertificate, report: Report
) -> GroundingFacts:
    """Check every obligation of the grounding certificate; return the recomputed facts."""
    claims = certs.decomposition.claims
    support = cert.support
    thresholds = cert.thresholds
    _check_thresholds(thresholds, report)
    report.expect("grounding.support.scale", SCORE_SCALE, support.scale)
    scale = support.scale if support.scale > 0 else SCORE_SCALE
    chunks = len(certs.context.evidence)
    # joint: one more column per claim, the claim judged against its chunks taken together
    columns = {"concat": 1, "joint": chunks + 1}.get(support.aggregation, chunks)
    report.require("grounding.evidence", columns > 0, "expected at least one evidence chunk")
    shape_ok = report.expect("grounding.support.rows", len(claims), len(support.entail))
    shape_ok &= report.expect("grounding.support.rows", len(claims), len(support.contradict))
    for i, (row_e, row_c) in enumerate(zip(support.entail, support.contradict, strict=False)):
        shape_ok &= report.expect(f"grounding.support.entail[{i}].columns", columns, len(row_e))
        shape_ok &= report.expect(f"grounding.support.contradict[{i}].columns", columns, len(row_c))
    beta_plus: list[Fraction] = []
    beta_minus: list[Fraction] = []
    if shape_ok:
        for i, (row_e, row_c) in enumerate(zip(support.entail, support.contradict, strict=True)):
            best_plus, best_minus = _row_betas(row_e, row_c, scale, f"support[{i}]", report)
            beta_plus.append(best_plus)
            beta_minus.append(best_minus)
    else:
        beta_plus = [Fraction(0)] * len(claims)
        beta_minus = [Fraction(0)] * len(claims)
    _check_prefilter(cert, chunks, report)
    _check_calibration(certs, cert, report)
    report.expect("grounding.beta_plus", beta_plus, cert.beta_plus)
    report.expect("grounding.beta_minus", beta_minus, cert.beta_minus)
    statuses = tuple(
        classify_status(bp, bm, thresholds) for bp, bm in zip(beta_plus, beta_minus, strict=True)
    )
    report.expect("grounding.statuses", statuses, cert.statuses)
    weights = tuple(claim.weight for claim in claims)
    total = sum(weights, Fraction(0))
    report.require("grounding.total_weight", total > 0, f"expected > 0, got {total}")
    masses = mass_vector(weights, statuses)
    stored = cert.masses
    report.expect("grounding.masses.supported", masses["supported"], stored.supported)
    report.expect("grounding.masses.contradicted", masses["contradicted"], stored.contradicted)
    report.expect("grounding.masses.contested", masses["contested"], stored.contested)
    report.expect("grounding.masses.unknown", masses["unknown"], stored.unknown)
    stored_sum = stored.supported + stored.contradicted + stored.contested + stored.unknown
    report.expect("grounding.masses.sum", Fraction(1), stored_sum)
    emitted = (
        masses["supported"] >= thresholds.theta_e
        and masses["contradicted"] + masses["contested"] <= thresholds.theta_r
    )
    report.expect("grounding.emission_rule", emitted, cert.emitted)
    answer_tokens = content_tokens(certs.decomposition.answer)
    claim_tokens = content_tokens(" ".join(claim.text for claim in claims))
    missing = tuple(sorted(answer_tokens - claim_tokens))
    report.expect("grounding.reconstruction.passed", not missing, cert.reconstruction.passed)
    report.expect(
        "grounding.reconstruction.missing_tokens", missing, cert.reconstruction.missing_tokens
    )
    return GroundingFacts(
        statuses=statuses,
        masses=masses,
        emitted=emitted,
        reconstruction_passed=not missing,
        thresholds=thresholds,
    )
