"""Issue 10 (training and evaluation that never lose work): one test per finding of items 1-4 and the engine
parts of item 6, and issue 9's headless logs. Each ran against the code before the fix and failed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from test_train import tiny_overrides

from alignseg.cli import main
from alignseg.engine.config import ConfigError, load_config
from alignseg.models.checkpoint import read_checkpoint


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def write_config(path: Path, overrides: list[str]) -> Path:
    config: dict = {}
    for item in overrides:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        config.setdefault(section, {})[name] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished tiny CLI run (3 steps; validations after steps 2 and 3): ``(config file, run folder)``."""
    threads = torch.get_num_threads()
    base = tmp_path_factory.mktemp("trained")
    run = base / "run"
    config = write_config(base / "tiny.yaml", tiny_overrides(run, "train.max_steps=3", "train.log_every_n_steps=1",
                                                             train_samples=4))
    assert main(["train", "--config", str(config)]) == 0
    torch.set_num_threads(threads)
    return config, run


def copy_run(trained, tmp_path) -> tuple[Path, Path]:
    """A private copy of the trained run, with a config pointing at it."""
    config, run = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    raw = yaml.safe_load(config.read_text())
    raw["train"]["output_dir"] = str(copy)
    mine = tmp_path / "tiny.yaml"
    mine.write_text(yaml.safe_dump(raw))
    return mine, copy


def weights_finite(path: Path) -> bool:
    state = torch.load(path, weights_only=True)["state_dict"]
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


# -- item 1: divergence ----------------------------------------------------------------------------------


def test_diverging_run_stops_with_one_message_and_writes_no_nan(tmp_path, capsys):
    """issue 10 finding 1: `optim.lr=1e8` trained on NaN, exited 0 and saved NaN weights as model_best,
    best.ckpt and last.ckpt."""
    run = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", tiny_overrides(run, "train.max_steps=6", train_samples=4))
    assert main(["train", "--config", str(config), "optim.lr=1e8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training diverged at step" in err[0]
    assert "learning rate" in err[0] and "loss nan" in err[0] and "(main nan" in err[0]
    written = [*run.glob("model_*.safetensors"), *run.glob("checkpoints/*.ckpt")]
    assert written  # the checkpoints written before the divergence
    for path in written:
        tensors = read_checkpoint(path).state_dict.values()
        assert all(torch.isfinite(v).all() for v in tensors if v.is_floating_point()), path
    assert not (run / ".alignseg.lock").exists()


def test_nan_gradients_stop_before_the_optimiser_step(tmp_path):
    """issue 10 finding 1: non-finite gradients (finite loss) are caught before they reach the weights."""
    from alignseg.engine.guards import TrainingDiverged, check_finite_gradients

    weight = torch.nn.Parameter(torch.ones(3))
    (weight * torch.tensor([1.0, float("inf"), 1.0])).sum().backward()
    with pytest.raises(TrainingDiverged, match=r"step 7 .*gradient norm is (inf|nan) at learning rate 0.1"):
        check_finite_gradients([weight], step=7, epoch=0, lr=0.1)


def test_checkpoint_writer_refuses_nan_weights(tmp_path):
    """issue 10 finding 1: a NaN model is never written as a checkpoint (last.ckpt / best.ckpt)."""
    from alignseg.engine.callbacks import AtomicCheckpointIO
    from alignseg.engine.guards import TrainingDiverged

    with pytest.raises(TrainingDiverged, match=r"refusing to write .*last\.ckpt.*model\.w"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {"model.w": torch.tensor([1.0, float("nan")])}},
                                             tmp_path / "last.ckpt")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("override", "message"), [
    ("optim.lr=.nan", "optim.lr must be a finite number"),
    ("optim.lr=.inf", "optim.lr must be a finite number"),
    ("optim.weight_decay=-0.0001", "optim.weight_decay must be >= 0"),
    ("train.grad_clip=.nan", "train.grad_clip must be a finite number"),
    ("eval.scales=[1.0, .inf]", "eval.scales must be a finite number"),
])
def test_config_rejects_non_finite_and_negative_values(override, message):
    """issue 10 finding 1: `optim.lr=.nan` / `.inf` and a negative weight decay passed validation."""
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["train.max_steps=1", override])


