"""Underruns of `rt-samplernn play` on a JACK dummy server, with and without a CPU hog on the other core.

    python benchmarks/play_underruns.py --rate 48000 --hog none         # the demo, 60 s, default latency, quiet
    python benchmarks/play_underruns.py --rate 48000 --hog other        # ... with a busy loop on the other core
    python benchmarks/play_underruns.py --sweep 20 30 50 --seconds 20   # smallest latency without underruns
    python benchmarks/play_underruns.py --bundle my-bundle --voices 2 --rate 16000
    python benchmarks/play_underruns.py --random live                   # a random-weight `live` model

Each run is the real command, `rt-samplernn play BUNDLE --seconds S --latency-ms L -q`-like, in a child
process pinned to CPU 0, against a private `jackd -d dummy` (paced like a sound card, block 256). The
hog is a busy Python loop pinned to CPU 1 ("the other core"). From the command's once-a-second status
lines and its summary: underruns (callbacks that found the ring short), host underflows (PortAudio's
output_underflow), the worker's real-time factor (min / median) and the process's CPU use.

The bundle is the demo unless --bundle or --random PRESET (a model of that preset with random weights,
exported once into --cache: the compute per sample is a trained model's; an untrained model sounds like
noise, so the watchdog fires every few seconds and resets it, which is cheap: the events are reported too).
"first 2 s" counts the underruns of the first two seconds played (startup). Run one case per invocation
through `bash benchmarks/quiet.sh` (background jobs paused) to keep each under a few minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# play's status line: "... | RTF 3.82x | ... | underruns 10 (total 10) | host 0 (total 0) | ... | cpu 0.26 cores | ..."
STATUS = re.compile(r"RTF\s+([\d.]+)x .* underruns (\d+) \(total \d+\) \| host (\d+) .* cpu\s+([\d.]+) cores")
EARLY = re.compile(r"^\s*([\d.]+) s \|.* underruns (\d+) ")
SUMMARY = re.compile(r"underruns (\d+), host underflows (\d+), watchdog events (\d+)")

EXPORT = """
import sys, torch
from rt_samplernn.config import model_config_from_preset
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.model import SampleRNN
torch.manual_seed(0)
export_bundle(SampleRNN(model_config_from_preset(sys.argv[2])), sys.argv[1])
"""


ENGINE_ALONE = """
import sys, time
from rt_samplernn.live.engine import Engine
e = Engine(sys.argv[1], voices=int(sys.argv[2]), seed=0, provider="cpu")
e.generate(4096)
t, c = time.perf_counter(), time.process_time()
e.generate(int(float(sys.argv[3]) * e.sample_rate))
print(float(sys.argv[3]) / (time.perf_counter() - t), float(sys.argv[3]) / (time.process_time() - c))
"""


def engine_alone(bundle: Path, voices: int, seconds: float, cpu: int | None) -> tuple[float, float]:
    """The engine's real-time factor without the play path (wall clock, per CPU-second), on play's CPU."""
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    out = subprocess.run(
        [sys.executable, "-c", ENGINE_ALONE, str(bundle), str(voices), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        preexec_fn=pin,
    ).stdout.split()
    return float(out[0]), float(out[1])


def live_bundle(cache: Path, preset: str) -> Path:
    out = cache / f"{preset}-random"
    if not (out / "model.json").exists():
        print(f"exporting a random-weight '{preset}' model to {out} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-c", EXPORT, str(out), preset], check=True, cwd=ROOT)
    return out


@contextmanager
def jack(rate: int, period: int) -> Iterator[str]:
    """A private `jackd -d dummy` (the tests' own starter); yields its name for JACK_DEFAULT_SERVER."""
    sys.path.insert(0, str(ROOT))
    from tests.jack import start_jackd, stop_jackd

    name = f"rtsrnn-bench-{uuid.uuid4().hex[:6]}"
    proc = start_jackd(name, rate, period)
    try:
        yield name
    finally:
        stop_jackd(proc)


@contextmanager
def hog(cpu: int | None) -> Iterator[None]:
    if cpu is None:
        yield
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"], preexec_fn=lambda: os.sched_setaffinity(0, {cpu})
    )
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.kill()
        proc.wait()


