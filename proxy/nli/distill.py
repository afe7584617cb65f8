"""Distillation: a stronger NLI model's probabilities as soft labels for the student.

`nli train --teacher DIR --distill-weight A` trains on (1 - A) x cross-entropy with the gold label
plus A x cross-entropy with the teacher's probabilities (the teacher's view of how a pair could be
read, which a hard label drops). The teacher runs once over the training pairs, on the runtime
the proxy would use for it, truncated to the student's `max_length`: a soft label must describe
the text the student sees, not context cut from its input (and long pairs cost the teacher less).
Its rows are cached in `OUT/teacher.json` chunk by chunk under the teacher's fingerprint, the
pairs' digest and that length, so an interrupted labelling resumes, and a changed teacher, mix or
length is refused rather than silently mixed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from oracles.models import fingerprint
from proxy.nli.data import LABELS, Pair, pairs_digest
from proxy.nli.evaluate import load_runtime

TEACHER_CACHE = "teacher.json"


def teacher_probabilities(
    teacher: Path,
    pairs: Sequence[Pair],
    out_dir: Path,
    *,
    threads: int,
    max_length: int,
    chunk: int = 1024,
    log: Callable[[str], None] = print,
) -> list[list[float]]:
    """The teacher's probabilities per pair (columns in `LABELS` order), cached under `out_dir`."""
    identity = {
        "teacher": fingerprint(teacher),
        "pairs": pairs_digest(list(pairs)),
        "max_length": max_length,
    }
    cache = out_dir / TEACHER_CACHE
    rows: list[list[float]] = []
    if cache.exists():
        recorded = json.loads(cache.read_text())
        if {key: recorded.get(key) for key in identity} != identity:
            raise ValueError(
                f"{cache} holds another teacher's, mix's or length's labels; use a new --out"
            )
        rows = recorded["rows"]
        log(f"teacher labels resumed at {len(rows)}/{len(pairs)} pairs")
    if len(rows) >= len(pairs):
        return rows[: len(pairs)]
    model = load_runtime(teacher, threads, max_length=max_length)
    labels = model.id2label()
    if [labels.get(index) for index in range(len(LABELS))] != list(LABELS):
        raise ValueError(f"Expected a teacher with columns {list(LABELS)}, got {labels}")
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = tqdm(
        total=len(pairs), initial=len(rows), desc="teacher", unit="pair", mininterval=5.0
    )
    while len(rows) < len(pairs):
        batch = pairs[len(rows) : len(rows) + chunk]
        # length-sorted inside the chunk, so a torch teacher's batches carry little padding
        order = sorted(range(len(batch)), key=lambda i: len(batch[i].premise + batch[i].hypothesis))
        ranked = model.predict(
            [(batch[i].premise, batch[i].hypothesis) for i in order], batch_size=32
        )
        by_index = dict(zip(order, ranked, strict=True))
        rows.extend(by_index[i] for i in range(len(batch)))
        progress.update(len(batch))
        scratch = cache.with_suffix(".tmp")
        scratch.write_text(json.dumps({**identity, "rows": rows}))
        scratch.replace(cache)
    progress.close()
    return rows
