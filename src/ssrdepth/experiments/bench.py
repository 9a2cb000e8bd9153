"""``ssrdepth bench``: training and inference speed of every model, written as JSON and a table.

What is measured, per device (CPU, and CUDA when present):

- **matmul peak**: fp32 ``torch.matmul`` of two large square matrices (TF32 off on CUDA), GFLOP/s,
  measured before and after the models (the better is reported) — the yardstick for the models'
  achieved GFLOP/s; where bf16 is native also the bf16 product, the ceiling of the bf16 rows;
- **training**: one SGD (momentum 0.9) step of the paper's L2 loss, for each setting (default
  147×37 grey batch 40 and 310×94 RGB), in contiguous and channels-last memory format: step time,
  images/s, FLOPs per step counted by ``torch.utils.flop_counter`` (forward + backward), achieved
  GFLOP/s, peak memory;
- **inference**: latency at batch 1 and throughput at a larger batch for eager PyTorch (contiguous and
  channels-last, ``torch.inference_mode``), ONNX Runtime (all graph optimisations) and, with
  ``--compile``, ``torch.compile``; achieved GFLOP/s and peak memory;
- **stereo targets**: pairs/s of each matching backend (``ssrdepth.stereo.matching.benchmark_matchers``),
  or the reason it was skipped.

Timings are medians of ``repeats`` runs after ``warmup`` runs; the variants of one measurement are
*interleaved* (round-robin) so that load from other processes hits them alike. Peak memory on CPU is
the rise of the process's peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs`` after
``malloc_trim``; ``ru_maxrss`` where that is unavailable, which cannot be reset and so only grows)
during the *first* run of each variant, before warm-up (so it is the working memory beyond the
weights: activations, gradients, optimiser state, ONNX Runtime's arena); on CUDA,
``torch.cuda.max_memory_allocated`` over the same run.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import datetime as dt
import gc
import json
import os
import re
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssrdepth import __version__
from ssrdepth.core.flops import count_flops
from ssrdepth.core.hardware import native_bf16, resolve_precision, speed_flags
from ssrdepth.core.machine import machine_info
from ssrdepth.core.scale import TargetScale
from ssrdepth.losses import l2_paper
from ssrdepth.models import DepthNet, create_model, list_models

SCHEMA = "ssrdepth-bench/1"
#: Inference backends: eager PyTorch (NCHW / NHWC; ``-bf16``: autocast, only where the CPU has native
#: bf16), ONNX Runtime (float32, and ``-int8``: the export quantised by
#: :mod:`ssrdepth.inference.quantize`, calibrated on random images — speed only), OpenVINO (one row per
#: setting: f32/bf16 × LATENCY/THROUGHPUT, ``openvino-int8``: the INT8 export), ``keras``: the paper's
#: framework via the peer (``keras``, ``keras_bf16`` rows; skipped without TensorFlow), TorchScript
#: traced + frozen + ``optimize_for_inference`` (NHWC), ``torch.compile`` (NHWC; slow to compile).
INFERENCE_BACKENDS = (
    "eager",
    "eager-channels-last",
    "onnxruntime",
    "torchscript-frozen",
    "compiled",
    "eager-channels-last-bf16",
    "onnxruntime-int8",
    "openvino",
    "openvino-int8",
    "keras",
)
DEFAULT_BACKENDS = (
    "eager",
    "eager-channels-last",
    "eager-channels-last-bf16",
    "onnxruntime",
    "onnxruntime-int8",
    "openvino",
    "openvino-int8",
    "keras",
)
TRAIN_VARIANTS = ("contiguous", "channels-last")
#: Inference rows ``auto`` chooses from (what ``predict --backend auto`` measures): no INT8 (that needs
#: a calibrated, accuracy-checked export) and no Keras.
AUTO_FAMILIES = ("eager-channels-last", "onnxruntime", "openvino-")


@dataclass(frozen=True)
class Setting:
    """An input setting: ``size`` = (H, W), ``channels`` 1 or 3, training ``batch``."""

    label: str
    size: tuple[int, int]
    channels: int
    batch: int


#: The paper's settings: KITTI 147×37 grey at batch 40 (Table 1) and the improved SCRX 310×94 RGB
#: (Table 2). The RGB batch is smaller on CPU to keep a full run within minutes (images/s is
#: what compares); on CUDA both use the paper's 40.
CPU_SETTINGS = (Setting("147x37 gray", (37, 147), 1, 40), Setting("310x94 rgb", (94, 310), 3, 8))
CUDA_SETTINGS = (Setting("147x37 gray", (37, 147), 1, 40), Setting("310x94 rgb", (94, 310), 3, 40))


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. ``devices``: ``("cpu",)``, ``("cuda",)`` or both; ``settings`` default per
    device (:data:`CPU_SETTINGS`, :data:`CUDA_SETTINGS`); ``infer_batch``: the throughput batch
    (default: the setting's training batch on CPU, 256 on CUDA); ``width``: model width multiplier
    (1.0 = the paper's models). ``quick``: CI-sized run (few repeats, small batches and sizes)."""

    models: tuple[str, ...] = tuple(list_models())
    devices: tuple[str, ...] = ("cpu",)
    settings: tuple[Setting, ...] | None = None
    infer_batch: int | None = None
    repeats: int = 5
    warmup: int = 2
    width: float = 1.0
    threads: int | None = None
    backends: tuple[str, ...] = DEFAULT_BACKENDS
    exporter: str = "dynamo"
    train: bool = True
    compile: bool = False
    stereo: bool = True
    stereo_size: tuple[int, int] = (375, 1242)
    quick: bool = False
    keras: bool = True

    def __post_init__(self) -> None:
        bad = [b for b in self.backends if b not in INFERENCE_BACKENDS]
        if bad:
            raise ValueError(f"unknown backend(s) {bad}; valid: {', '.join(INFERENCE_BACKENDS)}")
        if self.repeats < 1 or self.warmup < 0:
            raise ValueError("repeats must be ≥ 1 and warmup ≥ 0")

    @classmethod
    def quick_config(cls, **overrides: Any) -> BenchConfig:
        """Seconds, not minutes: 2 repeats after 1 warm-up, width 0.125, tiny batches and sizes, the
        faster legacy ONNX exporter."""
        base: dict[str, Any] = {
            "repeats": 2,
            "warmup": 1,
            "width": 0.125,
            "settings": (Setting("147x37 gray", (37, 147), 1, 4), Setting("64x32 rgb", (32, 64), 3, 2)),
            "infer_batch": 4,
            # KITTI's height, a quarter of its width: the timing pair's disparity grows down the rows
            # from 5 % to 60 % of the 192-px range, and at 96 rows that is 1.1 px per row, too slanted
            # for every matcher (density 0–1 %, ELAS finds no support points); at 375 rows (0.28 px per
            # row) they match 38–79 % of the pixels, as on the full-size pair.
            "stereo_size": (375, 320),
            "exporter": "legacy",
            "quick": True,
        }
        base.update(overrides)
        return cls(**base)

    def settings_for(self, device: str) -> tuple[Setting, ...]:
        if self.settings is not None:
            return self.settings
        return CUDA_SETTINGS if device == "cuda" else CPU_SETTINGS


