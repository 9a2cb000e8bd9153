"""Your own data: a folder of rectified stereo pairs, or a folder of RGB-D frames.

Files are paired by a pattern with ``{name}`` (any part of the relative path, sub-folders included):

- stereo-folder, default ``("left/{name}.png", "right/{name}.png")``; also e.g.
  ``("{name}_left.png", "{name}_right.png")``. Needs the rig: ``focal`` (px, at the images' width) and
  ``baseline`` (m). Targets come from the stereo-target cache (``prepare-targets``).
- rgbd-folder, default ``("rgb/{name}.png", "depth/{name}.png")``; also e.g.
  ``("{name}_rgb.png", "{name}_depth.png")``. The depth map is single-channel 16-bit (PNG/PGM/TIFF),
  float (TIFF) or ``.npy``, with metres = value / ``depth_scale`` (256 for KITTI-style, 1000 for
  millimetres, 5000 for TUM RGB-D) and ``depth_invalid`` (usually 0) for "no measurement".

Split groups are the sub-folders containing the files (one folder = one sequence); with a single
folder the split is a contiguous cut in name order (see :mod:`ssrdepth.data.split`).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssrdepth.core.advice import options
from ssrdepth.core.units import check_baseline, check_depth_median, check_focal
from ssrdepth.data.config import DataConfig
from ssrdepth.data.sample import (
    BadSampleError,
    Frame,
    Source,
    check_frames,
    image_size,
    read_depth_map,
    require_dir,
    require_frames,
)

logger = logging.getLogger(__name__)

STEREO_PATTERN = ("left/{name}.png", "right/{name}.png")
RGBD_PATTERN = ("rgb/{name}.png", "depth/{name}.png")


def _compile(pattern: str) -> re.Pattern[str]:
    if pattern.count("{name}") != 1:
        raise ValueError(f"pattern {pattern!r} must contain '{{name}}' exactly once")
    head, tail = pattern.split("{name}")
    return re.compile(re.escape(head) + "(?P<name>.+?)" + re.escape(tail) + r"\Z")


def match_pattern(root: Path, pattern: tuple[str, str]) -> list[tuple[str, Path, Path]]:
    """``(name, first, second)`` for every file under ``root`` matching ``pattern[0]``, in name order;
    ``second`` is ``pattern[1]`` with the same name (it may not exist). Hidden folders are ignored."""
    if len(pattern) != 2:
        raise ValueError(f"pattern must be a pair of strings with {{name}}, got {pattern!r}")
    first_re = _compile(pattern[0])
    _compile(pattern[1])
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in filenames:
            rel = (Path(dirpath) / filename).relative_to(root).as_posix()
            m = first_re.match(rel)
            if m:
                name = m.group("name")
                found.append((name, root / rel, root / pattern[1].format(name=name)))
    return sorted(found)


def lookalikes(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` that match ``pattern`` but for their suffix (``left/{name}.png`` →
    ``left/x.jpg``, ``left/y.HEIC``): the frames a pattern would leave out without a word. Sorted."""
    head, tail = pattern.split("{name}")
    stem_tail, dot, _ = tail.rpartition(".")
    if not dot:
        return []
    near = re.compile(re.escape(head) + "(?P<name>.+?)" + re.escape(stem_tail) + r"\.[^/.]+\Z")
    exact = _compile(pattern)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in filenames:
            rel = (Path(dirpath) / filename).relative_to(root).as_posix()
            if near.match(rel) and not exact.match(rel):
                found.append(root / rel)
    return sorted(found)


def _pattern_frames(root: Path, pair: tuple[str, str], what: str, both: bool) -> list[tuple[str, Path, Path]]:
    """:func:`match_pattern`, saying what it leaves out: no match at all is an error that names the
    files of another suffix and the ``--pattern`` that takes them (``both``: the second file has the
    first's suffix too, as a stereo pair's right image; else only the first changes, as an RGB-D
    frame's colour image beside its PNG depth map); files left out beside matches are one warning."""
    matched = match_pattern(root, pair)
    others = lookalikes(root, pair[0])
    if not others:
        return matched
    suffixes = sorted({p.suffix for p in others})
    example = others[0].relative_to(root).as_posix()
    note = (
        f"{len(others)} file(s) like {example} have another suffix ({', '.join(suffixes)}) than {pair[0]!r}"
    )
    if any(sfx.lower() in (".heic", ".heif", ".hif") for sfx in suffixes):
        note += ' (HEIC/HEIF photos need pillow-heif: pip install "ssrdepth[heif]")'
    first = pair[0].rsplit(".", 1)[0] + suffixes[0]
    second = (
        pair[1].rsplit(".", 1)[0] + suffixes[0] if both and "." in pair[1].rsplit("/", 1)[-1] else pair[1]
    )
    fix = options("--pattern", first, second)
    if not matched:
        raise ValueError(f"{root}: no {what} matching {pair[0]!r} / {pair[1]!r}; {note}: give {fix}")
    logger.warning("%s: %s and are not taken; to take them give %s", root, note, fix)
    return matched


def _group(root: Path, path: Path) -> str:
    parent = path.parent.relative_to(root).as_posix()
    return parent or "."


