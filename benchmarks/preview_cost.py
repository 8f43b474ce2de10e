"""What previews cost during training: seconds per preview (cold + primed, one generator pass) against the
training time between two evaluations, for the live preset at the default training settings.

    bash benchmarks/quiet.sh python benchmarks/preview_cost.py                 # default --preview-seconds
    bash benchmarks/quiet.sh python benchmarks/preview_cost.py --seconds 1 2 4 --threads 2 1

A training step is timed on a held-out-free batch of random levels (a step's cost does not depend on the
values); the preview is timed as training makes it (Previewer: generate, measure, write WAVs and CSV).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rt_samplernn.config import TrainConfig, model_config_from_preset
from rt_samplernn.model import SampleRNN
from rt_samplernn.previews import Previewer
from rt_samplernn.train import bf16_autocast_supported, cpu_threads, detach, make_optimizer, nll_bits


def seconds_per_step(model: SampleRNN, cfg: TrainConfig, steps: int) -> float:
    """Median seconds of a training step at cfg's batch and segment (bf16 where native, as training runs)."""
    optimizer = make_optimizer(model.parameters(), cfg)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (cfg.batch_size, model.overlap + cfg.seq_len)))
    amp = cfg.amp and bf16_autocast_supported(torch.device("cpu"))
    states, times = model.initial_state(cfg.batch_size), []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits, new_states = model(x, states)
        loss = nll_bits(logits, x[:, model.overlap :])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        states = detach(new_states)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="live")
    parser.add_argument("--seconds", type=float, nargs="+", default=[TrainConfig().preview_seconds])
    parser.add_argument("--threads", type=int, nargs="+", default=[cpu_threads(0)], help="torch threads")
    parser.add_argument("--steps", type=int, default=8, help="training steps timed")
    args = parser.parse_args()
    cfg = TrainConfig()
    model_cfg = model_config_from_preset(args.preset)
    torch.manual_seed(0)
    model = SampleRNN(model_cfg).train()
    val = np.random.default_rng(1).integers(0, 256, (2, model.overlap + 8 * cfg.seq_len)).astype(np.int16)
    print(
        f"{args.preset} at {model_cfg.sample_rate} Hz; batch {cfg.batch_size}, seq_len {cfg.seq_len}, "
        f"eval every {cfg.eval_every} steps"
    )
    print("| threads | s/step | training s between evaluations | preview s | seconds made | share of training |")
    print("|---|---|---|---|---|---|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        step_s = seconds_per_step(model, cfg, args.steps)
        interval_s = step_s * cfg.eval_every
        for seconds in args.seconds:
            with tempfile.TemporaryDirectory() as out:
                previewer = Previewer(Path(out), model_cfg, TrainConfig(preview_seconds=seconds), val, None)
                times = [previewer(model, step)[1] for step in (1, 2)]
            preview_s = min(times)
            print(
                f"| {threads} | {step_s:.3f} | {interval_s:.0f} | {preview_s:.1f} | {seconds:g} x 2 voices | "
                f"{preview_s / interval_s:.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