# --------------------------------------------------------------------------------------------------
# timing and memory


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    device: torch.device,
    settle: int = 0,
) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, round-robin, after ``warmup`` untimed calls each; in each
    round a function first runs ``settle`` untimed times (absorbing the cost of switching from another
    backend: thread-pool wake-up, caches). Returns all run times (s) per name; their median is reported."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            for _ in range(settle):
                fn()
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return times


def _read_status_kib(key: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def _trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``), so that the next run's
    allocations show up in the resident set instead of reusing what earlier runs left."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ≥ 4.0); False where that is not possible."""
    _trim_heap()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, Any]]:
    """Measure the peak memory of the block: ``{"peak_mib", "baseline_mib", "method"}``; on CPU the
    peak resident set and the rise over what was resident before; on CUDA the allocator's peak."""
    out: dict[str, Any] = {}
    gc.collect()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield out
        _sync(device)
        peak = torch.cuda.max_memory_allocated(device)
        out.update(method="torch.cuda.max_memory_allocated")
    else:
        resettable = _reset_peak_rss()
        base_kib = _read_status_kib("VmRSS")
        yield out
        hwm = _read_status_kib("VmHWM") if resettable else None
        if hwm is not None and base_kib is not None:
            base, peak = base_kib * 1024, hwm * 1024
            out.update(method="VmHWM after clear_refs (peak resident set)")
        else:
            ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (
                1 if sys.platform == "darwin" else 1024
            )
            base, peak = 0, ru
            out.update(method="ru_maxrss (process lifetime peak; cannot be reset)")
    out.update(peak_mib=peak / 2**20, baseline_mib=base / 2**20, rise_mib=max(0, peak - base) / 2**20)


