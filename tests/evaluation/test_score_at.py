"""Scoring at the ground truth's resolution (the KITTI/Eigen convention) or at the model's size, on a
tiny example worked out by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from ssrdepth.core.image import resize_map
from ssrdepth.data.config import TargetScale
from ssrdepth.evaluation.evaluate import evaluate_protocols
from ssrdepth.evaluation.protocols import PROTOCOLS, Protocol, get_protocol

#: depth = normalised × 10 m
SCALE = TargetScale("depth", max_value=10.0)
#: The network's output, 2×4, in metres: row 0 = 1, 2, 3, 4 m; row 1 = 5, 6, 7, 8 m.
PRED_M = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
#: Four lidar-like points of a 4×8 truth: (row, col) → metres.
POINTS = {(0, 0): 2.0, (1, 1): 3.0, (2, 4): 5.0, (3, 7): 8.0}


def truth_map() -> np.ndarray:
    t = np.zeros((4, 8), np.float32)
    for (r, c), d in POINTS.items():
        t[r, c] = d
    return t


class Fixed(nn.Module):
    """Returns :data:`PRED_M` (normalised) for every image."""

    in_channels = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.tensor(PRED_M / 10.0, dtype=torch.float32)[None, None]
        return out.expand(x.shape[0], 1, 2, 4).contiguous()


class Tiny(torch.utils.data.Dataset):
    """One sample at the model's size 2×4, with its 4×8 truth; ``truths`` adds more samples (each
    truth of its own size, as KITTI frames have)."""

    scale = SCALE

    def __init__(self, truths: list[np.ndarray] | None = None) -> None:
        self.truths = truths or [truth_map()]

    def __len__(self) -> int:
        return len(self.truths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        t = self.truths[i]
        small, _ = resize_map(t, t > 0, (2, 4), sparse=True)  # as the data sets shrink lidar
        return {
            "image": torch.zeros(1, 2, 4),
            "target": torch.zeros(1, 2, 4),
            "valid_mask": torch.zeros(1, 2, 4, dtype=torch.bool),
            "depth": torch.from_numpy(small[None]),
            "index": i,
        }

    def truth_depth(self, i: int) -> np.ndarray:
        return self.truths[i]


def test_the_model_size_truth_is_the_sparse_shrink_by_hand() -> None:
    # Each model pixel covers 2×2 truth pixels; valid where any point falls, the mean of its points.
    small, valid = resize_map(truth_map(), truth_map() > 0, (2, 4), sparse=True)
    assert small.tolist() == [[2.5, 0, 0, 0], [0, 0, 5, 8]]
    assert valid.sum() == 3


def test_abs_rel_and_rmse_at_the_truth_and_at_the_model_size_by_hand() -> None:
    truth, model = evaluate_protocols(
        Fixed(), Tiny(), ["kitti-full", get_protocol("kitti-full", score_at="model")], scale=SCALE
    )
    assert not isinstance(truth, ValueError) and not isinstance(model, ValueError)
    # At the truth: the 2×4 map upsampled ×2 bilinearly with half-pixel centres (x_in = (x + ½)/2 − ½,
    # clamped at the borders):
    #   (0, 0) → x_in = y_in = −¼ → clamped: 1 m, truth 2 → |1 − 2| / 2 = 0.5
    #   (1, 1) → y_in = x_in = ¼: row 0 ¾·1 + ¼·2 = 1.25, row 1 ¾·5 + ¼·6 = 5.25, ¾·1.25 + ¼·5.25 =
    #            2.25 m, truth 3 → 0.25
    #   (2, 4) → y_in = ¾, x_in = 1¾: row 0 ¼·2 + ¾·3 = 2.75, row 1 ¼·6 + ¾·7 = 6.75, ¼·2.75 + ¾·6.75
    #            = 5.75 m, truth 5 → 0.15
    #   (3, 7) → y_in = 1¼, x_in = 3¼ → clamped: 8 m, truth 8 → 0
    assert truth.score_at == "truth" and truth.valid_pixels == 4
    assert truth.metrics["abs_rel"] == pytest.approx((0.5 + 0.25 + 0.15 + 0.0) / 4, abs=1e-6)
    assert truth.metrics["rmse"] == pytest.approx(math.sqrt((1 + 0.75**2 + 0.75**2 + 0) / 4), abs=1e-6)
    # At the model's size: the shrunk truth [[2.5, 0, 0, 0], [0, 0, 5, 8]] against the map itself:
    #   (0, 0) 1 vs 2.5 → 0.6; (1, 2) 7 vs 5 → 0.4; (1, 3) 8 vs 8 → 0
    assert model.score_at == "model" and model.valid_pixels == 3
    assert model.protocol == "kitti-full[score_at=model]"
    assert model.metrics["abs_rel"] == pytest.approx((0.6 + 0.4 + 0.0) / 3, abs=1e-6)
    assert model.metrics["rmse"] == pytest.approx(math.sqrt((1.5**2 + 2**2 + 0) / 3), abs=1e-6)


def test_truths_of_several_sizes_in_one_batch() -> None:
    # A second frame whose truth is the model's size (no upsampling): 1 m vs 1 m and 8 m vs 4 m.
    second = np.zeros((2, 4), np.float32)
    second[0, 0], second[1, 3] = 1.0, 4.0
    (r,) = evaluate_protocols(
        Fixed(), Tiny([truth_map(), second]), ["kitti-full"], scale=SCALE, per_image=True
    )
    assert not isinstance(r, ValueError)
    first, other = r.extra["per_image"]
    assert first["abs_rel"] == pytest.approx(0.225, abs=1e-6)
    assert other["abs_rel"] == pytest.approx((0.0 + 1.0) / 2, abs=1e-6)
    assert r.images == 2 and r.valid_pixels == 6
    assert r.metrics["abs_rel"] == pytest.approx((0.225 + 0.5) / 2, abs=1e-6)


def test_a_data_set_without_its_own_truth_is_scored_against_its_depth_maps() -> None:
    class Plain(Tiny):
        truth_depth = None  # type: ignore[assignment]

    truth, model = evaluate_protocols(
        Fixed(), Plain(), ["kitti-full", get_protocol("kitti-full", score_at="model")], scale=SCALE
    )
    assert not isinstance(truth, ValueError) and not isinstance(model, ValueError)
    assert truth.metrics == model.metrics and truth.valid_pixels == 3


def test_the_presets_and_the_normalised_protocols() -> None:
    where = {name: p.score_at for name, p in PROTOCOLS.items()}
    assert where == {
        "paper": "model",
        "normalised": "model",
        "kitti": "truth",
        "kitti-eigen": "truth",
        "kitti-full": "truth",
        "nyu": "truth",
    }
    assert "scored at the ground truth's resolution" in PROTOCOLS["kitti"].summary()
    assert "scored at the model's size" in PROTOCOLS["paper"].summary()
    with pytest.raises(ValueError, match="scores at the model's size only"):
        get_protocol("paper", score_at="truth")
    with pytest.raises(ValueError, match="unknown score_at 'full'"):
        get_protocol("kitti", score_at="full")
    # a protocol made in code: truth for metres, model for normalised maps
    assert Protocol("mine", space="depth", min_value=1e-3, max_value=50.0).score_at == "truth"
    assert Protocol("mine", min_value=1e-3).score_at == "model"
