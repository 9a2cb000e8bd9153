"""Tiny training runs: the loss falls, resume equals an uninterrupted run, checkpoints rebuild the model,
NaN stops the run, finished runs are reused, and the command works end to end."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.cli import main
from ssrdepth.models import create_model
from ssrdepth.training.config import TrainConfig, apply_overrides, config_to_dict
from ssrdepth.training.loop import DivergedError, train

from .conftest import ToyDepth, ToyStereo


def _per_image_rmse(model: torch.nn.Module, ds: ToyDepth) -> float:
    """Second implementation of the validation RMSE: NumPy, image by image, valid pixels only."""
    with torch.no_grad():
        pred = model(ds.image).numpy()
    t, v = ds.target.numpy(), ds.valid.numpy()
    return float(np.mean([np.sqrt(np.mean((pred[i][v[i]] - t[i][v[i]]) ** 2)) for i in range(len(t))]))


def test_loss_falls_and_outputs_are_written(toy_cfg: TrainConfig) -> None:
    cfg = apply_overrides(toy_cfg, ["length=40", "eval_every=20", "log_every=5", "tensorboard=true"])
    train_set, val_set = ToyDepth(64), ToyDepth(16, seed=1)
    torch.manual_seed(cfg.seed)
    untrained = create_model("C", 1, width=0.25).eval()  # train() seeds the same way before building
    rmse0 = _per_image_rmse(untrained, val_set)

    result = train(cfg, train_set=train_set, val_set=val_set)

    run = Path(cfg.out)
    assert result.steps == 40 and not result.skipped
    losses = [r["loss"] for r in result.history["train"]]
    assert losses[-1] < 0.25 * losses[0], losses
    final_rmse = result.history["val"][-1]["val_rmse"]
    assert final_rmse < 0.5 * rmse0, (final_rmse, rmse0)
    # Recorded validation RMSE equals an independent recomputation from the best checkpoint.
    best = load_checkpoint(result.best_checkpoint)  # type: ignore[arg-type]
    assert best.step == result.best["step"]  # type: ignore[index]
    assert _per_image_rmse(best.build_model(), val_set) == pytest.approx(best.metrics["val_rmse"], rel=1e-5)
    # Logs: one CSV row per logged step, validation rows, curves, TensorBoard events, resolved config.
    with open(run / "train_log.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(5, 41, 5))
    assert float(rows[-1]["loss"]) == pytest.approx(losses[-1])
    with open(run / "val_log.csv", encoding="utf-8") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [20, 40]
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((run / "config.json").read_text()) == config_to_dict(cfg)
    assert result.images_per_second > 0 and result.seconds > 0


def test_checkpoint_is_safe_and_rebuilds_the_model(toy_cfg: TrainConfig) -> None:
    result = train(toy_cfg, train_set=ToyDepth(32), val_set=ToyDepth(8, seed=1))
    raw = torch.load(result.latest_checkpoint, weights_only=True)  # no code runs
    for key in ("optimizer", "scheduler", "rng", "config", "history", "best"):
        assert key in raw, key
    assert raw["config"] == config_to_dict(toy_cfg)
    ckpt = load_checkpoint(result.latest_checkpoint)
    assert ckpt.step == 8 and ckpt.input_size == (16, 48)
    assert ckpt.target == ToyDepth.scale.as_dict()
    assert ckpt.model.name == "C" and ckpt.model.options["width"] == 0.25
    model = ckpt.build_model()
    twin = create_model("C", 1, width=0.25)
    twin.load_state_dict(raw["state_dict"])
    x = torch.rand(2, 1, 16, 48)
    torch.testing.assert_close(model(x), twin.eval()(x), rtol=0, atol=0)
    # The momentum buffers are the optimiser's real state, not zeros.
    bufs = [s["momentum_buffer"] for s in raw["optimizer"]["state"].values()]
    assert len(bufs) == len(list(model.parameters())) and all(b.abs().sum() > 0 for b in bufs)


class _Crash(RuntimeError):
    pass


AUGMENTED = ["augment.hflip=0.5", "augment.brightness=0.3", "augment.contrast=0.3", "augment.gamma=0.3"]


#: The stereo losses on a right view: hybrid (photometric + hints) with the left-right consistency's
#: second forward pass, augmented (flips swap the views).
STEREO = [*AUGMENTED, "loss=hybrid", "photometric.lr_consistency=1"]


@pytest.mark.parametrize("augment", [[], AUGMENTED, STEREO], ids=["plain", "augmented", "stereo"])
def test_resume_after_a_crash_equals_an_uninterrupted_run(
    toy_cfg: TrainConfig, tmp_path: Path, augment: list[str]
) -> None:
    # 24 samples, batch 8: 3 steps per epoch; checkpoints at 2, 4, 6, 8; crash after step 5, mid-epoch,
    # so the resumed run must restart the data order at epoch 1, sample 8, with the schedule at step 4
    # (and, augmented, draw the same flips and jitters as the uninterrupted run; stereo: the same with
    # the photometric losses on a right view).
    toy = ToyStereo if augment is STEREO else ToyDepth
    base = apply_overrides(
        toy_cfg,
        [
            "length=8",
            "checkpoint_every=2",
            "eval_every=4",
            "schedule.name=cosine",
            "schedule.warmup=0.25",
            *augment,
        ],
    )
    full = train(
        dataclasses.replace(base, out=str(tmp_path / "full")),
        train_set=toy(24),
        val_set=toy(8, seed=1),
    )

    def crash(step: int) -> None:
        if step == 5:
            raise _Crash

    cut = dataclasses.replace(base, out=str(tmp_path / "cut"))
    with pytest.raises(_Crash):
        train(cut, train_set=toy(24), val_set=toy(8, seed=1), on_step=crash)
    assert load_checkpoint(tmp_path / "cut" / "latest.pt").step == 4
    resumed = train(cut, train_set=toy(24), val_set=toy(8, seed=1))

    assert resumed.steps == 8
    a = torch.load(full.latest_checkpoint, weights_only=True)
    b = torch.load(resumed.latest_checkpoint, weights_only=True)
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k  # bit for bit on the CPU
    for i, s in a["optimizer"]["state"].items():
        assert torch.equal(s["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"])
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 8
    assert [r["loss"] for r in full.history["train"]] == [r["loss"] for r in resumed.history["train"]]
    assert [r["lr"] for r in full.history["train"]] == [r["lr"] for r in resumed.history["train"]]
    assert full.history["val"] == resumed.history["val"]
    with open(tmp_path / "cut" / "train_log.csv", encoding="utf-8") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 9))

    # Ctrl-C between checkpoints: the current step is saved on the way out, and resuming matches too.
    def interrupt(step: int) -> None:
        if step == 3:
            raise KeyboardInterrupt

    ctrl_c = dataclasses.replace(base, out=str(tmp_path / "ctrl_c"))
    with pytest.raises(KeyboardInterrupt):
        train(ctrl_c, train_set=toy(24), val_set=toy(8, seed=1), on_step=interrupt)
    assert load_checkpoint(tmp_path / "ctrl_c" / "latest.pt").step == 3
    again = train(ctrl_c, train_set=toy(24), val_set=toy(8, seed=1))
    c = torch.load(again.latest_checkpoint, weights_only=True)
    for k, v in a["state_dict"].items():
        assert torch.equal(v, c["state_dict"][k]), k


# The run with DataLoader workers goes in a fresh interpreter: workers are forked, and forking a pytest
# worker that earlier tests left with runtime threads (OpenVINO, oneDNN) can kill it.
RESUME_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, random, sys
    from pathlib import Path
    import numpy as np
    import torch
    from ssrdepth.training.config import apply_overrides, config_from_dict
    from ssrdepth.training.loop import train

    sys.path.insert(0, sys.argv[2])  # tests/training: its conftest's ToyDepth
    from conftest import ToyDepth

    class AugmentedToy(ToyDepth):
        # ToyDepth with random augmentation drawn from the global generators, as a loader's transforms
        # would: noise (torch), brightness (NumPy), flip (random).
        def __getitem__(self, i):
            image = self.image[i] + 0.05 * torch.randn_like(self.image[i])
            image = image * float(np.random.uniform(0.8, 1.2))
            target = self.target[i]
            if random.random() < 0.5:
                image, target = image.flip(-1), target.flip(-1)
            return {"image": image.clamp(0, 1), "target": target, "valid_mask": self.valid[i],
                    "depth": torch.zeros_like(target), "index": i}

    class Crash(RuntimeError):
        pass

    def crash(step):
        if step == 5:
            raise Crash

    out = Path(sys.argv[1])
    base = config_from_dict(json.loads((out / "base.json").read_text()))
    full = train(dataclasses.replace(base, out=str(out / "full")), train_set=AugmentedToy(24))
    cut = dataclasses.replace(base, out=str(out / "cut"))
    try:
        train(cut, train_set=AugmentedToy(24), on_step=crash)
        raise SystemExit("the crash did not happen")
    except Crash:
        pass
    resumed = train(cut, train_set=AugmentedToy(24))
    inline = train(dataclasses.replace(base, out=str(out / "inline"), workers=0), train_set=AugmentedToy(24))
    ckpt = [torch.load(r.latest_checkpoint, weights_only=True)["state_dict"] for r in (full, resumed, inline)]
    same = [all(torch.equal(v, c[k]) for k, v in ckpt[0].items()) for c in ckpt[1:]]
    losses = [[r["loss"] for r in x.history["train"]] for x in (full, resumed)]
    (out / "result.json").write_text(json.dumps(
        {"steps": resumed.steps, "resumed_equal": same[0], "inline_equal": same[1], "losses_equal": losses[0] == losses[1]}
    ))
    """
)


