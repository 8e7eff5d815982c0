"""End-to-end training on the procedural shapes (64×64, CPU, one thread): checkpoints, exported weights,
exact resume, eval, demo."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as L
import pytest
import torch
import yaml

from alignseg.engine.config import ConfigError


def tiny_overrides(output_dir, *extra: str, train_samples: int = 8, batch_size: int = 2) -> list[str]:
    """Overrides of a tiny run: sfnet_lite_r18 on 64×64 shapes, 6 classes, 2 validation images."""
    return [
        "model.name=sfnet_lite_r18",
        "data.dataset=shapes",
        f"data.train_kwargs={{num_samples: {train_samples}, size: 64, seed: 0}}",
        "data.val_kwargs={num_samples: 2, size: 64, seed: 1}",
        "data.crop_size=64",
        "data.scale_range=[0.75, 1.25]",
        f"data.batch_size={batch_size}",
        "data.workers=0",
        "train.accelerator=cpu",
        "train.progress_bar=false",
        "train.deterministic=true",
        "train.threads=1",  # tiny tensors: threads only add overhead (restored after each test)
        f"train.output_dir={output_dir}",
        *extra,
    ]


@pytest.fixture(autouse=True)
def _restore_threads():
    """``fit`` applies ``train.threads`` to the whole process; give other tests their thread count back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny(tmp_path):
    """``tiny(*overrides)`` -> a checked Config writing under a fresh temporary folder."""
    from alignseg.engine import load_config

    def make(*extra: str, **kwargs):
        return load_config(None, tiny_overrides(tmp_path / "run", *extra, **kwargs))

    return make


def test_the_criterion_resizes_with_the_model_convention_and_reads_the_zoo_defaults(tiny):
    """FaPN models predict with detectron2's align_corners=False: their loss must resize the same way
    (the old loss hard-coded True), and the SFNet-DF recipe's deep-supervision weights come from the entry."""
    import torch.nn.functional as F

    from alignseg.engine.module import SegmentationModule

    def module(*overrides: str) -> SegmentationModule:
        config = tiny(*overrides, "train.max_steps=1")
        return SegmentationModule(config, class_names=["a", "b", "c"], palette=[[0] * 3] * 3)

    fapn = module("model.name=fapn_r18")
    assert fapn.model.align_corners is False and fapn.criterion.pixel_loss.align_corners is False
    logits, labels = torch.randn(1, 3, 8, 8), torch.randint(0, 3, (1, 64, 64))
    loss, _ = fapn.criterion({"out": logits, "aux": {}, "loss_inputs": {}}, labels)
    up = F.interpolate(logits, size=(64, 64), mode="bilinear", align_corners=False)
    torch.testing.assert_close(loss, F.cross_entropy(up, labels))

    df1 = module("model.name=sfnet_df1")
    assert df1.criterion.pixel_loss.align_corners is True and df1.criterion.aux_weights == {"dsn": 0.4}
    outputs = df1.model.train()(torch.randn(2, 3, 64, 64))
    assert set(df1.criterion(outputs, torch.randint(0, 3, (2, 64, 64)))[1]) == {"main", "dsn_0", "dsn_1"}
    with pytest.raises(ConfigError, match=r"unknown loss term 'nope'"):
        module("loss.terms={nope: {}}")


