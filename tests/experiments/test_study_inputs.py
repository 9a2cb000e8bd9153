"""The matcher study reuses a stored result only for the files it was measured on."""

from __future__ import annotations

import os
from pathlib import Path

from ssrdepth.core.io import files_fingerprint
from ssrdepth.experiments.study_matchers import _data_files


def test_the_data_fingerprint_follows_replaced_files_but_not_the_cache(tmp_path: Path) -> None:
    (tmp_path / "left").mkdir()
    image = tmp_path / "left" / "0.png"
    image.write_bytes(b"first")
    before = _data_files(tmp_path)
    assert before == files_fingerprint([image])
    (tmp_path / ".ssrdepth").mkdir()
    (tmp_path / ".ssrdepth" / "t.png").write_bytes(b"cache")  # ssrdepth's own cache: not data
    assert _data_files(tmp_path) == before
    times = image.stat().st_mtime_ns
    image.write_bytes(b"other")  # same size, modification time put back
    os.utime(image, ns=(times, times))
    assert _data_files(tmp_path) != before
