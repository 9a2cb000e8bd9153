"""The demo's pieces that ``reproduce`` does not cover: its preset and the real-image section."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.core.flops import count_gflops
from ssrdepth.data.config import TargetScale
from ssrdepth.experiments.demo import DEMO_BUDGET_S, DEMO_WIDTH, DemoConfig, motorcycle_section, plan_steps
from ssrdepth.models import create_model


def test_motorcycle_section_predicts_on_the_real_image(tmp_path: Path) -> None:
    model = create_model("SCRX", 1, width=0.125)
    scale = TargetScale("disparity", 96.0, focal=360.8, baseline=0.54, reference_width=621)
    ckpt = save_checkpoint(tmp_path / "best.pt", model, input_size=(37, 147), target=scale.as_dict())
    text = motorcycle_section(tmp_path, ckpt)
    assert "Middlebury 2014 Motorcycle" in text and "ρ = " in text
    # 500×741 image with ~ 370k pixels of known disparity (inf = unknown in scikit-image's copy).
    known = int(text.split(" known")[0].split("on ")[-1].replace(",", ""))
    assert 300_000 < known < 500 * 741
    w, h = Image.open(tmp_path / "motorcycle.png").size
    assert w > 2 * h


def test_demo_preset_is_what_the_docs_say() -> None:
    # The documented cost of the demo width: SCRX 0.26 GFLOP per 147×37 image instead of 4.1.
    assert count_gflops(create_model("SCRX", width=DEMO_WIDTH), 37, 147) == pytest.approx(0.26, abs=0.01)
    assert count_gflops(create_model("SCRX"), 37, 147) == pytest.approx(4.09, abs=0.01)
    cfg = DemoConfig()
    assert cfg.table_lengths is None and cfg.tables == ("1", "2") and cfg.recipe == "ssrdepth"
    assert len(cfg.models) == 6
    assert DEMO_BUDGET_S == 900  # "about 15 minutes on 2 cores"


def test_plan_steps_share_the_time_left_by_hand() -> None:
    # 2-core EPYC, AVX2 only, as measured: one step of Table 1's six runs 3.46 s, of Table 2's two 7.6 s;
    # 565 s left. At the most steps (500, 100) training would take 500·3.46 + 100·7.6 = 2,490 s, so each
    # table gets 565 / 2,490 = 0.227 of its most: 113.4 → 110 steps, below Table 1's fewest (200), and
    # 22.7 → 20 steps.
    assert plan_steps({"1": 3.46, "2": 7.6}, 565.0) == {"1": 200, "2": 20}
    # 0.6 of the most: 300 and 60.
    assert plan_steps({"1": 3.46, "2": 7.6}, 0.6 * 2490.0 + 1) == {"1": 300, "2": 60}
    # A fast machine: 500·1.0 + 100·2.0 = 700 s fits in 800 s: the most steps, not more.
    assert plan_steps({"1": 1.0, "2": 2.0}, 800.0) == {"1": 500, "2": 100}
    # Half of what the most would take: 250 and 50.
    assert plan_steps({"1": 1.0, "2": 2.0}, 350.0) == {"1": 250, "2": 50}
    # Too slow even for the fewest: the fewest (the caller warns), also with no time left at all.
    assert plan_steps({"1": 10.0, "2": 20.0}, 500.0) == {"1": 200, "2": 20}
    assert plan_steps({"1": 10.0}, -30.0) == {"1": 200}


def test_plan_steps_count_the_same_images_at_another_batch() -> None:
    # Table 1 at batch 10: its range (200, 500) steps of batch 40 is (800, 2000) steps of batch 10, its
    # quantum 40 steps. One step of the six runs at batch 10: 1.0 s; Table 2 at batch 40: 2.0 s. The
    # most would take 2000·1.0 + 100·2.0 = 2,200 s; 1,100 s is half: 1000 steps (a multiple of 40:
    # 1000 = 25·40) and 50.
    assert plan_steps({"1": 1.0, "2": 2.0}, 1100.0, {"1": 10, "2": 40}) == {"1": 1000, "2": 50}
    # 0.3 of it (660 s): 600 steps at batch 10 is below the fewest, 800; Table 2 gets 30.
    assert plan_steps({"1": 1.0, "2": 2.0}, 660.0, {"1": 10, "2": 40}) == {"1": 800, "2": 30}
    # 0.7 (1,540 s): 1400 → 1400 (35·40), and 70.
    assert plan_steps({"1": 1.0, "2": 2.0}, 1540.0, {"1": 10, "2": 40}) == {"1": 1400, "2": 70}


def test_budget_plan_is_measured_once_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import time

    import ssrdepth.data
    import ssrdepth.experiments.reproduce as reproduce
    import ssrdepth.training.loop as loop
    from ssrdepth.experiments.demo import PLAN_FILE, _budget_plan
    from ssrdepth.experiments.reproduce import ReproduceConfig

    timed: list[str] = []

    built: list[object] = []

    def step_seconds(tc: object, train_set: object = None) -> float:
        assert train_set is built[-1] or train_set in built  # the split built once for its data
        timed.append(str(getattr(tc, "out", "")))
        return 0.5

    def build(data: object, split: str, progress: bool = True) -> object:
        assert split == "train"
        built.append(object())
        return built[-1]

    monkeypatch.setattr(loop, "measure_step_seconds", step_seconds)
    monkeypatch.setattr(reproduce, "ensure_targets", lambda data, progress=True: None)
    monkeypatch.setattr(ssrdepth.data, "build_dataset", build)
    rcfg = ReproduceConfig(out=str(tmp_path), kitti=str(tmp_path / "synthetic"), kitti_source="synthetic")
    # 300 s already spent rendering: 900 − 300 − 75 = 525 s left. One step of Table 1's six runs
    # costs 6 · 0.5 · 1.05 = 3.15 s, of Table 2's two 1.05 s: 525 / (500·3.15 + 100·1.05) = 0.3125 of
    # the most steps → 156 → 150, raised to Table 1's fewest (200), and 31 → 30.
    lengths, jobs = _budget_plan(rcfg, time.perf_counter() - 300.0, None, jobs=1)
    assert lengths == (("1", 200), ("2", 30)) and jobs == 1 and len(timed) == 8
    assert len(built) == 3  # Table 1's six runs share one training split; Table 2's gray and RGB one each
    stored = json.loads((tmp_path / PLAN_FILE).read_text())
    assert stored["steps"] == {"1": 200, "2": 30} and 299 < stored["spent_before_training_s"] < 330
    # A re-run reuses the plan without measuring (so it reuses the runs trained with it) ...
    assert _budget_plan(rcfg, time.perf_counter(), None) == (lengths, 1) and len(timed) == 8
    # ... and --fresh all measures again: nothing spent now, 825 s left → 825 / 1,680 = 0.491 → 245 →
    # 240 and 49 → 40.
    assert _budget_plan(rcfg, time.perf_counter(), "all", jobs=1) == ((("1", 240), ("2", 40)), 1)
    assert len(timed) == 16
    # --jobs 2 is kept with the plan (a re-run trains as many side by side); the steps are timed one
    # run at a time and planned as such.
    assert _budget_plan(rcfg, time.perf_counter(), "all", jobs=2) == ((("1", 240), ("2", 40)), 2)
    assert json.loads((tmp_path / PLAN_FILE).read_text())["jobs"] == 2
    assert _budget_plan(rcfg, time.perf_counter(), None) == ((("1", 240), ("2", 40)), 2)
    # Other runs (one model; Table 1 only) were not measured by the kept plan: measured again.
    import dataclasses

    one = dataclasses.replace(rcfg, models=("SC",), tables=("1",))
    assert _budget_plan(one, time.perf_counter(), None)[0][0][0] == "1"
    assert json.loads((tmp_path / PLAN_FILE).read_text())["runs"] == ["table1-SC"]
    (tmp_path / PLAN_FILE).write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a demo step plan"):
        _budget_plan(rcfg, time.perf_counter(), None)


def test_quick_demo_runs_every_step_and_says_what_ran(tmp_path: Path) -> None:
    import re

    from ssrdepth.experiments.demo import demo, quick_demo_config

    cfg = quick_demo_config(str(tmp_path / "demo"), real_kitti=str(tmp_path / "no-kitti"), progress=False)
    results = demo(cfg)
    assert sorted(results["runs"]) == ["table1-SC", "table1-SCRX", "table2-gray", "table2-rgb"]
    report = (tmp_path / "demo" / "report" / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# ssrdepth demo — the paper's experiments on the embedded synthetic street set")
    assert "(--quick smoke run)" in report.splitlines()[0]
    assert "Table 1: 4 steps of batch 4, Table 2: 4 steps of batch 4" in report
    assert "of batch 40" not in report
    assert "## Table 1 — KITTI-like stereo, 147×37 grayscale, 2 of the six models (SC, SCRX)" in report
    assert "all six models" not in report
    # The reported duration is the run's own, formatted as format_duration says (seconds under a
    # minute, not "0.0 min"; test_format_duration_shows_seconds_under_a_minute) — no clock asserted.
    from ssrdepth.experiments.report import format_duration

    assert (
        f"): targets, training, evaluation and this report took {format_duration(results['seconds'])}. Every"
        in report
    )
    assert re.search(r"this report took \d+(\.\d)? (s|min|h)\. Every number", report)
    # The whole demo (rendering and planning too) is at least the grid's time, and said as formatted.
    assert results["demo_seconds"] >= results["seconds"]
    assert f"this report) took {format_duration(results['demo_seconds'])} on this machine." in report
    # How sure, how steady: the section's numbers are `ssrdepth evaluate --confidence flip --flicker`'s
    # for the same checkpoint and split.
    import json

    from ssrdepth.cli import main as cli_main

    assert (
        "## How sure, and how steady" in report
        and (tmp_path / "demo" / "report" / "sparsification.png").is_file()
    )
    best = results["runs"]["table1-SCRX"]["checkpoint"]
    assert cli_main(["evaluate", best, "--protocol", "kitti", "--confidence", "flip", "--flicker",
                     "--max-images", str(cfg.eval_max_images), "--out", str(tmp_path / "eval"),
                     "--quiet"]) == 0  # fmt: skip
    (r,) = json.loads((tmp_path / "eval" / "evaluate-kitti.json").read_text())["results"]
    assert f"AUSE of AbsRel {r['extra']['sparsification']['abs_rel']['ause']:.4f}" in report
    assert f"scale flicker {r['extra']['flicker']['scale_flicker']:.4f} →" in report


def test_split_smaller_than_the_batch_names_both_fixes(tmp_path: Path) -> None:
    from ssrdepth.experiments.demo import demo, quick_demo_config

    cfg = quick_demo_config(
        str(tmp_path / "demo"),
        pairs=8,
        tables=("1",),
        models=("SC",),
        overrides=("batch_size=40",),
        real_kitti=str(tmp_path / "no-kitti"),
        progress=False,
    )
    with pytest.raises(
        ValueError,
        match=r"^the training split has (\d+) samples, fewer than the batch size 40: lower the batch with "
        r"--set batch_size=N \(N ≤ \1\), or render more pairs with --pairs \(now 8\)$",
    ):
        demo(cfg)


def test_preset_text_follows_the_batch_and_the_tables_that_run() -> None:
    from ssrdepth.experiments.demo import preset_text

    text = preset_text(DemoConfig(table_lengths=(("1", 500),)), (("1", 500), ("2", 100)), {"1": 16})
    assert "Table 1: 500 steps of batch 16, the ssrdepth recipe" in text and "Table 2" not in text
    assert text.startswith("demo preset: width ×0.25")
    assert "with the demo's short-budget settings (batch_size=20, optim.lr=4e-3)" in text
    # An override of the batch (--quick's batch 4, --set) leaves only the rate in the sentence.
    text = preset_text(DemoConfig(overrides=("batch_size=4",)), (("1", 4),), {"1": 4})
    assert "with the demo's short-budget settings (optim.lr=4e-3)" in text and "batch_size=20" not in text
    # Steps the demo chose for the machine say so, and where the measurement is.
    text = preset_text(DemoConfig(), (("1", 110), ("2", 20)), {"1": 40})
    assert "Table 1: 110 steps of batch 40 (steps chosen to fit the 15-minute budget" in text
    assert "demo-steps.json" in text


def test_format_duration_shows_seconds_under_a_minute() -> None:
    from ssrdepth.experiments.report import format_duration

    assert format_duration(3.04) == "3.0 s"
    assert format_duration(59.9) == "59.9 s"
    assert format_duration(90) == "1.5 min"
    assert format_duration(7200) == "2.0 h"


def test_table_title_names_the_models_that_ran() -> None:
    from ssrdepth.experiments.report_writer import table_title
    from ssrdepth.models import list_models

    assert table_title("1", list(list_models())).endswith("all six models")
    assert (
        table_title("1", ["SCRX", "SC"])
        == "Table 1 — KITTI-like stereo, 147×37 grayscale, 2 of the six models (SC, SCRX)"
    )


def test_a_demo_folder_from_an_older_generator_needs_fresh_all(tmp_path: Path) -> None:
    import json

    from ssrdepth.experiments.demo import _refresh_old_render

    root = tmp_path / "demo" / "data" / "synthetic"
    root.mkdir(parents=True)
    (root / "synthetic.json").write_text(json.dumps({"settings": {"version": 2}, "complete": True}))
    with pytest.raises(
        ValueError,
        match=r"generator version 2; this ssrdepth renders version 3: run the demo with --fresh all",
    ):
        _refresh_old_render(root, None)
    with pytest.raises(ValueError, match="--fresh all"):
        _refresh_old_render(root, "changed")
    assert root.is_dir()
    _refresh_old_render(root, "all")
    assert not root.exists()
    _refresh_old_render(root, None)  # nothing there: nothing to do


@pytest.mark.shared_data
def test_domain_gap_section_against_the_real_frames(tmp_path: Path, shared_data: Path) -> None:
    from ssrdepth.data.synthetic import generate_synthetic
    from ssrdepth.experiments.demo import domain_gap_section

    root = tmp_path / "syn"
    generate_synthetic(root, 2, size=(48, 160), workers=1, progress=False)
    assert domain_gap_section(root, tmp_path / "no-kitti") == ""
    real = shared_data / "kitti_object"
    text = domain_gap_section(root, real, tmp_path / "report")
    assert "2 rendered left images against the 7 real frames" in text
    from PIL import Image

    assert Image.open(tmp_path / "report" / "renders_vs_real.png").size == (4 * 310, 2 * 94)
    assert "![Rendered left images" in text
    total = float(text.split("| total | ")[1].split(" |")[0])
    assert 0.05 < total < 1.0
