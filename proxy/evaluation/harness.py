"""The `eval grounding` pipeline: cases -> cached oracles -> outcomes per method -> `EvalReport`.

Wires the pieces together: wraps the oracles in the on-disk cache (`proxy.evaluation.cache`), runs
them concurrently (`proxy.evaluation.runner`), scores Treatment at every θ_e of the sweep plus the
baselines B1 and B3 (`proxy.evaluation.scoring`), and counts rates (`proxy.evaluation.report`). It
reads no files and parses no flags (that is `proxy.commands.evaluate`), and it builds no oracle from
configuration: callers pass instances, which is how tests inject counting or fake oracles.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

from proxy.evaluation.cache import CachedDecomposer, CachedEmbedder, CachedNLIJudge, OracleCache
from proxy.evaluation.datasets import EvalCase
from proxy.evaluation.report import (
    REPORT_FORMAT,
    DatasetInfo,
    EvalReport,
    LabelledOutcome,
    OperatingPoint,
    OracleInfo,
    Outcome,
    operating_point,
)
from proxy.evaluation.runner import CaseOutputs, EvalOracles, run_cases
from proxy.evaluation.scoring import (
    DEFAULT_THRESHOLDS,
    b1_outcome,
    b3_outcome,
    treatment_outcomes,
    treatment_outcomes_theta_g,
)

#: adapters that are rules, not models: numbers they produce must never be read as a model's
RULE_BASED_ADAPTERS = frozenset({"lexical", "sentences", "rules"})


def _grid(start: Fraction, stop: Fraction, step: Fraction) -> tuple[Fraction, ...]:
    count = int((stop - start) / step)
    return tuple(start + step * i for i in range(count + 1))


#: θ_e sweep of the paper's §12.4: 0.50, 0.55, ..., 1.00
THETA_E_GRID = _grid(Fraction(1, 2), Fraction(1), Fraction(1, 20))
#: θ_g sweep: 0.05, 0.10, ..., 1.00 (θ_e stays 1/2). With one claim per answer, as in HaluEval-QA's
#: short answers, W⁺ is 0 or 1 and the θ_e sweep is flat; the entailment threshold is what moves
THETA_G_GRID = _grid(Fraction(1, 20), Fraction(1), Fraction(1, 20))
#: B1 sweep: 0.00, 0.05, ..., 1.00 (a superset of the paper's 0.50-1.00, since cosines of short
#: answers against whole paragraphs sit well below 0.5 for most embedders)
B1_GRID = _grid(Fraction(0), Fraction(1), Fraction(1, 20))


def decimal_label(value: Fraction) -> str:
    """A threshold as fixed-point text for tables ("0.55"); exact for the grids above."""
    return f"{float(value):.2f}"


@dataclass(frozen=True, kw_only=True)
class HarnessSettings:
    """Run parameters that do not come from the dataset."""

    concurrency: int = 8
    progress: bool = False
    theta_e_grid: tuple[Fraction, ...] = THETA_E_GRID
    theta_g_grid: tuple[Fraction, ...] = THETA_G_GRID
    b1_grid: tuple[Fraction, ...] = B1_GRID
    b1_note: str = ""
    oracle_settings: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


def with_cache(oracles: EvalOracles, cache: OracleCache, settings: HarnessSettings) -> EvalOracles:
    """The same oracles, each answering from `cache` when it can."""
    config = settings.oracle_settings
    return EvalOracles(
        decomposer=CachedDecomposer(oracles.decomposer, cache, config.get("decomposer", {})),
        nli=CachedNLIJudge(oracles.nli, cache, config.get("nli", {})),
        embedder=None
        if oracles.embedder is None
        else CachedEmbedder(oracles.embedder, cache, config.get("embedder", {})),
    )


def _oracle_infos(oracles: EvalOracles, settings: HarnessSettings) -> list[OracleInfo]:
    infos = [
        OracleInfo(
            role=role,
            adapter=oracle.adapter,
            model=oracle.model,
            model_version=str(getattr(oracle, "model_version", "")),
            heuristic=oracle.adapter in RULE_BASED_ADAPTERS,
            used_for="Treatment, B3",
        )
        for role, oracle in (("decomposer", oracles.decomposer), ("nli", oracles.nli))
    ]
    if oracles.embedder is not None:
        infos.append(
            OracleInfo(
                role="embedder",
                adapter=oracles.embedder.adapter,
                model=oracles.embedder.model,
                model_version=str(getattr(oracles.embedder, "model_version", "")),
                heuristic=oracles.embedder.adapter in RULE_BASED_ADAPTERS,
                used_for="B1" + (f" ({settings.b1_note})" if settings.b1_note else ""),
            )
        )
    return infos


def _labelled(outputs: Sequence[CaseOutputs], outcomes: Sequence[Outcome]) -> list[LabelledOutcome]:
    return [
        LabelledOutcome(label=item.case.label, refusal=item.refusal, outcome=outcome)
        for item, outcome in zip(outputs, outcomes, strict=True)
    ]


class Scores(NamedTuple):
    """Every operating point of one run."""

    treatment: list[OperatingPoint]
    treatment_theta_g: list[OperatingPoint]
    b1: list[OperatingPoint]
    b3: OperatingPoint


def _sweep(
    outputs: Sequence[CaseOutputs],
    method: str,
    grid: Sequence[Fraction],
    per_case: list[list[Outcome]],
) -> list[OperatingPoint]:
    return [
        operating_point(
            method, decimal_label(theta), _labelled(outputs, [row[i] for row in per_case])
        )
        for i, theta in enumerate(grid)
    ]


def score(outputs: Sequence[CaseOutputs], settings: HarnessSettings, *, with_b1: bool) -> Scores:
    """Treatment at every θ_e and every θ_g, B1 at every θ (when embeddings exist), and B3."""
    treatment = _sweep(
        outputs,
        "treatment",
        settings.theta_e_grid,
        [treatment_outcomes(item, settings.theta_e_grid) for item in outputs],
    )
    treatment_theta_g = _sweep(
        outputs,
        "treatment_theta_g",
        settings.theta_g_grid,
        [treatment_outcomes_theta_g(item, settings.theta_g_grid) for item in outputs],
    )
    b1 = (
        [
            operating_point(
                "b1",
                decimal_label(theta),
                _labelled(outputs, [b1_outcome(o, theta) for o in outputs]),
            )
            for theta in settings.b1_grid
        ]
        if with_b1
        else []
    )
    b3 = operating_point("b3", "1/2", _labelled(outputs, [b3_outcome(o) for o in outputs]))
    return Scores(treatment, treatment_theta_g, b1, b3)


def environment() -> dict[str, str]:
    """Where the numbers were measured (machine, Python, CPU count)."""
    return {
        "machine": platform.machine(),
        "platform": platform.platform(),
        "processor": platform.processor() or "unknown",
        "cpu_count": str(os.cpu_count()),
        "python": platform.python_version(),
    }


async def evaluate(
    cases: Sequence[EvalCase],
    oracles: EvalOracles,
    *,
    dataset: DatasetInfo,
    settings: HarnessSettings,
    cache_dir: Path | None,
) -> EvalReport:
    """Run the whole grounding evaluation over `cases` and return its report."""
    started = time.perf_counter()
    cache = OracleCache(cache_dir)
    active = with_cache(oracles, cache, settings)
    outputs = await run_cases(
        cases, active, concurrency=settings.concurrency, progress=settings.progress
    )
    scores = score(outputs, settings, with_b1=oracles.embedder is not None)
    thresholds = DEFAULT_THRESHOLDS
    return EvalReport(
        format=REPORT_FORMAT,
        dataset=dataset,
        oracles=_oracle_infos(oracles, settings),
        thresholds={
            "theta_g": str(thresholds.theta_g),
            "theta_c": str(thresholds.theta_c),
            "theta_r": str(thresholds.theta_r),
            "theta_e": "swept",
        },
        treatment=scores.treatment,
        treatment_theta_g=scores.treatment_theta_g,
        b1=scores.b1,
        b3=scores.b3,
        oracle_failures=sum(1 for item in outputs if item.failure is not None),
        failures=[f"{item.case.case_id}: {item.failure}" for item in outputs if item.failure][:20],
        oracle_calls=dict(cache.stats.misses),
        cache_hits=dict(cache.stats.hits),
        elapsed_s=round(time.perf_counter() - started, 3),
        environment=environment(),
    )
