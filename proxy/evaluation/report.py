"""Aggregates outcomes into rates with Clopper-Pearson intervals; renders JSON and Markdown.

Definitions (each case has a label, and per method and threshold an outcome emit | trim | block):

- catch = (block + trim) / U, U = non-refusal `unsupported` cases; catch_block = block / U.
- false_block = block / G, G = non-refusal `grounded` cases; false_trim = trim / G is reported
  beside it (a trimmed grounded answer still reaches the user, minus claims).
- refusals (`proxy.evaluation.refusals`) are counted per label and left out of U and G.
- a case whose oracle failed counts as block (the proxy abstains, fail closed) and is also counted
  in `oracle_failures`.

This module only counts; outcomes come from `proxy.evaluation.scoring`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from proxy.evaluation.stats import clopper_pearson

Outcome = Literal["emit", "trim", "block"]
REPORT_FORMAT = 1


class Rate(msgspec.Struct, frozen=True, kw_only=True):
    """x of n with its point estimate (None when n = 0) and 95 % Clopper-Pearson interval."""

    x: int
    n: int
    rate: float | None
    ci95: tuple[float, float]


def rate(x: int, n: int) -> Rate:
    """The `Rate` of x successes in n trials."""
    return Rate(x=x, n=n, rate=None if n == 0 else x / n, ci95=clopper_pearson(x, n))


class LabelledOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """One case's outcome under one method and threshold."""

    label: Literal["grounded", "unsupported"]
    refusal: bool
    outcome: Outcome


class OperatingPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One method at one threshold: its catch and false-block rates."""

    method: str
    threshold: str | None
    catch: Rate
    catch_block: Rate
    false_block: Rate
    false_trim: Rate
    refusals_blocked: int


def operating_point(
    method: str, threshold: str | None, outcomes: Iterable[LabelledOutcome]
) -> OperatingPoint:
    """Count one method's outcomes into its rates (refusals excluded from both denominators)."""
    counts = {
        (lab, out): 0 for lab in ("grounded", "unsupported") for out in ("emit", "trim", "block")
    }
    refusals_blocked = 0
    for item in outcomes:
        if item.refusal:
            refusals_blocked += item.outcome == "block"
            continue
        counts[item.label, item.outcome] += 1
    unsupported = sum(counts["unsupported", out] for out in ("emit", "trim", "block"))
    grounded = sum(counts["grounded", out] for out in ("emit", "trim", "block"))
    blocked_u, trimmed_u = counts["unsupported", "block"], counts["unsupported", "trim"]
    return OperatingPoint(
        method=method,
        threshold=threshold,
        catch=rate(blocked_u + trimmed_u, unsupported),
        catch_block=rate(blocked_u, unsupported),
        false_block=rate(counts["grounded", "block"], grounded),
        false_trim=rate(counts["grounded", "trim"], grounded),
        refusals_blocked=refusals_blocked,
    )


class OracleInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Which adapter and model produced a role's outputs (`heuristic`: not a model).

    `model_version` is the adapter's own provenance string: a TEI server's url and `model_sha`
    (its `model` is the `model_id` from `GET /info`), an upstream name, a model file fingerprint.
    """

    role: str
    adapter: str
    model: str
    heuristic: bool
    used_for: str
    model_version: str = ""


class DatasetInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What was evaluated."""

    name: str
    source: str
    limit: int | None
    seed: int
    cases: int
    grounded: int
    unsupported: int
    refusals_grounded: int
    refusals_unsupported: int


class EvalReport(msgspec.Struct, frozen=True, kw_only=True):
    """The whole result of one `assurance eval grounding` run."""

    format: int
    dataset: DatasetInfo
    oracles: list[OracleInfo]
    thresholds: dict[str, str]
    treatment: list[OperatingPoint]
    b1: list[OperatingPoint]
    b3: OperatingPoint | None
    oracle_failures: int
    failures: list[str]
    oracle_calls: dict[str, int]
    cache_hits: dict[str, int]
    elapsed_s: float
    environment: dict[str, str]
    #: Treatment with θ_e at 1/2 and θ_g swept (reports written before this field have none)
    treatment_theta_g: list[OperatingPoint] = []


def encode_json(report: EvalReport) -> bytes:
    """Indented JSON of the report."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


def _fmt(value: Rate) -> str:
    if value.rate is None:
        return "n/a (n=0)"
    low, high = value.ci95
    return f"{value.rate:.3f} ({low:.3f}, {high:.3f}) [{value.x}/{value.n}]"


def _oracle_line(report: EvalReport) -> str:
    parts = []
    for info in report.oracles:
        version = f" ({info.model_version})" if info.model_version else ""
        label = f"{info.role}={info.adapter}:{info.model or '-'}{version} [{info.used_for}]"
        parts.append(label + (" (HEURISTIC, not a model)" if info.heuristic else ""))
    return "; ".join(parts)


def _rows(points: Sequence[OperatingPoint], name: str) -> list[str]:
    return [
        f"| {name} | {point.threshold or '-'} | {_fmt(point.catch)} | {_fmt(point.catch_block)} | "
        f"{_fmt(point.false_block)} | {_fmt(point.false_trim)} |"
        for point in points
    ]


def render_markdown(report: EvalReport) -> str:
    """A Markdown summary: provenance header, counts, and one table of every operating point."""
    data = report.dataset
    lines = [
        f"**Oracles:** {_oracle_line(report)}",
        "",
        f"Dataset `{data.name}` ({data.source}); limit {data.limit}, seed {data.seed}: "
        f"{data.cases} cases ({data.grounded} grounded, {data.unsupported} unsupported); "
        f"refusals excluded: {data.refusals_grounded} grounded, {data.refusals_unsupported} "
        f"unsupported; oracle failures (counted as block): {report.oracle_failures}.",
        "Fixed thresholds: "
        + ", ".join(f"{name} = {value}" for name, value in report.thresholds.items())
        + ".",
        "",
        "Rates: value (95 % Clopper-Pearson interval) [x/n].",
        "",
        "| method | threshold | catch (block or trim) | catch (block only) | false block | "
        "false trim |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += _rows(report.treatment, "Treatment θ_e")
    lines += _rows(report.treatment_theta_g, "Treatment θ_g")
    if report.b3 is not None:
        lines += _rows([report.b3], "B3 raw NLI")
    lines += _rows(report.b1, "B1 cosine θ")
    lines += [
        "",
        "Treatment: the certifiers' grounding gate at θ_e, then the maximal certifiable residue "
        "(trim = some claims dropped, block = none left); Treatment θ_g: the same at θ_e = 1/2 "
        "with the entailment threshold θ_g swept (a sweep over this dataset, not a registered "
        "operating point). B3: block iff max_i w_i·β⁻_i ≥ 1/2. "
        "B1: block iff the best cosine between the answer and an evidence chunk is < θ.",
    ]
    return "\n".join(lines) + "\n"
