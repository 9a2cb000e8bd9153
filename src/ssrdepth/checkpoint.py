"""Checkpoints that rebuild their own model.

A checkpoint is a ``torch.save`` dict of plain types and tensors only, so it loads with
``torch.load(weights_only=True)`` (no code is executed). It is written atomically. Keys:

- ``format`` = ``"ssrdepth-checkpoint"``, ``version``;
- ``model``: ``{"name", "in_channels", "options"}`` — enough for :func:`ssrdepth.models.create_model`;
- ``input_size``: ``[H, W]`` the model was trained at;
- ``target``: what the [0, 1] output means, e.g. ``{"kind": "disparity", "max_value": 192.0}``
  (normalised disparity: pixels = output × max_value at the training width) or
  ``{"kind": "depth", "max_value": 10.0}`` (metres = output × max_value);
- ``state_dict``, ``step``, and optionally ``optimizer``, ``scheduler``, ``rng``, ``config``, ``metrics``.

Training runs (``ssrdepth train``) write two per run folder: ``latest.pt`` (the resume point: optimizer,
scheduler, gradient-scaler and RNG states, history) and ``best.pt`` (by the run's validation metric).
:func:`resolve_checkpoint` turns a run folder into one of them. RNG states are stored as tensors and
plain lists (:func:`rng_state`), never as numpy objects, so ``weights_only=True`` still loads them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssrdepth.core.checkpoint_files import BEST as BEST  # re-exported: a run folder's file names
from ssrdepth.core.checkpoint_files import LATEST as LATEST
from ssrdepth.core.checkpoint_files import resolve_checkpoint
from ssrdepth.core.io import atomic_path
from ssrdepth.core.scale import TargetScale
from ssrdepth.models import DepthNet, create_model

FORMAT = "ssrdepth-checkpoint"
VERSION = 1


@dataclass(frozen=True)
class ModelSpec:
    """Name, input channels and options of a registered model: all it takes to rebuild it."""

    name: str
    in_channels: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> DepthNet:
        return create_model(self.name, self.in_channels, **self.options)

    @classmethod
    def of(cls, model: DepthNet) -> ModelSpec:
        return cls(model.name, model.in_channels, asdict(model.options))


def weight_mismatches(expected: Mapping[str, torch.Tensor], found: Mapping[str, Any]) -> str:
    """How the weights ``found`` (a stored ``state_dict``) fail to fit a network whose ``state_dict()``
    is ``expected``; ``""`` when they fit. The one weight-mismatch report, of a damaged checkpoint
    (:meth:`Checkpoint.build_model`) and of a fine-tuning start from another network
    (:func:`ssrdepth.training.model_setup.warm_start`): the first three problems (``"K missing"``,
    ``"K unexpected"``, ``"K (found shape) ≠ (expected shape)"``) and how many more there are."""
    problems = [f"{k} missing" for k in expected if k not in found]
    problems += [f"{k} unexpected" for k in found if k not in expected]
    problems += [
        f"{k} {tuple(v.shape)} ≠ {tuple(expected[k].shape)}"
        for k, v in found.items()
        if k in expected and getattr(v, "shape", None) != expected[k].shape
    ]
    more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more if problems else ""


@dataclass
class Checkpoint:
    """A loaded checkpoint. ``extra`` holds every other key (optimizer, rng, config, metrics, …)."""

    path: Path
    model: ModelSpec
    input_size: tuple[int, int]
    target: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    step: int
    extra: dict[str, Any]

    def build_model(self) -> DepthNet:
        """The model with its weights loaded, in eval mode.

        Raises:
            ValueError: the stored weights do not fit the stored model description (a damaged or
                hand-edited checkpoint): names the file and the first differing weights.
        """
        net = self.model.build()
        problems = weight_mismatches(net.state_dict(), self.state_dict)
        if problems:
            raise ValueError(
                f"{self.path}: a damaged ssrdepth checkpoint: its weights do not fit its model "
                f"{self.model.name}: {problems}"
            )
        net.load_state_dict(self.state_dict)
        return net.eval()

    @property
    def scale(self) -> TargetScale | None:
        """What the model's [0, 1] output means (:meth:`TargetScale.from_target` of ``target``), parsed
        here once for every reader; ``None`` when the target is only ``"normalised"``.

        Raises:
            ValueError: a disparity or depth target that is not a valid scale (names the file).
        """
        try:
            return TargetScale.from_target(self.target)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{self.path}: a damaged ssrdepth checkpoint: its target {self.target!r}: {exc}"
            ) from None

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training configuration (nested plain dict), ``{}`` if the writer stored none."""
        cfg = self.extra.get("config", {})
        return dict(cfg) if isinstance(cfg, dict) else {}

    @property
    def metrics(self) -> dict[str, Any]:
        """Validation metrics at this checkpoint's step, ``{}`` if none."""
        m = self.extra.get("metrics", {})
        return dict(m) if isinstance(m, dict) else {}


