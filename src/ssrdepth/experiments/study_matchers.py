"""``ssrdepth study matchers``: which stereo matcher should make the training targets? Measured.

The paper compared semi-global matching, block matching and ELAS by eye (its Fig. 10) and chose ELAS.
This study measures the choice on the synthetic streets, whose depth is exact:

1. **Target quality**: every matcher variant (:data:`VARIANTS`: a few settings of ``sgm``, ``bm`` and
   ``elas`` where pyelas is installed) and two references — the exact disparity (the upper bound) and
   the exact disparity sampled like KITTI's HDL-64E lidar — against the exact disparity: density, EPE
   and D1 per region and depth band (:mod:`ssrdepth.experiments.target_quality`); and on the real
   Middlebury pairs with ground truth (scikit-image's Motorcycle, ``../shared/data/middlebury_aloe``).
2. **Cost**: pairs per second in one process and on all cores
   (:func:`ssrdepth.stereo.matching.benchmark_matchers`, the process pool of ``prepare-targets``).
3. **Trained-model quality**: the same network and recipe trained on each target kind that trains
   (default: each matcher's default variant, exact and lidar-like) with ≥ 2 seeds, by ``reproduce``
   (Table 1 with one model), evaluated against the exact depth (``kitti`` protocol, metres) and on the
   real KITTI frames with lidar where present.

The report (:mod:`ssrdepth.experiments.study_report`) gives the tables, a figure of target D1 against
the trained δ < 1.25 and the advice the numbers support. Every piece is stored as it finishes
(``OUT/quality/<variant>/result.json``, ``OUT/cost/result.json``, ``OUT/real_pairs/result.json``,
``OUT/kinds/<kind>/`` with one run folder per seed), so a rerun skips what is done.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ssrdepth.core.hardware import usable_cores
from ssrdepth.core.io import files_fingerprint, write_json
from ssrdepth.data.config import SYNTHETIC_MAX_DISPARITY, DataConfig
from ssrdepth.stereo.matching import (
    REFERENCES,
    MatcherSettings,
    default_settings,
    elas_available,
    settings_dict,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """One kind of target: a matcher with some settings changed, or a reference (exact, lidar-like)."""

    name: str
    method: str
    overrides: tuple[tuple[str, Any], ...] = ()
    what: str = ""

    def settings(self, max_disparity: int) -> MatcherSettings:
        """The variant's settings with the search range / normalisation maximum ``max_disparity``."""
        return default_settings(self.method, max_disparity=max_disparity, **dict(self.overrides))

    @property
    def reference(self) -> bool:
        return self.method in REFERENCES


#: The variants the study knows (``--variants`` picks among them).
VARIANTS = (
    Variant("exact", "exact", what="exact disparity f·B/Z (upper bound)"),
    Variant("lidar-like", "lidar-like", what="exact disparity where a KITTI-like HDL-64E returns a point"),
    Variant("sgm", "sgm", what="defaults: 5 px block, uniqueness 10, LR check 1 px, speckle filter"),
    Variant("sgm-block9", "sgm", (("block_size", 9),), "9 px block"),
    Variant("sgm-uniq0", "sgm", (("uniqueness_ratio", 0),), "no uniqueness test"),
    Variant("sgm-no-lr", "sgm", (("lr_max_diff", -1.0),), "no left-right check"),
    Variant("sgm-no-speckle", "sgm", (("speckle_window", 0),), "no speckle filter"),
    Variant("bm", "bm", what="defaults: 9 px block, uniqueness 15, LR check 1 px, speckle filter"),
    Variant("bm-block15", "bm", (("block_size", 15),), "15 px block"),
    Variant("bm-no-lr", "bm", (("lr_max_diff", -1.0),), "no left-right check"),
    Variant("elas", "elas", what="libelas ROBOTICS preset (the paper's matcher)"),
    Variant("elas-no-lr", "elas", (("lr_threshold", 255),), "left-right check off (255 px tolerance)"),
)
VARIANT_NAMES = tuple(v.name for v in VARIANTS)
#: Training without a matcher's targets (:mod:`ssrdepth.training.photometric`), trained beside the
#: target kinds: ``photometric`` (the pair teaches, no targets) and ``hybrid`` (Depth Hints: the
#: :data:`HINTS` variant's targets where they reproject better than the prediction).
MODES = ("photometric", "hybrid")
#: The matcher variant whose targets are the hybrid mode's hints.
HINTS = "sgm"
#: What can be trained on: a measured variant's targets, or a mode.
TRAINABLE = (*VARIANT_NAMES, *MODES)
#: Kinds trained on by default: the references, each matcher's default variant and the two modes.
TRAINED = ("exact", "lidar-like", "sgm", "bm", "elas", *MODES)
#: ``StudyConfig.fresh``, as ``reproduce``'s
FRESH = (None, "changed", "all")


