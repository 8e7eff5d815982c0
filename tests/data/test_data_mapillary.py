"""Mapillary Vistas: the real v1.2 sample, synthetic palette-PNG fixtures in the v1.1 and v1.2 layouts, and
every label index through both tables of spec datasets.md 4.2."""

import numpy as np
import pytest
from conftest import shared_path
from dataset_layouts import MAPILLARY_TRAIN, make_mapillary, row_label, write_label

from alignseg.data import MAPILLARY_LABELS, DataError, Mapillary, build_dataset

# spec 4.2 (SFSegNets utils/mapillary_to_city.py), copied from the spec's Python literal
UDS_MAP = {13: 0, 24: 0, 41: 0, 2: 1, 15: 1, 17: 2, 6: 3, 3: 4, 45: 5, 47: 5, 48: 6, 50: 7, 30: 8, 29: 9, 27: 10,
           19: 11, 20: 12, 21: 12, 22: 12, 55: 13, 61: 14, 54: 15, 58: 16, 57: 17, 52: 18}
EXPECTED_19 = [UDS_MAP.get(v, 255) for v in range(66)]
EXPECTED_65 = [*range(65), 255]
SPOT_CHECKS = {0: ("Bird", (165, 42, 42)), 13: ("Road", (128, 64, 128)),
               24: ("Lane Marking - General", (255, 255, 255)), 47: ("Utility Pole", (0, 0, 80)),
               64: ("Ego Vehicle", (120, 10, 10)), 65: ("Unlabeled", (0, 0, 0))}


def test_real_v12_sample():
    root = shared_path("data", "samples", "mapillary_vistas")
    raw = Mapillary(root, "train")
    uds = build_dataset("mapillary", root=root, split="train", classes=19)
    assert len(raw) == 1 and raw.num_classes == 65 and uds.num_classes == 19
    assert set(raw[0]["label"].unique().tolist()) == {17, 44, 45}
    assert set(uds[0]["label"].unique().tolist()) == {2, 255, 5}  # building, street light (ignored), pole


@pytest.mark.parametrize("version", ["v1.1", "v1.2"])
def test_every_index_through_both_tables(tmp_path, version):
    palette = [color for _, color in MAPILLARY_LABELS]
    root = make_mapillary(tmp_path / "mapillary", list(range(66)), palette, version)
    assert len(palette) == 66
    for name, (readable, color) in SPOT_CHECKS.items():
        assert MAPILLARY_LABELS[name] == (readable, color)
    train65 = Mapillary(root, "train")
    val19 = Mapillary(root, "val", classes=19)
    assert [p[0].stem for p in train65.samples] == sorted(MAPILLARY_TRAIN) and len(val19) == 2
    assert train65[0]["label"][0].tolist() == EXPECTED_65
    assert val19[1]["label"][0].tolist() == EXPECTED_19
    assert train65.class_names[19] == "Person" and train65.palette[19] == (220, 20, 60)


def test_converted_files_beside_raw_labels(tmp_path):
    """SFSegNets' converter writes <key>_19labelTrainIds.png into labels/: both label types still load."""
    palette = [color for _, color in MAPILLARY_LABELS]
    root = make_mapillary(tmp_path / "m", list(range(66)), palette, "v1.1")
    for key in MAPILLARY_TRAIN:
        write_label(root / "training" / "labels" / f"{key}_19labelTrainIds.png", row_label(EXPECTED_19))
    assert Mapillary(root, "train", classes=19)[0]["label"][0].tolist() == EXPECTED_19
    converted = Mapillary(root, "train", classes=19, label_type="19labelTrainIds")
    assert converted[0]["label"][0].tolist() == EXPECTED_19
    with pytest.raises(DataError, match="set classes=19"):
        Mapillary(root, "train", label_type="19labelTrainIds")


def test_v20_values_and_missing_labels_are_errors(tmp_path):
    root = make_mapillary(tmp_path / "m", [13, 24, 23, 65], [(0, 0, 0)] * 66)
    key = MAPILLARY_TRAIN[1]
    write_label(root / "training" / "v1.2" / "labels" / f"{key}.png", row_label([13, 66, 123, 65]))
    for classes in (65, 19):
        with pytest.raises(DataError, match=rf"{key}\.png holds values \[66, 123\]"):
            Mapillary(root, "train", classes=classes).load(1)
    (root / "validation" / "v1.2" / "labels" / "-3-MmXdwhyIQhtb4-8NqHQ.png").unlink()
    with pytest.raises(DataError, match=r"-3-MmXdwhyIQhtb4-8NqHQ\.jpg has no label"):
        Mapillary(root, "val")
    with pytest.raises(DataError, match=r"neither .*v1\.2/labels .* nor .*labels \(v1\.1\) exists"):
        Mapillary(tmp_path / "empty", "train")


def test_size_mismatch_names_both_files(tmp_path):
    root = make_mapillary(tmp_path / "m", [13, 24], [(0, 0, 0)] * 66)
    write_label(root / "training" / "v1.2" / "labels" / f"{MAPILLARY_TRAIN[0]}.png", np.zeros((3, 2), np.uint8))
    with pytest.raises(DataError, match=rf"image .*{MAPILLARY_TRAIN[0]}\.jpg is 2x2 .* but its label"):
        Mapillary(root, "train").load(0)
