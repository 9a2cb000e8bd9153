"""Fixtures for ``ssrdepth serve``: a small KITTI-like checkpoint and the page served on a free port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from ssrdepth.checkpoint import save_checkpoint
from ssrdepth.core.scale import TargetScale
from ssrdepth.models import create_model

from ..conftest import require_module

REPO = Path(__file__).resolve().parents[2]

#: Screenshots and other artefacts of the browser test (ignored by git).
ARTIFACTS = REPO / "tests" / "artifacts"

#: Disparity normalised by 192 px at KITTI's 1242-px width, focal 721.5 px, baseline 0.54 m (KITTI's rig).
KITTI_TARGET = TargetScale("disparity", 192.0, focal=721.5, baseline=0.54, reference_width=1242)


def make_checkpoint(path: Path, target: dict[str, Any] | None = None, channels: int = 1) -> Path:
    """A width-0.125 SCRX checkpoint with random weights (fixed seed), 147×37 input."""
    torch.manual_seed(0)
    model = create_model("SCRX", channels, width=0.125)
    tgt = KITTI_TARGET.as_dict() if target is None else target
    return save_checkpoint(path, model, input_size=(37, 147), target=tgt, step=3)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("serve-model") / "model.pt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    checkpoint: Path
    page: Any


@pytest.fixture(scope="session")
def server(checkpoint: Path) -> Iterator[Server]:
    """The page of ``ssrdepth serve CHECKPOINT`` on 127.0.0.1 and a free port, in this process's threads.
    Tests that use it carry ``xdist_group("serve")`` so that one worker starts it once."""
    require_module("gradio", "ssrdepth serve needs the [serve] extra (gradio)")
    from ssrdepth.serve.app import launch

    page = launch([checkpoint], "127.0.0.1", free_port(), block=False)
    try:
        yield Server(page.local_url.rstrip("/"), checkpoint, page)
    finally:
        page.close()
