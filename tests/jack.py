"""A real JACK server with the dummy driver for tests: paced like a sound card, no hardware needed."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import numpy as np


def jack_available() -> bool:
    return shutil.which("jackd") is not None and shutil.which("jack_wait") is not None


def _rescan_portaudio() -> None:
    """sounddevice scans devices once at import; rescan so it sees the server just started."""
    import sounddevice

    sounddevice._terminate()
    sounddevice._initialize()


def start_jackd(name: str, rate: int, period: int, wait_s: int = 10, check: bool = True) -> subprocess.Popen:
    """`jackd -d dummy` under `name`, returned once it accepts clients."""
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen(
        ["jackd", "-n", name, "-d", "dummy", "-r", str(rate), "-p", str(period)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        subprocess.run(["jack_wait", "-s", name, "-w", "-t", str(wait_s)], check=check, capture_output=True, env=env)
    except BaseException:
        stop_jackd(proc)
        raise
    return proc


def stop_jackd(proc: subprocess.Popen) -> None:
    """SIGTERM (a SIGKILLed jackd keeps its slot in JACK's 8-server registry), SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def jack_server(rate: int = 16000, period: int = 256) -> Iterator[str]:
    """Start `jackd -d dummy` under a unique name, point clients at it, and stop it cleanly afterwards."""
    name = f"rtsrnn-{uuid.uuid4().hex[:8]}"
    proc = start_jackd(name, rate, period)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    try:
        os.environ["JACK_DEFAULT_SERVER"] = name
        _rescan_portaudio()
        yield name
    finally:
        import sounddevice

        sounddevice._terminate()  # before jackd goes, or PortAudio aborts at exit
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        stop_jackd(proc)
        time.sleep(0.2)
        sounddevice._initialize()


PROCESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p)  # a client's process callback
AUDIO, MIDI = b"32 bit float mono audio", b"8 bit raw midi"  # JACK's port types
IS_INPUT, IS_OUTPUT = 0x1, 0x2  # port flags
NO_START_SERVER, SERVER_NAME = 0x01, 0x04  # jack_client_open options


def load_libjack() -> ctypes.CDLL:
    """libjack through ctypes, with the signatures of the calls our test and benchmark clients make."""
    lib = ctypes.CDLL("libjack.so.0")
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_char_p]
    lib.jack_set_process_callback.argtypes = [ctypes.c_void_p, PROCESS, ctypes.c_void_p]
    lib.jack_port_register.restype = ctypes.c_void_p
    lib.jack_port_register.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    lib.jack_port_get_buffer.restype = ctypes.c_void_p
    lib.jack_port_get_buffer.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.jack_port_name.restype = ctypes.c_char_p
    lib.jack_port_name.argtypes = [ctypes.c_void_p]
    lib.jack_get_ports.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.jack_get_ports.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
    lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.jack_get_sample_rate.argtypes = [ctypes.c_void_p]
    lib.jack_midi_clear_buffer.argtypes = [ctypes.c_void_p]
    lib.jack_midi_event_write.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
    lib.jack_last_frame_time.restype = ctypes.c_uint32
    lib.jack_last_frame_time.argtypes = [ctypes.c_void_p]
    for fn in ("jack_activate", "jack_deactivate", "jack_client_close"):
        getattr(lib, fn).argtypes = [ctypes.c_void_p]
    return lib


