"""``ssrdepth prepare-targets``: stereo-match every pair of a data set into the on-disk target cache.

Python API: :func:`prepare_targets` (a list of :class:`~ssrdepth.data.config.StereoPair` → targets
in a :class:`~ssrdepth.stereo.cache.TargetCache`). All cores match in parallel, one pair per task;
pairs already cached with the same settings are skipped, and each target is written to a temporary
file then renamed, so an interrupted run keeps every finished target and a re-run resumes.
"""

from __future__ import annotations

import multiprocessing
import os
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

from ssrdepth.core.image import read_image, to_channels
from ssrdepth.stereo.cache import TargetCache
from ssrdepth.stereo.matching import compute_disparity

if TYPE_CHECKING:  # workers never import torch (pulled in by ssrdepth.data)
    from ssrdepth.data.config import StereoPair


@dataclass(frozen=True)
class PrepareSummary:
    """What :func:`prepare_targets` did. ``mean_density``: mean fraction of valid pixels over the
    pairs computed in this run (NaN when none was); ``failed``: ``"key: error"`` of skipped bad pairs."""

    directory: str
    method: str
    settings_hash: str
    total: int
    computed: int
    skipped: int
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    mean_density: float = float("nan")

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
    returns its density (valid fraction)."""
    left = _read_gray(Path(left_path))
    right = _read_gray(Path(right_path))
    if left.shape != right.shape:
        raise ValueError(
            f"stereo pair {key!r}: left {left_path} is {left.shape[1]}×{left.shape[0]} but right "
            f"{right_path} is {right.shape[1]}×{right.shape[0]}; a rectified pair has equal sizes"
        )
    disparity, valid = compute_disparity(left, right, settings=cache.settings)
    cache.write(key, disparity, valid)
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
    """``workers`` fresh processes (spawned: forking a parent whose OpenCV / OpenMP threads have run
    can deadlock the child), each with one OpenCV thread."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
    )


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
    todo = [(p.key, str(p.left), str(p.right)) for p in pairs if p.key not in cache]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
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
    )
