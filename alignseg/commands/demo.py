"""``alignseg demo``: train a small SFNet-Lite on generated shapes (no downloads), evaluate it, draw overlays."""

from __future__ import annotations

import argparse

from .common import HELP_FORMAT


def run(args: argparse.Namespace) -> int:
    from ..deploy.extras import require_training_extra

    require_training_extra()
    from ..engine import load_config
    from ..engine.demo import demo_config, run_demo

    overrides = [*args.overrides, f"train.output_dir={args.output_dir}"]
    config = load_config(args.config, overrides) if args.config else demo_config(overrides)
    run_demo(config, pictures=args.pictures, overwrite=args.overwrite)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        formatter_class=HELP_FORMAT,
        help="train a small SFNet-Lite on generated shapes, evaluate it and draw overlays (CPU, minutes)",
        description="Train sfnet_lite_r18 from fresh weights on procedurally generated 128x128 images of "
        "shapes, evaluate it (per-class IoU, mIoU) and write overlay pictures. No downloads; about 3-5 "
        "minutes on two CPU cores. Values can be overridden with section.key=value.",
    )
    demo.add_argument("--output-dir", default="outputs/demo", help="where to write everything (outputs/demo)")
    demo.add_argument("--config", default=None, help="another recipe: a YAML file or a shipped name"
                      " (default: the built-in demo recipe)")
    demo.add_argument("--overwrite", action="store_true", help="replace an earlier demo in --output-dir")
    demo.add_argument("--pictures", type=int, default=6, help="number of overlay pictures")
    demo.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
    demo.set_defaults(func=run)
