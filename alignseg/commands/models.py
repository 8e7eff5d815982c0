"""``alignseg models`` and ``alignseg demo``: the zoo with its figures, and a smoke run of every model."""

from __future__ import annotations

import argparse
import time

import torch

from .. import __version__
from .common import HELP_FORMAT


def models_table(pattern: str, *, run_size: tuple[int, int] | None = None) -> str:
    """Parameters and GMACs of every matching zoo model beside the released code's and the papers' figures."""
    from ..deploy.complexity import count_macs, count_parameters
    from ..models.factory import create_model
    from ..models.zoo import get_entry, list_models

    header = (f"{'model':28s} {'params':>11s} {'released':>11s} {'paper':>7s} {'GMACs@1024x2048':>16s} "
              f"{'paper GFLOPs (input)':>24s} {'paper mIoU':>14s}")
    if run_size:
        header += f" {'forward ' + 'x'.join(map(str, run_size)):>16s}"
    lines = [header, "-" * len(header)]
    for name in list_models(pattern):
        entry = get_entry(name)
        with torch.device("meta"):
            meta = create_model(name)
        params = count_parameters(meta)
        gmacs = count_macs(meta, (1024, 2048)) / 1e9
        paper_params = next((f"{f.params_m:.2f}M" for f in entry.paper if f.params_m), "-")
        paper_gflops = next((f"{f.gflops:g} ({(f.gflops_input or '?').split()[0]})" for f in entry.paper if f.gflops),
                            "-")
        paper_miou = next((f"{f.miou:g} {f.miou_split.split()[-1]}" for f in entry.paper if f.miou), "-")
        released = f"{entry.released.params_used:,}" if entry.released else "-"
        line = (f"{name:28s} {params:>11,} {released:>11s} {paper_params:>7s} {gmacs:>16.2f} "
                f"{paper_gflops:>24s} {paper_miou:>14s}")
        if run_size:
            line += f" {time_forward(name, run_size):>16s}"
        lines.append(line)
    return "\n".join(lines)


def time_forward(name: str, size: tuple[int, int]) -> str:
    """Build ``name`` with fresh weights, run one eval forward on a random image, report the time."""
    from ..models.factory import create_model

    model = create_model(name).eval()
    image = torch.rand(1, 3, *size)
    start = time.perf_counter()
    with torch.no_grad():
        logits = model(image)
    elapsed = time.perf_counter() - start
    if logits.shape[-2:] != image.shape[-2:]:
        raise RuntimeError(f"{name}: logits {tuple(logits.shape)} do not match the input {tuple(image.shape)}")
    return f"ok {elapsed * 1000:.0f} ms"


def run_models(args: argparse.Namespace) -> int:
    print(models_table(args.pattern))
    print("\nGMACs count convolutions and matrix products (1 MAC = 2 FLOPs), FaPN's deformable convolutions "
          "included (FaPN's Table I leaves them out: `alignseg bench --include-deform`).")
    return 0


def run_zoo_demo(args: argparse.Namespace) -> int:
    size = (args.height, args.width)
    print(f"alignseg {__version__}: building every zoo model and running it on a {size[0]}x{size[1]} image "
          f"(fresh weights, CPU, {torch.get_num_threads()} threads)\n")
    print(models_table(args.pattern, run_size=size))
    print("\nparams = parameters used at eval; released = the official code's count of the same; paper = the "
          "papers' count (it includes modules the code never uses: see each zoo entry's notes).")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list the zoo with parameters, GMACs and paper figures",
                                 formatter_class=HELP_FORMAT)
    models.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'sfnet_lite_*'")
    models.set_defaults(func=run_models)

    zoo = commands.add_parser("zoo-demo", help="build every zoo model, run it on a small image, print the table",
                              formatter_class=HELP_FORMAT)
    zoo.add_argument("--pattern", default="*", help="only models matching this pattern")
    zoo.add_argument("--height", type=int, default=256)
    zoo.add_argument("--width", type=int, default=512)
    zoo.set_defaults(func=run_zoo_demo)
