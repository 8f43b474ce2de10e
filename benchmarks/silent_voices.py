"""Are any voices silent? `rt-samplernn generate` from a bundle (the demo by default) at several voice counts
and noise seeds, exactly as a user runs it; per voice, the share of 1-s windows under -40 dBFS (AC RMS of the
block features), judged by rt_samplernn.judge (its `silent_share` and `verdict`, the thresholds in one place).

    bash benchmarks/quiet.sh .venv/bin/python benchmarks/silent_voices.py --voices 2 4 --seeds 0 1 2 3 4 --seconds 10
    ... -- --cold            # extra flags go to `rt-samplernn generate` (e.g. today's all-zero start)

Prints one row per run: voices, seed, the silent share of each voice, and how many voices were silent in
more than 5% of their windows (the judge's "sounding": every voice above -40 dBFS in at least 95% of its windows).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile

from rt_samplernn import judge


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="bundle folder (default: the demo)")
    p.add_argument("--voices", type=int, nargs="+", default=[2, 4])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--seconds", type=float, default=10.0)
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]
    silent_voices = total_voices = 0
    t = judge.THRESHOLDS
    print(
        f"| voices | seed | silent share per voice (1-s windows < {t.silent_db:g} dBFS) "
        f"| voices silent >{t.max_silent_share:.0%} |"
    )
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for voices in args.voices:
            for seed in args.seeds:
                out = Path(tmp) / f"v{voices}-s{seed}.wav"
                cmd = [sys.executable, "-m", "rt_samplernn", "generate"] + ([args.model] if args.model else [])
                cmd += ["--count", str(voices), "--seed", str(seed), "--seconds", str(args.seconds)]
                cmd += ["--channels", "--out", str(out), "--force", *extra]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                audio, rate = soundfile.read(str(out), always_2d=True)
                shares = [judge.silent_share(audio[:, v], rate) for v in range(voices)]
                bad = sum(not judge.verdict(judge.Figures(1, s)).passed for s in shares)
                silent_voices += bad
                total_voices += voices
                print(f"| {voices} | {seed} | {' '.join(f'{s:.0%}' for s in shares)} | {bad} |")
    print(f"\nsilent voices: {silent_voices} of {total_voices}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