@dataclass(frozen=True)
class StudyConfig:
    """What the study measures and how long it trains (defaults: ~30 min on 2 CPU cores, measured
    before the photometric and hybrid rows, which add 4 runs to its 10).

    data: an existing synthetic set (``ssrdepth generate``); None renders ``pairs`` pairs (seed
        ``data_seed``) into ``OUT/data/synthetic``.
    variants: target kinds measured for quality and cost (:data:`VARIANT_NAMES`); ``trained``: those
        a network is trained on (each with ``seeds`` seeds), among the variants or :data:`MODES`
        (``photometric``, ``hybrid`` with :data:`HINTS` targets as hints). ELAS variants are left
        out, with the reason in the report, where pyelas is not installed.
    quality_pairs: synthetic pairs (spread over the set) for target quality; cost_repeats: pairs each
        process matches when timing.
    model, width, steps, max_disparity: the network (``SCRXU`` at ×0.25), its training length (steps of
        batch 40, the ssrdepth recipe) and the disparity normalisation (96 px at the set's 621 px).
    real_kitti: KITTI object frames with lidar to evaluate on (None: skipped); aloe: the Middlebury
        Aloe folder (None: skipped); motorcycle: scikit-image's Middlebury Motorcycle.
    fresh: None reuses finished pieces; ``"changed"`` retrains runs whose configuration changed;
        ``"all"`` recomputes everything.

    ``ssrdepth study matchers --config FILE`` reads these keys from TOML and ``--option KEY=VALUE`` sets
    one (:mod:`ssrdepth.core.config_engine`); ``--print-config`` writes them.
    """

    out: str = "runs/study"
    data: str | None = None
    pairs: int = 1000
    data_seed: int = 0
    variants: tuple[str, ...] = VARIANT_NAMES
    trained: tuple[str, ...] = TRAINED
    quality_pairs: int = 100
    cost_repeats: int = 20
    model: str = "SCRXU"
    width: float = 0.25
    steps: int = 800
    seeds: int = 2
    max_disparity: int = SYNTHETIC_MAX_DISPARITY
    device: str = "cpu"
    eval_max_images: int | None = None
    overrides: tuple[str, ...] = ()
    real_kitti: str | None = None
    aloe: str | None = None
    motorcycle: bool = True
    fresh: str | None = None
    progress: bool = True
    #: a ``--quick`` smoke run (:func:`quick_config`): the report says its numbers are not a result
    quick: bool = False

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in VARIANT_NAMES]
        if bad:
            raise ValueError(f"unknown variant(s) {bad}; valid variants: {', '.join(VARIANT_NAMES)}")
        bad = [v for v in self.trained if v not in TRAINABLE]
        if bad:
            raise ValueError(f"unknown trained kind(s) {bad}; valid: {', '.join(TRAINABLE)}")
        missing = [t for t in self.trained if t not in (*self.variants, *MODES)]
        if missing:
            raise ValueError(f"trained kinds {missing} must also be among the variants measured")
        if self.fresh not in FRESH:
            raise ValueError(f"unknown fresh {self.fresh!r}; valid: {', '.join(map(str, FRESH))}")
        if self.seeds < 1 or self.steps < 1 or self.quality_pairs < 1:
            raise ValueError("seeds, steps and quality_pairs must be ≥ 1")


def quick_config(out: str, data: str | None = None, **changes: Any) -> StudyConfig:
    """The ``--quick`` study: a few seconds of everything (a miniature set, 3 kinds, 2 seeds)."""
    settings: dict[str, Any] = {
        "out": out,
        "data": data,
        "pairs": 24,
        "variants": ("exact", "lidar-like", "sgm", "sgm-no-lr", "bm"),
        "trained": ("exact", "lidar-like", "sgm", *MODES),
        "quality_pairs": 6,
        "cost_repeats": 1,
        "steps": 4,
        "width": 0.125,
        "overrides": ("batch_size=4", "eval_every=0", "tensorboard=false", "log_every=1"),
        "motorcycle": False,
        "quick": True,
    }
    return StudyConfig(**{**settings, **changes})