def matmul_peak(device: torch.device, size: int | None = None, repeats: int = 5) -> dict[str, Any]:
    """fp32 matmul GFLOP/s (median of ``repeats`` after 2 warm-ups) for ``size``² matrices
    (default 2048 on CPU, 8192 on CUDA), with TF32 off so that it is a true fp32 figure. On CUDA also
    ``tf32_gflops`` (TF32 on), since cuDNN runs fp32 convolutions in TF32 by default
    (``torch.backends.cudnn.allow_tf32``, recorded as ``cudnn_allow_tf32``). Where bf16 is native
    (CUDA, or a CPU with AMX-BF16 / AVX-512 BF16) also ``bf16_gflops``: the same product in bfloat16,
    the ceiling of every bf16 row (a bf16 convolution cannot run faster than this for long)."""
    n = size or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    old = torch.backends.cuda.matmul.allow_tf32
    out: dict[str, Any] = {"size": n, "dtype": "float32"}
    try:
        for tf32 in (False, True) if device.type == "cuda" else (False,):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            med = statistics.median(interleaved_medians({"mm": lambda: a @ b}, repeats, 2, device)["mm"])
            key = "tf32_gflops" if tf32 else "gflops"
            out[key] = 2 * n**3 / med / 1e9
            if not tf32:
                out["seconds"] = med
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    if device.type == "cuda":
        out["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    if device.type == "cuda" or native_bf16():
        a16, b16 = a.to(torch.bfloat16), b.to(torch.bfloat16)
        med = statistics.median(interleaved_medians({"mm": lambda: a16 @ b16}, repeats, 2, device)["mm"])
        out["bf16_gflops"] = 2 * n**3 / med / 1e9
    return out


# --------------------------------------------------------------------------------------------------
# training and inference


def _model(name: str, channels: int, width: float, device: torch.device, channels_last: bool) -> DepthNet:
    torch.manual_seed(0)
    net = create_model(name, channels, width=width).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return net


def _train_step_fn(
    net: DepthNet, x: torch.Tensor, y: torch.Tensor, autocast: bool = False
) -> Callable[[], object]:
    opt = torch.optim.SGD(net.parameters(), lr=1e-6, momentum=0.9)
    net.train()
    dtype = torch.bfloat16

    def step() -> object:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype, enabled=autocast):
            loss = l2_paper(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def bench_training(name: str, setting: Setting, cfg: BenchConfig, device: torch.device) -> dict[str, Any]:
    """One model, one setting: every training variant, interleaved."""
    gen = torch.Generator().manual_seed(0)
    h, w = setting.size
    x = torch.rand(setting.batch, setting.channels, h, w, generator=gen).to(device)
    y = torch.rand(setting.batch, 1, h, w, generator=gen).to(device)
    variants = list(TRAIN_VARIANTS)
    if device.type == "cuda" or native_bf16():
        variants += ["contiguous-bf16", "channels-last-bf16"]
    if cfg.compile:
        variants.append("channels-last-compiled")
    steps: dict[str, Callable[[], object]] = {}
    for v in variants:
        cl = v.startswith("channels-last")
        net = _model(name, setting.channels, cfg.width, device, cl)
        fmt = torch.channels_last if cl else torch.contiguous_format
        xv, yv = x.contiguous(memory_format=fmt), y.contiguous(memory_format=fmt)
        if v == "channels-last-compiled":
            net = torch.compile(net)  # type: ignore[assignment]
        steps[v] = _train_step_fn(net, xv, yv, autocast=v.endswith("bf16"))
    keras_skip = _keras_skip(cfg, device)
    if keras_skip is None:
        from ssrdepth.experiments.keras_peer import keras_train_steps

        steps.update(keras_train_steps(name, x.cpu().numpy(), y.cpu().numpy(), cfg.threads))
    flops = count_flops(_train_step_fn(_model(name, setting.channels, cfg.width, device, False), x, y))
    # Memory of the first (cold) step of each variant: activations, gradients and optimiser state
    # beyond the weights, before warm-up lets caches hide it.
    memory: dict[str, dict[str, Any]] = {}
    for v, fn in steps.items():
        with peak_memory(device) as memory[v]:
            fn()
    times = interleaved_medians(steps, cfg.repeats, cfg.warmup, device)
    out: dict[str, Any] = {
        "setting": setting.label,
        "size": list(setting.size),
        "channels": setting.channels,
        "batch": setting.batch,
        "flops_per_step": flops,
        "variants": {},
    }
    if keras_skip is not None:
        out["keras_skipped"] = keras_skip
    for v in steps:
        med = statistics.median(times[v])
        out["variants"][v] = {
            "step_s": med,
            "step_s_runs": times[v],
            "images_per_s": setting.batch / med,
            "achieved_gflops": flops / med / 1e9,
            "memory": memory[v],
        }
    step_s = _as_train_runs_it(name, setting, cfg, device)
    out["as_train_runs_it"] = {
        "what": "the step `ssrdepth train` runs with the ssrdepth recipe (masked SILog, AdamW, augmentation, "
        "data loading, precision auto, channels-last), timed apart from the interleaved variants",
        "step_s": step_s,
        "images_per_s": setting.batch / step_s,
    }
    return out


class _RandomDepth(torch.utils.data.Dataset[dict[str, Any]]):
    """``n`` random samples in the training contract (image, normalised target, valid mask) at one size."""

    scale = TargetScale("disparity", 96.0)

    def __init__(self, n: int, channels: int, size: tuple[int, int]) -> None:
        gen = torch.Generator().manual_seed(0)
        self.images = torch.rand(n, channels, *size, generator=gen)
        self.targets = torch.rand(n, 1, *size, generator=gen)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {
            "image": self.images[i],
            "target": self.targets[i],
            "valid_mask": self.targets[i] > 0.05,
            "index": i,
        }


def _as_train_runs_it(name: str, setting: Setting, cfg: BenchConfig, device: torch.device) -> float:
    """Seconds of one step of the recipe's run of ``name`` at ``setting``, as ``train`` runs it
    (:func:`ssrdepth.training.loop.measure_step_seconds` on random data in memory)."""
    from ssrdepth.data.config import DataConfig
    from ssrdepth.models import ModelOptions
    from ssrdepth.training.config import ModelConfig, apply_recipe, get_preset
    from ssrdepth.training.loop import measure_step_seconds

    base = apply_recipe(get_preset("recipe-synthetic-gray-147x37"))
    tc = dataclasses.replace(
        base,
        model=ModelConfig(name, ModelOptions(**{**asdict(base.model.options), "width": cfg.width})),
        data=DataConfig(source="synthetic", size=setting.size, channels=setting.channels),
        batch_size=setting.batch,
        device=str(device),
        progress=False,
        tensorboard=False,
        threads=cfg.threads or 0,
    )
    data = _RandomDepth(2 * setting.batch, setting.channels, setting.size)
    return measure_step_seconds(tc, repeats=cfg.repeats, warmup=max(cfg.warmup, 1), train_set=data)


Runner = Callable[[np.ndarray], Callable[[], object]]


def _keras_skip(cfg: BenchConfig, device: torch.device) -> str | None:
    """Why the Keras peer's variants are not measured in this run (``None``: they are)."""
    if not cfg.keras:
        return "disabled (--no-keras)"
    if device.type != "cpu":
        return "the Keras peer is measured on the CPU only"
    from ssrdepth.experiments.keras_peer import unavailable_reason

    return unavailable_reason(cfg.width)


def _onnx_blob(name: str, setting: Setting, cfg: BenchConfig) -> bytes:
    from ssrdepth.inference.export import export_onnx

    cpu_net = _model(name, setting.channels, cfg.width, torch.device("cpu"), False).eval()
    return export_onnx(cpu_net, None, sample_size=setting.size, exporter=cfg.exporter)


def _int8_blob(blob: bytes, setting: Setting) -> bytes:
    """The export quantised to INT8, calibrated on random images: for timing only (the accuracy of a
    trained model's INT8 export is checked by ``ssrdepth quantize``)."""
    from ssrdepth.inference.quantize import quantize_onnx

    rng = np.random.default_rng(1)
    calib = [rng.random((4, setting.channels, *setting.size), dtype=np.float32) for _ in range(4)]
    return quantize_onnx(blob, calib)


def _wrap(run: Callable[[np.ndarray], np.ndarray]) -> Runner:
    def bind(batch: np.ndarray) -> Callable[[], object]:
        x = np.ascontiguousarray(batch)
        return lambda: run(x)

    return bind


def _inference_runners(
    name: str, setting: Setting, cfg: BenchConfig, device: torch.device
) -> tuple[dict[str, Runner], dict[str, str]]:
    """Per backend, a factory that binds an input batch ``(N, C, H, W)`` and returns a callable running
    it once; and why a backend was skipped. Models and sessions are built once here."""
    runners: dict[str, Runner] = {}
    skipped: dict[str, str] = {}
    blobs: dict[str, bytes] = {}

    def blob(kind: str) -> bytes:
        if "fp32" not in blobs:
            blobs["fp32"] = _onnx_blob(name, setting, cfg)
        if kind == "int8" and "int8" not in blobs:
            blobs["int8"] = _int8_blob(blobs["fp32"], setting)
        return blobs[kind]

    for backend in cfg.backends:
        try:
            _add_runner(backend, name, setting, cfg, device, blob, runners, skipped)
        except (ImportError, ValueError) as exc:
            skipped[backend] = str(exc)
    return runners, skipped


def _add_runner(
    backend: str,
    name: str,
    setting: Setting,
    cfg: BenchConfig,
    device: torch.device,
    blob: Callable[[str], bytes],
    runners: dict[str, Runner],
    skipped: dict[str, str],
) -> None:
    """Add the runner(s) of one ``backend`` (OpenVINO and Keras add several rows)."""
    from ssrdepth.inference import openvino_backend as ovb

    if backend in ("eager", "eager-channels-last", "eager-channels-last-bf16"):
        bf16 = backend.endswith("bf16")
        if bf16 and device.type == "cpu" and not native_bf16():
            skipped[backend] = "this CPU has no native bf16 (AMX-BF16 / AVX-512 BF16)"
            return
        cl = backend != "eager"
        net = _model(name, setting.channels, cfg.width, device, cl).eval()
        runners[backend] = _eager_runner(net, device, cl, bf16)
    elif backend in ("onnxruntime", "onnxruntime-int8"):
        from ssrdepth.inference.onnx import onnx_session

        session = onnx_session(blob("int8" if backend.endswith("int8") else "fp32"), device.type, cfg.threads)
        runners[backend] = _ort_runner(session)
    elif backend in ("openvino", "openvino-int8"):
        if device.type != "cpu":
            skipped[backend] = "OpenVINO is measured on the CPU only"
            return
        if not ovb.available():
            skipped[backend] = "OpenVINO is not installed: pip install 'ssrdepth[openvino]'"
            return
        if backend == "openvino-int8":
            s = ovb.OpenVINOSettings("f32", "LATENCY", cfg.threads)
            runners[backend] = _wrap(ovb.runner(ovb.compile_onnx(blob("int8"), s)))
            return
        for s in ovb.candidate_settings(cfg.threads):
            runners[s.label] = _wrap(ovb.runner(ovb.compile_onnx(blob("fp32"), s)))
    elif backend == "keras":
        why = _keras_skip(cfg, device)
        if why is not None:
            skipped[backend] = why
            return
        from ssrdepth.experiments.keras_peer import keras_inference

        runners.update(keras_inference(name, setting.channels, setting.size, cfg.threads))
    elif backend == "torchscript-frozen":
        net = _model(name, setting.channels, cfg.width, device, True).eval()
        example = torch.rand(2, setting.channels, *setting.size, device=device)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # deprecation and TracerWarnings (see export.py)
            traced = torch.jit.trace(net, example.contiguous(memory_format=torch.channels_last))
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        runners[backend] = _eager_runner(frozen, device, True)
    elif backend == "compiled":
        net = _model(name, setting.channels, cfg.width, device, True).eval()
        runners[backend] = _eager_runner(torch.compile(net), device, True)  # type: ignore[arg-type]


def _parity(
    runners: dict[str, Runner], name: str, setting: Setting, cfg: BenchConfig, device: torch.device
) -> dict[str, float]:
    """Max abs difference of each backend's map from eager float32 (normalised [0, 1]) on one batch."""
    x = np.random.default_rng(5).random((2, setting.channels, *setting.size), dtype=np.float32)
    net = _model(name, setting.channels, cfg.width, torch.device("cpu"), False).eval()
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    out: dict[str, float] = {}
    for b, make in runners.items():
        if b.startswith("keras"):
            continue  # the peer's own weights: not comparable
        got = make(x)()
        if isinstance(got, (list, tuple)):
            got = got[0]
        if isinstance(got, torch.Tensor):
            got = got.float().cpu().numpy()
        out[b] = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - ref)))
    return out


