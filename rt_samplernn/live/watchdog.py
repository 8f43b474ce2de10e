"""A watchdog for long SampleRNN runs: detects collapse into silence and blow-up into noise, and re-primes.

SampleRNN left running for minutes can fall into a fixed point (silence, or a constant level, which
sounds the same) or diverge into loud broadband noise. `Watchdog` looks at the generated audio of every
voice over a sliding window and reports an `Event` when

* **silence**: the window's AC RMS (the mean is removed, so a stuck DC level counts as silence) stays under
  ``silence_db`` dBFS for ``silence_ms``;
* **noise**: over ``noise_ms`` the RMS is above ``noise_db`` dBFS and the audio is noise-like: the mean
  spectral flatness (geometric over arithmetic mean of the Hann-windowed power spectrum; ~0.5 for white
  noise, well under 0.2 for music) is above ``noise_flatness``, or the mean zero-crossing rate (crossings
  per sample; 0.5 for white noise) is above ``noise_zcr``.

`Reprimer` recovers: it re-primes the producer from the current seed (``producer.prime(audio, rate, seed)``)
or, with no seed, resets it (``producer.reset(seed)``), each time with a fresh noise seed, so a recovery
does not replay the same collapse. Priming
runs the frame tiers over the whole seed, which can take longer than the ring buffer holds, so it runs
on its own short-lived thread, never on the streaming worker; the engine swaps the new state in before
its next generated block.

Pure NumPy; the streaming `Player` (rt_samplernn/live/player.py) wires the two together:

    wd = Watchdog(sample_rate=16000, voices=2)          # WatchdogConfig() thresholds
    event = wd.process(audio)                            # audio: (voices, n) float32; Event or None
    rp = Reprimer(engine); rp.seed = (clip, 44100)
    if event: rp.request()                               # returns at once; rp.busy while it works
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

SILENCE = "silence"
NOISE = "noise"


@dataclass(frozen=True)
class WatchdogConfig:
    """Thresholds of the watchdog. Levels in dBFS (0 dB = full scale sine peak 1.0), times in ms."""

    silence_db: float = -55.0  # AC RMS under this counts as silence
    silence_ms: float = 3000.0  # for this long
    noise_db: float = -20.0  # noise must be at least this loud to count as a blow-up
    noise_flatness: float = 0.45  # mean spectral flatness above this is noise-like
    noise_zcr: float = 0.40  # or mean zero crossings per sample above this
    noise_ms: float = 2000.0  # over this long
    noise_fraction: float = 0.8  # share of the window's blocks that must be loud and noise-like
    block_frames: int = 512  # analysis block, samples at the model rate (also the FFT size)

    def __post_init__(self) -> None:
        if self.silence_ms <= 0 or self.noise_ms <= 0 or self.block_frames < 16:
            raise ValueError("watchdog: silence_ms and noise_ms must be positive and block_frames >= 16")


@dataclass(frozen=True)
class Event:
    """One detection: what, which voice, and the window's measurements."""

    kind: str  # SILENCE or NOISE
    voice: int
    rms_db: float
    flatness: float
    zcr: float
    at_seconds: float  # generated audio seconds since the watchdog started


def _db(power: float) -> float:
    return 10.0 * math.log10(max(power, 1e-20))


