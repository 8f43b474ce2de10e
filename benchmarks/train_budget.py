"""Budgeted training on real music: train a config for N minutes on Drascula's soundtrack, print held-out NLL
against training time.

    python benchmarks/train_budget.py --minutes 5                          # prism-small, the issue's floor: <= 5.2
    python benchmarks/train_budget.py --minutes 2 --setup live --learning-rate 2e-3 --warmup-steps 20
    python benchmarks/train_budget.py --minutes 5 --split chunks --against-first-release   # issue 19's floor

Data (drascula-music, apt-get install drascula-music), two splits:
- `--split tracks` (default), as recipes/demo.sh: every track except track10, track20 and track30, which are
  held out; the held-out score is NLL in bits per sample on --val-chunks chunks chosen once, spread evenly over
  the three held-out tracks (other music than the training tracks: the harder test).
- `--split chunks`, the setting of the issue's PRiSM-SampleRNN comparison: 32 chunks spread evenly over all
  31 tracks, alternately 16 to train on and 16 held out (the same recordings, other passages). The clock counts training steps only (start-up
and evaluations are printed apart). The recipe is `rt-samplernn train`'s default unless flags say otherwise; as
`train --max-minutes` alone does, the cosine decays over the clock (the minutes), unless --max-steps fixes a
step count. Evaluations are spaced by a step count set from the speed of a few timed steps first.
`--against-first-release` trains a second model on the same data in the same process with the first release's
recipe (constant 1e-3, no warm-up) and prints the two side by side.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rt_samplernn.config import RECIPES, TrainConfig, model_config_from_preset
from rt_samplernn.data import AudioSet, build_dataset, validation_chunks
from rt_samplernn.model import SampleRNN
from rt_samplernn.train import bf16_autocast_supported, cpu_threads, detach, nll_bits, train

AUDIO = Path("/usr/share/scummvm/drascula/audio")
HELD_OUT = ("track10.ogg", "track20.ogg", "track30.ogg")
SETUPS: dict[
    str, tuple[str, dict[str, object]]
] = {  # name: (preset, model overrides); prism-small as in benchmarks/train_throughput.py
    "prism-small": ("prism", {"dim": 512, "sample_dim": 512, "rnn_layers": 1}),
    "live": ("live", {}),
    "live-2tier": ("live", {"frame_sizes": (16,)}),
}


def seconds_per_step(model: SampleRNN, cfg: TrainConfig, data: np.ndarray, steps: int = 3) -> float:
    """Median seconds of a training step on real chunks (a throwaway copy of the model)."""
    probe = SampleRNN(model.cfg).train()
    optimizer = torch.optim.Adam(probe.parameters(), lr=cfg.learning_rate)
    x = torch.from_numpy(data[: cfg.batch_size, : probe.overlap + cfg.seq_len].astype(np.int64))
    states, times = probe.initial_state(cfg.batch_size), []
    amp = cfg.amp and bf16_autocast_supported(torch.device("cpu"))
    for _ in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits, new_states = probe(x, states)
        loss = nll_bits(logits, x[:, probe.overlap :])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        states = detach(new_states)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def alternate_chunks(chunks: np.ndarray, n: int) -> AudioSet:
    """n chunks spread evenly over `chunks`, alternately for training and held out."""
    picked = chunks[np.linspace(0, len(chunks) - 1, n).round().astype(np.int64)]
    return AudioSet(train=picked[0::2], val=picked[1::2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget (steps only)")
    parser.add_argument("--setup", choices=list(SETUPS), default="prism-small")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--chunk-seconds", type=float, default=8.0)
    default = TrainConfig()
    parser.add_argument("--learning-rate", type=float, default=default.learning_rate)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default=default.lr_schedule)
    parser.add_argument("--warmup-steps", type=int, default=default.warmup_steps)
    parser.add_argument("--min-lr-fraction", type=float, default=default.min_lr_fraction)
    parser.add_argument("--grad-clip", type=float, default=default.grad_clip)
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=default.amp, help="bf16 autocast")
    parser.add_argument("--threads", type=int, default=cpu_threads(0))
    parser.add_argument("--evals", type=int, default=4, help="evaluations spread over the budget")
    parser.add_argument("--val-chunks", type=int, default=8, help="held-out chunks scored at each evaluation")
    parser.add_argument("--max-steps", type=int, default=0, help="the cosine over this many steps, not the clock")
    parser.add_argument(
        "--against-first-release",
        action="store_true",
        help="then the same budget, data and seed with constant 1e-3 and no warm-up, side by side",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split",
        choices=["tracks", "chunks"],
        default="tracks",
        help="held-out tracks (tracks), or 16 training and 16 held-out chunks of all tracks (chunks)",
    )
    args = parser.parse_args()
    if not AUDIO.is_dir():
        raise SystemExit(f"{AUDIO} missing: apt-get install drascula-music")
    torch.set_num_threads(args.threads)
    preset, overrides = SETUPS[args.setup]
    model_cfg = model_config_from_preset(preset, overrides)
    cfg = TrainConfig(
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        chunk_seconds=args.chunk_seconds,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        warmup_steps=args.warmup_steps,
        min_lr_fraction=args.min_lr_fraction,
        grad_clip=args.grad_clip,
        amp=args.amp,
        num_threads=args.threads,
        max_minutes=args.minutes,
        max_steps=args.max_steps,
        val_batches=0,
        early_stopping_patience=0,
        seed=args.seed,
        preview_seconds=0,
    )

    start = time.perf_counter()
    train_files = sorted(f for f in AUDIO.glob("track*.ogg") if f.name not in HELD_OUT)
    data = build_dataset(train_files, model_cfg, cfg, [AUDIO / name for name in HELD_OUT], quiet=True)
    if args.split == "chunks":
        data = alternate_chunks(np.concatenate([data.train, data.val]), 32)
    val = data.val if args.split == "chunks" else validation_chunks(data.val, args.val_chunks)
    startup_s = time.perf_counter() - start
    torch.manual_seed(args.seed)
    step_s = seconds_per_step(SampleRNN(model_cfg), cfg, data.train)
    steps = args.max_steps or max(int(args.minutes * 60 / step_s), args.evals)
    cfg = TrainConfig(**{**vars(cfg), "eval_every": max(steps // args.evals, 1)})
    held_out = "other passages of the same tracks" if args.split == "chunks" else ", ".join(HELD_OUT)
    print(
        f"{args.setup}: split {args.split}, {len(data.train)} training chunks of {args.chunk_seconds:g} s, "
        f"{len(val)} held-out chunks ({len(val) * data.val.shape[1] / model_cfg.sample_rate:.0f} s) of {held_out}; "
        f"start-up {startup_s:.1f} s; {step_s:.2f} s/step -> ~{steps} steps; {args.threads} threads, "
        f"amp {args.amp}; lr {args.learning_rate:g} {args.lr_schedule}, warm-up {args.warmup_steps}, "
        f"batch {args.batch_size}, seq_len {args.seq_len}, clip {args.grad_clip:g}",
        flush=True,
    )

    recipes = {"this recipe": cfg}
    if args.against_first_release:
        recipes["first release's recipe"] = TrainConfig(**{**vars(cfg), **RECIPES["first-release"]})
    results = {}
    for name, run_cfg in recipes.items():
        with tempfile.TemporaryDirectory() as out:
            wall = time.perf_counter()
            result = train([], out, model_cfg, run_cfg, dataset=AudioSet(train=data.train, val=val))
            wall = time.perf_counter() - wall
        results[name] = result
        print(f"{name}: lr {run_cfg.learning_rate:g} {run_cfg.lr_schedule}, warm-up {run_cfg.warmup_steps}")
        print("| training min | step | train NLL (bits) | held-out NLL (bits) |")
        print("|---|---|---|---|")
        for point in result.history:
            print(f"| {point.train_seconds / 60:.2f} | {point.step} | {point.train_bits:.3f} | {point.val_bits:.3f} |")
        spent = result.history[-1].train_seconds if result.history else 0.0
        print(
            f"stopped: {result.stopped}; {spent / 60:.2f} min training, {(wall - spent) / 60:.2f} min evaluating "
            f"and checkpointing; final held-out NLL {result.last_val_bits:.3f} bits/sample",
            flush=True,
        )
    if len(results) == 2:
        ours, theirs = (r.last_val_bits for r in results.values())
        print(f"held-out NLL: this recipe {ours:.3f}, first release's {theirs:.3f}: {theirs - ours:+.3f} bits better")


if __name__ == "__main__":
    main()
