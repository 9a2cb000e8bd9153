"""End to end on the synthetic street set: render, stereo-match, ``ssrdepth train`` from a preset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.cli import main
from ssrdepth.data import DataConfig, build_dataset, generate_synthetic, list_stereo_pairs, target_cache
from ssrdepth.data.targets import prepare_targets
from ssrdepth.models import create_model
from ssrdepth.training.config import load_config


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 tiny pairs (32×96, sequences of 8) with SGM targets; max disparity 32 px at 96 px width."""
    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic(root, 40, size=(32, 96), sequence_length=8, workers=1, progress=False)
    cfg = DataConfig(source="synthetic", root=str(root), max_disparity=32)
    prepare_targets(list_stereo_pairs(cfg), target_cache(cfg), workers=1, progress=False)
    return root


def test_train_command_on_synthetic_data(synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--preset", "synthetic-tiny", "--out", str(out), "--no-progress"]
    args += ["--set", f"data.root={synthetic_root}", "--set", "data.max_disparity=32"]
    args += ["--set", "length=30", "--set", "eval_every=10", "--set", "tensorboard=false"]
    args += ["--set", "precision=fp32"]  # validation compared below with an fp32 recompute
    assert main(args) == 0

    data = load_config(out / "config.toml").data  # the resolved config written into the run folder
    val = build_dataset(data, "test", progress=False)
    assert len(val) > 0
    # Validation RMSE of the untrained network (same seed as train() uses), recomputed here per image.
    batch = [val[i] for i in range(len(val))]
    image = torch.stack([b["image"] for b in batch])
    target = torch.stack([b["target"] for b in batch])
    valid = torch.stack([b["valid_mask"] for b in batch])

    def rmse(model: torch.nn.Module) -> float:
        with torch.no_grad():
            pred = model.eval()(image)
        per = [((pred[i][valid[i]] - target[i][valid[i]]) ** 2).mean().sqrt() for i in range(len(pred))]
        return float(torch.stack(per).mean())

    torch.manual_seed(0)
    rmse0 = rmse(create_model("SCRX", 1, width=0.25))
    result = json.loads((out / "result.json").read_text())["result"]
    losses = [r["loss"] for r in result["history"]["train"]]
    assert losses[-1] < losses[0] / 3, losses
    best = load_checkpoint(out / "best.pt")
    assert best.input_size == (16, 48) and best.target == val.scale.as_dict()  # type: ignore[attr-defined]
    assert best.target["kind"] == "disparity" and best.target["max_value"] == 32.0
    assert rmse(best.build_model()) == pytest.approx(best.metrics["val_rmse"], rel=1e-4)
    assert best.metrics["val_rmse"] < 0.75 * rmse0, (best.metrics, rmse0)
    # Run again: the finished run is found and reused, nothing is retrained.
    stamp = (out / "latest.pt").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "latest.pt").stat().st_mtime_ns == stamp
