"""``alignseg convert``: released checkpoints of other code bases → alignseg checkpoints."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..models.convert.checkpoint import convert_checkpoint

    report = convert_checkpoint(args.source, args.input, args.output, args.model, args.num_classes)
    print(report.summary())
    print(f"wrote {args.output}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser("convert", help="convert a released checkpoint to an alignseg checkpoint")
    convert.add_argument("--from", dest="source", required=True,
                         help="code base of the checkpoint: sfsegnets (SFNet) or fapn (detectron2 FaPN)")
    convert.add_argument("input", help="released checkpoint (.pth)")
    convert.add_argument("output", help="alignseg checkpoint to write (.pt)")
    convert.add_argument("--model", required=True, help="zoo model name, e.g. sfnet_r18")
    convert.add_argument("--num-classes", type=int, default=None, help="default: read from the checkpoint")
    convert.set_defaults(func=run)
