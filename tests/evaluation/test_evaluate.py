"""The evaluate API and command on a tiny in-test data set obeying the data contract."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import ssrdepth.data
from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.cli import main as cli_main
from ssrdepth.data.config import DataConfig, TargetScale
from ssrdepth.evaluation.evaluate import (
    EvalResult,
    evaluate,
    evaluate_model,
    evaluate_protocols,
    load_model,
    prediction_to_depth,
    renormalise,
)
from ssrdepth.evaluation.protocols import crop_box, get_protocol
from ssrdepth.models import create_model

SCALE = TargetScale("disparity", max_value=100.0, focal=50.0, baseline=0.5, reference_width=12)


class TinySet(torch.utils.data.Dataset):
    """``n`` samples of 8×12: image channels = the target map, a random valid mask, depth = f·B/disparity."""

    def __init__(self, n: int = 5, channels: int = 1, with_depth: bool = True, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.target = torch.rand(n, 1, 8, 12, generator=g) * 0.9 + 0.05
        self.valid = torch.rand(n, 1, 8, 12, generator=g) > 0.25
        depth = SCALE.to_depth(self.target)
        self.depth = torch.where(self.valid, depth, torch.zeros_like(depth)) if with_depth else depth * 0
        self.channels = channels
        self.scale = SCALE

    def __len__(self) -> int:
        return self.target.shape[0]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "image": self.target[i].expand(self.channels, -1, -1).clone(),
            "target": self.target[i],
            "valid_mask": self.valid[i],
            "depth": self.depth[i],
            "index": i,
        }

    def meta(self, i: int) -> dict[str, Any]:
        return {"source": "tiny", "file": f"tiny/{i}", "scale": SCALE.as_dict()}


class Oracle(nn.Module):
    """Predicts the target exactly (the image's first channel), times ``factor``."""

    in_channels = 1
    name = "oracle"

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] * self.factor


class Constant(nn.Module):
    in_channels = 1

    def __init__(self, value: float, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.value, self.size = value, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.size or x.shape[-2:]
        return torch.full((x.shape[0], 1, h, w), self.value)


@pytest.mark.parametrize("protocol", ["paper", "normalised", "kitti", "nyu"])
def test_perfect_model_scores_zero_under_every_protocol(protocol: str) -> None:
    ds = TinySet()
    r = evaluate_model(Oracle(), ds, protocol, batch_size=2)
    assert r.protocol == protocol and r.images == 5
    proto = get_protocol(protocol)
    top, bottom, left, right = crop_box(proto.crop, 8, 12)
    in_box = ds.valid[..., top:bottom, left:right] if proto.mask == "valid" else ds.valid[..., :, :] | True
    assert r.valid_pixels == int(in_box.sum()) and 0 < r.valid_pixels <= 5 * 96
    for key, value in r.metrics.items():
        expected = 1.0 if key.startswith("delta") else 0.0
        assert value == pytest.approx(expected, abs=2e-6), key


def test_paper_protocol_values_by_a_direct_computation() -> None:
    ds = TinySet()
    r = evaluate_model(Constant(0.5), ds, "paper", batch_size=3)
    t = ds.target.double().numpy().reshape(5, -1)
    per_image_rmse = np.sqrt(((t - 0.5) ** 2).mean(axis=1))
    assert r.metrics["rmse"] == pytest.approx(per_image_rmse.mean())
    assert r.metrics["ard"] == pytest.approx((np.abs(t - 0.5) / 0.5).mean())  # ÷ prediction
    assert r.metrics["lrmse_si"] == pytest.approx(((np.log(t) - np.log(0.5)) ** 2).mean())
    assert r.valid_pixels == 5 * 8 * 12 and r.units == "normalised [0, 1]"


def test_kitti_protocol_compares_metres_with_the_depth_map() -> None:
    ds = TinySet()
    # a constant normalised disparity 0.5 is 50 px → depth f·B/d = 25/50 = 0.5 m everywhere
    r = evaluate_model(Constant(0.5), ds, get_protocol("kitti", crop="none"), batch_size=5)
    d = ds.depth.double().numpy()
    per_image = [np.abs(0.5 - d[i][d[i] > 0]).__truediv__(d[i][d[i] > 0]).mean() for i in range(5)]
    assert r.metrics["abs_rel"] == pytest.approx(np.mean(per_image))
    assert r.valid_pixels == int((ds.depth > 0).sum()) and r.units == "metres"


def test_prediction_is_resized_to_the_target() -> None:
    ds = TinySet()
    small = evaluate_model(Constant(0.5, size=(4, 6)), ds, "paper")
    full = evaluate_model(Constant(0.5), ds, "paper")
    assert small.metrics == pytest.approx(full.metrics) and small.valid_pixels == 5 * 96
    with pytest.raises(ValueError, match="does not resize"):
        evaluate_model(Constant(0.5, size=(4, 6)), ds, get_protocol("paper", resize=False))


def test_max_images_and_mode_restored() -> None:
    model = Oracle().train()
    r = evaluate_model(model, TinySet(), "normalised", max_images=2)
    assert r.images == 2 and model.training


def test_model_scale_is_renormalised_to_the_data_scale() -> None:
    # the model predicts disparity / 200 px; the data normalises by 100 px
    model_scale = TargetScale("disparity", 200.0, focal=50.0, baseline=0.5, reference_width=12)
    r = evaluate_model(Oracle(0.5), TinySet(), "normalised", scale=model_scale)
    assert r.metrics["rmse"] == pytest.approx(0.0, abs=1e-7)
    assert evaluate_model(Oracle(0.5), TinySet(), "normalised").metrics["rmse"] > 0.1
    depth_scale = TargetScale("depth", 10.0)
    with pytest.raises(ValueError, match="compare them in metres"):
        renormalise(torch.ones(1), depth_scale, SCALE)


def test_zero_disparity_is_infinitely_far_then_capped() -> None:
    depth = prediction_to_depth(torch.tensor([0.0, 0.5]), SCALE)
    assert depth.tolist() == [math.inf, 0.5]
    ds = TinySet()
    r = evaluate_model(Constant(0.0), ds, get_protocol("kitti", crop="none"))
    d = ds.depth.numpy()
    expected = np.mean([(np.abs(80.0 - d[i][d[i] > 0]) / d[i][d[i] > 0]).mean() for i in range(5)])
    assert r.metrics["abs_rel"] == pytest.approx(expected, rel=1e-6)


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="no metric depth"):
        evaluate_model(Oracle(), TinySet(with_depth=False), "kitti")
    with pytest.raises(ValueError, match="takes 1 input channel"):
        evaluate_model(Oracle(), TinySet(channels=3), "paper")
    with pytest.raises(ValueError, match="NaN/inf"):
        evaluate_model(Constant(math.nan), TinySet(), "paper")
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate_model(Oracle(), TinySet(), "eigen")
    with pytest.raises(ValueError, match="neither a checkpoint file nor a model name"):
        load_model("resnet")
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_model("missing/model.pt")