# -- item 2: run folders ---------------------------------------------------------------------------------


def test_new_run_into_a_finished_run_is_refused(trained, tmp_path, capsys):
    """issue 10 finding 2: a second `alignseg train` into the same folder without --resume silently replaced
    model_best and last.ckpt."""
    config, run = copy_run(trained, tmp_path)
    before = {p: p.read_bytes() for p in [*run.glob("model_*.safetensors"), *run.glob("checkpoints/*.ckpt"),
                                          run / "config.yaml"]}
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds an earlier run" in err[0] and "--resume" in err[0] and "--overwrite" in err[0]
    assert all(path.read_bytes() == data for path, data in before.items())
    assert not (run / ".alignseg.lock").exists()


def test_overwrite_replaces_the_earlier_run_whole(trained, tmp_path, capsys):
    """issue 10 finding 2: a replaced run left a stale best.ckpt beside the new files; --overwrite removes
    the earlier run's files first."""
    config, run = copy_run(trained, tmp_path)
    stale = run / "checkpoints" / "stale-best.ckpt"
    shutil.copy(run / "checkpoints" / "best.ckpt", stale)
    assert main(["train", "--config", str(config), "--overwrite", "train.max_steps=1",
                 "train.limit_val_batches=0"]) == 0
    assert "--overwrite: removed the earlier run's" in capsys.readouterr().out
    assert not stale.exists() and not (run / "checkpoints" / "best.ckpt").exists()
    assert read_checkpoint(run / "model_last.safetensors").record.step == 1


def test_a_second_concurrent_run_is_refused_and_a_dead_lock_reclaimed(tmp_path, capsys):
    """issue 10 finding 2: two runs at once into one folder both exited 0 with config and weights from
    different runs."""
    from alignseg.engine.rundir import LOCK_NAME, RunFolder, RunFolderError

    run = tmp_path / "run"
    with RunFolder(run), pytest.raises(RunFolderError, match=rf"another run \(process {os.getpid()} .* is writing"):
        RunFolder(run).__enter__()
    assert not (run / LOCK_NAME).exists()

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(), "started": "x"}))
        with pytest.raises(RunFolderError, match=f"process {sleeper.pid}"):
            RunFolder(run).__enter__()
    finally:
        sleeper.kill()
        sleeper.wait()
    with RunFolder(run):  # the holder is dead: reclaimed
        assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert f"process {sleeper.pid} that held it is no longer running" in capsys.readouterr().out


def _train_until(config: Path, log: Path, steps: int, signum: int, *extra: str) -> subprocess.CompletedProcess:
    """Run `alignseg train` in a subprocess, send ``signum`` once train.log shows ``steps`` new steps, and wait."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    seen = log.read_text().count(" loss ") if log.is_file() else 0
    process = subprocess.Popen([sys.executable, "-m", "alignseg", "train", "--config", str(config), *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline:
        if log.is_file() and log.read_text().count(" loss ") >= seen + steps:
            break
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)  # stops promptly, or the test fails here
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.slow
def test_sigterm_and_ctrl_c_stop_training_with_one_line_and_resume_continues(tmp_path):
    """issue 10 session-3 finding: SIGTERM did not stop a running `alignseg train` (only SIGKILL did; Lightning
    turns it into an exit with status 0 at some later point). Now SIGTERM and SIGINT stop it at once with one
    line, exit 128 + signal, the lock released and last.ckpt intact; --resume continues (loader workers on)."""
    from alignseg.engine.rundir import LOCK_NAME

    run = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", tiny_overrides(run, "train.max_steps=500", "train.log_every_n_steps=1",
                                                               "train.checkpoint_every_n_steps=1", "data.workers=2",
                                                               "train.limit_val_batches=0", train_samples=4))
    reached = []
    for signum, extra in ((signal.SIGTERM, ()), (signal.SIGINT, ("--resume",))):
        stopped = _train_until(config, run / "train.log", 2, signum, *extra)
        name = signal.Signals(signum).name
        assert stopped.returncode == 128 + signum, stopped.stderr[-2000:]
        assert "Traceback" not in stopped.stderr and "Received SIGTERM" not in stopped.stderr
        line = stopped.stderr.strip().splitlines()[-1]
        assert line.startswith(f"alignseg train: error: training stopped by {name} at step ")
        assert f"the run folder is unlocked and {run / 'checkpoints' / 'last.ckpt'} is intact" in line
        assert not (run / LOCK_NAME).exists()
        assert not [p.name for p in run.rglob("*.tmp")]
        reached.append(torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"])
    step = reached[-1]
    assert step > reached[0] >= 1  # the second run resumed from the first stop and went on
    assert main(["train", "--config", str(config), "--resume", f"train.max_steps={step + 1}"]) == 0
    assert read_checkpoint(run / "model_last.safetensors").record.step == step + 1


# -- item 3: resume --------------------------------------------------------------------------------------


class Payload:
    """Unpickling this object creates ``marker``: proof that a checkpoint ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def plant_payload(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {}, "alignseg": {"config": {}}, "epoch": 0, "payload": Payload(marker)}, path)
    return path


