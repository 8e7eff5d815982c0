"""Writing videos: H.264 where the installed OpenCV can encode it, else a clear, named fallback.

OpenCV's pip wheels carry FFmpeg without an H.264 encoder (licensing), so ``avc1`` usually fails there;
VP9 in MP4 (``vp09``) then plays in Chrome, Firefox, Edge and recent Safari. MPEG-4 Part 2 (``mp4v``)
always works but most browsers will not play it. Every file is written to a temporary file beside the
target and renamed on ``close()``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..data import DataError
from .inputs import require_cv2

__all__ = ["CODEC_CHOICES", "VIDEO_CODECS", "AtomicVideoWriter", "chosen_codecs"]

VIDEO_CODECS: tuple[tuple[str, str, str | None], ...] = (
    ("avc1", "H.264", None),
    ("vp09", "VP9", "this OpenCV has no H.264 encoder: {path} is VP9 in MP4 (Chrome, Firefox, Edge and Safari 14+ "
                    "play it; `ffmpeg -i {path} -c:v libx264 out.mp4` makes H.264)"),
    ("mp4v", "MPEG-4 Part 2", "this OpenCV has neither an H.264 nor a VP9 encoder: {path} is MPEG-4 Part 2 (mp4v), "
                              "which most browsers do not play (`ffmpeg -i {path} -c:v libx264 out.mp4` converts it)"),
)
"""(fourcc, codec name, warning when it is the one used) in the order they are tried."""
CODEC_CHOICES = {"h264": "avc1", "vp9": "vp09", "mp4v": "mp4v"}
"""``--video-codec`` names → fourcc."""


def chosen_codecs(choice: str | None) -> tuple[tuple[str, str, str | None], ...]:
    """The codecs to try: all of ``VIDEO_CODECS`` in order (``None``), or only the one chosen (no warning:
    it was asked for; a missing encoder is then an error naming it)."""
    if choice is None:
        return VIDEO_CODECS
    if choice not in CODEC_CHOICES:
        raise ValueError(f"unknown video codec {choice!r}: choose from {', '.join(CODEC_CHOICES)}")
    return tuple((fourcc, name, None) for fourcc, name, _ in VIDEO_CODECS if fourcc == CODEC_CHOICES[choice])


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (FFmpeg's C-level complaints while encoders are probed)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. captured by a test runner)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class AtomicVideoWriter:
    """A ``cv2.VideoWriter`` using the first codec of ``codecs`` that opens, writing to a temporary file
    that is renamed on ``close()``.

    Opened on the first frame (its size is the video's size; odd sizes are padded to even with black, as
    H.264 needs); frames are RGB uint8. ``codec`` names the codec used and ``warning`` says why when it is
    a fallback. Leaving the ``with`` block closes the file unless ``close()`` was called in it (to time the
    encoder's flush); leaving it with an exception removes the temporary file.
    """

    def __init__(
        self, path: str | os.PathLike, fps: float, codecs: tuple[tuple[str, str, str | None], ...] = VIDEO_CODECS
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.codecs = codecs
        self.frames = 0
        self.codec: str | None = None
        self.warning: str | None = None
        self.closed = False
        self._writer = None
        self._temporary: Path | None = None
        self._size: tuple[int, int] | None = None

    def _open(self, height: int, width: int) -> None:
        cv2 = require_cv2()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix,
                                             dir=self.path.parent)
        os.close(handle)
        self._temporary = Path(temporary)
        size = (width + width % 2, height + height % 2)
        for fourcc, name, warning in self.codecs:
            with _quiet_stderr():
                writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*fourcc), self.fps, size)
            if writer.isOpened():
                self._writer, self.codec = writer, name
                self.warning = warning.format(path=self.path) if warning else None
                break
            writer.release()
        else:
            self._temporary.unlink(missing_ok=True)
            tried = ", ".join(fourcc for fourcc, _, _ in self.codecs)
            raise DataError(f"OpenCV cannot write a video to {self.path} with any of the codecs {tried}")
        self._size = (height, width)

    def write(self, frame: np.ndarray) -> None:
        cv2 = require_cv2()
        height, width = frame.shape[:2]
        if self._writer is None:
            self._open(height, width)
        if (height, width) != self._size:
            raise DataError(f"{self.path}: frame {self.frames} is {height}x{width}, the video {self._size}")
        if height % 2 or width % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self._writer is None or self._temporary is None:
            raise DataError(f"no frames were written to {self.path}")
        self._writer.release()
        self._check_written()
        os.replace(self._temporary, self.path)
        self._writer = self._temporary = None
        self.closed = True
        return self.path

    def _check_written(self) -> None:
        """Read the frame count back: OpenCV reports no write error, and a full disk leaves a file without its
        index that no player opens. A short file is discarded with an error naming the cause."""
        cv2 = require_cv2()
        with _quiet_stderr():  # FFmpeg's own complaint about a file without its index
            capture = cv2.VideoCapture(str(self._temporary))
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
            capture.release()
        if count == self.frames:
            return
        space = os.statvfs(self.path.parent)
        self.discard()
        if space.f_bavail == 0:
            raise OSError(errno.ENOSPC, "No space left on device (the video could not be finished; nothing was "
                                        "written)", str(self.path))
        raise DataError(f"{self.path}: OpenCV finished a video that reads back {count} of its {self.frames} frames; "
                        "nothing was written")

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
        self._writer = self._temporary = None

    def __enter__(self) -> AtomicVideoWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            if not self.closed:
                self.close()
        else:
            self.discard()
