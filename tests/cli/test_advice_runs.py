"""Every command ssrdepth suggests runs as printed (issue 25, kind 8): quoted for the shell (a data
root with spaces, brackets and non-ASCII letters) and complete (every option the source needs). Each
suggestion is parsed with ``shlex.split`` as a shell would and run through the CLI."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from ssrdepth.cli import main as cli
from ssrdepth.core.advice import command_line
from ssrdepth.data import DataConfig, build_dataset, build_source
from ssrdepth.data.synthetic import check_complete, generate_synthetic

from ..data.conftest import noise_image, write_png

ODD = "my rig [v2] $HOME 'ü'"  # spaces, brackets, a shell variable, quotes, non-ASCII


def _suggested(message: str, after: str) -> list[str]:
    """The command printed after ``after`` in ``message``, split as a POSIX shell splits it."""
    line = message.split(after, 1)[1]
    argv = shlex.split(line.split(" (it resumes)")[0])
    assert argv[0] == "ssrdepth"
    return argv[1:]


def test_command_line_quotes_every_word() -> None:
    line = command_line("prepare-targets", "--root", ODD, "--focal", 700.0, "--baseline", 0.54)
    assert shlex.split(line) == [
        "ssrdepth",
        "prepare-targets",
        "--root",
        ODD,
        "--focal",
        "700",
        "--baseline",
        "0.54",
    ]


def test_prepare_targets_advice_runs_for_a_stereo_folder(tmp_path: Path) -> None:
    root = tmp_path / ODD
    for k in range(2):  # a shifted copy: right = left moved 4 px (disparity 4)
        left = noise_image(k, (24, 80))
        write_png(root / "cams" / f"{k:02d}_L.png", left)
        write_png(root / "cams" / f"{k:02d}_R.png", np.roll(left, -4, axis=1))
    cfg = DataConfig(
        source="stereo-folder", root=str(root), pattern=("cams/{name}_L.png", "cams/{name}_R.png"),
        focal=50.0, baseline=0.5, matcher="bm", max_disparity=16, size=(24, 80),
    )  # fmt: skip
    with pytest.raises(FileNotFoundError, match="compute them with: ssrdepth prepare-targets") as info:
        build_dataset(cfg, "all", cache=False)
    argv = _suggested(str(info.value), "compute them with: ")
    assert argv[argv.index("--root") + 1] == str(root)
    assert cli(argv) == 0  # as printed: every option the stereo folder needs is there
    ds = build_dataset(cfg, "all", cache=False)  # the targets the advice computed are the ones used
    assert len(ds) == 2 and float(ds[0]["valid_mask"].float().mean()) > 0.1


def test_resume_advice_of_an_interrupted_render_runs(tmp_path: Path) -> None:
    from ssrdepth.data.synthetic import Features

    root = tmp_path / ODD / "synthetic"
    features = Features(shadows=False, photos=False, camera=False)  # fast, and not the defaults
    generate_synthetic(root, 2, 3, (16, 48), 2, workers=1, progress=False, features=features)
    manifest = root / "synthetic.json"
    info = json.loads(manifest.read_text())
    info["complete"] = False  # as an interrupted render leaves it
    manifest.write_text(json.dumps(info))
    next(root.glob("training/image_03/*/*.png")).unlink()
    with pytest.raises(ValueError, match="finish it with: ssrdepth generate") as err:
        check_complete(root)
    argv = _suggested(str(err.value), "finish it with: ")
    assert cli([*argv, "--no-progress", "--workers", "1"]) == 0
    assert check_complete(root)["complete"] is True


def test_render_advice_names_the_root_as_one_word(tmp_path: Path) -> None:
    root = tmp_path / ODD / "nothing yet"
    with pytest.raises(FileNotFoundError, match="render it with: ssrdepth generate") as err:
        build_source(DataConfig(source="synthetic", root=str(root)))
    assert _suggested(str(err.value), "render it with: ") == ["generate", "--out", str(root)]