def test_resume_never_unpickles_code_whatever_torch_default(trained, tmp_path, monkeypatch, capsys):
    """issue 10 finding 3: --resume passed no weights_only to Lightning, so with
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 a crafted checkpoint ran code."""
    from alignseg.engine.callbacks import AtomicCheckpointIO

    marker = tmp_path / "payload-ran"
    evil = plant_payload(tmp_path / "evil.ckpt", marker)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(Exception, match=r"(?i)weights.only"):
        AtomicCheckpointIO().load_checkpoint(evil)  # the loader Lightning's ckpt_path goes through
    assert not marker.exists()
    config, _ = copy_run(trained, tmp_path)
    assert main(["train", "--config", str(config), "--resume", str(evil)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot resume from {evil}" in err[0]
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # the test's own control: the payload does work when allowed
    assert marker.exists()


def test_resume_with_a_changed_config_is_refused_naming_the_keys_and_changes_nothing(trained, tmp_path, capsys):
    """issue 10 finding 3: resuming with a changed config silently ignored the change (optim.lr) while
    config.yaml recorded it; a refused resume still rewrote config.yaml first."""
    config, run = copy_run(trained, tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()}
    assert main(["train", "--config", str(config), "--resume", "optim.lr=0.5", "loss.name=ohem"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "optim.lr: 0.01 in the checkpoint, 0.5 now" in err[0] and "loss.name" in err[0]
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()}
    assert after == before


def test_resume_applies_a_longer_run_and_says_so(trained, tmp_path, capsys):
    """issue 10 finding 3: an allowed change (the run length) is applied explicitly, with a message."""
    config, run = copy_run(trained, tmp_path)
    assert main(["train", "--config", str(config), "--resume", "train.max_steps=4", "train.limit_val_batches=0"]) == 2
    assert "train.limit_val_batches" in capsys.readouterr().err  # not an allowed change
    assert main(["train", "--config", str(config), "--resume", "train.max_steps=4"]) == 0
    assert "resume: train.max_steps changes from 3 to 4" in capsys.readouterr().out
    assert read_checkpoint(run / "model_last.safetensors").record.step == 4
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["max_steps"] == 4


# -- item 4: errors ---------------------------------------------------------------------------------------


def make_folder_dataset(root: Path, count: int = 4, size: int = 64) -> Path:
    """``count`` image/label pairs (3 classes) under ``root/images`` and ``root/labels``."""
    rng = np.random.default_rng(0)
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / "images" / f"{i}.png")
        Image.fromarray(rng.integers(0, 3, (size, size), dtype=np.uint8)).save(root / "labels" / f"{i}.png")
    return root


def folder_overrides(run: Path, root: Path, workers: int) -> list[str]:
    folder = (f"{{image_dir: {root / 'images'}, label_dir: {root / 'labels'}, image_suffix: .png, "
              f"class_names: [a, b, c]}}")
    return [*tiny_overrides(run, "train.max_steps=2", f"data.workers={workers}"), "data.dataset=folder",
            f"data.kwargs={folder}", "data.train_kwargs={}", "data.val_kwargs={}"]


def test_a_data_error_in_a_loader_worker_is_the_same_one_line_message(tmp_path, capsys):
    """issue 10 finding 4: data errors inside loader workers became 23-45-line tracebacks instead of the
    one-line message given with workers=0."""
    root = make_folder_dataset(tmp_path / "data")
    Image.fromarray(np.full((64, 64), 7, dtype=np.uint8)).save(root / "labels" / "2.png")  # class 7 of 3
    messages = []
    for workers in (0, 2):
        overrides = folder_overrides(tmp_path / f"run{workers}", root, workers)
        config = write_config(tmp_path / f"w{workers}.yaml", overrides)
        assert main(["train", "--config", str(config)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        messages.append(err[0])
    assert messages[0] == messages[1]
    assert "labels/2.png holds values [7]" in messages[0]


def test_preflight_reports_every_bad_file_before_training(tmp_path, capsys):
    """issue 10 finding 4: images were not checked before training, so an error could cost a whole epoch;
    the pre-flight reports all problems at once, before anything is trained or written."""
    root = make_folder_dataset(tmp_path / "data", count=5)
    (root / "images" / "0.png").write_bytes((root / "images" / "0.png").read_bytes()[:300])  # truncated
    (root / "labels" / "1.png").write_bytes(b"not an image")
    Image.fromarray(np.zeros((32, 64), dtype=np.uint8)).save(root / "labels" / "3.png")  # wrong size
    run = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", folder_overrides(run, root, 0))
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "3 of the 5 folder train samples cannot be used" in err
    assert "images/0.png is truncated" in err and "labels/1.png is not a readable image" in err
    assert "images/3.png is 64x64 but its label" in err and "is 64x32" in err
    assert "Traceback" not in err and not (run / "checkpoints").exists() and not (run / "config.yaml").exists()


def test_os_errors_are_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    """issue 10 finding 4: OSErrors (output path that is a file, full disk) printed raw tracebacks."""
    import errno

    from alignseg.fileio import atomic_torch_save

    blocker = tmp_path / "file"
    blocker.write_text("x")
    config = write_config(tmp_path / "c.yaml", tiny_overrides(blocker, "train.max_steps=1", train_samples=4))
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{blocker} is a file, not a folder" in err[0]
    config = write_config(tmp_path / "d.yaml", tiny_overrides(blocker / "sub", "train.max_steps=1", train_samples=4))
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(blocker) in err[0]

    # A full disk inside torch's zip writer surfaces there as a RuntimeError: reported as the OSError it is.
    import alignseg.fileio as fileio

    target = tmp_path / "last.ckpt"
    atomic_torch_save({"step": 1}, target)

    def full(stream, data):
        stream.error = OSError(errno.ENOSPC, "No space left on device")
        raise stream.error

    monkeypatch.setattr(fileio._Recorded, "write", full)
    with pytest.raises(OSError) as caught:
        atomic_torch_save({"step": 2, "big": torch.zeros(1000)}, target)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert "previous file is kept" in caught.value.strerror
    monkeypatch.undo()
    assert torch.load(target, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_truncated_last_checkpoint_names_the_intact_alternative(trained, tmp_path, capsys):
    """issue 10 finding 4: a truncated last.ckpt printed a raw traceback with no hint that best.ckpt is intact."""
    config, run = copy_run(trained, tmp_path)
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    assert main(["train", "--config", str(config), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot resume from {last}" in err[0] and "corrupt, truncated" in err[0]
    assert f"--resume {run / 'checkpoints' / 'best.ckpt'}" in err[0]


# -- item 6 (engine parts) --------------------------------------------------------------------------------


def test_temporary_files_of_a_killed_write_are_cleaned_at_the_next_start(trained, tmp_path, capsys):
    """issue 10 finding 6: .tmp files from a kill during a checkpoint write were never cleaned."""
    config, run = copy_run(trained, tmp_path)
    leftovers = [run / "checkpoints" / ".last.ckpt.a1b2c3.tmp", run / ".model_last.safetensors.d4e5f6.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a checkpoint")
    assert main(["train", "--config", str(config), "--resume"]) == 0  # max_steps reached: nothing to train
    assert "removed 2 unfinished temporary file(s) of an interrupted write" in capsys.readouterr().out
    assert not any(path.exists() for path in leftovers)


def test_eval_refuses_a_checkpoint_with_another_number_of_classes(tmp_path, capsys):
    """issue 10 finding 6: a 19-class checkpoint evaluated with an 11-class dataset mislabelled without a
    warning (a state dict without metadata was built as whatever the dataset said)."""
    import alignseg

    weights = tmp_path / "released.pth"
    torch.save(alignseg.create_model("sfnet_lite_r18", num_classes=19).state_dict(), weights)
    assert main(["eval", "--weights", str(weights), "--model", "sfnet_lite_r18", "--dataset", "shapes",
                 "data.val_kwargs={num_samples: 1, size: 64}", "data.workers=0"]) == 2
    err = capsys.readouterr().err
    assert "predicts 19 classes but the shapes val split has 6" in err


def test_eval_without_a_config_uses_the_checkpoints_data(trained, tmp_path, capsys):
    """issue 10 finding 6: `alignseg eval --weights W` without a config fell back to the default procedural
    shapes dataset instead of the checkpoint's recorded data config."""
    _, run = trained
    metrics = tmp_path / "m.json"
    assert main(["eval", "--weights", str(run / "model_last.safetensors"), "--output", str(metrics)]) == 0
    assert "data and eval settings read from" in capsys.readouterr().out
    record = json.loads(metrics.read_text())
    assert record["images"] == 2 and sum(map(sum, record["confusion_matrix"])) == 2 * 64 * 64


def test_model_last_records_the_current_validation(trained):
    """issue 10 finding 6: the val_miou in model_last was one validation old (the one after step 2, not
    the final validation after step 3)."""
    _, run = trained
    record = read_checkpoint(run / "model_last.safetensors").record
    lines = [x for x in (run / "train.log").read_text().splitlines() if "val mIoU" in x]
    assert "step 2: val mIoU" in lines[0] and "step 3: val mIoU" in lines[-1]
    final = float(lines[-1].split("val mIoU ")[1].split()[0])
    assert record.step == 3 and f"{100 * record.metrics['val_miou']:.2f}" == f"{final:.2f}"


# -- issue 9: logs for headless runs ----------------------------------------------------------------------


def test_headless_run_logs_plain_lines_to_terminal_and_train_log(trained, capsys):
    """issue 9 (logs for headless runs): one line per N steps with loss, lr, images/s and the ETA of the whole
    run, on the terminal and in train.log; no carriage-return progress frames in redirected output."""
    _, run = trained
    lines = (run / "train.log").read_text().splitlines()
    steps = [line for line in lines if " step " in line and " loss " in line]
    assert [line.split(" step ")[1].split()[0] for line in steps] == ["1/3", "2/3", "3/3"]
    assert all(" lr " in line and " img/s " in line and " ETA " in line for line in steps)
    assert any("val mIoU" in line for line in lines)
    assert "\r" not in (run / "train.log").read_text()


def test_no_progress_bar_frames_when_output_is_redirected(tmp_path):
    """issue 9 (logs for headless runs): Lightning's progress bar wrote carriage-return frames into redirected
    output; without a terminal (as under pytest) the plain lines replace it."""
    from alignseg.engine.module import SegmentationDataModule
    from alignseg.engine.runlog import RunLog
    from alignseg.engine.trainer import build_trainer

    config = load_config(None, tiny_overrides(tmp_path / "run", "train.max_steps=1", "train.progress_bar=true"))
    trainer, _ = build_trainer(config, SegmentationDataModule(config), loggers=False)
    assert trainer.progress_bar_callback is None
    assert [c.terminal for c in trainer.callbacks if isinstance(c, RunLog)] == [True]


def test_signal_guard_lets_a_run_started_from_a_worker_thread_go_on():
    import threading

    from alignseg.engine.guards import stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    ran, errors = [], []

    def run() -> None:
        try:
            with stop_on_signals():  # signal.signal would raise ValueError outside the main thread
                ran.append(True)
        except Exception as error:
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert ran == [True] and errors == [] and signal.getsignal(signal.SIGTERM) is before
    with stop_on_signals():  # in the main thread the handler is installed, and restored afterwards
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