@pytest.mark.slow
def test_resume_with_workers_and_augmentation_is_bit_exact(toy_cfg: TrainConfig, tmp_path: Path) -> None:
    """2 DataLoader workers, random augmentation, a crash mid-epoch (after step 5 of 3-step epochs,
    resumed from step 4): the resumed run equals the uninterrupted one bit for bit. Per-worker random
    streams would not (the resumed epoch starts on another worker with another stream position)."""
    # per-sample augmentation in the data set (in the workers) and the batch augmentation of training
    base = apply_overrides(
        toy_cfg, ["length=8", "checkpoint_every=2", "eval_every=0", "workers=2", *AUGMENTED]
    )
    (tmp_path / "base.json").write_text(json.dumps(config_to_dict(base)))
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(Path(__file__).resolve().parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["steps"] == 8
    assert result["resumed_equal"] and result["losses_equal"]  # bit for bit after the crash
    # Each sample's randomness depends on (seed, epoch, position) only: loading in the training
    # process (no workers) gives the same run too.
    assert result["inline_equal"]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(toy_cfg: TrainConfig) -> None:
    # No validation; targets turn NaN after step 4, so step 5's loss is NaN. Checked at steps 3, 4
    # (a checkpoint) and 6 (a log step): the error comes at step 6 and step 4's checkpoint is kept.
    cfg = apply_overrides(
        toy_cfg,
        ["checkpoint_every=2", "log_every=3", "loss=l2_paper", "optim.lr=1e-3", "schedule.name=constant"],
    )
    data = ToyDepth(64)

    def poison(step: int) -> None:
        data.poisoned = step >= 4

    with pytest.raises(DivergedError, match=r"loss became nan between steps 5 and 6.*latest\.pt \(step 4\)"):
        train(cfg, train_set=data, on_step=poison)
    run = Path(cfg.out)
    ckpt = load_checkpoint(run / "latest.pt")
    assert ckpt.step == 4
    assert all(torch.isfinite(v).all() for v in ckpt.state_dict.values())
    assert not (run / "result.json").exists()
    # The kept state is exactly step 4 of a clean run (constant rate: the length does not matter).
    clean = train(dataclasses.replace(cfg, out=str(run.parent / "clean"), length=4), train_set=ToyDepth(64))
    ref = load_checkpoint(clean.latest_checkpoint).state_dict
    for k, v in ref.items():
        assert torch.equal(v, ckpt.state_dict[k]), k


def test_finished_runs_are_reused_and_other_configs_refused(toy_cfg: TrainConfig) -> None:
    cfg = apply_overrides(toy_cfg, ["length=2", "eval_every=0"])
    first = train(cfg, train_set=ToyDepth(16), val_set=ToyDepth(8, seed=1))
    stamp = first.latest_checkpoint.stat().st_mtime_ns
    again = train(cfg, train_set=ToyDepth(16), val_set=ToyDepth(8, seed=1))
    assert again.skipped and again.steps == 2 and first.latest_checkpoint.stat().st_mtime_ns == stamp
    assert again.history == first.history
    # Changing what is computed is refused; changing how it is run (logging) is not a different run.
    with pytest.raises(ValueError, match=r"different configuration \(optim\.lr"):
        train(apply_overrides(cfg, ["optim.lr=0.5"]), train_set=ToyDepth(16))
    assert train(apply_overrides(cfg, ["log_every=2"]), train_set=ToyDepth(16)).skipped
    fresh = train(apply_overrides(cfg, ["optim.lr=0.5"]), train_set=ToyDepth(16), resume=False)
    assert not fresh.skipped and fresh.best_checkpoint is None  # no validation set → no best.pt
    assert not (Path(cfg.out) / "best.pt").exists()
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(
            dataclasses.replace(cfg, out=str(Path(cfg.out).parent / "empty")),
            train_set=ToyDepth(16),
            resume=True,
        )


def test_bad_data_and_devices_are_explained(toy_cfg: TrainConfig) -> None:
    with pytest.raises(ValueError, match=r"data\.channels = 3"):
        train(apply_overrides(toy_cfg, ["data.channels=3"]), train_set=ToyDepth(16))
    with pytest.raises(ValueError, match="fewer than the batch size 8"):
        train(toy_cfg, train_set=ToyDepth(5))
    with pytest.raises(ValueError, match=r"fp16.*CUDA"):
        train(apply_overrides(toy_cfg, ["precision=fp16"]), train_set=ToyDepth(16))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            train(apply_overrides(toy_cfg, ["device=cuda"]), train_set=ToyDepth(16))


def test_bf16_and_channels_last_on_cpu(toy_cfg: TrainConfig) -> None:
    cfg = apply_overrides(toy_cfg, ["precision=bf16", "channels_last=true", "length=4", "eval_every=0"])
    result = train(cfg, train_set=ToyDepth(16), val_set=ToyDepth(8, seed=1))
    losses = [r["loss"] for r in result.history["train"]]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]


