"""Training options that change what a run computes, each checked by its observable effect against a
second computation: ``unit = "epochs"``, ``optim.grad_clip``, Adam vs AdamW, ``best_metric``,
``val_max_batches`` and ``precision = "auto"``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrdepth.checkpoint import load_checkpoint, save_checkpoint
from ssrdepth.core import hardware
from ssrdepth.models import create_model
from ssrdepth.training.config import TrainConfig, apply_overrides
from ssrdepth.training.loop import train

from .conftest import ToyDepth

Weights = dict[str, torch.Tensor]


class Recorded(ToyDepth):
    """:class:`ToyDepth` that remembers which indices were loaded, in order."""

    def __init__(self, n: int, seed: int = 0) -> None:
        super().__init__(n, seed=seed)
        self.loaded: list[int] = []

    def __getitem__(self, i: int) -> dict[str, object]:
        self.loaded.append(int(i))
        return super().__getitem__(i)


# ------------------------------------------------------------------------------------------ unit
def test_unit_epochs_runs_whole_passes_without_the_incomplete_batch(toy_cfg: TrainConfig) -> None:
    # 20 samples in batches of 8: 2 full batches per epoch (the last 4 are dropped), 3 epochs = 6 steps.
    cfg = apply_overrides(toy_cfg, ["unit=epochs", "length=3", "eval_every=1", "batch_size=8"])
    data = Recorded(20)
    steps: list[int] = []
    result = train(cfg, train_set=data, val_set=ToyDepth(8, seed=1), on_step=steps.append)

    assert steps == [1, 2, 3, 4, 5, 6] and result.steps == 6
    latest = load_checkpoint(result.latest_checkpoint)
    assert latest.step == 6 and latest.extra["epoch"] == 3.0
    assert [r["step"] for r in result.history["train"]] == [1, 2, 3, 4, 5, 6]
    assert [r["epoch"] for r in result.history["train"]] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert [r["step"] for r in result.history["val"]] == [2, 4, 6]  # eval_every = 1 epoch
    # Each epoch takes the first 16 of its own permutation (DistributedSampler's: randperm seeded by
    # seed + epoch), so every sample is seen at most once per epoch.
    probe, *loaded = data.loaded
    assert probe == 0 and len(loaded) == 48  # train() first looks at sample 0 for the image size
    for epoch in range(3):
        order = torch.randperm(20, generator=torch.Generator().manual_seed(cfg.seed + epoch)).tolist()
        assert loaded[16 * epoch : 16 * (epoch + 1)] == order[:16]


# ------------------------------------------------------------------------------------------ one step
def _init(tmp_path: Path) -> tuple[Path, ToyDepth]:
    """Start weights saved here (``init_from``) and a training set of one batch: 8 samples, batch 8 (the
    order is shuffled, but a mean does not care)."""
    torch.manual_seed(7)
    init = save_checkpoint(tmp_path / "init.pt", create_model("C", 1, width=0.25), input_size=(16, 48))
    return init, ToyDepth(8)


def _one_step(
    toy_cfg: TrainConfig, init: Path, data: ToyDepth, options: list[str]
) -> tuple[Weights, Weights]:
    """One optimiser step from ``init`` on the whole of ``data``: ``(weights before, weights after)``."""
    cfg = apply_overrides(
        toy_cfg,
        [
            f"init_from={init}",
            "length=1",
            "eval_every=0",
            "schedule.name=constant",
            "schedule.warmup=0",
            "channels_last=false",
            *options,
        ],
    )
    result = train(cfg, train_set=data)
    before = torch.load(init, weights_only=True)["state_dict"]
    after = torch.load(result.latest_checkpoint, weights_only=True)["state_dict"]
    return before, after


def _gradients(weights: Weights, data: ToyDepth) -> Weights:
    """d/dθ of the per-pixel mean squared error over the whole set (the ``mse`` loss, by hand)."""
    model = create_model("C", 1, width=0.25)
    model.load_state_dict(weights)
    model.train()
    loss = ((model(data.image) - data.target) ** 2).mean()
    loss.backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}  # type: ignore[union-attr]


def test_grad_clip_scales_the_step_to_the_clipped_gradient(toy_cfg: TrainConfig, tmp_path: Path) -> None:
    init, data = _init(tmp_path)
    grads = _gradients(torch.load(init, weights_only=True)["state_dict"], data)
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads.values()))
    # Clip to a twentieth of the gradient's norm; plain SGD (no momentum) at a rate that makes the
    # step 0.02 long: θ₁ = θ₀ − lr · g · clip / ‖g‖.
    clip = norm / 20
    lr = 0.02 / clip
    before, after = _one_step(
        toy_cfg, init, data, [f"optim.lr={lr}", "optim.momentum=0", f"optim.grad_clip={clip}"]
    )
    step_norm = 0.0
    for name, g in grads.items():
        delta = after[name] - before[name]
        torch.testing.assert_close(delta, -lr * (clip / norm) * g, rtol=1e-3, atol=2e-7)
        step_norm += float((delta.double() ** 2).sum())
    assert math.sqrt(step_norm) == pytest.approx(0.02, rel=1e-3)


def _adam_first_step(
    p: torch.Tensor, g: torch.Tensor, lr: float, eps: float, wd: float, decoupled: bool
) -> torch.Tensor:
    """Adam's first update (Kingma & Ba 2015, Algorithm 1): with bias correction m̂ = g, v̂ = g², so
    θ₁ = θ₀ − lr · g / (|g| + ε). Adam's weight decay is coupled: g ← g + wd·θ₀ (an L2 penalty);
    AdamW's is decoupled (Loshchilov & Hutter 2019): θ₀ ← θ₀ · (1 − lr·wd), g unchanged."""
    p, g = p.double(), g.double()
    if decoupled:
        return p * (1 - lr * wd) - lr * g / (g.abs() + eps)
    g = g + wd * p
    return p - lr * g / (g.abs() + eps)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_and_adamw_take_their_own_first_step(toy_cfg: TrainConfig, tmp_path: Path, name: str) -> None:
    # ε = 1e-3 keeps g / (|g| + ε) smooth where gradients are near zero, so float rounding of g stays
    # small in the step; weight decay 0.5 makes the coupled and decoupled terms far apart.
    lr, eps, wd = 0.01, 1e-3, 0.5
    init, data = _init(tmp_path)
    before, after = _one_step(
        toy_cfg,
        init,
        data,
        [f"optim.name={name}", f"optim.lr={lr}", f"optim.eps={eps}", f"optim.weight_decay={wd}"],
    )
    grads = _gradients(before, data)
    gap = 0.0
    for k, g in grads.items():
        mine = _adam_first_step(before[k], g, lr, eps, wd, decoupled=name == "adamw")
        other = _adam_first_step(before[k], g, lr, eps, wd, decoupled=name != "adamw")
        torch.testing.assert_close(after[k].double(), mine, rtol=0, atol=2e-6)
        gap = max(gap, float((mine - other).abs().max()))
    assert gap > 1e-3  # the other optimiser's step is hundreds of tolerances away


