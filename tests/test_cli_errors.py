"""Command-line errors: one line ending in one newline, a file given for a folder said so, and predict
refusing unreadable inputs before it loads (and times) a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssrdepth.cli import main


def test_an_error_is_one_line_with_one_newline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ssrdepth.cli.generate as command

    def fail(args: object) -> int:
        raise ValueError("something is wrong  \n")

    monkeypatch.setattr(command, "main", fail)
    assert main(["generate", "--out", "x"]) == 2
    assert capsys.readouterr().err == "ssrdepth generate: error: something is wrong\n"


@pytest.mark.parametrize(
    "source", ["synthetic", "kitti-tracking", "kitti-object", "stereo-folder", "rgbd-folder"]
)
def test_a_file_given_as_data_root_is_named_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# not data\n", encoding="utf-8")
    code = main(
        [
            "train",
            "--preset",
            "synthetic-tiny",
            "--source",
            source,
            "--root",
            str(readme),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.endswith("\n") and err.count("\n") == 1
    assert (
        f"{readme} is a file, not a folder; give the {source} data set's folder as --root / data.root" in err
    )
    assert f"generate --out {readme}" not in err


def test_generate_into_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("x", encoding="utf-8")
    assert main(["generate", "--out", str(target), "--pairs", "2"]) == 2
    assert (
        f"{target} is a file, not a folder; give the folder to render into (--out)" in capsys.readouterr().err
    )


def test_predict_refuses_unreadable_inputs_before_loading_a_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import ssrdepth.cli.predict as command

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model (and --backend auto's timing) came before the input check")

    monkeypatch.setattr(command, "load_model", no_model)
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("a.png", "b.jpg"):
        (folder / name).write_text("not an image", encoding="utf-8")
    assert main(["predict", str(tmp_path / "model.pt"), str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ssrdepth predict: error: {folder / 'a.png'}: cannot read the image header")
    assert err.endswith("none of the 2 inputs is a readable image\n")
