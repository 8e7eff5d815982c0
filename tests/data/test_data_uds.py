"""UDS (spec datasets.md 7): four official-layout sources merged into the Cityscapes 19 classes, each through
its own table, and per-source plus merged confusion matrices in evaluation and in ``alignseg eval``."""

import json

import pytest
import torch
import yaml
from dataset_layouts import make_bdd100k, make_cityscapes, make_idd, make_mapillary
from torch import nn

from alignseg.data import CITYSCAPES_CLASSES, MAPILLARY_LABELS, DataError, UnifiedDriving, build_dataset
from alignseg.engine.config import DataConfig, EvalConfig
from alignseg.engine.data import build_val_loader
from alignseg.engine.evaluator import evaluate

# Raw values written into every label of each source, and the train ids the spec gives them.
MAPILLARY_19 = {13: 0, 24: 0, 41: 0, 2: 1, 15: 1, 17: 2, 6: 3, 3: 4, 45: 5, 47: 5, 48: 6, 50: 7, 30: 8, 29: 9,
                27: 10, 19: 11, 20: 12, 21: 12, 22: 12, 55: 13, 61: 14, 54: 15, 58: 16, 57: 17, 52: 18}  # spec 4.2
IDD_NAMES = ("road", "autorickshaw", "curb", "non-drivable fallback", "car", "sky", "billboard", "rider")
IDD_TRAIN_IDS = (0, 255, 255, 9, 13, 10, 255, 12)  # spec 5.2 csTrainId
CITYSCAPES_IDS = {0: 255, 7: 0, 8: 1, 11: 2, 24: 11, 26: 13, 29: 255, 33: 18}  # AL / cityscapesScripts table
BDD_VALUES = (0, 5, 18, 255)
EXPECTED = {
    "bdd100k": list(BDD_VALUES),
    "mapillary": [MAPILLARY_19.get(v, 255) for v in range(66)],
    "idd": [t for t in IDD_TRAIN_IDS for _ in range(2)],  # one 2-pixel column per IDD object
    "cityscapes": list(CITYSCAPES_IDS.values()),
}


@pytest.fixture(scope="module")
def uds_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("uds")
    palette = [color for _, color in MAPILLARY_LABELS]
    return {
        "bdd100k": {"root": str(make_bdd100k(root / "bdd100k", BDD_VALUES, "legacy"))},
        "mapillary": {"root": str(make_mapillary(root / "mapillary", list(range(66)), palette, "v1.1"))},
        "idd": {"root": str(make_idd(root / "IDD_Segmentation", IDD_NAMES))},
        "cityscapes": {"root": str(make_cityscapes(root / "cityscapes", list(CITYSCAPES_IDS)))},
    }


def test_merged_set_order_counts_and_class_table(uds_roots):
    train = build_dataset("uds", split="train", **uds_roots)
    val = UnifiedDriving(split="val", **uds_roots)
    assert len(train) == len(val) == 8
    assert train.class_names == CITYSCAPES_CLASSES and train.num_classes == 19
    assert train.sources == ("bdd100k", "mapillary", "idd", "cityscapes")  # the released order
    assert [train.sample_source(i) for i in range(8)] == [s for s in train.sources for _ in range(2)]
    for index in range(8):
        item = val[index]
        row = item["label"][0].tolist()
        assert item["source"] == val.sample_source(index)
        assert row == EXPECTED[item["source"]], item["source"]
    assert UnifiedDriving(split="val", idd=uds_roots["idd"]).sources == ("idd",)


def test_bad_sources_are_errors(uds_roots):
    with pytest.raises(DataError, match="no source given"):
        UnifiedDriving(split="train")
    with pytest.raises(DataError, match="source 'idd' must be a mapping with at least 'root'"):
        UnifiedDriving(split="train", idd={"label_type": "labelids"})
    with pytest.raises(DataError, match=r"source 'bdd100k'.*unexpected keyword"):
        UnifiedDriving(split="train", bdd100k={**uds_roots["bdd100k"], "colour": 1})


