"""Training-time augmentation of whole batches, on tensors, seeded by the optimiser step.

Applied in the training loop after a batch is loaded (never at validation or evaluation), so the data
sets and their caches stay untouched and exact resume holds: the random draws of step ``k`` come from
a generator seeded with ``(seed, step, rank)`` alone.

Per sample, independently:

- **horizontal flip** (probability ``hflip``) of image, target, valid mask and metric depth together —
  the field's standard for monocular depth (e.g. Eigen et al. 2014, Godard et al. 2017);
- **photometric jitter** of the image only: brightness × U(1 ± ``brightness``), contrast about the
  image mean × U(1 ± ``contrast``), gamma U(1 ± ``gamma``), and for RGB a colour gain per channel
  × U(1 ± ``colour``), then clipped to [0, 1];
- **random zoom** (``scale`` > 0): a crop of (H/s, W/s) at a random position, s ~ U(1, 1 + ``scale``),
  resized back to (H, W) (bilinear for image and values, nearest for the mask). Read with the
  original camera, a zoomed image shows the scene s times closer, so a disparity target is
  multiplied by s (d = f·B/Z) and a depth target divided by s; the ``depth`` map likewise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """What to randomise (all off by default: the paper trained without augmentation).

    Attributes:
        hflip: probability of a horizontal flip per sample, in [0, 1].
        brightness, contrast, gamma, colour: half-widths of the multiplicative jitters (fractions,
            e.g. 0.2 = ×U(0.8, 1.2)); ``colour`` applies to RGB input only.
        scale: largest extra zoom (0 = off; 0.25 = zoom factor up to 1.25).
    """

    hflip: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    gamma: float = 0.0
    colour: float = 0.0
    scale: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.hflip <= 1.0:
            raise ValueError(f"hflip is a probability in [0, 1], got {self.hflip}")
        for name in ("brightness", "contrast", "gamma", "colour"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} is a jitter half-width in [0, 1), got {v}")
        if not 0.0 <= self.scale <= 1.0:
            raise ValueError(f"scale is the largest extra zoom in [0, 1], got {self.scale}")

    @property
    def enabled(self) -> bool:
        return any((self.hflip, self.brightness, self.contrast, self.gamma, self.colour, self.scale))


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The CPU generator of optimiser step ``step`` (and DDP rank ``rank``): a pure function of the
    three, so a resumed run draws exactly what the uninterrupted one drew."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 1_009 + rank + 0x5EED)


def _uniform(n: int, half_width: float, g: torch.Generator) -> torch.Tensor:
    return 1.0 + half_width * (2.0 * torch.rand(n, generator=g) - 1.0)


def _flip(batch: dict[str, torch.Tensor], flip: torch.Tensor) -> None:
    for key in ("image", "target", "valid_mask", "depth"):
        if key in batch:
            x = batch[key]
            batch[key] = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)


def _photometric(image: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    n, c = image.shape[:2]
    view = (n, 1, 1, 1)
    dev = image.device
    out = image * _uniform(n, cfg.brightness, g).view(view).to(dev)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * _uniform(n, cfg.contrast, g).view(view).to(dev) + mean
    out = out.clamp(0.0, 1.0) ** _uniform(n, cfg.gamma, g).view(view).to(dev)
    if c == 3 and cfg.colour:
        out = out * _uniform(n * 3, cfg.colour, g).view(n, 3, 1, 1).to(dev)
    return out.clamp(0.0, 1.0)


def _zoom(batch: dict[str, torch.Tensor], cfg: AugmentConfig, kind: str, g: torch.Generator) -> None:
    image = batch["image"]
    n, _, h, w = image.shape
    s = 1.0 + cfg.scale * torch.rand(n, generator=g)
    fx, fy = torch.rand(n, generator=g), torch.rand(n, generator=g)
    for i in range(n):
        si = float(s[i])
        ch, cw = max(1, math.floor(h / si)), max(1, math.floor(w / si))
        y0, x0 = int(fy[i] * (h - ch)), int(fx[i] * (w - cw))
        crop = (slice(None), slice(y0, y0 + ch), slice(x0, x0 + cw))
        for key in ("image", "target", "depth"):
            if key in batch:
                zoomed = F.interpolate(
                    batch[key][i][crop][None], (h, w), mode="bilinear", align_corners=False
                )[0]
                if key == "target":
                    zoomed = zoomed * si if kind == "disparity" else zoomed / si
                elif key == "depth":
                    zoomed = zoomed / si
                batch[key][i] = zoomed
        if "valid_mask" in batch:
            m = batch["valid_mask"][i][crop][None].float()
            batch["valid_mask"][i] = F.interpolate(m, (h, w), mode="nearest")[0] > 0.5
    if kind == "disparity" and "target" in batch:
        # A zoomed disparity may pass the normalisation maximum: such pixels cannot be represented
        # by a sigmoid output, so they stop teaching.
        over = batch["target"] > 1.0
        if "valid_mask" in batch:
            batch["valid_mask"] &= ~over
        batch["target"] = batch["target"].clamp(max=1.0)


def augment_batch(
    batch: dict[str, torch.Tensor],
    cfg: AugmentConfig,
    generator: torch.Generator,
    target_kind: str = "disparity",
) -> dict[str, torch.Tensor]:
    """A new batch dict with the augmentations of ``cfg`` applied (the input tensors are not changed).

    batch: ``"image"`` ``(N, C, H, W)`` in [0, 1]; ``"target"`` ``(N, 1, H, W)`` normalised;
        ``"valid_mask"`` ``(N, 1, H, W)`` bool; optional ``"depth"`` ``(N, 1, H, W)`` metres. Other
        keys are passed through.
    target_kind: ``"disparity"`` or ``"depth"`` (what ``target`` measures; decides how a zoom
        rescales it).
    """
    if target_kind not in ("disparity", "depth"):
        raise ValueError(f"target_kind must be 'disparity' or 'depth', got {target_kind!r}")
    out = dict(batch)
    if not cfg.enabled:
        return out
    for key in ("image", "target", "valid_mask", "depth"):
        if key in out:
            out[key] = out[key].clone()
    n = out["image"].shape[0]
    if cfg.scale:
        _zoom(out, cfg, target_kind, generator)
    if cfg.hflip:
        _flip(out, torch.rand(n, generator=generator) < cfg.hflip)
    if cfg.brightness or cfg.contrast or cfg.gamma or cfg.colour:
        out["image"] = _photometric(out["image"], cfg, generator)
    return out
