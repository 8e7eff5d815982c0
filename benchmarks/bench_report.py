"""Writing a benchmark's result: the JSON record and its markdown table beside it, both atomically."""

from __future__ import annotations

import json
from pathlib import Path

from alignseg.fileio import atomic_write


def write_report(report: dict, out: Path, markdown: str) -> Path:
    """``report`` as JSON at ``out`` and ``markdown`` at ``out`` with suffix .md; returns the .md path."""
    atomic_write(out, lambda stream: stream.write(json.dumps(report, indent=2).encode()))
    text = out.with_suffix(".md")
    atomic_write(text, lambda stream: stream.write(markdown.encode()))
    return text