def _variants(cfg: StudyConfig) -> tuple[list[Variant], list[str]]:
    """The variants to measure, and a note for each one left out (ELAS without pyelas)."""
    chosen = [v for v in VARIANTS if v.name in cfg.variants]
    if elas_available():
        return chosen, []
    out = [v for v in chosen if v.method != "elas"]
    notes = [f"{v.name}: left out, pyelas is not installed" for v in chosen if v.method == "elas"]
    return out, notes


def _stored(path: Path, key: dict[str, Any], fresh: str | None) -> dict[str, Any] | None:
    """The result stored at ``path`` if it was made with ``key`` (and ``fresh`` is not ``"all"``)."""
    if fresh == "all" or not path.is_file():
        return None
    stored = json.loads(path.read_text(encoding="utf-8"))
    if stored.get("config") != json.loads(json.dumps(key)):
        return None
    stored["reused"] = True  # in the results of this invocation only, never in the stored file
    return stored


def _data_files(root: str | os.PathLike[str]) -> str:
    """The fingerprint (:func:`~ssrdepth.core.io.files_fingerprint`) of every file under ``root`` but
    ssrdepth's caches: a stored result is reused only for the files it was measured on."""
    base = Path(root)
    files = sorted(p for p in base.rglob("*") if p.is_file() and ".ssrdepth" not in p.relative_to(base).parts)
    return files_fingerprint(files)


def _data_root(cfg: StudyConfig) -> Path:
    if cfg.data is not None:
        return Path(cfg.data)
    from ssrdepth.data.synthetic import generate_synthetic

    root = Path(cfg.out) / "data" / "synthetic"
    logger.info("rendering %d synthetic stereo pairs into %s", cfg.pairs, root)
    generate_synthetic(root, cfg.pairs, seed=cfg.data_seed, progress=cfg.progress)
    return root


def target_quality(base: DataConfig, variant: Variant, cfg: StudyConfig) -> dict[str, Any]:
    """Targets of ``variant`` on ``cfg.quality_pairs`` pairs (cached; references on every pair) and
    their quality against the exact disparity; stored in ``OUT/quality/<variant>/result.json``."""
    from ssrdepth.data import list_stereo_pairs
    from ssrdepth.data.reference import prepare_reference_targets
    from ssrdepth.data.targets import prepare_targets
    from ssrdepth.experiments.target_quality import spread, synthetic_target_quality
    from ssrdepth.stereo.cache import TargetCache

    settings = variant.settings(cfg.max_disparity)
    key = {
        "settings": settings_dict(settings),
        "pairs": cfg.quality_pairs,
        "data": str(base.root),
        "files": _data_files(base.root),
    }
    path = Path(cfg.out) / "quality" / variant.name / "result.json"
    stored = _stored(path, key, cfg.fresh)
    if stored is not None:
        return stored
    cache = TargetCache(base.cache_root(), settings)
    if variant.reference:
        prepare_reference_targets(dataclasses.replace(base, matcher=variant.method), progress=False)
    else:
        prepare_targets(spread(list_stereo_pairs(base), cfg.quality_pairs), cache, progress=False)
    result = {"config": key, **synthetic_target_quality(base, cfg.quality_pairs, cache)}
    write_json(path, result)
    return result


