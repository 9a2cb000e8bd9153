"""The console script's log output: each note once, other libraries' warnings once, named."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging
from ssrdepth.cli import _show_library_logs

_show_library_logs()
logging.warning("advice from another library")  # on a bare root this used to install basicConfig
logging.getLogger("ssrdepth.inference.quantize").info("quantised to INT8")
logging.getLogger("ssrdepth.data").debug("detail")
"""


def test_a_library_warning_on_the_root_does_not_double_ssrdepth_notes() -> None:
    # a fresh interpreter: pytest's own handlers on the root would hide the bare-root case
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert done.stderr.splitlines() == ["root: advice from another library", "quantised to INT8"]
