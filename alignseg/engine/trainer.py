"""``fit``: build the data module, model, callbacks, loggers and Lightning ``Trainer`` from a config, train,
and report where everything was written.

Layout of ``train.output_dir``::

    config.yaml                 the resolved config of the run (written once the run or resume is accepted)
    train.log                   one line per train.log_every_n_steps steps and per validation
    .alignseg.lock              held while a run writes here (process id and host)
    checkpoints/last.ckpt       full training state (every epoch, and every N steps if asked): --resume
    checkpoints/best.ckpt       full training state at the best validation mIoU
    model_last.safetensors, model_best.safetensors   model weights (alignseg.models.checkpoint) for predict/eval
    tensorboard/, csv/          logs (loss, learning rate, validation mIoU and per-class IoU)
"""

from __future__ import annotations

import logging
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ..evaluation import SegmentationMetrics
from .callbacks import AtomicCheckpointIO, ExportWeights, TrainingState
from .config import Config, ConfigError, save_config
from .guards import TrainingInterrupted, stop_on_signals
from .module import SegmentationDataModule, SegmentationModule
from .rundir import RunFolder, check_resume
from .runlog import RunLog

__all__ = ["TrainResult", "build_trainer", "fit", "resolve_accelerator", "resolve_resume"]


@dataclass
class TrainResult:
    output_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path | None
    model_last: Path
    model_best: Path | None
    metrics: SegmentationMetrics | None  # the last validation
    best_miou: float | None
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    module: SegmentationModule | None = field(default=None, repr=False)


