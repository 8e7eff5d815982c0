"""Run folders that protect finished work: one run at a time (a lock file), no silent overwrite of an
earlier run's checkpoints, strict resume, and clean-up of temporary files left by a killed write.

``RunFolder`` is entered before anything is written; it changes nothing but its lock file until
``prepare()`` is called, which ``fit`` does only once a resume has been accepted.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..models.checkpoint import read_checkpoint
from ..models.weights import WeightsError
from .config import Config

__all__ = ["LOCK_NAME", "RESUME_MAY_CHANGE", "RunFolder", "RunFolderError", "check_resume", "config_changes"]

LOCK_NAME = ".alignseg.lock"

RESUME_MAY_CHANGE = frozenset({
    "train.max_epochs", "train.max_steps", "train.output_dir", "train.threads", "train.progress_bar",
    "train.log_every_n_steps", "train.checkpoint_every_n_steps", "data.workers", "data.root", "data.cache_dir",
})
"""Keys a resumed run may change: the length of the run (the schedule is recomputed for it) and where or how
fast things are read and written. Every other difference from the checkpoint's config refuses the resume."""

_FINISHED_WORK = ("checkpoints/*.ckpt", "model_*.safetensors", "model_*.pt")  # .pt: runs written before safetensors
_RUN_FILES = ("checkpoints", "model_*.safetensors", "model_*.pt", "config.yaml", "train.log")


class RunFolderError(ValueError):
    """The run folder is in use, holds another run's work, or the resume does not fit it."""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class RunFolder:
    """``with RunFolder(output, resume=..., overwrite=...) as folder:`` holds ``output/.alignseg.lock``.

    Entering refuses (``RunFolderError``) when ``output`` is a file, when another live process holds the
    lock, and when a new run (not ``resume``) would land on an earlier run's checkpoints without
    ``overwrite``. A lock left by a dead process on this host is reclaimed with a message.
    """

    def __init__(self, output: str | os.PathLike, *, resume: bool = False, overwrite: bool = False):
        if resume and overwrite:
            raise RunFolderError("--resume and --overwrite contradict each other: choose one")
        self.output = Path(output)
        self.resume, self.overwrite = resume, overwrite
        self.lock = self.output / LOCK_NAME
        self._held = False

    def __enter__(self) -> RunFolder:
        if self.output.exists() and not self.output.is_dir():
            raise RunFolderError(f"train.output_dir {self.output} is a file, not a folder; choose another path")
        self.output.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            earlier = self.earlier_work()
            if earlier and not self.resume and not self.overwrite:
                names = ", ".join(str(p.relative_to(self.output)) for p in earlier)
                raise RunFolderError(f"{self.output} holds an earlier run ({names}): use --resume to continue it, "
                                     "--overwrite to replace it, or another train.output_dir")
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._release()

    def earlier_work(self) -> list[Path]:
        """The checkpoints and exported models already in the folder."""
        return sorted(p for pattern in _FINISHED_WORK for p in self.output.glob(pattern) if p.is_file())

    def prepare(self) -> list[str]:
        """Make the folder ready to write (after a resume was accepted): with ``overwrite`` remove the earlier
        run's files, and remove temporary files of interrupted writes. Returns messages saying what was done."""
        messages = []
        if self.overwrite:
            removed = [p for pattern in _RUN_FILES for p in self.output.glob(pattern)]
            for path in removed:
                _remove(path)
            if removed:
                messages.append(f"--overwrite: removed the earlier run's {', '.join(sorted(p.name for p in removed))} "
                                f"from {self.output}")
        stale = sorted(p for folder in (self.output, self.output / "checkpoints") for p in folder.glob(".*.tmp"))
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            messages.append(f"removed {len(stale)} unfinished temporary file(s) of an interrupted write: "
                            + ", ".join(str(p) for p in stale))
        return messages

    # -- the lock -------------------------------------------------------------------------------------

    def _acquire(self) -> None:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        handle, temporary = tempfile.mkstemp(prefix=".lock.", suffix=".tmp", dir=self.output)
        with os.fdopen(handle, "w") as stream:
            json.dump(record, stream)
        try:
            for _ in range(2):
                try:
                    os.link(temporary, self.lock)  # atomic: fails if a lock exists, never half-written
                    self._held = True
                    return
                except FileExistsError:
                    self._reclaim_if_stale()
        finally:
            os.unlink(temporary)
        raise RunFolderError(f"could not lock {self.output}: {self.lock} keeps reappearing")

    def _reclaim_if_stale(self) -> None:
        try:
            owner = json.loads(self.lock.read_text())
            pid, host = int(owner["pid"]), str(owner["host"])
        except FileNotFoundError:
            return  # released meanwhile
        except (ValueError, KeyError, TypeError):
            owner, pid, host = {}, -1, socket.gethostname()  # unreadable: no process can own it
        if host == socket.gethostname() and pid != os.getpid() and not _process_alive(pid):
            print(f"reclaiming the lock of {self.output}: process {pid} that held it is no longer running")
            self.lock.unlink(missing_ok=True)
            return
        raise RunFolderError(
            f"another run (process {pid} on {host}, started {owner.get('started', '?')}) is writing to {self.output}; "
            f"wait for it or choose another train.output_dir (if that process is gone, delete {self.lock})")

    def _release(self) -> None:
        if self._held:
            self.lock.unlink(missing_ok=True)
            self._held = False


