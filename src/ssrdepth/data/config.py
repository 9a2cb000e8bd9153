"""The data-set configuration shared by training, evaluation and the reproduce/demo commands, and
the one table of what a data source is (:data:`DATA_SOURCES`: stereo pairs or RGB-D, default maximum
depth, camera, loader, the evaluation protocols made for it). Adding a source is a row there plus its
loader module; everything else (the ``--source`` choices, ``DataConfig`` validation, the loader
dispatch, the clip-warning fix, the protocol warnings) reads the table.

A torch ``Dataset`` built from a :class:`DataConfig` (``ssrdepth.data.build_dataset(cfg, split)``)
yields dicts with string keys (never tuples), already at the model's size:

- ``"image"``: float32 ``(C, H, W)`` in [0, 1], C = ``channels``;
- ``"target"``: float32 ``(1, H, W)`` in [0, 1] — the normalised training target (stereo disparity
  / max disparity for stereo sources, depth / max depth for RGB-D sources);
- ``"valid_mask"``: bool ``(1, H, W)`` — where ``target`` is valid;
- ``"depth"``: float32 ``(1, H, W)`` metric depth in metres where known (lidar, exact synthetic depth,
  NYU), 0 elsewhere; all zero when the source has none;
- ``"index"``: int, the sample's index in the split;
- ``"right"`` (only with ``right_view``, stereo sources): float32 ``(C, H, W)`` in [0, 1], the right
  image of the rectified pair at the same size, for the photometric losses of training.
Per-sample metadata comes from ``dataset.meta(index)`` (a plain dict: ``"source"``, ``"file"``,
``"scale"`` = :meth:`TargetScale.as_dict`, and whatever else the source knows) so that the hot loop
only moves tensors. ``dataset.scale`` is the :class:`TargetScale` shared by the whole split;
``dataset.truth_depth(i)`` the sample's true depth at the source's own resolution (``(H, W)`` m, or
``None``), what the metric evaluation protocols score against.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssrdepth.core.advice import command_line
from ssrdepth.core.scale import TargetScale
from ssrdepth.core.units import check_baseline, check_max_depth

if TYPE_CHECKING:  # the matchers need OpenCV: imported when the settings are first asked for
    from ssrdepth.stereo.matching import MatcherSettings

__all__ = [
    "DATA_SOURCES",
    "DEFAULT_MAX_DEPTH",
    "SOURCES",
    "STEREO_SOURCES",
    "STREET_STEREO_SOURCES",
    "SYNTHETIC_MAX_DISPARITY",
    "TARGETS",
    "DataConfig",
    "DataSource",
    "StereoPair",
    "TargetScale",
]


@dataclass(frozen=True)
class DataSource:
    """What one data source is, declared once in :data:`DATA_SOURCES`.

    name: the ``DataConfig.source`` / ``--source`` value. description: one line for help texts.
    pairs: the source has rectified stereo pairs, so ``target = "stereo"`` (stereo-matched disparity,
        the target cache) is possible; without pairs the targets come from its depth (RGB-D, lidar).
    default_max_depth: the depth (m) that normalises depth and lidar targets when ``max_depth`` is not
        set: street scenes reach the KITTI protocol's 80 m cap (Eigen et al. 2014), indoor RGB-D
        scenes the NYU protocol's 10 m. Depth beyond it is clipped to 1 (reported at run time when it
        is more than 1 %).
    camera: where the focal length (px) and baseline (m) of a frame come from.
    loader: ``"module:function"`` in :mod:`ssrdepth.data`: ``function(root: Path, cfg: DataConfig) ->
        Source`` indexes the frames under ``root`` (imported on first use, so that this module stays
        free of torch and of the sources' readers).
    scene: ``"street"`` (KITTI-like, up to 80 m), ``"indoor"`` (NYU-like, up to 10 m) or ``"any"``:
        which of the metric evaluation protocols are made for it (the street protocols ``kitti``,
        ``kitti-eigen``, ``kitti-full`` or the indoor one, ``nyu``); the others are warned about.
    truth: the true depth a frame can be scored against in metres: ``"exact"`` (dense and exact, the
        renderer's), ``"lidar"`` (sparse, where the frame has a point cloud), ``"sensor"`` (an RGB-D
        sensor's) or ``"none"`` (stereo pairs only: targets from a matcher, no metric truth).
    root_may_be_file: ``root`` may name a file (NYU's ``.mat``) rather than a folder.
    default_max_disparity: the stereo targets' search range and normalisation maximum (px) when
        ``max_disparity`` is not set (``None``: the matcher's own default, 192 px for KITTI's 1242-px
        frames). The synthetic set renders at half KITTI width (621 px), where 96 px reach the same
        depths (≥ about 2 m) as 192 px at full width.
    render: the command that makes the data set at ``{root}`` when its folder is missing (``None``:
        it is downloaded).
    """

    name: str
    description: str
    pairs: bool
    default_max_depth: float
    camera: str
    loader: str
    scene: str
    truth: str
    root_may_be_file: bool = False
    default_max_disparity: int | None = None
    render: str | None = None

    def render_command(self, root: str | os.PathLike[str]) -> str | None:
        """:attr:`render` for ``root``, quoted for the shell (:func:`ssrdepth.core.advice.command_line`)."""
        if self.render is None:
            return None
        words = shlex.split(self.render)
        assert words[0] == "ssrdepth"
        return command_line(*(os.fspath(root) if w == "{root}" else w for w in words[1:]))


#: :attr:`DataSource.default_max_disparity` of the synthetic set (px at its default 621-px width).
SYNTHETIC_MAX_DISPARITY = 96

#: The one table of data sources: adding a source is a row here plus its loader module.
DATA_SOURCES: dict[str, DataSource] = {
    s.name: s
    for s in (
        DataSource(
            "synthetic",
            "procedural KITTI-like stereo street scenes with exact depth (the embedded default)",
            pairs=True,
            default_max_depth=80.0,
            camera="calib/SSSS.txt (P2, P3) written by ssrdepth generate, the tracking layout",
            loader="kitti:synthetic_source",
            default_max_disparity=SYNTHETIC_MAX_DISPARITY,
            scene="street",
            truth="exact",
            render="ssrdepth generate --out {root}",
        ),
        DataSource(
            "kitti-tracking",
            "KITTI tracking stereo (training/image_02|image_03/SSSS/NNNNNN.png, calib/SSSS.txt)",
            pairs=True,
            default_max_depth=80.0,
            camera="calib/SSSS.txt (P2, P3)",
            loader="kitti:tracking_source",
            scene="street",
            truth="none",
        ),
        DataSource(
            "kitti-raw",
            "KITTI raw (DATE/DATE_drive_XXXX_sync/image_02|image_03/data, calib_cam_to_cam.txt)",
            pairs=True,
            default_max_depth=80.0,
            camera="DATE/calib_cam_to_cam.txt (P_rect_02, P_rect_03) of each recording day",
            loader="kitti:raw_source",
            scene="street",
            truth="none",
        ),
        DataSource(
            "kitti-object",
            "KITTI object (training/image_2|image_3|calib[|velodyne])",
            pairs=True,
            default_max_depth=80.0,
            camera="calib/NNNNNN.txt (P2, P3) of each frame",
            loader="kitti:object_source",
            scene="street",
            truth="lidar",
        ),
        DataSource(
            "nyu",
            "NYU Depth v2 labeled (nyu_depth_v2_labeled.mat + splits.mat)",
            pairs=False,
            default_max_depth=10.0,
            camera="none (RGB-D: metric depth from the Kinect)",
            loader="nyu:labeled_source",
            scene="indoor",
            truth="sensor",
            root_may_be_file=True,
        ),
        DataSource(
            "stereo-folder",
            "your own rectified stereo pairs (left/right name pattern, focal, baseline)",
            pairs=True,
            default_max_depth=80.0,
            camera="declared: data.focal (px) and data.baseline (m)",
            loader="folders:stereo_source",
            scene="street",
            truth="none",
        ),
        DataSource(
            "rgbd-folder",
            "your own RGB-D frames (image + depth map with a declared scale and invalid value)",
            pairs=False,
            default_max_depth=10.0,
            camera="none (RGB-D: depth maps with data.depth_scale)",
            loader="folders:rgbd_source",
            scene="any",
            truth="sensor",
        ),
    )
}

#: Data sources and what they are (name → description).
SOURCES = {name: s.description for name, s in DATA_SOURCES.items()}

#: The depth (m) that normalises depth and lidar targets when ``max_depth`` is not set, per source
#: (:attr:`DataSource.default_max_depth`).
DEFAULT_MAX_DEPTH = {name: s.default_max_depth for name, s in DATA_SOURCES.items()}

#: Sources with stereo pairs (their targets come from the stereo-target cache).
STEREO_SOURCES = tuple(name for name, s in DATA_SOURCES.items() if s.pairs)

#: Street-scene sources with stereo pairs: the KITTI-like sources of ``reproduce`` (``--kitti-source``).
STREET_STEREO_SOURCES = tuple(n for n in STEREO_SOURCES if DATA_SOURCES[n].scene == "street")

#: Training-target kinds: stereo-matched disparity, lidar depth, exact/sensor depth, or none (a stereo
#: source whose pair teaches through the photometric loss: disparity scale, no target, no matcher run).
TARGETS = ("stereo", "lidar", "depth", "none")


@dataclass(frozen=True)
class DataConfig:
    """Which data, at which size, with which targets. ``size`` is ``(H, W)``.

    ``split_ratio`` is the training fraction of the deterministic by-sequence split (the paper's
    12,482 / 15,000 ≈ 0.832). ``matcher`` is the stereo backend used for stereo targets.
    ``target = "none"`` (stereo sources): no target (all invalid) in the disparity scale of stereo
    targets (``max_disparity``), for the photometric loss; nothing needs ``prepare-targets``.
    ``right_view``: samples also carry the right image (``"right"``); training sets it for the
    photometric losses.
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
    # normalisation maximum (target = disparity / max_disparity); None = the source's default
    # (DataSource.default_max_disparity: 96 px for the synthetic set), else the matcher's (192).
    max_disparity: int | None = None
    # Folder sources (docs/data.md): file patterns with "{name}" — (left, right) for stereo-folder,
    # (image, depth) for rgbd-folder; the stereo rig (focal px, baseline m); the depth encoding
    # (metres = value / depth_scale, e.g. 256, 1000, 5000; ``depth_invalid`` marks no measurement).
    pattern: tuple[str, str] | None = None
    focal: float | None = None
    baseline: float | None = None
    depth_scale: float | None = None
    depth_invalid: float = 0.0
    right_view: bool = False

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
        if (self.target == "none" or self.right_view) and not self.data_source.pairs:
            what = "target 'none'" if self.target == "none" else "right_view"
            raise ValueError(
                f"{what} needs stereo pairs, and source {self.source!r} has none; stereo sources: "
                + ", ".join(n for n, s in DATA_SOURCES.items() if s.pairs)
            )
        # Units that cannot be right (millimetres for metres): said with the value that fixes them.
        check_max_depth(self.max_depth, "--max-depth")
        check_baseline(self.baseline, "--baseline")

    @property
    def data_source(self) -> DataSource:
        """What ``source`` is: its row of :data:`DATA_SOURCES`."""
        return DATA_SOURCES[self.source]

    @property
    def disparity_scaled(self) -> bool:
        """Whether targets are disparity normalised by ``max_disparity`` (``target`` stereo or none)."""
        return self.target in ("stereo", "none")

    @property
    def needs_right(self) -> bool:
        """Whether every frame needs its right image (stereo targets, no target, or ``right_view``)."""
        return self.disparity_scaled or self.right_view

    @property
    def depth_limit(self) -> float:
        """The depth (m) that normalises depth / lidar targets: ``max_depth``, else the source's
        default (:attr:`DataSource.default_max_depth`: 80 m for street scenes, 10 m indoors)."""
        return float(self.max_depth) if self.max_depth is not None else self.data_source.default_max_depth

    @property
    def matcher_settings(self) -> MatcherSettings:
        """The stereo matcher settings of stereo targets: the KITTI defaults of ``matcher``
        (:func:`ssrdepth.stereo.matching.default_settings`) with ``max_disparity`` when set, else the
        source's :attr:`DataSource.default_max_disparity` where it has one. The one place they are
        derived from a configuration, computed once per (matcher, max_disparity).

        Raises:
            ValueError: an unknown matcher (the message lists the valid ones).
        """
        limit = (
            self.max_disparity if self.max_disparity is not None else self.data_source.default_max_disparity
        )
        return _matcher_settings(self.matcher, limit)

    def source_arguments(self) -> list[str]:
        """The command-line options that name this data set, for a suggested command
        (``prepare-targets``, ``train``'s shortcuts, ``evaluate``): ``--source`` and ``--root`` and every
        source option that differs from its default (``--pattern A B``, ``--focal``, ``--baseline``,
        ``--depth-scale``, …, ``--skip-bad``). Join with :func:`ssrdepth.core.advice.command_line`."""
        default: dict[str, Any] = {f.name: f.default for f in fields(DataConfig)}
        args = ["--source", self.source, "--root", str(self.root)]
        for key in _SOURCE_OPTION_FIELDS:
            value = getattr(self, key)
            if value is None or value == default[key]:
                continue
            flag = "--" + key.replace("_", "-")
            args += [flag, *map(str, value)] if isinstance(value, tuple) else [flag, _number(value)]
        return [*args, "--skip-bad"] if self.skip_bad else args

    def cache_root(self) -> Path:
        """Where derived data (stereo targets, preprocessed arrays) is cached for this data set:
        ``cache_dir`` if given, else ``ROOT/.ssrdepth``, or a per-user folder when the data root is not
        writable (logged: :func:`~ssrdepth.core.io.writable_cache_root`)."""
        if self.cache_dir:
            return Path(self.cache_dir)
        from ssrdepth.core.io import writable_cache_root

        return writable_cache_root(Path(self.root) / ".ssrdepth", self.root)


#: The ``DataConfig`` fields that ``add_source_arguments`` offers as ``--KEY`` options (besides
#: ``--source``, ``--root`` and ``--skip-bad``).
_SOURCE_OPTION_FIELDS = (
    "pattern",
    "focal",
    "baseline",
    "depth_scale",
    "depth_invalid",
    "nyu_depth",
    "max_depth",
    "matcher",
    "max_disparity",
    "cache_dir",
)


def _number(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


@dataclass(frozen=True)
class StereoPair:
    """One rectified stereo pair of a data set. ``key`` is a stable relative id (e.g. ``"0003/000012"``)
    used to name cached targets; ``focal`` in pixels and ``baseline`` in metres (KITTI: 0.54 m)."""

    key: str
    left: Path
    right: Path
    focal: float
    baseline: float


@lru_cache(maxsize=32)
def _matcher_settings(matcher: str, max_disparity: int | None) -> MatcherSettings:
    """:attr:`DataConfig.matcher_settings` (the settings are frozen, so one object serves every
    configuration with these two values)."""
    from ssrdepth.stereo.matching import default_settings

    overrides = {} if max_disparity is None else {"max_disparity": int(max_disparity)}
    return default_settings(matcher, **overrides)
