"""Worker pools die with the command that started them (``core/processes.py``): a busy worker of a
parent killed with SIGKILL is gone within seconds instead of finishing its minute of work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PARENT = textwrap.dedent(
    """
    import os, time
    from ssrdepth.core.processes import worker_pool

    if __name__ == "__main__":
        pool = worker_pool(1)
        pid = pool.submit(os.getpid).result()
        pool.submit(time.sleep, 60)  # a minute of work in the worker
        print(pid, flush=True)
        time.sleep(60)
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie nobody has reaped yet has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_busy_worker_dies_with_its_killed_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert worker != parent.pid and _alive(worker)
        os.kill(parent.pid, signal.SIGKILL)  # no cleanup of any kind in the parent
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_the_pool_runs_its_initializer_in_each_worker(tmp_path: Path) -> None:
    from ssrdepth.core.processes import worker_pool

    # the initializer changes the worker's working directory; the worker reports it back
    with worker_pool(1, os.chdir, (str(tmp_path),)) as pool:
        assert pool.submit(os.getcwd).result() == str(tmp_path)
    assert os.getcwd() != str(tmp_path)  # this process is untouched
