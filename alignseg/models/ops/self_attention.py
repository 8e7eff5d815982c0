"""CAR's full self-attention (spec fapn_hfgd.md 2.3): the context layer inside HFGD's CAE."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def shared_glorot_init(*convs: nn.Conv2d) -> None:
    """Glorot-uniform weights equal in every conv (iSeg's ``SharedInitializer`` for q and k), zero biases."""
    nn.init.xavier_uniform_(convs[0].weight)
    for conv in convs:
        if conv is not convs[0]:
            conv.weight.data.copy_(convs[0].weight.data)
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)


def query_key_value(channels: int, key_channels: int) -> tuple[nn.Conv2d, nn.Conv2d, nn.Conv2d]:
    """CAR's 1×1 query and key convs to ``key_channels`` (from the same Glorot weights) and value conv keeping
    the width, all with bias."""
    query, key = nn.Conv2d(channels, key_channels, 1), nn.Conv2d(channels, key_channels, 1)
    value = nn.Conv2d(channels, channels, 1)
    shared_glorot_init(query, key)
    shared_glorot_init(value)
    return query, key, value


def attention_softmax(logits: Tensor) -> Tensor:
    """Softmax over the last axis computed in fp32 (iSeg's ``safed_softmax``), returned in the input dtype."""
    return torch.softmax(logits.float(), dim=-1).to(logits.dtype)


class SelfAttention(nn.Module):
    """``x + softmax(q kᵀ) v`` over all positions, with no 1/sqrt(d) scale (CAR's ``SelfAttention``).

    q and k are 1×1 convs (with bias) to ``key_channels`` starting from the same Glorot weights;
    v is a 1×1 conv (with bias) keeping the width.
    """

    def __init__(self, channels: int, key_channels: int = 64) -> None:
        super().__init__()
        self.query, self.key, self.value = query_key_value(channels, key_channels)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # N, HW, d
        k = self.key(x).flatten(2)  # N, d, HW
        v = self.value(x).flatten(2).transpose(1, 2)  # N, HW, C
        out = torch.matmul(attention_softmax(torch.matmul(q, k)), v)  # N, HW, C
        return x + out.transpose(1, 2).reshape(n, c, h, w)
