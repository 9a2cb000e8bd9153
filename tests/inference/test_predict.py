"""``predict``: pre-processing as in training, physical units worked out by hand, the command end to end,
and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssrdepth.cli import main as cli
from ssrdepth.data.config import TargetScale
from ssrdepth.inference.outputs import read_pfm, read_ply, read_png16, read_png_meta
from ssrdepth.inference.predict import (
    DepthModel,
    PredictOptions,
    gather_inputs,
    load_model,
    predict,
    predict_batch,
    predict_files,
    prepare_image,
)

from .conftest import (
    MP4V,
    MakeCheckpoint,
    brightness_model,
    luma,
    magma,
    mean_abs,
    read_video,
    write_image,
    write_video,
)


def test_prepare_image_is_the_training_preprocessing() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (80, 200, 3), dtype=np.uint8)
    # Independent: BT.601 luma by OpenCV, area averaging to 147×37, /255.
    expected = (
        cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (147, 37), interpolation=cv2.INTER_AREA) / 255.0
    )
    x = prepare_image(rgb, 1, (37, 147))
    assert x.shape == (1, 37, 147) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], expected, atol=1e-6)
    # A grey image for an RGB model is repeated to three channels; enlarging is bilinear.
    grey = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    x3 = prepare_image(grey, 3, (37, 147))
    up = cv2.resize(grey, (147, 37), interpolation=cv2.INTER_LINEAR) / 255.0
    for c in range(3):
        np.testing.assert_allclose(x3[c], up, atol=1e-6)
    with pytest.raises(ValueError, match="unsupported image dtype"):
        prepare_image(np.zeros((10, 10, 3), np.int64), 1, (37, 147))


def test_output_is_the_model_resized_back_to_the_image(make_checkpoint: MakeCheckpoint) -> None:
    ckpt = make_checkpoint("SCRX", 1, target={"kind": "normalised", "max_value": 1.0})
    model = load_model(ckpt, backend="torch")  # channels-last eager
    rgb = np.random.default_rng(2).integers(0, 256, (61, 203, 3), dtype=np.uint8)
    out = predict(model, rgb)
    assert out.shape == (61, 203) and out.dtype == np.float32
    # Independent path: the eager model (contiguous memory) on the same input, torch's bilinear resize.
    from ssrdepth.checkpoint import load_checkpoint

    net = load_checkpoint(ckpt).build_model()
    x = torch.from_numpy(prepare_image(rgb, 1, (37, 147)))[None]
    with torch.no_grad():
        ref = F.interpolate(net(x), size=(61, 203), mode="bilinear", align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=2e-5)
    # One batch of several images of different sizes gives the same maps.
    both = predict_batch(model, [rgb, rgb[:40, :90]])
    np.testing.assert_allclose(both[0], out, atol=1e-6)
    assert both[1].shape == (40, 90)


def test_disparity_scales_with_width_and_depth_follows(make_checkpoint: MakeCheckpoint) -> None:
    # Output 0.5 everywhere. Target: 192 px at 1242 px width, f = 721.5 px, B = 0.54 m.
    model = load_model(make_checkpoint("C", 1, constant=0.5), backend="torch")
    image = np.zeros((40, 621, 3), np.uint8)  # half the reference width
    disp = predict(model, image)  # native = disparity
    # 0.5 · 192 · 621 / 1242 = 48 px at this width
    np.testing.assert_allclose(disp, 48.0, rtol=1e-6)
    # depth = f·B/d at the reference width: 721.5 · 0.54 / 96 = 4.05844 m, the same at any width
    np.testing.assert_allclose(predict(model, image, "depth"), 721.5 * 0.54 / 96, rtol=1e-5)
    np.testing.assert_allclose(
        predict(model, np.zeros((40, 2484, 3), np.uint8), "disparity"), 192.0, rtol=1e-6
    )
    np.testing.assert_allclose(predict(model, image, "normalised"), 0.5, rtol=1e-6)


def test_depth_targets_and_missing_calibration(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    depth_model = load_model(
        make_checkpoint("C", 3, TargetScale("depth", 10.0), constant=0.25, file="d.pt"), backend="torch"
    )
    np.testing.assert_allclose(predict(depth_model, np.zeros((30, 40, 3), np.uint8)), 2.5, rtol=1e-6)
    with pytest.raises(ValueError, match="cannot give disparity"):
        predict(depth_model, np.zeros((30, 40, 3), np.uint8), "disparity")
    bare = load_model(
        make_checkpoint("C", 1, TargetScale("disparity", 100.0), constant=0.5, file="b.pt"), backend="torch"
    )
    with pytest.raises(ValueError, match="--focal"):
        predict(bare, np.zeros((30, 40, 3), np.uint8), "depth")
    # No reference width in the target: the model's input width (147) is the reference, so at width 40
    # d = 0.5 · 100 · 40/147 px; with f = 50 px (at width 40) and B = 0.5 m, depth = f·B/d.
    d = 0.5 * 100 * 40 / 147
    np.testing.assert_allclose(
        predict(bare, np.zeros((30, 40, 3), np.uint8), "depth", focal=50.0, baseline=0.5), 25 / d, rtol=1e-5
    )
    plain = load_model(make_checkpoint("C", 1, None, constant=0.75, file="n.pt"), backend="torch")
    np.testing.assert_allclose(predict(plain, np.zeros((30, 40, 3), np.uint8)), 0.75, rtol=1e-6)  # native
    with pytest.raises(ValueError, match="only --quantity normalised"):
        predict(plain, np.zeros((30, 40, 3), np.uint8), "disparity")


def test_command_on_a_folder_with_a_bad_file(
    make_checkpoint: MakeCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = make_checkpoint("SCRX", 1)
    folder = tmp_path / "imgs"
    a = write_image(folder / "a.png", 50, 160, seed=1)
    write_image(folder / "sub" / "b.jpg", 37, 147, seed=2)
    (folder / "broken.png").write_bytes(b"\x89PNG but not really")
    out = tmp_path / "out"
    rc = cli(["predict", str(ckpt), str(folder), "--out", str(out), "--save", "png16,npy,pfm,color",
              "--recursive", "--no-progress", "--backend", "torch"])  # fmt: skip
    assert rc == 1, "a failed input makes the exit status non-zero"
    err = capsys.readouterr().err
    assert "broken.png" in err and "cannot decode" in err
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "a_disparity.png" in names and "sub/b_disparity.npy" in names and "a_disparity_color.png" in names
    # The files agree with the API and say what they are.
    model = load_model(ckpt, backend="torch")
    expected = predict(model, a)
    npy = np.load(out / "a_disparity.npy")
    np.testing.assert_allclose(npy, expected, atol=1e-4)
    png, meta = read_png16(out / "a_disparity.png")
    assert np.abs(png - expected).max() <= 0.5 / 256 + 1e-4  # quantised to 1/256 px
    np.testing.assert_array_equal(read_pfm(out / "a_disparity.pfm"), npy)
    assert meta["quantity"] == "disparity" and meta["unit"] == "px" and meta["model"] == "SCRX"
    assert meta["input_size"] == [37, 147] and meta["image_size"] == [50, 160]
    assert meta["normalised_target"]["max_value"] == 192.0
    assert meta["disparity_width_scale"] == pytest.approx(160 / 1242)
    side = json.loads((out / "a_disparity.npy.json").read_text())
    assert side["quantity"] == "disparity" and side["source"].endswith("a.png")
    assert read_png_meta(out / "a_disparity_color.png")["range_kind"] == "per-image"


def test_point_cloud_from_disparity(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("C", 1, constant=0.5)
    write_image(tmp_path / "x.png", 20, 621)
    # at width 621 the disparity is 48 px; with fx = 360.75 px and B = 0.54 m, Z = 360.75·0.54/48
    rc = cli(["predict", str(ckpt), str(tmp_path / "x.png"), "--out", str(tmp_path / "o"), "--save", "ply",
              "--intrinsics", "360.75,360.75,310,10", "--no-progress"])  # fmt: skip
    assert rc == 0
    rec = read_ply(tmp_path / "o" / "x.ply")
    assert len(rec) == 20 * 621
    np.testing.assert_allclose(rec["z"], 360.75 * 0.54 / 48, rtol=1e-5)
    # the corner pixel (u=0, v=0): X = (0 − 310)·Z/360.75
    np.testing.assert_allclose(rec["x"][0], -310 * (360.75 * 0.54 / 48) / 360.75, rtol=1e-5)
    # No camera given: the checkpoint's training camera (721.5 px at 1242 wide = 360.75 px at 621),
    # principal point at the centre (tests/inference/test_ply_camera.py has the other sources).
    predict_files(load_model(ckpt), [tmp_path / "x.png"], tmp_path / "p", PredictOptions(outputs=("ply",)))
    side = json.loads((tmp_path / "p" / "x.ply.json").read_text())
    assert side["intrinsics"] == [360.75, 360.75, 310.5, 10.0]
    assert side["camera"]["source"] == "checkpoint (training camera)"


def test_video_in_side_by_side_out(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.mp4", frames=7, fade=12)  # the background brightens: 40 … 112
    (tmp_path / "junk.avi").write_bytes(b"RIFF....AVI junk")
    report = predict_files(
        brightness_model((48, 96)),  # its map is the frame's luma: it moves with the bar
        [tmp_path / "clip.mp4", tmp_path / "junk.avi"],
        tmp_path / "out",
        PredictOptions(outputs=("video", "color", "png16"), quantity="normalised", batch_size=3),
        progress=False,
    )
    assert report.frames == 7
    assert [f for f, _ in report.failures] == [str(tmp_path / "junk.avi")]
    assert "junk.avi" in report.failures[0][1]
    side = json.loads((tmp_path / "out" / "clip_side_by_side.mp4.json").read_text())
    assert side["frames"] == 7 and side["model"] == "brightness" and side["quantity"] == "normalised"
    # The colour range is the first frame's 1st–99th percentile (about luma 40 and 220), kept for the
    # whole video (later frames' own ranges start higher: their background is brighter).
    inputs = read_video(tmp_path / "clip.mp4")  # the frames predict decoded
    lo, hi = np.percentile(luma(inputs[0]), [1, 99])
    assert side["range"] == pytest.approx([lo, hi]) and side["colormap"] == "magma"
    frames = read_video(tmp_path / "out" / "clip_side_by_side.mp4")
    assert len(frames) == len(inputs) == 7 and frames[0].shape == (48, 192, 3)
    colour = []
    for i, (frame, rgb) in enumerate(zip(frames, inputs, strict=True)):
        # The maps written beside the video: the frame's luma (16-bit PNG) and its colour picture.
        stem = tmp_path / "out" / "clip" / f"clip_{i:06d}_normalised"
        values, _ = read_png16(stem.with_name(stem.name + ".png"))
        np.testing.assert_allclose(values, luma(rgb), atol=1e-4)
        png = cv2.cvtColor(cv2.imread(str(stem.with_name(stem.name + "_color.png"))), cv2.COLOR_BGR2RGB)
        assert mean_abs(png, magma(luma(rgb), lo, hi)) < 0.01  # lossless, same colour map
        colour.append(png)
        # The video re-encodes them (mp4v, lossy): within MP4V grey levels on average (measured).
        assert mean_abs(frame[:, :96], rgb) < MP4V, i
        assert mean_abs(frame[:, 96:], png) < MP4V, i
    # ... and that tolerance tells frames apart: each right half is far from its neighbours' maps.
    for i in range(1, 7):
        assert mean_abs(frames[i][:, 96:], colour[i - 1]) > 3 * MP4V


def test_bad_inputs_name_the_file(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: no images or videos"):
        gather_inputs([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match=r"nothing\.png: no such file"):
        gather_inputs([tmp_path / "nothing.png"])
    with pytest.raises(FileNotFoundError, match=r"\*\.tif: no file matches"):
        gather_inputs([str(tmp_path / "*.tif")])
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ValueError, match=r"foreign\.pt: not an ssrdepth checkpoint"):
        load_model(foreign)
    onnx_junk = tmp_path / "x.onnx"
    onnx_junk.write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"x\.onnx: not a readable ONNX file"):
        load_model(onnx_junk)
    # Same names from two places stay apart.
    write_image(tmp_path / "a" / "f.png", 10, 10)
    write_image(tmp_path / "b" / "f.png", 10, 10)
    items = gather_inputs([str(tmp_path / "*" / "f.png")])
    assert [i.name for i in items] == ["f", "f-2"]


def test_onnxruntime_backend_matches_torch(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("SCRDU", 3)
    image = write_image(tmp_path / "i.png", 45, 150)
    torch_model = load_model(ckpt, backend="torch")
    assert torch_model.backend == "torch" and torch_model.module is not None
    ref = predict(torch_model, image, "normalised")
    ort_model = load_model(ckpt, backend="onnxruntime")  # exported in memory
    assert ort_model.backend == "onnxruntime"
    np.testing.assert_allclose(predict(ort_model, image, "normalised"), ref, atol=1e-5)
    # "auto" (the default) picks the fastest backend here that passes parity with eager float32.
    auto = load_model(ckpt)
    assert auto.backend in ("torch", "onnxruntime", "openvino")
    table = auto.settings["auto"]["table"]
    chosen = next(k for k in table if "rejected" not in table[k] and k.startswith(auto.backend))
    assert table[chosen]["max_abs_error"] <= 1e-2
    np.testing.assert_allclose(predict(auto, image, "normalised"), ref, atol=1e-2)
    again = load_model(ckpt, backend="auto", device="cpu")  # cached: not measured again
    assert again.settings["auto"]["cached"] and again.backend == auto.backend


@pytest.mark.shared_data
def test_real_kitti_frame_against_its_lidar(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled model (trained on synthetic streets only) on KITTI object frame 000000 (1224×370),
    in metres with the frame's own camera, against the lidar depth of the same frame: the Garg crop
    and 1e-3–80 m caps, AbsRel and δ < 1.25 worked out here. Measured: AbsRel 0.249, δ1 0.689; the
    best constant guess (the lidar's own median) reaches AbsRel 0.285, δ1 0.497."""
    from ssrdepth import pretrained
    from ssrdepth.data.kitti_calib import read_object_calib
    from ssrdepth.data.kitti_lidar import lidar_depth_map, read_velodyne

    monkeypatch.setenv(pretrained.ENV_VAR, str(pretrained.BUNDLE_DIR))  # the weights in the package
    root = shared_data / "kitti_object" / "training"
    calib = read_object_calib(root / "calib" / "000000.txt")
    model = load_model("bundled", backend="torch")
    fx = float(calib.P2[0, 0])  # 707.05 px: this recording day's camera
    depth = predict(model, root / "image_2" / "000000.png", "depth", focal=fx, baseline=calib.baseline)
    h, w = depth.shape
    assert (h, w) == (370, 1224)
    truth = lidar_depth_map(read_velodyne(root / "velodyne" / "000000.bin"), calib, (h, w))
    keep = np.zeros((h, w), bool)
    keep[int(0.40810811 * h) : int(0.99189189 * h), int(0.03594771 * w) : int(0.96405229 * w)] = True
    keep &= (truth > 1e-3) & (truth < 80.0)
    y, p = truth[keep].astype(np.float64), np.clip(depth[keep], 1e-3, 80.0)
    assert keep.sum() > 10_000
    abs_rel = float(np.mean(np.abs(p - y) / y))
    delta1 = float(np.mean(np.maximum(p / y, y / p) < 1.25))
    assert abs_rel < 0.28 and delta1 > 0.62, (abs_rel, delta1)
    # Near is near: the lidar's nearest fifth of the points are predicted nearer than its farthest fifth.
    near, far = y < np.percentile(y, 20), y > np.percentile(y, 80)
    assert np.median(p[near]) < 0.5 * np.median(p[far])


