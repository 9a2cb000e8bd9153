"""Training losses on normalised maps ``(N, 1, H, W)`` in [0, 1].

- ``l2_paper`` — eq. 1 of the paper: L2 = 1/(2n) Σᵢ ‖y(i) − y′(i)‖², a per-image *sum* of squared
  errors, halved, averaged over the n images of the batch (TensorFlow's ``l2_loss`` / n). It equals
  T/2 × the per-pixel MSE (T = H·W), so plain SGD needs a learning rate about T/2 smaller than for ``mse``.
- ``mse`` — the per-pixel mean of squared errors over the batch.
- ``masked_l2_paper`` / ``masked_mse`` — the same over the pixels whose ``valid_mask`` is true only.
  The masked per-image sum simply drops invalid pixels; the masked mean divides by the number of valid
  pixels in the batch (0 when there are none, so an all-invalid batch contributes no gradient).
- ``masked_silog`` — the scale-invariant log loss of Eigen, Puhrsch & Fergus (NIPS 2014, eq. 4) in the
  form of BTS (Lee et al. 2019, eq. 3): with g = log ŷ − log y over the valid pixels of the batch,
  ``α · sqrt(mean(g²) − λ · mean(g)²)``, λ = 0.85, α = 10. For a disparity target log ŷ − log y is
  minus the log error of depth (log d = log f·B − log Z), so it weighs near and far alike, as the
  relative depth measures (AbsRel, δ < 1.25) do.
- ``masked_l1`` — mean absolute error over the valid pixels.
- ``masked_berhu`` — the reverse Huber loss of Laina et al. (3DV 2016, eq. 2): |e| for |e| ≤ c,
  (e² + c²) / (2c) beyond, with c = 0.2 · max |e| over the valid pixels of the batch.

- ``masked_silog_laplace`` — for networks with the ``uncertainty`` option, whose output is
  ``(N, 2, H, W)`` (the map p, then the log-scale s): ``masked_silog(p) + w · laplacian_nll(sg(p), s)``
  with sg the stop-gradient and w = :data:`UNCERTAINTY_WEIGHT` (:func:`masked_silog_laplace`).

Every ``masked_*`` loss honours ``valid_mask`` (pixels without a target never teach: their gradient is
zero); without a mask it uses every pixel. :data:`MASKED_LOSSES` lists them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

LossFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _check(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.dim() < 2:
        raise ValueError(f"expected a batch (N, ...), got shape {tuple(pred.shape)}")
    if valid_mask is not None and valid_mask.shape != target.shape:
        raise ValueError(f"valid_mask shape {tuple(valid_mask.shape)} != target shape {tuple(target.shape)}")


def l2_paper(
    pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 1: ``sum((pred - target)**2) / (2 * n)`` with n = batch size. ``valid_mask`` is ignored."""
    _check(pred, target, None)
    return (pred - target).pow(2).sum() / (2 * pred.shape[0])


