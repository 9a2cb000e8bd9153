"""The lower layers stay light: plain configuration and the core import neither torch nor the data sources."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["ssrdepth.data.config", "ssrdepth.core.scale", "ssrdepth.core.sizes"])
def test_imports_without_torch(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('ssrdepth.data.'));"
        "print(' '.join(loaded))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "torch" not in out
    assert set(out) <= {"ssrdepth.data.config"}
