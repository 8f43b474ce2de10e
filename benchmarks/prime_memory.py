"""Priming from a seed file: peak memory and time against the file's length (engine and PyTorch reference).

    python benchmarks/prime_memory.py                          # live preset, int8 bundle: 0.5, 1, 2, 4 minutes
    python benchmarks/prime_memory.py --minutes 1 5 20         # a 20-minute file (the engine: ~2 min in all)
    python benchmarks/prime_memory.py --bundle DIR             # any bundle (engine only)
    python benchmarks/prime_memory.py --whole                  # read the file whole first (the first release's
                                                               # `play --seed-audio`; runs on older checkouts too)

The seed is a seeded synthetic signal written as a 16-bit WAV file, 44.1 kHz stereo by default (so it is
decoded, mixed to mono and resampled like a real seed file). Each length runs in a fresh subprocess; the
resident high-water mark is reset once the model is loaded, so "priming peak" is priming's own (Linux). By default priming reads the file in blocks
(rt_samplernn.audio.FileClip, schedule.PrimingHistory: what `play`/`generate --seed-audio` do), so memory
should stay flat and time grow linearly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

CHILD = r"""
import json, re, resource, sys, time
kind, path, whole = sys.argv[1], sys.argv[2], sys.argv[3] == "whole"


def start_priming():  # reset the resident high-water mark (Linux): what follows is priming alone
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), time.perf_counter()


if kind == "engine":
    from rt_samplernn.live.engine import Engine
    engine = Engine(sys.argv[4], provider="cpu", threads=1)
    setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, t = start_priming()
    if whole:
        from rt_samplernn.audio import read_audio
        engine.prime(*read_audio(path))
    else:
        from rt_samplernn.audio import FileClip
        engine.prime(FileClip(path))
else:
    import torch
    torch.set_num_threads(1)
    from rt_samplernn.checkpoint import load_checkpoint
    model, cfg, _ = load_checkpoint(sys.argv[4])
    setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, t = start_priming()
    with torch.inference_mode():
        if whole:
            from rt_samplernn.audio import read_audio
            from rt_samplernn.generate import prime_levels, primed_states, start_history
            levels = prime_levels(cfg, *read_audio(path))
            primed_states(model, torch.from_numpy(start_history(cfg, 1, levels)))
        else:
            from rt_samplernn.audio import FileClip
            from rt_samplernn.generate import primed_from
            from rt_samplernn.schedule import PrimingHistory
            primed_from(model, PrimingHistory.from_clip(cfg, FileClip(path)), 1)
seconds = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
priming = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps(dict(seconds=seconds, cpu_s=cpu, setup_mb=setup / 1024, priming_mb=priming / 1024)))
"""


def write_seed(path: Path, minutes: float, rate: int, channels: int) -> float:
    """A seeded synthetic seed file, written in blocks; returns its size in MB."""
    rng = np.random.default_rng(0)
    total, block = int(minutes * 60 * rate), 1 << 20
    with soundfile.SoundFile(str(path), "w", rate, channels, "PCM_16") as f:
        for start in range(0, total, block):
            t = np.arange(start, min(start + block, total))
            x = 0.5 * np.sin(t * 0.01)[:, None] + 0.05 * rng.standard_normal((len(t), channels))
            f.write(np.clip(x, -1, 1).astype(np.float32))
    return path.stat().st_size / 2**20


def measure(kind: str, seed: Path, whole: bool, model: Path) -> dict:
    args = [sys.executable, "-c", CHILD, kind, str(seed), "whole" if whole else "blocks", str(model)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        return dict(error=done.stderr.strip().splitlines()[-1][:120] if done.stderr.strip() else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", nargs="+", type=float, default=[0.5, 1, 2, 4], help="seed file lengths")
    p.add_argument("--bundle", type=Path, help="a bundle to prime (default: a live-preset int8 export)")
    p.add_argument("--no-reference", action="store_true", help="skip the PyTorch reference generator's priming")
    p.add_argument("--whole", action="store_true", help="read the seed file whole, then prime from the array")
    p.add_argument("--file-rate", type=int, default=44100, help="the seed file's sample rate, Hz")
    p.add_argument("--channels", type=int, default=2, help="the seed file's channels")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bundle, ckpt = args.bundle, None
        if bundle is None:
            import torch

            from rt_samplernn.checkpoint import save_checkpoint
            from rt_samplernn.config import model_config_from_preset
            from rt_samplernn.export.onnx_export import export_bundle
            from rt_samplernn.model import SampleRNN

            torch.manual_seed(0)
            model = SampleRNN(model_config_from_preset("live")).eval()
            ckpt = save_checkpoint(Path(tmp) / "live.pt", model)
            bundle = Path(tmp) / "live-int8"
            export_bundle(model, bundle, int8=True)
        kinds = [("engine", bundle)] + ([("reference", ckpt)] if ckpt and not args.no_reference else [])
        how = "read whole, then primed" if args.whole else "read in blocks as it primes"
        print(f"seed file: {args.file_rate} Hz, {args.channels} ch, 16-bit WAV; {how}")
        print(
            f"{'priming':<10} {'file min':>8} {'file MB':>8} {'seconds':>8} {'s per file min':>15} "
            f"{'CPU s per file min':>19} {'load peak MB':>12} {'priming peak MB':>15}"
        )
        for minutes in args.minutes:
            seed = Path(tmp) / f"seed-{minutes:g}.wav"
            file_mb = write_seed(seed, minutes, args.file_rate, args.channels)
            for kind, model_path in kinds:
                r = measure(kind, seed, args.whole, model_path)
                if "error" in r:
                    print(f"{kind:<10} {minutes:>8g}  failed: {r['error']}")
                    continue
                print(
                    f"{kind:<10} {minutes:>8g} {file_mb:>8.1f} {r['seconds']:>8.1f} "
                    f"{r['seconds'] / minutes:>15.1f} {r['cpu_s'] / minutes:>19.1f} {r['setup_mb']:>12.0f} "
                    f"{r['priming_mb']:>15.0f}",
                    flush=True,
                )
            seed.unlink()
    print(
        "(load peak: ru_maxrss after loading the model; priming peak: the resident high-water mark while priming,\n"
        " the model included: VmHWM, reset by /proc/self/clear_refs before priming starts)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
