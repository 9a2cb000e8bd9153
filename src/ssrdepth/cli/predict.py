"""``ssrdepth predict``: predict depth for images, folders or videos."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ssrdepth.core.hardware import PRECISIONS
from ssrdepth.core.stabilise import DEFAULT_STRENGTH
from ssrdepth.inference.align import MODES as ALIGN_MODES
from ssrdepth.inference.align import AlignRequest
from ssrdepth.inference.outputs import OUTPUT_KINDS
from ssrdepth.inference.predict import (
    BACKENDS,
    DEFAULT_IMAGE_OUTPUTS,
    QUANTITIES,
    PredictOptions,
    check_inputs,
    gather_inputs,
    load_model,
    predict_files,
    split_checkpoint,
)


def _floats(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise ValueError(f"{what}: expected {n} comma-separated numbers, got {text!r}")
    return values


#: Parsed with ``parse_intermixed_args``: options may stand between the checkpoint and the inputs.
INTERMIXED = True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint",
        nargs="?",
        metavar="CHECKPOINT",
        help="checkpoint (.pt), run folder (its best.pt, else latest.pt) or ONNX export (.onnx) of ours; "
        "optional: the first path is the checkpoint when it ends in .pt or .onnx (existing or not), is "
        "a folder holding best.pt or latest.pt, or is the word 'bundled'; otherwise every path is an "
        "input and the model bundled with ssrdepth is used (an error when this ssrdepth ships none; "
        "$SSRDEPTH_BUNDLE_DIR names another folder for it; write ./bundled for an input of that name)",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="images, folders, glob patterns ('imgs/*.png') or videos"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--save",
        default=None,
        help=f"comma-separated outputs from {', '.join(OUTPUT_KINDS)} "
        f"(default: {','.join(DEFAULT_IMAGE_OUTPUTS)} for images, video for videos)",
    )
    p.add_argument(
        "--quantity",
        choices=QUANTITIES,
        default="native",
        help="what to write: native = the checkpoint's target (disparity px or depth m), or convert",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="auto = on CPU, the fastest installed backend passing parity on this machine (measured once per "
        "model file and machine, then cached; logged as one line with each candidate's times); torch on CUDA",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS[:3],
        default="auto",
        help="auto = bf16 candidates only where the CPU/GPU runs bf16 natively; named backends run fp32",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--cmap", default="magma", help="matplotlib colour map (magma, turbo, viridis, …)")
    p.add_argument(
        "--color-range", default=None, metavar="MIN,MAX", help="fixed colour range (default per image)"
    )
    p.add_argument(
        "--intrinsics",
        default=None,
        metavar="FX,FY,CX,CY",
        help="pinhole camera (px at the image's size); --save ply otherwise uses the resolved camera "
        "(--focal, --calib, --fov, EXIF, else the checkpoint's; principal point at the centre)",
    )
    p.add_argument(
        "--focal",
        type=float,
        default=None,
        help="focal length (px at the image's width); depth of every model kind is converted to this camera",
    )
    p.add_argument(
        "--calib",
        default=None,
        metavar="FILE",
        help="camera calibration: KITTI calib (P2 / P_rect_02), OpenCV YAML/JSON camera matrix or ROS "
        "CameraInfo YAML (precedence: --intrinsics/--focal > --calib > --fov > EXIF > the checkpoint's)",
    )
    p.add_argument(
        "--fov", type=float, default=None, metavar="DEG", help="horizontal field of view (degrees)"
    )
    p.add_argument(
        "--no-exif", action="store_true", help="do not read the focal length from the images' EXIF"
    )
    p.add_argument(
        "--sensor-width",
        type=float,
        default=None,
        metavar="MM",
        help="sensor width (mm, long side) for an EXIF FocalLength without a 35 mm equivalent",
    )
    p.add_argument("--baseline", type=float, default=None, help="stereo baseline (m), e.g. KITTI 0.54")
    p.add_argument("--max-depth", type=float, default=None, help="drop points beyond this depth (m) in .ply")
    p.add_argument(
        "--stabilise",
        action="store_true",
        help="steady video: filter the frames' maps online (docs/metrics.md, measured)",
    )
    p.add_argument(
        "--stabilise-strength",
        type=float,
        default=DEFAULT_STRENGTH,
        metavar="λ",
        help=f"how strongly --stabilise holds a pixel to its previous output (0 ≤ λ < 1, default {DEFAULT_STRENGTH})",
    )
    _add_align_arguments(p)
    p.add_argument("--recursive", action="store_true", help="look into sub-folders of folder inputs")
    p.add_argument("--no-progress", action="store_true")


def _add_align_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("metres from what you have (docs/deploy.md: Metres on your camera)")
    g.add_argument(
        "--align",
        default=None,
        metavar="FILE",
        help="scale the depth to known points: CSV u,v,depth (px of the input image, m), a sparse 16-bit "
        "depth PNG (m × 256, 0 = none) or a KITTI velodyne scan .bin (with --align-calib)",
    )
    g.add_argument(
        "--align-calib", default=None, metavar="CALIB", help="KITTI calibration of the --align scan"
    )
    g.add_argument(
        "--align-point",
        action="append",
        default=[],
        metavar="U,V,DEPTH",
        help="a known distance (px of the input image, m); repeat for several (3 or more)",
    )
    g.add_argument(
        "--camera-height",
        type=float,
        default=None,
        metavar="METRES",
        help="scale from the camera's height above a flat ground in view (KITTI 1.65); needs the camera: "
        "EXIF, --focal, --fov, --calib or --intrinsics",
    )
    g.add_argument(
        "--align-mode",
        choices=ALIGN_MODES,
        default="scale",
        help="point fit: scale (depth = s·pred) or scale-shift (1/depth = a/pred + b, inverse depth)",
    )


def _align_request(args: argparse.Namespace) -> AlignRequest | None:
    if args.align is None and not args.align_point and args.camera_height is None:
        if args.align_calib is not None:
            raise ValueError("--align-calib is the calibration of a velodyne scan: give --align SCAN.bin")
        return None
    return AlignRequest(
        path=Path(args.align) if args.align is not None else None,
        calib=Path(args.align_calib) if args.align_calib is not None else None,
        points=tuple(_floats(t, 3, "--align-point") for t in args.align_point),  # type: ignore[misc]
        camera_height=args.camera_height,
        mode=args.align_mode,
    )


def main(args: argparse.Namespace) -> int:
    outputs = tuple(s.strip() for s in args.save.split(",") if s.strip()) if args.save else None
    opts = PredictOptions(
        outputs=outputs,
        quantity=args.quantity,
        batch_size=args.batch_size,
        cmap=args.cmap,
        color_range=_floats(args.color_range, 2, "--color-range") if args.color_range else None,  # type: ignore[arg-type]
        intrinsics=_floats(args.intrinsics, 4, "--intrinsics") if args.intrinsics else None,  # type: ignore[arg-type]
        focal=args.focal,
        calib=args.calib,
        fov=args.fov,
        exif=not args.no_exif,
        sensor_width=args.sensor_width,
        baseline=args.baseline,
        max_depth=args.max_depth,
        stabilise=args.stabilise_strength if args.stabilise else None,
        align=_align_request(args),
    )
    # argparse fills CHECKPOINT whenever two paths or more are given: the rule decides what it is.
    paths = [args.checkpoint, *args.inputs] if args.checkpoint is not None else list(args.inputs)
    checkpoint, inputs = split_checkpoint(paths)  # None: the bundled model (checked to be there)
    # Inputs first: a mistyped path or a file that is not an image fails at once, not after
    # --backend auto has timed the backends.
    check_inputs(gather_inputs(inputs, args.recursive))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter when --backend onnxruntime exports in memory
        model = load_model(
            checkpoint,
            backend=args.backend,
            device=args.device,
            threads=args.threads,
            precision=args.precision,
            batch_size=args.batch_size,
        )
    report = predict_files(
        model, inputs, args.out, opts, recursive=args.recursive, progress=not args.no_progress
    )
    n = report.images + report.frames
    rate = n / report.seconds if report.seconds > 0 else 0.0
    # Video frames are counted only where there were videos: "1 image(s) in …", "2 image(s), 300 frame(s) in …".
    counted = f"{report.images} image(s)" + (f", {report.frames} frame(s)" if report.frames else "")
    print(
        f"{model.name} ({model.backend} {model.precision}, {model.device}): {counted} "
        f"in {report.seconds:.1f} s ({rate:.1f}/s); {len(report.written)} file(s) in {args.out}"
    )
    if report.failures:
        print(f"{len(report.failures)} input(s) failed:", file=sys.stderr)
        for file, problem in report.failures:
            print(f"  {file}: {problem}" if not problem.startswith(file) else f"  {problem}", file=sys.stderr)
        return 1
    return 0
