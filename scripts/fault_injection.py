"""Fault injection against `alignseg train` / `eval` / `predict` (issue 10): kills and SIGTERM, full and read-only
disks, divergence, corrupt data and predict inputs, huge images, hostile checkpoints, concurrent and repeated
runs. Not part of the unit suite.

Every case runs the real CLI in a subprocess on tiny runs (procedural shapes or a generated image folder,
64x64, a few steps, sfnet_lite_stdc1 on one CPU thread) and is judged by what a user would see and keep:

- clear error: a non-zero exit whose stderr is one line ``alignseg <command>: error: ...`` naming the problem;
- traceback: a Python traceback reached the user;
- silent wrong: exit 0 where the run should have failed, or a result different from the right one;
- data lost: a checkpoint or exported model that existed before is gone, changed or unreadable, or a NaN
  model was written;
- resume bit-exact: after kill -9 and ``--resume`` the final weights equal those of an uninterrupted run.

    PYTHONPATH=. python scripts/fault_injection.py            # 24 min on the shared 2-core machine (load ~16)
    PYTHONPATH=. python scripts/fault_injection.py --only kill # rerun cases whose name contains "kill"

Results: benchmarks/results/fault_injection.{md,json}. The full-disk and read-only cases mount small tmpfs
folders (needs root and mount permission); where mounting is refused they fall back to RLIMIT_FSIZE (writes
fail with EFBIG) and skip the read-only mount, and say so in the table.

Cases are functions registered with ``@case(group)`` in ``CASES``: groups ``kill``, ``folder``, ``disk``, ``nan``,
``data``, ``payload``, ``eval`` and ``predict`` (folders with unreadable files, a truncated video, a 48 Mpx image
with its peak memory, colliding names, the output inside the input, read-only and full output disks, planted
weights).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from alignseg.models.checkpoint import read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STEPS = 4  # 4 samples at batch 2: 2 steps per epoch, two epochs


@dataclass
class Outcome:
    case: str
    group: str
    clear_error: bool = False  # failed as it should, with one clear line
    unclear_error: bool = False  # failed as it should, but the message spans several lines
    completed: bool = False  # succeeded as it should
    traceback: bool = False
    silent_wrong: bool = False
    data_lost: bool = False
    resume_bit_exact: bool | None = None  # None: not a resume case
    payload_executed: bool | None = None  # None: not a payload case
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Context:
    work: Path
    rng: random.Random
    reference: dict[str, torch.Tensor] | None = None
    notes: list[str] = field(default_factory=list)


CASES: list[tuple[str, str, Callable[[Context, Outcome], None]]] = []


def case(group: str) -> Callable:
    """Register a case: ``fn(ctx, outcome)`` fills ``outcome``; an exception in it is a failed case."""

    def register(fn: Callable[[Context, Outcome], None]) -> Callable[[Context, Outcome], None]:
        CASES.append((fn.__name__, group, fn))
        return fn

    return register


# -- running the CLI ------------------------------------------------------------------------------------


def env(**extra: str) -> dict[str, str]:
    result = {**os.environ, "PYTHONPATH": str(ROOT), "NO_ALBUMENTATIONS_UPDATE": "1", "OMP_NUM_THREADS": "1"}
    result.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    result.update(extra)
    return result


def cli(*args: str, extra_env: dict[str, str] | None = None, preexec: Callable | None = None,
        timeout: float = 600) -> Result:
    process = subprocess.run([sys.executable, "-m", "alignseg", *args], capture_output=True, text=True,
                             env=env(**(extra_env or {})), timeout=timeout, preexec_fn=preexec, cwd=ROOT)
    return Result(process.returncode, process.stdout, process.stderr)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alignseg", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT)


def tiny_config(path: Path, output: Path, **sections: dict) -> Path:
    """A tiny shapes run (STEPS steps, a checkpoint every step) into ``output``; ``sections`` update it."""
    config = {
        "model": {"name": "sfnet_lite_stdc1"},
        "data": {"dataset": "shapes", "train_kwargs": {"num_samples": 4, "size": 64, "seed": 0},
                 "val_kwargs": {"num_samples": 2, "size": 64, "seed": 1}, "crop_size": 64,
                 "scale_range": [0.75, 1.25], "batch_size": 2, "workers": 0},
        "train": {"max_steps": STEPS, "accelerator": "cpu", "deterministic": True, "threads": 1,
                  "checkpoint_every_n_steps": 1, "log_every_n_steps": 1, "output_dir": str(output)},
    }
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(config))
    return path


def judge_error(outcome: Outcome, result: Result, expect: str) -> None:
    """A failure that should be a clear message containing ``expect``: one line ``alignseg <command>: error:
    ...`` (a list of bad files may follow it, one per line); a multi-line message is an unclear error."""
    lines = result.stderr.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("alignseg ") and ": error: " in line), None)
    message = lines[start:] if start is not None else lines[-1:]
    outcome.detail = " / ".join(line.strip() for line in message)[:400]
    if "Traceback" in result.stderr:
        outcome.traceback = True
    elif result.returncode == 0:
        outcome.silent_wrong = True
        outcome.detail = "exit 0"
    elif start is None or expect not in "\n".join(message):
        outcome.silent_wrong = True  # failed, but not with the message it should have
    elif len(message) > 1 and not all(line.startswith("  ") for line in message[1:]):
        outcome.unclear_error = True  # a message spread over lines that are not a list of files
    else:
        outcome.clear_error = True


def absorb(outcome: Outcome, sub: Outcome) -> None:
    """Fold the verdict of one attempt into a case made of several attempts."""
    outcome.traceback |= sub.traceback
    outcome.silent_wrong |= sub.silent_wrong
    outcome.unclear_error |= sub.unclear_error


def state(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path).state_dict


def finite(path: Path) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in state(path).values() if v.is_floating_point())


def snapshot(folder: Path) -> dict[str, bytes]:
    """The bytes of every checkpoint, exported model and config in a run folder."""
    names = [*folder.glob("checkpoints/*.ckpt"), *folder.glob("model_*.safetensors"), folder / "config.yaml"]
    return {str(p.relative_to(folder)): p.read_bytes() for p in names if p.is_file()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def reference(ctx: Context) -> dict[str, torch.Tensor]:
    """The final weights of an uninterrupted run (trained once)."""
    if ctx.reference is None:
        run = ctx.work / "reference"
        result = cli("train", "--config", str(tiny_config(ctx.work / "reference.yaml", run)))
        if result.returncode != 0:
            raise RuntimeError(f"the reference run failed: {result.stderr[-2000:]}")
        ctx.reference = state(run / "model_last.safetensors")
    return ctx.reference


def wait_for_step(process: subprocess.Popen, log: Path, step: int, timeout: float = 300) -> bool:
    """Wait until ``train.log`` reports optimiser step ``step`` (False if the run ended first)."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if log.is_file() and f" step {step}/" in log.read_text():
            return True
        time.sleep(0.01)
    return False


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate()


