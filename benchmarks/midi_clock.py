"""MIDI clock following over real JACK MIDI: the tempo shown after 4 s of another program's clock, per BPM.

    python benchmarks/midi_clock.py                                   # 90, 120, 174 BPM at 48 kHz, period 256
    python benchmarks/midi_clock.py --rate 16000 --period 1024 --bpm 60 90 120 140 174 200
    python benchmarks/midi_clock.py --seconds 2 --trials 5            # how soon, and how steady over trials

A private `jackd -d dummy` server (paced like a sound card), a JACK client sending sample-accurate MIDI clock
(tests/jack.py's JackClockSender: a start, then 24 pulses a beat, one output per tempo, all at once) and, per
tempo, the MidiController `play --midi-clock PORT` opens, following into a Tempo. rtmidi's JACK input stamps a
message with the time of the process cycle it is read in, so the period is the timestamps' grain: the table
says what that costs. The floor (issue 27): within 0.5 BPM in 4 s at 90, 120 and 174 BPM.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' libjack binding and server helpers
from rt_samplernn.live.midi import MidiController, MidiMap
from rt_samplernn.live.params import Parameters
from rt_samplernn.live.tempo import Tempo
from tests.jack import JackClockSender, start_jackd, stop_jackd

FLOOR_BPM = 0.5


def trial(server: str, bpms: list[float], seconds: float) -> dict[float, float | None]:
    """One run: every tempo's clock at once for ``seconds``; the tempo shown for each (None: not following)."""
    followers: list[MidiController] = []
    with JackClockSender(server, tuple(bpms)) as sender:
        try:
            for bpm in bpms:
                ctl = MidiController(Parameters(), MidiMap())
                ctl.tempo = Tempo(100.0)
                ctl.open(f"clock-sender:{sender.port_name(bpm)}", api="jack")
                followers.append(ctl)
            sender.sending.set()
            while not sender.pulses[bpms[0]]:
                time.sleep(0.001)
            time.sleep(seconds)
            return {bpm: (c.tempo.bpm if c.tempo and c.tempo.following else None) for bpm, c in zip(bpms, followers)}
        finally:
            for ctl in followers:
                ctl.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bpm", type=float, nargs="+", default=[90.0, 120.0, 174.0])
    p.add_argument("--rate", type=int, default=48000, help="the JACK server's sample rate")
    p.add_argument("--period", type=int, default=256, help="the JACK server's period (frames)")
    p.add_argument("--seconds", type=float, default=4.0, help="clock sent before the tempo is read")
    p.add_argument("--trials", type=int, default=3)
    args = p.parse_args()
    name = f"rtsrnn-clock-{uuid.uuid4().hex[:6]}"
    proc = start_jackd(name, args.rate, args.period)
    os.environ["JACK_DEFAULT_SERVER"] = name  # where rtmidi's JACK clients go
    try:
        runs = [trial(name, args.bpm, args.seconds) for _ in range(args.trials)]
    finally:
        stop_jackd(proc)
    grain = args.period / args.rate * 1000
    print(
        f"JACK dummy {args.rate} Hz, period {args.period} ({grain:.1f} ms), {args.seconds:g} s of clock, "
        f"{args.trials} trial(s)"
    )
    print(f"{'BPM asked':>10} {'BPM shown':>24} {'worst error':>12}  within {FLOOR_BPM} BPM")
    for bpm in args.bpm:
        shown = [r[bpm] for r in runs]
        got = [s for s in shown if s is not None]
        worst = max((abs(s - bpm) for s in got), default=float("inf")) if len(got) == len(shown) else float("inf")
        text = " / ".join("--" if s is None else f"{s:.2f}" for s in shown)
        print(f"{bpm:10.1f} {text:>24} {worst:12.3f}  {'yes' if worst <= FLOOR_BPM else 'NO'}")


if __name__ == "__main__":
    main()
