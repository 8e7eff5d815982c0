"""Cityscapes coarse boost (spec datasets.md 3): coarse ``train_extra`` images add class-uniform centroids to
the boost classes only; N, the per-class counts and the random part are the fine images'."""

import numpy as np
import pytest
from dataset_layouts import write_image, write_label

from alignseg.data import Cityscapes, ClassUniformSampler, DataError
from alignseg.engine.config import DataConfig
from alignseg.engine.data import build_split, build_train_plan

BOOST = [14, 15, 16, 3, 12, 17, 4]  # --coarse_boost_classes 14,15,16,3,12,17,4 (truck, bus, train, wall, ...)
FINE = 38  # 38 fine images: floor(38 * pct / 19) = 2 samples per class at pct 1.0


@pytest.fixture
def root(tmp_path):
    """38 fine images of road (7) / sidewalk (8) and 2 coarse images of road, truck (27), bus (28) and 0."""
    for k in range(FINE):
        name = f"aachen_{k:06d}_000019"
        write_image(tmp_path / "leftImg8bit" / "train" / "aachen" / f"{name}_leftImg8bit.png", 4, 8)
        label = np.full((4, 8), 7, np.uint8)
        label[:, 4:] = 8
        write_label(tmp_path / "gtFine" / "train" / "aachen" / f"{name}_gtFine_labelIds.png", label)
    for k in range(2):
        name = f"augsburg_000000_00000{k}"
        write_image(tmp_path / "leftImg8bit" / "train_extra" / "augsburg" / f"{name}_leftImg8bit.png", 4, 8)
        label = np.zeros((4, 8), np.uint8)  # 0 'unlabeled' (coarse labels leave most pixels unlabeled)
        label[:2, :4] = 7
        label[2:, 2:4] = 27  # truck: centroid (2.5, 2.5)
        label[:, 6:] = 28 if k == 0 else 0  # bus in the first coarse image only: centroid (6.5, 1.5)
        write_label(tmp_path / "gtCoarse" / "train_extra" / "augsburg" / f"{name}_gtCoarse_labelIds.png", label)
    return tmp_path


def test_coarse_images_follow_the_fine_ones(root):
    data = Cityscapes(root, "train", coarse=True)
    assert len(data) == FINE + 2 and data.primary_length == FINE
    assert data.samples[FINE][1].name == "augsburg_000000_000000_gtCoarse_labelIds.png"
    assert set(data[FINE]["label"].unique().tolist()) == {0, 14, 15, 255}
    assert Cityscapes(root, "train").primary_length == len(Cityscapes(root, "train")) == FINE


def test_boost_classes_draw_coarse_centroids_and_nothing_else_does(root, tmp_path):
    data = Cityscapes(root, "train", coarse=True)
    sampler = ClassUniformSampler(data, class_uniform_pct=1.0, tile_size=4, cache_dir=tmp_path / "cache",
                                  boost_classes=BOOST)
    assert sampler.per_class == 2 and sampler.sampled_classes == [0, 1, 14, 15]
    assert sampler.epoch_length == FINE - 19 * 2 + 4 * 2
    plan = sampler.plan(0)
    by_class = {c: [s for s in plan if s.class_id == c] for c in (0, 1, 14, 15)}
    assert all(len(v) == 2 for v in by_class.values()) and len(plan) == 8
    assert all(s.index < FINE for c in (0, 1) for s in by_class[c])  # road is in the coarse images, not boosted
    assert {s.index for s in by_class[14]} <= {FINE, FINE + 1}
    assert all(s.index == FINE and s.centroid == (6.5, 1.5) for s in by_class[15])
    assert {s.centroid for s in by_class[14]} == {(2.5, 2.5)}


def test_random_part_is_fine_images_only(root, tmp_path):
    data = Cityscapes(root, "train", coarse=True)
    sampler = ClassUniformSampler(data, class_uniform_pct=0.5, tile_size=4, cache_dir=tmp_path, boost_classes=BOOST)
    for epoch in range(5):
        plan = sampler.plan(epoch)
        random = [s for s in plan if s.centroid is None]
        assert len(random) == FINE - 19 and all(s.index < FINE for s in random)
        assert sum(s.class_id in (14, 15) for s in plan) == 2


def test_coarse_and_boost_classes_need_each_other(root, tmp_path):
    with pytest.raises(ValueError, match=r"extra \(coarse\) samples that only boost classes draw"):
        ClassUniformSampler(Cityscapes(root, "train", coarse=True), class_uniform_pct=0.5, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"no extra \(coarse\) samples"):
        ClassUniformSampler(Cityscapes(root, "train"), boost_classes=BOOST, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"must be class ids 0\.\.18"):
        ClassUniformSampler(Cityscapes(root, "train", coarse=True), boost_classes=[19], cache_dir=tmp_path)


def test_config_builds_the_boosted_plan(root, tmp_path):
    config = DataConfig(dataset="cityscapes", root=str(root), train_kwargs={"coarse": True}, class_uniform_pct=1.0,
                        class_uniform_tile=4, coarse_boost_classes=BOOST, cache_dir=str(tmp_path))
    train = build_split(config, "train")
    assert len(train) == FINE + 2 and build_train_plan(train, config, seed=0).sampled_classes == [0, 1, 14, 15]


def test_missing_coarse_label_names_the_file(root):
    (root / "gtCoarse" / "train_extra" / "augsburg" / "augsburg_000000_000001_gtCoarse_labelIds.png").unlink()
    with pytest.raises(DataError, match=r"augsburg_000000_000001_leftImg8bit\.png has no label: expected .*"
                                        r"augsburg_000000_000001_gtCoarse_labelIds\.png"):
        Cityscapes(root, "train", coarse=True)
