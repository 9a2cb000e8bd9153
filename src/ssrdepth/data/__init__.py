"""Data sets: KITTI (tracking, raw, object), NYU Depth v2, your own folders, and the synthetic default.

Entry points: :func:`build_dataset` (a torch dataset of sample dicts at the model size, see
:mod:`ssrdepth.data.config` for the contract), :func:`list_stereo_pairs` (what ``prepare-targets``
matches) and :func:`generate_synthetic` (render the embedded synthetic set). User guide: docs/data.md.
"""

from __future__ import annotations

from ssrdepth.data.arrays import CachedDataset, cached_dataset
from ssrdepth.data.config import SOURCES, TARGETS, DataConfig, StereoPair, TargetScale
from ssrdepth.data.dataset import (
    STEREO_SOURCES,
    DepthDataset,
    build_dataset,
    build_source,
    list_stereo_pairs,
    target_cache,
)
from ssrdepth.data.sample import BadSampleError, Frame, Source
from ssrdepth.data.split import split_indices
from ssrdepth.data.synthetic import generate_synthetic, render_frame

__all__ = [
    "SOURCES",
    "STEREO_SOURCES",
    "TARGETS",
    "BadSampleError",
    "CachedDataset",
    "DataConfig",
    "DepthDataset",
    "Frame",
    "Source",
    "StereoPair",
    "TargetScale",
    "build_dataset",
    "build_source",
    "cached_dataset",
    "generate_synthetic",
    "list_stereo_pairs",
    "render_frame",
    "split_indices",
    "target_cache",
]