def mse(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel mean squared error over the whole batch. ``valid_mask`` is ignored."""
    _check(pred, target, None)
    return (pred - target).pow(2).mean()


def masked_l2_paper(
    pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None
) -> torch.Tensor:
    """Eq. 1 over valid pixels only: ``sum(mask · (pred − target)²) / (2n)``."""
    if valid_mask is None:
        return l2_paper(pred, target)
    _check(pred, target, valid_mask)
    return torch.where(valid_mask, (pred - target).pow(2), 0.0).sum() / (2 * pred.shape[0])


def masked_mse(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error over valid pixels of the batch (0 if none is valid)."""
    if valid_mask is None:
        return mse(pred, target)
    _check(pred, target, valid_mask)
    sq = torch.where(valid_mask, (pred - target).pow(2), 0.0)
    return sq.sum() / valid_mask.sum().clamp(min=1)


#: SILog constants of BTS (Lee et al. 2019): variance weight λ and output scale α.
SILOG_LAMBDA = 0.85
SILOG_ALPHA = 10.0
#: Smallest prediction/target inside the logarithm of SILog (normalised units; 1e-3 of a 96 px range
#: is 0.1 px of disparity, farther than anything in a street scene).
LOG_EPS = 1e-3
#: berHu threshold as a fraction of the batch's largest absolute error (Laina et al. 2016).
BERHU_FRACTION = 0.2


def _valid(target: torch.Tensor, valid_mask: torch.Tensor | None) -> torch.Tensor:
    return torch.ones_like(target, dtype=torch.bool) if valid_mask is None else valid_mask


def masked_silog(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> torch.Tensor:
    """Scale-invariant log loss (BTS form) over valid pixels with a positive target (0 if none)."""
    _check(pred, target, valid_mask)
    valid = _valid(target, valid_mask) & (target > 0)
    n = valid.sum()
    g = torch.where(valid, torch.log(pred.clamp(min=LOG_EPS)) - torch.log(target.clamp(min=LOG_EPS)), 0.0)
    mean_g = g.sum() / n.clamp(min=1)
    mean_g2 = g.pow(2).sum() / n.clamp(min=1)
    # The small floor keeps the square root's gradient finite when every error is zero.
    return SILOG_ALPHA * (mean_g2 - SILOG_LAMBDA * mean_g.pow(2)).clamp(min=1e-12).sqrt() * (n > 0)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean absolute error over valid pixels of the batch (0 if none is valid)."""
    _check(pred, target, valid_mask)
    valid = _valid(target, valid_mask)
    return torch.where(valid, (pred - target).abs(), 0.0).sum() / valid.sum().clamp(min=1)


def masked_berhu(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None) -> torch.Tensor:
    """Reverse Huber (berHu) over valid pixels, c = 0.2 · max |error| of the batch (0 if none valid)."""
    _check(pred, target, valid_mask)
    valid = _valid(target, valid_mask)
    err = torch.where(valid, (pred - target).abs(), 0.0)
    c = (BERHU_FRACTION * err.max().detach()).clamp(min=1e-12)
    per_pixel = torch.where(err <= c, err, (err.pow(2) + c * c) / (2 * c))
    return torch.where(valid, per_pixel, 0.0).sum() / valid.sum().clamp(min=1)


#: Weight w of the likelihood beside masked SILog in :func:`masked_silog_laplace`. Adam(W) is invariant to
#: a loss's scale per parameter, so the head's own weights learn alike at any w; w only sets how much
#: the likelihood moves the features the head shares with the depth: small, so depth trains as the recipe.
UNCERTAINTY_WEIGHT = 0.1


def laplacian_nll(
    pred: torch.Tensor, log_scale: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None
) -> torch.Tensor:
    """The log-Laplacian negative log-likelihood over valid pixels with a positive target (0 if none).

    With r = |log p − log t| (p, t floored at :data:`LOG_EPS`) and s = log b the predicted log-scale,
    a Laplacian on log t of mean log p and scale b has −log likelihood r / b + log b + log 2, so

        NLL = mean over valid pixels of ( r · exp(−s) + s ),

    the constant dropped (Kendall & Gal 2017, "What uncertainties do we need in Bayesian deep learning",
    eq. 8 with the L1 norm; Poggi et al. 2020, "On the uncertainty of self-supervised monocular depth
    estimation", the "log-Laplacian" of their Sec. 3.2). Its minimum over s is at b = r: ``exp(s)``
    learns the expected absolute log error. Gradients, per valid pixel over n of them: ∂/∂s =
    (1 − r·exp(−s)) / n, ∂/∂log p = sign(log p − log t)·exp(−s) / n.

    pred, log_scale, target: ``(N, 1, H, W)``: p normalised (0, 1], s unbounded, t normalised.
    valid_mask: ``(N, 1, H, W)`` bool or ``None`` (every pixel with t > 0).

    Raises:
        ValueError: shapes that differ.
    """
    _check(pred, target, valid_mask)
    if log_scale.shape != target.shape:
        raise ValueError(f"log-scale shape {tuple(log_scale.shape)} != target shape {tuple(target.shape)}")
    valid = _valid(target, valid_mask) & (target > 0)
    r = (torch.log(pred.clamp(min=LOG_EPS)) - torch.log(target.clamp(min=LOG_EPS))).abs()
    per_pixel = torch.where(valid, r * torch.exp(-log_scale) + log_scale, 0.0)
    return per_pixel.sum() / valid.sum().clamp(min=1)


def masked_silog_laplace(
    output: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None
) -> torch.Tensor:
    """The recipe's loss with the trained uncertainty: ``masked_silog(p) + w · laplacian_nll(sg(p), s)``.

    output: ``(N, 2, H, W)``, the map p then its log-scale s (the ``uncertainty`` model option).
    The depth's gradient comes from masked SILog alone (p is detached in the likelihood), so the map
    trains as :func:`masked_silog` trains it, and pixels the head calls unsure are not down-weighted in
    the depth (Kendall & Gal's attenuation, which lets a small network give up on hard pixels); s
    learns the error that map makes. w = :data:`UNCERTAINTY_WEIGHT`.

    Raises:
        ValueError: an output that is not 2-channel (a network without the ``uncertainty`` option), or
        shapes that differ.
    """
    if output.dim() != 4 or output.shape[1] != 2:
        raise ValueError(
            f"masked_silog_laplace needs the 2-channel output of a network with the uncertainty option "
            f"(model.options.uncertainty=true), got shape {tuple(output.shape)}"
        )
    pred, log_scale = output[:, :1], output[:, 1:]
    nll = laplacian_nll(pred.detach(), log_scale, target, valid_mask)
    return masked_silog(pred, target, valid_mask) + UNCERTAINTY_WEIGHT * nll


LOSSES: dict[str, LossFn] = {
    "l2_paper": l2_paper,
    "mse": mse,
    "masked_l2_paper": masked_l2_paper,
    "masked_mse": masked_mse,
    "masked_silog": masked_silog,
    "masked_l1": masked_l1,
    "masked_berhu": masked_berhu,
    "masked_silog_laplace": masked_silog_laplace,
}
#: Losses that train the uncertainty head: they take, and need, the 2-channel output.
UNCERTAINTY_LOSSES = ("masked_silog_laplace",)
#: Losses that take the valid mask (the others train every pixel, as the paper's eq. 1 does).
MASKED_LOSSES = tuple(name for name in LOSSES if name.startswith("masked_"))


def get_loss(name: str) -> LossFn:
    """Loss function by name; ValueError listing the valid names otherwise."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}") from None
