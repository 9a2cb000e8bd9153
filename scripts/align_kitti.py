"""The table of docs/deploy.md "Metres on your camera: alignment": the bundled model on the real KITTI
object frames of ``../shared/data/kitti_object`` — metric (as predicted, the calibration's focal length),
median-scaled (the evaluation's ``median`` scaling: needs the ground truth, an upper reference), scaled
from the camera height (1.65 m, KITTI's rig), and aligned to 100 lidar points drawn from the frame's scan
(scale, and scale+shift in inverse depth) — scored against the whole projected scan at the image's full
resolution with the ``kitti`` protocol (Garg crop, 1e-3–80 m, per-image means, ``score_at="truth"``: the
prediction upsampled bilinearly to each frame, the lidar at its own pixels). Then the same model through
``ssrdepth evaluate``'s one pass (:func:`~ssrdepth.evaluation.evaluate.evaluate_protocols` on the
``kitti-object`` source), metric and median-scaled, at the ground truth's resolution (the default, which
must equal the first table's rows) and at the model's size (``--score-at model``, the lidar shrunk to it).

Usage, from the repository root::

    python scripts/align_kitti.py [--data ../shared/data/kitti_object/training] [--points 100]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ssrdepth.core.image import read_image
from ssrdepth.data import DataConfig, build_dataset
from ssrdepth.data.kitti_lidar import lidar_depth_map, read_velodyne
from ssrdepth.evaluation.evaluate import evaluate_protocols
from ssrdepth.evaluation.evaluate import load_model as load_for_evaluation
from ssrdepth.evaluation.protocols import MetricAccumulator, get_protocol
from ssrdepth.inference.align import (
    KITTI_CAMERA_HEIGHT,
    fit_camera_height,
    fit_points,
    read_calibration,
    read_points_velodyne,
)
from ssrdepth.inference.predict import load_model, predict


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=here.parent / "shared/data/kitti_object/training")
    ap.add_argument("--points", type=int, default=100)
    args = ap.parse_args()
    model = load_model(None, backend="torch")
    rows = ("metric", "median-scaled", "camera height 1.65 m", f"{args.points} lidar points, scale",
            f"{args.points} lidar points, scale+shift")  # fmt: skip
    accs = {r: MetricAccumulator(get_protocol("kitti")) for r in rows}
    accs["median-scaled"] = MetricAccumulator(get_protocol("kitti", scaling="median"))
    scales: dict[str, list[float]] = {r: [] for r in rows}
    for image_path in sorted((args.data / "image_2").glob("*.png")):
        frame = image_path.stem
        calib = read_calibration(args.data / "calib" / f"{frame}.txt")
        rgb = read_image(image_path)
        size = rgb.shape[:2]
        truth = lidar_depth_map(read_velodyne(args.data / "velodyne" / f"{frame}.bin"), calib, size)
        depth = predict(model, rgb, "depth", focal=calib.focal)
        fx, fy, cx, cy = calib.P2[0, 0], calib.P2[1, 1], calib.P2[0, 2], calib.P2[1, 2]
        lidar = read_points_velodyne(args.data / "velodyne" / f"{frame}.bin", calib, size)
        few = lidar.subset(args.points, seed=int(frame))
        fits = {
            "camera height 1.65 m": fit_camera_height(depth, (fx, fy, cx, cy), KITTI_CAMERA_HEIGHT),
            rows[3]: fit_points(depth, few, "scale"),
            rows[4]: fit_points(depth, few, "scale-shift"),
        }
        accs["metric"].add_image(depth, truth)
        accs["median-scaled"].add_image(depth, truth)
        for name, al in fits.items():
            accs[name].add_image(al.apply(depth), truth)
            scales[name].append(al.scale)
    print("| alignment | AbsRel | RMSE (m) | δ<1.25 | scale per frame |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        m = accs[r].result().metrics
        s = ", ".join(f"{v:.2f}" for v in scales[r]) if scales[r] else "—"
        print(f"| {r} | {m['abs_rel']:.3f} | {m['rmse']:.2f} | {m['delta1']:.3f} | {s} |")
    n = accs["metric"].result()
    print(f"\n{n.images} frames, {n.valid_pixels:,} lidar pixels, protocol kitti at each image's size\n")
    evaluate_table(args.data)


def evaluate_table(data: Path) -> None:
    """The bundled model through the evaluation's one pass on the ``kitti-object`` source: metric and
    median-scaled, at the truth's resolution and at the model's size."""
    loaded = load_for_evaluation("bundled")
    assert loaded.input_size is not None
    cfg = DataConfig(source="kitti-object", root=str(data.parent), size=tuple(loaded.input_size),
                     channels=int(getattr(loaded.model, "in_channels", 1)), target="lidar", max_depth=80.0)  # fmt: skip
    frames = build_dataset(cfg, "all", cache=False, progress=False)
    protos = [
        get_protocol("kitti", scaling=s, score_at=w) for w in ("truth", "model") for s in (None, "median")
    ]
    results = evaluate_protocols(loaded.model, frames, protos, scale=loaded.scale)
    print("| scored at | scaling | AbsRel | RMSE (m) | δ<1.25 | lidar pixels |")
    print("|---|---|---:|---:|---:|---:|")
    for proto, r in zip(protos, results, strict=True):
        if isinstance(r, ValueError):
            raise r
        m = r.metrics
        where = "ground truth's resolution" if proto.score_at == "truth" else "model's size"
        print(f"| {where} | {proto.scaling} | {m['abs_rel']:.3f} | {m['rmse']:.2f} | {m['delta1']:.3f} "
              f"| {r.valid_pixels:,} |")  # fmt: skip


if __name__ == "__main__":
    main()
