"""Training-time augmentation of whole batches, on tensors, seeded by the optimiser step.

Applied in the training loop after a batch is loaded (never at validation or evaluation), so the data
sets and their caches stay untouched and exact resume holds: the random draws of step ``k`` come from
a generator seeded with ``(seed, step, rank)`` alone. Each augmentation draws from that generator only
when it is switched on, so a configuration that leaves the newer ones off draws (and trains on)
exactly what it drew before they existed.

Per sample, independently, in this order:

- **random zoom** (``scale`` > 0): a crop of (H/s, W/s) at a random position, s ~ U(1, 1 + ``scale``),
  resized back to (H, W) (bilinear for image and values, nearest for the mask). Read with the
  original camera, a zoomed image shows the scene s times closer, so a disparity target is
  multiplied by s (d = f·B/Z) and a depth target divided by s; the ``depth`` map likewise.
- **horizontal flip** (probability ``hflip``) of image, target, valid mask and metric depth together —
  the field's standard for monocular depth (e.g. Eigen et al. 2014, Godard et al. 2017). With a
  stereo pair (a ``"right"`` image, for the photometric losses) the flip also swaps the views: the
  mirrored right image is the left view of the mirrored rig (Godard et al. 2017, §3.3), so the new
  left is flip(right), the new right flip(left), and a disparity stays positive (a point at left
  column x lies at right column x − d). The target and depth describe the old left view, which is now
  the right one: on swapped samples they are flipped and the valid mask is cleared (no hint there);
- **the right view** gets the same zoom crop and the same photometric and synthetic → real draws as
  the left (a rig's two cameras see one scene through one augmentation), with its own sensor noise
  and its own grey-world means; cutout is refused with a right view (the occluders would be in one
  view only);
- **photometric jitter** of the image only: brightness × U(1 ± ``brightness``), contrast about the
  image mean × U(1 ± ``contrast``), gamma U(1 ± ``gamma``), and for RGB a colour gain per channel
  × U(1 ± ``colour``), then clipped to [0, 1];

then, aimed at the synthetic → real gap (real optics, sensors, white balance and codecs; cf. the
domain randomisation of Tobin et al. 2017), of the image only unless said otherwise:

- **grey-world white balance** (RGB, probability ``grey_world``): each channel × (mean of the three
  channel means) / (its mean), so that the channel means agree — what a camera's automatic white
  balance does (Buchsbaum 1980), here applied to the synthetic renderer's colours; then
- **colour cast** (RGB, ``colour_cast`` > 0): the residual white-balance error of a real camera, a
  diagonal (von Kries) gain R × e^t, B × e^−t with t ~ U(±``colour_cast``), G unchanged (Afifi and
  Brown 2019 show white-balance errors fool CNNs and augment with an emulation of them; a diagonal
  gain is its simplest form); both no-ops for gray input;
- **vignetting** (``vignette`` > 0): × (1 − v·r²), v ~ U(0, ``vignette``), with r the distance from the
  image centre normalised so that r = 1 at the corner pixels (the leading term of the radial
  fall-off polynomial of Goldman 2010);
- **Gaussian blur** (probability ``blur_p``, ``blur`` > 0): σ ~ U(0, ``blur``) px, a separable
  normalised kernel of radius ⌈3σ⌉ with replicated borders; σ < 0.3 px is left sharp (its kernel
  is nearly a delta) — defocus and motion of real lenses (the blur of SimCLR, Chen et al. 2020, p = 0.5;
  Wang et al. 2020 train with random blur and JPEG so that a detector survives real post-processing);
- **sensor noise** (``noise`` > 0): additive Gaussian noise, σ ~ U(0, ``noise``) per sample in image
  units, independent per pixel and channel, then clipped to [0, 1]. This is the signal-independent
  (read-noise) term of the Poisson–Gaussian model σ² = a + b·x (Foi et al. 2008) alone: one
  parameter, no shot-noise term;
- **JPEG** (probability ``jpeg``): a round trip through OpenCV's JPEG codec at a quality drawn from
  :data:`JPEG_QUALITY` (on the CPU, as 8-bit) — phone and web photos are JPEG (Wang et al. 2020);
- **cutout** (probability ``cutout``): 1–:data:`CUTOUT_MAX_RECTS` rectangles whose sides are a
  fraction U(:data:`CUTOUT_SIDE`) of the image's, filled with a flat grey level U(0, 1) or (half the
  time) with a crop of another image of the batch — occluders the renderer never drew (DeVries and
  Taylor 2017). Unlike in classification, the label is dense: the target behind an occluder still
  shows the scene, and teaching it would teach the network to see through objects. So the pasted
  pixels are marked invalid in ``valid_mask`` (they stop teaching; only a masked loss reads the
  mask, and training refuses ``cutout`` with an unmasked one) and ``target`` and ``depth`` are left
  as they are. Last, so that nothing moves the occluders after their mask is set.

References: Buchsbaum, J. Franklin Inst. 310 (1980); Tobin et al., IROS 2017; DeVries and Taylor,
arXiv:1708.04552 (2017); Foi et al., IEEE TIP 17 (2008); Goldman, IEEE TPAMI 32 (2010); Afifi and
Brown, ICCV 2019; Chen et al. (SimCLR), ICML 2020; Wang et al., CVPR 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: JPEG quality range of the ``jpeg`` round trip, both ends included (Wang et al. 2020 draw 30–100).
JPEG_QUALITY = (30, 90)
#: Most rectangles one ``cutout`` pastes into an image (at least one).
CUTOUT_MAX_RECTS = 3
#: Range of a cutout rectangle's height and width as fractions of the image's height and width.
CUTOUT_SIDE = (0.1, 0.3)
#: Blur σ (px) below which a sample is left sharp: at 0.3 px the normalised 1-D kernel gives each
#: neighbour < 0.4 % of the weight.
MIN_BLUR_SIGMA = 0.3


@dataclass(frozen=True)
class AugmentConfig:
    """What to randomise (all off by default: the paper trained without augmentation).

    Attributes:
        hflip: probability of a horizontal flip per sample, in [0, 1].
        brightness, contrast, gamma, colour: half-widths of the multiplicative jitters (fractions,
            e.g. 0.2 = ×U(0.8, 1.2)); ``colour`` applies to RGB input only.
        scale: largest extra zoom (0 = off; 0.25 = zoom factor up to 1.25).
        grey_world: probability of grey-world white balance per sample (RGB only), in [0, 1].
        colour_cast: half-width t of the white-balance shift R × e^t, B × e^−t (RGB only), in [0, 1].
        vignette: largest corner darkening v of the factor 1 − v·r², in [0, 1].
        blur: largest Gaussian blur σ in pixels, in [0, 10] (0 = off).
        blur_p: probability that a sample is blurred when ``blur`` > 0, in [0, 1].
        noise: largest σ of additive Gaussian sensor noise in image units, in [0, 1] (0 = off).
        jpeg: probability of a JPEG round trip per sample, in [0, 1].
        cutout: probability per sample of pasting occluders (their pixels become invalid), in [0, 1].
    """

    hflip: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    gamma: float = 0.0
    colour: float = 0.0
    scale: float = 0.0
    grey_world: float = 0.0
    colour_cast: float = 0.0
    vignette: float = 0.0
    blur: float = 0.0
    blur_p: float = 0.5
    noise: float = 0.0
    jpeg: float = 0.0
    cutout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("hflip", "grey_world", "blur_p", "jpeg", "cutout"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {v}")
        for name in ("brightness", "contrast", "gamma", "colour"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} is a jitter half-width in [0, 1), got {v}")
        if not 0.0 <= self.scale <= 1.0:
            raise ValueError(f"scale is the largest extra zoom in [0, 1], got {self.scale}")
        if not 0.0 <= self.colour_cast <= 1.0:
            raise ValueError(
                f"colour_cast is the half-width t of the gains e^±t on red and blue, in [0, 1], "
                f"got {self.colour_cast}"
            )
        if not 0.0 <= self.vignette <= 1.0:
            raise ValueError(
                f"vignette is the largest corner darkening v of 1 − v·r², in [0, 1], got {self.vignette}"
            )
        if not 0.0 <= self.blur <= 10.0:
            raise ValueError(f"blur is the largest Gaussian σ in pixels, in [0, 10], got {self.blur}")
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"noise is the largest noise σ in image units, in [0, 1], got {self.noise}")

    @property
    def enabled(self) -> bool:
        return any(
            (
                self.hflip,
                self.brightness,
                self.contrast,
                self.gamma,
                self.colour,
                self.scale,
                self.grey_world,
                self.colour_cast,
                self.vignette,
                self.blur and self.blur_p,
                self.noise,
                self.jpeg,
                self.cutout,
            )
        )


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The CPU generator of optimiser step ``step`` (and DDP rank ``rank``): a pure function of the
    three, so a resumed run draws exactly what the uninterrupted one drew."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 1_009 + rank + 0x5EED)


def _uniform(n: int, half_width: float, g: torch.Generator) -> torch.Tensor:
    return 1.0 + half_width * (2.0 * torch.rand(n, generator=g) - 1.0)


def _flip(batch: dict[str, torch.Tensor], flip: torch.Tensor) -> None:
    for key in ("image", "target", "valid_mask", "depth", "right"):
        if key in batch:
            x = batch[key]
            batch[key] = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
    if "right" in batch:  # a mirrored pair: swap the views, the target belongs to the other one now
        swap = flip.view(-1, 1, 1, 1).to(batch["image"].device)
        batch["image"], batch["right"] = (
            torch.where(swap, batch["right"], batch["image"]),
            torch.where(swap, batch["image"], batch["right"]),
        )
        if "valid_mask" in batch:
            batch["valid_mask"] = batch["valid_mask"] & ~swap


def _photometric_factors(
    n: int, c: int, cfg: AugmentConfig, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The draws of :func:`_photometric` (brightness, contrast, gamma, colour gains), in its order."""
    view = (n, 1, 1, 1)
    brightness = _uniform(n, cfg.brightness, g).view(view)
    contrast = _uniform(n, cfg.contrast, g).view(view)
    gamma = _uniform(n, cfg.gamma, g).view(view)
    colour = _uniform(n * 3, cfg.colour, g).view(n, 3, 1, 1) if c == 3 and cfg.colour else None
    return brightness, contrast, gamma, colour


