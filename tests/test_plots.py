"""alignseg.plots and ``alignseg plot``: run-folder metrics, learning curves, confusion matrices (matplotlib)."""

import json

import numpy as np
import pytest
from PIL import Image

from alignseg.cli import main

pytest.importorskip("matplotlib", reason="plots are in the [plot] extra")

from alignseg import plots


def write_run(folder):
    """A run folder as Lightning's CSVLogger leaves it after a resume: two version folders."""
    first = folder / "csv" / "version_0"
    first.mkdir(parents=True)
    (first / "metrics.csv").write_text(
        "epoch,step,train/loss,train/lr,val/miou\n0,4,2.0,0.01,\n0,9,1.5,0.009,\n0,9,,,0.20\n0,14,1.4,0.008,\n"
    )
    second = folder / "csv" / "version_1"
    second.mkdir(parents=True)
    (second / "metrics.csv").write_text("epoch,step,train/loss,train/lr,val/miou\n1,14,1.3,0.008,\n1,19,,,0.35\n")


def test_run_metrics_merge_versions_by_step(tmp_path):
    write_run(tmp_path)
    metrics = plots.read_run_metrics(tmp_path)
    assert metrics["train/loss"] == [(4, 2.0), (9, 1.5), (14, 1.3)]  # the resumed run's step 14 wins
    assert metrics["val/miou"] == [(9, 0.2), (19, 0.35)]
    with pytest.raises(FileNotFoundError, match="no csv/version_"):
        plots.read_run_metrics(tmp_path / "csv")


def test_confusion_figure_is_row_normalised_with_k_by_k_cells(tmp_path):
    names = ["sky", "road", "car"]
    matrix = [[8, 2, 0], [1, 3, 0], [0, 0, 0]]  # no car pixels in the ground truth
    figure = plots.confusion_figure(matrix, names)
    ax = figure.axes[0]
    cells = ax.images[0].get_array()
    assert cells.shape == (3, 3)
    np.testing.assert_allclose(cells[:2], [[80, 20, 0], [25, 75, 0]])
    assert np.isnan(np.asarray(cells.filled(np.nan))[2]).all()
    assert [t.get_text() for t in ax.get_xticklabels()] == names == [t.get_text() for t in ax.get_yticklabels()]
    path = plots.save_figure(figure, tmp_path / "confusion.png")
    assert Image.open(path).format == "PNG"
    with pytest.raises(ValueError, match="3x3"):
        plots.confusion_figure([[1, 2], [3, 4]], names)


def test_cli_plot_draws_curves_and_confusion(tmp_path, capsys):
    write_run(tmp_path / "run")
    record = {"model": "m", "dataset": "d", "split": "val", "miou": 0.5, "class_names": ["a", "b"],
              "confusion_matrix": [[3, 1], [0, 4]]}
    (tmp_path / "run" / "eval").mkdir()
    (tmp_path / "run" / "eval" / "metrics.json").write_text(json.dumps(record))
    assert main(["plot", str(tmp_path / "run")]) == 0
    assert sorted(p.name for p in (tmp_path / "run" / "plots").iterdir()) == ["confusion.png", "curves.png"]
    assert main(["plot", str(tmp_path / "run" / "eval" / "metrics.json"), "-o", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "confusion.png").is_file()
    assert main(["plot", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
