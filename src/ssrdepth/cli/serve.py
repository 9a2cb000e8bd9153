"""``ssrdepth serve``: a web page (Gradio) to try trained models on images, videos and webcam frames."""

from __future__ import annotations

import argparse

from ssrdepth.inference.predict import BACKENDS
from ssrdepth.serve.service import MAX_UPLOAD_BYTES, ModelCache, resolve_models


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "models",
        nargs="*",
        metavar="CHECKPOINT_OR_ONNX",
        help="checkpoints (.pt), run folders (their best.pt, else latest.pt), ONNX exports (.onnx) or "
        "'bundled' (the model shipped with ssrdepth) to offer (default: the demo's under --demo-root, "
        "else the bundled model; $SSRDEPTH_BUNDLE_DIR points to another bundle folder)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--demo-root", default="runs/demo", help="where to look for models when none are named")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="auto = as predict's: on CPU, the fastest installed backend (torch, onnxruntime, openvino) "
        "passing parity on this machine, measured once per model file and machine, then cached; torch on CUDA",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument(
        "--max-upload-mb", type=float, default=MAX_UPLOAD_BYTES / 2**20, help="largest upload accepted (MB)"
    )


def main(args: argparse.Namespace) -> int:
    from ssrdepth.serve.app import launch

    models = resolve_models(args.models, args.demo_root)
    cache = ModelCache(args.backend, args.device, args.threads)
    print(f"serving {len(models)} model(s) on http://{args.host}:{args.port} (Ctrl-C to stop)")
    launch(models, args.host, args.port, cache=cache, max_bytes=int(args.max_upload_mb * 2**20))
    return 0
