"""Reference targets from exact depth: the exact disparity, and the same sampled like KITTI's lidar.

Two "matchers" that are not matchers (:data:`ssrdepth.stereo.matching.REFERENCES`), for a data set
with exact depth (the synthetic streets): ``exact`` stores ``f·B / Z`` wherever the depth is known
(everywhere but the sky), ``lidar-like`` keeps it only where a KITTI-like HDL-64E scan would return a
point (:func:`ssrdepth.stereo.geometry.lidar_like_mask`, within :data:`HDL64_RANGE`). They go into
the same target cache as the matchers' (``targets/{exact|lidar-like}-{hash}/``), so training,
evaluation and ``DataConfig(matcher="exact")`` work on them unchanged.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import numpy as np
from tqdm import tqdm

from ssrdepth.data.config import DataConfig
from ssrdepth.data.dataset import build_source, target_cache
from ssrdepth.data.kitti_calib import read_tracking_calib
from ssrdepth.data.targets import target_inputs
from ssrdepth.stereo.cache import record_inputs
from ssrdepth.stereo.geometry import HDL64_RANGE, depth_to_disparity, lidar_like_mask
from ssrdepth.stereo.matching import REFERENCES, LidarLikeSettings


def reference_disparity(
    depth: np.ndarray,
    focal: float,
    baseline: float,
    settings: Any,
    principal_point: tuple[float, float] | None = None,
    key: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """The reference target of one ``(H, W)`` depth map (m, 0 = unknown): ``(disparity float32 px,
    valid_mask bool)``. ``settings``: :class:`ExactSettings` or :class:`LidarLikeSettings` (which needs
    the ``principal_point`` (cx, cy) px; its dropout is seeded by ``settings.seed`` and ``key``)."""
    disparity = depth_to_disparity(depth, focal, baseline)
    valid = disparity > 0
    if isinstance(settings, LidarLikeSettings):
        if principal_point is None:
            raise ValueError("lidar-like targets need the camera's principal point (cx, cy)")
        rng = np.random.default_rng([settings.seed, zlib.crc32(key.encode())])
        hit = lidar_like_mask(
            depth.shape, focal, principal_point, settings.azimuth_step, settings.dropout, rng
        )
        valid &= hit & (depth <= HDL64_RANGE)
    return np.where(valid, disparity, np.float32(0.0)).astype(np.float32), valid


def prepare_reference_targets(cfg: DataConfig, progress: bool = True) -> dict[str, Any]:
    """Fill ``cfg``'s target cache (``cfg.matcher`` ``"exact"`` or ``"lidar-like"``) from the exact
    depth maps; pairs already cached are skipped. Returns a summary like ``prepare_targets``'.

    Raises:
        ValueError: ``cfg.matcher`` is not a reference, or the source has no exact depth.
    """
    if cfg.matcher not in REFERENCES:
        raise ValueError(f"not a reference target {cfg.matcher!r}; references: {', '.join(REFERENCES)}")
    source = build_source(cfg)
    if source.depth_kind != "exact":
        raise ValueError(
            f"{cfg.root}: {cfg.matcher!r} targets need exact depth (the synthetic set); "
            f"source {cfg.source!r} has {source.depth_kind!r} depth"
        )
    cache = target_cache(cfg)
    start = time.perf_counter()
    todo = [i for i, f in enumerate(source.frames) if cache.check(f.key, target_inputs(cfg, f)) is not None]
    densities = []
    for i in tqdm(todo, desc=f"targets {cfg.matcher}", unit="pair", disable=not progress):
        frame = source.frames[i]
        inputs = record_inputs(
            target_inputs(cfg, frame)
        )  # before reading: a file replaced meanwhile is stale
        depth = source.depth(i)
        if depth is None or frame.focal is None or frame.baseline is None:
            raise ValueError(f"{frame.image}: no exact depth or calibration for this frame")
        pp = read_tracking_calib(frame.calib).principal_point if frame.calib is not None else None
        disparity, valid = reference_disparity(
            depth, frame.focal, frame.baseline, cache.settings, pp, frame.key
        )
        cache.write(frame.key, disparity, valid, inputs=inputs)
        densities.append(float(valid.mean()))
    return {
        "directory": str(cache.directory),
        "method": cfg.matcher,
        "total": len(source.frames),
        "computed": len(todo),
        "skipped": len(source.frames) - len(todo),
        "seconds": time.perf_counter() - start,
        "mean_density": float(np.mean(densities)) if densities else float("nan"),
    }
