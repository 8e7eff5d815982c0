"""Confusion-matrix metrics against a matrix and metrics computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from alignseg.evaluation import ConfusionMatrix, SegmentationMetrics

X = 255  # ignore

# 4 classes; class 2 is only predicted, class 3 is absent from both (predicted only on ignored pixels).
LABEL = torch.tensor(
    [
        [0, 0, 0, 1],
        [1, 1, X, X],
        [0, 1, 1, X],
    ]
)
PRED = torch.tensor(
    [
        [0, 0, 1, 1],
        [1, 2, 3, 0],
        [0, 1, 0, 3],
    ]
)
# Rows = ground truth, columns = prediction, counted over the 9 non-ignored pixels.
EXPECTED_MATRIX = torch.tensor(
    [
        [3, 1, 0, 0],  # label 0 at (0,0) (0,1) (2,0) -> 0, at (0,2) -> 1
        [1, 3, 1, 0],  # label 1 at (2,2) -> 0, at (0,3) (1,0) (2,1) -> 1, at (1,1) -> 2
        [0, 0, 0, 0],
        [0, 0, 0, 0],
    ]
)
# IoU = TP / (GT + P - TP): class 0: 3 / (4 + 4 - 3), class 1: 3 / (5 + 4 - 3), class 2: 0 / 1, class 3: 0/0.
EXPECTED_IOU = [3 / 5, 3 / 6, 0.0, math.nan]
EXPECTED_MIOU = (3 / 5 + 3 / 6 + 0.0) / 3  # nanmean: classes in GT or prediction
EXPECTED_MIOU_GT = (3 / 5 + 3 / 6) / 2  # classes in GT only
EXPECTED_PIXEL_ACCURACY = 6 / 9
EXPECTED_CLASS_ACCURACY = [3 / 4, 3 / 5, math.nan, math.nan]


def assert_same(actual: torch.Tensor, expected: list[float]) -> None:
    assert torch.allclose(actual, torch.tensor(expected, dtype=torch.float64), equal_nan=True)


def test_matrix_and_metrics_equal_hand_computed_values():
    cm = ConfusionMatrix(num_classes=4)
    cm.update(PRED, LABEL)
    assert torch.equal(cm.matrix, EXPECTED_MATRIX)
    metrics = cm.compute()
    assert_same(metrics.iou, EXPECTED_IOU)
    assert_same(metrics.class_accuracy, EXPECTED_CLASS_ACCURACY)
    assert metrics.miou == pytest.approx(EXPECTED_MIOU)
    assert metrics.miou_gt == pytest.approx(EXPECTED_MIOU_GT)
    assert metrics.pixel_accuracy == pytest.approx(EXPECTED_PIXEL_ACCURACY)
    assert metrics.mean_class_accuracy == pytest.approx((3 / 4 + 3 / 5) / 2)


def test_streaming_two_batches_equals_one_batch():
    other_pred, other_label = torch.randint(0, 4, (3, 4)), torch.randint(0, 4, (3, 4))
    streamed = ConfusionMatrix(4)
    streamed.update(PRED[None], LABEL[None])
    streamed.update(other_pred, other_label)  # H×W is accepted too
    at_once = ConfusionMatrix(4)
    at_once.update(torch.stack([PRED, other_pred]), torch.stack([LABEL, other_label]))
    assert torch.equal(streamed.matrix, at_once.matrix)
    assert streamed.matrix.sum() == 9 + 12


def test_uint8_labels_and_numpy_inputs_are_accepted():
    cm = ConfusionMatrix(4)
    cm.update(PRED.numpy(), LABEL.to(torch.uint8))
    assert torch.equal(cm.matrix, EXPECTED_MATRIX)


def test_out_of_range_label_is_a_clear_error():
    label = LABEL.clone()
    label[0, 0], label[1, 1] = 7, -1
    with pytest.raises(ValueError, match=r"label values \[-1, 7\] are outside \[0, 4\) and not the ignore"):
        ConfusionMatrix(4).update(PRED, label)


def test_out_of_range_prediction_is_a_clear_error():
    pred = PRED.clone()
    pred[0, 0] = 4
    with pytest.raises(ValueError, match=r"prediction values \[4\]"):
        ConfusionMatrix(4).update(pred, LABEL)


def test_shape_and_dtype_errors():
    cm = ConfusionMatrix(4)
    with pytest.raises(ValueError, match="differs from label shape"):
        cm.update(PRED[:2], LABEL)
    with pytest.raises(ValueError, match="argmax"):
        cm.update(torch.randn(1, 4, 3, 4), torch.zeros(1, 4, 3, 4, dtype=torch.long))


def test_no_ignore_index_counts_every_pixel():
    cm = ConfusionMatrix(2, ignore_index=None)
    cm.update(torch.tensor([[0, 1]]), torch.tensor([[0, 0]]))
    assert torch.equal(cm.matrix, torch.tensor([[1, 1], [0, 0]]))


def test_state_dict_round_trip_and_reset():
    cm = ConfusionMatrix(4)
    cm.update(PRED, LABEL)
    restored = ConfusionMatrix(4)
    restored.load_state_dict(cm.state_dict())
    assert torch.equal(restored.matrix, EXPECTED_MATRIX)
    cm.reset()
    assert cm.matrix.sum() == 0 and torch.equal(restored.matrix, EXPECTED_MATRIX)
    with pytest.raises(ValueError, match="4-class"):
        ConfusionMatrix(5).load_state_dict(restored.state_dict())


def test_empty_matrix_gives_nan_metrics():
    metrics = ConfusionMatrix(3).compute()
    assert math.isnan(metrics.miou) and math.isnan(metrics.pixel_accuracy)


def test_format_table_lists_classes_and_summary():
    cm = ConfusionMatrix(4)
    cm.update(PRED, LABEL)
    table = cm.format_table(["road", "car", "sky", "bus"])
    lines = table.splitlines()
    assert lines[2].split() == ["road", "60.00", "75.00"]
    assert lines[5].split() == ["bus", "n/a", "n/a"]
    assert "36.67" in table and "66.67" in table
    with pytest.raises(ValueError, match="3 class names for 4 classes"):
        cm.format_table(["a", "b", "c"])


def test_to_dict_for_loggers():
    values = SegmentationMetrics.from_matrix(EXPECTED_MATRIX).to_dict(["road", "car", "sky", "bus"])
    assert values["iou/car"] == pytest.approx(0.5)
    assert values["miou"] == pytest.approx(EXPECTED_MIOU)


def test_all_reduce_is_a_no_op_without_distributed():
    cm = ConfusionMatrix(4)
    cm.update(PRED, LABEL)
    cm.all_reduce()
    assert torch.equal(cm.matrix, EXPECTED_MATRIX)


def _all_reduce_worker(rank: int, world_size: int, init_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        cm = ConfusionMatrix(4)
        if rank == 0:
            cm.update(PRED, LABEL)
        else:
            cm.update(torch.tensor([[3, 3]]), torch.tensor([[3, 0]]))
        cm.all_reduce()
        expected = EXPECTED_MATRIX.clone()
        expected[3, 3] += 1
        expected[0, 3] += 1
        assert torch.equal(cm.matrix, expected), cm.matrix
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_all_reduce_sums_matrices_across_two_gloo_processes(tmp_path):
    mp.spawn(_all_reduce_worker, args=(2, str(tmp_path / "store")), nprocs=2, join=True)