def resume_to_end(config: Path, outcome: Outcome) -> Result:
    result = cli("train", "--config", str(config), "--resume")
    if result.returncode != 0:
        judge_error(outcome, result, "")
        outcome.detail = "resume failed: " + outcome.detail
    return result


# -- cases: kills and resume ------------------------------------------------------------------------------


@case("kill")
def kill_at_random_steps(ctx: Context, outcome: Outcome) -> None:
    """kill -9 after a random step, twice in one run, each time resumed with --resume."""
    expected = reference(ctx)
    run = ctx.work / "kill_random"
    config = tiny_config(ctx.work / "kill_random.yaml", run)
    first, second = sorted(ctx.rng.sample(range(1, STEPS), 2))
    for at, resume in ((first, False), (second, True)):
        process = start("train", "--config", str(config), *(["--resume"] if resume else []))
        reached = wait_for_step(process, run / "train.log", at)
        kill(process)
        if not reached:
            raise RuntimeError(f"the run ended before step {at}")
    result = resume_to_end(config, outcome)
    outcome.completed = result.returncode == 0
    outcome.resume_bit_exact = outcome.completed and same_weights(state(run / "model_last.safetensors"), expected)
    outcome.detail = f"killed after steps {first} and {second}; " + outcome.detail
    outcome.data_lost = not finite(run / "model_last.safetensors")


@case("kill")
def kill_during_checkpoint_write(ctx: Context, outcome: Outcome) -> None:
    """kill -9 while last.ckpt (or model_last.safetensors) is being written: the old file stays whole, the .tmp is
    cleaned at the next start, the resumed run ends bit-exact."""
    expected = reference(ctx)
    run = ctx.work / "kill_write"
    config = tiny_config(ctx.work / "kill_write.yaml", run)
    after = ctx.rng.randrange(1, STEPS - 1)
    process = start("train", "--config", str(config))
    wait_for_step(process, run / "train.log", after)
    caught = None
    while process.poll() is None and caught is None:
        temporary = [p for p in (*run.glob(".*.tmp"), *run.glob("checkpoints/.*.tmp")) if "lock" not in p.name]
        if temporary:
            caught = temporary[0].name
            process.send_signal(signal.SIGKILL)
        time.sleep(0.001)
    process.communicate()
    if caught is None:
        raise RuntimeError("the run ended before a checkpoint write was caught")
    intact = all(torch.load(p, weights_only=True) is not None for p in run.glob("checkpoints/*.ckpt"))
    result = resume_to_end(config, outcome)
    cleaned = "unfinished temporary file" in result.stdout
    outcome.completed = result.returncode == 0 and cleaned
    outcome.data_lost = not intact
    outcome.resume_bit_exact = result.returncode == 0 and same_weights(state(run / "model_last.safetensors"), expected)
    outcome.detail = f"killed while writing {caught} after step {after}; old checkpoints intact: {intact}; " \
                     f".tmp cleaned with a message: {cleaned}"


@case("kill")
def sigterm_then_resume(ctx: Context, outcome: Outcome) -> None:
    """SIGTERM (as `kill`, a scheduler or a container stop sends it) after a random step: the run stops at once with
    one line and exit 143, the lock is released, and --resume ends bit-exact."""
    expected = reference(ctx)
    run = ctx.work / "sigterm"
    config = tiny_config(ctx.work / "sigterm.yaml", run)
    at = ctx.rng.randrange(1, STEPS)
    process = start("train", "--config", str(config))
    if not wait_for_step(process, run / "train.log", at):
        raise RuntimeError(f"the run ended before step {at}")
    tic = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - tic
    judge_error(outcome, Result(process.returncode, stdout, stderr), "training stopped by SIGTERM")
    stopped = outcome.detail
    outcome.silent_wrong |= process.returncode != 143 or (run / ".alignseg.lock").exists()
    result = resume_to_end(config, outcome)
    outcome.resume_bit_exact = result.returncode == 0 and same_weights(state(run / "model_last.safetensors"), expected)
    outcome.detail = f"SIGTERM after step {at}: exit {process.returncode} in {seconds:.1f} s, lock released: " \
                     f"{not (run / '.alignseg.lock').exists()}; {stopped}"