def test_cli_reports_bad_values_with_choices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["train", "--preset", "synthetic-tiny", "--set", "optim.name=rmsprop", "--out", str(tmp_path)])
        == 2
    )
    assert "valid optimizers: sgd, adam" in capsys.readouterr().err
    assert main(["train", "--preset", "kitti-gray-147x37@epochs", "--model", "sc", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert 'unit = "epochs"' in out and 'name = "SC"' in out and "size = [37, 147]" in out
    assert main(["train", "--list-presets"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("nyu-rgb-320x240 ") for line in listed)
    # Every description starts in one column, after the longest name and two spaces.
    column = max(len(line.split()[0]) for line in listed) + 2
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in listed)


def test_init_from_loads_weights_and_refuses_another_network(toy_cfg: TrainConfig, tmp_path: Path) -> None:
    from ssrdepth.models import create_model
    from ssrdepth.training.loop import warm_start

    first = train(apply_overrides(toy_cfg, ["length=4", "eval_every=0"]), train_set=ToyDepth(16))
    # Fine-tuning with a rate of 1e-12: the one step barely moves, so the run ends at the start weights.
    tuned_cfg = apply_overrides(
        toy_cfg,
        [
            f"out={tmp_path / 'tuned'}",
            f"init_from={first.run_dir}",
            "optim.lr=1e-12",
            "length=1",
            "eval_every=0",
        ],
    )
    tuned = train(tuned_cfg, train_set=ToyDepth(16))
    a = torch.load(first.latest_checkpoint, weights_only=True)["state_dict"]
    b = torch.load(tuned.latest_checkpoint, weights_only=True)["state_dict"]
    for k, v in a.items():
        torch.testing.assert_close(b[k], v, rtol=0, atol=1e-9)
    assert load_checkpoint(tuned.latest_checkpoint).config["init_from"] == str(first.run_dir)
    # Another input-channel count, another network, another width: a clear error naming the file.
    for model, what in (
        (create_model("C", 3, width=0.25), "3 input channel"),
        (create_model("SC", 1, width=0.25), "cannot initialise SC"),
        (create_model("C", 1, width=0.5), "model.width"),
    ):
        with pytest.raises(ValueError, match=what) as err:
            warm_start(model, first.latest_checkpoint)
        assert str(first.latest_checkpoint) in str(err.value)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        warm_start(create_model("C", 1, width=0.25), tmp_path / "nothing.pt")


def test_resume_from_a_run_folder_uses_its_latest(
    toy_cfg: TrainConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = apply_overrides(toy_cfg, ["length=2", "eval_every=1"])
    first = train(cfg, train_set=ToyDepth(16), val_set=ToyDepth(8, seed=1))
    assert first.best_checkpoint is not None  # best.pt is there too: --resume must still take latest.pt
    with caplog.at_level(logging.INFO, logger="ssrdepth"):
        again = train(cfg, train_set=ToyDepth(16), val_set=ToyDepth(8, seed=1), resume=first.run_dir)
    assert again.steps == 2
    assert f"{first.run_dir}: using latest.pt" in caplog.text
    with pytest.raises(
        FileNotFoundError, match=r"empty: a folder without a checkpoint \(looked for latest\.pt\)"
    ):
        (tmp_path / "empty").mkdir()
        train(cfg, train_set=ToyDepth(16), resume=tmp_path / "empty")


def test_split_smaller_than_the_batch_names_the_fix(toy_cfg: TrainConfig) -> None:
    from ssrdepth.training.loop import SplitTooSmallError, split_too_small_message

    with pytest.raises(SplitTooSmallError) as info:
        train(toy_cfg, train_set=ToyDepth(5))
    assert str(info.value) == (
        "the training split has 5 samples, fewer than the batch size 8: lower the batch with "
        "--set batch_size=N (N ≤ 5), or train on a larger data set"
    )
    assert (info.value.samples, info.value.batch_size) == (5, 8)
    assert split_too_small_message(17, 40, "render more pairs with --pairs").endswith(
        "(N ≤ 17), or render more pairs with --pairs"
    )
