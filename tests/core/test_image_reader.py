"""The one image reader (issue 15, kinds 1 and 2): EXIF orientation applied as viewers do, truncated
files refused naming the file, for matching, loading, prediction and the size probe alike."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

# Through ssrdepth.data.sample (its readers are the core reader), so that on an older tree these tests
# fail for the behaviour, not for a missing import.
from ssrdepth.data import sample
from ssrdepth.data.config import DataConfig, StereoPair
from ssrdepth.data.sample import BadSampleError, read_image
from ssrdepth.data.targets import match_pair, prepare_targets
from ssrdepth.stereo.cache import TargetCache

STORED = (40, 80)  # (H, W) as stored in the file: landscape


def stored_image(seed: int = 0) -> np.ndarray:
    """A smooth RGB image (JPEG keeps it within a few levels) whose corners differ, so a rotation shows."""
    h, w = STORED
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 60 + seed)], axis=2)
    return rgb.astype(np.uint8)


def write_jpeg(path: Path, rgb: np.ndarray, orientation: int = 1) -> Path:
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return path


def viewer(path: Path) -> np.ndarray:
    """What an image viewer shows: Pillow's own ``ImageOps.exif_transpose``."""
    with Image.open(path) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_is_pillows_exif_transpose(orientation: int) -> None:
    from ssrdepth.core.image import orient

    rgb = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(buf, format="PNG", exif=exif.tobytes())
    buf.seek(0)
    with Image.open(buf) as img:
        expected = np.asarray(ImageOps.exif_transpose(img))
    np.testing.assert_array_equal(orient(rgb, orientation), expected)


def test_rotated_phone_jpeg_reads_as_viewers_show_it_everywhere(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "phone.jpg", stored_image(), orientation=6)  # "rotate 90° clockwise"
    seen = viewer(path)
    assert seen.shape == (80, 40, 3)
    # Loading (data/), the size probe, the one reader (prediction) and the matcher's grey image.
    np.testing.assert_array_equal(sample.read_image(path), seen)
    assert sample.image_size(path) == (80, 40)
    from ssrdepth.core import image as core

    np.testing.assert_array_equal(core.read_image(path), seen)
    assert core.image_size(path) == (80, 40)
    left = tmp_path / "left.jpg"
    right = write_jpeg(tmp_path / "right.jpg", stored_image(1), orientation=6)
    write_jpeg(left, stored_image(), orientation=6)
    cache = TargetCache(tmp_path / "cache")
    match_pair("k", left, right, cache)
    disparity, _ = cache.read("k")
    assert disparity.shape == (80, 40)  # matched along the rows viewers see, not the stored ones


