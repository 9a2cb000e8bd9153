"""The torch dataset of every source: decoded, normalised and resized sample dicts.

:func:`ssrdepth.data.build.build_dataset` is the entry point (see :mod:`ssrdepth.data.config` for the sample contract);
:func:`list_stereo_pairs` lists a stereo source's pairs for ``prepare-targets``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ssrdepth.core.image import prepare_image, resize_map
from ssrdepth.data.config import STEREO_SOURCES, DataConfig, StereoPair, TargetScale
from ssrdepth.data.sample import BadSampleError, Source, image_size, read_image, report_skipped
from ssrdepth.data.split import split_indices

if TYPE_CHECKING:
    from ssrdepth.stereo.cache import TargetCache
    from ssrdepth.stereo.matching import MatcherSettings

logger = logging.getLogger(__name__)

#: Clipping more than this fraction of a sample's valid depth target pixels at ``max_depth`` is reported.
CLIP_WARN_FRACTION = 0.01
#: Clipping this fraction or more is rarely a maximum set too low: the clip warning names the declared
#: units (``--depth-scale``; ``--focal`` / ``--baseline``) as the likelier mistake.
MOSTLY_CLIPPED = 0.9


def build_source(cfg: DataConfig) -> Source:
    """Index the frames of ``cfg.source`` under ``cfg.root`` (no pixels decoded), with the loader the
    source table names (:attr:`~ssrdepth.data.config.DataSource.loader`)."""
    from ssrdepth.core.io import require_not_file

    spec = cfg.data_source
    root = Path(cfg.root)
    if not spec.root_may_be_file:
        render = f" (render one with: {spec.render_command('DIR')})" if spec.render else ""
        require_not_file(root, f"the {cfg.source} data set's folder as --root / data.root", render)
    if not root.exists():
        hint = f"; render it with: {spec.render_command(root)}" if spec.render else ""
        raise FileNotFoundError(f"{root}: data root not found{hint}")
    module, _, function = spec.loader.partition(":")
    loader: Callable[[Path, DataConfig], Source] = getattr(
        importlib.import_module(f"ssrdepth.data.{module}"), function
    )
    return loader(root, cfg)


def matcher_settings(cfg: DataConfig) -> MatcherSettings:
    """The stereo matcher settings of ``cfg`` (:attr:`DataConfig.matcher_settings`, computed once)."""
    return cfg.matcher_settings


def target_cache(cfg: DataConfig) -> TargetCache:
    """The :class:`~ssrdepth.stereo.cache.TargetCache` that holds ``cfg``'s stereo targets."""
    from ssrdepth.stereo.cache import TargetCache

    return TargetCache.for_config(cfg)


def prepare_targets_command(cfg: DataConfig) -> str:
    """The shell command that fills ``cfg``'s stereo-target cache, quoted for the shell and with every
    option the data source needs (:meth:`~ssrdepth.data.config.DataConfig.source_arguments`)."""
    from ssrdepth.core.advice import command_line

    args = cfg.source_arguments()
    if "--matcher" not in args:  # named even when the default, beside --max-disparity
        at = args.index("--max-disparity") if "--max-disparity" in args else len(args)
        args[at:at] = ["--matcher", cfg.matcher]
    return command_line("prepare-targets", *args)


def missing_targets_message(
    cfg: DataConfig, cache: TargetCache, keys: list[str], missing: list[str], what: str
) -> str:
    """Why ``missing`` of ``keys`` (stereo targets of ``what``) cannot be read from ``cache``: the
    settings asked for, what the cache holds at other settings and the options that use it
    (:func:`other_targets_hint`), and the command that computes them."""
    wanted = cache.settings
    others = other_targets_hint(cache, keys, len(keys))
    return (
        f"{len(missing)} of {len(keys)} stereo targets of {what} are not cached for matcher "
        f"{wanted.method}, max_disparity {wanted.max_disparity} (first: {cache.path_for(missing[0])})"
        + (f"; {others}; or compute" if others else "; compute")
        + f" them with: {prepare_targets_command(cfg)}"
    )


