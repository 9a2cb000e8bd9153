"""Sparsification curves, AUSE and AURG by hand, and the flip uncertainty through evaluate."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.cli import main as cli_main
from ssrdepth.evaluation.evaluate import evaluate_protocols
from ssrdepth.evaluation.metrics import abs_rel, rmse
from ssrdepth.evaluation.uncertainty import SparsificationAccumulator, sparsification_curve
from ssrdepth.models import create_model
from ssrdepth.runtime.confidence import flip_disagreement
from ssrdepth.training.config import apply_overrides, get_preset
from ssrdepth.training.loop import train

from .test_evaluate import TinySet, tiny_data  # noqa: F401  (the fixture)

QUARTERS = (0.0, 0.25, 0.5, 0.75)
PRED = np.array([1.0, 2.0, 3.0, 4.0])
TARGET = np.ones(4)
UNC = np.array([0.1, 0.4, 0.2, 0.3])  # most uncertain: pixel 1, then 3, then 2, then 0


def test_curve_by_hand() -> None:
    # AbsRel terms |p − t| / t = 0, 1, 2, 3. Removing pixel 1, then 3, then 2 leaves {0, 2, 3}, {0, 2}, {0}.
    assert sparsification_curve(PRED, TARGET, UNC, "abs_rel", QUARTERS) == pytest.approx(
        [6 / 4, 5 / 3, 2 / 2, 0.0]
    )
    # RMSE: squares 0, 1, 4, 9.
    assert sparsification_curve(PRED, TARGET, UNC, "rmse", QUARTERS) == pytest.approx(
        [math.sqrt(14 / 4), math.sqrt(13 / 3), math.sqrt(4 / 2), 0.0]
    )
    # Ties count in proportion, never by position: equal uncertainty everywhere keeps the mean 6/4.
    assert sparsification_curve(PRED, TARGET, np.zeros(4), "abs_rel", QUARTERS) == pytest.approx([1.5] * 4)
    # Pixels 1–3 tied (terms 1, 2, 3: mean 2) behind the certain pixel 0: keeping 3, 2, 1 pixels
    # keeps pixel 0 and 2, 1, 0 of the group's mean term.
    tied = np.array([0.1, 0.3, 0.3, 0.3])
    assert sparsification_curve(PRED, TARGET, tied, "abs_rel", QUARTERS) == pytest.approx(
        [6 / 4, (0 + 2 * 2) / 3, (0 + 2) / 2, 0.0]
    )
    # RMSE: squares 0, 1, 4, 9, the group's mean square 14/3.
    assert sparsification_curve(PRED, TARGET, tied, "rmse", QUARTERS) == pytest.approx(
        [math.sqrt(14 / 4), math.sqrt(2 * 14 / 3 / 3), math.sqrt(14 / 3 / 2), 0.0]
    )
    # The same pixels in another order give the same curve (before, ties went by position).
    perm = [2, 0, 3, 1]
    assert sparsification_curve(PRED[perm], TARGET, tied[perm], "abs_rel", QUARTERS) == pytest.approx(
        [6 / 4, 4 / 3, 1.0, 0.0]
    )


def test_curve_equals_the_metric_on_the_kept_pixels() -> None:
    """A second implementation: sort, drop ⌊f·P⌋, call the metric functions of metrics.py."""
    rng = np.random.default_rng(3)
    target = rng.uniform(1.0, 80.0, 503)
    pred = target * rng.uniform(0.6, 1.5, 503)
    unc = rng.uniform(0, 1, 503)
    fractions = (0.0, 0.1, 0.33, 0.5, 0.9, 0.99)
    for measure, fn in (("abs_rel", abs_rel), ("rmse", rmse)):
        expected = []
        for f in fractions:
            keep = np.argsort(unc)[: 503 - int(np.floor(f * 503))]
            expected.append(fn(pred[keep], target[keep]))
        assert sparsification_curve(pred, target, unc, measure, fractions) == pytest.approx(expected)


def test_ause_and_aurg_by_hand() -> None:
    acc = SparsificationAccumulator(("abs_rel",), QUARTERS)
    acc.add_image(PRED, TARGET, UNC)
    s = acc.result()["abs_rel"]
    assert s.oracle == pytest.approx((1.5, 1.0, 0.5, 0.0))  # terms removed largest first: 3, 2, 1
    # model − oracle = 0, 2/3, 1/2, 0; trapezoids of width 1/4.
    assert s.ause == pytest.approx(0.25 * ((0 + 2 / 3) / 2 + (2 / 3 + 1 / 2) / 2 + (1 / 2 + 0) / 2))
    # The random curve comes from a seeded permutation: its area minus the model's.
    x = np.array(QUARTERS)
    assert s.aurg == pytest.approx(np.trapezoid(np.array(s.random) - np.array(s.model), x))
    assert s.images == 1 and len(s.random) == 4 and s.random[0] == pytest.approx(1.5)
    # The true error as the uncertainty is the oracle: AUSE 0.
    perfect = SparsificationAccumulator(("abs_rel", "rmse"), QUARTERS)
    perfect.add_image(PRED, TARGET, np.abs(PRED - TARGET))
    assert {k: v.ause for k, v in perfect.result().items()} == {"abs_rel": 0.0, "rmse": 0.0}


def test_abs_rel_curves_skip_zero_targets() -> None:
    # A protocol that compares zero targets (e.g. `paper`, all pixels): AbsRel divides by the target, so
    # its curves use the two pixels with a target > 0; RMSE uses all four.
    pred, target, unc = np.array([0.5, 2.0, 0.3, 1.5]), np.array([0.0, 1.0, 0.0, 1.0]), UNC
    acc = SparsificationAccumulator(("abs_rel", "rmse"), (0.0, 0.5))
    acc.add_image(pred, target, unc)
    r = acc.result()
    # AbsRel pixels 1 (|2 − 1| / 1 = 1, uncertainty 0.4) and 3 (0.5, 0.3): keep both, then the surer (3).
    assert r["abs_rel"].model == pytest.approx((0.75, 0.5))
    assert r["abs_rel"].oracle == pytest.approx((0.75, 0.5)) and r["abs_rel"].ause == pytest.approx(0.0)
    # RMSE on all four: squared errors 0.25, 1, 0.09, 0.25; removing half drops pixels 1 and 3.
    assert r["rmse"].model == pytest.approx((math.sqrt(1.59 / 4), math.sqrt(0.34 / 2)))
    assert all(np.isfinite(v.ause) for v in r.values())
    # An image whose targets are all zero adds no AbsRel curve (and the result leaves AbsRel out).
    zeros = SparsificationAccumulator(("abs_rel", "rmse"), (0.0, 0.5))
    zeros.add_image(pred, np.zeros(4), unc)
    assert set(zeros.result()) == {"rmse"} and zeros.result()["rmse"].images == 1


class SomeZeroTargets(torch.utils.data.Dataset):
    """Normalised targets 0.5 with the first column 0 (compared by the `paper` protocol's all pixels)."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> dict[str, Any]:
        t = torch.full((1, 4, 12), 0.5)
        t[..., 0] = 0.0
        return {
            "image": t.clone(),
            "target": t,
            "valid_mask": torch.ones_like(t, dtype=torch.bool),
            "depth": t * 0,
        }


def test_evaluate_confidence_under_the_paper_protocol_is_finite() -> None:
    (r,) = evaluate_protocols(Ramp(), SomeZeroTargets(), ["paper"], confidence="flip")
    assert not isinstance(r, ValueError)
    sp = r.extra["sparsification"]
    # At fraction 0 AbsRel is the mean over the 11 columns whose target is 0.5 (the ramp's 2nd to 12th).
    ramp = np.linspace(0.2, 0.8, 12)[1:]
    assert sp["abs_rel"]["model"][0] == pytest.approx(np.mean(np.abs(ramp - 0.5) / 0.5))
    assert np.isfinite(sp["abs_rel"]["ause"]) and np.isfinite(sp["rmse"]["ause"])
    assert sp["abs_rel"]["images"] == sp["rmse"]["images"] == 2


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown sparsification measure 'silog'; valid: abs_rel, rmse"):
        sparsification_curve(PRED, TARGET, UNC, "silog")
    with pytest.raises(ValueError, match=r"fractions must lie in \[0, 1\)"):
        sparsification_curve(PRED, TARGET, UNC, "abs_rel", (0.0, 1.0))
    with pytest.raises(ValueError, match="no image with a compared pixel"):
        SparsificationAccumulator().result()


class Ramp(nn.Module):
    """Ignores the image: a left-to-right ramp 0.2 … 0.8 (not mirror-symmetric, so the flip disagrees)."""

    in_channels = 1
    name = "ramp"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ramp = torch.linspace(0.2, 0.8, x.shape[-1])
        return ramp.expand(x.shape[0], 1, x.shape[-2], -1).clone()


def test_flip_disagreement_by_hand() -> None:
    pred, unc = flip_disagreement(Ramp(), torch.zeros(2, 1, 4, 3))
    assert pred[0, 0, 0].tolist() == pytest.approx([0.2, 0.5, 0.8])
    # Mirrored back, the second pass reads 0.8, 0.5, 0.2: |a − b| / ((a + b) / 2) = 0.6 / 0.5, 0, 0.6 / 0.5.
    assert unc[:, :, :, 0].unique().tolist() == pytest.approx([1.2])
    assert unc[1, 0, 3].tolist() == pytest.approx([1.2, 0.0, 1.2])
    # A network that commutes with the mirror (a per-pixel map) has no disagreement.
    with torch.no_grad():
        _, none = flip_disagreement(nn.Conv2d(1, 1, 1), torch.rand(2, 1, 4, 3))
    assert float(none.abs().max()) == pytest.approx(0.0, abs=1e-6)


class HalfTarget(torch.utils.data.Dataset):
    """Every normalised target 0.5 (all valid): the ramp's error |a − 0.5| grows with its flip disagreement."""

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> dict[str, Any]:
        t = torch.full((1, 4, 12), 0.5)
        return {
            "image": t.clone(),
            "target": t,
            "valid_mask": torch.ones_like(t, dtype=torch.bool),
            "depth": t * 0,
        }


def test_evaluate_scores_the_flip_uncertainty() -> None:
    (r,) = evaluate_protocols(Ramp(), HalfTarget(), ["normalised"], confidence="flip")
    assert not isinstance(r, ValueError)
    sp = r.extra["sparsification"]
    ramp = np.linspace(0.2, 0.8, 12)
    # Fraction 0 keeps every pixel: the plain AbsRel of the ramp against 0.5, and the protocol's own.
    assert sp["abs_rel"]["model"][0] == pytest.approx(np.mean(np.abs(ramp - 0.5) / 0.5))
    assert sp["abs_rel"]["model"][0] == pytest.approx(r.metrics["abs_rel"])
    # The disagreement 2|a − 0.5| / 0.5 orders the pixels exactly as their error: the oracle's curve.
    assert sp["abs_rel"]["ause"] == pytest.approx(0.0, abs=1e-8)  # float32 maps: equal up to rounding
    assert sp["rmse"]["ause"] == pytest.approx(0.0, abs=1e-8)
    assert sp["abs_rel"]["aurg"] > 0.05 and sp["abs_rel"]["images"] == 3
    with pytest.raises(ValueError, match="unknown confidence 'dropout'; valid: head, flip"):
        evaluate_protocols(Ramp(), HalfTarget(), ["normalised"], confidence="dropout")


@pytest.mark.usefixtures("tiny_data")
def test_evaluate_command_writes_the_areas(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    rc = cli_main(
        ["evaluate", "SC", "--width", "0.25", "--size", "12x8", "--protocol", "normalised",
         "--confidence", "flip", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert rc == 0
    md = (out / "evaluate-normalised.md").read_text()
    assert "## Uncertainty `flip`: sparsification" in md and "| AUSE AbsRel ↓ |" in md
    (result,) = json.loads((out / "evaluate-normalised.json").read_text())["results"]
    sp = result["extra"]["sparsification"]
    assert set(sp) == {"abs_rel", "rmse"} and len(sp["abs_rel"]["fractions"]) == 20
    assert sp["abs_rel"]["model"][0] == pytest.approx(result["metrics"]["abs_rel"])
    assert sp["abs_rel"]["images"] == result["images"] == 5


def _trained_head(tmp_path: Path) -> Path:
    """SC at width 0.25 with the uncertainty head, 60 AdamW steps of the likelihood loss on TinySet."""
    cfg = apply_overrides(
        get_preset("synthetic-tiny"),
        [f"out={tmp_path / 'run'}", "model.name=SC", "model.uncertainty=true", "loss=masked_silog_laplace",
         "data.size=8,12", "length=60", "batch_size=5", "eval_every=30", "log_every=10", "optim.name=adamw",
         "optim.lr=0.01", "tensorboard=false", "progress=false", "threads=1", "precision=fp32",
         "channels_last=true"],
    )  # fmt: skip
    result = train(cfg, train_set=TinySet(), val_set=TinySet())
    assert result.best_checkpoint is not None
    return result.best_checkpoint


@pytest.mark.usefixtures("tiny_data")
def test_evaluate_scores_the_trained_head(tmp_path: Path) -> None:
    ckpt = _trained_head(tmp_path)
    out = tmp_path / "eval"
    rc = cli_main(
        ["evaluate", str(ckpt), "--protocol", "normalised", "--confidence", "head", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert rc == 0
    assert "## Uncertainty `head`: sparsification" in (out / "evaluate-normalised.md").read_text()
    (result,) = json.loads((out / "evaluate-normalised.json").read_text())["results"]
    sp = result["extra"]["sparsification"]
    assert sp["abs_rel"]["model"][0] == pytest.approx(result["metrics"]["abs_rel"])
    # The command scores exp(s) of the network's second channel: the same areas by hand.
    net = load_checkpoint(ckpt).build_model().eval()
    data = TinySet()
    with torch.inference_mode():
        out_map = net(data.target)
    # exp in torch, as the command takes it: NumPy's exp may differ in the last bit on some CPUs
    # (AVX-512), and a bit decides the order of two otherwise tied pixels (CI, 2026-12-03).
    b_map = out_map[:, 1].exp()
    acc = SparsificationAccumulator()
    for i in range(len(data)):
        keep = data.valid[i, 0].numpy()
        pred = out_map[i, 0].numpy()[keep].astype(np.float64)
        acc.add_image(pred, data.target[i, 0].numpy()[keep].astype(np.float64), b_map[i].numpy()[keep])
    assert sp["abs_rel"]["ause"] == pytest.approx(acc.result()["abs_rel"].ause, abs=1e-6)
    # The head learned the size of the error: its mean exp(s) started at 0.1 and now is within 2× of
    # the mean absolute log error it makes (the likelihood's minimum, exp(s) = r).
    valid = data.valid
    r = (out_map[:, :1].clamp(min=1e-3).log() - data.target.log()).abs()[valid].mean()
    b = out_map[:, 1:].exp()[valid].mean()
    assert 0.5 < float(b / r) < 2.0
    with pytest.raises(ValueError, match="no trained uncertainty head"):
        evaluate_protocols(create_model("SC", 1, width=0.25), data, ["normalised"], confidence="head")
