"""The bundled model: small trained weights that may ship inside the package, with their model card.

``ssrdepth predict IMAGE…``, ``ssrdepth serve`` and ``load_model(None)`` / ``load_model("bundled")``
use it when no checkpoint is named. It is two files in one folder (this package's folder, or the one
``$SSRDEPTH_BUNDLE_DIR`` names):

- ``street-scrxu-147x37.pt``: a slim ssrdepth checkpoint (:mod:`ssrdepth.checkpoint`: the model
  description, ``state_dict``, input size, target, step, training config and metrics; no optimiser,
  scheduler or RNG state);
- ``street-scrxu-147x37.json``: its model card (:data:`CARD_FIELDS`), whose ``sha256`` the weights are
  checked against each time the bundled checkpoint is asked for.

A release may ship neither: then :func:`bundled_checkpoint` raises :class:`NoBundledModel`, whose
message says to name a checkpoint. :func:`write_bundle` makes the two files from a trained checkpoint.

Nothing here imports torch at import time: finding and checking the files works on the core install.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssrdepth.core.io import file_sha256, write_json

if TYPE_CHECKING:
    from ssrdepth.checkpoint import Checkpoint

logger = logging.getLogger(__name__)

#: The bundled model's name: its two files are ``NAME.pt`` and ``NAME.json``.
NAME = "street-scrxu-147x37"
WEIGHTS = f"{NAME}.pt"
CARD = f"{NAME}.json"
#: The network and input size ``(H, W)`` the name promises; :func:`write_bundle` refuses others.
MODEL = "SCRXU"
INPUT_SIZE = (37, 147)
#: The folder that holds the bundle unless ``$SSRDEPTH_BUNDLE_DIR`` names another (tests patch either).
BUNDLE_DIR = Path(__file__).resolve().parent
ENV_VAR = "SSRDEPTH_BUNDLE_DIR"
#: The word that names the bundled model where a checkpoint is expected (CLI and ``load_model``).
BUNDLED = "bundled"

#: The model card's fields, in the order written.
CARD_FIELDS = (
    "file",  # the weights' file name (WEIGHTS)
    "model",  # the registered network, e.g. "SCRXU"
    "width",  # ModelOptions.width, the channel multiplier
    "size",  # input size as W×H, e.g. "147x37"
    "channels",  # 1 (grey) or 3 (RGB)
    "trained_on",  # words: the data it was trained on
    "steps",  # training steps (the checkpoint's step)
    "real_kitti",  # metrics dict on the real KITTI frames
    "synthetic",  # metrics dict on the synthetic test split
    "licence",  # of the weights
    "sha256",  # of the weights file, hex
)
#: The fields :func:`write_bundle` needs from its caller; the others come from the checkpoint.
GIVEN_FIELDS = ("trained_on", "real_kitti", "synthetic", "licence")
#: The checkpoint entries besides the model, weights, size, target and step that the slim copy keeps.
SLIM_EXTRA = ("config", "metrics", "epoch", "precision_used")


class NoBundledModel(FileNotFoundError):
    """This ssrdepth ships no pretrained model (or ``$SSRDEPTH_BUNDLE_DIR`` names a folder without one).

    ``what`` is the first half of the message, ``"this ssrdepth ships no pretrained model (no … in
    …)"``, for callers that say what to do in their own words; the message adds "give a checkpoint"."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}; give a checkpoint: ssrdepth predict CHECKPOINT IMAGE…")
        self.what = what


