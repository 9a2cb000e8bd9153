"""Report building blocks: tables, ranking agreement (by hand), figures written as PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssrdepth.experiments.paper_results import PAPER_MEASURES, TABLE1
from ssrdepth.experiments.report import (
    comparison_table,
    qualitative_figure,
    ranking_agreement,
    training_curves_figure,
)


def test_ranking_agreement_by_hand() -> None:
    # Pairs: (A,B) and (A,C) ordered alike, (B,C) reversed → τ = (2 − 1) / 3; ρ = 1 − 6·2 / (3·8) = 0.5.
    r = ranking_agreement({"A": 0.1, "B": 0.2, "C": 0.3}, {"A": 1.0, "B": 3.0, "C": 2.0})
    assert r["kendall_tau"] == pytest.approx(1 / 3)
    assert r["spearman_rho"] == pytest.approx(0.5)
    assert (r["concordant_pairs"], r["pairs"], r["same_best"]) == (2, 3, True)
    assert r["paper"] == ["A", "C", "B"]


def test_paper_table1_ranks_scrx_best_by_rmse() -> None:
    rmse = {k: v["RMSE"] for k, v in TABLE1.items()}
    r = ranking_agreement(rmse, rmse)
    assert r["ours"][0] == "SCRX" and r["kendall_tau"] == pytest.approx(1.0)


def test_comparison_table_layout() -> None:
    ours = {"SC": {"RMSE": 0.2, "MSE": 0.05}, "SCRX": {"RMSE": 0.1, "MSE": 0.07}}
    md = comparison_table(["RMSE", "MSE"], ours, TABLE1)
    lines = md.strip().splitlines()
    assert lines[0] == "| measure | SC (ours) | SC (paper) | SCRX (ours) | SCRX (paper) |"
    assert lines[2] == "| RMSE | 0.2000 | 0.1082 | **0.1000** | 0.1051 |"
    assert lines[3] == "| MSE | **0.0500** | 0.0132 | 0.0700 | 0.0124 |"
    assert set(PAPER_MEASURES) == set(TABLE1["SC"])


def test_figures_are_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    imgs = [rng.random((1, 37, 147)) for _ in range(2)]
    p = qualitative_figure(tmp_path / "fig.png", imgs, imgs, {"C": imgs, "SC": imgs})
    w, h = Image.open(p).size
    assert w > h > 50
    hist = {"C": [{"step": 1, "train_loss": 1.0}, {"step": 2, "train_loss": 0.5, "val_loss": 0.6}]}
    assert Image.open(training_curves_figure(tmp_path / "curves.png", hist)).size[0] > 100
