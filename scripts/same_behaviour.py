"""Check that a refactoring changed no behaviour: the same commands on two commits give the same outputs.

Runs, for each of two source trees (a git ref checked out into a temporary worktree, and the working tree):
``ssrdepth demo --quick``, ``predict`` with the bundled model and with the quick demo's checkpoint
(png16, npy, pfm, colour, ply; depth with a given camera, disparity through ONNX Runtime) on real KITTI
frames, and ``evaluate`` of that checkpoint with the ``normalised``, ``paper`` and ``kitti`` (lidar)
protocols. Then compares every output file: bytes for maps, images and clouds; JSON with the keys that are
clock readings (seconds, images per second, dates, versions, paths) left out. Exit status 1 when anything
differs, naming each file (and each differing JSON key).

Usage, from the repository root (needs ``../shared/data`` for the real frames)::

    python scripts/same_behaviour.py BASE_REF [--out DIR]

Speeds and the backend ``auto`` picks are measured, so the predict calls name their backend; the quick
demo's own real-image prediction uses ``auto`` and has been identical run to run on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: JSON keys holding clock readings or machine facts, never behaviour.
CLOCK_KEYS = re.compile(
    r"per_second|speed|seconds|time|img_s|_ms$|^ms|duration|started|created|date|elapsed|host|python|"
    r"torch|version|cpu|path|root|^out$"
)
#: Text inside JSON strings that is a clock reading (the demo's "took 29.1 s").
CLOCK_TEXT = re.compile(r"\d+(\.\d+)? (s|min)\b")
SKIP_PARTS = (".ssrdepth/arrays", "tensorboard", "events.out")  # cache keys hold the folder's path
TEXT_SUFFIXES = {".md", ".csv", ".txt", ".toml", ".svg", ".html", ".log"}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    with log.open("w") as f:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}); see {log}")


def run_commands(src: Path, out: Path) -> None:
    """Run the checked commands with the package in ``src/`` (``src/ssrdepth``) writing into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(src / "src")}
    s = [sys.executable, "-m", "ssrdepth"]
    _run([*s, "demo", "--quick", "--out", "demo"], out, env, out / "demo.log")
    checkpoint = str(sorted(out.glob("demo/runs/*/best.pt"))[0].relative_to(out))
    frames = [str(p) for p in sorted((SHARED / "kitti_object").rglob("image_2/*.png"))[:3]]
    camera = ["--intrinsics", "721,721,609,172"]
    common = ["--no-progress"]
    _run([*s, "predict", "bundled", *frames, "--out", "pred_bundled", "--save", "png16,npy,color,ply",
          *camera, "--backend", "torch", "--precision", "fp32", *common], out, env, out / "p1.log")  # fmt: skip
    _run([*s, "predict", checkpoint, *frames, "--out", "pred_depth", "--quantity", "depth", "--save",
          "png16,npy,pfm,color,ply", *camera, "--focal", "721", "--baseline", "0.54", "--backend", "torch",
          "--precision", "fp32", *common], out, env, out / "p2.log")  # fmt: skip
    _run([*s, "predict", checkpoint, *frames, "--out", "pred_disparity", "--quantity", "disparity",
          "--save", "npy", "--backend", "onnxruntime", *common], out, env, out / "p3.log")  # fmt: skip
    for protocol in ("normalised", "paper"):
        _run([*s, "evaluate", checkpoint, "--protocol", protocol, "--out", f"eval_{protocol}",
              "--max-images", "8", "--quiet"], out, env, out / f"e_{protocol}.log")  # fmt: skip
    _run([*s, "evaluate", checkpoint, "--source", "kitti-object", "--root", str(SHARED / "kitti_object"),
          "--target", "lidar", "--protocol", "kitti", "--out", "eval_kitti", "--quiet"],
         out, env, out / "e_kitti.log")  # fmt: skip


#: Folder paths replaced by a placeholder before comparing: ``(path, placeholder)``, longest first. The
#: source trees (the base's temporary worktree, this checkout) and each run's output folder appear in
#: checkpoint paths, metadata and logs; they are where a run happened, not what it did.
PLACES: list[tuple[str, str]] = []


