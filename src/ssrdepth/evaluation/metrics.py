"""Error measures for depth maps: pure functions, one definition each, on NumPy arrays or torch tensors.

Every function takes ``pred`` and ``target`` of the same shape (any shape; usually the valid pixels of
one image, already selected by a :class:`ssrdepth.evaluation.protocols.Protocol`) and returns a Python ``float``.
Arithmetic is done in float64 whatever the input dtype, on the input's own device for tensors.

Two sets are defined (``y`` = target, ``y′`` = prediction, means over the pixels given):

- **The paper's six, exactly as printed** (Valdez Rodríguez et al. 2020, eqs. 2–7), meant for
  normalised [0, 1] maps: RMSE, MSE, ARD and SRD — which divide by the *prediction* — LRMSE and
  "LRMSE-SI", which is the mean squared log difference (it has no scale-invariant term). Logs and
  divisions clamp their argument with an explicit ``eps``: ``max(x, eps)``.
- **The standard set** (Eigen, Puhrsch & Fergus 2014, "Depth map prediction from a single image
  using a multi-scale deep network", as used by the field): AbsRel and SqRel (divided by the *ground
  truth*), RMSE, RMSE log, SILog = 100·√(mean(d²) − mean(d)²) with d = log y′ − log y (the form of
  the KITTI benchmark and BTS), log10 and the thresholds δ < 1.25, 1.25², 1.25³. These need strictly
  positive inputs (a protocol's caps guarantee that) and raise ``ValueError`` otherwise.

Bad input raises ``ValueError`` with the reason: shapes that differ, no pixels at all, or any NaN/inf.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)
Array = np.ndarray | torch.Tensor
MetricFn = Callable[[Any, Any], float]


# --------------------------------------------------------------------------------------------- helpers
def _prepare(pred: ArrayT, target: ArrayT, name: str, positive: bool = False) -> tuple[ArrayT, ArrayT]:
    """Check shapes and values; return both as float64 of the same kind (NumPy or torch)."""
    if isinstance(pred, torch.Tensor) != isinstance(target, torch.Tensor):
        raise ValueError(f"{name}: pred and target must both be NumPy arrays or both torch tensors")
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(
            f"{name}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}"
        )
    if math.prod(pred.shape) == 0:
        raise ValueError(f"{name}: no pixels to evaluate (empty input: is every pixel masked out?)")
    p: Any
    t: Any
    if isinstance(pred, torch.Tensor):
        p, t = pred.detach().double(), target.detach().double()
        finite = bool(torch.isfinite(p).all()) and bool(torch.isfinite(t).all())
        nonpos = positive and (bool((p <= 0).any()) or bool((t <= 0).any()))
    else:
        p, t = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
        finite = bool(np.isfinite(p).all()) and bool(np.isfinite(t).all())
        nonpos = positive and (bool((p <= 0).any()) or bool((t <= 0).any()))
    if not finite:
        raise ValueError(f"{name}: prediction or target contains NaN or inf")
    if nonpos:
        raise ValueError(
            f"{name}: needs strictly positive prediction and target (depth or disparity); "
            "clamp the prediction and mask the target with a protocol's min/max caps"
        )
    return p, t


def _log(x: ArrayT) -> ArrayT:
    return torch.log(x) if isinstance(x, torch.Tensor) else np.log(x)


def _clamp_min(x: ArrayT, eps: float) -> ArrayT:
    return x.clamp(min=eps) if isinstance(x, torch.Tensor) else np.maximum(x, eps)


def _max(a: ArrayT, b: ArrayT) -> ArrayT:
    return torch.maximum(a, b) if isinstance(a, torch.Tensor) else np.maximum(a, b)


def _mean(x: Array) -> float:
    """Mean as a Python float; booleans count as 0/1."""
    if isinstance(x, torch.Tensor):
        return float(x.double().mean())
    return float(np.mean(x, dtype=np.float64))


def _check_eps(eps: float, name: str) -> None:
    if not eps >= 0:
        raise ValueError(f"{name}: eps must be ≥ 0, got {eps}")


# ------------------------------------------------------------------------------- shared by both sets
def mse(pred: ArrayT, target: ArrayT) -> float:
    """Mean squared error, mean((y − y′)²). The paper's eq. 3 (MSE)."""
    p, t = _prepare(pred, target, "mse")
    return _mean((t - p) ** 2)


