"""Typed records that oracle adapters return to the pipeline.

Frozen msgspec Structs; each carries the adapter name, the model id/version and the `sha256:` digest
of the oracle call's canonical transcript (`oracles.transcript`). Scores and vectors stay `float`
here: they become rationals only when they cross the trust boundary (SPEC 4.1), which is the
certifiers' job, not this module's. Invariants (shapes, ranges, finiteness) are checked in
`__post_init__` and raise `ValueError`; adapters validate model output earlier and raise
`OracleOutputError` instead.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

Aggregation = Literal["concat", "per_chunk", "joint"]


def _check_digest(digest: str) -> None:
    if not digest.startswith("sha256:") or len(digest) != len("sha256:") + 64:
        raise ValueError(f"Expected digest 'sha256:<64 hex>', got {digest!r}")


class ClaimRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One atomic claim: its text, a positive weight, optionally its [start, end) answer span."""

    text: str
    weight: float = 1.0
    span: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("Expected a non-empty claim text, got only whitespace")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"Expected a finite claim weight > 0, got {self.weight!r}")
        if self.span is not None and not 0 <= self.span[0] < self.span[1]:
            raise ValueError(f"Expected span 0 <= start < end, got {self.span!r}")


class Decomposition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Answer -> atomic claims (DecompositionOracle, tier 4)."""

    claims: tuple[ClaimRecord, ...]
    adapter: str
    model: str
    digest: str

    def __post_init__(self) -> None:
        _check_digest(self.digest)


class PrefilterRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which (claim, chunk) pairs were judged: each claim's top-k chunks by embedding similarity.

    `similarity[i][j]` is the cosine of claim i and chunk j as an integer over 10⁶ (the pre-filter's
    own output, recorded as data); `judged[i]` lists the k chunk indices with the highest
    similarity, best first, ties to the lower index. Unjudged cells score (0, 0): neutral.
    """

    method: Literal["embedding_top_k"] = "embedding_top_k"
    k: int
    model: str
    similarity: list[list[int]]
    judged: list[list[int]]

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"Expected k >= 1, got {self.k}")
        if len(self.similarity) != len(self.judged):
            raise ValueError("Expected one similarity row and one judged list per claim")


class CalibrationClaim(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The model card's expected calibration error for the judge's exact weights (an assumption)."""

    model_fingerprint: str
    validation_digest: str
    validation_pairs: int
    expected_calibration_error: str  # decimal text, read exactly by the certifiers
    bins: int


class NLIJudgments(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Signed support per (claim, evidence column): claims x chunks or claims x 1 (`concat`).

    `entail[i][j]` is sigma+, `contradict[i][j]` sigma-; sigma0 is implied (SPEC 4.1 derives it).
    """

    entail: list[list[float]]
    contradict: list[list[float]]
    aggregation: Aggregation
    adapter: str
    model: str
    digest: str
    prefilter: PrefilterRecord | None = None
    calibration: CalibrationClaim | None = None

    def __post_init__(self) -> None:
        _check_digest(self.digest)
        if len(self.entail) != len(self.contradict):
            raise ValueError(
                f"Expected as many entail rows as contradict rows, got "
                f"{len(self.entail)} and {len(self.contradict)}"
            )
        for i, (e_row, c_row) in enumerate(zip(self.entail, self.contradict, strict=True)):
            if len(e_row) != len(c_row) or (self.aggregation == "concat" and len(e_row) != 1):
                raise ValueError(
                    f"Expected matching row widths ({self.aggregation}), got {len(e_row)} and "
                    f"{len(c_row)} - at row {i}"
                )
            for j, (e, c) in enumerate(zip(e_row, c_row, strict=True)):
                if not (0.0 <= e <= 1.0 and 0.0 <= c <= 1.0):
                    raise ValueError(
                        f"Expected scores in [0, 1], got ({e!r}, {c!r}) - at [{i}][{j}]"
                    )


class Paraphrases(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Text -> meaning-preserving variants (G_inv) and meaning-changing variants (G_sig)."""

    invariant: tuple[str, ...]
    significant: tuple[str, ...]
    adapter: str
    model: str
    digest: str

    def __post_init__(self) -> None:
        _check_digest(self.digest)


class EmbeddingBatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Texts -> unit vectors, one per text, all of one dimension."""

    vectors: list[list[float]]
    adapter: str
    model: str
    digest: str

    def __post_init__(self) -> None:
        _check_digest(self.digest)
        dims = {len(v) for v in self.vectors}
        if len(dims) > 1 or 0 in dims:
            raise ValueError(
                f"Expected vectors of one positive dimension, got dimensions {sorted(dims)}"
            )
        for i, vector in enumerate(self.vectors):
            if not all(math.isfinite(x) for x in vector):
                raise ValueError(
                    f"Expected finite coordinates, got a non-finite one - at vectors[{i}]"
                )

    @property
    def dim(self) -> int:
        """Dimension of the vectors (0 for an empty batch)."""
        return len(self.vectors[0]) if self.vectors else 0