def pick_auto(backends: dict[str, dict[str, Any]], tolerance: float | None = None) -> dict[str, Any]:
    """What ``--backend auto`` picks from measured rows: among :data:`AUTO_FAMILIES` rows whose parity
    error is within ``tolerance`` (default :data:`ssrdepth.inference.autoselect.AUTO_TOLERANCE`), the
    lowest sum of (throughput time, latency) each relative to the best row — the score
    :func:`ssrdepth.inference.autoselect.measure` uses."""
    from ssrdepth.inference.autoselect import AUTO_TOLERANCE

    tol = AUTO_TOLERANCE if tolerance is None else tolerance
    ok = {
        b: r
        for b, r in backends.items()
        if b.startswith(AUTO_FAMILIES)
        and not b.endswith("int8")
        and "skipped" not in r
        and r.get("max_abs_error", float("inf")) <= tol
        and "latency_ms" in r
    }
    if not ok:
        return {"backend": None, "reason": "no backend passed parity"}
    best_t = max(r["throughput_img_s"] for r in ok.values())
    best_l = min(r["latency_ms"] for r in ok.values())
    score = {b: best_t / r["throughput_img_s"] + r["latency_ms"] / best_l for b, r in ok.items()}
    chosen = min(score, key=lambda b: score[b])
    return {"backend": chosen, "tolerance": tol, "scores": score}