def rmse(pred: ArrayT, target: ArrayT) -> float:
    """Root mean squared error, √mean((y − y′)²). The paper's eq. 2; Eigen et al. 2014's "RMS"."""
    return math.sqrt(mse(pred, target))


def log_mse(pred: ArrayT, target: ArrayT, eps: float = 0.0) -> float:
    """Mean squared log difference, mean((log max(y, ε) − log max(y′, ε))²).

    The paper's eq. 6, printed as "LRMSE-SI" although it has neither a root nor a scale-invariant term
    (with ``eps`` > 0). With ``eps`` = 0 the inputs must be strictly positive.
    """
    _check_eps(eps, "log_mse")
    p, t = _prepare(pred, target, "log_mse", positive=eps == 0)
    return _mean((_log(_clamp_min(t, eps)) - _log(_clamp_min(p, eps))) ** 2)


def rmse_log(pred: ArrayT, target: ArrayT, eps: float = 0.0) -> float:
    """RMSE of logs, √mean((log max(y, ε) − log max(y′, ε))²).

    Eigen et al. 2014's "RMSE (log)" with ``eps`` = 0 (strictly positive inputs); the paper's eq. 5
    (LRMSE) with its explicit ``eps``.
    """
    return math.sqrt(log_mse(pred, target, eps))


# ------------------------------------------------------------------------------ the paper, as printed
def ard(pred: ArrayT, target: ArrayT, eps: float = 1e-3) -> float:
    """Absolute relative difference as printed in the paper (eq. 4), divided by the **prediction**:
    mean(|y − y′| / max(y′, ε)). Not Eigen's AbsRel (:func:`abs_rel`), which divides by the target."""
    _check_eps(eps, "ard")
    p, t = _prepare(pred, target, "ard", positive=eps == 0)
    return _mean(abs(t - p) / _clamp_min(p, eps))


def srd(pred: ArrayT, target: ArrayT, eps: float = 1e-3) -> float:
    """Squared relative difference as printed in the paper (eq. 7), divided by the **prediction**:
    mean((y − y′)² / max(y′, ε)). Not Eigen's SqRel (:func:`sq_rel`), which divides by the target."""
    _check_eps(eps, "srd")
    p, t = _prepare(pred, target, "srd", positive=eps == 0)
    return _mean((t - p) ** 2 / _clamp_min(p, eps))


# ----------------------------------------------------------------------- the standard set (Eigen 2014)
def abs_rel(pred: ArrayT, target: ArrayT) -> float:
    """Absolute relative error, mean(|y′ − y| / y), divided by the ground truth (Eigen et al. 2014)."""
    p, t = _prepare(pred, target, "abs_rel", positive=True)
    return _mean(abs(p - t) / t)


def sq_rel(pred: ArrayT, target: ArrayT) -> float:
    """Squared relative error, mean((y′ − y)² / y), divided by the ground truth (Eigen et al. 2014)."""
    p, t = _prepare(pred, target, "sq_rel", positive=True)
    return _mean((p - t) ** 2 / t)


def silog(pred: ArrayT, target: ArrayT) -> float:
    """Scale-invariant log error, 100·√(mean(d²) − mean(d)²) with d = log y′ − log y.

    Eigen et al. 2014's scale-invariant error D = mean(d²) − mean(d)² (their λ = 1), reported as
    100·√D as by the KITTI depth benchmark and BTS (Lee et al. 2019). D is clamped at 0 against
    rounding (it is a variance, so never negative in exact arithmetic).
    """
    p, t = _prepare(pred, target, "silog", positive=True)
    d = _log(p) - _log(t)
    variance = _mean(d**2) - _mean(d) ** 2
    return 100.0 * math.sqrt(max(variance, 0.0))


def log10(pred: ArrayT, target: ArrayT) -> float:
    """Mean absolute log10 error, mean(|log10 y′ − log10 y|) (Eigen et al. 2014; Laina et al. 2016)."""
    p, t = _prepare(pred, target, "log10", positive=True)
    return _mean(abs(_log(p) - _log(t))) / math.log(10.0)


def delta(pred: ArrayT, target: ArrayT, power: int = 1) -> float:
    """Threshold accuracy, the fraction of pixels with max(y′/y, y/y′) < 1.25^power (Eigen et al. 2014).

    Higher is better; 1.0 for a perfect prediction.
    """
    p, t = _prepare(pred, target, f"delta{power}", positive=True)
    ratio = _max(p / t, t / p)
    return _mean(ratio < 1.25**power)


