"""Data sets: KITTI (tracking, raw, object), NYU Depth v2, your own folders, and the synthetic default.

Entry points: :func:`build_dataset` (a torch dataset of sample dicts at the model size, see
:mod:`ssrdepth.data.config` for the contract), :func:`list_stereo_pairs` (what ``prepare-targets``
matches) and :func:`generate_synthetic` (render the embedded synthetic set). User guide: docs/data.md.

The names below are loaded on first use, so that ``import ssrdepth.data.config`` (plain dataclasses)
imports neither torch nor the data sources.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssrdepth.data.arrays import CachedDataset, cached_dataset
    from ssrdepth.data.build import build_dataset
    from ssrdepth.data.config import (
        DATA_SOURCES,
        SOURCES,
        STEREO_SOURCES,
        TARGETS,
        DataConfig,
        DataSource,
        StereoPair,
        TargetScale,
    )
    from ssrdepth.data.dataset import (
        DepthDataset,
        build_source,
        list_stereo_pairs,
        target_cache,
    )
    from ssrdepth.data.sample import BadSampleError, Frame, Source
    from ssrdepth.data.split import split_indices
    from ssrdepth.data.synthetic import generate_synthetic, render_frame

#: public name → the module that defines it
_HOMES = {
    "CachedDataset": "arrays",
    "cached_dataset": "arrays",
    "build_dataset": "build",
    "DATA_SOURCES": "config",
    "DataSource": "config",
    "SOURCES": "config",
    "TARGETS": "config",
    "DataConfig": "config",
    "StereoPair": "config",
    "TargetScale": "config",
    "STEREO_SOURCES": "config",
    "DepthDataset": "dataset",
    "build_source": "dataset",
    "list_stereo_pairs": "dataset",
    "target_cache": "dataset",
    "BadSampleError": "sample",
    "Frame": "sample",
    "Source": "sample",
    "split_indices": "split",
    "generate_synthetic": "synthetic",
    "render_frame": "synthetic",
}

__all__ = [
    "DATA_SOURCES",
    "SOURCES",
    "STEREO_SOURCES",
    "TARGETS",
    "BadSampleError",
    "CachedDataset",
    "DataConfig",
    "DataSource",
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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ssrdepth.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ssrdepth.data.{home}"), name)
    globals()[name] = value
    return value
