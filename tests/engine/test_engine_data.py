"""Training data as a pure function of (seed, epoch, position): sharding, mid-epoch resume, workers."""

from __future__ import annotations

import pytest
import torch

from alignseg.data import ClassUniformSampler, ProceduralShapes
from alignseg.engine.config import DataConfig
from alignseg.engine.data import (
    ResumableSampler,
    ShardSampler,
    build_split,
    build_train_loader,
    build_train_sampler,
    build_train_transform,
)


def shapes(n=10, **kw):
    return ProceduralShapes(num_samples=n, size=32, num_classes=4, seed=0, **kw)


def sampler(dataset, replicas=1, rank=0, batch_size=1, pct=0.0, seed=3, cache_dir=None):
    plan = ClassUniformSampler(dataset, class_uniform_pct=pct, seed=seed, cache_dir=cache_dir)
    return ResumableSampler(plan, seed=seed, num_replicas=replicas, rank=rank, batch_size=batch_size)


def test_epochs_are_reproducible_and_differ():
    first, second = sampler(shapes()), sampler(shapes())
    epoch0, epoch1 = list(first), list(first)
    assert epoch0 == list(second) and epoch1 == list(second)
    assert [i for i, _, _ in epoch0] != [i for i, _, _ in epoch1]
    assert sorted(i for i, _, _ in epoch0) == list(range(10))  # pct 0: a shuffle of every image
    assert len({s for _, _, s in epoch0}) == 10  # one augmentation seed per position


def test_ranks_share_one_padded_plan():
    dataset = shapes(10)
    whole = list(sampler(dataset))
    ranks = [list(sampler(dataset, replicas=3, rank=r)) for r in range(3)]
    assert [len(r) for r in ranks] == [4, 4, 4]  # ceil(10 / 3), padded by wrapping around
    interleaved = [ranks[p % 3][p // 3] for p in range(12)]
    assert [i for i, _, _ in interleaved[:10]] == [i for i, _, _ in whole]
    assert [s for _, _, s in interleaved[:10]] == [s for _, _, s in whole]
    assert [i for i, _, _ in interleaved[10:]] == [i for i, _, _ in whole[:2]]


@pytest.mark.parametrize("replicas", [1, 2])
def test_resume_mid_epoch_continues_the_same_stream(replicas):
    dataset = shapes(12)
    straight = [sampler(dataset, replicas, r, batch_size=2) for r in range(replicas)]
    plays = [[list(s), list(s)] for s in straight]  # epochs 0 and 1 per rank
    for rank in range(replicas):
        resumed = sampler(dataset, replicas, rank, batch_size=2)
        resumed.resume(epoch=1, consumed=2 * 2 * replicas)  # two batches done on every rank
        assert list(resumed) == plays[rank][1][4:]
        assert resumed.epoch == 2 and list(resumed) == list(sampler_at(dataset, replicas, rank, 2))


def sampler_at(dataset, replicas, rank, epoch):
    s = sampler(dataset, replicas, rank, batch_size=2)
    s.resume(epoch, 0)
    return s


def test_a_finished_epoch_resumes_at_the_next():
    dataset = shapes(11)
    s = sampler(dataset, batch_size=4)  # 11 samples: 2 full batches, the last 3 samples are dropped
    s.resume(epoch=0, consumed=8)
    assert s.epoch == 1 and s.consumed == 0
    assert s.state_dict() == {"epoch": 1, "consumed": 0, "seed": 3}


def test_shard_sampler_has_no_duplicates():
    shards = [list(ShardSampler(7, 3, r)) for r in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(7))
    assert [len(ShardSampler(7, 3, r)) for r in range(3)] == [3, 2, 2]


def test_class_uniform_pct_uses_centroids(tmp_path):
    dataset = shapes(16)
    items = list(sampler(dataset, pct=0.5, cache_dir=tmp_path))
    assert any(c is not None for _, c, _ in items) and any(c is None for _, c, _ in items)


def test_batches_do_not_depend_on_workers_or_resume():
    config = DataConfig(dataset="shapes", train_kwargs={"num_samples": 8, "size": 48, "seed": 0}, crop_size=40,
                        scale_range=[0.5, 1.5], color_jitter=0.2, blur=True, batch_size=2)
    dataset = build_split(config, "train", build_train_transform(config, seed=0))

    def batches(workers, resume=None):
        config.workers = workers
        s = build_train_sampler(dataset, config, seed=5)
        if resume:
            s.resume(*resume)
        return [(b["image"], b["label"]) for b in build_train_loader(dataset, s, config, seed=5)]

    serial = batches(0)
    parallel = batches(2)
    resumed = batches(0, resume=(0, 4))
    assert len(serial) == len(parallel) == 4 and len(resumed) == 2
    for (a, la), (b, lb) in zip(serial, parallel, strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)
    for (a, la), (b, lb) in zip(serial[2:], resumed, strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.equal(serial[0][0], serial[1][0])


def test_build_split_passes_root_and_split_only_when_taken(tmp_path):
    config = DataConfig(dataset="shapes", root="/somewhere")
    with pytest.raises(ValueError, match="takes no root"):
        build_split(config, "val")
    config = DataConfig(dataset="camvid", root=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="not a CamVid folder"):
        build_split(config, "train")


def test_padding_options_reach_the_training_transform():
    image = torch.full((4, 4, 3), 200, dtype=torch.uint8).numpy()
    label = torch.ones((4, 4), dtype=torch.uint8).numpy()
    config = DataConfig(crop_size=6, scale_range=[1.0, 1.0], hflip=0.0, pad_value="mean", pad_position="bottom_right")
    out_image, out_label = build_train_transform(config, seed=0)(image, label)
    assert (out_label[:4, :4] == 1).all() and (out_label[4:] == 255).all() and (out_label[:, 4:] == 255).all()
    assert (out_image[4:] == 0).all() and (out_image[:4, :4] != 0).all()
