"""``alignseg eval``: mIoU, pixel accuracy and per-class IoU of trained weights on a validation split."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def run(args: argparse.Namespace) -> int:
    import torch

    from ..engine import load_config, load_trained_model
    from ..engine.data import build_eval_transform, build_split, build_val_loader
    from ..engine.evaluator import evaluate
    from ..fileio import atomic_write

    flags = {"model.name": args.model, "data.dataset": args.dataset, "data.root": args.root,
             "data.val_split": args.split, "data.workers": args.workers}
    overrides = [f"{key}={value}" for key, value in flags.items() if value is not None]
    config = load_config(args.config, overrides + list(args.overrides), training=False)
    named = args.model or (config.model.name if args.config else None)
    model, meta = load_trained_model(args.weights, model_name=named, num_classes=config.model.num_classes)
    dataset = build_split(config.data, "val", build_eval_transform(config.eval, config.data))
    classes = meta.get("num_classes") or config.model.num_classes
    if classes is not None and classes != dataset.num_classes:
        raise ValueError(f"{args.weights} predicts {classes} classes but the {config.data.dataset} "
                         f"{config.data.val_split} split has {dataset.num_classes}")
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    ev = config.eval
    setting = f"{ev.mode}" + (f" window {ev.window}" if ev.mode == "sliding" else "")
    setting += f", scales {ev.scales}" + (", flip" if ev.flip else "")
    if ev.resize != "none" or ev.center_crop is not None:
        setting += f", resize {ev.resize} {ev.resize_size} crop {ev.center_crop} scored at {ev.score_at} size"
    name = meta.get("model") or named
    print(f"evaluating {name} ({args.weights}) on {config.data.dataset} {config.data.val_split}: "
          f"{len(dataset)} images, {setting}, {device}", flush=True)
    start = time.perf_counter()
    loader = build_val_loader(dataset, config.data.workers, pin_memory=device == "cuda")
    metrics = evaluate(model, loader, dataset.num_classes, ev, device=device, progress=True,
                       sources=dataset.sources)
    seconds = time.perf_counter() - start
    print(metrics.format_table(dataset.class_names))
    if metrics.by_source:
        print(f"\nIoU per source (merged: all)\n{metrics.format_sources_table(dataset.class_names)}")
    print(f"\nmIoU {100 * metrics.miou:.2f}   pixel accuracy {100 * metrics.pixel_accuracy:.2f}   "
          f"({len(dataset)} images in {seconds:.0f} s)")
    if args.json:
        record = {
            "model": name,
            "weights": str(args.weights),
            "dataset": config.data.dataset,
            "split": config.data.val_split,
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
        text = json.dumps(record, indent=2) + "\n"
        atomic_write(args.json, lambda stream: stream.write(text.encode()))
        print(f"wrote {args.json}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser(
        "eval",
        help="evaluate trained weights on a validation split (mIoU, per-class IoU)",
        description="Evaluate trained weights: `alignseg eval --config C.yaml --weights model_best.pt` (the "
        "config's data and eval sections), or without a config: `alignseg eval --weights W.pt --dataset camvid "
        "--root data/camvid`. Inference settings can be overridden, e.g. eval.mode=sliding eval.window=832 "
        "eval.scales=[0.5,1.0,2.0] eval.flip=true.",
    )
    ev.add_argument("--config", default=None, help="YAML config (its model, data and eval sections)")
    ev.add_argument("--weights", required=True, help="alignseg model checkpoint (model_best.pt) or training .ckpt")
    ev.add_argument("--model", default=None, help="zoo model name (default: read from the weights file)")
    ev.add_argument("--dataset", default=None, help="dataset name: camvid, cityscapes, folder, shapes")
    ev.add_argument("--root", default=None, help="dataset folder")
    ev.add_argument("--split", default=None, help="split to evaluate (default: the config's data.val_split, val)")
    ev.add_argument("--workers", type=int, default=None, help="loader processes")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ev.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    ev.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
    ev.set_defaults(func=run)
