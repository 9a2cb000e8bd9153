"""``--targets matcher|photometric|hybrid`` of ``reproduce`` and ``demo``: the option reaches its field,
and a tiny photometric run trains the photometric loss without any stereo target prepared."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.cli import main
from ssrdepth.data.synthetic import generate_synthetic
from ssrdepth.experiments.reproduce import ReproduceConfig, plan_runs, train_config_for


def _parsed(command: str, *argv: str) -> object:
    if command == "demo":
        from ssrdepth.cli.demo import add_arguments, demo_config

        parser = argparse.ArgumentParser()
        add_arguments(parser)
        return demo_config(parser.parse_args(list(argv)))
    from ssrdepth.cli.reproduce import add_arguments as add_reproduce
    from ssrdepth.cli.reproduce import reproduce_config

    parser = argparse.ArgumentParser()
    add_reproduce(parser)
    return reproduce_config(parser.parse_args(list(argv)))


@pytest.mark.parametrize("command", ["demo", "reproduce"])
def test_targets_default_to_the_matcher_and_reach_the_config(command: str) -> None:
    assert _parsed(command).targets == "matcher"  # type: ignore[attr-defined]
    for targets in ("photometric", "hybrid"):
        assert _parsed(command, "--targets", targets).targets == targets  # type: ignore[attr-defined]
    with pytest.raises(SystemExit):
        _parsed(command, "--targets", "lidar")


def test_each_mode_sets_the_loss_and_the_target_after_the_recipe() -> None:
    base = ReproduceConfig(
        kitti="k", kitti_source="synthetic", models=("SC",), tables=("1",), recipe="ssrdepth"
    )
    (run,) = plan_runs(base)[0]
    assert (run.data.target, train_config_for(run, base).loss) == ("stereo", "masked_silog")
    for targets, target in (("photometric", "none"), ("hybrid", "stereo")):
        cfg = ReproduceConfig(**{**base.__dict__, "targets": targets})
        (run,) = plan_runs(cfg)[0]
        assert (run.data.target, train_config_for(run, cfg).loss) == (target, targets)
    # NYU has no stereo pair: Table 3 is left out of the stereo modes, with the reason.
    runs, skipped = plan_runs(ReproduceConfig(nyu="n", tables=("3",), targets="photometric"))
    assert runs == [] and skipped == [
        "Table 3 left out: NYU Depth v2 has no stereo pair (--targets photometric)"
    ]
    with pytest.raises(
        ValueError, match="unknown targets 'lidar'; valid targets: matcher, photometric, hybrid"
    ):
        ReproduceConfig(targets="lidar")


def test_reproduce_with_photometric_targets_needs_no_prepared_targets(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    generate_synthetic(root, 12, seed=3, size=(64, 212), sequence_length=6, workers=1, progress=False)
    out = tmp_path / "out"
    argv = ["reproduce", "--kitti", str(root), "--kitti-source", "synthetic", "--out", str(out)]
    argv += [
        "--models",
        "C",
        "--tables",
        "1",
        "--length",
        "2",
        "--width",
        "0.125",
        "--targets",
        "photometric",
    ]
    argv += ["--set", "batch_size=4", "--set", "eval_every=0", "--set", "tensorboard=false", "--no-progress"]
    assert main(argv) == 0
    run = out / "runs" / "table1-C"
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["loss"] == "photometric" and config["data"]["target"] == "none"
    assert load_checkpoint(run / "latest.pt").config["loss"] == "photometric"
    # Nothing was matched: no stereo target cache under the data set.
    assert not list(root.rglob("targets"))
    results = json.loads((out / "report" / "results.json").read_text(encoding="utf-8"))
    assert results["config"]["targets"] == "photometric" and results["targets"] == {
        f"synthetic:{root}:sgm:None": None
    }
    # Scored in metres against the exact depth only (no normalised target to compare with).
    assert set(results["runs"]["table1-C"]["results"]) == {"kitti", "kitti-full"}
