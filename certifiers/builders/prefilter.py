"""Builder-side checks of the NLI pre-filter and calibration records before they are certified.

A `per_chunk` (or `joint`) matrix judged under a top-k pre-filter is certified only when the
recorded judged sets are exactly each claim's top k by the recorded similarity (ties to the lower
index) and every chunk cell outside them scores (0, 0) (a `joint` column is always judged); a
calibration record only when its error lies in [0, 1] and it names the fingerprint of the NLI model
the context records. A violation is a ScenarioError naming the field: the oracle's output does not
mean what the certificate would claim.
"""

from __future__ import annotations

from fractions import Fraction

from certifiers.errors import ScenarioError
from certifiers.types import Calibration, OracleRecord, SupportMatrix

SIMILARITY_SCALE = 10**6


def _top(row: tuple[int, ...], k: int) -> tuple[int, ...]:
    return tuple(sorted(range(len(row)), key=lambda j: (-row[j], j))[:k])


def check_prefilter(support: SupportMatrix, chunks: int) -> None:
    """Raise ScenarioError unless `support.prefilter` describes exactly the judged cells."""
    pre = support.prefilter
    if pre is None:
        return
    base = "$.nli.prefilter"
    if support.aggregation == "concat":
        raise ScenarioError(
            f"Expected aggregation per_chunk or joint with a prefilter - at {base}", path=base
        )
    if not 1 <= pre.k < chunks:
        raise ScenarioError(
            f"Expected 1 <= k < {chunks} chunks, got {pre.k} - at {base}.k", path=f"{base}.k"
        )
    if len(pre.similarity) != len(support.entail) or len(pre.judged) != len(support.entail):
        raise ScenarioError(
            f"Expected one similarity row and judged list per claim - at {base}", path=base
        )
    for i, (row, judged) in enumerate(zip(pre.similarity, pre.judged, strict=True)):
        where = f"{base}.similarity[{i}]"
        if len(row) != chunks or any(abs(v) > SIMILARITY_SCALE for v in row):
            raise ScenarioError(
                f"Expected {chunks} similarities in [-10^6, 10^6] - at {where}", path=where
            )
        if tuple(judged) != _top(row, pre.k):
            where = f"{base}.judged[{i}]"
            raise ScenarioError(
                f"Expected the top {pre.k} chunks by similarity {list(_top(row, pre.k))}, got "
                f"{list(judged)} - at {where}",
                path=where,
            )
        kept = set(judged)
        for j in range(chunks):
            if j not in kept and (support.entail[i][j] or support.contradict[i][j]):
                where = f"$.nli.entail[{i}][{j}]"
                raise ScenarioError(
                    f"Expected an unjudged cell to score (0, 0) - at {where}", path=where
                )


def check_calibration(calibration: Calibration, nli: OracleRecord | None) -> None:
    """Raise ScenarioError unless the record is in range and names the judging model's weights."""
    base = "$.nli.calibration"
    if not Fraction(0) <= calibration.expected_calibration_error <= 1:
        where = f"{base}.expected_calibration_error"
        raise ScenarioError(f"Expected a rational in [0, 1] - at {where}", path=where)
    if calibration.validation_pairs < 1 or calibration.bins < 1:
        raise ScenarioError(f"Expected validation_pairs >= 1 and bins >= 1 - at {base}", path=base)
    model = nli.model if nli is not None else None
    if model is None or not model.endswith("@" + calibration.model_fingerprint):
        where = f"{base}.model_fingerprint"
        raise ScenarioError(
            f"Expected the fingerprint of the NLI model recorded in oracles.nli.model, got "
            f"{calibration.model_fingerprint!r} for {model!r} - at {where}",
            path=where,
        )
