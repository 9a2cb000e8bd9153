"""Optional dependencies: which packaging extra brings each one, and errors that say how to install it.

The core install (numpy, OpenCV, Pillow, tqdm) plus the ``[onnx]`` extra (onnxruntime) predicts from
an ONNX file; everything else is imported where it is needed. A missing one raises
:class:`MissingDependency` (an ``ImportError``) whose one-line message names the extra, and the CLI
prints that line instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: top-level module → the extra of ``pyproject.toml`` that installs it
EXTRAS: dict[str, str] = {
    "torch": "torch",
    "torchvision": "torch",
    "matplotlib": "torch",
    "onnxruntime": "onnx",
    "openvino": "openvino",
    "onnx": "export",
    "onnxscript": "export",
    "tensorboard": "train",
    "h5py": "nyu",
    "scipy": "nyu",
    "skimage": "demo",
    "elas": "elas",
    "pyelas": "elas",
    "pillow_heif": "heif",
}


class MissingDependency(ImportError):
    """An optional package is not installed; the message says what needs it and how to install it."""


def install_hint(module: str) -> str:
    """``pip install 'ssrdepth[EXTRA]'`` for a known module (top-level name), else ``pip install NAME``."""
    top = module.split(".")[0]
    extra = EXTRAS.get(top)
    return f"pip install 'ssrdepth[{extra}]'" if extra else f"pip install {top}"


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency`: "PURPOSE needs MODULE: pip install ...".

    Example: ``ort = require("onnxruntime", "the onnxruntime backend")``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingDependency(
            f"{purpose} needs the '{top}' package, which is not installed: {install_hint(top)}"
        ) from exc


def missing_message(exc: ImportError) -> str:
    """One line for any ImportError: ours already says it; for others, the missing module and its extra."""
    if isinstance(exc, MissingDependency):
        return str(exc)
    name = exc.name or ""
    if not name:
        return f"{exc} (a package is missing or broken; reinstall with: pip install 'ssrdepth[all]')"
    return f"the '{name.split('.')[0]}' package is not installed (needed here: {exc}); {install_hint(name)}"
