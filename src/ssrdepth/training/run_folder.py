"""The run folder: its files, and whether a folder holds this run or another one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ssrdepth.checkpoint import BEST, LATEST
from ssrdepth.training.config import (
    TrainConfig,
    config_from_dict,
)

RESULT = "result.json"
TRAIN_LOG = "train_log.csv"
VAL_LOG = "val_log.csv"
CURVES = "curves.png"


def _diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            keys.append(f"{prefix}{k} ({vb!r} there, {va!r} here)")
    return keys


def _identity_of(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return config_from_dict(config).identity()
    except ValueError:
        return dict(config)


def check_same_run(cfg: TrainConfig, stored: dict[str, Any], where: Path) -> None:
    diff = _diff(cfg.identity(), _identity_of(stored))
    if diff:
        # Every command that trains (train, reproduce, demo) has --fresh; in reproduce and demo it
        # retrains only the runs whose configuration changed (--fresh all: every run).
        raise ValueError(
            f"{where} holds a run with a different configuration ({'; '.join(diff[:6])}); "
            "choose another output folder (--out) or start over with --fresh"
        )


def holds_other_run(cfg: TrainConfig, run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run (finished or interrupted) whose configuration differs from
    ``cfg`` (execution fields such as device or progress aside); ``False`` for an empty folder."""
    import json

    for name in (RESULT, "config.json"):
        path = run_dir / name
        if path.is_file():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                return True  # unreadable: not a run this configuration can reuse
            config = stored.get("config", {}) if name == RESULT else stored
            return bool(_diff(cfg.identity(), _identity_of(config)))
    return False


def clear_run(run_dir: Path) -> None:
    for name in (RESULT, LATEST, BEST, TRAIN_LOG, VAL_LOG, CURVES, "config.json", "config.toml"):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "tensorboard", ignore_errors=True)
