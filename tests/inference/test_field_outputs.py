"""Issue 25, second round of users' reports: outputs never written over inputs nor read back as photos
(kind 2), nothing a reader or writer cannot represent dropped in silence (kind 3), and every output's
metadata agreeing with its file (kind 9). Each case is a small input made here; the expected values are
worked out by hand or with NumPy/OpenCV, not by the code under test."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, features

from ssrdepth.cli import main as cli
from ssrdepth.core.image import BadSampleError, read_image
from ssrdepth.core.png16 import encode_png16, png16_clipping
from ssrdepth.inference.inputs import check_inputs, list_inputs
from ssrdepth.inference.outputs import SideBySideWriter, read_pfm, read_ply, read_png16, read_png_meta
from ssrdepth.inference.predict import PredictOptions, predict_files

from .conftest import brightness_model, read_video, write_image, write_video


def _grey(path: Path, levels: np.ndarray) -> None:
    """A grey PNG whose every pixel is ``levels`` (H, W) uint8 in R = G = B (luma = the level)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.repeat(levels[:, :, None], 3, axis=2))


def _disparity_model(h: int, w: int, max_px: float):  # type: ignore[no-untyped-def]
    """Normalised map = luma / 255; disparity = that × ``max_px`` at this width (reference = ``w``)."""
    target = {"kind": "disparity", "max_value": max_px, "reference_width": w, "focal": 100.0, "baseline": 0.5}
    return brightness_model((h, w), target)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# --- kind 2: outputs that overwrite or re-read inputs ---------------------------------------------


def test_predict_refuses_to_write_over_an_input_and_writes_nothing(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "1_image.png", 24, 40, seed=1)
    write_image(photos / "1_image_disparity.png", 24, 40, seed=2)  # a photo, named like an output
    before = _snapshot(photos)
    model = _disparity_model(24, 40, 100.0)
    with pytest.raises(ValueError) as err:
        predict_files(model, [photos], photos, progress=False)
    message = str(err.value)
    assert "1_image_disparity.png is an input" in message and "1_image.png" in message
    assert "--out" in message and "photos-depth" in message
    assert _snapshot(photos) == before  # nothing written, nothing changed


def test_an_out_that_is_an_input_file_is_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", 8, 8)
    before = (tmp_path / "a.png").read_bytes()
    with pytest.raises(ValueError, match=r"a.png is an input and would be overwritten by the output folder"):
        predict_files(_disparity_model(8, 8, 10.0), [tmp_path / "a.png"], tmp_path / "a.png", progress=False)
    assert (tmp_path / "a.png").read_bytes() == before


def test_a_hard_link_to_an_input_under_an_output_name_is_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "in" / "a.png", 16, 16)
    out = tmp_path / "out"
    out.mkdir()
    os.link(tmp_path / "in" / "a.png", out / "a_disparity_color.png")  # the same file, another path
    with pytest.raises(ValueError, match="is an input and would be overwritten"):
        predict_files(
            _disparity_model(16, 16, 50.0),
            [tmp_path / "in" / "a.png", out / "a_disparity_color.png"],
            out,
            progress=False,
        )