def matcher_cost(base: DataConfig, variants: list[Variant], cfg: StudyConfig) -> dict[str, Any]:
    """Pairs/s of every matcher variant on the set's first pair, in one process and on all cores;
    stored in ``OUT/cost/result.json``."""
    from ssrdepth.core.image import read_image, to_channels
    from ssrdepth.data import list_stereo_pairs
    from ssrdepth.stereo.matching import benchmark_matchers

    settings = {v.name: v.settings(cfg.max_disparity) for v in variants if not v.reference}
    workers = usable_cores()
    key = {
        "settings": {n: settings_dict(s) for n, s in settings.items()},
        "repeats": cfg.cost_repeats,
        "workers": workers,
        "data": str(base.root),
        "files": _data_files(base.root),
    }
    path = Path(cfg.out) / "cost" / "result.json"
    stored = _stored(path, key, cfg.fresh)
    if stored is not None or not settings:
        return stored or {"config": key, "methods": {}}
    pair = list_stereo_pairs(base)[0]
    images = (to_channels(read_image(pair.left), 1)[:, :, 0], to_channels(read_image(pair.right), 1)[:, :, 0])
    logger.info(
        "timing %d matcher variants (%d repeats, 1 and %d processes)",
        len(settings),
        cfg.cost_repeats,
        workers,
    )
    bench = benchmark_matchers(repeats=cfg.cost_repeats, workers=workers, images=images, settings=settings)
    result = {"config": key, **bench}
    write_json(path, result)
    return result


def _real_stereo_pairs(cfg: StudyConfig) -> tuple[dict[str, tuple[Any, ...]], dict[str, str]]:
    """``{name: (left, right, true disparity px (0 / inf = unknown), max_disparity)}`` of the real pairs
    with ground truth, and ``{name: why skipped}``."""
    import cv2

    from ssrdepth.core.image import read_image, read_pixels

    pairs: dict[str, tuple[Any, ...]] = {}
    skipped: dict[str, str] = {}
    moto = "Middlebury 2014 Motorcycle"
    if not cfg.motorcycle:
        skipped[moto] = "not asked for (--quick)"
    else:
        try:
            from skimage.data import stereo_motorcycle

            left, right, truth = stereo_motorcycle()
            pairs[moto] = (left, right, truth, 96)
        except Exception as exc:  # scikit-image missing, or its data not fetchable offline
            skipped[moto] = f"scikit-image's stereo_motorcycle() is not available here ({exc})"
    aloe = "Middlebury 2006 Aloe (half size)"
    folder = Path(cfg.aloe) if cfg.aloe else None
    if folder is None or not (folder / "aloeGT.png").is_file():
        skipped[aloe] = f"{folder or 'no folder given'}: no aloeL.jpg / aloeR.jpg / aloeGT.png there"
    else:
        # The one reader: RGB images, and the ground truth's stored 8-bit values (px at full size).
        left, right = (read_image(folder / f"aloe{side}.jpg") for side in "LR")
        truth = read_pixels(folder / "aloeGT.png").astype(np.float32)
        half = (left.shape[1] // 2, left.shape[0] // 2)
        left, right = (cv2.resize(x, half, interpolation=cv2.INTER_AREA) for x in (left, right))
        # Nearest (never mixing known and unknown pixels), and halved: disparity scales with the width.
        pairs[aloe] = (left, right, cv2.resize(truth, half, interpolation=cv2.INTER_NEAREST) / 2, 128)
    return pairs, skipped


def real_pair_quality(variants: list[Variant], cfg: StudyConfig) -> dict[str, Any]:
    """Density, EPE and D1 of every matcher variant on the real pairs with ground truth; stored in
    ``OUT/real_pairs/result.json``."""
    from ssrdepth.experiments.target_quality import disparity_errors
    from ssrdepth.stereo.matching import compute_disparity

    matchers = [v for v in variants if not v.reference]
    key: dict[str, Any] = {
        "variants": {v.name: [v.method, list(map(list, v.overrides))] for v in matchers},
        "aloe": cfg.aloe,
        "aloe_files": _data_files(cfg.aloe) if cfg.aloe else None,
        "motorcycle": cfg.motorcycle,
    }
    path = Path(cfg.out) / "real_pairs" / "result.json"
    stored = _stored(path, key, cfg.fresh)
    if stored is not None:
        return stored
    pairs, skipped = _real_stereo_pairs(cfg)
    per: dict[str, dict[str, Any]] = {name: {} for name in pairs}
    for name, (left, right, truth, max_disparity) in pairs.items():
        for v in tqdm(matchers, desc=name, disable=not cfg.progress):
            disparity, valid = compute_disparity(left, right, settings=v.settings(max_disparity))
            per[name][v.name] = disparity_errors(disparity, valid, truth)
    result = {"config": key, "pairs": per, "skipped": skipped}
    write_json(path, result)
    return result


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0}


