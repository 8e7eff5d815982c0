"""Lightning plug-ins of the engine: atomic checkpoint writing, exact resume, alignseg weight export."""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..data.normalize import IMAGENET_MEAN, IMAGENET_STD
from ..fileio import atomic_torch_save
from ..models.checkpoint import save_checkpoint
from .guards import check_finite_tensors

__all__ = ["AtomicCheckpointIO", "ExportWeights", "TrainingState", "capture_rng", "restore_rng"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside the target, then renames it into place, so an
    interrupted write never leaves a truncated ``last.ckpt`` (the previous one stays); weights holding NaN
    are never written. Reads with ``weights_only=True`` whatever torch's default or the caller ask for, so
    a crafted ``--resume`` file cannot run code."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        check_finite_tensors(checkpoint.get("state_dict", {}), str(path))
        if "://" in str(path):  # remote file systems: Lightning's own writer
            super().save_checkpoint(checkpoint, path)
            return
        atomic_torch_save(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)


def capture_rng() -> dict[str, Any]:
    """The global RNG states (torch CPU and CUDA, numpy, random) as plain types and tensors."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingState(L.Callback):
    """What a resumed run needs beyond model, optimiser, schedule and loop counters: the state of the
    training sampler (seed, epoch, samples of that epoch already trained on by all ranks) and the global
    RNG states.

    On restore the sampler position goes to the data module, which starts the next train loader there,
    and the RNG states are put back just before the first training batch runs.
    """

    def __init__(self, datamodule: Any):
        self.datamodule = datamodule
        self.epoch = 0
        self.batches = 0  # batches of `epoch` whose optimiser step has run (or is running), per rank
        self.epoch_done = False
        self.world_size = 1
        self._rng: dict[str, Any] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.world_size = trainer.world_size

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch, self.batches, self.epoch_done = trainer.current_epoch, 0, False

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self.epoch, self.batches, self.epoch_done = trainer.current_epoch, batch_idx + 1, False
        if self._rng is not None:
            restore_rng(self._rng)
            self._rng = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_done = True

    def state_dict(self) -> dict[str, Any]:
        epoch, batches = (self.epoch + 1, 0) if self.epoch_done else (self.epoch, self.batches)
        config = self.datamodule.config
        consumed = batches * config.data.batch_size * self.world_size
        return {"sampler": {"seed": config.train.seed, "epoch": epoch, "consumed": consumed}, "rng": capture_rng()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        sampler = state_dict["sampler"]
        if sampler["seed"] != self.datamodule.config.train.seed:
            warnings.warn(f"train.seed is {self.datamodule.config.train.seed} but the checkpoint was trained with "
                          f"seed {sampler['seed']}: the resumed run sees a different data order", stacklevel=2)
        self.epoch = int(sampler["epoch"])
        self.datamodule.resume_at(self.epoch, int(sampler["consumed"]))
        self._rng = state_dict.get("rng")


class ExportWeights(L.Callback):
    """Writes ``model_last.safetensors`` after every epoch and at the end, and ``model_best.safetensors``
    whenever the validation mIoU improves (rank 0 only; format in ``alignseg.models.checkpoint``). A validation
    of the weights last written (the one after training stops) writes ``model_last.safetensors`` again, so that
    its ``val_miou`` is that validation's. Weights holding NaN are never written."""

    def __init__(self, output_dir: str | os.PathLike, *, config_dict: dict[str, Any]):
        self.output_dir = Path(output_dir)
        self.config_dict = config_dict
        self.best_miou = float("-inf")
        self._last_step: int | None = None  # the step of the weights in model_last.safetensors

    @property
    def last_path(self) -> Path:
        return self.output_dir / "model_last.safetensors"

    @property
    def best_path(self) -> Path:
        return self.output_dir / "model_best.safetensors"

    def _export(self, trainer: L.Trainer, module: Any, path: Path) -> None:
        if not trainer.is_global_zero:
            return
        check_finite_tensors(module.model.state_dict(), str(path))
        miou = module.metrics.miou if module.metrics is not None else None
        save_checkpoint(path, module.model, model=module.config.model.name, class_names=module.class_names,
                        palette=module.palette, ignore_index=module.ignore_index, epoch=trainer.current_epoch,
                        step=trainer.global_step, metrics=None if miou is None else {"val_miou": miou},
                        config=self.config_dict, decoder_options=dict(module.config.model.decoder_options),
                        mean=IMAGENET_MEAN, std=IMAGENET_STD, source=f"alignseg train ({self.output_dir})")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or pl_module.metrics is None:
            return
        miou = pl_module.metrics.miou
        if miou == miou and miou > self.best_miou:  # NaN (nothing counted) never counts as best
            self.best_miou = miou
            self._export(trainer, pl_module, self.best_path)
        if self._last_step == trainer.global_step:
            self._export_last(trainer, pl_module)

    def _export_last(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._export(trainer, pl_module, self.last_path)
        self._last_step = trainer.global_step

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._export_last(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._export_last(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        return {"best_miou": self.best_miou}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_miou = float(state_dict["best_miou"])
