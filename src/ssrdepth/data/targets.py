"""``ssrdepth prepare-targets``: stereo-match every pair of a data set into the on-disk target cache.

Python API: :func:`prepare_targets` (a list of :class:`~ssrdepth.data.config.StereoPair` → targets
in a :class:`~ssrdepth.stereo.cache.TargetCache`). All cores match in parallel, one pair per task;
pairs already cached with the same settings from the same images are skipped (a pair whose images
changed since, or whose target has no record of them, is matched again: :meth:`TargetCache.check`),
and each target is written to a temporary file then renamed, so an interrupted run keeps every
finished target and a re-run resumes. Training refuses stale targets (:func:`check_targets`).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm import tqdm

from ssrdepth.core.hardware import usable_cores
from ssrdepth.core.image import read_image, to_channels
from ssrdepth.core.processes import worker_pool
from ssrdepth.stereo.cache import TargetCache, record_inputs
from ssrdepth.stereo.matching import REFERENCES, compute_disparity

if TYPE_CHECKING:  # workers never import torch (pulled in by ssrdepth.data)
    from ssrdepth.data.config import DataConfig, StereoPair
    from ssrdepth.data.sample import Frame

logger = logging.getLogger(__name__)

#: The way out of a failed cache write (stereo targets, preprocessed arrays), in
#: :class:`~ssrdepth.core.io.CannotWriteError`'s message.
CACHE_DIR_HINT = "give a writable folder with room to spare as --cache-dir (data.cache_dir)"


@dataclass(frozen=True)
class PrepareSummary:
    """What :func:`prepare_targets` did. ``mean_density``: mean fraction of valid pixels over the
    pairs computed in this run (NaN when none was); ``failed``: ``"key: error"`` of skipped bad pairs;
    ``stale``: of the pairs computed, those whose cached target was made from other images (or has no
    record of its images) and was replaced."""

    directory: str
    method: str
    settings_hash: str
    total: int
    computed: int
    skipped: int
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    mean_density: float = float("nan")
    stale: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_gray(path: Path) -> np.ndarray:
    """The matcher's ``(H, W)`` uint8 grey image: the one reader (EXIF orientation applied, truncated
    files refused naming the file) and the network's grey conversion."""
    if not path.is_file():
        raise FileNotFoundError(f"stereo image not found: {path}")
    return to_channels(read_image(path), 1)[:, :, 0]


def match_pair(key: str, left_path: str | Path, right_path: str | Path, cache: TargetCache) -> float:
    """Match one pair from its image files and store its target in ``cache`` under ``key``;
    returns its density (valid fraction). The files' records (size, times, SHA-256) are taken before
    they are read and stored with the target (:meth:`TargetCache.check`)."""
    for path in (left_path, right_path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"stereo image not found: {path}")
    inputs = record_inputs([left_path, right_path])
    left = _read_gray(Path(left_path))
    right = _read_gray(Path(right_path))
    if left.shape != right.shape:
        raise ValueError(
            f"stereo pair {key!r}: left {left_path} is {left.shape[1]}×{left.shape[0]} but right "
            f"{right_path} is {right.shape[1]}×{right.shape[0]}; a rectified pair has equal sizes"
        )
    disparity, valid = compute_disparity(left, right, settings=cache.settings)
    cache.write(key, disparity, valid, inputs=inputs)
    return float(valid.mean())


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would oversubscribe
    # Ctrl-C is the parent's to handle: it stops handing out pairs and lets the running ones finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_Result = tuple[str, float | None, Exception | None]


