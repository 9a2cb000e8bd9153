"""``--backend auto``: the fastest inference backend that passes the parity check on this machine.

Every candidate (eager PyTorch in float32 and, where the CPU has native bf16, bf16 autocast; ONNX
Runtime; OpenVINO in its measured settings; an INT8 model that passed its accuracy gate) is

1. checked against eager float32 PyTorch on a fixed random batch: max abs error of the normalised
   [0, 1] maps ≤ :data:`AUTO_TOLERANCE` (a candidate that fails or raises is dropped, with the reason);
2. timed at the prediction batch and at batch 1, interleaved round-robin with the others
   (:func:`ssrdepth.core.timing.interleaved_medians`);
3. scored by the sum over both batches of its time relative to the best
   (:func:`ssrdepth.core.timing.ratio_score`), so that neither the batched nor the latency case is
   sacrificed; the lowest score wins.

The candidates come from the backend registry (:func:`ssrdepth.inference.backends.auto_candidates`);
this module measures and caches, it builds nothing itself.

The choice is cached in ``$SSRDEPTH_CACHE_DIR/backend-choice.json`` (default
``$XDG_CACHE_HOME/ssrdepth`` or ``~/.cache/ssrdepth``), keyed by the model file's SHA-256, the machine
(CPU model, its speed flags, core count, thread setting, library versions) and the batch size, so it
is measured once per model file and machine; delete the file (or pass ``remeasure=True``) to measure
again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.io import file_sha256, user_cache_dir
from ssrdepth.core.timing import best_of, interleaved_medians, ratio_score, ratios_to_best
from ssrdepth.inference.backends import REGISTRY, Runner, RunnerFactory, parity_error

logger = logging.getLogger(__name__)

#: Largest max-abs difference (normalised [0, 1] maps) from eager float32 that a backend may have to
#: be chosen by ``auto``: bf16 backends land at 2e-3–6e-3 on these networks (BENCHMARKS.md), float32
#: ones at ~1e-6; 1e-2 is 1 % of the map's range, well inside δ < 1.25's 25 %.
AUTO_TOLERANCE = 1e-2
CACHE_FILE = "backend-choice.json"


@dataclass
class BackendChoice:
    """What ``auto`` chose and why: ``table`` maps each candidate to its parity error and times
    (``b<N>_ms``) or to ``{"rejected": reason}``; ``cached`` is true when read from the cache."""

    backend: str
    table: dict[str, dict[str, Any]] = field(default_factory=dict)
    cached: bool = False
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "table": self.table, "cached": self.cached, "key": self.key}

    def summary(self, where: str = "") -> str:
        """One readable line: the backend chosen, why, each candidate's times and the rejected ones, e.g.
        ``backend auto: onnxruntime-fp32, the fastest of 3 passing parity at batch 8 / 1 together (the
        lowest sum of times relative to the best) (measured here); ms at batch 8 / 1: onnxruntime-fp32 4.1 / 0.6, torch-fp32 6.3 / 0.9; rejected: torch-bf16 (parity 3.1e-02 >
        0.01)``. ``where``: the cache file, named when the choice was read from it."""
        timed = {k: v for k, v in self.table.items() if "rejected" not in v}
        how = f"chosen earlier on this machine, cached in {where}" if self.cached else "measured here"
        if self.cached and not where:
            how = "chosen earlier on this machine, cached"
        batches = sorted(
            {int(k[1:-3]) for v in timed.values() for k in v if k.startswith("b") and k.endswith("_ms")}
        )
        head = " / ".join(str(b) for b in reversed(batches))
        rule = (
            f" at batch {head} together (the lowest sum of times relative to the best)"
            if len(batches) > 1
            else ""
        )
        text = f"backend auto: {self.backend}, the fastest of {len(timed)} passing parity{rule} ({how})"
        if batches:
            order = sorted(timed, key=lambda k: float(timed[k].get("score", 0.0)))
            rows = [
                f"{name} " + " / ".join(_ms(timed[name].get(f"b{b}_ms")) for b in reversed(batches))
                for name in order
            ]
            text += f"; ms at batch {head}: " + ", ".join(rows)
        rejected = [
            f"{k} ({str(v['rejected']).splitlines()[0][:80]})"
            for k, v in self.table.items()
            if "rejected" in v
        ]
        if rejected:
            text += "; rejected: " + ", ".join(rejected)
        return text


def _ms(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}" if float(value) >= 10 else f"{float(value):.2f}"


def cache_dir() -> Path:
    """Where the choice cache lives (see the module docstring): :func:`ssrdepth.core.io.user_cache_dir`."""
    return user_cache_dir()


def machine_key(threads: int | None = None) -> dict[str, Any]:
    """What makes timings on this machine comparable: :func:`ssrdepth.core.machine.speed_key` (CPU
    model and speed flags, cores, threads, torch's version) and the versions of the other runtimes
    (torch is optional: an ONNX file predicts without it)."""
    from ssrdepth.core.machine import speed_key

    versions: dict[str, str | None] = {}
    for mod in dict.fromkeys(b.requires for b in REGISTRY.values()):  # torch, onnxruntime, openvino
        if mod == "torch":
            continue
        try:
            versions[mod] = str(importlib.import_module(mod).__version__)
        except ImportError:
            versions[mod] = None
    return {**speed_key(threads), **versions}


def choice_key(model_path: str | os.PathLike[str], batch: int, threads: int | None = None) -> str:
    """Cache key: the SHA-256 of the model file's bytes (a file replaced or retrained under the same
    name, size and times is measured again) + machine + batch."""
    machine = json.dumps(machine_key(threads), sort_keys=True)
    m = hashlib.sha256(machine.encode()).hexdigest()[:16]
    return f"{file_sha256(model_path)[:32]}-{m}-b{batch}"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, key: str, choice: BackendChoice) -> None:
    from ssrdepth.core.io import write_json

    data = _read_cache(path)
    data[key] = {"backend": choice.backend, "table": choice.table, "date": time.strftime("%Y-%m-%d %H:%M")}
    try:
        write_json(path, data)
    except OSError as exc:  # a read-only home must not stop prediction
        logger.warning("could not write the backend choice cache %s: %s", path, exc)


def _time(runners: Mapping[str, Runner], batch: np.ndarray, repeats: int) -> dict[str, float]:
    # One warm-up call at this shape (kernel selection, allocations), then interleaved medians with
    # one settling call per round.
    fns = {name: functools.partial(run, batch) for name, run in runners.items()}
    return interleaved_medians(fns, repeats, 1, settle=1)


def measure(
    candidates: Mapping[str, RunnerFactory],
    reference: Runner,
    sample: np.ndarray,
    batch: int,
    *,
    tolerance: float = AUTO_TOLERANCE,
    repeats: int = 5,
) -> BackendChoice:
    """Build each candidate (a factory; one that raises is rejected with its message), check its
    parity against ``reference`` on ``sample`` ``(n, C, H, W)``, time the survivors at ``batch`` and at 1,
    and return the fastest.

    Raises:
        ValueError: no candidate passed.
    """
    table: dict[str, dict[str, Any]] = {}
    runners: dict[str, Runner] = {}
    ref = reference(sample)
    for name, make in candidates.items():
        try:
            run = make()
            err = parity_error(run, ref, sample)
        except Exception as exc:  # any backend failure just removes the candidate
            table[name] = {"rejected": f"{type(exc).__name__}: {exc}"}
            continue
        if not err <= tolerance:
            table[name] = {"rejected": f"parity {err:.2e} > {tolerance:g}", "max_abs_error": err}
            continue
        table[name] = {"max_abs_error": err}
        runners[name] = run
    if not runners:
        raise ValueError(f"no inference backend passed the parity check: {table}")
    rng = np.random.default_rng(0)
    c, h, w = sample.shape[1:]
    ratios: list[dict[str, float]] = []
    for n in dict.fromkeys((batch, 1)):
        x = rng.random((n, c, h, w), dtype=np.float32)
        med = _time(runners, x, repeats)
        for name, sec in med.items():
            table[name][f"b{n}_ms"] = sec * 1e3
        ratios.append(ratios_to_best(med))
    score = ratio_score(ratios)
    for name in runners:
        table[name]["score"] = score[name]
    chosen = best_of(score)
    return BackendChoice(chosen, table)  # the caller logs its summary() once


def choose_backend(
    model_path: str | os.PathLike[str],
    candidates: Mapping[str, Callable[[], Runner]],
    reference: Callable[[], Runner],
    sample: np.ndarray,
    batch: int,
    *,
    threads: int | None = None,
    tolerance: float = AUTO_TOLERANCE,
    repeats: int = 5,
    remeasure: bool = False,
) -> BackendChoice:
    """The cached choice for this model file, machine and batch when there is one whose backend is
    still a candidate; else :func:`measure` and cache it. ``reference`` builds the float32 eager
    runner (only when measuring). Logs nothing at INFO: the caller logs :meth:`BackendChoice.summary`."""
    key = choice_key(model_path, batch, threads)
    path = cache_dir() / CACHE_FILE
    if not remeasure:
        hit = _read_cache(path).get(key)
        if isinstance(hit, dict) and hit.get("backend") in candidates:
            logger.debug("backend auto: %s read from %s", hit["backend"], path)
            return BackendChoice(str(hit["backend"]), dict(hit.get("table", {})), cached=True, key=key)
    choice = measure(candidates, reference(), sample, batch, tolerance=tolerance, repeats=repeats)
    choice.key = key
    _write_cache(path, key, choice)
    return choice


__all__ = [
    "AUTO_TOLERANCE",
    "BackendChoice",
    "Runner",
    "RunnerFactory",
    "cache_dir",
    "choice_key",
    "choose_backend",
    "machine_key",
    "measure",
]