def _eager(net: torch.nn.Module, x: torch.Tensor, bf16: bool = False) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode(), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            return net(x).float()

    return run


def _eager_runner(
    net: torch.nn.Module, device: torch.device, channels_last: bool, bf16: bool = False
) -> Runner:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return lambda batch: _eager(net, torch.from_numpy(batch).to(device).contiguous(memory_format=fmt), bf16)


def _ort_runner(session: Any) -> Runner:
    name = session.get_inputs()[0].name

    def bind(batch: np.ndarray) -> Callable[[], object]:
        feed = {name: np.ascontiguousarray(batch)}
        return lambda: session.run(None, feed)

    return bind


def bench_inference(name: str, setting: Setting, cfg: BenchConfig, device: torch.device) -> dict[str, Any]:
    """Latency at batch 1 and throughput at ``infer_batch``, every backend interleaved."""
    big = cfg.infer_batch or (256 if device.type == "cuda" else setting.batch)
    h, w = setting.size
    rng = np.random.default_rng(0)
    net = _model(name, setting.channels, cfg.width, torch.device("cpu"), False).eval()
    flops_per_image = count_flops(_eager(net, torch.rand(1, setting.channels, h, w)))
    out: dict[str, Any] = {
        "setting": setting.label,
        "size": list(setting.size),
        "channels": setting.channels,
        "flops_per_image": flops_per_image,
        "latency_batch": 1,
        "throughput_batch": big,
        "backends": {},
    }
    runners, skipped = _inference_runners(name, setting, cfg, device)
    results: dict[str, dict[str, Any]] = {b: {"skipped": why} for b, why in skipped.items()}
    for b, err in _parity(runners, name, setting, cfg, device).items():
        results.setdefault(b, {})["max_abs_error"] = err
    # Throughput first: its first (cold) run per backend gives the working memory at the big batch
    # (activations, ONNX Runtime's arena growth) before warm-up and caches hide it.
    for n, key in ((big, "throughput"), (1, "latency")):
        batch = rng.random((n, setting.channels, h, w), dtype=np.float32)
        fns = {b: make(batch) for b, make in runners.items()}
        memory: dict[str, dict[str, Any]] = {}
        if key == "throughput":
            for b, fn in fns.items():
                with peak_memory(device) as memory[b]:
                    fn()
        reps = cfg.repeats * (3 if n == 1 else 1)  # batch-1 runs are short: more of them
        times = interleaved_medians(fns, reps, cfg.warmup, device, settle=1)
        for b in fns:
            med = statistics.median(times[b])
            r = results.setdefault(b, {})
            if key == "latency":
                r.update(latency_ms=med * 1e3, latency_ms_runs=[t * 1e3 for t in times[b]])
            else:
                r.update(
                    throughput_img_s=n / med,
                    throughput_s_runs=times[b],
                    achieved_gflops=flops_per_image * n / med / 1e9,
                    memory=memory[b],
                )
        del fns
        gc.collect()
    if "onnxruntime" in results and "skipped" not in results["onnxruntime"]:
        try:
            import onnxruntime as ort

            prov = "CUDAExecutionProvider" in ort.get_available_providers() and device.type == "cuda"
            results["onnxruntime"]["provider"] = "CUDAExecutionProvider" if prov else "CPUExecutionProvider"
        except ImportError:  # pragma: no cover - skipped above
            pass
    out["backends"] = results
    out["auto"] = pick_auto(results)
    return out


