"""``measure_step_seconds``: the step ``train`` runs, timed, with nothing written and no random state
changed (the demo's budget plan times every run with it before training them)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrdepth.training import loop
from ssrdepth.training.config import TrainConfig, apply_overrides
from ssrdepth.training.loop import measure_step_seconds, train

from .conftest import ToyDepth


def test_it_runs_the_training_step_and_writes_nothing(
    toy_cfg: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = apply_overrides(toy_cfg, ["augment.hflip=0.5", "augment.brightness=0.2"])
    seen: list[tuple[int, tuple[int, ...]]] = []
    real_step = loop._Loop.train_step

    def counted(self: loop._Loop, batch: dict[str, torch.Tensor]) -> None:
        seen.append((self.step, tuple(batch["image"].shape)))
        real_step(self, batch)

    monkeypatch.setattr(loop._Loop, "train_step", counted)
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    before = (random.random(), float(np.random.rand()), float(torch.rand(())))
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    seconds = measure_step_seconds(cfg, repeats=3, warmup=2, train_set=ToyDepth(20), val_set=ToyDepth(8))
    after = (random.random(), float(np.random.rand()), float(torch.rand(())))
    # 5 real optimiser steps of batch 8 (20 samples: 2 full batches an epoch, so the loader restarts);
    # the step counter advances as in training (the augmentation draws from it).
    assert seen == [(i, (8, 1, 16, 48)) for i in range(5)]
    assert seconds > 0
    assert after == before  # Python's, NumPy's and torch's generators as they were
    assert not Path(cfg.out).exists()  # no run folder, log or checkpoint


def test_a_run_trained_after_it_is_unchanged(toy_cfg: TrainConfig, tmp_path: Path) -> None:
    a = apply_overrides(toy_cfg, [f"out={tmp_path / 'a'}"])
    b = apply_overrides(toy_cfg, [f"out={tmp_path / 'b'}"])
    plain = train(a, train_set=ToyDepth(32), val_set=ToyDepth(8, seed=1))
    measure_step_seconds(b, train_set=ToyDepth(32), val_set=ToyDepth(8, seed=1))
    timed_first = train(b, train_set=ToyDepth(32), val_set=ToyDepth(8, seed=1))
    assert [r["loss"] for r in timed_first.history["train"]] == [r["loss"] for r in plain.history["train"]]


def test_bad_counts_are_refused(toy_cfg: TrainConfig) -> None:
    with pytest.raises(ValueError, match="repeats must be ≥ 1"):
        measure_step_seconds(toy_cfg, repeats=0)
