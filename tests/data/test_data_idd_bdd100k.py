"""IDD (polygon JSON drawn as the official tools draw it, and generated PNGs) and BDD100K (both release
layouts): every raw id against spec datasets.md 5.2 and 6.2."""

import json

import numpy as np
import pytest
from dataset_layouts import (
    IDD_FILES,
    column_objects,
    idd_polygon_json,
    make_bdd100k,
    make_idd,
    row_label,
    write_image,
    write_label,
)

from alignseg.data import BDD100K, CITYSCAPES_CLASSES, IDD, DataError, build_dataset, rasterize_idd_polygons

# spec 5.2, 40 rows: (label id, name, csTrainId), written out from the spec's table
IDD_TABLE = [
    (0, "road", 0), (1, "parking", 255), (2, "drivable fallback", 255), (3, "sidewalk", 1), (4, "rail track", 255),
    (5, "non-drivable fallback", 9), (6, "person", 11), (7, "animal", 255), (8, "rider", 12), (9, "motorcycle", 17),
    (10, "bicycle", 18), (11, "autorickshaw", 255), (12, "car", 13), (13, "truck", 14), (14, "bus", 15),
    (15, "caravan", 255), (16, "trailer", 255), (17, "train", 16), (18, "vehicle fallback", 255), (19, "curb", 255),
    (20, "wall", 3), (21, "fence", 4), (22, "guard rail", 255), (23, "billboard", 255), (24, "traffic sign", 7),
    (25, "traffic light", 6), (26, "pole", 5), (27, "polegroup", 255), (28, "obs-str-bar-fallback", 255),
    (29, "building", 2), (30, "bridge", 255), (31, "tunnel", 255), (32, "vegetation", 8), (33, "sky", 10),
    (34, "fallback background", 255), (35, "unlabeled", 255), (36, "ego vehicle", 255),
    (37, "rectification border", 255), (38, "out of roi", 255), (39, "license plate", 255),
]  # fmt: skip


def test_polygons_of_every_label_become_its_train_id(tmp_path):
    root = make_idd(tmp_path / "IDD_Segmentation", [name for _, name, _ in IDD_TABLE])
    data = build_dataset("idd", root=root, split="train")
    assert len(data) == 2 and data.class_names == CITYSCAPES_CLASSES and data.samples[0][1].name.endswith(
        "005506_gtFine_polygons.json")
    ids = rasterize_idd_polygons(data.samples[0][1])
    assert ids[0, ::2].tolist() == [i for i, _, _ in IDD_TABLE] == ids[3, 1::2].tolist()
    assert data[0]["label"][0, ::2].tolist() == [t for _, _, t in IDD_TABLE]
    assert data.class_names[9] == "terrain"  # 'non-drivable fallback' takes the Cityscapes name


def test_generated_pngs_give_the_same_train_ids(tmp_path):
    root = make_idd(tmp_path / "IDD_Segmentation", [name for _, name, _ in IDD_TABLE])
    for drive, image_id in IDD_FILES["val"]:
        folder = root / "gtFine" / "val" / drive
        write_label(folder / f"{image_id}_gtFine_labelids.png", row_label(np.repeat(np.arange(40), 2), 4))
        write_label(folder / f"{image_id}_gtFine_labelcsTrainIds.png",
                    row_label(np.repeat([t for _, _, t in IDD_TABLE], 2), 4))
    polygons = IDD(root, "val")[1]["label"]
    assert IDD(root, "val", "labelids")[1]["label"].equal(polygons)
    assert IDD(root, "val", "labelcsTrainIds")[1]["label"].equal(polygons)
    write_label(root / "gtFine" / "val" / "119" / "038937_gtFine_labelids.png", row_label([0, 40] * 40, 4))
    with pytest.raises(DataError, match=r"038937_gtFine_labelids\.png holds values \[40\]"):
        IDD(root, "val", "labelids").load(1)