@pytest.mark.gpu
def test_cuda_matches_cpu(make_checkpoint: MakeCheckpoint) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    ckpt = make_checkpoint("SCRXU", 3)
    image = np.random.default_rng(3).integers(0, 256, (50, 170, 3), dtype=np.uint8)
    gpu = load_model(ckpt, device="cuda")  # auto → eager PyTorch, channels-last, on CUDA
    assert (gpu.backend, gpu.device) == ("torch", "cuda")
    ref = predict(load_model(ckpt, backend="torch"), image, "normalised")
    # cuDNN may run fp32 convolutions in TF32 (10-bit mantissa): allow 1e-2 on [0, 1] maps.
    np.testing.assert_allclose(predict(gpu, image, "normalised"), ref, atol=1e-2)


def test_video_is_streamed_not_decoded_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 60-frame clip at batch 8: when the model first runs, only the first batch (8 frames, plus at
    most one look-ahead frame) has been decoded, and every batch after holds 8 frames."""
    import ssrdepth.inference.predict as predict_module

    write_video(tmp_path / "clip.mp4", frames=60)
    decoded = 0
    original = predict_module._frames

    def counting_frames(path: Path, *limits: Any) -> tuple[Iterator[np.ndarray], float, int]:
        frames, fps, count = original(path, *limits)

        def gen() -> Iterator[np.ndarray]:
            nonlocal decoded
            for f in frames:
                decoded += 1
                yield f

        return gen(), fps, count

    monkeypatch.setattr(predict_module, "_frames", counting_frames)
    decoded_at_call: list[int] = []

    def run(batch: np.ndarray) -> np.ndarray:
        decoded_at_call.append(decoded)
        return np.full((batch.shape[0], 1, *batch.shape[2:]), 0.5, np.float32)

    model = DepthModel(
        name="fake", in_channels=1, input_size=(16, 32), target={}, source=tmp_path / "fake.onnx",
        backend="onnxruntime", device="cpu", step=0, run=run,
    )  # fmt: skip
    opts = PredictOptions(outputs=("video",), quantity="normalised", batch_size=8, color_range=(0.0, 1.0))
    report = predict_files(model, [tmp_path / "clip.mp4"], tmp_path / "out", opts, progress=False)
    assert report.frames == 60
    assert decoded_at_call[0] <= 9  # was 60: the whole clip before the first batch
    assert decoded_at_call == [8, 16, 24, 32, 40, 48, 56, 60]


def test_backend_auto_is_one_readable_line_and_inputs_are_checked_first(
    make_checkpoint: MakeCheckpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ckpt = make_checkpoint("C", 1)
    write_image(tmp_path / "in" / "a.png", 30, 60)
    argv = ["predict", str(ckpt), str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-progress"]
    for how in ("measured here", "chosen earlier on this machine, cached in "):
        assert cli(argv) == 0
        lines = [line for line in capsys.readouterr().err.splitlines() if "backend auto" in line]
        assert len(lines) == 1, lines
        assert lines[0].startswith("backend auto: ") and how in lines[0]
        assert "ms at batch 8 / 1: " in lines[0] and "torch-fp32 " in lines[0] and "{" not in lines[0]
    # A mistyped input fails before the model is loaded (and --backend auto times anything).
    import ssrdepth.cli.predict as command

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr(command, "load_model", no_load)
    assert cli(["predict", str(ckpt), str(tmp_path / "typo.png"), "--out", str(tmp_path / "out")]) == 2
    assert "typo.png" in capsys.readouterr().err


def test_stabilised_video_maps_follow_the_filter_by_hand(tmp_path: Path) -> None:
    """predict --stabilise: frame t's map is luma_t with its log scale pulled β = 0.8 of the way to the
    previous output's (the median log change over the pixels that changed by less than τ), then pulled
    towards the previous output per pixel in log space: log o = log p − λ·exp(−(d/τ)²)·d with
    d = log p − log o_{t−1} (written out here)."""
    write_video(tmp_path / "clip.mp4", frames=5, fade=6)  # the background brightens a little per frame
    opts = PredictOptions(outputs=("video", "npy"), quantity="normalised", batch_size=2, stabilise=0.9)
    predict_files(brightness_model((48, 96)), [tmp_path / "clip.mp4"], tmp_path / "out", opts, progress=False)
    side = json.loads((tmp_path / "out" / "clip_side_by_side.mp4.json").read_text())
    assert side["stabilised"] == {"strength": 0.9, "tolerance": 0.35, "scale": 0.8}
    previous, scaled = None, 0
    for i, rgb in enumerate(read_video(tmp_path / "clip.mp4")):
        log_p = np.log(np.maximum(luma(rgb).astype(np.float64), 1e-4))
        if previous is not None:
            d = log_p - previous
            reliable = np.abs(d) < 0.35
            if reliable.mean() >= 0.2:  # a fifth of the pixels at least, else the scale is kept
                log_p = log_p - 0.8 * np.median(d[reliable])
                scaled += 1
            d = log_p - previous
            log_p = log_p - 0.9 * np.exp(-((d / 0.35) ** 2)) * d
        previous = log_p
        written = np.load(tmp_path / "out" / "clip" / f"clip_{i:06d}_normalised.npy")
        np.testing.assert_allclose(written, np.exp(log_p), rtol=1e-5)
    assert scaled >= 1  # the scale step was taken (the first frame after the first: the background)
    with pytest.raises(ValueError, match=r"strength must lie in \[0, 1\)"):
        PredictOptions(stabilise=1.5)


def test_uncertainty_output_by_hand(tmp_path: Path) -> None:
    """--save uncertainty: the flip disagreement of a network that is not mirror-symmetric, worked out.

    The stand-in network multiplies its grey input x by a left-to-right ramp r = 0.5 … 1.5. For the
    mirrored image and mirrored back it gives x·r reversed, so on a uniform grey x the uncertainty is
    |x·r − x·r_rev| / max(x·(r + r_rev) / 2, 1e-3) = |r − r_rev| (r + r_rev = 2 everywhere): x cancels."""
    from ssrdepth.inference.predict import DepthModel

    ramp = np.linspace(0.5, 1.5, 12, dtype=np.float32)
    model = DepthModel(
        name="ramp", in_channels=1, input_size=(8, 12), target={}, source=Path("ramp"),
        backend="onnxruntime", device="cpu", step=0, run=lambda batch: batch[:, :1] * ramp,
    )  # fmt: skip
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((8, 12, 3), 128, np.uint8))
    opts = PredictOptions(outputs=("npy", "uncertainty"), quantity="normalised")
    report = predict_files(model, [tmp_path / "grey.png"], tmp_path / "out", opts, progress=False)
    assert len(report.written) == 3  # the two maps and the picture; sidecars beside them
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "grey_normalised.npy", "grey_normalised.npy.json", "grey_uncertainty.npy", "grey_uncertainty.npy.json",
        "grey_uncertainty_color.png",
    ]  # fmt: skip
    x = 128 / 255
    expected = np.tile(np.abs(ramp - ramp[::-1]), (8, 1))  # 1.0, 0.818, …, 0.091, 0.091, …, 1.0
    np.testing.assert_allclose(np.load(tmp_path / "out" / "grey_uncertainty.npy"), expected, rtol=1e-5)
    # The map itself is the plain prediction, not the average of the two passes.
    np.testing.assert_allclose(
        np.load(tmp_path / "out" / "grey_normalised.npy"), np.tile(x * ramp, (8, 1)), rtol=1e-5
    )
    meta = json.loads((tmp_path / "out" / "grey_uncertainty.npy.json").read_text())
    assert meta["quantity"] == "uncertainty" and meta["method"] == "flip" and "mirrored" in meta["meaning"]
    # A mirror-symmetric network (the brightness model) is sure everywhere.
    sym = predict_files(
        brightness_model((8, 12)), [tmp_path / "grey.png"], tmp_path / "sym", opts, progress=False
    )
    assert sym.images == 1
    assert float(np.abs(np.load(tmp_path / "sym" / "grey_uncertainty.npy")).max()) == 0.0


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """predict's images obey the same InputLimits as its video frames and the page: the header's size is
    checked before a pixel is decoded, and the failure names the file and the limit."""
    import ssrdepth.inference.predict as predict_module
    from ssrdepth.inference.inputs import InputLimits

    write_image(tmp_path / "big.png", 20, 30)  # 600 px
    write_image(tmp_path / "small.png", 8, 10)  # 80 px
    write_video(tmp_path / "clip.mp4", frames=3)  # 96×48 = 4,608 px a frame
    decoded: list[str] = []
    real_read = predict_module.read_image
    monkeypatch.setattr(predict_module, "read_image", lambda p: decoded.append(Path(p).name) or real_read(p))
    opts = PredictOptions(outputs=("npy",), quantity="normalised", limits=InputLimits(max_pixels=100))
    report = predict_files(
        brightness_model((8, 10)), [tmp_path / "big.png", tmp_path / "small.png", tmp_path / "clip.mp4"],
        tmp_path / "out", opts, progress=False,
    )  # fmt: skip
    assert report.images == 1 and report.frames == 0 and decoded == ["small.png"]
    failures = dict(report.failures)
    assert (
        "30×20" in failures[str(tmp_path / "big.png")]
        and "(max_pixels)" in failures[str(tmp_path / "big.png")]
    )
    assert "(max_pixels)" in failures[str(tmp_path / "clip.mp4")]


def test_stabilise_flag_before_the_inputs_takes_no_input(
    make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    """`predict --stabilise clip.mp4`: the flag takes no value (its strength is --stabilise-strength), so
    the video stays an input; the sidecar records the strength."""
    ckpt = make_checkpoint("SC", 1)
    write_video(tmp_path / "clip.mp4", frames=3)
    argv = ["predict", str(ckpt), "--stabilise", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "out"),
            "--backend", "torch", "--no-progress"]  # fmt: skip
    assert cli(argv) == 0
    side = json.loads((tmp_path / "out" / "clip_side_by_side.mp4.json").read_text())
    assert side["stabilised"] == {"strength": 0.95, "tolerance": 0.35, "scale": 0.8}
    argv += ["--stabilise-strength", "0.5", "--out", str(tmp_path / "out5")]
    assert cli(argv) == 0
    assert (
        json.loads((tmp_path / "out5" / "clip_side_by_side.mp4.json").read_text())["stabilised"]["strength"]
        == 0.5
    )
