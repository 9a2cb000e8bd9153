"""Small file helpers shared by every command: atomic writes, so nothing already written is lost.

A write that fails because the place is read-only, full or not ours raises :class:`CannotWriteError`
(an ``OSError`` naming the place, why, and the option that chooses another place), which the
``ssrdepth`` command prints as one line. Caches of a data set whose folder is not writable go to a
per-user folder instead (:func:`writable_cache_root`).

Files and folders written here get the modes an ordinary ``open()``/``mkdir()`` would give them
(``0o666 & ~umask`` and ``0o777 & ~umask``): ``tempfile.mkstemp``/``mkdtemp`` create owner-only
entries (0600/0700), which would otherwise leak into every checkpoint, report and cache.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

_UMASK_LOCK = threading.Lock()

#: The errno values of a write refused by the place itself: read-only, not permitted, no space or quota.
WRITE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})


class CannotWriteError(OSError):
    """A write refused by the place (read-only file system, permission, no space): ``path`` is the
    file or folder, ``reason`` the system's words, ``hint`` the way out (an option naming another
    place), e.g. ``cannot write /data/kitti/.ssrdepth: Read-only file system; pass --cache-dir DIR``."""

    def __init__(self, path: str | os.PathLike[str], reason: str, hint: str = "", code: int = errno.EROFS):
        super().__init__(code, reason, str(path))
        self.path = Path(path)
        self.reason = reason
        self.hint = hint

    def __reduce__(self) -> tuple[Any, ...]:  # survives the trip back from a worker process
        return (type(self), (self.path, self.reason, self.hint, self.errno))

    def __str__(self) -> str:
        hint = self.hint or "choose a writable place with room to spare"
        return f"cannot write {self.path}: {self.reason}; {hint}"


def is_write_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a write refused by the place (an ``OSError`` with an errno of :data:`WRITE_ERRNOS`)."""
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS


