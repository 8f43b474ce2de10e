"""Small real producers for the streaming tests, a tiny exported bundle, and a private JACK server.

The producers follow rt_samplernn.live.producer.Producer and really generate audio; ``cost_s`` makes each call take that long (sleeping, so the 2-core test machine is not
burned), to stand in for a model slower than real time.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tests.jack import start_jackd, stop_jackd

_BUNDLES: dict[str, Path] = {}


class Source:
    """What the test sources share of the `Producer` protocol (rt_samplernn/live/producer.py): an output gain
    the player applies (``generate(n, apply_gain=False)``), no temperature, no training statistics, and
    `prime`/`reset` that only restart; subclasses make the audio in `make(n)`."""

    seed = 0
    audio_stats: dict[str, Any] | None = None

    def __init__(self, sample_rate: int, voices: int, gain: float = 1.0) -> None:
        self.sample_rate = sample_rate
        self.voices = voices
        self.gain = gain
        self.temperatures = np.ones(voices, np.float32)
        self.min_p = np.zeros(voices, np.float32)
        self.frames = 0

    def make(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def generate(self, n: int, out: np.ndarray | None = None, apply_gain: bool = True) -> np.ndarray:
        audio = self.make(n)
        if apply_gain and self.gain != 1.0:
            audio *= np.float32(self.gain)
        return audio

    def prime(self, audio: Any, rate: int | None = None, seed: int | None = None, progress: Any = None) -> None:
        self.frames = 0

    def reset(self, seed: int | None = None) -> None:
        self.frames = 0


class Tone(Source):
    """Sine tones, one frequency per voice (440, 660, 880 Hz, ...), continuous across calls."""

    def __init__(
        self,
        sample_rate: int = 16000,
        voices: int = 1,
        amplitude: float = 0.3,
        cost_s: float = 0.0,
        base_hz: float = 440.0,
    ) -> None:
        super().__init__(sample_rate, voices)
        self.amplitude = amplitude
        self.cost_s = cost_s
        self.freqs = base_hz * (1.0 + 0.5 * np.arange(voices))
        self.calls = 0

    def make(self, n: int) -> np.ndarray:
        if self.cost_s:
            time.sleep(self.cost_s)
        t = (self.frames + np.arange(n)) / self.sample_rate
        self.frames += n
        self.calls += 1
        return (self.amplitude * np.sin(2 * np.pi * self.freqs[:, None] * t[None, :])).astype(np.float32)


class Collapsing(Tone):
    """A tone that collapses into a constant level after ``collapse_after_frames`` (or on `collapse`),
    and comes back when primed or reset, the way the engine's `prime`/`reset` bring a model back."""

    def __init__(self, *args: Any, collapse_after_frames: int | None = None, level: float = 0.25, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.collapse_after_frames = collapse_after_frames
        self.level = level
        self.collapsed = False
        self.primes: list[tuple[int, int | None]] = []  # (seed frames, noise seed)
        self.resets: list[int | None] = []
        self._lock = threading.Lock()

    def collapse(self) -> None:
        self.collapsed = True

    def make(self, n: int) -> np.ndarray:
        out = super().make(n)
        if self.collapse_after_frames is not None and self.frames >= self.collapse_after_frames:
            self.collapse_after_frames = None
            self.collapsed = True
        if self.collapsed:
            out[:] = self.level  # a stuck level: silent to the ear (and to the watchdog)
        return out

    def prime(self, audio: Any, rate: int | None = None, seed: int | None = None, progress: Any = None) -> None:
        with self._lock:
            self.primes.append((len(audio), seed))
            self.collapsed = False

    def reset(self, seed: int | None = None) -> None:
        with self._lock:
            self.resets.append(seed)
            self.collapsed = False


class Recording(Source):
    """Plays a recorded clip over and over (one voice), with an output gain."""

    def __init__(self, clip: np.ndarray, sample_rate: int = 16000, gain: float = 1.0) -> None:
        super().__init__(sample_rate, 1, gain)
        self.clip = np.asarray(clip, np.float32)

    def make(self, n: int) -> np.ndarray:
        idx = (self.frames + np.arange(n)) % len(self.clip)
        self.frames += n
        return self.clip[idx][None, :].copy()


def tiny_bundle(root: Path) -> Path:
    """A tiny 3-tier bundle exported from a seeded untrained model (built once per test session)."""
    if "tiny" in _BUNDLES:
        return _BUNDLES["tiny"]
    import torch

    from rt_samplernn.config import ModelConfig
    from rt_samplernn.export.onnx_export import export_bundle
    from rt_samplernn.model import SampleRNN

    torch.manual_seed(0)
    model = SampleRNN(ModelConfig(frame_sizes=(16, 64), dim=24, sample_dim=16, emb_size=8))
    out = root / "tiny-bundle"
    export_bundle(model, out)
    _BUNDLES["tiny"] = out
    return out


@contextmanager
def private_jack(rate: int = 16000, period: int = 256) -> Iterator[tuple[str, subprocess.Popen]]:
    """A JACK dummy server that this (pytest) process never connects to: for tests that kill it.

    PortAudio in a process whose server died can hang or abort, so only subprocesses use this one.
    Yields (name, process); clients need JACK_DEFAULT_SERVER=name in their environment. Stop it with
    SIGTERM (``proc.terminate()``): a SIGKILLed jackd leaves its slot in JACK's server registry (8 slots
    per machine, then "Too many servers already active"), so that case is cleaned up here.
    """
    name = f"rtsrnn-priv-{uuid.uuid4().hex[:8]}"
    proc = start_jackd(name, rate, period)
    try:
        yield name, proc
    finally:
        stop_jackd(proc)
        if proc.returncode == -signal.SIGKILL:
            _reclaim(name)


def stop_server_under(proc: subprocess.Popen, jackd: subprocess.Popen) -> tuple:
    """Stop the JACK server while `proc` is playing on it; return proc's (stdout, stderr) once it exits.

    The server goes with SIGTERM (SIGKILL would leak its registry slot); `proc` must then exit by itself
    within 30 s (never a hang), else it is killed and the test fails on the timeout.
    """
    try:
        time.sleep(0.5)
        jackd.terminate()
        jackd.wait()
        return proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _reclaim(name: str) -> None:
    """Free a killed server's registry slot: a server of the same name takes it over, then exits cleanly."""
    stop_jackd(start_jackd(name, 16000, 256, wait_s=5, check=False))


def dominant_hz(audio: np.ndarray, sample_rate: int) -> float:
    """The strongest frequency of a mono clip (Hann window, bin resolution)."""
    x = audio - audio.mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sample_rate / len(x))
