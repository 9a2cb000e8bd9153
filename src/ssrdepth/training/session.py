"""One training session: its state and its steps (restore, open the logs, the step loop with logging,
validation and checkpoints at their intervals, finish), the optimiser step itself
(:meth:`Session.train_step`, which :func:`ssrdepth.training.step.measure_step_seconds` times), and
the result of a run (:class:`TrainResult`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ssrdepth.checkpoint import BEST, LATEST, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ssrdepth.core.io import write_json, write_text
from ssrdepth.core.scale import TargetScale
from ssrdepth.runtime import forward, model_input
from ssrdepth.training.augment import augment_batch, step_generator
from ssrdepth.training.config import TrainConfig, config_to_dict, to_toml
from ssrdepth.training.data_setup import TrainData
from ssrdepth.training.distributed import DistInfo
from ssrdepth.training.logs import TRAIN_COLUMNS, VAL_COLUMNS, CsvLog, plot_curves
from ssrdepth.training.model_setup import TrainParts
from ssrdepth.training.photometric import STEREO_LOSSES, training_loss
from ssrdepth.training.run_folder import CURVES, RESULT, TRAIN_LOG, VAL_LOG, check_same_run
from ssrdepth.training.validation import validate

logger = logging.getLogger(__name__)


class DivergedError(FloatingPointError):
    """The training loss became NaN or inf. The run stopped before writing anything from the bad steps."""


@dataclass
class TrainResult:
    """What a finished run produced.

    Attributes:
        run_dir: the run folder.
        best_checkpoint: ``best.pt`` (by ``cfg.best_metric``), or None when the run had no validation set.
        latest_checkpoint: ``latest.pt`` (the final state).
        history: ``{"train": [row, ...], "val": [row, ...]}`` with the columns of the CSV logs.
        seconds: wall time of the whole run (summed over resumed sessions).
        images_per_second: training throughput (all processes) of the last session, without
            validation and checkpointing.
        steps: optimiser steps done. best: ``{"metric", "value", "step"}`` or None.
        skipped: True when a finished run with the same configuration was found and reused.
        precision: the precision the steps ran in (``precision = "auto"`` resolved on this machine).
        channels_last: the memory format the steps ran in (``channels_last = "auto"`` resolved).
    """

    run_dir: Path
    best_checkpoint: Path | None
    latest_checkpoint: Path
    history: dict[str, list[dict[str, float]]]
    seconds: float
    images_per_second: float
    steps: int
    best: dict[str, Any] | None = None
    skipped: bool = False
    precision: str = ""
    channels_last: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("run_dir", "best_checkpoint", "latest_checkpoint"):
            d[k] = None if d[k] is None else str(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainResult:
        return cls(
            run_dir=Path(d["run_dir"]),
            best_checkpoint=Path(d["best_checkpoint"]) if d.get("best_checkpoint") else None,
            latest_checkpoint=Path(d["latest_checkpoint"]),
            history=d.get("history", {"train": [], "val": []}),
            seconds=float(d["seconds"]),
            images_per_second=float(d["images_per_second"]),
            steps=int(d["steps"]),
            best=d.get("best"),
            skipped=bool(d.get("skipped", False)),
            precision=str(d.get("precision", "")),
            channels_last=d.get("channels_last"),
        )


class Session:
    """The state of one training session, and its steps: restore, open the logs, run the step loop
    (logging, validating and saving at their intervals), finish."""

    def __init__(
        self,
        cfg: TrainConfig,
        ddp: DistInfo,
        device: torch.device,
        run_dir: Path,
        data: TrainData,
        parts: TrainParts,
        t_start: float,
    ) -> None:
        self.cfg, self.ddp, self.device, self.run_dir = cfg, ddp, device, run_dir
        self.data, self.parts, self.t_start = data, parts, t_start
        self.step = 0
        self.history: dict[str, list[dict[str, float]]] = {"train": [], "val": []}
        self.best: dict[str, Any] | None = None
        self.elapsed_before = 0.0
        self.metrics: dict[str, float] = {}
        self.last_saved: int | None = None
        self.config_dict = config_to_dict(cfg)
        self.train_csv: CsvLog | None = None
        self.val_csv: CsvLog | None = None
        self.writer: Any = None
        self.pbar: Any = None
        # per-interval accumulators
        self.loss_acc = torch.zeros((), dtype=torch.float64, device=device)
        self.acc_steps = 0
        self.last_checked = 0
        self.t_mark = 0.0
        self.train_time = 0.0
        self.train_images = 0
        self.in_update = False
        self.lr_used = 0.0

    def restore(self, resume_from: Path) -> None:
        """Model, optimiser, schedule, scaler, RNG, history and timing from a checkpoint."""
        p = self.parts
        ckpt = load_checkpoint(resume_from, map_location=self.device)
        check_same_run(self.cfg, ckpt.config, resume_from)
        p.model.load_state_dict(ckpt.state_dict)
        p.optimizer.load_state_dict(ckpt.extra["optimizer"])
        p.scheduler.load_state_dict(ckpt.extra["scheduler"])
        if "scaler" in ckpt.extra and p.scaler.is_enabled():
            p.scaler.load_state_dict(ckpt.extra["scaler"])
        if "rng" in ckpt.extra:
            set_rng_state(ckpt.extra["rng"])
        step = self.step = ckpt.step
        history = {k: [dict(r) for r in v] for k, v in ckpt.extra.get("history", self.history).items()}
        self.best = ckpt.extra.get("best")
        self.metrics = ckpt.metrics
        self.elapsed_before = float(ckpt.extra.get("elapsed", 0.0))
        history["train"] = [r for r in history["train"] if r["step"] <= step]
        history["val"] = [r for r in history["val"] if r["step"] <= step]
        self.history = history
        self.last_saved = step

    def open_logs(self) -> None:
        """Config files, CSV logs, TensorBoard and the progress bar (rank 0)."""
        cfg, run_dir = self.cfg, self.run_dir
        if self.ddp.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "config.json", self.config_dict)
            write_text(run_dir / "config.toml", to_toml(self.config_dict))
            self.train_csv = CsvLog(run_dir / TRAIN_LOG, TRAIN_COLUMNS, self.history["train"])
            self.val_csv = CsvLog(run_dir / VAL_LOG, VAL_COLUMNS, self.history["val"])
            if cfg.tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                purge = self.step if self.step else None
                self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
        if self.ddp.main and cfg.progress:
            from tqdm import tqdm

            self.pbar = tqdm(
                total=self.data.total_steps,
                initial=self.step,
                desc=f"train {cfg.model.name}",
                unit="step",
                dynamic_ncols=True,
            )

    def save(self, path: Path) -> None:
        p, d = self.parts, self.data
        save_checkpoint(
            path,
            p.model,
            input_size=(d.height, d.width),
            target=d.target_scale,
            step=self.step,
            optimizer=p.optimizer.state_dict(),
            scheduler=p.scheduler.state_dict(),
            **({"scaler": p.scaler.state_dict()} if p.scaler.is_enabled() else {}),
            rng=rng_state(),
            config=self.config_dict,
            metrics=self.metrics,
            history=self.history,
            best=self.best,
            epoch=self.step / d.steps_per_epoch,
            elapsed=self.elapsed_before + time.perf_counter() - self.t_start,
            world_size=self.ddp.world,
            precision_used=p.precision,
            channels_last_used=p.channels_last,
        )

    def params_finite(self) -> bool:
        return bool(torch.stack([p.detach().isfinite().all() for p in self.parts.model.parameters()]).all())

    def run(self, on_step: Callable[[int], None] | None) -> None:
        """The step loop, with an interruption saving a consistent state."""
        d = self.data
        self.last_checked = self.step
        self.t_mark = time.perf_counter()
        self.parts.net.train()
        try:
            while self.step < d.total_steps:
                epoch, offset = divmod(self.step, d.steps_per_epoch)
                d.sampler.set_position(epoch, offset * d.local_batch)
                d.loader_gen.manual_seed(self.cfg.seed * 1_000_003 + epoch)
                for batch in d.loader:
                    self.train_step(batch)
                    self.after_step()
                    if on_step is not None:
                        on_step(self.step)
                    if self.step >= d.total_steps:
                        break
        except KeyboardInterrupt:
            self.save_on_interrupt()
            raise
        finally:
            self.close_logs()

    def train_step(self, batch: dict[str, Any]) -> None:
        """One optimiser step; the loss stays on the device (no read-back)."""
        p, device = self.parts, self.device
        if self.cfg.augment.enabled:
            g = step_generator(self.cfg.seed, self.step, self.ddp.rank)
            batch = augment_batch(batch, self.cfg.augment, g, self.data.target_kind)
        image = model_input(batch["image"], device, p.memory_format)
        target = batch["target"].to(device, non_blocking=True)
        valid = batch["valid_mask"].to(device, non_blocking=True) if p.masked else None
        p.optimizer.zero_grad(set_to_none=True)
        pred = forward(p.net, image, p.autocast_dtype)
        if self.cfg.loss in STEREO_LOSSES:  # the right view teaches (training/photometric.py)
            right = model_input(batch["right"], device, p.memory_format)
            scale = TargetScale.from_dict(self.data.target_scale or {})
            loss = training_loss(
                self.cfg.loss,
                self.cfg.photometric,
                p.net,
                pred,
                image,
                right,
                scale,
                target=target,
                valid=valid,
                autocast_dtype=p.autocast_dtype,
            )
        else:
            loss = p.loss_fn(pred.float(), target, valid)
        p.scaler.scale(loss).backward()
        self.in_update = True
        if self.cfg.optim.grad_clip:
            p.scaler.unscale_(p.optimizer)
            nn.utils.clip_grad_norm_(p.model.parameters(), self.cfg.optim.grad_clip)
        p.scaler.step(p.optimizer)
        p.scaler.update()
        self.lr_used = p.optimizer.param_groups[0]["lr"]
        p.scheduler.step()
        self.step += 1
        self.in_update = False
        self.loss_acc += loss.detach()
        self.acc_steps += 1
        if self.pbar is not None:
            self.pbar.update(1)

    def after_step(self) -> None:
        """At their intervals: log the mean loss (the only read-back), validate, save."""
        d, step = self.data, self.step
        do_eval = d.val_loader is not None and (
            step == d.total_steps or bool(d.eval_steps and step % d.eval_steps == 0)
        )
        do_save = step == d.total_steps or bool(d.ckpt_steps and step % d.ckpt_steps == 0) or do_eval
        if step % self.cfg.log_every == 0 or do_save:
            row = self.log_interval()
            if do_eval:
                self.validate(row)
            if do_save:
                self.save_checkpoints(do_eval)
            self.t_mark = time.perf_counter()

    def log_interval(self) -> dict[str, float]:
        """Mean loss since the last check, NaN/inf test, the train log row."""
        ddp, step = self.ddp, self.step
        if ddp.world > 1:
            dist.all_reduce(self.loss_acc)
            self.loss_acc /= ddp.world
        mean_loss = self.loss_acc.item() / self.acc_steps
        now = time.perf_counter()
        interval = now - self.t_mark
        self.train_time += interval
        images = self.acc_steps * self.cfg.batch_size
        self.train_images += images
        if not math.isfinite(mean_loss):
            last = self.last_saved
            kept = f"{self.run_dir / LATEST} (step {last})" if last is not None else "none yet"
            raise DivergedError(
                f"training loss became {mean_loss} between steps {self.last_checked + 1} and {step} "
                f"(lr {self.lr_used:.3g}); stopped without writing anything from those "
                f"steps; last good checkpoint: {kept}. Lower optim.lr, set optim.grad_clip, or "
                "check the data for NaN/inf"
            )
        self.last_checked = step
        row: dict[str, float] = {
            "step": step,
            "epoch": round(step / self.data.steps_per_epoch, 4),
            "lr": float(self.lr_used),
            "loss": mean_loss,
            "images_per_second": images / max(interval, 1e-9),
            "seconds": self.elapsed_before + now - self.t_start,
        }
        self.history["train"].append(row)
        if ddp.main:
            assert self.train_csv is not None
            self.train_csv.append(row)
            if self.writer is not None:
                self.writer.add_scalar("train/loss", mean_loss, step)
                self.writer.add_scalar("train/lr", row["lr"], step)
                self.writer.add_scalar("train/images_per_second", row["images_per_second"], step)
            if self.pbar is not None:
                self.pbar.set_postfix(loss=f"{mean_loss:.4g}", img_s=f"{row['images_per_second']:.1f}")
        self.loss_acc.zero_()
        self.acc_steps = 0
        return row

    def validate(self, row: dict[str, float]) -> None:
        """Validation metrics, the best so far, the val log, TensorBoard images."""
        cfg, step, p = self.cfg, self.step, self.parts
        assert self.data.val_loader is not None
        metrics, first = validate(
            p.model,
            self.data.val_loader,
            p.loss_fn,
            self.device,
            autocast_dtype=p.autocast_dtype,
            channels_last=p.channels_last,
            max_batches=cfg.val_max_batches,
            ddp=self.ddp,
        )
        self.metrics = metrics
        vrow: dict[str, float] = {"step": step, "epoch": row["epoch"], **metrics}
        self.history["val"].append(vrow)
        value = metrics[cfg.best_metric]
        if self.best is None or value < self.best["value"]:
            self.best = {"metric": cfg.best_metric, "value": value, "step": step}
        if not self.ddp.main:
            return
        assert self.val_csv is not None
        self.val_csv.append(vrow)
        if self.writer is not None:
            for k, v in metrics.items():
                self.writer.add_scalar(f"val/{k[4:]}", v, step)
            if first is not None and cfg.tb_images:
                image_b, target_b, pred_b = (t[: cfg.tb_images] for t in first)
                self.writer.add_images("val/input", image_b.clamp(0, 1), step)
                self.writer.add_images("val/target", target_b.clamp(0, 1), step)
                self.writer.add_images("val/prediction", pred_b.clamp(0, 1), step)
        if self.pbar is not None:
            self.pbar.set_postfix(loss=f"{row['loss']:.4g}", val_rmse=f"{metrics['val_rmse']:.4f}")

    def save_checkpoints(self, evaluated: bool) -> None:
        """``latest.pt`` (and ``best.pt`` when this step is the best), refusing NaN/inf parameters."""
        step = self.step
        if not self.params_finite():
            raise DivergedError(
                f"parameters became NaN/inf by step {step}; stopped without saving; last good "
                f"checkpoint: {self.run_dir / LATEST} (step {self.last_saved}). Lower optim.lr or set "
                "optim.grad_clip"
            )
        if self.ddp.main:
            self.save(self.run_dir / LATEST)
            if evaluated and self.best is not None and self.best["step"] == step:
                self.save(self.run_dir / BEST)
            if self.writer is not None:
                self.writer.flush()
        self.last_saved = step

    def save_on_interrupt(self) -> None:
        """Keep what was done, if the state is consistent (not interrupted inside an update) and sane."""
        ddp = self.ddp
        if ddp.world == 1 and ddp.main and not self.in_update and self.step != self.last_saved:
            loss_ok = self.acc_steps == 0 or math.isfinite(self.loss_acc.item())
            if loss_ok and self.params_finite():
                self.save(self.run_dir / LATEST)
                logger.warning(
                    "interrupted: saved %s at step %d; run again to resume", self.run_dir / LATEST, self.step
                )

    def close_logs(self) -> None:
        if self.pbar is not None:
            self.pbar.close()
        for log in (self.train_csv, self.val_csv):
            if log is not None:
                log.close()
        if self.writer is not None:
            self.writer.close()

    def finish(self) -> TrainResult:
        """The result, the curves and ``result.json``."""
        run_dir, ddp = self.run_dir, self.ddp
        result = TrainResult(
            run_dir=run_dir,
            best_checkpoint=run_dir / BEST if self.best is not None else None,
            latest_checkpoint=run_dir / LATEST,
            history=self.history,
            seconds=self.elapsed_before + time.perf_counter() - self.t_start,
            images_per_second=self.train_images / self.train_time if self.train_time > 0 else 0.0,
            steps=self.step,
            best=self.best,
            precision=self.parts.precision,
            channels_last=self.parts.channels_last,
        )
        if ddp.main:
            plot_curves(self.history, run_dir / CURVES)
            write_json(run_dir / RESULT, {"result": result.to_dict(), "config": self.config_dict})
        if ddp.world > 1:
            dist.barrier()
        return result
