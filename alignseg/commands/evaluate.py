"""``alignseg eval``: mIoU, pixel accuracy and per-class IoU of trained weights on a validation split."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

from .common import HELP_FORMAT, add_model, add_output, add_runtime


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _panel_writer(folder: Path, dataset):
    """``on_prediction`` for ``evaluate``: one ``<image name>_eval.png`` per image in ``folder``; the image is
    the evaluated batch with its normalisation undone (procedural datasets have no file to read), shown at
    the size of the label it was scored against."""
    import numpy as np
    from PIL import Image

    from ..data import IMAGENET_MEAN, IMAGENET_STD
    from ..predict.outputs import write_png
    from ..viz import evaluation_panel

    mean, std = np.array(IMAGENET_MEAN).reshape(3, 1, 1), np.array(IMAGENET_STD).reshape(3, 1, 1)

    def write(batch: dict, prediction) -> None:
        images = batch["image"].cpu().numpy() * std + mean
        for path, image, pred, label in zip(batch["path"], images, prediction.cpu().numpy(), batch["label"].numpy(),
                                            strict=True):
            rgb = np.clip(np.rint(image.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
            if rgb.shape[:2] != label.shape:  # eval.resize / center_crop: scored at the label's size
                rgb = np.asarray(Image.fromarray(rgb).resize(label.shape[::-1], Image.Resampling.BILINEAR))
            panel = evaluation_panel(rgb, pred.astype(np.uint8), label.astype(np.uint8), dataset.class_names,
                                     dataset.palette, dataset.ignore_index)
            write_png(folder / f"{Path(path).name}_eval.png", panel)

    return write


def _metrics_files(args: argparse.Namespace) -> list[Path]:
    """Where the metrics JSON goes: ``-o/--output``, and ``--show-dir``/metrics.json (read by ``alignseg plot``)."""
    return [Path(path) for path in (args.output, args.show_dir and Path(args.show_dir) / "metrics.json") if path]


def run(args: argparse.Namespace) -> int:
    from ..deploy.extras import require_training_extra
    from ..deploy.open_weights import open_runner

    require_training_extra(lightning=False)
    from ..engine import load_config
    from ..engine.data import build_val_loader, build_val_split
    from ..engine.evaluator import evaluate
    from ..fileio import atomic_write

    flags = {"model.name": args.model, "data.dataset": args.dataset, "data.root": args.root,
             "data.val_split": args.split, "data.workers": args.workers}
    overrides = [f"{key}={value}" for key, value in flags.items() if value is not None]
    config = load_config(args.config, overrides + list(args.overrides), training=False)
    named = args.model or (config.model.name if args.config else None)
    runner, record = open_runner(args.weights, args.backend, model=named,
                                 num_classes=args.num_classes or config.model.num_classes,
                                 device=args.device, precision=args.precision, threads=args.threads)
    if args.config is None and args.dataset is None and isinstance(record.config, dict):
        # No config and no dataset given: evaluate on the data the weights were trained with, not the default.
        recorded = {key: record.config[key] for key in ("data", "eval") if isinstance(record.config.get(key), dict)}
        config = load_config(None, overrides + list(args.overrides), training=False, base=recorded)
        print(f"data and eval settings read from {args.weights} (its training config): {config.data.dataset}"
              + (f" in {config.data.root}" if config.data.root else ""))
    dataset = build_val_split(config.data, config.eval)
    classes = record.num_classes or runner.num_classes
    if classes is not None and classes != dataset.num_classes:
        raise ValueError(f"{args.weights} predicts {classes} classes but the {config.data.dataset} "
                         f"{config.data.val_split} split has {dataset.num_classes}: evaluate it on a dataset "
                         "with its classes")
    device = runner.device
    ev = config.eval
    setting = f"{ev.mode}" + (f" window {ev.window}" if ev.mode == "sliding" else "")
    setting += f", scales {ev.scales}" + (", flip" if ev.flip else "")
    if ev.resize != "none" or ev.center_crop is not None:
        setting += f", resize {ev.resize} {ev.resize_size} crop {ev.center_crop} scored at {ev.score_at} size"
    name = record.model
    print(f"evaluating {name} ({args.weights}) on {config.data.dataset} {config.data.val_split}: "
          f"{len(dataset)} images, {setting}, {runner.name}", flush=True)
    start = time.perf_counter()
    loader = build_val_loader(dataset, config.data.workers, pin_memory=device.startswith("cuda"))
    show = _panel_writer(Path(args.show_dir), dataset) if args.show_dir else None
    with runner:
        metrics = evaluate(runner, loader, dataset.num_classes, ev, device=device, progress=True,
                           sources=dataset.sources, on_prediction=show)
    seconds = time.perf_counter() - start
    print(metrics.format_table(dataset.class_names))
    if metrics.by_source:
        print(f"\nIoU per source (merged: all)\n{metrics.format_sources_table(dataset.class_names)}")
    print(f"\nmIoU {100 * metrics.miou:.2f}   pixel accuracy {100 * metrics.pixel_accuracy:.2f}   "
          f"({len(dataset)} images in {seconds:.0f} s)")
    if args.output or args.show_dir:
        report = {
            "model": name,
            "weights": str(args.weights),
            "runner": runner.name,
            "dataset": config.data.dataset,
            "split": config.data.val_split,
            "class_names": list(dataset.class_names),
            "ignore_index": dataset.ignore_index,
            "images": len(dataset),
            "eval": dataclasses.asdict(ev),
            "miou": _finite(metrics.miou),
            "miou_gt": _finite(metrics.miou_gt),
            "pixel_accuracy": _finite(metrics.pixel_accuracy),
            "mean_class_accuracy": _finite(metrics.mean_class_accuracy),
            "iou": {c: _finite(v) for c, v in zip(dataset.class_names, metrics.iou.tolist(), strict=True)},
            "class_accuracy": {c: _finite(v) for c, v in
                               zip(dataset.class_names, metrics.class_accuracy.tolist(), strict=True)},
            "confusion_matrix": metrics.matrix.tolist(),
            "by_source": {name: {"miou": _finite(m.miou), "confusion_matrix": m.matrix.tolist()}
                          for name, m in metrics.by_source.items()},
            "seconds": seconds,
        }
        text = json.dumps(report, indent=2) + "\n"
        for target in _metrics_files(args):
            atomic_write(target, lambda stream: stream.write(text.encode()))
            print(f"wrote {target}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser(
        "eval",
        help="evaluate trained weights on a validation split (mIoU, per-class IoU)",
        formatter_class=HELP_FORMAT,
        description="Evaluate trained weights: `alignseg eval --config C.yaml --weights model_best.safetensors` "
        "(the config's data and eval sections), or without a config: `alignseg eval --weights W --dataset camvid "
        "--root data/camvid`. Inference settings can be overridden, e.g. eval.mode=sliding eval.window=832 "
        "eval.scales=[0.5,1.0,2.0] eval.flip=true.",
    )
    ev.add_argument("--config", default=None, help="YAML config (its model, data and eval sections)")
    ev.add_argument("--weights", required=True,
                    help="model_best.safetensors, a training .ckpt, an older .pt, or an exported .onnx / .xml")
    add_model(ev)
    ev.add_argument("--dataset", default=None, help="dataset name: camvid, cityscapes, folder, shapes")
    ev.add_argument("--root", default=None, help="dataset folder")
    ev.add_argument("--split", default=None, help="split to evaluate (default: the config's data.val_split, val)")
    ev.add_argument("--workers", type=int, default=None, help="loader processes (default: the config's)")
    add_runtime(ev, backend=None, calibration=False)
    add_output(ev, "also write the metrics (and the confusion matrix) to this JSON file")
    ev.add_argument("--show-dir", default=None, metavar="DIR",
                    help="write image | prediction | ground truth | error map per image to DIR, and the metrics "
                         "with the confusion matrix to DIR/metrics.json (for `alignseg plot`)")
    ev.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
    ev.set_defaults(func=run)
