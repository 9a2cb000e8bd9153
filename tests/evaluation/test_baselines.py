"""Baselines by hand: the constant map and the row prior, fitted and evaluated."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from ssrdepth.evaluation.baselines import ConstantMap, RowPrior, fit_baselines, fit_constant, fit_row_prior
from ssrdepth.experiments.report_writer import seed_section


class Rows(torch.utils.data.Dataset[dict[str, Any]]):
    """Three 4×2 samples; row r of sample i holds value (r + 1) / 10 + i / 100; row 1 is never valid."""

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> dict[str, Any]:
        target = ((torch.arange(4).float() + 1) / 10 + i / 100).view(1, 4, 1).expand(1, 4, 2).contiguous()
        valid = torch.ones(1, 4, 2, dtype=torch.bool)
        valid[:, 1] = False
        return {"image": torch.rand(1, 4, 2), "target": target, "valid_mask": valid}


def test_row_prior_is_the_per_row_median_and_fills_empty_rows() -> None:
    prior = fit_row_prior(Rows())
    # Per-row medians over the three samples: 0.11, (none → nearest row 0: 0.11), 0.31, 0.41.
    torch.testing.assert_close(prior.rows, torch.tensor([0.11, 0.11, 0.31, 0.41]))
    out = prior(torch.zeros(2, 3, 4, 5))
    assert out.shape == (2, 1, 4, 5) and float(out[1, 0, 3, 4]) == pytest.approx(0.41)
    # At twice the height the rows are resampled linearly (half-pixel centres).
    tall = prior(torch.zeros(1, 1, 8, 1))[0, 0, :, 0]
    assert float(tall[0]) == pytest.approx(0.11) and float(tall[-1]) == pytest.approx(0.41)


def test_constant_is_the_median_of_all_valid_targets() -> None:
    # Valid values: rows 0, 2, 3 of three samples, two columns each: median of
    # {0.10, 0.11, 0.12, 0.30, 0.31, 0.32, 0.40, 0.41, 0.42} (each twice) = 0.31 (torch: lower median).
    const = fit_constant(Rows())
    assert const.value == pytest.approx(0.31)
    assert torch.equal(const(torch.zeros(1, 1, 2, 3)), torch.full((1, 1, 2, 3), const.value))
    # One pass fits both, with the same values as the separate fits.
    both = fit_baselines(Rows())
    assert both[0].value == const.value and torch.equal(both[1].rows, fit_row_prior(Rows()).rows)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        ConstantMap(1.5)
    with pytest.raises(ValueError, match="1-D"):
        RowPrior(torch.zeros(2, 2))


def test_seed_section_applies_the_two_standard_error_rule() -> None:
    def run(rmse: float, std: float) -> dict[str, Any]:
        m = {"rmse": rmse, "abs_rel": 0.1, "delta1": 0.9}
        return {"results": {"kitti": {"metrics": m, "std": {**{k: 0.0 for k in m}, "rmse": std}, "seeds": 4}}}

    # SC vs C: Δ = 0.5, SE = sqrt((0.2² + 0.2²) / 4) = 0.1414 → 2 SE = 0.2828 < 0.5: outside the noise.
    # SCRX vs SC: Δ = 0.1 < 2 SE = 0.2828: inside.
    text = "\n".join(seed_section({"SCRX": run(4.0, 0.2), "SC": run(4.1, 0.2), "C": run(4.6, 0.2)}))
    assert "| SCRX < SC | 0.1000 | 0.2828 | no | same |" in text
    assert "| SC < C | 0.5000 | 0.2828 | yes | same |" in text
    assert "| SCRX < C | 0.6000 | 0.2828 | yes | same |" in text
    assert "2 of 3 pairwise orders are outside the seed noise; 2 of those agree" in text
