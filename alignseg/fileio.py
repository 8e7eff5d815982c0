"""Atomic file writing: outputs and checkpoints appear whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, flush it to disk, then rename it into place.

    A failing disk (full, read-only, quota) raises one ``OSError`` naming ``path``, whatever the writer
    turned it into (torch's zip writer reports a full disk as a RuntimeError); an existing file is kept.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    stream = _Recorded(os.fdopen(handle, "wb"))
    try:
        try:
            os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; give the usual mode
            with stream.raw:
                write(stream)
                stream.raw.flush()
                os.fsync(stream.raw.fileno())
            os.replace(temporary, target)
        except Exception as error:
            cause = error if isinstance(error, OSError) else stream.error
            if cause is None:
                raise
            kept = "the previous file is kept" if target.exists() else "nothing was written"
            raise OSError(cause.errno, f"{cause.strerror or cause} ({kept})", str(target)) from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


class _Recorded:
    """A binary stream that remembers the OSError of a failed write, for writers that replace it."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.raw.write(data)
        except OSError as error:
            self.error = error
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` that never leaves a truncated file behind (a crash keeps the previous version)."""
    return atomic_write(path, lambda stream: torch.save(obj, stream))
