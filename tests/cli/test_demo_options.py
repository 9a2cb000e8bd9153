"""``ssrdepth demo``'s command line → :class:`DemoConfig`, field by field, without running the demo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from ssrdepth.cli import main as cli
from ssrdepth.cli.demo import add_arguments, demo_config
from ssrdepth.experiments.demo import DemoConfig, quick_demo_config
from ssrdepth.experiments.report import format_duration


def _config(*argv: str) -> DemoConfig:
    parser = argparse.ArgumentParser(prog="ssrdepth demo")
    add_arguments(parser)
    return demo_config(parser.parse_args(list(argv)))


def test_no_option_is_the_default_demo() -> None:
    assert _config() == DemoConfig()


def test_every_option_reaches_its_field() -> None:
    got = _config(
        "--out", "elsewhere",
        "--pairs", "120",
        "--seed", "3",
        "--full",
        "--models", "SC", "AH",
        "--tables", "2",
        "--reading", "epochs",
        "--length", "7",
        "--unit", "epochs",
        "--recipe", "paper",
        "--no-baselines",
        "--device", "cuda:1",
        "--eval-max-images", "9",
        "--set", "optim.lr=0.02",
        "--set", "batch_size=4",
        "--seeds", "2",
        "--real-kitti", "frames",
        "--fresh",
        "--no-progress",
    )  # fmt: skip
    want = DemoConfig(
        out="elsewhere",
        pairs=120,
        seed=3,
        full=True,
        models=("SC", "AH"),
        tables=("2",),
        reading="epochs",
        table_lengths=(("2", 7),),
        unit="epochs",
        recipe="paper",
        baselines=False,
        device="cuda:1",
        eval_max_images=9,
        overrides=("optim.lr=0.02", "batch_size=4"),
        seeds=2,
        real_kitti="frames",
        fresh="changed",
        progress=False,
    )
    assert got == want
    assert _config("--fresh", "all").fresh == "all"
    # --length applies to every table that runs, in their order.
    assert _config("--length", "5").table_lengths == (("1", 5), ("2", 5))


def test_quick_is_its_preset_and_options_given_go_on_top() -> None:
    assert _config("--quick", "--out", "q") == quick_demo_config("q")
    got = _config(
        "--quick",
        "--out",
        "q",
        "--models",
        "C",
        "--eval-max-images",
        "2",
        "--set",
        "optim.lr=0.5",
        "--pairs",
        "30",
    )
    quick = quick_demo_config("q")
    assert got.models == ("C",) and got.eval_max_images == 2 and got.pairs == 30
    assert got.overrides == (*quick.overrides, "optim.lr=0.5")  # added to the preset's, not replacing them
    assert got.table_lengths == quick.table_lengths and got.quick
    assert _config("--quick", "--length", "2", "--tables", "1").table_lengths == (("1", 2),)


def test_the_command_runs_the_demo_it_maps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import ssrdepth.cli.demo as command

    ran: list[DemoConfig] = []

    def fake_demo(cfg: DemoConfig) -> dict[str, Any]:
        ran.append(cfg)
        return {"seconds": 83.0}

    monkeypatch.setattr(command, "demo", fake_demo)
    argv = ["--out", str(tmp_path / "d"), "--quick", "--seeds", "3", "--no-progress"]
    assert cli(["demo", *argv]) == 0
    assert ran == [_config(*argv)]
    assert (
        capsys.readouterr().out
        == f"report: {tmp_path / 'd' / 'report' / 'report.md'} ({format_duration(83.0)})\n"
    )
