"""The flags several subcommands share, defined once so that they have the same names, help and defaults."""

from __future__ import annotations

import argparse

from ..deploy.runtimes import BACKENDS, PRECISIONS, canonical_backend


class HelpFormat(argparse.HelpFormatter):
    """Every subcommand's ``--help`` shows each flag's default: appended as ``(default: X)``, unless the help
    already says it in words, the flag is a switch (off by default) or has no value (None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


HELP_FORMAT = HelpFormat


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="zoo model name (default: the one the weights record; needed for files that do not)")
    parser.add_argument("--num-classes", type=positive_int, default=None,
                        help="number of classes (default: the one the weights record)")


def add_output(parser: argparse.ArgumentParser, what: str, *, required: bool = False) -> None:
    parser.add_argument("-o", "--output", required=required, default=None, help=what)


def add_size(parser: argparse.ArgumentParser, default: tuple[int, int] | None, what: str) -> None:
    parser.add_argument("--size", type=positive_int, nargs=2, metavar=("H", "W"), default=default, help=what)


def add_runtime(parser: argparse.ArgumentParser, *, backend: str | None, calibration: bool = True) -> None:
    """``--device``, ``--backend``, ``--precision``, ``--threads`` (and ``--calibration`` for int8)."""
    parser.add_argument("--device", default="auto",
                        help="auto (cuda when available, else cpu), cpu, cuda or cuda:N; openvino runs on the cpu")
    parser.add_argument("--backend", type=canonical_backend, default=backend, metavar="{" + ",".join(BACKENDS) + "}",
                        help="runtime: eager/compile PyTorch, or onnxruntime/openvino (a checkpoint is exported "
                             "once; an .onnx/.xml runs as it is) (default: eager for checkpoints, onnxruntime "
                             "for .onnx, openvino for .xml)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="eager/compile: autocast dtype; openvino: inference precision, or int8 (NNCF "
                             "post-training quantisation from --calibration images); onnxruntime: fp32")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch / onnxruntime intra-op / openvino inference threads (default: the runtime's)")
    if calibration:
        parser.add_argument("--calibration", default=None, metavar="DIR",
                            help="int8: folder of images of the target domain (e.g. the training images)")


def tool_model(args: argparse.Namespace):
    """The model and record ``export``/``bench`` work on: ``--weights`` (model name and classes from the file),
    or fresh weights of ``--model`` with ``--random-init`` (bench: without ``--weights``)."""
    from ..deploy.loading import random_model
    from ..models.checkpoint import ModelRecord
    from ..models.factory import load_model

    if args.weights is not None:
        return load_model(args.weights, model=args.model, num_classes=args.num_classes)
    if args.model is None:
        raise ValueError("give --weights FILE, or a model name with --random-init to try the tool with fresh weights")
    model = random_model(args.model, num_classes=args.num_classes, seed=getattr(args, "seed", 0))
    print(f"{args.model}: fresh, untrained weights (seed {getattr(args, 'seed', 0)}); for trying the tool out only")
    return model, ModelRecord(model=args.model, num_classes=args.num_classes or 19, source="random-init")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """The zoo model as an optional positional (``alignseg bench sfnet_r18``) besides ``--model``/``--num-classes``."""
    parser.add_argument("name", nargs="?", default=None, metavar="MODEL",
                        help="zoo model name, as --model (default: the one --weights records)")
    add_model(parser)


def merge_model_name(args: argparse.Namespace) -> None:
    if args.name is not None and args.model is not None and args.name != args.model:
        raise ValueError(f"two model names given: {args.name} and --model {args.model}")
    args.model = args.model or args.name
