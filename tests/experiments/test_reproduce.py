"""A miniature ``reproduce`` run: every report file, the right structure, numbers equal to ``evaluate``."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

import pytest

from ssrdepth.data.config import DataConfig
from ssrdepth.data.synthetic import generate_synthetic
from ssrdepth.evaluation.evaluate import evaluate
from ssrdepth.experiments.paper_results import TABLES
from ssrdepth.experiments.reproduce import ReproduceConfig, plan_runs, reproduce

from ..conftest import require_shared, shared_data_location

# One worker builds the module's miniature run (`make test`: -n 2 --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reproduce")]


@pytest.fixture(scope="module")
def mini_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    tmp = tmp_path_factory.mktemp("reproduce")
    root = tmp / "synthetic"
    generate_synthetic(root, 12, seed=3, size=(64, 212), sequence_length=6, workers=1, progress=False)
    cfg = ReproduceConfig(
        out=str(tmp / "out"),
        kitti=str(root),
        kitti_source="synthetic",
        models=("C", "scr"),
        tables=("1", "2"),
        length=2,
        width=0.125,
        max_disparity=48,
        figure_images=2,
        overrides=("log_every=1", "tensorboard=false", "eval_every=0", "batch_size=4"),
        progress=False,
        seeds=2,
        real_kitti=str(shared_data_location() / "kitti_object"),
        jobs=2,  # two worker processes: the report, its numbers and a serial re-run's reuse are checked below
    )
    return tmp / "out", reproduce(cfg), root


def test_every_report_file_is_written(mini_report: tuple[Path, dict, Path]) -> None:
    out, _results, _ = mini_report
    report = out / "report"
    for name in (
        "report.md",
        "results.json",
        "fig12_qualitative.png",
        "fig13_kitti_gray_vs_colour.png",
        "training_curves.png",
        "table1-paper.csv",
        "table1-normalised.csv",
        "table1-kitti.csv",
        "table2-paper.csv",
    ):
        assert (report / name).is_file(), name
    md = (report / "report.md").read_text()
    assert "## Table 1" in md and "## Table 2" in md
    assert "#### Protocol `paper`" in md and "#### Protocol `kitti`" in md
    assert "| measure | C (ours) | C (paper) | SCRX (ours) | SCRX (paper) | constant | row prior |" in md
    assert "| RMSE |" in md and "0.1051" in md  # the paper's SCRX RMSE beside ours
    assert "Kendall τ" in md and "Why our numbers differ" in md
    # The data has exact depth: the report says how good its stereo targets are, per region and band.
    assert "## Stereo targets per region (sgm, 12 pairs)" in md and "| all with true depth |" in md
    assert "Table 3 left out: no NYU Depth v2 root given" not in md  # not asked for
    stored = json.loads((report / "results.json").read_text())
    seeds = {"table1-C", "table1-SCRX", "table2-gray", "table2-rgb"}
    assert set(stored["runs"]) == seeds | {f"{k}-seed1" for k in seeds}
    run = stored["runs"]["table1-SCRX"]
    assert run["parameters"] > 0 and run["gflops"] > 0 and run["train"]["steps"] == 2
    assert stored["machine"]["cores"] >= 1
    header = (report / "table1-paper.csv").read_text().splitlines()[0]
    assert header == "measure,C,SCRX,constant,row prior"
    assert "#### Table 1 over 2 seeds (protocol `kitti`" in md and "outside seed noise" in md


def test_seed_section_counts_the_orders_outside_the_noise(mini_report: tuple[Path, dict, Path]) -> None:
    # Table 1 over two seeds, worked out here from the per-seed RMSEs: the pair C, SCRX is outside the
    # seed noise when its difference of means exceeds 2 standard errors, 2·√((s_C² + s_SCRX²) / 2).
    out, results, _ = mini_report
    rmse = {
        model: [results["runs"][k]["results"]["kitti"]["metrics"]["rmse"] for k in (key, f"{key}-seed1")]
        for model, key in (("C", "table1-C"), ("SCRX", "table1-SCRX"))
    }
    better, worse = sorted(rmse, key=lambda m: statistics.mean(rmse[m]))
    diff = statistics.mean(rmse[worse]) - statistics.mean(rmse[better])
    noise = 2 * ((statistics.stdev(rmse[better]) ** 2 + statistics.stdev(rmse[worse]) ** 2) / 2) ** 0.5
    outside = diff > noise
    paper = TABLES["table1"]
    agreed = int(outside and paper[better]["RMSE"] < paper[worse]["RMSE"])
    md = (out / "report" / "report.md").read_text()
    assert f"| {better} < {worse} | {diff:.4f} | {noise:.4f} | {'yes' if outside else 'no'} |" in md
    assert f"\n{int(outside)} of 1 pairwise orders are outside the seed noise; {agreed} of those agree" in md


def test_tables_average_the_seeds(mini_report: tuple[Path, dict, Path]) -> None:
    # The report's Table 1 value for C is the mean of its two seeds' values (CSV, full precision).
    out, results, _ = mini_report
    rows = {
        line.split(",")[0]: line.split(",")
        for line in (out / "report" / "table1-kitti.csv").read_text().splitlines()
    }
    per_seed = [
        results["runs"][k]["results"]["kitti"]["metrics"]["rmse"] for k in ("table1-C", "table1-C-seed1")
    ]
    assert per_seed[0] != per_seed[1]
    assert float(rows["RMSE ↓"][1]) == pytest.approx(sum(per_seed) / 2, rel=1e-9)


@pytest.mark.shared_data
def test_real_frames_section(shared_data: Path, mini_report: tuple[Path, dict, Path]) -> None:
    # shared_data (session-scoped) comes first: a missing folder skips before the miniature run.
    require_shared("kitti_object/training/velodyne")
    out, results, _ = mini_report
    real = results["real"]
    assert real["images"] == 7 and set(real["runs"]) == {
        "table1-C",
        "table1-SCRX",
        "table1-C-seed1",
        "table1-SCRX-seed1",
    }
    assert set(real["baselines"]) == {"constant", "row prior"}
    md = (out / "report" / "report.md").read_text()
    assert "## Real KITTI frames" in md and "row prior: AbsRel" in md
    # Scored at each frame's full resolution: every lidar pixel of the Garg crop (121,130 over the 7
    # frames, as scripts/align_kitti.py counts them with the frames' own projection), not the shrunk map.
    assert real["score_at"] == "truth" and "scored at each frame's full resolution" in md
    assert {r["valid_pixels"] for r in real["runs"].values()} == {121_130}
    # Per-image aggregation: the whole set's AbsRel and δ < 1.25 are the means of the per-frame ones,
    # metric and median-scaled; median scaling helps a constant map most (it becomes each frame's
    # median depth).
    assert len(real["frames"]) == 7 and set(real["per_frame"]) == set(real["runs"]) | {
        "constant",
        "row prior",
    }
    for key in real["runs"]:
        rows = real["per_frame"][key]
        assert real["runs"][key]["metrics"]["abs_rel"] == pytest.approx(sum(r["abs_rel"] for r in rows) / 7)
        assert real["median"][key]["metrics"]["delta1"] == pytest.approx(
            sum(r["median_delta1"] for r in rows) / 7
        )
    const = real["baselines_median"]["constant"]["metrics"]["delta1"]
    assert const > real["baselines"]["constant"]["metrics"]["delta1"]
    assert "Median-scaled" in md and f"| {real['frames'][0]} | " in md


def test_report_numbers_equal_evaluate(mini_report: tuple[Path, dict, Path], tmp_path: Path) -> None:
    _out, results, root = mini_report
    run = results["runs"]["table1-C"]
    data = DataConfig(source="synthetic", root=str(root), size=(37, 147), channels=1, max_disparity=48)
    for proto in ("paper", "kitti"):
        rep = evaluate([run["checkpoint"]], data, proto, out_dir=tmp_path, progress=False)
        ours = run["results"][proto]["metrics"]
        theirs = rep.results[0].metrics
        assert ours.keys() == theirs.keys()
        for k in ours:
            assert ours[k] == pytest.approx(theirs[k], rel=1e-9, abs=1e-12), (proto, k)


def test_the_report_says_how_the_runs_shared_the_cores(mini_report: tuple[Path, dict, Path]) -> None:
    from ssrdepth.core.hardware import usable_cores

    out, results, _ = mini_report
    threads = max(1, usable_cores() // 2)  # two workers share the usable cores
    assert results["training"] == {"jobs": 2, "threads": threads}
    head = (out / "report" / "report.md").read_text(encoding="utf-8").splitlines()[2]
    assert f"2 training runs at a time, {threads} thread(s) each" in head


def test_second_run_reuses_checkpoints(
    mini_report: tuple[Path, dict, Path], caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    out, results, root = mini_report
    cfg = ReproduceConfig(
        out=str(out),
        kitti=str(root),
        kitti_source="synthetic",
        models=("C",),
        tables=("1",),
        length=2,
        width=0.125,
        max_disparity=48,
        figure_images=2,
        overrides=("log_every=1", "tensorboard=false", "eval_every=0", "batch_size=4"),
        progress=False,
    )
    with caplog.at_level(logging.INFO, logger="ssrdepth.experiments.reproduce"):
        again = reproduce(cfg)
    assert again["runs"]["table1-C"]["train"]["reused"] is True
    assert "table1-C: reused the finished run of the same configuration" in caplog.text
    assert again["training"] == {"jobs": 1, "threads": torch.get_num_threads()}  # one at a time
    head = (out / "report" / "report.md").read_text(encoding="utf-8").splitlines()[2]
    assert f"{torch.get_num_threads()} threads, one training run at a time; 1 of the 1 runs reused" in head
    assert again["runs"]["table1-C"]["results"]["paper"] == results["runs"]["table1-C"]["results"]["paper"]


def test_plan_names_left_out_tables() -> None:
    runs, skipped = plan_runs(ReproduceConfig(kitti="/k", models=("SC",)))
    assert [r.key for r in runs] == ["table1-SC", "table2-gray", "table2-rgb"]
    assert skipped == ["Table 3 left out: no NYU Depth v2 root given (--nyu)"]
    with pytest.raises(ValueError, match="valid tables: 1, 2, 3"):
        ReproduceConfig(tables=("4",))


def test_fresh_advice_works_when_followed(
    mini_report: tuple[Path, dict, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another --length stops with advice to use --fresh; following it retrains (3 steps, not reused);
    --fresh again with the same configuration reuses the run; --fresh all retrains it."""
    from ssrdepth.cli import main as cli

    _, _, root = mini_report
    out = tmp_path / "r"
    args = [
        "reproduce", "--kitti", str(root), "--kitti-source", "synthetic", "--models", "C", "--tables", "1",
        "--width", "0.125", "--out", str(out), "--no-progress", "--eval-max-images", "2",
        "--set", "log_every=1", "--set", "tensorboard=false", "--set", "eval_every=0", "--set", "batch_size=4",
    ]  # fmt: skip

    def runs() -> list[dict]:
        return list(json.loads((out / "report" / "results.json").read_text())["runs"].values())

    assert cli([*args, "--length", "2"]) == 0
    assert {(r["train"]["steps"], r["train"]["reused"]) for r in runs()} == {(2, False)}
    capsys.readouterr()
    assert cli([*args, "--length", "3"]) == 2
    err = capsys.readouterr().err
    assert "holds a run with a different configuration (length (2 there, 3 here))" in err
    assert "start over with --fresh" in err
    assert cli([*args, "--length", "3", "--fresh"]) == 0  # the advice, followed
    assert {(r["train"]["steps"], r["train"]["reused"]) for r in runs()} == {(3, False)}
    assert cli([*args, "--length", "3", "--fresh"]) == 0  # nothing changed: reused
    assert {(r["train"]["steps"], r["train"]["reused"]) for r in runs()} == {(3, True)}
    assert cli([*args, "--length", "3", "--fresh", "all"]) == 0
    assert {(r["train"]["steps"], r["train"]["reused"]) for r in runs()} == {(3, False)}


