"""Checkpoint round trip, foreign files, and the ``ssrdepth models`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ssrdepth.checkpoint import load_checkpoint, save_checkpoint
from ssrdepth.cli import main
from ssrdepth.core.flops import count_gflops
from ssrdepth.core.sizes import parse_size
from ssrdepth.experiments.model_table import model_table
from ssrdepth.models import create_model


def test_checkpoint_rebuilds_an_identical_model(tmp_path: Path) -> None:
    model = create_model("SCRXU", 3, width=0.25, xu_skip=True)
    path = save_checkpoint(
        tmp_path / "m.pt",
        model,
        input_size=(37, 147),
        step=7,
        target={"kind": "disparity", "max_value": 96.0},
        config={"lr": 0.1},
    )
    # Loadable without executing code.
    raw = torch.load(path, weights_only=True)
    assert raw["model"]["name"] == "SCRXU"
    ckpt = load_checkpoint(path)
    assert ckpt.step == 7 and ckpt.input_size == (37, 147) and ckpt.extra["config"] == {"lr": 0.1}
    rebuilt = ckpt.build_model()
    x = torch.rand(1, 3, 37, 147)
    torch.testing.assert_close(rebuilt(x), model.eval()(x))
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_foreign_files_are_refused_with_the_file_name(tmp_path: Path) -> None:
    foreign = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, foreign)
    with pytest.raises(ValueError, match=r"other\.pt: not an ssrdepth checkpoint"):
        load_checkpoint(foreign)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.pt: not an ssrdepth checkpoint"):
        load_checkpoint(junk)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_gflops_are_counted_not_estimated() -> None:
    # C at 37×147, gray, counted by hand (2 FLOPs per MAC, convs only):
    # conv1 37·147·64·9, pool → 18×73; conv2 18·73·128·64·9; pool → 9×36;
    # conv3 9·36·256·128·9; conv4 9·36·512·256·9; head 9·36·1·512·9.
    macs = 37 * 147 * 64 * 9 + 18 * 73 * 128 * 64 * 9 + 9 * 36 * (256 * 128 + 512 * 256 + 512) * 9
    assert count_gflops(create_model("C"), 37, 147) == pytest.approx(2 * macs / 1e9, rel=1e-6)


def test_model_table_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_size("147x37") == (37, 147)
    rows = model_table([(94, 310)], channels=3, names=["scr"])
    assert rows[0].name == "SCRX" and rows[0].parameters == 4_902_475 and rows[0].output_stride > 4
    assert main(["models", "--size", "147x37", "--models", "C", "SCRXU"]) == 0
    out = capsys.readouterr().out
    assert "| C | 147×37×1 | 1,554,433 | 4.111 |" in out
    assert "SCRXU" in out
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_size("147")
    with pytest.raises(SystemExit):
        main(["frobnicate"])