@case("kill")
def concurrent_runs_into_one_folder(ctx: Context, outcome: Outcome) -> None:
    """A second `alignseg train --overwrite` into the folder of a run in progress: refused, nothing of the
    first run touched."""
    run = ctx.work / "concurrent"
    config = tiny_config(ctx.work / "concurrent.yaml", run, train={"max_steps": 500, "checkpoint_every_n_steps": 1})
    first = start("train", "--config", str(config))
    wait_for_step(first, run / "train.log", 1)
    second = cli("train", "--config", str(config), "--overwrite")
    alive = first.poll() is None
    steps_before = (run / "train.log").read_text().count(" loss ")
    wait_for_step(first, run / "train.log", int((run / "train.log").read_text().count(" loss ")) + 1)
    kill(first)
    if not alive:
        raise RuntimeError("the first run ended before the second was refused; lengthen it")
    judge_error(outcome, second, "another run")
    outcome.data_lost = not (run / "checkpoints" / "last.ckpt").is_file()
    outcome.detail += f"; the first run kept training after the refusal (step {steps_before} -> later)"


# -- cases: the run folder ---------------------------------------------------------------------------------


def finished_run(ctx: Context, name: str) -> tuple[Path, Path]:
    """A copy of the reference run folder with its own config."""
    reference(ctx)
    run = ctx.work / name
    shutil.copytree(ctx.work / "reference", run)
    return tiny_config(ctx.work / f"{name}.yaml", run), run


@case("folder")
def second_run_into_a_finished_folder(ctx: Context, outcome: Outcome) -> None:
    config, run = finished_run(ctx, "second_run")
    before = snapshot(run)
    judge_error(outcome, cli("train", "--config", str(config), "optim.lr=0.02"), "holds an earlier run")
    outcome.data_lost = snapshot(run) != before


@case("folder")
def resume_with_a_changed_config(ctx: Context, outcome: Outcome) -> None:
    config, run = finished_run(ctx, "changed_config")
    before = snapshot(run)
    judge_error(outcome, cli("train", "--config", str(config), "--resume", "optim.lr=0.5"), "optim.lr")
    outcome.data_lost = snapshot(run) != before


@case("folder")
def truncated_last_checkpoint(ctx: Context, outcome: Outcome) -> None:
    config, run = finished_run(ctx, "truncated")
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 3])
    judge_error(outcome, cli("train", "--config", str(config), "--resume"), "best.ckpt")


@case("folder")
def output_path_is_a_file(ctx: Context, outcome: Outcome) -> None:
    blocker = ctx.work / "a_file"
    blocker.write_text("not a folder")
    config = tiny_config(ctx.work / "file_output.yaml", blocker)
    judge_error(outcome, cli("train", "--config", str(config)), "is a file")


def mount_tmpfs(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)


@case("disk")
def full_disk(ctx: Context, outcome: Outcome) -> None:
    """The disk fills up between two checkpoints: one line naming the file, the previous checkpoint kept."""
    folder = ctx.work / "full"
    mounted = mount_tmpfs(folder, "size=80m")  # one training checkpoint (~52 MB) fits, two do not
    run = folder / "run"
    config = tiny_config(ctx.work / "full.yaml", run)
    preexec = None
    if not mounted:  # writes beyond 40 MB fail with EFBIG instead of ENOSPC
        def preexec() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (40 << 20, 40 << 20))
    try:
        result = cli("train", "--config", str(config), preexec=preexec)
        judge_error(outcome, result, "kept" if mounted else "")
        leftovers = [p.name for p in run.rglob("*.tmp")]
        readable = all(torch.load(p, weights_only=True) is not None for p in run.glob("checkpoints/*.ckpt"))
        outcome.data_lost = bool(leftovers) or not readable
        how = "tmpfs of 80 MB" if mounted else "RLIMIT_FSIZE 40 MB (tmpfs mount refused)"
        outcome.detail = f"{how}; leftover .tmp: {leftovers}; checkpoints readable: {readable}; " + outcome.detail
    finally:
        if mounted:
            unmount(folder)


@case("disk")
def read_only_output(ctx: Context, outcome: Outcome) -> None:
    folder = ctx.work / "readonly"
    if not mount_tmpfs(folder, "ro,size=1m"):
        outcome.detail = "skipped: mounting a read-only tmpfs was refused"
        outcome.clear_error = True
        return
    try:
        config = tiny_config(ctx.work / "readonly.yaml", folder / "run")
        judge_error(outcome, cli("train", "--config", str(config)), "Read-only file system")
    finally:
        unmount(folder)


# -- cases: divergence -------------------------------------------------------------------------------------


