"""Scores per region of the image against dense exact depth (the synthetic streets): the sky, the road
and the occlusion boundaries — where stereo matchers leave no target (sky, textureless road) or a wrong
one (occlusions), so where targets from a matcher and the photometric loss should differ most.

The regions, as pure functions of one frame's maps at the truth's resolution ``(H, W)``:

- :func:`sky_mask`: no finite exact depth within the protocol's cap — the synthetic maps store the
  sky (at infinity) as 0, and a pixel beyond the cap (80 m for ``kitti-full``) is "infinitely far" for
  the protocol too. A depth measure is undefined there, so the sky's score is the share of its pixels
  the network puts at or beyond the cap (``beyond_cap``, 1 is right).
- :func:`road_mask`: the pixels the synthetic generator labels ``road`` in its region map
  (``training/regions/*.png``, :data:`ssrdepth.data.synthetic.REGIONS`).
- :func:`occlusion_boundaries`: the pixels whose exact disparity differs from one of their four
  neighbours by more than :data:`BOUNDARY_JUMP_PX` (both sides of the jump), the sky at disparity 0;
  a depth discontinuity, where one view sees what the other cannot.

Road and boundaries are scored like ``kitti-full`` (metres, 1e-3–80 m, predictions clamped to the
cap), **pooled** over the pixels of every image (a region is small or absent in many frames, so a
per-image mean would weigh a few pixels like a whole road).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ssrdepth.core.scale import TargetScale
from ssrdepth.data.synthetic import REGIONS as SURFACES
from ssrdepth.evaluation.one_pass import prediction_to_depth
from ssrdepth.evaluation.protocols import MetricAccumulator, Protocol, get_protocol, match_size
from ssrdepth.runtime import forward, model_input
from ssrdepth.stereo.geometry import depth_to_disparity

SKY, ROAD, BOUNDARIES = "sky", "road", "occlusion boundaries"
#: The scored regions, in the order of the study's table.
REGION_NAMES = (SKY, ROAD, BOUNDARIES)
#: An exact-disparity jump (px at the truth's width) above which two neighbouring pixels lie on
#: different surfaces: KITTI 2015's D1 threshold of 3 px (Menze & Geiger 2015). The ground plane
#: changes by B / h ≈ 0.54 / 1.65 ≈ 0.33 px per row, so a road is never a boundary.
BOUNDARY_JUMP_PX = 3.0
#: The protocol road and boundaries are scored with: ``kitti-full`` pooled over pixels.
REGION_PROTOCOL = "kitti-full"


def sky_mask(depth: np.ndarray, cap: float) -> np.ndarray:
    """Pixels ``(H, W)`` with no finite exact depth below ``cap`` m: depth ≤ 0 or not finite (the
    synthetic maps' sky, at infinity) or ≥ ``cap``. Returns bool ``(H, W)``."""
    known = np.isfinite(depth) & (depth > 0)
    return ~known | (depth >= cap)


def road_mask(regions: np.ndarray) -> np.ndarray:
    """Pixels ``(H, W)`` the synthetic generator's region map labels ``road``
    (:data:`ssrdepth.data.synthetic.REGIONS`). Returns bool ``(H, W)``."""
    return np.asarray(regions) == SURFACES.index("road")


def occlusion_boundaries(disparity: np.ndarray, jump_px: float = BOUNDARY_JUMP_PX) -> np.ndarray:
    """Pixels ``(H, W)`` whose disparity (px; 0 for the sky) differs from a 4-neighbour's by more than
    ``jump_px``: both pixels of every such pair are marked. Returns bool ``(H, W)``.

    Raises:
        ValueError: not a 2-D map, or ``jump_px`` < 0.
    """
    if disparity.ndim != 2:
        raise ValueError(f"expected a disparity map (H, W), got shape {disparity.shape}")
    if not jump_px >= 0:
        raise ValueError(f"jump_px must be ≥ 0, got {jump_px}")
    d = np.nan_to_num(np.asarray(disparity, np.float64), nan=0.0, posinf=0.0)
    out = np.zeros(d.shape, bool)
    across = np.abs(d[:, 1:] - d[:, :-1]) > jump_px
    out[:, 1:] |= across
    out[:, :-1] |= across
    down = np.abs(d[1:, :] - d[:-1, :]) > jump_px
    out[1:, :] |= down
    out[:-1, :] |= down
    return out


def region_masks(
    depth: np.ndarray, regions: np.ndarray, focal: float, baseline: float, cap: float = 80.0
) -> dict[str, np.ndarray]:
    """The three regions of one frame (:data:`REGION_NAMES` → bool ``(H, W)``) from its exact depth
    (m, 0 = sky), its region labels and its rig (focal px at this width, baseline m)."""
    if depth.shape != regions.shape:
        raise ValueError(f"depth {depth.shape} and region map {regions.shape} must have the same shape")
    disparity = depth_to_disparity(depth, focal, baseline)
    return {SKY: sky_mask(depth, cap), ROAD: road_mask(regions), BOUNDARIES: occlusion_boundaries(disparity)}


class RegionAccumulator:
    """Add frames one at a time (predicted and true depth in metres ``(H, W)`` and their
    :func:`region_masks`); :meth:`result` gives each region's scores."""

    def __init__(self, protocol: str | Protocol = REGION_PROTOCOL) -> None:
        self.protocol = get_protocol(protocol).with_options(aggregation="pooled")
        self.cap = float(self.protocol.max_value or np.inf)
        self.depth_regions = [r for r in REGION_NAMES if r != SKY]
        self._acc = {r: MetricAccumulator(self.protocol) for r in self.depth_regions}
        self.sky_pixels = 0
        self.sky_beyond = 0

    def add(self, pred_depth: np.ndarray, depth: np.ndarray, masks: Mapping[str, np.ndarray]) -> None:
        """One frame: ``pred_depth`` and ``depth`` ``(H, W)`` in metres (``pred_depth`` may be inf:
        zero disparity), ``masks`` from :func:`region_masks`."""
        if pred_depth.shape != depth.shape:
            raise ValueError(
                f"prediction {pred_depth.shape} and depth {depth.shape} must have the same shape"
            )
        sky = masks[SKY]
        self.sky_pixels += int(sky.sum())
        self.sky_beyond += int((pred_depth[sky] >= self.cap).sum())
        pred = np.minimum(pred_depth, self.cap)  # zero disparity → the cap, as the protocols do
        for r in self.depth_regions:
            self._acc[r].add_image(pred, depth, masks[r] & (depth > 0))

    def result(self) -> dict[str, dict[str, Any]]:
        """``{sky: {"pixels", "beyond_cap"}, road / occlusion boundaries: {"pixels", "abs_rel",
        "rmse", "delta1"}}``; a region without a pixel in any frame gets ``{"pixels": 0}``."""
        out: dict[str, dict[str, Any]] = {
            SKY: {
                "pixels": self.sky_pixels,
                "beyond_cap": self.sky_beyond / self.sky_pixels if self.sky_pixels else None,
            }
        }
        for r, acc in self._acc.items():
            if acc.images == 0:
                out[r] = {"pixels": 0}
                continue
            m = acc.result().metrics
            out[r] = {"pixels": acc.valid_pixels, **{k: m[k] for k in ("abs_rel", "rmse", "delta1")}}
        return out


def score_regions(
    model: nn.Module,
    dataset: Dataset[dict[str, Any]],
    scale: TargetScale,
    regions_of: Callable[[int], np.ndarray],
    *,
    device: str | torch.device = "cpu",
    max_images: int | None = None,
    batch_size: int = 16,
) -> dict[str, dict[str, Any]]:
    """``model`` (normalised output of ``scale``) on ``dataset``'s images, scored per region against
    each sample's true depth at the source's resolution (``dataset.truth_depth(i)``; the output
    upsampled bilinearly to it, as the metric protocols do); ``regions_of(i)`` gives sample ``i``'s
    region labels ``(H, W)``, ``dataset.meta(i)`` its ``focal`` and ``baseline``. Returns
    :meth:`RegionAccumulator.result`.

    Raises:
        ValueError: a sample without a true depth, focal or baseline.
    """
    acc = RegionAccumulator()
    n = len(dataset)  # type: ignore[arg-type]
    n = n if max_images is None else min(n, max_images)
    model.eval()
    for start in range(0, n, batch_size):
        idx = list(range(start, min(n, start + batch_size)))
        images = torch.stack([dataset[i]["image"] for i in idx])
        with torch.inference_mode():
            raw = forward(model, model_input(images, torch.device(device))).float().cpu()
        for j, i in enumerate(idx):
            depth = dataset.truth_depth(i)  # type: ignore[attr-defined]
            meta = dataset.meta(i)  # type: ignore[attr-defined]
            if depth is None or not meta.get("focal") or not meta.get("baseline"):
                raise ValueError(
                    f"{meta.get('file', i)}: region scores need a true depth, focal and baseline"
                )
            pred = match_size(raw[j : j + 1, :1], depth.shape, acc.protocol)
            pred_depth = prediction_to_depth(pred, scale)[0, 0].numpy()
            acc.add(
                pred_depth,
                depth,
                region_masks(depth, regions_of(i), meta["focal"], meta["baseline"], acc.cap),
            )
    return acc.result()
