"""The photometric stereo loss and hybrid targets (training/photometric.py) on pairs whose disparity is
known: hand-made shifts, and a rendered synthetic pair with its exact depth."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from ssrdepth.core.scale import TargetScale, disparity_to_depth
from ssrdepth.data import DataConfig, build_dataset, generate_synthetic
from ssrdepth.training.augment import AugmentConfig, augment_batch
from ssrdepth.training.photometric import (
    PhotometricConfig,
    appearance_error,
    automask,
    disparity_pixels,
    hint_selection,
    log_l1,
    smoothness,
    ssim_error,
    stereo_loss,
    warp_by_disparity,
)


def _shifted(left: torch.Tensor, d: int) -> torch.Tensor:
    """The right view of a fronto-parallel plane at ``d`` px: right[x] = left[x + d] (the last
    columns, which the left view does not see, repeat its last column)."""
    return torch.cat((left[..., d:], left[..., -1:].expand(*left.shape[:-1], d)), dim=-1)


def test_disparity_in_pixels_follows_the_target_scale() -> None:
    # 96 px at a reference width of 96, read at width 48: 0.5 × 96 × 48 / 96 = 24 px.
    scale = TargetScale("disparity", 96.0, 700.0, 0.54, reference_width=96)
    assert disparity_pixels(torch.full((1, 1, 2, 48), 0.5), scale).unique().tolist() == [24.0]
    with pytest.raises(ValueError, match="disparity target scale"):
        disparity_pixels(torch.zeros(1, 1, 2, 8), TargetScale("depth", 80.0))


def test_warping_by_the_true_disparity_reproduces_the_left_view() -> None:
    g = torch.Generator().manual_seed(0)
    left = torch.rand(2, 3, 6, 20, generator=g)
    # Rows at 0, 1, 2, 3 and 5 px of disparity (no occlusion within a row): integer shifts land on
    # pixel centres, so the warped right view equals the left exactly where x − d is inside the image.
    d = torch.tensor([0, 1, 2, 3, 5, 5], dtype=torch.float32).view(1, 1, 6, 1).expand(2, 1, 6, 20)
    right = torch.cat([_shifted(left[..., y : y + 1, :], int(d[0, 0, y, 0])) for y in range(6)], dim=-2)
    warped = warp_by_disparity(right, d)
    for y in range(6):
        seen = slice(int(d[0, 0, y, 0]), None)
        torch.testing.assert_close(warped[..., y, seen], left[..., y, seen], rtol=0, atol=1e-6)
    # A fractional disparity on a linear ramp: bilinear sampling is exact for a linear image.
    x = torch.arange(20, dtype=torch.float32).view(1, 1, 1, 20).expand(1, 1, 4, 20)
    ramp_left, ramp_right = 0.1 + 0.04 * x, 0.1 + 0.04 * (x + 2.5)  # right[x] = left[x + 2.5]
    warped = warp_by_disparity(ramp_right, torch.full((1, 1, 4, 20), 2.5))
    torch.testing.assert_close(warped[..., 3:], ramp_left[..., 3:], rtol=0, atol=1e-6)
    # Left to right (the right view's disparity, direction +1) undoes the shift the other way.
    back = warp_by_disparity(left, torch.full((2, 1, 6, 20), 3.0), direction=1.0)
    torch.testing.assert_close(back[..., :17], _shifted(left, 3)[..., :17], rtol=0, atol=1e-6)


def test_ssim_and_appearance_error_by_hand() -> None:
    x = torch.rand(1, 1, 5, 5, generator=torch.Generator().manual_seed(1))
    assert ssim_error(x, x).abs().max() < 1e-6  # identical images: SSIM 1
    # Constant images a and b: variances 0, so SSIM = (2ab + C1) / (a² + b² + C1).
    a, b = 0.2, 0.6
    c1 = 0.01**2
    ssim = (2 * a * b + c1) / (a * a + b * b + c1)
    x64, y64 = (
        torch.full((1, 3, 4, 4), a, dtype=torch.float64),
        torch.full((1, 3, 4, 4), b, dtype=torch.float64),
    )
    err = appearance_error(x64, y64, alpha=0.85)  # float64: the variances cancel exactly enough
    expected = torch.full((1, 1, 4, 4), 0.85 * (1 - ssim) / 2 + 0.15 * 0.4, dtype=torch.float64)
    torch.testing.assert_close(err, expected, rtol=1e-9, atol=1e-12)


def test_smoothness_is_edge_aware_and_scale_free() -> None:
    # A step of disparity 1 → 2 between columns 1 and 2 of a 1×4 map (mean 1.5): |∂x d*| = 1/1.5 at one
    # of the 3 horizontal differences. Under a flat image it costs (1/1.5)/3; under an image edge of
    # 0.5 at the same place, e^−0.5 of that; doubling the disparity changes nothing (d / mean(d)).
    d = torch.tensor([1.0, 1.0, 2.0, 2.0]).view(1, 1, 1, 4)
    flat, edge = torch.zeros(1, 1, 1, 4), torch.tensor([0.0, 0.0, 0.5, 0.5]).view(1, 1, 1, 4)
    assert float(smoothness(d, flat)) == pytest.approx((1 / 1.5) / 3)
    assert float(smoothness(d, edge)) == pytest.approx(math.exp(-0.5) * (1 / 1.5) / 3)
    assert float(smoothness(2 * d, edge)) == pytest.approx(float(smoothness(d, edge)))


@pytest.fixture(scope="module")
def rendered_pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """8 rendered street pairs at 32×96 with their exact disparity (f·B / depth, px at width 96)."""
    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic(root, 8, size=(32, 96), sequence_length=8, workers=1, progress=False)
    cfg = DataConfig(
        source="synthetic", root=str(root), size=(32, 96), target="none", right_view=True, max_disparity=32
    )
    ds = build_dataset(cfg, "all", cache=False, progress=False)
    samples = [ds[i] for i in range(len(ds))]  # type: ignore[arg-type]
    left, right, depth = (torch.stack([s[k] for s in samples]) for k in ("image", "right", "depth"))
    scale: TargetScale = ds.scale  # type: ignore[attr-defined]
    focal, baseline = scale.camera(96)
    assert focal is not None and baseline is not None
    disparity = disparity_to_depth(depth, focal, baseline)  # depth 0 (sky) → disparity 0
    normalised = scale.from_physical(disparity * scale.width(96) / 96)
    return {"left": left, "right": right, "normalised": normalised, "disparity": disparity, "scale": scale}


def test_the_loss_is_smallest_at_the_true_disparity(rendered_pairs: dict[str, object]) -> None:
    left, right, truth = rendered_pairs["left"], rendered_pairs["right"], rendered_pairs["normalised"]
    scale = rendered_pairs["scale"]
    assert isinstance(left, torch.Tensor) and isinstance(right, torch.Tensor)
    assert isinstance(truth, torch.Tensor) and isinstance(scale, TargetScale)
    torch.testing.assert_close(disparity_pixels(truth, scale), rendered_pairs["disparity"])
    for cfg in (PhotometricConfig(), PhotometricConfig(automask=False), PhotometricConfig(smoothness=0.0)):
        at_truth = float(stereo_loss(truth, left, right, scale, cfg).total)
        for factor in (0.9, 1.1):  # ±10 % of the disparity everywhere
            assert at_truth < float(stereo_loss(truth * factor, left, right, scale, cfg).total), (cfg, factor)


def test_automask_drops_exactly_the_static_pixels() -> None:
    g = torch.Generator().manual_seed(2)
    left = torch.rand(1, 1, 6, 12, generator=g)
    right = left.clone()
    right[..., 3:, :] = _shifted(left[..., 3:, :], 2)  # rows 0–2 static (right = left), rows 3–5 at 2 px
    scale = TargetScale("disparity", 12.0, reference_width=12)
    pred = torch.full((1, 1, 6, 12), 2.0 / 12.0)  # 2 px everywhere: right for rows 3–5
    cfg = PhotometricConfig(alpha=0.0, smoothness=0.0)  # L1 only: the error is per pixel
    warped = appearance_error(left, warp_by_disparity(right, disparity_pixels(pred, scale)), 0.0)
    keep = automask(warped, appearance_error(left, right, 0.0))
    assert not keep[..., :3, :].any()  # static: the unwarped right image matches already
    assert keep[..., 3:, 2:11].all()  # moving, where x − 2 is inside the image: warped error 0 < identity
    # The made right view repeats the left's last column in its last two, so column 11 of the moving
    # rows shows the same value in both views: static as well, and dropped.
    assert not keep[..., 3:, 11].any()
    loss = stereo_loss(pred, left, right, scale, cfg)
    assert float(loss.kept) == pytest.approx(float(keep.float().mean()))
    # The kept pixels of the moving rows are explained exactly: the masked mean is what the two border
    # columns of rows 3–5 add (if kept), nothing from the static rows.
    border = torch.where(keep, warped, 0.0)
    assert float(loss.photometric) == pytest.approx(float(border.sum() / keep.sum()), abs=1e-7)
    assert float(border[..., 3:, 2:].abs().max()) < 1e-6
    # Ties (equal errors) are dropped, strictly smaller is kept.
    assert automask(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.2, 0.2, 0.2])).tolist() == [
        True,
        False,
        False,
    ]


def test_hybrid_selection_by_hand() -> None:
    pred_error = torch.tensor([[0.5, 0.1, 0.3], [0.2, 0.2, 0.9], [0.0, 0.4, 0.6]]).view(1, 1, 3, 3)
    hint_error = torch.tensor([[0.4, 0.2, 0.3], [0.1, 0.5, 0.1], [0.1, 0.3, 0.2]]).view(1, 1, 3, 3)
    valid = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=torch.bool).view(1, 1, 3, 3)
    # hint better (strictly): (0,0), (1,0), (1,2), (2,1), (2,2); (1,2) has no hint; (0,2) is a tie.
    expected = torch.tensor([[1, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=torch.bool).view(1, 1, 3, 3)
    assert torch.equal(hint_selection(pred_error, hint_error, valid), expected)
    assert float(log_l1(torch.tensor(3.0), torch.tensor(1.0))) == pytest.approx(math.log(3.0))


def test_hybrid_supervises_where_the_hint_reprojects_better() -> None:
    # A plane at 2 px; the prediction says 4 px in the left half and 2 px in the right half; the hint
    # is the true 2 px everywhere. Where the prediction is wrong the hint reprojects better and teaches
    # log(1 + |4 − 2|) = log 3 per pixel; where both are right (equal errors) it does not.
    g = torch.Generator().manual_seed(3)
    left = torch.rand(1, 1, 8, 16, generator=g)
    right = _shifted(left, 2)
    scale = TargetScale("disparity", 16.0, reference_width=16)
    pred = torch.full((1, 1, 8, 16), 2.0 / 16)
    pred[..., :8] = 4.0 / 16
    hint = torch.full((1, 1, 8, 16), 2.0 / 16)
    valid = torch.ones_like(hint, dtype=torch.bool)
    cfg = PhotometricConfig(alpha=0.0, smoothness=0.0, automask=False)  # L1: errors per pixel
    loss = stereo_loss(pred, left, right, scale, cfg, hint=hint, hint_valid=valid)
    # Chosen: columns 3–7 of the left half (the hint's error is 0 there, the prediction's not). Columns
    # 0–2 are ties: both warps read the replicated border, right[0] = left[2] (at x = 2 the wrong 4 px
    # lands exactly there, error 0); the right half is right either way.
    assert float(loss.hinted) == pytest.approx(5 * 8 / (8 * 16))
    assert float(loss.hint) == pytest.approx(5 * 8 * math.log(3.0) / (8 * 16), rel=1e-6)
    none = stereo_loss(pred, left, right, scale, cfg, hint=hint, hint_valid=torch.zeros_like(valid))
    assert float(none.hint) == 0.0 and float(none.hinted) == 0.0
    # The hint term is added with its weight to the photometric one.
    assert float(loss.total) == pytest.approx(float(loss.photometric) + float(loss.hint), rel=1e-6)


def test_left_right_consistency_is_zero_for_consistent_disparities() -> None:
    left = torch.rand(1, 1, 8, 16, generator=torch.Generator().manual_seed(4))
    right = _shifted(left, 2)
    scale = TargetScale("disparity", 16.0, reference_width=16)
    pred = torch.full((1, 1, 8, 16), 2.0 / 16)
    cfg = PhotometricConfig(lr_consistency=1.0)
    assert float(stereo_loss(pred, left, right, scale, cfg, pred_right=pred).consistency) == 0.0
    off = stereo_loss(pred, left, right, scale, cfg, pred_right=pred * 1.5)
    assert float(off.consistency) == pytest.approx(2 * 0.5 * 2.0 / 16, rel=1e-5)  # |d − 1.5 d| both ways


def test_a_flip_swaps_the_views_and_keeps_disparity_positive() -> None:
    g = torch.Generator().manual_seed(5)
    left = torch.rand(2, 1, 6, 16, generator=g)
    right = _shifted(left, 3)  # 3 px of disparity
    target = torch.rand(2, 1, 6, 16, generator=g)
    batch = {
        "image": left,
        "right": right,
        "target": target,
        "valid_mask": torch.ones_like(target, dtype=torch.bool),
    }
    out = augment_batch(batch, AugmentConfig(hflip=1.0), torch.Generator().manual_seed(0))
    assert torch.equal(out["image"], right.flip(-1)) and torch.equal(out["right"], left.flip(-1))
    # The mirrored pair is a rectified pair again, at the same positive disparity: warping its right
    # view by +3 px reproduces its left view wherever x − 3 is inside the image.
    warped = warp_by_disparity(out["right"], torch.full((2, 1, 6, 16), 3.0))
    torch.testing.assert_close(warped[..., 3:13], out["image"][..., 3:13], rtol=0, atol=1e-6)
    # The target described the old left view, now the right one: flipped, and no longer teaching.
    assert torch.equal(out["target"], target.flip(-1)) and not out["valid_mask"].any()
    # Without a right view a flip is what it always was: the mask flips and stays valid.
    plain = augment_batch({k: v for k, v in batch.items() if k != "right"}, AugmentConfig(hflip=1.0), g)
    assert torch.equal(plain["image"], left.flip(-1)) and bool(plain["valid_mask"].all())


def test_both_views_get_the_same_jitter_and_cutout_is_refused() -> None:
    image = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    cfg = AugmentConfig(brightness=0.4, contrast=0.4, gamma=0.4, vignette=0.3, blur=1.0, blur_p=1.0)
    batch = {"image": image, "right": image.clone(), "target": torch.zeros(3, 1, 8, 8)}
    out = augment_batch(batch, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(out["image"], out["right"]) and not torch.equal(out["image"], image)
    # The left view draws what it drew before a right view existed.
    alone = augment_batch({"image": image, "target": batch["target"]}, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(alone["image"], out["image"])
    batch["valid_mask"] = torch.ones(3, 1, 8, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match="cutout"):
        augment_batch(batch, AugmentConfig(cutout=0.5), torch.Generator())


def test_the_synthetic_set_serves_the_right_view_without_targets(tmp_path: Path) -> None:
    root = tmp_path / "syn"
    generate_synthetic(root, 4, size=(32, 96), sequence_length=4, workers=1, progress=False)
    cfg = DataConfig(source="synthetic", root=str(root), size=(16, 48), target="none", right_view=True)
    cached = build_dataset(cfg, "all", progress=False)  # through the array cache
    direct = build_dataset(cfg, "all", cache=False, progress=False)
    a, b = cached[1], direct[1]
    assert a["right"].shape == a["image"].shape == (1, 16, 48)
    assert torch.equal(a["right"], b["right"]) and not torch.equal(a["right"], a["image"])
    assert not a["valid_mask"].any() and a["target"].abs().sum() == 0  # nothing to prepare
    assert cached.scale.kind == "disparity"  # type: ignore[attr-defined]
    assert (
        "right" not in build_dataset(DataConfig(source="synthetic", root=str(root), target="depth"), "all")[0]
    )
    with pytest.raises(ValueError, match="needs stereo pairs"):
        DataConfig(source="nyu", root=str(root), target="none")


def test_photometric_training_needs_no_targets(tmp_path: Path) -> None:
    from ssrdepth.checkpoint import load_checkpoint
    from ssrdepth.training.config import apply_overrides, get_preset
    from ssrdepth.training.loop import train

    root = tmp_path / "syn"
    generate_synthetic(root, 24, size=(32, 96), sequence_length=8, workers=1, progress=False)
    cfg = apply_overrides(
        get_preset("recipe-synthetic-gray-147x37-photometric"),
        [
            f"data.root={root}",
            "data.size=16,48",
            "data.max_disparity=32",
            "model.name=C",
            "model.width=0.25",
            "model.norm=none",
            "batch_size=8",
            "length=12",
            "log_every=4",
            "tensorboard=false",
            "progress=false",
            "precision=fp32",
            "threads=1",
            f"out={tmp_path / 'run'}",
        ],
    )
    assert cfg.loss == "photometric" and cfg.data.target == "none"
    result = train(cfg)  # no prepare-targets: the stereo-target cache is never read
    assert not (root / ".ssrdepth" / "targets").exists()
    losses = [r["loss"] for r in result.history["train"]]
    assert losses[-1] < losses[0], losses
    assert result.best_checkpoint is None and not result.history["val"]  # nothing to validate against
    ckpt = load_checkpoint(result.latest_checkpoint)
    assert ckpt.target["kind"] == "disparity" and ckpt.target["max_value"] == 32.0
    assert ckpt.target["focal"] and ckpt.target["baseline"]  # metres through f·B like every model


def test_stereo_losses_are_configured_and_refused_with_the_fix(toy_cfg: object, tmp_path: Path) -> None:
    from ssrdepth.training.config import TrainConfig, apply_overrides, get_preset
    from ssrdepth.training.loop import train

    from .conftest import ToyDepth, ToyStereo

    assert isinstance(toy_cfg, TrainConfig)
    hybrid = get_preset("recipe-kitti-gray-147x37-hybrid")
    assert (
        hybrid.loss == "hybrid" and hybrid.data.target == "stereo" and hybrid.photometric.smoothness == 1e-3
    )
    with pytest.raises(ValueError, match="photometric, hybrid"):
        apply_overrides(toy_cfg, ["loss=photometrik"])
    with pytest.raises(ValueError, match="hint_loss"):
        apply_overrides(toy_cfg, ["photometric.hint_loss=l2"])
    with pytest.raises(ValueError, match=r"data\.target=stereo"):  # checked at the run's start
        train(apply_overrides(toy_cfg, ["loss=hybrid", "data.target=none"]), train_set=ToyStereo(8))
    with pytest.raises(ValueError, match="nothing to learn"):
        train(apply_overrides(toy_cfg, ["data.target=none"]), train_set=ToyStereo(8))
    with pytest.raises(ValueError, match="no 'right' image"):
        train(apply_overrides(toy_cfg, ["loss=photometric"]), train_set=ToyDepth(8))
    # train --init-from across modes: a model trained on targets (mse) warm-starts a photometric run.
    first = train(apply_overrides(toy_cfg, ["length=2", "eval_every=0"]), train_set=ToyDepth(8))
    tuned = apply_overrides(
        toy_cfg,
        [
            f"out={tmp_path / 'tuned'}",
            f"init_from={first.run_dir}",
            "loss=photometric",
            "length=2",
            "eval_every=0",
        ],
    )
    assert train(tuned, train_set=ToyStereo(8)).steps == 2


def test_under_bf16_autocast_the_loss_runs_in_float32_close_to_fp32(
    rendered_pairs: dict[str, object],
) -> None:
    left, right, truth = rendered_pairs["left"], rendered_pairs["right"], rendered_pairs["normalised"]
    scale = rendered_pairs["scale"]
    assert isinstance(left, torch.Tensor) and isinstance(right, torch.Tensor)
    assert isinstance(truth, torch.Tensor) and isinstance(scale, TargetScale)
    cfg = PhotometricConfig()
    pred = truth * 0.95 + 0.01  # near the truth, as a trained network's output
    fp32 = stereo_loss(pred, left, right, scale, cfg).total
    # What a bf16 training step hands the loss: the network's output in bf16, inside the autocast.
    pred_bf16 = pred.bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = stereo_loss(pred_bf16, left, right, scale, cfg).total
    got.backward()
    assert got.dtype == torch.float32 and bool(torch.isfinite(got))
    assert pred_bf16.grad is not None and bool(torch.isfinite(pred_bf16.grad).all())
    # The autocast does not reach the loss: exactly the float32 loss of the bf16-rounded prediction.
    assert float(got.detach()) == float(
        stereo_loss(pred_bf16.detach().float(), left, right, scale, cfg).total
    )
    # The rounding alone is what differs from fp32: bf16 keeps 8 significant bits, so each disparity
    # moves by at most 2^-9 of itself (≤ 0.06 px at this set's ≤ 32 px), and the loss (a mean of
    # per-pixel errors, each changed by at most |∂I/∂x| × that shift) moves by well under 1 %.
    assert abs(float(got.detach()) - float(fp32)) <= 0.01 * float(fp32)