def test_a_second_run_does_not_take_the_first_runs_maps_as_photos(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    photos = tmp_path / "photos"
    write_image(photos / "a.png", 20, 30, seed=1)
    write_image(photos / "b.png", 20, 30, seed=2)
    model = _disparity_model(20, 30, 100.0)
    first = predict_files(model, [photos], photos, progress=False)
    assert first.images == 2 and len(first.written) == 4  # png16 + colour for each
    names = sorted(p.name for p in photos.iterdir())
    caplog.set_level(logging.WARNING)
    second = predict_files(model, [photos], photos, progress=False)
    assert second.images == 2  # a, b — not a_disparity.png & co.
    assert sorted(p.name for p in photos.iterdir()) == names  # no a_disparity_disparity.png
    assert any("left out 4 file(s) that ssrdepth wrote" in line for line in second.skipped)
    assert "left out 4 file(s) that ssrdepth wrote" in caplog.text
    # Named explicitly, an output is an input like any file.
    again = predict_files(model, [photos / "a_disparity_color.png"], tmp_path / "again", progress=False)
    assert again.images == 1


def test_a_side_by_side_video_is_not_read_back_as_a_video(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "walk.mp4", 3, 32, 64)
    model = _disparity_model(32, 64, 100.0)
    predict_files(model, [clips], clips, progress=False)
    assert (clips / "walk_side_by_side.mp4").is_file()
    listing = list_inputs([clips])
    assert [it.path.name for it in listing.items] == ["walk.mp4"]
    assert [p.name for p in listing.own_outputs] == ["walk_side_by_side.mp4"]
    by_glob = list_inputs([str(clips / "*.mp4")])  # the glob does not list the sidecar itself
    assert [it.path.name for it in by_glob.items] == ["walk.mp4"] and len(by_glob.own_outputs) == 1


def test_serve_refuses_outputs_over_the_upload(tmp_path: Path) -> None:
    from ssrdepth.serve.service import Settings, UploadError, predict_video

    upload = tmp_path / "clip_side_by_side.webm"
    upload.write_bytes(b"not decoded: refused before")
    with pytest.raises(UploadError, match="overwrite the upload"):
        predict_video(_disparity_model(8, 8, 10.0), upload, Settings(), tmp_path, "clip.webm")
    assert upload.read_bytes() == b"not decoded: refused before"


def test_export_and_quantize_refuse_to_replace_the_checkpoint(make_checkpoint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ssrdepth.inference.export import export_checkpoint
    from ssrdepth.inference.quantize import quantize_checkpoint

    ckpt = make_checkpoint()
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match=r"model.pt is an input and would be overwritten by the onnx export"):
        export_checkpoint(ckpt, ckpt, "onnx", check=False)
    with pytest.raises(ValueError, match=r"would be overwritten by the INT8 export.*--out .*model.int8.onnx"):
        quantize_checkpoint(ckpt, None, tmp_path / "." / "model.pt")
    assert ckpt.read_bytes() == before


# --- kind 3: what a reader cannot read, said ------------------------------------------------------

#: The first box of a HEIC file (ISO/IEC 23008-12): size 24, "ftyp", major brand "heic", then garbage.
HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


def _no_heif() -> None:
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return
    pytest.skip("pillow-heif is installed: the message without it cannot be seen here")


def test_heic_without_its_decoder_names_the_format_and_the_fix(tmp_path: Path) -> None:
    _no_heif()
    phone = tmp_path / "phone"
    write_image(phone / "IMG_0001.jpg", 16, 24)
    (phone / "IMG_0002.HEIC").write_bytes(HEIC_HEAD)
    (phone / "renamed.jpg").write_bytes(HEIC_HEAD)  # a HEIC under a JPEG name: known by its content
    with pytest.raises(BadSampleError, match=r"HEIC image.*ssrdepth\[heif\].*pillow-heif"):
        read_image(phone / "IMG_0002.HEIC")
    with pytest.raises(BadSampleError, match="HEIC image"):
        read_image(phone / "renamed.jpg")
    with pytest.raises(ValueError, match="HEIC image"):
        check_inputs(list_inputs([phone / "IMG_0002.HEIC"]).items)
    report = predict_files(_disparity_model(16, 24, 50.0), [phone], tmp_path / "out", progress=False)
    assert report.images == 1  # the JPEG
    failed = dict(report.failures)
    assert set(failed) == {str(phone / "IMG_0002.HEIC"), str(phone / "renamed.jpg")}
    assert all('pip install "ssrdepth[heif]"' in problem for problem in failed.values())
    # The web page's upload says the same.
    from ssrdepth.serve.service import UploadError, read_upload

    with pytest.raises(UploadError, match=r"IMG_0002.HEIC: a HEIC image.*ssrdepth\[heif\]"):
        read_upload(phone / "IMG_0002.HEIC", "IMG_0002.HEIC")


def test_heic_is_read_when_pillow_heif_is_installed(tmp_path: Path) -> None:
    heif = pytest.importorskip(
        "pillow_heif", reason="pillow-heif not installed (pip install 'ssrdepth[heif]')"
    )
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, :24] = (200, 60, 30)
    rgb[:, 24:] = (20, 120, 220)
    heif.from_pillow(Image.fromarray(rgb)).save(tmp_path / "photo.heic", quality=95)
    back = read_image(tmp_path / "photo.heic")
    assert back.shape == (32, 48, 3)
    # Lossy HEVC: flat halves come back within a few grey levels, away from the edge.
    assert np.abs(back[:, :16].astype(int) - rgb[:, :16]).mean() < 6
    assert np.abs(back[:, 32:].astype(int) - rgb[:, 32:]).mean() < 6
    assert [it.path.name for it in list_inputs([tmp_path]).items] == ["photo.heic"]


