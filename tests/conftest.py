"""Shared test fixtures: the real samples in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$SSRDEPTH_SHARED_DATA`` or ``../shared/data`` beside the checkout, if it exists."""
    env = os.environ.get("SSRDEPTH_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real samples not found: set SSRDEPTH_SHARED_DATA or put shared/data beside the checkout")
    return path


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def _empty_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-bundled-model")


@pytest.fixture(autouse=True)
def _no_bundled_model(_empty_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on whether this checkout ships a bundled model (ssrdepth.pretrained): the bundle
    folder is an empty one unless a test points $SSRDEPTH_BUNDLE_DIR elsewhere (or removes it)."""
    monkeypatch.setenv("SSRDEPTH_BUNDLE_DIR", str(_empty_bundle_dir))


def pytest_configure(config: pytest.Config) -> None:
    # Two xdist workers on two cores: one intra-op thread each avoids oversubscription.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
