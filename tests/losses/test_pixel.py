"""Pixel losses against hand-computed values: CE, OHEM as released, hardest fraction."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from alignseg.losses import (
    LOSSES,
    CrossEntropy,
    HardestFractionCrossEntropy,
    OhemCrossEntropy,
    build_loss,
)

IGNORE = 255


def two_class_pixels(probs: list[float], ignored: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A 1×2×1×W batch whose pixels all have label 0 with ground-truth probability ``probs[i]``,
    followed by ``ignored`` ignored pixels that look very hard (probability 0.01 for class 0)."""
    p = torch.tensor(probs + [0.01] * ignored, dtype=torch.float32)
    logits = torch.stack([p.log(), (1 - p).log()]).view(1, 2, 1, -1).requires_grad_(True)
    labels = torch.tensor([0] * len(probs) + [IGNORE] * ignored).view(1, 1, -1)
    return logits, labels


def mean_nll(probs: list[float]) -> float:
    return sum(-math.log(p) for p in probs) / len(probs)


PROBS = [0.8, 0.1, 0.95, 0.5, 0.9, 0.3]  # sorted: 0.1 0.3 0.5 0.8 0.9 0.95


def released_ohem(logits, labels, thresh, min_kept, ignore=IGNORE):
    """The released OhemCrossEntropy2dTensor algorithm, written out with a full sort."""
    c = logits.shape[1]
    target = labels.flatten().clone()
    valid = target != ignore
    target[~valid] = 0
    prob = logits.softmax(1).transpose(0, 1).reshape(c, -1)
    if valid.sum() >= min_kept:
        prob = prob.masked_fill(~valid, 1.0)
        mask_prob = prob[target, torch.arange(target.numel())]
        threshold = thresh
        if min_kept > 0:
            order = mask_prob.argsort()
            t = mask_prob[order[min(len(order), min_kept) - 1]]
            threshold = max(thresh, t.item())
        valid = valid & (mask_prob <= threshold)
    target[~valid] = ignore
    return F.cross_entropy(logits, target.view_as(labels), ignore_index=ignore)


# --------------------------------------------------------------------------------------------- CE


def test_cross_entropy_matches_torch_and_resizes_with_align_corners():
    logits = torch.randn(2, 5, 4, 4)
    labels = torch.randint(0, 5, (2, 16, 16))
    labels[0, :3] = IGNORE
    up = F.interpolate(logits, size=(16, 16), mode="bilinear", align_corners=True)
    expected = F.cross_entropy(up, labels, ignore_index=IGNORE)
    assert torch.allclose(CrossEntropy()(logits, labels), expected, atol=1e-6)
    other = F.cross_entropy(
        F.interpolate(logits, size=(16, 16), mode="bilinear"), labels, ignore_index=IGNORE
    )
    assert not torch.allclose(expected, other, atol=1e-4)


def test_cross_entropy_class_weights_match_torch():
    logits, labels = torch.randn(2, 3, 6, 6), torch.randint(0, 3, (2, 6, 6))
    labels[1, 0] = IGNORE
    weight = torch.tensor([0.2, 1.0, 3.0])
    expected = F.cross_entropy(logits, labels, weight=weight, ignore_index=IGNORE)
    assert torch.allclose(CrossEntropy(weight=[0.2, 1.0, 3.0])(logits, labels), expected, atol=1e-6)


@pytest.mark.parametrize(
    "criterion", [CrossEntropy(), OhemCrossEntropy(min_kept=0), HardestFractionCrossEntropy()]
)
def test_all_ignored_gives_zero_loss_and_zero_gradient(criterion):
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = criterion(logits, torch.full((1, 4, 4), IGNORE))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="labels N×H×W"):
        CrossEntropy()(torch.randn(2, 3, 4, 4), torch.zeros(3, 4, 4, dtype=torch.long))


# ------------------------------------------------------------------------------------------- OHEM


def test_ohem_keeps_pixels_below_thresh_when_min_kept_th_probability_is_smaller():
    # min_kept=2: t = sorted[1] = 0.3 < 0.7, threshold 0.7 -> kept {0.1, 0.3, 0.5}.
    logits, labels = two_class_pixels(PROBS)
    loss = OhemCrossEntropy(thresh=0.7, min_kept=2)(logits, labels)
    assert loss.item() == pytest.approx(mean_nll([0.1, 0.3, 0.5]), rel=1e-5)


def test_ohem_threshold_rises_to_min_kept_th_probability():
    # min_kept=5: t = sorted[4] = 0.9 > 0.7, threshold 0.9 -> kept {0.1, 0.3, 0.5, 0.8, 0.9}.
    logits, labels = two_class_pixels(PROBS)
    loss = OhemCrossEntropy(thresh=0.7, min_kept=5)(logits, labels)
    assert loss.item() == pytest.approx(mean_nll([0.1, 0.3, 0.5, 0.8, 0.9]), rel=1e-5)


