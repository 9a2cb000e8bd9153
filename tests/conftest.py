"""Shared test fixtures. The real samples in ../shared/data and the browser of tests/serve/test_browser.py
go through :func:`skip_or_fail`: where they are absent those tests skip with the reason (pytest prints it,
``-rs``), and with ``$SSRDEPTH_STRICT_TESTS=1`` (what ``.ci/run`` sets) they fail, naming what is missing."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

#: The opt-in strict mode: set (to anything but "" or "0") by .ci/run, where every test must run.
STRICT_ENV = "SSRDEPTH_STRICT_TESTS"

#: The limit on a test's subprocess: a guard against a hang, not a speed check (a busy 2-core CI
#: machine may take many times longer than a laptop).
HANG_TIMEOUT_S = 900

#: How to provide the real samples, for the messages.
SHARED_DATA_HINT = "set SSRDEPTH_SHARED_DATA or put shared/data beside the checkout"


def strict() -> bool:
    """True when ``$SSRDEPTH_STRICT_TESTS`` asks for missing real samples or browser to fail the test."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test with ``reason`` (what is missing) or, in strict mode, fail it with that reason.
    The one place every real-data or browser skip goes through."""
    if strict():
        pytest.fail(f"{reason} — {STRICT_ENV} is set: what a test needs must be there", pytrace=False)
    pytest.skip(reason)


def shared_data_location() -> Path:
    """Where the real samples are looked for: ``$SSRDEPTH_SHARED_DATA`` or ``../shared/data`` beside the
    checkout (whether or not it exists)."""
    env = os.environ.get("SSRDEPTH_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def require_shared(relative: str = "") -> Path:
    """``shared_data_location() / relative`` if it exists; otherwise the test skips (fails in strict
    mode) with a reason that names the path."""
    path = shared_data_location() / relative
    if not path.exists():
        skip_or_fail(f"real samples not found: {path} ({SHARED_DATA_HINT})")
    return path


def require_module(name: str, reason: str) -> Any:
    """``pytest.importorskip`` for a third-party package that a strict run needs (Playwright): skips
    (fails in strict mode) with ``reason`` where it cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        skip_or_fail(f"{reason} ({name}: {exc})")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real samples (skipped, or failed in strict mode, where absent)."""
    return require_shared()


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
    # Choices made by measurement (backend, training memory format) are cached per user: the tests
    # keep theirs in a folder of their own, never in the user's cache.
    if not os.environ.get("SSRDEPTH_CACHE_DIR"):
        os.environ["SSRDEPTH_CACHE_DIR"] = tempfile.mkdtemp(prefix="ssrdepth-test-cache-")
    # Two xdist workers on two cores: one intra-op thread each avoids oversubscription.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
