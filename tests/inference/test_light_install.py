"""The minimal inference install (core + onnxruntime, the ``[onnx]`` extra) predicts from an ONNX file:
run in a subprocess where torch, onnx, onnxscript and matplotlib cannot be imported. Every missing
optional package is one line naming the extra to install, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.data.config import TargetScale
from ssrdepth.inference.export import export_checkpoint

from ..conftest import HANG_TIMEOUT_S
from .conftest import MakeCheckpoint, write_image

#: Packages a minimal ONNX install does not have (plus the training-only ones).
#: OpenVINO is its own extra: with it importable, ``auto`` may measure it faster and pick it.
HIDDEN = ("torch", "onnx", "onnxscript", "matplotlib", "tensorboard", "scipy", "h5py", "skimage", "openvino")

#: Runs the CLI with ``hidden`` packages made unimportable by a meta-path finder placed first.
RUNNER = """
import sys
from importlib.abc import MetaPathFinder

HIDDEN = set(sys.argv[1].split(","))

class Hide(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None

sys.meta_path.insert(0, Hide())
from ssrdepth.cli import main

code = main(sys.argv[2:])
loaded = sorted(m for m in HIDDEN if m in sys.modules)
assert not loaded, f"hidden packages imported: {loaded}"
sys.exit(code)
"""


def run_hidden(hidden: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(hidden), *args],
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )


@pytest.fixture
def depth_onnx(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> Path:
    """An export of a model whose normalised output is 0.25 everywhere, depth target 0–80 m: 20 m."""
    ckpt = make_checkpoint("C", 1, TargetScale("depth", 80.0), constant=0.25)
    return export_checkpoint(ckpt, tmp_path / "edge.onnx", "onnx").path  # type: ignore[no-any-return]


@pytest.mark.slow
def test_onnx_file_predicts_without_torch_onnx_or_matplotlib(depth_onnx: Path, tmp_path: Path) -> None:
    write_image(tmp_path / "in" / "a.png", 50, 120)
    out = tmp_path / "out"
    done = run_hidden(
        HIDDEN, "predict", str(depth_onnx), str(tmp_path / "in"), "--out", str(out), "--no-progress"
    )
    assert done.returncode == 0, done.stderr
    assert "(onnxruntime fp32, cpu): 1 image(s)" in done.stdout
    # 0.25 × 80 m = 20 m everywhere, stored ×256 = 5120 at the image's own size.
    raw = cv2.imread(str(out / "a_depth.png"), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (50, 120) and set(np.unique(raw).tolist()) == {5120}
    colour = cv2.imread(str(out / "a_depth_color.png"))
    assert colour.shape == (50, 120, 3)  # magma_r from OpenCV's table, no matplotlib

    # A colour map only matplotlib has: one line naming what to install, no traceback.
    done = run_hidden(
        HIDDEN, "predict", str(depth_onnx), str(tmp_path / "in"), "--out", str(out), "--cmap", "cubehelix"
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "colour map 'cubehelix_r' needs matplotlib (pip install 'ssrdepth[torch]')" in done.stderr


@pytest.mark.slow
def test_missing_packages_are_one_line_naming_the_extra(
    depth_onnx: Path, make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    write_image(tmp_path / "a.png", 20, 40)
    cases = [
        # (hidden, checkpoint, the extra the message must name)
        ((*HIDDEN, "onnxruntime"), depth_onnx, "pip install 'ssrdepth[onnx]'"),
        (HIDDEN, make_checkpoint(), "pip install 'ssrdepth[torch]'"),
    ]
    for hidden, model, hint in cases:
        done = run_hidden(
            hidden, "predict", str(model), str(tmp_path / "a.png"), "--out", str(tmp_path / "o")
        )
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0].startswith("ssrdepth predict: error: ") and hint in lines[0]
    done = run_hidden(("torch",), "train", "--help")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "pip install 'ssrdepth[train]'" in done.stderr
