"""Checkpoint round trip, foreign files, and the ``ssrdepth models`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ssrdepth.checkpoint import load_checkpoint, save_checkpoint
from ssrdepth.cli import main
from ssrdepth.core.flops import count_gflops
from ssrdepth.core.sizes import parse_size
from ssrdepth.experiments.model_table import model_table
from ssrdepth.models import create_model


def test_checkpoint_rebuilds_an_identical_model(tmp_path: Path) -> None:
    model = create_model("SCRXU", 3, width=0.25, xu_skip=True)
    path = save_checkpoint(
        tmp_path / "m.pt",
        model,
        input_size=(37, 147),
        step=7,
        target={"kind": "disparity", "max_value": 96.0},
        config={"lr": 0.1},
    )
    # Loadable without executing code.
    raw = torch.load(path, weights_only=True)
    assert raw["model"]["name"] == "SCRXU"
    ckpt = load_checkpoint(path)
    assert ckpt.step == 7 and ckpt.input_size == (37, 147) and ckpt.extra["config"] == {"lr": 0.1}
    rebuilt = ckpt.build_model()
    x = torch.rand(1, 3, 37, 147)
    torch.testing.assert_close(rebuilt(x), model.eval()(x))
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_foreign_files_are_refused_with_the_file_name(tmp_path: Path) -> None:
    foreign = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, foreign)
    with pytest.raises(ValueError, match=r"other\.pt: not an ssrdepth checkpoint"):
        load_checkpoint(foreign)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.pt: not an ssrdepth checkpoint"):
        load_checkpoint(junk)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_gflops_are_counted_not_estimated() -> None:
    # C at 37×147, gray, counted by hand (2 FLOPs per MAC, convs only):
    # conv1 37·147·64·9, pool → 18×73; conv2 18·73·128·64·9; pool → 9×36;
    # conv3 9·36·256·128·9; conv4 9·36·512·256·9; head 9·36·1·512·9.
    macs = 37 * 147 * 64 * 9 + 18 * 73 * 128 * 64 * 9 + 9 * 36 * (256 * 128 + 512 * 256 + 512) * 9
    assert count_gflops(create_model("C"), 37, 147) == pytest.approx(2 * macs / 1e9, rel=1e-6)


def test_model_table_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_size("147x37") == (37, 147)
    rows = model_table([(94, 310)], channels=3, names=["scr"])
    assert rows[0].name == "SCRX" and rows[0].parameters == 4_902_475 and rows[0].output_stride > 4
    assert main(["models", "--size", "147x37", "--models", "C", "SCRXU"]) == 0
    out = capsys.readouterr().out
    assert "| C | 147×37×1 | 1,554,433 | 4.111 |" in out
    assert "SCRXU" in out
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_size("147")
    with pytest.raises(SystemExit):
        main(["frobnicate"])


# ------------------------------------------------------------------- run folders and foreign files
class NotPlain:
    """A class that ``torch.load(weights_only=True)`` does not allow."""


def _run_folder(tmp_path: Path) -> Path:
    """A run folder as ``ssrdepth train`` leaves it: latest.pt (step 9) and best.pt (step 5)."""
    run = tmp_path / "run"
    model = create_model("C", 1, width=0.125)
    save_checkpoint(run / "latest.pt", model, input_size=(16, 32), step=9)
    save_checkpoint(run / "best.pt", model, input_size=(16, 32), step=5)
    return run


def _foreign_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """``.pt`` files that are not ssrdepth checkpoints → (path, the key part of the expected message)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, str]] = {}
    plain = tmp_path / "plain.pt"
    torch.save({"a": 1}, plain)
    files["plain"] = (
        plain,
        (
            "not an ssrdepth checkpoint (a PyTorch file without format 'ssrdepth-checkpoint'; it holds keys ['a'])"
        ),
    )
    pickled = tmp_path / "pickled.pt"
    torch.save({"x": NotPlain()}, pickled)  # an object weights_only refuses to build
    files["pickled"] = (
        pickled,
        "not an ssrdepth checkpoint: it holds pickled Python objects that are not loaded",
    )
    good = save_checkpoint(tmp_path / "good.pt", create_model("C", 1, width=0.125), input_size=(16, 32))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["truncated"] = (truncated, "a corrupt or truncated checkpoint")
    text = tmp_path / "text.pt"
    text.write_text("hello, not a checkpoint\n")
    files["text"] = (text, "not an ssrdepth checkpoint (not a file written by torch.save)")
    # a short text whose first byte is a pickle opcode ("x" is one): torch's unpickler starts on it
    opcode_text = tmp_path / "opcode.pt"
    opcode_text.write_text("x\n")
    files["opcode-text"] = (opcode_text, "not an ssrdepth checkpoint (not a file written by torch.save)")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    files["empty"] = (empty, "not an ssrdepth checkpoint (an empty file)")
    partial = tmp_path / "partial.pt"
    torch.save({"format": "ssrdepth-checkpoint", "version": 1, "model": {"name": "C"}}, partial)
    files["partial"] = (
        partial,
        "an incomplete or damaged ssrdepth checkpoint (bad or missing 'in_channels')",
    )
    return files


