"""Packaging a trained NLI checkpoint as the shipped model: an int8 ONNX graph for onnxruntime.

The fp32 checkpoint is traced to ONNX (eager attention, a padded two-pair example so the mask path
is the one traced, dynamic batch and sequence axes), pre-processed, and its weights quantized to
int8 per output channel (`onnxruntime.quantization.quantize_dynamic`, default op types; the
activations are quantized at run time). `nli export` measures the result against the fp32
checkpoint on the same pairs and the model card reports both (speed, accuracy, size). `model/`
receives `model.onnx`, the tokenizer and `config.json` (its `id2label` names the output
columns); nothing else, so the directory's fingerprint is the shipped model's identity.
"""

from __future__ import annotations

import importlib
import tempfile
import warnings
from pathlib import Path
from typing import Any

from oracles.models import ONNX_INPUTS, ONNX_MODEL_FILE, ONNX_OUTPUT

ONNX_OPSET = 17


def _clear(target: Path) -> None:
    if target.exists():
        for file in sorted(target.rglob("*"), reverse=True):
            file.unlink() if file.is_file() else file.rmdir()
    target.mkdir(parents=True, exist_ok=True)


def _trace(model: Any, tokenizer: Any, path: Path) -> None:
    torch: Any = importlib.import_module("torch")
    example = tokenizer(
        ["A cat sat on the mat.", "A dog."],
        ["The cat sat.", "A dog ran in the park today."],
        padding=True,
        return_tensors="pt",
    )
    # the inputs the tokenizer yields, in forward() order (MPNet has no token types)
    names = [name for name in ONNX_INPUTS if name in example]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    with warnings.catch_warnings(), torch.inference_mode():
        # the TorchScript exporter warns that it is deprecated, that traced Python booleans are
        # constants and that advanced indexing breaks on negative indices (the mask code's are
        # not); torch is pinned (2.13) and the export is checked against torch fp32 (tests)
        warnings.filterwarnings("ignore", "Exporting aten::index operator", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            tuple(example[name] for name in names),
            str(path),
            input_names=names,
            output_names=[ONNX_OUTPUT],
            dynamic_axes={**axes, ONNX_OUTPUT: {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def export_model(checkpoint: Path, out: Path) -> Path:
    """Write `checkpoint` as int8 ONNX plus tokenizer and config into `out/model` (replacing it)."""
    torch: Any = importlib.import_module("torch")
    transformers: Any = importlib.import_module("transformers")
    quantization: Any = importlib.import_module("onnxruntime.quantization")
    shape_inference: Any = importlib.import_module("onnxruntime.quantization.shape_inference")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(checkpoint), local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(checkpoint), local_files_only=True, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    target = out / "model"
    _clear(target)
    with tempfile.TemporaryDirectory(prefix="nli-export-") as scratch:
        traced, prepared = Path(scratch) / "fp32.onnx", Path(scratch) / "prepared.onnx"
        _trace(model, tokenizer, traced)
        shape_inference.quant_pre_process(str(traced), str(prepared), skip_symbolic_shape=True)
        quantization.quantize_dynamic(
            str(prepared),
            str(target / ONNX_MODEL_FILE),
            weight_type=quantization.QuantType.QInt8,
            per_channel=True,
        )
    tokenizer.save_pretrained(str(target))
    model.config.save_pretrained(str(target))
    return target