def _normalise(text: str) -> str:
    for place, mark in PLACES:
        text = text.replace(place, mark)
    return text.replace(str(ROOT.parent), "<root>")


def _strip(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _strip(v) for k, v in o.items() if not CLOCK_KEYS.search(k.lower())}
    if isinstance(o, list):
        return [_strip(v) for v in o]
    if isinstance(o, str):
        return CLOCK_TEXT.sub("<time>", _normalise(o))
    return o


def _text_value(v: str) -> Any:
    """A PNG text chunk: JSON (our metadata) stripped like a JSON file, else the normalised text."""
    try:
        return _strip(json.loads(v))
    except ValueError:
        return _strip(v)


def _png_diff(x: Path, y: Path) -> list[str]:
    """Pixels (exact, every channel and bit depth) and text chunks (paths normalised) of two PNGs."""
    import numpy as np
    from PIL import Image

    with Image.open(x) as ix, Image.open(y) as iy:
        problems = [] if np.array_equal(np.asarray(ix), np.asarray(iy)) else [": pixels differ"]
        tx = {k: _text_value(v) for k, v in ix.info.items() if isinstance(v, str)}
        ty = {k: _text_value(v) for k, v in iy.info.items() if isinstance(v, str)}
    return problems + _json_diff(tx, ty, " text")


def _json_diff(x: Any, y: Any, where: str = "") -> list[str]:
    if isinstance(x, dict) and isinstance(y, dict):
        keys = sorted(set(x) | set(y))
        return [d for k in keys for d in (_json_diff(x.get(k), y.get(k), f"{where}/{k}"))]
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [
            d for i, (u, v) in enumerate(zip(x, y, strict=True)) for d in _json_diff(u, v, f"{where}[{i}]")
        ]
    return [] if x == y else [f"{where}: {str(x)[:80]} ≠ {str(y)[:80]}"]


def _normalise_bytes(data: bytes) -> bytes:
    for place, mark in PLACES:
        data = data.replace(place.encode(), mark.encode())
    return data


def compare(a: Path, b: Path) -> list[str]:
    """Differences between two output folders (empty: the same behaviour)."""

    def files(root: Path) -> set[Path]:
        return {
            p.relative_to(root)
            for p in root.rglob("*")
            if p.is_file()
            and p.suffix not in TEXT_SUFFIXES | {".pt"}
            and not any(s in str(p) for s in SKIP_PARTS)
        }

    fa, fb = files(a), files(b)
    problems = [f"only in {a}: {p}" for p in sorted(fa - fb)] + [f"only in {b}: {p}" for p in sorted(fb - fa)]
    for rel in sorted(fa & fb):
        if rel.suffix == ".json":
            diffs = _json_diff(
                _strip(json.loads((a / rel).read_text())), _strip(json.loads((b / rel).read_text()))
            )
            problems += [f"{rel}{d}" for d in diffs]
        elif rel.suffix == ".png":
            problems += [f"{rel}{d}" for d in _png_diff(a / rel, b / rel)]
        elif rel.suffix == ".ply":  # an ASCII header (its comments may name the checkpoint) over binary data
            if _normalise_bytes((a / rel).read_bytes()) != _normalise_bytes((b / rel).read_bytes()):
                problems.append(f"{rel}: bytes differ (paths normalised)")
        elif (a / rel).read_bytes() != (b / rel).read_bytes():
            problems.append(f"{rel}: bytes differ")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="git ref of the behaviour to keep (e.g. main, HEAD~3)")
    parser.add_argument("--out", type=Path, help="keep both output folders here (default: a temporary one)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is missing: the real frames are needed")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        tree = Path(tmp) / "base-tree"
        places = [
            (str(tree), "<src>"),
            (str(ROOT), "<src>"),
            (str(out / "base"), "<out>"),
            (str(out / "here"), "<out>"),
        ]
        PLACES[:] = sorted(places, key=lambda pm: -len(pm[0]))
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.base], cwd=ROOT, check=True)
        try:
            run_commands(tree, out / "base")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        run_commands(ROOT, out / "here")
        problems = compare(out / "base", out / "here")
    for p in problems:
        print(p)
    print(
        f"{'same behaviour' if not problems else f'{len(problems)} difference(s)'} ({args.base} vs the working tree)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