def test_polygon_drawing_rules(tmp_path):
    """Unpainted pixels are 'unlabeled'; later objects win; deleted and 2-point objects are skipped; a
    'group' name falls back to its class; an autorickshaw is ignored in the 19 classes."""
    objects = [
        {"label": "road", "polygon": [[0, 0], [7, 0], [7, 3], [0, 3]]},
        {"label": "autorickshaw", "polygon": [[4, 0], [7, 0], [7, 3], [4, 3]]},
        {"label": "cargroup", "polygon": [[6, 0], [7, 0], [7, 3], [6, 3]]},
        {"label": "sky", "polygon": [[0, 0], [7, 0], [7, 3], [0, 3]], "deleted": 1},
        {"label": "sky", "polygon": [[0, 0], [7, 3]]},
    ]
    path = idd_polygon_json(tmp_path / "x_gtFine_polygons.json", 10, 4, objects)
    assert rasterize_idd_polygons(path)[1].tolist() == [0, 0, 0, 0, 11, 11, 12, 12, 35, 35]
    root = make_idd(tmp_path / "IDD", ["road"])
    write_image(root / "leftImg8bit" / "train" / "0" / "005626_leftImg8bit.png", 4, 10)
    idd_polygon_json(root / "gtFine" / "train" / "0" / "005626_gtFine_polygons.json", 10, 4, objects)
    assert IDD(root, "train")[1]["label"][1].tolist() == [0, 0, 0, 0, 255, 255, 13, 13, 255, 255]


def test_polygon_errors_name_the_file(tmp_path):
    root = make_idd(tmp_path / "IDD", ["road", "sky"])
    label = root / "gtFine" / "train" / "0" / "005626_gtFine_polygons.json"
    idd_polygon_json(label, 4, 4, column_objects(["road", "spaceship"], 4))
    with pytest.raises(DataError, match=r"005626_gtFine_polygons\.json: object 1 has the label 'spaceship'"):
        IDD(root, "train").load(1)
    label.write_text("{not json")
    with pytest.raises(DataError, match=r"cannot read label file .*005626_gtFine_polygons\.json"):
        IDD(root, "train").load(1)
    label.write_text(json.dumps({"imgWidth": 5, "imgHeight": 4, "objects": []}))
    with pytest.raises(DataError, match=r"005626_leftImg8bit\.png is 4x4 .* but its label .* is 5x4"):
        IDD(root, "train").load(1)
    label.unlink()
    with pytest.raises(DataError, match=r"005626_leftImg8bit\.png has no label: expected .*005626_gtFine_polygons"):
        IDD(root, "train")
    with pytest.raises(DataError, match=r"unknown split 'test'"):
        IDD(root, "test")


BDD_VALUES = [*range(19), 255]


@pytest.mark.parametrize("layout", ["current", "legacy"])
def test_bdd100k_labels_pass_through_in_both_layouts(tmp_path, layout):
    root = make_bdd100k(tmp_path / "bdd100k", BDD_VALUES, layout)
    train, val = BDD100K(root, "train"), build_dataset("bdd100k", root=root, split="val")
    assert train.layout == layout and len(train) == len(val) == 2
    assert train.samples[0][0].name == "0004a4c0-d4dff0ad.jpg"
    assert val[1]["label"][0].tolist() == BDD_VALUES and val.class_names == CITYSCAPES_CLASSES
    if layout == "legacy":  # SFSegNets' root is the seg/ folder itself
        assert BDD100K(root / "seg", "val")[0]["label"][0].tolist() == BDD_VALUES


def test_bdd100k_refuses_other_values_and_names_the_file(tmp_path):
    root = make_bdd100k(tmp_path / "bdd100k", BDD_VALUES)
    masks = root / "labels" / "sem_seg" / "masks" / "train"
    write_label(masks / "00054602-3bf57337.png", row_label([0, 19, 33] + [0] * 17))
    with pytest.raises(DataError, match=r"00054602-3bf57337\.png holds values \[19, 33\]"):
        BDD100K(root, "train").load(1)
    with pytest.raises(DataError, match="is not a BDD100K folder"):
        BDD100K(tmp_path, "train")
