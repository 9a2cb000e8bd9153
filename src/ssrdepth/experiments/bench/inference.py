"""The bench's inference rows: every row's runner, built by the backend registry
(:data:`ssrdepth.inference.backends.REGISTRY`, the runners ``predict`` uses) or, for the bench-only rows
(TorchScript, ``torch.compile``, the Keras peer), here; their parity with eager float32
(:func:`ssrdepth.inference.backends.parity_error`); latency at batch 1 and throughput at a larger batch,
interleaved; and the row ``--backend auto`` would pick (:func:`pick_auto`, the
:func:`ssrdepth.core.timing.ratio_score` of ``auto``)."""

from __future__ import annotations

import gc
import statistics
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ssrdepth.core.flops import count_flops
from ssrdepth.core.hardware import native_bf16
from ssrdepth.core.timing import best_of, ratio_score, ratios_to_best
from ssrdepth.experiments.bench.measure import bench_model, interleaved_medians, peak_memory
from ssrdepth.experiments.bench.plan import AUTO_FAMILIES, ROW_BACKEND, BenchConfig, Setting, keras_skip
from ssrdepth.inference.backends import (
    Runner,
    RunnerRequest,
    build_runner,
    get_backend,
    parity_error,
    reference_maps,
    torch_runner,
)

#: A row's binder: takes an input batch ``(N, C, H, W)`` float32 and returns a callable that runs the
#: row's backend on it once (the batch is bound outside the timed call).
Binder = Callable[[np.ndarray], Callable[[], object]]


def bind(run: Runner) -> Binder:
    """A runner as a binder: the batch made contiguous once, then ``run`` on it per call."""

    def binder(batch: np.ndarray) -> Callable[[], object]:
        x = np.ascontiguousarray(batch)
        return lambda: run(x)

    return binder


def _onnx_blob(name: str, setting: Setting, cfg: BenchConfig) -> bytes:
    from ssrdepth.inference.export import export_onnx

    cpu_net = bench_model(name, setting.channels, cfg.width, torch.device("cpu"), False).eval()
    return export_onnx(cpu_net, None, sample_size=setting.size, exporter=cfg.exporter)


def _int8_blob(blob: bytes, setting: Setting) -> bytes:
    """The export quantised to INT8, calibrated on random images: for timing only (the accuracy of a
    trained model's INT8 export is checked by ``ssrdepth quantize``)."""
    from ssrdepth.inference.quantize import quantize_onnx

    rng = np.random.default_rng(1)
    calib = [rng.random((4, setting.channels, *setting.size), dtype=np.float32) for _ in range(4)]
    return quantize_onnx(blob, calib)


def _inference_binders(
    name: str, setting: Setting, cfg: BenchConfig, device: torch.device
) -> tuple[dict[str, Binder], dict[str, str]]:
    """Per row, a binder (:data:`Binder`); and why a row was skipped. Models, sessions and exports
    are built once here."""
    binders: dict[str, Binder] = {}
    skipped: dict[str, str] = {}
    blobs: dict[str, bytes] = {}

    def blob(kind: str) -> bytes:
        if "fp32" not in blobs:
            blobs["fp32"] = _onnx_blob(name, setting, cfg)
        if kind == "int8" and "int8" not in blobs:
            blobs["int8"] = _int8_blob(blobs["fp32"], setting)
        return blobs[kind]

    for row in cfg.backends:
        try:
            _add_row(row, name, setting, cfg, device, blob, binders, skipped)
        except (ImportError, ValueError) as exc:
            skipped[row] = str(exc)
    return binders, skipped


def _add_row(
    row: str,
    name: str,
    setting: Setting,
    cfg: BenchConfig,
    device: torch.device,
    blob: Callable[[str], bytes],
    binders: dict[str, Binder],
    skipped: dict[str, str],
) -> None:
    """Add the binder(s) of one row (``openvino`` and ``keras`` add several)."""
    backend = ROW_BACKEND.get(row, row)
    if backend is None:
        _add_bench_only_row(row, name, setting, cfg, device, binders, skipped)
        return
    spec = get_backend(backend)
    if device.type not in spec.devices:
        skipped[row] = f"{spec.title} is measured on the {'/'.join(d.upper() for d in spec.devices)} only"
        return
    if not spec.available():
        skipped[row] = f"{spec.title} is not installed: {spec.install}"
        return
    int8 = row.endswith("int8")
    if row.startswith("eager"):
        bf16 = row.endswith("bf16")
        if bf16 and device.type == "cpu" and not native_bf16():
            skipped[row] = "this CPU has no native bf16 (AMX-BF16 / AVX-512 BF16)"
            return
        cl = row != "eager"
        net = bench_model(name, setting.channels, cfg.width, device, cl).eval()
        req = RunnerRequest(
            net=net, device=device.type, precision="bf16" if bf16 else "fp32", channels_last=cl
        )
    elif row == "openvino":  # one row per setting OpenVINO's own choice compares
        from ssrdepth.inference import openvino_backend as ovb

        for s in ovb.candidate_settings(cfg.threads):
            binders[s.label] = bind(
                build_runner(backend, RunnerRequest(onnx_model=blob("fp32"), settings=s)).run
            )
        return
    elif row == "openvino-int8":
        from ssrdepth.inference import openvino_backend as ovb

        s = ovb.OpenVINOSettings("f32", "LATENCY", cfg.threads)
        req = RunnerRequest(onnx_model=blob("int8"), settings=s, int8=True)
    elif spec.family == "onnx":
        model = blob("int8" if int8 else "fp32")
        req = RunnerRequest(onnx_model=model, device=device.type, threads=cfg.threads, int8=int8)
    else:  # a torch-family backend of the registry without a row of its own: NHWC, fp32
        net = bench_model(name, setting.channels, cfg.width, device, True).eval()
        req = RunnerRequest(net=net, device=device.type, channels_last=True, threads=cfg.threads)
    binders[row] = bind(build_runner(backend, req).run)