def save_checkpoint(
    path: str | os.PathLike[str],
    model: DepthNet,
    *,
    input_size: tuple[int, int],
    target: dict[str, Any] | None = None,
    step: int = 0,
    **extra: Any,
) -> Path:
    """Write a checkpoint atomically (temporary file, then rename). ``extra`` must be plain data/tensors."""
    spec = ModelSpec.of(model)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    obj: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"name": spec.name, "in_channels": spec.in_channels, "options": spec.options},
        "input_size": [int(input_size[0]), int(input_size[1])],
        "target": dict(target or {"kind": "normalised", "max_value": 1.0}),
        "state_dict": state,
        "step": int(step),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` without executing code; ``path`` may be a
    run folder (→ its ``best.pt``, else ``latest.pt``: :func:`resolve_checkpoint`).

    Raises:
        FileNotFoundError: nothing at ``path``, or a folder without a checkpoint.
        ValueError: the file is not an ssrdepth checkpoint, or is corrupt or truncated: one line naming
            the file and the problem.
    """
    p = resolve_checkpoint(path)
    try:
        obj = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for foreign or corrupt files
        raise ValueError(f"{p}: {_unreadable(p, exc)}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        found = f"keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        raise ValueError(
            f"{p}: not an ssrdepth checkpoint (a PyTorch file without format {FORMAT!r}; it holds {found})"
        )
    if int(obj.get("version", 0)) > VERSION:
        raise ValueError(f"{p}: checkpoint version {obj['version']} is newer than this ssrdepth ({VERSION})")
    try:
        m = obj["model"]
        spec = ModelSpec(str(m["name"]), int(m["in_channels"]), dict(m.get("options", {})))
        input_size = (int(obj["input_size"][0]), int(obj["input_size"][1]))
        state_dict = obj["state_dict"]
        if not isinstance(state_dict, dict):
            raise TypeError("state_dict is not a dict")
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"{p}: an incomplete or damaged ssrdepth checkpoint (bad or missing {exc})"
        ) from None
    known = {"format", "version", "model", "input_size", "target", "state_dict", "step"}
    return Checkpoint(
        path=p,
        model=spec,
        input_size=input_size,
        target=dict(obj.get("target", {})),
        state_dict=state_dict,
        step=int(obj.get("step", 0)),
        extra={k: v for k, v in obj.items() if k not in known},
    )


def _unreadable(path: Path, exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused ``path``, in a few words (torch's own messages run
    to a page and suggest ``weights_only=False``, which would execute the file's code)."""
    text = str(exc)
    with path.open("rb") as f:
        head = f.read(4)
    if not head:
        return "not an ssrdepth checkpoint (an empty file)"
    if not head.startswith((b"PK", b"\x80")):  # neither torch.save's zip nor a pickle (protocol ≥ 2)
        return "not an ssrdepth checkpoint (not a file written by torch.save)"
    if "Weights only load failed" in text or "Unsupported global" in text:
        return (
            "not an ssrdepth checkpoint: it holds pickled Python objects that are not loaded, as that "
            "would run code from the file (ssrdepth checkpoints hold only tensors and plain data)"
        )
    if head.startswith(b"PK"):  # a zip archive: torch.save's format, cut short or damaged
        return "a corrupt or truncated checkpoint (its archive cannot be read; copy or save it again)"
    return "not an ssrdepth checkpoint (not a file written by torch.save)"


def rng_state() -> dict[str, Any]:
    """The torch (CPU and every CUDA device), numpy and Python RNG states as tensors and plain lists,
    loadable with ``torch.load(weights_only=True)``."""
    np_state = np.random.get_state()
    assert isinstance(np_state, tuple)  # the legacy tuple form: (name, keys, pos, has_gauss, gauss)
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {
            "version": int(py_version),
            "state": torch.tensor(py_internal, dtype=torch.int64),
            "gauss_next": py_gauss,
        },
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA states only where the device count matches)."""
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([t.cpu() for t in cuda])
    n = state["numpy"]
    keys = n["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state((n["name"], keys, int(n["pos"]), int(n["has_gauss"]), float(n["cached_gaussian"])))
    p = state["python"]
    random.setstate((int(p["version"]), tuple(int(v) for v in p["state"].tolist()), p["gauss_next"]))
