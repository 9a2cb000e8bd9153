"""Presets, TOML files and overrides, schedules worked out by hand, and the data-order sampler."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from torch.utils.data import DistributedSampler

from ssrdepth.training.config import (
    ScheduleConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    get_preset,
    list_presets,
    load_config,
    paper_lr,
    resolve_config,
    to_toml,
)
from ssrdepth.training.sampler import StepSampler


def test_paper_presets_and_both_readings() -> None:
    for name in (
        "kitti-gray-147x37",
        "kitti-rgb-310x94",
        "kitti-gray-310x94",
        "nyu-rgb-320x240",
        "nyu-gray-320x240",
    ):
        assert name in list_presets()
    k = get_preset("kitti-gray-147x37")
    assert k.data.size == (37, 147) and k.data.channels == 1 and k.batch_size == 40
    assert (k.length, k.unit) == (1000, "steps") and k.loss == "l2_paper" and k.optim.name == "sgd"
    assert get_preset("kitti-gray-147x37@steps") == dataclasses.replace(k, preset="kitti-gray-147x37@steps")
    e = get_preset("kitti-gray-147x37@epochs")
    assert (e.length, e.unit) == (1000, "epochs")
    rgb = get_preset("kitti-rgb-310x94")
    assert rgb.data.size == (94, 310) and rgb.data.channels == 3
    nyu = get_preset("nyu-gray-320x240@epochs")
    assert nyu.data.source == "nyu" and nyu.data.size == (240, 320) and nyu.data.channels == 1
    # l2_paper = T/2 × mse: the SGD rate is the mse-scale rate × 2/T, T = 37·147 = 5439.
    assert paper_lr(0.5, (37, 147)) == pytest.approx(0.5 * 2 / 5439)
    assert paper_lr(0.5, (37, 147), "mse") == 0.5
    # The same per-pixel step size at every preset size.
    assert k.effective_lr * 37 * 147 == pytest.approx(rgb.effective_lr * 94 * 310)
    assert k.effective_lr * 37 * 147 == pytest.approx(nyu.effective_lr * 240 * 320)
    assert k.optim.lr == rgb.optim.lr == nyu.optim.lr == 0.01  # stated once, on the per-pixel scale
    with pytest.raises(ValueError, match="valid presets: kitti-gray-147x37, kitti-rgb-310x94"):
        get_preset("kitti-147x37")
    with pytest.raises(ValueError, match="valid readings: steps, epochs"):
        get_preset("kitti-gray-147x37@iterations")


def test_toml_round_trip_and_preset_base(tmp_path: Path) -> None:
    cfg = apply_overrides(get_preset("nyu-rgb-320x240@epochs"), ["optim.lr=0.003", "data.cache_dir=/tmp/c"])
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config_to_dict(cfg)))
    assert load_config(path) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg
    # None (TOML has no null) is left out and comes back as the default.
    plain = TrainConfig()
    assert "cache_dir" not in to_toml(config_to_dict(plain))
    path.write_text(to_toml(config_to_dict(plain)))
    assert load_config(path) == plain
    # A short file on top of a preset it names; the command line wins over the file.
    short = tmp_path / "short.toml"
    short.write_text(
        'preset = "kitti-gray-147x37"\nbatch_size = 16\n[model]\nname = "scrdu"\n[model.options]\nwidth = 0.5\n'
    )
    cfg = resolve_config(None, short, ["batch_size=8", "model.width=0.25"])
    assert cfg.preset == "kitti-gray-147x37" and cfg.data.size == (37, 147)
    assert cfg.batch_size == 8 and cfg.model.name == "SCRDU" and cfg.model.options.width == 0.25
    bad = tmp_path / "bad.toml"
    bad.write_text('[optim]\nname = "adagrad"\n')
    with pytest.raises(
        ValueError, match=r"bad\.toml: optim: unknown optimizer 'adagrad'; valid optimizers: sgd, adam"
    ):
        load_config(bad)
    bad.write_text("[data]\nsizes = [1, 2]\n")
    with pytest.raises(ValueError, match=r"unknown config key 'data\.sizes'; valid keys here: data\.source"):
        load_config(bad)
    bad.write_text("batch_size = ")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match=r"missing\.toml"):
        load_config(tmp_path / "missing.toml")


def test_overrides_parse_types_and_list_choices() -> None:
    cfg = apply_overrides(
        TrainConfig(),
        [
            "data.size=147x37",  # W×H as the paper writes it
            "model.name=scr",  # alias, case-insensitive
            "model.options.norm=group",
            "optim.betas=[0.8, 0.95]",
            "optim.lr=3e-4",
            "channels_last=yes",
            "data.cache_dir=none",
            "length=5.0",
        ],
    )
    assert cfg.data.size == (37, 147) and cfg.model.name == "SCRX" and cfg.model.options.norm == "group"
    assert cfg.optim.betas == (0.8, 0.95) and cfg.optim.lr == 3e-4 and cfg.channels_last is True
    assert cfg.data.cache_dir is None and cfg.length == 5
    assert apply_overrides(cfg, {"data.size": (20, 30)}).data.size == (20, 30)
    assert apply_overrides(cfg, ["data.size=20,30"]).data.size == (20, 30)
    cases = {
        "loss=l1": "valid losses: l2_paper, mse, masked_l2_paper, masked_mse",
        "model.name=resnet": "valid names: AH, C, SC, SCRX, SCRXU, SCRDU",
        "data.source=cityscapes": "valid sources: synthetic, kitti-tracking",
        "schedule.name=poly": "valid schedules: constant, step, cosine",
        "unit=iterations": "valid units: steps, epochs",
        "precision=fp8": "valid values: auto, fp32, bf16, fp16",
        "device=tpu": "valid devices: cpu, cuda, cuda:N, auto",
        "best_metric=val_ard": "valid metrics: val_rmse, val_mse, val_loss",
        "model.norm=layer": "valid values: none, batch, group",
        "optim.momentum=1.5": r"momentum must be in \[0, 1\)",
        "batch_size=0": "batch_size must be ≥ 1",
        "batch_size=forty": "batch_size: expected an integer, got 'forty'",
        "channels_last=maybe": "expected true or false",
        "data.size=37": "expected 2 values",
        "data.size=37x": "WIDTHxHEIGHT",
        "optim.learning_rate=1": "valid keys here: optim.name, optim.lr",
        "optim=sgd": "optim is a section; set its keys instead",
        "lr": "expected KEY=VALUE",
    }
    for override, message in cases.items():
        with pytest.raises(ValueError, match=message):
            apply_overrides(cfg, [override])


def test_schedules_by_hand() -> None:
    cos = ScheduleConfig("cosine", warmup=0.1, final_lr_ratio=0.0)
    # 10 steps, 1 warm-up step: 1/2 at step 0, then a half cosine over steps 1…9.
    assert cos.factor(0, 10) == pytest.approx(0.5)
    assert cos.factor(1, 10) == pytest.approx(1.0)
    assert cos.factor(5, 10) == pytest.approx(0.5)
    assert cos.factor(3, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 8)))
    assert cos.factor(9, 10) == pytest.approx(0.0)
    step = ScheduleConfig("step", milestones=(0.5, 0.75), gamma=0.1)
    assert [step.factor(s, 8) for s in range(8)] == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    assert ScheduleConfig().factor(7, 8) == 1.0
    with pytest.raises(ValueError, match="increasing fractions"):
        ScheduleConfig("step", milestones=(0.75, 0.5))


def test_step_sampler_splits_the_single_process_batch_and_resumes_mid_epoch() -> None:
    data = list(range(22))
    batch, world = 6, 2
    single = StepSampler(data, 1, 0, seed=3)  # type: ignore[arg-type]
    ranks = [StepSampler(data, world, r, seed=3) for r in range(world)]  # type: ignore[arg-type]

    def reference(replicas: int, rank: int, epoch: int) -> list[int]:
        """torch's own DistributedSampler, the order StepSampler promises to keep."""
        sampler = DistributedSampler(
            data,  # type: ignore[arg-type]
            num_replicas=replicas,
            rank=rank,
            shuffle=True,
            seed=3,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return list(sampler)

    orders = []
    for epoch in (0, 1):
        single.set_position(epoch, 0)
        order = list(single)
        assert order == reference(1, 0, epoch) and sorted(order) == data
        orders.append(order)
        per_rank = []
        for r, s in enumerate(ranks):
            s.set_position(epoch, 0)
            per_rank.append(list(s))
            # rank r: positions r, r + 2, … of the one-process permutation (22 is even: none dropped)
            assert per_rank[r] == reference(world, r, epoch) == order[r::world]
        steps = 22 // batch  # 3 full global batches; the rest is dropped
        for k in range(steps):
            parts = [p[k * batch // world : (k + 1) * batch // world] for p in per_rank]
            assert sorted(parts[0] + parts[1]) == sorted(order[k * batch : (k + 1) * batch])
        # Resuming at step 2 of the epoch starts at the same place, in one process and in each rank.
        single.set_position(epoch, 2 * batch)
        assert list(single) == order[2 * batch :]
        assert len(single) == 22 - 2 * batch
        ranks[1].set_position(epoch, 2 * batch // world)
        assert list(ranks[1]) == per_rank[1][2 * batch // world :]
    assert orders[0] != orders[1]  # a new epoch, a new permutation
    # An odd count: each of 2 ranks gets floor(23 / 2) = 11 and one sample is dropped (drop_last).
    odd = [StepSampler(list(range(23)), 2, r, seed=3) for r in range(2)]  # type: ignore[arg-type]
    assert [len(s) for s in odd] == [11, 11] and len(set(odd[0]) | set(odd[1])) == 22


def test_learning_rate_follows_size_and_loss() -> None:
    # Issue 13, fault 4: the rate is stated on the per-pixel (mse) scale and derived for eq. 1, so a
    # new size or loss gets the calibrated step instead of one calibrated for another setting.
    k = get_preset("kitti-gray-147x37")
    assert k.effective_lr == pytest.approx(0.01 * 2 / (37 * 147))
    big = apply_overrides(k, ["data.size=240,320"])
    assert big.effective_lr == pytest.approx(0.01 * 2 / (240 * 320))  # not 14× too high
    per_pixel = apply_overrides(k, ["loss=mse"])
    assert per_pixel.effective_lr == pytest.approx(0.01)  # not 2,700× too low
    adam = apply_overrides(k, ["optim.name=adam", "optim.lr=0.001"])
    assert adam.effective_lr == 0.001  # Adam is invariant to the loss's scale


def test_sample_seeds_follow_the_sample_not_the_process_or_the_start() -> None:
    """A sample's seed is a function of (run seed, epoch, position in the permutation): the same for
    one process and for each of 2 DDP ranks, and the same when the epoch is resumed mid-way."""
    from ssrdepth.training.sampler import SeededSampler, sample_seed

    data = list(range(20))
    single = StepSampler(data, 1, 0, seed=3)  # type: ignore[arg-type]
    single.set_position(1, 0)
    seeded = dict(SeededSampler(single))
    order = list(single)
    assert [seeded[i] for i in order] == [sample_seed(3, 1, p) for p in range(20)]
    assert len(set(seeded.values())) == 20 and sample_seed(3, 1, 0) != sample_seed(3, 2, 0)
    for r in range(2):
        rank = StepSampler(data, 2, r, seed=3)  # type: ignore[arg-type]
        rank.set_position(1, 4)  # resumed at this rank's 5th sample
        assert dict(SeededSampler(rank)) == {i: seeded[i] for i in order[8 + r :: 2]}
