"""``channels_last = "auto"``: the measured choice of the training memory format, its margin, its
cache (training with it: tests/training/test_layout_auto.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ssrdepth.models import create_model
from ssrdepth.runtime import layout
from ssrdepth.runtime.layout import (
    CACHE_FILE,
    MARGIN,
    choose_channels_last,
    measure_layouts,
    resolve_channels_last,
)


def _mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((pred - target) ** 2).mean()


def test_resolve_channels_last() -> None:
    assert resolve_channels_last(True) is True
    assert resolve_channels_last(False) is False
    assert resolve_channels_last("auto") is None
    with pytest.raises(ValueError, match="expected true or false, or 'auto'"):
        resolve_channels_last("fast")


def test_measuring_leaves_the_model_as_it_was() -> None:
    model = create_model("C", 1, width=0.25)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seconds = measure_layouts(model, (2, 1, 16, 48), _mse, torch.device("cpu"), repeats=1)
    assert set(seconds) == {"contiguous", "channels_last"} and all(s > 0 for s in seconds.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert all(p.is_contiguous() for p in model.parameters())


@pytest.mark.parametrize(
    ("contiguous", "channels_last", "chosen"),
    [
        (1.00, 0.90, True),  # 10 % faster: taken
        (1.00, 1.0 - MARGIN / 2, False),  # inside the margin: a tie keeps the default layout
        (0.90, 1.00, False),  # slower: not taken
    ],
)
def test_channels_last_is_chosen_only_when_faster_by_the_margin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, contiguous: float, channels_last: float, chosen: bool
) -> None:
    monkeypatch.setenv("SSRDEPTH_CACHE_DIR", str(tmp_path))
    calls: list[tuple[int, ...]] = []

    def fake(model: object, shape: tuple[int, ...], *args: object, **kwargs: object) -> dict[str, float]:
        calls.append(shape)
        return {"contiguous": contiguous, "channels_last": channels_last}

    monkeypatch.setattr(layout, "measure_layouts", fake)
    model = create_model("C", 1, width=0.25)
    what = {"model": "C", "channels": 1}
    first = choose_channels_last(model, (4, 1, 16, 48), _mse, torch.device("cpu"), None, what)
    assert first.channels_last is chosen and not first.cached
    assert first.seconds == {"contiguous": contiguous, "channels_last": channels_last}
    again = choose_channels_last(model, (4, 1, 16, 48), _mse, torch.device("cpu"), None, what)
    assert again.channels_last is chosen and again.cached and len(calls) == 1  # read from the cache
    other = choose_channels_last(model, (8, 1, 16, 48), _mse, torch.device("cpu"), None, what)
    assert not other.cached and len(calls) == 2  # another batch shape is another setting
    assert (tmp_path / CACHE_FILE).is_file()
