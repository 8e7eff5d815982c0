"""Inference modes: sliding window and multi-scale + flip against whole-image inference and known models."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alignseg.evaluation import (
    multi_scale_inference,
    sliding_window_inference,
    tile_starts,
    whole_inference,
)


def pointwise_model(classes: int = 5) -> nn.Module:
    """A 1×1 conv: translation- and flip-equivariant, so tiling and flipping change nothing."""
    return nn.Conv2d(3, classes, kernel_size=1).eval()


class Recorder(nn.Module):
    """Records the (row, column) of each tile's top-left pixel (encoded in channels 0/1) and its size."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int, int, int]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append((int(x[0, 0, 0, 0]), int(x[0, 1, 0, 0]), x.shape[-2], x.shape[-1]))
        return torch.zeros(x.shape[0], 2, *x.shape[-2:])


def coordinate_image(height: int, width: int) -> Tensor:
    rows = torch.arange(height, dtype=torch.float32).view(-1, 1).expand(height, width)
    cols = torch.arange(width, dtype=torch.float32).view(1, -1).expand(height, width)
    return torch.stack([rows, cols, torch.zeros(height, width)])[None]


def test_whole_inference_runs_without_gradients_and_resizes_to_input():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4, padding=1)).eval()
    logits = whole_inference(model, torch.randn(2, 3, 16, 20), align_corners=True)
    assert logits.shape == (2, 4, 16, 20)
    assert not logits.requires_grad


def test_a_training_mode_dict_output_is_a_clear_error():
    with pytest.raises(TypeError, match=r"model.eval\(\)"):
        whole_inference(lambda x: {"out": x, "aux": []}, torch.randn(1, 3, 4, 4), align_corners=True)


def test_tile_starts_cover_the_image_with_the_last_tile_on_the_border():
    assert tile_starts(20, 8, 6) == [0, 6, 12]
    assert tile_starts(27, 8, 6) == [0, 6, 12, 18, 19]
    assert tile_starts(8, 8, 6) == [0]
    # Cityscapes 1024×2048 with the released 832 crop and stride ceil(832 · 2/3) = 555.
    assert tile_starts(1024, 832, 555) == [0, 192]
    assert tile_starts(2048, 832, 555) == [0, 555, 1110, 1216]


def test_sliding_window_visits_the_expected_tiles_with_the_released_stride():
    model = Recorder()
    sliding_window_inference(model, coordinate_image(10, 15), window=6, align_corners=True)  # stride ceil(6 · 2/3) = 4
    assert model.calls == [(r, c, 6, 6) for r in (0, 4) for c in (0, 4, 8, 9)]


def test_sliding_window_as_large_as_the_image_equals_whole_inference():
    model = nn.Conv2d(3, 4, 3, padding=1).eval()
    image = torch.randn(2, 3, 12, 17)
    expected = whole_inference(model, image, align_corners=True)
    assert (sliding_window_inference(model, image, window=(12, 17), align_corners=True) - expected).abs().max() < 1e-6


@pytest.mark.parametrize(("size", "window", "stride"), [((20, 27), 8, None), ((23, 16), (9, 5), (4, 3))])
def test_overlapping_windows_on_a_pointwise_model_equal_whole_inference(size, window, stride):
    model = pointwise_model()
    image = torch.randn(2, 3, *size)
    logits = sliding_window_inference(model, image, window=window, stride=stride, align_corners=True)
    assert logits.shape == (2, 5, *size)
    assert torch.allclose(logits, whole_inference(model, image, align_corners=True), atol=1e-6)


def test_image_smaller_than_the_window_is_zero_padded_bottom_right_and_cropped_back():
    # Zero padding at the bottom/right is what a zero-padded 3×3 conv sees at those borders anyway.
    model = nn.Conv2d(3, 4, 3, padding=1).eval()
    image = torch.randn(1, 3, 5, 7)
    logits = sliding_window_inference(model, image, window=(8, 10), align_corners=True)
    assert logits.shape == (1, 4, 5, 7)
    assert torch.allclose(logits, whole_inference(model, image, align_corners=True), atol=1e-6)
    recorder = Recorder()
    sliding_window_inference(recorder, coordinate_image(5, 12), window=8, align_corners=True)  # padded to 8×12
    assert recorder.calls == [(0, 0, 8, 8), (0, 4, 8, 8)]


def test_sliding_window_rejects_gaps_between_tiles():
    with pytest.raises(ValueError, match="leaves gaps"):
        sliding_window_inference(pointwise_model(), torch.randn(1, 3, 8, 8), window=4, stride=5, align_corners=True)


def test_multi_scale_with_one_scale_and_no_flip_is_whole_inference():
    model = nn.Conv2d(3, 4, 3, padding=1).eval()
    image = torch.randn(2, 3, 9, 14)
    expected = whole_inference(model, image, align_corners=True)
    assert torch.equal(multi_scale_inference(model, image, align_corners=True), expected)
    assert torch.equal(
        multi_scale_inference(model, image, mode="sliding", window=(9, 14), align_corners=True),
        sliding_window_inference(model, image, window=(9, 14), align_corners=True),
    )


