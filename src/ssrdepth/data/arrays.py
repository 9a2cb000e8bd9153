"""The preprocessing cache: each split decoded once, at the model's size, into NumPy memmaps.

Training then never decodes a PNG or touches the .mat in its hot loop. A cache lives in
``cfg.cache_root() / "arrays" / f"{source}-{split}-{hash}"`` (beside the NYU .mat when the root is
that file) with

- ``image.npy`` uint8 ``(N, C, H, W)``; ``target.npy`` float32 ``(N, 1, H, W)`` in [0, 1];
  ``valid_mask.npy`` bool ``(N, 1, H, W)``; ``depth.npy`` float32 ``(N, 1, H, W)`` metres (absent when
  the source has no depth: all zero);
- ``right.npy`` uint8 ``(N, C, H, W)``: the right image, only with ``right_view`` (photometric losses);
- ``manifest.json``: the settings, the kept sample indices, the skipped files.

The hash covers every setting that changes the arrays (source, root, split, size, channels, target,
matcher settings, depth scaling, split ratio/seed, folder options, this format's version) and the
path, size, modification and change times of every input file (images, depth maps, scans,
calibration, cached stereo targets): change any of them and a new cache is built. The change time
(``st_ctime``) moves whenever a file is rewritten or replaced, even by a copy that restores the
modification time, and cannot be set back, so a replaced file is never read from an old cache.

When the data root is not writable the cache goes to a per-user folder
(:func:`~ssrdepth.core.io.writable_cache_root`); a failed write (read-only, no space) is a
:class:`~ssrdepth.core.io.CannotWriteError` naming the folder and ``--cache-dir``, with every array
file allocated before it is filled so that a full disk is an error, not a crash. The cache is written into a temporary
folder and renamed when complete, so an interrupted build leaves nothing half-made. Old caches are
not deleted (several sizes may be in use); remove ``cache_root()/arrays`` to reclaim the space.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset
from tqdm import tqdm

from ssrdepth.core.hardware import usable_cores
from ssrdepth.core.io import file_stamp, make_temp_dir, writable_cache_root, write_hint, write_json
from ssrdepth.core.processes import worker_pool
from ssrdepth.data.config import DataConfig, TargetScale
from ssrdepth.data.dataset import ClipReport, DepthDataset, matcher_settings, to_tensors
from ssrdepth.data.sample import BadSampleError, report_skipped
from ssrdepth.data.targets import CACHE_DIR_HINT
from ssrdepth.stereo.matching import settings_dict

FORMAT_VERSION = 3  # 2: stereo targets in the split's focal × baseline; one image reader. 3: depth targets record their focal
ARRAYS = ("image", "target", "valid_mask", "depth")
#: The right image, cached ``(N, C, H, W)`` uint8 as ``right.npy`` when ``right_view`` is on.
RIGHT = "right"


def arrays_root(cfg: DataConfig) -> Path:
    """Where the preprocessed arrays go: ``cfg.cache_root() / "arrays"``; when ``root`` is a file
    (the NYU .mat), ``.ssrdepth`` beside it instead of inside it."""
    root = Path(cfg.root)
    if cfg.cache_dir is None and root.is_file():
        return writable_cache_root(root.parent / ".ssrdepth", root) / "arrays"
    return cfg.cache_root() / "arrays"


def cache_settings(base: DepthDataset) -> dict[str, Any]:
    """Every setting that changes the cached arrays."""
    cfg = base.cfg
    settings = matcher_settings(cfg) if cfg.disparity_scaled else None
    return {
        "version": FORMAT_VERSION,
        "source": cfg.source,
        "root": str(Path(cfg.root).resolve()),
        "split": base.split,
        "size": list(cfg.size),
        "channels": cfg.channels,
        "target": cfg.target,
        "matcher": settings_dict(settings) if settings is not None else None,
        "max_depth": cfg.depth_limit if not cfg.disparity_scaled else None,
        "nyu_depth": cfg.nyu_depth if cfg.source == "nyu" else None,
        "split_ratio": cfg.split_ratio,
        "split_seed": cfg.split_seed,
        "folder": [cfg.pattern, cfg.focal, cfg.baseline, cfg.depth_scale, cfg.depth_invalid],
        "skip_bad": cfg.skip_bad,
        # Only when on, so that every cache built before the right view existed keeps its hash.
        **({"right_view": True} if cfg.right_view else {}),
    }


def cache_hash(base: DepthDataset) -> str:
    """SHA-256 (16 hex digits) of the settings and of the inputs' paths, sizes, modification and change
    times."""
    h = hashlib.sha256(json.dumps(cache_settings(base), sort_keys=True, default=str).encode())
    stats: list[Any] = []
    cache = getattr(base, "_cache", None)
    seen: set[Path] = set()
    for index in base.indices:
        frame = base.source.frames[index]
        stats.append(frame.key)
        for path in frame.files():
            if path not in seen:  # shared files (calibration, the NYU .mat) once
                seen.add(path)
                stats.append(file_stamp(path))
        if cache is not None:
            stats.append(file_stamp(cache.path_for(frame.key)))
    h.update(json.dumps(stats).encode())
    return h.hexdigest()[:16]


def _load(args: tuple[DepthDataset, int]) -> tuple[int, dict[str, np.ndarray] | None, tuple[str, str] | None]:
    base, i = args
    try:
        return i, base.load_arrays(i), None
    except BadSampleError as exc:
        if not base.cfg.skip_bad:
            raise
        return i, None, (exc.file, exc.problem)


class CachedDataset(Dataset[dict[str, Any]]):
    """A split served from the memmaps of :func:`cached_dataset` (same interface as
    :class:`~ssrdepth.data.dataset.DepthDataset`: ``scale``, ``meta(i)``, ``skipped``)."""

    def __init__(self, base: DepthDataset, directory: Path) -> None:
        self.base = base
        self.cfg = base.cfg
        self.split = base.split
        self.directory = directory
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        self.kept: list[int] = manifest["kept"]
        self.skipped: list[tuple[str, str]] = [(str(f), str(p)) for f, p in manifest["skipped"]]
        self.has_depth: bool = manifest["has_depth"]
        self.has_right: bool = bool(manifest.get("has_right", False))
        self.scale: TargetScale = TargetScale.from_dict(manifest["scale"])
        self._arrays: dict[str, np.ndarray] | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The memmapped arrays (opened on first use in each process)."""
        if self._arrays is None:
            names = (*(ARRAYS if self.has_depth else ARRAYS[:3]), *((RIGHT,) if self.has_right else ()))
            self._arrays = {n: np.load(self.directory / f"{n}.npy", mmap_mode="r") for n in names}
        return self._arrays

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_arrays"] = None  # memmaps reopen in worker processes instead of being copied
        return state

    def __len__(self) -> int:
        return len(self.kept)

    def meta(self, i: int) -> dict[str, Any]:
        out = self.base.meta(self.kept[i])
        out["index"] = i
        return out

    def truth_depth(self, i: int) -> np.ndarray | None:
        """Sample ``i``'s true depth at the source's resolution, read from the source (not cached:
        :meth:`DepthDataset.truth_depth`)."""
        return self.base.truth_depth(self.kept[i])

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self.kept):
            raise IndexError(f"sample {i} out of range (0..{len(self.kept) - 1})")
        a = self.arrays()
        size = a["image"].shape[2:]
        sample = {
            "image": a["image"][i],
            "target": a["target"][i],
            "valid_mask": a["valid_mask"][i],
            "depth": a["depth"][i] if self.has_depth else np.zeros((1, *size), np.float32),
        }
        if self.has_right:
            sample[RIGHT] = a[RIGHT][i]
        return to_tensors(sample, i)


