"""The data-set configuration shared by training, evaluation and the reproduce/demo commands.

A torch ``Dataset`` built from a :class:`DataConfig` (``ssrdepth.data.build_dataset(cfg, split)``)
yields dicts with string keys (never tuples), already at the model's size:

- ``"image"``: float32 ``(C, H, W)`` in [0, 1], C = ``channels``;
- ``"target"``: float32 ``(1, H, W)`` in [0, 1] — the normalised training target (stereo disparity
  / max disparity for stereo sources, depth / max depth for RGB-D sources);
- ``"valid_mask"``: bool ``(1, H, W)`` — where ``target`` is valid;
- ``"depth"``: float32 ``(1, H, W)`` metric depth in metres where known (lidar, exact synthetic depth,
  NYU), 0 elsewhere; all zero when the source has none;
- ``"index"``: int, the sample's index in the split.
Per-sample metadata comes from ``dataset.meta(index)`` (a plain dict: ``"source"``, ``"file"``,
``"scale"`` = :meth:`TargetScale.as_dict`, and whatever else the source knows) so that the hot loop
only moves tensors. ``dataset.scale`` is the :class:`TargetScale` shared by the whole split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

#: Data sources and what they are.
SOURCES = {
    "synthetic": "procedural KITTI-like stereo street scenes with exact depth (the embedded default)",
    "kitti-tracking": "KITTI tracking stereo (training/image_02|image_03/SSSS/NNNNNN.png, calib/SSSS.txt)",
    "kitti-raw": "KITTI raw (DATE/DATE_drive_XXXX_sync/image_02|image_03/data, calib_cam_to_cam.txt)",
    "kitti-object": "KITTI object (training/image_2|image_3|calib[|velodyne])",
    "nyu": "NYU Depth v2 labeled (nyu_depth_v2_labeled.mat + splits.mat)",
    "stereo-folder": "your own rectified stereo pairs (left/right name pattern, focal, baseline)",
    "rgbd-folder": "your own RGB-D frames (image + depth map with a declared scale and invalid value)",
}

#: Training-target kinds: stereo-matched disparity, lidar depth, exact/sensor depth.
TARGETS = ("stereo", "lidar", "depth")


@dataclass(frozen=True)
class DataConfig:
    """Which data, at which size, with which targets. ``size`` is ``(H, W)``.

    ``split_ratio`` is the training fraction of the deterministic by-sequence split (the paper's
    12,482 / 15,000 ≈ 0.832). ``matcher`` is the stereo backend used for stereo targets.
    """

    source: str = "synthetic"
    root: str = "data/synthetic"
    size: tuple[int, int] = (37, 147)
    channels: int = 1
    target: str = "stereo"
    matcher: str = "sgm"
    split_ratio: float = 0.832
    split_seed: int = 0
    nyu_depth: str = "filled"
    max_depth: float = 10.0
    cache_dir: str | None = None
    skip_bad: bool = False
    # Stereo targets: the matcher's search range in px at the original width, which is also the
    # normalisation maximum (target = disparity / max_disparity); None = the matcher's default (192).
    max_disparity: int | None = None
    # Folder sources (docs/data.md): file patterns with "{name}" — (left, right) for stereo-folder,
    # (image, depth) for rgbd-folder; the stereo rig (focal px, baseline m); the depth encoding
    # (metres = value / depth_scale, e.g. 256, 1000, 5000; ``depth_invalid`` marks no measurement).
    pattern: tuple[str, str] | None = None
    focal: float | None = None
    baseline: float | None = None
    depth_scale: float | None = None
    depth_invalid: float = 0.0

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown data source {self.source!r}; valid sources: {', '.join(SOURCES)}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; valid targets: {', '.join(TARGETS)}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if len(self.size) != 2 or min(self.size) < 8:
            raise ValueError(f"size must be (H, W) with H, W ≥ 8, got {self.size}")
        if not 0.0 < self.split_ratio < 1.0:
            raise ValueError(f"split_ratio must be in (0, 1), got {self.split_ratio}")
        if self.nyu_depth not in ("filled", "raw"):
            raise ValueError(f"nyu_depth must be 'filled' or 'raw', got {self.nyu_depth!r}")

    def cache_root(self) -> Path:
        """Where derived data (stereo targets, preprocessed arrays) is cached for this data set:
        ``cache_dir`` if given, else ``ROOT/.ssrdepth``."""
        return Path(self.cache_dir) if self.cache_dir else Path(self.root) / ".ssrdepth"


@dataclass(frozen=True)
class StereoPair:
    """One rectified stereo pair of a data set. ``key`` is a stable relative id (e.g. ``"0003/000012"``)
    used to name cached targets; ``focal`` in pixels and ``baseline`` in metres (KITTI: 0.54 m)."""

    key: str
    left: Path
    right: Path
    focal: float
    baseline: float


@dataclass(frozen=True)
class TargetScale:
    """What a normalised [0, 1] map means physically, and the conversions (the paper's targets are
    normalised: stereo disparity / a fixed maximum disparity, or depth / a maximum depth).

    kind: ``"disparity"`` (pixels at ``reference_width``) or ``"depth"`` (metres).
    max_value: the physical value that maps to 1.0 (px or m).
    focal, baseline: pixels at ``reference_width`` and metres; needed for disparity → depth.
    reference_width: image width (px) at which ``max_value`` and ``focal`` are measured; a disparity
    at another width scales with width, while depth does not.
    """

    kind: str = "disparity"
    max_value: float = 192.0
    focal: float | None = None
    baseline: float | None = None
    reference_width: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("disparity", "depth"):
            raise ValueError(f"TargetScale.kind must be 'disparity' or 'depth', got {self.kind!r}")
        if not self.max_value > 0:
            raise ValueError(f"TargetScale.max_value must be > 0, got {self.max_value}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetScale:
        return cls(
            **{k: d[k] for k in ("kind", "max_value", "focal", "baseline", "reference_width") if k in d}
        )

    def to_physical(self, normalised: ArrayT) -> ArrayT:
        """Normalised map → disparity (px at ``reference_width``) or depth (m)."""
        return normalised * self.max_value

    def from_physical(self, value: ArrayT) -> ArrayT:
        """Disparity (px) or depth (m) → normalised map (not clipped)."""
        return value / self.max_value

    def to_depth(self, normalised: ArrayT, eps: float = 1e-6) -> ArrayT:
        """Normalised map → depth in metres; 0 where the disparity is ≤ ``eps`` (depth undefined)."""
        value = self.to_physical(normalised)
        if self.kind == "depth":
            return value
        if self.focal is None or self.baseline is None:
            raise ValueError("disparity → depth needs focal (px) and baseline (m) in the TargetScale")
        fb = self.focal * self.baseline
        if isinstance(value, torch.Tensor):
            return torch.where(value > eps, fb / value.clamp(min=eps), torch.zeros_like(value))
        return np.where(value > eps, fb / np.maximum(value, eps), 0.0).astype(value.dtype, copy=False)
