"""Atomic writes give the modes an ordinary ``open()``/``mkdir()`` would: ``0o666 & ~umask`` for files and
``0o777 & ~umask`` for folders (not ``mkstemp``/``mkdtemp``'s owner-only 0600/0700)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.core.io import atomic_open, current_umask, make_temp_dir, write_json, write_text
from ssrdepth.inference.outputs import write_png16
from ssrdepth.models import create_model
from ssrdepth.stereo.cache import write_disparity_png


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_written_files_and_folders_follow_the_umask(
    tmp_path: Path, mask: int, file_mode: int, dir_mode: int
) -> None:
    with umask(mask):
        assert current_umask() == mask
        write_json(tmp_path / "a.json", {"x": 1})
        write_text(tmp_path / "b.txt", "hello")
        with atomic_open(tmp_path / "c.bin", "wb") as f:
            f.write(b"\x00")
        write_png16(tmp_path / "d.png", np.full((2, 3), 5.0, np.float32), "depth", {})
        write_disparity_png(tmp_path / "e.png", np.full((2, 3), 5.0, np.float32))  # cached targets
        save_checkpoint(tmp_path / "f.pt", create_model("C", 1, width=0.125), input_size=(16, 48))
        folder = make_temp_dir(tmp_path / "cache", prefix=".build.")
    for name in ("a.json", "b.txt", "c.bin", "d.png", "e.png", "f.pt"):
        assert mode(tmp_path / name) == file_mode, name
    assert mode(folder) == dir_mode
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left
