"""``ssrdepth predict``: depth or disparity maps for images, folders, globs and videos.

The Python API is the command: :func:`load_model` gives a :class:`DepthModel` (a checkpoint run by
PyTorch, or its ONNX export run by ONNX Runtime; ``None`` or ``"bundled"``: the model shipped in the
package, :mod:`ssrdepth.pretrained`), :func:`predict` maps one image to one map, :func:`predict_batch`
several, and :func:`predict_files` is the whole command (files in, files out).

Pre-processing is the training pipeline's (:mod:`ssrdepth.core.image`): RGB → grey by BT.601 luma
when the model is grey, resize to the checkpoint's ``input_size`` (area averaging when shrinking,
bilinear when enlarging), [0, 1] floats. The model's ``(h, w)`` output is resized bilinearly back to
the image's size and then converted to the requested quantity:

- ``normalised``: the network output in [0, 1];
- ``disparity`` (px at the **image's** width): ``normalised × max_value × W_image / reference_width``
  (disparity is proportional to image width; ``reference_width`` is the width at which the
  checkpoint's ``max_value`` was measured, the model's input width when the checkpoint does not say);
- ``depth`` (m): ``normalised × max_value`` for depth targets, ``focal × baseline / disparity`` for
  disparity targets (``focal`` in px at the image's width).
"""

from __future__ import annotations

import glob
import importlib
import itertools
import logging
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ssrdepth import __version__
from ssrdepth.core.checkpoint_files import names_checkpoint, resolve_checkpoint
from ssrdepth.core.hardware import resolve_precision
from ssrdepth.core.image import BadSampleError, image_size, prepare_image, read_image
from ssrdepth.core.optional import require
from ssrdepth.core.scale import TargetScale
from ssrdepth.inference import openvino_backend as ovb
from ssrdepth.inference.backends import (
    BACKENDS,
    onnx_runner,
    openvino_precision,
    ort_device,
    torch_runner,
)
from ssrdepth.inference.onnx import onnx_session, session_metadata
from ssrdepth.inference.outputs import (
    OUTPUT_KINDS,
    UNITS,
    SideBySideWriter,
    colorize,
    depth_to_points,
    value_range,
    write_color_png,
    write_npy,
    write_pfm,
    write_ply,
    write_png16,
)
from ssrdepth.pretrained import BUNDLED, bundled_checkpoint, describe_bundled, is_bundled

if TYPE_CHECKING:  # torch is optional: an ONNX file predicts with onnxruntime alone
    import torch

    from ssrdepth.models import DepthNet

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
QUANTITIES = ("native", "normalised", "disparity", "depth")

#: Outputs written when ``--save`` is not given.
DEFAULT_IMAGE_OUTPUTS = ("png16", "color")
DEFAULT_VIDEO_OUTPUTS = ("video",)


# --------------------------------------------------------------------------------------------------
# the model


