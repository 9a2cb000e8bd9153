"""``study matchers`` on a miniature set (its --quick preset): the report's files and structure, the
exact-disparity row's zero target error, mean ± std over two seeds, and a rerun that trains nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ssrdepth.data.synthetic import generate_synthetic
from ssrdepth.experiments.study_matchers import StudyConfig, quick_config, study_matchers
from ssrdepth.experiments.study_report import SYNTHETIC, TARGET_COLUMNS, TRAINED_COLUMNS, WHOLE
from ssrdepth.experiments.target_quality import ALL

from ..conftest import require_shared, shared_data_location

# One worker builds the module's miniature study (`make test`: -n 2 --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("study_matchers")]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudyConfig, dict]:
    tmp = tmp_path_factory.mktemp("study")
    root = tmp / "synthetic"
    generate_synthetic(root, 12, seed=3, size=(64, 212), sequence_length=6, workers=1, progress=False)
    cfg = quick_config(
        str(tmp / "out"),
        data=str(root),
        max_disparity=48,
        real_kitti=str(shared_data_location() / "kitti_object"),
        aloe=str(shared_data_location() / "middlebury_aloe"),
        progress=False,
    )
    return cfg, study_matchers(cfg)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_report_files_and_table_structure(study: tuple[StudyConfig, dict]) -> None:
    cfg, _results = study
    out = Path(cfg.out)
    for name in ("report.md", "targets.csv", "trained.csv", "d1_vs_delta1.png", "results.json"):
        assert (out / name).is_file(), name
    assert _rows(out / "targets.csv")[0].keys() == set(TARGET_COLUMNS)
    assert (out / "targets.csv").read_text().splitlines()[0] == ",".join(TARGET_COLUMNS)
    assert (out / "trained.csv").read_text().splitlines()[0] == ",".join(TRAINED_COLUMNS)
    md = (out / "report.md").read_text()
    for heading in (
        "## Target quality and cost",
        "## Target quality on real pairs",
        "## The same network",
        "## Advice",
    ):
        assert heading in md
    # One table row per measured variant, in the order of the config.
    table = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| **")]
    assert table[: len(cfg.variants)] == [f"**{v}**" for v in cfg.variants]
    # Each run in its own folder with its result.json: 3 kinds × 2 seeds.
    results = sorted(
        p.parent.relative_to(out).as_posix() for p in (out / "kinds").rglob("runs/*/result.json")
    )
    assert results == [f"kinds/{k}/runs/table1-SCRXU{s}" for k in sorted(cfg.trained) for s in ("", "-seed1")]


def test_exact_row_has_zero_target_error(study: tuple[StudyConfig, dict]) -> None:
    cfg, _ = study
    rows = [r for r in _rows(Path(cfg.out) / "targets.csv") if r["data"] == "synthetic"]
    exact = {r["region"]: r for r in rows if r["variant"] == "exact"}
    # Wherever the exact disparity is defined: every pixel has a target, no outlier, and the error is
    # the 16-bit PNG's rounding only (1/256 px steps: at most 1/512 px, about 1/1024 px on average).
    assert float(exact[ALL]["density"]) == 1.0 and float(exact[ALL]["d1"]) == 0.0
    assert 0.0 <= float(exact[ALL]["epe_px"]) <= 1 / 512
    assert float(exact["sky"]["density"]) == 0.0 and exact["sky"]["epe_px"] == ""  # no truth, no target
    lidar = {r["region"]: r for r in rows if r["variant"] == "lidar-like"}
    assert float(lidar[ALL]["d1"]) == 0.0 and 0.05 < float(lidar[ALL]["density"]) < 0.95
    sgm = {r["region"]: r for r in rows if r["variant"] == "sgm"}
    assert 0.5 < float(sgm[ALL]["density"]) < 1.0 and float(sgm[ALL]["epe_px"]) > 0.05
    assert float(sgm[ALL]["parallel_pairs_per_s"]) > 0 and exact[ALL]["parallel_pairs_per_s"] == ""
    # The same numbers in the report's table.
    md = (Path(cfg.out) / "report.md").read_text()
    assert "| **exact** | exact disparity f·B/Z (upper bound) | 100.0 % | 0.00 | 0.0 % |" in md


def test_trained_rows_are_mean_and_std_over_seeds(study: tuple[StudyConfig, dict]) -> None:
    cfg, results = study
    rows = _rows(Path(cfg.out) / "trained.csv")
    for evaluation, key in ((SYNTHETIC, "synthetic"), (WHOLE, "whole_image")):
        _check_mean_and_std(cfg, results, [r for r in rows if r["evaluation"] == evaluation], key)
    whole = results["trained"]["exact"]["runs"]["table1-SCRXU"]["whole_image"]
    cropped = results["trained"]["exact"]["runs"]["table1-SCRXU"]["synthetic"]
    # the whole image holds more valid pixels than the Garg crop: a different evaluation, not a copy
    assert whole["abs_rel"] != cropped["abs_rel"]
    assert results["advice"].startswith("sgm was the only matcher trained on: δ < 1.25 = ")


def test_photometric_and_hybrid_rows_with_regions_and_step_cost(study: tuple[StudyConfig, dict]) -> None:
    from ssrdepth.evaluation.regions import BOUNDARIES, REGION_NAMES, ROAD, SKY
    from ssrdepth.experiments.study_report import REGION

    cfg, results = study
    for mode in ("photometric", "hybrid"):
        t = results["trained"][mode]
        assert t["mode"] and t["seeds"] == 2 and t["step_seconds"]["mean"] > 0
        for run in t["runs"].values():
            assert set(run["regions"]) == set(REGION_NAMES)
            assert 0.0 <= run["regions"][SKY]["beyond_cap"] <= 1.0 and run["regions"][SKY]["pixels"] > 0
            assert run["regions"][ROAD]["pixels"] > 0 and run["regions"][BOUNDARIES]["pixels"] > 0
    # The photometric run trained the photometric loss on no targets; hybrid on sgm's, as hints.
    run_cfg = json.loads(
        (Path(cfg.out) / "kinds/photometric/runs/table1-SCRXU/config.json").read_text(encoding="utf-8")
    )
    assert run_cfg["loss"] == "photometric" and run_cfg["data"]["target"] == "none"
    hybrid_cfg = json.loads((Path(cfg.out) / "kinds/hybrid/runs/table1-SCRXU/config.json").read_text("utf-8"))
    assert hybrid_cfg["loss"] == "hybrid" and hybrid_cfg["data"]["matcher"] == "sgm"
    rows = _rows(Path(cfg.out) / "trained.csv")
    road = [r for r in rows if r["evaluation"] == REGION.format(region=ROAD)]
    assert [r["kind"] for r in road] == list(cfg.trained)
    sky = {r["kind"]: r for r in rows if r["evaluation"] == REGION.format(region=SKY)}
    values = [run["regions"][SKY]["beyond_cap"] for run in results["trained"]["hybrid"]["runs"].values()]
    assert float(sky["hybrid"]["beyond_cap_mean"]) == pytest.approx(sum(values) / 2)
    assert sky["photometric"]["target_density"] == "" and sky["hybrid"]["target_density"] != ""
    md = (Path(cfg.out) / "report.md").read_text(encoding="utf-8")
    assert "| **photometric** | none | — |" in md and "| **hybrid** (sgm hints) |" in md
    assert (
        "Without a matcher's targets (photometric) and with them as hints (hybrid): photometric"
        in (results["advice"])
    )


@pytest.mark.shared_data
def test_real_kitti_rows_and_header(shared_data: Path, study: tuple[StudyConfig, dict]) -> None:
    # shared_data (session-scoped) comes first: a missing folder skips before the miniature study.
    from ssrdepth.experiments.study_report import real_frames_note

    velodyne = require_shared("kitti_object/training/velodyne")
    cfg, results = study
    rows = _rows(Path(cfg.out) / "trained.csv")
    real = [r for r in rows if r["evaluation"].startswith("real")]
    assert [r["kind"] for r in real] == list(cfg.trained) and {r["images"] for r in real} == {"7"}
    frames, kitti = len(list(velodyne.iterdir())), velodyne.parents[1]
    assert f"- Real KITTI: {frames} frames with lidar from `{kitti}`" in real_frames_note(results)


@pytest.mark.shared_data
def test_real_pairs_include_middlebury_aloe(shared_data: Path, study: tuple[StudyConfig, dict]) -> None:
    require_shared("middlebury_aloe")
    _, results = study
    aloe = results["real_pairs"]["pairs"].get("Middlebury 2006 Aloe (half size)")
    assert aloe is not None and set(aloe) == {"sgm", "sgm-no-lr", "bm"}


def _check_mean_and_std(cfg: StudyConfig, results: dict, rows: list[dict[str, str]], key: str) -> None:
    assert [r["kind"] for r in rows] == list(cfg.trained)
    for r in rows:
        runs = results["trained"][r["kind"]]["runs"].values()
        values = [run[key]["abs_rel"] for run in runs]
        assert len(values) == 2 and r["seeds"] == "2"
        mean = sum(values) / 2
        assert float(r["abs_rel_mean"]) == pytest.approx(mean)
        assert float(r["abs_rel_std"]) == pytest.approx(
            abs(values[0] - values[1]) / 2**0.5
        )  # sample std, n = 2


def test_rerun_reuses_every_finished_piece(study: tuple[StudyConfig, dict]) -> None:
    cfg, first = study
    out = Path(cfg.out)
    stored = [*out.rglob("result.json"), *out.rglob("*.pt")]
    assert any(p.suffix == ".pt" for p in stored)
    stamp = {p: p.stat().st_mtime_ns for p in stored}
    again = study_matchers(cfg)
    # nothing trained again: no run's result or checkpoint rewritten, every run marked as reused
    assert {p: p.stat().st_mtime_ns for p in stored} == stamp
    runs = [r for t in again["trained"].values() for r in t["runs"].values()]
    assert len(runs) == 2 * len(cfg.trained) and all(r["reused"] for r in runs)
    # the same numbers, now marked as reused from the stored pieces
    assert all(q.pop("reused") for q in again["quality"].values())
    assert again["quality"] == json.loads(json.dumps(first["quality"]))
    assert again["trained"]["sgm"]["synthetic"] == first["trained"]["sgm"]["synthetic"]


def test_cli_quick_keeps_its_small_batch_beside_extra_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ssrdepth.cli.study as command
    from ssrdepth.cli import main

    seen: list[StudyConfig] = []
    monkeypatch.setattr(
        command, "study_matchers", lambda cfg: seen.append(cfg) or {"seconds": 1.0, "advice": "-"}
    )
    out = str(tmp_path / "s")
    assert (
        main(["study", "matchers", "--quick", "--out", out, "--set", "optim.lr=0.001", "--steps", "3"]) == 0
    )
    (cfg,) = seen
    assert (
        cfg.out == out
        and cfg.steps == 3
        and cfg.seeds == 2
        and cfg.trained == ("exact", "lidar-like", "sgm", "photometric", "hybrid")
    )
    assert cfg.overrides[0] == "batch_size=4" and cfg.overrides[-1] == "optim.lr=0.001"
    assert main(["study", "matchers", "--variants", "sgm", "bm", "exact", "--out", out]) == 0
    # the modes without a matcher's targets train beside the chosen variants
    assert seen[1].trained == ("exact", "sgm", "bm", "photometric", "hybrid")
    assert seen[1].steps == StudyConfig().steps


def test_report_header_says_quick_real_frames_and_what_was_reused(study: tuple[StudyConfig, dict]) -> None:
    from ssrdepth.experiments.study_report import _timing, reused_pieces

    cfg, first = study
    assert reused_pieces(first) == []
    assert "everything computed in this run" in _timing(first) and "earlier" not in _timing(first)
    again = study_matchers(cfg)
    assert reused_pieces(again)[0] == "target quality of exact"
    assert reused_pieces(again)[-1] == "10 of the 10 trained runs"
    assert "reused from an earlier run: target quality of exact" in _timing(again)
    report = (Path(cfg.out) / "report.md").read_text(encoding="utf-8")
    assert "**This is a `--quick` smoke run** (4 training steps, width ×0.125, 12 synthetic pairs" in report
    advice = report.split("## Advice")[1]
    assert "`--quick` smoke run" in advice and "not advice" in advice


def test_training_log_names_the_target_kind(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    import ssrdepth.experiments.reproduce as reproduce_module
    from ssrdepth.data.config import DataConfig
    from ssrdepth.experiments.study_matchers import train_on

    def stop(cfg: object) -> None:
        raise RuntimeError("stop")

    monkeypatch.setattr(reproduce_module, "reproduce", stop)
    base = DataConfig(source="synthetic", root=str(tmp_path))
    with caplog.at_level("INFO", logger="ssrdepth"), pytest.raises(RuntimeError, match="stop"):
        train_on(base, "lidar-like", quick_config(str(tmp_path / "out")))
    assert "training SCRXU on lidar-like targets (2 seed(s), 4 steps)" in caplog.text


@pytest.mark.parametrize(
    ("command", "length", "evaluated"),
    [
        (["study", "matchers"], "another --steps", "every trained model"),
        (["demo"], "another --length", "Table 1's models"),
        (["reproduce"], "another --length", "Table 1's models"),
    ],
)
def test_run_option_help_names_each_commands_options(
    capsys: pytest.CaptureFixture[str], command: list[str], length: str, evaluated: str
) -> None:
    from ssrdepth.cli import main

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(e.g. {length})" in text and f"also evaluate {evaluated} on these real frames" in text
    assert "Table 1 / study models" not in text
