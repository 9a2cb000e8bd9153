"""The loaded model of ``ssrdepth predict`` — the one home of loading a checkpoint or an ONNX export
for prediction and of choosing the backend that runs it.

:func:`load_model` gives a :class:`DepthModel`: a checkpoint (``.pt``, or a training run folder) run by
eager PyTorch, or its ONNX export (``.onnx``, also an INT8 one) run by ONNX Runtime or OpenVINO, or
with ``backend="auto"`` the fastest installed backend that passes the parity check on this machine
(:mod:`ssrdepth.inference.autoselect`); ``None`` or ``"bundled"``: the model shipped in the package
(:mod:`ssrdepth.pretrained`). The backends themselves are :mod:`ssrdepth.inference.backends`'.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ssrdepth.core.checkpoint_files import resolve_checkpoint
from ssrdepth.core.hardware import resolve_precision
from ssrdepth.core.optional import require
from ssrdepth.core.scale import TargetScale
from ssrdepth.inference.backends import BACKENDS, RunnerRequest, build_runner, get_backend, torch_runner
from ssrdepth.inference.onnx import onnx_session, session_metadata
from ssrdepth.pretrained import bundled_checkpoint, describe_bundled, is_bundled

if TYPE_CHECKING:  # torch is optional: an ONNX file predicts with onnxruntime alone
    import torch

    from ssrdepth.models import DepthNet

logger = logging.getLogger(__name__)


@dataclass
class DepthModel:
    """A loaded model ready to run: ``run(batch)`` maps ``(N, C, H, W)`` float32 [0, 1] to
    ``(N, out_channels, H, W)`` float32: the normalised maps, then for a model with the trained
    uncertainty head (``out_channels`` 2) its log-scale ``s`` (split by
    :func:`ssrdepth.core.confidence.split_output`, in :func:`ssrdepth.inference.maps.predict_with_uncertainty`). ``target`` is the checkpoint's target dict (what the
    normalised output means); ``input_size`` is ``(H, W)`` as trained."""

    name: str
    in_channels: int
    input_size: tuple[int, int]
    target: dict[str, Any]
    source: Path
    backend: str
    device: str
    step: int
    run: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    module: torch.nn.Module | None = field(default=None, repr=False)
    #: ``fp32``, ``bf16`` (autocast / OpenVINO's bf16 hint) or ``int8`` (a quantised export).
    precision: str = "fp32"
    #: Backend settings (OpenVINO's hint) and, for ``auto``, the measured table it chose from.
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    #: 1, or 2 for a network with the trained uncertainty head (the ``uncertainty`` model option).
    out_channels: int = 1

    @property
    def has_head(self) -> bool:
        """Whether the model has the trained uncertainty output (else uncertainty is the flip's)."""
        return self.out_channels == 2

    @property
    def scale(self) -> TargetScale | None:
        """The physical meaning of the output, or ``None`` when the checkpoint only says "normalised"."""
        return TargetScale.from_target(self.target)

    @property
    def native_quantity(self) -> str:
        """``"disparity"``, ``"depth"`` or ``"normalised"``: what the network predicts."""
        scale = self.scale
        return scale.kind if scale is not None else "normalised"

    @property
    def reference_width(self) -> int:
        """Width (px) at which a disparity target's ``max_value`` and ``focal`` hold."""
        scale = self.scale
        return scale.width(self.input_size[1]) if scale is not None else self.input_size[1]


def _has_module(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def resolve_device(device: str) -> torch.device:
    """The device of a PyTorch checkpoint's prediction: the one rule of
    :func:`ssrdepth.runtime.resolve_device` (``"auto"`` → CUDA when available, else the CPU), reached
    only once torch is known to be installed (an ONNX file predicts without it).

    Raises:
        ValueError: CUDA asked for where there is none (or a CUDA index beyond the devices here).
    """
    require("torch", "prediction from a PyTorch checkpoint (.pt)")
    from ssrdepth.runtime.device import resolve_device as runtime_device

    return runtime_device(device)


def _device_type(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` for an ONNX Runtime session, without importing torch (``"auto"`` →
    CUDA when ONNX Runtime has its CUDA provider)."""
    if device == "auto":
        ort = require("onnxruntime", "prediction from an ONNX file")
        return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"
    kind = device.split(":")[0]
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N, auto")
    return kind


def load_model(
    path: str | os.PathLike[str] | None = None,
    *,
    backend: str = "auto",
    device: str = "cpu",
    channels_last: bool = True,
    threads: int | None = None,
    precision: str = "auto",
    batch_size: int = 8,
    remeasure: bool = False,
) -> DepthModel:
    """Load a checkpoint (``.pt``) or an ONNX export (``.onnx``, also an INT8 one) for prediction.

    Args:
        path: a checkpoint written by :func:`ssrdepth.checkpoint.save_checkpoint` (or a training run
            folder: its ``best.pt``, else ``latest.pt``), or an ONNX file
            written by ``ssrdepth export`` / ``ssrdepth quantize`` (it carries the same metadata). An
            ONNX file needs only onnxruntime (the ``[onnx]`` extra) or OpenVINO (``[openvino]``): no
            torch, no ``onnx`` package. ``None`` (the default) or the string ``"bundled"``: the model
            shipped inside the package (:func:`ssrdepth.pretrained.bundled_checkpoint`, its sha256
            checked against its card), named in the log; ``Path("bundled")`` is a file of that name.
        backend: ``"torch"`` (eager PyTorch), ``"onnxruntime"``, ``"openvino"``, or ``"auto"``: on
            CPU, the fastest installed backend that passes the parity check against float32 on this
            machine, measured once per model file and machine and then cached
            (:mod:`ssrdepth.inference.autoselect`); eager PyTorch on CUDA. With a checkpoint, the
            ONNX-based backends use the export ``CHECKPOINT.onnx`` beside it if it was made from this
            checkpoint (same name and step) and is newer, else export in memory (~1 s; needs the
            ``[export]`` extra, so ``"auto"`` measures only PyTorch where ``onnx`` is missing).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``.
        channels_last: run PyTorch in NHWC memory format (measured 1.3–1.6× faster on CPU; BENCHMARKS.md).
        threads: intra-op threads (PyTorch's, ONNX Runtime's, OpenVINO's); ``None`` keeps the default.
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"``. With ``backend="auto"``, ``"auto"`` lets the
            bf16 candidates compete where the hardware runs bf16 natively (CUDA, or a CPU with AMX-BF16 /
            AVX-512 BF16: :func:`ssrdepth.core.hardware.resolve_precision`); with a named backend,
            ``"auto"`` means fp32 (a named backend gives reproducible float32 maps) unless ``"bf16"``
            is asked for. ONNX Runtime runs fp32 (an INT8 file as INT8).
        batch_size: the batch ``auto`` times besides batch 1 (the prediction batch).
        remeasure: ``auto`` measures again instead of using its cache.

    Raises:
        FileNotFoundError: no such file. NoBundledModel (a FileNotFoundError): the bundled model was
        asked for and this ssrdepth ships none ("this ssrdepth ships no pretrained model (…); give a
        checkpoint: …"). ValueError: not one of our checkpoints or exports, bundled weights that do
        not match their card, or an unknown backend. MissingDependency (an ImportError): the package
        this path needs is not installed; the message names the extra to install.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if is_bundled(path):
        p = bundled_checkpoint()
        given = "" if path is not None else "no checkpoint given: "
        logger.info("%susing the bundled model %s", given, describe_bundled())
    else:
        assert path is not None
        p = resolve_checkpoint(path)
    if backend != "auto" and precision == "auto":
        precision = "fp32"
    opts = _LoadOptions(backend, channels_last, threads, batch_size, remeasure)
    if p.suffix.lower() == ".onnx":
        dtype = _device_type(device)
        return _load_onnx(p, dtype, resolve_precision(precision, dtype), opts)
    return _load_checkpoint(p, device, precision, opts)


@dataclass(frozen=True)
class _LoadOptions:
    backend: str
    channels_last: bool
    threads: int | None
    batch_size: int
    remeasure: bool


def _load_onnx(p: Path, device_type: str, prec: str, opts: _LoadOptions) -> DepthModel:
    """An ssrdepth ONNX export (float32 or INT8); metadata read through ONNX Runtime when installed."""
    from ssrdepth.inference.quantize import INT8_META_KEY

    if opts.backend == "torch":
        raise ValueError(f"{p}: an ONNX file runs on onnxruntime or openvino, not torch; pass the checkpoint")
    session = onnx_session(p, device_type, opts.threads)  # also reads the metadata (no onnx package)
    meta = session_metadata(session, p)
    int8 = INT8_META_KEY in dict(session.get_modelmeta().custom_metadata_map)
    common: dict[str, Any] = {
        "name": str(meta["model"]["name"]),
        "in_channels": int(meta["model"]["in_channels"]),
        "input_size": (int(meta["input_size"][0]), int(meta["input_size"][1])),
        "target": dict(meta.get("target", {})),
        "source": p,
        "device": device_type,
        "step": int(meta.get("step", 0)),
        "out_channels": 2 if dict(meta["model"].get("options", {})).get("uncertainty") else 1,
    }
    if opts.backend == "auto" and device_type == "cpu":
        return _auto(common, p, None, prec, opts, int8=int8)
    backend = "onnxruntime" if opts.backend == "auto" else opts.backend
    return _onnx_backend(common, backend, p, device_type, prec, opts.threads, int8=int8)


def _export_beside(p: Path, step: int) -> Path | None:
    """``CHECKPOINT.onnx`` beside the checkpoint when it was exported from this very file: its metadata
    holds the checkpoint's step and the SHA-256 of its bytes (a checkpoint retrained or replaced under
    the same name and step differs there; an export without the hash, from an older ssrdepth, is not
    trusted); else ``None``, with a log line saying why the file beside is passed over."""
    from ssrdepth.core.io import file_sha256

    beside = p.with_suffix(".onnx")
    if not beside.is_file():
        return None
    try:
        stored = session_metadata(onnx_session(beside), beside)
    except ValueError:
        return None
    if stored.get("step") == step and stored.get("checkpoint_sha256") == file_sha256(p):
        return beside
    logger.info(
        "%s was not exported from %s as it is now (%s); exporting in memory instead "
        "(re-export with: ssrdepth export %s)",
        beside,
        p.name,
        "no record of the checkpoint's SHA-256"
        if not stored.get("checkpoint_sha256")
        else "another step or SHA-256",
        p,
    )
    return None


def _load_checkpoint(p: Path, device: str, precision: str, opts: _LoadOptions) -> DepthModel:
    torch = require("torch", f"{p}: prediction from a PyTorch checkpoint (.pt)")
    from ssrdepth.checkpoint import load_checkpoint

    dev = resolve_device(device)
    prec = resolve_precision(precision, dev.type)
    ckpt = load_checkpoint(p)
    net = ckpt.build_model().eval()
    if opts.threads and dev.type == "cpu":
        torch.set_num_threads(opts.threads)
    backend = opts.backend
    if backend == "auto" and dev.type != "cpu":
        backend = "torch"
    common: dict[str, Any] = {
        "name": ckpt.model.name,
        "in_channels": ckpt.model.in_channels,
        "input_size": ckpt.input_size,
        "target": dict(ckpt.target),
        "source": p,
        "device": dev.type,
        "step": ckpt.step,
        "out_channels": int(net.out_channels),
    }
    if backend != "auto" and get_backend(backend).family == "torch":
        req = RunnerRequest(net=net, device=str(dev), precision=prec, channels_last=opts.channels_last)
        built = build_runner(backend, req)
        return DepthModel(**common, backend=backend, run=built.run, module=built.module, precision=prec)
    source = _checkpoint_onnx(p, ckpt, net, required=backend != "auto")
    if backend == "auto":
        return _auto(common, source, net, prec, opts, cache_key=p)
    assert source is not None
    return _onnx_backend(common, backend, source, dev.type, prec, opts.threads)


def _checkpoint_onnx(p: Path, ckpt: Any, net: DepthNet, required: bool) -> Path | bytes | None:
    """The export beside the checkpoint when it is current, else an in-memory export (``None`` when
    the ``onnx`` package for that is missing and ``required`` is false)."""
    beside = _export_beside(p, ckpt.step) if _has_module("onnxruntime") else None
    if beside is not None:
        return beside
    if not _has_module("onnx"):
        if not required:
            return None
        require("onnx", f"{p}: running a checkpoint through its ONNX export (made in memory)")
    from ssrdepth.inference.export import in_memory_onnx
    from ssrdepth.inference.onnx import onnx_metadata

    return in_memory_onnx(net, ckpt.input_size, onnx_metadata(ckpt))


def _onnx_backend(
    common: dict[str, Any],
    backend: str,
    onnx_model: Path | bytes,
    device_type: str,
    prec: str,
    threads: int | None,
    int8: bool = False,
) -> DepthModel:
    """ONNX Runtime or OpenVINO on an ONNX model (file or bytes), built by the backend registry."""
    request = RunnerRequest(
        onnx_model=onnx_model, device=device_type, precision=prec, threads=threads, int8=int8
    )
    built = build_runner(backend, request)
    return DepthModel(
        **{**common, "device": built.device},
        backend=backend,
        run=built.run,
        precision=built.precision,
        settings=built.settings,
    )


def _auto(
    common: dict[str, Any],
    onnx_model: Path | bytes | None,
    net: DepthNet | None,
    prec: str,
    opts: _LoadOptions,
    *,
    int8: bool = False,
    cache_key: Path | None = None,
) -> DepthModel:
    """Measure (or read from the cache) the fastest CPU backend passing parity, and build it. The
    reference is eager float32 PyTorch for a checkpoint, ONNX Runtime (else OpenVINO f32) for a file."""
    from ssrdepth.inference.autoselect import CACHE_FILE, cache_dir, choose_backend
    from ssrdepth.inference.backends import auto_candidates, describe_choice

    cands = auto_candidates(onnx_model, net=net, precision=prec, threads=opts.threads)
    if not cands:
        raise ValueError(
            f"{common['source']}: no inference backend is installed: pip install 'ssrdepth[onnx]'"
        )
    if net is not None:
        ref_net = net

        def reference() -> Callable[[np.ndarray], np.ndarray]:
            import torch

            return torch_runner(ref_net, torch.device("cpu"), False)

    else:
        ref_label = "onnxruntime-fp32" if "onnxruntime-fp32" in cands else next(iter(cands))

        def reference() -> Callable[[np.ndarray], np.ndarray]:
            return cands[ref_label]()

    h, w = common["input_size"]
    sample = np.random.default_rng(0).random((2, common["in_channels"], h, w), dtype=np.float32)
    source = cache_key or common["source"]
    choice = choose_backend(
        source,
        cands,
        reference,
        sample,
        opts.batch_size,
        threads=opts.threads,
        repeats=3,
        remeasure=opts.remeasure,
    )
    backend, used, settings = describe_choice(choice.backend)
    logger.info("%s%s", choice.summary(str(cache_dir() / CACHE_FILE)), " (an INT8 model)" if int8 else "")
    return DepthModel(
        **{**common, "device": "cpu"},
        backend=backend,
        run=cands[choice.backend](),
        module=net if backend == "torch" else None,
        precision="int8" if int8 else used,
        settings={"auto": choice.to_dict(), **settings},
    )