@dataclass
class DepthModel:
    """A loaded model ready to run: ``run(batch)`` maps ``(N, C, H, W)`` float32 [0, 1] to
    ``(N, 1, H, W)`` float32 normalised maps. ``target`` is the checkpoint's target dict (what the
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
    """``"auto"`` → CUDA when available, else CPU; a CUDA request without CUDA is an error."""
    torch = require("torch", "prediction from a PyTorch checkpoint (.pt)")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here")
    return dev


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
        log.info("%susing the bundled model %s", given, describe_bundled())
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
    }
    if opts.backend == "auto" and device_type == "cpu":
        return _auto(common, p, None, prec, opts, int8=int8)
    backend = "onnxruntime" if opts.backend == "auto" else opts.backend
    return _onnx_backend(common, backend, p, device_type, prec, opts.threads, int8=int8)


def _export_beside(p: Path, step: int) -> Path | None:
    """``CHECKPOINT.onnx`` beside the checkpoint when it was exported from it (same name and step) and
    is not older; else ``None``."""
    beside = p.with_suffix(".onnx")
    if not beside.is_file() or beside.stat().st_mtime < p.stat().st_mtime:
        return None
    try:
        stored = session_metadata(onnx_session(beside), beside)
    except ValueError:
        return None
    return beside if stored.get("checkpoint") == p.name and stored.get("step") == step else None


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
    }
    if backend == "torch":
        net = net.to(dev)
        if opts.channels_last:
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        run = torch_runner(net, dev, opts.channels_last, bf16=prec == "bf16")
        return DepthModel(**common, backend="torch", run=run, module=net, precision=prec)
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
    """ONNX Runtime or OpenVINO on an ONNX model (file or bytes)."""
    if backend == "openvino":
        if device_type != "cpu":
            raise ValueError("the openvino backend runs on the CPU here: use --device cpu")
        settings = ovb.OpenVINOSettings(openvino_precision(prec), "LATENCY", threads)
        run = ovb.runner(ovb.compile_onnx(onnx_model, settings))
        used = "int8" if int8 else ("bf16" if settings.precision == "bf16" else "fp32")
        return DepthModel(
            **{**common, "device": "cpu"},
            backend="openvino",
            run=run,
            precision=used,
            settings=settings.to_dict(),
        )
    session = onnx_session(onnx_model, device_type, threads)
    return DepthModel(
        **{**common, "device": ort_device(session)},
        backend="onnxruntime",
        run=onnx_runner(session),
        precision="int8" if int8 else "fp32",
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
    log.info("%s%s", choice.summary(str(cache_dir() / CACHE_FILE)), " (an INT8 model)" if int8 else "")
    return DepthModel(
        **{**common, "device": "cpu"},
        backend=backend,
        run=cands[choice.backend](),
        module=net if backend == "torch" else None,
        precision="int8" if int8 else used,
        settings={"auto": choice.to_dict(), **settings},
    )


# --------------------------------------------------------------------------------------------------
# images in, maps out


def resolve_quantity(model: DepthModel, quantity: str) -> str:
    """``"native"`` → what the model predicts; checks that the request can be served."""
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; valid: {', '.join(QUANTITIES)}")
    q = model.native_quantity if quantity == "native" else quantity
    if q != "normalised" and model.scale is None:
        raise ValueError(
            f"{model.source}: the checkpoint's target is {model.target!r}, not disparity or depth; "
            "only --quantity normalised is available"
        )
    if q == "disparity" and model.native_quantity == "depth":
        raise ValueError(f"{model.source}: a depth model cannot give disparity; use depth or normalised")
    return q


def _focal_baseline(
    model: DepthModel, width: int, focal: float | None, baseline: float | None
) -> tuple[float, float]:
    """Focal length (px at ``width``) and baseline (m): given, else from the checkpoint's target
    (:meth:`TargetScale.camera`); a ValueError naming the model and the options when one is missing."""
    scale = model.scale
    if scale is not None:
        focal, baseline = scale.camera(width, focal, baseline, default_width=model.input_size[1])
    if focal is None or baseline is None:
        raise ValueError(
            f"{model.source}: disparity → depth needs the focal length and baseline; the checkpoint "
            "has none, so give --focal PX (at the image's width) and --baseline M"
        )
    return float(focal), float(baseline)


def convert(
    model: DepthModel,
    normalised: np.ndarray,
    quantity: str,
    *,
    focal: float | None = None,
    baseline: float | None = None,
) -> np.ndarray:
    """A normalised ``(H, W)`` map at the image's size → ``quantity`` (see the module docstring).

    ``focal`` is in px at this map's width. Depth is 0 where the disparity is ≤ 1e-6 px (at infinity; :func:`~ssrdepth.core.scale.disparity_to_depth`).
    """
    q = resolve_quantity(model, quantity)
    if q == "normalised":
        return normalised.astype(np.float32, copy=False)
    scale = model.scale
    assert scale is not None  # resolve_quantity checked
    if q == "depth" and scale.kind == "disparity":  # the camera, or the error naming the options
        focal, baseline = _focal_baseline(model, normalised.shape[1], focal, baseline)
    return scale.to_quantity(normalised, q, focal=focal, baseline=baseline, default_width=model.input_size[1])


def predict_normalised(model: DepthModel, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Images (any sizes, see :func:`as_rgb`) → normalised ``(H_i, W_i)`` float32 maps, one per image,
    at each image's own size. Runs the model once on the whole batch."""
    if not images:
        return []
    h, w = model.input_size
    batch = np.stack([prepare_image(im, model.in_channels, (h, w)) for im in images])
    out = model.run(batch)
    maps = []
    for im, y in zip(images, out, strict=True):
        y2 = y[0]
        if y2.shape != im.shape[:2]:
            y2 = cv2.resize(y2, (im.shape[1], im.shape[0]), interpolation=cv2.INTER_LINEAR)
        maps.append(np.ascontiguousarray(y2, dtype=np.float32))
    return maps


