"""NYU Depth v2 labeled: a tiny MATLAB-v7.3-style HDF5 file (arrays stored transposed) + splits.mat."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from ssrdepth.data import DataConfig, build_dataset, build_source

N, H, W = 5, 12, 16


def matlab_frames() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What MATLAB shows: images (H, W, 3, N) uint8, depths and rawDepths (H, W, N) in metres."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (H, W, 3, N), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.5, (H, W, N)).astype(np.float32)
    raw = depths.copy()
    raw[::3, ::2] = 0.0  # the sensor's holes
    return images, depths, raw


def write_nyu(
    folder: Path, with_raw: bool = True, splits: tuple[list[int], list[int]] = ([1, 3, 4], [2, 5])
) -> Path:
    """Write the arrays as MATLAB v7.3 stores them: column-major, so HDF5 sees the axes reversed."""
    images, depths, raw = matlab_frames()
    folder.mkdir(parents=True, exist_ok=True)
    mat = folder / "nyu_depth_v2_labeled.mat"
    with h5py.File(mat, "w") as f:
        f["images"] = images.transpose(3, 2, 1, 0)  # (N, 3, W, H)
        f["depths"] = depths.transpose(2, 1, 0)  # (N, W, H)
        if with_raw:
            f["rawDepths"] = raw.transpose(2, 1, 0)
        f["labels"] = np.zeros((N, W, H), np.uint16)
    with h5py.File(folder / "splits.mat", "w") as f:
        f["trainNdxs"] = np.array(splits[0], np.float64)[None, :]  # MATLAB column vectors, 1-based
        f["testNdxs"] = np.array(splits[1], np.float64)[None, :]
    return mat


def test_frames_decode_in_matlab_orientation(tmp_path: Path) -> None:
    write_nyu(tmp_path / "nyu")
    images, depths, raw = matlab_frames()
    source = build_source(DataConfig(source="nyu", root=str(tmp_path / "nyu"), target="depth"))
    assert len(source.frames) == N and source.image_size(0) == (H, W)
    for i in range(N):
        np.testing.assert_array_equal(source.image(i), images[:, :, :, i])
        np.testing.assert_array_equal(source.depth(i), depths[:, :, i])
    raw_source = build_source(
        DataConfig(source="nyu", root=str(tmp_path / "nyu"), target="depth", nyu_depth="raw")
    )
    np.testing.assert_array_equal(raw_source.depth(2), raw[:, :, 2])


def test_official_split_is_one_based_and_depth_normalised(tmp_path: Path) -> None:
    mat = write_nyu(tmp_path / "nyu")
    images, _, raw = matlab_frames()
    cfg = DataConfig(source="nyu", root=str(mat), target="depth", size=(H, W), channels=3, nyu_depth="raw")
    train = build_dataset(cfg, "train", cache=False)
    test = build_dataset(cfg, "test", cache=False)
    assert train.indices == [0, 2, 3] and test.indices == [1, 4]  # trainNdxs [1, 3, 4], testNdxs [2, 5]
    sample = test[1]  # frame 5 (1-based) = index 4
    torch.testing.assert_close(
        sample["image"], torch.from_numpy(images[:, :, :, 4].transpose(2, 0, 1) / 255.0).float()
    )
    torch.testing.assert_close(sample["depth"][0], torch.from_numpy(raw[:, :, 4]))
    torch.testing.assert_close(sample["target"][0], torch.from_numpy(np.clip(raw[:, :, 4] / 10.0, 0, 1)))
    assert torch.equal(sample["valid_mask"][0], torch.from_numpy(raw[:, :, 4] > 0))
    assert test.scale.kind == "depth" and test.scale.max_value == 10.0
    assert test.meta(1)["file"].endswith("nyu_depth_v2_labeled.mat[4]")
    # The cached dataset (memmap, built once) gives the same samples.
    cached = build_dataset(cfg, "test", progress=False)
    for key in ("image", "target", "valid_mask", "depth"):
        torch.testing.assert_close(cached[1][key], sample[key], atol=1 / 255, rtol=0)


def test_scipy_v5_splits_file(tmp_path: Path) -> None:
    from scipy.io import savemat

    write_nyu(tmp_path / "nyu")
    savemat(
        tmp_path / "nyu" / "splits.mat",
        {"trainNdxs": np.array([[2], [3]]), "testNdxs": np.array([[1], [4], [5]])},
    )
    ds = build_dataset(
        DataConfig(source="nyu", root=str(tmp_path / "nyu"), target="depth"), "test", cache=False
    )
    assert ds.indices == [0, 3, 4]


def test_bad_mat_files_name_the_file_and_the_problem(tmp_path: Path) -> None:
    mat = write_nyu(tmp_path / "noraw", with_raw=False)
    with pytest.raises(
        ValueError,
        match=r"nyu_depth_v2_labeled\.mat: missing array\(s\) rawDepths \(found: depths, images, labels\)",
    ):
        build_source(DataConfig(source="nyu", root=str(mat), target="depth", nyu_depth="raw"))
    not_hdf5 = tmp_path / "v5" / "nyu_depth_v2_labeled.mat"
    not_hdf5.parent.mkdir()
    not_hdf5.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(ValueError, match=r"v5/nyu_depth_v2_labeled\.mat: not a MATLAB v7\.3 \(HDF5\) file"):
        build_source(DataConfig(source="nyu", root=str(not_hdf5.parent), target="depth"))
    write_nyu(tmp_path / "badsplit", splits=([1, 2], [2, 9]))
    with pytest.raises(ValueError, match=r"splits\.mat: testNdxs holds indices outside 1\.\.5"):
        build_dataset(
            DataConfig(source="nyu", root=str(tmp_path / "badsplit"), target="depth"), "test", cache=False
        )
    with pytest.raises(ValueError, match="has no stereo pairs"):
        build_dataset(DataConfig(source="nyu", root=str(tmp_path / "badsplit")), "all", cache=False)
