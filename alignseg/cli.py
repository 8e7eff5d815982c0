"""alignseg: train, evaluate, predict, convert, export and benchmark feature-aligned segmentation models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .commands import bench, convert, data, demo, evaluate, export, models, predict, train
from .deploy.extras import MissingExtraError

# Each module adds its subcommands; the order here is the order of `alignseg --help`.
COMMAND_MODULES = (models, demo, train, evaluate, predict, convert, export, bench, data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alignseg", description=__doc__)
    parser.add_argument("--version", action="version", version=f"alignseg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors a user can cause are printed in one line, without a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, MissingExtraError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"alignseg {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
