"""Flicker measures and the online stabiliser, by hand, and through evaluate on a tiny sequence set."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from ssrdepth.core.stabilise import Stabiliser
from ssrdepth.data.config import TargetScale
from ssrdepth.evaluation.evaluate import evaluate_protocols
from ssrdepth.evaluation.temporal import FlickerAccumulator

RNG = np.random.default_rng(5)
TRUTH = RNG.uniform(2.0, 40.0, (4, 5))


def test_perfect_and_jittering_predictions() -> None:
    perfect, jitter = FlickerAccumulator(), FlickerAccumulator()
    mask = np.ones_like(TRUTH, dtype=bool)
    for j in (1.0, 1.1, 1.0, 1.1):
        perfect.add_frame("s", TRUTH, TRUTH, mask)
        jitter.add_frame("s", TRUTH * j, TRUTH, mask)
    assert perfect.result().scale_flicker == 0.0 and perfect.result().error_flicker == 0.0
    r = jitter.result()
    # Every pair changes the scale by ×1.1 one way or the other; the truth is static, so every pixel is
    # smooth and its log error changes by log 1.1 too.
    assert r.scale_flicker == pytest.approx(math.log(1.1))
    assert r.error_flicker == pytest.approx(math.log(1.1))
    assert (r.frames, r.sequences, r.pairs) == (4, 1, 3)


def test_sequences_interleave_and_moving_pixels_are_left_out() -> None:
    acc = FlickerAccumulator()
    mask = np.ones_like(TRUTH, dtype=bool)
    moved = TRUTH.copy()
    moved[:, :2] *= 2.0  # an object passes: those pixels' truth doubles
    wrong = moved.copy()
    wrong[:, :2] *= 1.5  # and the prediction gets them wrong there, only there
    acc.add_frame("a", TRUTH, TRUTH, mask)
    acc.add_frame("b", TRUTH * 1.2, TRUTH, mask)
    acc.add_frame("a", wrong, moved, mask)
    acc.add_frame("b", TRUTH * 1.2, TRUTH, mask)
    r = acc.result()
    # a: the median ratio of frame 2 is over 12 pixels at 1.0 and 8 at 1.5 → 1.0, no scale change;
    # its changed pixels are not smooth, the others have an unchanged error. b: constant ×1.2.
    assert (r.scale_flicker, r.error_flicker) == (pytest.approx(0.0), pytest.approx(0.0))
    assert (r.sequences, r.pairs) == (2, 2)
    with pytest.raises(ValueError, match="no two consecutive frames of one sequence among 1 frame"):
        one = FlickerAccumulator()
        one.add_frame("x", TRUTH, TRUTH, mask)
        one.result()


def test_stabiliser_by_hand() -> None:
    stab = Stabiliser(strength=0.5, tolerance=1.0, scale=0.0)
    first = stab(np.ones((2, 3), np.float32))
    assert first.dtype == np.float32 and np.all(first == 1.0)
    # d = 0.1: w = 0.5·exp(−0.01); log o = 0.1 − w·0.1.
    second = stab(np.full((2, 3), math.exp(0.1), np.float32))
    assert second == pytest.approx(np.full((2, 3), math.exp(0.1 - 0.5 * math.exp(-0.01) * 0.1)), rel=1e-6)
    # A change far beyond τ is taken as it is (w = 0.5·exp(−9) ≈ 6e-5).
    jump = Stabiliser(0.9, 0.3)
    jump(np.full((1, 2), 0.1))
    assert jump(np.full((1, 2), 0.4)) == pytest.approx(np.full((1, 2), 0.4), rel=1e-3)
    # Strength 0 changes nothing; bad settings are refused.
    still = Stabiliser(0.0)
    still(np.full(3, 0.2))
    assert still(np.full(3, 0.3)).tolist() == pytest.approx([0.3] * 3)
    with pytest.raises(ValueError, match=r"strength must lie in \[0, 1\), got 1.0"):
        Stabiliser(1.0)
    with pytest.raises(ValueError, match="tolerance must be > 0"):
        Stabiliser(0.5, 0.0)
    with pytest.raises(ValueError, match=r"scale must lie in \[0, 1\), got 1.0"):
        Stabiliser(0.5, 0.3, 1.0)


def test_stabiliser_scale_step_by_hand() -> None:
    # Four pixels; frame 2 is frame 1 × e^0.1 on three of them (a scale jitter) and ×e^1 on the fourth
    # (an edge passing, |d| > τ: not reliable). Step 1 removes β·median(0.1, 0.1, 0.1) = 0.08 of the log.
    stab = Stabiliser(strength=0.5, tolerance=0.3, scale=0.8)
    first = np.array([0.2, 0.3, 0.4, 0.1])
    stab(first)
    out = stab(first * np.exp([0.1, 0.1, 0.1, 1.0]))
    d = np.array([0.02, 0.02, 0.02, 1.0 - 0.08])  # after step 1
    expected = np.log(first) + d - 0.5 * np.exp(-((d / 0.3) ** 2)) * d
    assert out == pytest.approx(np.exp(expected), rel=1e-9)
    # Too few reliable pixels (under a fifth: a scene cut) leave the frame's scale as it is.
    cut = Stabiliser(strength=0.0, tolerance=0.3, scale=0.8)
    six = np.array([0.2, 0.3, 0.4, 0.1, 0.5, 0.6])
    cut(six)
    frame = six * np.exp([0.1, 2.0, 2.0, 2.0, 2.0, 2.0])  # one reliable pixel of six
    assert cut(frame) == pytest.approx(frame, rel=1e-12)


SCALE = TargetScale("depth", max_value=80.0)


class Sequence(torch.utils.data.Dataset):
    """Two interleaved 4-frame sequences of a static 4×5 scene (normalised depth targets, all valid)."""

    def __init__(self) -> None:
        self.scale = SCALE
        self.target = torch.from_numpy(TRUTH / 80.0).float()[None]

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict[str, Any]:
        t = self.target
        return {
            "image": t.clone(),
            "target": t,
            "valid_mask": torch.ones_like(t, dtype=torch.bool),
            "depth": t * 80,
        }

    def meta(self, i: int) -> dict[str, Any]:
        return {"group": f"seq{i % 2}", "key": f"seq{i % 2}/{i // 2}"}


class Jitter(nn.Module):
    """The image (= the target) times 1.0, 1.1, 1.0, 1.1 … on successive calls (one image a call)."""

    in_channels = 1

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Calls alternate the two sequences; each sequence sees 1.0, 1.0, 1.1, 1.1, 1.0, …
        factor = 1.1 if (self.calls // 2) % 2 else 1.0
        self.calls += 1
        return x * factor


def test_evaluate_measures_flicker_and_stabilises_each_sequence() -> None:
    (raw,) = evaluate_protocols(Jitter(), Sequence(), ["kitti"], batch_size=1, flicker=True)
    assert not isinstance(raw, ValueError)
    # Each sequence: ×1.0, ×1.1, ×1.0, ×1.1 — three changes of log 1.1.
    assert raw.extra["flicker"]["scale_flicker"] == pytest.approx(math.log(1.1), rel=1e-5)
    assert raw.extra["flicker"]["pairs"] == 6 and raw.extra["flicker"]["sequences"] == 2
    (steady,) = evaluate_protocols(Jitter(), Sequence(), ["kitti"], batch_size=1, flicker=True, stabilise=0.9)
    assert not isinstance(steady, ValueError)
    # What the stabiliser does to each sequence, by hand: every pixel carries the same log error
    # e = 0, a, 0, a (a = log 1.1), so every pixel is reliable and step 1 leaves e' = e − 0.8·(e − o_{t−1});
    # then o_t = e' − w·(e' − o_{t−1}), w = 0.9·exp(−((e' − o_{t−1}) / 0.35)²).
    a = math.log(1.1)
    out = [0.0]
    for e in (a, 0.0, a):
        e = e - 0.8 * (e - out[-1])
        d = e - out[-1]
        out.append(e - 0.9 * math.exp(-((d / 0.35) ** 2)) * d)
    expected = sum(abs(x - y) for x, y in zip(out[1:], out[:-1], strict=True)) / 3
    assert steady.extra["flicker"]["scale_flicker"] == pytest.approx(expected, rel=1e-4)
    assert expected < math.log(1.1) / 2