def _remove(path: Path) -> None:
    if path.is_dir():
        for child in sorted(path.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
        path.rmdir()
    else:
        path.unlink()


# -- resume -----------------------------------------------------------------------------------------------


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{"section.key": (old, new)}`` for every key whose value differs between two config dicts."""
    changes = {}
    for section in sorted(set(old) | set(new)):
        before, after = old.get(section) or {}, new.get(section) or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes[f"{section}.{key}"] = (before.get(key), after.get(key))
    return changes


def _alternatives(checkpoint: Path) -> str:
    others = sorted(p for p in checkpoint.parent.glob("*.ckpt") if p != checkpoint)
    if not others:
        return "no other checkpoint is in that folder"
    return "other checkpoints there: " + ", ".join(f"--resume {p}" for p in others)


def check_resume(checkpoint: str | os.PathLike, config: Config) -> list[str]:
    """Read ``checkpoint`` safely (``weights_only=True``) and compare its recorded config with ``config``.

    A file that cannot be read, or a config differing in keys outside ``RESUME_MAY_CHANGE``, raises one
    ``RunFolderError`` naming the file (and the intact alternatives) or every differing key. Returns the
    messages announcing the allowed changes that the resumed run applies.
    """
    path = Path(checkpoint)
    try:
        recorded = read_checkpoint(path).record.config
    except WeightsError as error:  # truncated zip, foreign pickle, ...: one line naming the file
        raise RunFolderError(f"cannot resume from {path} ({error}); {_alternatives(path)}") from None
    if not isinstance(recorded, dict):
        raise RunFolderError(f"cannot resume from {path}: it records no alignseg training config "
                             "(was it written by `alignseg train`?)")
    changes = config_changes(recorded, config.to_dict())
    refused = {k: v for k, v in changes.items() if k not in RESUME_MAY_CHANGE}
    if refused:
        listed = "; ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, (a, b) in refused.items())
        raise RunFolderError(f"cannot resume from {path} with a different config ({listed}); resume with the "
                             f"checkpoint's config, or start a new run (another train.output_dir or --overwrite). "
                             f"Only {', '.join(sorted(RESUME_MAY_CHANGE))} may change on resume")
    length = " (the learning-rate schedule follows the new length)"
    return [f"resume: {k} changes from {a!r} to {b!r}" + (length if k.startswith("train.max_") else "")
            for k, (a, b) in changes.items()]

