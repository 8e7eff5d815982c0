"""``alignseg data check|stats|browse|prepare``: look at a dataset's files before training on them."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .common import HELP_FORMAT, positive_int

DATASET_FLAGS = "--dataset NAME --root DIR, or --config FILE (its data section)"


def _data_config(args: argparse.Namespace):
    from ..data.datasets import DATASETS
    from ..engine import load_config

    flags = {"data.dataset": args.dataset, "data.root": args.root}
    overrides = [f"{key}={value}" for key, value in flags.items() if value is not None]
    if args.config is None and args.dataset is None:
        raise ValueError(f"name the dataset: {DATASET_FLAGS}")
    data = load_config(args.config, overrides + list(args.overrides), training=False).data
    if data.dataset.lower() not in DATASETS:
        raise ValueError(f"unknown dataset {data.dataset!r}; valid names: {', '.join(sorted(DATASETS))}")
    return data


def _splits(data, requested: list[str] | None, *, every: bool) -> list[str]:
    """The requested splits; else every split the dataset declares (``every``) or the training split."""
    from ..data.datasets import DATASETS

    if requested:
        return list(dict.fromkeys(requested))
    declared = DATASETS[data.dataset.lower()].splits
    if every and declared:
        return list(declared)
    from ..engine.data import accepts

    if accepts(data.dataset, "split") or data.train_kwargs != data.val_kwargs:
        names = [data.train_split, data.val_split] if every else [data.train_split]
        return list(dict.fromkeys(names))
    return ["all"]


def _builder(data, split: str) -> Callable:
    """A function building ``split`` from the data section (train/val kwargs applied by the split's role)."""
    from dataclasses import replace

    from ..engine.data import build_split

    if split == data.train_split:  # the split _splits named as the training one: built with train_kwargs
        return lambda: build_split(data, "train")
    return lambda: build_split(replace(data, val_split=split), "val")


def _workers(args: argparse.Namespace) -> int:
    return args.workers if args.workers is not None else len(os.sched_getaffinity(0))


def _open(args: argparse.Namespace, *, every: bool):
    from ..data.inspect import open_split

    data = _data_config(args)
    return data, [open_split(split, _builder(data, split)) for split in _splits(data, args.split, every=every)]


def run_check(args: argparse.Namespace) -> int:
    from ..data.inspect import check, check_summary

    data, reports = _open(args, every=True)
    print(f"checking {data.dataset}" + (f" at {data.root}" if data.root else "") + f" with {_workers(args)} workers",
          flush=True)
    for report in reports:
        check(report, workers=_workers(args))
    print(check_summary(reports))
    return 1 if any(r.faults for r in reports) else 0


def _output_for(output: Path, split: str, several: bool) -> Path:
    return output.with_name(f"{output.stem}_{split}{output.suffix}") if several else output


def run_stats(args: argparse.Namespace) -> int:
    import warnings

    from ..data.inspect import check_summary, class_statistics, count, stats_table
    from ..fileio import atomic_write

    data, reports = _open(args, every=False)
    status = 0
    for report in reports:
        count(report, workers=_workers(args))
        if report.faults:
            print(check_summary([report]))
            status = 1
        if report.dataset is None:
            continue
        dataset = report.dataset
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stats = class_statistics([r.counts for r in report.results if r.counts is not None], dataset.class_names)
        print(f"\n{data.dataset} {report.name}: {len(report.results)} labels, class pixel frequencies over the "
              "labelled pixels and class weights")
        print(stats_table(stats))
        for warning in caught:
            print(f"warning: {warning.message}")
        if args.output is not None:
            record = {"dataset": data.dataset, "split": report.name, **stats}
            path = _output_for(Path(args.output), report.name, len(reports) > 1)
            text = json.dumps(record, indent=2) + "\n"
            atomic_write(path, lambda stream, text=text: stream.write(text.encode()))
            print(f"wrote {path} (loss.class_weights reads it)")
    return status


def _shrink(image: np.ndarray, label: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale an image (bilinear) and its label (nearest) down to ``width`` pixels when wider."""
    from PIL import Image

    if image.shape[1] <= width:
        return image, label
    size = (width, max(1, round(image.shape[0] * width / image.shape[1])))
    return (np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR)),
            np.asarray(Image.fromarray(label).resize(size, Image.NEAREST)))


def browse_picture(dataset, indices: list[int], *, panel_width: int = 480) -> np.ndarray:
    """Rows of image | label | overlay for ``indices``, with a legend of the classes they show at the right."""
    from ..viz import colorize, draw_legend, overlay, present_classes, side_by_side

    rows, present = [], set()
    for index in indices:
        image, label = _shrink(*dataset.load(index), panel_width)
        present.update(present_classes(label, dataset.num_classes, dataset.ignore_index))
        name = Path(dataset.sample_name(index)).name
        rows.append(side_by_side(image, colorize(label, dataset.palette), overlay(image, label, dataset.palette),
                                 labels=[name, "label (black: ignore)", "overlay"], gap=6))
    width = max(row.shape[1] for row in rows)
    gap = np.full((10, width, 3), 255, np.uint8)
    grid = np.concatenate([part for row in rows for part in (gap, _pad_width(row, width))][1:])
    legend = draw_legend(dataset.class_names, dataset.palette, sorted(present), font_size=max(14, panel_width // 28),
                         max_height=grid.shape[0])
    return side_by_side(grid, legend, gap=12)


def _pad_width(picture: np.ndarray, width: int) -> np.ndarray:
    out = np.full((picture.shape[0], width, 3), 255, np.uint8)
    out[:, : picture.shape[1]] = picture
    return out


def run_browse(args: argparse.Namespace) -> int:
    from PIL import Image

    from ..data.inspect import pick_samples
    from ..fileio import atomic_write

    data, reports = _open(args, every=False)
    for report in reports:
        if report.dataset is None:
            raise ValueError(report.faults[0].detail)
        indices = pick_samples(report.dataset, num=args.num, seed=args.seed, files=args.files)
        for k in range(0, len(indices), args.per_picture):
            picture = browse_picture(report.dataset, indices[k:k + args.per_picture], panel_width=args.width)
            path = Path(args.output) / f"{data.dataset}_{report.name}_{k // args.per_picture:02d}.png"
            atomic_write(path, lambda stream, p=picture: Image.fromarray(p).save(stream, format="PNG"))
            print(f"wrote {path}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from ..data.inspect import check_summary, prepare

    data, reports = _open(args, every=True)
    for report in reports:
        prepare(report, workers=_workers(args), overwrite=args.overwrite)
        written = sum(r.written for r in report.results)
        print(f"{data.dataset} {report.name}: {written} label PNGs written, "
              f"{len(report.results) - written - sum(bool(r.faults) for r in report.results)} already there")
    if any(r.faults for r in reports):
        print(check_summary(reports))
        return 1
    label_type = next(r.dataset.prepared_label_type for r in reports if r.dataset is not None)
    print(f"train ids written beside the raw labels; read them with data.kwargs.label_type={label_type} "
          f"(e.g. `alignseg train --config C.yaml data.kwargs={{label_type: {label_type}}}`)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser(
        "data",
        help="check, count, browse and prepare a dataset's files",
        description="Look at a dataset before training on it. Name it with --dataset NAME --root DIR "
        "(camvid, cityscapes, cocostuff10k, ...) or --config FILE (the config's data section, e.g. a folder "
        "dataset with your own classes); section.key=value overrides as in `alignseg train`.",
    )
    subcommands = data.add_subparsers(dest="data_command", required=True)

    def add(name: str, func: Callable, help_text: str, description: str) -> argparse.ArgumentParser:
        parser = subcommands.add_parser(name, help=help_text, description=description, formatter_class=HELP_FORMAT)
        parser.add_argument("--config", default=None, help="YAML config (its data section)")
        parser.add_argument("--dataset", default=None, help="dataset name (see --help of alignseg data)")
        parser.add_argument("--root", default=None, help="dataset folder")
        parser.add_argument("--split", nargs="+", default=None, help="split(s) to use")
        parser.add_argument("--workers", type=int, default=None, help="processes (default: the CPU count)")
        parser.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
        parser.set_defaults(func=func)
        return parser

    add("check", run_check, "open every sample once and report every fault",
        "Decode every image and label of every split (default: all the dataset's splits), compare sizes and map "
        "the labels; print the counts per split, the image sizes and one table of every fault (unreadable or "
        "truncated files, size mismatches, label values outside the table, images without label). "
        "Exit status 1 when anything is wrong.")
    stats = add("stats", run_stats, "class pixel frequencies and class weights (JSON for loss.class_weights)",
                "Count the pixels of every class over the labelled pixels of a split (default: the training "
                "split) and derive class weights: inverse 1/(K f), median frequency (Eigen & Fergus) and ENet's "
                "1/ln(1.02 + f). Prints a table; -o writes the JSON that loss.class_weights reads.")
    stats.add_argument("-o", "--output", default=None, help="JSON file (several splits: FILE_<split>.json)")
    browse = add("browse", run_browse, "pictures of image | label | overlay with a legend",
                 "Write PNG pictures of image | label | overlay rows with a legend of the classes shown, for "
                 "--num random samples (drawn with --seed) or the --files named (paths, file names or stems).")
    browse.add_argument("--num", type=positive_int, default=4, help="random samples (default 4)")
    browse.add_argument("--seed", type=int, default=0)
    browse.add_argument("--files", nargs="+", default=None, help="images or labels to show instead")
    browse.add_argument("--per-picture", type=positive_int, default=4, help="rows per picture (default 4)")
    browse.add_argument("--width", type=positive_int, default=480, help="panel width in pixels (default 480)")
    browse.add_argument("-o", "--output", default="browse", help="output folder (default browse/)")
    prepare = add("prepare", run_prepare, "write the labels as train-id PNGs once (parallel, resumable)",
                  "Map every raw label to train ids once and write it beside the raw file as "
                  "<name>_labelTrainIds.png (atomically; existing files are kept, so a killed run resumes). "
                  "Then read them with data.kwargs.label_type=labelTrainIds.")
    prepare.add_argument("--overwrite", action="store_true", help="rewrite existing train-id PNGs")
