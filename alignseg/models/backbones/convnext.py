"""ConvNeXt-T/S/B/L (Liu et al., CVPR 2022) with timm's module names, as segmentation trunks.

The modules are named as in timm's ``convnext_{tiny,small,base,large}`` (``stem.0/1``,
``stages.i.downsample.0/1``, ``stages.i.blocks.j.{conv_dw,norm,mlp.fc1,mlp.fc2,gamma}``), so a timm
ImageNet state dict loads strictly once its classifier (``head.*``, ``norm_pre.*``) is dropped. As in the
ConvNeXt segmentation code (mmseg / ConvNeXt-seg ``norm{i}``), each stage's output passes through its own
channels-first LayerNorm (``norm0..norm3``), which ImageNet files do not hold: they start as the identity
affine (weight 1, bias 0) and, under layer-wise lr decay, train at the decoder's rate.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..weights import WeightsError
from .base import Backbone, FeatureInfo

logger = logging.getLogger(__name__)

# name -> (blocks per stage, channels per stage), as timm's and the paper's Table 9 configurations
ARCHS: dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
}
LN_EPS = 1e-6  # ConvNeXt's LayerNorm epsilon (timm and the official code)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W map ("channels-first"), eps 1e-6.

    A subclass of ``nn.LayerNorm`` so that optimisers exempt it from weight decay like every norm layer.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=LN_EPS)

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a residual branch for each sample with probability ``p`` and
    scale the kept ones by 1/(1 − p); the identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Mlp(nn.Module):
    """Linear C→4C, GELU, Linear 4C→C on channels-last tensors (timm's ``mlp.fc1`` / ``mlp.fc2``)."""

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, ratio * channels)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(ratio * channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ConvNeXtBlock(nn.Module):
    """7×7 depthwise conv → LayerNorm → MLP (×4) → layer scale ``gamma`` → drop path, plus the identity.

    The norm and MLP run channels-last (``nn.Linear`` weights, as timm stores them). ``gamma`` starts at
    ``layer_scale_init`` (1e-6) and, like biases and norms, is exempt from weight decay (``no_weight_decay``).
    """

    no_weight_decay = ("gamma",)

    def __init__(self, channels: int, *, drop_path: float = 0.0, layer_scale_init: float = 1e-6) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=LN_EPS)
        self.mlp = Mlp(channels)
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale_init))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        y = self.mlp(self.norm(self.conv_dw(x).permute(0, 2, 3, 1))) * self.gamma
        return x + self.drop_path(y.permute(0, 3, 1, 2))


class ConvNeXtStage(nn.Module):
    """Optional downsampling (LayerNorm2d → 2×2 stride-2 conv; identity for the first stage), then blocks."""

    def __init__(self, in_channels: int, channels: int, drop_paths: list[float], *, downsample: bool,
                 layer_scale_init: float) -> None:
        super().__init__()
        self.downsample: nn.Module = (
            nn.Sequential(LayerNorm2d(in_channels), nn.Conv2d(in_channels, channels, 2, stride=2))
            if downsample else nn.Identity()
        )
        self.blocks = nn.Sequential(*(ConvNeXtBlock(channels, drop_path=p, layer_scale_init=layer_scale_init)
                                      for p in drop_paths))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.downsample(x))


