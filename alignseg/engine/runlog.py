"""Logs for headless runs: one plain line every N steps (loss, learning rate, images/s, ETA of the whole run)
and one per validation, on the terminal and appended to ``train.log`` in the run folder."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as L

__all__ = ["RunLog", "format_duration"]


def format_duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``42s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class RunLog(L.Callback):
    """Writes a line every ``every_n_steps`` optimiser steps and after every validation (rank 0).

    ``terminal=False`` writes ``train.log`` only (a progress bar owns the terminal). The ETA extrapolates
    the time per step measured since this process started training (validations included) to the steps
    left in the run.
    """

    def __init__(self, output_dir: str | os.PathLike, every_n_steps: int, *, terminal: bool = True):
        self.path = Path(output_dir) / "train.log"
        self.every = every_n_steps
        self.terminal = terminal
        self._start: tuple[float, int] | None = None
        self._window: tuple[float, int] = (0.0, 0)

    def write(self, trainer: L.Trainer, line: str) -> None:
        if not trainer.is_global_zero:
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
        if self.terminal:
            print(line, flush=True)
        with self.path.open("a") as stream:
            stream.write(line + "\n")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        now = time.perf_counter()
        self._start = self._window = (now, trainer.global_step)
        total = trainer.estimated_stepping_batches
        resumed = f", resumed at step {trainer.global_step}" if trainer.global_step else ""
        self.write(trainer, f"training {pl_module.config.model.name} for {total} steps{resumed}; "
                            f"outputs in {self.path.parent}")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step
        if self._start is None or step % self.every:
            return
        now = time.perf_counter()
        since, at = self._window
        images = (step - at) * pl_module.config.data.batch_size * trainer.world_size
        rate = images / max(now - since, 1e-9)
        self._window = (now, step)
        begun, first = self._start
        total = trainer.estimated_stepping_batches
        eta = (now - begun) / max(step - first, 1) * max(total - step, 0)
        loss = trainer.callback_metrics.get("train/loss")
        loss_text = f"{float(loss):.4f}" if loss is not None else "n/a"
        self.write(trainer, f"step {step}/{total} epoch {trainer.current_epoch}  loss {loss_text}  "
                            f"lr {pl_module.lr_schedulers().get_last_lr()[0]:.4g}  {rate:.1f} img/s  "
                            f"ETA {format_duration(eta)}")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        history = getattr(pl_module, "history", None)
        if trainer.sanity_checking or not history or history[-1]["step"] != trainer.global_step:
            return
        last = history[-1]
        self.write(trainer, f"epoch {last['epoch']} step {last['step']}: val mIoU {100 * last['miou']:.2f}  "
                            f"pixel accuracy {100 * last['pixel_accuracy']:.2f}")
