"""Each configuration name has one home, and ``ssrdepth.training.config`` still offers every one of them."""

from __future__ import annotations

import importlib

import ssrdepth.training.config as config

HOMES = {
    "ssrdepth.training.schema": (
        "BEST_METRICS",
        "EXECUTION_FIELDS",
        "MSE_LR",
        "OPTIMIZERS",
        "SCHEDULES",
        "UNITS",
        "ModelConfig",
        "OptimConfig",
        "ScheduleConfig",
        "TrainConfig",
        "apply_overrides",
        "config_to_dict",
        "paper_lr",
        "parse_override",
    ),
    "ssrdepth.training.presets": (
        "KITTI_ROOT",
        "NYU_ROOT",
        "READINGS",
        "RECIPE",
        "apply_recipe",
        "get_preset",
        "list_presets",
    ),
    "ssrdepth.core.config_engine": ("to_toml",),
}


def test_every_name_is_reexported_from_its_home() -> None:
    for module_name, names in HOMES.items():
        home = importlib.import_module(module_name)
        for name in names:
            assert getattr(config, name) is getattr(home, name), name
    own = {"config_from_dict", "load_config", "resolve_config"}
    assert set(config.__all__) == own | {n for names in HOMES.values() for n in names}


def test_presets_can_be_imported_first() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ssrdepth.training.presets as p; "
        "assert p.get_preset('synthetic-tiny').length == 60; "
        "import ssrdepth.training.schema; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"
