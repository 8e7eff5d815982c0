"""The ``alignseg`` command: one entry point for listing, converting, and (as they land) training,
evaluating, predicting, exporting and benchmarking models."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import torch

from . import __version__


def _models_table(pattern: str, *, run_size: tuple[int, int] | None) -> str:
    """Parameters and GMACs of every matching zoo model beside the released code's and the papers' figures."""
    from .deploy.complexity import count_macs, count_parameters
    from .models.factory import create_model
    from .models.zoo import get_entry, list_models

    header = f"{'model':28s} {'params':>11s} {'released':>11s} {'paper':>7s} {'GMACs@1024x2048':>16s} " \
             f"{'paper GFLOPs':>13s} {'paper mIoU':>18s}"
    if run_size:
        header += f" {'forward ' + 'x'.join(map(str, run_size)):>18s}"
    lines = [header, "-" * len(header)]
    for name in list_models(pattern):
        entry = get_entry(name)
        with torch.device("meta"):
            meta = create_model(name)
        params = count_parameters(meta)
        gmacs = count_macs(meta, (1024, 2048)) / 1e9
        paper_params = next((f"{f.params_m:.2f}M" for f in entry.paper if f.params_m), "-")
        paper_gflops = next((f"{f.gflops:g}" for f in entry.paper if f.gflops), "-")
        paper_miou = next((f"{f.miou:g} {f.miou_split.split()[-1]}" for f in entry.paper if f.miou), "-")
        released = f"{entry.released.params_used:,}" if entry.released else "-"
        line = (f"{name:28s} {params:>11,} {released:>11s} {paper_params:>7s} {gmacs:>16.2f} "
                f"{paper_gflops:>13s} {paper_miou:>18s}")
        if run_size:
            line += f" {_time_forward(name, run_size):>18s}"
        lines.append(line)
    return "\n".join(lines)


def _time_forward(name: str, size: tuple[int, int]) -> str:
    """Build ``name`` with fresh weights, run one eval forward on a random image, report shape and time."""
    from .models.factory import create_model

    model = create_model(name).eval()
    image = torch.rand(1, 3, *size)
    start = time.perf_counter()
    with torch.no_grad():
        logits = model(image)
    elapsed = time.perf_counter() - start
    if logits.shape[-2:] != image.shape[-2:]:
        raise RuntimeError(f"{name}: logits {tuple(logits.shape)} do not match the input {tuple(image.shape)}")
    return f"ok {elapsed * 1000:.0f} ms"


def cmd_models(args: argparse.Namespace) -> int:
    print(_models_table(args.pattern, run_size=None))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    size = (args.height, args.width)
    print(f"alignseg {__version__}: building every zoo model and running it on a {size[0]}x{size[1]} image "
          f"(fresh weights, CPU, {torch.get_num_threads()} threads)\n")
    print(_models_table(args.pattern, run_size=size))
    print("\nparams = parameters used at eval (alignseg); released = the same count for the official code; "
          "paper = the papers' count (includes modules the code never uses; see `alignseg models` notes).")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .models.convert.checkpoint import convert_checkpoint

    report = convert_checkpoint(args.source, args.input, args.output, args.model, args.num_classes)
    print(report.summary())
    print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alignseg", description=__doc__)
    parser.add_argument("--version", action="version", version=f"alignseg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list the zoo with parameters, GMACs and paper figures")
    models.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'sfnet_lite_*'")
    models.set_defaults(func=cmd_models)

    demo = commands.add_parser("demo", help="build every zoo model, run it on a small image, print the table")
    demo.add_argument("--pattern", default="*", help="only models matching this pattern")
    demo.add_argument("--height", type=int, default=256)
    demo.add_argument("--width", type=int, default=512)
    demo.set_defaults(func=cmd_demo)

    convert = commands.add_parser("convert", help="convert a released checkpoint to an alignseg checkpoint")
    convert.add_argument("--from", dest="source", required=True, help="code base of the checkpoint: sfsegnets")
    convert.add_argument("input", help="released checkpoint (.pth)")
    convert.add_argument("output", help="alignseg checkpoint to write (.pt)")
    convert.add_argument("--model", required=True, help="zoo model name, e.g. sfnet_r18")
    convert.add_argument("--num-classes", type=int, default=None, help="default: read from the checkpoint")
    convert.set_defaults(func=cmd_convert)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"alignseg {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
