"""A place that cannot be written (read-only, not ours, full) ends in one line naming it and the way
out, never a traceback; caches of a read-only data root go to the per-user cache, logged.

Read-only is simulated by refusing, with ``EROFS``, every write below a folder (as a read-only mount
does), so the tests hold when run as root too, whom permission bits do not stop."""

from __future__ import annotations

import builtins
import errno
import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ssrdepth.cli import main
from ssrdepth.core.io import CannotWriteError, atomic_open, write_hint, write_text
from ssrdepth.data import DataConfig, build_dataset, target_cache

MakeReadOnly = Callable[[Path], None]


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> MakeReadOnly:
    """``read_only(folder)``: from now on every file or folder creation below ``folder`` fails with
    ``OSError(EROFS)``, reading still works."""
    folders: list[Path] = []
    real_open, real_mkdir, real_replace = os.open, os.mkdir, os.replace
    real_builtin_open = builtins.open

    def below(path: Any) -> bool:
        if isinstance(path, int):
            return False
        p = Path(os.fsdecode(path)).absolute()
        return any(p == f or f in p.parents for f in folders)

    def refuse(path: Any) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def ro_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and below(path):
            raise refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def ro_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if below(path):
            if Path(os.fsdecode(path)).is_dir():
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fsdecode(path))
            raise refuse(path)
        real_mkdir(path, *args, **kwargs)

    def ro_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if below(dst):
            raise refuse(dst)
        real_replace(src, dst, *args, **kwargs)

    def ro_builtin_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+") and below(file):
            raise refuse(file)
        return real_builtin_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", ro_open)
    monkeypatch.setattr(os, "mkdir", ro_mkdir)
    monkeypatch.setattr(os, "replace", ro_replace)
    monkeypatch.setattr(builtins, "open", ro_builtin_open)
    monkeypatch.setattr(io, "open", ro_builtin_open)
    return lambda folder: folders.append(folder.absolute())


def one_line_without_traceback(err: str) -> str:
    assert "Traceback" not in err and err.endswith("\n") and err.count("\n") == 1, err
    return err


# ------------------------------------------------------------------------------ the atomic writers


def test_a_refused_write_names_the_file_and_keeps_the_old_one(
    tmp_path: Path, read_only: MakeReadOnly
) -> None:
    target = tmp_path / "out" / "notes.txt"
    write_text(target, "kept")
    read_only(tmp_path / "out")
    with pytest.raises(CannotWriteError) as info:
        write_text(target, "new")
    assert str(info.value) == (
        f"cannot write {target}: Read-only file system; choose a writable place with room to spare"
    )
    assert target.read_text(encoding="utf-8") == "kept"


def test_no_space_while_writing_is_named_and_loses_nothing(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    write_text(target, "old")
    no_space = f"cannot write {target}: No space left on device"
    with pytest.raises(CannotWriteError, match=no_space), atomic_open(target) as f:
        f.write("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary file left


# ------------------------------------------------------------------------- caches of a data root


def test_a_permission_error_reading_an_input_is_not_called_a_write(tmp_path: Path) -> None:
    image = tmp_path / "data" / "a.png"
    with pytest.raises(PermissionError), write_hint("--cache-dir", tmp_path / "cache"):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(image))
    cached = tmp_path / "cache" / "t.png"
    with pytest.raises(CannotWriteError) as info, write_hint("--cache-dir", tmp_path / "cache"):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(cached))
    assert str(info.value) == f"cannot write {cached}: Permission denied; --cache-dir"


def test_a_refused_write_survives_the_trip_from_a_worker_process() -> None:
    exc = CannotWriteError("/data/x.png", "Read-only file system", "give another --out", errno.EROFS)
    back = pickle.loads(pickle.dumps(exc))
    assert isinstance(back, CannotWriteError) and back.errno == errno.EROFS
    assert str(back) == "cannot write /data/x.png: Read-only file system; give another --out"


