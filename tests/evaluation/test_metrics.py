"""The measures: hand-computed values on tiny arrays, an independent NumPy reference, NumPy/torch parity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssrdepth.evaluation import metrics as M

LN2 = math.log(2.0)


def both(*arrays: list[float]) -> list[tuple[object, ...]]:
    """The same values as NumPy arrays and as float32 torch tensors."""
    return [
        tuple(np.asarray(a, dtype=np.float64) for a in arrays),
        tuple(torch.tensor(a, dtype=torch.float32) for a in arrays),
    ]


# ------------------------------------------------------------------------------------- hand-computed
@pytest.mark.parametrize("pred, target", both([1.0, 2.0, 4.0], [2.0, 2.0, 2.0]))
def test_standard_set_by_hand(pred: object, target: object) -> None:
    # errors -1, 0, 2; log ratios -ln2, 0, ln2
    assert M.mse(pred, target) == pytest.approx(5 / 3)
    assert M.rmse(pred, target) == pytest.approx(math.sqrt(5 / 3))
    assert M.abs_rel(pred, target) == pytest.approx((0.5 + 0 + 1.0) / 3)
    assert M.sq_rel(pred, target) == pytest.approx((1 / 2 + 0 + 4 / 2) / 3)
    assert M.log_mse(pred, target) == pytest.approx(2 * LN2**2 / 3)
    assert M.rmse_log(pred, target) == pytest.approx(LN2 * math.sqrt(2 / 3))
    assert M.silog(pred, target) == pytest.approx(100 * LN2 * math.sqrt(2 / 3))  # mean(d) = 0
    assert M.log10(pred, target) == pytest.approx(2 * math.log10(2.0) / 3)


@pytest.mark.parametrize("pred, target", both([2.0, 4.0], [1.0, 1.0]))
def test_silog_removes_the_mean_log_error(pred: object, target: object) -> None:
    # d = [ln2, 2 ln2]: mean(d²) = 5/2 ln2², mean(d)² = 9/4 ln2² → D = ln2²/4 → 100·√D = 50 ln2
    assert M.silog(pred, target) == pytest.approx(50 * LN2)
    assert M.silog(pred * 7.5, target) == pytest.approx(50 * LN2)  # scale-invariant


@pytest.mark.parametrize("pred, target", both([1.1, 1.3, 1.5, 1.9, 2.0, 1 / 1.1], [1, 1, 1, 1, 1, 1]))
def test_delta_thresholds_by_hand(pred: object, target: object) -> None:
    # ratios 1.1, 1.3, 1.5, 1.9, 2.0, 1.1; thresholds 1.25, 1.5625, 1.953125
    assert M.delta(pred, target, 1) == pytest.approx(2 / 6)
    assert M.delta(pred, target, 2) == pytest.approx(4 / 6)
    assert M.delta(pred, target, 3) == pytest.approx(5 / 6)


@pytest.mark.parametrize("pred, target", both([0.5, 0.25], [1.0, 0.5]))
def test_paper_six_as_printed_by_hand(pred: object, target: object) -> None:
    six = M.paper_metrics(eps=1e-3)
    values = {k: fn(pred, target) for k, fn in six.items()}
    assert list(values) == ["rmse", "mse", "ard", "lrmse", "lrmse_si", "srd"]
    assert values["mse"] == pytest.approx((0.25 + 0.0625) / 2)
    assert values["rmse"] == pytest.approx(math.sqrt((0.25 + 0.0625) / 2))
    # ARD and SRD divide by the prediction: |0.5|/0.5, |0.25|/0.25 and 0.25/0.5, 0.0625/0.25
    assert values["ard"] == pytest.approx(1.0)
    assert values["srd"] == pytest.approx((0.5 + 0.25) / 2)
    # ... unlike AbsRel and SqRel, which divide by the target
    assert M.abs_rel(pred, target) == pytest.approx(0.5)
    assert M.sq_rel(pred, target) == pytest.approx((0.25 + 0.125) / 2)
    # both log differences are ln 2; "LRMSE-SI" is the mean of their squares, no root, no SI term
    assert values["lrmse"] == pytest.approx(LN2)
    assert values["lrmse_si"] == pytest.approx(LN2**2)


@pytest.mark.parametrize("pred, target", both([0.0, 0.1], [0.5, 0.0]))
def test_paper_eps_clamps_logs_and_divisions(pred: object, target: object) -> None:
    eps = 1e-3
    assert M.ard(pred, target, eps) == pytest.approx((0.5 / eps + 0.1 / 0.1) / 2)
    assert M.srd(pred, target, eps) == pytest.approx((0.25 / eps + 0.01 / 0.1) / 2)
    # log max(y, ε) − log max(y′, ε): ln(0.5/ε) and ln(ε/0.1)
    assert M.log_mse(pred, target, eps) == pytest.approx((math.log(500) ** 2 + math.log(0.01) ** 2) / 2)
    # a larger ε gives a different, stated number
    assert M.ard(pred, target, 1e-2) == pytest.approx((0.5 / 1e-2 + 1.0) / 2)


def test_perfect_prediction_gives_zero_errors_and_delta_one() -> None:
    rng = np.random.default_rng(1)
    y = rng.uniform(0.01, 1.0, size=(5, 7))
    for a in (y, torch.from_numpy(y)):
        std = M.compute_metrics(a, a, "standard")
        assert std.pop("delta1") == std.pop("delta2") == std.pop("delta3") == 1.0
        assert all(v == pytest.approx(0.0, abs=1e-6) for v in std.values()), std
        paper = M.compute_metrics(a, a, "paper", eps=1e-3)
        assert all(v == 0.0 for v in paper.values()), paper


# -------------------------------------------------------------------------- independent reference
def reference_standard(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Eigen et al. 2014's formulas written out once more, straightforwardly, in NumPy."""
    gt = gt.astype(np.float64).ravel()
    pred = pred.astype(np.float64).ravel()
    n = gt.size
    thresh = np.array([max(g / p, p / g) for g, p in zip(gt, pred, strict=True)])
    err = np.log(pred) - np.log(gt)
    return {
        "abs_rel": float(np.sum(np.abs(gt - pred) / gt) / n),
        "sq_rel": float(np.sum((gt - pred) ** 2 / gt) / n),
        "rmse": float(np.sqrt(np.sum((gt - pred) ** 2) / n)),
        "rmse_log": float(np.sqrt(np.sum((np.log(gt) - np.log(pred)) ** 2) / n)),
        "silog": float(np.sqrt(np.sum(err**2) / n - (np.sum(err) / n) ** 2) * 100),
        "log10": float(np.sum(np.abs(np.log10(gt) - np.log10(pred))) / n),
        "delta1": float(np.sum(thresh < 1.25) / n),
        "delta2": float(np.sum(thresh < 1.25**2) / n),
        "delta3": float(np.sum(thresh < 1.25**3) / n),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_standard_set_matches_independent_numpy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt = rng.uniform(1e-3, 80.0, size=(3, 11, 13)).astype(np.float32)
    pred = (gt * rng.lognormal(0.0, 0.4, size=gt.shape)).astype(np.float32)
    ref = reference_standard(gt, pred)
    ours_np = M.compute_metrics(pred, gt, "standard")
    ours_torch = M.compute_metrics(torch.from_numpy(pred), torch.from_numpy(gt), "standard")
    assert list(ours_np) == list(ref)
    assert 0.1 < ref["delta1"] < 0.9  # the random data exercises every threshold
    for key, value in ref.items():
        assert ours_np[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        assert ours_torch[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_torch_and_numpy_agree_for_the_paper_six() -> None:
    rng = np.random.default_rng(3)
    y = rng.uniform(0.0, 1.0, size=(17, 19))
    p = np.clip(y + rng.normal(0, 0.1, size=y.shape), 0.0, 1.0)
    a = M.compute_metrics(p, y, "paper", eps=1e-3)
    b = M.compute_metrics(torch.from_numpy(p), torch.from_numpy(y), "paper", eps=1e-3)
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-12), key


# ----------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn", [M.rmse, M.abs_rel, M.silog, M.log10, M.ard, M.srd])
def test_shape_mismatch_is_a_clear_error(fn: M.MetricFn) -> None:
    with pytest.raises(ValueError, match=r"shape \(3,\) != target shape \(4,\)"):
        fn(np.ones(3), np.ones(4))


def test_empty_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no pixels"):
        M.rmse(np.ones(0), np.ones(0))
    with pytest.raises(ValueError, match="no pixels"):
        M.delta(torch.ones(0), torch.ones(0))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_a_clear_error(bad: float) -> None:
    pred = np.array([1.0, bad, 2.0])
    for fn in (M.rmse, M.abs_rel, M.ard):
        with pytest.raises(ValueError, match="NaN or inf"):
            fn(pred, np.ones(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        M.mse(torch.tensor(pred), torch.ones(3, dtype=torch.float64))


def test_standard_measures_reject_non_positive_values() -> None:
    with pytest.raises(ValueError, match="strictly positive"):
        M.abs_rel(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="strictly positive"):
        M.silog(np.array([1.0, 1.0]), np.array([-1.0, 1.0]))
    with pytest.raises(ValueError, match="both be NumPy arrays or both torch"):
        M.rmse(np.ones(2), torch.ones(2))
    with pytest.raises(ValueError, match="unknown metric set"):
        M.metric_set("eigen")


@pytest.mark.parametrize("seed", [4, 5])
def test_one_pass_standard_set_equals_the_single_measures(seed: int) -> None:
    # standard_measures (what evaluation uses) against each single function of STANDARD_METRICS.
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.5, 80.0, size=(9, 31))
    pred = gt * rng.lognormal(0.0, 0.3, size=gt.shape)
    for p, t in ((pred, gt), (torch.from_numpy(pred), torch.from_numpy(gt))):
        fused = M.standard_measures(p, t)
        assert list(fused) == list(M.STANDARD_METRICS)
        for key, fn in M.STANDARD_METRICS.items():
            assert fused[key] == pytest.approx(fn(p, t), rel=1e-12, abs=1e-15), key
    with pytest.raises(ValueError, match="standard measures: needs strictly positive"):
        M.standard_measures(np.array([0.0, 1.0]), np.ones(2))
    with pytest.raises(ValueError, match="NaN or inf"):
        M.standard_measures(np.array([math.nan, 1.0]), np.ones(2))
