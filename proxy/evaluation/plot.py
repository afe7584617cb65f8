"""Draws the catch / false-block frontier of Treatment (θ_e and θ_g sweeps) and B1 as a PNG.

matplotlib is imported inside `write_frontier_png` with the non-interactive Agg backend, so the
rest of the harness (and the proxy) never needs it; it is a `dev` extra. The figure shows what the
report says, nothing more: points with n = 0 are left out.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from proxy.evaluation.report import EvalReport, OperatingPoint


def _series(points: list[OperatingPoint]) -> tuple[list[float], list[float], list[str]]:
    """(false block, catch) per point; points at the same place share one "first-last" label."""
    xs: list[float] = []
    ys: list[float] = []
    labels: list[list[str]] = []
    for point in points:
        if point.false_block.rate is None or point.catch.rate is None:
            continue
        here = (point.false_block.rate, point.catch.rate)
        if xs and (xs[-1], ys[-1]) == here:
            labels[-1].append(point.threshold or "")
            continue
        xs.append(here[0])
        ys.append(here[1])
        labels.append([point.threshold or ""])
    return xs, ys, [group[0] if len(group) == 1 else f"{group[0]}-{group[-1]}" for group in labels]


def write_frontier_png(report: EvalReport, path: Path) -> None:
    """Plot catch against false-block rate for every operating point and save it to `path`."""
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, points, marker in (
        ("Treatment (θ_e sweep)", report.treatment, "o-"),
        ("Treatment (θ_g sweep, θ_e = 1/2)", report.treatment_theta_g, "^-"),
        ("B1 cosine (θ sweep)", report.b1, "s--"),
    ):
        xs, ys, labels = _series(points)
        if not xs:
            continue
        axes.plot(xs, ys, marker, label=name)
        for x, y, label in zip(xs, ys, labels, strict=True):
            axes.annotate(label, (x, y), fontsize=6, textcoords="offset points", xytext=(3, 3))
    if report.b3 is not None:
        xs, ys, _ = _series([report.b3])
        if xs:
            axes.plot(xs, ys, "D", label="B3 raw NLI")
    nli = next((o for o in report.oracles if o.role == "nli"), None)
    subtitle = f"NLI {nli.adapter}:{nli.model or '-'}" if nli is not None else ""
    axes.set_title(f"{report.dataset.name}: catch vs false block\n{subtitle}", fontsize=9)
    axes.set_xlabel("false-block rate (grounded answers blocked)")
    axes.set_ylabel("catch rate (unsupported answers blocked or trimmed)")
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.grid(visible=True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
