"""The shared runtime: device choice, the forward recipe, load-for-evaluation, the valid-pixel metric
core (by hand, and as the evaluation protocols compute the same measures), the weight-mismatch report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ssrdepth.checkpoint import save_checkpoint, weight_mismatches
from ssrdepth.evaluation.protocols import evaluate_arrays, get_protocol
from ssrdepth.models import create_model
from ssrdepth.runtime import (
    ValidPixelMetrics,
    autocast_dtype,
    forward,
    load_for_evaluation,
    memory_format,
    model_input,
    resolve_device,
    valid_pixel_sums,
)


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available here; valid devices here: cpu"):
            resolve_device("cuda:0")
    else:
        with pytest.raises(ValueError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
        assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)


def test_forward_recipe() -> None:
    net = nn.Conv2d(1, 1, 3, padding=1)
    x = torch.rand(2, 1, 8, 12)
    image = model_input(x, torch.device("cpu"), memory_format(True))
    assert image.is_contiguous(memory_format=torch.channels_last)
    assert model_input(x, torch.device("cpu")) is x  # already there, already contiguous
    torch.testing.assert_close(forward(net, image), net(x), rtol=0, atol=0)
    assert autocast_dtype("fp32") is None and autocast_dtype("bf16") is torch.bfloat16
    assert forward(net, image, torch.bfloat16).dtype == torch.bfloat16


def test_valid_pixel_core_by_hand() -> None:
    pred = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]], [[[1.0, 1.0], [1.0, 1.0]]], [[[5.0, 5.0], [5.0, 5.0]]]])
    target = torch.zeros_like(pred)
    valid = torch.tensor(
        [
            [[[True, True], [False, True]]],
            [[[True, False], [False, False]]],
            [[[False, False], [False, False]]],
        ]
    )
    # image 0: errors² 0, 1, 9 → Σ 10 over 3 pixels, RMSE √(10/3); image 1: 1 over 1, RMSE 1; image 2: none
    sums = valid_pixel_sums(pred, target, valid)
    assert sums.dtype == torch.float64
    torch.testing.assert_close(
        sums, torch.tensor([11.0, 4.0, (10 / 3) ** 0.5 + 1.0, 2.0], dtype=torch.float64)
    )
    acc = ValidPixelMetrics(torch.device("cpu"))
    acc.add(pred[:2], target[:2], valid[:2])
    acc.add(pred[2:], target[2:], valid[2:])
    assert acc.result() == pytest.approx({"mse": 11 / 4, "rmse": ((10 / 3) ** 0.5 + 1) / 2})
    assert ValidPixelMetrics(torch.device("cpu")).result() == {"mse": 0.0, "rmse": 0.0}


def test_valid_pixel_core_is_the_per_image_protocol_on_valid_pixels() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(6, 1, 9, 13, generator=g), torch.rand(6, 1, 9, 13, generator=g)
    valid = torch.rand(6, 1, 9, 13, generator=g) > 0.4
    valid[3] = False  # no valid pixel: skipped by both
    acc = ValidPixelMetrics(torch.device("cpu"))
    acc.add(pred, target, valid)
    per_image = evaluate_arrays(pred, target, valid, get_protocol("paper", mask="valid"))
    pooled = evaluate_arrays(pred, target, valid, get_protocol("paper", mask="valid", aggregation="pooled"))
    assert per_image.images == 5 and per_image.images_skipped == 1
    assert acc.result()["rmse"] == pytest.approx(per_image.metrics["rmse"], rel=1e-6)
    assert acc.result()["mse"] == pytest.approx(pooled.metrics["mse"], rel=1e-6)


def test_load_for_evaluation(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("C", 1, width=0.25)
    save_checkpoint(tmp_path / "run" / "best.pt", model, input_size=(16, 48), step=3)
    net, ckpt = load_for_evaluation(tmp_path / "run")  # a run folder → its best.pt
    assert not net.training and ckpt.step == 3 and ckpt.input_size == (16, 48)
    x = torch.rand(1, 1, 16, 48)
    with torch.no_grad():
        torch.testing.assert_close(net(x), model.eval()(x), rtol=0, atol=0)


def test_weight_mismatch_report() -> None:
    expected = {"a": torch.zeros(2), "b": torch.zeros(3, 3), "c": torch.zeros(1)}
    assert weight_mismatches(expected, dict(expected)) == ""
    found = {"a": torch.zeros(2), "b": torch.zeros(3, 4), "d": torch.zeros(1), "e": np.zeros(1)}
    assert weight_mismatches(expected, found) == "c missing; d unexpected; e unexpected and 1 more"
    assert weight_mismatches({"b": torch.zeros(3, 3)}, {"b": torch.zeros(3, 4)}) == "b (3, 4) ≠ (3, 3)"
