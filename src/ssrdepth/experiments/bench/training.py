"""The bench's training rows: the step ``ssrdepth train`` runs (the headline of each row) and, beside
it, the interleaved *bare-step variants* that compare precision and memory format.

- **The train step** (``as_train_runs_it``, the row's ``step_s`` / ``images_per_s``): the step
  ``ssrdepth train`` runs with the ssrdepth recipe — its loss (masked SILog), optimiser (AdamW), grad
  scaler and clipping as the recipe sets them, augmentation, data loading, precision ``auto`` and
  the memory format ``channels_last = "auto"`` chooses — timed by
  :func:`ssrdepth.training.loop.measure_step_seconds`, the training loop's own step, on random data
  in memory. This is the speed a user gets.
- **Bare-step variants** (``variants``): :func:`bare_step`, one SGD (momentum 0.9) step of the paper's
  L2 loss (eq. 1) with no scaler, no clipping and no data loading, for each memory format and
  precision (and the Keras peer's own step), interleaved round robin so that their *ratios* are
  trustworthy. They answer "which format or precision is faster", not "how fast does training run";
  their FLOPs per step are counted on the contiguous fp32 bare step.
- **The photometric loss's share** (``photometric_loss``, :func:`photometric_loss_cost`): the stereo
  loss's forward + backward alone against a whole photometric step and the recipe's supervised step,
  interleaved, in the training precision.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

from ssrdepth.core.flops import count_flops
from ssrdepth.core.hardware import native_bf16
from ssrdepth.core.scale import TargetScale
from ssrdepth.data.config import SYNTHETIC_MAX_DISPARITY
from ssrdepth.experiments.bench.measure import bench_model, interleaved_medians, peak_memory
from ssrdepth.experiments.bench.plan import TRAIN_VARIANTS, BenchConfig, Setting, keras_skip
from ssrdepth.losses import l2_paper
from ssrdepth.models import DepthNet

#: What the ``as_train_runs_it`` entry (the row's headline) is, written into every training row.
TRAIN_STEP_WHAT = (
    "the step `ssrdepth train` runs with the ssrdepth recipe (masked SILog, AdamW, augmentation, "
    "data loading, precision auto, memory format auto), timed apart from the interleaved variants"
)
#: What the ``variants`` entries are, written into every training row.
BARE_STEP_WHAT = (
    "bare-step variants, for comparing memory format and precision: one SGD (momentum 0.9) step of "
    "the paper's L2 loss, no grad scaler, no clipping, no data loading, timed interleaved; not the "
    "step `ssrdepth train` runs (as_train_runs_it is)"
)


def bare_step(
    net: DepthNet, x: torch.Tensor, y: torch.Tensor, autocast: bool = False
) -> Callable[[], object]:
    """The bare training step of the bench's variants: one SGD step (lr 1e-6, momentum 0.9) of the
    paper's L2 loss on ``x`` ``(N, C, H, W)`` / ``y`` ``(N, 1, H, W)``, bf16 autocast when ``autocast``.
    No grad scaler, no clipping, no data loading: it compares formats and precisions; the step a user
    trains is timed by :func:`train_step_seconds`."""
    opt = torch.optim.SGD(net.parameters(), lr=1e-6, momentum=0.9)
    net.train()
    dtype = torch.bfloat16

    def step() -> object:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype, enabled=autocast):
            loss = l2_paper(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _bare_steps(
    name: str, setting: Setting, cfg: BenchConfig, device: torch.device, x: torch.Tensor, y: torch.Tensor
) -> dict[str, Callable[[], object]]:
    """``{variant: step}`` of every bare-step variant that runs here (bf16 only where it is native,
    ``channels-last-compiled`` with ``cfg.compile``)."""
    variants = list(TRAIN_VARIANTS)
    if device.type == "cuda" or native_bf16():
        variants += ["contiguous-bf16", "channels-last-bf16"]
    if cfg.compile:
        variants.append("channels-last-compiled")
    steps: dict[str, Callable[[], object]] = {}
    for v in variants:
        cl = v.startswith("channels-last")
        net = bench_model(name, setting.channels, cfg.width, device, cl)
        fmt = torch.channels_last if cl else torch.contiguous_format
        xv, yv = x.contiguous(memory_format=fmt), y.contiguous(memory_format=fmt)
        if v == "channels-last-compiled":
            net = torch.compile(net)  # type: ignore[assignment]
        steps[v] = bare_step(net, xv, yv, autocast=v.endswith("bf16"))
    return steps


def bench_training(name: str, setting: Setting, cfg: BenchConfig, device: torch.device) -> dict[str, Any]:
    """One model, one setting: the bare-step variants interleaved, then the step ``train`` runs (the
    row's headline ``step_s`` / ``images_per_s``, also under ``as_train_runs_it``)."""
    gen = torch.Generator().manual_seed(0)
    h, w = setting.size
    x = torch.rand(setting.batch, setting.channels, h, w, generator=gen).to(device)
    y = torch.rand(setting.batch, 1, h, w, generator=gen).to(device)
    steps = _bare_steps(name, setting, cfg, device, x, y)
    skip = keras_skip(cfg, device)
    if skip is None:
        from ssrdepth.experiments.keras_peer import keras_train_steps

        steps.update(keras_train_steps(name, x.cpu().numpy(), y.cpu().numpy(), cfg.threads))
    flops = count_flops(bare_step(bench_model(name, setting.channels, cfg.width, device, False), x, y))
    # Memory of the first (cold) step of each variant: activations, gradients and optimiser state
    # beyond the weights, before warm-up lets caches hide it.
    memory: dict[str, dict[str, Any]] = {}
    for v, fn in steps.items():
        with peak_memory(device) as memory[v]:
            fn()
    times = interleaved_medians(steps, cfg.repeats, cfg.warmup, device)
    out: dict[str, Any] = {
        "setting": setting.label,
        "size": list(setting.size),
        "channels": setting.channels,
        "batch": setting.batch,
        "flops_per_step": flops,
        "variants_what": BARE_STEP_WHAT,
        "variants": {},
    }
    if skip is not None:
        out["keras_skipped"] = skip
    for v in steps:
        med = statistics.median(times[v])
        out["variants"][v] = {
            "step_s": med,
            "step_s_runs": times[v],
            "images_per_s": setting.batch / med,
            "achieved_gflops": flops / med / 1e9,
            "memory": memory[v],
        }
    out["photometric_loss"] = photometric_loss_cost(name, setting, cfg, device)
    step_s = train_step_seconds(name, setting, cfg, device)
    out["as_train_runs_it"] = {
        "what": TRAIN_STEP_WHAT,
        "step_s": step_s,
        "images_per_s": setting.batch / step_s,
    }
    out.update(headline="as_train_runs_it", step_s=step_s, images_per_s=setting.batch / step_s)
    return out


#: What the ``photometric_loss`` entry is, written into every training row.
PHOTOMETRIC_WHAT = (
    "the photometric stereo loss (warp by grid_sample, SSIM + L1, edge-aware smoothness, auto-mask) "
    "forward + backward alone, against a whole photometric step (network forward in the training "
    "precision, the loss, backward, AdamW) and the same step with the recipe's masked SILog, timed "
    "interleaved; the loss runs in float32 whatever the precision (training/photometric.py)"
)


def photometric_loss_cost(
    name: str, setting: Setting, cfg: BenchConfig, device: torch.device
) -> dict[str, Any]:
    """The photometric loss's share of a training step of ``name`` at ``setting``: three functions
    timed interleaved (:func:`~ssrdepth.core.timing.interleaved_medians`) — ``loss``: the loss's
    forward + backward alone on a fixed prediction (the warp, SSIM + L1, smoothness and their
    gradients), ``photometric_step``: a whole step (network forward under the training precision's
    autocast, the loss, backward, AdamW update), ``supervised_step``: the same step with the recipe's
    masked SILog. Random images in [0, 1]; the right view is the left shifted by 4 px.

    Returns ``{"what", "precision", "loss_s", "photometric_step_s", "supervised_step_s" (medians),
    "runs": {name: every run time}, "fraction": loss_s / photometric_step_s, "extra":
    photometric / supervised − 1}``."""
    from ssrdepth.core.hardware import resolve_precision
    from ssrdepth.losses import LOSSES
    from ssrdepth.runtime.forward import autocast_dtype, forward
    from ssrdepth.training.photometric import PhotometricConfig, stereo_loss

    precision = resolve_precision("auto", device.type)
    dtype = autocast_dtype(precision)
    gen = torch.Generator().manual_seed(0)
    h, w = setting.size
    left = torch.rand(setting.batch, setting.channels, h, w, generator=gen).to(device)
    right = torch.roll(left, -4, dims=-1)
    target = torch.rand(setting.batch, 1, h, w, generator=gen).to(device)
    valid = target > 0.05
    # the synthetic set's normalisation (96 px at its width): the loss's cost does not depend on it
    scale = TargetScale("disparity", float(SYNTHETIC_MAX_DISPARITY), reference_width=w)
    pcfg = PhotometricConfig()
    net = bench_model(name, setting.channels, cfg.width, device, False)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-6)
    with torch.no_grad():
        fixed = forward(net, left, dtype).float()

    def loss_only() -> object:
        pred = fixed.clone().requires_grad_(True)
        stereo_loss(pred, left, right, scale, pcfg).total.backward()
        return pred.grad

    def step(photometric: bool) -> Callable[[], object]:
        def run() -> object:
            opt.zero_grad(set_to_none=True)
            pred = forward(net, left, dtype)
            if photometric:
                loss = stereo_loss(pred, left, right, scale, pcfg).total
            else:
                loss = LOSSES["masked_silog"](pred.float(), target, valid)
            loss.backward()
            opt.step()
            return loss

        return run

    fns = {"loss": loss_only, "photometric_step": step(True), "supervised_step": step(False)}
    runs = interleaved_medians(fns, cfg.repeats, cfg.warmup, device)
    times = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "what": PHOTOMETRIC_WHAT,
        "precision": precision,
        "loss_s": times["loss"],
        "photometric_step_s": times["photometric_step"],
        "supervised_step_s": times["supervised_step"],
        "runs": runs,
        "fraction": times["loss"] / times["photometric_step"],
        "extra": times["photometric_step"] / times["supervised_step"] - 1.0,
    }


