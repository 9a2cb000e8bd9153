"""``ssrdepth reproduce``: the paper's experiment grid, trained in a single stage, evaluated, reported.

Table 1: all six models, KITTI 147×37 grayscale, stereo targets. Table 2: SCRX at 310×94, grayscale
and colour. Table 3: SCRX on NYU Depth v2 at 320×240, grayscale and colour. Each run is an ordinary
``ssrdepth train`` run under ``OUT/runs/<table>-<column>``: a finished run is reused and an
interrupted one resumes, so running the command again continues where it stopped. The report folder
gets ``report.md``, ``results.json``, the figures (Fig. 12-like qualitative comparison, Fig. 13/14-like
gray vs colour, training curves) and per-table CSVs.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssrdepth.data.config import DATA_SOURCES, DataConfig
from ssrdepth.models import canonical_name, list_models

logger = logging.getLogger(__name__)

TABLE_IDS = ("1", "2", "3")
#: Training recipes: the paper's settings, or ssrdepth's (``ssrdepth.training.presets.RECIPE``).
RECIPES = ("paper", "ssrdepth")
#: ``ReproduceConfig.fresh``: keep runs (None), retrain the changed ones, or retrain all
FRESH = (None, "changed", "all")
#: ``ReproduceConfig.targets``: what teaches the stereo tables — the matcher's disparity (the paper),
#: the photometric loss alone (no targets, no ``prepare-targets``) or hybrid (the matcher's disparity
#: as Depth Hints beside the photometric loss), :mod:`ssrdepth.training.photometric`.
TARGETS = ("matcher", "photometric", "hybrid")


@dataclass(frozen=True)
class RunSpec:
    """One training run of the grid: ``table`` ("1"–"3"), its column label, model and data."""

    table: str
    column: str
    model: str
    data: DataConfig
    preset: str
    seed: int = 0

    @property
    def key(self) -> str:
        return f"table{self.table}-{self.column}" + (f"-seed{self.seed}" if self.seed else "")


@dataclass(frozen=True)
class ReproduceConfig:
    """What to reproduce and how long to train.

    kitti / kitti_source: root and layout of the KITTI stereo data (``kitti-tracking`` as in the
        paper; ``kitti-raw``, ``kitti-object``, ``stereo-folder`` or ``synthetic`` work too).
    nyu: folder with ``nyu_depth_v2_labeled.mat`` and ``splits.mat``.
    models: Table 1's models. tables: which tables ("1", "2", "3"); a table whose data set is not
        given is left out (and said so in the report).
    reading: ``"steps"`` or ``"epochs"`` — the two readings of the paper's "1,000 iterations".
    length / unit: override the preset's length (e.g. 300 steps for a short run);
        ``table_lengths`` (pairs of table id and length) overrides it per table.
    width: channel-width multiplier of every model (1.0 = the paper's widths).
    matcher: stereo backend for the KITTI targets (the paper used ELAS: ``elas`` needs pyelas).
    targets: what teaches the stereo tables (1 and 2, :data:`TARGETS`): ``"matcher"`` (the paper:
        the matcher's disparity, the preset's loss), ``"photometric"`` (``loss = photometric``,
        ``data.target = none``: the pair teaches, nothing to prepare; no baselines, which are fitted on
        targets) or ``"hybrid"`` (``loss = hybrid``: the matcher's targets as hints). NYU (Table 3) has
        no stereo pair, so it is left out of the other two.
    metric_protocol: the standard-set protocol in metres used where the data has true depth
        (lidar / exact synthetic depth): ``kitti`` (Garg crop) by default for KITTI-like data.
    overrides: extra ``key=value`` training overrides applied to every run (see ``ssrdepth train``).
    recipe: ``"paper"`` (the paper's training settings, as the presets read them) or ``"ssrdepth"``
        (:data:`ssrdepth.training.presets.RECIPE`: masked SILog, AdamW, augmentation, Xu skip).
    seeds: train every run with seeds 0 … seeds − 1; tables show the mean, and Table 1 gets the
        spread and which pairwise orders are outside the seed noise.
    baselines: evaluate a constant map and the row prior (fitted on each table's training split)
        beside the networks in every table.
    real_kitti: a KITTI object root with ``velodyne/`` (e.g. ``../shared/data/kitti_object``): Table 1's
        models are also evaluated there against the lidar (``kitti`` protocol, metres), beside the
        baselines fitted on Table 1's training split.
    fresh: ``None`` (default): reuse finished runs and resume interrupted ones; a run folder holding
        another configuration (e.g. another ``length``) stops with a message. ``"changed"``: retrain
        the runs whose configuration differs, reuse the others. ``"all"``: retrain every run.
    more_data: how the calling command gets more training data, named by the message of a training
        split smaller than the batch (``demo`` and ``study``: their ``--pairs``).
    jobs: training runs at a time. 1 (default): one after another in this process. ``n`` > 1: in ``n``
        worker processes, each with the CPU's cores shared out (``threads`` = cores // n unless
        ``--set threads=`` says otherwise), each run evaluated by its worker; the results are the
        same runs (``threads`` is an execution field: a serial re-run reuses them). CPU only. On a
        2-core AVX2 EPYC two copies of one small run trained 1.2× faster side by side, but the demo's
        mixed runs did not (0.74–0.98×; docs/training.md, "Two runs at a time"): measure first.

    ``ssrdepth reproduce --config FILE`` reads these keys from TOML and ``--option KEY=VALUE`` sets one
    (:mod:`ssrdepth.core.config_engine`); ``--print-config`` writes them.
    """

    out: str = "runs/reproduce"
    kitti: str | None = None
    kitti_source: str = "kitti-tracking"
    nyu: str | None = None
    models: tuple[str, ...] = tuple(list_models())
    tables: tuple[str, ...] = TABLE_IDS
    reading: str = "steps"
    length: int | None = None
    unit: str | None = None
    table_lengths: tuple[tuple[str, int], ...] = ()
    width: float = 1.0
    matcher: str = "sgm"
    targets: str = "matcher"
    max_disparity: int | None = None
    metric_protocol: str = "kitti"
    device: str = "cpu"
    eval_max_images: int | None = None
    figure_images: int = 4
    overrides: tuple[str, ...] = ()
    progress: bool = True
    recipe: str = "paper"
    seeds: int = 1
    baselines: bool = True
    real_kitti: str | None = None
    title: str = "Reproduction of Valdez Rodríguez et al. (2020)"
    notes: tuple[str, ...] = field(default_factory=tuple)
    fresh: str | None = None
    more_data: str = "give a larger data set (--kitti / --nyu)"
    jobs: int = 1

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError(f"jobs must be ≥ 1, got {self.jobs}")
        if self.jobs > 1 and self.device != "cpu":
            raise ValueError(
                f"jobs > 1 trains in CPU worker processes; device is {self.device!r}: use jobs = 1"
            )
        if self.fresh not in FRESH:
            raise ValueError(f"unknown fresh {self.fresh!r}; valid: {', '.join(map(str, FRESH))}")
        bad = [t for t in self.tables if t not in TABLE_IDS]
        if bad:
            raise ValueError(f"unknown table(s) {bad}; valid tables: {', '.join(TABLE_IDS)}")
        if self.reading not in ("steps", "epochs"):
            raise ValueError(f"unknown reading {self.reading!r}; valid readings: steps, epochs")
        if self.targets not in TARGETS:
            raise ValueError(f"unknown targets {self.targets!r}; valid targets: {', '.join(TARGETS)}")
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; valid recipes: {', '.join(RECIPES)}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be ≥ 1, got {self.seeds}")
        object.__setattr__(self, "models", tuple(canonical_name(m) for m in self.models))


def plan_runs(cfg: ReproduceConfig) -> tuple[list[RunSpec], list[str]]:
    """The runs of the grid, and a note for every table left out (no data set given)."""
    runs: list[RunSpec] = []
    skipped: list[str] = []
    kitti = None
    if cfg.kitti:
        kitti = DataConfig(
            source=cfg.kitti_source, root=cfg.kitti, matcher=cfg.matcher, max_disparity=cfg.max_disparity
        )
        if cfg.targets == "photometric":  # the pair teaches: no target to read or prepare
            kitti = dataclasses.replace(kitti, target="none")
    if "1" in cfg.tables:
        if kitti is None:
            skipped.append("Table 1 left out: no KITTI root given (--kitti)")
        else:
            for m in cfg.models:
                data = dataclasses.replace(kitti, size=(37, 147), channels=1)
                runs.append(RunSpec("1", m, m, data, "kitti-gray-147x37"))
    if "2" in cfg.tables:
        if kitti is None:
            skipped.append("Table 2 left out: no KITTI root given (--kitti)")
        else:
            for col, ch in (("gray", 1), ("rgb", 3)):
                data = dataclasses.replace(kitti, size=(94, 310), channels=ch)
                runs.append(RunSpec("2", col, "SCRX", data, f"kitti-{col}-310x94"))
    if "3" in cfg.tables:
        if cfg.targets != "matcher":
            skipped.append(f"Table 3 left out: NYU Depth v2 has no stereo pair (--targets {cfg.targets})")
        elif not cfg.nyu:
            skipped.append("Table 3 left out: no NYU Depth v2 root given (--nyu)")
        else:
            for col, ch in (("gray", 1), ("rgb", 3)):
                data = DataConfig(source="nyu", root=cfg.nyu, size=(240, 320), channels=ch, target="depth")
                runs.append(RunSpec("3", col, "SCRX", data, f"nyu-{col}-320x240"))
    runs = [dataclasses.replace(r, seed=seed) for r in runs for seed in range(cfg.seeds)]
    if cfg.overrides:  # `--set data.KEY=VALUE` changes what a run reads: its targets, baselines, tests
        runs = [dataclasses.replace(r, data=train_config_for(r, cfg).data) for r in runs]
    return runs, skipped


def train_config_for(run: RunSpec, cfg: ReproduceConfig) -> Any:
    """The resolved :class:`~ssrdepth.training.config.TrainConfig` of one run."""
    from ssrdepth.models import ModelOptions
    from ssrdepth.training.config import ModelConfig, apply_overrides, apply_recipe, get_preset

    base = get_preset(f"{run.preset}@{cfg.reading}")
    tc = dataclasses.replace(
        base,
        model=ModelConfig(run.model, ModelOptions(width=cfg.width)),
        data=run.data,
        out=str(Path(cfg.out) / "runs" / run.key),
        device=cfg.device,
        progress=cfg.progress,
        seed=run.seed,
    )
    if cfg.recipe == "ssrdepth":
        tc = apply_recipe(tc)
    if cfg.targets != "matcher" and run.data.source != "nyu":  # after the recipe, which sets the loss
        tc = apply_overrides(tc, {"loss": cfg.targets})
    length = dict(cfg.table_lengths).get(run.table, cfg.length)
    if length is not None:
        tc = dataclasses.replace(tc, length=length)
    if cfg.unit is not None:
        tc = dataclasses.replace(tc, unit=cfg.unit)
    return apply_overrides(tc, list(cfg.overrides)) if cfg.overrides else tc


def batch_sizes(cfg: ReproduceConfig) -> dict[str, int]:
    """The training batch of each table the grid runs (its preset's, after the recipe and ``--set``)."""
    runs, _ = plan_runs(cfg)
    return {run.table: train_config_for(run, cfg).batch_size for run in runs if not run.seed}


def ensure_targets(data: DataConfig, progress: bool = True) -> dict[str, Any] | None:
    """Compute the stereo targets a stereo-target data set needs (cached pairs are skipped)."""
    if data.target != "stereo":
        return None
    from ssrdepth.stereo.matching import REFERENCES

    if data.matcher in REFERENCES:  # exact / lidar-like: from the exact depth, not matched
        from ssrdepth.data.reference import prepare_reference_targets

        return prepare_reference_targets(data, progress)
    from ssrdepth.data import list_stereo_pairs, target_cache
    from ssrdepth.data.targets import prepare_targets

    summary = prepare_targets(list_stereo_pairs(data), target_cache(data), progress=progress)
    return summary.as_dict()


def _metric_protocols(run: RunSpec, cfg: ReproduceConfig) -> list[str]:
    """Protocols for one run: the paper's six and the standard set on the normalised targets, and the
    standard set in metres where the data has true depth; where that depth is dense and exact
    (synthetic) also over the whole image (``kitti-full``), since the Garg crop scores only the lower
    part of the image, where lidar has points — a network trained on sparse lidar-like targets can look
    good inside the crop and fail above it (docs/stereo.md, the matcher study)."""
    # Without a target (photometric) there is no normalised map to compare: metres only.
    protos = [] if run.data.target == "none" else ["paper", "normalised"]
    source = DATA_SOURCES[run.data.source]
    if source.truth == "none":
        return protos
    if source.scene == "indoor":
        protos.append("nyu")
    elif source.scene == "street":
        protos.append(cfg.metric_protocol)
        if source.truth == "exact" and cfg.metric_protocol != "kitti-full":
            protos.append("kitti-full")
    return protos


def _evaluate_run(
    run: RunSpec, checkpoint: Path, cfg: ReproduceConfig
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Evaluate one checkpoint under every protocol; also return a few test samples + predictions."""
    from ssrdepth.checkpoint import load_checkpoint
    from ssrdepth.data import build_dataset

    ckpt = load_checkpoint(checkpoint)
    model = ckpt.build_model().to(cfg.device)
    scale = ckpt.scale
    test = build_dataset(run.data, "test", progress=cfg.progress)
    protos = _metric_protocols(run, cfg)
    results = _score(
        model, test, protos, max_images=cfg.eval_max_images, scale=scale, device=cfg.device, label=run.column
    )
    n = min(cfg.figure_images, len(test))  # type: ignore[arg-type]
    samples = [test[i] for i in range(n)]
    with torch.inference_mode():
        batch = torch.stack([s["image"] for s in samples]).to(cfg.device)
        preds = model(batch).cpu().numpy()
    figure = {
        "images": [s["image"].numpy() for s in samples],
        "targets": [np.where(s["valid_mask"].numpy(), s["target"].numpy(), 0.0) for s in samples],
        "predictions": list(preds),
    }
    return results, figure


def _score(model: Any, test: Any, protos: list[str], **options: Any) -> dict[str, dict[str, Any]]:
    """``{protocol: result}`` of one model on a test split in one pass (:func:`evaluate_protocols`) for
    results.json; where a protocol cannot score (e.g. no true depth in this split) its entry is
    ``{"error": why}`` and the others are kept; an error of the model or the split as a whole (NaN
    output, channels) is said under every protocol, and the grid goes on."""
    from ssrdepth.evaluation.evaluate import evaluate_protocols

    try:
        scored: list[Any] = evaluate_protocols(model, test, protos, **options)
    except ValueError as exc:
        scored = [exc] * len(protos)
    return {
        p: {"error": str(r)} if isinstance(r, ValueError) else dict(r.as_dict())
        for p, r in zip(protos, scored, strict=True)
    }


def _fit_baselines(runs: list[RunSpec], cfg: ReproduceConfig) -> dict[str, tuple[Any, Any]]:
    """``{table: ((constant, row prior), the training split's TargetScale)}``, one pass over each
    table's training split."""
    from ssrdepth.data import build_dataset
    from ssrdepth.evaluation.baselines import fit_baselines

    fitted: dict[str, tuple[Any, Any]] = {}
    for table in TABLE_IDS:
        first = next((r for r in runs if r.table == table), None)
        if first is not None:
            train_set = build_dataset(first.data, "train", progress=cfg.progress)
            fitted[table] = (fit_baselines(train_set), getattr(train_set, "scale", None))
    return fitted


def _evaluate_baselines(
    runs: list[RunSpec], fitted: dict[str, tuple[Any, Any]], cfg: ReproduceConfig
) -> dict[str, dict[str, Any]]:
    """The fitted baselines evaluated on each table's test split under the table's protocols:
    ``{table: {baseline: {protocol: result}}}``."""
    from ssrdepth.data import build_dataset

    out: dict[str, dict[str, Any]] = {}
    for table, (models, _scale) in fitted.items():
        first = next(r for r in runs if r.table == table)
        test = build_dataset(first.data, "test", progress=cfg.progress)
        protos = _metric_protocols(first, cfg)
        out[table] = {}
        for model in models:
            out[table][model.name] = _score(
                model, test, protos, max_images=cfg.eval_max_images, label=model.name
            )
    return out


def evaluate_real_kitti(
    checkpoints: Mapping[str, str | Path],
    root: str | Path,
    size: tuple[int, int],
    device: str = "cpu",
    baselines: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """Checkpoints (key → path) and fitted baselines ``(models, their TargetScale)`` on the real KITTI
    object frames with lidar under ``root`` at the models' ``size`` (H, W), protocol ``kitti``
    (metres, scored at the lidar's full resolution: the predictions upsampled to each frame) and the same with per-image median scaling (``kitti`` + ``scaling="median"``, Zhou et
    al. 2017: what is left once each frame's scale is given by an oracle, i.e. the structure):
    ``{"root", "protocol", "images", "frames", "runs": {key: result}, "median": {key: result},
    "per_frame": {key: [{"abs_rel", "delta1", "median_delta1"} per frame]}, "baselines": {...},
    "baselines_median": {...}}``, or ``{"skipped": reason}`` when ``root`` has no
    ``training/velodyne``."""
    from ssrdepth.checkpoint import load_checkpoint
    from ssrdepth.data import build_dataset
    from ssrdepth.evaluation.evaluate import evaluate_protocols
    from ssrdepth.evaluation.protocols import get_protocol

    root = Path(root)
    if not root.is_dir():
        why = "is a file, not a folder" if root.exists() else "not found"
        return {
            "skipped": f"{root}: {why} (the real KITTI frames: give --real-kitti DIR, "
            "or run from the checkout with ../shared beside it)"
        }
    if not (root / "training" / "velodyne").is_dir():
        return {"skipped": f"{root}: no KITTI object frames with lidar (training/velodyne) there"}
    real = DataConfig(
        source="kitti-object", root=str(root), size=size, channels=1, target="lidar", max_depth=80.0
    )
    frames = build_dataset(real, "all", progress=False)
    n_frames = len(frames)  # type: ignore[arg-type]
    median = get_protocol("kitti", scaling="median")
    result: dict[str, Any] = {
        "root": str(root),
        "protocol": "kitti",
        "score_at": get_protocol("kitti").score_at,  # the lidar at each frame's full resolution
        "images": n_frames,
        "frames": [str(frames.meta(i)["key"]) for i in range(n_frames)],  # type: ignore[attr-defined]
        "runs": {},
        "median": {},
        "per_frame": {},
    }

    def score(model: Any, scale: Any, key: str, runs: str, medians: str) -> None:
        """One pass of ``model`` over the frames: metric and median-scaled, pooled and per frame."""
        metric, scaled = evaluate_protocols(
            model, frames, ["kitti", median], scale=scale, device=device, label=key, per_image=True
        )
        if isinstance(metric, ValueError):
            raise metric
        if isinstance(scaled, ValueError):
            raise scaled
        rows: list[dict[str, float] | None] = [  # None: a frame without a lidar point in the crop
            None
            if a is None or b is None
            else {"abs_rel": a["abs_rel"], "delta1": a["delta1"], "median_delta1": b["delta1"]}
            for a, b in zip(metric.extra["per_image"], scaled.extra["per_image"], strict=True)
        ]
        result[runs][key] = {**metric.as_dict(), "extra": {}}
        result[medians][key] = {**scaled.as_dict(), "extra": {}}
        result["per_frame"][key] = rows

    for key, path in checkpoints.items():
        ckpt = load_checkpoint(Path(path))
        score(ckpt.build_model().to(device), ckpt.scale, key, "runs", "median")
    if baselines is not None:
        models, scale = baselines
        result["baselines"], result["baselines_median"] = {}, {}
        for m in models:
            score(m, scale, m.name, "baselines", "baselines_median")
    return result


def _evaluate_real(
    runs: list[RunSpec],
    done: dict[str, dict[str, Any]],
    baselines: tuple[Any, Any] | None,
    cfg: ReproduceConfig,
) -> dict[str, Any]:
    """Table 1's models and baselines (fitted on Table 1's training split) on real KITTI frames with
    lidar (``kitti`` protocol, metres)."""
    t1 = [r for r in runs if r.table == "1"]
    if not t1:
        return {"skipped": "Table 1 was not run"}
    checkpoints = {run.key: done[run.key]["checkpoint"] for run in t1}
    return evaluate_real_kitti(checkpoints, cfg.real_kitti or "", t1[0].data.size, cfg.device, baselines)


def _target_quality(runs: list[RunSpec]) -> dict[str, Any] | None:
    """The stereo targets' quality per region where the data has exact depth (the synthetic set):
    Table 1's targets, else the first run's; None elsewhere."""
    first = next((r for r in runs if r.table == "1"), runs[0])
    if first.data.source != "synthetic" or first.data.target != "stereo":
        return None
    from ssrdepth.experiments.target_quality import synthetic_target_quality

    return synthetic_target_quality(first.data)


def _history_rows(history: dict[str, list[dict[str, float]]]) -> list[dict[str, float]]:
    rows = [{"step": r["step"], "train_loss": r["loss"]} for r in history.get("train", []) if "loss" in r]
    rows += [
        {"step": r["step"], "val_loss": r["val_loss"]} for r in history.get("val", []) if "val_loss" in r
    ]
    return rows


def _resume_for(tc: Any, fresh: str | None) -> bool | None:
    """``train``'s ``resume``: ``False`` (start over) for ``--fresh all`` and for ``--fresh`` where the
    run folder holds another configuration; ``None`` (reuse or resume) otherwise."""
    from ssrdepth.training.run_folder import holds_other_run

    if fresh == "all":
        return False
    if fresh == "changed" and holds_other_run(tc, Path(tc.out)):
        logger.info("%s: the configuration changed; retraining (--fresh)", tc.out)
        return False
    return None


def _train_run(tc: Any, cfg: ReproduceConfig) -> Any:
    """``train`` one run; a split smaller than the batch names the calling command's fixes."""
    from ssrdepth.training.loop import SplitTooSmallError, train

    try:
        return train(tc, resume=_resume_for(tc, cfg.fresh))
    except SplitTooSmallError as exc:
        raise SplitTooSmallError(exc.samples, exc.batch_size, cfg.more_data) from None


def _describe(run: RunSpec) -> str:
    channels = "gray" if run.data.channels == 1 else "RGB"
    return f"{run.key}: {run.model} at {run.data.size[1]}×{run.data.size[0]}, {channels}"


def _run_one(run: RunSpec, cfg: ReproduceConfig, threads: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train and evaluate one run of the grid (its targets already prepared): (its entry of
    ``results["runs"]``, its figure samples). ``threads`` > 0: the run's torch threads, unless the
    overrides set them."""
    from ssrdepth.core.flops import count_gflops, count_parameters
    from ssrdepth.models import create_model

    tc = train_config_for(run, cfg)
    if threads and not tc.threads:
        tc = dataclasses.replace(tc, threads=threads)
    result = _train_run(tc, cfg)
    ckpt = result.best_checkpoint or result.latest_checkpoint
    metrics, fig = _evaluate_run(run, ckpt, cfg)
    net = create_model(run.model, run.data.channels, width=cfg.width)
    h, w = run.data.size
    entry = {
        "table": run.table,
        "column": run.column,
        "seed": run.seed,
        "model": run.model,
        "size": [h, w],
        "channels": run.data.channels,
        "data": dataclasses.asdict(run.data),
        "checkpoint": str(ckpt),
        "parameters": count_parameters(net),
        "gflops": count_gflops(net, h, w),
        "train": {
            "steps": result.steps,
            "seconds": result.seconds,
            "images_per_second": result.images_per_second,
            "precision": result.precision,
            "reused": result.skipped,
            "best": result.best,
            "history": _history_rows(result.history),
        },
        "results": metrics,
    }
    return entry, fig


def _worker_logging(level: int) -> None:
    """A worker process's logging: warnings and above to stderr, as the parent's command shows them."""
    logging.basicConfig(level=max(level, logging.WARNING), format="%(levelname)s: %(message)s")


def _longest_first(runs: list[RunSpec], cfg: ReproduceConfig) -> list[RunSpec]:
    """The runs by their training work, largest first (length × batch × GFLOP per image), so that
    workers taking the next run as they free up end close together (longest-processing-time order)."""
    from ssrdepth.core.flops import count_gflops
    from ssrdepth.models import create_model

    def work(run: RunSpec) -> float:
        tc = train_config_for(run, cfg)
        net = create_model(run.model, run.data.channels, width=cfg.width)
        return tc.length * tc.batch_size * count_gflops(net, *run.data.size)

    return sorted(runs, key=work, reverse=True)


def parallelism(n_runs: int, jobs: int) -> tuple[int, int]:
    """How ``n_runs`` training runs asked to train ``jobs`` at a time share this machine: (runs at a
    time, torch threads per run). One at a time keeps torch's threads; side by side, each run gets
    an equal share of the usable cores (:func:`ssrdepth.core.hardware.usable_cores`, at least 1)."""
    import torch

    from ssrdepth.core.hardware import usable_cores

    at_once = max(1, min(jobs, n_runs))
    if at_once == 1:
        return 1, int(torch.get_num_threads())
    return at_once, max(1, usable_cores() // at_once)


def _run_grid(
    runs: list[RunSpec], cfg: ReproduceConfig, jobs: int, threads: int
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every run trained and evaluated (:func:`_run_one`): one after another, or ``jobs`` at a time with
    ``threads`` each in worker processes (:func:`parallelism`; their progress bars off; one line per
    finished run and a bar over the runs here instead). Run key → (entry, figure samples)."""
    if jobs == 1:
        finished = {}
        for i, run in enumerate(runs, 1):
            logger.info("[%d/%d] %s", i, len(runs), _describe(run))
            finished[run.key] = _run_one(run, cfg)
            if finished[run.key][0]["train"]["reused"]:
                logger.info("%s: reused the finished run of the same configuration", run.key)
        return finished
    from concurrent.futures import as_completed

    from tqdm import tqdm

    from ssrdepth.core.processes import worker_pool

    quiet = dataclasses.replace(cfg, progress=False)
    logger.info("training %d runs, %d at a time (%d thread(s) each)", len(runs), jobs, threads)
    started = time.perf_counter()
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    level = logging.getLogger().getEffectiveLevel()
    with worker_pool(jobs, _worker_logging, (level,)) as pool:
        futures = {pool.submit(_run_one, run, quiet, threads): run for run in _longest_first(runs, cfg)}
        bar = tqdm(
            as_completed(futures), total=len(runs), desc="training runs", unit="run", disable=not cfg.progress
        )
        for i, future in enumerate(bar, 1):
            run = futures[future]
            out[run.key] = future.result()
            train = out[run.key][0]["train"]
            logger.info(
                "[%d/%d] %s: %s (%.0f img/s), %.1f min since the grid started",
                i,
                len(runs),
                _describe(run),
                "reused" if train["reused"] else f"{train['steps']} steps in {train['seconds']:.0f} s",
                train["images_per_second"] or 0.0,
                (time.perf_counter() - started) / 60,
            )
    return out


def reproduce(cfg: ReproduceConfig) -> dict[str, Any]:
    """Run the grid: targets → single-stage training → evaluation → report. Returns the results dict
    (also written as ``OUT/report/results.json``)."""
    from ssrdepth.core.machine import machine_info

    t0 = time.perf_counter()
    out = Path(cfg.out)
    runs, skipped = plan_runs(cfg)
    if not runs:
        raise ValueError("nothing to run: " + "; ".join(skipped))
    targets: dict[str, Any] = {}
    for run in runs:  # matched once per data set, before any run trains
        tkey = f"{run.data.source}:{run.data.root}:{run.data.matcher}:{run.data.max_disparity}"
        if tkey not in targets:
            targets[tkey] = ensure_targets(run.data, cfg.progress)
    jobs, threads = parallelism(len(runs), cfg.jobs)
    finished = _run_grid(runs, cfg, jobs, threads)
    done = {run.key: finished[run.key][0] for run in runs}  # the plan's order, however they finished
    figures = {run.key: finished[run.key][1] for run in runs}
    from ssrdepth.experiments.report_writer import write_report

    # Baselines are fitted on the training split's targets: a photometric grid has none.
    fitted = _fit_baselines(runs, cfg) if cfg.baselines and cfg.targets != "photometric" else {}
    baselines = _evaluate_baselines(runs, fitted, cfg)
    real = None
    if cfg.real_kitti:
        real = _evaluate_real(runs, done, fitted.get("1"), cfg)
        if "skipped" in real:
            logger.warning("real KITTI frames skipped: %s", real["skipped"])

    results = {
        "title": cfg.title,
        "config": dataclasses.asdict(cfg),
        "machine": machine_info(),
        "training": {"jobs": jobs, "threads": threads},
        "seconds": time.perf_counter() - t0,
        "skipped": skipped,
        "targets": targets,
        "runs": done,
        "baselines": baselines,
        "real": real,
        "notes": list(cfg.notes),
    }
    quality = _target_quality(runs)
    if quality is not None:
        from ssrdepth.experiments.target_quality import target_quality_section

        results["target_quality"] = quality
        results["sections"] = [target_quality_section(quality)]
    write_report(out / "report", results, figures)
    return results


__all__ = [
    "TARGETS",
    "ReproduceConfig",
    "RunSpec",
    "batch_sizes",
    "evaluate_real_kitti",
    "parallelism",
    "plan_runs",
    "reproduce",
]
