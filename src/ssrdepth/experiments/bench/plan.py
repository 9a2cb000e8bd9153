"""What ``ssrdepth bench`` measures: the plan — the inference rows, the training variants, the input
settings and :class:`BenchConfig`. The one home of the bench's row names; the inference rows of the
backends in :data:`ssrdepth.inference.backends.REGISTRY` are derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ssrdepth.inference.backends import REGISTRY
from ssrdepth.models import list_models

SCHEMA = "ssrdepth-bench/1"
#: Inference rows: eager PyTorch (NCHW / NHWC; ``-bf16``: autocast, only where the CPU has native
#: bf16), ONNX Runtime (float32, and ``-int8``: the export quantised by
#: :mod:`ssrdepth.inference.quantize`, calibrated on random images — speed only), OpenVINO (one row per
#: setting: f32/bf16 × LATENCY/THROUGHPUT, ``openvino-int8``: the INT8 export), ``keras``: the paper's
#: framework via the peer (``keras``, ``keras_bf16`` rows; skipped without TensorFlow), TorchScript
#: traced + frozen + ``optimize_for_inference`` (NHWC), ``torch.compile`` (NHWC; slow to compile).
#: Every other backend of the registry gets one row under its own name (:data:`REGISTRY_ROWS`).
_OWN_ROWS = (
    "eager",
    "eager-channels-last",
    "onnxruntime",
    "torchscript-frozen",
    "compiled",
    "eager-channels-last-bf16",
    "onnxruntime-int8",
    "openvino",
    "openvino-int8",
    "keras",
)
#: Which registry backend each of the rows above runs (``None``: bench-only, not a prediction backend).
ROW_BACKEND: dict[str, str | None] = {
    "eager": "torch",
    "eager-channels-last": "torch",
    "eager-channels-last-bf16": "torch",
    "torchscript-frozen": None,
    "compiled": None,
    "onnxruntime": "onnxruntime",
    "onnxruntime-int8": "onnxruntime",
    "openvino": "openvino",
    "openvino-int8": "openvino",
    "keras": None,
}
#: Registry backends without a row of their own above: timed as built by the registry, by name.
REGISTRY_ROWS = tuple(b for b in REGISTRY if b not in set(ROW_BACKEND.values()))
INFERENCE_BACKENDS = _OWN_ROWS + REGISTRY_ROWS
DEFAULT_BACKENDS = (
    "eager",
    "eager-channels-last",
    "eager-channels-last-bf16",
    "onnxruntime",
    "onnxruntime-int8",
    "openvino",
    "openvino-int8",
    "keras",
    *REGISTRY_ROWS,
)
#: The bare-step training variants (memory format; ``-bf16`` and ``-compiled`` are added where they run).
TRAIN_VARIANTS = ("contiguous", "channels-last")
#: Inference rows ``auto`` chooses from (what ``predict --backend auto`` measures): no INT8 (that needs
#: a calibrated, accuracy-checked export) and no Keras.
AUTO_FAMILIES = (
    "eager-channels-last",
    "onnxruntime",
    "openvino-",
    *(b for b in REGISTRY_ROWS if REGISTRY[b].auto),
)


@dataclass(frozen=True)
class Setting:
    """An input setting: ``size`` = (H, W), ``channels`` 1 or 3, training ``batch``."""

    label: str
    size: tuple[int, int]
    channels: int
    batch: int


#: The paper's settings: KITTI 147×37 grey at batch 40 (Table 1) and the improved SCRX 310×94 RGB
#: (Table 2). The RGB batch is smaller on CPU to keep a full run within minutes (images/s is
#: what compares); on CUDA both use the paper's 40.
CPU_SETTINGS = (Setting("147x37 gray", (37, 147), 1, 40), Setting("310x94 rgb", (94, 310), 3, 8))
CUDA_SETTINGS = (Setting("147x37 gray", (37, 147), 1, 40), Setting("310x94 rgb", (94, 310), 3, 40))


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. ``devices``: ``("cpu",)``, ``("cuda",)`` or both; ``settings`` default per
    device (:data:`CPU_SETTINGS`, :data:`CUDA_SETTINGS`); ``infer_batch``: the throughput batch
    (default: the setting's training batch on CPU, 256 on CUDA); ``width``: model width multiplier
    (1.0 = the paper's models). ``quick``: CI-sized run (few repeats, small batches and sizes)."""

    models: tuple[str, ...] = tuple(list_models())
    devices: tuple[str, ...] = ("cpu",)
    settings: tuple[Setting, ...] | None = None
    infer_batch: int | None = None
    repeats: int = 5
    warmup: int = 2
    width: float = 1.0
    threads: int | None = None
    backends: tuple[str, ...] = DEFAULT_BACKENDS
    exporter: str = "dynamo"
    train: bool = True
    compile: bool = False
    stereo: bool = True
    stereo_size: tuple[int, int] = (375, 1242)
    quick: bool = False
    keras: bool = True

    def __post_init__(self) -> None:
        bad = [b for b in self.backends if b not in INFERENCE_BACKENDS]
        if bad:
            raise ValueError(f"unknown backend(s) {bad}; valid: {', '.join(INFERENCE_BACKENDS)}")
        if self.repeats < 1 or self.warmup < 0:
            raise ValueError("repeats must be ≥ 1 and warmup ≥ 0")

    @classmethod
    def quick_config(cls, **overrides: Any) -> BenchConfig:
        """Seconds, not minutes: 2 repeats after 1 warm-up, width 0.125, tiny batches and sizes, the
        faster legacy ONNX exporter."""
        base: dict[str, Any] = {
            "repeats": 2,
            "warmup": 1,
            "width": 0.125,
            "settings": (Setting("147x37 gray", (37, 147), 1, 4), Setting("64x32 rgb", (32, 64), 3, 2)),
            "infer_batch": 4,
            # KITTI's height, a quarter of its width: the timing pair's disparity grows down the rows
            # from 5 % to 60 % of the 192-px range, and at 96 rows that is 1.1 px per row, too slanted
            # for every matcher (density 0–1 %, ELAS finds no support points); at 375 rows (0.28 px per
            # row) they match 38–79 % of the pixels, as on the full-size pair.
            "stereo_size": (375, 320),
            "exporter": "legacy",
            "quick": True,
        }
        base.update(overrides)
        return cls(**base)

    def settings_for(self, device: str) -> tuple[Setting, ...]:
        if self.settings is not None:
            return self.settings
        return CUDA_SETTINGS if device == "cuda" else CPU_SETTINGS


def keras_skip(cfg: BenchConfig, device: torch.device) -> str | None:
    """Why the Keras peer's variants are not measured in this run (``None``: they are)."""
    if not cfg.keras:
        return "disabled (--no-keras)"
    if device.type != "cpu":
        return "the Keras peer is measured on the CPU only"
    from ssrdepth.experiments.keras_peer import unavailable_reason

    return unavailable_reason(cfg.width)


__all__ = [
    "AUTO_FAMILIES",
    "CPU_SETTINGS",
    "CUDA_SETTINGS",
    "DEFAULT_BACKENDS",
    "INFERENCE_BACKENDS",
    "REGISTRY_ROWS",
    "ROW_BACKEND",
    "SCHEMA",
    "TRAIN_VARIANTS",
    "BenchConfig",
    "Setting",
    "keras_skip",
]