@dataclass
class FolderSource(Source):
    """A stereo or RGB-D folder (see the module docstring). ``scene`` (the source table's) bounds the
    median depth a map may have before its declared ``depth_scale`` is refused as mis-specified."""

    depth_scale: float = 1.0
    depth_invalid: float = 0.0
    scene: str = "any"

    def depth(self, i: int) -> np.ndarray | None:
        """Depth ``(H, W)`` float32 m (0 = invalid). Raises ValueError naming the file and the fix when
        its median depth cannot occur with the declared ``depth_scale`` (e.g. millimetres read with
        ``--depth-scale 1``: :func:`ssrdepth.core.units.check_depth_median`)."""
        frame = self.frames[i]
        if frame.depth is None:
            return None
        depth = read_depth_map(frame.depth, self.depth_scale, self.depth_invalid)
        valid = depth[depth > 0]
        if valid.size:
            check_depth_median(float(np.median(valid)), self.depth_scale, str(frame.depth), self.scene)
        return depth

    def meta(self, i: int) -> dict[str, object]:
        out = super().meta(i)
        if self.depth_kind == "sensor":
            out["depth_scale"] = self.depth_scale
            out["depth_invalid"] = self.depth_invalid
        return out


def _check_second(frame: Frame) -> None:
    if frame.right is not None and not frame.right.is_file():
        raise BadSampleError(frame.right, f"right image missing for {frame.image}")
    if frame.depth is not None and not frame.depth.is_file():
        raise BadSampleError(frame.depth, f"depth map missing for {frame.image}")


def stereo_folder(
    root: Path,
    pattern: tuple[str, str] | None = None,
    focal: float | None = None,
    baseline: float | None = None,
    skip_bad: bool = False,
) -> FolderSource:
    """Rectified stereo pairs under ``root`` paired by ``pattern`` (left, right)."""
    root = Path(root)
    require_dir(root, "stereo folder")
    pair = (str(pattern[0]), str(pattern[1])) if pattern else STEREO_PATTERN
    if focal is None or baseline is None or not (focal > 0 and baseline > 0):
        raise ValueError(
            f"stereo-folder {root} needs the rig: focal (px, > 0) and baseline (m, > 0); "
            f"got focal={focal}, baseline={baseline}"
        )
    frames = [
        Frame(key=name, group=_group(root, left), image=left, right=right, focal=focal, baseline=baseline)
        for name, left, right in _pattern_frames(root, pair, "stereo pairs", both=True)
    ]
    require_frames(frames, root, f"stereo pairs matching {pair[0]!r} / {pair[1]!r}")
    check_baseline(baseline)
    first = frames[0].image
    try:
        width = image_size(first)[1]
    except BadSampleError:
        width = 0  # reported with the pair's other checks
    check_focal(focal, width, what=str(first))
    skipped: list[tuple[str, str]] = []
    frames = check_frames(frames, _check_second, skip_bad, skipped)
    require_frames(frames, root, "complete stereo pairs")
    return FolderSource("stereo-folder", root, frames, "none", skipped)


def rgbd_folder(
    root: Path,
    pattern: tuple[str, str] | None = None,
    depth_scale: float | None = None,
    depth_invalid: float = 0.0,
    skip_bad: bool = False,
    scene: str = "any",
    focal: float | None = None,
) -> FolderSource:
    """RGB-D frames under ``root`` paired by ``pattern`` (image, depth), metres = value / depth_scale;
    each map's median depth is checked against ``scene`` when it is read (:meth:`FolderSource.depth`);
    ``focal`` (px at the images' width, optional): the camera's, recorded as a depth model's training
    focal (:class:`~ssrdepth.core.scale.TargetScale`)."""
    root = Path(root)
    require_dir(root, "RGB-D folder")
    pair = (str(pattern[0]), str(pattern[1])) if pattern else RGBD_PATTERN
    if depth_scale is None or not depth_scale > 0:
        raise ValueError(
            f"rgbd-folder {root} needs depth_scale (> 0): stored value per metre, e.g. 1000 for "
            f"millimetres, 5000 for TUM RGB-D, 256 for KITTI-style maps; got {depth_scale}"
        )
    frames = [
        Frame(key=name, group=_group(root, image), image=image, depth=depth, focal=focal)
        for name, image, depth in _pattern_frames(root, pair, "RGB-D frames", both=False)
    ]
    require_frames(frames, root, f"RGB-D frames matching {pair[0]!r} / {pair[1]!r}")
    skipped: list[tuple[str, str]] = []
    frames = check_frames(frames, _check_second, skip_bad, skipped)
    require_frames(frames, root, "complete RGB-D frames")
    return FolderSource(
        "rgbd-folder",
        root,
        frames,
        "sensor",
        skipped,
        depth_scale=float(depth_scale),
        depth_invalid=depth_invalid,
        scene=scene,
    )


# The loaders of the source table (:data:`ssrdepth.data.config.DATA_SOURCES`): ``(root, cfg) -> Source``.
def stereo_source(root: Path, cfg: DataConfig) -> FolderSource:
    """The ``stereo-folder`` source of ``cfg`` (:func:`stereo_folder` with its pattern and rig)."""
    return stereo_folder(root, cfg.pattern, cfg.focal, cfg.baseline, cfg.skip_bad)


def rgbd_source(root: Path, cfg: DataConfig) -> FolderSource:
    """The ``rgbd-folder`` source of ``cfg`` (:func:`rgbd_folder` with its pattern and depth encoding)."""
    return rgbd_folder(
        root,
        cfg.pattern,
        cfg.depth_scale,
        cfg.depth_invalid,
        cfg.skip_bad,
        cfg.data_source.scene,
        focal=cfg.focal,
    )