def test_ohem_min_kept_zero_keeps_only_pixels_below_thresh():
    logits, labels = two_class_pixels(PROBS)
    loss = OhemCrossEntropy(thresh=0.85, min_kept=0)(logits, labels)
    assert loss.item() == pytest.approx(mean_nll([0.1, 0.3, 0.5, 0.8]), rel=1e-5)


@pytest.mark.parametrize("min_kept", [6, 7, 100_000])
def test_ohem_is_plain_cross_entropy_without_enough_valid_pixels(min_kept):
    # 6 valid pixels: min_kept=6 keeps all (t = 0.95), more than 6 falls back to plain CE.
    logits, labels = two_class_pixels(PROBS)
    loss = OhemCrossEntropy(thresh=0.7, min_kept=min_kept)(logits, labels)
    assert loss.item() == pytest.approx(mean_nll(PROBS), rel=1e-5)
    assert torch.allclose(loss, F.cross_entropy(logits, labels, ignore_index=IGNORE))


def test_ohem_gradient_is_zero_on_dropped_and_ignored_pixels():
    logits, labels = two_class_pixels(PROBS, ignored=2)
    OhemCrossEntropy(thresh=0.7, min_kept=2)(logits, labels).backward()
    kept = [p <= 0.7 for p in PROBS] + [False, False]
    per_pixel = logits.grad.abs().sum(dim=1).flatten()
    for is_kept, grad in zip(kept, per_pixel.tolist(), strict=True):
        assert (grad > 0) == is_kept


def test_ohem_ignored_pixels_never_contribute():
    logits, labels = two_class_pixels(PROBS, ignored=3)
    other = logits.detach().clone()
    other[..., -3:] = torch.randn(1, 2, 1, 3) * 10
    criterion = OhemCrossEntropy(thresh=0.7, min_kept=4)
    assert torch.allclose(criterion(logits, labels), criterion(other, labels))


@pytest.mark.parametrize(("thresh", "min_kept"), [(0.7, 1), (0.7, 20), (0.3, 50), (0.7, 0), (0.9, 400)])
def test_ohem_matches_the_released_algorithm(thresh, min_kept):
    logits = torch.randn(2, 5, 12, 12) * 2
    labels = torch.randint(0, 5, (2, 12, 12))
    labels[labels == 4] = IGNORE
    expected = released_ohem(logits, labels, thresh, min_kept)
    actual = OhemCrossEntropy(thresh=thresh, min_kept=min_kept)(logits, labels)
    assert torch.allclose(actual, expected, atol=1e-6)


# -------------------------------------------------------------------------------- hardest fraction


def test_hardest_fraction_is_the_mean_of_the_largest_losses():
    probs = [0.9, 0.05, 0.6, 0.2, 0.99, 0.4, 0.7, 0.15, 0.8, 0.5]  # 10 valid pixels
    logits, labels = two_class_pixels(probs, ignored=2)  # ignored pixels (p = 0.01) would rank first
    # 30% of 10 -> the 3 hardest: p = 0.05, 0.15, 0.2.
    loss = HardestFractionCrossEntropy(fraction=0.3)(logits, labels)
    assert loss.item() == pytest.approx(mean_nll([0.05, 0.15, 0.2]), rel=1e-5)
    # 1% of 10 rounds to 0 -> at least the hardest pixel.
    loss = HardestFractionCrossEntropy(fraction=0.01)(logits, labels)
    assert loss.item() == pytest.approx(-math.log(0.05), rel=1e-5)
    loss = HardestFractionCrossEntropy(fraction=1.0)(logits, labels)
    assert loss.item() == pytest.approx(mean_nll(probs), rel=1e-5)


def test_hardest_fraction_rejects_bad_fraction():
    with pytest.raises(ValueError, match="fraction"):
        HardestFractionCrossEntropy(fraction=0.0)


# ------------------------------------------------------------------------------------ build_loss


def test_build_loss_by_name():
    assert set(LOSSES) == {"ce", "ohem", "hardest_fraction"}
    ohem = build_loss("ohem", thresh=0.6, min_kept=10)
    assert isinstance(ohem, OhemCrossEntropy) and (ohem.thresh, ohem.min_kept) == (0.6, 10)
    assert isinstance(build_loss("hardest_fraction", fraction=0.2), HardestFractionCrossEntropy)
    assert isinstance(build_loss("ce"), CrossEntropy)


def test_build_loss_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'focal'; valid names: ce, hardest_fraction, ohem"):
        build_loss("focal")