def test_avif_is_listed_and_read(tmp_path: Path) -> None:
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec (Pillow 11.3+ wheels have it)")
    rgb = np.full((16, 16, 3), 128, np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.avif", quality=95)
    assert [it.path.name for it in list_inputs([tmp_path]).items] == ["a.avif"]
    assert np.abs(read_image(tmp_path / "a.avif").astype(int) - 128).max() <= 3


def test_a_folder_says_what_it_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "mixed"
    write_image(folder / "a.png", 12, 12)
    (folder / "raw.cr2").write_bytes(b"II*\x00raw")
    (folder / "notes.txt").write_text("x")
    (folder / "poses.json").write_text("{}")
    listing = list_inputs([folder])
    assert [it.path.name for it in listing.items] == ["a.png"]
    assert [(p.name, "'.cr2' is not an image or video format" in r) for p, r in listing.skipped] == [
        ("raw.cr2", True)
    ]
    assert listing.notes()[1].startswith("formats read: images .png, .jpg")
    assert listing.notes()[2] == "left out 2 file(s) that are not images (.json, .txt)"
    caplog.set_level(logging.WARNING)
    report = predict_files(_disparity_model(12, 12, 50.0), [folder], tmp_path / "out", progress=False)
    assert report.images == 1 and "raw.cr2: skipped: '.cr2' is not an image" in caplog.text
    # A folder of nothing usable says what it holds.
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "raw.cr2").write_bytes(b"x")
    with pytest.raises(
        ValueError, match=r"no images or videos in this folder \(it holds 1 file\(s\) of another"
    ):
        list_inputs([tmp_path / "only"])


# --- kind 3: what a writer cannot represent, reported and recorded --------------------------------


def test_png16_clipping_is_warned_and_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Disparity = grey / 255 × 300 px: grey 255 → 300 px and grey 230 → 270.588 px exceed the
    # ×256 PNG's largest 65535 / 256 = 255.996 px; grey 100 → 117.647 px fits.
    levels = np.full((10, 20), 100, np.uint8)
    levels[:, :5] = 255  # 50 pixels
    levels[:3, 5:9] = 230  # 12 pixels
    _grey(tmp_path / "in" / "wide.png", levels)
    caplog.set_level(logging.WARNING)
    report = predict_files(
        _disparity_model(10, 20, 300.0),
        [tmp_path / "in"],
        tmp_path / "out",
        PredictOptions(outputs=("png16",)),
        progress=False,
    )
    (path,) = report.written
    values, meta = read_png16(path)
    assert meta["clipped"]["pixels"] == 62
    assert meta["clipped"]["true_max"] == pytest.approx(300.0, abs=1e-3)
    assert meta["clipped"]["above"] == pytest.approx(65535 / 256)
    assert meta["clipped"]["fraction"] == pytest.approx(62 / 200)
    assert "62 of 200 values" in caplog.text and "true maximum 300" in caplog.text
    assert "--save npy or pfm" in caplog.text
    np.testing.assert_allclose(values[levels >= 230], 65535 / 256)
    np.testing.assert_allclose(values[levels == 100], 100 / 255 * 300, atol=1 / 512)
    with Image.open(path) as img:
        assert "62 value(s) above 255.996" in img.info["Description"]
    # The codec alone (the stereo cache's and the synthetic set's writers call it): the same count.
    clip = png16_clipping(np.array([[10.0, 256.0, 260.0, 255.99]]))
    assert (clip.count, clip.valid, clip.true_max) == (2, 4, 260.0)  # 256·256 = 65536 > 65535
    caplog.clear()
    encode_png16(np.array([[10.0, 260.0]]), name="cache/0001.png")
    assert "cache/0001.png: 1 of 2 values" in caplog.text