def write_stereo_folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (48, 132), dtype=np.uint8), (3, 3), 0)
    for side, part in (("left", texture[:, :128]), ("right", texture[:, 4:132])):
        (root / side).mkdir(parents=True)
        assert cv2.imwrite(str(root / side / "000.png"), np.dstack([part] * 3))


SOURCE = ["--source", "stereo-folder", "--focal", "100", "--baseline", "0.5", "--max-disparity", "16"]


def test_prepare_targets_on_a_read_only_root_caches_in_the_user_cache(
    tmp_path: Path,
    read_only: MakeReadOnly,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "pairs"
    write_stereo_folder(root)
    monkeypatch.setenv("SSRDEPTH_CACHE_DIR", str(tmp_path / "user"))
    read_only(root)
    argv = ["prepare-targets", *SOURCE, "--root", str(root), "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("1 computed, 0 already cached, 0 failed of 1 pairs")
    fallback = next((tmp_path / "user" / "data").iterdir())
    assert f"{root / '.ssrdepth'} is not writable: caching this data set's derived files in {fallback}" in (
        captured.err
    )
    assert "--cache-dir" in captured.err and "Traceback" not in captured.err
    assert not (root / ".ssrdepth").exists()
    # Training finds the targets there, and its array cache goes there too.
    cfg = DataConfig(
        source="stereo-folder", root=str(root), focal=100.0, baseline=0.5, max_disparity=16, size=(24, 64)
    )
    assert target_cache(cfg).directory.parent.parent == fallback
    dataset = build_dataset(cfg, "all", progress=False)
    assert len(dataset) == 1 and fallback / "arrays" in dataset.directory.parents  # type: ignore[attr-defined]


def test_a_read_only_cache_dir_is_one_line_naming_it_and_the_option(
    tmp_path: Path, read_only: MakeReadOnly, capsys: pytest.CaptureFixture[str]
) -> None:
    root, cache = tmp_path / "pairs", tmp_path / "cache"
    write_stereo_folder(root)
    cache.mkdir()
    read_only(cache)
    argv = ["prepare-targets", *SOURCE, "--root", str(root), "--cache-dir", str(cache), "--workers", "1"]
    assert main([*argv, "--no-progress"]) == 1
    err = one_line_without_traceback(capsys.readouterr().err)
    assert err.startswith(f"ssrdepth prepare-targets: error: cannot write {cache / 'targets'}")
    assert err.endswith(
        ": Read-only file system; give a writable folder with room to spare as --cache-dir (data.cache_dir)\n"
    )


# --------------------------------------------------------------------------------- a read-only --out


def test_generate_into_a_read_only_out_is_one_line(
    tmp_path: Path, read_only: MakeReadOnly, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    out = tmp_path / "ro" / "street"
    assert main(["generate", "--out", str(out), "--pairs", "1"]) == 1
    err = one_line_without_traceback(capsys.readouterr().err)
    assert err.startswith(f"ssrdepth generate: error: cannot write {out}")
    assert err.endswith(": Read-only file system; give another place that is writable as --out\n")


def _tiny_checkpoint(path: Path) -> Path:
    """A small SCRX checkpoint (disparity, 147×37 gray) for the commands that need one."""
    from ssrdepth.checkpoint import save_checkpoint
    from ssrdepth.models import create_model

    return Path(
        save_checkpoint(
            path,
            create_model("SCRX", 1, width=0.125),
            input_size=(37, 147),
            target={"kind": "disparity", "max_value": 192.0},
            step=1,
        )
    )


def test_predict_into_a_read_only_out_is_one_line(
    tmp_path: Path, read_only: MakeReadOnly, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = _tiny_checkpoint(tmp_path / "m.pt")
    image = tmp_path / "a.png"
    assert cv2.imwrite(str(image), np.full((40, 131, 3), 90, np.uint8))
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    out = tmp_path / "ro" / "maps"
    assert (
        main(["predict", str(ckpt), str(image), "--out", str(out), "--backend", "torch", "--no-progress"])
        == 1
    )
    err = one_line_without_traceback(capsys.readouterr().err)
    assert err.startswith(f"ssrdepth predict: error: cannot write {out}")
    assert "Read-only file system; give another place that is writable as --out" in err


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_that_cannot_be_a_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """--out naming an existing file, or a path under one: one line and exit status 1 from predict and
    evaluate, nothing written, the file kept."""
    ckpt = _tiny_checkpoint(tmp_path / "m.pt")
    image = tmp_path / "a.png"
    assert cv2.imwrite(str(image), np.full((40, 131, 3), 90, np.uint8))
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    out = notes if where == "a file" else notes / "maps"
    argv = ["predict", str(ckpt), str(image), "--out", str(out), "--backend", "torch", "--no-progress"]
    assert main(argv) == 1
    err = one_line_without_traceback(capsys.readouterr().err)
    assert err.startswith(f"ssrdepth predict: error: cannot write {out}") and "as --out" in err
    from ssrdepth.data import generate_synthetic

    root = tmp_path / "synthetic"
    generate_synthetic(root, 4, size=(32, 96), sequence_length=4, workers=1, progress=False)
    argv = ["evaluate", "SC", "--width", "0.25", "--size", "96x32", "--source", "synthetic", "--root",
            str(root), "--target", "depth", "--protocol", "normalised", "--split", "all", "--out",
            str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 1
    text = capsys.readouterr().err  # the data set's own notes come first
    assert "Traceback" not in text
    err = text.splitlines()[-1]
    assert err.startswith(f"ssrdepth evaluate: error: cannot write {out}") and "as --out" in err
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "m.pt", "notes.txt", "synthetic"]


def test_train_into_a_read_only_out_is_one_line(
    tmp_path: Path, read_only: MakeReadOnly, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrdepth.data import generate_synthetic, list_stereo_pairs
    from ssrdepth.data.targets import prepare_targets

    root = tmp_path / "synthetic"
    generate_synthetic(root, 8, size=(32, 96), sequence_length=4, workers=1, progress=False)
    cfg = DataConfig(source="synthetic", root=str(root), max_disparity=32)
    prepare_targets(list_stereo_pairs(cfg), target_cache(cfg), workers=1, progress=False)
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    out = tmp_path / "ro" / "run"
    args = ["train", "--preset", "synthetic-tiny", "--out", str(out), "--no-progress"]
    args += ["--set", f"data.root={root}", "--set", "data.max_disparity=32", "--set", "length=2"]
    args += ["--set", "tensorboard=false", "--set", "batch_size=2"]
    assert main(args) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert "Traceback" not in err and err.startswith(f"ssrdepth train: error: cannot write {out}")
    assert err.endswith(": Read-only file system; give another place that is writable as --out")


def test_no_space_under_out_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ssrdepth.cli.generate as command

    out = tmp_path / "street"
    full = out / "training" / "image_02" / "0000" / "000000.png"

    def fail(args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(full))

    monkeypatch.setattr(command, "main", fail)
    assert main(["generate", "--out", str(out)]) == 1
    err = one_line_without_traceback(capsys.readouterr().err)
    assert err == (
        f"ssrdepth generate: error: cannot write {full}: No space left on device; "
        "give another place with room to spare as --out\n"
    )


def test_export_to_a_read_only_place_is_one_line(
    tmp_path: Path, read_only: MakeReadOnly, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnx")
    ckpt = _tiny_checkpoint(tmp_path / "m.pt")
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    out = tmp_path / "ro" / "m.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "--exporter", "legacy", "--out", str(out)]) == 1
    err = one_line_without_traceback(capsys.readouterr().err)
    assert err == (
        f"ssrdepth export: error: cannot write {out}: Read-only file system; "
        "give another place that is writable as --out\n"
    )
