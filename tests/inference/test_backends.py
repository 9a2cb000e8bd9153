"""Inference backends beyond eager PyTorch: OpenVINO parity, the INT8 accuracy gate, ``auto``'s choice."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ssrdepth.inference import autoselect
from ssrdepth.inference import openvino_backend as ovb
from ssrdepth.inference.quantize import (
    DELTA1_TOLERANCE,
    Int8Accuracy,
    QuantisationRefused,
    check_int8_accuracy,
    delta1_masked,
    int8_accuracy,
    quantize_checked,
)
from ssrdepth.models import create_model

from ..conftest import require_module
from .conftest import MakeCheckpoint

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

SIZE = (37, 147)


def _onnx(net: nn.Module, size: tuple[int, int] = SIZE) -> bytes:
    from ssrdepth.inference.export import export_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_onnx(net.eval(), None, sample_size=size, exporter="legacy")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny() -> tuple[nn.Module, bytes]:
    torch.manual_seed(0)
    net = create_model("SCRX", 1, width=0.125).eval()
    return net, _onnx(net)


def _eager(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(net(torch.from_numpy(x)).numpy())


# ------------------------------------------------------------------------------------------ OpenVINO
def test_openvino_f32_matches_eager(tiny: tuple[nn.Module, bytes]) -> None:
    require_module("openvino", "the OpenVINO backend needs the [openvino] extra")
    net, blob = tiny
    x = np.random.default_rng(1).random((3, 1, *SIZE), dtype=np.float32)
    run = ovb.runner(ovb.compile_onnx(blob, ovb.OpenVINOSettings("f32", "LATENCY")))
    got = run(x)
    assert got.shape == (3, 1, *SIZE)
    assert float(np.abs(got - _eager(net, x)).max()) < 1e-4
    # dynamic shapes: another batch and size through the same compiled model
    x2 = np.random.default_rng(2).random((1, 1, 50, 120), dtype=np.float32)
    assert float(np.abs(run(x2) - _eager(net, x2)).max()) < 1e-4


def test_openvino_bf16_within_auto_tolerance(tiny: tuple[nn.Module, bytes]) -> None:
    require_module("openvino", "the OpenVINO backend needs the [openvino] extra")
    if "BF16" not in ovb.native_precisions():
        with pytest.raises(ValueError, match="native bf16"):
            ovb.compile_onnx(tiny[1], ovb.OpenVINOSettings("bf16", "LATENCY"))
        return
    net, blob = tiny
    x = np.random.default_rng(1).random((2, 1, *SIZE), dtype=np.float32)
    got = ovb.runner(ovb.compile_onnx(blob, ovb.OpenVINOSettings("bf16", "THROUGHPUT")))(x)
    assert float(np.abs(got - _eager(net, x)).max()) < autoselect.AUTO_TOLERANCE


def test_openvino_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="valid: f32, bf16"):
        ovb.OpenVINOSettings("int4")
    with pytest.raises(ValueError, match="LATENCY, THROUGHPUT"):
        ovb.OpenVINOSettings("f32", "FAST")
    assert ovb.OpenVINOSettings("bf16", "LATENCY", 2).label == "openvino-bf16-latency-t2"


def test_openvino_missing_file_names_it(tmp_path: Path) -> None:
    require_module("openvino", "the OpenVINO backend needs the [openvino] extra")
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        ovb.compile_onnx(tmp_path / "nope.onnx", ovb.OpenVINOSettings("f32"))


# ------------------------------------------------------------------------------------------ INT8
def test_delta1_by_hand() -> None:
    pred = np.array([1.0, 1.2, 1.3, 2.0, 5.0])
    target = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    valid = np.array([True, True, True, True, True])
    # ratios 1, 1.2, 1.3, 2 (the zero target is left out): two of four below 1.25
    assert delta1_masked(pred, target, valid) == pytest.approx(0.5)


def test_int8_gate_verdict() -> None:
    ok = Int8Accuracy(0.90, 0.895, 0.99, 0.01, 10, DELTA1_TOLERANCE)
    assert ok.passed and check_int8_accuracy(ok) is ok
    bad = Int8Accuracy(0.90, 0.88, 0.95, 0.1, 10, DELTA1_TOLERANCE)
    with pytest.raises(QuantisationRefused, match=r"drop of 0\.0200 > tolerance 0\.01"):
        check_int8_accuracy(bad)


def _samples(net: nn.Module, n: int = 6, seed: int = 3) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Test batches whose target is the float32 model's own output (so float32 scores δ1 = 1)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.random((2, 1, *SIZE), dtype=np.float32)
        y = _eager(net, x)
        out.append((x, y, np.ones_like(y, dtype=bool)))
    return out


def test_int8_of_a_normal_model_passes(tiny: tuple[nn.Module, bytes]) -> None:
    net, blob = tiny
    rng = np.random.default_rng(0)
    calib = [rng.random((4, 1, *SIZE), dtype=np.float32) for _ in range(4)]
    int8_blob, acc = quantize_checked(blob, calib, _samples(net))
    assert acc.passed and acc.fp32_delta1 == 1.0 and acc.int8_delta1 >= 1.0 - DELTA1_TOLERANCE
    import onnx

    keys = {p.key for p in onnx.load_from_string(int8_blob).metadata_props}
    assert {"ssrdepth", "ssrdepth_int8"} <= keys
    ops = {node.op_type for node in onnx.load_from_string(int8_blob).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops


class _Outlier(nn.Module):
    """Conv with one weight 1000× the others, then a positive head that ignores the outlier's channel:
    per-tensor INT8 weights round every other weight to zero, so the output loses its signal."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(0.5)
            self.conv.weight[0, 0, 1, 1] = 500.0
            self.conv.bias.zero_()
            self.head.weight.copy_(torch.tensor([0.0, 1.0, 1.0, 1.0]).view(1, 4, 1, 1))
            self.head.bias.fill_(0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.head(torch.relu(self.conv(x)))) + 1e-3


