"""``alignseg data``: check lists every planted fault, stats match hand counts, prepare writes train ids once,
browse draws pictures with a legend, and the custom-dataset config works."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from alignseg.cli import main
from alignseg.data import CITYSCAPES_ID_TO_TRAINID, Cityscapes, CocoStuff10k, read_label
from alignseg.data.inspect import class_statistics
from alignseg.progress import Progress
from tests.conftest import make_coco_stuff_release, shared_path

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["road", "car", "tree"]


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def folder_config(tmp_path: Path, images: Path, labels: Path, classes=CLASSES) -> Path:
    config = {"data": {"dataset": "folder",
                       "kwargs": {"image_dir": str(images), "label_dir": str(labels), "class_names": list(classes)}}}
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def faulty_folder(root: Path) -> tuple[Path, Path]:
    """Two good pairs and one of each fault: truncated JPEG, value outside the table, size mismatch, no label."""
    rng = np.random.default_rng(0)
    images, labels = root / "images", root / "labels"
    for name in ("good1", "good2", "truncated", "badvalue", "mismatch", "nolabel"):
        save(images / f"{name}.jpg", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        if name != "nolabel":
            label = rng.integers(0, 3, (24, 32), dtype=np.uint8)
            label[0, 0] = 255
            save(labels / f"{name}.png", label)
    data = (images / "truncated.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(data[: len(data) // 2])
    bad = np.zeros((24, 32), np.uint8)
    bad[3, 4] = 7  # class 7 of 3
    save(labels / "badvalue.png", bad)
    save(labels / "mismatch.png", np.zeros((12, 16), np.uint8))
    return images, labels


def test_check_lists_every_planted_fault_and_fails(tmp_path, capsys):
    images, labels = faulty_folder(tmp_path)
    status = main(["data", "check", "--config", str(folder_config(tmp_path, images, labels)), "--workers", "2"])
    out = capsys.readouterr().out
    assert status == 1
    assert "4 fault(s)" in out
    table = out[out.index("4 fault(s)"):]
    expected = {
        "unreadable image": images / "truncated.jpg",
        "label values outside the table": labels / "badvalue.png",
        "size mismatch": images / "mismatch.jpg",
        "image without label": images / "nolabel.jpg",
    }
    rows = [line for line in table.splitlines()[3:] if line.strip()]
    assert len(rows) == 4
    for kind, path in expected.items():
        assert any(kind in row and str(path) in row for row in rows), (kind, table)
    assert "truncated" in table and "[7]" in table and "32x24" in table and "16x12" in table
    # counts: 6 images, 5 with a label, 2 without faults
    assert out.splitlines()[3].split()[:4] == ["all", "6", "5", "2"]


def test_check_passes_on_a_clean_folder_and_summarises_sizes(tmp_path, capsys):
    images, labels = tmp_path / "images", tmp_path / "labels"
    for i, (h, w) in enumerate([(10, 20), (10, 20), (30, 40)]):
        save(images / f"{i}.jpg", np.zeros((h, w, 3), np.uint8))
        save(labels / f"{i}.png", np.full((h, w), i % 3, np.uint8))
    assert main(["data", "check", "--config", str(folder_config(tmp_path, images, labels)), "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "20x10 (2), 40x30 (1)" in out and "no faults" in out


def test_check_reports_a_split_that_cannot_be_opened(tmp_path, capsys):
    assert main(["data", "check", "--dataset", "camvid", "--root", str(tmp_path), "--workers", "0"]) == 1
    out = capsys.readouterr().out
    assert "cannot open split" in out and "is not a CamVid folder" in out


def test_check_camvid_counts(capsys):
    root = shared_path("data", "camvid")
    assert main(["data", "check", "--dataset", "camvid", "--root", str(root), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    counts = {line.split()[0]: line.split()[1:4] for line in out.splitlines() if line.split()[:1] in
              (["train"], ["val"], ["test"])}
    assert counts == {"train": ["367"] * 3, "val": ["101"] * 3, "test": ["233"] * 3}
    assert "480x360 (367)" in out and "no faults" in out


def stats_folder(tmp_path: Path) -> Path:
    labels = [np.array([[0, 0, 0, 1], [0, 0, 255, 1]], np.uint8), np.array([[0, 2, 2, 2], [2, 2, 2, 255]], np.uint8)]
    for i, label in enumerate(labels):
        save(tmp_path / "images" / f"{i}.jpg", np.zeros((2, 4, 3), np.uint8))
        save(tmp_path / "labels" / f"{i}.png", label)
    return folder_config(tmp_path, tmp_path / "images", tmp_path / "labels", classes=[*CLASSES, "sky"])


def test_stats_match_hand_counts_and_write_the_json_format(tmp_path, capsys):
    config = stats_folder(tmp_path)
    output = tmp_path / "out" / "stats.json"
    assert main(["data", "stats", "--config", str(config), "--workers", "0", "-o", str(output)]) == 0
    out = capsys.readouterr().out
    record = json.loads(output.read_text())
    assert list(record) == ["dataset", "split", "class_names", "frequencies", "weights"]
    assert record["dataset"] == "folder" and record["split"] == "all"
    assert record["class_names"] == [*CLASSES, "sky"]
    # pixels: road 5 + 1, car 2, tree 6, sky 0 of 14 labelled (two 255 pixels left out)
    assert record["frequencies"] == pytest.approx([6 / 14, 2 / 14, 6 / 14, 0.0], abs=1e-12)
    weights = record["weights"]
    assert list(weights) == ["inverse", "median_frequency", "log"]
    assert weights["inverse"] == pytest.approx([14 / 18, 14 / 6, 14 / 18, 0.0])  # 1 / (K f), K = 3 present
    # g = pixels / labelled pixels of the images holding the class: road 6/14, car 2/7, tree 6/7; median 3/7
    assert weights["median_frequency"] == pytest.approx([1.0, 1.5, 0.5, 0.0])
    assert weights["log"] == pytest.approx([1 / math.log(1.02 + f) for f in (6 / 14, 2 / 14, 6 / 14)] + [0.0])
    assert "warning: classes without any labelled pixel get weight 0: sky" in out


def test_stats_camvid_frequencies_sum_to_one(tmp_path):
    root = shared_path("data", "camvid")
    output = tmp_path / "camvid.json"
    assert main(["data", "stats", "--dataset", "camvid", "--root", str(root), "--split", "val", "--workers", "2",
                 "-o", str(output)]) == 0
    record = json.loads(output.read_text())
    assert record["split"] == "val" and len(record["frequencies"]) == 11
    assert sum(record["frequencies"]) == pytest.approx(1.0, abs=1e-12)
    assert min(record["frequencies"]) > 0 and all(w > 0 for w in record["weights"]["log"])


def test_class_statistics_needs_labelled_pixels():
    with pytest.raises(ValueError, match="no labelled pixels"):
        class_statistics([np.zeros(3, np.int64)], CLASSES)


def test_prepare_cityscapes_writes_train_ids_once(tmp_path, capsys):
    sample = shared_path("data", "samples", "cityscapes")
    for part in ("leftImg8bit", "gtFine"):
        for path in (sample / part).rglob("*.png"):
            if "labelTrainIds" not in path.name and "instanceIds" not in path.name:
                target = tmp_path / path.relative_to(sample)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
    args = ["data", "prepare", "--dataset", "cityscapes", "--root", str(tmp_path), "--split", "val", "--workers", "0"]
    assert main(args) == 0
    assert "1 label PNGs written, 0 already there" in capsys.readouterr().out
    raw = next(tmp_path.rglob("*_gtFine_labelIds.png"))
    written = raw.with_name(raw.name.replace("labelIds", "labelTrainIds"))
    assert np.array_equal(read_label(written), CITYSCAPES_ID_TO_TRAINID(read_label(raw)))
    prepared = Cityscapes(tmp_path, "val", label_type="labelTrainIds")
    assert np.array_equal(prepared.load(0)[1], Cityscapes(tmp_path, "val").load(0)[1])
    stamp = written.stat().st_mtime_ns
    assert main(args) == 0  # resumed: nothing to redo
    assert "0 label PNGs written, 1 already there" in capsys.readouterr().out
    assert written.stat().st_mtime_ns == stamp
    assert not list(tmp_path.rglob("*.tmp"))


def test_prepare_coco_stuff_mat_labels_is_resumable(tmp_path, capsys):
    root = make_coco_stuff_release(tmp_path / "coco")
    args = ["data", "prepare", "--dataset", "cocostuff10k", "--root", str(root), "--workers", "2"]
    assert main(args) == 0
    written = sorted((root / "annotations").glob("*_labelTrainIds.png"))
    assert len(written) == 3
    written[0].unlink()  # as if killed before this one: only it is redone
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "train: 1 label PNGs written, 1 already there" in out and "label_type=labelTrainIds" in out
    for split in ("train", "test"):
        mat, png = CocoStuff10k(root, split), CocoStuff10k(root, split, label_type="labelTrainIds")
        for i in range(len(mat)):
            assert np.array_equal(mat.read_label(i), png.read_label(i))


def test_prepare_refuses_labels_that_are_already_train_ids(tmp_path, capsys):
    config = stats_folder(tmp_path)
    assert main(["data", "prepare", "--config", str(config), "--workers", "0"]) == 2
    assert "nothing to prepare" in capsys.readouterr().err


def test_browse_draws_rows_and_a_legend(tmp_path, capsys):
    root = shared_path("data", "camvid")
    output = tmp_path / "pictures"
    assert main(["data", "browse", "--dataset", "camvid", "--root", str(root), "--split", "val", "--num", "3",
                 "--per-picture", "2", "--width", "160", "-o", str(output)]) == 0
    pictures = sorted(output.glob("*.png"))
    assert [p.name for p in pictures] == ["camvid_val_00.png", "camvid_val_01.png"]
    first = np.asarray(Image.open(pictures[0]))
    assert first.shape[1] > 3 * 160 and first.shape[0] >= 2 * 120  # two rows of three 160x120 panels + legend
    chosen = ["0016E5_07959", "0016E5_07961.png"]  # a stem and a label file name
    assert main(["data", "browse", "--dataset", "camvid", "--root", str(root), "--split", "val", "--files", *chosen,
                 "-o", str(tmp_path / "chosen")]) == 0
    assert main(["data", "browse", "--dataset", "camvid", "--root", str(root), "--split", "val", "--files", "nope",
                 "-o", str(tmp_path / "x")]) == 2
    assert "not in the dataset: nope" in capsys.readouterr().err


def test_custom_example_config_checks(tmp_path, capsys):
    images, labels = tmp_path / "images", tmp_path / "masks"
    for split in ("train", "val"):
        for i in range(2):
            save(images / split / f"{i}.jpg", np.zeros((16, 16, 3), np.uint8))
            save(labels / split / f"{i}.png", np.full((16, 16), i, np.uint8))
    overrides = [f"data.train_kwargs={{image_dir: {images / 'train'}, label_dir: {labels / 'train'}}}",
                 f"data.val_kwargs={{image_dir: {images / 'val'}, label_dir: {labels / 'val'}}}"]
    assert main(["data", "check", "--config", "custom/example", "--workers", "0", *overrides]) == 0  # shipped
    out = capsys.readouterr().out
    assert [line.split()[:3] for line in out.splitlines() if line.split()[:1] in (["train"], ["val"])] == [
        ["train", "2", "2"], ["val", "2", "2"]]


def test_progress_writes_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    bar = Progress(3, "checking train", stream=stream, every=0.0)
    for _ in range(3):
        bar.update()
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text and text.splitlines()[-1].startswith("checking train: 3/3 (100%")


def test_prepare_idd_polygons_and_mapillary_19_for_their_prepared_label_types(tmp_path, capsys):
    from dataset_layouts import make_idd, make_mapillary

    from alignseg.data import IDD, MAPILLARY_LABELS, Mapillary

    idd = make_idd(tmp_path / "IDD_Segmentation", ["road", "car", "autorickshaw", "sky"])
    assert main(["data", "check", "--dataset", "idd", "--root", str(idd), "--workers", "0"]) == 0  # polygons read
    assert main(["data", "prepare", "--dataset", "idd", "--root", str(idd), "--workers", "0"]) == 0
    assert "label_type=labelcsTrainIds" in capsys.readouterr().out
    for split in ("train", "val"):
        drawn, prepared = IDD(idd, split), IDD(idd, split, "labelcsTrainIds")
        assert all(np.array_equal(drawn.read_label(i), prepared.read_label(i)) for i in range(len(drawn)))
    assert drawn.read_label(0)[0].tolist() == [0, 0, 13, 13, 255, 255, 10, 10]

    palette = [color for _, color in MAPILLARY_LABELS]
    vistas = make_mapillary(tmp_path / "mapillary", list(range(66)), palette)
    assert main(["data", "prepare", "--dataset", "mapillary", "--root", str(vistas), "--workers", "0",
                 "data.kwargs={classes: 19}"]) == 0
    assert "label_type=19labelTrainIds" in capsys.readouterr().out
    raw, converted = Mapillary(vistas, "val", classes=19), Mapillary(vistas, "val", classes=19,
                                                                     label_type="19labelTrainIds")
    assert np.array_equal(raw.read_label(1), converted.read_label(1))
    assert main(["data", "prepare", "--dataset", "mapillary", "--root", str(vistas), "--workers", "0"]) == 2
    assert "nothing to prepare" in capsys.readouterr().err  # the 65 classes are read as they are