class _DropAdvert(logging.Filter):
    """Lightning advertises a cloud logger on every run; the engine's output has no use for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropAdvert())
# Lightning's "Received SIGTERM": the run's own message (``_explain_stop``) says it, with what is kept.
logging.getLogger("lightning.pytorch.trainer.connectors.signal_connector").setLevel(logging.WARNING)


def resolve_accelerator(config: Config) -> str:
    """``cpu`` or ``gpu``; hardware-dependent settings that cannot work are errors naming the key."""
    train = config.train
    has_gpu = torch.cuda.is_available()
    if train.accelerator in ("gpu", "cuda") and not has_gpu:
        raise ConfigError(f"train.accelerator is {train.accelerator!r} but no CUDA GPU is visible; "
                          "use train.accelerator=cpu")
    accelerator = "gpu" if train.accelerator in ("gpu", "cuda") or (train.accelerator == "auto" and has_gpu) else "cpu"
    if accelerator == "cpu" and train.sync_bn:
        raise ConfigError("train.sync_bn=true needs GPUs: SyncBatchNorm has no CPU implementation; "
                          "set train.sync_bn=false for a CPU run")
    if accelerator == "cpu" and train.precision == "16-mixed":
        raise ConfigError("train.precision '16-mixed' needs a GPU; on a CPU use 'bf16-mixed' or '32-true'")
    return accelerator


def resolve_resume(config: Config, resume: str | None) -> str | None:
    """``None``, a checkpoint path, or ``auto``: ``<output_dir>/checkpoints/last.ckpt`` when it exists."""
    if resume is None:
        return None
    if resume == "auto":
        last = Path(config.train.output_dir) / "checkpoints" / "last.ckpt"
        return str(last) if last.is_file() else None
    if not Path(resume).is_file():
        raise FileNotFoundError(f"checkpoint to resume from not found: {resume}")
    return resume


def build_trainer(
    config: Config, datamodule: SegmentationDataModule, *, callbacks: list[L.Callback] = (), loggers: bool = True
) -> tuple[L.Trainer, ExportWeights]:
    train = config.train
    accelerator = resolve_accelerator(config)
    output = Path(train.output_dir)
    checkpoints = output / "checkpoints"
    export = ExportWeights(output, config_dict=config.to_dict())
    every_epoch = ModelCheckpoint(dirpath=checkpoints, filename="last", every_n_epochs=1, save_top_k=1,
                                  save_on_train_epoch_end=True, enable_version_counter=False)
    best = ModelCheckpoint(dirpath=checkpoints, filename="best", monitor="val/miou", mode="max", save_top_k=1,
                           save_on_train_epoch_end=False, enable_version_counter=False, auto_insert_metric_name=False)
    all_callbacks: list[L.Callback] = [TrainingState(datamodule), export, every_epoch, best]
    if train.checkpoint_every_n_steps:
        all_callbacks.append(ModelCheckpoint(dirpath=checkpoints, filename="last", save_top_k=1,
                                             every_n_train_steps=train.checkpoint_every_n_steps,
                                             enable_version_counter=False))
    bar = train.progress_bar and sys.stderr.isatty()  # no carriage-return frames in redirected output
    all_callbacks.append(RunLog(output, train.log_every_n_steps, terminal=not bar))
    if bar:
        all_callbacks.append(TQDMProgressBar(refresh_rate=1))
    all_callbacks.extend(callbacks)
    logger: Any = False
    if loggers:
        logger = [TensorBoardLogger(output, name="tensorboard", default_hp_metric=False),
                  CSVLogger(output, name="csv")]
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=train.devices,
        num_nodes=train.num_nodes,
        strategy=train.strategy,
        precision=train.precision,
        sync_batchnorm=train.sync_bn,
        deterministic=train.deterministic,
        max_epochs=train.max_epochs if train.max_epochs is not None else -1,
        max_steps=train.max_steps if train.max_steps is not None else -1,
        check_val_every_n_epoch=train.val_every_n_epochs,
        log_every_n_steps=train.log_every_n_steps,
        gradient_clip_val=train.grad_clip,
        num_sanity_val_steps=train.num_sanity_val_steps,
        limit_train_batches=None if train.limit_train_batches == 1.0 else train.limit_train_batches,
        limit_val_batches=None if train.limit_val_batches == 1.0 else train.limit_val_batches,
        callbacks=all_callbacks,
        logger=logger,
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=bar,
        enable_model_summary=bar,
        use_distributed_sampler=False,  # the data module shards the data itself (and resumes mid-epoch)
        default_root_dir=output,
    )
    return trainer, export


@contextmanager
def _explain_stop(config: Config, module: Callable[[], SegmentationModule | None]) -> Iterator[None]:
    """Give a run stopped by a signal its one line: the step reached and the checkpoint a resume continues from."""
    try:
        yield
    except TrainingInterrupted as stop:
        last = Path(config.train.output_dir) / "checkpoints" / "last.ckpt"
        reached = f" at step {module().global_step}" if module() is not None else ""
        kept = (f"{last} is intact: continue with `alignseg train --config ... --resume`" if last.is_file()
                else "no training checkpoint was written yet: nothing to resume")
        raise TrainingInterrupted(stop.signum, f"training stopped by {signal.Signals(stop.signum).name}{reached}; "
                                               f"the run folder is unlocked and {kept}") from None


def fit(
    config: Config,
    *,
    resume: str | None = None,
    overwrite: bool = False,
    callbacks: list[L.Callback] = (),
    loggers: bool = True,
) -> TrainResult:
    """Train ``config`` (optionally resuming: a ``.ckpt`` path or ``auto``) and return what was written.

    The output folder is locked for the run; a new run into a folder holding another run's checkpoints is
    refused unless ``overwrite``; a resume is refused when its checkpoint is unreadable or its config
    differs beyond ``rundir.RESUME_MAY_CHANGE``. Nothing in the folder changes before those checks pass.
    """
    start = time.perf_counter()
    resolve_accelerator(config)  # configuration errors before any data is read
    checkpoint = resolve_resume(config, resume)
    if resume == "auto" and checkpoint is None:
        print(f"no checkpoint in {Path(config.train.output_dir) / 'checkpoints'} to resume from: starting afresh")
    folder: AbstractContextManager = nullcontext()
    if rank_zero_only.rank == 0:  # DDP processes started by Lightning (or torchrun) share rank 0's folder
        folder = RunFolder(config.train.output_dir, resume=checkpoint is not None, overwrite=overwrite)
    module: SegmentationModule | None = None
    with stop_on_signals(), _explain_stop(config, lambda: module), folder:  # the lock is released first
        messages = check_resume(checkpoint, config) if checkpoint is not None and isinstance(folder, RunFolder) else []
        if config.train.threads is not None:
            torch.set_num_threads(config.train.threads)
        L.seed_everything(config.train.seed, workers=True, verbose=False)
        datamodule = SegmentationDataModule(config).build()
        val_set = datamodule.val_set
        module = SegmentationModule(config, class_names=val_set.class_names, palette=val_set.palette,
                                    ignore_index=val_set.ignore_index)
        trainer, export = build_trainer(config, datamodule, callbacks=list(callbacks), loggers=loggers)
        if isinstance(folder, RunFolder):
            for message in messages + folder.prepare():
                print(message)
            save_config(config, Path(config.train.output_dir) / "config.yaml")
        with warnings.catch_warnings():
            # The data module does resume mid-epoch (TrainingState + ResumableSampler), which Lightning cannot see.
            warnings.filterwarnings("ignore",
                                    message=".*resuming from a checkpoint that ended before the epoch ended.*")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")  # RunFolder guards the folder
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")  # Lightning vs torch 2.x
            trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint)
            validated = module.history and module.history[-1]["step"] == module.global_step
            if config.train.limit_val_batches != 0 and not validated:
                # Training stopped between validations (max_steps, or val_every_n_epochs > 1): validate the final
                # weights too, so that the result, model_best.safetensors and model_last.safetensors
                # account for them.
                trainer.validate(module, datamodule=datamodule, verbose=False)
    output = Path(config.train.output_dir)
    best = output / "checkpoints" / "best.ckpt"
    return TrainResult(
        output_dir=output,
        last_checkpoint=output / "checkpoints" / "last.ckpt",
        best_checkpoint=best if best.is_file() else None,
        model_last=export.last_path,
        model_best=export.best_path if export.best_path.is_file() else None,
        metrics=module.metrics,
        best_miou=export.best_miou if export.best_miou > float("-inf") else None,
        history=module.history,
        seconds=time.perf_counter() - start,
        module=module,
    )
