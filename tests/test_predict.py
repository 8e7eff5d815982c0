"""alignseg.predict and ``alignseg predict``: real images, folders, a synthetic video, Cityscapes format, errors."""

import cv2
import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

import alignseg
from alignseg.cli import main
from alignseg.data import CAMVID_CLASSES, CAMVID_PALETTE, CITYSCAPES_PALETTE, DataError, default_palette, read_image
from alignseg.deploy.runtimes import Runner
from alignseg.models.checkpoint import read_checkpoint
from alignseg.predict import (
    CITYSCAPES_RESULTS_FOLDER,
    InferenceSettings,
    OutputOptions,
    Predictor,
    find_images,
    predict_path,
    resolve_classes,
    to_cityscapes_label_ids,
)

MODEL = "sfnet_lite_r18"


def save_checkpoint(path, num_classes, *, metadata=True):
    model = alignseg.create_model(MODEL, num_classes=num_classes)
    if metadata:
        content = {
            "model": MODEL,
            "num_classes": num_classes,
            "class_names": list(CAMVID_CLASSES)[:num_classes],
            "palette": [list(color) for color in CAMVID_PALETTE][:num_classes],
            "ignore_index": 255,
            "state_dict": model.state_dict(),
        }
    else:  # what `alignseg convert` writes
        content = {
            "model": MODEL,
            "num_classes": num_classes,
            "converted_from": "x.pth",
            "state_dict": model.state_dict(),
        }
    torch.save(content, path)
    return path


@pytest.fixture(scope="module")
def camvid_weights(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("weights") / "camvid.pt", 11)


@pytest.fixture(scope="module")
def predictor(camvid_weights):
    return Predictor.from_checkpoint(camvid_weights)


@pytest.fixture
def camvid_image():
    return shared_path("data", "camvid", "images", "test", "0001TP_008550.jpg")


def no_temporaries(folder):
    return not [path for path in folder.rglob(".*") if path.is_file()]


def test_predictor_on_a_camvid_image(predictor, camvid_image):
    assert predictor.model_name == MODEL and predictor.num_classes == 11
    assert predictor.palette == CAMVID_PALETTE and predictor.class_names == CAMVID_CLASSES
    image = read_image(camvid_image)
    result = predictor.predict(image, return_logits=True, return_flows=True)
    assert result.label.shape == image.shape[:2] and result.label.dtype == np.uint8
    assert result.label.max() < 11
    assert result.logits.shape == (1, 11, *image.shape[:2])
    assert np.array_equal(result.label, result.logits.argmax(1)[0].numpy())
    # GD-FAM: one 4-channel flow = two 2×h×w fields on the stride-4 grid, in pixels
    assert [flow.shape for flow in result.flows] == [(2, 90, 120), (2, 90, 120)]


def test_cli_writes_the_files_of_one_image(camvid_weights, camvid_image, tmp_path):
    out = tmp_path / "out"
    code = main(["predict", str(camvid_image), "--weights", str(camvid_weights), "--output", str(out),
                 "--flows", "--quiet"])  # fmt: skip
    assert code == 0
    name = camvid_image.name  # the extension stays in the output names
    ids = Image.open(out / f"{name}_ids.png")
    assert ids.mode == "L" and ids.size == (480, 360)
    assert np.asarray(ids).max() < 11
    color = Image.open(out / f"{name}_color.png")
    assert color.mode == "P" and color.size == (480, 360)
    assert np.array_equal(np.asarray(color), np.asarray(ids))  # pixel values are the class ids
    assert [tuple(c) for c in np.asarray(color.getpalette()[: 3 * 11]).reshape(11, 3)] == list(CAMVID_PALETTE)
    overlay = Image.open(out / f"{name}_overlay.png")
    assert overlay.mode == "RGB" and overlay.size[1] == 360 and overlay.size[0] > 480  # legend on the right
    for index in (0, 1):
        picture = Image.open(out / f"{name}_flow{index}.png")
        assert picture.mode == "RGB" and picture.size[1] == 360 and picture.size[0] > 480  # wheel on the right
    assert no_temporaries(out)


