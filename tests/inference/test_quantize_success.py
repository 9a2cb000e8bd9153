"""``ssrdepth quantize`` that succeeds: an INT8 file is written from a small checkpoint trained (here:
saved) on a synthetic set, and the δ < 1.25 it reports for float32 and INT8 equal a recomputation from
the test split, the eager model and the written file."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.cli import main as cli
from ssrdepth.data import DataConfig, build_dataset, generate_synthetic
from ssrdepth.models import create_model

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

#: Depth targets normalised by 200 m (the generator's far plane), so no target saturates at 1.
MAX_DEPTH = 200.0


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DataConfig:
    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic(root, 12, size=(32, 96), sequence_length=3, workers=1, progress=False)
    return DataConfig(
        source="synthetic", root=str(root), size=(16, 48), target="depth", max_depth=MAX_DEPTH,
        cache_dir=str(root / "cache"),
    )  # fmt: skip


def _delta1(pred: np.ndarray, target: np.ndarray, keep: np.ndarray) -> float:
    """δ < 1.25 (Eigen et al. 2014): the fraction of kept pixels with max(p/t, t/p) < 1.25."""
    ratio = pred[keep].astype(np.float64) / target[keep].astype(np.float64)
    return float(np.mean(np.maximum(ratio, 1.0 / ratio) < 1.25))


def test_quantize_writes_an_int8_model_whose_delta1_is_the_reported_one(
    data: DataConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A random SC whose output is centred on the training split's median target (the head's weights
    # shrunk, its bias the logit of the median), so that δ < 1.25 is neither 0 nor 1.
    train_targets = [s["target"] for s in build_dataset(data, "train", progress=False)]
    median = float(torch.cat([t.flatten() for t in train_targets]).median())
    torch.manual_seed(1)
    net = create_model("SC", 1, width=0.25).eval()
    head = net.region_a.conv_out
    with torch.no_grad():
        head.weight.mul_(0.2)
        head.bias.fill_(math.log(median / (1 - median)))
    stored = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(data).items()}
    ckpt = save_checkpoint(
        tmp_path / "sc.pt", net, input_size=data.size, target={"kind": "depth", "max_value": MAX_DEPTH},
        config={"data": stored},
    )  # fmt: skip

    args = ["quantize", str(ckpt), "--calibration-images", "4", "--test-images", "3", "--tolerance", "0.05"]
    assert cli(args) == 0

    out = tmp_path / "sc.int8.onnx"  # the default: beside the checkpoint
    printed = capsys.readouterr().out
    match = re.fullmatch(
        rf"wrote {re.escape(str(out))}: δ<1\.25 (\S+) INT8 vs (\S+) float32 \(drop (\S+) ≤ 0\.05\) "
        r"on 3 test images\n",
        printed,
    )
    assert match, printed
    model = onnx.load(str(out))
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in model.graph.node}
    record = json.loads({p.key: p.value for p in model.metadata_props}["ssrdepth_int8"])
    assert record["calibration_batches"] == 1 and record["accuracy"]["images"] == 3

    # Recompute on the first three test images: float32 by the eager model, INT8 by the written file.
    test = build_dataset(data, "test", progress=False)
    assert len(test) >= 3
    samples = [test[i] for i in range(3)]
    image = torch.stack([s["image"] for s in samples])
    target = torch.stack([s["target"] for s in samples]).numpy()
    valid = torch.stack([s["valid_mask"] for s in samples]).numpy()
    with torch.no_grad():
        fp32 = net(image).numpy()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    int8 = session.run(None, {session.get_inputs()[0].name: image.numpy()})[0]
    assert not np.allclose(int8, fp32, atol=1e-6)  # it is another model, not the float32 one
    keep = valid & (target > 0) & (fp32 > 0) & (int8 > 0)
    pixels = int(keep.sum())
    assert pixels > 1000
    want_fp32, want_int8 = _delta1(fp32, target, keep), _delta1(int8, target, keep)
    assert 0.05 < want_fp32 < 0.95  # neither all nor none: a δ1 that could come out wrong
    acc = record["accuracy"]
    assert acc["fp32_delta1"] == pytest.approx(want_fp32, abs=1.5 / pixels)  # eager vs ONNX: ≤ 1 pixel
    assert acc["int8_delta1"] == pytest.approx(want_int8, abs=1e-12)
    assert acc["drop"] == pytest.approx(acc["fp32_delta1"] - acc["int8_delta1"], abs=1e-12)
    assert acc["passed"] and acc["drop"] <= 0.05
    got_int8, got_fp32, drop = (float(v) for v in match.groups())
    assert (got_int8, got_fp32, drop) == (
        round(acc["int8_delta1"], 4),
        round(acc["fp32_delta1"], 4),
        round(acc["drop"], 4),
    )
