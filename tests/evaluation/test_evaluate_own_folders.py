"""Issue 15 kind 5: ``evaluate`` on one's own RGB-D or stereo folder, with the source options that
``prepare-targets`` and ``train`` take, from one shared definition."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.cli import COMMANDS
from ssrdepth.cli import main as cli_main

#: The options of each source (DataConfig fields) every data command must take.
SOURCE_FLAGS = ("--source", "--root", "--pattern", "--focal", "--baseline", "--depth-scale", "--depth-invalid",
                "--nyu-depth", "--max-depth", "--matcher", "--max-disparity", "--cache-dir", "--skip-bad")  # fmt: skip


@pytest.mark.parametrize("command", ["prepare-targets", "train", "evaluate"])
def test_every_data_command_takes_every_source_option(command: str) -> None:
    parser = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    flags = {s for a in parser._actions for s in a.option_strings}
    assert set(SOURCE_FLAGS) <= flags, sorted(set(SOURCE_FLAGS) - flags)


def test_evaluate_on_an_own_rgbd_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "mine"
    rng = np.random.default_rng(0)
    for k in range(3):
        (root / "rgb").mkdir(parents=True, exist_ok=True)
        (root / "d").mkdir(exist_ok=True)
        cv2.imwrite(str(root / "rgb" / f"f{k}.jpg"), rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        depth = np.full((24, 32), 2500, np.uint16)  # 0.5 m at 5000 per metre (TUM RGB-D)
        depth[0] = 65535  # the sensor's "no measurement"
        cv2.imwrite(str(root / "d" / f"f{k}.png"), depth)
    out = tmp_path / "eval"
    rc = cli_main(["evaluate", "C", "--width", "0.25", "--size", "32x24", "--protocol", "nyu",
                   "--source", "rgbd-folder", "--root", str(root), "--target", "depth",
                   "--pattern", "rgb/{name}.jpg", "d/{name}.png", "--depth-scale", "5000",
                   "--depth-invalid", "65535", "--split", "all", "--out", str(out), "--quiet"])  # fmt: skip
    text = capsys.readouterr()
    assert rc == 0, text.err
    assert ": 3 images" in text.out
    assert json.loads(next(out.glob("*.json")).read_text())


def test_evaluate_on_an_own_stereo_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "pairs"
    rng = np.random.default_rng(1)
    for k in range(2):
        left = rng.integers(0, 256, (24, 64), dtype=np.uint8)
        for side, image in (("L", left), ("R", np.roll(left, -4, axis=1))):
            (root / side).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / side / f"p{k}.png"), image)
    source = ["--source", "stereo-folder", "--root", str(root), "--pattern", "L/{name}.png", "R/{name}.png",
              "--focal", "100", "--baseline", "0.1", "--max-disparity", "16"]  # fmt: skip
    assert cli_main(["prepare-targets", *source, "--workers", "1", "--no-progress"]) == 0
    out = tmp_path / "eval"
    rc = cli_main(["evaluate", "C", "--width", "0.25", "--size", "64x24", "--protocol", "paper",
                   *source, "--target", "stereo", "--split", "all", "--out", str(out), "--quiet"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert list(out.glob("*.json"))
