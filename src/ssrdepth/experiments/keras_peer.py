"""The paper's framework (TensorFlow/Keras) timed in the same ``bench`` run, when TensorFlow is
importable.

The Keras models and the training step are the speed peer's own (``../shared/bench/peer_speed.py``,
outside the package), imported by path at run time — never copied here — so that ``bench`` and the
peer measure exactly the same Keras code. TensorFlow is never a dependency of ssrdepth: without it
(or without the peer file) every Keras variant is skipped with the reason.

Variants: ``keras`` (float32, ``tf.function``, oneDNN as TensorFlow configures it) and ``keras_bf16``
(Keras's ``mixed_bfloat16`` policy), both at the paper's widths only (``width`` 1.0). In training they
are bare-step variants, compared with ssrdepth's bare step
(:func:`ssrdepth.experiments.bench.training.bare_step`), not with the step ``ssrdepth train`` runs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Where the peer lives relative to the repository root (``../shared/bench/peer_speed.py``); override
#: with ``$SSRDEPTH_PEER``.
DEFAULT_PEER = Path("..") / "shared" / "bench" / "peer_speed.py"
KERAS_VARIANTS = ("keras", "keras_bf16")


def peer_path() -> Path:
    """The peer file: ``$SSRDEPTH_PEER``, else ``../shared/bench/peer_speed.py`` from the current
    directory, else from the repository root this package is installed from (editable installs)."""
    env = os.environ.get("SSRDEPTH_PEER")
    if env:
        return Path(env)
    here = Path.cwd() / DEFAULT_PEER
    if here.is_file():
        return here
    repo = Path(__file__).resolve().parents[3]  # src/ssrdepth/experiments/ → repository root
    return repo / DEFAULT_PEER


def unavailable_reason(width: float = 1.0) -> str | None:
    """Why the Keras variants cannot run here (``None`` when they can)."""
    if width != 1.0:
        return f"the Keras peer builds the paper's widths only (width 1.0), not {width}"
    if importlib.util.find_spec("tensorflow") is None:
        return (
            "TensorFlow is not importable (it is never a dependency; see BENCHMARKS.md for the peer's venv)"
        )
    if not peer_path().is_file():
        return f"peer file {peer_path()} not found (set $SSRDEPTH_PEER)"
    return None


_PEER: types.ModuleType | None = None


def load_peer(threads: int | None = None) -> types.ModuleType:
    """Import the peer module by path (once). It parses ``sys.argv`` at import, so it is imported with
    an empty command line; TensorFlow's threads are set to ``threads`` (default: torch's)."""
    global _PEER
    if _PEER is not None:
        return _PEER
    path = peer_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the Keras speed peer is not there (set $SSRDEPTH_PEER)")
    spec = importlib.util.spec_from_file_location("ssrdepth_keras_peer", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: cannot be imported as a module")
    module = importlib.util.module_from_spec(spec)
    saved = sys.argv
    sys.argv = [str(path)]
    try:
        spec.loader.exec_module(module)
    finally:
        sys.argv = saved
    import torch

    n = threads or torch.get_num_threads()
    tf = module.tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # already initialised: keep what TensorFlow has
        pass
    _PEER = module
    return module


def _variant_args(model: str, variants: list[str]) -> Any:
    return types.SimpleNamespace(model=model, variants=variants, lr=1e-6)


def keras_train_steps(
    model: str, x: np.ndarray, y: np.ndarray, threads: int | None = None
) -> dict[str, Callable[[], object]]:
    """``{variant: step()}``: the peer's bare training step (forward, eq. 1 L2 loss, backward, SGD
    update) of its Keras model on ``x`` ``(N, C, H, W)`` / ``y`` ``(N, 1, H, W)`` float32, timed among
    the bench's bare-step variants (:func:`ssrdepth.experiments.bench.training.bare_step`)."""
    peer = load_peer(threads)
    tm = peer.TorchModel(model, x.shape[1])
    built = peer.build_variants(_variant_args(model, list(KERAS_VARIANTS)), tm, x, y)
    return {k: v["train"] for k, v in built.items()}


def keras_inference(
    model: str, channels: int, size: tuple[int, int], threads: int | None = None
) -> dict[str, Callable[[np.ndarray], Callable[[], object]]]:
    """``{variant: bind(batch)}``: ``bind`` takes ``(N, C, H, W)`` float32 and returns a callable that
    runs the peer's Keras model on it once (inference mode, output cast to float32)."""
    peer = load_peer(threads)
    tf, keras = peer.tf, peer.keras
    h, w = size
    out: dict[str, Callable[[np.ndarray], Callable[[], object]]] = {}
    tm = peer.TorchModel(model, channels)
    for variant in KERAS_VARIANTS:
        if variant == "keras_bf16":
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            km = peer.keras_model(model, h, w, channels)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        peer.copy_weights(tm, km)
        fwd = tf.function(lambda t, m=km: tf.cast(m(t, training=False), tf.float32), jit_compile=False)

        def bind(batch: np.ndarray, f: Any = fwd) -> Callable[[], object]:
            t = tf.constant(np.ascontiguousarray(batch.transpose(0, 2, 3, 1)))
            return lambda: f(t).numpy()

        out[variant] = bind
    return out


def versions() -> dict[str, str | None]:
    """TensorFlow's and Keras's versions, or ``None`` where not importable."""
    if importlib.util.find_spec("tensorflow") is None:
        return {"tensorflow": None, "keras": None}
    peer = load_peer()
    return {"tensorflow": str(peer.tf.__version__), "keras": str(peer.keras.__version__)}


__all__ = [
    "KERAS_VARIANTS",
    "keras_inference",
    "keras_train_steps",
    "load_peer",
    "peer_path",
    "unavailable_reason",
    "versions",
]
