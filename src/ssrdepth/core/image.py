"""The one image reader and the image preparation shared by training and inference.

Reading (:func:`read_image`, :func:`read_pixels`, :func:`image_size`): every image file in ssrdepth —
for stereo matching, data loading, prediction and the size probe — is decoded here, with one rule:
the EXIF orientation is applied as image viewers do (the rule of Pillow's ``ImageOps.exif_transpose``),
and a truncated or corrupt file is refused with a :class:`BadSampleError` naming it (Pillow decodes
with ``ImageFile.LOAD_TRUNCATED_IMAGES`` off, its default; OpenCV would only print a libjpeg warning).

HEIC/HEIF photos (phones) are read through the optional ``pillow-heif`` package (``pip install
"ssrdepth[heif]"``), registered with Pillow on the first read when it is installed; AVIF through
Pillow itself (11.3 and later). Without them, a HEIF or AVIF file — recognised by its suffix or by its
``ftyp`` brand — is refused with a message naming the format and the package that reads it
(:func:`unreadable_format`).

Preparation: colour conversion, resizing to the model's size (masks never mix invalid into valid), and
the model input of :func:`prepare_image`, the same for training and prediction.

Conventions: images ``(H, W, 3)`` uint8 RGB in, maps ``(H, W)`` float32 with a bool mask.
"""

from __future__ import annotations

import functools
import importlib
import os
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile

#: EXIF tag holding the orientation (1..8; 1 = as stored).
EXIF_ORIENTATION = 0x0112

#: Suffixes of HEIF photos (HEIC: HEVC-coded, the iPhone's default) and of AVIF (AV1-coded HEIF).
HEIF_SUFFIXES = (".heic", ".heif", ".hif")
AVIF_SUFFIXES = (".avif",)
#: ``ftyp`` brands (ISO/IEC 23008-12 and the AVIF specification) → the format's name.
_FTYP_BRANDS = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"), "HEIC"),
    **dict.fromkeys((b"mif1", b"msf1", b"mif2"), "HEIF"),
    **dict.fromkeys((b"avif", b"avis"), "AVIF"),
}
#: What installs a reader of each format.
_FORMAT_FIX = {
    "HEIC": 'pip install "ssrdepth[heif]" (the pillow-heif package)',
    "HEIF": 'pip install "ssrdepth[heif]" (the pillow-heif package)',
    "AVIF": "pip install -U pillow (Pillow 11.3 and later read AVIF)",
}


@functools.cache
def register_plugins() -> tuple[str, ...]:
    """Register the optional image decoders that are installed (pillow-heif for HEIC/HEIF) with
    Pillow, once; returns the formats they added. Called by every reader here before opening a file."""
    try:
        heif = importlib.import_module("pillow_heif")
    except (ImportError, OSError):  # not installed, or its library cannot load: as if absent
        return ()
    heif.register_heif_opener()
    return ("HEIC", "HEIF")


