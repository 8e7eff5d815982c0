"""Finite-value guards of training: a diverging run stops with one message and never writes NaN weights."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

__all__ = ["TrainingDiverged", "check_finite_gradients", "check_finite_loss", "check_finite_tensors"]


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