class _JackClient:
    """A libjack client opened through ctypes (``lib``, ``client``): closed once, usable with `with`."""

    lib: Any
    client: Any

    def _open(self, server: str, name: str) -> None:
        """Open client ``name`` on JACK server ``server`` (never starting one); its sample rate as ``rate``."""
        self._ctypes = ctypes
        self.lib = load_libjack()
        status = ctypes.c_int(0)
        self.client = self.lib.jack_client_open(
            name.encode(), NO_START_SERVER | SERVER_NAME, ctypes.byref(status), server.encode()
        )
        if not self.client:
            raise RuntimeError(f"cannot open a JACK client on {server} (status {status.value:#x})")
        self.rate = int(self.lib.jack_get_sample_rate(self.client))

    def close(self) -> None:
        if self.client:
            self.lib.jack_deactivate(self.client)
            self.lib.jack_client_close(self.client)
            self.client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JackClipPlayer(_JackClient):
    """A real JACK client (libjack through ctypes) that plays a mono clip, once, out of its port ``out``.

    The clip is at the server's rate; `connect` wires ``out`` to other clients' input ports; `play` starts it at
    the next period and `wait` returns once it has all gone out (zeros after). Closed with `close` (or `with`).
    """

    def __init__(self, server: str, clip: np.ndarray, name: str = "clip-player") -> None:
        self._open(server, name)
        lib = self.lib
        self.port = lib.jack_port_register(self.client, b"out", AUDIO, IS_OUTPUT, 0)
        self.clip = np.ascontiguousarray(clip, np.float32)
        self.position = -1  # -1: not playing yet; then frames sent
        self.finished = threading.Event()
        self._process = PROCESS(self._cycle)  # kept alive: libjack calls it
        lib.jack_set_process_callback(self.client, self._process, None)
        if lib.jack_activate(self.client):
            raise RuntimeError("cannot activate the JACK clip player")

    def _cycle(self, nframes: int, _arg: object) -> int:
        ctypes = self._ctypes
        buf = np.ctypeslib.as_array(
            ctypes.cast(self.lib.jack_port_get_buffer(self.port, nframes), ctypes.POINTER(ctypes.c_float)), (nframes,)
        )
        buf[:] = 0.0
        at = self.position
        if at >= 0:
            part = self.clip[at : at + nframes]
            buf[: len(part)] = part
            self.position = at + nframes
            if self.position >= len(self.clip):
                self.finished.set()
        return 0

    def ports(self, pattern: str, flags: int) -> list[str]:
        """JACK audio ports whose names match the regular expression ``pattern`` (flags: 1 inputs, 2 outputs)."""
        found = self.lib.jack_get_ports(self.client, pattern.encode(), AUDIO, flags)
        names: list[str] = []
        while found and found[len(names)]:
            names.append(found[len(names)].decode())
        return names

    def connect(self, dest: str) -> None:
        source = self.lib.jack_port_name(self.port)
        if self.lib.jack_connect(self.client, source, dest.encode()) not in (0, 17):  # 17: EEXIST
            raise RuntimeError(f"cannot connect {source.decode()} -> {dest}")

    def play(self) -> None:
        self.position = 0

    def wait(self, timeout_s: float) -> bool:
        return self.finished.wait(timeout_s)


class JackClockSender(_JackClient):
    """A real JACK client (libjack through ctypes) sending MIDI clock: one MIDI output ``out_<BPM>`` per tempo.

    Each port sends a start (0xFA) at its first cycle, then 24 clock pulses (0xF8) a beat, every pulse at its
    exact frame inside the cycle (sample-accurate, as a DAW sends). ``pulses[bpm]``: pulses sent so far.
    """

    def __init__(self, server: str, bpms: tuple[float, ...], name: str = "clock-sender") -> None:
        self._open(server, name)
        lib = self.lib
        self.bpms = tuple(bpms)
        self.ports = [lib.jack_port_register(self.client, self.port_name(b).encode(), MIDI, IS_OUTPUT, 0) for b in bpms]
        self.pulses = {b: 0 for b in bpms}
        self.sending = threading.Event()  # set: the next cycle starts the clocks (start, then pulses)
        self._first: int | None = None  # the JACK frame of the start
        self._process = PROCESS(self._cycle)  # kept alive: libjack calls it
        lib.jack_set_process_callback(self.client, self._process, None)
        if lib.jack_activate(self.client):
            raise RuntimeError("cannot activate the JACK clock sender")

    @staticmethod
    def port_name(bpm: float) -> str:
        return f"out_{bpm:g}"

    def _cycle(self, nframes: int, _arg: object) -> int:
        lib = self.lib
        frame = int(lib.jack_last_frame_time(self.client))
        for bpm, port in zip(self.bpms, self.ports):
            buf = lib.jack_port_get_buffer(port, nframes)
            lib.jack_midi_clear_buffer(buf)
            if not self.sending.is_set():
                continue
            if self._first is None or frame == self._first:
                self._first = frame
                lib.jack_midi_event_write(buf, 0, b"\xfa", 1)
            per_pulse = self.rate * 60.0 / (bpm * 24)
            while True:
                at = self._first + round(self.pulses[bpm] * per_pulse) - frame
                if at >= nframes:
                    break
                lib.jack_midi_event_write(buf, max(at, 0), b"\xf8", 1)
                self.pulses[bpm] += 1
        return 0