def _photometric(
    image: torch.Tensor,
    factors: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None],
) -> torch.Tensor:
    """Brightness, contrast about the image mean, gamma and colour gains of :func:`_photometric_factors`."""
    dev = image.device
    brightness, contrast, gamma, colour = factors
    out = image * brightness.to(dev)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * contrast.to(dev) + mean
    out = out.clamp(0.0, 1.0) ** gamma.to(dev)
    if colour is not None:
        out = out * colour.to(dev)
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
        for key in ("image", "target", "depth", "right"):
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


# --------------------------------------------------------------------------------------------------
# The synthetic → real augmentations as plain functions of their per-sample parameters (the draws
# live in augment_batch), so each can be checked against numbers worked out by hand.


def grey_world(image: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """Grey-world white balance (Buchsbaum 1980) of the samples where ``apply`` is true.

    image: ``(N, 3, H, W)`` RGB in [0, 1] (any other channel count is returned as it is).
    apply: ``(N,)`` bool. Each channel is multiplied by (mean of the channel means) / (its mean), so
    the channel means agree and the overall mean is kept; the result is clipped to [0, 1] (clipping
    can leave the means slightly apart where a gain pushes pixels past 1).
    """
    if image.shape[1] != 3:
        return image
    means = image.mean(dim=(2, 3))  # (N, 3)
    gain = means.mean(dim=1, keepdim=True) / means.clamp_min(1e-6)
    gain = torch.where(apply.to(image.device).view(-1, 1), gain, torch.ones_like(gain))
    return (image * gain.view(-1, 3, 1, 1)).clamp(0.0, 1.0)


def colour_cast(image: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A white-balance shift: red × e^t, blue × e^−t, green kept, then clipped to [0, 1].

    image: ``(N, 3, H, W)`` RGB in [0, 1] (any other channel count is returned as it is).
    t: ``(N,)`` log-gains (t > 0 warmer, t < 0 cooler).
    """
    if image.shape[1] != 3:
        return image
    t = t.to(image.device, image.dtype)
    gain = torch.stack((t.exp(), torch.ones_like(t), (-t).exp()), dim=1)
    return (image * gain.view(-1, 3, 1, 1)).clamp(0.0, 1.0)


def vignette(image: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Radial darkening: × (1 − v·r²), r the distance of a pixel centre from the image centre over
    that of a corner pixel's centre (so r = 0 at the centre, r = 1 exactly at the four corners).

    image: ``(N, C, H, W)`` in [0, 1]. v: ``(N,)`` in [0, 1].
    """
    _, _, h, w = image.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy = (torch.arange(h, dtype=image.dtype, device=image.device) - cy).square().view(h, 1)
    xx = (torch.arange(w, dtype=image.dtype, device=image.device) - cx).square().view(1, w)
    r2 = (yy + xx) / max(cy * cy + cx * cx, 1e-12)
    factor = 1.0 - v.to(image.device, image.dtype).view(-1, 1, 1, 1) * r2
    return image * factor


def gaussian_blur(image: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a standard deviation per sample (one grouped convolution).

    image: ``(N, C, H, W)``. sigma: ``(N,)`` in pixels; samples with σ < :data:`MIN_BLUR_SIGMA` are
    returned unchanged. The kernel is the sampled Gaussian of radius ⌈3σ_max⌉ normalised to sum 1,
    with replicated borders, so a blur preserves the total of an image away from its borders.
    """
    active = (sigma >= MIN_BLUR_SIGMA).nonzero().flatten()
    if active.numel() == 0:
        return image
    s = sigma[active].to(torch.float64)
    radius = math.ceil(3.0 * float(s.max()))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets.view(1, -1) / s.view(-1, 1)).square())
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (m, K)
    sub = image[active.to(image.device)]
    m, c, h, w = sub.shape
    k = kernel.repeat_interleave(c, dim=0).to(image.device, image.dtype)  # (m·c, K), one per plane
    x = sub.reshape(1, m * c, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.view(m * c, 1, 1, -1), groups=m * c)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), k.view(m * c, 1, -1, 1), groups=m * c)
    out = image.clone()
    out[active.to(image.device)] = x.view(m, c, h, w)
    return out


def add_noise(image: torch.Tensor, sigma: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise of standard deviation ``sigma`` (``(N,)``, image units) per sample,
    independent per pixel and channel, drawn from ``g``; clipped to [0, 1]. image: ``(N, C, H, W)``."""
    noise = torch.randn(image.shape, generator=g).to(image.device, image.dtype)
    return (image + sigma.to(image.device, image.dtype).view(-1, 1, 1, 1) * noise).clamp(0.0, 1.0)


def jpeg_round_trip(image: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Each sample encoded and decoded with OpenCV's JPEG codec at its ``quality`` (``(N,)`` integers in
    [1, 100]; 0 = leave that sample as it is).

    image: ``(N, C, H, W)`` in [0, 1], C = 1 (gray) or 3 (RGB; given to OpenCV as BGR, so the codec's
    YCbCr conversion sees the channels it expects). Quantised to 8 bits on the way, as a file is.
    """
    c = image.shape[1]
    if c not in (1, 3):
        raise ValueError(f"a JPEG holds 1 or 3 channels, got an image with {c}")
    chosen = (quality > 0).nonzero().flatten()
    if chosen.numel() == 0:
        return image
    pixels = (image[chosen.to(image.device)].detach().float().clamp(0.0, 1.0) * 255.0).round()
    planes = pixels.to(torch.uint8).cpu()
    planes = planes[:, 0] if c == 1 else planes.flip(1).permute(0, 2, 3, 1)  # (m, H, W) or BGR (m, H, W, 3)
    arrays = np.ascontiguousarray(planes.numpy())
    flag = cv2.IMREAD_GRAYSCALE if c == 1 else cv2.IMREAD_COLOR
    for j, q in enumerate(quality[chosen].tolist()):
        ok, encoded = cv2.imencode(".jpg", arrays[j], [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        arrays[j] = cv2.imdecode(encoded, flag)
    decoded = torch.from_numpy(arrays)
    decoded = decoded[:, None] if c == 1 else decoded.permute(0, 3, 1, 2).flip(1)
    out = image.clone()
    out[chosen.to(image.device)] = decoded.to(image.device, image.dtype) / 255.0
    return out


def cutout(
    image: torch.Tensor, valid_mask: torch.Tensor, apply: torch.Tensor, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Occluders pasted into the samples where ``apply`` (``(N,)`` bool) is true, their pixels marked
    invalid; returns the new ``(image, valid_mask)``.

    image: ``(N, C, H, W)`` in [0, 1]; valid_mask: ``(N, 1, H, W)`` bool. Every sample draws
    1–:data:`CUTOUT_MAX_RECTS` rectangles (sides U(:data:`CUTOUT_SIDE`) of H and W, at least 1 px,
    wholly inside the image), each filled with a flat grey U(0, 1) or, with probability ½ when the
    batch holds another image, with the same-sized crop of another sample (as it was before any
    pasting). All parameters are drawn for every sample, so the draws do not depend on ``apply``.
    """
    n, _, h, w = image.shape
    r = CUTOUT_MAX_RECTS
    lo, hi = CUTOUT_SIDE
    count = torch.randint(1, r + 1, (n,), generator=g).tolist()
    side = (lo + (hi - lo) * torch.rand(n, r, 2, generator=g)).tolist()
    where = torch.rand(n, r, 2, generator=g).tolist()
    from_other = (torch.rand(n, r, generator=g) < 0.5).tolist()
    level = torch.rand(n, r, generator=g).tolist()
    other = torch.randint(1, max(n, 2), (n, r), generator=g).tolist()  # offset to another sample
    source_where = torch.rand(n, r, 2, generator=g).tolist()
    out_image, out_mask = image.clone(), valid_mask.clone()
    for i in apply.nonzero().flatten().tolist():
        for j in range(count[i]):
            rh = min(h, max(1, round(side[i][j][0] * h)))
            rw = min(w, max(1, round(side[i][j][1] * w)))
            y0 = min(h - rh, int(where[i][j][0] * (h - rh + 1)))
            x0 = min(w - rw, int(where[i][j][1] * (w - rw + 1)))
            rows, cols = slice(y0, y0 + rh), slice(x0, x0 + rw)
            if n > 1 and from_other[i][j]:
                k = (i + other[i][j]) % n
                sy = min(h - rh, int(source_where[i][j][0] * (h - rh + 1)))
                sx = min(w - rw, int(source_where[i][j][1] * (w - rw + 1)))
                out_image[i, :, rows, cols] = image[k, :, sy : sy + rh, sx : sx + rw]
            else:
                out_image[i, :, rows, cols] = level[i][j]
            out_mask[i, :, rows, cols] = False
    return out_image, out_mask


def augment_batch(
    batch: dict[str, torch.Tensor],
    cfg: AugmentConfig,
    generator: torch.Generator,
    target_kind: str = "disparity",
) -> dict[str, torch.Tensor]:
    """A new batch dict with the augmentations of ``cfg`` applied (the input tensors are not changed).

    batch: ``"image"`` ``(N, C, H, W)`` in [0, 1]; ``"target"`` ``(N, 1, H, W)`` normalised;
        ``"valid_mask"`` ``(N, 1, H, W)`` bool (needed by ``cutout``); optional ``"depth"``
        ``(N, 1, H, W)`` metres and ``"right"`` ``(N, C, H, W)``, the right view of a stereo pair
        (augmented with the left, swapped with it by a flip). Other keys are passed through.
    target_kind: ``"disparity"`` or ``"depth"`` (what ``target`` measures; decides how a zoom
        rescales it).
    """
    if target_kind not in ("disparity", "depth"):
        raise ValueError(f"target_kind must be 'disparity' or 'depth', got {target_kind!r}")
    if cfg.cutout and "valid_mask" not in batch:
        raise ValueError(
            "augment.cutout marks the occluded pixels invalid, so the batch needs a 'valid_mask'"
        )
    if cfg.cutout and "right" in batch:
        raise ValueError(
            "augment.cutout pastes occluders into the left view only, which the photometric loss would "
            "read as a wrong disparity; set augment.cutout=0 with a stereo pair"
        )
    out = dict(batch)
    if not cfg.enabled:
        return out
    for key in ("image", "target", "valid_mask", "depth", "right"):
        if key in out:
            out[key] = out[key].clone()
    n = out["image"].shape[0]
    if cfg.scale:
        _zoom(out, cfg, target_kind, generator)
    if cfg.hflip:
        _flip(out, torch.rand(n, generator=generator) < cfg.hflip)
    if cfg.brightness or cfg.contrast or cfg.gamma or cfg.colour:
        factors = _photometric_factors(n, out["image"].shape[1], cfg, generator)
        for key in _views(out):
            out[key] = _photometric(out[key], factors)
    _transfer(out, cfg, generator)
    return out


def _views(out: dict[str, torch.Tensor]) -> tuple[str, ...]:
    """The images of a batch: the left view, and the right one of a stereo pair."""
    return ("image", "right") if "right" in out else ("image",)


def _transfer(out: dict[str, torch.Tensor], cfg: AugmentConfig, g: torch.Generator) -> None:
    """The synthetic → real augmentations, in the module docstring's order, in place in ``out``; a
    right view gets the left's draws (its own noise, drawn after the left's)."""
    n = out["image"].shape[0]
    views = _views(out)
    if cfg.grey_world:
        apply = torch.rand(n, generator=g) < cfg.grey_world
        for key in views:
            out[key] = grey_world(out[key], apply)
    if cfg.colour_cast:
        t = cfg.colour_cast * (2.0 * torch.rand(n, generator=g) - 1.0)
        for key in views:
            out[key] = colour_cast(out[key], t)
    if cfg.vignette:
        v = cfg.vignette * torch.rand(n, generator=g)
        for key in views:
            out[key] = vignette(out[key], v)
    if cfg.blur and cfg.blur_p:
        sigma = cfg.blur * torch.rand(n, generator=g)
        sigma = torch.where(torch.rand(n, generator=g) < cfg.blur_p, sigma, torch.zeros_like(sigma))
        for key in views:
            out[key] = gaussian_blur(out[key], sigma)
    if cfg.noise:
        sigma = cfg.noise * torch.rand(n, generator=g)
        for key in views:
            out[key] = add_noise(out[key], sigma, g)
    if cfg.jpeg:
        quality = torch.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, (n,), generator=g)
        apply = torch.rand(n, generator=g) < cfg.jpeg
        for key in views:
            out[key] = jpeg_round_trip(out[key], torch.where(apply, quality, torch.zeros_like(quality)))
    if cfg.cutout:
        apply = torch.rand(n, generator=g) < cfg.cutout
        out["image"], out["valid_mask"] = cutout(out["image"], out["valid_mask"], apply, g)
