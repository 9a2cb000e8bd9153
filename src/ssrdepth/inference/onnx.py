"""ONNX Runtime sessions and the metadata an ssrdepth ONNX export carries.

Shared by :mod:`ssrdepth.inference.export` (writes) and :mod:`ssrdepth.inference.predict` (reads).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from ssrdepth import __version__
from ssrdepth.core.io import file_sha256
from ssrdepth.core.optional import require

if TYPE_CHECKING:
    from ssrdepth.checkpoint import Checkpoint

META_KEY = "ssrdepth"
INPUT_NAME, OUTPUT_NAME = "image", "depth"
#: What each channel of the output holds, as the metadata says it (``output_channels``): the normalised
#: map, then for a network with the trained uncertainty head its log-scale.
OUTPUT_CHANNELS = (
    "normalised map in [0, 1] (the target's meaning)",
    "log-scale s of the log-Laplacian error; uncertainty = exp(s), dimensionless",
)


def onnx_session(
    model: str | os.PathLike[str] | bytes, device: str = "cpu", threads: int | None = None
) -> Any:
    """An ONNX Runtime session with all graph optimisations (measured fastest, BENCHMARKS.md);
    CUDA provider when ``device`` is ``cuda`` and available, else CPU.

    Raises:
        MissingDependency: onnxruntime is not installed (the ``[onnx]`` extra).
        ValueError: ONNX Runtime cannot load the model (names the file).
    """
    ort = require("onnxruntime", "prediction with ONNX Runtime (an .onnx file or --backend onnxruntime)")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 4  # load failures are raised below, naming the file; not logged twice
    if threads:
        so.intra_op_num_threads = threads
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, so, providers=providers)
    except Exception as exc:  # onnxruntime raises its own InvalidProtobuf, Fail, ...
        name = "the in-memory ONNX model" if isinstance(model, bytes) else str(model)
        problem = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise ValueError(f"{name}: not a readable ONNX file ({problem})") from exc


def onnx_metadata(ckpt: Checkpoint) -> dict[str, Any]:
    """The metadata an export carries: enough for ``predict.load_model`` to use it alone. The output's
    channels are named in ``output_channels`` (2 with the ``uncertainty`` model option)."""
    channels = 2 if ckpt.model.options.get("uncertainty") else 1
    return {
        "format": "ssrdepth-export",
        "ssrdepth_version": __version__,
        "model": {
            "name": ckpt.model.name,
            "in_channels": ckpt.model.in_channels,
            "options": ckpt.model.options,
        },
        "input_size": list(ckpt.input_size),
        "output_channels": list(OUTPUT_CHANNELS[:channels]),
        "target": dict(ckpt.target),
        "step": ckpt.step,
        "checkpoint": ckpt.path.name,
        # What the export was made from: a retrained checkpoint under the same name and step differs here.
        "checkpoint_sha256": file_sha256(ckpt.path) if ckpt.path.is_file() else None,
    }


def session_metadata(session: Any, source: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``ssrdepth`` metadata of a loaded ONNX Runtime session (``source`` names it in errors).

    Read through ONNX Runtime (``get_modelmeta().custom_metadata_map`` holds the model's
    ``metadata_props``), so prediction does not need the ``onnx`` package.

    Raises:
        ValueError: an ONNX model that is not one of our exports.
    """
    props = dict(session.get_modelmeta().custom_metadata_map)
    if META_KEY not in props:
        raise ValueError(
            f"{source}: an ONNX model, but not an ssrdepth export (no '{META_KEY}' metadata); "
            "export one with: ssrdepth export CHECKPOINT.pt"
        )
    try:
        return dict(json.loads(props[META_KEY]))
    except ValueError as exc:
        raise ValueError(f"{source}: the '{META_KEY}' metadata is not valid JSON ({exc})") from exc


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``ssrdepth`` metadata of an ONNX file written by ``ssrdepth export`` (needs onnxruntime,
    not ``onnx``).

    Raises:
        ValueError: not an ONNX file, or an ONNX file that is not one of our exports.
        MissingDependency: onnxruntime is not installed.
    """
    return session_metadata(onnx_session(path), path)
