"""``bench --time-to-quality``: the first level reached and the speed-up by hand, and a real tiny run
of both recipes whose curve is the one an evaluation of its checkpoints gives."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.data import build_dataset
from ssrdepth.data.synthetic import generate_synthetic
from ssrdepth.evaluation.evaluate import evaluate_protocols
from ssrdepth.experiments.bench import QualityConfig, bench_quality, format_table
from ssrdepth.experiments.bench.quality import reached, speedups
from ssrdepth.training.config import config_from_dict


def test_the_first_level_reached_and_the_speedup_by_hand() -> None:
    curve = [
        {"step": 50, "seconds": 10.0, "delta1": 0.55},
        {"step": 100, "seconds": 20.0, "delta1": 0.72},
        {"step": 150, "seconds": 30.0, "delta1": 0.70},  # not monotone: the first crossing counts
        {"step": 200, "seconds": 40.0, "delta1": 0.81},
    ]
    assert reached(curve, 0.7) == {"step": 100, "seconds": 20.0}
    assert reached(curve, 0.8) == {"step": 200, "seconds": 40.0}
    assert reached(curve, 0.85) is None
    ours = {"0.7": {"step": 100, "seconds": 20.0}, "0.8": {"step": 200, "seconds": 40.0}, "0.85": None}
    paper = {"0.7": {"step": 400, "seconds": 90.0}, "0.8": None, "0.85": None}
    rows = {"ssrdepth": {"reached": ours}, "paper": {"reached": paper, "train_seconds": 120.0}}
    # 0.7: 90 / 20; 0.8: the paper never got there in its 120 s, so at least 120 / 40; 0.85: no ratio.
    assert speedups(rows, (0.7, 0.8, 0.85)) == {
        "0.7": {"ratio": 4.5, "bound": "equal"},
        "0.8": {"ratio": 3.0, "bound": "at least"},
        "0.85": {"ratio": None, "bound": None},
    }


def test_quality_config_checks_its_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="eval_every_images must be ≥ 1"):
        QualityConfig(data=str(tmp_path), out=str(tmp_path), eval_every_images=0)
    with pytest.raises(ValueError, match="unknown recipe"):
        QualityConfig(data=str(tmp_path), out=str(tmp_path), recipes=("adam",))


@pytest.mark.xdist_group("bench-quality")
def test_a_tiny_run_of_both_recipes_scores_its_own_checkpoints(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    generate_synthetic(root, 12, size=(64, 192), sequence_length=3, workers=1, progress=False)
    cfg = QualityConfig(
        data=str(root),
        out=str(tmp_path / "quality"),
        model="C",
        width=0.125,
        max_images=16,  # 4 steps of batch 4
        eval_every_images=8,
        eval_images=3,
        thresholds=(0.0, 1.01),
        overrides=("batch_size=4",),
    )
    result = bench_quality(cfg)
    for recipe in ("ssrdepth", "paper"):
        row = result["recipes"][recipe]
        assert [p["step"] for p in row["curve"]] == [2, 4]
        assert [p["images"] for p in row["curve"]] == [8, 16]
        assert 0 < row["curve"][0]["seconds"] < row["curve"][1]["seconds"] <= row["train_seconds"] + 1e-9
        assert row["reached"]["0"] == {"step": 2, "seconds": row["curve"][0]["seconds"]}
        assert row["reached"]["1.01"] is None
        # The last point is the final checkpoint's δ < 1.25, scored again here.
        ckpt = load_checkpoint(Path(cfg.out) / recipe / "C" / "latest.pt")
        assert ckpt.step == 4
        test = build_dataset(config_from_dict(ckpt.extra["config"]).data, "test", progress=False)
        (again,) = evaluate_protocols(ckpt.build_model(), test, ["kitti"], max_images=3, scale=ckpt.scale)
        assert not isinstance(again, ValueError)
        assert row["curve"][-1]["delta1"] == pytest.approx(again.metrics["delta1"], abs=1e-12)
    assert result["recipes"]["ssrdepth"]["loss"] == "masked_silog"
    assert result["recipes"]["paper"]["loss"] == "l2_paper"
    ours, paper = (result["recipes"][r]["reached"]["0"]["seconds"] for r in ("ssrdepth", "paper"))
    assert result["speedup"]["0"] == {"ratio": pytest.approx(paper / ours), "bound": "equal"}
    assert result["speedup"]["1.01"] == {"ratio": None, "bound": None}
    table = format_table({"devices": {}, "time_to_quality": result})
    assert "| ssrdepth | C ×0.125 | 4 | 4 | " in table and "not reached" in table
    assert f"δ1 ≥ 0: {paper / ours:.1f}×" in table


def test_the_command_names_a_folder_that_is_not_a_rendered_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrdepth.cli import main

    code = main(["bench", "--quick", "--time-to-quality", str(tmp_path), "--out", str(tmp_path / "b.json")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: not a rendered synthetic set" in err and "ssrdepth generate --out" in err
    assert not (tmp_path / "b.json").exists()


def test_a_failing_recipe_keeps_the_other_curve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ssrdepth.experiments.bench import quality

    curve = [{"step": 50, "images": 2000, "seconds": 12.0, "delta1": 0.74, "abs_rel": 0.2}]
    ours = {
        "recipe": "ssrdepth",
        "model": "SC",
        "width": 0.25,
        "batch": 20,
        "lr": 4e-3,
        "loss": "masked_silog",
        "steps": 100,
        "curve": curve,
        "reached": {"0.7": {"step": 50, "seconds": 12.0}, "0.85": None},
        "train_seconds": 24.0,
        "eval_seconds": 1.0,
    }

    def fake_curve(cfg: QualityConfig, recipe: str) -> dict:
        if recipe == "paper":
            raise MemoryError("out of memory at step 7")
        return ours

    monkeypatch.setattr(quality, "quality_curve", fake_curve)
    seen: list[dict] = []
    cfg = QualityConfig(data=str(tmp_path), out=str(tmp_path / "q"), model="SC", thresholds=(0.7, 0.85))
    result = bench_quality(cfg, on_update=lambda entry: seen.append(entry))
    # the first update holds our finished curve before the paper's run starts; the last both rows
    assert [list(e["recipes"]) for e in seen] == [["ssrdepth"], ["ssrdepth", "paper"]]
    assert result["recipes"]["ssrdepth"] == ours
    assert result["recipes"]["paper"] == {
        "recipe": "paper",
        "model": "SC",
        "error": "MemoryError: out of memory at step 7",
    }
    assert result["speedup"] == {
        "0.7": {"ratio": None, "bound": None},
        "0.85": {"ratio": None, "bound": None},
    }
    from ssrdepth.experiments.bench.table import quality_lines

    table = "\n".join(quality_lines(result))
    assert "| paper | SC | – | – | – | – | failed: MemoryError: out of memory at step 7 |" in table
    assert "| ssrdepth | SC ×0.25 | 20 | 100 | 12 s" in table
    assert "over our time): none (the run of paper failed)." in table


def test_a_set_smaller_than_the_batch_is_told_in_bench_words(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    generate_synthetic(root, 6, size=(64, 192), sequence_length=3, workers=1, progress=False)
    cfg = QualityConfig(data=str(root), out=str(tmp_path / "quality"), model="C", width=0.125)
    result = bench_quality(cfg)  # batch 20 and 40 against a 3-pair training split: both runs refused
    for recipe, batch in (("ssrdepth", 20), ("paper", 40)):
        error = result["recipes"][recipe]["error"]
        assert error.startswith("SplitTooSmallError: the training split has ")
        assert f"fewer than the batch size {batch}: lower the batch with --quality-set batch_size=N" in error
        assert error.endswith("or render more pairs into the set (ssrdepth generate --out DIR --pairs N)")


def test_quality_set_reaches_both_recipes(tmp_path: Path) -> None:
    import argparse

    from ssrdepth.cli.bench import add_arguments, quality_from_args

    (tmp_path / "synthetic.json").write_text("{}", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--time-to-quality",
            str(tmp_path),
            "--quality-set",
            "batch_size=10",
            "--quality-set",
            "optim.lr=1e-3",
        ]
    )
    cfg = quality_from_args(args)
    assert cfg is not None and cfg.overrides == ("batch_size=10", "optim.lr=1e-3")
    from ssrdepth.experiments.bench.quality import _train_config

    for recipe in ("ssrdepth", "paper"):  # after the demo's own batch 20 / lr 4e-3: the user's last
        tc, _ = _train_config(cfg, recipe)
        assert (tc.batch_size, tc.optim.lr) == (10, 1e-3)


def test_the_command_fails_when_a_recipe_failed_and_keeps_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from ssrdepth.cli import main

    root = tmp_path / "synthetic"
    generate_synthetic(root, 6, size=(64, 192), sequence_length=3, workers=1, progress=False)
    out = tmp_path / "b.json"
    args = ["bench", "--quick", "--models", "C", "--no-stereo", "--no-train", "--backends", "eager"]
    args += [
        "--time-to-quality",
        str(root),
        "--quality-model",
        "C",
        "--quality-steps",
        "1",
        "--out",
        str(out),
    ]
    assert main(args) == 1  # both recipes' batches exceed the 3-pair training split
    assert "time to quality failed for ssrdepth, paper" in capsys.readouterr().err
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["complete"] is True and "eager" in json.dumps(written["devices"])  # the timings are kept
    assert {r: "error" in row for r, row in written["time_to_quality"]["recipes"].items()} == {
        "ssrdepth": True,
        "paper": True,
    }


def test_preflight_finds_a_too_small_split_before_anything_is_timed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssrdepth.experiments.bench import quality

    root = tmp_path / "synthetic"
    generate_synthetic(root, 6, size=(64, 192), sequence_length=3, workers=1, progress=False)
    cfg = QualityConfig(data=str(root), out=str(tmp_path / "quality"), model="C", width=0.125)
    refused = quality.preflight(cfg)  # batch 20 (the demo preset) and 40 (the paper) on 3 training pairs
    assert sorted(refused) == ["paper", "ssrdepth"]
    assert (
        "has 3 samples, fewer than the batch size 20: lower the batch with --quality-set"
        in refused["ssrdepth"]
    )
    assert "fewer than the batch size 40" in refused["paper"]
    # a batch that fits: nothing refused
    assert quality.preflight(dataclasses.replace(cfg, overrides=("batch_size=3",))) == {}

    def never(cfg: QualityConfig, recipe: str) -> dict:
        raise AssertionError(f"{recipe} was trained although the preflight refused it")

    monkeypatch.setattr(quality, "quality_curve", never)
    result = bench_quality(cfg, refused=refused)
    assert {r: row["error"] for r, row in result["recipes"].items()} == refused