@pytest.fixture
def tiny_data(monkeypatch: pytest.MonkeyPatch) -> list[tuple[DataConfig, str]]:
    """Stand in for ``ssrdepth.data.build_dataset`` with the tiny data set; records its calls."""
    calls: list[tuple[DataConfig, str]] = []

    def build(cfg: DataConfig, split: str, **kwargs: Any) -> TinySet:
        calls.append((cfg, split))
        return TinySet(channels=cfg.channels)

    monkeypatch.setattr(ssrdepth.data, "build_dataset", build, raising=False)
    return calls


def test_evaluate_writes_one_column_per_model(tmp_path: Path, tiny_data: list[Any]) -> None:
    torch.manual_seed(1)
    net = create_model("SC", 1, width=0.25)
    ckpt = save_checkpoint(tmp_path / "sc.pt", net, input_size=(8, 12), target=SCALE.as_dict())
    data = DataConfig(size=(8, 12))
    report = evaluate(
        [ckpt, "c"], data, "paper", out_dir=tmp_path / "out", model_options={"width": 0.25}, progress=False
    )
    assert tiny_data[0][1] == "test"
    labels = [r.model for r in report.results]
    assert labels == ["SC", "C (untrained)"]
    # the checkpoint's column equals evaluating its model directly
    direct = evaluate_model(net.eval(), TinySet(), "paper")
    assert report.results[0].metrics == pytest.approx(direct.metrics)
    md = report.files["markdown"].read_text()
    assert "| measure | SC | C (untrained) |" in md and "| ARD (÷ pred) ↓ |" in md
    assert "| images | 5 | 5 |" in md and "| valid pixels | 480 | 480 |" in md and "protocol paper" in md
    rows = list(csv.reader(report.files["csv"].open()))
    assert rows[0] == ["measure", "SC", "C (untrained)"]
    assert [r[0] for r in rows[1:7]] == ["rmse", "mse", "ard", "lrmse", "lrmse_si", "srd"]
    assert float(rows[1][1]) == report.results[0].metrics["rmse"]
    js = json.loads(report.files["json"].read_text())
    assert js["protocol"]["name"] == "paper" and js["split"] == "test"
    assert [(r["protocol"], r["images"], r["valid_pixels"]) for r in js["results"]] == [("paper", 5, 480)] * 2
    assert js["results"][0]["source"] == str(ckpt)


