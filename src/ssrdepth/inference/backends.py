"""Runners for every inference backend, and the candidates ``--backend auto`` measures.

A runner maps ``(N, C, H, W)`` float32 images in [0, 1] to ``(N, 1, H, W)`` float32 normalised maps.

=============== ============================================================= =====================
backend         what runs                                                     precision
=============== ============================================================= =====================
``torch``       eager PyTorch, channels-last on CPU                           fp32, or bf16 autocast
``onnxruntime`` the ONNX export, ONNX Runtime (all graph optimisations)       fp32 (INT8 for a QDQ file)
``openvino``    the ONNX export compiled by OpenVINO (``[openvino]`` extra)   f32 or bf16 hint
=============== ============================================================= =====================

``auto`` (:func:`auto_candidates`): every backend installed here, each in the precisions the machine
runs natively (bf16 only with native bf16, :func:`ssrdepth.core.hardware.resolve_precision`), and
OpenVINO under both performance hints; :mod:`ssrdepth.inference.autoselect` checks each against eager
float32 and picks the fastest.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ssrdepth.inference import openvino_backend as ovb
from ssrdepth.inference.onnx import onnx_session

if TYPE_CHECKING:  # torch is optional: ONNX files run without it
    import torch

log = logging.getLogger(__name__)

Runner = Callable[[np.ndarray], np.ndarray]
#: Backends a user can name (``auto`` measures and picks one of the others).
BACKENDS = ("auto", "torch", "onnxruntime", "openvino")


def torch_runner(
    net: torch.nn.Module, device: torch.device, channels_last: bool, bf16: bool = False
) -> Runner:
    """Eager PyTorch under ``torch.inference_mode``; ``bf16``: autocast to bfloat16 (the output is
    returned as float32)."""
    import torch

    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def run(batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
        x = x.contiguous(memory_format=fmt)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            y = net(x)
        return np.ascontiguousarray(y.float().cpu().numpy())

    return run


def onnx_runner(session: Any) -> Runner:
    """An ONNX Runtime session as a runner."""
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {name: np.ascontiguousarray(batch, dtype=np.float32)})[0])

    return run


def has_onnxruntime() -> bool:
    """True when onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def ort_device(session: Any) -> str:
    """Where an ONNX Runtime session really runs (CPU when no CUDA provider could be used)."""
    return "cuda" if "CUDAExecutionProvider" in session.get_providers() else "cpu"


def openvino_precision(precision: str) -> str:
    """Our precision name → OpenVINO's ``INFERENCE_PRECISION_HINT`` (``bf16`` only where OpenVINO
    reports native bf16 on this CPU, else ``f32``)."""
    if precision == "bf16" and "BF16" in ovb.native_precisions():
        return "bf16"
    return "f32"


def auto_candidates(
    onnx_model: bytes | str | os.PathLike[str] | None,
    *,
    net: torch.nn.Module | None,
    precision: str,
    threads: int | None = None,
) -> dict[str, Callable[[], Runner]]:
    """``{label: factory}`` of every backend ``auto`` should try on the CPU: eager PyTorch in fp32
    (and bf16 when ``precision`` is ``bf16``) when ``net`` is given, ONNX Runtime, and OpenVINO in each
    precision × performance hint (when ``onnx_model`` is given). ``precision`` is the resolved one
    (``fp32`` or ``bf16``)."""
    cands: dict[str, Callable[[], Runner]] = {}
    if net is not None:
        import torch

        cpu = torch.device("cpu")
        cl = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        cands["torch-fp32"] = lambda: torch_runner(cl, cpu, True)
        if precision == "bf16":
            cands["torch-bf16"] = lambda: torch_runner(cl, cpu, True, bf16=True)
    if onnx_model is None:  # no export (the onnx package is missing): PyTorch only
        return cands
    if has_onnxruntime():
        cands["onnxruntime-fp32"] = lambda: onnx_runner(onnx_session(onnx_model, "cpu", threads))
    if ovb.available():
        precisions = ["f32"] + (["bf16"] if openvino_precision(precision) == "bf16" else [])
        for p in precisions:
            for hint in ovb.OV_HINTS:
                s = ovb.OpenVINOSettings(p, hint, threads)
                cands[s.label] = _openvino_factory(onnx_model, s)
    return cands


def _openvino_factory(
    onnx_model: bytes | str | os.PathLike[str], settings: ovb.OpenVINOSettings
) -> Callable[[], Runner]:
    return lambda: ovb.runner(ovb.compile_onnx(onnx_model, settings))


def describe_choice(label: str) -> tuple[str, str, dict[str, Any]]:
    """An ``auto`` candidate label → ``(backend, precision, settings)``, e.g.
    ``"openvino-bf16-latency"`` → ``("openvino", "bf16", {"hint": "LATENCY"})``."""
    family, _, rest = label.partition("-")
    if family == "openvino":
        prec, _, hint = rest.partition("-")
        hint = hint.split("-t")[0]
        return "openvino", prec.replace("f32", "fp32"), {"hint": hint.upper()}
    return family, rest or "fp32", {}


__all__ = [
    "BACKENDS",
    "Runner",
    "auto_candidates",
    "describe_choice",
    "has_onnxruntime",
    "onnx_runner",
    "openvino_precision",
    "ort_device",
    "torch_runner",
]
