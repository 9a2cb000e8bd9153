"""Loss tests with hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from ssrdepth.losses import (
    MASKED_LOSSES,
    UNCERTAINTY_LOSSES,
    UNCERTAINTY_WEIGHT,
    get_loss,
    l2_paper,
    laplacian_nll,
    masked_l2_paper,
    masked_mse,
    masked_silog,
    masked_silog_laplace,
    mse,
)

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


def test_laplacian_likelihood_and_its_gradient_by_hand() -> None:
    # Three pixels: p = 0.5 vs t = 0.25 (r = log 2, s = 0); p = 0.2 vs t = 0.4 (r = log 2, s = log 2);
    # the third is invalid. Per pixel r·exp(−s) + s: log 2, then log 2 / 2 + log 2; mean over n = 2.
    log2 = math.log(2.0)
    pred = torch.tensor([[[[0.5, 0.2, 0.9]]]], requires_grad=True)
    s = torch.tensor([[[[0.0, log2, 3.0]]]], requires_grad=True)
    target = torch.tensor([[[[0.25, 0.4, 0.1]]]])
    valid = torch.tensor([[[[True, True, False]]]])
    nll = laplacian_nll(pred, s, target, valid)
    assert float(nll.detach()) == pytest.approx(1.25 * log2)
    nll.backward()
    assert pred.grad is not None and s.grad is not None
    # ∂/∂s = (1 − r·exp(−s)) / n; ∂/∂p = sign(log p − log t)·exp(−s) / (p·n); 0 where invalid.
    assert s.grad.flatten().tolist() == pytest.approx([(1 - log2) / 2, (1 - log2 / 2) / 2, 0.0])
    assert pred.grad.flatten().tolist() == pytest.approx([1 / (0.5 * 2), -0.5 / (0.2 * 2), 0.0])
    # Over s alone the minimum is at exp(s) = r: the head learns the expected absolute log error.
    grid = torch.linspace(-3, 1, 4001).view(1, 1, 1, -1)
    r = torch.full_like(grid, 0.25)
    best = grid.flatten()[torch.argmin(r * torch.exp(-grid) + grid)]
    assert math.exp(float(best)) == pytest.approx(0.25, rel=2e-3)


def test_silog_laplace_leaves_the_depth_to_silog() -> None:
    torch.manual_seed(0)
    p, t = torch.rand(2, 1, 4, 5) * 0.9 + 0.05, torch.rand(2, 1, 4, 5) * 0.9 + 0.05
    s = torch.randn(2, 1, 4, 5) * 0.3
    valid = torch.rand(2, 1, 4, 5) > 0.2
    out = torch.cat([p, s], dim=1).requires_grad_(True)
    loss = masked_silog_laplace(out, t, valid)
    expected = masked_silog(p, t, valid) + UNCERTAINTY_WEIGHT * laplacian_nll(p, s, t, valid)
    assert float(loss.detach()) == pytest.approx(float(expected))
    loss.backward()
    assert out.grad is not None
    # The map's gradient is SILog's alone (the likelihood sees it detached); s gets w × the NLL's.
    p1 = p.clone().requires_grad_(True)
    masked_silog(p1, t, valid).backward()
    assert torch.allclose(out.grad[:, :1], p1.grad)  # type: ignore[arg-type]
    s1 = s.clone().requires_grad_(True)
    (UNCERTAINTY_WEIGHT * laplacian_nll(p, s1, t, valid)).backward()
    assert torch.allclose(out.grad[:, 1:], s1.grad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the 2-channel output"):
        masked_silog_laplace(p, t, valid)
    assert "masked_silog_laplace" in MASKED_LOSSES and "masked_silog_laplace" in UNCERTAINTY_LOSSES
