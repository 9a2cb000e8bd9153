"""Stereo targets: matching backends behind one function, geometry, cache (KITTI calibration and
lidar readers live with the KITTI source in :mod:`ssrdepth.data`)."""

from __future__ import annotations

from ssrdepth.stereo.cache import TargetCache, read_disparity_png, write_disparity_png
from ssrdepth.stereo.matching import (
    METHODS,
    BMSettings,
    ElasSettings,
    MatcherSettings,
    SGMSettings,
    compute_disparity,
    default_settings,
    elas_available,
    settings_hash,
)

__all__ = [
    "METHODS",
    "BMSettings",
    "ElasSettings",
    "MatcherSettings",
    "SGMSettings",
    "TargetCache",
    "compute_disparity",
    "default_settings",
    "elas_available",
    "read_disparity_png",
    "settings_hash",
    "write_disparity_png",
]
