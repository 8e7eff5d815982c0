"""iSeg's multi-head axial attention (spec fapn_hfgd.md 2.2 and its "confirmed by running" details)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .self_attention import attention_softmax, query_key_value


class MultiHeadAxialAttention(nn.Module):
    """Column then row attention, both maps from the input's q and k; no residual, norm or projection.

    q, k, v are 1×1 convs with bias (q/k ``channels`` wide with the same initial Glorot weights, v
    keeps the width). Per head: ``A_h = softmax(q kᵀ / sqrt(d))`` along the height axis (one map per
    column) and ``A_w`` likewise along the width axis; the output is ``A_w (A_h v)``. Heads are merged
    in iSeg's interleaved channel order (output channel ``c · heads + g``). ``clip=True`` clips both
    maps to [1e-7, 1 - 1e-7] as iSeg does from 2023-10-20 on (the HFGD-era layer did not).
    """

    def __init__(self, channels: int, num_heads: int = 4, *, clip: bool = False) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"axial attention: {channels} channels do not split into {num_heads} heads")
        self.num_heads = num_heads
        self.clip = clip
        self.query, self.key, self.value = query_key_value(channels, channels)

    def _softmax(self, logits: Tensor) -> Tensor:
        attention = attention_softmax(logits)
        return attention.clamp(1e-7, 1 - 1e-7) if self.clip else attention

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        heads = self.num_heads

        def split(t: Tensor) -> Tensor:  # N, heads, d, H, W (head g holds channels g·d .. g·d + d - 1)
            return t.reshape(n, heads, -1, h, w)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scale = 1.0 / math.sqrt(q.shape[2])
        # A_h: N, heads, W, H, H (per column); A_w: N, heads, H, W, W (per row)
        a_h = self._softmax(torch.matmul(q.permute(0, 1, 4, 3, 2), k.permute(0, 1, 4, 2, 3)) * scale)
        a_w = self._softmax(torch.matmul(q.permute(0, 1, 3, 4, 2), k.permute(0, 1, 3, 2, 4)) * scale)
        y = torch.matmul(a_h, v.permute(0, 1, 4, 3, 2))  # N, heads, W, H, d
        y = torch.matmul(a_w, y.permute(0, 1, 3, 2, 4))  # N, heads, H, W, d
        return y.permute(0, 4, 1, 2, 3).reshape(n, -1, h, w)  # channel c · heads + g
