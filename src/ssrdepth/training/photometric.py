"""Self-supervision from a rectified stereo pair: the photometric loss and hybrid (Depth Hints) targets.

The network's disparity of the left view warps the right view into the left
(:func:`warp_by_disparity`, bilinear ``grid_sample``), and the appearance error between the left
image and the warped right one is the loss — no stereo matcher is needed (Godard, Mac Aodha &
Brostow, "Unsupervised Monocular Depth Estimation with Left-Right Consistency", CVPR 2017, called
Monodepth below; Godard et al., "Digging Into Self-Supervised Monocular Depth Estimation", ICCV 2019,
Monodepth2). The pieces, each a plain function:

- :func:`appearance_error`: α·(1 − SSIM)/2 + (1 − α)·|I − Î| per pixel, α = 0.85, SSIM over 3×3
  windows (Monodepth eq. 2, the same in Monodepth2 eq. 1), averaged over the colour channels;
- :func:`smoothness`: the edge-aware smoothness |∂x d*|·e^−|∂x I| + |∂y d*|·e^−|∂y I| on the
  mean-normalised disparity d* = d / mean(d) (Monodepth2 eq. 3 and its weight 1e-3);
- :func:`automask`: Monodepth2's auto-masking (§3.3, eq. 5): a pixel teaches only where the warped
  error is below the error of the unwarped right image, which drops pixels that already match without
  any shift (a static camera, textureless regions, objects at infinity);
- :func:`hint_selection` (hybrid): Depth Hints (Watson, Firman, Brostow & Turmukhambetov, "Self-
  Supervised Monocular Depth Hints", ICCV 2019, eq. 4): a pixel is also supervised by the matcher's
  disparity (the *hint*) where the hint reprojects better than the prediction (l_r(h) < l_r(d)); the
  photometric loss applies everywhere, as in their eq. 4;
- the optional left-right consistency (Monodepth eq. 4 with its right-view photometric term): the
  right view's disparity comes from the same network on the mirrored right image (a mirrored right
  view is the left view of a mirrored rig), which costs a second forward pass.

Multi-scale: Monodepth2 upsamples every decoder scale to the input size and averages the losses; the
networks of ssrdepth give one output map at the input size, so the loss is single-scale.

Units: a prediction is a normalised disparity map of the data's :class:`~ssrdepth.core.scale.TargetScale`
(``max_value`` px at ``reference_width``), so :func:`disparity_pixels` turns it into pixels at the
training width; a stereo-trained model therefore predicts metres through f·B like every other.

Precision: the loss is computed in float32 whatever the training precision, also inside an active
autocast (which it switches off): the network's forward and backward run in bf16 where that is native,
the loss on their output cast to float32. The warp cannot run in bf16: its sampling coordinates would
keep 8 significant bits, so at x ≥ 64 px samples would land up to 0.25–0.5 px off (100.3 → 100.5,
140.6 → 141), and PyTorch's CPU autocast itself keeps ``grid_sample`` in float32; SSIM's variances
E[x²] − μ² cancel in bf16. ``ssrdepth bench`` measures what the float32 loss costs of a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ssrdepth.core.scale import TargetScale
from ssrdepth.losses import LOSSES, MASKED_LOSSES
from ssrdepth.runtime import forward

#: The training losses that read the right view (``TrainConfig.loss``), beside :data:`ssrdepth.losses.LOSSES`.
STEREO_LOSSES = ("photometric", "hybrid")
#: The hint losses of the hybrid mode: Depth Hints' ``log_l1`` or a masked loss of :mod:`ssrdepth.losses`.
HINT_LOSSES = ("log_l1", *MASKED_LOSSES)
#: SSIM's stabilising constants for images in [0, 1]: (0.01·L)², (0.03·L)² with L = 1 (Wang et al. 2004).
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


@dataclass(frozen=True)
class PhotometricConfig:
    """The weights of ``loss = "photometric"`` and ``"hybrid"``.

    Attributes:
        alpha: SSIM's share of the appearance error (Monodepth: 0.85), in [0, 1].
        smoothness: weight of the edge-aware smoothness (Monodepth2: 1e-3), ≥ 0.
        automask: Monodepth2's auto-masking of pixels the unwarped right image already explains.
        lr_consistency: weight of the left-right disparity consistency (Monodepth: 1.0); 0 = off. When on,
            the right view's own photometric loss is added too (a second forward pass per step).
        hint_loss: hybrid only: ``"log_l1"`` (Depth Hints: log(1 + |d − h|) on disparity in pixels) or
            a masked loss of :mod:`ssrdepth.losses` on the normalised maps.
        hint_weight: hybrid only: weight of the hint term, ≥ 0.
    """

    alpha: float = 0.85
    smoothness: float = 1e-3
    automask: bool = True
    lr_consistency: float = 0.0
    hint_loss: str = "log_l1"
    hint_weight: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"photometric.alpha is SSIM's share in [0, 1], got {self.alpha}")
        for name in ("smoothness", "lr_consistency", "hint_weight"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"photometric.{name} is a weight ≥ 0, got {getattr(self, name)}")
        if self.hint_loss not in HINT_LOSSES:
            raise ValueError(
                f"unknown photometric.hint_loss {self.hint_loss!r}; valid: {', '.join(HINT_LOSSES)}"
            )


def disparity_pixels(normalised: torch.Tensor, scale: TargetScale) -> torch.Tensor:
    """A normalised disparity map ``(N, 1, H, W)`` → disparity in pixels at its own width ``W``:
    ``normalised × max_value × W / reference_width`` (:meth:`TargetScale.to_physical`, then the width
    rule of :meth:`TargetScale.to_quantity`: a disparity scales with the image width).

    Raises:
        ValueError: a depth scale (the photometric loss warps by disparity).
    """
    if scale.kind != "disparity":
        raise ValueError(
            f"the photometric loss needs a disparity target scale, got {scale.kind!r}: train with "
            "data.target = stereo or none on a stereo source"
        )
    width = normalised.shape[-1]
    return scale.to_physical(normalised) * (width / scale.width(width))


def warp_by_disparity(view: torch.Tensor, disparity: torch.Tensor, direction: float = -1.0) -> torch.Tensor:
    """``view`` resampled at ``x + direction · disparity`` (bilinear, borders replicated): with the left
    view's disparity and ``direction = -1`` the right image seen from the left camera (a point at
    left column x lies at right column x − d in a rectified pair); with the right view's disparity
    and ``direction = +1`` the left image seen from the right camera.

    view: ``(N, C, H, W)``; disparity: ``(N, 1, H, W)`` in pixels at this width (≥ 0). Returns
    ``(N, C, H, W)``. Pixel centres sit at (x + 0.5) / W of the normalised range
    (``align_corners=False``), so an integer disparity samples pixel centres exactly.
    """
    n, _, h, w = view.shape
    xs = torch.arange(w, device=view.device, dtype=view.dtype).view(1, 1, w).expand(n, h, w)
    ys = torch.arange(h, device=view.device, dtype=view.dtype).view(1, h, 1).expand(n, h, w)
    x = xs + direction * disparity[:, 0].to(view.dtype)
    grid = torch.stack(((2.0 * x + 1.0) / w - 1.0, (2.0 * ys + 1.0) / h - 1.0), dim=-1)
    return F.grid_sample(view, grid, mode="bilinear", padding_mode="border", align_corners=False)


def ssim_error(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(1 − SSIM(x, y)) / 2`` per pixel and channel in [0, 1], SSIM over 3×3 windows (means,
    variances and covariance by 3×3 average pooling of the reflection-padded images, as in Monodepth),
    with :data:`SSIM_C1`, :data:`SSIM_C2` (Wang, Bovik, Sheikh & Simoncelli, IEEE TIP 13, 2004).
    x, y: ``(N, C, H, W)`` in [0, 1]. Returns ``(N, C, H, W)``."""
    xp, yp = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(xp, 3, 1), F.avg_pool2d(yp, 3, 1)
    var_x = F.avg_pool2d(xp * xp, 3, 1) - mu_x * mu_x
    var_y = F.avg_pool2d(yp * yp, 3, 1) - mu_y * mu_y
    cov = F.avg_pool2d(xp * yp, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_x * mu_x + mu_y * mu_y + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return ((1 - num / den) / 2).clamp(0.0, 1.0)


def appearance_error(x: torch.Tensor, y: torch.Tensor, alpha: float = 0.85) -> torch.Tensor:
    """Monodepth's photometric error ``α·(1 − SSIM)/2 + (1 − α)·|x − y|`` averaged over channels.
    x, y: ``(N, C, H, W)`` in [0, 1]. Returns ``(N, 1, H, W)``."""
    l1 = (x - y).abs()
    return (alpha * ssim_error(x, y) + (1 - alpha) * l1).mean(dim=1, keepdim=True)


def smoothness(disparity: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Edge-aware smoothness of Monodepth2 (eq. 3): the mean over pixels of
    ``|∂x d*|·exp(−|∂x I|) + |∂y d*|·exp(−|∂y I|)``, d* = d / mean(d) per image (so the term does not
    pull the disparity towards 0), I's gradients averaged over channels; forward differences.
    disparity: ``(N, 1, H, W)`` (any positive unit); image ``(N, C, H, W)``. Returns a scalar."""
    d = disparity / disparity.mean(dim=(2, 3), keepdim=True).clamp(min=1e-7)
    dx, dy = (d[..., :, 1:] - d[..., :, :-1]).abs(), (d[..., 1:, :] - d[..., :-1, :]).abs()
    ix = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=1, keepdim=True)
    iy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(dim=1, keepdim=True)
    return _mean(dx * torch.exp(-ix)) + _mean(dy * torch.exp(-iy))


def _mean(x: torch.Tensor) -> torch.Tensor:
    """The mean, 0 for an empty tensor (a map one pixel high or wide has no differences that way)."""
    return x.sum() / max(x.numel(), 1)


def automask(warped_error: torch.Tensor, identity_error: torch.Tensor) -> torch.Tensor:
    """Monodepth2's auto-mask: ``warped_error < identity_error`` (bool, same shape). A pixel the
    unwarped view already matches at least as well (identical pixels: a static pair, or texture-free
    regions) does not teach; the strict inequality drops exact ties without Monodepth2's random jitter."""
    return warped_error < identity_error


def hint_selection(
    pred_error: torch.Tensor, hint_error: torch.Tensor, hint_valid: torch.Tensor | None
) -> torch.Tensor:
    """Depth Hints' choice (Watson et al. 2019, eq. 4): the pixels where the hint exists and its
    photometric error is below the prediction's (bool, same shape as the errors ``(N, 1, H, W)``)."""
    better = hint_error < pred_error
    return better if hint_valid is None else better & hint_valid


def log_l1(pred: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
    """Depth Hints' supervised loss ``log(1 + |pred − hint|)`` per pixel (their eq. 3; here on
    disparity in pixels at the training width, where Depth Hints use depth)."""
    return torch.log1p((pred - hint).abs())


@dataclass
class StereoLoss:
    """The parts of one batch's stereo loss (scalars, float32): ``total`` is what is minimised."""

    total: torch.Tensor
    photometric: torch.Tensor
    smoothness: torch.Tensor
    hint: torch.Tensor
    consistency: torch.Tensor
    kept: torch.Tensor  # fraction of pixels the auto-mask keeps
    hinted: torch.Tensor  # fraction of pixels supervised by the hint


def _photometric_term(
    image: torch.Tensor,
    other: torch.Tensor,
    disparity_px: torch.Tensor,
    direction: float,
    cfg: PhotometricConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pixel warped error, auto-mask, masked mean) of ``image`` against ``other`` warped by
    ``disparity_px``."""
    error = appearance_error(image, warp_by_disparity(other, disparity_px, direction), cfg.alpha)
    if cfg.automask:
        keep = automask(error, appearance_error(image, other, cfg.alpha))
    else:
        keep = torch.ones_like(error, dtype=torch.bool)
    term = torch.where(keep, error, 0.0).sum() / keep.sum().clamp(min=1)
    return error, keep, term


def stereo_loss(
    pred: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    scale: TargetScale,
    cfg: PhotometricConfig,
    *,
    hint: torch.Tensor | None = None,
    hint_valid: torch.Tensor | None = None,
    pred_right: torch.Tensor | None = None,
) -> StereoLoss:
    """The photometric loss of the left view's normalised disparity ``pred``, and with ``hint`` the
    hybrid (Depth Hints) loss.

    pred: ``(N, 1, H, W)`` normalised disparity of ``scale``; left, right: ``(N, C, H, W)`` in [0, 1];
    hint: ``(N, 1, H, W)`` the matcher's normalised disparity, valid where ``hint_valid``;
    pred_right: ``(N, 1, H, W)`` the right view's normalised disparity (for the left-right
    consistency, ``cfg.lr_consistency`` > 0).

    total = photometric (masked mean over the auto-mask's pixels) + ``smoothness`` · edge-aware term
    (+ ``hint_weight`` · the hint loss over the pixels :func:`hint_selection` picks; ``log_l1``: summed
    over them and divided by all pixels, as Depth Hints average; a masked loss: its own mean)
    (+ the right view's photometric term and ``lr_consistency`` · mean |d_L − d_R warped| both ways,
    in normalised units, Monodepth eq. 4).
    """
    with torch.autocast(pred.device.type, enabled=False):  # float32 always (module docstring)
        return _stereo_loss(
            pred.float(),
            left.float(),
            right.float(),
            scale,
            cfg,
            hint=None if hint is None else hint.float(),
            hint_valid=hint_valid,
            pred_right=None if pred_right is None else pred_right.float(),
        )


def _stereo_loss(
    pred: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    scale: TargetScale,
    cfg: PhotometricConfig,
    *,
    hint: torch.Tensor | None,
    hint_valid: torch.Tensor | None,
    pred_right: torch.Tensor | None,
) -> StereoLoss:
    """:func:`stereo_loss` on float32 tensors, autocast off."""
    disparity = disparity_pixels(pred, scale)
    error, keep, photo = _photometric_term(left, right, disparity, -1.0, cfg)
    smooth = smoothness(pred, left)
    zero = torch.zeros((), device=pred.device)
    hint_term, hinted, consistency = zero, zero, zero
    total = photo + cfg.smoothness * smooth
    if hint is not None:
        hint_px = disparity_pixels(hint, scale)
        with torch.no_grad():
            hint_error = appearance_error(left, warp_by_disparity(right, hint_px, -1.0), cfg.alpha)
            chosen = hint_selection(error.detach(), hint_error, hint_valid)
        if cfg.hint_loss == "log_l1":
            hint_term = torch.where(chosen, log_l1(disparity, hint_px), 0.0).mean()
        else:
            hint_term = LOSSES[cfg.hint_loss](pred, hint, chosen)
        hinted = chosen.float().mean()
        total = total + cfg.hint_weight * hint_term
    if pred_right is not None and cfg.lr_consistency > 0:
        disparity_r = disparity_pixels(pred_right, scale)
        _, _, photo_r = _photometric_term(right, left, disparity_r, 1.0, cfg)
        right_in_left = warp_by_disparity(pred_right, disparity, -1.0)
        left_in_right = warp_by_disparity(pred, disparity_r, 1.0)
        consistency = (pred - right_in_left).abs().mean() + (pred_right - left_in_right).abs().mean()
        total = (
            total
            + photo_r
            + cfg.smoothness * smoothness(pred_right, right)
            + cfg.lr_consistency * consistency
        )
    return StereoLoss(total, photo, smooth, hint_term, consistency, keep.float().mean(), hinted)


def training_loss(
    mode: str,
    cfg: PhotometricConfig,
    net: nn.Module,
    pred: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    scale: TargetScale,
    *,
    target: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The loss a training step minimises for ``mode`` (``"photometric"`` or ``"hybrid"``, whose hints
    are ``target`` where ``valid``): :func:`stereo_loss`'s total. With ``cfg.lr_consistency`` > 0 the
    right view's disparity is ``net`` on the mirrored right image, mirrored back (a second forward
    pass in the step's precision). left, right: the model inputs ``(N, C, H, W)``; pred ``(N, 1, H, W)``."""
    if mode not in STEREO_LOSSES:
        raise ValueError(f"unknown stereo loss {mode!r}; valid: {', '.join(STEREO_LOSSES)}")
    pred_right = None
    if cfg.lr_consistency > 0:
        pred_right = forward(net, right.flip(-1), autocast_dtype).flip(-1)
    hybrid = mode == "hybrid"
    return stereo_loss(
        pred,
        left,
        right,
        scale,
        cfg,
        hint=target if hybrid else None,
        hint_valid=valid if hybrid else None,
        pred_right=pred_right,
    ).total
