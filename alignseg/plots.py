"""Figures of a training run and an evaluation (extra ``alignseg[plot]``: matplotlib, imported lazily).

- ``read_run_metrics(run_dir)``: the run's logged scalars (``csv/version_*/metrics.csv``, Lightning's
  CSVLogger; a resumed run logs into a further version folder, whose rows take precedence per step);
- ``plot_learning_curves``: training loss, learning rate and validation mIoU against the step;
- ``plot_confusion_matrix``: a row-normalised confusion matrix (rows = ground truth) with class names.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .deploy.extras import require
from .fileio import atomic_write

__all__ = [
    "confusion_figure",
    "curves_figure",
    "find_eval_metrics",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "read_run_metrics",
    "save_figure",
]

Series = dict[str, list[tuple[int, float]]]

CURVES = (("train/loss", "training loss"), ("train/lr", "learning rate"), ("val/miou", "validation mIoU (%)"))


def _pyplot() -> Any:
    matplotlib = require("matplotlib", extra="plot")
    matplotlib.use("Agg")  # files only, never a window
    return require("matplotlib.pyplot", extra="plot")


def _version_number(folder: Path) -> int:
    suffix = folder.name.removeprefix("version_")
    return int(suffix) if suffix.isdigit() else -1


def read_run_metrics(run_dir: str | os.PathLike) -> Series:
    """Every logged scalar of a run folder as ``name -> [(step, value), ...]`` sorted by step."""
    run_dir = Path(run_dir)
    files = sorted(run_dir.glob("csv/version_*/metrics.csv"), key=lambda path: _version_number(path.parent))
    if not files:
        raise FileNotFoundError(f"{run_dir} holds no csv/version_*/metrics.csv (is it an `alignseg train` "
                                "output folder?)")
    values: dict[str, dict[int, float]] = {}
    for path in files:  # later versions (resumed runs) overwrite the steps they logged again
        with open(path, newline="") as stream:
            for row in csv.DictReader(stream):
                step = int(float(row["step"]))
                for name, text in row.items():
                    if name in ("step", "epoch") or text in ("", None):
                        continue
                    values.setdefault(name, {})[step] = float(text)
    return {name: sorted(points.items()) for name, points in values.items()}


def find_eval_metrics(folder: str | os.PathLike) -> list[Path]:
    """The ``alignseg eval`` JSON files (with a confusion matrix) directly in ``folder`` or one level below."""
    folder = Path(folder)
    found = []
    for path in sorted([*folder.glob("*.json"), *folder.glob("*/*.json")]):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and "confusion_matrix" in record:
            found.append(path)
    return found


def save_figure(figure: Any, path: str | os.PathLike) -> Path:
    """Write a matplotlib figure atomically (format from the suffix, PNG by default) and close it."""
    target = Path(path)
    fmt = target.suffix.lstrip(".") or "png"
    try:
        return atomic_write(target, lambda stream: figure.savefig(stream, format=fmt, dpi=110, bbox_inches="tight"))
    finally:
        _pyplot().close(figure)


def curves_figure(metrics: Series, title: str | None = None) -> Any:
    """One panel each for the training loss, the learning rate and the validation mIoU (in %) against the
    optimiser step; a panel whose scalar was not logged says so."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(CURVES), figsize=(4.2 * len(CURVES), 3.2), layout="constrained")
    for ax, (name, label) in zip(axes, CURVES, strict=True):
        points = metrics.get(name, [])
        ax.set_title(label)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if not points:
            ax.text(0.5, 0.5, f"{name} was not logged", ha="center", va="center", transform=ax.transAxes)
            continue
        steps = [step for step, _ in points]
        scale = 100.0 if name == "val/miou" else 1.0
        values = [value * scale for _, value in points]
        ax.plot(steps, values, marker="o" if len(points) <= 30 else None, markersize=3)
        if name == "train/lr":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        if name == "val/miou":
            best = int(np.nanargmax(values))
            ax.annotate(f"best {values[best]:.1f}", (steps[best], values[best]), textcoords="offset points",
                        xytext=(0, -14), ha="center")
    if title:
        figure.suptitle(title)
    return figure


def plot_learning_curves(metrics: Series, path: str | os.PathLike, title: str | None = None) -> Path:
    """``curves_figure`` written to ``path``."""
    return save_figure(curves_figure(metrics, title), path)


def confusion_figure(matrix: Any, class_names: Sequence[str], title: str | None = None) -> Any:
    """The confusion matrix (rows = ground truth, columns = prediction) normalised per row, so row ``i``
    shows where the pixels of class ``i`` went; each cell prints its percentage, rows without pixels are
    left blank."""
    counts = np.asarray(matrix, dtype=np.float64)
    size = len(class_names)
    if counts.shape != (size, size):
        raise ValueError(f"a confusion matrix for {size} classes is {size}x{size}, got {counts.shape}")
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, counts / totals, np.nan)
    plt = _pyplot()
    side = max(4.0, 0.45 * size + 2.0)
    figure, ax = plt.subplots(figsize=(side + 1.0, side), layout="constrained")
    image = ax.imshow(share * 100.0, cmap="Blues", vmin=0.0, vmax=100.0)
    ax.set_xticks(range(size), labels=class_names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(size), labels=class_names)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    if size <= 40:
        for row in range(size):
            for column in range(size):
                value = share[row, column]
                if not math.isnan(value) and value >= 0.005:
                    ax.text(column, row, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if value > 0.5 else "black")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="% of the ground-truth row")
    ax.set_title(title or "confusion matrix (row-normalised, %)")
    return figure


def plot_confusion_matrix(
    matrix: Any, class_names: Sequence[str], path: str | os.PathLike, title: str | None = None
) -> Path:
    """``confusion_figure`` written to ``path``."""
    return save_figure(confusion_figure(matrix, class_names, title), path)
