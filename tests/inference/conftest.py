"""Fixtures for prediction and export tests: small checkpoints made here, with known outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.data.config import TargetScale
from ssrdepth.inference.predict import DepthModel
from ssrdepth.models import create_model

#: KITTI-like target: disparity normalised by 192 px at the original 1242-px width, focal 721.5 px,
#: baseline 0.54 m (KITTI's stereo rig).
KITTI_TARGET = TargetScale("disparity", 192.0, focal=721.5, baseline=0.54, reference_width=1242)

MakeCheckpoint = Callable[..., Path]


@pytest.fixture(autouse=True)
def _backend_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--backend auto`` caches its measured choice: keep the cache out of the user's home."""
    monkeypatch.setenv("SSRDEPTH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "ssrdepth-cache"))


def constant_model(name: str, channels: int, value: float) -> torch.nn.Module:
    """A model whose output is exactly ``value`` everywhere: the last conv's weights are zero and its
    bias is logit(value), so the final sigmoid gives ``value`` and the bilinear resize keeps it."""
    model = create_model(name, channels, width=0.125)
    head = model.region_a.conv_out
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(float(np.log(value / (1 - value))))
    return model


@pytest.fixture
def make_checkpoint(tmp_path: Path) -> MakeCheckpoint:
    """``make_checkpoint(name="SCRX", channels=1, target=KITTI_TARGET, size=(37, 147), constant=None)``
    → path of a width-0.125 checkpoint (random weights, or a constant output)."""

    def make(
        name: str = "SCRX",
        channels: int = 1,
        target: TargetScale | dict[str, Any] | None = KITTI_TARGET,
        size: tuple[int, int] = (37, 147),
        constant: float | None = None,
        file: str = "model.pt",
    ) -> Path:
        torch.manual_seed(0)
        model = (
            constant_model(name, channels, constant)
            if constant
            else create_model(name, channels, width=0.125)
        )
        tgt = target.as_dict() if isinstance(target, TargetScale) else target
        return save_checkpoint(tmp_path / file, model, input_size=size, target=tgt, step=3)

    return make


def write_image(path: Path, h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB test image (gradients + a bright square), written as PNG; returns it (RGB uint8)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), np.full_like(xx, 90)], axis=2)
    rgb[h // 4 : h // 2, w // 4 : w // 2] = 230
    rgb = np.clip(rgb + rng.integers(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return rgb


def write_video(path: Path, frames: int, h: int = 48, w: int = 96, fade: int = 0) -> None:
    """An mp4v video of a bar (grey 220) moving to the right over a background of grey 40 that
    brightens by ``fade`` grey levels per frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (w, h))
    assert writer.isOpened()
    for i in range(frames):
        frame = np.full((h, w, 3), 40 + fade * i, np.uint8)
        frame[:, (i * 7) % (w - 12) : (i * 7) % (w - 12) + 12] = 220
        writer.write(frame)
    writer.release()


#: Lossy codecs' error on side-by-side frames, in mean grey levels per frame: a frame's half against
#: the frame (or colour picture) it was made from. Measured with OpenCV 4.x's FFmpeg on the fading bar
#: clip of :func:`write_video` (``fade=12``): mp4v (MPEG-4 part 2) up to 3.5 on the input half and 3.3
#: on the colour half; VP8 up to 3.2 and 3.7, and 3.4 on a random-weight SCRX's finely textured map.
#: Showing the previous frame's map instead costs at least 30 (mp4v) and 45 (VP8) on the bar clip,
#: 7.0 on the SCRX map.
MP4V = 5.0
VP8 = 5.0


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame OpenCV decodes from ``path``, as ``(H, W, 3)`` uint8 RGB."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def brightness_model(size: tuple[int, int], target: dict[str, Any] | None = None) -> DepthModel:
    """A stand-in network whose normalised map is its grey input: BT.601 luma / 255 at ``size`` (H, W).
    Its maps follow the picture (a bar that moves moves in the map too), so a frame shown beside
    another frame's map is seen; ``target`` as a checkpoint's (default: normalised)."""
    return DepthModel(
        name="brightness", in_channels=1, input_size=size, target=target or {}, source=Path("brightness"),
        backend="onnxruntime", device="cpu", step=0, run=lambda batch: batch[:, :1].astype(np.float32),
    )  # fmt: skip


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 image in [0, 1]: the grey input a 1-channel model is given."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def magma(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """``values`` through matplotlib's magma over ``[vmin, vmax]``, as uint8 RGB (written here, not
    :func:`ssrdepth.inference.outputs.colorize`)."""
    from matplotlib import colormaps

    t = np.clip((values - vmin) / (vmax - vmin), 0.0, 1.0)
    return np.asarray(colormaps["magma"](t, bytes=True)[..., :3])


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images (grey levels)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors run fastest on one thread, and on a busy machine OpenMP's multi-thread barriers
    can make them 100× slower (measured; BENCHMARKS.md): use one intra-op thread, then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
