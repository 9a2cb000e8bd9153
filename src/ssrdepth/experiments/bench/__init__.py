"""``ssrdepth bench``: training and inference speed of every model, written as JSON and a table.

What is measured, per device (CPU, and CUDA when present):

- **matmul peak**: fp32 ``torch.matmul`` of two large square matrices (TF32 off on CUDA), GFLOP/s,
  measured before and after the models (the better is reported) — the yardstick for the models'
  achieved GFLOP/s; where bf16 is native also the bf16 product, the ceiling of the bf16 rows;
- **training**, for each setting (default 147×37 grey batch 40 and 310×94 RGB): the headline is **the
  step ``ssrdepth train`` runs** (``as_train_runs_it``, also the row's ``step_s`` / ``images_per_s``:
  the recipe's loss, optimiser, scaler, clipping, augmentation, data loading, precision and memory
  format, through :func:`ssrdepth.training.loop.measure_step_seconds`); beside it the interleaved
  **bare-step variants** (``variants``: one SGD (momentum 0.9) step of the paper's L2 loss, no scaler,
  no clipping, no data loading, in contiguous and channels-last memory format, bf16 where native, and
  the Keras peer's step), which compare formats and precisions: step time, images/s, FLOPs per step
  counted by ``torch.utils.flop_counter`` (forward + backward), achieved GFLOP/s, peak memory; and
  the **photometric loss's share** of a step (``photometric_loss``: the warp, SSIM + L1 and
  smoothness forward + backward against a whole photometric step in the training precision, and that
  step against the recipe's masked SILog step, interleaved);
- **inference**: latency at batch 1 and throughput at a larger batch for every backend of the registry
  (:data:`ssrdepth.inference.backends.REGISTRY`: eager PyTorch contiguous and channels-last, ONNX
  Runtime, OpenVINO, INT8) and the bench-only rows (TorchScript, ``torch.compile`` with ``--compile``,
  the Keras peer); achieved GFLOP/s and peak memory;
- **time to quality** (``--time-to-quality``, minutes of training): the training seconds until δ < 1.25
  against the exact synthetic depth first reaches each level, for the demo's preset and the paper's
  recipe, and the ratio (:mod:`~ssrdepth.experiments.bench.quality`);
- **stereo targets**: pairs/s of each matching backend (``ssrdepth.stereo.matching.benchmark_matchers``),
  or the reason it was skipped.

Timings are medians of ``repeats`` runs after ``warmup`` runs (:mod:`ssrdepth.core.timing`, the one
timer); the variants of one measurement are *interleaved* (round-robin) so that load from other
processes hits them alike. Peak memory on CPU is the rise of the process's peak resident set
(``VmHWM``, reset through ``/proc/self/clear_refs`` after ``malloc_trim``; ``ru_maxrss`` where that is
unavailable, which cannot be reset and so only grows) during the *first* run of each variant, before
warm-up (so it is the working memory beyond the weights: activations, gradients, optimiser state, ONNX
Runtime's arena); on CUDA, ``torch.cuda.max_memory_allocated`` over the same run.

The package, one concept a module: :mod:`~ssrdepth.experiments.bench.plan` (rows, settings,
:class:`BenchConfig`), :mod:`~ssrdepth.experiments.bench.measure` (timing on a device, memory, matmul
peak), :mod:`~ssrdepth.experiments.bench.training` (the training rows),
:mod:`~ssrdepth.experiments.bench.inference` (the inference rows), :mod:`~ssrdepth.experiments.bench.quality` (time to quality),
:mod:`~ssrdepth.experiments.bench.run`
(the whole run, the result file) and :mod:`~ssrdepth.experiments.bench.table` (the Markdown report).
"""

from __future__ import annotations

from ssrdepth.experiments.bench.inference import bench_inference, pick_auto
from ssrdepth.experiments.bench.measure import interleaved_medians, matmul_peak, peak_memory
from ssrdepth.experiments.bench.plan import (
    AUTO_FAMILIES,
    CPU_SETTINGS,
    CUDA_SETTINGS,
    DEFAULT_BACKENDS,
    INFERENCE_BACKENDS,
    SCHEMA,
    TRAIN_VARIANTS,
    BenchConfig,
    Setting,
)
from ssrdepth.experiments.bench.quality import QUALITY_THRESHOLDS, QualityConfig, bench_quality
from ssrdepth.experiments.bench.run import bench_stereo, load_result, run_bench
from ssrdepth.experiments.bench.table import (
    INFERENCE_LEGEND,
    PHOTOMETRIC_LEGEND,
    TRAINING_LEGEND,
    format_table,
)
from ssrdepth.experiments.bench.training import bare_step, bench_training, train_step_seconds

__all__ = [
    "AUTO_FAMILIES",
    "CPU_SETTINGS",
    "CUDA_SETTINGS",
    "DEFAULT_BACKENDS",
    "INFERENCE_BACKENDS",
    "INFERENCE_LEGEND",
    "PHOTOMETRIC_LEGEND",
    "QUALITY_THRESHOLDS",
    "SCHEMA",
    "TRAINING_LEGEND",
    "TRAIN_VARIANTS",
    "BenchConfig",
    "QualityConfig",
    "Setting",
    "bare_step",
    "bench_inference",
    "bench_quality",
    "bench_stereo",
    "bench_training",
    "format_table",
    "interleaved_medians",
    "load_result",
    "matmul_peak",
    "peak_memory",
    "pick_auto",
    "run_bench",
    "train_step_seconds",
]
