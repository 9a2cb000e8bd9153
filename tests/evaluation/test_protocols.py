"""Protocols: crops on known shapes, masks, caps, scaling, per-image vs pooled, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssrdepth.evaluation.protocols import (
    PROTOCOLS,
    MetricAccumulator,
    Protocol,
    apply_scaling,
    crop_box,
    describe,
    evaluate_arrays,
    get_protocol,
    match_size,
    select_pixels,
)


# --------------------------------------------------------------------------------------------- crops
@pytest.mark.parametrize(
    "crop, size, box",
    [
        ("garg", (375, 1242), (153, 371, 44, 1197)),  # the common KITTI frame size
        ("eigen", (375, 1242), (124, 342, 44, 1197)),
        ("garg", (37, 147), (15, 36, 5, 141)),  # the paper's 147×37
        ("nyu-eigen", (480, 640), (45, 471, 41, 601)),  # exactly Eigen's box
        ("nyu-eigen", (240, 320), (22, 235, 20, 300)),  # halved, edges floored
        ("none", (5, 9), (0, 5, 0, 9)),
    ],
)
def test_crop_boxes_on_known_shapes(crop: str, size: tuple[int, int], box: tuple[int, ...]) -> None:
    assert crop_box(crop, *size) == box


def test_crop_keeps_exactly_the_box_pixels() -> None:
    h, w = 37, 147
    depth = np.full((1, h, w), 10.0)
    p, t = select_pixels(depth, depth, None, PROTOCOLS["kitti"])
    assert p.shape == t.shape == ((36 - 15) * (141 - 5),)
    # a large error outside the Garg box changes nothing
    pred = depth.copy()
    pred[..., :15, :] = 70.0
    pred[..., :, 141:] = 0.5
    scores = evaluate_arrays(pred[None], depth[None], None, "kitti")
    assert scores.metrics["rmse"] == 0.0 and scores.valid_pixels == 21 * 136


def test_unknown_crop_and_protocol_names_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid crops: none, garg, eigen, nyu-eigen"):
        crop_box("kitti", 10, 10)
    with pytest.raises(
        ValueError, match="valid protocols: paper, normalised, kitti, kitti-eigen, kitti-full, nyu"
    ):
        get_protocol("eigen")


# ----------------------------------------------------------------------------------------------- masks
def _images(seed: int = 0, n: int = 3, h: int = 6, w: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.uniform(0.05, 1.0, size=(n, 1, h, w))
    pred = np.clip(target + rng.normal(0, 0.1, size=target.shape), 0.01, 1.0)
    valid = rng.uniform(size=target.shape) > 0.3
    return pred, target, valid


@pytest.mark.parametrize("name", ["normalised", "paper"])
def test_an_invalid_pixel_never_changes_a_result(name: str) -> None:
    pred, target, valid = _images()
    proto = get_protocol(name).with_options(mask="valid")
    before = evaluate_arrays(pred, target, valid, proto)
    pred2, target2 = pred.copy(), target.copy()
    pred2[~valid] = 0.999
    target2[~valid] = np.where(np.arange((~valid).sum()) % 2, 1e-9, np.nan)
    after = evaluate_arrays(pred2, target2, valid, proto)
    assert after == before
    assert before.valid_pixels == int(valid.sum())
    # while a valid pixel does change it
    pred2[valid.nonzero()[0][0], 0, valid.nonzero()[2][0], valid.nonzero()[3][0]] += 0.3
    assert evaluate_arrays(pred2, target2, valid, proto).metrics != before.metrics


def test_paper_protocol_uses_all_pixels_and_normalised_the_valid_ones() -> None:
    pred, target, valid = _images()
    assert evaluate_arrays(pred, target, valid, "paper").valid_pixels == pred.size
    assert evaluate_arrays(pred, target, valid, "normalised").valid_pixels == int(valid.sum())


def test_non_finite_targets_never_count() -> None:
    target = np.array([[[1.0, np.nan], [np.inf, 2.0]]])
    pred = np.array([[[1.0, 5.0], [5.0, 2.0]]])
    p, t = select_pixels(pred, target, None, PROTOCOLS["paper"])
    assert t.tolist() == [1.0, 2.0] and p.tolist() == [1.0, 2.0]


def test_depth_mask_defaults_to_positive_target() -> None:
    target = torch.tensor([[[0.0, 5.0], [10.0, 0.0]]])
    pred = torch.full_like(target, 5.0)
    p, t = select_pixels(pred, target, None, PROTOCOLS["kitti"].with_options(crop="none"))
    assert t.tolist() == [5.0, 10.0] and p.tolist() == [5.0, 5.0]


# ------------------------------------------------------------------------------------------------ caps
def test_caps_mask_the_target_and_clamp_the_prediction() -> None:
    proto = PROTOCOLS["kitti"].with_options(crop="none")
    target = np.array([[[10.0, 90.0, 20.0, 1e-4]]])  # 90 m and 0.1 mm are outside 1e-3–80 m
    pred = np.array([[[100.0, 5.0, 1e-6, 3.0]]])  # → clamped to 80 and 1e-3
    p, t = select_pixels(pred, target, None, proto)
    assert t.tolist() == [10.0, 20.0] and p.tolist() == [80.0, 1e-3]
    scores = evaluate_arrays(pred, target, None, proto)
    assert scores.metrics["abs_rel"] == pytest.approx((70 / 10 + (20 - 1e-3) / 20) / 2)


# --------------------------------------------------------------------------------------------- scaling
@pytest.mark.parametrize("scaling", ["median", "least-squares", "least-squares-shift"])
def test_scaling_recovers_a_scaled_prediction(scaling: str) -> None:
    rng = np.random.default_rng(4)
    target = rng.uniform(1.0, 50.0, size=(2, 1, 5, 7))
    proto = PROTOCOLS["kitti"].with_options(crop="none", scaling=scaling)
    assert proto.name == f"kitti[crop=none,scaling={scaling}]"
    plain = evaluate_arrays(target * 0.1, target, None, proto.with_options(scaling="none"))
    assert plain.metrics["abs_rel"] == pytest.approx(0.9)
    scores = evaluate_arrays(target * 0.1, target, None, proto)
    assert scores.metrics["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    assert scores.metrics["delta1"] == 1.0


def test_least_squares_by_hand() -> None:
    pred, target = np.array([1.0, 2.0]), np.array([1.0, 3.0])
    # scale only: s = Σpy/Σp² = 7/5; scale and shift through both points: s = 2, t = -1
    assert apply_scaling(pred, target, "least-squares").tolist() == pytest.approx([1.4, 2.8])
    assert apply_scaling(pred, target, "least-squares-shift").tolist() == pytest.approx([1.0, 3.0])
    # median of an even count is the mean of the middle two, for NumPy and torch alike
    p4, t4 = np.array([1.0, 2.0, 3.0, 10.0]), np.array([5.0, 5.0, 5.0, 5.0])
    assert apply_scaling(p4, t4, "median").tolist() == pytest.approx((p4 * 2).tolist())
    assert apply_scaling(torch.tensor(p4), torch.tensor(t4), "median").tolist() == pytest.approx(
        (p4 * 2).tolist()
    )
    with pytest.raises(ValueError, match="positive median"):
        apply_scaling(np.zeros(3), np.ones(3), "median")
    with pytest.raises(ValueError, match="not constant"):
        apply_scaling(np.ones(3), np.arange(3.0), "least-squares-shift")


# ----------------------------------------------------------------------------------------- aggregation
def test_per_image_and_pooled_differ_where_they_should() -> None:
    # image A: 1 valid pixel, error 2 m; image B: 8 valid pixels, no error
    target = np.full((2, 1, 3, 3), 10.0)
    pred = target.copy()
    pred[0, 0, 0, 0] = 12.0
    valid = np.ones_like(target, dtype=bool)
    valid[0] = False
    valid[0, 0, 0, 0] = True
    valid[1, 0, 2, 2] = False
    base = PROTOCOLS["kitti"].with_options(crop="none")
    per_image = evaluate_arrays(pred, target, valid, base)
    pooled = evaluate_arrays(pred, target, valid, base.with_options(aggregation="pooled"))
    assert per_image.metrics["rmse"] == pytest.approx((2.0 + 0.0) / 2)
    assert pooled.metrics["rmse"] == pytest.approx(math.sqrt(4.0 / 9))
    assert per_image.metrics["abs_rel"] == pytest.approx(0.2 / 2)
    assert pooled.metrics["abs_rel"] == pytest.approx(0.2 / 9)
    assert per_image.metrics["delta1"] == pytest.approx(1.0)  # 1.2 < 1.25
    assert per_image.images == pooled.images == 2 and per_image.valid_pixels == pooled.valid_pixels == 9
    assert pooled.protocol == "kitti[crop=none,aggregation=pooled]"


def test_per_image_and_pooled_agree_on_one_image() -> None:
    pred, target, valid = _images(n=1)
    a = evaluate_arrays(pred, target, valid, "normalised")
    b = evaluate_arrays(pred, target, valid, get_protocol("normalised", aggregation="pooled"))
    for key in a.metrics:
        assert b.metrics[key] == pytest.approx(a.metrics[key], rel=1e-5), key


def test_numpy_and_torch_batches_agree() -> None:
    pred, target, valid = _images(seed=5)
    a = evaluate_arrays(pred, target, valid, "paper")
    b = evaluate_arrays(torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(valid), "paper")
    assert a.metrics == pytest.approx(b.metrics, rel=1e-12)
    # image by image, the torch path of select_pixels and the measures gives the same numbers
    for proto in ("paper", "normalised"):
        acc_np, acc_torch = MetricAccumulator(get_protocol(proto)), MetricAccumulator(get_protocol(proto))
        for i in range(pred.shape[0]):
            acc_np.add_image(pred[i], target[i], valid[i])
            acc_torch.add_image(*(torch.from_numpy(x[i]) for x in (pred, target, valid)))
        assert acc_torch.result().metrics == pytest.approx(acc_np.result().metrics, rel=1e-12)


# ------------------------------------------------------------------------------------------- bad input
def test_all_pixels_invalid_is_skipped_then_an_error() -> None:
    pred, target, valid = _images(n=2)
    valid[0] = False
    scores = evaluate_arrays(pred, target, valid, "normalised")
    assert scores.images == 1 and scores.images_skipped == 1
    assert "1 skipped" in describe(scores)
    with pytest.raises(ValueError, match="no valid pixel in any of the 2 image"):
        evaluate_arrays(pred, target, np.zeros_like(valid), "normalised")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_prediction_is_an_error_even_at_an_invalid_pixel(bad: float) -> None:
    pred, target, valid = _images()
    pred[~valid] = bad  # documented: a model that emits NaN/inf is broken, masking would hide it
    with pytest.raises(ValueError, match=r"prediction contains \d+ NaN/inf"):
        evaluate_arrays(pred, target, valid, "normalised")


def test_shape_mismatch() -> None:
    acc = MetricAccumulator(PROTOCOLS["paper"])
    with pytest.raises(ValueError, match=r"prediction shape \(1, 4, 4\) != target shape \(1, 4, 5\)"):
        acc.add_image(np.ones((1, 4, 4)), np.ones((1, 4, 5)))
    with pytest.raises(ValueError, match="valid_mask shape"):
        acc.add_image(np.ones((1, 4, 4)), np.ones((1, 4, 4)), np.ones((4, 4), dtype=bool))
    with pytest.raises(ValueError, match="equal N"):
        acc.add_batch(np.ones((2, 1, 4, 4)), np.ones((3, 1, 4, 4)))


def test_match_size_resizes_bilinearly_or_refuses() -> None:
    pred = torch.arange(4.0).reshape(1, 1, 2, 2)
    out = match_size(pred, (4, 4), PROTOCOLS["paper"])
    assert out.shape == (1, 1, 4, 4)
    assert out[0, 0, 0, 0] == 0.0 and out[0, 0, 0, 1] == pytest.approx(0.25)  # align_corners=False
    with pytest.raises(ValueError, match="does not resize"):
        match_size(pred, (4, 4), PROTOCOLS["paper"].with_options(resize=False))
    # evaluate_arrays resizes a torch prediction to the target's size
    scores = evaluate_arrays(torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 4, 4), 0.5), None, "paper")
    assert scores.valid_pixels == 16 and scores.metrics["rmse"] == 0.0


def test_protocol_validation() -> None:
    with pytest.raises(ValueError, match="unknown scaling 'mean'"):
        Protocol("x", min_value=1e-3, scaling="mean")
    with pytest.raises(ValueError, match="need min_value > 0"):
        Protocol("x", metrics="standard")
    with pytest.raises(ValueError, match="unknown protocol option"):
        get_protocol("kitti", crops="none")
    assert get_protocol("kitti", aggregation="per-image") is PROTOCOLS["kitti"]  # unchanged keeps its name
    assert "Garg" not in PROTOCOLS["kitti"].summary() and "crop garg" in PROTOCOLS["kitti"].summary()


def test_kitti_full_scores_the_whole_image_and_kitti_only_the_garg_crop() -> None:
    # 37×147 depth of 10 m; the prediction is 20 m (AbsRel 1) in the rows the Garg crop removes
    # (rows 0..14, crop_box("garg", 37, 147) = (15, 36, 5, 141)) and exact elsewhere.
    target = np.full((1, 1, 37, 147), 10.0, np.float32)
    pred = target.copy()
    pred[..., :15, :] = 20.0
    kitti = evaluate_arrays(pred, target, None, "kitti")
    full = evaluate_arrays(pred, target, None, "kitti-full")
    assert kitti.metrics["abs_rel"] == 0.0
    assert full.metrics["abs_rel"] == pytest.approx(15 / 37)  # 15 of 37 rows at AbsRel 1