# ------------------------------------------------------------------------------------------ validation
def _split_loss_and_rmse(n: int) -> ToyDepth:
    """A validation set whose valid pixels (top 4 rows) carry the training task's target and whose
    invalid pixels carry its opposite (1 − target): learning the task lowers ``val_rmse`` and ``val_mse``
    (valid pixels only) but raises ``val_loss`` (the unmasked ``mse`` over every pixel)."""
    val = ToyDepth(n, seed=1)
    val.valid[:] = False
    val.valid[:, :, :4] = True
    val.target = torch.where(val.valid, val.target, 1 - val.target)
    return val


def _val_metrics(model: torch.nn.Module, ds: ToyDepth, images: int) -> dict[str, float]:
    """Second implementation of the validation metrics, in NumPy, over the first ``images`` samples."""
    with torch.no_grad():
        pred = model(ds.image[:images]).double().numpy()
    t, v = ds.target[:images].double().numpy(), ds.valid[:images].numpy()
    sq = (pred - t) ** 2
    return {
        "val_loss": float(np.mean([sq[i].mean() for i in range(images)])),
        "val_mse": float(sq[v].mean()),
        "val_rmse": float(np.mean([np.sqrt(sq[i][v[i]].mean()) for i in range(images)])),
    }


def test_best_metric_picks_the_checkpoint_with_the_best_recorded_value(
    toy_cfg: TrainConfig, tmp_path: Path
) -> None:
    best_steps: dict[str, int] = {}
    for metric in ("val_loss", "val_rmse"):
        cfg = apply_overrides(
            toy_cfg, [f"out={tmp_path / metric}", "length=8", "eval_every=2", f"best_metric={metric}"]
        )
        val = _split_loss_and_rmse(8)
        result = train(cfg, train_set=ToyDepth(32), val_set=val)
        values = {int(r["step"]): r[metric] for r in result.history["val"]}
        assert sorted(values) == [2, 4, 6, 8]
        step = min(values, key=lambda s: values[s])
        best = load_checkpoint(result.best_checkpoint)  # type: ignore[arg-type]
        assert result.best == {"metric": metric, "value": values[step], "step": step}
        assert best.step == step and best.metrics[metric] == values[step]
        # best.pt holds that step's weights: its metric recomputed from them is the recorded one.
        assert _val_metrics(best.build_model(), val, 8)[metric] == pytest.approx(values[step], rel=1e-5)
        best_steps[metric] = step
    # The metric decides: val_loss is best before training has learned the task, val_rmse after.
    assert best_steps["val_loss"] < best_steps["val_rmse"], best_steps


