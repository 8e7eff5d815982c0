"""A progress bar for long loops (video frames): done / total, rate and time left, on stderr.

On a terminal the bar redraws one line in place; when stderr is redirected (a log file, CI) it writes a
plain line every ``every_s`` seconds and at the end, never a carriage-return frame.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressBar:
    """Counts ``update()`` calls against ``total`` (``None`` or 0 when unknown) and reports them on ``stream``."""

    def __init__(
        self, total: int | None, label: str = "frames", *, stream: TextIO | None = None, every_s: float = 10.0,
        width: int = 30,
    ) -> None:
        self.total = total or None
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.width = width
        self.done = 0
        self._start = time.perf_counter()
        self._last = float("-inf")
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self) -> str:
        """The current state in words: ``[#####.....] 12/300 frames, 4.1 frames/s, 1:10 left, 0:03 elapsed``."""
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        speed = f"{rate:.1f} {self.label}/s" if rate >= 1 or rate == 0 else f"{1 / rate:.1f} s each"
        text += f" {self.label}, {speed}"
        if self.total:
            filled = min(self.width, self.width * self.done // self.total)
            text = f"[{'#' * filled}{'.' * (self.width - filled)}] {text}"
            if rate > 0 and self.done < self.total:
                text += f", {_clock((self.total - self.done) / rate)} left"
        return text + f", {_clock(elapsed)} elapsed"

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if self._interactive:
            if now - self._last >= 0.1:
                self._last = now
                self.stream.write("\r" + self.line() + "\033[K")
                self.stream.flush()
        elif now - self._last >= self.every_s:
            self._last = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Write the final state (on a terminal, finish the line)."""
        start, end = ("\r", "\033[K\n") if self._interactive else ("", "\n")
        self.stream.write(start + self.line() + end)
        self.stream.flush()
