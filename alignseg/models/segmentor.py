"""Backbone + decoder + optional deep-supervision heads, as one plain ``nn.Module``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .backbones.base import Backbone
from .decoders.base import Decoder
from .ops.resize import is_exporting, resize_like

TrainingOutput = dict[str, Tensor | dict[str, Tensor]]


class Segmentor(nn.Module):
    """A segmentation network: ``forward(x)`` gives logits at the input size in eval mode.

    In training mode it returns the named outputs a criterion reads (``alignseg.losses.criterion``)::

        {"out": main logits at the decoder's stride,
         "aux": {name: logits},          # "dsn_0", "dsn_1", ... (coarse → fine) + the decoder's aux_logits
         "loss_inputs": {name: tensor}}  # the decoder's loss_inputs (e.g. CAE features)

    The criterion resizes logits to the label size (released SFNet behaviour); the model never sees
    labels. Deep-supervision heads read the decoder's ``aux_features`` and run in training only: they
    never appear in eval outputs or exports. ``align_corners`` is the model's bilinear resize convention,
    used for its final resize to the input size and by every consumer of its logits (loss, validation,
    multi-scale inference, export): True as in the released SFNet code, False as in detectron2 (FaPN).
    """

    def __init__(self, backbone: Backbone, decoder: Decoder, aux_heads: list[nn.Module] | None = None, *,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.decoder = decoder
        self.aux_heads = nn.ModuleList(aux_heads or [])
        self.align_corners = align_corners

    @property
    def output_stride(self) -> int:
        """The largest stride of the backbone: inputs must be at least this large on both sides."""
        return max(self.backbone.strides)

    def check_input(self, x: Tensor) -> None:
        """Raise a clear error for inputs the network cannot process."""
        if x.dim() != 4:
            raise ValueError(f"expected an N×C×H×W image batch, got a tensor of shape {tuple(x.shape)}")
        expected = self.backbone.in_channels
        if x.shape[1] != expected:
            raise ValueError(f"expected {expected} input channels (N×{expected}×H×W), got {x.shape[1]} "
                             f"(input shape {tuple(x.shape)})")
        stride = self.output_stride
        if x.shape[-2] < stride or x.shape[-1] < stride:
            raise ValueError(f"input {x.shape[-2]}×{x.shape[-1]} is smaller than the network's output "
                             f"stride {stride}: both sides must be at least {stride} pixels")

    def forward(self, x: Tensor) -> Tensor | TrainingOutput:
        if not (is_exporting() or torch.compiler.is_compiling()):
            self.check_input(x)
        output = self.decoder(self.backbone(x))
        if self.training:
            # a model built without deep-supervision heads ignores the decoder's aux features
            heads = zip(self.aux_heads, output.aux_features, strict=True) if self.aux_heads else ()
            aux = {f"dsn_{i}": head(f) for i, (head, f) in enumerate(heads)}
            clash = sorted(aux.keys() & output.aux_logits.keys())
            if clash:
                raise ValueError(f"the decoder's aux_logits reuse the deep-supervision names {clash}")
            return {"out": output.logits, "aux": {**aux, **output.aux_logits}, "loss_inputs": dict(output.loss_inputs)}
        return resize_like(output.logits, x.shape[-2:], align_corners=self.align_corners)

    @torch.no_grad()
    def forward_with_flows(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Eval logits at the input size and the decoder's semantic flows (for visualisation)."""
        output = self.decoder(self.backbone(x))
        return resize_like(output.logits, x.shape[-2:], align_corners=self.align_corners), output.flows