class Constant(nn.Module):
    """Predicts class ``c`` at every pixel."""

    align_corners = False

    def __init__(self, c: int):
        super().__init__()
        self.c = c

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 19, *x.shape[2:])
        logits[:, self.c] = 1.0
        return logits


def test_per_source_and_merged_confusion_matrices(uds_roots):
    val = UnifiedDriving(split="val", **uds_roots)
    metrics = evaluate(Constant(0), build_val_loader(val, 0), 19, EvalConfig(), sources=val.sources)
    assert list(metrics.by_source) == list(val.sources)
    total = torch.zeros(19, 19, dtype=torch.int64)
    for source, part in metrics.by_source.items():
        expected = torch.zeros(19, 19, dtype=torch.int64)
        for train_id in EXPECTED[source]:  # 2 images x 2 rows (IDD: 4 rows) of each column, all predicted road
            if train_id != 255:
                expected[train_id, 0] += 2 * (4 if source == "idd" else 2)
        assert part.matrix.equal(expected), source
        total += expected
    assert metrics.matrix.equal(total)
    # road is the only class predicted: its IoU per source is road pixels / all labelled pixels of the source
    bdd = metrics.by_source["bdd100k"]
    assert bdd.iou[0].item() == pytest.approx(4 / 12) and bdd.miou == pytest.approx(4 / 12 / 3)
    table = metrics.format_sources_table(CITYSCAPES_CLASSES)
    assert table.splitlines()[0].split() == ["class", "bdd100k", "mapillary", "idd", "cityscapes", "all"]
    assert table.splitlines()[-1].split()[-1] == f"{100 * metrics.miou:.2f}"


def test_alignseg_eval_prints_a_table_per_source(uds_roots, tmp_path, capsys):
    from alignseg import create_model
    from alignseg.cli import main
    from alignseg.engine.export import export_weights

    weights = export_weights(tmp_path / "w.pt", create_model("fcn_r18", num_classes=19).eval(), model_name="fcn_r18",
                             class_names=CITYSCAPES_CLASSES, palette=[(0, 0, 0)] * 19)
    config = tmp_path / "uds.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"name": "fcn_r18", "num_classes": 19},
        "data": {"dataset": "uds", "kwargs": uds_roots, "workers": 0},
        "eval": {"resize": "exact", "resize_size": [32, 32]},  # UDS resizes every image; 32 keeps it fast
    }))
    out = tmp_path / "m.json"
    assert main(["eval", "--config", str(config), "--weights", str(weights), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "IoU per source" in text and "cityscapes" in text.split("IoU per source")[1]
    record = json.loads(out.read_text())
    assert set(record["by_source"]) == {"bdd100k", "mapillary", "idd", "cityscapes"}
    summed = sum(torch.tensor(s["confusion_matrix"]) for s in record["by_source"].values())
    assert summed.equal(torch.tensor(record["confusion_matrix"])) and summed.sum() > 0


def test_val_images_come_out_at_1024x2048_and_train_images_survive_a_crop(uds_roots):
    from alignseg.data import train_transforms
    from alignseg.engine.data import build_eval_transform

    config = EvalConfig(resize="exact", resize_size=[1024, 2048])
    val = UnifiedDriving(split="val", transform=build_eval_transform(config, DataConfig()), **uds_roots)
    for index in (0, 2, 4, 6):  # one image of each source (sizes 2x4, 2x66, 4x16, 2x8)
        item = val[index]
        assert tuple(item["image"].shape) == (3, 1024, 2048) and tuple(item["label"].shape) == (1024, 2048)
    train = UnifiedDriving(split="train", transform=train_transforms(64, seed=0), **uds_roots)
    for index in range(0, 8, 2):
        item = train[index]
        assert tuple(item["label"].shape) == (64, 64) and (item["label"] == 255).any()  # padded with ignore
