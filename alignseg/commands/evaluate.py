"""``alignseg eval``: mIoU, pixel accuracy and per-class IoU of trained weights on a validation split."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

from .common import HELP_FORMAT, add_model, add_output, add_runtime

# A checkpoint evaluated on onnxruntime/openvino is exported once, with dynamic height and width, traced here.
_EXPORT_SIZE = (256, 512)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def run(args: argparse.Namespace) -> int:
    from ..deploy.extras import require
    from ..deploy.runtimes import build_runner, is_exported

    for module in ("cv2", "albumentations"):  # datasets and their transforms: one line naming the extra
        require(module, extra="train")
    from ..engine import load_config
    from ..engine.data import build_eval_transform, build_split, build_val_loader
    from ..engine.evaluator import evaluate
    from ..fileio import atomic_write
    from ..models.factory import load_model

    flags = {"model.name": args.model, "data.dataset": args.dataset, "data.root": args.root,
             "data.val_split": args.split, "data.workers": args.workers}
    overrides = [f"{key}={value}" for key, value in flags.items() if value is not None]
    config = load_config(args.config, overrides + list(args.overrides), training=False)
    named = args.model or (config.model.name if args.config else None)
    options = {"device": args.device, "precision": args.precision, "threads": args.threads}
    if is_exported(args.weights):
        runner = build_runner(args.backend, args.weights, **options)
        record = runner.record.replace(model=runner.record.model or named)
    else:
        model, record = load_model(args.weights, model=named, num_classes=args.num_classes or config.model.num_classes)
        runner = build_runner(args.backend, model, **options, export={"size": _EXPORT_SIZE})
    dataset = build_split(config.data, "val", build_eval_transform(config.eval, config.data))
    classes = record.num_classes or runner.num_classes
    if classes is not None and classes != dataset.num_classes:
        raise ValueError(f"{args.weights} predicts {classes} classes but the {config.data.dataset} "
                         f"{config.data.val_split} split has {dataset.num_classes}")
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
    with runner:
        metrics = evaluate(runner, loader, dataset.num_classes, ev, device=device, progress=True,
                           sources=dataset.sources)
    seconds = time.perf_counter() - start
    print(metrics.format_table(dataset.class_names))
    if metrics.by_source:
        print(f"\nIoU per source (merged: all)\n{metrics.format_sources_table(dataset.class_names)}")
    print(f"\nmIoU {100 * metrics.miou:.2f}   pixel accuracy {100 * metrics.pixel_accuracy:.2f}   "
          f"({len(dataset)} images in {seconds:.0f} s)")
    if args.output:
        report = {
            "model": name,
            "weights": str(args.weights),
            "runner": runner.name,
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
        text = json.dumps(report, indent=2) + "\n"
        atomic_write(args.output, lambda stream: stream.write(text.encode()))
        print(f"wrote {args.output}")
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
    ev.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
    ev.set_defaults(func=run)
