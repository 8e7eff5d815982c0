"""HFGD's high-level feature guided module (spec fapn_hfgd.md 2.1, 2.2) as a wrapper around any decoder.

Backbone (teacher) branch: ``f_h = encoder(C5)``, ``teacher = tokens(f_h)`` with the class tokens a
``Conv2d(256, K, 1)``; the CAR losses read the encoder's CAR features. Upsampler (student) branch:
the wrapped decoder reads ``sg(C2..C4)`` and ``sg(f_h)`` (in C5's place), ``f_u += AA(f_u)`` and
``logits = conv2d(f_u, sg(W), sg(b))`` with the same tokens. With every stop-gradient on, the student
loss trains only the wrapped decoder and the axial attention, the teacher and CAR losses only the
backbone, the encoder and the tokens. Inference uses the student's logits only; the teacher's stay
reachable for debugging as ``decoder(backbone(x)).aux_logits["teacher"]``.

Spec 2.7's alternatives not built: a channelized axial attention (CAA) instead of the multi-head one, and
the attention placed before the wrapped decoder's end conv.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.axial_attention import MultiHeadAxialAttention
from ..ops.cae import EncoderKind, build_encoder
from .base import Decoder, DecoderFeatures, DecoderOutput
from .registry import BASE_DECODERS

TEACHER = "teacher"  # the aux-logits name of the backbone-branch logits
CAR_FEATURES = "car_features"  # the loss-inputs name of the CAE's linear_conv output


def _detach(x: Tensor, stop: bool) -> Tensor:
    return x.detach() if stop else x


def _drop_classifier(decoder: Decoder) -> None:
    """Replace ``decoder.classifier`` (wherever the module sits: some decoders keep it under released key
    names) by an identity, so that it holds no parameter."""
    classifier = decoder.classifier
    for name, module in decoder.named_modules():
        if module is classifier:
            parent_name, _, child = name.rpartition(".")
            setattr(decoder.get_submodule(parent_name), child, nn.Identity())
            return


class HFGMDecoder(Decoder):
    """HFGM around the decoder ``decoder`` (a :data:`BASE_DECODERS` name, built with ``decoder_options``).

    The wrapped decoder is built on ``[C2, ..., C4, feature_channels]``: its top input is ``f_h``; its own
    classifier is removed (the shared tokens replace it), so its ``feature_channels`` must equal
    ``feature_channels``. Options (the ablations of HFGD Tables 3, 5, 7, 8):
    ``encoder`` "cae" (HFGD), "sa_car" (CAR's SA head) or "fcn" (no extra encoding, "Identity"), with
    ``trailing_kernel`` and ``wide_channels`` (None: the C5 width) of the CAE;
    ``guidance`` False drops the teacher branch: no teacher logits and no stop-gradient, the tokens are
    the plain classifier of a jointly trained model; ``sg_levels`` the pyramid inputs detached, as
    levels 2..5 (C2, C3, C4 and f_h for a 4-level backbone); ``sg_tokens`` detaches the student's tokens;
    ``axial_attention`` adds the 4-head axial attention with a residual before the classifier
    (``axial_clip``: clip its maps as iSeg does from 2023-10-20 on).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        decoder: str = "semantic_fpn",
        decoder_options: Mapping[str, Any] | None = None,
        encoder: EncoderKind = "cae",
        feature_channels: int = 256,
        trailing_kernel: int = 1,
        wide_channels: int | None = None,
        guidance: bool = True,
        axial_attention: bool = True,
        axial_heads: int = 4,
        axial_clip: bool = False,
        sg_levels: Sequence[int] = (2, 3, 4, 5),
        sg_tokens: bool = True,
    ) -> None:
        super().__init__()
        if decoder not in BASE_DECODERS:
            raise ValueError(f"HFGM cannot wrap unknown decoder {decoder!r}; valid: {', '.join(BASE_DECODERS)}")
        levels = range(2, 2 + len(in_channels))
        if not set(sg_levels) <= set(levels):
            raise ValueError(f"HFGM sg_levels {sorted(sg_levels)} must be pyramid levels in {list(levels)}")
        self.encoder = build_encoder(encoder, in_channels[-1], feature_channels, trailing_kernel=trailing_kernel,
                                     wide_channels=wide_channels)
        inner = BASE_DECODERS[decoder]([*in_channels[:-1], feature_channels], num_classes, **(decoder_options or {}))
        if inner.feature_channels != feature_channels:
            raise ValueError(f"HFGM: decoder {decoder!r} gives {inner.feature_channels} feature channels; the "
                             f"shared class tokens need {feature_channels}")
        _drop_classifier(inner)  # replaced by the shared class tokens: not part of the model's parameters
        self.decoder = inner
        self.axial = (MultiHeadAxialAttention(feature_channels, axial_heads, clip=axial_clip) if axial_attention
                      else None)
        self.classifier = nn.Conv2d(feature_channels, num_classes, 1)  # the class tokens (W, b)
        self.feature_channels = feature_channels
        self.guidance = guidance
        self.sg_levels = frozenset(sg_levels) if guidance else frozenset()
        self.sg_tokens = sg_tokens and guidance

    def encode(self, features: Sequence[Tensor]) -> tuple[list[Tensor], Tensor | None, Tensor]:
        """The backbone branch: the student's pyramid (C2.., f_h; stop-gradients applied), the CAR features
        and f_h."""
        f_h, car = self.encoder(features[-1])
        pyramid = [*features[:-1], f_h]
        return [_detach(f, level in self.sg_levels) for level, f in enumerate(pyramid, start=2)], car, f_h

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        pyramid, _, _ = self.encode(features)
        return self._student_features(pyramid)

    def _student_features(self, pyramid: list[Tensor]) -> DecoderFeatures:
        out = self.decoder.forward_features(pyramid)
        f_u = out.features if self.axial is None else out.features + self.axial(out.features)
        return DecoderFeatures(f_u, out.aux_features, out.flows)

    def classify(self, x: Tensor) -> Tensor:
        """Student logits: the class tokens, detached with ``sg_tokens``."""
        weight, bias = self.classifier.weight, self.classifier.bias
        return F.conv2d(x, _detach(weight, self.sg_tokens), _detach(bias, self.sg_tokens))

    def forward(self, features: Sequence[Tensor]) -> DecoderOutput:
        pyramid, car, f_h = self.encode(features)
        out = self._student_features(pyramid)
        aux_logits = {TEACHER: self.classifier(f_h)} if self.guidance else {}
        loss_inputs = {} if car is None else {CAR_FEATURES: car}
        return DecoderOutput(self.classify(out.features), out.aux_features, out.flows, aux_logits, loss_inputs)