def test_real_frames_folder_missing_or_a_file_or_without_lidar_is_skipped_with_its_reason(
    tmp_path: Path,
) -> None:
    from ssrdepth.experiments.reproduce import evaluate_real_kitti

    missing = tmp_path / "nowhere"
    assert evaluate_real_kitti({}, missing, (37, 147))["skipped"].startswith(f"{missing}: not found (")
    a_file = tmp_path / "frames.txt"
    a_file.write_text("x")
    assert evaluate_real_kitti({}, a_file, (37, 147))["skipped"].startswith(
        f"{a_file}: is a file, not a folder"
    )
    assert evaluate_real_kitti({}, tmp_path, (37, 147)) == {
        "skipped": f"{tmp_path}: no KITTI object frames with lidar (training/velodyne) there"
    }


@pytest.mark.parametrize(
    ("source", "protocol", "expected"),
    [
        # Exact dense depth: the chosen street protocol and the whole image beside it.
        ("synthetic", "kitti", ["paper", "normalised", "kitti", "kitti-full"]),
        ("synthetic", "kitti-full", ["paper", "normalised", "kitti-full"]),
        # Lidar: the chosen street protocol only; stereo-only sources have no metric truth.
        ("kitti-object", "kitti-eigen", ["paper", "normalised", "kitti-eigen"]),
        ("kitti-tracking", "kitti", ["paper", "normalised"]),
        ("kitti-raw", "kitti", ["paper", "normalised"]),
        ("stereo-folder", "kitti", ["paper", "normalised"]),
        # Indoor sensor depth: NYU's protocol whatever the street protocol asked for.
        ("nyu", "kitti", ["paper", "normalised", "nyu"]),
    ],
)
def test_metric_protocols_follow_the_source_table(source: str, protocol: str, expected: list[str]) -> None:
    from ssrdepth.experiments.reproduce import RunSpec, _metric_protocols

    run = RunSpec("1", "SC", "SC", DataConfig(source=source, root="unused"), "paper")
    assert _metric_protocols(run, ReproduceConfig(metric_protocol=protocol)) == expected
