"""Training on a folder with one lying audio header: peak memory against the same folder without it (issue 22).

    python benchmarks/lying_header_memory.py                      # 3 real tracks x 20 s, a liar claiming 7 Hz
    python benchmarks/lying_header_memory.py --claimed-rate 1000  # a liar inside the accepted range (16x up)

The folder holds excerpts of real music (Drascula's soundtrack, drascula-music); the liar is a 16 kHz WAV
of the same length whose header then claims --claimed-rate. Each run is `rt-samplernn train FOLDER
--max-steps 2` (a small model, one thread) in a fresh process under /usr/bin/time; the figure is its
maximum resident set size. Before the fix, the 7 Hz liar was resampled whole by 2,286x and the process
was killed by the kernel at 24 GB.
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL = "--frame-sizes 4 16 --dim 64 --sample-dim 64 --emb-size 16 --batch-size 4 --seq-len 256 --chunk-seconds 1"
FLAGS = SMALL.split() + ["--max-steps", "2", "--eval-every", "2", "--val-batches", "1", "--num-threads", "1"]


def write_liar(path: Path, seconds: float, claimed_rate: int) -> None:
    import numpy as np
    import soundfile

    tone = (0.3 * np.sin(np.arange(int(16000 * seconds)) * 0.07)).astype(np.float32)
    soundfile.write(str(path), tone, 16000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    fmt = raw.index(b"fmt ") + 8
    raw[fmt + 4 : fmt + 12] = struct.pack("<II", claimed_rate, claimed_rate * 2)
    path.write_bytes(bytes(raw))


def peak_mib(folder: Path, out: Path) -> tuple[float, int, str]:
    """(max RSS MiB, exit code, last stderr line) of one training run."""
    cmd = ["/usr/bin/time", "-f", "MAXRSS %M", sys.executable, "-m", "rt_samplernn", "train", str(folder)]
    proc = subprocess.run(cmd + ["--out", str(out), "--quiet", *FLAGS], capture_output=True, text=True, cwd=ROOT)
    lines = proc.stderr.strip().splitlines()
    rss = next(int(line.split()[1]) for line in reversed(lines) if line.startswith("MAXRSS"))
    said = [line for line in lines if "liar" in line]
    return rss / 1024, proc.returncode, said[0] if said else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="length of each excerpt and of the liar")
    p.add_argument("--claimed-rate", type=int, default=7, help="the rate the liar's header claims")
    args = p.parse_args()
    from tests.audio_fixtures import drascula_track, write_excerpt

    with tempfile.TemporaryDirectory() as tmp:
        clean, dirty = Path(tmp) / "clean", Path(tmp) / "dirty"
        clean.mkdir()
        dirty.mkdir()
        for i, track in enumerate((2, 5, 7)):
            write_excerpt(drascula_track(track), clean / f"t{i}.wav", 10.0, args.seconds)
            (dirty / f"t{i}.wav").write_bytes((clean / f"t{i}.wav").read_bytes())
        write_liar(dirty / "liar.wav", args.seconds, args.claimed_rate)
        print("| folder | peak RSS MiB | exit | what train said about the liar |")
        print("|---|---|---|---|")
        figures = {}
        for name, folder in (("3 tracks", clean), (f"3 tracks + liar ({args.claimed_rate} Hz)", dirty)):
            mib, rc, said = peak_mib(folder, Path(tmp) / f"run-{folder.name}")
            figures[folder.name] = mib
            print(f"| {name} | {mib:.0f} | {rc} | {said[:110]} |")
        print(f"\nratio with / without the liar: {figures['dirty'] / figures['clean']:.2f}")


if __name__ == "__main__":
    main()