def _add_bench_only_row(
    row: str,
    name: str,
    setting: Setting,
    cfg: BenchConfig,
    device: torch.device,
    binders: dict[str, Binder],
    skipped: dict[str, str],
) -> None:
    """The rows that are not prediction backends: the Keras peer, TorchScript, ``torch.compile``."""
    if row == "keras":
        why = keras_skip(cfg, device)
        if why is not None:
            skipped[row] = why
            return
        from ssrdepth.experiments.keras_peer import keras_inference

        binders.update(keras_inference(name, setting.channels, setting.size, cfg.threads))
    elif row == "torchscript-frozen":
        net = bench_model(name, setting.channels, cfg.width, device, True).eval()
        example = torch.rand(2, setting.channels, *setting.size, device=device)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # deprecation and TracerWarnings (see export.py)
            traced = torch.jit.trace(net, example.contiguous(memory_format=torch.channels_last))
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        binders[row] = bind(torch_runner(frozen, device, True))
    elif row == "compiled":
        net = bench_model(name, setting.channels, cfg.width, device, True).eval()
        binders[row] = bind(torch_runner(torch.compile(net), device, True))  # type: ignore[arg-type]


def _unbound(make: Binder) -> Callable[[np.ndarray], object]:
    return lambda batch: make(batch)()


def _parity(binders: dict[str, Binder], name: str, setting: Setting, cfg: BenchConfig) -> dict[str, float]:
    """Max abs difference of each row's map from eager float32 (normalised [0, 1]) on one batch."""
    x = np.random.default_rng(5).random((2, setting.channels, *setting.size), dtype=np.float32)
    net = bench_model(name, setting.channels, cfg.width, torch.device("cpu"), False).eval()
    ref = reference_maps(net, x)
    out: dict[str, float] = {}
    for b, make in binders.items():
        if b.startswith("keras"):
            continue  # the peer's own weights: not comparable
        out[b] = parity_error(_unbound(make), ref, x)
    return out


def pick_auto(backends: dict[str, dict[str, Any]], tolerance: float | None = None) -> dict[str, Any]:
    """What ``--backend auto`` picks from measured rows: among :data:`AUTO_FAMILIES` rows whose parity
    error is within ``tolerance`` (default :data:`ssrdepth.inference.autoselect.AUTO_TOLERANCE`), the
    lowest sum of (throughput time, latency) each relative to the best row — the score
    :func:`ssrdepth.inference.autoselect.measure` uses (:func:`ssrdepth.core.timing.ratio_score`)."""
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
    throughput = ratios_to_best({b: r["throughput_img_s"] for b, r in ok.items()}, higher_is_better=True)
    latency = ratios_to_best({b: r["latency_ms"] for b, r in ok.items()})
    score = ratio_score([throughput, latency])
    return {"backend": best_of(score), "tolerance": tol, "scores": score}


def _forward(net: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode():
            return net(x).float()

    return run


def _time_rows(
    binders: dict[str, Binder],
    results: dict[str, dict[str, Any]],
    setting: Setting,
    cfg: BenchConfig,
    device: torch.device,
    big: int,
    flops_per_image: float,
) -> None:
    """Throughput at ``big`` then latency at 1, every row interleaved, into ``results``."""
    h, w = setting.size
    rng = np.random.default_rng(0)
    # Throughput first: its first (cold) run per backend gives the working memory at the big batch
    # (activations, ONNX Runtime's arena growth) before warm-up and caches hide it.
    for n, key in ((big, "throughput"), (1, "latency")):
        batch = rng.random((n, setting.channels, h, w), dtype=np.float32)
        fns = {b: make(batch) for b, make in binders.items()}
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


def bench_inference(name: str, setting: Setting, cfg: BenchConfig, device: torch.device) -> dict[str, Any]:
    """Latency at batch 1 and throughput at ``infer_batch``, every row interleaved."""
    big = cfg.infer_batch or (256 if device.type == "cuda" else setting.batch)
    h, w = setting.size
    net = bench_model(name, setting.channels, cfg.width, torch.device("cpu"), False).eval()
    flops_per_image = count_flops(_forward(net, torch.rand(1, setting.channels, h, w)))
    out: dict[str, Any] = {
        "setting": setting.label,
        "size": list(setting.size),
        "channels": setting.channels,
        "flops_per_image": flops_per_image,
        "latency_batch": 1,
        "throughput_batch": big,
        "backends": {},
    }
    binders, skipped = _inference_binders(name, setting, cfg, device)
    results: dict[str, dict[str, Any]] = {b: {"skipped": why} for b, why in skipped.items()}
    for b, err in _parity(binders, name, setting, cfg).items():
        results.setdefault(b, {})["max_abs_error"] = err
    _time_rows(binders, results, setting, cfg, device, big, flops_per_image)
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


__all__ = ["Binder", "bench_inference", "bind", "pick_auto"]
