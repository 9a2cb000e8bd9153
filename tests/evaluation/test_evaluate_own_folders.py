"""Issue 15 kind 5: ``evaluate`` on one's own RGB-D or stereo folder, with the source options that
``prepare-targets`` and ``train`` take, from one shared definition."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.cli import COMMANDS
from ssrdepth.cli import main as cli_main
from ssrdepth.data import list_stereo_pairs, target_cache
from ssrdepth.data.config import DataConfig

from ..inference.conftest import constant_model

#: The options of each source (DataConfig fields) every data command must take.
SOURCE_FLAGS = ("--source", "--root", "--pattern", "--focal", "--baseline", "--depth-scale", "--depth-invalid",
                "--nyu-depth", "--max-depth", "--matcher", "--max-disparity", "--cache-dir", "--skip-bad")  # fmt: skip
#: SGM's largest error (px) on a random texture shifted by a whole 4 px: measured 0.125 (its 1/16-px
#: sub-pixel steps).
SGM_ERROR = 0.25


@pytest.mark.parametrize("command", ["prepare-targets", "train", "evaluate"])
def test_every_data_command_takes_every_source_option(command: str) -> None:
    parser = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    flags = {s for a in parser._actions for s in a.option_strings}
    assert set(SOURCE_FLAGS) <= flags, sorted(set(SOURCE_FLAGS) - flags)


def _constant_checkpoint(path: Path, value: float, size: tuple[int, int], target: dict[str, Any]) -> Path:
    """A grey model C whose output is ``value`` everywhere (tests/inference/conftest.py), saved with
    ``target`` (what that normalised value means)."""
    return save_checkpoint(path, constant_model("C", 1, value), input_size=size, target=target, step=1)


def _evaluate(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    rc = cli_main(["evaluate", *argv, "--split", "all", "--out", str(out), "--quiet"])
    text = capsys.readouterr()
    assert rc == 0, text.err
    (result,) = json.loads(next(out.glob("*.json")).read_text())["results"]
    return dict(result)


def test_evaluate_on_an_own_rgbd_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model that says 0.5 m everywhere, on three 32×24 TUM-style frames (5000 per metre) that are
    0.5 m deep but for a 6×8 block of the sensor's no-measurement code 4000 (0.8 m if read as depth),
    inside the NYU crop and below its 10 m cap."""
    root = tmp_path / "mine"
    rng = np.random.default_rng(0)
    for k in range(3):
        (root / "rgb").mkdir(parents=True, exist_ok=True)
        (root / "d").mkdir(exist_ok=True)
        cv2.imwrite(str(root / "rgb" / f"f{k}.jpg"), rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        depth = np.full((24, 32), 2500, np.uint16)  # 0.5 m at 5000 per metre (TUM RGB-D)
        depth[4:10, 4:12] = 4000  # the sensor's "no measurement"
        cv2.imwrite(str(root / "d" / f"f{k}.png"), depth)
    model = _constant_checkpoint(
        tmp_path / "half-metre.pt", 0.05, (24, 32), {"kind": "depth", "max_value": 10.0}
    )
    argv = [str(model), "--protocol", "nyu", "--source", "rgbd-folder", "--root", str(root),
            "--target", "depth", "--pattern", "rgb/{name}.jpg", "d/{name}.png", "--depth-scale", "5000"]  # fmt: skip
    # The NYU crop of a 24×32 image: rows 45·24//480 = 2 … 471·24//480 = 23, columns 41·32//640 = 2 …
    # 601·32//640 = 30, so 21 × 28 = 588 pixels per image, the block's 48 among them.
    read = _evaluate(argv, tmp_path / "read", capsys)
    assert (read["images"], read["valid_pixels"]) == (3, 3 * 588)
    m = read["metrics"]
    # The block read as 0.8 m against the predicted 0.5 m, on 48 of 588 pixels:
    assert m["abs_rel"] == pytest.approx(48 / 588 * 0.3 / 0.8)  # |0.5 − 0.8| / 0.8 = 0.375
    assert m["sq_rel"] == pytest.approx(48 / 588 * 0.09 / 0.8)
    assert m["rmse"] == pytest.approx(0.3 * (48 / 588) ** 0.5)  # = 0.3 · 2/7
    assert m["delta1"] == pytest.approx(540 / 588)  # 0.8 / 0.5 = 1.6 > 1.25
    # --depth-invalid 4000: the block is no measurement, and the model is exactly right elsewhere.
    skipped = _evaluate([*argv, "--depth-invalid", "4000"], tmp_path / "skipped", capsys)
    assert (skipped["images"], skipped["valid_pixels"]) == (3, 3 * 540)
    m = skipped["metrics"]
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-6) and m["rmse"] == pytest.approx(0.0, abs=1e-6)
    assert m["delta1"] == 1.0


def test_evaluate_on_an_own_stereo_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two random-texture pairs whose right image is the left shifted by 4 px, so the stereo targets
    are 4 px / 16 px = 0.25; a model that says 0.25 (4 px, 2.5 m with its rig: 100 px, 0.1 m)."""
    root = tmp_path / "pairs"
    rng = np.random.default_rng(1)
    for k in range(2):
        left = rng.integers(0, 256, (24, 64), dtype=np.uint8)
        for side, image in (("L", left), ("R", np.roll(left, -4, axis=1))):
            (root / side).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / side / f"p{k}.png"), image)
    rig = {"kind": "disparity", "max_value": 16.0, "focal": 100.0, "baseline": 0.1, "reference_width": 64}
    model = _constant_checkpoint(tmp_path / "four-px.pt", 0.25, (24, 64), rig)

    def source(focal: str) -> list[str]:
        return ["--source", "stereo-folder", "--root", str(root), "--pattern", "L/{name}.png", "R/{name}.png",
                "--focal", focal, "--baseline", "0.1", "--max-disparity", "16"]  # fmt: skip

    assert cli_main(["prepare-targets", *source("100"), "--workers", "1", "--no-progress"]) == 0
    cfg = DataConfig(source="stereo-folder", root=str(root), pattern=("L/{name}.png", "R/{name}.png"),
                     focal=100.0, baseline=0.1, max_disparity=16)  # fmt: skip
    for pair in list_stereo_pairs(cfg):  # the targets: 4 px wherever SGM matched
        disparity, valid = target_cache(cfg).read(pair.key)
        assert np.abs(disparity[valid] - 4.0).max() < SGM_ERROR and valid.mean() > 0.5
    argv = [str(model), "--protocol", "normalised", "--target", "stereo"]
    same = _evaluate([*argv, *source("100")], tmp_path / "same", capsys)
    assert same["metrics"]["rmse"] < SGM_ERROR / 16  # the model's rig: 0.25 against 0.25
    # A rig with twice the focal length: by the canonical-camera rule (Metric3D, Yin et al. 2023) the
    # network's 2.5 m in its own camera is 5 m in this one, which this rig (same baseline and width)
    # sees at 4 px again: 0.25 against targets of 0.25 (it was 0.5, 100 % off, when metres were kept).
    other = _evaluate([*argv, *source("200")], tmp_path / "other", capsys)
    assert other["valid_pixels"] == same["valid_pixels"]
    assert other["metrics"]["rmse"] == pytest.approx(same["metrics"]["rmse"], abs=1e-6)
