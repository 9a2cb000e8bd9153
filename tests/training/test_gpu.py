"""CUDA training: mixed precision (bf16, fp16 with gradient scaling), channels-last, exact resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.training.config import TrainConfig, apply_overrides
from ssrdepth.training.loop import train

from .conftest import ToyDepth

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_channels_last_trains_on_cuda(toy_cfg: TrainConfig, precision: str) -> None:
    cfg = apply_overrides(
        toy_cfg,
        [
            "device=cuda",
            f"precision={precision}",
            "channels_last=true",
            "length=40",
            "eval_every=20",
            "workers=2",
        ],
    )
    result = train(cfg, train_set=ToyDepth(64), val_set=ToyDepth(16, seed=1))
    losses = [r["loss"] for r in result.history["train"]]
    assert losses[-1] < 0.25 * losses[0], losses
    raw = torch.load(result.latest_checkpoint, weights_only=True, map_location="cpu")
    assert ("scaler" in raw) == (precision == "fp16")
    # The checkpoint rebuilds on the CPU in fp32 and reproduces the recorded validation RMSE.
    ckpt = load_checkpoint(result.latest_checkpoint)
    model = ckpt.build_model()
    val = ToyDepth(16, seed=1)
    with torch.no_grad():
        pred = model(val.image)
    v = val.valid
    per_image = [((pred[i][v[i]] - val.target[i][v[i]]) ** 2).mean().sqrt() for i in range(16)]
    rmse = float(torch.stack(per_image).mean())
    assert rmse == pytest.approx(ckpt.metrics["val_rmse"], abs=2e-3)  # autocast vs fp32 rounding


def test_resume_on_cuda_matches(toy_cfg: TrainConfig, tmp_path: Path) -> None:
    base = apply_overrides(
        toy_cfg, ["device=cuda", "deterministic=true", "length=8", "checkpoint_every=2", "eval_every=4"]
    )
    full = train(dataclasses.replace(base, out=str(tmp_path / "full")), train_set=ToyDepth(24))

    def crash(step: int) -> None:
        if step == 5:
            raise RuntimeError("crash")

    cut = dataclasses.replace(base, out=str(tmp_path / "cut"))
    with pytest.raises(RuntimeError, match="crash"):
        train(cut, train_set=ToyDepth(24), on_step=crash)
    resumed = train(cut, train_set=ToyDepth(24))
    a = load_checkpoint(full.latest_checkpoint).state_dict
    b = load_checkpoint(resumed.latest_checkpoint).state_dict
    for k, v in a.items():
        torch.testing.assert_close(b[k], v, rtol=1e-6, atol=1e-7)
