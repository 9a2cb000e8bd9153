"""INT8 post-training static quantisation of an ONNX export, with its accuracy cost measured and
refused past a tolerance.

How (ONNX Runtime's ``quantize_static``): QDQ format (QuantizeLinear/DequantizeLinear pairs around
every convolution, which ONNX Runtime fuses into integer kernels: VNNI ``vpdpbusd`` on AVX-512 VNNI
and AVX-VNNI CPUs, AMX-INT8 where present), weights signed int8 per output channel, activations
unsigned int8 per tensor (the u8·s8 pair the x86 integer kernels take), ranges calibrated by MinMax
on training images (the model's own data, prepared exactly as for training).

The accuracy gate (issue 12): the quantised model's δ < 1.25 on a test split may fall at most
:data:`DELTA1_TOLERANCE` (absolute, as a fraction of pixels) below the float32 model's on the same
split; past that :func:`check_int8_accuracy` raises :class:`QuantisationRefused` and nothing is written.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


class _DropPreprocessAdvice(logging.Filter):
    """Drops the one advisory that ONNX Runtime's ``quantize_static`` logs on the root logger at every
    call ("Please consider to run pre-processing before quantization", i.e. its shape-inference and
    graph-optimisation script). ssrdepth exports have static shapes and every INT8 model passes the
    accuracy gate, so the advice is noise here (``bench`` printed it nine times); other records pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


#: Largest allowed drop of δ < 1.25 (fraction of pixels, absolute) from float32 to INT8: 0.01 is one
#: pixel in a hundred, about the spread of δ < 1.25 between training seeds on the synthetic set.
DELTA1_TOLERANCE = 0.01
#: Metadata key (``metadata_props``) where the quantisation record is stored, beside ``ssrdepth``.
INT8_META_KEY = "ssrdepth_int8"


class QuantisationRefused(ValueError):
    """The INT8 model lost more accuracy than the tolerance allows."""


@dataclass(frozen=True)
class Int8Accuracy:
    """δ < 1.25 of the float32 and the INT8 model on the same images, and the verdict.

    ``fp32_delta1``/``int8_delta1``: fraction of valid pixels in [0, 1]; ``drop`` = fp32 − int8;
    ``agreement_delta1``: δ < 1.25 of the INT8 map against the float32 map itself (how often the two
    agree within 25 %); ``max_abs_diff``: largest difference of the normalised [0, 1] maps."""

    fp32_delta1: float
    int8_delta1: float
    agreement_delta1: float
    max_abs_diff: float
    images: int
    tolerance: float

    @property
    def drop(self) -> float:
        return self.fp32_delta1 - self.int8_delta1

    @property
    def passed(self) -> bool:
        return self.drop <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drop": self.drop, "passed": self.passed}


class _Reader:
    """ONNX Runtime calibration reader over batches ``(N, C, H, W)`` float32 in [0, 1]."""

    def __init__(self, input_name: str, batches: Iterable[np.ndarray]) -> None:
        self._name = input_name
        self._it: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        if batch is None:
            return None
        return {self._name: np.ascontiguousarray(batch, dtype=np.float32)}

    def rewind(self) -> None:  # pragma: no cover - called by some ONNX Runtime versions
        pass


def quantize_onnx(
    model: bytes,
    calibration: Iterable[np.ndarray],
    *,
    per_channel: bool = True,
) -> bytes:
    """INT8 QDQ model (serialised) from a float32 ONNX export (serialised), its activation ranges
    calibrated on ``calibration`` batches ``(N, C, H, W)`` float32 in [0, 1] (training images; a few
    hundred images suffice for MinMax). The ``ssrdepth`` metadata is carried over.

    Raises:
        MissingDependency: onnxruntime or onnx is not installed (the message names the extra).
        ValueError: no calibration batch was given.
    """
    try:
        import onnx
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    except ImportError as exc:  # optional dependency
        raise ValueError(
            "INT8 quantisation needs onnxruntime and onnx: pip install 'ssrdepth[onnx]'"
        ) from exc
    proto = onnx.load_from_string(model)
    input_name = proto.graph.input[0].name
    batches = [np.asarray(b, dtype=np.float32) for b in calibration]
    if not batches:
        raise ValueError("INT8 calibration needs at least one batch of training images")
    root, advice = logging.getLogger(), _DropPreprocessAdvice()
    root.addFilter(advice)
    try:
        with tempfile.TemporaryDirectory(prefix="ssrdepth-int8-") as tmp:
            src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            src.write_bytes(model)
            quantize_static(
                str(src),
                str(dst),
                _Reader(input_name, batches),
                quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                op_types_to_quantize=["Conv", "ConvTranspose"],
            )
            out = onnx.load(str(dst))
    finally:
        root.removeFilter(advice)
    kept = {p.key for p in out.metadata_props}
    for p in proto.metadata_props:
        if p.key not in kept:
            out.metadata_props.add(key=p.key, value=p.value)
    logger.info("quantised to INT8 (QDQ, per-channel weights, %d calibration batches)", len(batches))
    record = {"format": "QDQ", "per_channel": per_channel, "calibration_batches": len(batches)}
    return attach_record(bytes(out.SerializeToString()), record)


