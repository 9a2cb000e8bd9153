"""A network with the trained uncertainty head: its second channel through export (ONNX parity), every
backend and the files ``predict --save uncertainty`` writes (the head's exp(s), named in the metadata)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.core.confidence import HEAD_MEANING
from ssrdepth.core.image import prepare_image
from ssrdepth.inference.export import TOLERANCE, export_checkpoint, load_exported
from ssrdepth.inference.maps import predict_with_uncertainty
from ssrdepth.inference.onnx import read_onnx_metadata
from ssrdepth.inference.predict import PredictOptions, load_model, predict_files
from ssrdepth.models import create_model

from .conftest import KITTI_TARGET, write_image


@pytest.fixture
def head_checkpoint(tmp_path: Path) -> Path:
    """SCRXU at width 0.125 with the head; the head's weights scaled up so that s varies over the image."""
    torch.manual_seed(0)
    net = create_model("SCRXU", 1, width=0.125, uncertainty=True)
    assert net.uncertainty_head is not None
    with torch.no_grad():
        net.uncertainty_head.conv.weight.mul_(20.0)
    return save_checkpoint(
        tmp_path / "head.pt", net, input_size=(37, 147), target=KITTI_TARGET.as_dict(), step=3
    )


def test_the_export_carries_the_second_channel(head_checkpoint: Path, tmp_path: Path) -> None:
    result = export_checkpoint(head_checkpoint, tmp_path / "head.onnx", "onnx", exporter="legacy")
    assert result.parity and all(r.passed for r in result.parity)
    meta = read_onnx_metadata(tmp_path / "head.onnx")
    assert len(meta["output_channels"]) == 2 and "exp(s)" in meta["output_channels"][1]
    assert meta["model"]["options"]["uncertainty"] is True
    # Independently of the export's own check: both channels at a size never exported, vs eager.
    net = create_model("SCRXU", 1, width=0.125, uncertainty=True)
    net.load_state_dict(torch.load(head_checkpoint, weights_only=True)["state_dict"])
    x = torch.rand(2, 1, 45, 61)
    with torch.no_grad():
        ref = net.eval()(x).numpy()
    got = load_exported(tmp_path / "head.onnx")(x.numpy())
    assert got.shape == (2, 2, 45, 61)
    assert np.abs(got - ref).max() <= TOLERANCE
    assert float(ref[:, 1].std()) > 0.1  # s really varies: the parity covers it


BACKENDS = ["torch", "onnxruntime"] + (["openvino"] if importlib.util.find_spec("openvino") else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_gives_the_heads_uncertainty(
    head_checkpoint: Path, tmp_path: Path, backend: str
) -> None:
    image = write_image(tmp_path / "a.png", 37, 147)
    net = create_model("SCRXU", 1, width=0.125, uncertainty=True)
    net.load_state_dict(torch.load(head_checkpoint, weights_only=True)["state_dict"])
    x = prepare_image(image, 1, (37, 147))  # the image is at the model's size: no resize
    with torch.no_grad():
        ref = net.eval()(torch.from_numpy(x)[None]).numpy()
    model = load_model(head_checkpoint, backend=backend)
    assert model.has_head and model.out_channels == 2
    calls: list[int] = []
    run = model.run
    model.run = lambda batch: calls.append(1) or run(batch)  # type: ignore[func-returns-value]
    maps, unc = predict_with_uncertainty(model, [image])
    assert unc is not None and len(calls) == 1  # the head: one run, no mirrored second pass
    tol = 1e-3 if backend == "openvino" else TOLERANCE
    np.testing.assert_allclose(maps[0], ref[0, 0], atol=tol)
    np.testing.assert_allclose(unc[0], np.exp(ref[0, 1]), rtol=tol * 10, atol=tol)


def test_predict_writes_the_heads_uncertainty(head_checkpoint: Path, tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((37, 147, 3), 128, np.uint8))
    model = load_model(head_checkpoint, backend="torch")
    opts = PredictOptions(outputs=("npy", "uncertainty"), quantity="normalised")
    predict_files(model, [tmp_path / "grey.png"], tmp_path / "out", opts, progress=False)
    net = create_model("SCRXU", 1, width=0.125, uncertainty=True)
    net.load_state_dict(torch.load(head_checkpoint, weights_only=True)["state_dict"])
    with torch.no_grad():
        s = net.eval()(torch.full((1, 1, 37, 147), 128 / 255))[0, 1].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "out" / "grey_uncertainty.npy"), np.exp(s), rtol=1e-4)
    meta = json.loads((tmp_path / "out" / "grey_uncertainty.npy.json").read_text())
    assert meta["method"] == "head" and meta["meaning"] == HEAD_MEANING