def test_same_stem_different_extension_never_collide(predictor, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for suffix, value in ((".png", 20), (".jpg", 200)):
        Image.fromarray(np.full((40, 48, 3), value, np.uint8)).save(images / f"frame{suffix}")
    summary = predict_path(predictor, images, tmp_path / "out", OutputOptions(progress=False))
    names = [path.name for path in summary.files]
    assert len(names) == len(set(names)) == 6
    assert sorted(names)[:3] == ["frame.jpg_color.png", "frame.jpg_ids.png", "frame.jpg_overlay.png"]


def test_folder_input_is_recursive_and_sorted(tmp_path):
    for name in ("b/z.PNG", "a.jpg", "b/c/y.tiff", "notes.txt", "a.bmp"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = [path.relative_to(tmp_path).as_posix() for path in find_images(tmp_path)]
    assert found == ["a.bmp", "a.jpg", "b/c/y.tiff", "b/z.PNG"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no images .* found under .*empty"):
        find_images(tmp_path / "empty")


def test_folder_with_a_corrupt_image_names_it(predictor, tmp_path):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(images / "sub" / "a_good.png")
    (images / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    summary = predict_path(predictor, images, tmp_path / "out")
    assert len(summary.failed) == 1 and "sub/broken.jpg" in summary.failed[0]
    # the good image was written completely, into the mirrored sub-folder
    assert (tmp_path / "out" / "sub" / "a_good.png_ids.png").is_file()
    assert no_temporaries(tmp_path / "out")


def write_video(path, frames, fps=5.0, fourcc="mp4v"):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def count_frames(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_video_gives_an_overlay_video(predictor, tmp_path):
    frames = [np.full((64, 96, 3), value, np.uint8) for value in (30, 120, 210)]
    video = tmp_path / "clip.mp4"
    write_video(video, frames)
    summary = predict_path(predictor, video, tmp_path / "out")
    assert summary.frames == 3
    assert count_frames(tmp_path / "out" / "clip.mp4_overlay.mp4") == 3
    summary = predict_path(predictor, video, tmp_path / "out2", OutputOptions(max_frames=2, save_frames=True))
    assert count_frames(tmp_path / "out2" / "clip.mp4_overlay.mp4") == 2
    saved = sorted(path.name for path in (tmp_path / "out2" / "clip.mp4_frames").iterdir())
    assert saved == [f"00000{i}_{kind}.png" for i in (0, 1) for kind in ("color", "ids", "overlay")]
    assert no_temporaries(tmp_path / "out2")


def test_video_with_flow_panel_and_progress(predictor, tmp_path, capsys):
    frames = [np.full((64, 96, 3), value, np.uint8) for value in (30, 120, 210, 90)]
    video = tmp_path / "clip.mp4"
    write_video(video, frames)
    summary = predict_path(predictor, video, tmp_path / "out", OutputOptions(flows=True))
    written = tmp_path / "out" / "clip.mp4_overlay.mp4"
    assert summary.frames == 4 and count_frames(written) == 4
    capture = cv2.VideoCapture(str(written))
    width = capture.get(cv2.CAP_PROP_FRAME_WIDTH)
    capture.release()
    assert width > 2 * 96  # overlay + legend, then the flow field + its key
    err = capsys.readouterr().err
    assert "4/4 frames" in err and "\r" not in err  # stderr is not a terminal here: plain lines only


def test_video_codec_fallback_is_named(tmp_path):
    from alignseg.predict.video import AtomicVideoWriter

    codecs = (("QQQQ", "nothing", None), ("mp4v", "MPEG-4 Part 2", "fell back for {path}"))
    with AtomicVideoWriter(tmp_path / "v.mp4", 5.0, codecs) as writer:
        for value in (0, 100, 200):
            writer.write(np.full((33, 47, 3), value, np.uint8))  # odd sizes are padded to even
    assert writer.codec == "MPEG-4 Part 2" and writer.warning == f"fell back for {tmp_path / 'v.mp4'}"
    assert count_frames(tmp_path / "v.mp4") == 3
    with pytest.raises(DataError, match="any of the codecs QQQQ"), AtomicVideoWriter(
        tmp_path / "w.mp4", 5.0, codecs[:1]
    ) as writer:
        writer.write(np.zeros((8, 8, 3), np.uint8))
    assert not list(tmp_path.glob(".w*"))


def test_progress_bar_on_a_terminal_and_in_a_log():
    import io

    from alignseg.predict.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    log, terminal = io.StringIO(), Terminal()
    for stream in (log, terminal):
        bar = ProgressBar(3, "frames", stream=stream, every_s=0.0)
        for _ in range(3):
            bar.update()
        bar.close()
    assert "\r" not in log.getvalue() and log.getvalue().count("\n") == 4
    assert log.getvalue().splitlines()[-1].startswith("[##############################] 3/3 frames")
    assert terminal.getvalue().startswith("\r") and terminal.getvalue().count("\n") == 1


def test_cityscapes_train_ids_become_label_ids():
    train_ids = np.array([[0, 1, 2, 10], [13, 18, 255, 5]], dtype=np.uint8)
    assert to_cityscapes_label_ids(train_ids).tolist() == [[7, 8, 11, 23], [26, 33, 0, 17]]


def test_cli_cityscapes_format(tmp_path):
    image = shared_path("data", "samples", "cityscapes", "leftImg8bit", "val", "frankfurt",
                        "frankfurt_000000_000294_leftImg8bit.png")  # fmt: skip
    weights = save_checkpoint(tmp_path / "city.pt", 19, metadata=False)
    out = tmp_path / "out"
    argv = ["predict", str(image.parent.parent), "--weights", str(weights), "--output", str(out),
            "--cityscapes-format", "--dataset", "cityscapes", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    train_ids = np.asarray(Image.open(out / "frankfurt" / "frankfurt_000000_000294_leftImg8bit.png_ids.png"))
    result = out / CITYSCAPES_RESULTS_FOLDER / "frankfurt" / "frankfurt_000000_000294_leftImg8bit_labelIds.png"
    label_ids = Image.open(result)
    assert label_ids.mode == "L" and label_ids.size == (256, 128)
    expected = np.array([7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33])[train_ids]
    assert np.array_equal(np.asarray(label_ids), expected)
    # --dataset cityscapes gave the overlay the Cityscapes colours
    overlay = np.asarray(Image.open(out / "frankfurt" / "frankfurt_000000_000294_leftImg8bit.png_overlay.png"))
    pixel = read_image(image)[0, 0].astype(float)
    color = np.array(CITYSCAPES_PALETTE[train_ids[0, 0]])
    assert np.abs(overlay[0, 0] - np.rint((pixel + color) / 2)).max() <= 1


def test_cityscapes_format_needs_19_classes(camvid_weights, camvid_image, tmp_path, capsys):
    argv = ["predict", str(camvid_image), "--weights", str(camvid_weights), "--output", str(tmp_path),
            "--cityscapes-format"]  # fmt: skip
    assert main(argv) == 2
    assert "19-class" in capsys.readouterr().err


def test_missing_weights_file_is_exit_code_2(camvid_image, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "w.pt"
    assert main(["predict", str(camvid_image), "--weights", str(missing), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "alignseg predict: error" in err and str(missing) in err
    assert not (tmp_path / "o").exists()


def test_missing_input_is_exit_code_2(camvid_weights, tmp_path, capsys):
    assert main(["predict", str(tmp_path / "x.jpg"), "--weights", str(camvid_weights), "--output", "o"]) == 2
    assert "x.jpg does not exist" in capsys.readouterr().err


def test_unknown_backend_is_a_clear_error(camvid_weights):
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        Predictor.from_checkpoint(camvid_weights, backend="tensorrt")


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_exported_backends_predict_the_same_labels_as_torch(camvid_weights, camvid_image, backend, tmp_path):
    pytest.importorskip(backend, reason="exported backends are in the [deploy] extra")
    torch_labels = Predictor.from_checkpoint(camvid_weights).predict(camvid_image).label
    exported = Predictor.from_checkpoint(camvid_weights, backend=backend)
    assert exported.runner.name.startswith(backend)
    labels = exported.predict(camvid_image).label
    assert labels.shape == torch_labels.shape
    assert (labels == torch_labels).mean() > 0.999


def test_cli_predicts_with_onnxruntime(camvid_weights, camvid_image, tmp_path):
    pytest.importorskip("onnxruntime", reason="exported backends are in the [deploy] extra")
    argv = ["predict", str(camvid_image), "--weights", str(camvid_weights), "--output", str(tmp_path),
            "--backend", "onnxruntime", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / f"{camvid_image.name}_ids.png").is_file()


def test_onnxruntime_runs_fp32_only(camvid_weights):
    with pytest.raises(ValueError, match="fp32 graph only"):
        Predictor.from_checkpoint(camvid_weights, backend="onnxruntime", precision="bf16")


def test_checkpoint_metadata_and_palette_fallbacks(tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save({"w": torch.zeros(1)}, bare)
    info = read_checkpoint(bare).record
    assert info.model is None and info.palette is None
    with pytest.raises(ValueError, match=r"bare\.pt does not name its model: pass --model"):
        Predictor.from_checkpoint(bare)
    converted = tmp_path / "converted.pt"
    torch.save({"model": MODEL, "num_classes": 4, "converted_from": "x", "state_dict": {"w": torch.zeros(1)}},
               converted)  # fmt: skip
    info = read_checkpoint(converted).record
    assert (info.model, info.num_classes, info.class_names, info.palette) == (MODEL, 4, None, None)
    names, palette = resolve_classes(4, class_names=info.class_names, palette=info.palette)
    assert names == ("class_0", "class_1", "class_2", "class_3") and palette == default_palette(4)
    names, palette = resolve_classes(12, dataset="camvid")  # padded beyond the 11 CamVid classes
    assert palette[:11] == CAMVID_PALETTE and palette[11] == default_palette(12)[11] and names[11] == "class_11"


def test_inference_settings_are_checked():
    with pytest.raises(ValueError, match="mode 'sliding' needs window"):
        InferenceSettings(mode="sliding").check()
    with pytest.raises(ValueError, match="scales must be a non-empty list of positive numbers"):
        InferenceSettings(scales=[1.0, 0.0]).check()
    assert InferenceSettings().single_pass and not InferenceSettings(flip=True).single_pass


def test_sliding_multiscale_flip_matches_evaluation(predictor):
    from alignseg.evaluation import multi_scale_inference

    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    settings = InferenceSettings(mode="sliding", flip=True, window=(48, 48))
    sliding = Predictor(predictor.runner, settings=settings)
    result = sliding.predict(image, return_logits=True)
    expected = multi_scale_inference(predictor.runner, sliding.preprocess(image), flip=True, mode="sliding",
                                     window=(48, 48), align_corners=predictor.runner.align_corners)  # fmt: skip
    torch.testing.assert_close(result.logits, expected)
    assert sliding.palette == default_palette(11)  # a bare predictor has generated colours


class _LabelsRunner(Runner):
    """Counts which entry point the Predictor used: ``labels`` (class ids only) or ``__call__`` (logits)."""

    num_classes = 3

    def __init__(self) -> None:
        self.calls = {"labels": 0, "logits": 0}

    def __call__(self, x):
        self.calls["logits"] += 1
        logits = torch.zeros(x.shape[0], 3, *x.shape[-2:])
        logits[:, 2] = 1.0
        return logits

    def labels(self, x):
        self.calls["labels"] += 1
        return super().labels(x)


def test_predictor_asks_the_runner_for_class_ids_only_when_nothing_else_is_wanted():
    runner = _LabelsRunner()
    predictor = Predictor(runner)
    image = np.zeros((8, 12, 3), np.uint8)
    assert (predictor(image).label == 2).all()
    assert runner.calls == {"labels": 1, "logits": 1}  # the default labels() takes the arg-max of the logits
    predictor(image, return_probabilities=True)
    assert runner.calls == {"labels": 1, "logits": 2}  # probabilities need the logits
    flip = Predictor(runner, settings=InferenceSettings(flip=True))
    assert (flip(image).label == 2).all() and runner.calls["labels"] == 1  # test-time augmentation averages logits