def test_no_warning_when_everything_fits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _grey(tmp_path / "in" / "a.png", np.full((6, 8), 255, np.uint8))
    caplog.set_level(logging.WARNING)
    report = predict_files(
        _disparity_model(6, 8, 255.0),
        [tmp_path / "in"],
        tmp_path / "out",
        PredictOptions(outputs=("png16",)),
        progress=False,
    )
    assert read_png_meta(report.written[0])["clipped"]["pixels"] == 0
    assert "16-bit PNG" not in caplog.text


# --- kind 9: each output's metadata agrees with its file ------------------------------------------


def test_every_output_kind_agrees_with_its_metadata(tmp_path: Path) -> None:
    # A 30×50 photo for a model of 10×20 input: maps are resized back to 30×50 before writing.
    levels = np.tile(np.linspace(0, 255, 50).astype(np.uint8), (30, 1))
    levels[:, :3] = 0  # zero disparity (the left edge, once resized): no depth, no point
    _grey(tmp_path / "in" / "p.png", levels)
    model = brightness_model(
        (10, 20),
        {"kind": "disparity", "max_value": 300.0, "reference_width": 20, "focal": 100.0, "baseline": 0.5},
    )
    opts = PredictOptions(
        outputs=("png16", "npy", "pfm", "color", "ply"),
        color_range=(100.0, 2000.0),
        intrinsics=(100.0, 100.0, 25.0, 15.0),
        max_depth=1.0,
    )
    report = predict_files(model, [tmp_path / "in"], tmp_path / "out", opts, progress=False)
    out = tmp_path / "out"
    exact = np.load(out / "p_disparity.npy")
    side = json.loads((out / "p_disparity.npy.json").read_text())
    assert exact.shape == (30, 50) and side["image_size"] == [30, 50] and side["file"] == "p_disparity.npy"
    np.testing.assert_array_equal(read_pfm(out / "p_disparity.pfm"), exact)
    assert json.loads((out / "p_disparity.pfm.json").read_text())["image_size"] == [30, 50]
    # 16-bit PNG: size, scale and the clipping it records, against the .npy's exact values.
    raw = cv2.imread(str(out / "p_disparity.png"), cv2.IMREAD_UNCHANGED)
    meta = read_png_meta(out / "p_disparity.png")
    assert list(raw.shape) == meta["image_size"] == [30, 50]
    scale = meta["png_scale"]
    fits = exact * scale <= 65535.5
    np.testing.assert_allclose(raw[fits & (raw > 0)] / scale, exact[fits & (raw > 0)], atol=0.5 / scale)
    assert meta["clipped"]["pixels"] == int(np.count_nonzero(np.rint(exact * 256) > 65535)) > 0
    assert meta["clipped"]["true_max"] == pytest.approx(float(exact.max()))
    assert meta["invalid_pixels"] == int(np.count_nonzero(raw == 0))
    # Colour PNG: size, and the saturated counts over the range it records.
    colour_meta = read_png_meta(out / "p_disparity_color.png")
    with Image.open(out / "p_disparity_color.png") as img:
        assert [img.height, img.width] == colour_meta["image_size"] and img.mode == "RGB"
    lo, hi = colour_meta["range"]
    assert (lo, hi) == (100.0, 2000.0)
    assert colour_meta["range_clipped"] == {
        "below": int(np.count_nonzero(exact < 100.0)),
        "above": int(np.count_nonzero(exact > 2000.0)),
    }
    # Point cloud: depth = fx × baseline / disparity, fx = 100 px of the intrinsics (at the photo's size).
    depth = np.where(exact > 1e-6, 100.0 * 0.5 / np.maximum(exact, 1e-12), 0.0)
    kept = int(np.count_nonzero((depth > 0) & (depth <= 1.0)))
    cloud = read_ply(out / "p.ply")
    ply_meta = json.loads((out / "p.ply.json").read_text())
    assert len(cloud) == ply_meta["points"] == kept > 0
    dropped = ply_meta["dropped_points"]
    assert dropped["no_depth"] == int(np.count_nonzero(depth <= 0)) > 0
    assert dropped["beyond_max_depth"] == int(np.count_nonzero(depth > 1.0)) > 0
    assert dropped["no_depth"] + dropped["beyond_max_depth"] + kept == 30 * 50
    assert len(report.written) == 5


