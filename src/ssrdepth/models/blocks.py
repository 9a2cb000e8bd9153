"""Shared building blocks of the six networks (see ``paper-spec.md``, "Building blocks").

Every block works on tensors of shape ``(N, C, H, W)``. Points the spec marks as assumptions are
constructor arguments, never literals buried in the code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Valid values of the ``norm`` option. The paper mentions no normalisation, so ``"none"`` is the
#: default [A]; ``"batch"`` and ``"group"`` (8 groups) are offered for users who want them.
NORMS = ("none", "batch", "group")


def make_norm(norm: str, channels: int) -> nn.Module:
    """Normalisation layer after a conv, or identity for ``norm="none"``."""
    if norm == "none":
        return nn.Identity()
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "group":
        return nn.GroupNorm(min(8, channels), channels)
    raise ValueError(f"unknown norm {norm!r}; valid values: {', '.join(NORMS)}")


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3×3 convolution, stride 1, padding 1, with bias (the paper: "we also add biases to each layer")."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=True)


class ConvReLU(nn.Sequential):
    """conv3×3 → [norm] → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "none") -> None:
        super().__init__(
            conv3x3(in_channels, out_channels), make_norm(norm, out_channels), nn.ReLU(inplace=True)
        )


class ResidualBlock(nn.Module):
    """He et al. (2016) basic block: conv → ReLU → conv, add the shortcut, ReLU.

    The shortcut is the identity, or a 1×1 conv (with bias) when the channel count changes [A].
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str = "none") -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels)
        self.norm1 = make_norm(norm, out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.norm2 = make_norm(norm, out_channels)
        self.shortcut: nn.Module = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)), inplace=True)
        y = self.norm2(self.conv2(y))
        return F.relu(y + self.shortcut(x), inplace=True)


class ConvBlock(nn.Sequential):
    """Afifi & Hellwich "convolutional block": ``convs`` × (conv3×3 + ReLU) [A: two convs]."""

    def __init__(self, in_channels: int, out_channels: int, convs: int = 2, norm: str = "none") -> None:
        layers: list[nn.Module] = []
        for i in range(convs):
            layers.append(ConvReLU(in_channels if i == 0 else out_channels, out_channels, norm))
        super().__init__(*layers)


class DepthHead(nn.Sequential):
    """conv3×3 (→ 1 channel) + sigmoid: every layer that emits a depth map ends in a sigmoid."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(conv3x3(in_channels, 1), nn.Sigmoid())


class ReductionRegion(nn.Module):
    """Region A: four main layers, max-pool after the first two, then a depth head.

    Output: ``(N, 1, H // 4, W // 4)`` in [0, 1] (floor-mode pooling [A]).
    """

    def __init__(
        self,
        layers: list[nn.Module],
        out_channels: int,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"Region A has four layers, got {len(layers)}")
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=ceil_mode)
        self.conv_out = conv3x3(out_channels, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The fourth layer's features, ``(N, out_channels, H // 4, W // 4)``."""
        x = self.pool(self.layer1(x))
        x = self.pool(self.layer2(x))
        return self.layer4(self.layer3(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid depth map, ``(N, 1, H // 4, W // 4)``."""
        return self.conv_out(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


#: Initial bias of the uncertainty head: ``s = log b`` starts at log 0.1, a 10 % log error, near what
#: a freshly trained small model makes, so the first steps of the likelihood are not spent moving it.
UNCERTAINTY_INIT_LOG_SCALE = math.log(0.1)


class UncertaintyHead(nn.Module):
    """The trained uncertainty (not in the paper): conv3×3 (→ 1 channel, no activation) on Region A's
    features, the log-scale ``s = log b`` of a Laplacian on the log of the map (Kendall & Gal 2017;
    Poggi et al. 2020, "log-Laplacian"). ``(N, C, h, w)`` → ``(N, 1, h, w)``, unbounded; ``exp(s)`` is
    the expected absolute log error (dimensionless, ≈ the relative error)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = conv3x3(in_channels, 1)
        assert self.conv.bias is not None  # conv3x3 has a bias
        nn.init.constant_(self.conv.bias, UNCERTAINTY_INIT_LOG_SCALE)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(features)
        return out


class XuRefinement(nn.Module):
    """Refinement *before* upsampling, after Xu et al. (2017, "Deep Image Matting").

    image → conv(d→w)+ReLU → pool → conv(w→w)+ReLU → pool (now at Region A's resolution),
    concatenated with the coarse map [A] → conv(w+1→1) → sigmoid. With ``skip=True`` the coarse
    map's logit is added before the last sigmoid (Xu et al.'s "skip-model"; on in ``ModelOptions``).
    """

    def __init__(
        self,
        in_channels: int,
        width: int = 64,
        skip: bool = False,
        norm: str = "none",
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.conv1 = ConvReLU(in_channels, width, norm)
        self.conv2 = ConvReLU(width, width, norm)
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=ceil_mode)
        self.conv_out = conv3x3(width + 1, 1)
        self.skip = skip

    def forward(self, image: torch.Tensor, coarse: torch.Tensor, coarse_logits: torch.Tensor) -> torch.Tensor:
        """``image`` (N, d, H, W), ``coarse`` (N, 1, h, w) in [0, 1] → refined (N, 1, h, w) in [0, 1]."""
        f = self.pool(self.conv2(self.pool(self.conv1(image))))
        y = self.conv_out(torch.cat([f, coarse], dim=1))
        if self.skip:
            y = y + coarse_logits
        return torch.sigmoid(y)


class UpsamplingRegion(nn.Module):
    """The "additional upsample layer": transposed conv ×4 (kernel 8, stride 4, padding 2), 1→w,
    + ReLU [A] → ``blocks`` residual blocks (w) → conv(w→1) → sigmoid. ``(N,1,h,w)`` → ``(N,1,4h,4w)``.
    """

    def __init__(self, width: int = 64, blocks: int = 2, norm: str = "none") -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(1, width, kernel_size=8, stride=4, padding=2, bias=True)
        self.blocks = nn.Sequential(*[ResidualBlock(width, width, norm) for _ in range(blocks)])
        self.head = DepthHead(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(F.relu(self.up(x), inplace=True)))


class FlowNetRefinement(nn.Module):
    """Refinement *after* upsampling, after Dosovitskiy et al. (2015, FlowNet).

    The map, resized bilinearly to the image's H×W, concatenated with the image [A] →
    conv(d+1→w)+ReLU → pool → conv(w→w)+ReLU → pool → conv(w→1) → sigmoid: ``(N, 1, H//4, W//4)``.
    """

    def __init__(
        self, in_channels: int, width: int = 64, norm: str = "none", ceil_mode: bool = False
    ) -> None:
        super().__init__()
        self.conv1 = ConvReLU(in_channels + 1, width, norm)
        self.conv2 = ConvReLU(width, width, norm)
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=ceil_mode)
        self.head = DepthHead(width)

    def forward(self, image: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        depth = F.interpolate(depth, size=image.shape[-2:], mode="bilinear", align_corners=False)
        f = self.pool(self.conv1(torch.cat([image, depth], dim=1)))
        return self.head(self.pool(self.conv2(f)))
