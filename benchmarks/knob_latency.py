"""Knob-to-sound latency of `rt-samplernn play`, measured on JACK's own clock, beside the figure play shows.

    python benchmarks/knob_latency.py                                  # demo, 48 kHz, --latency-ms 20 50 100 200
    python benchmarks/knob_latency.py --rate 16000 --latency-ms 50 --trials 20
    python benchmarks/knob_latency.py --bundle my-bundle --play-args --chunk-frames 128
    python benchmarks/knob_latency.py --latency-ms 50 --via midi osc   # the gain over MIDI, then over OSC

A private `jackd -d dummy` server (paced like a sound card), `rt-samplernn play BUNDLE --midi virtual
--gain 0` in a child process, and this script as a real JACK client (libjack through ctypes): a MIDI
output connected to play's MIDI input and audio inputs connected to play's outputs. Each trial mutes
(CC 7 = 0), waits for silence, then turns the gain up (CC 7 = 127) at a known JACK frame (the first frame
of a process cycle) and finds the first frame of play's output after it that is not silent: the delay
is frames / rate, on the one clock both sides share. This client runs after play in each cycle, so the
figure leaves out the device's own output buffer; play's shown figure includes it (PortAudio's output
latency), so the table prints both the shown figure and the shown figure less the device's latency.
With ``--via osc`` play listens with ``--osc PORT`` instead, and the probe sends ``/gain 0`` and ``/gain 2``
(the range's ends, as CC 7 = 0 and 127) as UDP datagrams from its process callback, at the first frame of
a cycle as the MIDI events are: the two figures share their reference.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from play_underruns import ROOT, jack, play_child

sys.path.insert(0, str(ROOT))  # the tests' libjack binding
from tests.jack import AUDIO, IS_INPUT, IS_OUTPUT, MIDI, NO_START_SERVER, PROCESS, SERVER_NAME, load_libjack

STATUS_LATENCY = re.compile(r"latency\s+(\d+) ms")
DEVICE_LATENCY = re.compile(r"device (\d+(?:\.\d+)?) ms")


class JackProbe:
    """A JACK client with one MIDI output and two audio inputs; records every input frame by JACK frame time."""

    def __init__(self, server: str, seconds: float) -> None:
        lib = self.lib = load_libjack()
        status = ctypes.c_int(0)
        self.client = lib.jack_client_open(
            b"knob-probe", NO_START_SERVER | SERVER_NAME, ctypes.byref(status), server.encode()
        )
        if not self.client:
            raise SystemExit(f"cannot open a JACK client on {server} (status {status.value:#x})")
        self.rate = int(lib.jack_get_sample_rate(self.client))
        self.midi_out = lib.jack_port_register(self.client, b"midi_out", MIDI, IS_OUTPUT, 0)
        self.audio_in = [lib.jack_port_register(self.client, f"in_{i}".encode(), AUDIO, IS_INPUT, 0) for i in (1, 2)]
        self.recorded = np.zeros(int(seconds * self.rate), np.float32)  # frame f at f - first_frame
        self.first_frame: int | None = None
        self.pending: bytes | None = None  # a MIDI message for the next cycle
        self.pending_osc: bytes | None = None  # an OSC datagram for the next cycle, sent to osc_to
        self.osc_to: tuple[str, int] | None = None
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent_at: int | None = None  # the JACK frame it went out at
        self._process = PROCESS(self._cycle)  # kept alive: libjack calls it
        lib.jack_set_process_callback(self.client, self._process, None)
        if lib.jack_activate(self.client):
            raise SystemExit("cannot activate the JACK probe client")

    def _cycle(self, nframes: int, _arg: object) -> int:
        lib, frame = self.lib, int(self.lib.jack_last_frame_time(self.client))
        midi = lib.jack_port_get_buffer(self.midi_out, nframes)
        lib.jack_midi_clear_buffer(midi)
        msg = self.pending
        if msg is not None:
            lib.jack_midi_event_write(midi, 0, msg, len(msg))
            self.pending = None
            self.sent_at = frame
        datagram = self.pending_osc
        if datagram is not None and self.osc_to is not None:
            self._udp.sendto(datagram, self.osc_to)
            self.pending_osc = None
            self.sent_at = frame
        if self.first_frame is None:
            self.first_frame = frame
        at = frame - self.first_frame
        if at + nframes <= len(self.recorded):
            left = np.ctypeslib.as_array(
                ctypes.cast(lib.jack_port_get_buffer(self.audio_in[0], nframes), ctypes.POINTER(ctypes.c_float)),
                (nframes,),
            )
            self.recorded[at : at + nframes] = left
        return 0

    def ports(self, pattern: str, kind: bytes, flags: int) -> list[str]:
        found = self.lib.jack_get_ports(self.client, pattern.encode(), kind, flags)
        names = []
        i = 0
        while found and found[i]:
            names.append(found[i].decode())
            i += 1
        return names

    def connect(self, source: str, dest: str) -> None:
        if self.lib.jack_connect(self.client, source.encode(), dest.encode()) not in (0, 17):  # 17: EEXIST
            raise SystemExit(f"cannot connect {source} -> {dest}")

    def wire(self, play: subprocess.Popen, timeout_s: float = 60.0, midi: bool = True) -> None:
        """Connect our MIDI out to play's MIDI input (``midi``) and play's outputs to our audio inputs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and play.poll() is None:
            midi_in = [p for p in self.ports("", MIDI, IS_INPUT) if not p.startswith(("knob-probe:", "system:"))]
            outs = [p for p in self.ports("", AUDIO, IS_OUTPUT) if not p.startswith(("knob-probe:", "system:"))]
            if (midi_in or not midi) and outs:
                if midi:
                    self.connect(self.lib.jack_port_name(self.midi_out).decode(), midi_in[0])
                for out, port in zip(outs, self.audio_in):
                    self.connect(out, self.lib.jack_port_name(port).decode())
                return
            time.sleep(0.1)
        state = "still starting" if play.poll() is None else f"exited {play.returncode}"
        raise SystemExit(f"play's JACK ports did not appear (play {state})")

    def send(self, message: bytes) -> int:
        """Send at the start of the next cycle; return the JACK frame it went out at."""
        self.sent_at = None
        self.pending = message
        while self.sent_at is None:
            time.sleep(0.0005)
        return self.sent_at

    def send_osc(self, address: str, value: float) -> int:
        """Send an OSC message (one float) at the start of the next cycle; return the JACK frame it went out at."""
        builder = OscMessageBuilder(address)
        builder.add_arg(float(value), "f")
        self.sent_at = None
        self.pending_osc = builder.build().dgram
        while self.sent_at is None:
            time.sleep(0.0005)
        return self.sent_at

    def close(self) -> None:
        self.lib.jack_deactivate(self.client)
        self.lib.jack_client_close(self.client)
        self._udp.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(
    bundle: str | None, server: str, latency_ms: float, trials: int, extra: list[str], via: str = "midi"
) -> dict:
    seconds = 8.0 + trials * 1.2
    osc_port = free_udp_port()
    control = ["--midi", "virtual", "--midi-api", "jack"] if via == "midi" else ["--osc", str(osc_port)]
    cmd, env = play_child(
        server,
        [
            *([bundle] if bundle else []),
            *control,
            "--gain",
            "0",
            "--no-watchdog",
            "--latency-ms",
            str(latency_ms),
            "--seconds",
            str(seconds + 10),
            *extra,
        ],
    )
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    lines: list[str] = []
    stderr = proc.stderr
    assert stderr is not None  # stderr=PIPE
    threading.Thread(target=lambda: lines.extend(stderr), daemon=True).start()
    probe = JackProbe(server, seconds + 20)
    probe.osc_to = ("127.0.0.1", osc_port)
    delays = []

    def turn(up: bool) -> int:
        if via == "midi":
            return probe.send(bytes([0xB0, 7, 127 if up else 0]))
        return probe.send_osc("/gain", 2.0 if up else 0.0)

    try:
        try:
            probe.wire(proc, midi=via == "midi")
        except SystemExit:
            time.sleep(0.5)
            print("".join(lines[-10:]), file=sys.stderr)
            raise
        time.sleep(2.0)  # past the start
        rng = random.Random(0)
        for _ in range(trials):
            turn(False)
            time.sleep(0.35 + latency_ms / 1000.0 * 2 + rng.random() * 0.05)  # muted, at a random phase
            sent = turn(True) - (probe.first_frame or 0)
            time.sleep(0.25 + latency_ms / 1000.0 * 2)
            loud = np.flatnonzero(np.abs(probe.recorded[sent:]) > 1e-6)
            if len(loud):
                delays.append(loud[0] / probe.rate * 1000.0)
    finally:
        probe.close()
        proc.terminate()
        proc.wait(timeout=30)
    shown = [int(m.group(1)) for line in lines for m in [STATUS_LATENCY.search(line)] if m]
    device = next((float(m.group(1)) for line in lines for m in [DEVICE_LATENCY.search(line)] if m), 0.0)
    if not delays:
        raise SystemExit("no trial heard the knob:\n" + "".join(lines[-20:]))
    if proc.returncode not in (0, -15):
        print(f"note: play exited {proc.returncode}: {''.join(lines[-3:])}", file=sys.stderr)
    return {"delays": delays, "shown": statistics.median(shown[2:] or shown or [0]), "device": device}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default=None, help="bundle to play (default: the demo)")
    p.add_argument("--rate", type=int, default=48000, help="JACK server rate")
    p.add_argument("--period", type=int, default=256, help="JACK period, frames")
    p.add_argument("--latency-ms", type=float, nargs="+", default=[20, 50, 100, 200], help="settings to measure")
    p.add_argument("--trials", type=int, default=12, help="knob turns per setting")
    p.add_argument("--via", nargs="+", choices=("midi", "osc"), default=["midi"], help="how the knob is turned")
    p.add_argument("--play-args", nargs=argparse.REMAINDER, default=[], help="more `play` flags, last")
    args = p.parse_args()
    print(
        f"JACK dummy {args.rate} Hz / {args.period}, {args.trials} knob turns per setting, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(f"{'via':>4} {'setting':>8} {'measured p50':>12} {'p10-p90':>13} {'shown':>6} {'shown - device':>14}")
    with jack(args.rate, args.period) as server:
        for ms in args.latency_ms:
            for via in args.via:
                r = measure(args.bundle, server, ms, args.trials, args.play_args, via)
                d = np.array(r["delays"])
                lo, hi = np.percentile(d, [10, 90])
                print(
                    f"{via:>4} {ms:6.0f}ms {np.median(d):10.1f}ms {lo:6.1f}-{hi:5.1f}ms {r['shown']:4.0f}ms "
                    f"{r['shown'] - r['device']:12.1f}ms",
                    flush=True,
                )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
