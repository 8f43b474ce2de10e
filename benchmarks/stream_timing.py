"""Timing of live play on a JACK dummy server: underruns and the worker's real-time factor while streaming, and
while a MIDI flood (>= 10,000 messages a second) lands in the parameters. The figures the tests used to assert.

    python benchmarks/stream_timing.py                        # the demo bundle, 2 voices, 5 s, then the flood
    python benchmarks/stream_timing.py --bundle DIR --voices 1 --seconds 10
    bash benchmarks/quiet.sh python benchmarks/stream_timing.py   # figures for RESULTS.md (training paused)

Each case runs a real `Player` (latency --latency-ms, chunk 256) on a private `jackd -d dummy` (16 kHz, block
256, paced like a sound card) and prints one table row: underruns (callbacks that found the ring short),
underrun frames, the worker's real-time factor (> 1 keeps up), and for the flood case the messages sent,
how long sending took and how many the controller received. The targets: 0 underruns, RTF > 1, the flood
sent in under 1 s with every message received.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from rt_samplernn.live.engine import Engine
from rt_samplernn.live.player import Player
from rt_samplernn.models import DEMO_BUNDLE

ROOT = Path(__file__).resolve().parent.parent


def stream(bundle: Path, voices: int, seconds: float, latency_ms: float) -> dict[str, float]:
    player = Player(Engine(bundle, voices=voices, seed=3, provider="cpu"), latency_ms=latency_ms, seconds=seconds)
    player.start()
    try:
        player.wait(seconds + 60.0)
    finally:
        player.stop()
    m = player.metrics()
    return {"underruns": m.underruns, "frames": m.underrun_frames, "rtf": m.worker_rtf}


def flood(bundle: Path, voices: int, latency_ms: float, messages: int) -> dict[str, float]:
    """The test_midi_player flood: CCs, clock, sysex and pads from a JACK MIDI port while playing."""
    from rt_samplernn.commands.midi_options import add_midi_arguments
    from tests.midi_helpers import jack_sender, start_from_args, tone

    parser = argparse.ArgumentParser()
    add_midi_arguments(parser)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")  # no saved map: the default one
        args = parser.parse_args(
            ["--midi", "virtual", "--midi-api", "jack", "--seed-slot", str(tone(Path(tmp) / "a.wav"))]
        )
        engine = Engine(bundle, voices=voices, seed=3, provider="cpu")
        player = Player(engine, device="system", latency_ms=latency_ms)
        ctl = start_from_args(args, engine, player)
        assert ctl is not None  # --midi was given
        try:
            player.start()
            time.sleep(1.0)
            before = player.metrics()
            with jack_sender("rt-samplernn") as out:
                t0 = time.monotonic()
                for k in range(messages):
                    out.send_message([0xB0, 1, k % 128] if k % 2 == 0 else [0xB0, 21 + (k % 2), (k * 7) % 128])
                sent_s = time.monotonic() - t0
                deadline = time.monotonic() + 20.0
                while ctl.messages < messages and time.monotonic() < deadline:
                    time.sleep(0.01)
            time.sleep(1.0)
            after = player.metrics()
        finally:
            ctl.close()
            player.stop()
    return {
        "underruns": after.underruns - before.underruns,
        "frames": after.underrun_frames - before.underrun_frames,
        "rtf": after.worker_rtf,
        "sent_s": sent_s,
        "received": ctl.messages,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default=str(DEMO_BUNDLE), help="the bundle to play (default: the demo)")
    p.add_argument("--voices", type=int, default=2, help="voices (default: 2)")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds of the plain streaming case (default: 5)")
    p.add_argument("--latency-ms", type=float, default=100.0, help="the ring's fill target (default: 100)")
    p.add_argument("--messages", type=int, default=12000, help="MIDI messages in the flood (default: 12000)")
    args = p.parse_args()
    bundle = Path(args.bundle)
    sys.path.insert(0, str(ROOT))  # the tests' JACK and MIDI helpers
    from tests.jack import jack_server

    print(f"{'case':<28} {'underruns':>9} {'frames':>7} {'RTF':>6} {'flood sent':>10} {'received':>9}")
    with jack_server(16000, 256):
        r = stream(bundle, args.voices, args.seconds, args.latency_ms)
        print(f"{f'stream {args.seconds:g} s':<28} {r['underruns']:>9} {r['frames']:>7} {r['rtf']:>5.2f}x")
        f = flood(bundle, args.voices, args.latency_ms, args.messages)
        case = f"MIDI flood, {args.messages} msgs"
        print(
            f"{case:<28} {f['underruns']:>9} {f['frames']:>7} {f['rtf']:>5.2f}x {f['sent_s']:>9.2f}s {f['received']:>9}"
        )


if __name__ == "__main__":
    main()