def _regions_reader(root: Path) -> Any:
    """``key → region labels (H, W)`` of the synthetic set at ``root`` (``training/regions/<key>.png``)."""
    from ssrdepth.experiments.target_quality import read_synthetic_png

    return lambda key: read_synthetic_png(root / "training" / "regions" / f"{key}.png")


def region_scores(checkpoint: str | Path, data: DataConfig, cfg: StudyConfig) -> dict[str, Any]:
    """One trained checkpoint on ``data``'s test split, per region against the exact depth
    (:func:`ssrdepth.evaluation.regions.score_regions`: sky, road, occlusion boundaries)."""
    from ssrdepth.checkpoint import load_checkpoint
    from ssrdepth.data import build_dataset
    from ssrdepth.evaluation.regions import score_regions

    ckpt = load_checkpoint(Path(checkpoint))
    if ckpt.scale is None:
        raise ValueError(f"{checkpoint}: the checkpoint has no target scale, so no metres to score")
    model = ckpt.build_model().to(cfg.device)
    test = build_dataset(data, "test", progress=False)
    labels = _regions_reader(Path(data.root))
    return score_regions(
        model,
        test,
        ckpt.scale,
        lambda i: labels(test.meta(i)["key"]),  # type: ignore[attr-defined]
        device=cfg.device,
        max_images=cfg.eval_max_images,
    )


