"""Embedding-sensitivity certificate builder (SPEC 5.3 and 4.1, paper §7, Lemma 7.2, Theorem 7.4).

From vectors already on the 2^-24 grid (integer numerators, see `certifiers.quantize`) measures
squared norms, squared distances and dot products exactly in integers, and derives R²_inv, R²_sig,
Δ², the rounding budget ε_η (sound rational square-root bounds), the top-k evidence ranking, its
rank margin and the invariant variants' flips. Vectors are inlined in the certificate only when
small (see INLINE_COORDINATES) or when the scenario asks for it (`inline = "always"`); their
digest always is, and the certificate says which (`measurements`: "derived" = re-derivable,
"recorded" = embedder data bound by digest).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from fractions import Fraction
from heapq import nsmallest
from operator import mul, neg, sub
from typing import Literal

from certifiers.canonical import canonical_digest
from certifiers.rational import sqrt_upper
from certifiers.types import (
    GRID,
    EmbeddingCertificate,
    EvidenceMeasure,
    QuantizedVectors,
    VariantMeasure,
)

#: vectors are inlined when (1 + #inv + #sig + #evidence) * dim is at most this many coordinates
INLINE_COORDINATES = 4096
GRID_SQ = GRID * GRID
_SLOT_BITS = 64  # one packed dot product: |<u, v>| <= dim * 2^50 < 2^63 for dim <= 2^12


def dot(u: Sequence[int], v: Sequence[int]) -> int:
    """Exact integer inner product."""
    return sum(map(mul, u, v))


def dist_sq(u: Sequence[int], v: Sequence[int]) -> int:
    """Exact integer squared Euclidean distance."""
    return sum(d * d for d in map(sub, u, v))


def top_order(dots: Sequence[int], k: int) -> tuple[int, ...]:
    """The k evidence indices of highest similarity, in rank order; ties by smaller index."""
    return tuple(j for _, j in nsmallest(k, zip(map(neg, dots), range(len(dots)), strict=True)))


def _packed_dots(vector: Sequence[int], packed_columns: Sequence[int], count: int) -> list[int]:
    """<vector, e_j> for all j at once: Σ_i v_i·P_i where P_i packs e_{j,i} in 64-bit slots.

    The total is Σ_j d_j·2^(64j) with |d_j| < 2^59. Read as signed 64-bit slots s_j (two's
    complement bytes of the total mod 2^(64·count)), slot j has borrowed one from d_j exactly when
    the part below it is negative, i.e. when s_{j-1} < 0: so d_j = s_j + [s_{j-1} < 0].
    """
    total: int = sum(map(mul, vector, packed_columns))
    low_bits = (total & ((1 << (_SLOT_BITS * count)) - 1)).to_bytes(8 * count, "little")
    raw: tuple[int, ...] = struct.unpack(f"<{count}q", low_bits)
    return [s + (below < 0) for s, below in zip(raw, [0, *raw[:-1]], strict=True)]


def _pack_columns(evidence: Sequence[Sequence[int]], dim: int) -> list[int]:
    """Column i packs e_{j,i} for every chunk j in signed 64-bit slots: Σ_j e_{j,i}·2^(64j).

    The column bytes are two's complement per slot (little-endian int64); read unsigned, each
    negative slot j borrows 2^64 from slot j+1, which is undone from the slots' sign bits with
    big-int ops.
    """
    count = len(evidence)
    sign_bits = sum(1 << (_SLOT_BITS * j) for j in range(count))
    layout = struct.Struct(f"<{count}q")
    columns: list[int] = []
    for column in zip(*evidence, strict=True) if evidence else ((),) * dim:
        unsigned = int.from_bytes(layout.pack(*column), "little")
        negatives = (unsigned >> (_SLOT_BITS - 1)) & sign_bits
        columns.append(unsigned - (negatives << _SLOT_BITS))
    return columns


def build_embedding(
    *,
    dim: int,
    query: Sequence[int],
    invariant: Sequence[Sequence[int]],
    significant: Sequence[Sequence[int]],
    evidence: Sequence[Sequence[int]],
    top_k: int | None,
    norm_tolerance: Fraction,
    text: str | None,
    oracle_digests: Mapping[str, str],
    inline: Literal["auto", "always"] = "auto",
) -> EmbeddingCertificate:
    """Build the certificate from vectors already quantized to integer numerators over 2^24.

    `inline`: "auto" inlines the vectors when small (INLINE_COORDINATES), "always" inlines them.
    """
    q = tuple(query)
    inv = [tuple(v) for v in invariant]
    sig = [tuple(v) for v in significant]
    ev = [tuple(v) for v in evidence]
    # the query rides along as one more packed chunk: <v, q> comes with the <v, e_j> for free
    columns = _pack_columns([*ev, q], dim) if ev else []

    def with_query(v: tuple[int, ...]) -> tuple[list[int], int]:
        """(<v, e_j> for every chunk j, <v, q>)."""
        if not ev:
            return [], dot(q, v)
        both = _packed_dots(v, columns, len(ev) + 1)
        return both[:-1], both[-1]

    ev_dots, q_norm = with_query(q)
    k = min(top_k, len(ev)) if top_k is not None and ev else None
    ranking = top_order(ev_dots, k) if k is not None else None

    def measure(v: tuple[int, ...], *, ranked: bool) -> VariantMeasure:
        norm = dot(v, v)
        order: tuple[int, ...] | None = None
        if ranked and k:
            dots, cross = with_query(v)
            order = top_order(dots, k)
        else:
            cross = dot(q, v)
        return VariantMeasure(norm_sq=norm, dist_sq=q_norm + norm - 2 * cross, top_k=order)

    inv_measures = tuple(measure(v, ranked=True) for v in inv)
    sig_measures = tuple(measure(v, ranked=False) for v in sig)
    vectors = QuantizedVectors(
        query=q, invariant=tuple(inv), significant=tuple(sig), evidence=tuple(ev)
    )
    coordinates = (1 + len(inv) + len(sig) + len(ev)) * dim
    inlined = inline == "always" or coordinates <= INLINE_COORDINATES
    r2_inv = Fraction(max(m.dist_sq for m in inv_measures), GRID_SQ) if inv_measures else None
    r2_sig = Fraction(min(m.dist_sq for m in sig_measures), GRID_SQ) if sig_measures else None
    delta_sq = r2_sig - r2_inv if r2_inv is not None and r2_sig is not None else None
    sqrt_dim_upper = sqrt_upper(Fraction(dim))
    delta = sqrt_dim_upper / GRID
    max_dist = max((m.dist_sq for m in (*inv_measures, *sig_measures)), default=0)
    max_dist_upper = sqrt_upper(Fraction(max_dist, GRID_SQ))
    eps_eta = 2 * max_dist_upper * delta + delta * delta
    ceiling = (1 + norm_tolerance) * GRID_SQ
    norms = [q_norm, *(m.norm_sq for m in inv_measures), *(m.norm_sq for m in sig_measures)]
    ev_norms = [dot(e, e) for e in ev]
    rank_margin: Fraction | None = None
    flips: int | None = None
    agreement: Fraction | None = None
    if ranking is not None and k is not None:
        if len(ev) > k:
            rank_margin = Fraction(ev_dots[ranking[-1]] - max(_rest(ev_dots, ranking)), 2 * GRID_SQ)
        chosen = set(ranking)
        flips = sum(1 for m in inv_measures if set(m.top_k or ()) != chosen)
        agreement = Fraction(len(inv_measures) - flips, len(inv_measures)) if inv_measures else None
    return EmbeddingCertificate(
        text=text,
        dim=dim,
        norm_tolerance=norm_tolerance,
        top_k=top_k,
        query_norm_sq=norms[0],
        invariant=inv_measures,
        significant=sig_measures,
        evidence=tuple(
            EvidenceMeasure(norm_sq=n, dot=d) for n, d in zip(ev_norms, ev_dots, strict=True)
        ),
        vectors_digest=canonical_digest(vectors),
        vectors=vectors if inlined else None,
        measurements="derived" if inlined else "recorded",
        r2_inv=r2_inv,
        r2_sig=r2_sig,
        delta_sq=delta_sq,
        selective=delta_sq > 0 if delta_sq is not None else None,
        sqrt_dim_upper=sqrt_dim_upper,
        max_dist_upper=max_dist_upper,
        eps_eta=eps_eta,
        drift_bound=r2_inv + eps_eta if r2_inv is not None else None,
        norms_bounded=max([*norms, *ev_norms]) <= ceiling,
        ranking=ranking,
        rank_margin=rank_margin,
        rank_margin_sq=rank_margin * rank_margin if rank_margin is not None else None,
        variant_flips=flips,
        semantic_agreement=agreement,
        oracle_digests=dict(oracle_digests),
    )


def _rest(dots: Sequence[int], ranking: Sequence[int]) -> list[int]:
    """Dot products of the evidence outside the top-k (the (k+1)-th is their maximum)."""
    inside = set(ranking)
    return [d for j, d in enumerate(dots) if j not in inside]
