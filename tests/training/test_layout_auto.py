"""Training with ``channels_last = "auto"``: the config takes it, and a run trains in the format the
measurement chose and records it in its result and checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.runtime import layout
from ssrdepth.runtime.layout import CACHE_FILE
from ssrdepth.training.config import TrainConfig, apply_overrides
from ssrdepth.training.loop import train

from .conftest import ToyDepth


def test_the_config_takes_auto_true_and_false(toy_cfg: TrainConfig) -> None:
    assert TrainConfig().channels_last == "auto"
    assert apply_overrides(toy_cfg, ["channels_last=false"]).channels_last is False
    assert apply_overrides(toy_cfg, ["channels_last=auto"]).channels_last == "auto"
    with pytest.raises(ValueError, match="channels_last: expected true or false, or 'auto'"):
        apply_overrides(toy_cfg, ["channels_last=fast"])


def test_a_run_trains_in_the_chosen_format_and_records_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, toy_cfg: TrainConfig
) -> None:
    monkeypatch.setenv("SSRDEPTH_CACHE_DIR", str(tmp_path / "cache"))
    for faster, expected in (("channels_last", True), ("contiguous", False)):
        times = {"contiguous": 1.0, "channels_last": 1.0}
        times[faster] = 0.5
        monkeypatch.setattr(layout, "measure_layouts", lambda *a, t=times, **k: dict(t))
        cfg = apply_overrides(
            toy_cfg, ["channels_last=auto", "length=2", "eval_every=0", f"out={tmp_path / faster}"]
        )
        (tmp_path / "cache" / CACHE_FILE).unlink(missing_ok=True)
        result = train(cfg, train_set=ToyDepth(8), val_set=ToyDepth(4, seed=1))
        assert result.channels_last is expected
        ckpt = load_checkpoint(result.latest_checkpoint)
        assert ckpt.extra["channels_last_used"] is expected
