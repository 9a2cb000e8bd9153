"""NYU Depth v2 labeled (Silberman et al. 2012): ``nyu_depth_v2_labeled.mat`` and ``splits.mat``.

The .mat is MATLAB v7.3, i.e. HDF5, read lazily with h5py (the file is 2.8 GB; one frame is read per
access). MATLAB stores arrays column-major, so h5py sees them transposed:

- ``images``: (1449, 3, 640, 480) uint8 → frame i is ``images[i].transpose(2, 1, 0)`` = (480, 640, 3) RGB;
- ``depths`` (filled in by colourisation) and ``rawDepths`` (sensor, 0 = missing): (1449, 640, 480)
  float32 metres → ``depths[i].T`` = (480, 640).

``splits.mat`` holds ``trainNdxs`` (795) and ``testNdxs`` (654), 1-based frame numbers; it may be
MATLAB v5 (the official file, read with SciPy) or v7.3 (h5py). ``cfg.nyu_depth`` picks ``"filled"``
(``depths``) or ``"raw"`` (``rawDepths``). The root may be the .mat file or its folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.data.config import DataConfig
from ssrdepth.data.sample import BadSampleError, Frame, Source

MAT_NAME = "nyu_depth_v2_labeled.mat"
SPLITS_NAME = "splits.mat"
DEPTH_KEYS = {"filled": "depths", "raw": "rawDepths"}
#: NYU Depth v2 labeled: 1,449 frames, official split 795 train / 654 test.
N_FRAMES, N_TRAIN, N_TEST = 1449, 795, 654
#: (H, W) of the labeled frames (Kinect, 640×480).
NYU_SIZE = (480, 640)
#: The Kinect colour camera's focal length (px at 640 wide): fx_rgb of the NYU toolbox's camera_params.m
#: (Silberman et al. 2012); a depth model trained on NYU records it as its training camera.
NYU_FOCAL = 5.1885790117450188e02


def _open_h5(path: Path) -> Any:
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise BadSampleError(
            path, f"not a MATLAB v7.3 (HDF5) file, or corrupt ({exc}); expected NYU Depth v2 labeled"
        ) from None


def read_split_indices(path: Path, n_frames: int) -> dict[str, np.ndarray]:
    """``{"train": …, "test": …}`` 0-based frame indices from ``splits.mat`` (v7.3 or v5)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: NYU splits.mat not found (the official 795/654 split needs it)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with _open_h5(path) as f:
            for name in ("trainNdxs", "testNdxs"):
                if name in f:
                    arrays[name] = np.asarray(f[name]).ravel()
    except BadSampleError:
        try:
            from scipy.io import loadmat

            mat = loadmat(str(path))
        except (ValueError, OSError, NotImplementedError) as exc:
            raise BadSampleError(path, f"cannot read the split file ({exc})") from None
        arrays = {k: np.asarray(mat[k]).ravel() for k in ("trainNdxs", "testNdxs") if k in mat}
    out = {}
    for name, split in (("trainNdxs", "train"), ("testNdxs", "test")):
        if name not in arrays:
            raise BadSampleError(path, f"missing array {name!r} (expected trainNdxs and testNdxs)")
        idx = arrays[name].astype(np.int64) - 1  # MATLAB is 1-based
        if idx.size == 0 or idx.min() < 0 or idx.max() >= n_frames:
            raise BadSampleError(path, f"{name} holds indices outside 1..{n_frames}")
        out[split] = np.sort(idx)
    if np.intersect1d(out["train"], out["test"]).size:
        raise BadSampleError(path, "trainNdxs and testNdxs overlap")
    return out