def other_targets_hint(cache: TargetCache, keys: list[str], total: int) -> str:
    """What ``cache``'s root holds for ``keys`` at other matcher settings, and the options that select
    it (``""`` when nothing): ``"the cache holds targets of this data made with matcher bm,
    max_disparity 96 (40 of 40): use them with --matcher bm --max-disparity 96 (--set data.matcher=bm
    --set data.max_disparity=96)"``. Only ``matcher`` and ``max_disparity`` are data settings; a set made
    with other matcher settings (e.g. through the Python API) is named with them, without an option."""
    from ssrdepth.stereo.matching import default_settings

    parts = []
    for other in cache.others(keys)[:3]:
        method, max_disparity = other.settings.method, other.settings.max_disparity
        diff = other.differences(cache.settings)
        # Settings beyond matcher and max_disparity, where they are not that matcher's defaults.
        extra = other.differences(default_settings(method, max_disparity=max_disparity))
        described = ", ".join(
            [f"matcher {method}", f"max_disparity {max_disparity}"] + [f"{k} {v}" for k, v in extra.items()]
        )
        text = f"{described} ({other.found} of {total})"
        if not extra:
            changes: dict[str, str | int] = {"matcher": method} if "method" in diff else {}
            if "max_disparity" in diff:
                changes["max_disparity"] = max_disparity
            cli = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in changes.items())
            sets = " ".join(f"--set data.{k}={v}" for k, v in changes.items())
            text += f": use them with {cli} ({sets})"
        else:
            text += ": other matcher settings than the data configuration can select"
        parts.append(text)
    if not parts:
        return ""
    return f"the cache {cache.root / 'targets'} holds targets of this data made with " + "; ".join(parts)


def list_stereo_pairs(cfg: DataConfig) -> list[StereoPair]:
    """Every stereo pair of a stereo source (all splits), keyed for the target cache.

    Raises a ValueError naming the file for a missing right image or a left/right size mismatch
    (with ``cfg.skip_bad`` such pairs are left out and reported at the end).
    """
    if cfg.source not in STEREO_SOURCES:
        raise ValueError(
            f"source {cfg.source!r} has no stereo pairs; stereo sources: {', '.join(STEREO_SOURCES)}"
        )
    source = build_source(DataConfig(**{**_cfg_dict(cfg), "target": "stereo"}))
    pairs: list[StereoPair] = []
    skipped = list(source.skipped)
    for frame in source.frames:
        try:
            if frame.right is None:
                raise BadSampleError(frame.image, "no right image for this frame")
            if frame.focal is None or frame.baseline is None:
                raise BadSampleError(frame.image, "focal length and baseline unknown")
            left_size, right_size = image_size(frame.image), image_size(frame.right)
            if left_size != right_size:
                raise BadSampleError(
                    frame.right,
                    f"size {right_size[1]}×{right_size[0]} differs from the left image {frame.image} "
                    f"({left_size[1]}×{left_size[0]}); a rectified pair has equal sizes",
                )
        except BadSampleError as exc:
            if not cfg.skip_bad:
                raise
            skipped.append((exc.file, exc.problem))
            continue
        pairs.append(StereoPair(frame.key, frame.image, frame.right, frame.focal, frame.baseline))
    report_skipped(skipped)
    return pairs


def _cfg_dict(cfg: DataConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}


def clipped_fraction(target: np.ndarray, valid: np.ndarray) -> float:
    """The fraction of the ``valid`` pixels of a normalised ``target`` beyond 1 (clipped to 1); 0 when
    none is valid."""
    return float((target[valid] > 1.0).mean()) if valid.any() else 0.0


class ClipReport:
    """Targets clipped at the normalisation maximum, summed up over a data set's split: each file past
    :data:`CLIP_WARN_FRACTION` is logged at DEBUG as it comes, and :meth:`warn` writes one WARNING line
    (how many files, the worst one, the fix) instead of a line per file.

    ``name``: the data set and split; ``what``: the maximum (``"max_depth 80 m"``); ``fix``: how to raise it;
    ``units``: the declared units that, when wrong, clip nearly every pixel (said when the worst file is
    past :data:`MOSTLY_CLIPPED`: raising the maximum is then not the fix).
    """

    def __init__(self, name: str, what: str, fix: str, units: str = "") -> None:
        self.name, self.what, self.fix, self.units = name, what, fix, units
        self.files = 0
        self.over: list[tuple[str, float]] = []

    def add(self, file: Path | str, fraction: float) -> bool:
        """Count one file; ``True`` (and a DEBUG line) when it is past the threshold."""
        self.files += 1
        if fraction <= CLIP_WARN_FRACTION:
            return False
        self.over.append((str(file), fraction))
        logger.debug(
            "%s: %.1f %% of the valid target pixels are beyond %s", file, 100.0 * fraction, self.what
        )
        return True

    def warn(self, first_only: bool = False) -> None:
        """One WARNING line when any file was past the threshold (``first_only``: about the first one,
        while the files are still being read)."""
        if not self.over:
            return
        file, fraction = self.over[0] if first_only else max(self.over, key=lambda item: item[1])
        fix = self.fix
        if self.units and fraction >= MOSTLY_CLIPPED:
            fix += f"; but {100.0 * fraction:.0f} % clipped is more likely wrong units: {self.units}"
        if first_only:
            logger.warning(
                "%s: %.1f %% of the valid target pixels are beyond %s and clipped to it (first such file "
                "of %s; the others are logged at DEBUG); raise it with %s",
                file,
                100.0 * fraction,
                self.what,
                self.name,
                fix,
            )
            return
        logger.warning(
            "%s: %d of %d files have more than %g %% of their valid target pixels beyond %s, clipped to it "
            "(worst: %s, %.1f %%; each file at DEBUG); raise it with %s",
            self.name,
            len(self.over),
            self.files,
            100 * CLIP_WARN_FRACTION,
            self.what,
            file,
            100.0 * fraction,
            fix,
        )