class Kill(L.Callback):
    """Simulates a killed process: raises before optimiser step ``at`` runs (its checkpoint is written)."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at:
            raise KeyError(f"killed before step {self.at}")


def test_cli_train_writes_checkpoints_and_exports_loadable_weights(tmp_path, capsys):
    import alignseg
    from alignseg.cli import main

    config = {}
    for item in tiny_overrides(tmp_path / "run", "train.max_epochs=1", train_samples=4):
        key, value = item.split("=", 1)
        section, name = key.split(".")
        config.setdefault(section, {})[name] = yaml.safe_load(value)
    path = tmp_path / "tiny.yaml"
    path.write_text("# tiny test config\n" + yaml.safe_dump(config))
    assert main(["train", "--config", str(path), "loss.name=ohem", "loss.kwargs={min_kept: 100}"]) == 0
    out = capsys.readouterr().out
    assert "last validation mIoU" in out

    run = tmp_path / "run"
    for name in ("config.yaml", "checkpoints/last.ckpt", "checkpoints/best.ckpt", "model_last.pt", "model_best.pt"):
        assert (run / name).is_file(), name
    assert list((run / "csv").rglob("metrics.csv")) and list((run / "tensorboard").rglob("events.out.*"))
    assert not [p for p in run.rglob("*.tmp")]

    record = torch.load(run / "model_last.pt", weights_only=True)
    assert record["model"] == "sfnet_lite_r18" and record["num_classes"] == 6 and record["ignore_index"] == 255
    assert record["class_names"][0] == "background" and len(record["palette"]) == 6
    assert all(len(c) == 3 for c in record["palette"])
    model = alignseg.create_model("sfnet_lite_r18", num_classes=6, pretrained=run / "model_last.pt")
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in record["state_dict"].items())

    # eval from the exported file (model name read from it) and from the training checkpoint
    metrics_file = tmp_path / "metrics.json"
    assert main(["eval", "--weights", str(run / "model_best.pt"), "--config", str(run / "config.yaml"),
                 "--json", str(metrics_file), "eval.flip=true"]) == 0
    out = capsys.readouterr().out
    assert "mIoU" in out and "pixel accuracy" in out and "background" in out
    metrics = json.loads(metrics_file.read_text())
    assert metrics["images"] == 2 and set(metrics["iou"]) == set(record["class_names"])
    assert sum(map(sum, metrics["confusion_matrix"])) == 2 * 64 * 64
    assert main(["eval", "--weights", str(run / "checkpoints" / "last.ckpt"), "--dataset", "shapes",
                 "data.val_kwargs={num_samples: 2, size: 64, seed: 1}", "data.workers=0"]) == 0
    assert main(["eval", "--weights", str(run / "model_best.pt"), "--model", "sfnet_r18"]) == 2
    assert "holds a sfnet_lite_r18 model" in capsys.readouterr().err


@pytest.mark.slow
def test_resumed_run_ends_with_the_same_weights(tiny, tmp_path):
    """4 samples at batch 2: 2 steps per epoch. Straight 5 steps vs killed before step 3 (mid-epoch 1) and
    before step 4 (after the end of epoch 1), each time resumed with --resume auto."""
    from alignseg.engine.trainer import fit

    extra = ("train.max_steps=5", "train.checkpoint_every_n_steps=1")
    straight = fit(tiny(*extra, f"train.output_dir={tmp_path / 'straight'}", train_samples=4), loggers=False)
    config = tiny(*extra, train_samples=4)
    for step in (3, 4):
        with pytest.raises(KeyError, match=f"killed before step {step}"):
            fit(config, resume="auto", callbacks=[Kill(step)], loggers=False)
    resumed = fit(config, resume="auto", loggers=False)
    assert resumed.module.global_step == straight.module.global_step == 5
    expected, got = straight.module.model.state_dict(), resumed.module.model.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert resumed.history == straight.history  # the validations of epochs 0 and 1, one of them restored


def test_checkpoint_write_failure_leaves_the_previous_file(tmp_path, monkeypatch):
    from alignseg.engine.callbacks import AtomicCheckpointIO

    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, target)
    before = target.read_bytes()

    def broken_save(obj, stream, *args, **kwargs):
        stream.write(b"partial checkpoint bytes")
        raise OSError("no space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="no space"):
        io.save_checkpoint({"step": 2}, target)
    with pytest.raises(OSError, match="no space"):
        io.save_checkpoint({"step": 2}, tmp_path / "new.ckpt")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no partial or temporary files
    monkeypatch.undo()
    assert torch.load(target, weights_only=True) == {"step": 1}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.sync_bn=true"], "train.sync_bn=true needs GPUs"),
        (["train.precision=16-mixed"], "'16-mixed' needs a GPU"),
    ],
)
def test_gpu_only_settings_on_cpu_are_clear_errors(tiny, overrides, message):
    from alignseg.engine.trainer import fit

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(ConfigError, match=message):
        fit(tiny("train.max_steps=1", *overrides))


def test_resume_from_a_missing_checkpoint(tiny):
    from alignseg.engine.trainer import fit

    with pytest.raises(FileNotFoundError, match="checkpoint to resume from not found"):
        fit(tiny("train.max_steps=1"), resume="/nowhere/last.ckpt")


def test_demo_writes_metrics_and_pictures(tmp_path, capsys):
    from alignseg.cli import main

    output = tmp_path / "demo"
    args = ["demo", "--output-dir", str(output), "--pictures", "2", "train.max_epochs=1", "train.progress_bar=false",
            "data.train_kwargs={num_samples: 4, size: 64, num_classes: 6, seed: 0}", "data.crop_size=64",
            "data.val_kwargs={num_samples: 2, size: 64, num_classes: 6, seed: 1}", "data.workers=0",
            "data.batch_size=2", "train.threads=1",
            "model.name=sfnet_stdc1"]  # an aligned-FPN model without deep-supervision heads
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "mIoU" in out and "pictures" in out and str(output) in out
    pictures = sorted((output / "pictures").glob("*.png"))
    assert len(pictures) == 2
    from PIL import Image

    with Image.open(pictures[0]) as picture:
        assert picture.width > 3 * 64 and picture.height >= 64


def test_coco_stuff_recipe_trains_and_records_decoder_options(tmp_path, capsys):
    """The repository's COCO-Stuff-10K config, shrunk: real .mat labels, 171 classes, a FaPN with an option."""
    from conftest import make_coco_stuff_release

    from alignseg.cli import main

    root = make_coco_stuff_release(tmp_path / "cocostuff")
    run = tmp_path / "run"
    config = Path(__file__).resolve().parents[2] / "configs" / "cocostuff10k" / "fapn_r18_realtime.yaml"
    assert main(["train", "--config", str(config), f"data.root={root}",
                 "data.crop_size=[64, 64]", "data.batch_size=2", "data.workers=0", "train.max_steps=2",
                 "train.accelerator=cpu", "train.threads=1", "train.progress_bar=false", "train.val_every_n_epochs=1",
                 f"train.output_dir={run}", "model.decoder_options={upsample_mode: bilinear}"]) == 0
    record = torch.load(run / "model_last.pt", weights_only=True)
    assert record["num_classes"] == 171 and record["class_names"][170] == "wood"
    assert record["decoder_options"] == {"upsample_mode": "bilinear"}
    assert main(["eval", "--weights", str(run / "model_last.pt"), "--config", str(run / "config.yaml")]) == 0
    assert "mIoU" in capsys.readouterr().out
