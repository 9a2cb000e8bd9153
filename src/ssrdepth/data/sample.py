"""What every data source provides: an index of frames, and readers that fail with clear errors.

A :class:`Source` lists :class:`Frame` records (paths and calibration, no pixels) and decodes one frame
at a time at its original resolution: ``image(i)`` → ``(H, W, 3)`` uint8 RGB, ``depth(i)`` → metric
depth ``(H, W)`` float32 in metres (0 = unknown) or ``None``. The torch dataset in
:mod:`ssrdepth.data.dataset` turns these into the normalised, resized sample dicts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.image import BadSampleError, image_size, read_image, read_pixels, read_text_chunks
from ssrdepth.core.png16 import decode_png16

logger = logging.getLogger(__name__)

__all__ = [
    "BadSampleError",
    "Frame",
    "Source",
    "check_frames",
    "image_size",
    "read_depth_map",
    "read_image",
    "recorded_depth_scale",
    "report_skipped",
    "require_dir",
    "require_frames",
]


@dataclass(frozen=True)
class Frame:
    """One sample of a source, before decoding.

    key: stable id (also the stereo-target cache key), e.g. ``"0003/000012"``.
    group: what the split keeps together (a sequence / drive / sub-folder).
    image: the (left) image; right: the right image of a stereo pair, if any.
    depth: a depth-map file (exact synthetic depth, RGB-D sensor), velodyne: a KITTI lidar scan.
    calib: the calibration file. focal (px at this image's width) and baseline (m) where known.
    item: an index into a container file (NYU .mat), else ``None``.
    """

    key: str
    group: str
    image: Path
    right: Path | None = None
    depth: Path | None = None
    velodyne: Path | None = None
    calib: Path | None = None
    focal: float | None = None
    baseline: float | None = None
    item: int | None = None

    def files(self) -> list[Path]:
        return [p for p in (self.image, self.right, self.depth, self.velodyne, self.calib) if p is not None]


@dataclass
class Source:
    """Base class of the data sources: frames plus per-frame readers (original resolution)."""

    name: str
    root: Path
    frames: list[Frame]
    #: what ``depth(i)`` returns: "exact" (synthetic), "lidar" (sparse), "sensor" (RGB-D, NYU) or "none"
    depth_kind: str = "none"
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def image(self, i: int) -> np.ndarray:
        """The (left) image of frame ``i``: ``(H, W, 3)`` uint8 RGB."""
        return read_image(self.frames[i].image)

    def depth(self, i: int) -> np.ndarray | None:
        """Metric depth of frame ``i``, ``(H, W)`` float32 metres, 0 = unknown; ``None`` if the source has none."""
        return None

    def image_size(self, i: int) -> tuple[int, int]:
        """(H, W) of frame ``i``'s image without decoding the pixels where possible."""
        return image_size(self.frames[i].image)

    def official_split(self, split: str) -> list[int] | None:
        """Indices of an official split (NYU), or ``None`` to use the by-group split."""
        return None

    def meta(self, i: int) -> dict[str, Any]:
        f = self.frames[i]
        out: dict[str, Any] = {"source": self.name, "file": str(f.image), "key": f.key, "group": f.group}
        if f.right is not None:
            out["right"] = str(f.right)
        if f.depth is not None:
            out["depth_file"] = str(f.depth)
        if f.focal is not None:
            out["focal"] = f.focal
        if f.baseline is not None:
            out["baseline"] = f.baseline
        return out


def read_depth_map(path: Path, scale: float, invalid: float = 0.0) -> np.ndarray:
    """Decode a depth map stored as integers/floats ``= metres × scale`` → float32 metres, 0 = invalid.

    Accepts single-channel 16-bit PNG/PGM/TIFF, float TIFF/EXR or ``.npy``; 8-bit or multi-channel
    maps are refused (an 8-bit map cannot hold metric depth: usually a visualisation, not data).
    A depth PNG written by ``ssrdepth predict`` records its own scale (text chunk ``ssrdepth`` →
    ``png_scale``); that recorded scale wins over ``scale``.
    """
    if not path.is_file():
        raise BadSampleError(path, "depth map not found")
    recorded = recorded_depth_scale(path)
    if recorded is not None and recorded != scale:
        logger.debug("%s: using the recorded depth scale %g, not %g", path, recorded, scale)
        scale = recorded
    if path.suffix.lower() == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise BadSampleError(path, f"cannot read the .npy depth map ({exc})") from None
    else:
        raw = read_pixels(path)  # refuses truncated files; EXIF orientation as for the image
    if raw.ndim != 2:
        raise BadSampleError(path, f"depth map has shape {raw.shape}; expected one channel (H, W)")
    if raw.dtype not in (np.uint16, np.float32, np.float64, np.int32, np.uint32):
        raise BadSampleError(
            path, f"depth map has dtype {raw.dtype}; expected 16-bit integers or floats (metres × scale)"
        )
    if raw.dtype == np.uint16:  # a 16-bit map: the one PNG codec (KITTI's ×256, or the source's scale)
        return decode_png16(raw, scale, invalid)
    raw = raw.astype(np.float64)
    bad = ~np.isfinite(raw) | (raw == invalid) | (raw <= 0)
    depth = np.where(bad, 0.0, raw / scale)
    return depth.astype(np.float32)


def recorded_depth_scale(path: Path) -> float | None:
    """Stored value per metre recorded in a depth PNG's ``ssrdepth`` text chunk, or ``None`` (not a
    PNG, no such chunk, or a map of another quantity)."""
    if path.suffix.lower() != ".png":
        return None
    try:
        raw = read_text_chunks(path).get("ssrdepth")  # only the PNG's text chunks
        meta = json.loads(raw) if raw else {}
    except ValueError:
        return None  # unreadable here: the decoder below names the problem
    if not isinstance(meta, dict) or meta.get("quantity") != "depth" or not meta.get("png_scale"):
        return None
    return float(meta["png_scale"])


def check_frames(
    frames: Iterable[Frame],
    check: Callable[[Frame], None],
    skip_bad: bool,
    skipped: list[tuple[str, str]],
) -> list[Frame]:
    """Run ``check`` on every frame; with ``skip_bad`` drop failing ones into ``skipped``, else raise."""
    kept = []
    for frame in frames:
        try:
            check(frame)
        except BadSampleError as exc:
            if not skip_bad:
                raise
            skipped.append((exc.file, exc.problem))
            continue
        kept.append(frame)
    return kept


#: Skipped files listed by :func:`report_skipped`; the rest are counted (and logged at DEBUG).
SKIPPED_SHOWN = 10


def report_skipped(skipped: list[tuple[str, str]]) -> None:
    """Log the skipped files and why (at the end of a listing or cache build), as one WARNING: the
    first :data:`SKIPPED_SHOWN`, then a count of the rest by problem; every one is logged at DEBUG."""
    if not skipped:
        return
    lines = [f"skipped {len(skipped)} bad sample(s):"]
    lines += [f"  {file}: {problem}" for file, problem in skipped[:SKIPPED_SHOWN]]
    rest = skipped[SKIPPED_SHOWN:]
    if rest:
        counts: dict[str, int] = {}
        for _, problem in rest:
            counts[problem] = counts.get(problem, 0) + 1
        common = ", ".join(
            f"{n} × {problem!r}" for problem, n in sorted(counts.items(), key=lambda kv: -kv[1])[:3]
        )
        lines.append(f"  … and {len(rest)} more ({common}{', …' if len(counts) > 3 else ''}; each at DEBUG)")
    logger.warning("%s", "\n".join(lines))
    for file, problem in skipped:
        logger.debug("skipped %s: %s", file, problem)


def require_dir(path: Path, what: str) -> None:
    from ssrdepth.core.io import require_not_file

    require_not_file(path, f"the {what}")
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: {what} not found")


def require_frames(frames: list[Frame], root: Path, what: str) -> None:
    if not frames:
        raise ValueError(f"{root}: no {what} found (empty folder or wrong layout)")
