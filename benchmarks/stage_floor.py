"""Issue 20's floor: underruns of `rt-samplernn play` with 100 bookmark recalls and 10 hot-swaps, against the same
run without them, on a JACK dummy server; then the knob-to-sound latency over OSC beside MIDI's.

    python benchmarks/stage_floor.py                        # the demo, 48 kHz, 60 s per run, 100 recalls, 10 swaps
    python benchmarks/stage_floor.py --seconds 20           # shorter runs: the same 100 recalls and 10 swaps, denser
    python benchmarks/stage_floor.py --bundle my-bundle --hog other --latency-trials 12

Each run is the real command, `rt-samplernn play BUNDLE --osc PORT --seconds S --latency-ms 50`, in a child
process pinned to CPU 0 against a private `jackd -d dummy` (48 kHz, period 256: paced like a sound card).
"plain" sends nothing. "stage" sends, from a real OSC client on this machine: `/bookmark/save 1` after 2 s,
then `/bookmark/recall 1` 100 times and `/bundle` 10 times, spread evenly over the rest of the run (the
swaps alternate between a copy of the bundle and the bundle itself, so each one loads, checks and
crossfades a whole model while the audio goes on). The table: underruns and host underflows from play's
summary, the worst block time play printed, the OSC messages play counted, and the hot-swaps it reported.
``--hog other`` adds a busy loop on CPU 1 (the issue's "one other core busy"). Then benchmarks/knob_latency.py
measures the gain knob's sound latency over MIDI and over OSC at the same fill target (skip: --latency-trials 0).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from pythonosc.udp_client import SimpleUDPClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from knob_latency import free_udp_port, measure
from play_underruns import ROOT, hog, jack

SUMMARY = re.compile(r"underruns (\d+), host underflows (\d+)")
OSC_COUNTS = re.compile(r"OSC (\d+) ok, (\d+) ignored")
WORST = re.compile(r"block p50/p99/worst [\d.]+/[\d.]+/([\d.]+) of")


def run(bundle: Path, other: Path, server: str, seconds: float, recalls: int, swaps: int, cpu: int | None) -> dict:
    port = free_udp_port()
    env = dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER="1")
    cmd = [sys.executable, "-m", "rt_samplernn", "play", str(bundle), "--osc", str(port)]
    cmd += ["--seconds", str(seconds), "--latency-ms", "50", "--provider", "cpu"]
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT, preexec_fn=pin
    )
    assert proc.stderr is not None
    lines: list[str] = []
    first = proc.stderr.readline()  # "OSC: listening on ...": the socket is open
    lines.append(first)
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    sent = 0
    if "OSC: listening" in first and (recalls or swaps):
        client = SimpleUDPClient("127.0.0.1", port)
        t0 = time.monotonic()
        time.sleep(2.0)
        client.send_message("/bookmark/save", 1)
        events = [(t, "recall") for t in np.linspace(3.0, seconds - 2.0, recalls)]
        events += [(t, "swap") for t in np.linspace(3.5, seconds - 3.0, swaps)]
        for at, what in sorted(events):
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if what == "recall":
                client.send_message("/bookmark/recall", 1)
            else:
                client.send_message("/bundle", str(other if sent % 2 == 0 else bundle))
                sent += 1
    proc.wait(timeout=seconds + 120)
    reader.join(timeout=5)
    text = "".join(lines)
    s = SUMMARY.search(text)
    if proc.returncode != 0 or s is None:
        raise SystemExit(f"play failed (rc {proc.returncode}):\n{text[-3000:]}")
    osc = OSC_COUNTS.findall(text)
    worst = [float(w) for w in WORST.findall(text)]
    return {
        "underruns": int(s.group(1)),
        "host_underflows": int(s.group(2)),
        "worst_block_ms": max(worst or [0.0]),
        "osc_ok": int(osc[-1][0]) if osc else 0,
        "osc_ignored": int(osc[-1][1]) if osc else 0,
        "swapped": text.count("now playing"),
        "swap_failed": text.count("not swapped in"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=None, help="bundle to play (default: the demo)")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds played per run (shorten: e.g. 20)")
    p.add_argument("--recalls", type=int, default=100, help="bookmark recalls in the stage run")
    p.add_argument("--swaps", type=int, default=10, help="hot-swaps in the stage run")
    p.add_argument("--hog", choices=("none", "other"), default="none", help="a busy loop on the other core")
    p.add_argument("--rate", type=int, default=48000, help="JACK server rate")
    p.add_argument("--latency-trials", type=int, default=8, help="knob turns per latency row (0: skip them)")
    args = p.parse_args()
    from rt_samplernn.models import DEMO_BUNDLE

    bundle = (args.bundle or DEMO_BUNDLE).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / f"{bundle.name}-copy"
        shutil.copytree(bundle, other)
        print(
            f"{bundle.name}, JACK dummy {args.rate} Hz / 256, {args.seconds:g} s per run, latency 50 ms, "
            f"hog {args.hog}, load average {os.getloadavg()[0]:.2f} at start"
        )
        print(f"{'run':<34} {'underruns':>9} {'host':>5} {'worst block':>11} {'OSC ok/ignored':>14} {'swapped':>8}")
        with jack(args.rate, 256) as server, hog(1 if args.hog == "other" else None):
            for name, recalls, swaps in (
                ("plain", 0, 0),
                (f"stage: {args.recalls} recalls, {args.swaps} hot-swaps", args.recalls, args.swaps),
            ):
                r = run(bundle, other, server, args.seconds, recalls, swaps, 0)
                swapped = f"{r['swapped']}/{swaps}" + (f" ({r['swap_failed']} failed)" if r["swap_failed"] else "")
                print(
                    f"{name:<34} {r['underruns']:>9} {r['host_underflows']:>5} {r['worst_block_ms']:>9.1f}ms "
                    f"{r['osc_ok']:>7}/{r['osc_ignored']:<6} {swapped:>8}",
                    flush=True,
                )
            if args.latency_trials:
                print(f"\n{'knob (gain) via':<16} {'measured p50':>12} {'p10-p90':>13} {'shown':>6}")
                for via in ("midi", "osc"):
                    m = measure(str(bundle), server, 50.0, args.latency_trials, [], via)
                    d = np.array(m["delays"])
                    lo, hi = np.percentile(d, [10, 90])
                    print(f"{via:<16} {np.median(d):10.1f}ms {lo:6.1f}-{hi:5.1f}ms {m['shown']:4.0f}ms", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
