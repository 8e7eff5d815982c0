"""``alignseg plot``: learning curves of a training run and confusion matrices of evaluations, as PNGs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..plots import find_eval_metrics, plot_confusion_matrix, plot_learning_curves, read_run_metrics

    sources = [Path(path) for path in args.paths]
    for source in sources:
        if not source.exists():
            raise FileNotFoundError(f"{source} does not exist")
    output = Path(args.output) if args.output else (sources[0] if sources[0].is_dir() else sources[0].parent) / "plots"
    written = []
    for source in sources:
        if source.is_dir() and list(source.glob("csv/version_*/metrics.csv")):
            target = output / f"{source.resolve().name}_curves.png" if len(sources) > 1 else output / "curves.png"
            written.append(plot_learning_curves(read_run_metrics(source), target, title=source.resolve().name))
        evaluations = find_eval_metrics(source) if source.is_dir() else [source]
        for path in evaluations:
            record = json.loads(path.read_text())
            if "confusion_matrix" not in record or "class_names" not in record:
                raise ValueError(f"{path} is not an `alignseg eval` metrics file (no confusion_matrix/class_names)")
            title = f"{record.get('model', '')} on {record.get('dataset', '')} {record.get('split', '')}".strip()
            if record.get("miou") is not None:
                title += f": mIoU {100 * record['miou']:.1f}"
            name = "confusion.png" if len(evaluations) == 1 and len(sources) == 1 else f"{path.stem}_confusion.png"
            written.append(plot_confusion_matrix(record["confusion_matrix"], record["class_names"], output / name,
                                                 title=title))
    if not written:
        raise ValueError(f"nothing to plot in {', '.join(map(str, sources))}: give a training run folder "
                         "(with csv/ logs) or an `alignseg eval -o/--show-dir` metrics file")
    for path in written:
        print(f"wrote {path}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    plot = commands.add_parser(
        "plot",
        help="plot learning curves of a run folder and confusion matrices of evaluations (needs alignseg[plot])",
        description="Learning curves (training loss, learning rate, validation mIoU against the step) from a "
        "training run folder's csv/ logs, and a row-normalised confusion matrix from each `alignseg eval` "
        "metrics JSON (-o FILE, or --show-dir DIR/metrics.json) given or found in the folders.",
    )
    plot.add_argument("paths", nargs="+", metavar="PATH",
                      help="a run folder (train.output_dir), an eval --show-dir folder or an eval metrics JSON")
    plot.add_argument("-o", "--output", default=None,
                      help="folder for the PNGs (default: <first PATH>/plots)")
    plot.set_defaults(func=run)