def container_format(path: str | os.PathLike[str]) -> str | None:
    """``"HEIC"``, ``"HEIF"`` or ``"AVIF"`` when the file is one (its ``ftyp`` brand, else its
    suffix), else ``None``; reads 12 bytes."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError:
        head = b""
    if len(head) == 12 and head[4:8] == b"ftyp" and head[8:12] in _FTYP_BRANDS:
        return _FTYP_BRANDS[head[8:12]]
    suffix = p.suffix.lower()
    if suffix in HEIF_SUFFIXES:
        return "HEIC" if suffix == ".heic" else "HEIF"
    return "AVIF" if suffix in AVIF_SUFFIXES else None


def unreadable_format(path: str | os.PathLike[str]) -> str | None:
    """Why this Pillow cannot read ``path`` when it is a HEIC/HEIF/AVIF file and the decoder for it is
    not installed — the format and the package that reads it — else ``None``."""
    fmt = container_format(path)
    if fmt is None:
        return None
    register_plugins()
    Image.init()
    if fmt in ("HEIC", "HEIF") and "HEIF" in Image.OPEN:
        return None
    if fmt == "AVIF" and "AVIF" in Image.OPEN:
        return None
    return f"a {fmt} image, which this installation cannot decode; to read it: {_FORMAT_FIX[fmt]}"


def _decode_problem(path: Path, exc: BaseException, what: str) -> str:
    """The message of a file Pillow refused: the missing decoder and its fix for HEIC/HEIF/AVIF."""
    missing = unreadable_format(path)
    if missing is not None:
        return missing
    return f"{what} ({exc})"


class BadSampleError(ValueError):
    """A file that cannot be used (missing, corrupt, truncated, wrong size or dtype). ``file`` names it."""

    def __init__(self, file: str | os.PathLike[str], problem: str) -> None:
        self.file = str(file)
        self.problem = problem
        super().__init__(f"{file}: {problem}")

    def __reduce__(self) -> tuple[type[BadSampleError], tuple[str, str]]:
        # Rebuilt from (file, problem) when raised in a worker process and re-raised here.
        return (BadSampleError, (self.file, self.problem))


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an ``(H, W[, C])`` array, as ``ImageOps.exif_transpose``
    does to an image: 2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° clockwise,
    7 transverse, 8 rotate 90° counter-clockwise. Other values leave the array as stored."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(int(orientation))
    return array if op is None else np.ascontiguousarray(op(array))


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(EXIF_ORIENTATION, 1))
    except (ValueError, TypeError, SyntaxError, OSError):  # an unreadable EXIF block: as stored
        return 1


#: Pillow modes decoded as they are (values as stored), and those converted first.
_CONVERT = {"1": "L", "P": "RGBA", "PA": "RGBA", "LA": "L", "CMYK": "RGB", "YCbCr": "RGB", "La": "L"}


def read_pixels(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file with its stored values, EXIF orientation applied: ``(H, W)`` or
    ``(H, W, 3|4)`` RGB(A); uint8, uint16, int32 or float32 as stored.

    Raises :class:`BadSampleError` naming the file when it is missing, not an image, corrupt or
    truncated (the whole file is decoded before any pixel is returned).
    """
    path = Path(path)
    if not path.is_file():
        raise BadSampleError(path, "file not found")
    if path.suffix.lower() == ".exr":  # float depth maps; Pillow has no EXR decoder
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if raw is None:
            raise BadSampleError(path, "cannot decode the EXR file (corrupt, truncated or not an image)")
        return np.asarray(raw)
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone turned Pillow's guard off: truncation would pass
        raise BadSampleError(path, "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; turn it off to read safely")
    register_plugins()
    try:
        with Image.open(path) as img:
            rawmode = str(img.tile[0][3]) if img.tile and len(img.tile[0]) > 3 else ""
            img.load()
            orientation = _orientation(img)
            wide16 = img.format == "PNG" and rawmode.startswith(("RGB;16", "RGBA;16"))
            if not wide16:
                array = np.asarray(img.convert(_CONVERT[img.mode]) if img.mode in _CONVERT else img)
    # RuntimeError: what a plugin's decoder (pillow-heif's libheif) raises for a damaged file
    except (OSError, SyntaxError, ValueError, RuntimeError, Image.DecompressionBombError) as exc:
        missing = unreadable_format(path)
        raise BadSampleError(
            path,
            missing
            or f"cannot decode the image (corrupt, truncated or not an image: {exc}); expected a whole image file",
        ) from None
    if wide16:  # 16-bit colour PNG: Pillow keeps 8 bits; the file is verified complete, OpenCV decodes it
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise BadSampleError(path, "cannot decode the 16-bit colour PNG")
        array = cv2.cvtColor(raw, cv2.COLOR_BGRA2RGBA if raw.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("="))
    return orient(array, orientation)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image as viewers show it → ``(H, W, 3)`` uint8 RGB (see :func:`as_rgb`: grey is
    repeated, alpha dropped, 16-bit scaled by :func:`uint16_to_uint8`). The one image reader of
    ssrdepth; raises :class:`BadSampleError` naming the file (missing, corrupt, truncated, or a
    sample format that is not an image such as float or 32-bit integers)."""
    array = read_pixels(path)
    if array.dtype not in (np.uint8, np.uint16):
        raise BadSampleError(path, f"unsupported image dtype {array.dtype}; expected 8- or 16-bit")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise BadSampleError(path, f"unsupported channel count {array.shape[2]}; expected 1, 3 or 4")
    return as_rgb(array)


def read_text_chunks(path: str | os.PathLike[str]) -> dict[str, str]:
    """The text metadata of an image file (PNG ``tEXt``/``iTXt`` chunks before the pixels), without
    decoding the pixels. Raises :class:`BadSampleError` naming the file when it is missing or not an image."""
    path = Path(path)
    if not path.is_file():
        raise BadSampleError(path, "file not found")
    register_plugins()
    try:
        with Image.open(path) as img:
            # img.info: the chunks before the pixels (img.text would decode the image to find later ones)
            return {str(k): v for k, v in img.info.items() if isinstance(v, str)}
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadSampleError(
            path, _decode_problem(path, exc, "cannot read the image header; expected an image file")
        ) from None


#: The 8 bytes every PNG file starts with (PNG specification, 3rd ed., §5.2).
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_exif(path: Path) -> bytes | None:
    """The payload of a PNG's ``eXIf`` chunk, found by walking the chunk headers (length, type;
    PNG specification §5.3) without decompressing a pixel; None when there is none. Pillow finds an
    ``eXIf`` placed after the image data only by decoding the whole image, which made reading the
    sizes of a data set's frames cost as much as reading the frames."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(8) != PNG_SIGNATURE:
            return None
        while len(head := f.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if length > size - f.tell():  # past the end (truncated, or not a length): nothing to trust
                return None
            if kind == b"eXIf":
                return f.read(length)
            if kind == b"IEND":
                return None
            f.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    return None


def _header_orientation(img: Image.Image, path: Path) -> int:
    """The EXIF orientation of an opened image without decoding its pixels (PNG: its ``eXIf`` chunk,
    wherever it lies; other formats: what Pillow read with the header)."""
    if img.format == "PNG" and "exif" not in img.info:
        # Hand Pillow the walked chunk (or "none") so that it does not decode the image to look for
        # it; its other sources stay as read_pixels sees them (XMP's tiff:Orientation, ImageMagick's
        # "Raw profile type exif" text chunk, both read with the header).
        data = _png_exif(path)
        if data is not None:
            img.info["exif"] = data
        elif "Raw profile type exif" not in img.info:
            img.info["exif"] = b""
    return _orientation(img)


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(H, W) of an image file as :func:`read_image` returns it (EXIF orientation applied), from the
    header only. Raises :class:`BadSampleError` naming the file when it is missing or not an image."""
    path = Path(path)
    if not path.is_file():
        raise BadSampleError(path, "file not found")
    register_plugins()
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = _header_orientation(img, path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadSampleError(
            path, _decode_problem(path, exc, "cannot read the image header; expected an image file")
        ) from None
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def read_exif(path: str | os.PathLike[str]) -> tuple[Image.Exif, int, int] | None:
    """The EXIF block of an image file and its stored size ``(exif, W, H)`` (before any orientation is
    applied), from the header only; ``None`` when the file cannot be opened as an image. The one reader
    of image files also for their metadata (e.g. :func:`ssrdepth.data.intrinsics.exif_intrinsics`)."""
    register_plugins()
    try:
        with Image.open(Path(path)) as img:
            return img.getexif(), img.size[0], img.size[1]
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def uint16_to_uint8(image: np.ndarray) -> np.ndarray:
    """16-bit → 8-bit image, rounding ``value / 257`` (65535 → 255): the one rule for images that
    training and prediction read."""
    return (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """``(H, W, 3)`` RGB → ``(H, W, channels)``; grey is ITU-R BT.601 luma (OpenCV's RGB2GRAY)."""
    if channels == 3:
        return image
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    raise ValueError(f"channels must be 1 or 3, got {channels}")


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an image ``(H, W[, C])`` to ``size`` = (H, W): area averaging when shrinking (no
    aliasing), bilinear when enlarging. Keeps the channel axis."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrink = h < image.shape[0] and w < image.shape[1]
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if image.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def resize_map(
    values: np.ndarray, valid: np.ndarray, size: tuple[int, int], sparse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Resize a map with a validity mask to ``size`` = (H, W).

    Values are the **masked** area average (``area(v·m) / area(m)``): invalid pixels never contribute.
    The mask is resized by nearest neighbour (a dense map keeps its holes where they are); with
    ``sparse=True`` (lidar) an output pixel is valid when any valid input pixel falls in its footprint,
    so sparse points are not lost by shrinking. Returns ``(values float32 (H, W), valid bool (H, W))``
    with values 0 where invalid.
    """
    h, w = size
    valid = valid.astype(bool)
    if values.shape[:2] == (h, w):
        return np.where(valid, values, 0.0).astype(np.float32), valid.copy()
    v = np.where(valid, values, 0.0).astype(np.float32)
    m = valid.astype(np.float32)
    shrink = h <= values.shape[0] and w <= values.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    num = cv2.resize(v, (w, h), interpolation=interp)
    den = cv2.resize(m, (w, h), interpolation=interp)
    if sparse:
        out_valid = den > 1e-6
    else:
        out_valid = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        out_valid &= den > 1e-6
    out = np.where(out_valid, num / np.maximum(den, 1e-6), 0.0).astype(np.float32)
    return out, out_valid


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` RGB(A) → ``(H, W, 3)`` RGB, uint8 or
    float32 in [0, 1] (uint16 is scaled to uint8 as the data loaders do)."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an image (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    image = image[:, :, :3]
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return uint16_to_uint8(image)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(image, 0.0, 1.0).astype(np.float32)
    raise ValueError(f"unsupported image dtype {image.dtype}; expected uint8, uint16 or float in [0, 1]")


def prepare_image(
    image: np.ndarray, in_channels: int, size: tuple[int, int], as_uint8: bool = False
) -> np.ndarray:
    """An RGB image (see :func:`as_rgb`) → the model input ``(C, H, W)`` float32 in [0, 1]: channel
    conversion, then resize to ``size`` = (H, W) (a grey model resizes one channel, not three). The one preparation of training (the data set and its
    array cache) and prediction, so both feed the network the same tensor for the same file.

    ``as_uint8=True`` returns the ``(C, H, W)`` uint8 before the division by 255 (what the array cache
    stores; a uint8 image is required then).
    """
    rgb = as_rgb(image)
    small = resize_image(to_channels(rgb, in_channels), size)
    if small.ndim == 2:
        small = small[:, :, None]
    chw = np.ascontiguousarray(small.transpose(2, 0, 1))
    if as_uint8:
        if chw.dtype != np.uint8:
            raise ValueError(f"as_uint8 needs a uint8 or uint16 image, got {image.dtype}")
        return chw
    x = chw.astype(np.float32)
    if rgb.dtype == np.uint8:
        x /= np.float32(255.0)
    return x
