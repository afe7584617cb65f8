"""`assurance nli export`: bad input exits 2 naming the problem; the card's export line."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.cli import main
from proxy.commands.nli import _without_train_command


def test_export_without_a_model_at_the_checkpoint_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["nli", "export", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "no model at" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written


def test_export_with_a_missing_data_dir_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["nli", "export", str(tmp_path), "--data-dir", str(tmp_path / "absent")])
    assert code == 2
    assert "assurance nli export:" in capsys.readouterr().err


def test_the_recorded_export_command_leaves_out_the_train_command_text() -> None:
    argv = ["ckpt", "--train-command", "assurance nli train --seed 3", "--limit", "8", "--x=1"]
    assert _without_train_command(argv) == ["ckpt", "--limit", "8", "--x=1"]
    assert _without_train_command(["ckpt", "--train-command=t"]) == ["ckpt"]


@pytest.mark.parametrize("value", ["1.5", "-0.2", "lots"])
@pytest.mark.parametrize("flag", ["--qa-form", "--partial", "--distractor"])
def test_train_refuses_a_share_outside_0_to_1(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["nli", "train", flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err
