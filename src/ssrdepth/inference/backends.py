"""The inference backends: the one registry of how a backend is built, where it runs and whether
``auto`` may choose it.

A runner (:data:`Runner`) maps ``(N, C, H, W)`` float32 images in [0, 1] to ``(N, 1, H, W)`` float32
normalised maps; every backend makes one. :data:`REGISTRY` declares each backend once, as data
(:class:`Backend`): its name, its *family* (what it runs: ``"torch"`` the PyTorch module, ``"onnx"``
the ONNX export), whether ``--backend auto`` may choose it, the device kinds it runs on, and its
factories. Prediction (:func:`build_runner`), ``auto`` (:func:`auto_candidates`,
:mod:`ssrdepth.inference.autoselect`) and ``ssrdepth bench`` (:mod:`ssrdepth.experiments.bench`) read
it; adding a backend is one row here plus the backend's own module.

=============== ============================================================= =====================
backend         what runs                                                     precision
=============== ============================================================= =====================
``torch``       eager PyTorch, channels-last on CPU                           fp32, or bf16 autocast
``onnxruntime`` the ONNX export, ONNX Runtime (all graph optimisations)       fp32 (INT8 for a QDQ file)
``openvino``    the ONNX export compiled by OpenVINO (``[openvino]`` extra)   f32 or bf16 hint
=============== ============================================================= =====================

``auto`` (:func:`auto_candidates`): every auto-eligible backend installed here, each in the precisions
the machine runs natively (bf16 only with native bf16, :func:`ssrdepth.core.hardware.resolve_precision`),
and OpenVINO under both performance hints; :mod:`ssrdepth.inference.autoselect` checks each against eager
float32 (:func:`parity_error`) and picks the fastest.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ssrdepth.inference import openvino_backend as ovb
from ssrdepth.inference.onnx import onnx_session
from ssrdepth.inference.openvino_backend import openvino_precision
from ssrdepth.inference.runner import BuiltRunner, OnnxModel, Runner, RunnerFactory, RunnerRequest

if TYPE_CHECKING:  # torch is optional: ONNX files run without it
    import torch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backend:
    """One inference backend, declared once.

    ``title``: the runtime's own name, for messages; ``family``: ``"torch"`` (needs :attr:`RunnerRequest.net`) or ``"onnx"`` (needs
    :attr:`RunnerRequest.onnx_model`); ``auto``: ``--backend auto`` may choose it; ``devices``: the
    device kinds it runs on; ``requires``: the importable module it needs and ``install`` how to get it;
    ``build``: the factory; ``candidates``: ``{label: factory}`` of the variants ``auto`` measures on
    the CPU (labels start with the backend's name and a dash); ``describe``: the rest of such a label →
    ``(precision, settings)``.
    """

    name: str
    title: str
    family: str
    auto: bool
    devices: tuple[str, ...]
    requires: str
    install: str
    build: Callable[[RunnerRequest], BuiltRunner]
    candidates: Callable[[RunnerRequest], dict[str, RunnerFactory]]
    describe: Callable[[str], tuple[str, dict[str, Any]]]

    def available(self) -> bool:
        """True when the module this backend needs can be imported."""
        return _importable(self.requires)


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# torch: eager PyTorch


def torch_runner(
    net: torch.nn.Module, device: torch.device, channels_last: bool, bf16: bool = False
) -> Runner:
    """Eager PyTorch under ``torch.inference_mode``, through the shared forward recipe
    (:mod:`ssrdepth.runtime.forward`: the input in the memory format, the network under the autocast);
    ``bf16``: autocast to bfloat16 (the output is returned as float32)."""
    import torch

    from ssrdepth.runtime.forward import forward, memory_format, model_input

    fmt = memory_format(channels_last)
    dtype = torch.bfloat16 if bf16 else None

    def run(batch: np.ndarray) -> np.ndarray:
        x = model_input(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)), device, fmt)
        with torch.inference_mode():
            y = forward(net, x, dtype)
        return np.ascontiguousarray(y.float().cpu().numpy())

    return run


def _torch_build(req: RunnerRequest) -> BuiltRunner:
    import torch

    dev = torch.device(req.device)
    net = req.module().to(dev)
    if req.channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    bf16 = req.precision == "bf16"
    run = torch_runner(net, dev, req.channels_last, bf16=bf16)
    return BuiltRunner(run, dev.type, req.precision, module=net)


def _torch_candidates(req: RunnerRequest) -> dict[str, RunnerFactory]:
    import torch

    cpu = torch.device("cpu")
    cl = req.module().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    cands: dict[str, RunnerFactory] = {"torch-fp32": lambda: torch_runner(cl, cpu, True)}
    if req.precision == "bf16":
        cands["torch-bf16"] = lambda: torch_runner(cl, cpu, True, bf16=True)
    return cands


def _plain_describe(rest: str) -> tuple[str, dict[str, Any]]:
    return rest or "fp32", {}


# --------------------------------------------------------------------------------------------------
# onnxruntime: ONNX Runtime


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


def _ort_build(req: RunnerRequest) -> BuiltRunner:
    session = onnx_session(req.onnx(), req.device, req.threads)
    return BuiltRunner(onnx_runner(session), ort_device(session), "int8" if req.int8 else "fp32")


def _ort_candidates(req: RunnerRequest) -> dict[str, RunnerFactory]:
    model = req.onnx()
    return {"onnxruntime-fp32": lambda: onnx_runner(onnx_session(model, "cpu", req.threads))}


# --------------------------------------------------------------------------------------------------
# the registry

#: Every inference backend, in the order ``auto`` lists its candidates. A backend in a module of its own
#: (OpenVINO: :mod:`ssrdepth.inference.openvino_backend`) gives its ``build``, ``candidates`` and
#: ``describe`` from there; eager PyTorch and ONNX Runtime are built above.
REGISTRY: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend(
            "torch",
            title="PyTorch",
            family="torch",
            auto=True,
            devices=("cpu", "cuda"),
            requires="torch",
            install="pip install torch",
            build=_torch_build,
            candidates=_torch_candidates,
            describe=_plain_describe,
        ),
        Backend(
            "onnxruntime",
            title="ONNX Runtime",
            family="onnx",
            auto=True,
            devices=("cpu", "cuda"),
            requires="onnxruntime",
            install="pip install 'ssrdepth[onnx]'",
            build=_ort_build,
            candidates=_ort_candidates,
            describe=_plain_describe,
        ),
        Backend(
            "openvino",
            title="OpenVINO",
            family="onnx",
            auto=True,
            devices=("cpu",),
            requires="openvino",
            install="pip install 'ssrdepth[openvino]'",
            build=ovb.build,
            candidates=ovb.candidates,
            describe=ovb.describe,
        ),
    )
}
#: Backends a user can name (``auto`` measures and picks one of the others).
BACKENDS = ("auto", *REGISTRY)


def get_backend(name: str) -> Backend:
    """The registry's entry for ``name``.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}") from None


def build_runner(name: str, request: RunnerRequest) -> BuiltRunner:
    """Build backend ``name``'s runner for ``request`` (:attr:`Backend.build`).

    Raises:
        ValueError: unknown backend, a device it does not run on (OpenVINO: CPU only), or the wrong
            model family (a torch backend without a module, an ONNX backend without an export).
        MissingDependency (an ImportError): the backend's package is not installed.
    """
    return get_backend(name).build(request)


def auto_candidates(
    onnx_model: OnnxModel | None,
    *,
    net: torch.nn.Module | None,
    precision: str,
    threads: int | None = None,
) -> dict[str, RunnerFactory]:
    """``{label: factory}`` of every backend ``auto`` should try on the CPU: each auto-eligible, installed
    backend of the registry whose model is given (``net`` for the torch family, ``onnx_model`` for the
    onnx family), in the order of :data:`REGISTRY` — eager PyTorch in fp32 (and bf16 when ``precision``
    is ``bf16``), ONNX Runtime, and OpenVINO in each precision × performance hint. ``precision`` is the
    resolved one (``fp32`` or ``bf16``)."""
    req = RunnerRequest(net=net, onnx_model=onnx_model, precision=precision, threads=threads)
    given = {"torch": net is not None, "onnx": onnx_model is not None}
    cands: dict[str, RunnerFactory] = {}
    for backend in REGISTRY.values():
        if not backend.auto or "cpu" not in backend.devices or not given[backend.family]:
            continue
        if not backend.available():
            continue
        cands.update(backend.candidates(req))
    return cands


def describe_choice(label: str) -> tuple[str, str, dict[str, Any]]:
    """An ``auto`` candidate label → ``(backend, precision, settings)``, e.g.
    ``"openvino-bf16-latency"`` → ``("openvino", "bf16", {"hint": "LATENCY"})``."""
    family, _, rest = label.partition("-")
    backend = REGISTRY.get(family)
    precision, settings = backend.describe(rest) if backend is not None else _plain_describe(rest)
    return family, precision, settings


def parity_error(run: Callable[[np.ndarray], object], reference: np.ndarray, sample: np.ndarray) -> float:
    """Max abs difference (float64) of ``run(sample)`` from ``reference`` (the eager float32 maps of the
    same ``(N, C, H, W)`` sample): the parity check of ``auto`` and of ``bench``, in normalised [0, 1]."""
    return float(np.max(np.abs(np.asarray(run(sample), dtype=np.float64) - reference)))


def reference_maps(net: torch.nn.Module, sample: np.ndarray) -> np.ndarray:
    """The maps parity is measured against: eager float32 PyTorch on the CPU, contiguous."""
    import torch

    return torch_runner(net, torch.device("cpu"), False)(sample)


__all__ = [
    "BACKENDS",
    "REGISTRY",
    "Backend",
    "BuiltRunner",
    "OnnxModel",
    "Runner",
    "RunnerFactory",
    "RunnerRequest",
    "auto_candidates",
    "build_runner",
    "describe_choice",
    "get_backend",
    "has_onnxruntime",
    "onnx_runner",
    "openvino_precision",
    "ort_device",
    "parity_error",
    "reference_maps",
    "torch_runner",
]