@case("nan")
def diverging_learning_rate(ctx: Context, outcome: Outcome) -> None:
    run = ctx.work / "diverge"
    config = tiny_config(ctx.work / "diverge.yaml", run, optim={"lr": 1e8})
    judge_error(outcome, cli("train", "--config", str(config)), "training diverged")
    written = [*run.glob("model_*.safetensors"), *run.glob("checkpoints/*.ckpt")]
    outcome.data_lost = not all(finite(p) for p in written)
    outcome.detail += f" ({len(written)} files written, all finite: {not outcome.data_lost})"


@case("nan")
def nan_loss_injected(ctx: Context, outcome: Outcome) -> None:
    """A NaN enters through the data (an image of NaNs after normalisation) at a random step."""
    run = ctx.work / "nan_inject"
    config = tiny_config(ctx.work / "nan_inject.yaml", run)
    step = ctx.rng.randrange(2, STEPS)
    hook = ctx.work / "nan_hook.py"
    hook.write_text(
        "import runpy, sys\n"
        "import alignseg.engine.module as m\n"
        "original = m.SegmentationModule.training_step\n"
        f"def poisoned(self, batch, i):\n"
        f"    if self.global_step + 1 == {step}:\n"
        "        batch['image'] = batch['image'] * float('nan')\n"
        "    return original(self, batch, i)\n"
        "m.SegmentationModule.training_step = poisoned\n"
        "sys.argv = ['alignseg', *sys.argv[1:]]\n"
        "runpy.run_module('alignseg', run_name='__main__')\n")
    process = subprocess.run([sys.executable, str(hook), "train", "--config", str(config)], capture_output=True,
                             text=True, env=env(), cwd=ROOT, timeout=600)
    judge_error(outcome, Result(process.returncode, process.stdout, process.stderr), f"at step {step}")
    written = [*run.glob("model_*.safetensors"), *run.glob("checkpoints/*.ckpt")]
    outcome.data_lost = not all(finite(p) for p in written)


@case("nan")
def non_finite_config_values(ctx: Context, outcome: Outcome) -> None:
    config = tiny_config(ctx.work / "nonfinite.yaml", ctx.work / "nonfinite")
    checks = [("optim.lr=.nan", "finite"), ("optim.lr=.inf", "finite"), ("optim.weight_decay=-1e-4", ">= 0")]
    details = []
    for override, expect in checks:
        sub = Outcome(outcome.case, outcome.group)
        judge_error(sub, cli("train", "--config", str(config), override), expect)
        details.append(f"{override}: {verdict(sub)}")
        absorb(outcome, sub)
    outcome.clear_error = not (outcome.traceback or outcome.silent_wrong or outcome.unclear_error)
    outcome.detail = "; ".join(details)


# -- cases: corrupt data -----------------------------------------------------------------------------------


def image_folder(root: Path, count: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(root / "images" / f"{i}.jpg")
        Image.fromarray(rng.integers(0, 3, (64, 64), dtype=np.uint8)).save(root / "labels" / f"{i}.png")
    return root


def folder_config(ctx: Context, name: str, root: Path, workers: int) -> Path:
    kwargs = {"image_dir": str(root / "images"), "label_dir": str(root / "labels"), "class_names": ["a", "b", "c"]}
    return tiny_config(ctx.work / f"{name}.yaml", ctx.work / name,
                       data={"dataset": "folder", "kwargs": kwargs, "train_kwargs": {}, "val_kwargs": {},
                             "workers": workers}, train={"max_steps": 2})


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated image": (lambda r: (r / "images/3.jpg").write_bytes((r / "images/3.jpg").read_bytes()[:400]),
                        "images/3.jpg"),
    "label not an image": (lambda r: (r / "labels/5.png").write_bytes(b"\x00garbage"), "not a readable image"),
    "label size differs": (lambda r: Image.fromarray(np.zeros((32, 64), np.uint8)).save(r / "labels/1.png"),
                           "its label"),
    "missing label": (lambda r: (r / "labels/2.png").unlink(), "has no label"),
    "label class out of range (loader worker)": (
        lambda r: Image.fromarray(np.full((64, 64), 9, np.uint8)).save(r / "labels/4.png"), "holds values [9]"),
}


@case("data")
def corrupt_data_files(ctx: Context, outcome: Outcome) -> None:
    """Each corruption alone, with 2 loader workers: one clear line each (same text as with workers=0)."""
    details = []
    for index, (name, (corrupt, expect)) in enumerate(CORRUPTIONS.items()):
        root = image_folder(ctx.work / f"data{index}")
        corrupt(root)
        texts, verdicts = [], []
        for workers in (0, 2) if "worker" in name or "truncated" in name else (2,):
            sub = Outcome(outcome.case, outcome.group)
            result = cli("train", "--config", str(folder_config(ctx, f"data{index}w{workers}", root, workers)))
            judge_error(sub, result, expect)
            absorb(outcome, sub)
            verdicts.append(verdict(sub) + ("" if sub.clear_error else f" ({sub.detail[:200]})"))
            texts.append(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "")
        same = len(set(texts)) == 1
        outcome.silent_wrong |= not same
        same_text = (", same message with workers 0 and 2" if same else f", DIFFERS: {texts}") if texts[1:] else ""
        details.append(f"{name}: {' / '.join(verdicts)}{same_text}")
    outcome.clear_error = not (outcome.traceback or outcome.silent_wrong or outcome.unclear_error)
    outcome.detail = "; ".join(details)


