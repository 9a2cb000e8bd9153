"""Trivial baselines that every report shows beside the networks, so "better than nothing" is visible.

- :class:`ConstantMap`: one value everywhere — the median of the training split's valid targets.
- :class:`RowPrior`: one value per image row — the per-row median of the training split's valid
  targets. In a street scene seen from a car, depth depends mostly on the row (road near at the
  bottom, far at the horizon), so this prior is a strong floor: a model that does not beat it has not
  learnt to see depth from the image.

Both are ``nn.Module``\\ s with the networks' contract: ``(N, C, H, W)`` images in [0, 1] →
``(N, 1, H, W)`` normalised maps in [0, 1] (the image content is ignored), so
:func:`ssrdepth.evaluation.evaluate.evaluate_model` evaluates them like any model, in the training
data's :class:`~ssrdepth.core.scale.TargetScale`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset


class ConstantMap(nn.Module):
    """The same normalised value at every pixel."""

    def __init__(self, value: float, name: str = "constant") -> None:
        super().__init__()
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"a normalised constant map needs a value in [0, 1], got {value}")
        self.name = name
        self.value = float(value)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        n, _, h, w = image.shape
        return torch.full((n, 1, h, w), self.value, dtype=torch.float32, device=image.device)


class RowPrior(nn.Module):
    """One normalised value per row, ``rows`` of shape ``(H,)``; at another image height the rows are
    resampled linearly (the prior is a function of the relative image row)."""

    def __init__(self, rows: torch.Tensor, name: str = "row prior") -> None:
        super().__init__()
        if rows.dim() != 1 or rows.numel() < 1:
            raise ValueError(f"rows must be a 1-D tensor (H,), got shape {tuple(rows.shape)}")
        self.name = name
        self.register_buffer("rows", rows.float().clamp(0.0, 1.0))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        n, _, h, w = image.shape
        rows: torch.Tensor = self.rows.to(image.device)  # type: ignore[assignment]
        if rows.numel() != h:
            rows = F.interpolate(rows.view(1, 1, -1), size=h, mode="linear", align_corners=False).view(-1)
        return rows.view(1, 1, h, 1).expand(n, 1, h, w).contiguous()


def _valid_targets(
    dataset: Dataset[dict[str, Any]], max_samples: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(dataset)  # type: ignore[arg-type]
    if max_samples is not None:
        n = min(n, max_samples)
    if n == 0:
        raise ValueError("cannot fit a baseline on an empty training split")
    targets, valid = [], []
    for i in range(n):
        s = dataset[i]
        targets.append(s["target"][0])
        valid.append(s["valid_mask"][0].bool() & torch.isfinite(s["target"][0]))
    return torch.stack(targets), torch.stack(valid)


def fit_baselines(
    dataset: Dataset[dict[str, Any]], max_samples: int | None = None
) -> tuple[ConstantMap, RowPrior]:
    """Both baselines from one pass over ``dataset`` (a training split).

    Raises:
        ValueError: the split is empty or has no valid target pixel.
    """
    targets, valid = _valid_targets(dataset, max_samples)
    return _constant(targets, valid), _row_prior(targets, valid)


def fit_constant(dataset: Dataset[dict[str, Any]], max_samples: int | None = None) -> ConstantMap:
    """The median of all valid normalised targets of ``dataset`` (a training split).

    Raises:
        ValueError: the split is empty or has no valid target pixel.
    """
    return _constant(*_valid_targets(dataset, max_samples))


def _constant(targets: torch.Tensor, valid: torch.Tensor) -> ConstantMap:
    if not bool(valid.any()):
        raise ValueError("the training split has no valid target pixel: no baseline can be fitted")
    return ConstantMap(float(targets[valid].median()))


def fit_row_prior(dataset: Dataset[dict[str, Any]], max_samples: int | None = None) -> RowPrior:
    """The per-row median of the valid normalised targets of ``dataset`` (a training split, all of
    the same size ``(1, H, W)``). A row without any valid target takes the value of the nearest row
    that has one.

    Raises:
        ValueError: the split is empty or has no valid target pixel.
    """
    return _row_prior(*_valid_targets(dataset, max_samples))


def _row_prior(targets: torch.Tensor, valid: torch.Tensor) -> RowPrior:
    h = targets.shape[1]
    rows = torch.full((h,), float("nan"))
    for r in range(h):
        values = targets[:, r][valid[:, r]]
        if values.numel():
            rows[r] = values.median()
    known = torch.nonzero(~torch.isnan(rows)).view(-1)
    if known.numel() == 0:
        raise ValueError("the training split has no valid target pixel: no baseline can be fitted")
    for r in range(h):
        if torch.isnan(rows[r]):
            rows[r] = rows[known[(known - r).abs().argmin()]]
    return RowPrior(rows)
