"""Tests for certifiers.builders.embedding (SPEC 5.3 / 4.1, paper §7, Lemma 7.2)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from certifiers.builders.embedding import _pack_columns, _packed_dots, build_embedding, dot
from certifiers.quantize import grid
from certifiers.rational import format_rational
from certifiers.types import GRID, EmbeddingCertificate


def quantize(vector: list[Fraction]) -> tuple[int, ...]:
    """The grid numerators of a rational vector (the boundary crossing, `certifiers.quantize`)."""
    return tuple(grid(format_rational(x)) for x in vector)


def _build(
    query: list[Fraction],
    invariant: list[list[Fraction]],
    significant: list[list[Fraction]] | None = None,
    evidence: list[list[Fraction]] | None = None,
    top_k: int | None = None,
) -> EmbeddingCertificate:
    return build_embedding(
        dim=len(query),
        query=quantize(query),
        invariant=[quantize(v) for v in invariant],
        significant=[quantize(v) for v in significant or []],
        evidence=[quantize(v) for v in evidence or []],
        top_k=top_k,
        norm_tolerance=Fraction(1, 100_000),
        text=None,
        oracle_digests={},
    )


F = Fraction


def test_radii_and_gap_are_exact_on_grid_vectors() -> None:
    """R²_inv is the max, R²_sig the min squared distance, Δ² their difference."""
    q = [F(3, 5), F(4, 5), F(0)]
    cert = _build(q, [[F(3, 5), F(4, 5), F(0)], [F(4, 5), F(3, 5), F(0)]], [[F(0), F(0), F(1)]])
    assert cert.r2_inv is not None
    assert cert.r2_sig is not None
    assert abs(cert.r2_inv - F(2, 25)) < F(1, 10**6)  # grid rounding of 3/5 and 4/5
    assert abs(cert.r2_sig - 2) < F(1, 10**6)
    assert cert.delta_sq == cert.r2_sig - cert.r2_inv
    assert cert.selective is True
    assert cert.norms_bounded is True
    assert cert.drift_bound == cert.r2_inv + cert.eps_eta


def test_top_k_ranking_margin_and_flips() -> None:
    """Ranking by <E(x), d>, half-gap margin between k-th and (k+1)-th, and a flipping variant."""
    q = [F(1), F(0)]
    evidence = [[F(0), F(1)], [F(1), F(0)], [F(1, 2), F(1, 2)]]
    cert = _build(q, [[F(1), F(0)], [F(0), F(1)]], evidence=evidence, top_k=1)
    assert cert.ranking == (1,)
    assert cert.rank_margin == F(1, 4)
    assert cert.rank_margin_sq == F(1, 16)
    assert cert.variant_flips == 1
    assert cert.semantic_agreement == F(1, 2)


def test_small_vectors_are_inlined_and_large_ones_only_digested() -> None:
    """Vectors are kept for re-derivation when small; the digest is always present."""
    small = _build([F(1), F(0)], [[F(1), F(0)]])
    assert small.vectors is not None
    assert small.vectors.query == (GRID, 0)
    big = _build([F(0)] * 2048, [[F(0)] * 2048, [F(0)] * 2048])
    assert big.vectors is None
    assert big.vectors_digest.startswith("sha256:")


def test_norm_above_tolerance_is_flagged() -> None:
    """A vector with ‖v‖² > 1 + tolerance makes norms_bounded false."""
    assert _build([F(11, 10), F(0)], []).norms_bounded is False


coords = st.fractions(min_value=-1, max_value=1, max_denominator=10**9)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda d: st.lists(st.lists(coords, min_size=d, max_size=d), min_size=3, max_size=6)
    )
)
def test_rounding_budget_bounds_the_true_squared_distance(vectors: list[list[Fraction]]) -> None:
    """ε_η bounds |d(u,v)² - d(ũ,ṽ)²| for the original (unrounded) rational vectors."""
    query, *variants = vectors
    cert = _build(query, variants)
    for v in variants:
        true = sum(((a - b) ** 2 for a, b in zip(query, v, strict=True)), F(0))
        rounded = F(
            sum((a - b) ** 2 for a, b in zip(quantize(query), quantize(v), strict=True)),
            GRID * GRID,
        )
        assert abs(true - rounded) <= cert.eps_eta


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda d: st.lists(st.lists(coords, min_size=d, max_size=d), min_size=3, max_size=8)
    ),
    st.integers(1, 4),
)
def test_family_monotonicity_of_r2_inv(vectors: list[list[Fraction]], cut: int) -> None:
    """Lemma 7.2: enlarging G_inv never decreases R²_inv."""
    query, *family = vectors
    smaller = _build(query, family[:cut])
    larger = _build(query, family)
    assert smaller.r2_inv is not None
    assert larger.r2_inv is not None
    assert smaller.r2_inv <= larger.r2_inv


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 16).flatmap(
        lambda d: st.tuples(
            st.lists(st.integers(-(2**25), 2**25), min_size=d, max_size=d),
            st.lists(
                st.lists(st.integers(-(2**25), 2**25), min_size=d, max_size=d),
                min_size=1,
                max_size=5,
            ),
        )
    )
)
def test_packed_dot_products_equal_plain_dot_products(
    case: tuple[list[int], list[list[int]]],
) -> None:
    """The 64-bit-slot packing trick returns exactly the signed inner products."""
    vector, rows = case
    packed = _packed_dots(vector, _pack_columns(rows, len(vector)), len(rows))
    assert packed == [dot(vector, row) for row in rows]