def play_child(server: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command and environment of an `rt-samplernn play ARGS` child on the JACK server ``server`` (CPU)."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER="1")
    return [sys.executable, "-m", "rt_samplernn", "play", "--provider", "cpu", *args], env


def run_play(
    bundle: Path, server: str, seconds: float, latency_ms: float, voices: int, cpu: int | None, extra: list[str]
) -> dict:
    cmd, env = play_child(
        server,
        [str(bundle), "--seconds", str(seconds), "--latency-ms", str(latency_ms), "--voices", str(voices), *extra],
    )
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, preexec_fn=pin, timeout=seconds + 120)
    rtf, cpu_use = [], []
    first_2s = None  # underruns in the first two seconds played (the status line at 2 s or just after)
    for line in proc.stderr.splitlines():
        e = EARLY.search(line)
        if e and first_2s is None and float(e.group(1)) >= 2.0:
            first_2s = int(e.group(2))
        m = STATUS.search(line)
        if m:
            rtf.append(float(m.group(1)))
            cpu_use.append(round(100 * float(m.group(4))))
    s = SUMMARY.search(proc.stderr)
    if proc.returncode != 0 or s is None:
        raise SystemExit(f"play failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    return {
        "latency_ms": latency_ms,
        "underruns": int(s.group(1)),
        "host_underflows": int(s.group(2)),
        "first_2s": first_2s if first_2s is not None else int(s.group(1)),
        "watchdog_events": int(s.group(3)),
        "rtf_min": min(rtf[1:] or rtf or [0.0]),
        "rtf_median": statistics.median(rtf or [0.0]),
        "cpu_pct": statistics.median(cpu_use or [0]),
    }


def main() -> None:
    from rt_samplernn.live.player import DEFAULT_LATENCY_MS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=None, help="bundle to play (default: the demo)")
    p.add_argument("--random", metavar="PRESET", default=None, help="play a random-weight model of this preset")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds played per case")
    p.add_argument("--latency-ms", type=float, default=DEFAULT_LATENCY_MS)
    p.add_argument(
        "--sweep", type=float, nargs="+", default=None, metavar="MS", help="latencies to try instead of --latency-ms"
    )
    p.add_argument(
        "--hog",
        choices=("none", "other", "both"),
        default="both",
        help="runs without the CPU hog, with it on the other core, or both",
    )
    p.add_argument("--voices", type=int, default=1)
    p.add_argument("--rate", type=int, default=16000, help="JACK server rate (resampled when not the model's)")
    p.add_argument("--period", type=int, default=256)
    p.add_argument("--no-pin", action="store_true", help="do not pin play to CPU 0 and the hog to CPU 1")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rt-samplernn-bench")
    p.add_argument("--play-args", nargs=argparse.REMAINDER, default=[], help="more `play` flags, last")
    args = p.parse_args()

    from rt_samplernn.models import DEMO_BUNDLE

    bundle = args.bundle or (live_bundle(args.cache, args.random) if args.random else DEMO_BUNDLE)
    cpus = sorted(os.sched_getaffinity(0))
    play_cpu = None if args.no_pin or len(cpus) < 2 else cpus[0]
    hog_cpu = cpus[-1] if len(cpus) >= 2 else cpus[0]
    load = os.getloadavg()[0]
    print(
        f"bundle {bundle}, {args.voices} voice(s), JACK dummy {args.rate} Hz / {args.period}, "
        f"{args.seconds:g} s per run, load average {load:.2f} at start, {os.cpu_count()} CPUs"
    )
    print(
        f"{'hog':>10} {'latency':>8} {'underruns':>9} {'first 2 s':>9} {'host xruns':>10} {'watchdog':>8} "
        f"{'RTF min':>7} {'RTF med':>7} {'cpu':>5}"
    )
    hog_cpus: dict[str, list[int | None]] = {"none": [None], "other": [hog_cpu], "both": [None, hog_cpu]}
    for cpu in hog_cpus[args.hog]:
        with hog(cpu):
            wall, per_cpu = engine_alone(bundle, args.voices, 5.0, play_cpu)
        print(
            f"engine alone ({f'hog on CPU {cpu}' if cpu is not None else 'no hog'}): RTF {wall:.2f}x "
            f"({per_cpu:.2f}x per CPU-second), 5 s",
            flush=True,
        )
    with jack(args.rate, args.period) as server:
        hogs = hog_cpus[args.hog]
        cases = [(cpu, ms) for ms in (args.sweep or [args.latency_ms]) for cpu in hogs]
        for cpu, ms in cases:
            with hog(cpu):
                r = run_play(bundle, server, args.seconds, ms, args.voices, play_cpu, args.play_args)
            label = "none" if cpu is None else f"CPU {cpu}"
            print(
                f"{label:>10} {ms:6.0f}ms {r['underruns']:9d} {r['first_2s']:9d} {r['host_underflows']:10d} "
                f"{r['watchdog_events']:8d} {r['rtf_min']:6.2f}x {r['rtf_median']:6.2f}x {r['cpu_pct']:4.0f}%",
                flush=True,
            )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
