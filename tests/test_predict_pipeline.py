"""Overlapped prediction (issue 11): decoding and writing on their own threads around inference give the same
files as the sequential run, the queues stay bounded, an error in either thread ends the run cleanly, and the
run reports its end-to-end FPS."""

import threading
import time

import numpy as np
import pytest
from PIL import Image
from test_predict import count_frames, save_checkpoint, write_video
from test_predict_safe import save_images

import alignseg.predict.outputs as outputs
from alignseg.cli import main
from alignseg.data import DataError
from alignseg.predict import OutputOptions, Predictor, predict_path, read_video_frames
from alignseg.predict.pipeline import Pipeline, StageTimes


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("weights") / "w.pt", 11)


@pytest.fixture(scope="module")
def predictor(weights):
    return Predictor.from_checkpoint(weights)


def within(seconds, function):
    """Run ``function`` on a thread and fail (instead of hanging the suite) if it takes over ``seconds``."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: the pipeline hangs"
    return result.get("value")


def pipeline_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("alignseg-") and thread.is_alive()]


def files_of(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def video_frames(path):
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    capture.release()
    return frames


def test_overlapped_run_writes_the_same_files_as_the_sequential_one(predictor, tmp_path):
    images = tmp_path / "images"
    save_images(images, ["a.png", "b.jpg", "c.png"])
    save_images(images / "sub", ["d.png"], size=(36, 52))
    runs = {}
    for overlap in (True, False):
        options = OutputOptions(progress=False, flows=True, overlap=overlap)
        summary = predict_path(predictor, images, tmp_path / f"out{overlap}", options)
        assert summary.images == 4 and not summary.failed
        assert summary.timing.overlapped is overlap and summary.timing.frames == 4
        runs[overlap] = files_of(tmp_path / f"out{overlap}")
    assert len(runs[True]) == 4 * 5  # ids, color, 2 flow fields, overlay
    assert runs[True] == runs[False]  # byte for byte


def test_overlapped_video_keeps_frame_order_and_equals_the_sequential_video(predictor, tmp_path):
    frames = [np.random.default_rng(i).integers(0, 255, (64, 96, 3), dtype=np.uint8) for i in range(5)]
    video = tmp_path / "clip.avi"
    write_video(video, frames, fourcc="MJPG")
    outs = {}
    for overlap in (True, False):
        options = OutputOptions(progress=False, flows=True, save_frames=True, overlap=overlap)
        summary = predict_path(predictor, video, tmp_path / f"out{overlap}", options)
        assert summary.frames == 5 and not summary.failed and summary.timing.frames == 5
        outs[overlap] = tmp_path / f"out{overlap}"
    frame_files = [files_of(folder / "clip.avi_frames") for folder in outs.values()]
    assert frame_files[0] == frame_files[1] and len(frame_files[0]) == 5 * 5
    decoded = [video_frames(folder / "clip.avi_overlay.mp4") for folder in outs.values()]
    assert len(decoded[0]) == 5 and all(np.array_equal(a, b) for a, b in zip(*decoded, strict=True))
    # in order: the ids of frame i are the prediction of the i-th decoded frame
    for index, frame in enumerate(read_video_frames(video)):
        ids = np.array(Image.open(outs[True] / "clip.avi_frames" / f"{index:06d}_ids.png"))
        assert np.array_equal(ids, predictor.predict(frame).label)


def test_decode_thread_never_runs_more_than_depth_items_ahead():
    produced, lead = [0], []

    def frames():
        for index in range(20):
            produced[0] += 1
            yield np.full((4, 4, 3), index, np.uint8)

    def run():
        with Pipeline(depth=3) as pipeline:
            for consumed, frame in enumerate(pipeline.read(frames()), start=1):
                time.sleep(0.01)  # a slow inference: the decoder fills its queue
                lead.append(produced[0] - consumed)
                assert frame[0, 0, 0] == consumed - 1
    within(30, run)
    assert len(lead) == 20 and max(lead) == 3  # full, never over

    produced[0], lead[:] = 0, []

    def large():
        for _ in range(6):
            produced[0] += 1
            yield np.zeros(1000, np.uint8)

    def run_bytes():
        with Pipeline(depth=4, max_bytes=1000) as pipeline:  # one of these arrays fills the budget
            for consumed, _ in enumerate(pipeline.read(large()), start=1):
                time.sleep(0.01)
                lead.append(produced[0] - consumed)
    within(30, run_bytes)
    assert max(lead) == 1


def test_writer_queue_is_bounded_and_outcomes_come_back_in_order():
    started, settled, waiting = [], [], []

    def job(index):
        started.append(index)
        time.sleep(0.2 if index == 0 else 0.0)  # the others queue up behind it
        return index

    def run():
        with Pipeline(depth=2) as pipeline:
            for index in range(6):
                pipeline.submit(lambda index=index: job(index), lambda future: settled.append(future.result()))
                waiting.append(len(pipeline._pending))
            pipeline.finish()
    within(30, run)
    assert max(waiting) <= 2 and settled == list(range(6)) and started == list(range(6))


def test_a_decode_error_mid_stream_ends_the_run_cleanly():
    def frames():
        yield np.zeros((4, 4, 3), np.uint8)
        yield np.zeros((4, 4, 3), np.uint8)
        raise DataError("frame 2 of clip.mp4 is corrupt")

    def run():
        seen = []
        with pytest.raises(DataError, match=r"frame 2 of clip\.mp4"), Pipeline(depth=2) as pipeline:
            for frame in pipeline.read(frames()):
                seen.append(pipeline.infer(np.mean, frame))
                pipeline.submit(lambda: None, lambda future: future.result())
        return seen
    assert within(30, run) == [0.0, 0.0]
    assert not pipeline_threads()


def test_a_write_error_mid_stream_ends_the_run_cleanly():
    def endless():
        while True:
            yield np.zeros((4, 4, 3), np.uint8)

    def job(index):
        if index == 3:
            raise OSError(28, "No space left on device")
        return index

    def run():
        written = []
        with pytest.raises(OSError, match="No space left"), Pipeline(depth=2) as pipeline:
            for index, _ in enumerate(pipeline.read(endless())):
                pipeline.submit(lambda index=index: job(index), lambda future: written.append(future.result()))
        return written
    assert within(30, run) == [0, 1, 2]
    assert not pipeline_threads()


@pytest.mark.parametrize("overlap", [True, False])
def test_folder_write_error_is_one_failed_file_the_rest_written(predictor, tmp_path, monkeypatch, overlap):
    images = tmp_path / "images"
    save_images(images, ["a.png", "b.png", "c.png", "d.png"])
    (images / "e.png").write_bytes(b"not a png")
    write_png = outputs.write_png

    def failing(path, array):
        if path.name.startswith("b.png_overlay"):
            raise OSError(f"cannot write {path}")
        return write_png(path, array)
    monkeypatch.setattr(outputs, "write_png", failing)
    reported = []
    summary = within(60, lambda: predict_path(predictor, images, tmp_path / "out",
                                              OutputOptions(progress=False, overlap=overlap), report=reported.append))
    assert summary.images == 3 and len(summary.failed) == 2
    assert summary.failed[0].startswith(f"{images / 'b.png'}: cannot write") and summary.failed[1].startswith(
        f"{images / 'e.png'}: ")  # in input order, whichever thread failed
    assert reported == [f"failed: {line}" for line in summary.failed]
    assert sorted(path.name for path in (tmp_path / "out").glob("*_overlay.png")) == [
        "a.png_overlay.png", "c.png_overlay.png", "d.png_overlay.png"]
    assert not pipeline_threads()


def test_video_write_or_decode_error_mid_stream_exits_2_and_leaves_no_video(weights, tmp_path, monkeypatch, capsys):
    frames = [np.random.default_rng(i).integers(0, 255, (64, 96, 3), dtype=np.uint8) for i in range(8)]
    video = tmp_path / "clip.avi"
    write_video(video, frames, fourcc="MJPG")
    write = outputs.AtomicVideoWriter.write

    def failing_write(self, frame):
        if self.frames == 3:
            raise OSError(28, "No space left on device")
        write(self, frame)
    monkeypatch.setattr(outputs.AtomicVideoWriter, "write", failing_write)
    out = tmp_path / "out"
    code = within(60, lambda: main(["predict", str(video), "--weights", str(weights), "-o", str(out), "--quiet"]))
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert not list(out.glob("*.mp4")) and not list(out.glob(".*"))  # the partial video was discarded
    monkeypatch.undo()

    read = outputs.read_video_frames

    def failing_read(path, max_frames=None):
        for index, frame in enumerate(read(path, max_frames)):
            if index == 4:
                raise DataError(f"{path}: frame 4 cannot be decoded")
            yield frame
    monkeypatch.setattr(outputs, "read_video_frames", failing_read)
    code = within(60, lambda: main(["predict", str(video), "--weights", str(weights), "-o", str(out), "--quiet"]))
    err = capsys.readouterr().err
    assert code == 2 and "frame 4 cannot be decoded" in err and "Traceback" not in err
    assert not list(out.glob("*.mp4")) and not list(out.glob(".*"))
    assert not pipeline_threads()
    assert count_frames(video) == 8


def test_cli_prints_throughput_and_stage_seconds(weights, tmp_path, capsys):
    images = tmp_path / "images"
    save_images(images, ["a.png", "b.png"])
    for flag, how in (([], "overlapped with inference"), (["--no-overlap"], "one after another")):
        code = main(["predict", str(images), "--weights", str(weights), "-o", str(tmp_path / "out"), "--quiet",
                     "--overwrite", *flag])
        out = capsys.readouterr().out
        assert code == 0
        throughput = next(line for line in out.splitlines() if line.startswith("throughput:"))
        assert "2 frames in" in throughput and "FPS end to end" in throughput and how in throughput
        assert "outside inference" in throughput
        assert any(line.startswith("stages (s): decode ") for line in out.splitlines())


def test_stage_times_arithmetic():
    times = StageTimes(infer=3.0, wall=4.0, frames=8, decode=0.5, write=0.25)
    assert times.fps == 2.0 and times.outside_inference == 0.25
    assert times.as_dict()["fps"] == 2.0 and times.as_dict()["decode"] == 0.5
    assert "2.00 FPS end to end" in times.lines()[0] and "inference alone 2.67 FPS" in times.lines()[0]
    assert StageTimes().fps == 0.0 and StageTimes().outside_inference == 0.0
    with pytest.raises(ValueError, match="depth must be at least 1"):
        Pipeline(depth=0)


def test_video_codec_can_be_chosen_and_the_encoder_flush_is_timed(predictor, tmp_path):
    """OpenCV's VP9 encoder holds frames back and encodes them when the file is closed (seconds per 720p frame):
    the close is counted as writing, and ``video_codec`` picks a faster codec."""
    frames = [np.random.default_rng(i).integers(0, 255, (64, 96, 3), dtype=np.uint8) for i in range(3)]
    write_video(tmp_path / "clip.avi", frames, fourcc="MJPG")
    closes = []
    close = outputs.AtomicVideoWriter.close

    def timed_close(self):
        time.sleep(0.3)
        closes.append(self.codec)
        return close(self)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outputs.AtomicVideoWriter, "close", timed_close)
        summary = predict_path(predictor, tmp_path / "clip.avi", tmp_path / "out",
                               OutputOptions(progress=False, video_codec="mp4v"))
    assert closes == ["MPEG-4 Part 2"] and not summary.notes  # asked for: no fallback note
    assert summary.timing.write >= 0.3 and summary.timing.wall >= 0.3
    assert count_frames(tmp_path / "out" / "clip.avi_overlay.mp4") == 3
    with pytest.raises(ValueError, match="unknown video codec 'hevc'"):
        OutputOptions(video_codec="hevc")
