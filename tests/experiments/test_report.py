"""Report building blocks: tables, ranking agreement (by hand), figures whose drawn data is checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
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


def test_paper_table1_rmse_and_ard_rankings_by_hand() -> None:
    # Table 1's RMSE, best first: SCRX 0.1051, SC 0.1082, SCRXU 0.1218, C 0.1301, SCRDU 0.1348, AH 0.1496;
    # its ARD: SCRDU 0.4350, AH 0.4540, SCRX 0.4625, SCRXU 0.4661, SC 0.4813, C 0.5858.
    rmse = {k: v["RMSE"] for k, v in TABLE1.items()}
    ard = {k: v["ARD"] for k, v in TABLE1.items()}
    r = ranking_agreement(rmse, ard)
    assert r["ours"] == ["SCRX", "SC", "SCRXU", "C", "SCRDU", "AH"]
    assert r["paper"] == ["SCRDU", "AH", "SCRX", "SCRXU", "SC", "C"]
    # In RMSE order the ARD ranks are 3, 5, 4, 6, 1, 2. Concordant pairs (a later, larger ARD rank):
    # 3 → {5, 4, 6}, 5 → {6}, 4 → {6}, 6 → {}, 1 → {2}: 6 of 15, so 9 discordant, τ = (6 − 9) / 15.
    assert (r["concordant_pairs"], r["pairs"], r["same_best"]) == (6, 15, False)
    assert r["kendall_tau"] == pytest.approx(-0.2)
    # Rank differences −2, −3, −1, −2, 4, 4: Σd² = 50, ρ = 1 − 6·50 / (6·35) = −3/7.
    assert r["spearman_rho"] == pytest.approx(-3 / 7)


def test_comparison_table_layout() -> None:
    ours = {"SC": {"RMSE": 0.2, "MSE": 0.05}, "SCRX": {"RMSE": 0.1, "MSE": 0.07}}
    md = comparison_table(["RMSE", "MSE"], ours, TABLE1)
    lines = md.strip().splitlines()
    assert lines[0] == "| measure | SC (ours) | SC (paper) | SCRX (ours) | SCRX (paper) |"
    assert lines[2] == "| RMSE | 0.2000 | 0.1082 | **0.1000** | 0.1051 |"
    assert lines[3] == "| MSE | **0.0500** | 0.0132 | 0.0700 | 0.0124 |"
    assert set(PAPER_MEASURES) == set(TABLE1["SC"])


def _drawn_figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every matplotlib figure saved from now on (its artists stay readable after plt.close)."""
    saved: list[Figure] = []
    savefig = Figure.savefig

    def record(self: Figure, *args: Any, **kwargs: Any) -> None:
        saved.append(self)
        savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved


def test_qualitative_figure_shows_each_array_in_its_panel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = _drawn_figures(monkeypatch)
    rng = np.random.default_rng(0)
    inputs = [rng.random((1, 37, 147)) for _ in range(2)]
    targets = [rng.random((1, 37, 147)) * (r + 1) / 2 for r in range(2)]  # row 1 twice as deep
    preds = {
        "C": [rng.random((1, 37, 147)) for _ in range(2)],
        "SC": [rng.random((37, 147)) for _ in range(2)],
    }
    p = qualitative_figure(tmp_path / "fig.png", inputs, targets, preds)
    w, h = Image.open(p).size
    assert w > h > 50
    (fig,) = drawn
    axes = np.asarray(fig.axes).reshape(2, 4)
    for r in range(2):
        panels = [inputs[r], targets[r], preds["C"][r], preds["SC"][r]]
        titles = ["input", "target", "C", "SC"]
        # one range per row, 0 … the target's 99th percentile (worked out here with NumPy)
        vmax = float(np.percentile(targets[r], 99))
        for c, (ax, array, title) in enumerate(zip(axes[r], panels, titles, strict=True)):
            (image,) = ax.get_images()
            assert ax.get_title() == title
            np.testing.assert_array_equal(image.get_array(), np.squeeze(array))
            assert image.get_clim() == pytest.approx((0.0, 1.0) if c == 0 else (0.0, vmax))
            assert image.get_cmap().name == ("gray" if c == 0 else "magma")
    assert axes[0, 1].get_images()[0].get_clim()[1] < axes[1, 1].get_images()[0].get_clim()[1]


def test_training_curves_figure_plots_the_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = _drawn_figures(monkeypatch)
    hist = {
        "C": [{"step": 1, "train_loss": 1.0}, {"step": 2, "train_loss": 0.5, "val_loss": 0.6}],
        "SC": [{"step": 1, "train_loss": 2.0, "val_loss": 1.5}, {"step": 3, "train_loss": 0.25}],
    }
    assert Image.open(training_curves_figure(tmp_path / "curves.png", hist)).size[0] > 100
    (fig,) = drawn
    train, val = fig.axes[:2]
    got = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in train.get_lines()}
    assert got == {"C": ([1, 2], [1.0, 0.5]), "SC": ([1, 3], [2.0, 0.25])}
    got = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in val.get_lines()}
    assert got == {"C": ([2], [0.6]), "SC": ([1], [1.5])}
    assert train.get_yscale() == val.get_yscale() == "log"
