"""Peak memory and time of `rt-samplernn generate` against output length: flat memory, linear time (issue 13).

    python benchmarks/generate_memory.py                                   # tiny bundle, 8 voices
    python benchmarks/generate_memory.py --seconds 30 120 480 --count 8
    python benchmarks/generate_memory.py --python /work/main/.venv/bin/python   # another checkout, side by side

Each length runs `generate` in a fresh process (the command users run) on a seeded tiny model's bundle
(and, with --checkpoint-seconds, its checkpoint through the PyTorch reference) and reads that process's
peak resident memory (VmHWM, Linux) and its wall and CPU time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rt_samplernn.checkpoint import save_checkpoint
from tests.bundle_helpers import tiny_bundle

# The child's own peak: VmHWM of its address space. (ru_maxrss would include the parent's memory from
# before exec: a fork of this process, which holds torch, starts at ~330 MiB.)
CHILD = (
    "import sys; from rt_samplernn.cli import main; rc = main(sys.argv[1:]); "
    "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); sys.exit(rc)"
)


def run_once(python: str, model: Path, seconds: float, count: int, out: Path) -> tuple[float, float, float]:
    """(peak RSS MiB, wall s, CPU s) of one `generate` process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                python,
                "-c",
                CHILD,
                "generate",
                str(model),
                "--seconds",
                str(seconds),
                "--count",
                str(count),
                "--channels",
                "--force",
                "--out",
                str(out),
            ],
            stdout=log,
            stderr=err,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            cwd=out.parent,
        )  # not this checkout: `python -c` imports from its cwd first
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(err.read().decode()[-2000:])
        log.seek(0)
        peak_kib = int(log.read().decode().split()[-1])
    return peak_kib / 1024, wall, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, nargs="+", default=[15.0, 60.0, 240.0], help="lengths for the bundle")
    p.add_argument(
        "--checkpoint-seconds",
        type=float,
        nargs="*",
        default=[2.0, 8.0],
        help="lengths for the PyTorch reference (slow)",
    )
    p.add_argument("--count", type=int, default=8, help="voices, one channel each")
    p.add_argument("--python", default=sys.executable, help="interpreter whose rt_samplernn is measured")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        model, bundle = tiny_bundle(Path(tmp) / "bundle")
        ckpt = save_checkpoint(Path(tmp) / "tiny.pt", model)
        print(
            f"python: {args.python}; tiny model {model.cfg.frame_sizes}, dim {model.cfg.dim}; "
            f"{args.count} voices, 16-bit WAV, one channel per voice"
        )
        print(
            f"{'model':<11} {'seconds':>8} {'samples':>11} {'peak RSS MiB':>13} {'wall s':>8} {'CPU s':>7} "
            f"{'us/sample CPU':>14}"
        )
        for kind, path, lengths in (("bundle", bundle, args.seconds), ("checkpoint", ckpt, args.checkpoint_seconds)):
            for seconds in lengths:
                rss, wall, cpu = run_once(args.python, path, seconds, args.count, Path(tmp) / "out.wav")
                samples = int(seconds * model.cfg.sample_rate) * args.count
                print(
                    f"{kind:<11} {seconds:>8g} {samples:>11,} {rss:>13.0f} {wall:>8.1f} {cpu:>7.1f} "
                    f"{cpu / samples * 1e6:>14.2f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
