"""Prediction that never loses work (issue 10, finding 5): bad files skipped and listed, reruns resume,
outputs never fed back, truncated videos fail, huge images tiled at bounded memory."""

import os

import numpy as np
import pytest
from PIL import Image
from test_predict import count_frames, save_checkpoint, write_video

from alignseg.cli import main
from alignseg.predict import OutputOptions, Predictor, predict_path


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    import torch

    torch.manual_seed(0)  # random weights, the same whichever tests ran before (the tiling test compares labels)
    return save_checkpoint(tmp_path_factory.mktemp("weights") / "w.pt", 11)


@pytest.fixture(scope="module")
def predictor(weights):
    return Predictor.from_checkpoint(weights)


def save_images(folder, names, size=(40, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        Image.fromarray(np.full((*size, 3), 40 * index, np.uint8)).save(folder / name)


def test_folder_continues_past_bad_files_lists_them_and_exits_1(weights, tmp_path, capsys):
    """issue 10 finding 5: one unreadable file aborted a whole folder (2 of 5 done, exit 0 or traceback)."""
    images = tmp_path / "images"
    save_images(images, ["a.png", "c.png", "e.png"])
    (images / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (images / "d.png").write_bytes(b"")
    out = tmp_path / "out"
    code = main(["predict", str(images), "--weights", str(weights), "-o", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert all((out / f"{name}_overlay.png").is_file() for name in ("a.png", "c.png", "e.png"))
    failed = [line for line in captured.err.splitlines() if line.startswith("failed: ")]
    assert [line.split(": ")[1] for line in failed] == [str(images / "b.jpg"), str(images / "d.png")]
    assert "2 input(s) failed:" in captured.err and "Traceback" not in captured.err


def test_rerun_skips_finished_images_unless_overwrite(predictor, tmp_path):
    """issue 10 finding 5: a rerun redid every image; now finished outputs (the overlay, written last) count."""
    images = tmp_path / "images"
    save_images(images, ["a.png", "b.png", "c.png"])
    out = tmp_path / "out"
    options = OutputOptions(progress=False)
    assert predict_path(predictor, images, out, options).images == 3
    (out / "b.png_overlay.png").unlink()  # as if killed while writing b
    again = predict_path(predictor, images, out, options)
    assert (again.images, again.done) == (1, 2)
    redo = predict_path(predictor, images, out, OutputOptions(progress=False, overwrite=True))
    assert (redo.images, redo.done) == (3, 0)


def test_outputs_inside_the_input_folder_are_never_predicted(predictor, tmp_path):
    """issue 10 finding 5: with the output inside the input folder a second run predicted its own outputs."""
    images = tmp_path / "images"
    save_images(images, ["a.png", "b.jpg"])
    options = OutputOptions(progress=False, overwrite=True)
    first = predict_path(predictor, images, images / "pred", options)
    second = predict_path(predictor, images, images / "pred", options)
    assert first.images == second.images == 2
    # nor those of an earlier run into another folder inside it
    third = predict_path(predictor, images, images / "other", options)
    assert third.images == 2
    assert not list((images / "other").rglob("pred"))


def test_video_truncated_mid_stream_reports_expected_vs_decoded_and_fails(weights, predictor, tmp_path, capsys):
    """issue 10 finding 5: a video corrupt mid-stream reported "2 frames" of 20 and exited 0."""
    frames = [np.random.default_rng(i).integers(0, 255, (64, 96, 3), dtype=np.uint8) for i in range(10)]
    video = tmp_path / "clip.avi"
    write_video(video, frames, fourcc="MJPG")
    complete = predict_path(predictor, video, tmp_path / "whole", OutputOptions(progress=False))
    assert complete.frames == 10 and not complete.failed
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])  # the header still declares 10 frames
    decoded = count_frames(cut)
    assert 0 < decoded < 10
    code = main(["predict", str(cut), "--weights", str(weights), "-o", str(tmp_path / "cut"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"declares 10 frames but {decoded} were decoded" in err
    # an mp4 cut in half (OpenCV writes its index at the end) cannot be opened: one line, exit 2
    write_video(tmp_path / "clip.mp4", frames)
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    code = main(["predict", str(tmp_path / "cut.mp4"), "--weights", str(weights), "-o", str(tmp_path / "m"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cut.mp4" in err and "Traceback" not in err


def test_images_over_the_pixel_budget_are_tiled_in_bands(predictor, weights, monkeypatch):
    """issue 10 finding 5: an 8000x6000 image was killed by the OOM killer; images over --max-pixels now run
    in row bands of sliding-window tiles, so no forward pass or logits map sees the whole image."""
    import torch

    import alignseg.predict.predictor as module
    from alignseg.evaluation.inference import InferenceSettings, predict_logits

    small = Predictor.from_checkpoint(weights, max_pixels=8192)
    assert small.tile_side() == 64  # half of isqrt(8192) is 45: at least 64
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 300, 3), dtype=np.uint8)  # 12000 px > 8192: one band
    sliding = InferenceSettings(mode="sliding", window=64)
    expected = predict_logits(small.runner, small.preprocess(image), sliding).argmax(dim=1)[0]
    assert np.array_equal(small.predict(image).label, expected.to(torch.uint8).numpy())
    seen = []
    monkeypatch.setattr(module, "predict_logits", lambda runner, band, settings: seen.append(band.shape) or
                        predict_logits(runner, band, settings))
    tall = rng.integers(0, 255, (200, 120, 3), dtype=np.uint8)
    label = small.predict(tall).label
    assert label.shape == (200, 120) and label.dtype == np.uint8
    assert len(seen) == 5 and max(shape[2] for shape in seen) <= 64  # bands of 44 rows + 10 of context
    whole = predictor.predict(tall).label  # the default budget runs it at once
    assert (label == whole).mean() > 0.5
    with pytest.raises(ValueError, match="predicted in tiles"):
        small.predict(tall, return_probabilities=True)
    with pytest.raises(ValueError, match="max_pixels must be at least"):
        Predictor(small.runner, small.record, max_pixels=100)


def test_overlay_of_a_huge_image_is_blended_in_row_bands():
    """issue 10 finding 5: the overlay of a 48 Mpx image held several full-size float32 copies; it is blended in
    bands of rows now, with the same result as the whole-image formula."""
    from alignseg import viz

    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (600, 7, 3), dtype=np.uint8)  # more rows than one band
    label = rng.integers(0, 4, (600, 7), dtype=np.uint8)
    label[0, 0] = 255
    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)]
    colors = np.array(palette, np.float32)[np.minimum(label, 3)]
    expected = np.rint(0.7 * image.astype(np.float32) + 0.3 * colors).astype(np.uint8)
    expected[0, 0] = image[0, 0]
    assert np.array_equal(viz.overlay(image, label, palette, alpha=0.3), expected)


@pytest.mark.parametrize("reason", ["ENOSPC", "EROFS"])
def test_full_disk_or_read_only_output_stops_at_the_first_file(weights, tmp_path, capsys, monkeypatch, reason):
    """issue 10 session-3 finding: a full disk during `alignseg predict` gave one "failed" line per image and went
    on through the whole folder. Now the first file that cannot be written stops the run with one line naming it,
    exit 2, and the files written before it stay whole (a rerun goes on from there)."""
    import errno

    from alignseg.predict import outputs

    images = tmp_path / "images"
    save_images(images, ["a.png", "b.png", "c.png", "d.png"])
    out = tmp_path / "out"
    attempts = []
    real = outputs.atomic_write

    def filling(path, write):
        attempts.append(path)
        if len(attempts) > 4:  # the disk is full after a.png's files and b.png's first one
            raise OSError(getattr(errno, reason), os.strerror(getattr(errno, reason)) + " (nothing was written)",
                          str(path))
        return real(path, write)

    monkeypatch.setattr(outputs, "atomic_write", filling)
    code = main(["predict", str(images), "--weights", str(weights), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(attempts) == 5  # no later image was tried
    assert len(err) == 1 and err[0].startswith(f"alignseg predict: error: {out / 'b.png_color.png'}: ")
    assert "nothing more can be written there" in err[0] and "the 1 input(s) finished before it are whole" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["a.png_color.png", "a.png_ids.png", "a.png_overlay.png",
                                                     "b.png_ids.png"]  # no temporary file left
    assert Image.open(out / "a.png_overlay.png").size[1] == 40
    monkeypatch.setattr(outputs, "atomic_write", real)
    assert main(["predict", str(images), "--weights", str(weights), "-o", str(out), "--quiet"]) == 0
    assert "3 images" in capsys.readouterr().out  # a.png done; b, c, d predicted


def test_flows_asked_on_a_tiled_image_get_one_clear_message(weights, predictor, tmp_path, capsys):
    """issue 10 session-3 finding: tiled images return class ids only, and `--flows` on one said "model ... gives
    no semantic flows", which is wrong. Now one note names the image, its size against the budget, what was
    written instead and how to raise the budget; the API refuses logits, probabilities and flows alike."""
    images = tmp_path / "images"
    save_images(images, ["big.png"], size=(80, 96))  # 7680 pixels, over a budget of 4096
    out = tmp_path / "out"
    code = main(["predict", str(images), "--weights", str(weights), "-o", str(out), "--quiet", "--flows",
                 "--max-pixels", "4096"])
    printed = capsys.readouterr().out
    assert code == 0 and (out / "big.png_ids.png").is_file() and not list(out.glob("*_flow*"))
    notes = [line for line in printed.splitlines() if line.startswith("note: ")]
    assert notes == [f"note: {images / 'big.png'} is 96x80 = 7,680 pixels, over the pixel budget of 4,096 "
                     "(max_pixels): predicted in tiles, which give class ids only: its _ids, _color and _overlay PNGs "
                     "were written, no _flow PNGs; --max-pixels 7680 (or 0: no budget) gives them, with memory "
                     "growing with the image"]
    small = Predictor(predictor.runner, predictor.record, max_pixels=4096)
    big = np.zeros((80, 96, 3), np.uint8)
    for ask in ("return_logits", "return_probabilities", "return_flows"):
        with pytest.raises(ValueError, match=r"image 0 of the batch is 96x80 = 7,680 pixels, over the pixel budget "
                                             rf"of 4,096 .* no {ask[7:]}: .* raise max_pixels to at least 7680"):
            small.predict(big, **{ask: True})
    assert small.predict(big).label.shape == (80, 96)


def test_a_video_the_disk_could_not_finish_is_an_error_not_a_broken_file(tmp_path, monkeypatch):
    """issue 10 session-4 fault-injection finding: a full disk during a video predict left an .mp4 without its
    index (no player opens it) and exited 0, since OpenCV reports no write error. The writer now reads the frame
    count back: a short file is removed, with ENOSPC when the disk is full, else an error naming the counts."""
    import errno
    import os
    from types import SimpleNamespace

    from alignseg.data import DataError
    from alignseg.predict import video

    frames = [np.full((32, 48, 3), 20 * i, np.uint8) for i in range(3)]
    with video.AtomicVideoWriter(tmp_path / "ok.mp4", 5.0) as writer:
        for frame in frames:
            writer.write(frame)
    assert count_frames(tmp_path / "ok.mp4") == 3
    for free, error in ((0, OSError), (1000, DataError)):
        writer = video.AtomicVideoWriter(tmp_path / "short.mp4", 5.0)
        for frame in frames:
            writer.write(frame)
        writer.frames += 1  # as if a frame never reached the disk
        real = os.statvfs
        monkeypatch.setattr(video.os, "statvfs", lambda path, free=free: SimpleNamespace(f_bavail=free, f_frsize=4096))
        with pytest.raises(error, match="No space left on device" if free == 0 else "reads back 3 of its 4 frames") \
                as caught:
            writer.close()
        monkeypatch.setattr(video.os, "statvfs", real)
        assert free or caught.value.errno == errno.ENOSPC
        assert list(tmp_path.iterdir()) == [tmp_path / "ok.mp4"]  # nothing half-written left
