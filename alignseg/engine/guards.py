"""Guards of training: a diverging run stops with one message and never writes NaN weights; SIGTERM and
Ctrl-C stop a run at once with one message, its lock released and its checkpoints intact."""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType

import torch
from torch import Tensor

__all__ = ["TrainingDiverged", "TrainingInterrupted", "check_finite_gradients", "check_finite_loss",
           "check_finite_tensors", "stop_on_signals"]


class TrainingDiverged(RuntimeError):
    """The loss, the gradients or the weights stopped being finite numbers: training cannot go on."""


def _diverged(cause: str, *, step: int, epoch: int, lr: float) -> TrainingDiverged:
    """``step`` counts from 1 (the step being computed), as the lines of train.log do."""
    return TrainingDiverged(
        f"training diverged at step {step} (epoch {epoch}): {cause} at learning rate {lr:.4g}; stopped without "
        "writing checkpoints, the ones already written hold finite weights (lower optim.lr, or set "
        "schedule.warmup_iters or train.grad_clip)")


def check_finite_loss(loss: Tensor, parts: Mapping[str, Tensor], *, step: int, epoch: int, lr: float) -> None:
    """Raise ``TrainingDiverged`` naming the step, the loss parts and the learning rate if ``loss`` is not finite."""
    if bool(torch.isfinite(loss.detach())):
        return
    detail = ", ".join(f"{name} {float(value.detach()):.4g}" for name, value in parts.items())
    raise _diverged(f"loss {float(loss.detach()):.4g} ({detail})", step=step, epoch=epoch, lr=lr)


def check_finite_gradients(parameters: Iterable[Tensor], *, step: int, epoch: int, lr: float) -> None:
    """Raise ``TrainingDiverged`` if the global L2 norm of the gradients is not finite (one fused reduction)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    norm = float(torch.linalg.vector_norm(torch.stack([n.float() for n in torch._foreach_norm(grads)])))
    if not math.isfinite(norm):
        raise _diverged(f"the gradient norm is {norm}", step=step, epoch=epoch, lr=lr)


def check_finite_tensors(tensors: Mapping[str, Tensor], what: str) -> None:
    """Raise ``TrainingDiverged`` if a floating-point tensor of ``tensors`` holds NaN or infinity (``what``
    names the file that would have been written)."""
    for name, tensor in tensors.items():
        if isinstance(tensor, Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise TrainingDiverged(f"refusing to write {what}: the model's {name} holds NaN or infinite values "
                                   "(training diverged; the files already written hold finite weights)")


class TrainingInterrupted(BaseException):
    """SIGTERM or SIGINT reached a training run. A ``BaseException``, like ``KeyboardInterrupt``, so that no
    ``except Exception`` on the way swallows it and Lightning passes it on after its clean-up, rather than
    turning it into its own exit (Lightning exits 0 on SIGTERM and 1 on Ctrl-C with a message of its own)."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number (143 SIGTERM, 130 SIGINT)."""
        return 128 + self.signum


@contextmanager
def stop_on_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """Within the block, the first SIGTERM or SIGINT raises ``TrainingInterrupted`` in the main thread wherever it
    is, so the blocks around it (run-folder lock, atomic writes) clean up; a second one while that clean-up
    runs ends the process at once. Forked loader workers ignore them: the main process stops the run. Outside
    the main thread (a run started from a worker thread) signals cannot be handled: the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            return
        if received:  # clean-up is stuck: the signal's default action
            signal.signal(signum, signal.SIG_DFL)
            os.kill(owner, signum)
            return
        received.append(signum)
        raise TrainingInterrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)
