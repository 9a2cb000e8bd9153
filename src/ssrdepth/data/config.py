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

from dataclasses import dataclass
from pathlib import Path

from ssrdepth.core.scale import TargetScale

__all__ = ["DEFAULT_MAX_DEPTH", "SOURCES", "TARGETS", "DataConfig", "StereoPair", "TargetScale"]

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

#: The depth (m) that normalises depth and lidar targets when ``max_depth`` is not set, per source:
#: street scenes reach the KITTI protocol's 80 m cap (Eigen et al. 2014), indoor RGB-D scenes the NYU
#: protocol's 10 m. Depth beyond it is clipped to 1 (reported at run time when it is more than 1 %).
DEFAULT_MAX_DEPTH = {
    "synthetic": 80.0,
    "kitti-tracking": 80.0,
    "kitti-raw": 80.0,
    "kitti-object": 80.0,
    "nyu": 10.0,
    "stereo-folder": 80.0,
    "rgbd-folder": 10.0,
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
    # Depth normalisation (m) of depth / lidar targets; None = the source's DEFAULT_MAX_DEPTH.
    max_depth: float | None = None
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
        if self.max_depth is not None and not self.max_depth > 0:
            raise ValueError(
                f"max_depth must be > 0 m (or unset for the source's default), got {self.max_depth}"
            )

    @property
    def depth_limit(self) -> float:
        """The depth (m) that normalises depth / lidar targets: ``max_depth``, else the source's
        default (:data:`DEFAULT_MAX_DEPTH`: 80 m for street scenes, 10 m indoors)."""
        return float(self.max_depth) if self.max_depth is not None else DEFAULT_MAX_DEPTH[self.source]

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
