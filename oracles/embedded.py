"""The NLI model shipped inside the package: where it lives and its calibration record.

`oracles/weights/nli-minilm-l6/model/` holds a 3-label cross-encoder (entailment / neutral /
contradiction) fine-tuned from all-MiniLM-L6-v2 by `assurance nli train` and exported as an int8
ONNX graph run by onnxruntime (`proxy.nli.export`); `calibration.json` beside it records the
expected calibration error measured on the validation split, the fingerprint of the model directory
it was measured on and the digest of that validation data (see `MODEL_CARD.md`). The record is the
model card's claim, not re-measured per call: a judge attaches it only when the fingerprint matches
the weights it actually loaded.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

EMBEDDED_NLI_NAME = "assurance-nli-minilm-l6"
EMBEDDED_NLI_DIR = Path(__file__).resolve().parent / "weights" / "nli-minilm-l6"


class CalibrationRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Expected calibration error of one model directory on one validation set."""

    model_fingerprint: str
    validation_digest: str
    validation_pairs: int
    expected_calibration_error: float
    bins: int


def embedded_nli_model_path() -> Path:
    """The shipped model directory (raises FileNotFoundError when the weights are absent)."""
    path = EMBEDDED_NLI_DIR / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"Expected the embedded NLI model at {str(path)!r}, got no config.json there"
        )
    return path


def read_calibration(model_dir: Path, model_fingerprint: str) -> CalibrationRecord | None:
    """`calibration.json` beside `model_dir` when it was measured on exactly these weights."""
    path = model_dir.parent / "calibration.json"
    try:
        record = msgspec.json.decode(path.read_bytes(), type=CalibrationRecord)
    except (OSError, msgspec.DecodeError):
        return None
    return record if record.model_fingerprint == model_fingerprint else None