class DepthDataset(Dataset[dict[str, Any]]):
    """Samples of one split, decoded from the source files on every access.

    ``dataset[i]`` is the dict of :mod:`ssrdepth.data.config`; :meth:`load_arrays` gives it as NumPy
    arrays, with ``clipped``, the fraction of valid target pixels clipped at the normalisation maximum
    (:class:`ClipReport` sums these up per split); ``dataset.scale`` the split's
    :class:`TargetScale`; ``dataset.meta(i)`` per-sample metadata; ``dataset.skipped`` the files
    left out as bad (``(file, problem)``). Use :func:`build_dataset` (which adds the array cache).

    Stereo targets of a split whose frames have different calibrations (KITTI raw drives of several
    recording days) are normalised to one scale, the split's: a frame's disparity ``d`` (focal ``f``,
    baseline ``B``) becomes ``d · (f_s·B_s) / (f·B)``, the disparity of the same depth in the split's
    camera (``f_s``, ``B_s`` of ``dataset.scale``), so ``dataset.scale.to_depth`` is exact for every frame.
    """

    def __init__(self, cfg: DataConfig, split: str) -> None:
        self.cfg = cfg
        self.split = split
        self.source = build_source(cfg)
        self.skipped: list[tuple[str, str]] = list(self.source.skipped)
        official = self.source.official_split(split)
        indices = official if official is not None else self._by_group(split)
        self._check_target_kind()
        self._cache: TargetCache | None = target_cache(cfg) if cfg.target == "stereo" else None
        if self._cache is not None:
            indices = self._with_targets(indices)
        self.indices = indices
        self.scale = self._scale(indices[0]) if indices else self._default_scale()
        self._clipping = self.clip_report()
        self._clip_reported = False

    def _by_group(self, split: str) -> list[int]:
        groups = [f.group for f in self.source.frames]
        return split_indices(groups, split, self.cfg.split_ratio, self.cfg.split_seed)

    def _check_target_kind(self) -> None:
        cfg, kind = self.cfg, self.source.depth_kind
        if cfg.disparity_scaled and cfg.source not in STEREO_SOURCES:
            raise ValueError(f"source {cfg.source!r} has no stereo pairs; use target='depth'")
        if cfg.target == "lidar" and kind != "lidar":
            raise ValueError(
                f"{cfg.root}: target 'lidar' needs velodyne scans (KITTI velodyne/ folder), none found"
            )
        if cfg.target == "depth" and kind == "none":
            raise ValueError(f"{cfg.root}: source {cfg.source!r} has no depth maps here; use target='stereo'")

    def _with_targets(self, indices: list[int]) -> list[int]:
        cache = self._cache
        assert cache is not None  # called for stereo targets only
        from ssrdepth.data.targets import check_targets, target_inputs  # made from other images: refused

        items = [(f.key, target_inputs(self.cfg, f)) for f in (self.source.frames[i] for i in indices)]
        what = f"{self.cfg.source} ({self.split})"
        check_targets(cache, items, what, prepare_targets_command(self.cfg))
        missing = [i for i in indices if not cache.has(self.source.frames[i].key)]
        if not missing:
            return indices
        if self.cfg.skip_bad and len(missing) < len(indices):
            for i in missing:
                self.skipped.append((str(self.source.frames[i].image), "no cached stereo target"))
            drop = set(missing)
            return [i for i in indices if i not in drop]
        keys = [self.source.frames[i].key for i in indices]
        missing_keys = [self.source.frames[i].key for i in missing]
        raise FileNotFoundError(
            missing_targets_message(self.cfg, cache, keys, missing_keys, f"{self.cfg.source} ({self.split})")
        )

    def _default_scale(self) -> TargetScale:
        if self.cfg.disparity_scaled:
            return TargetScale("disparity", float(self.cfg.matcher_settings.max_disparity))
        return TargetScale("depth", self.cfg.depth_limit)

    def _scale(self, index: int) -> TargetScale:
        """The target scale of frame ``index`` (stereo: its own focal, baseline and width; depth: its
        camera's focal and width when known, the training camera of the canonical-camera rule)."""
        frame = self.source.frames[index]
        width = self.source.image_size(index)[1]
        if not self.cfg.disparity_scaled:
            if frame.focal is None:
                return TargetScale("depth", self.cfg.depth_limit)
            return TargetScale("depth", self.cfg.depth_limit, frame.focal, None, width)
        return TargetScale(
            "disparity",
            float(self.cfg.matcher_settings.max_disparity),
            frame.focal,
            frame.baseline,
            width,
        )

    def __len__(self) -> int:
        return len(self.indices)

    def disparity_factor(self, index: int) -> float:
        """``(f_s·B_s) / (f·B)``: frame ``index``'s disparity → the split's disparity of the same depth
        (1 when the frame shares the split's calibration)."""
        frame = self.source.frames[index]
        ref = self.scale
        own = TargetScale(ref.kind, ref.max_value, frame.focal, frame.baseline, ref.reference_width)
        factor = own.disparity_factor(ref)  # the rule is TargetScale's
        return 1.0 if factor is None else factor

    def meta(self, i: int) -> dict[str, Any]:
        """Metadata of sample ``i``: source, file, key, the frame's own focal and baseline, depth
        scale, and ``scale``, the split's target scale in which its target is normalised."""
        index = self.indices[i]
        out = self.source.meta(index)
        out["split"] = self.split
        out["index"] = i
        out["scale"] = self.scale.as_dict()
        if self.cfg.disparity_scaled:
            out["disparity_factor"] = self.disparity_factor(index)
        return out

    def clip_report(self) -> ClipReport:
        """An empty :class:`ClipReport` for this data set and split (its threshold wording and fix)."""
        cfg = self.cfg
        if cfg.disparity_scaled:
            what = f"max_disparity {cfg.matcher_settings.max_disparity} px (in the split's camera)"
            fix = "--max-disparity / --set data.max_disparity=PX"
            units = (
                f"check --focal {cfg.focal:g} (px at the images' width) and --baseline {cfg.baseline:g} (m)"
                if cfg.source == "stereo-folder" and cfg.focal and cfg.baseline
                else ""
            )
        else:
            what = f"max_depth {cfg.depth_limit:g} m"
            fix = f"--max-depth / --set data.max_depth=METRES ({cfg.source} default: {cfg.data_source.default_max_depth:g} m)"
            units = (
                f"check --depth-scale {cfg.depth_scale:g} (stored value per metre; millimetres: 1000)"
                if cfg.depth_scale
                else ""
            )
        return ClipReport(f"{cfg.source} ({self.split})", what, fix, units)

    def truth_depth(self, i: int) -> np.ndarray | None:
        """Sample ``i``'s true depth at the source's own resolution: ``(H, W)`` float32 m, 0 = unknown
        (lidar stays sparse, never resized), or ``None`` when the source has none — what the metric
        protocols score against (``score_at="truth"``, :mod:`ssrdepth.evaluation.protocols`)."""
        return self.source.depth(self.indices[i])

    def target_file(self, i: int) -> Path | str:
        """The file sample ``i``'s target comes from (the cached stereo PNG, the depth map or scan)."""
        frame = self.source.frames[self.indices[i]]
        if self._cache is not None:  # stereo targets
            return self._cache.path_for(frame.key)
        return frame.depth or frame.velodyne or frame.image

    def load_arrays(self, i: int) -> dict[str, np.ndarray]:
        """Sample ``i`` as NumPy arrays at the model size: ``image`` (C, H, W) uint8, ``target``
        (1, H, W) float32 [0, 1], ``valid_mask`` (1, H, W) bool, ``depth`` (1, H, W) float32 m, and
        ``clipped``, a 0-d float32 array: the fraction of valid target pixels beyond 1 before clipping
        (:class:`ClipReport`; :meth:`target_file` names the file)."""
        cfg = self.cfg
        index = self.indices[i]
        frame = self.source.frames[index]
        image = self.source.image(index)
        full = image.shape[:2]
        depth = self.source.depth(index)
        if depth is not None and depth.shape != full:
            where = frame.depth or frame.velodyne or frame.image
            raise BadSampleError(
                where, f"depth map is {depth.shape[1]}×{depth.shape[0]} but the image is {full[1]}×{full[0]}"
            )
        sparse = self.source.depth_kind == "lidar"
        if depth is not None:
            depth_small, depth_valid = resize_map(depth, depth > 0, cfg.size, sparse=sparse)
        else:
            depth_small = np.zeros(cfg.size, np.float32)
            depth_valid = np.zeros(cfg.size, bool)
        if self._cache is not None:  # stereo targets
            try:
                disparity, valid = self._cache.read(frame.key)
            except ValueError as exc:  # corrupt or not a 16-bit PNG: the message names the file
                raise BadSampleError(self._cache.path_for(frame.key), str(exc)) from None
            if disparity.shape != full:
                raise BadSampleError(
                    self._cache.path_for(frame.key),
                    f"cached target is {disparity.shape[1]}×{disparity.shape[0]} but the image is "
                    f"{full[1]}×{full[0]}; delete it and rerun: {prepare_targets_command(cfg)}",
                )
            settings = self._cache.settings  # the configuration's matcher settings, derived once
            max_disparity = float(settings.max_disparity)
            # In the split's scale (see the class docstring): exact depth for every calibration.
            scaled = disparity / max_disparity
            factor = self.disparity_factor(index)
            if factor != 1.0:
                scaled = scaled * np.float32(factor)
            # Sparse reference targets (lidar-like) shrink like lidar: valid where any point falls.
            sparse_target = bool(getattr(settings, "sparse", False))
            target, target_valid = resize_map(scaled, valid & (disparity > 0), cfg.size, sparse=sparse_target)
        elif cfg.target == "none":  # the pair teaches through the photometric loss: no target
            target = np.zeros(cfg.size, np.float32)
            target_valid = np.zeros(cfg.size, bool)
        else:
            target = depth_small / np.float32(cfg.depth_limit)
            target_valid = depth_valid
        arrays = {
            "image": prepare_image(image, cfg.channels, cfg.size, as_uint8=True),
            "target": np.clip(target, 0.0, 1.0)[None].astype(np.float32),
            "valid_mask": target_valid[None],
            "depth": depth_small[None].astype(np.float32),
            "clipped": np.asarray(clipped_fraction(target, target_valid), np.float32),
        }
        if cfg.right_view:
            arrays["right"] = self.right_image(index, full)
        return arrays

    def right_image(self, index: int, size: tuple[int, int]) -> np.ndarray:
        """The right image of frame ``index`` at the model size, ``(C, H, W)`` uint8, prepared exactly as
        the left one (:func:`~ssrdepth.core.image.prepare_image`); ``size`` is the left image's
        ``(H, W)``, which a rectified pair shares.

        Raises:
            BadSampleError: no right image, or one of another size (naming the file).
        """
        cfg, frame = self.cfg, self.source.frames[index]
        if frame.right is None:
            raise BadSampleError(frame.image, "no right image for this frame (right_view needs stereo pairs)")
        right = read_image(frame.right)
        if right.shape[:2] != size:
            raise BadSampleError(
                frame.right,
                f"size {right.shape[1]}×{right.shape[0]} differs from the left image {frame.image} "
                f"({size[1]}×{size[0]}); a rectified pair has equal sizes",
            )
        return prepare_image(right, cfg.channels, cfg.size, as_uint8=True)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self.indices):
            raise IndexError(f"sample {i} out of range (0..{len(self.indices) - 1})")
        arrays = self.load_arrays(i)
        # Served without the array cache: no end of a pass to summarise at, so the first file past
        # the threshold is reported (once per data set and process), every one at DEBUG.
        if self._clipping.add(self.target_file(i), float(arrays["clipped"])) and not self._clip_reported:
            self._clip_reported = True
            self._clipping.warn(first_only=True)
        return to_tensors(arrays, i)


def to_tensors(arrays: dict[str, np.ndarray], index: int) -> dict[str, Any]:
    """NumPy sample arrays (image and right uint8) → the tensor dict of the contract."""
    out = {
        "image": torch.from_numpy(np.asarray(arrays["image"], np.float32) / np.float32(255.0)),
        "target": torch.from_numpy(np.array(arrays["target"], np.float32)),
        "valid_mask": torch.from_numpy(np.array(arrays["valid_mask"], bool)),
        "depth": torch.from_numpy(np.array(arrays["depth"], np.float32)),
        "index": index,
    }
    if "right" in arrays:
        out["right"] = torch.from_numpy(np.asarray(arrays["right"], np.float32) / np.float32(255.0))
    return out
