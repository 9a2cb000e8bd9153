"""Caches beside a model know which model they came from: the ONNX export beside a checkpoint (its
checkpoint's SHA-256 in the metadata) and ``auto``'s backend choice (keyed by the model file's bytes)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ssrdepth.inference import autoselect
from ssrdepth.inference.export import TOLERANCE, export_checkpoint
from ssrdepth.inference.model import _export_beside
from ssrdepth.inference.onnx import read_onnx_metadata
from ssrdepth.inference.predict import load_model, predict

from .conftest import MakeCheckpoint, write_image

pytest.importorskip("onnxruntime")


def test_an_export_beside_a_retrained_checkpoint_of_the_same_name_and_step_is_not_used(
    make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    ckpt = make_checkpoint("SCRX", 1)  # model.pt at step 3, random weights
    beside = export_checkpoint(ckpt, None, "onnx", exporter="legacy").path
    assert beside == ckpt.with_suffix(".onnx") and _export_beside(ckpt, 3) == beside
    image = write_image(tmp_path / "a.png", 40, 131)
    from_old_export = predict(load_model(beside, backend="onnxruntime"), image)
    # Retrained: the same name and step, other weights (a constant map of 0.3), and not newer than the export.
    make_checkpoint("SCRX", 1, constant=0.3)
    old = beside.stat().st_mtime_ns - 10**9
    os.utime(ckpt, ns=(old, old))
    assert read_onnx_metadata(beside)["step"] == 3
    assert _export_beside(ckpt, 3) is None
    through_onnx = predict(load_model(ckpt, backend="onnxruntime"), image)
    eager = predict(load_model(ckpt, backend="torch"), image)
    np.testing.assert_allclose(through_onnx, eager, atol=TOLERANCE * 192)
    # Not the old export's map.
    assert float(np.abs(through_onnx - from_old_export).max()) > 10 * TOLERANCE * 192
    # Exported again, it is used again.
    export_checkpoint(ckpt, None, "onnx", exporter="legacy")
    assert _export_beside(ckpt, 3) == beside


def test_auto_measures_again_for_other_model_bytes_of_the_same_size_and_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSRDEPTH_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "m.onnx"
    model.write_bytes(b"A" * 64)

    def run(x: np.ndarray) -> np.ndarray:
        return x[:, :1]

    candidates: dict[str, autoselect.RunnerFactory] = {"same": lambda: run}
    sample = np.zeros((2, 1, 8, 8), np.float32)
    assert not autoselect.choose_backend(model, candidates, lambda: run, sample, batch=2, repeats=1).cached
    assert autoselect.choose_backend(model, candidates, lambda: run, sample, batch=2, repeats=1).cached
    times = model.stat().st_mtime_ns
    model.write_bytes(b"B" * 64)  # retrained: same name, size and (restored) time
    os.utime(model, ns=(times, times))
    again = autoselect.choose_backend(model, candidates, lambda: run, sample, batch=2, repeats=1)
    assert not again.cached