def test_flip_on_a_flip_equivariant_model_changes_nothing():
    model = nn.Conv2d(3, 4, 3, padding=1).eval()
    with torch.no_grad():
        model.weight.add_(model.weight.flip(-1))  # left-right symmetric kernels
    image = torch.randn(1, 3, 10, 13)
    flipped = multi_scale_inference(model, image, scales=(1.0, 0.5), flip=True, align_corners=True)
    plain = multi_scale_inference(model, image, scales=(1.0, 0.5), align_corners=True)
    assert torch.allclose(flipped, plain, atol=1e-5)


def test_flipped_pass_is_flipped_back_before_averaging():
    def column_ramp(x: Tensor) -> Tensor:  # logits = column index, whatever the input
        return torch.arange(x.shape[-1], dtype=torch.float32).expand(x.shape[0], 1, *x.shape[-2:])

    logits = multi_scale_inference(column_ramp, torch.zeros(1, 3, 4, 7), flip=True, align_corners=True)
    # Pass 1: 0..6; pass 2 flipped back: 6..0; the mean is 3 everywhere.
    assert torch.allclose(logits, torch.full((1, 1, 4, 7), 3.0))


@pytest.mark.parametrize("align_corners", [True, False])
def test_multi_scale_resizes_with_the_model_convention(align_corners):
    def column_ramp(x: Tensor) -> Tensor:
        return torch.arange(x.shape[-1], dtype=torch.float32).expand(x.shape[0], 1, *x.shape[-2:])

    logits = multi_scale_inference(column_ramp, torch.zeros(1, 3, 6, 10), scales=(0.5,), align_corners=align_corners)
    expected = F.interpolate(column_ramp(torch.zeros(1, 3, 3, 5)), size=(6, 10), mode="bilinear",
                             align_corners=align_corners)
    assert torch.allclose(logits, expected)
    other = F.interpolate(column_ramp(torch.zeros(1, 3, 3, 5)), size=(6, 10), mode="bilinear",
                          align_corners=not align_corners)
    assert not torch.allclose(logits, other)


# Whole: heights 2, 4, 8. Sliding (window 4, ×2 at scale 2): the 2×3 image is padded to 4×4 -> 4, 4, 8.
@pytest.mark.parametrize(("mode", "expected"), [("whole", 14 / 3), ("sliding", 16 / 3)])
def test_passes_are_averaged_as_logits(mode, expected):
    def height_logits(x: Tensor) -> Tensor:  # logits (height of the model input, 0) at every pixel
        n, _, h, w = x.shape
        return torch.stack([torch.full((n, h, w), float(h)), torch.zeros(n, h, w)], dim=1)

    image = torch.zeros(1, 3, 4, 6)
    logits = multi_scale_inference(height_logits, image, scales=(0.5, 1.0, 2.0), mode=mode, window=4,
                                   align_corners=True)
    # The mean of the logits themselves (averaged softmax scores would lie in [0, 1]).
    assert torch.allclose(logits[:, 0], torch.full((1, 4, 6), expected))
    assert torch.allclose(logits[:, 1], torch.zeros(1, 4, 6))


def test_scaled_sizes_truncate_and_sliding_windows_grow_with_scales_above_one():
    recorder = Recorder()
    multi_scale_inference(recorder, torch.zeros(1, 3, 7, 10), scales=(0.75,), align_corners=True)
    assert recorder.calls[0][2:] == (5, 7)  # int(7 · 0.75), int(10 · 0.75)

    recorder = Recorder()
    multi_scale_inference(recorder, torch.zeros(1, 3, 8, 8), scales=(0.5, 2.0), mode="sliding", window=4,
                          align_corners=True)
    sizes = [call[2:] for call in recorder.calls]
    assert sizes[0] == (4, 4)  # the 4×4 image at scale 0.5 is padded to the window
    assert set(sizes[1:]) == {(8, 8)}  # window 4 · 2 on the 16×16 image
    recorder = Recorder()
    multi_scale_inference(
        recorder, torch.zeros(1, 3, 8, 8), scales=(2.0,), mode="sliding", window=4, scale_window=False,
        align_corners=True,
    )
    assert {call[2:] for call in recorder.calls} == {(4, 4)}


def test_multi_scale_argument_errors():
    image = torch.zeros(1, 3, 4, 4)
    with pytest.raises(ValueError, match="needs a window"):
        multi_scale_inference(pointwise_model(), image, mode="sliding", align_corners=True)
    with pytest.raises(ValueError, match="mode must be"):
        multi_scale_inference(pointwise_model(), image, mode="pooling", align_corners=True)
    with pytest.raises(ValueError, match="scales"):
        multi_scale_inference(pointwise_model(), image, scales=(), align_corners=True)