@dataclass
class NyuSource(Source):
    """Frames of the labeled .mat, decoded one at a time (the h5py file opens lazily per process)."""

    mat: Path = Path()
    splits_path: Path = Path()
    depth_key: str = "depths"
    shape: tuple[int, int] = (480, 640)
    _handle: Any = field(default=None, repr=False)
    _pid: int = -1

    def _file(self) -> Any:
        if self._handle is None or self._pid != os.getpid():  # h5py handles do not survive fork
            self._handle = _open_h5(self.mat)
            self._pid = os.getpid()
        return self._handle

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handle"], state["_pid"] = None, -1
        return state

    def _read(self, key: str, i: int) -> np.ndarray:
        item = self.frames[i].item
        try:
            return np.asarray(self._file()[key][item])
        except (OSError, KeyError, ValueError) as exc:  # a truncated or damaged HDF5 file
            raise BadSampleError(
                self.mat, f"cannot read {key}[{item}] ({exc}); truncated or corrupt file?"
            ) from None

    def image(self, i: int) -> np.ndarray:
        raw = self._read("images", i)  # (3, W, H)
        return np.ascontiguousarray(raw.transpose(2, 1, 0)).astype(np.uint8, copy=False)

    def depth(self, i: int) -> np.ndarray:
        raw = self._read(self.depth_key, i).astype(np.float32).T  # (H, W) metres
        return np.where(np.isfinite(raw) & (raw > 0), raw, 0.0).astype(np.float32)

    def image_size(self, i: int) -> tuple[int, int]:
        return self.shape

    def official_split(self, split: str) -> list[int] | None:
        if split == "all":
            return list(range(len(self.frames)))
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; valid splits: train, test, all")
        return [int(i) for i in read_split_indices(self.splits_path, len(self.frames))[split]]

    def meta(self, i: int) -> dict[str, Any]:
        out = super().meta(i)
        out["file"] = f"{self.mat}[{self.frames[i].item}]"
        out["depth_array"] = self.depth_key
        return out


def nyu_labeled(root: Path, depth: str = "filled") -> NyuSource:
    """Index ``nyu_depth_v2_labeled.mat`` (``root`` is the file or its folder) with ``splits.mat``
    beside it. Checks the arrays' presence and shapes; decodes nothing."""
    root = Path(root)
    mat = root if root.is_file() else root / MAT_NAME
    if not mat.is_file():
        raise FileNotFoundError(f"{mat}: NYU Depth v2 labeled file not found")
    if depth not in DEPTH_KEYS:
        raise ValueError(f"nyu_depth must be 'filled' or 'raw', got {depth!r}")
    key = DEPTH_KEYS[depth]
    with _open_h5(mat) as f:
        missing = [k for k in ("images", key) if k not in f]
        if missing:
            raise BadSampleError(
                mat, f"missing array(s) {', '.join(missing)} (found: {', '.join(sorted(f.keys())) or 'none'})"
            )
        images, depths = f["images"], f[key]
        if images.ndim != 4 or images.shape[1] != 3:
            raise BadSampleError(mat, f"'images' has shape {images.shape}; expected (N, 3, W, H)")
        n, _, w, h = images.shape
        if w < h:  # Kinect frames are landscape: MATLAB's column-major file shows them as (3, W, H)
            raise BadSampleError(
                mat,
                f"'images' has shape {images.shape}: frames of {w}×{h} (W×H), i.e. portrait; expected "
                f"MATLAB's transposed layout (N, 3, {NYU_SIZE[1]}, {NYU_SIZE[0]}) for {NYU_SIZE[1]}×{NYU_SIZE[0]} "
                "frames (a file written row-major, e.g. from NumPy, must be transposed)",
            )
        if depths.shape != (n, w, h):
            raise BadSampleError(
                mat, f"{key!r} has shape {depths.shape}; expected {(n, w, h)} to match 'images'"
            )
    frames = [Frame(key=f"{i:04d}", group=f"{i:04d}", image=mat, item=i, focal=NYU_FOCAL) for i in range(n)]
    if not frames:
        raise BadSampleError(mat, "holds no frames")
    return NyuSource(
        "nyu",
        mat.parent,
        frames,
        "sensor",
        mat=mat,
        splits_path=mat.parent / SPLITS_NAME,
        depth_key=key,
        shape=(int(h), int(w)),
    )


def labeled_source(root: Path, cfg: DataConfig) -> NyuSource:
    """The ``nyu`` source of ``cfg`` (:func:`nyu_labeled` with ``cfg.nyu_depth``): the loader of the
    source table (:data:`ssrdepth.data.config.DATA_SOURCES`)."""
    return nyu_labeled(root, cfg.nyu_depth)
