"""How long the data check takes before the first step on a folder of many short files.

    bash benchmarks/quiet.sh python benchmarks/data_check.py --files 2000

Writes --files short WAVs (0.5-2 s of tones and noise; a quarter at 44.1 kHz stereo, the rest 16 kHz mono, one
junk file) into a temporary folder, then times, three times each: `read_dataset` in-process (every file
decoded once: counts, silence, chunks) and `rt-samplernn train DIR --dry-run` as a user runs it (process
start and imports included).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from rt_samplernn.config import TrainConfig, model_config_from_preset
from rt_samplernn.data import read_dataset


def write_files(folder: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        stereo = i % 4 == 0
        rate = 44100 if stereo else 16000
        t = np.arange(int(rate * rng.uniform(0.5, 2.0))) / rate
        audio = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 800) * t) + 0.05 * rng.standard_normal(len(t))
        audio = np.stack([audio, audio], axis=1) if stereo else audio
        soundfile.write(folder / f"clip{i:05d}.wav", audio.astype(np.float32), rate)
    (folder / "junk.wav").write_bytes(b"RIFF....not audio")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model_cfg = model_config_from_preset("live")
    cfg = TrainConfig(chunk_seconds=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "audio"
        folder.mkdir()
        write_files(folder, args.files)
        print(f"{args.files} WAVs + 1 junk file; chunk 1 s; live preset (16 kHz)")
        print("| what | seconds (each run) |")
        print("|---|---|")
        timings = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            data = read_dataset([folder], model_cfg, cfg, quiet=True)
            timings.append(time.perf_counter() - start)
        print(f"| read_dataset (decode, check, chunk) | {', '.join(f'{t:.2f}' for t in timings)} |")
        report = data.report
        assert report is not None  # read_dataset reports what it read
        timings = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            cmd = [sys.executable, "-m", "rt_samplernn", "train", str(folder), "--out", f"{tmp}/run"]
            proc = subprocess.run([*cmd, "--chunk-seconds", "1", "--dry-run"], capture_output=True, text=True)
            timings.append(time.perf_counter() - start)
        print(f"| `rt-samplernn train DIR --dry-run` (whole command) | {', '.join(f'{t:.2f}' for t in timings)} |")
        print(
            f"report: {report.files} files, {report.seconds_found / 60:.1f} min found, "
            f"{report.seconds_kept / 60:.1f} min kept, rates {report.rates}, channels {report.channels}, "
            f"{len(report.skipped)} skipped; the command says: {next((x for x in proc.stderr.splitlines() if x.startswith('data:')), proc.stderr[-300:])}"
        )


if __name__ == "__main__":
    main()