def _region_stats(runs: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """``{region: {measure: {"mean", "std"}}}`` over the runs' region scores (measures every run has)."""
    first = next(iter(runs.values()))["regions"]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for region, scores in first.items():
        keys = [k for k, v in scores.items() if k != "pixels" and v is not None]
        keys = [k for k in keys if all(r["regions"][region].get(k) is not None for r in runs.values())]
        out[region] = {k: _stats([r["regions"][region][k] for r in runs.values()]) for k in keys}
    return out


def train_on(base: DataConfig, kind: str, cfg: StudyConfig) -> dict[str, Any]:
    """Train ``cfg.model`` on ``kind`` with ``cfg.seeds`` seeds (``reproduce``'s Table 1 with one
    model, under ``OUT/kinds/<kind>``) and evaluate against the exact depth and real KITTI lidar.
    ``kind`` is a variant (its targets, the preset's loss) or a mode of :data:`MODES` (``reproduce
    --targets photometric|hybrid``; hybrid's hints are :data:`HINTS`'s targets): every kind trains the
    same network, recipe, steps and seeds, in the same path.

    Returns ``{"seeds": n, "runs": {run: {"seed", "synthetic": metrics, "whole_image": metrics | None,
    "real": metrics | None, "regions": per-region scores, "step_seconds"}}, "synthetic": {metric:
    {"mean", "std"}}, "whole_image": ... | None, "real": ... | None, "regions": {region: {measure:
    {"mean", "std"}}}, "step_seconds": {"mean", "std"}, "real_skipped": reason | None, "baselines" /
    "baselines_whole_image": {name: metrics} (the exact kind only), "seconds": training seconds}``.
    ``synthetic`` is the ``kitti`` protocol (Garg crop), ``whole_image`` the same without a crop
    (``kitti-full``); ``regions`` is :func:`region_scores`; ``step_seconds`` the training's own seconds
    per step (batch / images per second of the training clock: loading, augmentation, forward, loss,
    backward and update, no validation).
    """
    from ssrdepth.experiments.reproduce import ReproduceConfig, batch_sizes, reproduce

    mode = kind in MODES
    logger.info("training %s on %s targets (%d seed(s), %d steps)", cfg.model, kind, cfg.seeds, cfg.steps)
    rcfg = ReproduceConfig(
        out=str(Path(cfg.out) / "kinds" / kind),
        kitti=str(base.root),
        kitti_source="synthetic",
        models=(cfg.model,),
        tables=("1",),
        table_lengths=(("1", cfg.steps),),
        width=cfg.width,
        matcher=HINTS if mode else kind,
        targets=kind if mode else "matcher",
        max_disparity=cfg.max_disparity,
        device=cfg.device,
        eval_max_images=cfg.eval_max_images,
        figure_images=2,
        overrides=cfg.overrides,
        progress=cfg.progress,
        recipe="ssrdepth",
        seeds=cfg.seeds,
        baselines=kind == "exact",
        real_kitti=cfg.real_kitti,
        fresh=cfg.fresh,
        title=f"Matcher study: {cfg.model} trained on {kind} targets",
        more_data=(
            f"render more pairs with --pairs (now {cfg.pairs})"
            if cfg.data is None
            else f"give a larger --data set than {cfg.data}"
        ),
    )
    results = reproduce(rcfg)
    batch = batch_sizes(rcfg)["1"]
    real = results.get("real") or {"skipped": "no real KITTI folder given"}
    runs: dict[str, Any] = {}
    for key, r in results["runs"].items():
        real_run = real.get("runs", {}).get(key, {})
        data = DataConfig(**{**r["data"], "size": tuple(r["data"]["size"])})
        rate = r["train"]["images_per_second"]
        runs[key] = {
            "seed": r["seed"],
            "synthetic": r["results"]["kitti"]["metrics"],
            "whole_image": r["results"].get("kitti-full", {}).get("metrics"),
            "real": real_run.get("metrics"),
            "regions": region_scores(r["checkpoint"], data, cfg),
            "step_seconds": batch / rate if rate else None,
            "seconds": r["train"]["seconds"],
            "reused": bool(r["train"]["reused"]),
        }
    metrics = ("abs_rel", "rmse", "delta1")
    has_real = all(r["real"] for r in runs.values())
    has_whole = all(r["whole_image"] for r in runs.values())
    steps = [r["step_seconds"] for r in runs.values() if r["step_seconds"]]
    return {
        "seeds": len(runs),
        "mode": mode,
        "runs": runs,
        "synthetic": {m: _stats([r["synthetic"][m] for r in runs.values()]) for m in metrics},
        "whole_image": (
            {m: _stats([r["whole_image"][m] for r in runs.values()]) for m in metrics} if has_whole else None
        ),
        "real": {m: _stats([r["real"][m] for r in runs.values()]) for m in metrics} if has_real else None,
        "regions": _region_stats(runs),
        "step_seconds": _stats(steps) if steps else None,
        "real_skipped": real.get("skipped"),
        "real_images": real.get("images"),
        "real_root": real.get("root"),
        "baselines": {
            name: per["kitti"]["metrics"]
            for name, per in results.get("baselines", {}).get("1", {}).items()
            if "metrics" in per.get("kitti", {})
        },
        "baselines_whole_image": {
            name: per["kitti-full"]["metrics"]
            for name, per in results.get("baselines", {}).get("1", {}).items()
            if "metrics" in per.get("kitti-full", {})
        },
        "seconds": float(sum(r["seconds"] for r in runs.values())),
    }


def study_matchers(cfg: StudyConfig) -> dict[str, Any]:
    """Run the study (resuming what is stored) and write the report; returns the results dict (also
    ``OUT/results.json``)."""
    from ssrdepth.core.machine import machine_info
    from ssrdepth.experiments.study_report import write_study_report

    t0 = time.perf_counter()
    out = Path(cfg.out)
    if cfg.fresh == "all" and (out / "kinds").is_dir():
        shutil.rmtree(out / "kinds")
    root = _data_root(cfg)
    base = DataConfig(source="synthetic", root=str(root), max_disparity=cfg.max_disparity)
    variants, notes = _variants(cfg)
    quality = {
        v.name: target_quality(base, v, cfg)
        for v in tqdm(variants, desc="target quality", unit="variant", disable=not cfg.progress)
    }
    cost = matcher_cost(base, variants, cfg)
    real_pairs = real_pair_quality(variants, cfg)
    names = {v.name for v in variants} | set(MODES)
    trained = {kind: train_on(base, kind, cfg) for kind in cfg.trained if kind in names}
    results = {
        "config": dataclasses.asdict(cfg),
        "data": {"root": str(root), "pairs": len(_pairs(base))},
        "machine": machine_info(),
        "variants": [dataclasses.asdict(v) | {"reference": v.reference} for v in variants],
        "notes": notes,
        "hints": HINTS,
        "quality": quality,
        "cost": cost,
        "real_pairs": real_pairs,
        "trained": trained,
        "seconds": time.perf_counter() - t0,
    }
    write_study_report(out, results)
    return results


def _pairs(base: DataConfig) -> list[Any]:
    from ssrdepth.data import list_stereo_pairs

    return list_stereo_pairs(base)
