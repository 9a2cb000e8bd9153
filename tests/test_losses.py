"""Loss tests with hand-computed values."""

from __future__ import annotations

import pytest
import torch

from ssrdepth.losses import get_loss, l2_paper, masked_l2_paper, masked_mse, mse

# Two 1×1×2×2 images. Errors: image 0 = (0.1, 0, 0.2, 0), image 1 = (0.5, 0, 0, 0.3).
PRED = torch.tensor([[[[0.6, 0.5], [0.7, 0.1]]], [[[1.0, 0.2], [0.4, 0.0]]]])
TARGET = torch.tensor([[[[0.5, 0.5], [0.5, 0.1]]], [[[0.5, 0.2], [0.4, 0.3]]]])
MASK = torch.tensor([[[[True, True], [False, True]]], [[[True, True], [True, False]]]])


def test_l2_paper_by_hand() -> None:
    # Σ squared errors: 0.01 + 0.04 + 0.25 + 0.09 = 0.39; /(2·n), n = 2 → 0.0975.
    assert float(l2_paper(PRED, TARGET)) == pytest.approx(0.0975)


def test_mse_by_hand() -> None:
    assert float(mse(PRED, TARGET)) == pytest.approx(0.39 / 8)


def test_l2_paper_is_t_over_two_times_mse() -> None:
    p, t = torch.rand(3, 1, 37, 147), torch.rand(3, 1, 37, 147)
    assert float(l2_paper(p, t)) == pytest.approx(37 * 147 / 2 * float(mse(p, t)), rel=1e-5)


def test_masked_losses_by_hand() -> None:
    # Valid errors: 0.01 (img 0) and 0.25 (img 1); 0.04 and 0.09 are masked out. 6 valid pixels.
    assert float(masked_l2_paper(PRED, TARGET, MASK)) == pytest.approx(0.26 / 4)
    assert float(masked_mse(PRED, TARGET, MASK)) == pytest.approx(0.26 / 6)


def test_masked_pixels_never_change_the_loss() -> None:
    other = PRED.clone()
    other[~MASK] = 0.987
    for fn in (masked_l2_paper, masked_mse):
        assert float(fn(other, TARGET, MASK)) == pytest.approx(float(fn(PRED, TARGET, MASK)))


def test_all_invalid_gives_zero_and_no_nan() -> None:
    none = torch.zeros_like(MASK)
    p = PRED.clone().requires_grad_()
    loss = masked_mse(p, TARGET, none)
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert p.grad is not None and torch.all(p.grad == 0)


def test_errors() -> None:
    with pytest.raises(ValueError, match="shape"):
        mse(PRED, TARGET[:, :, :1])
    with pytest.raises(ValueError, match="valid losses: l2_paper, mse, masked_l2_paper, masked_mse"):
        get_loss("l1")


def test_silog_l1_berhu_by_hand() -> None:
    from ssrdepth.losses import masked_berhu, masked_l1, masked_silog

    target = torch.full((1, 1, 2, 2), 0.5)
    g = torch.tensor([0.1, -0.1, 0.2, 0.0]).view(1, 1, 2, 2)
    # g = log ŷ − log y: mean g = 0.05, mean g² = 0.015 → 10 · sqrt(0.015 − 0.85 · 0.05²) = 1.134681...
    assert float(masked_silog(target * torch.exp(g), target, None)) == pytest.approx(
        10 * 0.012875**0.5, rel=1e-5
    )
    # Errors 0.1, 0.5, 0.3, 0 → L1 = 0.225; berHu with c = 0.2 · 0.5 = 0.1: 0.1, (0.25 + 0.01)/0.2,
    # (0.09 + 0.01)/0.2, 0 → (0.1 + 1.3 + 0.5) / 4 = 0.475.
    pred = target + torch.tensor([0.1, 0.5, -0.3, 0.0]).view(1, 1, 2, 2)
    assert float(masked_l1(pred, target, None)) == pytest.approx(0.225)
    assert float(masked_berhu(pred, target, None)) == pytest.approx(0.475)
    # With a mask, only the valid pixels count: errors 0.1 and 0 → L1 0.05.
    mask = torch.tensor([True, False, False, True]).view(1, 1, 2, 2)
    assert float(masked_l1(pred, target, mask)) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "name", ["masked_mse", "masked_l2_paper", "masked_silog", "masked_l1", "masked_berhu"]
)
def test_invalid_pixels_never_teach(name: str) -> None:
    # The gradient of every masked loss is exactly zero at pixels whose target is invalid, whatever
    # their (wild) target value, and non-zero at valid pixels with an error.
    torch.manual_seed(0)
    pred = torch.rand(2, 1, 5, 7).clamp(0.05, 0.95).requires_grad_(True)
    target = torch.rand(2, 1, 5, 7).clamp(0.05, 0.95)
    valid = torch.rand(2, 1, 5, 7) > 0.4
    target = torch.where(valid, target, torch.full_like(target, 0.0))  # invalid = 0 ("infinitely far")
    get_loss(name)(pred, target, valid).backward()
    assert pred.grad is not None
    assert bool((pred.grad[~valid] == 0).all())
    assert bool((pred.grad[valid] != 0).any())