def cached_dataset(base: DepthDataset, progress: bool = True, workers: int | None = None) -> CachedDataset:
    """The memmap cache of ``base`` (built now, with a progress bar, if missing or out of date)."""
    cfg = base.cfg
    name = f"{cfg.source}-{base.split}-{cache_hash(base)}"
    parent = arrays_root(cfg)
    directory = parent / name
    if (directory / "manifest.json").is_file():
        dataset = CachedDataset(base, directory)
        report_skipped(dataset.skipped)
        return dataset
    with write_hint(CACHE_DIR_HINT):
        tmp = make_temp_dir(parent, prefix=f".{name}.")
    try:
        with write_hint(CACHE_DIR_HINT, tmp):
            _build(base, tmp, progress, workers)
        try:
            os.replace(tmp, directory)
        except OSError:
            if not (directory / "manifest.json").is_file():  # not a concurrent build that won
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    dataset = CachedDataset(base, directory)
    report_skipped(dataset.skipped)
    return dataset


def _build(base: DepthDataset, directory: Path, progress: bool, workers: int | None) -> None:
    cfg = base.cfg
    n = len(base)
    if n == 0:
        raise ValueError(f"{cfg.root}: the {base.split!r} split of {cfg.source} is empty")
    h, w = cfg.size
    has_depth = base.source.depth_kind != "none"
    shapes = {
        "image": ((n, cfg.channels, h, w), np.uint8),
        "target": ((n, 1, h, w), np.float32),
        "valid_mask": ((n, 1, h, w), np.bool_),
        "depth": ((n, 1, h, w), np.float32),
        RIGHT: ((n, cfg.channels, h, w), np.uint8),
    }
    names = (*(ARRAYS if has_depth else ARRAYS[:3]), *((RIGHT,) if cfg.right_view else ()))
    out = {
        k: np.lib.format.open_memmap(
            directory / f"{k}.npy", mode="w+", dtype=shapes[k][1], shape=shapes[k][0]
        )
        for k in names
    }
    for k in names:  # take the disk space now: a full disk is an OSError here, not a crash mid-write
        _allocate(directory / f"{k}.npy")
    kept: list[int] = []
    skipped = list(base.skipped)
    bar = tqdm(
        total=n, desc=f"caching {cfg.source} {base.split} at {w}×{h}", unit="sample", disable=not progress
    )
    n_workers = max(1, min(workers or usable_cores(), 8, n // 32 or 1))
    jobs = ((base, i) for i in range(n))
    clipping = base.clip_report()  # one summary line for the split, not one per file or worker
    if n_workers == 1:
        results = map(_load, jobs)
        _consume(results, out, kept, skipped, bar, base, clipping)
    else:
        with worker_pool(n_workers) as pool:  # spawned, dying with this process (core/processes.py)
            _consume(pool.map(_load, jobs, chunksize=16), out, kept, skipped, bar, base, clipping)
    bar.close()
    clipping.warn()
    for array in out.values():
        array.flush()
    del out
    if len(kept) < n:  # compact: the kept samples first (rewrite each array at its final length)
        for k in names:
            full = np.load(directory / f"{k}.npy", mmap_mode="r")
            np.save(directory / f".{k}.npy", np.ascontiguousarray(full[: len(kept)]))
            del full
            os.replace(directory / f".{k}.npy", directory / f"{k}.npy")
    if not kept:
        raise ValueError(f"{cfg.root}: every sample of the {base.split!r} split was bad")
    write_json(
        directory / "manifest.json",
        {
            "format": "ssrdepth-arrays",
            "settings": cache_settings(base),
            "kept": kept,
            "skipped": skipped,
            "has_depth": has_depth,
            "has_right": cfg.right_view,
            "scale": base.scale.as_dict(),
        },
    )


def _allocate(path: Path) -> None:
    """Allocate ``path``'s blocks on disk (``posix_fallocate``, where the file system supports it)."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
    finally:
        os.close(fd)


def _consume(
    results: Any,
    out: Mapping[str, np.ndarray],
    kept: list[int],
    skipped: list[tuple[str, str]],
    bar: tqdm,
    base: DepthDataset,
    clipping: ClipReport,
) -> None:
    for i, arrays, bad in results:
        if arrays is None:
            assert bad is not None
            skipped.append(bad)
        else:
            clipping.add(base.target_file(i), float(arrays["clipped"]))
            row = len(kept)
            for k, array in out.items():
                array[row] = arrays[k]
            kept.append(i)
        bar.update()