def _task(key: str, left: str, right: str, cache: TargetCache) -> _Result:
    """(key, density, None) or (key, None, the error) — bad input is reported, not raised, here."""
    try:
        return key, match_pair(key, left, right, cache), None
    except (ValueError, FileNotFoundError) as exc:
        return key, None, exc
    except cv2.error as exc:
        return key, None, ValueError(f"stereo pair {key!r} ({left}): OpenCV failed: {exc}")


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` fresh processes (:func:`ssrdepth.core.processes.worker_pool`: spawned, since forking
    a parent whose OpenCV / OpenMP threads have run can deadlock the child, and dying with this one),
    each with one OpenCV thread."""
    return worker_pool(workers, _init_worker)


def _to_compute(
    pairs: Sequence[StereoPair], cache: TargetCache
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """The pairs whose target is missing or stale (``TargetCache.check``), as ``(key, left, right)``
    jobs, and ``"KEY: reason"`` for each stale one (logged once)."""
    todo: list[tuple[str, str, str]] = []
    stale: list[str] = []
    for p in pairs:
        reason = cache.check(p.key, (p.left, p.right))
        if reason is None:
            continue
        todo.append((p.key, str(p.left), str(p.right)))
        if reason != "not cached":
            stale.append(f"{p.key}: {reason}")
    if stale:
        logger.info(
            "%d cached target%s of %s no longer match%s the images and %s computed again (first: %s)",
            len(stale),
            "" if len(stale) == 1 else "s",
            cache.directory,
            "es" if len(stale) == 1 else "",
            "is" if len(stale) == 1 else "are",
            stale[0],
        )
    return todo, stale


def prepare_targets(
    pairs: Sequence[StereoPair],
    cache: TargetCache,
    workers: int | None = None,
    progress: bool = True,
    skip_bad: bool = False,
) -> PrepareSummary:
    """Compute the disparity target of every pair not yet in ``cache``.

    Args:
        pairs: rectified stereo pairs; their ``key`` names the cached target.
        cache: where targets go; its settings choose the matcher.
        workers: processes (default: all cores); 1 matches in this process. The processes are
            spawned, so a script that calls this needs the ``if __name__ == "__main__":`` guard.
        progress: show a tqdm progress bar.
        skip_bad: record unreadable / mismatched pairs in ``summary.failed`` and go on, instead of
            stopping with a ValueError / FileNotFoundError naming the file (targets finished so far
            are kept either way).
    """
    start = time.perf_counter()
    keys = [p.key for p in pairs]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise ValueError(f"stereo pair keys must be unique; repeated: {dup}")
    cache.check_manifest()
    todo, stale = _to_compute(pairs, cache)
    workers = max(1, min(workers or usable_cores(), len(todo) or 1))
    densities: list[float] = []
    failed: list[str] = []

    def record(key: str, density: float | None, error: Exception | None) -> None:
        if error is not None:
            if not skip_bad:
                raise error
            failed.append(f"{key}: {error}")
        elif density is not None:
            densities.append(density)

    bar = tqdm(
        total=len(pairs),
        initial=len(pairs) - len(todo),
        desc=f"targets {cache.method}",
        unit="pair",
        disable=not progress,
    )
    try:
        if workers == 1:
            for job in todo:
                record(*_task(*job, cache))
                bar.update()
        else:
            with process_pool(workers) as pool:
                pending: set[Future[_Result]] = set()
                queue = iter(todo)
                try:
                    # Keep a few tasks per worker in flight: bounded memory, prompt stop on error.
                    for job in queue:
                        pending.add(pool.submit(_task, *job, cache))
                        if len(pending) >= 4 * workers:
                            break
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            record(*fut.result())
                            bar.update()
                            nxt = next(queue, None)
                            if nxt is not None:
                                pending.add(pool.submit(_task, *nxt, cache))
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    raise
    finally:
        bar.close()
    return PrepareSummary(
        directory=str(cache.directory),
        method=cache.method,
        settings_hash=cache.hash,
        total=len(pairs),
        computed=len(densities),
        skipped=len(pairs) - len(todo),
        failed=failed,
        seconds=time.perf_counter() - start,
        mean_density=float(np.mean(densities)) if densities else float("nan"),
        stale=len(stale),
    )


def target_inputs(cfg: DataConfig, frame: Frame) -> list[Path]:
    """The files a frame's cached target is computed from: the left and right images for a matcher,
    the depth map and calibration for a reference target (``exact``, ``lidar-like``)."""
    files = [frame.depth, frame.calib] if cfg.matcher in REFERENCES else [frame.image, frame.right]
    return [f for f in files if f is not None]


def check_targets(
    cache: TargetCache, items: Sequence[tuple[str, Sequence[Path]]], what: str, command: str
) -> None:
    """Refuse cached targets that were computed from other files than the ones there now (or that
    carry no record of them): ``items`` are ``(key, input files)`` (:func:`target_inputs`); a ValueError
    names how many, the first keys and why, and ``command``, the one that computes them again. Keys
    without a target are left to the caller.

    Raises:
        ValueError: some targets are stale.
    """
    stale = []
    for key, inputs in items:
        reason = cache.check(key, inputs)
        if reason is not None and reason != "not cached":
            stale.append(f"{key} ({reason})")
    if stale:
        named = "; ".join(stale[:3]) + (f"; and {len(stale) - 3} more" if len(stale) > 3 else "")
        raise ValueError(
            f"{len(stale)} of {len(items)} stereo targets of {what} in {cache.directory} do not match "
            f"the files there now: {named}; compute them again with: {command}"
        )
