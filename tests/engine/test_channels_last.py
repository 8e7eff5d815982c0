"""``train.channels_last``: the model's weights and every batch's images in NHWC, same losses as NCHW."""

from __future__ import annotations

import torch

from alignseg.engine import load_config
from alignseg.engine.module import SegmentationModule


def module(tmp_path, channels_last: bool) -> SegmentationModule:
    config = load_config(None, ["model.name=sfnet_lite_r18", "train.max_steps=1", f"train.output_dir={tmp_path}",
                                f"train.channels_last={str(channels_last).lower()}"])
    torch.manual_seed(0)
    return SegmentationModule(config, class_names=["a", "b", "c"], palette=[[0] * 3] * 3)


def test_channels_last_converts_weights_and_batches_and_keeps_the_loss(tmp_path):
    assert load_config(None, ["train.max_steps=1"]).train.channels_last is False
    nchw, nhwc = module(tmp_path, False), module(tmp_path, True)
    kernels = [p for p in nhwc.model.parameters() if p.dim() == 4 and p.shape[-1] > 1]
    assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                           for p in kernels)
    images, labels = torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 64, 64))
    batch = nhwc.on_after_batch_transfer({"image": images.clone(), "label": labels}, 0)
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)
    assert nchw.on_after_batch_transfer({"image": images, "label": labels}, 0)["image"].is_contiguous()
    nhwc.model.load_state_dict(nchw.model.state_dict())
    losses = []
    for m, b in ((nchw, images), (nhwc, batch["image"])):
        torch.manual_seed(1)  # the same dropout masks
        losses.append(m.criterion(m.model.train()(b), labels)[0])
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-4, atol=1e-5)