@case("data")
def all_bad_files_in_one_report(ctx: Context, outcome: Outcome) -> None:
    root = image_folder(ctx.work / "data_all")
    for name, (corrupt, _) in CORRUPTIONS.items():
        if name != "missing label" and "worker" not in name:
            corrupt(root)
    result = cli("train", "--config", str(folder_config(ctx, "data_all", root, 2)))
    if "Traceback" in result.stderr or result.returncode == 0:
        judge_error(outcome, result, "3 of the 8")
        return
    outcome.clear_error = "3 of the 8 folder train samples cannot be used" in result.stderr
    outcome.silent_wrong = not outcome.clear_error
    outcome.detail = " | ".join(result.stderr.strip().splitlines())[:400]


# -- cases: hostile checkpoints ----------------------------------------------------------------------------


class Payload:
    """Unpickling creates ``marker``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@case("payload")
def planted_pickle_payload(ctx: Context, outcome: Outcome) -> None:
    """A crafted checkpoint as --resume, as last.ckpt and as eval weights, with torch told to unpickle freely."""
    marker = ctx.work / "PAYLOAD_RAN"
    config, run = finished_run(ctx, "payload")
    evil = {"state_dict": {}, "alignseg": {"config": {}}, "payload": Payload(str(marker))}
    torch.save(evil, ctx.work / "evil.ckpt")
    torch.save(evil, run / "checkpoints" / "last.ckpt")
    unsafe = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    attempts = [
        ("train --resume evil.ckpt", cli("train", "--config", str(config), "--resume", str(ctx.work / "evil.ckpt"),
                                         extra_env=unsafe), "cannot resume"),
        ("train --resume (last.ckpt)", cli("train", "--config", str(config), "--resume", extra_env=unsafe),
         "cannot resume"),
        ("eval --weights evil.ckpt", cli("eval", "--weights", str(ctx.work / "evil.ckpt"), "--model",
                                         "sfnet_lite_stdc1", extra_env=unsafe), "evil.ckpt"),
    ]
    details = []
    for name, result, expect in attempts:
        sub = Outcome(outcome.case, outcome.group)
        judge_error(sub, result, expect)
        absorb(outcome, sub)
        details.append(f"{name}: {verdict(sub)}" + ("" if sub.clear_error else f" ({sub.detail[:200]})"))
    ran = marker.exists()
    outcome.payload_executed = ran
    outcome.data_lost = ran  # counted where it hurts most: code ran
    outcome.clear_error = not (outcome.traceback or outcome.silent_wrong or outcome.unclear_error or ran)
    outcome.detail = f"payload executed: {ran}; " + "; ".join(details)


# -- cases: evaluation (engine parts of item 6) -------------------------------------------------------------


@case("eval")
def eval_with_other_class_count(ctx: Context, outcome: Outcome) -> None:
    reference(ctx)
    result = cli("eval", "--weights", str(ctx.work / "reference" / "model_last.safetensors"), "--dataset", "shapes",
                 "data.val_kwargs={num_samples: 1, size: 64, num_classes: 4}", "data.workers=0")
    judge_error(outcome, result, "predicts 6 classes but the shapes val split has 4")


@case("eval")
def eval_without_config_uses_recorded_data(ctx: Context, outcome: Outcome) -> None:
    reference(ctx)
    metrics = ctx.work / "eval.json"
    result = cli("eval", "--weights", str(ctx.work / "reference" / "model_last.safetensors"), "--output", str(metrics))
    if result.returncode != 0:
        judge_error(outcome, result, "")
        return
    images = json.loads(metrics.read_text())["images"]
    outcome.completed = images == 2
    outcome.silent_wrong = images != 2
    outcome.detail = f"evaluated {images} images (the run's validation set has 2)"


# -- cases: prediction (issue 10 item 5, and the full disk / read-only output of a predict run) -------------


def predict_weights(ctx: Context) -> Path:
    """The reference run's weights (sfnet_lite_stdc1, 6 shapes classes)."""
    reference(ctx)
    return ctx.work / "reference" / "model_last.safetensors"


def predict(ctx: Context, source: Path, output: Path, *extra: str, preexec: Callable | None = None) -> Result:
    return cli("predict", str(source), "--weights", str(predict_weights(ctx)), "-o", str(output), "--quiet", *extra,
               preexec=preexec)


