"""Every repository config names a registered dataset, gives it arguments its loader accepts and sets
model.num_classes to that dataset's class count (a config must not fail only once the data are there)."""

import inspect
from pathlib import Path

import pytest

from alignseg.data import DATASETS
from alignseg.engine.config import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))
CLASSES = {"ade20k": 150, "bdd100k": 19, "camvid": 11, "cityscapes": 19, "coco_stuff164k": 171, "cocostuff10k": 171,
           "idd": 19, "uds": 19}


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO / "configs")) for p in CONFIGS])
def test_config_dataset_arguments_bind(path):
    config = load_config(path)
    data = config.data
    assert data.dataset in DATASETS, data.dataset
    signature = inspect.signature(DATASETS[data.dataset])
    for extra in (data.train_kwargs, data.val_kwargs):
        kwargs = {**data.kwargs, **extra}
        if data.root is not None:
            kwargs["root"] = data.root
        signature.bind(**kwargs)
    expected = CLASSES.get(data.dataset) or data.kwargs.get("classes") or data.kwargs.get("num_classes")
    if data.dataset not in ("folder", "shapes"):
        assert config.model.num_classes == expected


def test_released_recipes_of_the_papers_datasets_exist():
    present = {str(p.relative_to(REPO / "configs")) for p in CONFIGS}
    for dataset in ("mapillary", "idd", "bdd100k"):
        assert {f"{dataset}/sfnet_r18.yaml", f"{dataset}/sfnet_lite_r18.yaml"} <= present
    assert {"uds/sfnet_stdc1.yaml", "uds/sfnet_lite_r18.yaml", "cityscapes/sfnet_lite_r18_coarse_boost.yaml",
            "ade20k/fapn_r50.yaml", "coco_stuff164k/fapn_r50.yaml"} <= present
    boost = load_config(REPO / "configs" / "cityscapes" / "sfnet_lite_r18_coarse_boost.yaml").data
    assert boost.coarse_boost_classes == [14, 15, 16, 3, 12, 17, 4] and boost.train_kwargs == {"coarse": True}
