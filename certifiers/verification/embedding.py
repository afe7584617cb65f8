"""Re-derivation of the embedding-sensitivity certificate (SPEC 5.3 and 4.1, paper Sec. 7.2).

When the quantized vectors are inlined, every integer measurement (squared norms, squared
distances, inner products with the evidence, each invariant variant's top-k set) is recomputed from
them and the vectors digest is checked. When they are not inlined (large bundles,
`measurements = "recorded"`), the measurements are tier-4 data (the embedder's output, inside
ParaphraseOracle's scope) bound by the certificate digest and reported as a note of the check
result; the verifier then checks what geometry allows: Cauchy-Schwarz
for inner products and the triangle inequality for distances, all as exact integer inequalities.
From the measurements it recomputes R2_inv, R2_sig, Delta2, selectivity, the sqrt bounds, eps_eta
(checked equal to the documented formula and, independently, sound), the drift bound, the norm
bound, the top-k ranking, rank margin, flips and semantic agreement.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from certifiers.canonical import canonical_digest
from certifiers.rational import sqrt_upper
from certifiers.types import GRID, GRID_BITS, EmbeddingCertificate, QuantizedVectors
from certifiers.verification.geometry import dot, eps_eta_is_sound, squared_distance, squared_norm
from certifiers.verification.report import Report

__all__ = ["EmbeddingFacts", "check_embedding"]

_GRID_SQ = GRID * GRID


class EmbeddingFacts(NamedTuple):
    """Recomputed embedding outcome used by the stability and card checks."""

    rank_margin: Fraction | None
    sqrt_dim_upper: Fraction
    drift_bound: Fraction | None
    variant_flips: int | None
    semantic_agreement: Fraction | None


def _rank(dots: list[int]) -> list[int]:
    """Evidence indices by decreasing similarity, ties by smaller index."""
    return sorted(range(len(dots)), key=lambda j: (-dots[j], j))


def _check_vectors(cert: EmbeddingCertificate, vectors: QuantizedVectors, report: Report) -> None:
    """Recompute every measurement from the inlined vectors and check the vectors digest."""
    report.expect("embedding.vectors_digest", canonical_digest(vectors), cert.vectors_digest)
    every = (vectors.query, *vectors.invariant, *vectors.significant, *vectors.evidence)
    if not report.require(
        "embedding.vectors.lengths",
        all(len(v) == cert.dim for v in every),
        f"expected every vector to have {cert.dim} coordinates",
    ):
        return
    report.require(
        "embedding.vectors.counts",
        (len(vectors.invariant), len(vectors.significant), len(vectors.evidence))
        == (len(cert.invariant), len(cert.significant), len(cert.evidence)),
        "expected one vector per invariant, significant and evidence measurement",
    )
    q = vectors.query
    report.expect("embedding.query_norm_sq", squared_norm(q), cert.query_norm_sq)
    k = _top_k_size(cert)
    for family, vecs, measures in (
        ("invariant", vectors.invariant, cert.invariant),
        ("significant", vectors.significant, cert.significant),
    ):
        for i, (v, measure) in enumerate(zip(vecs, measures, strict=False)):
            report.expect(f"embedding.{family}[{i}].norm_sq", squared_norm(v), measure.norm_sq)
            report.expect(
                f"embedding.{family}[{i}].dist_sq", squared_distance(q, v), measure.dist_sq
            )
            if family == "invariant" and k is not None:
                own = _rank([dot(v, e) for e in vectors.evidence])[:k]
                report.expect(f"embedding.invariant[{i}].top_k", own, measure.top_k)
    for j, (e, ev_measure) in enumerate(zip(vectors.evidence, cert.evidence, strict=False)):
        report.expect(f"embedding.evidence[{j}].norm_sq", squared_norm(e), ev_measure.norm_sq)
        report.expect(f"embedding.evidence[{j}].dot", dot(q, e), ev_measure.dot)


def _check_geometry(cert: EmbeddingCertificate, report: Report) -> None:
    """Without vectors: Cauchy-Schwarz and triangle inequalities on the integer measurements."""
    a = cert.query_norm_sq
    for j, ev in enumerate(cert.evidence):
        report.require(
            f"embedding.evidence[{j}].cauchy_schwarz",
            ev.norm_sq >= 0 and ev.dot * ev.dot <= a * ev.norm_sq,
            f"expected dot^2 <= |u|^2 |d|^2, got dot {ev.dot}",
        )
    for family, measures in (("invariant", cert.invariant), ("significant", cert.significant)):
        for i, m in enumerate(measures):
            b, dist = m.norm_sq, m.dist_sq
            # (sqrt a - sqrt b)^2 <= dist <= (sqrt a + sqrt b)^2  <=>  (a + b - dist)^2 <= 4ab
            report.require(
                f"embedding.{family}[{i}].triangle",
                b >= 0 and dist >= 0 and (a + b - dist) ** 2 <= 4 * a * b,
                f"expected |sqrt|u|^2 - sqrt|v|^2|^2 <= dist_sq <= (sum)^2, got dist_sq {dist}",
            )


def _top_k_size(cert: EmbeddingCertificate) -> int | None:
    if cert.top_k is None or not cert.evidence:
        return None
    return min(cert.top_k, len(cert.evidence))


def check_embedding(cert: EmbeddingCertificate, report: Report) -> EmbeddingFacts:
    """Check every obligation of the embedding certificate; return the recomputed facts."""
    report.expect("embedding.grid_bits", GRID_BITS, cert.grid_bits)
    report.require("embedding.dim", cert.dim > 0, f"expected dim > 0, got {cert.dim}")
    report.require(
        "embedding.norm_tolerance",
        cert.norm_tolerance >= 0,
        f"expected >= 0, got {cert.norm_tolerance}",
    )
    report.require(
        "embedding.top_k",
        cert.top_k is None or cert.top_k >= 1,
        f"expected top_k >= 1 or null, got {cert.top_k}",
    )
    report.expect(
        "embedding.measurements",
        "derived" if cert.vectors is not None else "recorded",
        cert.measurements,
    )
    if cert.vectors is not None:
        _check_vectors(cert, cert.vectors, report)
    else:
        _check_geometry(cert, report)
        count = 1 + len(cert.invariant) + len(cert.significant) + len(cert.evidence)
        report.note(
            f"embedding.measurements: recorded (vectors not inlined; {count * cert.dim} "
            "coordinates) — bound by vectors_digest, not re-derived"
        )
    inv = [m.dist_sq for m in cert.invariant]
    sig = [m.dist_sq for m in cert.significant]
    r2_inv = Fraction(max(inv), _GRID_SQ) if inv else None
    r2_sig = Fraction(min(sig), _GRID_SQ) if sig else None
    delta_sq = r2_sig - r2_inv if r2_inv is not None and r2_sig is not None else None
    report.expect("embedding.r2_inv", r2_inv, cert.r2_inv)
    report.expect("embedding.r2_sig", r2_sig, cert.r2_sig)
    report.expect("embedding.delta_sq", delta_sq, cert.delta_sq)
    report.expect("embedding.selective", None if delta_sq is None else delta_sq > 0, cert.selective)
    dim = max(cert.dim, 1)
    sqrt_dim = sqrt_upper(Fraction(dim))
    report.expect("embedding.sqrt_dim_upper", sqrt_dim, cert.sqrt_dim_upper)
    max_dist = Fraction(max([*inv, *sig], default=0), _GRID_SQ)
    max_dist_upper = sqrt_upper(max_dist)
    report.expect("embedding.max_dist_upper", max_dist_upper, cert.max_dist_upper)
    delta = sqrt_dim / GRID
    eps_eta = 2 * max_dist_upper * delta + delta * delta
    report.expect("embedding.eps_eta", eps_eta, cert.eps_eta)
    report.require(
        "embedding.eps_eta.sound",
        eps_eta_is_sound(cert.eps_eta, dim, max_dist),
        "expected eps_eta >= 2*sqrt(max dist^2)*sqrt(d)*2^-24 + d*2^-48",
    )
    drift = r2_inv + eps_eta if r2_inv is not None else None
    report.expect("embedding.drift_bound", drift, cert.drift_bound)
    ceiling = (1 + cert.norm_tolerance) * _GRID_SQ
    norms = [cert.query_norm_sq, *(m.norm_sq for m in (*cert.invariant, *cert.significant))]
    norms += [e.norm_sq for e in cert.evidence]
    report.expect("embedding.norms_bounded", all(n <= ceiling for n in norms), cert.norms_bounded)
    return _check_ranking(cert, sqrt_dim, drift, report)


def _check_ranking(
    cert: EmbeddingCertificate, sqrt_dim: Fraction, drift: Fraction | None, report: Report
) -> EmbeddingFacts:
    """Top-k ranking, rank margin, its square, variant flips and semantic agreement."""
    k = _top_k_size(cert)
    for i, m in enumerate(cert.significant):
        report.expect(f"embedding.significant[{i}].top_k", None, m.top_k)
    if k is None:
        for i, m in enumerate(cert.invariant):
            report.expect(f"embedding.invariant[{i}].top_k", None, m.top_k)
        for name, stored in (
            ("ranking", cert.ranking),
            ("rank_margin", cert.rank_margin),
            ("rank_margin_sq", cert.rank_margin_sq),
            ("variant_flips", cert.variant_flips),
            ("semantic_agreement", cert.semantic_agreement),
        ):
            report.expect(f"embedding.{name}", None, stored)
        return EmbeddingFacts(None, sqrt_dim, drift, None, None)
    dots = [e.dot for e in cert.evidence]
    order = _rank(dots)
    ranking = order[:k]
    report.expect("embedding.ranking", ranking, cert.ranking)
    margin = Fraction(dots[order[k - 1]] - dots[order[k]], 2 * _GRID_SQ) if len(dots) > k else None
    report.expect("embedding.rank_margin", margin, cert.rank_margin)
    report.expect(
        "embedding.rank_margin_sq", None if margin is None else margin * margin, cert.rank_margin_sq
    )
    flips = 0
    for i, m in enumerate(cert.invariant):
        own = m.top_k or ()
        report.require(
            f"embedding.invariant[{i}].top_k",
            m.top_k is not None
            and len(own) == k
            and len(set(own)) == k
            and all(0 <= j < len(dots) for j in own),
            f"expected {k} distinct evidence indices, got {m.top_k}",
        )
        flips += set(own) != set(ranking)
    report.expect("embedding.variant_flips", flips, cert.variant_flips)
    count = len(cert.invariant)
    agreement = Fraction(count - flips, count) if count else None
    report.expect("embedding.semantic_agreement", agreement, cert.semantic_agreement)
    return EmbeddingFacts(margin, sqrt_dim, drift, flips, agreement)
