"""The demo's voices on another x86 CPU's kernel path (issue 28's floor): every voice as `play` starts it,
4 voices, seeds 0-2, 30 s each; the share of 1-s windows under -40 dBFS per voice, and how many voices sound
(above -40 dBFS in at least 95% of their windows, rt_samplernn.judge's "sounding").

    python benchmarks/voices_on_cpu.py                          # this CPU
    python benchmarks/voices_on_cpu.py --cpu Haswell            # AVX2 without AVX-512 or VNNI, under qemu-x86_64
    python benchmarks/voices_on_cpu.py --cpu Nehalem --seconds 10

--cpu MODEL runs the same measurement under `qemu-x86_64 -cpu MODEL` (Debian's qemu-user), so onnxruntime
picks that CPU's kernels; emulation is 10-50x slower, the figures are the same as on such a CPU. The engine
prints which graphs it plays (after their self-check on this kernel path) and any notice.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(bundle: str, voices: int, seeds: list[int], seconds: float) -> dict:
    import numpy as np

    from rt_samplernn import judge
    from rt_samplernn.block_features import window_features
    from rt_samplernn.live.engine import Engine
    from rt_samplernn.live.music import start_from_music, start_settings

    rows = []
    for seed in seeds:
        engine = Engine(bundle, voices=voices, seed=seed, provider="cpu")
        knobs = start_settings(engine.bundle)
        engine.set_temperature(knobs["temperature"])
        if engine.has_min_p:
            engine.set_min_p(knobs["min_p"])
        start_from_music(engine)
        audio = engine.generate(int(seconds * engine.sample_rate))
        shares = [
            float(np.mean(window_features(v, engine.sample_rate)["rms_db"] < judge.THRESHOLDS.silent_db)) for v in audio
        ]
        rows.append(
            {
                "seed": seed,
                "silent_shares": shares,
                "files": [p.name for p in engine.graph_files],
                "notices": engine.notices,
            }
        )
    return {"rows": rows}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default=None, help="bundle folder (default: the shipped demo)")
    p.add_argument("--cpu", default="native", help="a qemu-x86_64 CPU model (Haswell, Nehalem) or native")
    p.add_argument("--voices", type=int, default=4)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)  # the measuring child prints JSON
    args = p.parse_args()
    if args.bundle is None:
        from rt_samplernn.models import DEMO_BUNDLE

        args.bundle = str(DEMO_BUNDLE)
    if args.inner:
        print(json.dumps(measure(args.bundle, args.voices, args.seeds, args.seconds)))
        return 0
    command = [
        sys.executable,
        __file__,
        "--inner",
        "--bundle",
        args.bundle,
        "--voices",
        str(args.voices),
        "--seconds",
        str(args.seconds),
        "--seeds",
        *map(str, args.seeds),
    ]
    if args.cpu != "native":
        command = ["qemu-x86_64", "-cpu", args.cpu, *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    flags = subprocess.run(
        ["grep", "-o", "-w", r"avx2\|avx512f\|avx512_vnni\|avx_vnni", "/proc/cpuinfo"], capture_output=True, text=True
    ).stdout.split()
    print(
        f"bundle {args.bundle}, cpu {args.cpu} (host flags: {' '.join(sorted(set(flags)))}), "
        f"{args.voices} voices, {args.seconds:g} s"
    )
    sounding = total = 0
    for row in result["rows"]:
        ok = [s <= judge_max_silent() for s in row["silent_shares"]]
        sounding, total = sounding + sum(ok), total + len(ok)
        shares = " ".join(f"{s:.0%}" for s in row["silent_shares"])
        print(
            f"seed {row['seed']}: silent shares {shares}; graphs {', '.join(row['files'])}"
            + "".join(f"; note: {n}" for n in row["notices"])
        )
    print(f"voices sounding (above -40 dBFS in 95% of 1-s windows): {sounding} of {total}")
    return 0


def judge_max_silent() -> float:
    from rt_samplernn import judge

    return judge.THRESHOLDS.max_silent_share


if __name__ == "__main__":
    sys.exit(main())
