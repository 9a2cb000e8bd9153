"""Small file helpers shared by every command: atomic writes, so nothing already written is lost.

Files and folders written here get the modes an ordinary ``open()``/``mkdir()`` would give them
(``0o666 & ~umask`` and ``0o777 & ~umask``): ``tempfile.mkstemp``/``mkdtemp`` create owner-only
entries (0600/0700), which would otherwise leak into every checkpoint, report and cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (read without changing it where Linux exposes it, else set and restored)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def make_temp_dir(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A new uniquely named folder in ``parent`` (made if needed) with the ordinary mode
    ``0o777 & ~umask`` (not ``mkdtemp``'s 0700), for building a folder that is renamed into place."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(0o777 & ~current_umask())
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (atomic on POSIX).

    On an exception the temporary file is removed and ``path`` keeps its old content.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp" + final.suffix, dir=final.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes it 0600
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open()`` a temporary file beside ``path`` and rename it over ``path`` when the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=str)
        f.write("\n")


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def require_not_file(path: str | os.PathLike[str], what: str = "a folder", hint: str = "") -> Path:
    """``path`` as a Path; a ValueError when it is a file where a folder is expected (it may be absent:
    callers say what to do about that). ``what`` names the expected folder, ``hint`` the fix."""
    p = Path(path)
    if p.is_file():
        raise ValueError(f"{p} is a file, not a folder; give {what}{hint}")
    return p