def _props(model: bytes) -> list[Any]:
    import onnx

    return list(onnx.load_from_string(model).metadata_props)


def attach_record(model: bytes, record: dict[str, Any]) -> bytes:
    """Store the quantisation record (calibration, accuracy) in the model's ``metadata_props``."""
    import onnx

    proto = onnx.load_from_string(model)
    for p in list(proto.metadata_props):
        if p.key == INT8_META_KEY:
            proto.metadata_props.remove(p)
    proto.metadata_props.add(key=INT8_META_KEY, value=json.dumps(record, default=str))
    return bytes(proto.SerializeToString())


def is_int8(model: str | os.PathLike[str] | bytes) -> bool:
    """True when an ONNX model (file or bytes) carries our INT8 record or QuantizeLinear nodes."""
    import onnx

    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    if any(p.key == INT8_META_KEY for p in proto.metadata_props):
        return True
    return any(n.op_type == "QuantizeLinear" for n in proto.graph.node)


def delta1_masked(pred: np.ndarray, target: np.ndarray, valid: np.ndarray) -> float:
    """δ < 1.25 over the pixels where ``valid`` is true and both maps are positive: the fraction
    with max(pred/target, target/pred) < 1.25 (Eigen et al. 2014). Scale-free, so it is the same
    for normalised disparity maps and for depth in metres."""
    keep = valid & (pred > 0) & (target > 0)
    if not keep.any():
        raise ValueError("δ < 1.25: no valid pixel with positive prediction and target")
    p, t = pred[keep].astype(np.float64), target[keep].astype(np.float64)
    return float(np.mean(np.maximum(p / t, t / p) < 1.25))


def int8_accuracy(
    fp32: Callable[[np.ndarray], np.ndarray],
    int8: Callable[[np.ndarray], np.ndarray],
    samples: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    tolerance: float = DELTA1_TOLERANCE,
) -> Int8Accuracy:
    """δ < 1.25 of both runners on test ``samples`` ``(image (N, C, H, W) float32 [0, 1], target
    (N, 1, H, W) normalised map, valid (N, 1, H, W) bool)``, pooled over all valid pixels."""
    f_hits = i_hits = agree = n_pix = 0
    images = 0
    max_diff = 0.0
    for image, target, valid in samples:
        yf, yi = fp32(image), int8(image)
        if yf.shape != target.shape or yi.shape != target.shape:
            raise ValueError(f"output shapes {yf.shape}/{yi.shape} differ from the target's {target.shape}")
        keep = valid & (target > 0) & (yf > 0) & (yi > 0)
        k = int(keep.sum())
        if k == 0:
            continue
        f_hits += round(delta1_masked(yf, target, keep) * k)
        i_hits += round(delta1_masked(yi, target, keep) * k)
        agree += round(delta1_masked(yi, yf, keep) * k)
        n_pix += k
        images += image.shape[0]
        max_diff = max(max_diff, float(np.abs(yf - yi).max()))
    if n_pix == 0:
        raise ValueError("INT8 accuracy check: the test split has no valid pixel")
    return Int8Accuracy(f_hits / n_pix, i_hits / n_pix, agree / n_pix, max_diff, images, tolerance)


def check_int8_accuracy(acc: Int8Accuracy) -> Int8Accuracy:
    """Raise :class:`QuantisationRefused` when INT8 lost more δ < 1.25 than the tolerance."""
    if not acc.passed:
        raise QuantisationRefused(
            f"INT8 model refused: δ<1.25 fell from {acc.fp32_delta1:.4f} (float32) to "
            f"{acc.int8_delta1:.4f} (INT8), a drop of {acc.drop:.4f} > tolerance {acc.tolerance}; "
            "calibrate on more (or more representative) training images, or keep float32"
        )
    return acc