# ----------------------------------------------------------------------------------------- the sets
def paper_metrics(eps: float = 1e-3) -> dict[str, MetricFn]:
    """The paper's six (eqs. 2–7) with the explicit ``eps`` for logs and divisions, in the paper's order."""
    return {
        "rmse": rmse,
        "mse": mse,
        "ard": partial(ard, eps=eps),
        "lrmse": partial(rmse_log, eps=eps),
        "lrmse_si": partial(log_mse, eps=eps),
        "srd": partial(srd, eps=eps),
    }


#: The standard set (Eigen et al. 2014), in the usual column order.
STANDARD_METRICS: dict[str, MetricFn] = {
    "abs_rel": abs_rel,
    "sq_rel": sq_rel,
    "rmse": rmse,
    "rmse_log": rmse_log,
    "silog": silog,
    "log10": log10,
    "delta1": partial(delta, power=1),
    "delta2": partial(delta, power=2),
    "delta3": partial(delta, power=3),
}

#: Printed names of the measures, as in the paper's tables (↓ lower is better, ↑ higher is better).
LABELS: dict[str, str] = {
    "rmse": "RMSE ↓",
    "mse": "MSE ↓",
    "ard": "ARD (÷ pred) ↓",
    "lrmse": "LRMSE ↓",
    "lrmse_si": "LRMSE-SI (as printed) ↓",
    "srd": "SRD (÷ pred) ↓",
    "abs_rel": "AbsRel ↓",
    "sq_rel": "SqRel ↓",
    "rmse_log": "RMSE log ↓",
    "silog": "SILog ↓",
    "log10": "log10 ↓",
    "delta1": "δ < 1.25 ↑",
    "delta2": "δ < 1.25² ↑",
    "delta3": "δ < 1.25³ ↑",
}

#: Measures where higher is better.
HIGHER_IS_BETTER = frozenset({"delta1", "delta2", "delta3"})


def standard_measures(pred: ArrayT, target: ArrayT) -> dict[str, float]:
    """The whole standard set (:data:`STANDARD_METRICS`, Eigen et al. 2014) in one pass over the pixels:
    the same formulas and values as the single functions (:func:`abs_rel` … :func:`delta`), with the
    checks, the logs and the ratio computed once instead of once per measure (evaluation at the
    ground truth's resolution scores ~10⁵ pixels per image). ``pred``, ``target``: the compared pixels,
    any equal shape, strictly positive (NumPy or torch). ValueError as the single functions raise."""
    p, t = _prepare(pred, target, "standard measures", positive=True)
    diff = p - t
    d = _log(p) - _log(t)
    ratio = _max(p / t, t / p)
    mean_d2, mean_d = _mean(d**2), _mean(d)
    sq_err = diff**2
    return {
        "abs_rel": _mean(abs(diff) / t),
        "sq_rel": _mean(sq_err / t),
        "rmse": math.sqrt(_mean(sq_err)),
        "rmse_log": math.sqrt(mean_d2),
        "silog": 100.0 * math.sqrt(max(mean_d2 - mean_d**2, 0.0)),
        "log10": _mean(abs(d)) / math.log(10.0),
        "delta1": _mean(ratio < 1.25),
        "delta2": _mean(ratio < 1.25**2),
        "delta3": _mean(ratio < 1.25**3),
    }


def measure_set(name: str, eps: float = 1e-3) -> Callable[[ArrayT, ArrayT], dict[str, float]]:
    """All measures of the set ``name`` (see :func:`metric_set`) as one function of (pred, target) →
    measure key → value, in the set's order: :func:`standard_measures` for ``"standard"``."""
    if name == "standard":
        return standard_measures
    fns = metric_set(name, eps)
    return lambda pred, target: {key: fn(pred, target) for key, fn in fns.items()}


def metric_set(name: str, eps: float = 1e-3) -> dict[str, MetricFn]:
    """``"paper"`` (the paper's six with ``eps``) or ``"standard"`` (Eigen et al. 2014)."""
    if name == "paper":
        return paper_metrics(eps)
    if name == "standard":
        return dict(STANDARD_METRICS)
    raise ValueError(f"unknown metric set {name!r}; valid sets: paper, standard")


def compute_metrics(
    pred: ArrayT, target: ArrayT, metrics: str = "standard", eps: float = 1e-3
) -> dict[str, float]:
    """All measures of one set over the given pixels (no masking, cropping or capping: see protocols)."""
    return measure_set(metrics, eps)(pred, target)