def test_val_max_batches_evaluates_exactly_that_many_batches(toy_cfg: TrainConfig) -> None:
    # 16 validation images in batches of 4, each batch's targets made unlike the others' (as they are,
    # halved, flipped, flipped and halved), so that metrics over 4, 8, 12 or 16 images differ widely.
    val = Recorded(16, seed=1)
    val.target[4:8] *= 0.5
    val.target[8:12] = 1 - val.target[8:12]
    val.target[12:] = 0.5 * (1 - val.target[12:])
    cfg = apply_overrides(toy_cfg, ["length=2", "eval_every=0", "val_batch_size=4", "val_max_batches=2"])
    result = train(cfg, train_set=ToyDepth(16), val_set=val)
    (row,) = result.history["val"]
    model = load_checkpoint(result.latest_checkpoint).build_model()
    for k, v in _val_metrics(model, val, 8).items():
        assert row[k] == pytest.approx(v, rel=1e-5), k
    for images in (4, 12, 16):
        assert abs(_val_metrics(model, val, images)["val_rmse"] - row["val_rmse"]) > 0.01, images
    # ... and only those two batches were loaded (after train()'s look at sample 0 for its size).
    assert val.loaded == [0, *range(8)]


# ------------------------------------------------------------------------------------------ precision
@pytest.mark.parametrize(("flags", "expected"), [({"avx512f", "amx_bf16"}, "bf16"), ({"avx512f"}, "fp32")])
def test_precision_auto_follows_the_cpus_bf16_support(
    toy_cfg: TrainConfig, monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: str
) -> None:
    """On a CPU, ``auto`` trains under bf16 autocast exactly when the CPU multiplies bf16 natively
    (here: flags as /proc/cpuinfo would list them), and records what it used."""
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": frozenset(flags))
    cfg = apply_overrides(toy_cfg, ["precision=auto", "length=2", "eval_every=0"])
    seen: list[torch.dtype] = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: (
            seen.append(out.dtype) if isinstance(module, torch.nn.Conv2d) and module.training else None
        )
    )
    try:
        result = train(cfg, train_set=ToyDepth(16))
    finally:
        handle.remove()
    assert result.precision == expected
    assert load_checkpoint(result.latest_checkpoint).extra["precision_used"] == expected
    dtype = torch.bfloat16 if expected == "bf16" else torch.float32
    assert seen and set(seen) == {dtype}
