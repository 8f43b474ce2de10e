"""Training throughput (samples per second) of the presets, on CPU and on CUDA when present; prints a table.

    python benchmarks/train_throughput.py                      # live and prism, batch 16, seq 1024
    python benchmarks/train_throughput.py --steps 5 --threads 2 --presets live prism prism-small

Each row: median seconds per optimizer step (TBPTT segment of every chunk in the batch) over --steps timed
steps after one warm-up, and samples per second = batch * seq_len / median. `prism-small` is the PRiSM
configuration that DESIGN.md quotes at 8,597 samples/s (dim 512, 1 GRU layer, batch 16).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rt_samplernn.config import model_config_from_preset
from rt_samplernn.model import SampleRNN
from rt_samplernn.train import detach, nll_bits

SETUPS = {
    "live": ("live", {}, 16),
    "prism": ("prism", {}, 64),
    "prism-small": ("prism", {"dim": 512, "sample_dim": 512, "rnn_layers": 1}, 16),
}


def measure(preset: str, overrides: dict, batch: int, seq_len: int, steps: int, device: torch.device) -> float:
    """Median seconds per training step."""
    torch.manual_seed(0)
    model = SampleRNN(model_config_from_preset(preset, overrides)).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randint(0, 256, (batch, model.overlap + seq_len), device=device)
    states = [tuple(s.to(device) for s in st) for st in model.initial_state(batch)]
    times = []
    for i in range(steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        logits, new_states = model(x, states)
        loss = nll_bits(logits, x[:, model.overlap :])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        states = detach(new_states)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["live", "prism-small", "prism"], choices=list(SETUPS))
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-size", type=int, default=0, help="override every setup's batch (0: each setup's own)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"| setup | device | batch | seq_len | s/step (median of {args.steps}) | samples/s |")
    print("|---|---|---|---|---|---|")
    for name in args.presets:
        preset, overrides, batch = SETUPS[name]
        batch = args.batch_size or batch
        for device in devices:
            seconds = measure(preset, overrides, batch, args.seq_len, args.steps, device)
            label = f"{device.type}" + (f" ({args.threads} threads)" if device.type == "cpu" else "")
            print(f"| {name} | {label} | {batch} | {args.seq_len} | {seconds:.3f} | {batch * args.seq_len / seconds:,.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
