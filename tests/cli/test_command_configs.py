"""Every command's own configuration through the engine: TOML round trips with values by hand, ``--option``
on nested and tuple fields, bad keys named, and the ``--config`` / ``--print-config`` command-line path."""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ssrdepth.cli import main as cli
from ssrdepth.core.config_engine import dump_toml, load_toml
from ssrdepth.data.synthetic.streets import Features
from ssrdepth.experiments.bench import BenchConfig, Setting
from ssrdepth.experiments.demo import DemoConfig, quick_demo_config
from ssrdepth.experiments.reproduce import ReproduceConfig
from ssrdepth.experiments.study_matchers import StudyConfig


def _parse(add_arguments: Callable[[argparse.ArgumentParser], None], argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def _demo(*argv: str) -> DemoConfig:
    from ssrdepth.cli.demo import add_arguments, demo_config

    return demo_config(_parse(add_arguments, list(argv)))


def _reproduce(*argv: str) -> ReproduceConfig:
    from ssrdepth.cli.reproduce import add_arguments, reproduce_config

    return reproduce_config(_parse(add_arguments, list(argv)))


def _study(*argv: str) -> StudyConfig:
    from ssrdepth.cli.study import add_arguments, study_config

    return study_config(_parse(add_arguments, ["matchers", *argv]))


def _bench(*argv: str) -> BenchConfig:
    from ssrdepth.cli.bench import add_arguments, config_from_args

    return config_from_args(_parse(add_arguments, list(argv)))


def test_demo_config_from_a_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(
        'out = "d"\npairs = 200\nmodels = ["sc", "AH"]\ntable_lengths = [["1", 30], ["2", 20]]\n'
        'overrides = ["batch_size=8"]\n[features]\nshadows = false\n',
        encoding="utf-8",
    )
    want = DemoConfig(
        out="d",
        pairs=200,
        models=("sc", "AH"),  # DemoConfig keeps names as given; the runs canonicalise them
        table_lengths=(("1", 30), ("2", 20)),
        overrides=("batch_size=8",),
        features=Features(shadows=False),
    )
    assert load_toml(path, DemoConfig()) == want
    path.write_text(dump_toml(want), encoding="utf-8")
    assert load_toml(path, DemoConfig()) == want


@pytest.mark.parametrize(
    ("cfg", "line"),
    [
        (
            DemoConfig(pairs=50, seed=2, tables=("2",), table_lengths=(("2", 9),), quick=True, unit="epochs"),
            'table_lengths = [["2", 9]]',
        ),
        (
            ReproduceConfig(
                kitti="k", tables=("1", "3"), table_lengths=(("3", 5),), width=0.5, notes=("a note",), seeds=2
            ),
            'tables = ["1", "3"]',
        ),
        (
            StudyConfig(variants=("exact", "sgm"), trained=("sgm",), steps=7, real_kitti="frames"),
            'variants = ["exact", "sgm"]',
        ),
        (
            BenchConfig(
                models=("SC",),
                settings=(Setting("g", (37, 147), 1, 4),),
                stereo_size=(96, 320),
                threads=2,
                keras=False,
            ),
            'settings = [{label = "g", size = [37, 147], channels = 1, batch = 4}]',
        ),
    ],
    ids=["demo", "reproduce", "study", "bench"],
)
def test_each_command_config_round_trips_through_toml(cfg: Any, line: str, tmp_path: Path) -> None:
    text = dump_toml(cfg)
    assert line in text.splitlines()
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    assert load_toml(path, type(cfg)()) == cfg


def test_option_sets_nested_and_tuple_fields_after_the_other_options() -> None:
    got = _demo("--pairs", "30", "--option", "features.photos=false", "--option", 'table_lengths=[["1",3]]')
    assert got == DemoConfig(pairs=30, features=Features(photos=False), table_lengths=(("1", 3),))
    assert _demo("--pairs", "30", "--option", "pairs=40").pairs == 40  # --option is applied last
    bench = _bench(
        "--quick", "--device", "cpu", "--option", "stereo_size=620x375", "--option", "models=sc,AH"
    )
    assert bench.stereo_size == (375, 620) and bench.models == ("sc", "AH") and bench.quick
    # Each --option is checked as it is applied: narrow the trained kinds before the variants.
    study = _study("--option", "trained=sgm", "--option", "variants=exact,sgm")
    assert (study.variants, study.trained) == (("exact", "sgm"), ("sgm",))
    assert _reproduce("--option", "table_lengths=[['2', 11]]").table_lengths == (("2", 11),)


def test_a_bad_key_or_value_names_it() -> None:
    with pytest.raises(
        ValueError, match=r"--option pairz=3: unknown config key 'pairz'; valid keys here: out, pairs"
    ):
        _demo("--option", "pairz=3")
    with pytest.raises(
        ValueError, match=r"unknown config key 'features\.shadow'; valid keys here: features\.layout"
    ):
        _demo("--option", "features.shadow=false")
    with pytest.raises(ValueError, match=r"--option seeds=0: config: seeds must be ≥ 1, got 0"):
        _reproduce("--option", "seeds=0")
    with pytest.raises(ValueError, match=r"--option repeats=many: repeats: expected an integer, got 'many'"):
        _bench("--option", "repeats=many")


def test_no_option_is_each_commands_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _reproduce() == ReproduceConfig()
    assert _bench() == BenchConfig(devices=("cpu",))
    assert _bench("--quick") == BenchConfig.quick_config()
    monkeypatch.setenv("SSRDEPTH_MIDDLEBURY_ALOE", "aloe")
    study = _study()
    assert study == replace(StudyConfig(), real_kitti=study.real_kitti, aloe="aloe")


def test_file_then_options_given_then_option(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('out = "from-file"\nmatcher = "bm"\nwidth = 0.25\nseeds = 3\n', encoding="utf-8")
    got = _reproduce("--config", str(path), "--matcher", "elas", "--option", "seeds=2")
    assert got == ReproduceConfig(out="from-file", matcher="elas", width=0.25, seeds=2)
    # --quick's preset is the base the file goes on, and --set adds to the training overrides.
    path.write_text('pairs = 12\noverrides = ["optim.lr=0.1"]\n', encoding="utf-8")
    quick = _demo("--quick", "--config", str(path), "--set", "eval_every=1")
    assert quick == replace(
        quick_demo_config("runs/demo"), pairs=12, overrides=("optim.lr=0.1", "eval_every=1")
    )


def test_cli_print_config_is_a_file_the_command_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssrdepth.cli.demo as command

    monkeypatch.setattr(command, "demo", lambda cfg: pytest.fail("--print-config must not run the demo"))
    assert (
        cli(["demo", "--quick", "--pairs", "30", "--option", "features.layout=classic", "--print-config"])
        == 0
    )
    text = capsys.readouterr().out
    want = replace(quick_demo_config("runs/demo"), pairs=30, features=Features(layout="classic"))
    assert tomllib.loads(text)["pairs"] == 30 and 'layout = "classic"' in text.splitlines()
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    assert cli(["demo", "--config", str(path), "--print-config"]) == 0
    assert capsys.readouterr().out == text
    assert _demo("--config", str(path)) == want
    # A bad key: exit 2, one line naming the option and the key.
    assert cli(["demo", "--option", "pairz=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ssrdepth demo: error: --option pairz=3: unknown config key 'pairz'")
    path.write_text("[features]\nlayot = 'x'\n", encoding="utf-8")
    assert cli(["bench", "--config", str(path)]) == 2
    assert (
        "demo.toml: unknown config key 'features'; valid keys here: models, devices"
        in capsys.readouterr().err
    )


def test_help_names_the_new_options(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["demo"], ["reproduce"], ["bench"], ["study", "matchers"]):
        with pytest.raises(SystemExit):
            cli([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--config FILE" in text and "--option KEY=VALUE" in text and "--print-config" in text