def predict_batch(
    model: DepthModel,
    images: Sequence[np.ndarray | str | os.PathLike[str]],
    quantity: str = "native",
    *,
    focal: float | None = None,
    baseline: float | None = None,
) -> list[np.ndarray]:
    """Like :func:`predict` for several images at once (one forward pass)."""
    q = resolve_quantity(model, quantity)
    arrays = [read_image(Path(im)) if isinstance(im, (str, os.PathLike)) else im for im in images]
    return [convert(model, n, q, focal=focal, baseline=baseline) for n in predict_normalised(model, arrays)]


def predict(
    model: DepthModel,
    image: np.ndarray | str | os.PathLike[str],
    quantity: str = "native",
    *,
    focal: float | None = None,
    baseline: float | None = None,
) -> np.ndarray:
    """Predict one map at the image's own size.

    Args:
        model: from :func:`load_model`.
        image: ``(H, W[, 3])`` RGB uint8 / uint16 / float [0, 1], or an image file's path.
        quantity: ``"native"`` (what the checkpoint's target is: disparity px or depth m; normalised
            if it has no physical scale), ``"normalised"``, ``"disparity"`` (px at the image's width)
            or ``"depth"`` (m).
        focal, baseline: px at the image's width and m, for disparity → depth when the checkpoint
            lacks them.

    Returns:
        ``(H, W)`` float32 map.
    """
    return predict_batch(model, [image], quantity, focal=focal, baseline=baseline)[0]


def describe(
    model: DepthModel,
    quantity: str,
    image_size: tuple[int, int],
    source: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The metadata every output carries: what the map is, in which unit, from which model."""
    meta: dict[str, Any] = {
        "format": "ssrdepth-prediction",
        "ssrdepth_version": __version__,
        "quantity": quantity,
        "unit": UNITS[quantity],
        "model": model.name,
        "in_channels": model.in_channels,
        "checkpoint": str(model.source),
        "step": model.step,
        "backend": model.backend,
        "precision": model.precision,
        "input_size": list(model.input_size),
        "image_size": list(image_size),
        "normalised_target": model.target,
    }
    if model.native_quantity == "disparity":
        meta["reference_width"] = model.reference_width
        meta["disparity_width_scale"] = image_size[1] / model.reference_width
    if source is not None:
        meta["source"] = source
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def colour_map_name(cmap: str, quantity: str) -> str:
    """``cmap``, reversed for depth so that near is bright in every quantity (large depth = far)."""
    return cmap + ("_r" if quantity == "depth" and not cmap.endswith("_r") else "")


@dataclass
class MapResult:
    """One predicted map, finished (:func:`finish`): ``values`` ``(H, W)`` float32 in ``quantity``'s
    unit at the image's size; ``meta``, what every output of it carries (:func:`describe`, plus
    ``focal_px`` and ``baseline_m`` when depth comes from disparity); ``cmap``, the colour map that
    draws it (:func:`colour_map_name`)."""

    values: np.ndarray
    quantity: str
    meta: dict[str, Any]
    cmap: str

    @property
    def unit(self) -> str:
        return UNITS[self.quantity]

    def colour(self, vrange: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float]]:
        """``(H, W, 3)`` uint8 RGB of ``values`` over ``vrange`` (``None``: the 1st–99th percentile,
        :func:`~ssrdepth.inference.outputs.value_range`), and that range.

        Raises:
            ValueError: an unknown colour map. MissingDependency: one that needs matplotlib.
        """
        vmin, vmax = value_range(self.values) if vrange is None else vrange
        return colorize(self.values, self.cmap, vmin, vmax), (vmin, vmax)

    def write(
        self,
        base: Path,
        outputs: Sequence[str],
        vrange: tuple[float, float] | None = None,
        png16_meta: dict[str, Any] | None = None,
    ) -> list[Path]:
        """The map files among ``outputs`` (``png16``, ``npy``, ``pfm``, ``color``; others are not map
        files and are ignored) as ``BASE_QUANTITY.png`` / ``.npy`` / ``.pfm`` / ``_color.png``.
        ``vrange`` fixes the colour range (``None``: per image); ``png16_meta`` is added to the 16-bit
        PNG's metadata."""
        q, meta = self.quantity, self.meta
        written: list[Path] = []
        if "png16" in outputs:
            written.append(
                write_png16(
                    base.with_name(f"{base.name}_{q}.png"), self.values, q, {**meta, **(png16_meta or {})}
                )
            )
        if "npy" in outputs:
            written.append(write_npy(base.with_name(f"{base.name}_{q}.npy"), self.values, meta))
        if "pfm" in outputs:
            written.append(write_pfm(base.with_name(f"{base.name}_{q}.pfm"), self.values, meta))
        if "color" in outputs:
            path = base.with_name(f"{base.name}_{q}_color.png")
            written.append(write_color_png(path, self.values, meta, self.cmap, vrange))
        return written