def test_rotated_jpeg_predicts_a_map_at_the_viewed_size(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from ssrdepth.checkpoint import save_checkpoint
    from ssrdepth.inference.predict import PredictOptions, describe, load_model, predict_files
    from ssrdepth.models import create_model

    ckpt = save_checkpoint(
        tmp_path / "m.pt",
        create_model("C", 1, width=0.125),
        input_size=(16, 48),
        target={
            "kind": "disparity",
            "max_value": 100.0,
            "focal": 50.0,
            "baseline": 0.5,
            "reference_width": 80,
        },
        step=1,
    )
    path = write_jpeg(tmp_path / "phone.jpg", stored_image(), orientation=6)
    model = load_model(ckpt, backend="torch")
    report = predict_files(model, [path], tmp_path / "out", PredictOptions(outputs=("npy",)), progress=False)
    assert report.images == 1 and not report.failures
    assert np.load(tmp_path / "out" / "phone_disparity.npy").shape == (80, 40)
    meta = describe(model, "disparity", (80, 40), str(path))
    assert meta["image_size"] == [80, 40] and meta["disparity_width_scale"] == pytest.approx(40 / 80)


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_truncated_jpeg_is_refused_naming_the_file(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    path = truncate(write_jpeg(tmp_path / "half.jpg", rgb))
    assert cv2.imread(str(path)) is not None  # OpenCV decodes it as half grey, with only a warning
    for read in (read_image, sample.read_image):
        with pytest.raises(BadSampleError, match=r"half\.jpg: cannot decode the image \(corrupt, truncated"):
            read(path)


def test_truncated_16bit_depth_png_and_disparity_png_are_refused(tmp_path: Path) -> None:
    depth = np.random.default_rng(0).integers(1, 65535, (48, 64), dtype=np.uint16)
    path = tmp_path / "depth.png"
    assert cv2.imwrite(str(path), depth)
    np.testing.assert_allclose(sample.read_depth_map(path, 256.0), depth / 256.0, rtol=1e-6)
    truncate(path, 0.6)
    with pytest.raises(BadSampleError, match=r"depth\.png: cannot decode"):
        sample.read_depth_map(path, 256.0)
    from ssrdepth.stereo.cache import read_disparity_png

    with pytest.raises(ValueError, match=r"depth\.png"):
        read_disparity_png(path)


def test_prepare_targets_and_predict_do_not_count_a_truncated_jpeg_as_done(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (40, 80, 3), dtype=np.uint8)
    left = truncate(write_jpeg(tmp_path / "left.jpg", rgb))
    right = write_jpeg(tmp_path / "right.jpg", rgb)
    cache = TargetCache(tmp_path / "cache")
    pair = StereoPair("k", left, right, 50.0, 0.5)
    with pytest.raises(ValueError, match=r"left\.jpg"):
        match_pair("k", left, right, cache)
    summary = prepare_targets([pair], cache, workers=1, progress=False, skip_bad=True)
    assert summary.computed == 0 and len(summary.failed) == 1 and "left.jpg" in summary.failed[0]
    assert not cache.has("k")
    pytest.importorskip("torch")
    from ssrdepth.checkpoint import save_checkpoint
    from ssrdepth.inference.predict import PredictOptions, load_model, predict_files
    from ssrdepth.models import create_model

    ckpt = save_checkpoint(
        tmp_path / "m.pt", create_model("C", 1, width=0.125), input_size=(16, 48),
        target={"kind": "normalised", "max_value": 1.0}, step=1,
    )  # fmt: skip
    report = predict_files(load_model(ckpt), [left], tmp_path / "out", PredictOptions(), progress=False)
    assert report.images == 0 and [f for f, _ in report.failures] == [str(left)]
    assert not report.written


class Recorder:
    """Stands in for a loaded model (input size 147×37): records what prediction feeds the network."""

    input_size = (37, 147)

    def __init__(self, in_channels: int) -> None:
        self.in_channels = in_channels
        self.seen: list[np.ndarray] = []

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.seen.append(batch.copy())
        return np.zeros((len(batch), 1, *self.input_size), np.float32)


def test_training_and_prediction_feed_the_same_tensor(tmp_path: Path) -> None:
    """Issue 13, fault 8: the data set (training, with and without its array cache) and prediction
    (``predict_normalised`` from the file) hand the network the same tensor for the same file."""
    pytest.importorskip("torch")
    from ssrdepth.data import build_dataset
    from ssrdepth.inference.predict import predict_normalised

    root = tmp_path / "rgbd"
    rng = np.random.default_rng(3)
    (root / "image").mkdir(parents=True)
    (root / "depth").mkdir()
    rgb = rng.integers(0, 256, (90, 200, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(root / "image" / "a.png")
    cv2.imwrite(str(root / "depth" / "a.png"), np.full((90, 200), 5000, np.uint16))
    for channels in (1, 3):
        recorder = Recorder(channels)
        predict_normalised(recorder, [read_image(root / "image" / "a.png")])  # type: ignore[arg-type]
        for cache in (False, True):
            cfg = DataConfig(
                source="rgbd-folder", root=str(root), size=(37, 147), channels=channels, target="depth",
                pattern=("image/{name}.png", "depth/{name}.png"), depth_scale=1000.0,
            )  # fmt: skip
            trained = build_dataset(cfg, "all", cache=cache)[0]["image"].numpy()
            np.testing.assert_array_equal(trained, recorder.seen[0][0])


def test_every_image_file_is_opened_by_the_one_reader() -> None:
    """No module decodes an image file itself: calls of cv2.imread, PIL's Image.open and imageio are
    made in core.image only (text in error messages does not count)."""
    import ast

    import ssrdepth

    src = Path(ssrdepth.__file__).parent
    offenders = []
    for path in sorted(src.rglob("*.py")):
        if path.relative_to(src).as_posix() == "core/image.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                name = owner.id if isinstance(owner, ast.Name) else ""
                if (name, node.func.attr) in (("cv2", "imread"), ("Image", "open")) or name.startswith(
                    "imageio"
                ):
                    offenders.append(f"{path.relative_to(src)}:{node.lineno}")
    assert not offenders, offenders


def _png_chunks(data: bytes) -> list[bytes]:
    """The chunks of a PNG file, each with its length, type, data and CRC (PNG specification §5.3)."""
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    return chunks


@pytest.mark.parametrize("where", ["before the image data", "after the image data"])
@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_png_size_probe_reads_exif_wherever_it_lies(tmp_path: Path, where: str, orientation: int) -> None:
    from ssrdepth.core.image import image_size

    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(stored_image()).save(buf, format="PNG", exif=exif.tobytes())
    head, chunks = buf.getvalue()[:8], _png_chunks(buf.getvalue())
    kinds = [c[4:8] for c in chunks]
    assert b"eXIf" in kinds and kinds[-1] == b"IEND"
    if where == "after the image data":  # allowed by the specification; Pillow finds it only on decode
        exif_chunk = chunks.pop(kinds.index(b"eXIf"))
        chunks.insert(len(chunks) - 1, exif_chunk)
    path = tmp_path / "photo.png"
    path.write_bytes(head + b"".join(chunks))
    # 40×80 stored; orientations 5–8 turn it a quarter: the viewer's (and the reader's) size.
    expected = viewer(path).shape[:2]
    assert expected == ((80, 40) if orientation in (6, 8) else (40, 80))
    assert image_size(path) == expected == read_image(path).shape[:2]


def test_png_size_probe_decodes_no_pixel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size probe reads headers only (it runs on every frame of a data set before training)."""
    from PIL import ImageFile

    from ssrdepth.core.image import image_size

    path = tmp_path / "frame.png"
    Image.fromarray(stored_image()).save(path)

    def no_decoding(self: object) -> None:
        raise AssertionError("the size probe decoded the image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert image_size(path) == STORED


def test_png_size_probe_reads_xmp_orientation_like_the_reader(tmp_path: Path) -> None:
    """No eXIf chunk but XMP's tiff:Orientation (an iTXt chunk): the probe agrees with the reader."""
    from PIL import PngImagePlugin

    from ssrdepth.core.image import image_size

    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
    )
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    path = tmp_path / "xmp.png"
    Image.fromarray(stored_image()).save(path, pnginfo=info)
    assert image_size(path) == (80, 40) == read_image(path).shape[:2]


def test_png_size_probe_survives_a_chunk_length_past_the_end(tmp_path: Path) -> None:
    from ssrdepth.core.image import image_size

    buf = io.BytesIO()
    Image.fromarray(stored_image()).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    # A text chunk after IHDR claiming 4 GiB − 1 bytes: the walk stops there instead of reading it.
    bogus = (0xFFFFFFFF).to_bytes(4, "big") + b"tEXt" + b"k\x00v" + b"\x00\x00\x00\x00"
    ihdr_end = 8 + 12 + 13
    path = tmp_path / "bogus.png"
    path.write_bytes(bytes(data[:ihdr_end]) + bogus + bytes(data[ihdr_end:]))
    from ssrdepth.core.image import _png_exif

    assert _png_exif(path) is None
    try:
        size = image_size(path)
    except sample.BadSampleError as exc:  # Pillow may refuse the header itself: then by name
        assert "bogus.png" in str(exc)
    else:
        assert size == STORED
