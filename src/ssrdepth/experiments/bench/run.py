"""The whole ``ssrdepth bench`` run: every (model, setting) on every device, the matmul peak before and
after, the stereo matchers, the machine, written as one JSON-ready result (schema :data:`SCHEMA`), and
reading such a result back (:func:`load_result`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ssrdepth import __version__
from ssrdepth.core.hardware import native_bf16, resolve_precision, speed_flags
from ssrdepth.core.machine import machine_info
from ssrdepth.experiments.bench.inference import bench_inference
from ssrdepth.experiments.bench.measure import matmul_peak
from ssrdepth.experiments.bench.plan import SCHEMA, BenchConfig
from ssrdepth.experiments.bench.quality import QualityConfig, bench_quality, preflight
from ssrdepth.experiments.bench.training import bench_training
from ssrdepth.models import create_model


def bench_stereo(cfg: BenchConfig) -> dict[str, Any]:
    """Pairs/s of the stereo matchers (:func:`ssrdepth.stereo.matching.benchmark_matchers`); a failure
    is kept as its text so that the network numbers are not lost."""
    if not cfg.stereo:
        return {"skipped": "disabled (--no-stereo)"}
    from ssrdepth.stereo.matching import benchmark_matchers

    try:
        result = benchmark_matchers(size=cfg.stereo_size, repeats=max(1, cfg.repeats // 2))
    except Exception as exc:  # a failing stereo backend must not lose the network numbers
        return {"error": f"{type(exc).__name__}: {exc}"}
    return dict(result)


def run_bench(
    cfg: BenchConfig,
    progress: bool = True,
    on_update: Callable[[dict[str, Any]], None] | None = None,
    quality: QualityConfig | None = None,
) -> dict[str, Any]:
    """Run the benchmark described by ``cfg`` and return the JSON-ready result. ``on_update`` is
    called with the partial result after every (model, setting), so a long run that is stopped
    keeps what it measured (the command writes the JSON each time; ``"complete": false`` until done).
    ``quality``: also train to quality (:func:`~ssrdepth.experiments.bench.quality.bench_quality`,
    the result's ``time_to_quality``; minutes of training per recipe)."""
    from tqdm import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # A time-to-quality run that cannot start is found before minutes of timing, not after.
    refused = preflight(quality) if quality is not None else None
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
    if quality is not None:

        def partial(entry: dict[str, Any]) -> None:
            result["time_to_quality"] = entry
            if on_update is not None:
                on_update(result)

        result["time_to_quality"] = bench_quality(quality, on_update=partial, refused=refused)
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


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a bench JSON, checking its schema."""
    data = json.loads(Path(path).read_text())
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not an ssrdepth bench result (schema {data.get('schema')!r})")
    return dict(data)


__all__ = ["bench_stereo", "load_result", "run_bench"]
