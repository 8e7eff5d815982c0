"""``alignseg convert``: released checkpoints of other code bases → alignseg checkpoints."""

from __future__ import annotations

import argparse

from .common import HELP_FORMAT


def run(args: argparse.Namespace) -> int:
    from ..models.convert.checkpoint import convert_checkpoint

    report = convert_checkpoint(args.source, args.input, args.output, args.model, args.num_classes)
    print(report.summary())
    print(f"wrote {args.output}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser("convert", help="convert a released checkpoint to an alignseg checkpoint",
                                  formatter_class=HELP_FORMAT)
    convert.add_argument("--from", dest="source", required=True,
                         help="code base of the checkpoint: sfsegnets (SFNet) or fapn (detectron2 FaPN)")
    convert.add_argument("input", help="released checkpoint (.pth)")
    convert.add_argument("output", help="alignseg weights file to write (.safetensors)")
    convert.add_argument("--model", required=True, help="zoo model name, e.g. sfnet_r18")
    convert.add_argument("--num-classes", type=int, default=None, help="default: read from the checkpoint's classifier")
    convert.set_defaults(func=run)
