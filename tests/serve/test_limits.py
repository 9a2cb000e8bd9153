"""One set of input limits for every input path (issue 25, kind 4): an image, the same picture as a
one-frame video, a webcam frame and ``predict``'s video reader are refused alike, before decoding,
naming the file and the limit; frame and duration limits stop decoding; frames are streamed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ssrdepth.inference import inputs
from ssrdepth.inference.inputs import InputLimits, InputTooLarge, video_frames, video_info
from ssrdepth.inference.model import DepthModel
from ssrdepth.serve.service import (
    PAGE_LIMITS,
    ModelCache,
    Settings,
    UploadError,
    check_frame,
    predict_video,
    read_upload,
)

from ..inference.conftest import brightness_model, write_video
from .conftest import make_checkpoint

#: 64 × 32 = 2,048 px: just over a lowered 2,000-px limit.
H, W = 32, 64
SMALL = InputLimits(max_pixels=2_000, max_frames=100, max_seconds=100.0)


_VideoCapture = cv2.VideoCapture  # the real one (the fixture replaces the module's attribute)


class CountingCapture:
    """cv2.VideoCapture that counts decoded frames (``read`` calls that returned one)."""

    reads = 0

    def __init__(self, path: str) -> None:
        self._cap = _VideoCapture(path)

    def read(self) -> tuple[bool, Any]:
        ok, frame = self._cap.read()
        CountingCapture.reads += int(bool(ok))
        return ok, frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cap, name)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingCapture]:
    CountingCapture.reads = 0
    monkeypatch.setattr(inputs.cv2, "VideoCapture", CountingCapture)
    return CountingCapture


def test_the_same_picture_is_refused_as_image_video_and_webcam_frame(
    tmp_path: Path, counting: type[CountingCapture]
) -> None:
    picture = np.full((H, W, 3), 90, np.uint8)
    image = tmp_path / "big picture.png"
    assert cv2.imwrite(str(image), picture)
    video = tmp_path / "big picture.mp4"
    write_video(video, 1, h=H, w=W)
    limit = r"64×32 pixels \(0\.00205 Mpx\) is more than the 0\.002 Mpx accepted \(max_pixels\)"
    with pytest.raises(UploadError, match=r"^big picture\.png: " + limit):
        read_upload(image, limits=SMALL)
    model = brightness_model((H, W))
    with pytest.raises(UploadError, match=r"^big picture\.mp4: " + limit):
        predict_video(model, video, Settings(), tmp_path / "out", limits=SMALL)
    with pytest.raises(UploadError, match=r"^the camera frame: " + limit):
        check_frame(picture, SMALL)
    # predict's reader: the same refusal, naming the path; nothing was decoded.
    with pytest.raises(InputTooLarge, match=rf"{video}: " + limit):
        video_frames(video, SMALL)
    assert counting.reads == 0 and not (tmp_path / "out").exists()
    # Within the limits all three are accepted.
    assert read_upload(image).shape == (H, W, 3) and video_info(video).frames == 1
    assert check_frame(picture).shape == (H, W, 3)


def test_the_page_refuses_the_video_path_like_the_image_path(tmp_path: Path) -> None:
    from ssrdepth.serve.app import App  # the handlers; Gradio is needed only to build the page

    ckpt = make_checkpoint(tmp_path / "model.pt")
    app = App([ckpt], ModelCache(backend="torch"), limits=SMALL)
    video = tmp_path / "one frame.mp4"
    write_video(video, 1, h=H, w=W)
    image = tmp_path / "one frame.png"
    assert cv2.imwrite(str(image), np.zeros((H, W, 3), np.uint8))
    for upload in (image, video):
        with pytest.raises(UploadError, match=rf"^{upload.name}: 64×32 pixels .*max_pixels"):
            app._predict(str(upload), None, str(ckpt), Settings())
    with pytest.raises(UploadError, match="max_pixels"):
        app._predict(None, np.zeros((H, W, 3), np.uint8), str(ckpt), Settings())
    assert PAGE_LIMITS.max_pixels == 40_000_000  # 40.8 Mpx is over it, as an image or as a video frame


@pytest.mark.parametrize(
    ("limits", "frames"),
    [
        (InputLimits(max_frames=3), 3),
        (InputLimits(max_seconds=0.25), 3),  # 10 fps: frames at 0, 0.1, 0.2 s start within 0.25 s
        (InputLimits(max_seconds=0.3), 3),
        (InputLimits(max_frames=5, max_seconds=1.0), 5),
        (InputLimits(max_video_pixels=4 * H * W + 100), 4),  # 4 frames of 64 × 32 px fit
        (InputLimits(), 7),
    ],
)
def test_frame_and_duration_limits_stop_decoding(
    tmp_path: Path, counting: type[CountingCapture], limits: InputLimits, frames: int
) -> None:
    video = tmp_path / "clip.mp4"
    write_video(video, 7, h=H, w=W)  # 10 fps
    decoded, fps, count = video_frames(video, limits)
    got = list(decoded)
    assert (len(got), count, fps) == (frames, frames, 10.0)
    assert counting.reads == frames  # no frame past the limit was decoded


def test_the_page_streams_video_frames(tmp_path: Path, counting: type[CountingCapture]) -> None:
    video = tmp_path / "clip.mp4"
    write_video(video, 7, h=H, w=W)
    seen: list[tuple[int, int]] = []  # (frames decoded so far, batch size) at each model call
    base = brightness_model((H, W))

    def run(batch: np.ndarray) -> np.ndarray:
        seen.append((counting.reads, len(batch)))
        return base.run(batch)

    model = DepthModel(
        name="counting", in_channels=1, input_size=(H, W), target={}, source=Path("counting"),
        backend="onnxruntime", device="cpu", step=0, run=run,
    )  # fmt: skip
    res = predict_video(
        model, video, Settings(), tmp_path / "out", limits=InputLimits(max_frames=5), batch_size=2
    )
    assert (res.frames, res.truncated) == (5, True) and counting.reads == 5
    # The first frame alone (its outputs), then batches of 2, 2, 1: never more than a batch ahead.
    assert [n for _, n in seen] == [1, 2, 2, 1]
    done = 0
    for reads, n in seen[1:]:
        assert reads <= done + n + 1  # at most the batch (and the next frame being decoded)
        done += n