def quantize_checked(
    model: bytes,
    calibration: Iterable[np.ndarray],
    test: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    tolerance: float = DELTA1_TOLERANCE,
    out: str | os.PathLike[str] | None = None,
    per_channel: bool = True,
    threads: int | None = None,
) -> tuple[bytes, Int8Accuracy]:
    """Quantise, measure δ < 1.25 against float32 on ``test``, refuse past ``tolerance``, and (when
    ``out`` is given) write the INT8 model atomically with the record in its metadata.

    Raises:
        QuantisationRefused: the accuracy drop exceeds ``tolerance`` (nothing is written).
    """
    from ssrdepth.core.io import atomic_path
    from ssrdepth.inference.backends import onnx_runner
    from ssrdepth.inference.onnx import onnx_session

    int8_blob = quantize_onnx(model, calibration, per_channel=per_channel)
    fp32_run = onnx_runner(onnx_session(model, "cpu", threads))
    int8_run = onnx_runner(onnx_session(int8_blob, "cpu", threads))
    acc = check_int8_accuracy(int8_accuracy(fp32_run, int8_run, test, tolerance))
    record = json.loads({p.key: p.value for p in _props(int8_blob)}[INT8_META_KEY])
    int8_blob = attach_record(int8_blob, {**record, "accuracy": acc.to_dict()})
    if out is not None:
        with atomic_path(out) as tmp:
            tmp.write_bytes(int8_blob)
        logger.info(
            "wrote INT8 model %s (δ<1.25 %.4f vs float32 %.4f)", out, acc.int8_delta1, acc.fp32_delta1
        )
    return int8_blob, acc


def _batches(dataset: Any, limit: int, batch: int, with_target: bool) -> Iterator[Any]:
    """Batches of a data set's samples (the first ``limit``): images ``(N, C, H, W)``, and with
    ``with_target`` the normalised target and valid mask ``(N, 1, H, W)``."""
    n = min(len(dataset), limit)
    for start in range(0, n, batch):
        items = [dataset[i] for i in range(start, min(n, start + batch))]
        image = np.stack([np.asarray(it["image"], dtype=np.float32) for it in items])
        if not with_target:
            yield image
            continue
        target = np.stack([np.asarray(it["target"], dtype=np.float32) for it in items])
        valid = np.stack([np.asarray(it["valid_mask"]).astype(bool) for it in items])
        yield image, target, valid


def quantize_checkpoint(
    checkpoint: str | os.PathLike[str],
    data: Any,
    out: str | os.PathLike[str] | None = None,
    *,
    calibration_images: int = 200,
    test_images: int | None = None,
    tolerance: float = DELTA1_TOLERANCE,
    threads: int | None = None,
) -> tuple[Path, Int8Accuracy]:
    """INT8 export of a checkpoint: calibrated on the first ``calibration_images`` of its data set's
    training split, δ < 1.25 measured on the test split (all of it, or ``test_images``) against the
    float32 export, refused past ``tolerance``; written to ``out`` (default ``CHECKPOINT.int8.onnx``).

    ``data`` is the checkpoint's :class:`ssrdepth.data.config.DataConfig` (size and channels must be
    the checkpoint's; :func:`ssrdepth.evaluation.evaluate.data_config_from_checkpoint` gives it).

    Raises:
        QuantisationRefused: the INT8 model lost more than ``tolerance`` of δ < 1.25.
    """
    from ssrdepth.checkpoint import load_checkpoint
    from ssrdepth.core.overwrite import check_not_inputs
    from ssrdepth.data.build import build_dataset
    from ssrdepth.inference.export import export_onnx
    from ssrdepth.inference.onnx import onnx_metadata

    ckpt = load_checkpoint(checkpoint)  # a run folder → its best.pt / latest.pt (ckpt.path)
    dest = Path(out) if out is not None else ckpt.path.with_suffix(".int8.onnx")
    suggestion = ckpt.path.with_suffix(".int8.onnx")
    check_not_inputs([(dest, "the INT8 export")], [ckpt.path], suggestion=suggestion)
    fp32 = export_onnx(
        ckpt.build_model(), None, sample_size=ckpt.input_size, exporter="legacy", metadata=onnx_metadata(ckpt)
    )
    train = build_dataset(data, "train", progress=False)
    test = build_dataset(data, "test", progress=False)
    calib = list(_batches(train, calibration_images, 8, with_target=False))
    samples = _batches(test, test_images or len(test), 16, with_target=True)  # type: ignore[arg-type]
    _, acc = quantize_checked(fp32, calib, samples, tolerance=tolerance, out=dest, threads=threads)
    return dest, acc


__all__ = [
    "DELTA1_TOLERANCE",
    "INT8_META_KEY",
    "Int8Accuracy",
    "QuantisationRefused",
    "attach_record",
    "check_int8_accuracy",
    "delta1_masked",
    "int8_accuracy",
    "is_int8",
    "quantize_checked",
    "quantize_checkpoint",
    "quantize_onnx",
]