class ConvNeXt(Backbone):
    """ConvNeXt returning the four stage outputs, each through its LayerNorm ``norm{i}``, at strides 4–32.

    ``drop_path_rate`` is stochastic depth rising linearly over all blocks from 0 to the rate (timm's
    ``linspace(0, rate, sum(depths))``); it is active in training mode only.
    """

    def __init__(self, depths: tuple[int, ...], dims: tuple[int, ...], *, drop_path_rate: float = 0.0,
                 layer_scale_init: float = 1e-6, in_channels: int = 3) -> None:
        super().__init__()
        if len(depths) != 4 or len(dims) != 4:
            raise ValueError(f"ConvNeXt needs 4 stage depths and 4 widths, got {depths} and {dims}")
        self.depths, self.dims, self.in_channels = tuple(depths), tuple(dims), in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, dims[0], 4, stride=4), LayerNorm2d(dims[0]))
        total = sum(depths)
        rates = [drop_path_rate * k / max(total - 1, 1) for k in range(total)]  # linspace, also on "meta"
        stages, start = [], 0
        for i, (depth, width) in enumerate(zip(depths, dims, strict=True)):
            stages.append(ConvNeXtStage(dims[max(i - 1, 0)], width, rates[start:start + depth], downsample=i > 0,
                                        layer_scale_init=layer_scale_init))
            start += depth
        self.stages = nn.Sequential(*stages)
        for i, width in enumerate(dims):
            self.add_module(f"norm{i}", LayerNorm2d(width))
        self.feature_info = [FeatureInfo(width, 4 * 2**i) for i, width in enumerate(dims)]
        self._init_weights()

    def _init_weights(self) -> None:
        """timm's init: truncated-normal (std 0.02) conv and linear weights, zero biases; norms at 1/0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        feats = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            feats.append(getattr(self, f"norm{i}")(x))
        return feats

    @classmethod
    def remap_pretrained(
        cls, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Keep timm's names; drop the ImageNet classifier (``head.*``, ``norm_pre.*``); add identity
        ``norm{i}`` output norms when the file has none (logged), sized from each stage's last block."""
        out = {k: v for k, v in state_dict.items() if not k.startswith(("head.", "norm_pre."))}
        dropped = [k for k in state_dict if k not in out]
        added = []
        for i in range(4):
            if f"norm{i}.weight" in out or f"norm{i}.bias" in out:
                continue
            width = next((v.shape[0] for k, v in out.items()
                          if k.startswith(f"stages.{i}.blocks.") and k.endswith(".gamma")), None)
            if width is None:
                raise WeightsError(f"no 'stages.{i}.blocks.*.gamma' key: not a ConvNeXt state dict in timm's names")
            out[f"norm{i}.weight"], out[f"norm{i}.bias"] = torch.ones(width), torch.zeros(width)
            added.append(f"norm{i}")
        if added:
            logger.info("ConvNeXt: per-stage output norms %s are not in the file (an ImageNet checkpoint): "
                        "initialised to the identity affine (weight 1, bias 0)", ", ".join(added))
        return out, dropped

    # -- layer-wise learning-rate decay (mmseg LearningRateDecayOptimizerConstructor, ConvNeXt rules) ------

    def lr_min_num_layers(self, decay_type: str) -> int:
        """The smallest ``num_layers`` (mmseg's ``paramwise_cfg.num_layers``) that numbers every backbone
        layer below the decoder: ``layer_wise`` 3 + ceil(depth₂/3) (6 for T, 12 for S/B/L), ``stage_wise`` 4."""
        _check_decay_type(decay_type)
        return 3 + -(-self.depths[2] // 3) if decay_type == "layer_wise" else 4

    def lr_layer_id(self, name: str, decay_type: str, num_layers: int) -> int:
        """Layer id of the backbone parameter ``name`` (mmseg's ConvNeXt rules, in timm's names).

        ``layer_wise``: stem 0; stage-0 blocks 1; stage 1 (downsample and blocks) 2; stage-2 downsample 3
        and its block j 3 + j // 3; stage 3 ``num_layers``. ``stage_wise``: stem and every downsample 0,
        stage i's blocks i + 1. The output norms ``norm{i}`` are new layers: ``num_layers + 1``, the
        decoder's id (mmseg's ``backbone.norm{i}`` fall in its "everything else" branch).
        """
        _check_decay_type(decay_type)
        parts = name.split(".")
        if parts[0] == "stem":
            return 0
        if parts[0] != "stages":
            return num_layers + 1
        stage = int(parts[1])
        if decay_type == "stage_wise":
            return 0 if parts[2] == "downsample" else stage + 1
        if stage == 3:
            return num_layers
        if stage == 2:
            return 3 if parts[2] == "downsample" else 3 + int(parts[3]) // 3
        return stage + 1


def _check_decay_type(decay_type: str) -> None:
    if decay_type not in ("layer_wise", "stage_wise"):
        raise ValueError(f"layer decay type must be 'layer_wise' or 'stage_wise', got {decay_type!r}")


def _factory(arch: str):
    depths, dims = ARCHS[arch]

    def build(*, drop_path_rate: float = 0.0, layer_scale_init: float = 1e-6, in_channels: int = 3) -> ConvNeXt:
        return ConvNeXt(depths, dims, drop_path_rate=drop_path_rate, layer_scale_init=layer_scale_init,
                        in_channels=in_channels)

    build.__name__ = f"convnext_{arch}"
    build.__doc__ = f"ConvNeXt-{arch[0].upper()} (depths {depths}, widths {dims}); timm's convnext_{arch} trunk."
    return build


convnext_tiny = _factory("tiny")
convnext_small = _factory("small")
convnext_base = _factory("base")
convnext_large = _factory("large")
