"""Priming a seed clip: peak memory and time against clip length (engine and PyTorch reference).

    python benchmarks/prime_memory.py                          # live preset, int8 bundle: 0.5, 1, 2, 4 minutes
    python benchmarks/prime_memory.py --minutes 1 5 20         # a 20-minute clip (the engine: ~2-4 min)
    python benchmarks/prime_memory.py --bundle DIR             # any bundle (engine only)

Each length runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its own; the clip is a
seeded synthetic signal at the model's rate. Memory should stay flat and time grow linearly: both priming
paths read the clip in bounded chunks (rt_samplernn.schedule.prime_windows; a version 2 engine one frame
per call), with the state carried.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
import numpy as np
kind, path, minutes = sys.argv[1], sys.argv[2], float(sys.argv[3])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if kind == "engine":
    from rt_samplernn.live.engine import Engine
    engine = Engine(path, provider="cpu", threads=1)
    rate = engine.sample_rate
    setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clip = (0.5 * np.sin(np.arange(int(minutes * 60 * rate)) * 0.01)).astype(np.float32)
    t = time.perf_counter()
    engine.prime(clip, rate)
else:
    import torch
    torch.set_num_threads(1)
    from rt_samplernn.checkpoint import load_checkpoint
    from rt_samplernn.generate import prime_levels, primed_states, start_history
    model, cfg, _ = load_checkpoint(path)
    rate = cfg.sample_rate
    setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clip = (0.5 * np.sin(np.arange(int(minutes * 60 * rate)) * 0.01)).astype(np.float32)
    t = time.perf_counter()
    with torch.inference_mode():
        primed_states(model, torch.from_numpy(start_history(cfg, 1, prime_levels(cfg, clip, rate))))
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(seconds=seconds, peak_mb=peak / 1024, setup_mb=setup / 1024, clip_mb=clip.nbytes / 2**20)))
"""


def measure(kind: str, path: Path, minutes: float) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(path), str(minutes)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        return dict(error=done.stderr.strip().splitlines()[-1][:120] if done.stderr.strip() else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", nargs="+", type=float, default=[0.5, 1, 2, 4], help="clip lengths")
    p.add_argument("--bundle", type=Path, help="a bundle to prime (default: a live-preset int8 export)")
    p.add_argument("--no-reference", action="store_true", help="skip the PyTorch reference generator's priming")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bundle, ckpt = args.bundle, None
        if bundle is None:
            import torch
            from rt_samplernn.export.onnx_export import export_bundle

            from rt_samplernn.checkpoint import save_checkpoint
            from rt_samplernn.config import model_config_from_preset
            from rt_samplernn.model import SampleRNN

            torch.manual_seed(0)
            model = SampleRNN(model_config_from_preset("live")).eval()
            ckpt = save_checkpoint(Path(tmp) / "live.pt", model)
            bundle = Path(tmp) / "live-int8"
            export_bundle(model, bundle, int8=True)
        kinds = [("engine", bundle)] + ([("reference", ckpt)] if ckpt and not args.no_reference else [])
        print(f"{'priming':<10} {'clip min':>8} {'clip MB':>8} {'seconds':>8} {'s per clip min':>15} "
              f"{'peak MB':>8} {'after setup':>12}")
        for kind, path in kinds:
            for minutes in args.minutes:
                r = measure(kind, path, minutes)
                if "error" in r:
                    print(f"{kind:<10} {minutes:>8g}  failed: {r['error']}")
                    continue
                print(f"{kind:<10} {minutes:>8g} {r['clip_mb']:>8.1f} {r['seconds']:>8.1f} "
                      f"{r['seconds'] / minutes:>15.1f} {r['peak_mb']:>8.0f} {r['peak_mb'] - r['setup_mb']:>+12.0f}",
                      flush=True)
    print("(peak MB: the process's ru_maxrss; after setup: growth over the loaded model, clip included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
