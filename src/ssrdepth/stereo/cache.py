"""The on-disk cache of stereo targets: one 16-bit PNG per stereo pair, KITTI's disparity convention.

Layout, for a data set whose :meth:`DataConfig.cache_root` is ``ROOT``::

    ROOT/targets/{method}-{settings_hash}/manifest.json   method, settings, hash, format
    ROOT/targets/{method}-{settings_hash}/{key}.png       uint16 = round(disparity px × 256), 0 = invalid
    ROOT/targets/{method}-{settings_hash}/{key}.inputs.json   what the target was computed from

The directory name carries the hash of every matcher setting, so a change of settings opens a new,
empty directory and never reuses stale targets. Each target records the files it was computed from
(path, size, modification and change times, SHA-256 of the bytes: :func:`ssrdepth.core.io.file_record`);
:meth:`TargetCache.check` compares them with the files there now, so a pair whose images were replaced
under the same names (even by a copy with preserved times) is stale, not cached. A target without that
record (made by an older ssrdepth) is treated as stale too. Each file is written to a temporary file
and renamed, the PNG before its record, so a target that exists is complete (an interrupted run loses
nothing and is resumed by skipping the keys already present and current).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from ssrdepth.core.image import BadSampleError, read_pixels
from ssrdepth.core.io import atomic_path, file_record, same_file_content, write_json
from ssrdepth.core.png16 import KITTI_SCALE, MAX_CODE, decode_png16, encode_png16
from ssrdepth.stereo.matching import (
    MatcherSettings,
    default_settings,
    settings_dict,
    settings_from_dict,
    settings_hash,
)

#: KITTI's disparity PNG scale: uint16 value = disparity (px) × 256, 0 = invalid (:mod:`ssrdepth.core.png16`).
DISPARITY_PNG_SCALE = KITTI_SCALE
#: Largest disparity a 16-bit PNG can hold (px).
MAX_PNG_DISPARITY = MAX_CODE / DISPARITY_PNG_SCALE
MANIFEST = "manifest.json"
#: What a target's record file is named after its key: ``{key}.inputs.json``.
RECORD_SUFFIX = ".inputs.json"
#: Why a target without a record is not trusted (:meth:`TargetCache.check`).
NO_RECORD = "no record of the images it was computed from (made by an older ssrdepth)"
FORMAT = "16-bit PNG, value = round(disparity px * 256), 0 = invalid (KITTI stereo convention)"


def write_disparity_png(
    path: str | Path, disparity: np.ndarray, valid_mask: np.ndarray | None = None
) -> None:
    """Write ``(H, W)`` disparity (px) as a KITTI 16-bit PNG, atomically.

    Pixels outside ``valid_mask`` (default: disparity > 0), non-finite or ≤ 0 are stored as 0; valid
    disparities are rounded to 1/256 px, at least 1/256 px and at most :data:`MAX_PNG_DISPARITY`.
    """
    disparity = np.asarray(disparity)
    if disparity.ndim != 2:
        raise ValueError(f"disparity must be (H, W), got shape {disparity.shape} for {path}")
    if valid_mask is not None and valid_mask.shape != disparity.shape:
        raise ValueError(f"valid_mask shape {valid_mask.shape} != disparity shape {disparity.shape}")
    encoded = encode_png16(disparity, DISPARITY_PNG_SCALE, valid_mask, min_code=1, name=str(path))
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), encoded):
            raise ValueError(f"could not write disparity PNG {path}")


def record_inputs(paths: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """The records (:func:`ssrdepth.core.io.file_record`) of the files a target is computed from, for
    :meth:`TargetCache.write`: take them before reading the files, so a file replaced meanwhile makes
    the target stale rather than trusted."""
    return [file_record(p) for p in paths]


def read_disparity_png(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a KITTI 16-bit disparity PNG → (disparity float32 ``(H, W)`` px, 0 where invalid;
    valid_mask bool ``(H, W)``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"disparity PNG not found: {path}")
    try:
        encoded = read_pixels(path)  # refuses a truncated file, naming it
    except BadSampleError as exc:
        raise ValueError(f"could not read {path} as a disparity PNG: {exc.problem}") from None
    if encoded.dtype != np.uint16 or encoded.ndim != 2:
        raise ValueError(
            f"{path} is not a 16-bit single-channel disparity PNG (got {encoded.dtype}, shape {encoded.shape})"
        )
    return decode_png16(encoded, DISPARITY_PNG_SCALE), encoded > 0


@dataclass(frozen=True)
class CachedTargets:
    """A set of targets in the same cache root made with other settings (:meth:`TargetCache.others`):
    its ``settings``, ``directory``, and how many of the keys asked about it holds (``found``)."""

    settings: MatcherSettings
    directory: Path
    found: int

    def differences(self, wanted: MatcherSettings) -> dict[str, Any]:
        """The settings (``method`` included) in which this set differs from ``wanted``, with its values."""
        mine, theirs = settings_dict(self.settings), settings_dict(wanted)
        return {k: v for k, v in mine.items() if theirs.get(k) != v}


class TargetConfig(Protocol):
    """What :meth:`TargetCache.for_config` reads of a :class:`~ssrdepth.data.config.DataConfig`
    (named here rather than imported: the stereo layer sits below the data layer)."""

    @property
    def matcher_settings(self) -> MatcherSettings: ...

    def cache_root(self) -> Path: ...


class TargetCache:
    """Disparity targets of one data set computed with one matcher setting.

    Args:
        root: the data set's cache root (``DataConfig.cache_root()``); targets go to
            ``root / "targets" / f"{method}-{settings_hash}"`` (:attr:`directory`).
        settings: the matcher settings (default: SGM's KITTI defaults).

    Keys are relative ids such as ``"0003/000012"`` (:class:`StereoPair.key`); slashes make
    sub-directories.
    """

    def __init__(self, root: str | Path, settings: MatcherSettings | None = None) -> None:
        self.root = Path(root)
        self.settings: MatcherSettings = settings if settings is not None else default_settings("sgm")
        if self.settings.max_disparity > 256:
            raise ValueError(
                f"max_disparity {self.settings.max_disparity} does not fit the 16-bit PNG target format "
                f"(≤ {MAX_PNG_DISPARITY:.2f} px); use ≤ 256"
            )
        self.method = self.settings.method
        self.hash = settings_hash(self.settings)
        self.directory = self.root / "targets" / f"{self.method}-{self.hash}"
        self._manifest_checked = False

    @classmethod
    def for_config(cls, cfg: TargetConfig, settings: MatcherSettings | None = None) -> TargetCache:
        """The cache of a :class:`~ssrdepth.data.config.DataConfig`: its ``cache_root()`` and, unless
        ``settings`` are given, its :attr:`~ssrdepth.data.config.DataConfig.matcher_settings`."""
        return cls(cfg.cache_root(), settings if settings is not None else cfg.matcher_settings)

    def __repr__(self) -> str:
        return f"TargetCache({str(self.directory)!r})"

    def manifest(self) -> dict[str, Any]:
        """What :attr:`directory`/manifest.json records."""
        return {
            "method": self.method,
            "settings": settings_dict(self.settings),
            "hash": self.hash,
            "format": FORMAT,
            "opencv": cv2.__version__,
        }

    def check_manifest(self) -> None:
        """Write the manifest on first use; refuse a directory whose manifest disagrees."""
        if self._manifest_checked:
            return
        path = self.directory / MANIFEST
        if path.is_file():
            try:
                found = json.loads(path.read_text(encoding="utf-8"))
                found_settings = settings_from_dict(found["settings"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"corrupt target-cache manifest {path}: {exc}; delete the folder") from exc
            if found.get("hash") != self.hash or found_settings != self.settings:
                raise ValueError(
                    f"target cache {self.directory} was made with other settings ({found.get('settings')}); "
                    f"delete the folder to recompute"
                )
        else:
            write_json(path, self.manifest())
        self._manifest_checked = True

    def path_for(self, key: str) -> Path:
        """The PNG path of ``key`` (which must be relative, without ``..``)."""
        parts = Path(key).parts
        if not key or Path(key).is_absolute() or ".." in parts or key.endswith("/"):
            raise ValueError(f"invalid target key {key!r}: must be a relative path like '0003/000012'")
        return self.directory / f"{key}.png"

    def __contains__(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def has(self, key: str) -> bool:
        """Whether the target of ``key`` is cached (complete: targets are written atomically)."""
        return key in self

    def read(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(disparity float32 ``(H, W)`` px at the stereo pair's resolution, 0 = invalid;
        valid_mask bool ``(H, W)``). FileNotFoundError if ``key`` is not cached."""
        path = self.path_for(key)
        if not path.is_file():
            raise FileNotFoundError(
                f"no cached target for {key!r} at {path}; run 'ssrdepth prepare-targets' first"
            )
        return read_disparity_png(path)

    def record_path(self, key: str) -> Path:
        """The record of what ``key``'s target was computed from: ``{key}.inputs.json``."""
        return self.directory / f"{key}{RECORD_SUFFIX}"

    def write(
        self,
        key: str,
        disparity: np.ndarray,
        valid_mask: np.ndarray | None = None,
        inputs: Sequence[Mapping[str, Any]] | None = None,
    ) -> Path:
        """Store ``(H, W)`` disparity (px) with its validity mask, atomically; returns the path.

        ``inputs``: the records (:func:`record_inputs`, taken *before* the files were read) of the files
        the target was computed from, which :meth:`check` compares later; ``None`` records that the
        caller vouches for the target (nothing is checked: targets written by hand through the API).
        """
        self.check_manifest()
        path = self.path_for(key)
        record = self.record_path(key)
        with contextlib.suppress(FileNotFoundError):
            record.unlink()  # never an old record beside a new target, even if interrupted here
        write_disparity_png(path, disparity, valid_mask)
        write_json(record, {"inputs": [dict(r) for r in inputs] if inputs is not None else None})
        return path

    def check(self, key: str, inputs: Sequence[str | os.PathLike[str]]) -> str | None:
        """Whether ``key``'s target is cached and was computed from the files ``inputs`` hold now:
        ``None`` when it is, else why not (``"not cached"``, :data:`NO_RECORD`, ``"LEFT.png changed
        since"``). Files whose times changed but whose bytes did not keep the target (their record is
        refreshed where the cache is writable)."""
        if not self.path_for(key).is_file():
            return "not cached"
        record_file = self.record_path(key)
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
            recorded = record["inputs"]
        except FileNotFoundError:
            return NO_RECORD
        except (OSError, ValueError, KeyError, TypeError):
            return f"its record {record_file} is unreadable"
        if recorded is None:  # written through the API without inputs: the caller vouched for it
            return None
        if not isinstance(recorded, list) or len(recorded) != len(inputs):
            return f"it was computed from other files ({len(recorded or [])} recorded, {len(inputs)} now)"
        refreshed = False
        for i, (old, path) in enumerate(zip(recorded, inputs, strict=True)):
            same = same_file_content(old, path) if isinstance(old, dict) else False
            if same is False:
                return f"{path} changed since it was computed (or is gone)"
            if same is None:  # same bytes, new times: remember them so the next check reads nothing
                recorded[i] = {**file_record(path, sha256=False), "sha256": old["sha256"]}
                refreshed = True
        if refreshed:
            with contextlib.suppress(OSError):  # a read-only cache still serves its targets
                write_json(record_file, {"inputs": recorded})
        return None

    def others(self, keys: Sequence[str]) -> list[CachedTargets]:
        """The target sets beside this one (same cache root, other matcher settings) that hold any of
        ``keys``, the most complete first. Folders without a readable manifest are passed over."""
        found = []
        base = self.root / "targets"
        for manifest in sorted(base.glob(f"*/{MANIFEST}")) if base.is_dir() else []:
            directory = manifest.parent
            if directory == self.directory:
                continue
            try:
                settings = settings_from_dict(json.loads(manifest.read_text(encoding="utf-8"))["settings"])
            except (ValueError, KeyError, TypeError):
                continue
            count = sum((directory / f"{key}.png").is_file() for key in keys)
            if count:
                found.append(CachedTargets(settings, directory, count))
        return sorted(found, key=lambda c: -c.found)

    def keys(self) -> list[str]:
        """Cached keys, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p.relative_to(self.directory).with_suffix("").as_posix()
            for p in self.directory.rglob("*.png")
            if not p.name.startswith(".")
        )