@contextlib.contextmanager
def write_hint(hint: str, path: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Turn a refused write inside the block into a :class:`CannotWriteError` with ``hint`` (kept when
    the error already has a hint); ``path`` (the folder written to) names the place when the error
    does not, and a permission error about a file outside it (reading an input) is left as it is."""
    try:
        yield
    except CannotWriteError as exc:
        if exc.hint:
            raise
        raise CannotWriteError(exc.path, exc.reason, hint, exc.errno or errno.EROFS) from exc
    except OSError as exc:
        if not is_write_error(exc):
            raise
        if path is not None and exc.errno in (errno.EACCES, errno.EPERM) and exc.filename is not None:
            inside = Path(path).absolute()
            failed = Path(os.fsdecode(exc.filename)).absolute()
            if failed != inside and inside not in failed.parents:
                raise
        where = exc.filename if exc.filename is not None else path
        raise CannotWriteError(
            where if where is not None else "?", exc.strerror or str(exc), hint, exc.errno or errno.EROFS
        ) from exc


@contextlib.contextmanager
def _refused_as(path: str | os.PathLike[str], temp: Path | None = None) -> Iterator[None]:
    """Re-raise a refused write in the block as a :class:`CannotWriteError` naming ``path``. With
    ``temp`` (the block writes that file), a permission error about another file (a read, say) is left
    as it is; read-only, no space and quota errors are always the write's."""
    try:
        yield
    except CannotWriteError:
        raise
    except OSError as exc:
        if not is_write_error(exc):
            raise
        if (
            temp is not None
            and exc.errno in (errno.EACCES, errno.EPERM)
            and exc.filename not in (None, str(temp))
        ):
            raise
        raise CannotWriteError(path, exc.strerror or str(exc), code=exc.errno or errno.EROFS) from exc


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (64 lowercase hex digits): the bundled model's check, the records of
    the caches."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def file_record(path: str | os.PathLike[str], sha256: bool = True) -> dict[str, Any]:
    """What a cache records of an input file: ``path``, ``size`` (bytes), ``mtime_ns``, ``ctime_ns``
    (changed by any rewrite, even one that restores the modification time) and its ``sha256``.

    Raises:
        FileNotFoundError: no file at ``path``.
    """
    p = Path(path)
    st = p.stat()
    record: dict[str, Any] = {
        "path": str(p),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
    }
    if sha256:
        record["sha256"] = file_sha256(p)
    return record


def file_stamp(path: str | os.PathLike[str]) -> list[Any]:
    """``[path, size, mtime_ns, ctime_ns]`` of a file (``[path, None]`` when it cannot be read): the
    cheap part of a cache key. The change time moves whenever the file is rewritten or replaced, even
    by a copy that restores the modification time, and cannot be set back."""
    try:
        st = Path(path).stat()
    except OSError:
        return [str(path), None]
    return [str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def files_fingerprint(paths: Iterator[Path] | list[Path]) -> str:
    """SHA-256 (16 hex digits) of the :func:`file_stamp` of every file in ``paths``, in order: changes
    when any file is added, removed, rewritten or replaced."""
    h = hashlib.sha256()
    for path in paths:
        h.update(json.dumps(file_stamp(path)).encode())
    return h.hexdigest()[:16]


def same_file_content(record: dict[str, Any], path: str | os.PathLike[str]) -> bool | None:
    """Whether the file at ``path`` holds what ``record`` (:func:`file_record`) describes: ``True`` when
    path, size and both times are unchanged (nothing read), else decided by its SHA-256; ``None`` when
    the content is the same but the times are not (the caller may refresh its record). ``False`` when
    the file is gone, changed size or holds other bytes."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return False
    if st.st_size != record.get("size"):
        return False
    if (
        str(p) == record.get("path")
        and st.st_mtime_ns == record.get("mtime_ns")
        and st.st_ctime_ns == record.get("ctime_ns")
    ):
        return True
    if "sha256" not in record:
        return False
    try:
        return None if file_sha256(p) == record["sha256"] else False
    except OSError:
        return False


def user_cache_dir() -> Path:
    """The per-user cache folder: ``$SSRDEPTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/ssrdepth``, else
    ``~/.cache/ssrdepth``."""
    env = os.environ.get("SSRDEPTH_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ssrdepth"


def can_write_in(folder: str | os.PathLike[str]) -> bool:
    """Whether a file can be created in ``folder`` (or, when it does not exist yet, in its nearest
    existing parent, where it would be made): tried with a temporary file, removed at once."""
    p = Path(folder).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        return False
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ssrdepth-probe.", dir=p)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return True


_FALLBACKS_LOGGED: set[Path] = set()


def writable_cache_root(preferred: str | os.PathLike[str], source: str | os.PathLike[str]) -> Path:
    """``preferred`` (a cache folder inside a data set, e.g. ``ROOT/.ssrdepth``) when files can be
    written there; else the per-user ``user_cache_dir()/data/<16 hex digits of source's path>``, with
    one log line saying where (the data root is read-only or not ours; ``--cache-dir`` chooses).
    A ``source`` that does not exist keeps ``preferred``: the data set's reader names it."""
    preferred = Path(preferred)
    if not Path(source).exists() or can_write_in(preferred):  # a missing root: its reader says so
        return preferred
    digest = hashlib.sha256(str(Path(source).absolute()).encode()).hexdigest()[:16]
    fallback = user_cache_dir() / "data" / digest
    if preferred not in _FALLBACKS_LOGGED:
        _FALLBACKS_LOGGED.add(preferred)
        logger.info(
            "%s is not writable: caching this data set's derived files in %s instead "
            "(--cache-dir DIR chooses the place)",
            preferred,
            fallback,
        )
    return fallback


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
    ``0o777 & ~umask`` (not ``mkdtemp``'s 0700), for building a folder that is renamed into place.

    Raises:
        CannotWriteError: ``parent`` is read-only, full or not ours.
    """
    with _refused_as(parent):
        Path(parent).mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    tmp.chmod(0o777 & ~current_umask())
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (atomic on POSIX).

    On an exception the temporary file is removed and ``path`` keeps its old content.

    Raises:
        CannotWriteError: the folder is read-only, full or not ours (``path`` named).
    """
    final = Path(path)
    with _refused_as(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp" + final.suffix, dir=final.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes it 0600
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        with _refused_as(final, tmp_path):  # e.g. no space left while writing
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
