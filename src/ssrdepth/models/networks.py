"""The six networks of the paper, declared once as data (:data:`ARCHITECTURES`) and built by one class.

Shapes: input ``(N, d, H, W)`` with d = 1 (grayscale) or 3 (RGB), values in [0, 1], any H, W ≥ 8;
output ``(N, 1, H, W)`` in [0, 1] (a normalised depth/disparity map); with the ``uncertainty`` option
``(N, 2, H, W)``: that map, then the trained log-scale ``s`` of its error (:class:`UncertaintyHead`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from ssrdepth.models.blocks import (
    NORMS,
    ConvBlock,
    ConvReLU,
    FlowNetRefinement,
    ReductionRegion,
    ResidualBlock,
    UncertaintyHead,
    UpsamplingRegion,
    XuRefinement,
)

#: Smallest input side every model accepts (two 2×2 poolings must leave at least 2 pixels).
MIN_SIZE = 8

#: Channel widths of Region A's four layers and of the refinement/upsampling branches at width 1.0
#: [A]: the spec's reading (64-128-256-512, branches 64 as in Xu et al.'s refinement).
BASE_WIDTHS = (64, 128, 256, 512)
BASE_BRANCH_WIDTH = 64


@dataclass(frozen=True)
class ModelOptions:
    """Every assumption of ``paper-spec.md`` as a named option; the defaults are the spec's reading.

    Attributes:
        width: multiplier on all channel widths (64-128-256-512 and the 64-wide branches) [A].
        norm: normalisation after each hidden conv: ``"none"`` (paper) [A], ``"batch"``, ``"group"``.
        xu_skip: add the coarse map's logit before the Xu refinement's sigmoid [A, on]. Xu et al.
            (2017, "Deep Image Matting", Sec. 4.2) add the refinement stage's input prediction to its
            output (their "skip-model" structure), so on is the faithful reading; paper-spec.md left
            it off. Measured on the synthetic set (docs/training.md, "The recipe"): on, SCRX trains
            to lower error against exact depth in the same steps. ``False`` keeps the other reading.
        ceil_mode: ceil-mode pooling instead of floor mode [A, floor].
        up_blocks: residual blocks in the upsampling region [A, 2 from the text].
        ah_convs: convs per Afifi & Hellwich "convolutional block" [A, 2].
        uncertainty: add a second output channel, the log-scale ``s = log b`` of a Laplacian on the
            log of the map (:class:`~ssrdepth.models.blocks.UncertaintyHead`, trained by
            :func:`ssrdepth.losses.masked_silog_laplace`). Not in the paper: off (its reproduction,
            every checkpoint without the option) leaves the network and its weights unchanged.
    """

    width: float = 1.0
    norm: str = "none"
    xu_skip: bool = True
    ceil_mode: bool = False
    up_blocks: int = 2
    ah_convs: int = 2
    uncertainty: bool = False

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ValueError(f"width must be > 0, got {self.width}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown norm {self.norm!r}; valid values: {', '.join(NORMS)}")
        if self.up_blocks < 0 or self.ah_convs < 1:
            raise ValueError("up_blocks must be ≥ 0 and ah_convs ≥ 1")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def scaled(self, channels: int) -> int:
        return max(1, round(channels * self.width))


@dataclass(frozen=True)
class Architecture:
    """One network as data: the kind of Region A layer and the stages that follow Region A.

    ``layer`` is ``"conv"`` (conv+ReLU), ``"block"`` (Afifi & Hellwich conv block) or
    ``"residual"``; ``stages`` is a sequence of ``"xu"``, ``"up"`` and ``"flownet"``.
    """

    name: str
    layer: str
    stages: tuple[str, ...]
    description: str


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("AH", "block", (), "Afifi & Hellwich (2016) baseline: 4 conv blocks"),
        Architecture("C", "conv", (), "Convolutional: 4 conv+ReLU layers"),
        Architecture("SC", "residual", (), "reSidual-Convolutional: 4 residual blocks"),
        Architecture("SCRX", "residual", ("xu",), "SC + Xu refinement"),
        Architecture("SCRXU", "residual", ("xu", "up"), "SC + Xu refinement + upsampling"),
        Architecture("SCRDU", "residual", ("up", "flownet"), "SC + upsampling + FlowNet refinement"),
    )
}


class DepthNet(nn.Module):
    """One of the six networks. Build through :func:`ssrdepth.models.create_model`."""

    def __init__(self, arch: Architecture, in_channels: int = 1, options: ModelOptions | None = None) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grayscale) or 3 (RGB), got {in_channels}")
        opts = options or ModelOptions()
        self.arch = arch
        self.in_channels = in_channels
        self.options = opts
        widths = [opts.scaled(c) for c in BASE_WIDTHS]
        branch = opts.scaled(BASE_BRANCH_WIDTH)
        chans = [in_channels, *widths]
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):
            if arch.layer == "conv":
                layers.append(ConvReLU(cin, cout, opts.norm))
            elif arch.layer == "block":
                layers.append(ConvBlock(cin, cout, opts.ah_convs, opts.norm))
            elif arch.layer == "residual":
                layers.append(ResidualBlock(cin, cout, opts.norm))
            else:
                raise ValueError(f"unknown layer kind {arch.layer!r}")
        self.region_a = ReductionRegion(layers, widths[-1], opts.ceil_mode)
        self.stages = nn.ModuleList()
        for stage in arch.stages:
            if stage == "xu":
                self.stages.append(XuRefinement(in_channels, branch, opts.xu_skip, opts.norm, opts.ceil_mode))
            elif stage == "up":
                self.stages.append(UpsamplingRegion(branch, opts.up_blocks, opts.norm))
            elif stage == "flownet":
                self.stages.append(FlowNetRefinement(in_channels, branch, opts.norm, opts.ceil_mode))
            else:
                raise ValueError(f"unknown stage {stage!r}")
        # Only built with the option, so a network without it keeps the paper's weights exactly.
        self.uncertainty_head = UncertaintyHead(widths[-1]) if opts.uncertainty else None

    @property
    def out_channels(self) -> int:
        """1 (the normalised map), or 2 with the ``uncertainty`` option (the map, then ``s``)."""
        return 1 if self.uncertainty_head is None else 2

    @property
    def name(self) -> str:
        return self.arch.name

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError that says what is expected unless ``x`` is (N, d, H, W), H, W ≥ 8."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self.name} expects a tensor of shape (N, {self.in_channels}, H, W) "
                f"({'grayscale' if self.in_channels == 1 else 'RGB'}), got {tuple(x.shape)}"
            )
        if x.shape[2] < MIN_SIZE or x.shape[3] < MIN_SIZE:
            raise ValueError(
                f"{self.name} needs H, W ≥ {MIN_SIZE}, got H={x.shape[2]}, W={x.shape[3]}; "
                "resize the image first"
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last depth map before the final resize, ``(N, 1, h, w)`` in [0, 1]."""
        return self._maps(x)[0]

    def _maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The depth map before the final resize and, with the head, ``s`` at Region A's size."""
        features = self.region_a.features(x)
        logits = self.region_a.conv_out(features)
        log_scale = None if self.uncertainty_head is None else self.uncertainty_head(features)
        y = torch.sigmoid(logits)
        for stage in self.stages:
            if isinstance(stage, XuRefinement):
                y = stage(x, y, logits)
            elif isinstance(stage, FlowNetRefinement):
                y = stage(x, y)
            else:
                y = stage(y)
        return y, log_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (N, d, H, W) in [0, 1] → normalised depth map (N, 1, H, W) in [0, 1]; with the
        ``uncertainty`` option ``(N, 2, H, W)``: the map, then ``s`` (split by
        :func:`ssrdepth.core.confidence.split_output`)."""
        self.check_input(x)
        y, log_scale = self._maps(x)
        size = (x.shape[2], x.shape[3])
        # The paper: bilinear interpolation back to the input size, after the last conv.
        y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        if log_scale is None:
            return y
        log_scale = F.interpolate(log_scale, size=size, mode="bilinear", align_corners=False)
        return torch.cat([y, log_scale], dim=1)
