"""Distillation: the mixed loss, the teacher's cached soft labels (resume, refusal of a changed
teacher or mix), a run that actually learns from them, and the CLI's bad input."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import msgspec
import pytest

from oracles.models import fingerprint
from proxy.cli import main
from proxy.nli.data import Pair
from proxy.nli.distill import TEACHER_CACHE, teacher_probabilities
from proxy.nli.evaluate import load_runtime
from proxy.nli.train import distillation_loss, train
from tests.nli.toy import PAIRS, SETTINGS


def _torch() -> Any:
    return importlib.import_module("torch")


def test_the_loss_mixes_gold_and_teacher_cross_entropy() -> None:
    torch = _torch()
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = torch.tensor([0, 1])
    soft = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    log_probs = [
        [x - math.log(sum(math.exp(y) for y in row)) for x in row] for row in logits.tolist()
    ]
    hard = -(log_probs[0][0] + log_probs[1][1]) / 2
    teacher = (
        -sum(
            p * q
            for row_p, row_q in zip(soft.tolist(), log_probs, strict=True)
            for p, q in zip(row_p, row_q, strict=True)
        )
        / 2
    )
    for weight, expected in [(0.0, hard), (1.0, teacher), (0.25, 0.75 * hard + 0.25 * teacher)]:
        assert float(distillation_loss(logits, labels, soft, weight)) == pytest.approx(expected)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step checkpoint standing in for a stronger model (the mechanics are the same)."""
    root = tmp_path_factory.mktemp("teacher")
    return train(PAIRS, PAIRS[:3], SETTINGS, root / "run", max_steps=1, log=lambda _: None)


def test_teacher_rows_are_its_probabilities_cached_and_resumed(
    teacher: Path, tmp_path: Path
) -> None:
    expected = load_runtime(teacher, 1).predict(
        [(p.premise, p.hypothesis) for p in PAIRS], batch_size=32
    )
    rows = teacher_probabilities(
        teacher, PAIRS, tmp_path, threads=1, max_length=32, chunk=5, log=lambda _: None
    )
    # chunks of 5 pad differently from one batch of 12: equal up to float rounding
    assert [
        row == pytest.approx(want, abs=1e-5) for row, want in zip(rows, expected, strict=True)
    ] == [True] * 12
    cache = json.loads((tmp_path / TEACHER_CACHE).read_text())
    assert cache["teacher"] == fingerprint(teacher)
    cache["rows"] = cache["rows"][:5]  # as if interrupted after the first chunk
    (tmp_path / TEACHER_CACHE).write_text(json.dumps(cache))
    lines: list[str] = []
    resumed = teacher_probabilities(
        teacher, PAIRS, tmp_path, threads=1, max_length=32, chunk=5, log=lines.append
    )
    assert resumed == rows
    assert lines == ["teacher labels resumed at 5/12 pairs"]
    for pairs, length in [(PAIRS[:6], 32), (PAIRS, 16)]:
        with pytest.raises(ValueError, match="another teacher's, mix's or length's labels"):
            teacher_probabilities(
                teacher, pairs, tmp_path, threads=1, max_length=length, log=lambda _: None
            )


def test_the_teacher_sees_pairs_cut_to_the_students_length(teacher: Path, tmp_path: Path) -> None:
    long = [Pair(" ".join(["A bird sang at dawn."] * 40), "The bird is blue.", 1, "toy")]
    text = [(long[0].premise, long[0].hypothesis)]
    cut = teacher_probabilities(
        teacher, long, tmp_path, threads=1, max_length=8, log=lambda _: None
    )
    whole = load_runtime(teacher, 1).predict(text, batch_size=1)
    alone = load_runtime(teacher, 1, max_length=8).predict(text, batch_size=1)
    assert cut[0] == pytest.approx(alone[0])
    assert cut[0] != pytest.approx(whole[0], abs=1e-4)


def test_a_run_with_a_teacher_learns_from_its_rows(teacher: Path, tmp_path: Path) -> None:
    rows = [[1.0, 0.0, 0.0] if pair.label == 2 else [0.0, 0.0, 1.0] for pair in PAIRS]
    distilled = msgspec.structs.replace(SETTINGS, teacher=str(teacher), distill_weight=1.0)
    train(PAIRS, PAIRS[:3], SETTINGS, tmp_path / "plain", max_steps=2, log=lambda _: None)
    train(
        PAIRS,
        PAIRS[:3],
        distilled,
        tmp_path / "soft",
        max_steps=2,
        teacher_rows=rows,
        log=lambda _: None,
    )
    torch = _torch()
    plain = torch.load(tmp_path / "plain" / "last" / "trainer_state.pt", weights_only=False)[
        "model"
    ]
    soft = torch.load(tmp_path / "soft" / "last" / "trainer_state.pt", weights_only=False)["model"]
    assert not bool((plain["classifier.weight"] == soft["classifier.weight"]).all())
    record = json.loads((tmp_path / "soft" / "settings.json").read_text())
    assert record["teacher_fingerprint"] == fingerprint(teacher)
    assert record["settings"]["distill_weight"] == 1.0
    assert (
        "teacher" not in json.loads((tmp_path / "plain" / "settings.json").read_text())["settings"]
    )


def test_teacher_rows_must_match_the_settings_and_the_pairs(teacher: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly when settings name a teacher"):
        train(PAIRS, PAIRS[:3], SETTINGS, tmp_path / "a", teacher_rows=[[1.0, 0.0, 0.0]] * 12)
    distilled = msgspec.structs.replace(SETTINGS, teacher=str(teacher), distill_weight=0.5)
    with pytest.raises(ValueError, match="Expected 12 teacher rows, got 3"):
        train(PAIRS, PAIRS[:3], distilled, tmp_path / "b", teacher_rows=[[1.0, 0.0, 0.0]] * 3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--distill-weight", "0.3"], "--distill-weight needs --teacher"),
        (["--teacher", "/nonexistent/teacher"], "--teacher: no model at"),
    ],
)
def test_train_refuses_a_bad_teacher_request(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nli", "train", *argv, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
