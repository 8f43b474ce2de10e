"""Training throughput (samples per second): the first release's trainer (fp32 eager) against today's defaults
(bf16 autocast where the CPU or GPU runs it natively, the sample tier's embedding folded into its input
conv while training), in the same process, alternating; prints a table.

    python benchmarks/train_throughput.py                                  # live and prism-small, all cores
    python benchmarks/train_throughput.py --presets live prism-small --steps 4 --threads 2 1

Each row: median seconds per optimizer step (TBPTT segment of every chunk in the batch) over --steps timed
steps after one warm-up, samples per second = batch * seq_len / median, and samples per CPU-second (this
process's CPU time) beside it. The two trainers alternate step by step, so load from other processes falls
on both alike. `prism-small` is the PRiSM configuration that DESIGN.md quotes at 8,597 samples/s on both
cores of the 2-core VM (dim 512, 1 GRU layer, batch 16). `--compile` adds a torch.compile'd row.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field

import torch

from rt_samplernn.config import model_config_from_preset
from rt_samplernn.model import SampleRNN
from rt_samplernn.train import bf16_autocast_supported, cpu_threads, detach, nll_bits

SETUPS = {
    "live": ("live", {}, 16),
    "prism": ("prism", {}, 64),
    "prism-small": ("prism", {"dim": 512, "sample_dim": 512, "rnn_layers": 1}, 16),
}


@dataclass
class Trainer:
    """One training setup: a model, its optimizer and carried states, stepped on a fixed batch."""

    label: str
    model: SampleRNN
    amp: bool
    compiled: bool
    device: torch.device
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.net = torch.compile(self.model) if self.compiled else self.model
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def step(self, x: torch.Tensor, states: list) -> list:
        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        sync()
        wall, cpu = time.perf_counter(), time.process_time()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            logits, new_states = self.net(x, states)
        loss = nll_bits(logits, x[:, self.model.overlap :])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        sync()
        self.wall_s.append(time.perf_counter() - wall)
        self.cpu_s.append(time.process_time() - cpu)
        return detach(new_states)


def trainers(preset: str, overrides: dict, device: torch.device, compile_too: bool) -> list[Trainer]:
    amp = bf16_autocast_supported(device)
    now = "now (bf16 autocast, folded input)" if amp else "now (fp32, folded input)"
    kinds = [("first release (fp32 eager)", False, False, False), (now, amp, True, False)]
    if compile_too:
        kinds.append(("now + torch.compile", amp, True, True))
    out = []
    for label, use_amp, fold, compiled in kinds:
        torch.manual_seed(0)
        model = SampleRNN(model_config_from_preset(preset, overrides)).to(device).train()
        model.sample_tier.fold_when_training = fold  # the first release ran the sample tier's conv as is
        out.append(Trainer(label, model, use_amp, compiled, device))
    return out


def measure(name: str, batch: int, seq_len: int, steps: int, device: torch.device, compile_too: bool) -> list[Trainer]:
    """Step every trainer `steps` + warm-up times, alternating; the first steps (warm-up, compile) are dropped."""
    preset, overrides, _ = SETUPS[name]
    runs = trainers(preset, overrides, device, compile_too)
    x = torch.randint(0, 256, (batch, runs[0].model.overlap + seq_len), device=device)
    states = {id(t): [tuple(s.to(device) for s in st) for st in t.model.initial_state(batch)] for t in runs}
    warm = 3 if compile_too else 1
    for _ in range(steps + warm):
        for t in runs:
            states[id(t)] = t.step(x, states[id(t)])
    for t in runs:
        t.wall_s, t.cpu_s = t.wall_s[warm:], t.cpu_s[warm:]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["live", "prism-small"], choices=list(SETUPS))
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[cpu_threads(0)],
        help="CPU thread counts to measure (default: every core, as the trainer uses)",
    )
    parser.add_argument("--batch-size", type=int, default=0, help="override every setup's batch (0: each setup's own)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the model (slow start)")
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.cpu_only
    print(
        f"| setup | device | batch | trainer | s/step (median of {args.steps}) | samples/s | samples/CPU-s "
        "| vs first release |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.presets:
        batch = args.batch_size or SETUPS[name][2]
        places = [(torch.device("cpu"), n) for n in args.threads] + ([(torch.device("cuda"), 0)] if cuda else [])
        for device, threads in places:
            if threads:
                torch.set_num_threads(threads)
            runs = measure(name, batch, args.seq_len, args.steps, device, args.compile)
            base = statistics.median(runs[0].wall_s)
            where = f"cpu ({threads} threads)" if device.type == "cpu" else "cuda"
            for t in runs:
                wall, cpu = statistics.median(t.wall_s), statistics.median(t.cpu_s)
                samples = batch * args.seq_len
                print(
                    f"| {name} | {where} | {batch} | {t.label} | {wall:.3f} | {samples / wall:,.0f} | "
                    f"{samples / cpu:,.0f} | {base / wall:.2f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
