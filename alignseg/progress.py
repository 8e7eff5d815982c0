"""A text progress bar on stderr: redrawn in place on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts ``total`` steps of a task called ``what``; ``update()`` after each, ``close()`` at the end.

    On a terminal one line is redrawn (carriage return) at most 10 times a second; in a log file or pipe
    a line is written every ``every`` seconds and at the end, so logs hold no carriage-return frames.
    """

    def __init__(self, total: int, what: str, *, stream: TextIO | None = None, every: float = 10.0):
        self.total, self.what, self.every = total, what, every
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.start = self.last = time.perf_counter()

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.start
        fraction = self.done / self.total if self.total else 1.0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = f", {(self.total - self.done) / rate:.0f} s left" if rate > 0 and self.done < self.total else ""
        if not self.tty:
            return f"{self.what}: {self.done}/{self.total} ({100 * fraction:.0f}%, {elapsed:.0f} s{left})"
        filled = int(30 * fraction)
        return (f"\r{self.what} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                f"{rate:.1f}/s{left}   ")

    def update(self, steps: int = 1) -> None:
        self.done += steps
        now = time.perf_counter()
        if now - self.last >= (0.1 if self.tty else self.every) and self.done < self.total:
            self.last = now
            self.stream.write(self._line() + ("" if self.tty else "\n"))
            self.stream.flush()

    def close(self) -> None:
        self.stream.write(self._line() + "\n")
        self.stream.flush()
