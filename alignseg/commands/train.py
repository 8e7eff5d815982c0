"""``alignseg train``: train a model from a YAML config (a file or a shipped recipe); resume a killed run."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import HELP_FORMAT


def run(args: argparse.Namespace) -> int:
    from ..deploy.extras import require_training_extra

    require_training_extra()
    from ..engine import load_config
    from ..engine.trainer import fit

    overrides, resume = list(args.overrides), args.resume
    if resume is not None and "=" in resume and not Path(resume).exists():
        # `--resume train.max_epochs=9`: argparse took the first override as the optional checkpoint path
        overrides.insert(0, resume)
        resume = "auto"
    config = load_config(args.config, overrides)
    result = fit(config, resume=resume, overwrite=args.overwrite)
    print(f"\ntrained {config.model.name} in {result.seconds / 60:.1f} min; outputs in {result.output_dir}/")
    if result.metrics is not None:
        best = f", best {100 * result.best_miou:.2f}" if result.best_miou is not None else ""
        print(f"last validation mIoU {100 * result.metrics.miou:.2f}{best}")
    print(f"  model checkpoints: {result.model_last}" + (f", {result.model_best}" if result.model_best else ""))
    print(f"  training state:    {result.last_checkpoint} (alignseg train --config ... --resume auto)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train a model from a YAML config",
        formatter_class=HELP_FORMAT,
        description="Train a model from a YAML config: a file, or the name of a recipe shipped with alignseg "
        "(camvid/sfnet_r18, cityscapes/sfnet_lite_r18, ...: alignseg/configs/). Any value can be overridden with "
        "section.key=value, e.g. `alignseg train --config camvid/sfnet_r18 train.max_epochs=3 "
        "data.root=/data/camvid`. Several GPUs: train.devices=N train.strategy=ddp (multi-node: launch with "
        "torchrun and set train.num_nodes).",
    )
    train.add_argument("--config", required=True, help="YAML config file or shipped recipe name (camvid/sfnet_r18)")
    train.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT|auto",
                       help="continue from a training checkpoint (.ckpt); 'auto' or no value: "
                       "<output_dir>/checkpoints/last.ckpt when it exists. The config must be the checkpoint's, "
                       "except for the run length, data.workers/root/cache_dir and logging keys")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the checkpoints of an earlier run in train.output_dir (default: refuse)")
    train.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides")
    train.set_defaults(func=run)