def noise_images(folder: Path, names: list[str], size: tuple[int, int] = (64, 80), seed: int = 0) -> Path:
    """Random RGB images (they compress badly, so their outputs are about as large as the pixels)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / name)
    return folder


def failed_inputs(stderr: str) -> list[str]:
    """The inputs listed after ``N input(s) failed:`` at the end of a predict run."""
    lines = stderr.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.endswith("input(s) failed:")), len(lines))
    return [line.strip().split(": ")[0] for line in lines[start + 1:] if line.startswith("  ")]


def readable_pngs(folder: Path) -> bool:
    try:
        for path in folder.rglob("*.png"):
            with Image.open(path) as picture:
                picture.load()
    except OSError:
        return False
    return True


@case("predict")
def predict_folder_with_bad_files(ctx: Context, outcome: Outcome) -> None:
    """Truncated, zero-byte and non-image files among good ones: the good ones written, the bad ones listed,
    exit 1; a rerun skips the finished images (their files untouched) and lists the bad ones again."""
    images = noise_images(ctx.work / "pred_bad" / "images", ["a.png", "b.jpg", "c.png"])
    good = (images / "b.jpg").read_bytes()
    (images / "d_truncated.jpg").write_bytes(good[: len(good) // 3])
    (images / "e_empty.png").write_bytes(b"")
    (images / "f_text.jpg").write_text("this is not an image\n")
    bad = sorted(str(images / name) for name in ("d_truncated.jpg", "e_empty.png", "f_text.jpg"))
    out = ctx.work / "pred_bad" / "out"
    first = predict(ctx, images, out)
    written = {p: p.stat().st_mtime_ns for p in out.glob("*_overlay.png")}
    second = predict(ctx, images, out)
    outcome.traceback = "Traceback" in first.stderr + second.stderr
    listed = [sorted(failed_inputs(r.stderr)) for r in (first, second)]
    kept = {p: p.stat().st_mtime_ns for p in out.glob("*_overlay.png")} == written
    goods = sorted(p.name for p in written) == ["a.png_overlay.png", "b.jpg_overlay.png", "c.png_overlay.png"]
    right = first.returncode == 1 == second.returncode and listed == [bad, bad] and goods and kept \
        and "3 already done" in second.stdout
    outcome.clear_error, outcome.silent_wrong = right, not right
    outcome.data_lost = not readable_pngs(out)
    outcome.detail = (f"exit {first.returncode} then {second.returncode}; listed {len(listed[0])}/3 bad files both "
                      f"times: {listed == [bad, bad]}; good outputs {len(written)}/3; rerun skipped the done ones "
                      f"(files untouched): {kept and 'already done' in second.stdout}")


@case("predict")
def predict_video_truncated_mid_stream(ctx: Context, outcome: Outcome) -> None:
    """An MJPG .avi cut in half (its header still declares every frame): frames expected vs decoded, exit 1."""
    import cv2

    video = ctx.work / "pred_video" / "clip.avi"
    video.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (96, 64))
    rng = np.random.default_rng(0)
    for _ in range(20):
        writer.write(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    writer.release()
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    capture, decoded = cv2.VideoCapture(str(video)), 0
    while capture.read()[0]:
        decoded += 1
    capture.release()
    result = predict(ctx, video, ctx.work / "pred_video" / "out")
    expect = f"declares 20 frames but {decoded} were decoded"
    outcome.traceback = "Traceback" in result.stderr
    outcome.clear_error = result.returncode == 1 and expect in result.stderr and not outcome.traceback
    outcome.silent_wrong = not outcome.clear_error and not outcome.traceback
    outcome.detail = f"exit {result.returncode}; " + " / ".join(result.stderr.strip().splitlines()[-2:])[:300]


def _run_measured(args: list[str]) -> tuple[Result, int]:
    """A CLI run and its peak resident memory in MB (``os.wait4``: this child alone)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "alignseg", *args], stdout=out, stderr=err, env=env(),
                                   cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        return Result(process.returncode, out.read(), err.read()), usage.ru_maxrss // 1024


