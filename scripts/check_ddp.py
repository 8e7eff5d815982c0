#!/usr/bin/env python
"""Check distributed training and evaluation on CPU: 2 processes (DDP, gloo) against 1 process.

1. ``train-ddp``: 2-process DDP training of a small SFNet-Lite on generated shapes for a few steps; both ranks
   must end with identical weights (DDP keeps replicas in sync) and rank 0 writes ``model_last.safetensors``.
   The same run killed before step 2 (mid-epoch) and resumed with ``resume="auto"`` must end with the
   same weights as the uninterrupted one.
2. ``validate-1`` / ``validate-2``: Lightning validation of those weights with 1 and 2 processes; the
   confusion matrix summed over the 2 ranks (each rank evaluates a disjoint shard of the 9 images) must
   equal the single-process one, and both must equal plain ``alignseg.engine.evaluate``.

Every phase runs in its own subprocess under a timeout. Usage: ``python scripts/check_ddp.py [--timeout S]``.
Exit status 0 when everything matches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

VAL = "data.val_kwargs={num_samples: 9, size: 96, num_classes: 6, seed: 1}"


def overrides(work: Path, devices: int, run: str = "train") -> list[str]:
    return [
        "model.name=sfnet_lite_r18",
        "data.dataset=shapes",
        "data.train_kwargs={num_samples: 16, size: 96, num_classes: 6, seed: 0}",
        VAL,
        "data.crop_size=96",
        "data.batch_size=2",
        "data.workers=0",
        "optim.name=adamw",
        "optim.lr=0.002",
        "train.max_steps=4",
        "train.accelerator=cpu",
        f"train.devices={devices}",
        f"train.strategy={'ddp' if devices > 1 else 'auto'}",
        "train.progress_bar=false",
        "train.threads=1",  # one thread per process: two processes share two cores
        "train.checkpoint_every_n_steps=1",
        f"train.output_dir={work / run}",
    ]


def digest(state: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode() + state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def phase_train(work: Path, run: str, kill_at: int | None = None) -> None:
    import lightning.pytorch as L

    from alignseg.engine import load_config
    from alignseg.engine.trainer import fit

    class Kill(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == kill_at:
                raise SystemExit(f"killed before step {kill_at}")

    callbacks = [Kill()] if kill_at is not None else []
    result = fit(load_config(None, overrides(work, 2, run)), resume="auto", callbacks=callbacks, loggers=False)
    rank = result.module.global_rank
    record = {"rank": rank, "steps": result.module.global_step, "digest": digest(result.module.model.state_dict())}
    (work / f"{run}-rank{rank}.json").write_text(json.dumps(record))


def phase_validate(work: Path, devices: int) -> None:
    import lightning.pytorch as L
    import torch

    from alignseg.engine import load_config
    from alignseg.engine.module import SegmentationDataModule, SegmentationModule
    from alignseg.models.checkpoint import read_state_dict

    config = load_config(None, overrides(work, devices))
    torch.set_num_threads(config.train.threads)
    datamodule = SegmentationDataModule(config).build()
    module = SegmentationModule(config, class_names=datamodule.val_set.class_names, palette=datamodule.val_set.palette)
    module.model.load_state_dict(read_state_dict(work / "train" / "model_last.safetensors"))
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", logger=False,
                        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False)
    trainer.validate(module, datamodule=datamodule, verbose=False)
    shard = len(datamodule.val_dataloader().sampler)
    if trainer.is_global_zero:
        record = {"matrix": module.confusion.matrix.tolist(), "miou": module.metrics.miou, "rank0_images": shard}
        (work / f"validate-{devices}.json").write_text(json.dumps(record))


def plain_matrix(work: Path) -> list[list[int]]:
    from alignseg.engine import load_config
    from alignseg.engine.data import build_val_loader, build_val_split
    from alignseg.engine.evaluator import evaluate
    from alignseg.models.factory import load_model

    config = load_config(None, overrides(work, 1))
    model, _ = load_model(work / "train" / "model_last.safetensors")
    dataset = build_val_split(config.data, config.eval)
    return evaluate(model, build_val_loader(dataset, 0), dataset.num_classes, config.eval).matrix.tolist()


def run_phase(name: str, work: Path, timeout: int, *, expect_failure: bool = False) -> float:
    start = time.perf_counter()
    command = [sys.executable, os.path.abspath(__file__), "--phase", name, "--work", str(work)]
    try:
        subprocess.run(command, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if expect_failure:
            sys.exit(f"phase {name} was expected to be killed but finished")
    except subprocess.CalledProcessError as error:
        if not expect_failure:
            sys.exit(f"phase {name} failed:\n{error.stderr.decode()[-3000:]}")
    except subprocess.TimeoutExpired:
        sys.exit(f"phase {name} did not finish within {timeout} s")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", choices=["train-ddp", "train-ddp-killed", "train-ddp-resumed", "validate-1",
                                            "validate-2"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per phase (300)")
    args = parser.parse_args()
    if args.phase == "train-ddp":
        phase_train(args.work, "train")
        return 0
    if args.phase in ("train-ddp-killed", "train-ddp-resumed"):
        phase_train(args.work, "resume", kill_at=2 if args.phase.endswith("killed") else None)
        return 0
    if args.phase is not None:
        phase_validate(args.work, int(args.phase[-1]))
        return 0

    with tempfile.TemporaryDirectory(prefix="alignseg-ddp-") as folder:
        work = Path(folder)
        seconds = run_phase("train-ddp", work, args.timeout)
        ranks = [json.loads((work / f"train-rank{r}.json").read_text()) for r in range(2)]
        same_weights = ranks[0]["digest"] == ranks[1]["digest"]
        print(f"DDP training, 2 CPU processes (gloo), {ranks[0]['steps']} steps: {seconds:.0f} s; "
              f"identical weights on both ranks: {same_weights}")
        seconds = run_phase("train-ddp-killed", work, args.timeout, expect_failure=True)
        seconds += run_phase("train-ddp-resumed", work, args.timeout)
        resumed = [json.loads((work / f"resume-rank{r}.json").read_text()) for r in range(2)]
        same_resumed = all(r["digest"] == ranks[0]["digest"] for r in resumed)
        print(f"DDP training killed before step 2 and resumed (auto): {seconds:.0f} s; both ranks end with the "
              f"uninterrupted run's weights: {same_resumed}")
        timings = {n: run_phase(f"validate-{n}", work, args.timeout) for n in (1, 2)}
        one, two = (json.loads((work / f"validate-{n}.json").read_text()) for n in (1, 2))
        plain = plain_matrix(work)
        pixels = sum(map(sum, one["matrix"]))
        print(f"validation, 1 process: {timings[1]:.0f} s, mIoU {100 * one['miou']:.2f}, {pixels} pixels counted")
        print(f"validation, 2 processes: {timings[2]:.0f} s (rank 0 evaluated {two['rank0_images']} of 9 images), "
              f"mIoU {100 * two['miou']:.2f}")
        equal = one["matrix"] == two["matrix"] == plain
        print(f"confusion matrix summed over 2 ranks == 1 process == plain evaluate: {equal}")
        return 0 if equal and same_weights and same_resumed else 1


if __name__ == "__main__":
    sys.exit(main())
