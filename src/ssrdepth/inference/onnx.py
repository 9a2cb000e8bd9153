"""ONNX Runtime sessions and the metadata an ssrdepth ONNX export carries.

Shared by :mod:`ssrdepth.inference.export` (writes) and :mod:`ssrdepth.inference.predict` (reads).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from ssrdepth import __version__

if TYPE_CHECKING:
    from ssrdepth.checkpoint import Checkpoint

META_KEY = "ssrdepth"
INPUT_NAME, OUTPUT_NAME = "image", "depth"


def onnx_session(
    model: str | os.PathLike[str] | bytes, device: str = "cpu", threads: int | None = None
) -> Any:
    """An ONNX Runtime session with all graph optimisations (measured fastest, BENCHMARKS.md);
    CUDA provider when ``device`` is ``cuda`` and available, else CPU."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # optional dependency
        raise ValueError("the onnxruntime backend needs onnxruntime: pip install 'ssrdepth[onnx]'") from exc
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, so, providers=providers)


def onnx_metadata(ckpt: Checkpoint) -> dict[str, Any]:
    """The metadata an export carries: enough for ``predict.load_model`` to use it alone."""
    return {
        "format": "ssrdepth-export",
        "ssrdepth_version": __version__,
        "model": {
            "name": ckpt.model.name,
            "in_channels": ckpt.model.in_channels,
            "options": ckpt.model.options,
        },
        "input_size": list(ckpt.input_size),
        "target": dict(ckpt.target),
        "step": ckpt.step,
        "checkpoint": ckpt.path.name,
    }


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``ssrdepth`` metadata of an ONNX file written by :func:`export_onnx`.

    Raises:
        ValueError: not an ONNX file, or an ONNX file that is not one of our exports.
    """
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError
        raise ValueError(f"{path}: not a readable ONNX file ({exc})") from exc
    props = {p.key: p.value for p in proto.metadata_props}
    if META_KEY not in props:
        raise ValueError(f"{path}: an ONNX model, but not an ssrdepth export (no '{META_KEY}' metadata)")
    return dict(json.loads(props[META_KEY]))
