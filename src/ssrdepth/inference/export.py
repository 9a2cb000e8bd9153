"""``ssrdepth export``: a checkpoint → ONNX, TorchScript or ``torch.export`` artefact, checked against
eager PyTorch before it is written.

Every artefact takes ``image`` ``(N, C, H, W)`` float32 in [0, 1] with **dynamic N, H and W**
(H, W ≥ 8, the models' minimum) and returns ``depth`` ``(N, 1, H, W)``, the normalised map — for a network
with the trained uncertainty head ``(N, 2, H, W)``, the map then its log-scale ``s`` (the metadata's
``output_channels`` names them; :func:`ssrdepth.core.confidence.split_output` splits them) — and carries
the checkpoint's metadata (model, channels, input size, target) as JSON under the key ``ssrdepth``:
ONNX ``metadata_props``, TorchScript / ``.pt2`` ``extra_files``.

How the model's Python input check (``DepthNet.check_input``) is handled:

- ``onnx`` with the ``dynamo`` exporter (default; ``torch.export`` underneath): the check's shape
  comparisons become guards on the symbolic sizes; declaring ``H, W ≥ 8`` (``Dim(min=8)``) proves them,
  so the graph has no branch and stays dynamic.
- ``onnx`` with the ``legacy`` TorchScript-tracing exporter, and ``torchscript``: tracing evaluates
  the check once on the example (a TracerWarning, silenced) and records no branch; the sizes used by
  the final resize are traced as shape ops, so the graph stays dynamic too.
- ``torch-export``: as ``dynamo``; a too-small input fails the guard ``x.size()[2] >= 8`` at run time.

Which exporter and why (measured here, BENCHMARKS.md): both ONNX paths give the same numbers
(max abs error ~2e-7) at every size tried. ``dynamo`` is the maintained path (the legacy one is
deprecated in PyTorch 2.9+); ``legacy`` exports 2–3× faster and is offered as ``--exporter legacy``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssrdepth.checkpoint import load_checkpoint
from ssrdepth.core.image import prepare_image
from ssrdepth.core.io import atomic_path
from ssrdepth.core.overwrite import check_not_inputs
from ssrdepth.inference.onnx import INPUT_NAME, META_KEY, OUTPUT_NAME, onnx_metadata, onnx_session
from ssrdepth.models import MIN_SIZE, DepthNet

#: format → file suffix of the artefact
FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt", "torch-export": ".pt2"}
EXPORTERS = ("dynamo", "legacy")
#: Default parity tolerance (max abs error on the [0, 1] maps). Reordered float32 kernels differ by
#: ~1e-6; 1e-4 is 0.02 px of a 192-px disparity range, far below the models' own errors.
TOLERANCE = 1e-4


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence exporter chatter (TracerWarnings from the input check, deprecation notes, registry logs)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch._export", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def _example(model: DepthNet, sample_size: tuple[int, int], batch: int = 2) -> torch.Tensor:
    h, w = sample_size
    if min(h, w) < MIN_SIZE:
        raise ValueError(f"export sample size must be ≥ {MIN_SIZE}, got {sample_size}")
    return torch.rand(batch, model.in_channels, h, w, generator=torch.Generator().manual_seed(0))


def _dims() -> dict[int, Any]:
    # min 8 = MIN_SIZE proves the model's input check; batch from 1.
    dim = torch.export.Dim
    return {0: dim("batch", min=1), 2: dim("height", min=MIN_SIZE), 3: dim("width", min=MIN_SIZE)}


def export_onnx(
    model: DepthNet,
    path: str | os.PathLike[str] | None,
    *,
    sample_size: tuple[int, int] = (37, 147),
    exporter: str = "dynamo",
    opset: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> bytes:
    """Export to ONNX with dynamic batch, height and width; returns the serialised model and, when
    ``path`` is given, writes it there atomically. ``metadata`` goes into ``metadata_props``."""
    import onnx

    if exporter not in EXPORTERS:
        raise ValueError(f"unknown ONNX exporter {exporter!r}; valid: {', '.join(EXPORTERS)}")
    model = model.eval()
    x = _example(model, sample_size)
    with _quiet(), torch.no_grad():
        if exporter == "dynamo":
            program = torch.onnx.export(
                model,
                (x,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes={"x": _dims()},
                opset_version=opset,
                verbose=False,
            )
            assert program is not None
            proto = program.model_proto
        else:
            axes = {0: "batch", 2: "height", 3: "width"}
            tmpdir = tempfile.TemporaryDirectory(prefix="ssrdepth-onnx-")
            legacy_file = Path(tmpdir.name) / "model.onnx"
            torch.onnx.export(
                model,
                (x,),
                str(legacy_file),
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
                opset_version=opset or 17,
            )
            proto = onnx.load(str(legacy_file))
            tmpdir.cleanup()
    meta = {**(metadata or {}), "exporter": exporter, "opset": int(proto.opset_import[0].version)}
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta, default=str)
    blob: bytes = proto.SerializeToString()
    if path is not None:
        with atomic_path(path) as tmp:
            tmp.write_bytes(blob)
    return blob


def in_memory_onnx(model: DepthNet, sample_size: tuple[int, int], metadata: dict[str, Any]) -> bytes:
    """Serialised ONNX for running a checkpoint at once: the legacy exporter (~1 s, the same graph
    speed as dynamo's, BENCHMARKS.md), falling back to dynamo where the legacy one fails or is gone."""
    try:
        return export_onnx(model, None, sample_size=sample_size, exporter="legacy", metadata=metadata)
    except Exception:  # the deprecated exporter may disappear or break in a future PyTorch
        return export_onnx(model, None, sample_size=sample_size, exporter="dynamo", metadata=metadata)


def export_torchscript(
    model: DepthNet,
    path: str | os.PathLike[str],
    *,
    sample_size: tuple[int, int] = (37, 147),
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Trace to TorchScript (shape-generic: sizes are traced as shape ops); metadata in ``extra_files``.
    Note: ``torch.jit`` is deprecated in recent PyTorch; prefer ``onnx`` or ``torch-export``."""
    model = model.eval()
    x = _example(model, sample_size)
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(model, x, check_trace=False)
    extra = {f"{META_KEY}.json": json.dumps(metadata or {}, default=str)}
    with atomic_path(path) as tmp, _quiet():
        torch.jit.save(traced, str(tmp), _extra_files=extra)
    return Path(path)


def export_program(
    model: DepthNet,
    path: str | os.PathLike[str],
    *,
    sample_size: tuple[int, int] = (37, 147),
    metadata: dict[str, Any] | None = None,
) -> Path:
    """``torch.export`` with dynamic batch/height/width, saved as ``.pt2`` (``torch.export.load``)."""
    model = model.eval()
    x = _example(model, sample_size)
    with _quiet():
        program = torch.export.export(model, (x,), dynamic_shapes={"x": _dims()})
    extra = {f"{META_KEY}.json": json.dumps(metadata or {}, default=str)}
    with atomic_path(path) as tmp:
        torch.export.save(program, str(tmp), extra_files=extra)
    return Path(path)


def load_exported(path: str | os.PathLike[str], fmt: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A runner ``(N, C, H, W)`` float32 → ``(N, 1 or 2, H, W)`` float32 for an artefact of any format."""
    p = Path(path)
    fmt = fmt or next((f for f, s in FORMATS.items() if p.name.endswith(s)), None)
    if fmt == "onnx":
        session = onnx_session(p)
        name = session.get_inputs()[0].name
        return lambda x: np.asarray(session.run(None, {name: np.ascontiguousarray(x, np.float32)})[0])
    if fmt == "torchscript":
        with _quiet():
            module = torch.jit.load(str(p))
    elif fmt == "torch-export":
        module = torch.export.load(str(p)).module()
    else:
        raise ValueError(
            f"{p}: cannot tell the export format from the name; give one of {', '.join(FORMATS)}"
        )

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(module(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy())

    return run


# --------------------------------------------------------------------------------------------------
# parity


@dataclass(frozen=True)
class ParityResult:
    """Max abs difference between the artefact and eager PyTorch on one input batch (normalised maps)."""

    input: str
    shape: tuple[int, ...]
    max_abs_error: float
    passed: bool


def parity_inputs(
    model: DepthNet,
    sample_size: tuple[int, int],
    images: Sequence[str | os.PathLike[str]] = (),
) -> dict[str, np.ndarray]:
    """Random batches at the export size and at another size and batch, plus real images prepared as
    for prediction (at ``sample_size``)."""
    from ssrdepth.core.image import read_image

    rng = np.random.default_rng(0)
    h, w = sample_size
    other = (max(MIN_SIZE, h + 13), max(MIN_SIZE, w - 21))
    c = model.in_channels
    out = {
        f"random {2}×{c}×{h}×{w}": rng.random((2, c, h, w), dtype=np.float32),
        f"random {3}×{c}×{other[0]}×{other[1]}": rng.random((3, c, *other), dtype=np.float32),
        f"random 1×{c}×{MIN_SIZE}×{MIN_SIZE + 3}": rng.random(
            (1, c, MIN_SIZE, MIN_SIZE + 3), dtype=np.float32
        ),
    }
    for img in images:
        p = Path(img)
        out[f"real {p.name}"] = prepare_image(read_image(p), c, sample_size)[None]
    return out


def check_parity(
    model: DepthNet,
    runner: Callable[[np.ndarray], np.ndarray],
    inputs: dict[str, np.ndarray],
    tolerance: float = TOLERANCE,
) -> list[ParityResult]:
    """Run ``runner`` and eager ``model`` on each input; report the max abs error of each."""
    results = []
    model = model.eval()
    for label, x in inputs.items():
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        got = runner(x)
        if got.shape != ref.shape:
            raise ValueError(f"export parity: output shape {got.shape} ≠ eager {ref.shape} on {label}")
        err = float(np.max(np.abs(got.astype(np.float64) - ref)))
        results.append(ParityResult(label, tuple(x.shape), err, err <= tolerance))
    return results


@dataclass
class ExportResult:
    """What :func:`export_checkpoint` wrote and how close it is to eager PyTorch."""

    path: Path
    format: str
    seconds: float
    parity: list[ParityResult] = field(default_factory=list)

    @property
    def max_abs_error(self) -> float:
        return max((r.max_abs_error for r in self.parity), default=float("nan"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "seconds": self.seconds,
            "max_abs_error": self.max_abs_error,
            "parity": [asdict(r) for r in self.parity],
        }


def default_output(checkpoint: str | os.PathLike[str], fmt: str) -> Path:
    """``run/best.pt`` → ``run/best.onnx`` / ``run/best.torchscript.pt`` / ``run/best.pt2``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + FORMATS[fmt])


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    fmt: str = "onnx",
    *,
    exporter: str = "dynamo",
    sample_size: tuple[int, int] | None = None,
    check: bool = True,
    check_images: Sequence[str | os.PathLike[str]] = (),
    tolerance: float = TOLERANCE,
) -> ExportResult:
    """Export a checkpoint and check it against eager PyTorch.

    The artefact is written to a temporary file, checked on random inputs (the export size, another
    size and batch, the 8-pixel minimum) and on ``check_images``, and renamed into place only when
    every max abs error is ≤ ``tolerance``.

    Raises:
        ValueError: unknown format, not our checkpoint, or a parity failure (with the numbers).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    ckpt = load_checkpoint(checkpoint)  # a run folder → its best.pt / latest.pt (ckpt.path)
    model = ckpt.build_model()
    size = sample_size or ckpt.input_size
    meta = onnx_metadata(ckpt)
    dest = Path(out) if out is not None else default_output(ckpt.path, fmt)
    check_not_inputs(  # `--out CKPT.pt` would replace the trained weights with the export
        [(dest, f"the {fmt} export")],
        [ckpt.path, *map(Path, check_images)],
        suggestion=default_output(ckpt.path, fmt),
    )
    start = time.perf_counter()
    with atomic_path(dest) as tmp:
        if fmt == "onnx":
            export_onnx(model, tmp, sample_size=size, exporter=exporter, metadata=meta)
        elif fmt == "torchscript":
            export_torchscript(model, tmp, sample_size=size, metadata=meta)
        else:
            export_program(model, tmp, sample_size=size, metadata=meta)
        seconds = time.perf_counter() - start
        result = ExportResult(dest, fmt, seconds)
        if check:
            runner = load_exported(tmp, fmt)
            result.parity = check_parity(model, runner, parity_inputs(model, size, check_images), tolerance)
            bad = [r for r in result.parity if not r.passed]
            if bad:
                lines = "; ".join(f"{r.input}: {r.max_abs_error:.3g}" for r in bad)
                raise ValueError(
                    f"{dest}: export differs from eager PyTorch beyond {tolerance:g} ({lines}); not written"
                )
    return result