@case("predict")
def predict_huge_image(ctx: Context, outcome: Outcome) -> None:
    """An 8000x6000 (48 Mpx) photo-sized image at the default pixel budget: tiled, bounded memory, whole label."""
    folder = ctx.work / "pred_huge"
    folder.mkdir()
    y, x = np.mgrid[0:6000, 0:8000]
    pixels = np.stack([(x // 40) % 256, (y // 30) % 256, ((x + y) // 50) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "huge.jpg", quality=90)
    del y, x, pixels
    result, peak = _run_measured(["predict", str(folder / "huge.jpg"), "--weights", str(predict_weights(ctx)), "-o",
                                  str(folder / "out"), "--quiet", "--threads", "2"])
    ids = folder / "out" / "huge.jpg_ids.png"
    shape = np.asarray(Image.open(ids)).shape if ids.is_file() else None
    bound = 4096  # MB: the whole image at once needs ~16 GB (the measurement)
    outcome.traceback = "Traceback" in result.stderr
    outcome.completed = result.returncode == 0 and shape == (6000, 8000) and peak < bound
    outcome.silent_wrong = not outcome.completed and not outcome.traceback
    outcome.detail = f"exit {result.returncode}; label {shape}; peak RSS {peak} MB (bound {bound} MB)" + (
        "" if result.returncode == 0 else "; " + result.stderr.strip().splitlines()[-1][:200])


@case("predict")
def predict_colliding_names(ctx: Context, outcome: Outcome) -> None:
    """``frame.jpg`` and ``frame.png`` (different pictures) in one folder: two sets of outputs, none replaced."""
    images = noise_images(ctx.work / "pred_names" / "images", ["frame.png"], seed=1)
    noise_images(images, ["frame.jpg"], seed=2)
    out = ctx.work / "pred_names" / "out"
    result = predict(ctx, images, out)
    names = sorted(p.name for p in out.glob("*_ids.png"))
    outcome.traceback = "Traceback" in result.stderr
    outcome.completed = result.returncode == 0 and names == ["frame.jpg_ids.png", "frame.png_ids.png"]
    outcome.silent_wrong = not outcome.completed and not outcome.traceback
    outcome.detail = f"exit {result.returncode}; label files {names}"


@case("predict")
def predict_output_inside_input(ctx: Context, outcome: Outcome) -> None:
    """The output folder inside the input folder, run twice: the second run predicts nothing of its own outputs."""
    images = noise_images(ctx.work / "pred_inside" / "images", ["a.png", "b.png"])
    out = images / "predictions"
    first, second = predict(ctx, images, out), predict(ctx, images, out)
    fed_back = [str(p.relative_to(images)) for p in images.rglob("*.png")
                if p.name.count(".png_") > 1 or "predictions/predictions" in str(p)]
    outcome.traceback = "Traceback" in first.stderr + second.stderr
    outcome.completed = first.returncode == 0 == second.returncode and not fed_back \
        and "2 already done" in second.stdout
    outcome.silent_wrong = not outcome.completed and not outcome.traceback
    outcome.detail = f"exit {first.returncode} then {second.returncode}; outputs of outputs: {fed_back}; " \
                     f"second run: {second.stdout.strip().splitlines()[-1][:160]}"


@case("predict")
def predict_read_only_output(ctx: Context, outcome: Outcome) -> None:
    folder = ctx.work / "pred_readonly"
    if not mount_tmpfs(folder, "ro,size=1m"):
        outcome.detail = "not permitted here: mounting a read-only tmpfs was refused (root owns every chmod)"
        outcome.clear_error = True
        return
    try:
        images = noise_images(ctx.work / "pred_ro_images", ["a.png", "b.png", "c.png"])
        result = predict(ctx, images, folder / "out")
        judge_error(outcome, result, "nothing more can be written")
        outcome.silent_wrong |= "failed: " in result.stderr  # one line, not one failure per image
    finally:
        unmount(folder)


@case("predict")
def predict_full_disk(ctx: Context, outcome: Outcome) -> None:
    """The output disk fills up after a few images: one line naming the file, the finished images whole, no
    .tmp left, no image after it tried; a rerun on a disk with room finishes the rest."""
    folder = ctx.work / "pred_full"
    mounted = mount_tmpfs(folder, "size=3m")  # the outputs of a 512x512 noise image take ~1.2 MB
    preexec = None
    if not mounted:  # no mount: each file over 512 KB fails with EFBIG
        def preexec() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (512 << 10, 512 << 10))
    try:
        images = noise_images(ctx.work / "pred_full_images", [f"{i}.png" for i in range(8)], size=(512, 512))
        out = folder / "out"
        result = predict(ctx, images, out, preexec=preexec)
        judge_error(outcome, result, "nothing more can be written")
        outcome.silent_wrong |= "failed: " in result.stderr
        finished = sorted(p.name.split("_")[0] for p in out.glob("*_overlay.png"))
        leftovers = [p.name for p in out.rglob("*.tmp")] if out.is_dir() else []
        outcome.data_lost = bool(leftovers) or not (readable_pngs(out) if out.is_dir() else True)
        how = "tmpfs of 3 MB" if mounted else "RLIMIT_FSIZE 512 KB (tmpfs mount refused)"
        outcome.detail = f"{how}; {len(finished)} of 8 images finished before the disk filled, all readable: " \
                         f"{not outcome.data_lost}; leftover .tmp: {leftovers}; " + outcome.detail
    finally:
        if mounted:
            unmount(folder)


@case("predict")
def predict_video_full_disk(ctx: Context, outcome: Outcome) -> None:
    """The output disk fills up while a video's overlay is written: one line, exit non-zero, no unplayable file
    left (OpenCV reports no write error: an .mp4 without its index used to be renamed into place, exit 0)."""
    import cv2

    video = ctx.work / "pred_video_full.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (256, 192))
    rng = np.random.default_rng(0)
    for _ in range(30):
        writer.write(rng.integers(0, 255, (192, 256, 3), dtype=np.uint8))
    writer.release()
    folder = ctx.work / "pred_video_full"
    if not mount_tmpfs(folder, "size=150k"):  # the overlay video of 30 noise frames takes ~1 MB
        outcome.detail = "not permitted here: mounting a small tmpfs was refused"
        outcome.clear_error = True
        return
    try:
        result = predict(ctx, video, folder / "out")
        judge_error(outcome, result, "No space left on device")
        left = [p.name for p in (folder / "out").iterdir()] if (folder / "out").is_dir() else []
        outcome.data_lost = bool(left)  # a broken video where the output should be
        outcome.detail = f"tmpfs of 150 KB; files left: {left}; " + outcome.detail
    finally:
        unmount(folder)


@case("predict")
def predict_planted_payload(ctx: Context, outcome: Outcome) -> None:
    """A crafted .pt / .ckpt given to `alignseg predict --weights` and `alignseg eval --weights`, with torch told
    to unpickle freely: refused with one line, the payload never runs."""
    marker = ctx.work / "PREDICT_PAYLOAD_RAN"
    evil = {"state_dict": {}, "model": "sfnet_lite_stdc1", "payload": Payload(str(marker))}
    images = noise_images(ctx.work / "pred_payload", ["a.png"])
    unsafe = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    details = []
    for suffix in (".pt", ".ckpt"):
        weights = ctx.work / f"evil{suffix}"
        torch.save(evil, weights)
        for command in ("predict", "eval"):
            args = [str(images), "--weights", str(weights), "-o", str(ctx.work / "pred_payload_out")] \
                if command == "predict" else ["--weights", str(weights), "--model", "sfnet_lite_stdc1"]
            sub = Outcome(outcome.case, outcome.group)
            judge_error(sub, cli(command, *args, extra_env=unsafe), weights.name)
            absorb(outcome, sub)
            details.append(f"{command} --weights evil{suffix}: {verdict(sub)}"
                           + ("" if sub.clear_error else f" ({sub.detail[:160]})"))
    ran = marker.exists()
    outcome.payload_executed = ran
    outcome.data_lost = ran
    outcome.clear_error = not (outcome.traceback or outcome.silent_wrong or outcome.unclear_error or ran)
    outcome.detail = f"payload executed: {ran}; " + "; ".join(details)


# -- the report ---------------------------------------------------------------------------------------------


def verdict(o: Outcome) -> str:
    if o.traceback:
        return "traceback"
    if o.data_lost:
        return "data lost"
    if o.silent_wrong:
        return "silent wrong"
    if o.unclear_error:
        return "unclear error"
    return "clear error" if o.clear_error else "completed" if o.completed else "?"


def report(outcomes: list[Outcome], seconds: float) -> tuple[str, dict]:
    resumes = [o for o in outcomes if o.resume_bit_exact is not None]
    payloads = [o for o in outcomes if o.payload_executed is not None]
    summary = {
        "cases": len(outcomes),
        "clear_errors": sum(o.clear_error and not (o.traceback or o.silent_wrong or o.data_lost) for o in outcomes),
        "completed_as_expected": sum(o.completed and not (o.traceback or o.silent_wrong or o.data_lost)
                                     for o in outcomes),
        "unclear_errors": sum(o.unclear_error for o in outcomes),
        "tracebacks": sum(o.traceback for o in outcomes),
        "silent_wrong": sum(o.silent_wrong for o in outcomes),
        "data_lost": sum(o.data_lost for o in outcomes),
        "resume_bit_exact": f"{sum(bool(o.resume_bit_exact) for o in resumes)}/{len(resumes)}",
        "payload_executed": f"{sum(bool(o.payload_executed) for o in payloads)}/{len(payloads)}",
        "seconds": round(seconds),
    }
    lines = ["# Fault injection (issue 10): `alignseg train` / `eval` / `predict`", "",
             f"`PYTHONPATH=. python scripts/fault_injection.py` — {time.strftime('%Y-%m-%d')}, "
             f"{summary['seconds']} s on {os.cpu_count()} CPU cores, torch {torch.__version__}.", "",
             "| cases | clear errors | completed as expected | unclear errors | tracebacks | silent wrong | "
             "data lost | payload executed | resume bit-exact |", "|---|---|---|---|---|---|---|---|---|",
             f"| {summary['cases']} | {summary['clear_errors']} | {summary['completed_as_expected']} | "
             f"{summary['unclear_errors']} | {summary['tracebacks']} | {summary['silent_wrong']} | "
             f"{summary['data_lost']} | {summary['payload_executed']} | "
             f"{summary['resume_bit_exact']} |", "",
             "| case | group | verdict | resume bit-exact | detail |", "|---|---|---|---|---|"]
    for o in outcomes:
        exact = "—" if o.resume_bit_exact is None else "yes" if o.resume_bit_exact else "**no**"
        detail = o.detail.replace("|", "/").replace("\n", " ")
        lines.append(f"| {o.case} | {o.group} | {verdict(o)} | {exact} | {detail} |")
    return "\n".join(lines) + "\n", {"summary": summary, "cases": [asdict(o) for o in outcomes]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None,
                        help="run the cases whose name contains one of these comma-separated texts")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random kill steps")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/results")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="alignseg-faults-"))
    ctx = Context(work, random.Random(args.seed))
    outcomes = []
    try:
        for name, group, fn in CASES:
            if args.only and not any(part in name for part in args.only.split(",")):
                continue
            outcome = Outcome(name, group)
            tic = time.perf_counter()
            try:
                fn(ctx, outcome)
            except Exception as error:  # the harness itself failed: reported, never counted as a pass
                outcome.silent_wrong = True
                outcome.detail = f"case failed to run: {type(error).__name__}: {error}"
            outcome.seconds = time.perf_counter() - tic
            print(f"{name:42s} {verdict(outcome):13s} {outcome.seconds:6.1f} s  {outcome.detail[:150]}", flush=True)
            outcomes.append(outcome)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.only and (RESULTS / "fault_injection.json").is_file():  # update the rerun rows, keep the others
        rerun = {o.case: o for o in outcomes}
        previous = json.loads((RESULTS / "fault_injection.json").read_text())["cases"]
        outcomes = [rerun.pop(c["case"], None) or Outcome(**c) for c in previous] + list(rerun.values())
    text, record = report(outcomes, sum(o.seconds for o in outcomes))
    print("\n" + text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "fault_injection.md").write_text(text)
        (RESULTS / "fault_injection.json").write_text(json.dumps(record, indent=2) + "\n")
    bad = record["summary"]
    return 1 if bad["tracebacks"] or bad["silent_wrong"] or bad["data_lost"] or bad["unclear_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