def finish(
    model: DepthModel,
    normalised: np.ndarray,
    quantity: str = "native",
    *,
    focal: float | None = None,
    baseline: float | None = None,
    cmap: str = "magma",
    source: str | None = None,
    **extra: Any,
) -> MapResult:
    """A normalised ``(H, W)`` map at the image's size → the finished result every output is made
    from, in physical units: values in ``quantity`` (:func:`convert`; ``focal`` px at the image's
    width and ``baseline`` m override the checkpoint's camera), metadata (:func:`describe` with
    ``source`` and ``extra``, and the camera used for depth from disparity) and colour map. The one
    call shared by ``ssrdepth predict``'s files and ``ssrdepth serve``'s page.

    Raises:
        ValueError: a quantity this model cannot give, or depth from disparity without a camera.
    """
    q = resolve_quantity(model, quantity)
    values = convert(model, normalised, q, focal=focal, baseline=baseline)
    meta = describe(model, q, values.shape, source, **extra)
    if q == "depth" and model.native_quantity == "disparity":
        f, b = _focal_baseline(model, values.shape[1], focal, baseline)
        meta.update(focal_px=f, baseline_m=b)
    return MapResult(values, q, meta, colour_map_name(cmap, q))


def cloud_depth(
    model: DepthModel, normalised: np.ndarray, focal: float | None, baseline: float | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Depth (m, ``(H, W)`` float32) for a point cloud of a normalised map at the image's size, and
    the camera metadata it used (``focal_px``, ``baseline_m`` for a disparity model; ``{}`` for a
    depth model, whose output is metres already). ``focal`` px at the image's width.

    Raises:
        ValueError: a normalised-only model, or a disparity model without focal length and baseline.
    """
    if model.native_quantity == "depth":
        return convert(model, normalised, "depth"), {}
    f, b = _focal_baseline(model, normalised.shape[1], focal, baseline)
    return convert(model, normalised, "depth", focal=f, baseline=b), {"focal_px": f, "baseline_m": b}


# --------------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class InputItem:
    """One image or video to process; ``name`` is its output path under ``--out`` without suffix."""

    path: Path
    kind: str
    name: str


def split_checkpoint(paths: Sequence[str]) -> tuple[str | None, list[str]]:
    """``ssrdepth predict``'s positionals → ``(checkpoint, inputs)``.

    The first path is the checkpoint when it is the word ``bundled`` or names a checkpoint
    (:func:`ssrdepth.core.checkpoint_files.names_checkpoint`: ends in ``.pt`` or ``.onnx``, or is a run
    folder holding ``best.pt`` or ``latest.pt``); otherwise every path is an input and the checkpoint is
    ``None``: the bundled model, whose presence and sha256 are checked here, before any input is read.

    Raises:
        ValueError: a checkpoint and no inputs after it, or bundled weights that do not match their card.
        NoBundledModel (a FileNotFoundError): no checkpoint among ``paths`` and this ssrdepth ships no
            pretrained model; the message says to give one.
    """
    if not paths:
        raise ValueError("no input given: name images, folders, glob patterns or videos")
    first = paths[0]
    if first == BUNDLED or names_checkpoint(first):
        if len(paths) == 1:
            raise ValueError(
                f"{first}: a checkpoint and no inputs; name images, folders, glob patterns or videos after it"
            )
        return first, list(paths[1:])
    bundled_checkpoint()
    return None, list(paths)


def _kind(path: Path) -> str:
    return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"


def gather_inputs(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False) -> list[InputItem]:
    """Expand files, folders (images and videos inside; ``recursive`` for sub-folders) and glob
    patterns into a list of items with unique output names.

    Raises:
        FileNotFoundError: a path that does not exist or a pattern that matches nothing.
        ValueError: a folder with no images or videos in it, or no input at all.
    """
    suffixes = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    found: list[tuple[Path, str]] = []
    for raw in inputs:
        text = str(raw)
        p = Path(text)
        if p.is_dir():
            files = sorted(f for f in (p.rglob("*") if recursive else p.iterdir()) if f.is_file())
            files = [f for f in files if f.suffix.lower() in suffixes]
            if not files:
                raise ValueError(
                    f"{p}: no images or videos in this folder (looked for {', '.join(suffixes)}"
                    f"{'' if recursive else '; use --recursive for sub-folders'})"
                )
            found += [(f, f.relative_to(p).with_suffix("").as_posix()) for f in files]
        elif p.is_file():
            found.append((p, p.stem))
        elif any(c in text for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
            found += [(m, m.stem) for m in matches]
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    if not found:
        raise ValueError("no input given: name images, folders, glob patterns or videos")
    items, used = [], set()
    for path, name in found:
        unique, n = name, 2
        while unique in used:
            unique, n = f"{name}-{n}", n + 1
        used.add(unique)
        items.append(InputItem(path, _kind(path), unique))
    return items


def check_inputs(items: Sequence[InputItem]) -> None:
    """Fail fast, before a model is loaded (``--backend auto`` would time the backends first), when no
    input can be used: the image headers are read in order until one reads (a video counts as usable);
    a ValueError naming the first unreadable file when none does. Unreadable files beside a readable
    one are reported per file by :func:`predict_files`, as before."""
    first: BadSampleError | None = None
    for item in items:
        if item.kind == "video":
            return
        try:
            image_size(item.path)
            return
        except BadSampleError as exc:
            first = first or exc
    if first is not None:
        n = len(items)
        raise ValueError(
            f"{first}; {'none of the ' + str(n) + ' inputs is' if n > 1 else 'the input is not'} a readable image"
        )


def _frames(path: Path) -> tuple[Generator[np.ndarray, None, None], float, int]:
    """Decoded RGB frames of a video, its fps (0 when unknown) and (estimated) frame count: the one
    frame iterator of ``ssrdepth predict`` and ``ssrdepth serve``; the capture is released when the
    frames run out or the generator is closed. ValueError naming the file when OpenCV cannot open it
    or decode its first frame."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise ValueError(f"{path}: cannot open this video (unsupported container or codec, or not a video)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise ValueError(f"{path}: no frame could be decoded (unsupported codec or empty video)")

    def gen() -> Generator[np.ndarray, None, None]:
        try:
            frame: np.ndarray | None = first
            while frame is not None:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                ok, nxt = cap.read()
                frame = nxt if ok else None
        finally:
            cap.release()

    return gen(), fps, max(count, 1)


# --------------------------------------------------------------------------------------------------
# the command's work


@dataclass(frozen=True)
class PredictOptions:
    """What ``predict_files`` writes. ``outputs`` ⊂ :data:`ssrdepth.inference.outputs.OUTPUT_KINDS`; ``None``
    means png16 + color for images and a side-by-side video for videos (per-frame files for a video
    only when asked for). ``intrinsics`` = (fx, fy, cx, cy) px at the input image's size (for ``ply``);
    ``focal`` (px at the image's width) and ``baseline`` (m) override the checkpoint's for depth.
    ``color_range`` fixes the colour map's range (in the map's unit); ``None`` = per image (1–99 %),
    and for videos the first batch's range, kept for the whole video (no flicker)."""

    outputs: tuple[str, ...] | None = None
    quantity: str = "native"
    batch_size: int = 8
    cmap: str = "magma"
    color_range: tuple[float, float] | None = None
    intrinsics: tuple[float, float, float, float] | None = None
    focal: float | None = None
    baseline: float | None = None
    max_depth: float | None = None

    def __post_init__(self) -> None:
        bad = [o for o in self.outputs or () if o not in OUTPUT_KINDS]
        if bad:
            raise ValueError(f"unknown output(s) {bad}; valid: {', '.join(OUTPUT_KINDS)}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be ≥ 1, got {self.batch_size}")


@dataclass
class PredictReport:
    """What ``predict_files`` did: files written, inputs that failed (file, problem), counts, time."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    images: int = 0
    frames: int = 0
    seconds: float = 0.0


class _Writer:
    """Writes the selected outputs of one map (shared by images and video frames)."""

    def __init__(self, model: DepthModel, opts: PredictOptions, out_dir: Path) -> None:
        self.model, self.opts, self.out = model, opts, out_dir
        self.quantity = resolve_quantity(model, opts.quantity)

    def check(self, outputs: Sequence[str]) -> None:
        """Fail before any work when an output cannot be made with what was given."""
        if "ply" in outputs:
            if self.opts.intrinsics is None:
                raise ValueError(
                    "--save ply needs the camera: --intrinsics FX,FY,CX,CY (px at the input size)"
                )
            if self.model.native_quantity == "normalised":
                raise ValueError(f"{self.model.source}: a point cloud needs a disparity or depth checkpoint")
            if self.model.native_quantity == "disparity":
                fx = self.opts.intrinsics[0]
                _focal_baseline(self.model, self.model.reference_width, fx, self.opts.baseline)
        if self.quantity == "depth" and self.model.native_quantity == "disparity":
            focal = self.opts.focal
            if focal is None and self.opts.intrinsics is not None:
                focal = self.opts.intrinsics[0]
            _focal_baseline(self.model, self.model.reference_width, focal, self.opts.baseline)

    def focal(self) -> float | None:
        if self.opts.focal is not None:
            return self.opts.focal
        return self.opts.intrinsics[0] if self.opts.intrinsics is not None else None

    def values(self, normalised: np.ndarray) -> np.ndarray:
        return convert(self.model, normalised, self.quantity, focal=self.focal(), baseline=self.opts.baseline)

    def cmap(self) -> str:
        return colour_map_name(self.opts.cmap, self.quantity)

    def write(
        self,
        name: str,
        rgb: np.ndarray,
        normalised: np.ndarray,
        outputs: Sequence[str],
        source: str,
        vrange: tuple[float, float] | None = None,
        **extra: Any,
    ) -> list[Path]:
        result = finish(
            self.model,
            normalised,
            self.quantity,
            focal=self.focal(),
            baseline=self.opts.baseline,
            cmap=self.opts.cmap,
            source=source,
            **extra,
        )
        base = self.out / name
        written = result.write(base, outputs, vrange or self.opts.color_range)
        if "ply" in outputs:
            written.append(self._ply(base.with_name(f"{base.name}.ply"), rgb, normalised, source, extra))
        return written

    def depth_for_ply(self, normalised: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        assert self.opts.intrinsics is not None
        return cloud_depth(self.model, normalised, self.opts.intrinsics[0], self.opts.baseline)

    def _ply(
        self, path: Path, rgb: np.ndarray, normalised: np.ndarray, source: str, extra: dict[str, Any]
    ) -> Path:
        assert self.opts.intrinsics is not None
        depth, more = self.depth_for_ply(normalised)
        image8 = rgb if rgb.dtype == np.uint8 else (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
        points, colours = depth_to_points(depth, self.opts.intrinsics, image8, self.opts.max_depth)
        meta = describe(self.model, "depth", depth.shape, source, **extra, **more)
        meta.update(intrinsics=list(self.opts.intrinsics), max_depth=self.opts.max_depth)
        return write_ply(path, points, colours, meta)


def _batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def predict_files(
    model: DepthModel,
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: PredictOptions | None = None,
    *,
    recursive: bool = False,
    progress: bool = True,
) -> PredictReport:
    """The ``predict`` command: every image and video in ``inputs`` → files in ``out_dir``.

    A file that cannot be read is recorded in the report's ``failures`` and the others go on; bad
    paths, empty folders and impossible output requests raise before any work.
    """
    from tqdm import tqdm

    opts = options or PredictOptions()
    items = gather_inputs(inputs, recursive)
    out = Path(out_dir)
    writer = _Writer(model, opts, out)
    kinds = {it.kind for it in items}
    writer.check(
        [
            *((opts.outputs or DEFAULT_IMAGE_OUTPUTS) if "image" in kinds else ()),
            *((opts.outputs or DEFAULT_VIDEO_OUTPUTS) if "video" in kinds else ()),
        ]
    )
    report = PredictReport()
    start = time.perf_counter()
    images = [it for it in items if it.kind == "image"]
    videos = [it for it in items if it.kind == "video"]
    with tqdm(total=len(images), unit="img", desc="predict", disable=not progress or not images) as bar:
        outputs = opts.outputs or DEFAULT_IMAGE_OUTPUTS
        for chunk in _batches(images, opts.batch_size):
            loaded = []
            for it in chunk:
                try:
                    loaded.append((it, read_image(it.path)))
                except ValueError as exc:
                    report.failures.append((str(it.path), str(exc)))
                    bar.update(1)
            maps = predict_normalised(model, [im for _, im in loaded])
            for (it, rgb), n in zip(loaded, maps, strict=True):
                report.written += writer.write(it.name, rgb, n, outputs, str(it.path))
                report.images += 1
                bar.update(1)
    for it in videos:
        try:
            report.frames += _predict_video(model, writer, it, opts, report, progress)
        except ValueError as exc:
            report.failures.append((str(it.path), str(exc)))
    report.seconds = time.perf_counter() - start
    return report


def _predict_video(
    model: DepthModel,
    writer: _Writer,
    item: InputItem,
    opts: PredictOptions,
    report: PredictReport,
    progress: bool,
) -> int:
    from tqdm import tqdm

    frames, fps, count = _frames(item.path)
    outputs = opts.outputs or DEFAULT_VIDEO_OUTPUTS
    per_frame = [o for o in outputs if o != "video"]
    video: SideBySideWriter | None = None
    if "video" in outputs:
        video = SideBySideWriter(writer.out / f"{item.name}_side_by_side.mp4", fps)
    vrange = opts.color_range
    done = 0
    size: tuple[int, int] = (0, 0)
    try:
        with tqdm(total=count, unit="frame", desc=item.path.name, disable=not progress) as bar:
            batch: list[np.ndarray] = []
            # Streamed: at most one batch of decoded frames is held (memory flat in video length).
            for frame in itertools.chain(frames, [None]):
                if frame is not None:
                    batch.append(frame)
                    if len(batch) < opts.batch_size:
                        continue
                if not batch:
                    break
                maps = predict_normalised(model, batch)
                for rgb, n in zip(batch, maps, strict=True):
                    size = (rgb.shape[0], rgb.shape[1])
                    values = writer.values(n)
                    if vrange is None:
                        vrange = value_range(values)
                    if video is not None:
                        video.write(rgb, colorize(values, writer.cmap(), *vrange))
                    if per_frame:
                        name = f"{item.name}/{item.name}_{done:06d}"
                        report.written += writer.write(
                            name, rgb, n, per_frame, str(item.path), vrange, frame=done
                        )
                    done += 1
                    bar.update(1)
                batch = []
    except BaseException:
        if video is not None:
            video.abort()
        raise
    if video is not None:
        meta = describe(model, writer.quantity, size, str(item.path))
        meta.update(colormap=writer.cmap(), range=list(vrange) if vrange else None)
        path = video.close(meta)
        if path is not None:
            report.written.append(path)
    return done