class Watchdog:
    """Sliding-window detector over ``voices`` streams at ``sample_rate`` Hz.

    `process` is called from one thread (the streaming worker). ``enabled`` may be flipped from any
    thread; while off, `process` only forgets its history. Counters (read from any thread):
    ``events``, ``silence_events``, ``noise_events``, ``last_event``.
    """

    def __init__(self, sample_rate: int, voices: int = 1, config: WatchdogConfig | None = None) -> None:
        self.config = config or WatchdogConfig()
        self.sample_rate = int(sample_rate)
        self.voices = int(voices)
        cfg = self.config
        block_s = cfg.block_frames / self.sample_rate
        self.silence_blocks = max(1, math.ceil(cfg.silence_ms / 1000.0 / block_s))
        self.noise_blocks = max(1, math.ceil(cfg.noise_ms / 1000.0 / block_s))
        self._history = max(self.silence_blocks, self.noise_blocks)
        # per analysis block and voice: AC power, spectral flatness, zero-crossing rate
        self._power = np.zeros((self._history, self.voices), np.float64)
        self._flatness = np.zeros((self._history, self.voices), np.float64)
        self._zcr = np.zeros((self._history, self.voices), np.float64)
        self._blocks = 0  # analysis blocks done since the last reset
        self._pending = np.zeros((self.voices, cfg.block_frames), np.float32)
        self._pending_frames = 0
        self._window = np.hanning(cfg.block_frames).astype(np.float32)
        self._silence_power = 10.0 ** (cfg.silence_db / 10.0)
        self._noise_power = 10.0 ** (cfg.noise_db / 10.0)
        self._frames_seen = 0
        self.enabled = True
        self.events = 0
        self.silence_events = 0
        self.noise_events = 0
        self.last_event: Event | None = None

    def reset(self) -> None:
        """Forget the window (after a recovery, or when switched back on): the next verdict needs a full window."""
        self._blocks = 0
        self._pending_frames = 0

    def process(self, audio: np.ndarray) -> Event | None:
        """Feed (voices, n) generated audio; return an `Event` when a window has just gone bad, else None.

        After an event the window starts over, so one collapse gives one event per window length.
        """
        if not self.enabled:
            if self._blocks or self._pending_frames:
                self.reset()
            return None
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[None, :]
        block = self.config.block_frames
        found: Event | None = None
        pos, n = 0, audio.shape[1]
        while pos < n:
            take = min(block - self._pending_frames, n - pos)
            self._pending[:, self._pending_frames:self._pending_frames + take] = audio[:, pos:pos + take]
            self._pending_frames += take
            pos += take
            self._frames_seen += take
            if self._pending_frames == block:
                self._pending_frames = 0
                self._analyse(self._pending)
                event = self._verdict()
                if event is not None:
                    found = event
                    self.reset()
                    break  # the rest of this chunk is from before the recovery anyway
        return found

    def _analyse(self, x: np.ndarray) -> None:
        row = self._blocks % self._history
        ac = x - x.mean(axis=1, keepdims=True)
        self._power[row] = np.mean(ac.astype(np.float64) ** 2, axis=1)
        signs = np.signbit(ac)
        self._zcr[row] = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
        spec = np.abs(np.fft.rfft(ac * self._window, axis=1)[:, 1:]) ** 2 + 1e-12  # no DC bin
        self._flatness[row] = np.exp(np.mean(np.log(spec), axis=1)) / np.mean(spec, axis=1)
        self._blocks += 1

    def _rows(self, blocks: int) -> list[int]:
        return [(self._blocks - 1 - i) % self._history for i in range(blocks)]

    def _window_mean(self, values: np.ndarray, blocks: int) -> np.ndarray:
        return values[self._rows(blocks)].mean(axis=0)

    def _verdict(self) -> Event | None:
        cfg = self.config
        at = self._frames_seen / self.sample_rate
        if self._blocks >= self.silence_blocks:
            power = self._window_mean(self._power, self.silence_blocks)
            for v in range(self.voices):
                if power[v] < self._silence_power:
                    return self._count(Event(SILENCE, v, _db(power[v]), 0.0, 0.0, at))
        if self._blocks >= self.noise_blocks:
            rows = self._rows(self.noise_blocks)
            power, flat, zcr = self._power[rows], self._flatness[rows], self._zcr[rows]
            noisy = (power > self._noise_power) & ((flat > cfg.noise_flatness) | (zcr > cfg.noise_zcr))
            share = noisy.mean(axis=0)
            for v in range(self.voices):
                if share[v] >= cfg.noise_fraction:
                    return self._count(Event(NOISE, v, _db(float(power[:, v].mean())), float(flat[:, v].mean()),
                                             float(zcr[:, v].mean()), at))
        return None

    def _count(self, event: Event) -> Event:
        if event.kind == SILENCE:
            self.silence_events += 1
        else:
            self.noise_events += 1
        self.events += 1
        self.last_event = event
        return event


class Reprimer:
    """Re-primes a producer from the current seed, on a background thread, one request at a time.

    ``seed``: ``(audio, rate)`` or None (then `request` resets the producer with a fresh RNG seed).
    Settable from any thread. Producers without ``prime``/``reset`` are left alone (``supported`` False).
    Counters: ``recoveries`` (done), ``failures``, ``last_error``; ``busy`` while one runs.
    """

    def __init__(self, producer: Any, seed: tuple[np.ndarray, int] | None = None, reset_seed_base: int = 1) -> None:
        self.producer = producer
        self.seed = seed
        self.recoveries = 0
        self.failures = 0
        self.last_error: str | None = None
        self._resets = 0
        self._reset_seed_base = int(reset_seed_base)
        self._thread: threading.Thread | None = None

    @property
    def supported(self) -> bool:
        return callable(getattr(self.producer, "prime", None)) or callable(getattr(self.producer, "reset", None))

    @property
    def busy(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def request(self, wait: bool = False) -> bool:
        """Start a re-prime unless one is running or the producer cannot; True when one was started.

        ``wait``: block until it is done (for callers that are not on the live path).
        """
        if self.busy or not self.supported:
            return False
        self._thread = threading.Thread(target=self.run, name="rt-samplernn-reprime", daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return True

    def run(self) -> None:
        """Re-prime now, in the calling thread; errors are counted and kept in ``last_error``, never raised."""
        seed = self.seed
        self._resets += 1
        # A fresh noise seed per recovery: priming or resetting with the same one would replay the same
        # samples, and with them the same collapse.
        noise_seed = self._reset_seed_base * 1_000_003 + self._resets
        try:
            prime = getattr(self.producer, "prime", None)
            if seed is not None and callable(prime):
                prime(seed[0], int(seed[1]), seed=noise_seed)
            else:
                self.producer.reset(noise_seed)
            self.recoveries += 1
        except Exception as e:  # the stream goes on; the error is reported in the metrics
            self.failures += 1
            self.last_error = f"{type(e).__name__}: {e}"

    def join(self, timeout: float | None = None) -> None:
        t = self._thread
        if t is not None:
            t.join(timeout)