def test_evaluate_cli_on_a_temporary_folder(
    tmp_path: Path, tiny_data: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    rc = cli_main(
        ["evaluate", "SCRX", "C", "--width", "0.25", "--size", "12x8", "--protocol", "kitti",
         "--aggregation", "pooled", "--max-images", "3", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "protocol kitti[aggregation=pooled]: 3 images" in text
    assert tiny_data[0][0].size == (8, 12)
    name = "evaluate-kitti_aggregation_pooled"
    assert sorted(p.name for p in out.iterdir()) == [f"{name}.csv", f"{name}.json", f"{name}.md"]
    js = json.loads((out / f"{name}.json").read_text())
    assert js["compared_with"].startswith(
        "the true depth (metres, where > 0) at the ground truth's resolution"
    )
    assert js["score_at"] == "truth" and js["protocol"]["score_at"] == "truth"
    assert [r["images"] for r in js["results"]] == [3, 3]
    assert cli_main(["evaluate", "resnet", "--out", str(out)]) == 2
    assert "neither a checkpoint file nor a model name" in capsys.readouterr().err
    assert cli_main(["evaluate", "--list-protocols"]) == 0
    assert "kitti-eigen" in capsys.readouterr().out


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("protocol", ["paper", "normalised", "kitti"])
def test_cuda_evaluation_equals_cpu(protocol: str) -> None:
    torch.manual_seed(3)
    net = create_model("SCRX", 1, width=0.25).eval()
    cpu = evaluate_model(net, TinySet(), protocol, batch_size=2)
    gpu = evaluate_model(net.cuda(), TinySet(), protocol, batch_size=2, device="cuda")
    assert gpu.valid_pixels == cpu.valid_pixels and gpu.images == cpu.images
    assert gpu.metrics == pytest.approx(cpu.metrics, rel=1e-4, abs=1e-6)


class Counting(Constant):
    """A constant 0.5 that counts the batches it is run on."""

    def __init__(self) -> None:
        super().__init__(0.5)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


def test_several_protocols_in_one_pass_equal_separate_passes() -> None:
    ds, protos = TinySet(), ["paper", "normalised", get_protocol("kitti", crop="none")]
    model = Counting()
    together = evaluate_protocols(model, ds, protos, batch_size=2)
    assert model.calls == 3  # 5 images in batches of 2: each batch through the network once, not 3×
    for proto, r in zip(protos, together, strict=True):
        assert isinstance(r, EvalResult)
        alone = evaluate_model(Constant(0.5), ds, proto, batch_size=5)
        assert r.protocol == alone.protocol and r.valid_pixels == alone.valid_pixels
        assert r.metrics == pytest.approx(alone.metrics, rel=1e-12)


def test_per_image_measures_by_a_direct_computation() -> None:
    ds = TinySet()
    (r,) = evaluate_protocols(Constant(0.5), ds, [get_protocol("kitti", crop="none")], per_image=True)
    assert isinstance(r, EvalResult)
    d = ds.depth.double().numpy()
    # 0.5 normalised disparity = 50 px = 0.5 m everywhere (see the kitti test above)
    expected = [float((np.abs(0.5 - d[i][d[i] > 0]) / d[i][d[i] > 0]).mean()) for i in range(5)]
    got = [row["abs_rel"] for row in r.extra["per_image"]]
    assert got == pytest.approx(expected, rel=1e-9)
    assert r.metrics["abs_rel"] == pytest.approx(np.mean(expected), rel=1e-9)


def test_a_protocol_that_cannot_score_does_not_stop_the_others() -> None:
    paper, kitti = evaluate_protocols(Constant(0.5), TinySet(with_depth=False), ["paper", "kitti"])
    assert isinstance(paper, EvalResult) and paper.images == 5
    assert isinstance(kitti, ValueError) and "no metric depth" in str(kitti)
    with pytest.raises(ValueError, match="no metric depth"):
        evaluate_model(Constant(0.5), TinySet(with_depth=False), "kitti")


def test_a_protocol_that_cannot_compare_the_maps_leaves_the_others_scored() -> None:
    # A 4×6 output: "paper" without resizing refuses it; the default paper protocol resizes and scores.
    fixed, resized = evaluate_protocols(
        Constant(0.5, size=(4, 6)), TinySet(), [get_protocol("paper", resize=False), "paper"]
    )
    assert isinstance(fixed, ValueError) and "does not resize" in str(fixed)
    assert isinstance(resized, EvalResult) and resized.valid_pixels == 5 * 96
