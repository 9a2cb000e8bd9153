"""PFM against hand-written files: the exact bytes written, grey / colour / big-endian read back row 0 = top,
and OpenCV reading what we write the same way (rows bottom to top in the file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssrdepth.inference.outputs import read_pfm, write_pfm

#: A 2×3 map worked out by hand; the file stores its bottom row first.
VALUES = np.array([[1.5, 2.0, -3.25], [4.0, 5.5, 6.0]], np.float32)


def test_written_bytes_are_the_hand_written_file(tmp_path: Path) -> None:
    path = write_pfm(tmp_path / "m.pfm", VALUES, {})
    by_hand = b"Pf\n3 2\n-1.0\n" + np.array([4.0, 5.5, 6.0, 1.5, 2.0, -3.25], "<f4").tobytes()
    assert path.read_bytes() == by_hand


def test_hand_written_grey_colour_and_big_endian_files_read_top_row_first(tmp_path: Path) -> None:
    grey = tmp_path / "g.pfm"
    grey.write_bytes(b"Pf\n3 2\n-1.0\n" + np.array([4.0, 5.5, 6.0, 1.5, 2.0, -3.25], "<f4").tobytes())
    np.testing.assert_array_equal(read_pfm(grey), VALUES)
    big = tmp_path / "b.pfm"  # a positive scale means big-endian floats
    big.write_bytes(b"Pf\n3 2\n1.0\n" + np.array([4.0, 5.5, 6.0, 1.5, 2.0, -3.25], ">f4").tobytes())
    np.testing.assert_array_equal(read_pfm(big), VALUES)
    colour = tmp_path / "c.pfm"  # 1×2 RGB: pixels (1, 2, 3) and (4, 5, 6), in the file's channel order
    colour.write_bytes(b"PF\n2 1\n-1.0\n" + np.arange(1, 7, dtype="<f4").tobytes())
    got = read_pfm(colour)
    assert got.shape == (1, 2, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got[0], [[1, 2, 3], [4, 5, 6]])


def test_opencv_reads_what_we_write_the_same_way(tmp_path: Path) -> None:
    import cv2

    path = write_pfm(tmp_path / "m.pfm", VALUES, {})
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), VALUES)
