"""Class-uniform sampling: centroids, epoch composition, the on-disk cache, checkpointable state, crops."""

import os
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from alignseg.data import (
    CentroidIndex,
    ClassUniformSampler,
    ImageFolderDataset,
    tile_centroids,
    train_transforms,
)


def test_tile_centroids_by_hand():
    label = np.zeros((4, 8), np.uint8)  # tile 4 -> two 4x4 tiles, x 0..3 and 4..7
    label[0, 0] = 255  # ignored
    label[1, 1:3] = 1  # tile 0: (1, 1), (2, 1)
    label[3, 3] = 2  # tile 0
    label[[0, 2], 6] = 2  # tile 1: (6, 0), (6, 2)
    found = sorted(tile_centroids(label, tile_size=4, num_classes=3))
    expected = sorted([
        (0, 18 / 12, 19 / 12),  # tile 0 background: 12 pixels, x sum 24-3-3-0, y sum 24-2-3-0
        (1, 1.5, 1.0),
        (2, 3.0, 3.0),
        (0, 76 / 14, 22 / 14),  # tile 1 background: x sum 88-12, y sum 24-2
        (2, 6.0, 1.0),
    ])  # fmt: skip
    assert len(found) == len(expected)
    for (c, x, y), (ec, ex, ey) in zip(found, expected, strict=True):
        assert c == ec and x == pytest.approx(ex) and y == pytest.approx(ey)


def test_tiles_use_floor_division_and_at_least_one_tile():
    label = np.zeros((6, 10), np.uint8)
    label[5, 9] = 1  # outside the 1x2 full tiles of size 4: not used
    assert {c for c, _, _ in tile_centroids(label, 4, 2)} == {0}
    small = np.ones((3, 5), np.uint8)  # smaller than a tile: one tile over the whole map
    assert tile_centroids(small, 1024, 2) == [(1, 2.0, 1.0)]


def make_dataset(root, count=20, transform=None):
    """``count`` 24x32 images; image i holds a 5x5 blob of class 1 and, when i is even, one of class 2."""
    images, labels = root / "img", root / "lbl"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        label = np.zeros((24, 32), np.uint8)
        label[2 + i % 10 : 7 + i % 10, 3:8] = 1
        if i % 2 == 0:
            label[15:20, 20 + i % 8 : 25 + i % 8] = 2
        Image.fromarray(np.full((24, 32, 3), 40 * (i % 5), np.uint8)).save(images / f"{i:02d}.png")
        Image.fromarray(label).save(labels / f"{i:02d}.png")
    return ImageFolderDataset(
        images, labels, class_names=("bg", "one", "two", "never"), image_suffix=".png", transform=transform
    )


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "data")


def test_epoch_counts_per_class(dataset, tmp_path):
    sampler = ClassUniformSampler(dataset, class_uniform_pct=0.5, tile_size=1024, cache_dir=tmp_path / "cache")
    # N = 20, 4 classes: n_c = floor(20 * 0.5 / 4) = 2; class 3 has no centroid and is skipped.
    assert sampler.per_class == 2 and sampler.sampled_classes == [0, 1, 2]
    plan = sampler.plan(0)
    assert Counter(s.class_id for s in plan) == {0: 2, 1: 2, 2: 2, None: 20 - 4 * 2}
    assert len(sampler) == len(plan) == 18
    assert all(s.index % 2 == 0 for s in plan if s.class_id == 2)  # class 2 only in even images
    randoms = [s.index for s in plan if s.centroid is None]
    assert len(set(randoms)) == len(randoms)  # whole images drawn without repetition
    assert sampler.plan(0) == plan and sampler.plan(1) != plan


def test_cache_hit_and_rebuild_after_a_label_changes(dataset, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = ClassUniformSampler(dataset, cache_dir=cache)
    assert not first.index.from_cache and len(list(cache.glob("centroids-*.npz"))) == 1

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    with monkeypatch.context() as patch:
        patch.setattr(CentroidIndex, "build", no_rebuild)
        second = ClassUniformSampler(dataset, cache_dir=cache)
    assert second.index.from_cache
    assert np.array_equal(second.index.xy, first.index.xy)

    changed = dataset.samples[1][1]
    Image.fromarray(np.full((24, 32), 3, np.uint8)).save(changed)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    third = ClassUniformSampler(dataset, cache_dir=cache)
    assert not third.index.from_cache
    assert 3 in third.sampled_classes and 3 not in first.sampled_classes
    assert ClassUniformSampler(dataset, cache_dir=cache).index.from_cache


def test_corrupt_cache_is_rebuilt_with_a_warning(dataset, tmp_path):
    ClassUniformSampler(dataset, cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("centroids-*.npz")
    cache_file.write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="rebuilding the unreadable centroid cache"):
        sampler = ClassUniformSampler(dataset, cache_dir=tmp_path)
    assert not sampler.index.from_cache
    assert ClassUniformSampler(dataset, cache_dir=tmp_path).index.from_cache


def test_state_dict_resumes_the_same_sequence(dataset, tmp_path):
    sampler = ClassUniformSampler(dataset, cache_dir=tmp_path, seed=3)
    list(sampler)
    list(sampler)
    state = sampler.state_dict()
    assert state == {"epoch": 2, "seed": 3}
    expected = list(sampler)

    resumed = ClassUniformSampler(dataset, cache_dir=tmp_path, seed=0)
    resumed.load_state_dict(state)
    assert list(resumed) == expected
    resumed.set_epoch(2)
    assert list(resumed) == expected


def test_ranks_share_one_plan(dataset, tmp_path):
    ranks = [ClassUniformSampler(dataset, cache_dir=tmp_path, num_replicas=4, rank=r) for r in range(4)]
    parts = [list(r) for r in ranks]
    assert all(len(p) == len(ranks[0]) == 5 for p in parts)  # ceil(18 / 4), padded by wrapping
    plan = [(s.index, s.centroid) for s in ranks[0].plan(0)]
    assert sorted((item for part in parts for item in part), key=str) == sorted(plan + plan[:2], key=str)


def test_no_class_uniform_part_is_a_shuffle(dataset, tmp_path):
    sampler = ClassUniformSampler(dataset, class_uniform_pct=0.0, cache_dir=tmp_path)
    assert sampler.index is None and sorted(i for i, _ in sampler) == list(range(20))


def test_loader_crops_contain_the_sampled_class(tmp_path):
    transform = train_transforms(12, scale_range=(0.75, 1.5), color_jitter=None, blur_sigma=None, seed=0)
    data = make_dataset(tmp_path / "data", transform=transform)
    sampler = ClassUniformSampler(data, class_uniform_pct=1.0, cache_dir=tmp_path / "cache")
    plan = sampler.plan(0)
    loader = torch.utils.data.DataLoader(data, batch_size=4, sampler=sampler)
    labels = torch.cat([batch["label"] for batch in loader])
    assert labels.shape == (len(plan), 12, 12)
    for planned, label in zip(plan, labels, strict=True):
        if planned.class_id in (1, 2):
            assert (label == planned.class_id).any()
