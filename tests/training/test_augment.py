"""Augmentation: image and target stay aligned, the geometry of a zoom is right, draws are seeded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from ssrdepth.training.augment import (
    AugmentConfig,
    add_noise,
    augment_batch,
    colour_cast,
    cutout,
    gaussian_blur,
    grey_world,
    jpeg_round_trip,
    step_generator,
    vignette,
)
from ssrdepth.training.config import (
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    get_preset,
    list_presets,
    load_config,
)
from ssrdepth.training.loop import train


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


# --------------------------------------------------------------------------------------------------
# The synthetic → real augmentations: each op against numbers worked out by hand, then through
# augment_batch (ranges, what stays untouched, determinism).


def _point(n: int = 1, size: int = 41) -> torch.Tensor:
    image = torch.zeros(n, 1, size, size)
    image[..., size // 2, size // 2] = 1.0
    return image


def _moments(plane: torch.Tensor) -> tuple[float, float, float]:
    """Total, mean and variance of the column position of a non-negative (H, W) plane."""
    w = plane.sum(dim=0).double()
    x = torch.arange(plane.shape[1], dtype=torch.float64)
    total = float(w.sum())
    mean = float((w * x).sum()) / total
    return total, mean, float((w * (x - mean) ** 2).sum()) / total


def test_blur_keeps_the_total_and_spreads_a_point_by_sigma_squared() -> None:
    image = _point(n=4)
    sigma = torch.tensor([0.0, 0.2, 1.0, 2.5])  # 0.2 < 0.3: left sharp
    out = gaussian_blur(image, sigma)
    assert torch.equal(out[0], image[0]) and torch.equal(out[1], image[1])
    for i, s in ((2, 1.0), (3, 2.5)):
        for plane in (out[i, 0], out[i, 0].T):  # along x, and along y
            total, mean, var = _moments(plane)
            assert total == pytest.approx(1.0, abs=1e-5)
            assert mean == pytest.approx(20.0, abs=1e-6)
            assert var == pytest.approx(s * s, rel=0.10)
    # Separable: the blurred point is the outer product of its row and column profiles.
    row, col = out[3, 0].sum(dim=0), out[3, 0].sum(dim=1)
    torch.testing.assert_close(out[3, 0], col[:, None] * row[None, :], atol=1e-7, rtol=0)


def test_blur_draws_sigma_up_to_blur_with_probability_blur_p() -> None:
    batch = {
        "image": _point(n=16),
        "target": torch.rand(16, 1, 41, 41),
        "valid_mask": torch.ones(16, 1, 41, 41).bool(),
    }
    out = augment_batch(batch, AugmentConfig(blur=2.0, blur_p=0.5), step_generator(3, 1))
    variances = [_moments(out["image"][i, 0])[2] for i in range(16)]
    sharp = [v == 0.0 for v in variances]
    assert 0 < sum(sharp) < 16  # some blurred, some not
    assert max(variances) <= 4.0 * 1.1 and max(variances) > 1.0
    assert all(float(out["image"][i].sum()) == pytest.approx(1.0, abs=1e-5) for i in range(16))
    assert torch.equal(out["target"], batch["target"]) and torch.equal(out["valid_mask"], batch["valid_mask"])
    assert not AugmentConfig(blur=2.0, blur_p=0.0).enabled and not AugmentConfig(blur_p=1.0).enabled


def test_noise_sigma_is_the_requested_one_on_mid_grey() -> None:
    grey = torch.full((2, 1, 512, 512), 0.5)
    out = add_noise(grey, torch.tensor([0.05, 0.0]), torch.Generator().manual_seed(0))
    assert float(out[0].std()) == pytest.approx(0.05, rel=0.05)
    assert float(out[0].mean()) == pytest.approx(0.5, abs=0.002)
    assert torch.equal(out[1], grey[1])
    # Through augment_batch: σ ~ U(0, noise) per sample (0.5 ± 10σ never clips).
    batch = {"image": torch.full((32, 1, 64, 64), 0.5), "target": torch.zeros(32, 1, 64, 64)}
    stds = augment_batch(batch, AugmentConfig(noise=0.05), step_generator(0, 2))["image"].std(dim=(1, 2, 3))
    assert float(stds.max()) <= 0.05 * 1.05 and float(stds.max()) > 0.035 and float(stds.min()) < 0.015


def _rgb(n: int = 2, h: int = 16, w: int = 24) -> torch.Tensor:
    # Smooth and well inside (0, 1): no gain below clips (largest value 0.5 × 4/3 = 0.67).
    pattern = torch.linspace(0.0, 1.0, w).view(1, 1, 1, w) * torch.linspace(0.5, 1.0, h).view(1, 1, h, 1)
    base = torch.tensor([0.3, 0.4, 0.5]).view(1, 3, 1, 1)
    return (base * (0.5 + 0.5 * pattern)).expand(n, 3, h, w).contiguous()


def test_grey_world_makes_the_channel_means_agree() -> None:
    image = _rgb()
    out = grey_world(image, torch.tensor([True, False]))
    means = out[0].mean(dim=(1, 2))
    torch.testing.assert_close(means, means.mean().expand(3), atol=1e-5, rtol=0)
    assert float(means.mean()) == pytest.approx(float(image[0].mean()), abs=1e-6)  # brightness kept
    # A gain per channel: each channel keeps its shape (here the ratio to the green one is constant).
    ratio = out[0, 0] / out[0, 1]
    torch.testing.assert_close(ratio, ratio[0, 0].expand_as(ratio))
    assert float(ratio[0, 0]) == pytest.approx((0.4 / 0.3) * (0.3 / 0.4), abs=1e-5)  # means now equal
    assert torch.equal(out[1], image[1])
    gray = image[:, :1]
    assert torch.equal(grey_world(gray, torch.tensor([True, True])), gray)


def test_colour_cast_shifts_red_and_blue_in_opposite_directions() -> None:
    image = _rgb()
    out = colour_cast(image, torch.tensor([0.2, -0.1]))
    torch.testing.assert_close(out[0, 0], image[0, 0] * 1.2214028)  # e^0.2
    torch.testing.assert_close(out[0, 1], image[0, 1])
    torch.testing.assert_close(out[0, 2], image[0, 2] * 0.8187308)  # e^-0.2
    torch.testing.assert_close(out[1, 0], image[1, 0] * 0.9048374)  # e^-0.1
    gray = image[:, :1]
    assert torch.equal(colour_cast(gray, torch.tensor([0.2, 0.2])), gray)
    # Through augment_batch: t ~ U(±colour_cast) leaves the product of red and blue as it was.
    batch = {"image": _rgb(n=8), "target": torch.zeros(8, 1, 16, 24)}
    cast = augment_batch(batch, AugmentConfig(colour_cast=0.3), step_generator(1, 1))["image"]
    torch.testing.assert_close(cast[:, 0] * cast[:, 2], batch["image"][:, 0] * batch["image"][:, 2])
    t = (cast[:, 0, 0, 0] / batch["image"][:, 0, 0, 0]).log()
    assert bool((t.abs() <= 0.3 + 1e-6).all()) and float(t.max()) > 0 > float(t.min())
    gray_batch = {"image": batch["image"][:, :1].contiguous(), "target": batch["target"]}
    cfg = AugmentConfig(colour_cast=0.3, grey_world=1.0)
    assert torch.equal(augment_batch(gray_batch, cfg, step_generator(1, 1))["image"], gray_batch["image"])


def test_vignette_keeps_the_centre_and_scales_the_corners_by_one_minus_v() -> None:
    image = torch.full((2, 1, 37, 147), 0.8)
    out = vignette(image, torch.tensor([0.3, 0.0]))
    assert torch.equal(out[0, 0, 18, 73], image[0, 0, 18, 73])  # the centre pixel, r = 0
    corner = image[0, 0, 0, 0] * (1.0 - torch.tensor(0.3))  # r = 1: exactly × (1 − v), in float32
    for y, x in ((0, 0), (0, 146), (36, 0), (36, 146)):
        assert torch.equal(out[0, 0, y, x], corner)
    # The middle of the left edge: r² = 73² / (18² + 73²).
    assert float(out[0, 0, 18, 0]) == pytest.approx(0.8 * (1.0 - 0.3 * 5329 / 5653), abs=1e-7)
    assert torch.equal(out[1], image[1])
    assert bool((out[0] <= 0.8).all()) and bool((out[0] >= 0.8 * 0.7 - 1e-7).all())


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10.0 * torch.log10(1.0 / (a - b).square().mean()))


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_at_quality_90_is_close_but_not_equal(channels: int) -> None:
    y = torch.linspace(0.0, 1.0, 48).view(48, 1)
    x = torch.linspace(0.0, 1.0, 64).view(1, 64)
    smooth = 0.5 + 0.3 * torch.sin(3.0 * x + 2.0 * y) * torch.cos(2.0 * y)
    image = torch.stack([smooth * (0.8 + 0.1 * c) for c in range(channels)])[None].expand(3, -1, -1, -1)
    image = (image * 255).round() / 255  # already 8-bit, so any change is the codec's
    out = jpeg_round_trip(image, torch.tensor([90, 30, 0]))
    assert not torch.equal(out[0], image[0])
    assert _psnr(out[0], image[0]) > 30.0
    assert _psnr(out[1], image[1]) < _psnr(out[0], image[0])  # lower quality, larger error
    assert torch.equal(out[2], image[2])
    torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-4, rtol=0)  # 8-bit values


def test_cutout_marks_exactly_the_pasted_pixels_invalid_and_keeps_the_target() -> None:
    g = torch.Generator().manual_seed(5)
    n, h, w = 8, 37, 147
    image = torch.rand(n, 1, h, w, generator=g)  # distinct values: every pasted pixel shows
    batch = {
        "image": image,
        "target": torch.rand(n, 1, h, w, generator=g),
        "valid_mask": torch.ones(n, 1, h, w, dtype=torch.bool),
        "depth": torch.rand(n, 1, h, w, generator=g) + 1.0,
    }
    out = augment_batch(batch, AugmentConfig(cutout=1.0), step_generator(4, 9))
    changed = out["image"] != image
    assert torch.equal(~out["valid_mask"], changed)
    assert torch.equal(out["target"], batch["target"]) and torch.equal(out["depth"], batch["depth"])
    invalid = (~out["valid_mask"]).float().mean(dim=(1, 2, 3))
    assert bool((invalid > 0).all()) and float(invalid.max()) <= 3 * 0.3 * 0.3 + 0.02
    # Both fills occur: flat grey levels, and crops of the other images.
    pasted = out["image"][changed]
    from_others = torch.isin(pasted, image)
    assert bool(from_others.any()) and not bool(from_others.all())
    # A pixel that was invalid stays invalid; with probability 0.5 some samples are left alone.
    batch["valid_mask"][:, :, :, :10] = False
    half = augment_batch(batch, AugmentConfig(cutout=0.5), step_generator(4, 9))
    assert not bool(half["valid_mask"][..., :10].any())
    untouched = [bool(torch.equal(half["image"][i], image[i])) for i in range(n)]
    assert 0 < sum(untouched) < n
    for i in range(n):
        if untouched[i]:
            assert torch.equal(half["valid_mask"][i], batch["valid_mask"][i])
    # A batch of one has no other image to crop: flat grey only.
    one, one_mask = cutout(image[:1], torch.ones(1, 1, h, w, dtype=torch.bool), torch.tensor([True]), g)
    assert torch.equal(~one_mask, one != image[:1])
    assert not bool(torch.isin(one[~one_mask], image[0]).any())


def test_cutout_needs_a_masked_loss_to_train(tmp_path: Path) -> None:
    cfg = TrainConfig(augment=AugmentConfig(cutout=0.5), out=str(tmp_path / "run"))
    with pytest.raises(ValueError, match=r"augment.cutout marks the occluded pixels invalid.*masked_"):
        train(cfg)
    assert not (tmp_path / "run").exists()  # refused before the run folder is touched


_ALL_NEW = AugmentConfig(
    grey_world=0.5, colour_cast=0.2, vignette=0.4, blur=1.5, noise=0.03, jpeg=0.5, cutout=0.5
)


def test_new_augmentations_are_drawn_from_the_step_generator_only() -> None:
    for channels in (1, 3):
        cfg = dataclasses.replace(_ALL_NEW, hflip=0.5, brightness=0.2, scale=0.2)
        a = augment_batch(_batch(channels=channels), cfg, step_generator(7, 11))
        torch.manual_seed(123)  # the global generator plays no part
        b = augment_batch(_batch(channels=channels), cfg, step_generator(7, 11))
        c = augment_batch(_batch(channels=channels), cfg, step_generator(8, 11))
        for key in ("image", "target", "valid_mask", "depth"):
            assert torch.equal(a[key], b[key])
        assert not torch.equal(a["image"], c["image"])
        assert not torch.equal(a["valid_mask"], c["valid_mask"])


def test_new_augmentations_off_leave_the_batch_and_the_old_draws_as_they_were() -> None:
    batch = _batch(channels=3)
    out = augment_batch(batch, AugmentConfig(blur_p=1.0), step_generator(0, 0))
    for key in ("image", "target", "valid_mask", "depth", "index"):
        assert torch.equal(out[key], batch[key])
    # The new fields at their defaults draw nothing: the recipe's augmentation is what it was.
    old = AugmentConfig(hflip=0.5, brightness=0.4, contrast=0.4, gamma=0.4, colour=0.1)
    a = augment_batch(batch, old, step_generator(2, 3))
    b = augment_batch(batch, dataclasses.replace(old, blur_p=0.9), step_generator(2, 3))
    assert torch.equal(a["image"], b["image"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("blur", -1.0, "blur is the largest Gaussian σ in pixels"),
        ("blur", 11.0, "blur is the largest Gaussian σ in pixels"),
        ("blur_p", 1.5, "blur_p is a probability"),
        ("noise", 1.5, "noise is the largest noise σ"),
        ("colour_cast", -0.1, "colour_cast is the half-width"),
        ("grey_world", 2.0, "grey_world is a probability"),
        ("vignette", 1.2, "vignette is the largest corner darkening"),
        ("jpeg", -0.5, "jpeg is a probability"),
        ("cutout", float("nan"), "cutout is a probability"),
    ],
)
def test_new_bad_values_are_explained(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AugmentConfig(**{field: value})


def test_new_keys_are_set_from_the_command_line_and_toml_and_off_in_every_preset(tmp_path: Path) -> None:
    cfg = apply_overrides(
        TrainConfig(),
        [
            "augment.blur=1.0",
            "augment.blur_p=0.3",
            "augment.noise=0.02",
            "augment.jpeg=0.5",
            "augment.cutout=0.25",
        ],
    )
    assert (cfg.augment.blur, cfg.augment.blur_p, cfg.augment.noise) == (1.0, 0.3, 0.02)
    assert (cfg.augment.jpeg, cfg.augment.cutout) == (0.5, 0.25)
    with pytest.raises(ValueError, match=r"--set augment.jpeg=2: augment: jpeg is a probability"):
        apply_overrides(TrainConfig(), ["augment.jpeg=2"])
    path = tmp_path / "c.toml"
    path.write_text("[augment]\ngrey_world = 0.5\ncolour_cast = 0.1\nvignette = 0.3\n", encoding="utf-8")
    loaded = load_config(path)
    assert (loaded.augment.grey_world, loaded.augment.colour_cast, loaded.augment.vignette) == (0.5, 0.1, 0.3)
    assert config_from_dict(config_to_dict(loaded)) == loaded
    new = ("grey_world", "colour_cast", "vignette", "blur", "noise", "jpeg", "cutout")
    for name in list_presets():
        augment = get_preset(name).augment
        assert all(getattr(augment, f) == 0.0 for f in new), name
