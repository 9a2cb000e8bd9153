"""The one resolver from a path given by a user to a checkpoint file: files as given, run folders →
best.pt, else latest.pt, said in the log; a folder without one is named with what was looked for."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ssrdepth.core.checkpoint_files import resolve_checkpoint


def test_run_folder_gives_best_then_latest_and_says_which(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "latest.pt").write_bytes(b"x")
    with caplog.at_level(logging.INFO, logger="ssrdepth"):
        assert resolve_checkpoint(run) == run / "latest.pt"
    assert f"{run}: using latest.pt" in caplog.text and "no best.pt" in caplog.text
    (run / "best.pt").write_bytes(b"x")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ssrdepth"):
        assert resolve_checkpoint(run) == run / "best.pt"
        assert resolve_checkpoint(run, "latest") == run / "latest.pt"  # train --resume
        assert resolve_checkpoint(run / "best.pt") == run / "best.pt"  # a file: as given, not logged
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"{run}: using best.pt",
        f"{run}: using latest.pt",
    ]


def test_folder_without_a_checkpoint_is_named_with_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"empty: a folder without a checkpoint \(looked for best\.pt and latest\.pt\)$",
    ):
        (tmp_path / "empty").mkdir()
        resolve_checkpoint(tmp_path / "empty")
    # A parent of run folders (e.g. runs/demo): the runs under it are named.
    for run in ("a", "b/c"):
        (tmp_path / "runs" / run).mkdir(parents=True)
        (tmp_path / "runs" / run / "latest.pt").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match=r"run folders under it: a, b/c \(name one of them\)"):
        resolve_checkpoint(tmp_path / "runs")
    with pytest.raises(FileNotFoundError, match=r"nope: no such checkpoint file or run folder"):
        resolve_checkpoint(tmp_path / "nope")
