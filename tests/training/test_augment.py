"""Augmentation: image and target stay aligned, the geometry of a zoom is right, draws are seeded."""

from __future__ import annotations

import pytest
import torch

from ssrdepth.training.augment import AugmentConfig, augment_batch, step_generator


def _batch(n: int = 6, channels: int = 1, h: int = 12, w: int = 20) -> dict[str, torch.Tensor]:
    # The target is a left-to-right ramp that differs per sample; the image encodes it exactly (all
    # channels), so any misalignment between image and target shows up as a difference.
    ramp = torch.linspace(0.1, 0.9, w).view(1, 1, 1, w).expand(n, 1, h, w)
    target = (ramp * torch.linspace(0.5, 1.0, n).view(n, 1, 1, 1)).contiguous()
    valid = torch.zeros(n, 1, h, w, dtype=torch.bool)
    valid[..., : w // 3] = True  # only the left third has a target
    return {
        "image": target.expand(n, channels, h, w).contiguous(),
        "target": target,
        "valid_mask": valid,
        "depth": 1.0 / target,
        "index": torch.arange(n),
    }


def test_flip_keeps_image_target_mask_and_depth_together() -> None:
    batch = _batch()
    out = augment_batch(batch, AugmentConfig(hflip=0.5), step_generator(0, 3))
    flipped = out["valid_mask"][:, 0, 0, -1]  # the mask moved to the right third on flipped samples
    assert 0 < int(flipped.sum()) < 6  # some samples flipped, some not (seeded draw)
    for i in range(6):
        expect = batch["target"][i].flip(-1) if flipped[i] else batch["target"][i]
        assert torch.equal(out["target"][i], expect)
        assert torch.equal(out["image"][i], expect)  # still aligned with its target
        assert torch.equal(out["depth"][i], 1.0 / expect)
    assert torch.equal(out["index"], batch["index"])
    # A flipped pair round-trips: flipping the flipped samples again restores the input.
    back = out["target"].clone()
    back[flipped] = back[flipped].flip(-1)
    assert torch.equal(back, batch["target"])
    assert torch.equal(batch["image"], _batch()["image"])  # the input batch is untouched


def test_photometric_jitter_changes_the_image_only_and_stays_in_range() -> None:
    batch = _batch(channels=3)
    cfg = AugmentConfig(brightness=0.3, contrast=0.3, gamma=0.3, colour=0.2)
    out = augment_batch(batch, cfg, step_generator(1, 0))
    assert torch.equal(out["target"], batch["target"]) and torch.equal(out["valid_mask"], batch["valid_mask"])
    assert not torch.equal(out["image"], batch["image"])
    assert float(out["image"].min()) >= 0.0 and float(out["image"].max()) <= 1.0
    # Brightness, contrast and gamma are monotonic per image: the pixel order along a row is kept.
    assert bool((out["image"][:, :, :, 1:] >= out["image"][:, :, :, :-1]).all())


def test_zoom_scales_disparity_up_and_depth_down() -> None:
    # A zoom by s crops (H/s, W/s) and resizes it back: the image (which encodes the unscaled target)
    # goes through the same crop, so the zoomed disparity target must be exactly s × the zoomed image,
    # and a depth target 1/s × it; the metric depth map follows the depth rule.
    batch = _batch(n=4, h=16, w=32)
    batch["target"] = batch["target"] * 0.5  # room below 1 for a ×1.5 zoom
    batch["image"] = batch["target"].clone()
    cfg = AugmentConfig(scale=0.5)
    out_d = augment_batch(batch, cfg, step_generator(2, 5), "disparity")
    out_z = augment_batch(batch, cfg, step_generator(2, 5), "depth")
    ratio_d = out_d["target"] / out_d["image"]
    ratio_z = out_z["target"] / out_z["image"]
    s = ratio_d[:, 0, 0, 0]
    assert bool((s > 1.0).all()) and bool((s <= 1.5).all())
    torch.testing.assert_close(ratio_d, s.view(-1, 1, 1, 1).expand_as(ratio_d))
    torch.testing.assert_close(ratio_z, (1.0 / s).view(-1, 1, 1, 1).expand_as(ratio_z))


def test_draws_are_a_function_of_seed_step_and_rank() -> None:
    cfg = AugmentConfig(hflip=0.5, brightness=0.4, contrast=0.4, gamma=0.4)
    a = augment_batch(_batch(), cfg, step_generator(7, 11))
    b = augment_batch(_batch(), cfg, step_generator(7, 11))
    c = augment_batch(_batch(), cfg, step_generator(7, 12))
    d = augment_batch(_batch(), cfg, step_generator(7, 11, rank=1))
    assert torch.equal(a["image"], b["image"])
    assert not torch.equal(a["image"], c["image"]) and not torch.equal(a["image"], d["image"])


def test_off_by_default_and_bad_values_are_explained() -> None:
    assert not AugmentConfig().enabled
    batch = _batch()
    assert torch.equal(augment_batch(batch, AugmentConfig(), step_generator(0, 0))["image"], batch["image"])
    with pytest.raises(ValueError, match="hflip is a probability"):
        AugmentConfig(hflip=1.5)
    with pytest.raises(ValueError, match="target_kind"):
        augment_batch(batch, AugmentConfig(hflip=1.0), step_generator(0, 0), "height")