def test_int8_refuses_a_model_past_tolerance(tmp_path: Path) -> None:
    net = _Outlier().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        buf = tmp_path / "outlier.onnx"
        torch.onnx.export(
            net,
            (torch.rand(1, 1, *SIZE),),
            str(buf),
            dynamo=False,
            input_names=["image"],
            dynamic_axes={"image": {0: "batch"}},
        )
    rng = np.random.default_rng(0)
    calib = [rng.random((4, 1, *SIZE), dtype=np.float32) for _ in range(2)]
    out = tmp_path / "outlier.int8.onnx"
    with pytest.raises(QuantisationRefused, match="INT8 model refused"):
        quantize_checked(buf.read_bytes(), calib, _samples(net, 2), per_channel=False, out=out)
    assert not out.exists()  # nothing written when refused


def test_int8_accuracy_rejects_shape_mismatch() -> None:
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="differ from the target"):
        int8_accuracy(lambda b: b, lambda b: b[..., :2], [(x, x + 1, np.ones_like(x, bool))])


# ------------------------------------------------------------------------------------------ auto
def test_auto_picks_the_backend_that_passes_parity(tiny: tuple[nn.Module, bytes]) -> None:
    net, _ = tiny
    sample = np.random.default_rng(0).random((2, 1, *SIZE), dtype=np.float32)

    def ref(x: np.ndarray) -> np.ndarray:
        return _eager(net, x)

    def broken() -> autoselect.Runner:
        raise RuntimeError("no such device")

    candidates = {
        "wrong": lambda: lambda x: ref(x) + 0.5,  # fast but wrong: must be refused
        "broken": broken,
        "right": lambda: ref,
    }
    choice = autoselect.measure(candidates, ref, sample, batch=2, repeats=1)
    assert choice.backend == "right"
    assert "parity" in choice.table["wrong"]["rejected"]
    assert "no such device" in choice.table["broken"]["rejected"]
    assert choice.table["right"]["max_abs_error"] == 0.0