# --------------------------------------------------------------------------------------------------
# the whole run


def bench_stereo(cfg: BenchConfig) -> dict[str, Any]:
    """Pairs/s of the stereo matchers, from the stereo module if it provides ``benchmark_matchers``."""
    if not cfg.stereo:
        return {"skipped": "disabled (--no-stereo)"}
    try:
        from ssrdepth.stereo.matching import benchmark_matchers
    except ImportError as exc:
        return {"skipped": f"ssrdepth.stereo.matching.benchmark_matchers not available ({exc})"}
    try:
        result = benchmark_matchers(size=cfg.stereo_size, repeats=max(1, cfg.repeats // 2))
    except Exception as exc:  # a failing stereo backend must not lose the network numbers
        return {"error": f"{type(exc).__name__}: {exc}"}
    return dict(result)


def run_bench(
    cfg: BenchConfig,
    progress: bool = True,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark described by ``cfg`` and return the JSON-ready result. ``on_update`` is
    called with the partial result after every (model, setting), so a long run that is stopped
    keeps what it measured (the command writes the JSON each time; ``"complete": false`` until done)."""
    from tqdm import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.perf_counter()
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "ssrdepth_version": __version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine_info(), "cpu_flags": speed_flags(), **_runtime_versions()},
        "precision": {"auto_cpu": resolve_precision("auto", "cpu"), "native_bf16": native_bf16()},
        "config": _config_dict(cfg),
        "complete": False,
        "devices": {},
    }
    for dev_name in cfg.devices:
        if dev_name == "cuda" and not torch.cuda.is_available():
            result["devices"]["cuda"] = {"skipped": "CUDA is not available on this machine"}
            continue
        device = torch.device(dev_name)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        dev: dict[str, Any] = {
            "matmul_peak": matmul_peak(device, 1024 if cfg.quick else None),
            "models": {},
        }
        result["devices"][dev_name] = dev
        settings = cfg.settings_for(device.type)
        jobs = [(m, s) for m in cfg.models for s in settings]
        for name, setting in tqdm(jobs, desc=f"bench {dev_name}", disable=not progress):
            entry = dev["models"].setdefault(
                name,
                {"parameters": sum(p.numel() for p in create_model(name, 1, width=cfg.width).parameters())},
            )
            if cfg.train:
                entry.setdefault("train", []).append(bench_training(name, setting, cfg, device))
            entry.setdefault("inference", []).append(bench_inference(name, setting, cfg, device))
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            result["seconds"] = time.perf_counter() - started
            if on_update is not None:
                on_update(result)
        _add_end_peak(dev["matmul_peak"], matmul_peak(device, 1024 if cfg.quick else None))
    result["stereo"] = bench_stereo(cfg)
    result["seconds"] = time.perf_counter() - started
    result["load_average"] = {"before": load_before, "after": os.getloadavg() if load_before else None}
    result["complete"] = True
    if on_update is not None:
        on_update(result)
    return result


def _runtime_versions() -> dict[str, Any]:
    from ssrdepth.inference import openvino_backend as ovb

    out: dict[str, Any] = {"openvino": ovb.version()}
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        from ssrdepth.experiments.keras_peer import versions

        with contextlib.suppress(Exception):  # the peer is outside the package: never fail the bench
            out.update(versions())
    return out


def _add_end_peak(start: dict[str, Any], end: dict[str, Any]) -> None:
    """Measured before and after the models (load from other processes can depress either): keep
    both and report the better as the peak."""
    for key in ("gflops", "tf32_gflops", "bf16_gflops"):
        if key in start and key in end:
            start[f"{key}_start"], start[f"{key}_end"] = start[key], end[key]
            start[key] = max(start[key], end[key])


def _config_dict(cfg: BenchConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["settings"] = {dev: [asdict(s) for s in cfg.settings_for(dev)] for dev in cfg.devices}
    return d


# --------------------------------------------------------------------------------------------------
# the table


def _flags_text(result: dict[str, Any]) -> str:
    flags = result["machine"].get("cpu_flags", {})
    have = ", ".join(f for f, on in flags.items() if on) or "none of the speed flags"
    prec = result.get("precision", {}).get("auto_cpu")
    return have + (f"; precision auto → {prec}" if prec else "")


#: What the inference table's columns mean (printed under it).
INFERENCE_LEGEND = (
    "*b1/bN*: latency timed at batch 1, throughput (img/s) at batch N. *%*: achieved GFLOP/s as a share "
    "of the fp32 matmul peak in the header (bf16 and INT8 rows can pass 100 %; compare bf16 rows with "
    "the bf16 peak). *max abs err*: against eager fp32 PyTorch, normalised [0, 1] maps. *auto*: the "
    "backend `--backend auto` picks: among those within its parity tolerance, the lowest sum of each "
    "time relative to the best at batch N and at batch 1, so it need not be the fastest in either "
    "column alone; INT8 rows are not candidates for a float model (they need a calibrated export)."
)


def format_table(result: dict[str, Any]) -> str:
    """Markdown tables: training images/s and inference (latency, throughput, GFLOP/s) per model."""
    lines: list[str] = []
    for dev_name, dev in result["devices"].items():
        if "skipped" in dev:
            lines.append(f"**{dev_name}**: skipped ({dev['skipped']})\n")
            continue
        mm = dev["matmul_peak"]
        # cuDNN convolutions run in TF32 by default: compare with the TF32 peak where it applies.
        tf32 = bool(mm.get("cudnn_allow_tf32")) and "tf32_gflops" in mm
        peak = mm["tf32_gflops"] if tf32 else mm["gflops"]
        lines.append(
            f"**{dev_name}** — fp32 matmul peak {mm['gflops']:,.0f} GFLOP/s ({result['machine']['cpu']}"
            + (f"; bf16 matmul peak {mm['bf16_gflops']:,.0f} GFLOP/s" if "bf16_gflops" in mm else "")
            + (f"; flags: {_flags_text(result)}" if dev_name == "cpu" else "")
            + (f", {result['machine']['cuda']}" if dev_name == "cuda" else "")
            + ")"
            + (
                f"; convolutions run in TF32: TF32 matmul peak {peak:,.0f} GFLOP/s, the % below"
                if tf32
                else ""
            )
            + "\n"
        )
        train_rows = []
        for name, entry in dev["models"].items():
            for t in entry.get("train", []):
                cells = [
                    f"{v['images_per_s']:.1f} img/s ({v['step_s'] * 1e3:,.0f} ms, {v['achieved_gflops']:.0f} GFLOP/s, "
                    f"{v['memory']['rise_mib']:,.0f} MiB)"
                    for v in t["variants"].values()
                ]
                train_rows.append(f"| {name} | {t['setting']} b{t['batch']} | " + " | ".join(cells) + " |")
        if train_rows:
            any_train = next(t for e in dev["models"].values() for t in e.get("train", []))
            heads = list(any_train["variants"])
            lines.append("| training | setting | " + " | ".join(heads) + " |")
            lines.append("|---|---|" + "---:|" * len(heads))
            lines += train_rows
            lines.append("")
            as_train = [
                f"{name} {t['setting']} b{t['batch']}: {t['as_train_runs_it']['images_per_s']:.1f} img/s"
                for name, entry in dev["models"].items()
                for t in entry.get("train", [])
                if "as_train_runs_it" in t
            ]
            if as_train:
                lines.append(
                    "As `ssrdepth train` runs it (the recipe: masked SILog, AdamW, augmentation, data loading; "
                    "timed apart): " + "; ".join(as_train) + "\n"
                )
        inf_rows = []
        for name, entry in dev["models"].items():
            for inf in entry["inference"]:
                chosen = inf.get("auto", {}).get("backend")
                for b, r in inf["backends"].items():
                    where = f"| {name} | {inf['setting']} b1/b{inf['throughput_batch']} | {b} |"
                    if "skipped" in r:
                        inf_rows.append(f"{where} skipped: {r['skipped']} | | | |")
                        continue
                    err = r.get("max_abs_error")
                    inf_rows.append(
                        f"{where} {r['latency_ms']:.1f} | {r['throughput_img_s']:.1f} "
                        f"({r['achieved_gflops']:.0f} GFLOP/s, {100 * r['achieved_gflops'] / peak:.0f} %) | "
                        f"{'' if err is None else f'{err:.1e}'} | {'**auto**' if b == chosen else ''} |"
                    )
        if inf_rows:
            lines.append("| inference | setting | backend | latency b1 (ms) | img/s | max abs err | auto |")
            lines.append("|---|---|---|---:|---:|---:|---|")
            lines += inf_rows
            lines.append("")
            lines.append(INFERENCE_LEGEND)
            lines.append("")
    stereo = result.get("stereo", {})
    if "methods" in stereo:
        lines.append(
            f"stereo targets at {stereo['size'][1]}×{stereo['size'][0]} ({stereo['workers']} workers):"
        )
        for m, r in stereo["methods"].items():
            if "error" in r:
                lines.append(f"- {m}: {r['error']}")
            else:
                lines.append(
                    f"- {m}: {r['single_pairs_per_s']:.2f} pairs/s single, {r['parallel_pairs_per_s']:.2f} parallel"
                )
    else:
        lines.append(f"stereo targets: {stereo.get('skipped') or stereo.get('error')}")
    return "\n".join(lines) + "\n"


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a bench JSON, checking its schema."""
    data = json.loads(Path(path).read_text())
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not an ssrdepth bench result (schema {data.get('schema')!r})")
    return dict(data)


__all__ = [
    "BenchConfig",
    "Setting",
    "bench_inference",
    "bench_training",
    "format_table",
    "load_result",
    "matmul_peak",
    "run_bench",
]
