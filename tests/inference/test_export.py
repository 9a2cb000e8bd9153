"""``export``: every format runs at sizes other than the export size and matches eager PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.cli import main as cli
from ssrdepth.inference.export import (
    TOLERANCE,
    check_parity,
    export_checkpoint,
    export_onnx,
    load_exported,
)
from ssrdepth.inference.onnx import read_onnx_metadata
from ssrdepth.inference.predict import load_model, predict
from ssrdepth.models import create_model

from .conftest import MakeCheckpoint, write_image


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_onnx_is_dynamic_and_matches_eager(
    exporter: str, make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    # SCRDU has the most shape-dependent graph: resize to the image size inside the FlowNet branch.
    ckpt = make_checkpoint("SCRDU", 3, size=(37, 147))
    result = export_checkpoint(ckpt, tmp_path / "m.onnx", "onnx", exporter=exporter)
    assert result.path.is_file() and result.parity and all(r.passed for r in result.parity)
    assert result.max_abs_error <= TOLERANCE
    # The parity inputs include another batch and size and the 8-pixel minimum.
    shapes = {r.shape for r in result.parity}
    assert (3, 3, 50, 126) in shapes and (1, 3, 8, 11) in shapes
    meta = read_onnx_metadata(tmp_path / "m.onnx")
    assert (
        meta["model"]["name"] == "SCRDU" and meta["input_size"] == [37, 147] and meta["exporter"] == exporter
    )
    assert meta["target"]["kind"] == "disparity"
    # Independently of check_parity: run at a size never seen during export.
    net = load_checkpoint(ckpt).build_model()
    x = torch.rand(2, 3, 64, 33)
    got = load_exported(tmp_path / "m.onnx")(x.numpy())
    with torch.no_grad():
        ref = net(x).numpy()
    assert got.shape == (2, 1, 64, 33)
    assert np.abs(got - ref).max() <= TOLERANCE


@pytest.mark.parametrize("fmt", ["torchscript", "torch-export"])
def test_torch_formats(fmt: str, make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("SCRXU", 1)
    result = export_checkpoint(ckpt, None, fmt)
    assert result.path == ckpt.with_name(
        "model" + {"torchscript": ".torchscript.pt", "torch-export": ".pt2"}[fmt]
    )
    assert all(r.passed for r in result.parity)
    net = load_checkpoint(ckpt).build_model()
    x = torch.rand(1, 1, 29, 70)
    with torch.no_grad():
        ref = net(x).numpy()
    assert np.abs(load_exported(result.path)(x.numpy()) - ref).max() <= TOLERANCE


def test_parity_check_can_fail_and_then_writes_nothing(
    make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    ckpt = make_checkpoint("C", 1)
    with pytest.raises(ValueError, match="differs from eager PyTorch"):
        export_checkpoint(ckpt, tmp_path / "x.onnx", "onnx", exporter="legacy", tolerance=-1.0)
    assert not (tmp_path / "x.onnx").exists() and not list(tmp_path.glob(".*tmp*"))
    # A runner that is off by 1e-3 is caught at the default tolerance.
    net = load_checkpoint(ckpt).build_model()

    def off(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(x)).numpy() + 1e-3

    res = check_parity(net, off, {"r": np.random.default_rng(0).random((1, 1, 16, 16), dtype=np.float32)})
    assert res[0].max_abs_error == pytest.approx(1e-3, rel=1e-3) and not res[0].passed


def test_exported_onnx_predicts_like_the_checkpoint(
    make_checkpoint: MakeCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = make_checkpoint("SCRX", 1)
    rc = cli(
        ["export", str(ckpt), "--format", "onnx", "--exporter", "legacy", "--json", str(tmp_path / "e.json")]
    )
    assert rc == 0 and "max abs error" in capsys.readouterr().out
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["max_abs_error"] <= TOLERANCE and len(report["parity"]) == 3
    image = write_image(tmp_path / "a.png", 40, 131)
    onnx_model = load_model(ckpt.with_suffix(".onnx"), backend="onnxruntime")
    assert (onnx_model.name, onnx_model.input_size, onnx_model.backend) == ("SCRX", (37, 147), "onnxruntime")
    ref = predict(load_model(ckpt, backend="torch"), image)
    # disparity px: the normalised tolerance × 192 px × (131/1242)
    np.testing.assert_allclose(predict(onnx_model, image), ref, atol=TOLERANCE * 192)
    # The export beside the checkpoint is what --backend onnxruntime uses.
    assert load_model(ckpt, backend="onnxruntime").run is not None


def test_export_errors(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export_checkpoint(make_checkpoint(), None, "tflite")
    with pytest.raises(ValueError, match="unknown ONNX exporter"):
        export_onnx(create_model("C", width=0.125), None, exporter="magic")
    with pytest.raises(ValueError, match="≥ 8"):
        export_onnx(create_model("C", width=0.125), None, sample_size=(4, 100))
    import onnx

    plain = tmp_path / "plain.onnx"  # a valid ONNX model (y = x) without our metadata
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(plain))
    with pytest.raises(ValueError, match="not an ssrdepth export"):
        read_onnx_metadata(plain)
    (tmp_path / "junk.onnx").write_text("not a model")
    with pytest.raises(ValueError, match=r"junk\.onnx: not a readable ONNX file"):
        read_onnx_metadata(tmp_path / "junk.onnx")


@pytest.mark.shared_data
def test_parity_on_real_images(make_checkpoint: MakeCheckpoint, shared_data: Path, tmp_path: Path) -> None:
    images = [
        shared_data / "kitti_object" / "training" / "image_2" / "000001.png",
        shared_data / "nyu_test_rgb" / sorted(p.name for p in (shared_data / "nyu_test_rgb").iterdir())[0],
    ]
    ckpt = make_checkpoint("SCRX", 3, size=(94, 310))
    result = export_checkpoint(ckpt, tmp_path / "r.onnx", "onnx", exporter="legacy", check_images=images)
    real = [r for r in result.parity if r.input.startswith("real")]
    assert len(real) == 2 and all(r.passed and r.shape == (1, 3, 94, 310) for r in real)