def bundle_dir() -> Path:
    """The folder of the bundle: ``$SSRDEPTH_BUNDLE_DIR`` when set, else :data:`BUNDLE_DIR` (the package)."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else BUNDLE_DIR


def bundled_path() -> Path:
    """Where the bundled weights would be (not checked: :func:`bundled_checkpoint` checks)."""
    return bundle_dir() / WEIGHTS


def is_bundled(path: object) -> bool:
    """Whether a checkpoint argument names the bundled model: ``None`` or the string ``"bundled"``
    (a ``Path("bundled")`` is a file of that name)."""
    return path is None or (isinstance(path, str) and path == BUNDLED)


def _absent() -> NoBundledModel:
    folder = bundle_dir()
    where = f"{folder}, the folder ${ENV_VAR} names" if os.environ.get(ENV_VAR) else str(folder)
    return NoBundledModel(f"this ssrdepth ships no pretrained model (no {WEIGHTS} in {where})")


def bundled_card() -> dict[str, Any]:
    """The bundled model's card (:data:`CARD_FIELDS`), read from ``NAME.json`` beside the weights.

    Raises:
        NoBundledModel (a FileNotFoundError): no bundled weights; the message says to give a checkpoint.
        FileNotFoundError: weights without their card.
        ValueError: a card that is not JSON, lacks fields, or names another file.
    """
    weights = bundled_path()
    if not weights.is_file():
        raise _absent()
    path = weights.with_name(CARD)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the bundled model's card is missing (it holds the sha256 that {WEIGHTS} is checked "
            "against); write the bundle again with ssrdepth.pretrained.write_bundle"
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: the bundled model's card is not JSON ({exc})") from None
    if not isinstance(card, dict):
        raise ValueError(f"{path}: the bundled model's card is not a JSON object")
    missing = [k for k in CARD_FIELDS if k not in card]
    if missing:
        raise ValueError(f"{path}: the bundled model's card lacks {', '.join(missing)}")
    if card["file"] != WEIGHTS:
        raise ValueError(f"{path}: the card describes {card['file']!r}, not {WEIGHTS!r}")
    return card


def bundled_checkpoint(*, verify: bool = True) -> Path:
    """The bundled checkpoint file, its sha256 checked against the card (``verify=False``: only found).

    Raises:
        NoBundledModel (a FileNotFoundError): this ssrdepth ships no pretrained model; the message
            says to give a checkpoint: ``ssrdepth predict CHECKPOINT IMAGE…``.
        FileNotFoundError: weights without their card.
        ValueError: the card is unreadable, or the weights' sha256 is not the card's (the message names
            both files).
    """
    card = bundled_card()
    weights = bundled_path()
    if verify:
        actual = file_sha256(weights)
        if actual != str(card["sha256"]).lower():
            raise ValueError(
                f"{weights}: the bundled weights do not match their card {weights.with_name(CARD)} "
                f"(sha256 {actual[:16]}…, the card says {str(card['sha256'])[:16]}…): the file is damaged "
                "or was replaced; reinstall ssrdepth, or write the bundle again with "
                "ssrdepth.pretrained.write_bundle"
            )
    return weights


def describe_bundled(card: dict[str, Any] | None = None) -> str:
    """``"street-scrxu-147x37 (trained on …, N steps)"``, from the card (read when not given).

    Raises:
        NoBundledModel, FileNotFoundError, ValueError: as :func:`bundled_card`.
    """
    c = bundled_card() if card is None else card
    return f"{NAME} (trained on {c['trained_on']}, {c['steps']} steps)"


def write_bundle(
    checkpoint: str | os.PathLike[str], card: dict[str, Any], folder: str | os.PathLike[str] | None = None
) -> Path:
    """Make the bundle from a trained checkpoint: a slim copy ``NAME.pt`` and its card ``NAME.json``.

    The copy is written by :func:`ssrdepth.checkpoint.save_checkpoint` from the model
    :func:`ssrdepth.checkpoint.load_checkpoint` rebuilt, so it loads like any checkpoint and gives the
    same outputs; it keeps the training config and metrics (:data:`SLIM_EXTRA`) and drops the
    optimiser, scheduler, scaler, RNG state and history. Each file is written atomically, the card
    last, with the weights' ``sha256``.

    Args:
        checkpoint: a checkpoint or run folder (its ``best.pt``, else ``latest.pt``) of an SCRXU
            trained at 147×37.
        card: the card's :data:`GIVEN_FIELDS` (``trained_on``, ``real_kitti``, ``synthetic``,
            ``licence``) and any notes; ``model``, ``width``, ``size``, ``channels`` and ``steps`` are
            taken from the checkpoint (given ones must agree), ``file`` and ``sha256`` are computed.
        folder: where to write (default: :func:`bundle_dir`, the package's folder unless
            ``$SSRDEPTH_BUNDLE_DIR`` says otherwise).

    Returns:
        The path of the slim checkpoint.

    Raises:
        FileNotFoundError, ValueError: the checkpoint cannot be loaded (as ``load_checkpoint``).
        ValueError: not an SCRXU at 147×37, a card without the given fields, or one whose model, width,
            size, channels or steps disagree with the checkpoint.
    """
    from ssrdepth.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(checkpoint)
    full = _card_for(ckpt, card)
    net = ckpt.build_model()  # checks the weights fit the model description
    out = Path(folder) if folder is not None else bundle_dir()
    weights = out / WEIGHTS
    extra = {k: ckpt.extra[k] for k in SLIM_EXTRA if k in ckpt.extra}
    save_checkpoint(weights, net, input_size=ckpt.input_size, target=ckpt.target, step=ckpt.step, **extra)
    full["sha256"] = file_sha256(weights)
    write_json(weights.with_name(CARD), {k: full[k] for k in CARD_FIELDS} | full)
    logger.info(
        "wrote the bundle %s from %s: %s (%.2f MB) and %s",
        NAME,
        ckpt.path,
        weights,
        weights.stat().st_size / 1e6,
        CARD,
    )
    return weights


def _card_for(ckpt: Checkpoint, given: dict[str, Any]) -> dict[str, Any]:
    """The full card: the caller's fields, checked, with those the checkpoint knows."""
    h, w = ckpt.input_size
    if ckpt.model.name != MODEL or ckpt.input_size != INPUT_SIZE:
        raise ValueError(
            f"{ckpt.path}: the bundle {NAME} is an {MODEL} at {INPUT_SIZE[1]}x{INPUT_SIZE[0]}; this "
            f"checkpoint holds {ckpt.model.name} at {w}x{h}"
        )
    missing = [k for k in GIVEN_FIELDS if k not in given]
    if missing:
        raise ValueError(
            f"the model card needs {', '.join(missing)} (given: {', '.join(given) or 'nothing'})"
        )
    for key in ("real_kitti", "synthetic"):
        if not isinstance(given[key], dict):
            raise ValueError(f"the model card's {key} must be a dict of metrics, got {given[key]!r}")
    known = {
        "file": WEIGHTS,
        "model": ckpt.model.name,
        "width": float(ckpt.model.options.get("width", 1.0)),
        "size": f"{w}x{h}",
        "channels": ckpt.model.in_channels,
        "steps": ckpt.step,
    }
    wrong = [
        f"{k} {given[k]!r} (the checkpoint: {v!r})"
        for k, v in known.items()
        if k in given and k != "file" and given[k] != v
    ]
    if wrong:
        raise ValueError(f"the model card disagrees with {ckpt.path}: {'; '.join(wrong)}")
    return {**given, **known}
