#!/usr/bin/env python
"""Markdown tables of per-operator profiles: one section per ``alignseg bench --profile -o`` record.

    alignseg bench sfnet_r18 --size 1024 2048 --backend openvino --precision int8 \\
        --calibration /path/to/camvid/images/train --profile --runs 10 -o r18_int8.json
    python benchmarks/profile_tables.py r18_int8.json lite_int8.json -o benchmarks/results/profile_int8.md

Each section names the model, runtime, size, batch and machine load, then the op-type table (time, share,
GMACs, achieved GFLOP/s, kernel and precision) and the slowest nodes (``alignseg.deploy.profile``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from alignseg.deploy.bench import validate_record
from alignseg.deploy.profile import profile_markdown
from alignseg.fileio import atomic_write


def section(record: dict, rows: int) -> str:
    """One record's heading and tables; an error names a record written without ``--profile``."""
    validate_record(record)
    if "profile" not in record:
        raise ValueError(f"the {record['model']} {record['runner']} record has no profile: run bench with --profile")
    height, width = record["input_size"]
    env = record["environment"]
    load = env.get("load_average")
    output = record.get("output", "logits")
    head = (f"## {record['model']}, {record['runner']}, {record['batch']}×3×{height}×{width}, {output} out\n\n"
            f"bench median {record['latency_ms']['median']:.1f} ms ({record['fps']:.2f} FPS), "
            f"{record['gmacs']:.1f} GMACs; {env['cpu']}, {env['cpu_count']} CPUs"
            + (f", load {load[0]:.1f}" if load else "") + f"; {record['timestamp']}\n\n")
    return head + profile_markdown(record["profile"], rows=rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records", nargs="+", type=Path, help="JSON files of alignseg bench --profile -o")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the markdown file to write")
    parser.add_argument("--rows", type=int, default=12, help="op-type rows per table (the rest are summed)")
    args = parser.parse_args(argv)
    sections = []
    for path in args.records:
        loaded = json.loads(path.read_text())
        sections += [section(record, args.rows) for record in (loaded if isinstance(loaded, list) else [loaded])]
    text = "# Per-operator profiles\n\n" + "\n".join(sections)
    atomic_write(args.output, lambda stream: stream.write(text.encode()))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
