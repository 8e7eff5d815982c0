"""Deep supervision: one pixel criterion over a segmentor's main and auxiliary training outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

__all__ = ["DeepSupervisionLoss"]


class DeepSupervisionLoss(nn.Module):
    """``main(out) + Σ_i w_i · main(aux_i)`` over a segmentor's training outputs (spec 3.7: one criterion
    for every head, each head resized to the label size by the criterion).

    ``outputs`` is the training dict ``{"out": logits, "aux": [logits, ...]}`` (``aux`` may be empty or
    missing) or a plain logits tensor. ``aux_weights`` is one weight for every aux head or one per head.
    Returns the total and, for logging, the detached unweighted parts ``{"main", "aux_0", ...}``.
    """

    def __init__(self, main: nn.Module, aux_weights: Sequence[float] | float = 1.0) -> None:
        super().__init__()
        self.main = main
        self.aux_weights = float(aux_weights) if isinstance(aux_weights, int | float) else tuple(aux_weights)

    def forward(
        self, outputs: Mapping[str, Tensor | Sequence[Tensor]] | Tensor, labels: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        if isinstance(outputs, Tensor):
            out, aux = outputs, []
        else:
            out, aux = outputs["out"], list(outputs.get("aux", []))
        if isinstance(self.aux_weights, float):
            weights = [self.aux_weights] * len(aux)
        elif len(self.aux_weights) == len(aux):
            weights = list(self.aux_weights)
        else:
            raise ValueError(
                f"the model returned {len(aux)} aux outputs but aux_weights has {len(self.aux_weights)} "
                f"entries {self.aux_weights}"
            )
        total = self.main(out, labels)
        parts = {"main": total.detach()}
        for i, (weight, logits) in enumerate(zip(weights, aux, strict=True)):
            aux_loss = self.main(logits, labels)
            total = total + weight * aux_loss
            parts[f"aux_{i}"] = aux_loss.detach()
        return total, parts

    def extra_repr(self) -> str:
        return f"aux_weights={self.aux_weights}"