def test_load_checkpoint_takes_a_run_folder(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    ckpt = load_checkpoint(run)
    assert ckpt.path == run / "best.pt" and ckpt.step == 5


@pytest.mark.parametrize("kind", ["plain", "pickled", "truncated", "text", "opcode-text", "empty", "partial"])
def test_foreign_or_damaged_files_are_one_line_naming_the_file(tmp_path: Path, kind: str) -> None:
    path, expected = _foreign_files(tmp_path)[kind]
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message == f"{path}: {expected}" or message.startswith(f"{path}: {expected}")
    assert "\n" not in message and "weights_only" not in message and len(message) < 300


def test_weights_that_do_not_fit_the_stored_model_are_named(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", create_model("C", 1, width=0.125), input_size=(16, 32))
    raw = torch.load(path, weights_only=True)
    raw["model"]["options"]["width"] = 0.25
    torch.save(raw, path)
    with pytest.raises(
        ValueError, match=r"m\.pt: a damaged ssrdepth checkpoint: its weights do not fit its model C: "
    ):
        load_checkpoint(path).build_model()


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "{ckpt}", "--max-images", "1", "--quiet", "--out", "{tmp}/ev"],
        ["predict", "{ckpt}", "{tmp}/in", "--out", "{tmp}/out", "--backend", "torch", "--no-progress"],
        ["export", "{ckpt}", "--no-check"],
        ["quantize", "{ckpt}"],
    ],
    ids=lambda c: c[0],
)
def test_every_command_gives_one_line_for_a_file_that_is_not_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    import cv2
    import numpy as np

    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), np.full((20, 40), 128, np.uint8))
    for kind, (path, expected) in _foreign_files(tmp_path / "files").items():
        args = [a.format(ckpt=path, tmp=tmp_path) for a in command]
        assert main(args) == 2, kind
        err = capsys.readouterr().err
        assert err == f"ssrdepth {command[0]}: error: {path}: {expected}\n" or err.startswith(
            f"ssrdepth {command[0]}: error: {path}: {expected}"
        ), err
        assert err.count("\n") == 1, err


def test_commands_take_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2
    import numpy as np

    run = _run_folder(tmp_path)
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), np.full((20, 40), 128, np.uint8))
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                str(run),
                str(tmp_path / "in"),
                "--out",
                str(out),
                "--backend",
                "torch",
                "--no-progress",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert f"{run}: using best.pt" in captured.err and "1 image(s)" in captured.out
    assert "frame(s)" not in captured.out  # one image and no video: no "0 frame(s)"
    assert main(["export", str(run), "--no-check"]) == 0
    assert (run / "best.onnx").is_file()  # beside the checkpoint the folder resolved to
    assert f"wrote {run / 'best.onnx'}" in capsys.readouterr().out
    # evaluate and quantize resolve it too: they get as far as the (absent) data set.
    for command in (["evaluate", str(run), "--quiet", "--out", str(tmp_path / "ev")], ["quantize", str(run)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count(f"{run}: using best.pt") == 1 and "data root not found" in err, err
    # A folder without a checkpoint: one line naming it and what was looked for.
    for name in ("evaluate", "export", "quantize"):
        assert main([name, str(tmp_path / "in")]) == 2
        err = capsys.readouterr().err
        assert (
            err
            == f"ssrdepth {name}: error: {tmp_path / 'in'}: a folder without a checkpoint (looked for best.pt and latest.pt)\n"
        )
    # predict's checkpoint is optional: a first folder without one is an input, for the bundled model
    # (absent in the tests: tests/conftest.py points SSRDEPTH_BUNDLE_DIR at an empty folder).
    assert main(["predict", str(tmp_path / "in"), "--out", str(out)]) == 2
    assert "ships no pretrained model" in capsys.readouterr().err


def test_models_explains_its_output_stride(capsys: pytest.CaptureFixture[str]) -> None:
    from ssrdepth.cli import main

    assert main(["models", "--models", "SC"]) == 0
    assert capsys.readouterr().out.startswith(
        "| model | input | parameters | output stride (input H / last map H) |"
    )
    with pytest.raises(SystemExit):
        main(["models", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "divided by the height of the network's last feature map" in text and "37 / 9 = 4.111" in text
