"""Benchmark: 3-class accuracy of the shipped NLI model against `lexical` on the validation split.

The same stratified validation subset as the model card (8,000 pairs, seed 13, from the top-level
files of `shared/data/nli-train/`), judged by the embedded cross-encoder (arg-max of its three
probabilities, on onnxruntime as the proxy runs it) and by the `lexical` heuristic (entailment
(1, 0), contradiction (0, 1), neutral (0, 0)), pair for pair. Reported overall, per source, and on
the claim-versus-evidence part where token overlap fails: the FEVER- and VitaminC-derived sources.
Prints one JSON object.

Run: `.venv/bin/python -m bench.nli_validation [--limit 8000]`.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any

from oracles.embedded import embedded_nli_model_path
from oracles.models import cross_encoder_model
from oracles.nli_lexical import score_pairs
from proxy.nli.data import LABEL_IDS, Pair, default_data_dir, stratified_subset, validation_pairs

CLAIM_EVIDENCE_PREFIXES = ("fever", "vitaminc")


def lexical_labels(pairs: Sequence[Pair]) -> list[int]:
    """The heuristic's 3-class label per pair."""
    out = []
    for plus, minus in score_pairs([(pair.premise, pair.hypothesis) for pair in pairs]):
        name = "entailment" if plus > 0 else "contradiction" if minus > 0 else "neutral"
        out.append(LABEL_IDS[name])
    return out


def model_labels(pairs: Sequence[Pair]) -> list[int]:
    """The shipped model's arg-max label per pair (columns named by its id2label)."""
    model = cross_encoder_model(embedded_nli_model_path(), device=None)
    names = model.id2label()
    rows = model.predict([(pair.premise, pair.hypothesis) for pair in pairs], batch_size=32)
    return [LABEL_IDS[names[max(range(len(row)), key=row.__getitem__)]] for row in rows]


def _accuracy(guesses: Sequence[int], pairs: Sequence[Pair], keep: Any) -> dict[str, Any]:
    chosen = [i for i, pair in enumerate(pairs) if keep(pair)]
    hits = sum(guesses[i] == pairs[i].label for i in chosen)
    return {"pairs": len(chosen), "accuracy": round(hits / len(chosen), 4) if chosen else None}


def report(pairs: Sequence[Pair]) -> dict[str, Any]:
    """Both judges on `pairs`: overall, claim-vs-evidence part, per source."""
    judges = {"embedded": model_labels(pairs), "lexical": lexical_labels(pairs)}
    sources = sorted({pair.source for pair in pairs})
    return {
        name: {
            "all": _accuracy(guesses, pairs, lambda _: True),
            "fever_and_vitaminc": _accuracy(
                guesses, pairs, lambda pair: pair.source.startswith(CLAIM_EVIDENCE_PREFIXES)
            ),
            "per_source": {
                source: _accuracy(guesses, pairs, lambda pair, s=source: pair.source == s)
                for source in sources
            },
        }
        for name, guesses in judges.items()
    }


def main() -> None:
    """Parse flags, run, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    pairs = stratified_subset(validation_pairs(default_data_dir()), args.limit, seed=args.seed)
    result = {"limit": args.limit, "seed": args.seed, **report(pairs)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
