"""The Lightning side of training: a ``LightningModule`` around a plain alignseg model, loss and confusion
matrix, and a ``LightningDataModule`` around the loaders of ``engine.data``."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import lightning.pytorch as L
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor

from ..data import SegmentationDataset
from ..data.preflight import check_samples
from ..evaluation import ConfusionMatrix, SegmentationMetrics
from ..losses import SegmentationCriterion, build_criterion
from .config import Config, ConfigError
from .data import (
    ResumableSampler,
    build_split,
    build_train_loader,
    build_train_plan,
    build_train_sampler,
    build_train_transform,
    build_val_loader,
    build_val_split,
)
from .evaluator import predict_logits
from .guards import check_finite_gradients, check_finite_loss
from .optim import build_optimizer, build_scheduler

if TYPE_CHECKING:
    from ..models.segmentor import Segmentor

__all__ = ["SegmentationDataModule", "SegmentationModule", "criterion_for"]


class SegmentationDataModule(L.LightningDataModule):
    """Train and val datasets of a config; the train loader resumes mid-epoch (see ``resume_at``)."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.train_set: SegmentationDataset | None = None
        self.val_set: SegmentationDataset | None = None
        self._plan = None
        self._resume: tuple[int, int] | None = None

    def build(self) -> SegmentationDataModule:
        """Create both datasets (idempotent) and check their files' headers; their class tables must agree."""
        if self.train_set is None:
            data, seed = self.config.data, self.config.train.seed
            self.train_set = build_split(data, "train", build_train_transform(data, seed))
            self.val_set = build_val_split(data, self.config.eval)
            for dataset, split in ((self.train_set, data.train_split), (self.val_set, data.val_split)):
                check_samples(dataset.samples, f"{data.dataset} {split}")  # before the first step
            if self.train_set.class_names != self.val_set.class_names:
                raise ConfigError(f"the train and val datasets have different classes: "
                                  f"{self.train_set.class_names} vs {self.val_set.class_names}")
        return self

    def setup(self, stage: str) -> None:
        self.build()

    @property
    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def train_sampler(self) -> ResumableSampler:
        self.build()
        world, rank = self._world
        seed = self.config.train.seed
        if self._plan is None:  # the centroid index is built (or read from its cache) once
            self._plan = build_train_plan(self.train_set, self.config.data, seed=seed)
        return build_train_sampler(self.train_set, self.config.data, seed=seed, num_replicas=world, rank=rank,
                                   plan=self._plan)

    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch on each rank (the loader drops the last partial batch; at most
        ``train.limit_train_batches``)."""
        steps = len(self.train_sampler()) // self.config.data.batch_size
        if steps < 1:
            raise ConfigError(f"data.batch_size {self.config.data.batch_size} is larger than the "
                              f"{len(self.train_sampler())} training samples per device and epoch")
        limit = self.config.train.limit_train_batches
        steps = min(steps, limit) if isinstance(limit, int) else int(steps * limit)
        if steps < 1:
            raise ConfigError(f"train.limit_train_batches {limit} leaves no training batch in an epoch")
        return steps

    def resume_at(self, epoch: int, consumed: int) -> None:
        """The next train loader continues ``epoch`` after its first ``consumed`` samples (all ranks)."""
        self._resume = (epoch, consumed)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        sampler = self.train_sampler()
        if self._resume is not None:
            sampler.resume(*self._resume)
            self._resume = None
        pin = self.trainer is not None and isinstance(self.trainer.accelerator, CUDAAccelerator)
        return build_train_loader(self.train_set, sampler, self.config.data, seed=self.config.train.seed,
                                  pin_memory=pin)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        self.build()
        world, rank = self._world
        return build_val_loader(self.val_set, self.config.data.workers, num_replicas=world, rank=rank)


def criterion_for(config: Config, model: Segmentor, num_classes: int, ignore_index: int = 255) -> SegmentationCriterion:
    """The criterion of ``config.model``: its zoo entry's loss defaults with ``config.loss`` on top, resizing
    with the model's ``align_corners``."""
    from ..models.zoo import get_entry

    try:
        return build_criterion(get_entry(config.model.name).loss_defaults, num_classes=num_classes,
                               align_corners=model.align_corners, ignore_index=ignore_index,
                               **dataclasses.asdict(config.loss))
    except ValueError as error:
        raise ConfigError(str(error)) from None


