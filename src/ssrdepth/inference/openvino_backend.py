"""OpenVINO as an inference backend: compile an ONNX export of ours for the CPU and run it.

OpenVINO (the ``[openvino]`` extra) runs our ONNX exports with its own CPU kernels. Two settings
matter as much as the runtime (issue 12; measured per machine in BENCHMARKS.md):

- ``INFERENCE_PRECISION_HINT``: ``bf16`` runs convolutions in bfloat16 where the CPU has native bf16
  (AMX-BF16 or AVX-512 BF16), ``f32`` keeps float32. OpenVINO itself defaults to bf16 on such CPUs;
  we always set it explicitly so the choice is recorded.
- ``PERFORMANCE_HINT``: ``LATENCY`` (one stream using every core for one request) or ``THROUGHPUT``
  (several streams). We run one request at a time, so ``LATENCY`` has been the faster on every CPU
  measured; :func:`choose_settings` measures both anyway.

This module is the backend's own: the registry (:data:`ssrdepth.inference.backends.REGISTRY`) takes
its factory (:func:`build`), the variants ``auto`` measures (:func:`candidates`) and their labels
(:func:`describe`) from here.

The ONNX graph has dynamic batch, height and width; OpenVINO compiles it once and specialises
kernels per input shape on first use, so the first call at a new shape is slower (tens of ms).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.timing import best_of, interleaved_medians, ratio_score, ratios_to_best
from ssrdepth.inference.runner import BuiltRunner, OnnxModel, Runner, RunnerFactory, RunnerRequest

logger = logging.getLogger(__name__)

#: Values of ``INFERENCE_PRECISION_HINT`` we offer (OpenVINO's names).
OV_PRECISIONS = ("f32", "bf16")
#: Values of ``PERFORMANCE_HINT`` we offer.
OV_HINTS = ("LATENCY", "THROUGHPUT")


@dataclass(frozen=True)
class OpenVINOSettings:
    """How an ONNX model is compiled for the CPU: ``precision`` ``"f32"``/``"bf16"``
    (``INFERENCE_PRECISION_HINT``), ``hint`` ``"LATENCY"``/``"THROUGHPUT"`` (``PERFORMANCE_HINT``),
    ``threads`` (``INFERENCE_NUM_THREADS``; ``None`` = OpenVINO's default, every core)."""

    precision: str = "bf16"
    hint: str = "LATENCY"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.precision not in OV_PRECISIONS:
            raise ValueError(
                f"unknown OpenVINO precision {self.precision!r}; valid: {', '.join(OV_PRECISIONS)}"
            )
        if self.hint not in OV_HINTS:
            raise ValueError(f"unknown OpenVINO performance hint {self.hint!r}; valid: {', '.join(OV_HINTS)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"OpenVINO threads must be ≥ 1 or None, got {self.threads}")

    @property
    def label(self) -> str:
        """Short name used in bench tables: ``openvino-bf16-latency`` (``-t2`` with threads)."""
        t = f"-t{self.threads}" if self.threads else ""
        return f"openvino-{self.precision}-{self.hint.lower()}{t}"

    def properties(self) -> dict[str, Any]:
        """The ``compile_model`` configuration."""
        props: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": self.precision,
            "PERFORMANCE_HINT": self.hint,
        }
        if self.threads:
            props["INFERENCE_NUM_THREADS"] = int(self.threads)
        return props

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def available() -> bool:
    """True when the ``openvino`` package can be imported."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str | None:
    """OpenVINO's version, or ``None`` when it is not installed."""
    try:
        import openvino as ov
    except ImportError:
        return None
    return str(ov.__version__)


def _core() -> Any:
    try:
        import openvino as ov
    except ImportError as exc:  # optional dependency
        raise ValueError("the openvino backend needs OpenVINO: pip install 'ssrdepth[openvino]'") from exc
    return ov.Core()


def native_precisions() -> tuple[str, ...]:
    """What OpenVINO's CPU plugin reports it can run natively here (``OPTIMIZATION_CAPABILITIES``,
    e.g. ``("BF16", "FP32", "INT8", ...)``)."""
    return tuple(str(c) for c in _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def compile_onnx(model: str | os.PathLike[str] | bytes, settings: OpenVINOSettings | None = None) -> Any:
    """Read an ONNX model (a file or its serialised bytes) and compile it for the CPU.

    Raises:
        ValueError: OpenVINO is not installed, or ``bf16`` was asked for on a CPU without it.
        FileNotFoundError: ``model`` names a file that does not exist.
    """
    s = settings or OpenVINOSettings()
    core = _core()
    if s.precision == "bf16" and "BF16" not in native_precisions():
        raise ValueError(
            "OpenVINO precision 'bf16' needs a CPU with native bf16 (AMX-BF16 or AVX-512 BF16); "
            "this CPU has neither: use precision 'f32'"
        )
    if isinstance(model, bytes):
        ov_model = core.read_model(model=model, weights=b"")
    else:
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file")
        ov_model = core.read_model(model=str(path))
    compiled = core.compile_model(ov_model, "CPU", s.properties())
    logger.debug("compiled ONNX model for OpenVINO CPU with %s", s.properties())
    return compiled


def runner(compiled: Any) -> Runner:
    """``run(batch)``: ``(N, C, H, W)`` float32 in [0, 1] → ``(N, 1, H, W)`` float32 normalised maps.
    One infer request per calling thread (an infer request is not thread-safe; each is reused, so
    OpenVINO keeps its buffers between calls)."""
    local = threading.local()

    def run(batch: np.ndarray) -> np.ndarray:
        request = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)

    return run


def openvino_precision(precision: str) -> str:
    """Our precision name → OpenVINO's ``INFERENCE_PRECISION_HINT`` (``bf16`` only where OpenVINO
    reports native bf16 on this CPU, else ``f32``)."""
    if precision == "bf16" and "BF16" in native_precisions():
        return "bf16"
    return "f32"


def build(req: RunnerRequest) -> BuiltRunner:
    """The registry's factory (:data:`ssrdepth.inference.backends.REGISTRY`): compile ``req``'s ONNX
    export with ``req.settings`` (default: the LATENCY hint in the precision OpenVINO runs natively).

    Raises:
        ValueError: a device other than the CPU, no ONNX export given, or OpenVINO is not installed.
    """
    if req.device != "cpu":
        raise ValueError("the openvino backend runs on the CPU here: use --device cpu")
    settings = req.settings or OpenVINOSettings(openvino_precision(req.precision), "LATENCY", req.threads)
    run = runner(compile_onnx(req.onnx(), settings))
    used = "int8" if req.int8 else ("bf16" if settings.precision == "bf16" else "fp32")
    return BuiltRunner(run, "cpu", used, settings.to_dict())


def candidates(req: RunnerRequest) -> dict[str, RunnerFactory]:
    """``{label: factory}`` of the settings ``auto`` measures: f32 (and bf16 where ``req.precision`` is
    bf16 and native here) × both performance hints, in that order."""
    model = req.onnx()
    precisions = ["f32"] + (["bf16"] if openvino_precision(req.precision) == "bf16" else [])
    cands: dict[str, RunnerFactory] = {}
    for p in precisions:
        for hint in OV_HINTS:
            s = OpenVINOSettings(p, hint, req.threads)
            cands[s.label] = _factory(model, s)
    return cands


def _factory(model: OnnxModel, settings: OpenVINOSettings) -> RunnerFactory:
    return lambda: runner(compile_onnx(model, settings))


def describe(rest: str) -> tuple[str, dict[str, Any]]:
    """The part of an ``auto`` label after ``openvino-`` → ``(precision, settings)``, e.g.
    ``"bf16-latency-t2"`` → ``("bf16", {"hint": "LATENCY"})``."""
    prec, _, hint = rest.partition("-")
    hint = hint.split("-t")[0]
    return prec.replace("f32", "fp32"), {"hint": hint.upper()}


def candidate_settings(threads: int | None = None) -> list[OpenVINOSettings]:
    """The settings :func:`choose_settings` compares on the running CPU: both hints in f32, and in
    bf16 where OpenVINO reports native bf16."""
    precisions = ("bf16", "f32") if available() and "BF16" in native_precisions() else ("f32",)
    return [OpenVINOSettings(p, h, threads) for p in precisions for h in OV_HINTS]


def time_runners(
    runners: dict[str, Runner],
    batch: np.ndarray,
    repeats: int = 5,
    warmup: int = 2,
) -> dict[str, float]:
    """Median seconds per call of each runner on ``batch``, the runners interleaved round-robin so
    that load from other processes hits them alike (one untimed settling call per round):
    :func:`ssrdepth.core.timing.interleaved_medians` with ``settle=1``."""
    fns = {name: functools.partial(run, batch) for name, run in runners.items()}
    return interleaved_medians(fns, repeats, warmup, settle=1)


def choose_settings(
    model: str | os.PathLike[str] | bytes,
    batches: Sequence[np.ndarray],
    candidates: Sequence[OpenVINOSettings] | None = None,
    repeats: int = 5,
) -> tuple[OpenVINOSettings, dict[str, dict[str, float]]]:
    """Measure every candidate setting on each batch (interleaved) and return the one with the
    lowest sum over the batches of its time relative to the best (:func:`ssrdepth.core.timing.ratio_score`:
    batch 1 and batch 40 weigh alike), and the table ``{label: {"b<N>_ms": ...}}``."""
    cands = list(candidates) if candidates is not None else candidate_settings()
    runners = {s.label: runner(compile_onnx(model, s)) for s in cands}
    table: dict[str, dict[str, float]] = {s.label: {} for s in cands}
    ratios: list[dict[str, float]] = []
    for batch in batches:
        med = time_runners(runners, batch, repeats)
        for label, sec in med.items():
            table[label][f"b{batch.shape[0]}_ms"] = sec * 1e3
        ratios.append(ratios_to_best(med))
    best = best_of(ratio_score(ratios) or dict.fromkeys(table, 0.0))
    chosen = next(s for s in cands if s.label == best)
    logger.info(
        "OpenVINO settings measured here: %s, the fastest; ms at batch %s: %s",
        chosen.label,
        " / ".join(str(b.shape[0]) for b in batches),
        ", ".join(f"{k} " + " / ".join(f"{ms:.2f}" for ms in v.values()) for k, v in table.items()),
    )
    return chosen, table


__all__ = [
    "OV_HINTS",
    "OV_PRECISIONS",
    "OpenVINOSettings",
    "available",
    "build",
    "candidate_settings",
    "candidates",
    "choose_settings",
    "compile_onnx",
    "describe",
    "native_precisions",
    "openvino_precision",
    "runner",
    "time_runners",
    "version",
]
