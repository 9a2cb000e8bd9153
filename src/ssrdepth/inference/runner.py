"""What every inference backend makes: a runner, and the request it is built from.

The one definition of :data:`Runner` (images in, normalised maps out) and of the types a backend's
factory takes and returns (:class:`RunnerRequest`, :class:`BuiltRunner`). The backends themselves are
declared in :data:`ssrdepth.inference.backends.REGISTRY`; a backend's own module (e.g.
:mod:`ssrdepth.inference.openvino_backend`) implements its factory against these types.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is optional: ONNX files run without it
    import torch

#: ``(N, C, H, W)`` float32 images in [0, 1] → ``(N, 1, H, W)`` float32 normalised maps.
Runner = Callable[[np.ndarray], np.ndarray]
#: Builds a runner when called (``auto`` builds only the candidates it measures).
RunnerFactory = Callable[[], Runner]
#: An ONNX model: a file or its serialised bytes.
OnnxModel = bytes | str | os.PathLike[str]


@dataclass(frozen=True)
class RunnerRequest:
    """What a backend builds a runner from.

    ``net``: the PyTorch module (family ``torch``); ``onnx_model``: the ONNX export (family ``onnx``);
    ``device``: ``"cpu"`` or ``"cuda"``; ``precision``: the resolved one, ``"fp32"`` or ``"bf16"`` (a
    backend without native bf16 here runs fp32); ``channels_last``: NHWC memory format (torch);
    ``threads``: intra-op threads (``None``: the runtime's default); ``int8``: the ONNX model is an INT8
    export; ``settings``: backend-specific settings (OpenVINO: an
    :class:`~ssrdepth.inference.openvino_backend.OpenVINOSettings`; ``None``: the backend's default).
    """

    net: torch.nn.Module | None = None
    onnx_model: OnnxModel | None = None
    device: str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    threads: int | None = None
    int8: bool = False
    settings: Any = None

    def onnx(self) -> OnnxModel:
        """The ONNX export, for a backend of the onnx family.

        Raises:
            ValueError: none was given.
        """
        if self.onnx_model is None:
            raise ValueError("this backend runs an ONNX export: pass the .onnx file or export the checkpoint")
        return self.onnx_model

    def module(self) -> torch.nn.Module:
        """The PyTorch module, for a backend of the torch family.

        Raises:
            ValueError: none was given.
        """
        if self.net is None:
            raise ValueError("the torch backend runs a PyTorch checkpoint: pass the .pt file, not an export")
        return self.net


@dataclass(frozen=True)
class BuiltRunner:
    """A runner and what it really runs with: ``device`` (ONNX Runtime falls back to the CPU without a
    CUDA provider), ``precision`` (``fp32``, ``bf16`` or ``int8``), ``settings`` (OpenVINO's) and, for
    the torch family, ``module``: the network as it runs (on its device, in its memory format)."""

    run: Runner
    device: str
    precision: str
    settings: dict[str, Any] = field(default_factory=dict)
    module: Any = None


__all__ = ["BuiltRunner", "OnnxModel", "Runner", "RunnerFactory", "RunnerRequest"]
