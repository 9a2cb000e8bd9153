"""``ssrdepth serve CHECKPOINT``: the command line's model and options reach the page, and a server
started by the command answers with ``predict``'s numbers for that checkpoint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ssrdepth.cli import main as cli
from ssrdepth.inference.predict import load_model, predict
from ssrdepth.serve.service import map_stats

from ..conftest import require_module
from .conftest import free_port, make_checkpoint

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated"
)


def _image(path: Path, h: int = 60, w: int = 160) -> Path:
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), rng.integers(0, 255, (h, w))], axis=2)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2BGR))
    return path


def _numbers(text: str) -> dict[str, float]:
    """The page's "Numbers" box: a header line, then ``name: value`` lines."""
    return {k: float(v) for k, v in (line.split(": ") for line in text.splitlines()[1:])}


def test_the_command_serves_the_named_checkpoint_with_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gr = require_module("gradio", "the page needs the [serve] extra (gradio)")
    import ssrdepth.serve.app as app_module

    ckpt = make_checkpoint(tmp_path / "model.pt")
    launched: dict[str, Any] = {}

    def fake_launch(models: list[Path], host: str, port: int, **kwargs: Any) -> None:
        # What launch() would serve, without the server: the page's handlers on the command's models.
        launched.update(models=models, host=host, port=port, **kwargs)
        launched["app"] = app_module.App(models, kwargs["cache"], max_bytes=kwargs["max_bytes"])

    monkeypatch.setattr(app_module, "launch", fake_launch)
    argv = ["serve", str(ckpt), "--backend", "torch", "--threads", "1", "--port", "7999"]
    assert cli([*argv, "--max-upload-mb", "0.25"]) == 0
    assert capsys.readouterr().out == "serving 1 model(s) on http://127.0.0.1:7999 (Ctrl-C to stop)\n"
    assert launched["models"] == [ckpt] and (launched["host"], launched["port"]) == ("127.0.0.1", 7999)
    assert launched["max_bytes"] == 2**18
    cache = launched["cache"]
    assert (cache.backend, cache.device, cache.threads) == ("torch", "cpu", 1)

    app = launched["app"]
    image = _image(tmp_path / "street.png")
    expected = predict(load_model(ckpt, backend="torch"), image)
    out = app.predict(str(image), None, None, "native", None, None, "magma")  # None: the first model
    assert cache.get(ckpt).backend == "torch"
    numbers = out[2]
    assert numbers.startswith("disparity [px], 160×60 px")
    for key, value in map_stats(expected).items():
        assert _numbers(numbers)[key] == pytest.approx(value, rel=1e-6), key
    npy = next(Path(f) for f in out[4] if f.endswith(".npy"))
    np.testing.assert_allclose(np.load(npy), expected, rtol=1e-6, atol=1e-6)
    depth = predict(load_model(ckpt, backend="torch"), image, "depth")
    numbers = app.predict(str(image), None, str(ckpt), "depth", None, None, "magma")[2]
    assert _numbers(numbers)["median"] == pytest.approx(float(np.median(depth)), rel=1e-6)
    # --max-upload-mb 0.25 reached the page: a 0.3 MB upload is refused.
    big = tmp_path / "big.png"
    big.write_bytes(image.read_bytes() + bytes(300_000))
    with pytest.raises(gr.Error, match=r"big\.png: the file is .*, more than the 256\.0 kB accepted"):
        app.predict(str(big), None, None, "native", None, None, "magma")


def _wait_for_port(proc: subprocess.Popen[str], port: int, seconds: float) -> None:
    """Until ``port`` accepts a connection; fails with the server's output if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"ssrdepth serve exited with {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"ssrdepth serve did not listen on port {port} within {seconds:.0f} s")


@pytest.mark.slow
def test_a_server_started_by_the_command_answers_with_predicts_numbers(tmp_path: Path) -> None:
    require_module("gradio", "the page needs the [serve] extra (gradio)")
    require_module("gradio_client", "the API test needs the [serve] extra (gradio_client)")
    from gradio_client import Client, handle_file

    ckpt = make_checkpoint(tmp_path / "model.pt")
    image = _image(tmp_path / "street.png")
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [
        sys.executable,
        "-m",
        "ssrdepth",
        "serve",
        str(ckpt),
        "--port",
        str(port),
        "--backend",
        "torch",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path
    )
    try:
        _wait_for_port(proc, port, 180)
        client = Client(f"http://127.0.0.1:{port}", verbose=False)
        out = client.predict(
            handle_file(str(image)), None, str(ckpt), "native", None, None, "magma", api_name="/predict"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    expected = predict(load_model(ckpt, backend="torch"), image)
    assert out[2].startswith("disparity [px], 160×60 px")
    for key, value in map_stats(expected).items():
        assert _numbers(out[2])[key] == pytest.approx(value, rel=1e-6), key
    npy = next(Path(f) for f in out[4] if str(f).endswith(".npy"))
    np.testing.assert_allclose(np.load(npy), expected, rtol=1e-6, atol=1e-6)
