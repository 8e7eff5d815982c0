"""``alignseg demo``: train a small SFNet-Lite on procedurally drawn shapes, evaluate it, draw overlays.

Nothing is downloaded: the data are generated (``alignseg.data.ProceduralShapes``) and the model starts
from fresh weights. The recipe is ``DEMO_CONFIG`` (the same as the shipped ``alignseg/configs/demo.yaml``);
on two CPU cores it takes a few minutes and ends far above chance (6 classes).
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..fileio import atomic_write
from .config import Config, config_from_dict

__all__ = ["DEMO_CONFIG", "demo_config", "run_demo", "write_overlays"]

DEMO_CONFIG: dict[str, Any] = {
    "model": {"name": "sfnet_lite_r18", "num_classes": 6},
    "data": {
        "dataset": "shapes",
        "train_kwargs": {"num_samples": 256, "size": 128, "num_classes": 6, "seed": 0},
        "val_kwargs": {"num_samples": 32, "size": 128, "num_classes": 6, "seed": 1000},
        "crop_size": 128,
        "scale_range": [0.75, 1.25],
        "hflip": 0.5,
        "batch_size": 8,
        "workers": 1,
    },
    "loss": {"name": "ce"},
    "optim": {"name": "adamw", "lr": 0.002, "weight_decay": 0.0001, "no_decay_bn_bias": True},
    "schedule": {"power": 0.9, "per": "iteration", "warmup_iters": 20},
    "train": {"max_epochs": 3, "seed": 0, "accelerator": "cpu", "output_dir": "outputs/demo",
              "log_every_n_steps": 10},
    "eval": {"mode": "whole", "scales": [1.0], "flip": False},
}


def demo_config(overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """``DEMO_CONFIG`` with ``section.key=value`` overrides applied."""
    from .config import parse_overrides

    raw = copy.deepcopy(DEMO_CONFIG)
    parsed = parse_overrides(list(overrides))
    for key, value in parsed.items():
        section, name = key.split(".")
        raw.setdefault(section, {})[name] = value
    return config_from_dict(raw, "the demo config", set(parsed))


def write_overlays(model: torch.nn.Module, dataset: Any, folder: str | Path, count: int = 6) -> list[Path]:
    """For the first ``count`` samples: image | prediction | ground truth | error map, with a legend."""
    from ..viz import evaluation_panel

    folder = Path(folder)
    written = []
    model.eval()
    for index in range(min(count, len(dataset))):
        image, label = dataset.load(index)
        with torch.no_grad():
            logits = model(dataset[index]["image"][None])
        prediction = logits.argmax(dim=1)[0].numpy().astype(np.uint8)
        panel = evaluation_panel(image, prediction, label, dataset.class_names, dataset.palette,
                                 dataset.ignore_index)
        path = folder / f"val_{index:03d}.png"
        atomic_write(path, lambda stream, panel=panel: Image.fromarray(panel).save(stream, format="PNG"))
        written.append(path)
    return written


def run_demo(config: Config, *, pictures: int = 6, overwrite: bool = False) -> dict[str, Any]:
    """Train ``config``, evaluate its best model on the validation set, write overlays; print as it goes."""
    from ..models.factory import load_model
    from .data import build_val_loader, build_val_split
    from .evaluator import evaluate
    from .trainer import fit

    start = time.perf_counter()
    output = Path(config.train.output_dir)
    data = config.data
    print(f"alignseg demo: training {config.model.name} (fresh weights) on {data.train_kwargs.get('num_samples')} "
          f"procedural {data.crop_size}px images of shapes for {config.train.max_epochs} epochs on "
          f"{config.train.threads or torch.get_num_threads()} CPU threads; outputs go to {output}/", flush=True)
    result = fit(config, overwrite=overwrite)
    weights = result.model_best or result.model_last
    model, _ = load_model(weights)
    dataset = build_val_split(config.data, config.eval)
    print(f"\nevaluating {weights} on {len(dataset)} validation images", flush=True)
    metrics = evaluate(model, build_val_loader(dataset, 0), dataset.num_classes, config.eval)
    print(metrics.format_table(dataset.class_names))
    written = write_overlays(model, dataset, output / "pictures", pictures)
    seconds = time.perf_counter() - start
    print(f"\nmIoU {100 * metrics.miou:.2f} on {dataset.num_classes} classes (chance is about "
          f"{100 / dataset.num_classes:.0f} or less); total time {seconds / 60:.1f} min")
    print(f"wrote: {weights} (alignseg checkpoint; try `alignseg predict --weights {weights} ...`)")
    print(f"       {output / 'checkpoints'}/ (training state; `alignseg train --resume` continues from it)")
    print(f"       {output / 'pictures'}/ ({len(written)} pictures: image | prediction | ground truth | error map)")
    print(f"       {output / 'tensorboard'}/, {output / 'csv'}/ (logs)")
    sys.stdout.flush()
    return {"metrics": metrics, "weights": weights, "pictures": written, "seconds": seconds, "train": result}
