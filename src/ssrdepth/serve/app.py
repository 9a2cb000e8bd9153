"""The Gradio page of ``ssrdepth serve``; the only module of ssrdepth that imports Gradio.

Layout: the input (an uploaded image or short video, or a webcam frame) and the settings (model,
quantity, camera — focal length, field of view, baseline, a calibration file, the photo's EXIF —,
colour map) on the left; on the right the colour-mapped map over the input with a
slider, its colour bar, the numbers, the per-request timing, the downloads, the point cloud in 3D and,
for a video, the side-by-side clip. The page's event ``/predict`` is also the HTTP API
(``gradio_client``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.inference.inputs import InputLimits
from ssrdepth.inference.predict import QUANTITIES
from ssrdepth.pretrained import NAME, bundled_path
from ssrdepth.serve.service import (
    MAX_UPLOAD_BYTES,
    PAGE_LIMITS,
    ImageResult,
    ModelCache,
    RequestFolders,
    Settings,
    UploadError,
    check_frame,
    is_video,
    predict_image,
    predict_video,
    read_upload,
)

logger = logging.getLogger(__name__)

COLOUR_MAPS = ("magma", "turbo", "viridis", "inferno", "plasma", "gray")

#: The outputs of ``/predict``, in order (also what ``gradio_client`` returns).
OUTPUTS = ("comparison", "colorbar", "numbers", "timing", "downloads", "point_cloud", "video", "notes")


def _gradio() -> Any:
    try:
        import gradio as gr
    except ImportError as exc:  # optional dependency
        raise ValueError("ssrdepth serve needs Gradio: pip install 'ssrdepth[serve]'") from exc
    return gr


def _label(path: Path) -> str:
    if path.resolve() == bundled_path().resolve():
        return f"{NAME} (bundled)"
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _model_text(cache: ModelCache, path: str) -> str:
    m = cache.get(path)
    scale = m.scale
    if scale is None:
        what = "normalised output (no physical scale): only *normalised* is available"
    elif scale.kind == "depth":
        what = f"depth, 1.0 = {scale.max_value:g} m"
    else:
        camera = (
            f"focal {scale.focal:g} px, baseline {scale.baseline:g} m"
            if scale.focal and scale.baseline
            else "no camera: give focal and baseline for depth"
        )
        what = f"disparity, 1.0 = {scale.max_value:g} px at {m.reference_width} px wide; {camera}"
    return (
        f"**{m.name}** ({m.in_channels} channel{'s' if m.in_channels > 1 else ''}, "
        f"input {m.input_size[1]}×{m.input_size[0]}, step {m.step}) · {what} · {m.backend} on {m.device}"
    )


class App:
    """The page's handlers around a :class:`ModelCache` and per-request output folders. ``limits``
    (pixels, frames, seconds) hold for every input: uploaded images and videos, webcam frames and the
    HTTP API (the same handler)."""

    def __init__(
        self,
        models: Sequence[str | os.PathLike[str]],
        cache: ModelCache | None = None,
        folders: RequestFolders | None = None,
        max_bytes: int = MAX_UPLOAD_BYTES,
        limits: InputLimits = PAGE_LIMITS,
    ) -> None:
        if not models:
            raise ValueError("no model to serve")
        self.models = [Path(m) for m in models]
        self.cache = cache or ModelCache()
        self.folders = folders or RequestFolders()
        self.max_bytes = max_bytes
        self.limits = limits

    def predict(
        self,
        upload: str | None,
        frame: np.ndarray | None,
        model: str | None,
        quantity: str,
        focal: float | None,
        baseline: float | None,
        cmap: str,
        uncertainty: bool = False,
        stabilise: bool = False,
        fov: float | None = None,
        calib: str | None = None,
        exif: bool | None = True,
    ) -> tuple[Any, ...]:
        """One request: the uploaded file when there is one, else the webcam frame. The camera:
        ``focal`` (px), an uploaded calibration file ``calib``, ``fov`` (degrees) or the photo's EXIF
        (``exif``, on unless false), as ``predict`` resolves them (:class:`Settings`)."""
        gr = _gradio()
        start = time.perf_counter()
        try:
            settings = Settings(
                quantity or "native", focal or None, baseline or None, cmap or "magma", bool(uncertainty),
                bool(stabilise), fov or None, calib or None, exif is not False,
            )  # fmt: skip
            result = self._predict(upload, frame, model, settings)
        except UploadError as exc:
            logger.info("refused: %s", exc)
            raise gr.Error(str(exc), duration=None, print_exception=False) from None
        except ValueError as exc:  # a model file that cannot be read, a colour map, ...
            logger.warning("request failed: %s", exc)
            raise gr.Error(str(exc), duration=None, print_exception=False) from None
        image, video, notes = result
        image.timing["total"] = time.perf_counter() - start
        timing = image.timing_text()
        if video is not None:
            timing += f" · video {video.frames} frame(s) in {video.seconds:.1f} s"
        return (
            (image.image, image.colour),
            image.colorbar,
            image.stats_text(),
            timing,
            [str(p) for p in image.files],
            str(image.cloud) if image.cloud else None,
            str(video.video) if video is not None else None,
            "\n".join(f"- {n}" for n in [*notes, *image.notes]),
            image.uncertainty_colour,
        )

    def _predict(
        self,
        upload: str | None,
        frame: np.ndarray | None,
        model: str | None,
        settings: Settings,
    ) -> tuple[ImageResult, Any, list[str]]:
        if upload is None and frame is None:
            raise UploadError("nothing to predict: upload an image or a video, or take a webcam picture")
        path = model or str(self.models[0])
        if Path(path) not in self.models and Path(path).resolve() not in [m.resolve() for m in self.models]:
            raise UploadError(f"unknown model {path!r}; choose one of: {', '.join(map(str, self.models))}")
        m = self.cache.get(path)
        out = self.folders.new()
        t0 = time.perf_counter()
        if upload is not None:
            name = Path(upload).name
            if is_video(name):
                video = predict_video(
                    m, upload, settings, out, name, limits=self.limits, max_bytes=self.max_bytes
                )
                notes = (
                    [f"video: first {video.frames} frames only ({self._video_limits()})"]
                    if video.truncated
                    else []
                )
                return video.first, video, notes
            image = read_upload(upload, name, max_bytes=self.max_bytes, limits=self.limits)
            stem, source, photo = Path(name).stem, name, upload
        else:
            assert frame is not None
            image, stem, source, photo = check_frame(frame, self.limits), "webcam", "webcam", None
        decode = time.perf_counter() - t0
        result = predict_image(m, image, settings, out, stem, source, image_path=photo)
        result.timing = {"decode": decode, **result.timing}
        return result, None, []

    def _video_limits(self) -> str:
        lim = self.limits
        parts = [f"at most {lim.max_frames} frames"] if lim.max_frames is not None else []
        parts += [f"{lim.max_seconds:g} s"] if lim.max_seconds is not None else []
        if lim.max_video_pixels is not None:
            parts += [f"{lim.max_video_pixels / 1e6:g} Mpx in all"]
        return ", ".join(parts) + " of a video are processed"

    def build(self) -> Any:
        """The ``gr.Blocks`` page."""
        gr = _gradio()
        choices = [(_label(p), str(p)) for p in self.models]
        # Gradio keeps a copy of every output: delete copies older than an hour, every hour.
        with gr.Blocks(title="ssrdepth", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
            gr.Markdown(
                "# ssrdepth · monocular depth\nSingle-stage refinement CNNs (Valdez Rodríguez et al., 2020). "
                "Upload an image or a short video, or take a webcam picture."
            )
            with gr.Row():
                with gr.Column(scale=2):
                    with gr.Tabs():
                        with gr.Tab("Upload"):
                            upload = gr.File(
                                label="Image or short video", type="filepath", elem_id="ssrdepth-upload"
                            )
                        with gr.Tab("Webcam"):
                            frame = gr.Image(
                                label="Webcam", sources=["webcam"], type="numpy", elem_id="ssrdepth-webcam"
                            )
                    model = gr.Dropdown(choices=choices, value=choices[0][1], label="Model")
                    info = gr.Markdown(_model_text(self.cache, choices[0][1]), elem_id="ssrdepth-model-info")
                    quantity = gr.Radio(
                        list(QUANTITIES), value="native", label="Quantity", elem_id="ssrdepth-quantity"
                    )
                    with gr.Accordion("Camera (first given wins; else the model's)", open=False):
                        with gr.Row():
                            focal = gr.Number(
                                label="Focal length (px at the image's width; 0: none)",
                                elem_id="ssrdepth-focal",
                            )
                            fov = gr.Number(
                                label="Horizontal field of view (°; 0: none)", elem_id="ssrdepth-fov"
                            )
                            baseline = gr.Number(label="Baseline (m; 0: the model's)")
                        calib = gr.File(
                            label="Calibration file (KITTI .txt, OpenCV / ROS .yaml or .json)",
                            type="filepath",
                            file_types=[".txt", ".yaml", ".yml", ".json"],
                            elem_id="ssrdepth-calib",
                        )
                        exif = gr.Checkbox(
                            value=True,
                            label="Focal length from the photo's EXIF (when none is given above)",
                            elem_id="ssrdepth-exif",
                        )
                    cmap = gr.Dropdown(list(COLOUR_MAPS), value="magma", label="Colour map")
                    with gr.Row():
                        uncertainty = gr.Checkbox(
                            label="Uncertainty (the model's trained head if it has one, else flip disagreement: a second pass)",
                            elem_id="ssrdepth-uncertainty-on",
                        )
                        stabilise = gr.Checkbox(
                            label="Steady video (stabilise)", elem_id="ssrdepth-stabilise"
                        )
                    button = gr.Button("Estimate depth", variant="primary", elem_id="ssrdepth-run")
                with gr.Column(scale=3):
                    comparison = gr.ImageSlider(
                        label="Input | prediction", type="numpy", format="png", elem_id="ssrdepth-comparison"
                    )
                    bar = gr.Image(
                        label="Colour bar", format="png", show_label=False, elem_id="ssrdepth-colorbar"
                    )
                    with gr.Row():
                        numbers = gr.Textbox(label="Numbers", lines=5, elem_id="ssrdepth-numbers")
                        timing = gr.Textbox(label="Timing", lines=2, elem_id="ssrdepth-timing")
                    notes = gr.Markdown(elem_id="ssrdepth-notes")
                    unc_image = gr.Image(
                        label="Uncertainty (0 … 0.5: how much the map and its mirrored twin disagree)",
                        format="png",
                        elem_id="ssrdepth-uncertainty",
                    )
                    downloads = gr.File(
                        label="Downloads", file_count="multiple", elem_id="ssrdepth-downloads"
                    )
                    cloud = gr.Model3D(
                        label="Point cloud (m)", display_mode="point_cloud", elem_id="ssrdepth-cloud"
                    )
                    video = gr.Video(
                        label="Input | prediction (video)", visible=False, elem_id="ssrdepth-video"
                    )
            inputs = [
                upload, frame, model, quantity, focal, baseline, cmap, uncertainty, stabilise, fov, calib, exif,
            ]  # fmt: skip
            outputs = [comparison, bar, numbers, timing, downloads, cloud, video, notes, unc_image]
            events = [
                button.click(self.predict, inputs, outputs, api_name="predict"),
                upload.upload(self.predict, inputs, outputs, api_name=False),
                frame.input(lambda *a: self.predict(None, *a[1:]), inputs, outputs, api_name=False),
            ]
            for event in events:  # the video player only when there is a video
                event.success(lambda v: gr.update(visible=v is not None), video, video, api_name=False)
            model.change(lambda p: _model_text(self.cache, p), model, info, api_name=False)
        return page


def launch(
    models: Sequence[str | os.PathLike[str]],
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    cache: ModelCache | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
    limits: InputLimits = PAGE_LIMITS,
    block: bool = True,
) -> Any:
    """Build the page and serve it on ``host:port`` (127.0.0.1: this machine only). The first model
    is loaded before the server starts. ``block=False`` returns the running ``gr.Blocks`` (tests;
    stop it with ``.close()``)."""
    app = App(models, cache, max_bytes=max_bytes, limits=limits)
    page = app.build()
    page.queue(default_concurrency_limit=1)  # one request at a time: the model uses every core
    page.launch(
        server_name=host,
        server_port=port,
        max_file_size=max_bytes,
        allowed_paths=[str(app.folders.root)],
        prevent_thread_lock=not block,
        show_error=True,
        quiet=not block,
    )
    return page
