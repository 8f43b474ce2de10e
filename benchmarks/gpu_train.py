"""Training speed on CUDA: 50 training steps of `prism` and `live`, fp32 and bf16 autocast (--amp), one GPU and,
when there are two or more, two-GPU DDP through torchrun; prints a table. Exits 0 with a message without CUDA.

    python benchmarks/gpu_train.py                    # what benchmarks/gpu.sh runs
    python benchmarks/gpu_train.py --steps 50 --presets live --batch-size 64

Every row runs the real trainer (rt_samplernn.train.train) on random levels: a run of --warmup steps first
(cuDNN autotuning, allocator), then a run of --steps timed steps (training steps only, by the trainer's own
step clock, which each step's loss.item() synchronizes with the GPU). DDP rows: both GPUs' samples/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

from rt_samplernn.config import TrainConfig, model_config_from_preset
from rt_samplernn.data import AudioSet, chunk_length
from rt_samplernn.train import train

PRESETS = ("prism", "live")


def time_steps(preset: str, amp: bool, batch: int, seq_len: int, steps: int, warmup: int) -> dict:
    """A warm-up run of `warmup` steps (cuDNN autotuning, allocator), then `steps` timed steps in a second run in
    the same process; seconds of training steps as the trainer counts them (rank 0's under DDP)."""
    model_cfg = model_config_from_preset(preset)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cfg = TrainConfig(
        batch_size=batch,
        seq_len=seq_len,
        chunk_seconds=8.0,
        amp=amp,
        early_stopping_patience=0,
        val_batches=0,
        preview_seconds=0,
    )
    shape = (batch * world * 2, chunk_length(model_cfg, cfg))
    levels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.int16)
    data = AudioSet(train=levels, val=levels[:0])
    with tempfile.TemporaryDirectory() as out:
        for n in (warmup, steps):
            run_cfg = TrainConfig(**{**vars(cfg), "max_steps": n, "eval_every": n})
            result = train([], f"{out}/{n}", model_cfg, run_cfg, dataset=data)
    seconds = result.history[-1].train_seconds
    return {
        "preset": preset,
        "amp": amp,
        "gpus": world,
        "batch": batch,
        "seconds": seconds,
        "samples_per_s": steps * batch * seq_len * world / seconds,
        "steps": steps,
    }


def row(r: dict) -> str:
    return (
        f"| {r['preset']} | {r['gpus']} | {'bf16' if r['amp'] else 'fp32'} | {r['batch']} x {r['gpus']} | "
        f"{r['seconds']:.2f} | {r['seconds'] / r['steps'] * 1000:.0f} | {r['samples_per_s']:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one torchrun rank
    parser.add_argument("--amp", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = time_steps(args.presets[0], args.amp, args.batch_size, args.seq_len, args.steps, args.warmup)
        if int(os.environ.get("RANK", "0")) == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return
    if not torch.cuda.is_available():
        print("gpu_train: no CUDA device here; nothing to time (CPU figures: benchmarks/train_throughput.py)")
        return
    gpus = torch.cuda.device_count()
    print(
        f"{torch.cuda.get_device_name(0)} x {gpus}, torch {torch.__version__}, {args.steps} timed steps "
        f"after {args.warmup}, seq_len {args.seq_len}"
    )
    print("| preset | GPUs | precision | batch | seconds | ms/step | samples/s |")
    print("|---|---|---|---|---|---|---|")
    for preset in args.presets:
        for amp in (False, True):
            print(row(time_steps(preset, amp, args.batch_size, args.seq_len, args.steps, args.warmup)), flush=True)
            if gpus >= 2:
                cmd = [
                    sys.executable,
                    "-m",
                    "torch.distributed.run",
                    "--standalone",
                    "--nproc-per-node",
                    "2",
                    __file__,
                    "--worker",
                    "--presets",
                    preset,
                    "--steps",
                    str(args.steps),
                    "--warmup",
                    str(args.warmup),
                    "--batch-size",
                    str(args.batch_size),
                    "--seq-len",
                    str(args.seq_len),
                ]
                proc = subprocess.run(cmd + (["--amp"] if amp else []), capture_output=True, text=True)
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
                if proc.returncode or not lines:
                    print(f"| {preset} | 2 | {'bf16' if amp else 'fp32'} | DDP failed: {proc.stderr.strip()[-300:]} |")
                else:
                    print(row(json.loads(lines[-1][7:])), flush=True)


if __name__ == "__main__":
    main()