class _RandomDepth(torch.utils.data.Dataset[dict[str, Any]]):
    """``n`` random samples in the training contract (image, normalised target, valid mask) at one size,
    on the synthetic source's disparity range (:data:`~ssrdepth.data.config.SYNTHETIC_MAX_DISPARITY`)."""

    scale = TargetScale("disparity", float(SYNTHETIC_MAX_DISPARITY))

    def __init__(self, n: int, channels: int, size: tuple[int, int]) -> None:
        gen = torch.Generator().manual_seed(0)
        self.images = torch.rand(n, channels, *size, generator=gen)
        self.targets = torch.rand(n, 1, *size, generator=gen)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "image": self.images[i],
            "target": self.targets[i],
            "valid_mask": self.targets[i] > 0.05,
            "index": i,
        }


def train_step_seconds(name: str, setting: Setting, cfg: BenchConfig, device: torch.device) -> float:
    """Seconds of one step of the recipe's run of ``name`` at ``setting``, as ``train`` runs it
    (:func:`ssrdepth.training.loop.measure_step_seconds`, the training loop's own step, on random data
    in memory)."""
    from ssrdepth.data.config import DataConfig
    from ssrdepth.models import ModelOptions
    from ssrdepth.training.config import ModelConfig, apply_recipe, get_preset
    from ssrdepth.training.loop import measure_step_seconds

    base = apply_recipe(get_preset("recipe-synthetic-gray-147x37"))
    tc = dataclasses.replace(
        base,
        model=ModelConfig(name, ModelOptions(**{**asdict(base.model.options), "width": cfg.width})),
        data=DataConfig(source="synthetic", size=setting.size, channels=setting.channels),
        batch_size=setting.batch,
        device=str(device),
        progress=False,
        tensorboard=False,
        threads=cfg.threads or 0,
    )
    data = _RandomDepth(2 * setting.batch, setting.channels, setting.size)
    return measure_step_seconds(tc, repeats=cfg.repeats, warmup=max(cfg.warmup, 1), train_set=data)


__all__ = [
    "BARE_STEP_WHAT",
    "PHOTOMETRIC_WHAT",
    "TRAIN_STEP_WHAT",
    "bare_step",
    "bench_training",
    "photometric_loss_cost",
    "train_step_seconds",
]
