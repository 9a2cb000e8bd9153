"""Integration: evaluate on the synthetic source through ``ssrdepth.data.build_dataset``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.cli import main as cli_main
from ssrdepth.data import DataConfig, build_dataset, generate_synthetic
from ssrdepth.evaluation.evaluate import data_config_from_checkpoint, evaluate, evaluate_model
from ssrdepth.evaluation.protocols import get_protocol
from ssrdepth.models import create_model


class Replay(nn.Module):
    """Returns the given maps in order, batch after batch: a perfect model for an unshuffled loader."""

    in_channels = 1

    def __init__(self, maps: list[torch.Tensor]) -> None:
        super().__init__()
        self.maps, self.k = maps, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.stack(self.maps[self.k : self.k + x.shape[0]])
        self.k += x.shape[0]
        return out


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> DataConfig:
    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic(root, 6, size=(32, 96), sequence_length=3, workers=1, progress=False)
    # depth targets normalised by 200 m (the generator's far plane), so no target saturates at 1
    return DataConfig(
        source="synthetic", root=str(root), size=(16, 48), target="depth", max_depth=200.0,
        cache_dir=str(root / "cache"),
    )  # fmt: skip


def test_perfect_model_on_synthetic_targets_and_depth(config: DataConfig) -> None:
    ds = build_dataset(config, "test", progress=False)
    n = len(ds)
    targets = [ds[i]["target"] for i in range(n)]
    r = evaluate_model(Replay(targets), ds, "normalised", batch_size=2)
    assert r.images == n and r.metrics["rmse"] == pytest.approx(0.0, abs=1e-7) and r.metrics["delta1"] == 1.0
    valid = sum(int((ds[i]["valid_mask"] & (ds[i]["target"] > 1e-3)).sum()) for i in range(n))
    assert r.valid_pixels == valid > 0
    # in metres at the model's size: the normalised target × 200 m is the depth map
    r = evaluate_model(
        Replay(targets), ds, get_protocol("kitti", crop="none", score_at="model"), batch_size=2
    )
    depth = [ds[i]["depth"] for i in range(n)]
    assert r.valid_pixels == sum(int(((d > 1e-3) & (d < 80)).sum()) for d in depth)
    assert r.metrics["abs_rel"] < 1e-5 and r.metrics["delta1"] == 1.0
    # at the truth's resolution (the default): every rendered pixel of the 32×96 depth maps counts
    r = evaluate_model(Replay(targets), ds, get_protocol("kitti", crop="none"), batch_size=2)
    truth = [ds.truth_depth(i) for i in range(n)]
    assert all(t.shape == (32, 96) for t in truth)
    assert r.valid_pixels == sum(int(((t > 1e-3) & (t < 80)).sum()) for t in truth) > 2 * valid
    assert r.score_at == "truth" and 0 < r.metrics["abs_rel"] < 0.2  # a model-size map, upsampled


@pytest.mark.parametrize("score_at", ["model", "truth"])
def test_evaluate_untrained_model_matches_a_direct_computation(
    config: DataConfig, tmp_path: Path, score_at: str
) -> None:
    proto = get_protocol("kitti", score_at=score_at)
    report = evaluate(["C"], config, proto, out_dir=tmp_path, model_options={"width": 0.25}, progress=False)
    (result,) = report.results
    ds = build_dataset(config, "test", progress=False)
    torch.manual_seed(0)
    model = create_model("C", 1, width=0.25).eval()
    per_image = []
    for i in range(len(ds)):
        s = ds[i]
        with torch.no_grad():
            pred = model(s["image"][None])[0, 0].double().numpy() * 200.0  # TargetScale("depth", 200 m)
        if score_at == "model":
            gt = s["depth"].double().numpy()[0]
        else:  # the rendered 32×96 depth, the prediction upsampled by OpenCV's bilinear (half-pixel centres)
            gt = ds.truth_depth(i).astype(np.float64)
            pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
        h, w = gt.shape
        top, bottom = int(0.40810811 * h), int(0.99189189 * h)
        left, right = int(0.03594771 * w), int(0.96405229 * w)
        box = np.zeros_like(gt, dtype=bool)
        box[top:bottom, left:right] = True
        keep = box & (gt > 1e-3) & (gt < 80.0)
        if keep.any():
            p = np.clip(pred[keep], 1e-3, 80.0)
            per_image.append(np.mean(np.abs(p - gt[keep]) / gt[keep]))
    assert result.images == len(per_image) > 0
    assert result.metrics["abs_rel"] == pytest.approx(np.mean(per_image), rel=1e-5)
    assert report.files["json"].is_file() and "| images |" in report.markdown
    where = {"model": "| scored at | model's size |", "truth": "| scored at | ground truth's resolution |"}
    assert where[score_at] in report.markdown


def test_cli_takes_the_data_configuration_from_the_checkpoint(
    config: DataConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(2)
    net = create_model("SC", 1, width=0.25)
    stored = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
    stored["a_future_field"] = 1  # ignored
    ckpt = save_checkpoint(
        tmp_path / "sc.pt", net, input_size=config.size, target={"kind": "depth", "max_value": 200.0},
        config={"data": stored},
    )  # fmt: skip
    assert data_config_from_checkpoint(ckpt) == config
    assert (
        cli_main(["evaluate", str(ckpt), "--protocol", "kitti", "--out", str(tmp_path / "e"), "--quiet"]) == 0
    )
    js = json.loads((tmp_path / "e" / "evaluate-kitti.json").read_text())
    assert js["data"]["root"] == config.root and js["data"]["target"] == "depth"
    direct = evaluate_model(net.eval(), build_dataset(config, "test", progress=False), "kitti")
    assert js["results"][0]["metrics"] == pytest.approx(direct.metrics)
    assert js["results"][0]["images"] == direct.images
    assert "SC — protocol kitti:" in capsys.readouterr().out


def test_a_protocol_for_another_kind_of_data_is_warned_about(
    config: DataConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ssrdepth.evaluation.protocols import protocol_mismatch

    with caplog.at_level("WARNING", logger="ssrdepth"):
        evaluate(["C"], config, "nyu", out_dir=tmp_path, model_options={"width": 0.25}, progress=False)
    assert "protocol 'nyu' is made for NYU Depth v2" in caplog.text
    assert "the data source is 'synthetic'" in caplog.text and "use 'kitti'" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="ssrdepth"):
        evaluate(["C"], config, "kitti", out_dir=tmp_path, model_options={"width": 0.25}, progress=False)
    assert "is made for" not in caplog.text
    assert protocol_mismatch("kitti-eigen", "nyu") == (
        "protocol 'kitti-eigen' is made for KITTI-like street data (its crop, 1e-3–80 m) but the data "
        "source is 'nyu': use 'nyu'"
    )
    assert protocol_mismatch("nyu", "nyu") is None and protocol_mismatch("paper", "synthetic") is None


def test_evaluate_out_help_names_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    from ssrdepth.cli import main

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "(default runs/evaluate)" in " ".join(capsys.readouterr().out.split())
