"""Reference targets (``exact`` / ``lidar-like``: the synthetic set's exact disparity, not matched) reach
every way a user asks for them: ``prepare-targets --matcher``, ``train``/``evaluate --matcher`` and
``reproduce --matcher`` or ``--set data.matcher=...``, whose runs then read (and have prepared) the
targets they train on. Before, ``prepare-targets`` refused them while the missing-targets message
told the user to run exactly that, and ``reproduce --set data.matcher=exact`` prepared SGM targets."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.cli import main as cli
from ssrdepth.data import DataConfig, generate_synthetic, list_stereo_pairs
from ssrdepth.data.synthetic import decode_depth
from ssrdepth.experiments.reproduce import ReproduceConfig, plan_runs, train_config_for
from ssrdepth.stereo.cache import TargetCache


@pytest.fixture(scope="module")
def two_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ref") / "synthetic"
    generate_synthetic(root, 2, seed=3, sequence_length=2, size=(160, 48), workers=1, progress=False)
    return root


def test_prepare_targets_fills_the_exact_disparity(
    two_pairs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["prepare-targets", "--source", "synthetic", "--root", str(two_pairs), "--matcher", "exact"]
    assert cli([*argv, "--no-progress"]) == 0
    assert "2 computed, 0 already cached of 2 frames" in capsys.readouterr().out
    assert cli([*argv, "--no-progress"]) == 0
    assert "0 computed, 2 already cached of 2 frames" in capsys.readouterr().out
    cfg = DataConfig(source="synthetic", root=str(two_pairs), matcher="exact")
    cache = TargetCache.for_config(cfg)
    for pair in list_stereo_pairs(cfg):
        disparity, valid = cache.read(pair.key)
        depth_png = Path(str(pair.left).replace("image_02", "depth"))
        depth = decode_depth(cv2.imread(str(depth_png), cv2.IMREAD_UNCHANGED))
        known = depth > 0
        # f·B/Z by hand, stored to 1/256 px (KITTI's PNG scale); the sky (no depth) stays invalid.
        truth = pair.focal * pair.baseline / depth[known]
        assert np.array_equal(valid, known) and known.mean() > 0.3
        assert np.abs(disparity[known] - truth).max() <= 0.5 / 256 + 1e-6
    assert (
        cli(
            [
                "prepare-targets",
                "--source",
                "synthetic",
                "--root",
                str(two_pairs),
                "--matcher",
                "lidar-like",
                "--no-progress",
            ]
        )
        == 0
    )
    lidar = TargetCache.for_config(DataConfig(source="synthetic", root=str(two_pairs), matcher="lidar-like"))
    for key in [p.key for p in list_stereo_pairs(cfg)]:
        sparse, hit = lidar.read(key)
        full, known = cache.read(key)
        assert hit.any() and not (hit & ~known).any() and 0.01 < hit.mean() < 0.5
        np.testing.assert_allclose(sparse[hit], full[hit], atol=1 / 256)


def test_prepare_targets_refuses_exact_targets_without_exact_depth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = tmp_path / "rig"
    for side in ("left", "right"):
        (rig / side).mkdir(parents=True)
        cv2.imwrite(str(rig / side / "0001.png"), np.full((32, 64), 128, np.uint8))
    argv = ["prepare-targets", "--source", "stereo-folder", "--root", str(rig), "--focal", "700"]
    assert cli([*argv, "--baseline", "0.1", "--matcher", "exact", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(rig) in err and "'exact' targets need exact depth" in err and "'none' depth" in err


def test_reproduce_runs_read_the_targets_they_train_on() -> None:
    base = ReproduceConfig(kitti="k", kitti_source="synthetic", models=("SC",), tables=("1", "2"))
    assert {r.data.matcher for r in plan_runs(base)[0]} == {"sgm"}
    for cfg in (
        ReproduceConfig(**{**base.__dict__, "overrides": ("data.matcher=exact",)}),
        ReproduceConfig(**{**base.__dict__, "matcher": "exact"}),
    ):
        runs = plan_runs(cfg)[0]
        assert len(runs) == 3 and {r.data.matcher for r in runs} == {"exact"}
        assert all(train_config_for(r, cfg).data == r.data for r in runs)


@pytest.mark.parametrize("command", ["train", "evaluate", "prepare-targets", "reproduce"])
def test_every_matcher_option_takes_the_references(command: str) -> None:
    import importlib

    module = importlib.import_module(f"ssrdepth.cli.{command.replace('-', '_')}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    (action,) = [a for a in parser._actions if "--matcher" in a.option_strings]
    assert {"sgm", "bm", "elas", "exact", "lidar-like"} <= set(action.choices or ())
