"""``ssrdepth demo``: the main job on the embedded synthetic default, no download needed.

1. Render the synthetic stereo street set (KITTI layout, exact depth) — :mod:`ssrdepth.data.synthetic`.
2. Stereo-match every pair into disparity targets with the default matcher (SGM).
3. Train the six models at 147×37 grayscale (Table 1) and SCRX at 310×94 gray and colour (Table 2) in
   a single stage each, with the reduced-width demo preset (``--full``: the paper's widths), for as
   many steps as fit the ~15-minute budget on this machine (measured: :func:`plan_steps`).
4. Evaluate against the stereo targets (the paper's six, the standard set on normalised maps) and
   against the exact synthetic depth in metres (``kitti`` protocol).
5. Predict on a real image shipped by scikit-image (Middlebury 2014 Motorcycle).
6. Write the same report as ``reproduce``; re-running reuses everything already finished.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.data.config import SYNTHETIC_MAX_DISPARITY
from ssrdepth.data.synthetic import GENERATOR_VERSION, SyntheticSettings
from ssrdepth.data.synthetic.streets import Features
from ssrdepth.experiments.reproduce import ReproduceConfig, reproduce
from ssrdepth.models import list_models

logger = logging.getLogger(__name__)

#: The demo preset, chosen so that the whole job fits in about 15 minutes on 2 CPU cores.
DEMO_PAIRS = 1000
#: Frames per synthetic street in the demo's set: 100 streets of 10 frames (about 10 m each) teach
#: more than 20 streets of 50 near-duplicate frames (docs/data.md, "What transfers"), at the same cost.
DEMO_SEQUENCE_LENGTH = 10
#: Channel-width multiplier of the demo preset (1.0 = the paper's 64-128-256-512). At 0.25 SCRX costs
#: 0.26 GFLOP per 147×37 image instead of 4.1.
DEMO_WIDTH = 0.25
#: The demo's time budget, seconds: the whole job in about 15 minutes on 2 CPU cores.
DEMO_BUDGET_S = 15 * 60
#: What the demo keeps for the work after training: evaluating every run and baseline, the real frames,
#: the target quality, the figures, the backend choice for the example image and the report (about
#: 60 s measured on a 2-core AMD EPYC, AVX2 only, once each split is evaluated in one pass;
#: BENCHMARKS.md, "Where the demo's time goes").
DEMO_AFTER_TRAINING_S = 75
#: Training length per table, in optimiser steps: (fewest, most). The steps are chosen on each machine
#: by its measured training speed to fit :data:`DEMO_BUDGET_S` (:func:`plan_steps`), the same number for
#: every model of a table so that they compare at equal training; Table 2 (310×94, 5.4× the pixels)
#: gets a fifth of Table 1's. 500 / 100 is where the models stop gaining much (docs/training.md). The
#: fewest Table 1 steps are what still transfers to real photos: on the 2-core AVX2-only EPYC, SCRXU
#: after 250 steps beat the row prior on the 7 real KITTI frames (δ < 1.25 0.628 vs 0.597), after 110
#: it did not (0.595); a machine too slow for 200 steps in the budget takes longer, and is told so.
DEMO_STEP_RANGE = {"1": (200, 500), "2": (20, 100)}
#: Steps are chosen in multiples of this (so that small timing noise keeps the same plan).
DEMO_STEP_QUANTUM = 10
#: The batch that :data:`DEMO_STEP_RANGE` and :data:`DEMO_STEP_QUANTUM` count steps of (the paper's
#: 40): a table trained at another batch gets the steps of the same number of training images.
DEMO_RANGE_BATCH = 40
#: A training run's time over its steps as :func:`~ssrdepth.training.loop.measure_step_seconds` times
#: them (loading and augmentation included): validation, checkpoints and logs, 20 s of the runs'
#: 1,183 s (1.02×) in py-spy's profile of the demo on a 2-core AMD EPYC (BENCHMARKS.md, "Where the
#: demo's time goes"); 1.05 keeps a margin.
TRAIN_LOOP_OVERHEAD = 1.05
#: The plan the first run measured, kept in the demo folder so that a re-run reuses its trained runs.
PLAN_FILE = "demo-steps.json"
#: Training settings of the demo's runs on top of the recipe (before ``--set``), for its short budget:
#: half the batch and twice the rate, the same training images in twice the steps. Measured on the
#: demo's set at 200 steps of batch 40 (8,000 images), seed 0, a 2-core AVX2-only AMD EPYC
#: (docs/training.md, "The demo's training"): synthetic δ < 1.25 SC 0.738 → 0.777, SCRXU 0.730 →
#: 0.771; the 7 real KITTI frames' δ < 1.25 SC 0.590 → 0.669, SCRXU 0.604 → 0.621, AbsRel SC
#: 0.291 → 0.248, SCRXU 0.280 → 0.258; at the same training time.
DEMO_OVERRIDES: tuple[str, ...] = ("batch_size=20", "optim.lr=4e-3")
#: The synthetic set's own default (:data:`ssrdepth.data.config.SYNTHETIC_MAX_DISPARITY`): it renders
#: at half KITTI width (621 px), where 96 px of disparity cover the same depths (≥ ~2 m) as KITTI's
#: usual 192 px at full width.
DEMO_MAX_DISPARITY = SYNTHETIC_MAX_DISPARITY
#: Where the demo looks for real KITTI frames with lidar (evaluated, never trained on): the environment
#: variable, else ``../shared/data/kitti_object`` beside the working directory (the project's samples).
REAL_KITTI_ENV = "SSRDEPTH_REAL_KITTI"


def default_real_kitti() -> str:
    """The real-frame folder the demo evaluates on (it may not exist: the report then says so)."""
    return os.environ.get(REAL_KITTI_ENV) or str(Path.cwd().parent / "shared" / "data" / "kitti_object")


def plan_steps(
    step_seconds: Mapping[str, float], available_s: float, batches: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Steps per table that fit ``available_s`` seconds of training.

    step_seconds: table → seconds of one step of *all* its runs together (the sum over its models), as
        measured, loop overhead included. batches: table → its training batch (default
        :data:`DEMO_RANGE_BATCH`): :data:`DEMO_STEP_RANGE` and :data:`DEMO_STEP_QUANTUM` count steps of
        that batch, so a table trained at batch ``b`` gets ``DEMO_RANGE_BATCH / b`` times as many
        steps (the same training images). Every table gets the same fraction ``k`` of its most steps,
        ``k = min(1, available / Σ most·seconds)``, rounded down to the quantum and kept within the
        table's range (the fewest steps even when they do not fit: the caller says so).
    """
    per = {t: DEMO_RANGE_BATCH / (batches or {}).get(t, DEMO_RANGE_BATCH) for t in step_seconds}
    full = sum(DEMO_STEP_RANGE[t][1] * per[t] * sec for t, sec in step_seconds.items())
    k = 1.0 if full <= 0 else min(1.0, max(available_s, 0.0) / full)
    steps = {}
    for table in step_seconds:
        lo, hi = (round(n * per[table]) for n in DEMO_STEP_RANGE[table])
        quantum = max(1, round(DEMO_STEP_QUANTUM * per[table]))
        n = int(k * hi // quantum) * quantum
        steps[table] = max(lo, min(hi, n))
    return steps


def _kept_plan(path: Path, measured_for: dict[str, Any]) -> tuple[dict[str, int], int] | None:
    """The steps and runs at a time of the plan in ``path`` when it was measured for ``measured_for``
    (the same runs, width and device); None when there is none or it was measured for others.
    ValueError names a file that is not a plan."""
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        steps = {str(t): int(n) for t, n in stored["steps"].items()}
        jobs = int(stored.get("jobs", 1))  # plans written before runs trained side by side: 1
        same = all(stored.get(k) == v for k, v in measured_for.items())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a demo step plan ({exc}); delete it to measure again") from None
    if not same:
        logger.info("%s was measured for other runs or another device: measuring again", path)
        return None
    logger.info(
        "training steps per table %s, %d run(s) at a time: the plan measured by the first run (%s; "
        "--fresh all measures again)",
        steps,
        jobs,
        path,
    )
    return steps, jobs


def _measure_runs(first: list[Any], rcfg: ReproduceConfig) -> dict[str, float]:
    """Run key → seconds of one of its training steps as ``train`` runs it
    (:func:`ssrdepth.training.loop.measure_step_seconds`), times :data:`TRAIN_LOOP_OVERHEAD`; each
    training split is built once (Table 1's six runs share one)."""
    from ssrdepth.data import build_dataset
    from ssrdepth.experiments.reproduce import train_config_for
    from ssrdepth.training.loop import measure_step_seconds

    logger.info("measuring one training step of each of the %d runs", len(first))
    per_run: dict[str, float] = {}
    train_sets: dict[Any, Any] = {}
    for run in first:
        tc = train_config_for(run, rcfg)
        if tc.data not in train_sets:
            train_sets[tc.data] = build_dataset(tc.data, "train", progress=False)
        per_run[run.key] = measure_step_seconds(tc, train_set=train_sets[tc.data]) * TRAIN_LOOP_OVERHEAD
    return per_run


def _budget_plan(
    rcfg: ReproduceConfig, started: float, fresh: str | None, jobs: int | None = None
) -> tuple[tuple[tuple[str, int], ...], int]:
    """The demo's steps per table on this machine and how many runs train at a time (``jobs``, None:
    the kept plan's, else 1): the plan kept in ``OUT/demo-steps.json`` by an earlier run for the same
    runs (unless ``--fresh all``), else measured now (:func:`_measure_runs`), the time left of
    :data:`DEMO_BUDGET_S` after rendering, matching and :data:`DEMO_AFTER_TRAINING_S` shared out by
    :func:`plan_steps`. The plan, its measurements and the CPU are logged and written to the file.
    Steps are timed one run at a time: with ``jobs`` > 1 the plan does not count on runs side by side
    training faster (on the 2-core AVX2 EPYC they did not: docs/training.md, "Two runs at a time")."""
    from ssrdepth.core.hardware import speed_flags
    from ssrdepth.core.io import write_json
    from ssrdepth.core.machine import machine_info
    from ssrdepth.experiments.reproduce import batch_sizes, ensure_targets, plan_runs

    path = Path(rcfg.out) / PLAN_FILE
    runs, _ = plan_runs(rcfg)
    first = [r for r in runs if not r.seed]
    # What the plan was measured for: the same runs (models, tables, sizes, width) on the same device.
    measured_for = {"runs": sorted(r.key for r in first), "width": rcfg.width, "device": rcfg.device}
    kept = _kept_plan(path, measured_for) if fresh != "all" else None
    if kept is not None:
        return tuple(sorted(kept[0].items())), jobs or kept[1]
    for data in {(r.data.root, r.data.matcher): r.data for r in first}.values():
        ensure_targets(data, rcfg.progress)  # matched now, so that their time counts as spent
    per_run = _measure_runs(first, rcfg)
    jobs = jobs or 1
    seconds: dict[str, float] = {}
    for run in first:
        seconds[run.table] = seconds.get(run.table, 0.0) + per_run[run.key]
    spent = time.perf_counter() - started
    available = DEMO_BUDGET_S - spent - DEMO_AFTER_TRAINING_S
    steps = plan_steps(seconds, available, batch_sizes(rcfg))
    training = sum(steps[t] * sec for t, sec in seconds.items())
    expected_min = (spent + training + DEMO_AFTER_TRAINING_S) / 60
    flags = [k for k, v in speed_flags().items() if v]
    logger.info(
        "budget %.0f min on this machine (%s, %s): %.0f s spent rendering, matching and measuring; "
        "training %s, %s ≈ %.0f s (one step of all a table's runs: %s); %.0f s kept for evaluation and "
        "the report; expected total ≈ %.1f min",
        DEMO_BUDGET_S / 60,
        machine_info().get("cpu", "cpu"),
        " ".join(flags) or "no vector flags read",
        spent,
        ", ".join(f"Table {t}: {n} steps" for t, n in steps.items()),
        "one run at a time" if jobs == 1 else f"{jobs} runs at a time (planned as one at a time)",
        training,
        ", ".join(f"Table {t} {sec:.2f} s" for t, sec in seconds.items()),
        DEMO_AFTER_TRAINING_S,
        expected_min,
    )
    if expected_min > DEMO_BUDGET_S / 60 * 1.05:
        logger.warning(
            "the steps that still give models that transfer do not fit %.0f min on this machine: "
            "expect about %.0f min",
            DEMO_BUDGET_S / 60,
            expected_min,
        )
    write_json(
        path,
        {
            "steps": steps,
            "step_seconds": per_run,
            "loop_overhead": TRAIN_LOOP_OVERHEAD,
            "spent_before_training_s": spent,
            "available_s": available,
            "budget_s": DEMO_BUDGET_S,
            "jobs": jobs,
            **measured_for,
            "machine": machine_info(),
            "cpu_flags": flags,
        },
    )
    return tuple(sorted(steps.items())), jobs


@dataclass(frozen=True)
class DemoConfig:
    """The demo's settings. ``full``: the paper's widths and its 1,000 steps per run (hours on a CPU).

    ``ssrdepth demo --config FILE`` reads these keys from TOML and ``--option KEY=VALUE`` sets one
    (:mod:`ssrdepth.core.config_engine`); ``--print-config`` writes them."""

    out: str = "runs/demo"
    pairs: int = DEMO_PAIRS
    sequence_length: int = DEMO_SEQUENCE_LENGTH
    seed: int = 0
    full: bool = False
    table_lengths: tuple[tuple[str, int], ...] | None = None  # None: measured to fit the budget
    models: tuple[str, ...] = tuple(list_models())
    tables: tuple[str, ...] = ("1", "2")
    device: str = "cpu"
    eval_max_images: int | None = None
    reading: str = "steps"
    unit: str | None = None
    overrides: tuple[str, ...] = ()
    progress: bool = True
    recipe: str = "ssrdepth"
    seeds: int = 1
    real_kitti: str | None = None  # None: default_real_kitti()
    baselines: bool = True
    #: as :attr:`ReproduceConfig.fresh`: None, "changed" or "all"
    fresh: str | None = None
    #: a ``--quick`` smoke run (:func:`quick_demo_config`): the report says its numbers are not a result
    quick: bool = False
    #: what the synthetic set's renders include (None: everything, :class:`Features`' defaults)
    features: Features | None = None
    #: training runs at a time (:attr:`ReproduceConfig.jobs`); None: a kept plan's, else 1
    jobs: int | None = None
    #: as :attr:`ReproduceConfig.targets`: "matcher" (SGM's targets), "photometric" or "hybrid"
    targets: str = "matcher"


def motorcycle_section(report: Path, checkpoint: Path) -> str:
    """Predict on scikit-image's Middlebury 2014 Motorcycle (a real indoor image, far from the street
    scenes the model saw) and write ``motorcycle.png``: input, the model's map, the true disparity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr
    from skimage.data import stereo_motorcycle

    from ssrdepth.core.io import atomic_path
    from ssrdepth.inference.predict import load_model, predict

    left, _right, disp = stereo_motorcycle()
    model = load_model(checkpoint)
    pred = predict(model, left, "normalised")
    known = np.isfinite(disp)
    rho = float(spearmanr(pred[known].ravel(), disp[known].ravel()).statistic)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    axes[0].imshow(left)
    axes[0].set_title("Middlebury Motorcycle (scikit-image)", fontsize=8)
    axes[1].imshow(pred, cmap="magma", vmin=0, vmax=max(float(pred.max()), 1e-6))
    axes[1].set_title(f"{model.name} prediction (normalised disparity, own range)", fontsize=8)
    axes[2].imshow(np.where(known, disp, np.nan), cmap="magma")
    axes[2].set_title("true disparity (px)", fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    with atomic_path(report / "motorcycle.png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)
    return (
        "## A real image: Middlebury 2014 Motorcycle\n\n"
        f"{model.name} ({checkpoint}) trained on synthetic streets, applied to an indoor scene it never saw "
        f"(run by `predict --backend auto`'s choice on this machine: {model.backend}, {model.precision}). "
        f"Spearman rank correlation of its map with the true disparity on {int(known.sum()):,} known "
        f"pixels: ρ = {rho:.2f} (1 = same depth order, 0 = none).\n\n![Motorcycle](motorcycle.png)\n"
    )


def side_by_side(path: Path, rendered: list[Path], real: list[Path], n: int = 4) -> None:
    """A picture of ``n`` rendered left images (evenly spaced, top row) above ``n`` real frames, each
    resized to 310×94 (the Table 2 input), written atomically to ``path`` (PNG)."""
    import cv2

    from ssrdepth.core.image import read_image
    from ssrdepth.core.io import atomic_path

    def row(paths: list[Path]) -> np.ndarray:
        pick = [paths[round(i * (len(paths) - 1) / max(n - 1, 1))] for i in range(min(n, len(paths)))]
        tiles = [cv2.resize(np.asarray(read_image(p)), (310, 94), interpolation=cv2.INTER_AREA) for p in pick]
        tiles += [np.zeros((94, 310, 3), np.uint8)] * (n - len(tiles))
        return np.concatenate(tiles, axis=1)

    grid = np.concatenate([row(rendered), row(real)], axis=0)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(grid[..., ::-1])):
            raise OSError(f"could not write {path}")


def domain_gap_section(synthetic_root: Path, real_root: Path, report: Path | None = None) -> str:
    """How far the rendered left images are from the real frames' images, by image statistics alone
    (:func:`ssrdepth.data.image_stats.compare_folders`; no depth needed); "" when there are no real
    images under ``real_root``."""
    from ssrdepth.data.image_stats import compare_folders, list_images

    real_dir = real_root / "training" / "image_2"
    if not real_dir.is_dir():
        return ""
    try:
        real = list_images(real_dir)
    except ValueError:
        return ""
    rendered = list_images(synthetic_root / "training" / "image_02")
    result = compare_folders(rendered, real, 200)
    figure = ""
    if report is not None:
        side_by_side(report / "renders_vs_real.png", rendered, real)
        figure = (
            "\n![Rendered left images (top) and the real frames (bottom), at 310×94](renders_vs_real.png)\n"
        )
    n, d = result["n_images"], result["distances"]
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in d.items())
    return (
        "## How far the renders are from real photos\n\n"
        f"Image statistics of {n['synthetic']} rendered left images against the {n['real']} real frames "
        f"in `{real_dir}` (`ssrdepth generate --compare`, docs/data.md; 0 = the same statistics; two halves of the 7 KITTI frames of `../shared/data` are 0.157 apart, a rough floor):\n\n"
        f"| statistic | distance |\n|---|---:|\n{rows}\n{figure}"
    )


def quick_demo_config(out: str, **changes: Any) -> DemoConfig:
    """The ``--quick`` demo: a smoke run of every step in about a minute on 2 CPU cores (24 pairs,
    two Table 1 models and Table 2, 4 steps of batch 4, 4 test images). Its numbers are not a result."""
    settings: dict[str, Any] = {
        "out": out,
        "pairs": 24,
        "models": ("SC", "SCRX"),
        "tables": ("1", "2"),
        "table_lengths": (("1", 4), ("2", 4)),
        "eval_max_images": 4,
        "overrides": ("batch_size=4", "eval_every=0", "tensorboard=false", "log_every=1"),
        "quick": True,
    }
    return DemoConfig(**{**settings, **changes})


def _training_text(recipe: str) -> str:
    if recipe == "ssrdepth":
        return (
            "the ssrdepth recipe (masked SILog loss, AdamW, flips and photometric jitter, batch norm, "
            "Xu skip; docs/training.md)"
        )
    return "the paper's training settings (eq. 1 loss on all pixels, SGD)"


def preset_text(cfg: DemoConfig, lengths: tuple[tuple[str, int], ...], batches: dict[str, int]) -> str:
    """The report's sentence on the training preset, from what the runs use: the width, the steps and
    the batch size of each table that runs (``batches``: table → batch size), the recipe."""
    training = _training_text("paper" if cfg.full else cfg.recipe)
    # The demo's own settings that the configuration's overrides (--set, --quick) leave in force.
    own = [o for o in DEMO_OVERRIDES if o.split("=")[0] not in {x.split("=")[0] for x in cfg.overrides}]
    if not cfg.full and cfg.recipe == "ssrdepth" and own:
        training += f" with the demo's short-budget settings ({', '.join(own)})"
    steps = dict(lengths)
    per_table = ", ".join(
        f"Table {t}: {steps[t]} steps of batch {b}" if t in steps else f"Table {t}: batch {b}"
        for t, b in sorted(batches.items())
    )
    if cfg.full:
        return f"the paper's widths and its 1,000 steps ({per_table}), {training}"
    kind = "--quick smoke preset (its numbers are not a result)" if cfg.quick else "demo preset"
    planned = (
        f" (steps chosen to fit the {DEMO_BUDGET_S // 60}-minute budget at this machine's measured "
        f"training speed: {PLAN_FILE})"
        if cfg.table_lengths is None
        else ""
    )
    return (
        f"{kind}: width ×{DEMO_WIDTH} (SCRX 0.26 instead of 4.1 GFLOP per 147×37 image), "
        f"{per_table}{planned}, {training}, precision auto"
    )


def _refresh_old_render(root: Path, fresh: str | None) -> None:
    """A demo folder rendered by an older generator: ``--fresh all`` deletes its synthetic set (and the
    stereo targets cached inside it) so that it is rendered anew; otherwise the demo stops with that
    advice (its trained runs would compare models trained on another data set)."""
    import shutil

    from ssrdepth.data.synthetic import GENERATOR_VERSION, read_manifest

    if not (root / "synthetic.json").is_file():
        return
    version = (read_manifest(root).get("settings") or {}).get("version")
    if version == GENERATOR_VERSION:
        return
    if fresh != "all":
        raise ValueError(
            f"{root} was rendered by generator version {version}; this ssrdepth renders version "
            f"{GENERATOR_VERSION}: run the demo with --fresh all (renders and trains anew), or give "
            "another --out"
        )
    logger.info(
        "%s: rendered by generator version %s; deleting it to render version %s",
        root,
        version,
        GENERATOR_VERSION,
    )
    shutil.rmtree(root)


def _targets_note(targets: str) -> tuple[str, ...]:
    """The report's note on ``--targets`` where it is not the matcher's (docs/stereo.md)."""
    if targets == "photometric":
        return (
            "Trained with `--targets photometric`: the stereo pair teaches through the photometric loss "
            "(no matcher, no targets prepared); the SGM sentence above does not apply.",
        )
    if targets == "hybrid":
        return (
            "Trained with `--targets hybrid`: the photometric loss, with SGM's disparity as Depth Hints.",
        )
    return ()


def demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run the whole demo; returns the results dict (also in ``OUT/report/results.json``)."""
    from ssrdepth.data.synthetic import generate_synthetic
    from ssrdepth.experiments.reproduce import batch_sizes

    started = time.perf_counter()
    out = Path(cfg.out)
    root = out / "data" / "synthetic"
    _refresh_old_render(root, cfg.fresh)
    generate_synthetic(
        root,
        cfg.pairs,
        seed=cfg.seed,
        sequence_length=cfg.sequence_length,
        progress=cfg.progress,
        features=cfg.features,
    )
    lengths = () if cfg.full else (cfg.table_lengths or ())
    rcfg = ReproduceConfig(
        out=str(out),
        kitti=str(root),
        kitti_source="synthetic",
        models=cfg.models,
        tables=cfg.tables,
        table_lengths=lengths,
        reading=cfg.reading,
        unit=cfg.unit,
        width=1.0 if cfg.full else DEMO_WIDTH,
        matcher="sgm",
        targets=cfg.targets,
        max_disparity=DEMO_MAX_DISPARITY,
        device=cfg.device,
        eval_max_images=cfg.eval_max_images,
        overrides=cfg.overrides
        if cfg.full or cfg.recipe != "ssrdepth"
        else (*DEMO_OVERRIDES, *cfg.overrides),
        progress=cfg.progress,
        recipe="paper" if cfg.full else cfg.recipe,
        seeds=cfg.seeds,
        baselines=cfg.baselines,
        real_kitti=cfg.real_kitti or default_real_kitti(),
        fresh=cfg.fresh,
        title="ssrdepth demo — the paper's experiments on the embedded synthetic street set"
        + (" (--quick smoke run)" if cfg.quick else ""),
        more_data=f"render more pairs with --pairs (now {cfg.pairs})",
        jobs=cfg.jobs or 1,
    )
    if not cfg.full and cfg.table_lengths is None:
        lengths, jobs = _budget_plan(rcfg, started, cfg.fresh, cfg.jobs)
        # the plan counts steps
        rcfg = dataclasses.replace(rcfg, table_lengths=lengths, unit="steps", jobs=jobs)
    preset = preset_text(cfg, lengths, batch_sizes(rcfg))
    streets = SyntheticSettings(cfg.pairs, sequence_length=cfg.sequence_length).sequences()
    rcfg = dataclasses.replace(
        rcfg,
        notes=(
            f"Data: {cfg.pairs} synthetic KITTI-like stereo pairs (generator version {GENERATOR_VERSION}, "
            f"seed {cfg.seed}, 621×188, f = 360.8 px, B = 0.54 m; {len(streets)} streets of up to "
            f"{cfg.sequence_length} frames), split by street; targets from OpenCV semi-global matching normalised by "
            f"{DEMO_MAX_DISPARITY} px; true depth known exactly. {preset}.",
            "Synthetic streets are not KITTI: compare the ranking of the models with the paper's, "
            "not the absolute values.",
            *_targets_note(cfg.targets),
        ),
    )
    results = reproduce(rcfg)
    sections = []  # reproduce's report already has the targets' quality per region (exact depth)
    runs = list(results["runs"].values())
    t1 = [r for r in runs if r["table"] == "1" and not r.get("seed", 0)]
    best = next((r for r in t1 if r["model"] == "SCRX"), t1[0] if t1 else None)
    if best is not None:
        sections.append(motorcycle_section(out / "report", Path(best["checkpoint"])))
        from ssrdepth.experiments.confidence_report import confidence_section

        sections.append(confidence_section(out / "report", Path(best["checkpoint"]), cfg.eval_max_images))
    gap = domain_gap_section(root, Path(rcfg.real_kitti or ""), out / "report")
    if gap:
        sections.append(gap)
    from ssrdepth.core.io import write_json, write_text
    from ssrdepth.experiments.report import format_duration

    # The report's header times the grid (targets, training, evaluation); the demo also rendered and
    # planned: its whole duration is said, and is what `ssrdepth demo` prints.
    results["demo_seconds"] = time.perf_counter() - started
    sections.append(
        f"The whole demo (rendering, matching, the step plan, training, evaluation, this report) took "
        f"{format_duration(results['demo_seconds'])} on this machine.\n"
    )
    results.setdefault("sections", []).extend(sections)
    write_json(out / "report" / "results.json", results)
    md = out / "report" / "report.md"
    write_text(md, md.read_text(encoding="utf-8") + "\n" + "\n".join(sections))
    return results
