"""NLI training data: the top-level JSON Lines files of `shared/data/nli-train/`, read and mixed.

Every row has `premise`, `hypothesis`, `label`, `source`, `split`. Rows marked `two_class` carry
only entailment / not_entailment and are dropped (the three-way label is unknown).
`license-review/` is never read: its licenses are undecided. The training mix caps each source
(seeded sample), so a run fits the time at hand; validation keeps every row.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import msgspec

LABELS: tuple[str, str, str] = ("entailment", "neutral", "contradiction")
LABEL_IDS: dict[str, int] = {name: index for index, name in enumerate(LABELS)}

# source file stem -> most training pairs taken from it (None: all); chosen for claim-vs-evidence
# data first (VitaminC, FEVER), general NLI second, skewed or rule-labelled sets capped hard
DEFAULT_TRAIN_CAPS: dict[str, int | None] = {
    "vitaminc": 18000,
    "fever_nli": 6000,
    "fever_gold_evidence": 5000,
    "snli": 6000,
    "mnli": 6000,
    "cad_snli": 3000,
    "breaking_nli": 800,
    "conjnli": 1500,
    "folio": None,
    "factcheck_gpt": None,
    "ambient": None,
    "fever_symmetric": None,
    "fever2_adversarial": None,
}


class DataError(ValueError):
    """A data file that is missing or malformed, naming file:line and field."""


class Pair(msgspec.Struct, frozen=True):
    """One labelled (premise, hypothesis) pair."""

    premise: str
    hypothesis: str
    label: int
    source: str


class _Row(msgspec.Struct, frozen=True):
    premise: str
    hypothesis: str
    label: str
    source: str
    split: str
    two_class: bool = False


def default_data_dir() -> Path:
    """`../shared/data/nli-train` relative to the repository root (where the checkout keeps it)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nli-train"


def read_rows(path: Path, split: str) -> Iterator[Pair]:
    """The three-way rows of one file in `split`, in file order."""
    decoder = msgspec.json.Decoder(_Row)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise DataError(f"{path}:{number}: {exc}") from exc
            if row.split not in ("train", "validation"):
                raise DataError(
                    f"{path}:{number}: split: expected train|validation, got {row.split!r}"
                )
            if row.two_class or row.split != split:
                continue
            if row.label not in LABEL_IDS:
                raise DataError(
                    f"{path}:{number}: label: expected one of {LABELS}, got {row.label!r}"
                )
            yield Pair(row.premise, row.hypothesis, LABEL_IDS[row.label], row.source)


def source_files(data_dir: Path) -> dict[str, Path]:
    """Top-level `*.jsonl` files by stem (never `license-review/`)."""
    files = {path.stem: path for path in sorted(data_dir.glob("*.jsonl"))}
    if not files:
        raise DataError(f"{data_dir}: expected NLI JSON Lines files, found none")
    return files


def training_mix(data_dir: Path, caps: Mapping[str, int | None], *, seed: int) -> list[Pair]:
    """The training split, each listed source sampled down to its cap (seeded), others left out."""
    files = source_files(data_dir)
    missing = sorted(set(caps) - set(files))
    if missing:
        raise DataError(f"{data_dir}: expected files for sources {missing}, found none")
    pairs: list[Pair] = []
    for stem, cap in sorted(caps.items()):
        rows = list(read_rows(files[stem], "train"))
        if cap is not None and len(rows) > cap:
            rows = random.Random(f"{seed}:{stem}").sample(rows, cap)
        pairs.extend(rows)
    return pairs


def validation_pairs(data_dir: Path, sources: Iterator[str] | None = None) -> list[Pair]:
    """Every three-way validation row of the given sources (default: all top-level files)."""
    files = source_files(data_dir)
    stems = sorted(files) if sources is None else sorted(sources)
    return [pair for stem in stems for pair in read_rows(files[stem], "validation")]


def stratified_subset(pairs: list[Pair], size: int, *, seed: int) -> list[Pair]:
    """A seeded sample of `size` pairs with every source in proportion (for frequent validation)."""
    if size >= len(pairs):
        return list(pairs)
    by_source: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_source.setdefault(pair.source, []).append(pair)
    chosen: list[Pair] = []
    for source, rows in sorted(by_source.items()):
        share = max(1, round(size * len(rows) / len(pairs)))
        chosen.extend(random.Random(f"{seed}:{source}").sample(rows, min(share, len(rows))))
    return chosen


def pairs_digest(pairs: list[Pair]) -> str:
    """`sha256:` over the pairs in order (premise, hypothesis, label, source), for provenance."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(msgspec.json.encode(pair) + b"\n")
    return "sha256:" + digest.hexdigest()


def with_partner_rewrites(
    pairs: Sequence[Pair],
    fraction: float,
    *,
    seed: int,
    flag: str,
    rewrite: Callable[[Pair, Pair, random.Random], Pair | None],
) -> list[Pair]:
    """`pairs` with a seeded `fraction` of them rewritten by `rewrite(pair, partner, rng)`, the
    partner drawn at random from `pairs` (None keeps the pair); `flag` names the CLI option."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"Expected a {flag} fraction in [0, 1], got {fraction!r} - at --{flag}")
    rng = random.Random(f"{seed}:{flag}")
    out: list[Pair] = []
    for pair in pairs:
        rewritten = None
        if pairs and rng.random() < fraction:
            rewritten = rewrite(pair, pairs[rng.randrange(len(pairs))], rng)
        out.append(pair if rewritten is None else rewritten)
    return out
