"""The backend registry (:data:`ssrdepth.inference.backends.REGISTRY`): each backend declared once,
``auto``'s candidates and labels derived from it, and ``auto``'s score on a fake clock worked by hand."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from ssrdepth.inference import autoselect
from ssrdepth.inference.backends import (
    BACKENDS,
    REGISTRY,
    Backend,
    BuiltRunner,
    RunnerRequest,
    auto_candidates,
    build_runner,
    describe_choice,
    parity_error,
)
from ssrdepth.models import create_model


def test_every_backend_is_declared_once_with_its_facts() -> None:
    assert BACKENDS == ("auto", *REGISTRY) == ("auto", "torch", "onnxruntime", "openvino")
    for name, b in REGISTRY.items():
        assert b.name == name and b.family in ("torch", "onnx") and set(b.devices) <= {"cpu", "cuda"}
        assert b.title and b.install.startswith("pip install")
    assert REGISTRY["openvino"].devices == ("cpu",) and REGISTRY["torch"].family == "torch"
    with pytest.raises(ValueError, match="valid: auto, torch, onnxruntime, openvino"):
        build_runner("tensorrt", RunnerRequest())


def test_a_backend_is_built_only_from_its_family_and_on_its_devices() -> None:
    with pytest.raises(ValueError, match="runs an ONNX export"):
        build_runner("onnxruntime", RunnerRequest(net=torch.nn.Identity()))
    with pytest.raises(ValueError, match="PyTorch checkpoint"):
        build_runner("torch", RunnerRequest(onnx_model=b""))
    with pytest.raises(ValueError, match="runs on the CPU here"):
        build_runner("openvino", RunnerRequest(onnx_model=b"", device="cuda"))


def test_auto_candidates_come_from_the_registry_and_their_labels_name_their_backend() -> None:
    net = create_model("C", 1, width=0.125).eval()
    torch_only = auto_candidates(None, net=net, precision="bf16")
    assert list(torch_only) == ["torch-fp32", "torch-bf16"]
    assert list(auto_candidates(None, net=net, precision="fp32")) == ["torch-fp32"]
    assert describe_choice("torch-bf16") == ("torch", "bf16", {})
    assert describe_choice("onnxruntime-fp32") == ("onnxruntime", "fp32", {})
    assert describe_choice("openvino-f32-throughput-t2") == ("openvino", "fp32", {"hint": "THROUGHPUT"})
    # eager float32 through the registry is the parity reference itself
    x = np.random.default_rng(0).random((2, 1, 16, 24), dtype=np.float32)
    run = build_runner("torch", RunnerRequest(net=net)).run
    assert parity_error(torch_only["torch-fp32"](), run(x), x) <= 1e-6


def test_a_new_backend_is_one_registry_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def first_channel(x: np.ndarray) -> np.ndarray:
        return x[:, :1]

    fake = Backend(
        "fake",
        title="Fake",
        family="onnx",
        auto=True,
        devices=("cpu",),
        requires="numpy",
        install="pip install fake",
        build=lambda req: BuiltRunner(first_channel, req.device, "fp32"),
        candidates=lambda req: {"fake-fp32": lambda: first_channel},
        describe=lambda rest: (rest, {}),
    )
    monkeypatch.setitem(REGISTRY, "fake", fake)
    cands = auto_candidates(b"an export", net=None, precision="fp32")
    assert "fake-fp32" in cands and not any(k.startswith("torch") for k in cands)
    assert describe_choice("fake-fp32") == ("fake", "fp32", {})
    assert build_runner("fake", RunnerRequest(onnx_model=b"")).run is first_channel


def test_auto_scores_by_the_sum_of_ratios_on_a_fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each runner advances a fake clock by a known time per call: "a" 2 s at batch 4 and 0.5 s at
    # batch 1, "b" 3 s and 0.25 s. Ratios to the best: batch 4 a 1, b 1.5; batch 1 a 2, b 1;
    # scores a 3, b 2.5: b is chosen although a is the faster at batch 4.
    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    cost = {"a": {4: 2.0, 1: 0.5, 2: 0.0}, "b": {4: 3.0, 1: 0.25, 2: 0.0}}

    def runner(name: str) -> autoselect.Runner:
        def run(x: np.ndarray) -> np.ndarray:
            now[0] += cost[name][x.shape[0]]
            return np.zeros((x.shape[0], 1, *x.shape[2:]), np.float32)

        return run

    sample = np.zeros((2, 1, 4, 4), np.float32)
    choice = autoselect.measure(
        {n: (lambda n=n: runner(n)) for n in cost}, runner("a"), sample, batch=4, repeats=3
    )
    assert choice.backend == "b"
    assert choice.table["a"] == {"max_abs_error": 0.0, "b4_ms": 2000.0, "b1_ms": 500.0, "score": 3.0}
    assert choice.table["b"] == {"max_abs_error": 0.0, "b4_ms": 3000.0, "b1_ms": 250.0, "score": 2.5}
