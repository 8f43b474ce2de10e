"""Underruns of the performance window's stream while the window is left alone and while it is being used.

    python benchmarks/gui_underruns.py                              # the demo bundle, 10 s idle, 10 s in use
    python benchmarks/gui_underruns.py --seconds 30 --voices 2 --latency-ms 100
    python benchmarks/gui_underruns.py --bundle my-bundle

The window runs offscreen in this process (Qt in the main thread, as on stage) and plays to a private
`jackd -d dummy` (16 kHz, block 256, paced like a sound card). "idle": the window only polls its meters
and scope. "in use": every 25 ms a key turns one of the dials (the write a MIDI knob makes), and every
20 events the scope switches mode, a seed pad lights up and the whole window repaints (`grab()`). Per
run: widget events, underruns (callbacks that found the ring short), host underflows, the worker's
real-time factor and the process's CPU use, read from the session's meters.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from play_underruns import jack


def run(window, seconds: float, busy: bool) -> dict:
    from PyQt6.QtCore import Qt
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    player = window.session.player
    start = player.metrics()
    keys = [Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Up, Qt.Key.Key_Down]
    dials = [d.dial for d in window.voices.dials.values()]
    cpu0, wall0 = time.process_time(), time.monotonic()
    end, events = wall0 + seconds, 0
    while time.monotonic() < end:
        if busy:
            key = keys[events % len(keys)]
            QTest.keyClick(dials[events % len(dials)], key)  # type: ignore[call-overload]  # static; the stub says not
            if events % 20 == 0:
                window.scope.set_mode("spectrum" if window.scope.mode == "scope" else "scope")
                window.seeds.slots[0].set_active(events % 40 == 0)
                window.grab()
            events += 1
        deadline = time.monotonic() + 0.025
        while time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.002)
    m = player.metrics()
    return {
        "events": events,
        "underruns": m.underruns - start.underruns,
        "host": m.output_underflows - start.output_underflows,
        "rtf": m.worker_rtf,
        "cpu": (time.process_time() - cpu0) / (time.monotonic() - wall0),
        "played": m.seconds_played,
    }


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from rt_samplernn.live.player import DEFAULT_LATENCY_MS
    from rt_samplernn.models import DEMO_BUNDLE

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=DEMO_BUNDLE, help="bundle to play (default: the demo)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per run")
    p.add_argument("--latency-ms", type=float, default=DEFAULT_LATENCY_MS, help="the window's latency setting")
    p.add_argument("--voices", type=int, default=1)
    args = p.parse_args()

    import tempfile

    from rt_samplernn.gui.app import create_window
    from rt_samplernn.gui.session import LiveSession
    from rt_samplernn.gui.settings import open_settings

    print(
        f"bundle {args.bundle}, {args.voices} voice(s), latency setting {args.latency_ms:g} ms, JACK dummy "
        f"16000 Hz / 256, {args.seconds:g} s per run, load average {os.getloadavg()[0]:.2f} at start"
    )
    print(f"{'window':>8} {'events':>7} {'underruns':>9} {'host xruns':>10} {'RTF':>6} {'CPU (cores)':>11}")
    with jack(16000, 256) as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["JACK_DEFAULT_SERVER"] = server
        os.environ["XDG_CONFIG_HOME"] = tmp
        import sounddevice

        sounddevice._terminate()  # rescan: the server was started after sounddevice was imported
        sounddevice._initialize()
        window = create_window(
            args.bundle,
            open_settings(Path(tmp) / "gui.ini"),
            session=LiveSession(provider="cpu"),
            voices=args.voices,
            use_default=False,
        )
        try:
            if not window.transport.select_device("system"):
                raise SystemExit(window.last_error)
            window.transport.latency_spin.setValue(int(args.latency_ms))
            window.transport.toggle_running(True)
            if not window.session.running:
                raise SystemExit(window.last_error)
            for busy in (False, True):
                r = run(window, args.seconds, busy)
                print(
                    f"{'in use' if busy else 'idle':>8} {r['events']:7d} {r['underruns']:9d} {r['host']:10d} "
                    f"{r['rtf']:5.2f}x {r['cpu']:11.2f}",
                    flush=True,
                )
        finally:
            window.close()
            sounddevice._terminate()  # before jackd goes, or PortAudio aborts at exit
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
