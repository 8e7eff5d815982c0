"""Atomic writes: a file appears whole or not at all, with the usual permissions."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from alignseg.fileio import atomic_torch_save, atomic_write


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "ckpt.pt"
    atomic_torch_save({"step": 1}, target)

    def crash(stream):
        stream.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, crash)
    assert torch.load(target, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_written_file_respects_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "sub" / "out.bin", lambda stream: stream.write(b"x"))
    finally:
        os.umask(previous)
    assert path.read_bytes() == b"x"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
