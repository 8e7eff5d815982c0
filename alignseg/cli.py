"""alignseg: train, evaluate, predict, convert, export and benchmark feature-aligned segmentation models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .commands import bench, convert, data, demo, evaluate, export, models, plot, predict, train
from .deploy.extras import MissingExtraError
from .engine.guards import TrainingDiverged, TrainingInterrupted

# Each module adds its subcommands; the order here is the order of `alignseg --help`.
COMMAND_MODULES = (models, demo, train, evaluate, plot, predict, convert, export, bench, data)


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
    except (ValueError, KeyError, OSError, MissingExtraError, TrainingDiverged) as exc:
        print(f"alignseg {args.command}: error: {user_message(exc)}", file=sys.stderr)
        return 2
    except TrainingInterrupted as stop:  # SIGTERM / Ctrl-C: the shell's exit status of a signal
        print(f"alignseg {args.command}: error: {stop}", file=sys.stderr)
        return stop.exit_code


def user_message(exc: BaseException) -> str:
    """The message of a user-caused error: a loader worker's error as the worker raised it (torch re-raises
    it with the worker's whole traceback as its text), an OSError as its reason and file."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if "in DataLoader worker process" in text and "Original Traceback" in text:
        last = text.rstrip().splitlines()[-1]  # "package.module.DataError: the message"
        head, sep, message = last.partition(": ")
        text = message if sep and " " not in head else last
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    return text


if __name__ == "__main__":
    sys.exit(main())
