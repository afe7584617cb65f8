"""The dozen toy pairs and small settings the tiny real training runs share."""

from __future__ import annotations

from oracles.models import default_embedding_model_path
from proxy.nli.data import Pair
from proxy.nli.train import TrainSettings

PAIRS = (
    [Pair(f"A cat sat on mat number {i}.", f"A cat sat on mat {i}.", 0, "toy") for i in range(4)]
    + [Pair(f"A dog ran in park {i}.", f"No dog ran in park {i}.", 2, "toy") for i in range(4)]
    + [Pair(f"A bird sang at dawn {i}.", f"The bird is blue {i}.", 1, "toy") for i in range(4)]
)
SETTINGS = TrainSettings(
    base_model=str(default_embedding_model_path()),
    batch_size=4,
    max_length=32,
    eval_every=2,
    threads=1,
    bucket_batches=2,
)
