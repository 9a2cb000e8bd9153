"""Worker processes: the one way ssrdepth starts a pool (rendering, stereo matching, the array cache,
the matcher benchmark, training runs side by side).

Every pool is

- **spawned**, never forked: a forked copy of torch's or OpenCV's thread pool can hang;
- **tied to its parent**: on Linux each worker asks the kernel for SIGTERM when the process that
  started it dies (``prctl(PR_SET_PDEATHSIG)``, prctl(2)), so a command that is killed (``kill``,
  the OOM killer, a closed terminal) leaves no orphans rendering or matching on; a worker whose
  parent is already gone when it starts exits at once. Elsewhere the workers behave as Python's
  defaults (the pool's own shutdown).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

#: prctl(2) option: the signal a process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> bool:
    """Ask the kernel to send this process SIGTERM when its parent dies (Linux; elsewhere nothing,
    returns False). ``parent``: the pid of the process that started this one; when it is already gone
    (this process was re-parented before the request), exit now."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        logger.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return False
    if os.getppid() != parent:  # the parent died before the request: nobody will signal us
        os._exit(1)
    return True


def _start_worker(parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def worker_pool(
    workers: int, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that die with this one (see the module docstring), each
    running ``initializer(*initargs)`` first (a module-level function: it is pickled)."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


__all__ = ["PR_SET_PDEATHSIG", "die_with_parent", "worker_pool"]