def test_auto_with_real_backends_and_cache(
    tiny: tuple[nn.Module, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssrdepth.inference.backends import onnx_runner
    from ssrdepth.inference.onnx import onnx_session

    monkeypatch.setenv("SSRDEPTH_CACHE_DIR", str(tmp_path / "cache"))
    net, blob = tiny
    model_file = tmp_path / "tiny.onnx"
    model_file.write_bytes(blob)

    def ref(x: np.ndarray) -> np.ndarray:
        return _eager(net, x)

    candidates: dict[str, autoselect.RunnerFactory] = {
        "torch": lambda: ref,
        "onnxruntime": lambda: onnx_runner(onnx_session(blob, "cpu")),
    }
    if ovb.available():  # the openvino package (the [openvino] extra) is installed
        candidates["openvino-f32"] = lambda: ovb.runner(ovb.compile_onnx(blob, ovb.OpenVINOSettings("f32")))
    sample = np.random.default_rng(0).random((2, 1, *SIZE), dtype=np.float32)
    first = autoselect.choose_backend(model_file, candidates, lambda: ref, sample, batch=4, repeats=1)
    assert not first.cached and first.backend in candidates
    assert first.table[first.backend]["max_abs_error"] <= autoselect.AUTO_TOLERANCE
    assert (tmp_path / "cache" / autoselect.CACHE_FILE).is_file()
    again = autoselect.choose_backend(model_file, candidates, lambda: ref, sample, batch=4, repeats=1)
    assert again.cached and again.backend == first.backend
    # another model file (other bytes) is measured anew
    model_file.write_bytes(blob + b"\0")
    assert not autoselect.choose_backend(
        model_file, candidates, lambda: ref, sample, batch=4, repeats=1
    ).cached


def test_predict_from_an_int8_file(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    from ssrdepth.inference.export import export_checkpoint
    from ssrdepth.inference.predict import load_model
    from ssrdepth.inference.quantize import is_int8, quantize_onnx

    ckpt = make_checkpoint("SCRX", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32 = export_checkpoint(ckpt, tmp_path / "m.onnx", "onnx", exporter="legacy").path
    rng = np.random.default_rng(0)
    calib = [rng.random((4, 1, *SIZE), dtype=np.float32) for _ in range(2)]
    int8_file = tmp_path / "m.int8.onnx"
    int8_file.write_bytes(quantize_onnx(fp32.read_bytes(), calib))
    assert is_int8(int8_file) and not is_int8(fp32)
    named = load_model(int8_file, backend="onnxruntime")
    assert (named.backend, named.precision) == ("onnxruntime", "int8")
    auto = load_model(int8_file)  # auto: among the backends that run this INT8 file
    assert auto.precision == "int8" and auto.backend in ("onnxruntime", "openvino")
    x = rng.random((2, 1, *SIZE), dtype=np.float32)
    assert float(np.abs(auto.run(x) - named.run(x)).max()) <= autoselect.AUTO_TOLERANCE
    with pytest.raises(ValueError, match="not torch"):
        load_model(int8_file, backend="torch")


def test_openvino_runner_is_safe_across_threads(tiny: tuple[nn.Module, bytes]) -> None:
    require_module("openvino", "the OpenVINO backend needs the [openvino] extra")
    from concurrent.futures import ThreadPoolExecutor

    net, blob = tiny
    run = ovb.runner(ovb.compile_onnx(blob, ovb.OpenVINOSettings("f32")))
    xs = [np.random.default_rng(i).random((1, 1, *SIZE), dtype=np.float32) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(run, xs))
    for x, y in zip(xs, outs, strict=True):
        assert float(np.abs(y - _eager(net, x)).max()) < 1e-4


def test_auto_choice_summary_is_one_readable_line() -> None:
    table = {
        "torch-fp32": {"max_abs_error": 0.0, "b8_ms": 12.34, "b1_ms": 2.5, "score": 2.6},
        "onnxruntime-fp32": {"max_abs_error": 1e-6, "b8_ms": 6.0, "b1_ms": 1.0, "score": 2.0},
        "torch-bf16": {"rejected": "parity 3.10e-02 > 0.01", "max_abs_error": 0.031},
        "openvino-f32": {"rejected": "RuntimeError: no such device\nsecond line"},
    }
    measured = autoselect.BackendChoice("onnxruntime-fp32", table)
    assert measured.summary() == (
        "backend auto: onnxruntime-fp32, the fastest of 2 passing parity at batch 8 / 1 together (the lowest "
        "sum of times relative to the best) (measured here); "
        "ms at batch 8 / 1: onnxruntime-fp32 6.00 / 1.00, torch-fp32 12.3 / 2.50; "
        "rejected: torch-bf16 (parity 3.10e-02 > 0.01), openvino-f32 (RuntimeError: no such device)"
    )
    cached = autoselect.BackendChoice("onnxruntime-fp32", table, cached=True)
    assert "(chosen earlier on this machine, cached in /c/backend-choice.json)" in cached.summary(
        "/c/backend-choice.json"
    )


def test_quantize_drops_only_onnxruntimes_preprocessing_advice(tiny: tuple[nn.Module, bytes]) -> None:
    import logging

    from ssrdepth.inference.quantize import quantize_onnx

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    root = logging.getLogger()
    handler, filters_before = Keep(), list(root.filters)
    root.addHandler(handler)
    try:
        rng = np.random.default_rng(0)
        quantize_onnx(tiny[1], [rng.random((2, 1, *SIZE), dtype=np.float32)])
        logging.warning("another warning")  # after the call: root's records pass again
    finally:
        root.removeHandler(handler)
    assert not any("pre-processing before quantization" in m for m in seen)
    assert "another warning" in seen and root.filters == filters_before