class SegmentationModule(L.LightningModule):
    """Trains ``config.model`` with ``config.loss``; validation fills a confusion matrix summed over ranks.

    ``self.model`` is the plain alignseg ``Segmentor``; ``history`` holds one entry per validation
    (epoch, step, mIoU, pixel accuracy) and ``metrics`` the last validation's full metrics.
    """

    def __init__(
        self,
        config: Config,
        *,
        class_names: list[str] | tuple[str, ...],
        palette: list | tuple,
        ignore_index: int = 255,
    ):
        super().__init__()
        from ..models.factory import create_model

        self.config = config
        self.class_names = list(class_names)
        self.palette = [list(c) for c in palette]
        self.ignore_index = ignore_index
        num_classes = config.model.num_classes or len(self.class_names)
        if num_classes != len(self.class_names):
            raise ConfigError(f"model.num_classes is {num_classes} but the dataset has {len(self.class_names)} "
                              f"classes ({', '.join(self.class_names)})")
        self.num_classes = num_classes
        self.model = create_model(
            config.model.name,
            num_classes=num_classes,
            pretrained=config.model.pretrained,
            backbone_pretrained=config.model.backbone_pretrained,
            aux_heads=config.model.aux_heads,
            decoder_options=config.model.decoder_options or None,
        )
        if config.train.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.criterion = criterion_for(config, self.model, num_classes, ignore_index)
        self.confusion = ConfusionMatrix(num_classes, ignore_index)
        self.metrics: SegmentationMetrics | None = None
        self.history: list[dict[str, float]] = []

    # -- training ------------------------------------------------------------------------------------

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Images in NHWC when ``train.channels_last`` (the model's weights are converted in ``__init__``)."""
        if self.config.train.channels_last:
            batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
        return batch

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        images, labels = batch["image"], batch["label"]
        loss, parts = self.criterion(self.model(images), labels)
        check_finite_loss(loss, parts, step=self.global_step + 1, epoch=self.current_epoch, lr=self._lr())
        size = images.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        if len(parts) > 1:  # main, dsn_0, ..., teacher, car_intra, ...
            self.log_dict({f"train/loss_{name}": value for name, value in parts.items()}, batch_size=size)
        self.log("train/lr", self._lr(), batch_size=size)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        datamodule = self.trainer.datamodule
        if not isinstance(datamodule, SegmentationDataModule):
            raise TypeError("SegmentationModule is trained with a SegmentationDataModule")
        steps_per_epoch = datamodule.steps_per_epoch()
        train = self.config.train
        total = train.max_steps if train.max_steps is not None else train.max_epochs * steps_per_epoch
        optimizer = build_optimizer(self.model, self.config.optim)
        scheduler = build_scheduler(optimizer, self.config.schedule, total_steps=total,
                                    steps_per_epoch=steps_per_epoch)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _lr(self) -> float:
        return self.lr_schedulers().get_last_lr()[0]

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Gradients before clipping; fp16 runs skip inf-gradient steps on purpose (the loss scaler).
        if self.config.train.precision == "16-mixed":
            return
        check_finite_gradients(self.model.parameters(), step=self.global_step + 1, epoch=self.current_epoch,
                               lr=self._lr())

    # -- validation ----------------------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        self.confusion.reset()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits = predict_logits(self.model, batch["image"], self.config.eval, size=batch["label"].shape[-2:])
        self.confusion.update(logits.argmax(dim=1), batch["label"])

    def on_validation_epoch_end(self) -> None:
        self.confusion.all_reduce()  # every rank now holds the counts of the whole validation set
        metrics = self.confusion.compute()
        if self.trainer.sanity_checking:
            return
        self.metrics = metrics
        miou = metrics.miou
        summary = {"val/miou": miou, "val/pixel_accuracy": metrics.pixel_accuracy,
                   "val/mean_class_accuracy": metrics.mean_class_accuracy}
        self.log_dict(summary, prog_bar=False)
        per_class = {f"val_iou/{name}": iou for name, iou in zip(self.class_names, metrics.iou.tolist(), strict=True)}
        self.log_dict({k: v for k, v in per_class.items() if not math.isnan(v)})
        epoch = self.current_epoch
        if self.trainer.state.fn != TrainerFn.FITTING and self.global_step > 0:  # validating after fit()
            epoch = (self.global_step - 1) // self.trainer.datamodule.steps_per_epoch()
        self.history.append({"epoch": epoch, "step": self.global_step, "miou": miou,
                             "pixel_accuracy": metrics.pixel_accuracy})

    # -- checkpoints ---------------------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["alignseg"] = {
            "model": self.config.model.name,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "palette": self.palette,
            "ignore_index": self.ignore_index,
            "decoder_options": dict(self.config.model.decoder_options),
            "config": self.config.to_dict(),
            "history": self.history,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        stored = checkpoint.get("alignseg", {})
        if stored.get("model") not in (None, self.config.model.name):
            raise ConfigError(f"the checkpoint holds a {stored['model']} model, the config a "
                              f"{self.config.model.name}")
        self.history = list(stored.get("history", []))