def test_video_sidecar_counts_the_frames_in_the_file(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.mp4", 5, 32, 64)
    model = _disparity_model(32, 64, 100.0)
    report = predict_files(model, [tmp_path / "clip.mp4"], tmp_path / "out", progress=False)
    (video,) = report.written
    meta = json.loads((video.with_name(video.name + ".json")).read_text())
    frames = read_video(video)
    assert meta["frames"] == len(frames) == report.frames == 5
    assert frames[0].shape == (meta["image_size"][0], 2 * meta["image_size"][1], 3)
    assert set(meta["range_clipped"]) == {"below", "above"}


def test_a_frame_of_another_size_is_refused_not_dropped(tmp_path: Path) -> None:
    writer = SideBySideWriter(tmp_path / "v.mp4", 10.0)
    frame = np.zeros((16, 16, 3), np.uint8)
    writer.write(frame, frame)
    other = np.zeros((20, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="frame 1 is 16×20 px, the video 16×16"):
        writer.write(other, other)
    writer.abort()
    assert not (tmp_path / "v.mp4").exists()


def test_generate_compare_says_which_photos_it_leaves_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ssrdepth.data.image_stats import list_images

    write_image(tmp_path / "phone" / "a.jpg", 8, 8)
    (tmp_path / "phone" / "b.HEIC").write_bytes(HEIC_HEAD)
    caplog.set_level(logging.WARNING)
    assert [p.name for p in list_images(tmp_path / "phone")] == ["a.jpg"]
    assert "left out 1 photo(s) of other formats (.heic)" in caplog.text


def test_the_command_refuses_out_over_its_inputs_and_reruns_cleanly(
    make_checkpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    ckpt = make_checkpoint()
    photos = tmp_path / "my photos"
    write_image(photos / "1_image.png", 20, 40, seed=1)
    write_image(photos / "1_image_disparity.png", 20, 40, seed=2)
    before = _snapshot(photos)
    assert cli(["predict", str(ckpt), str(photos), "--out", str(photos), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "1_image_disparity.png is an input and would be overwritten" in err
    assert f"--out '{tmp_path / 'my photos-depth'}'" in err  # quoted: the folder has a space
    assert _snapshot(photos) == before
    # Without the clash: a first and a second run into the photos' own folder predict 2 photos each.
    (photos / "1_image_disparity.png").rename(photos / "2_image.png")
    for _ in range(2):
        assert cli(["predict", str(ckpt), str(photos), "--out", str(photos), "--no-progress"]) == 0
        assert "2 image(s)" in capsys.readouterr().out
    assert len(list(photos.iterdir())) == 6
