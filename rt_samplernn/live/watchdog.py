"""A watchdog for long SampleRNN runs: hears silence, blow-ups, hiss and drones in the model's output, and re-primes.

SampleRNN left running for minutes falls into a few kinds of collapse. `Watchdog` judges the generated
audio of every voice (the model's output *before* the output gain, so a performer muting with the gain is
never mistaken for a collapse) over sliding windows, and reports an `Event` when

* **silence**: the AC RMS (the mean is removed, so a stuck constant level counts as silence) stays under
  ``silence_db`` dBFS for ``silence_ms``;
* **noise** (a blow-up): over ``noise_ms`` most blocks are loud (above ``noise_db``) and noise-like
  (spectral flatness above ``noise_flatness`` or zero-crossing rate above ``noise_zcr``);
* **hiss**: over ``hiss_ms`` the mean spectral flatness is above ``hiss_flatness`` at any audible level
  (the demo at temperature 1.3: 0.27-0.31, where the Drascula soundtrack stays under 0.22 over 8 s);
* **drone**: over ``drone_ms`` more than ``drone_low_share`` of the energy lies below 100 Hz (a stuck
  low-frequency or slowly drifting DC-like output: 0.86-0.89 for the demo's 45-54 Hz drone at temperature
  0.8, where the Drascula soundtrack stays under 0.8 over 8 s), or the audio repeats itself: the normalised
  autocorrelation of the last ``loop_ms`` reaches ``loop_similarity`` at some lag up to
  ``loop_max_period_ms`` (a short loop played over and over; sustained notes in music reach about 0.99).

The measurements (flatness, low-band share, level) are those of `rt_samplernn.block_features`, which
summarises training audio; the musical thresholds (hiss, drone) are rt_samplernn.judge's, the one judge of
"sounds musical" (the usable-range scan refuses a setting at the same hiss threshold):
`WatchdogConfig.from_audio_stats` sets them from a bundle's ``audio_stats`` (docs/bundle.md,
`judge.Thresholds.for_music`) and keeps the defaults where the bundle carries none.

`Reprimer` recovers: it re-primes the producer from the current seed (``producer.prime(audio, rate, seed)``)
or, with no seed, from the bundle's music (``music(producer, seed)``, a `rt_samplernn.live.music.ClipPrimer`:
every voice from its own stretch of the bundle's clip), and only without either resets it
(``producer.reset(seed)``), each time with a fresh noise seed, so a recovery does not replay the same
collapse. `KnobAdvice` says once, in words, when a re-prime did not cure the sound because of a knob (the same
hiss right after a recovery: "hiss at T 1.40: turn the temperature down"). Priming runs the frame tiers over the whole seed, which can take longer
than the ring buffer holds, so it runs on its own short-lived thread, never on the streaming worker; the
engine swaps the new state in before its next generated block.

Pure NumPy; the streaming `Player` (rt_samplernn/live/player.py) wires the two together:

    wd = Watchdog(sample_rate=16000, voices=2)          # WatchdogConfig() thresholds
    event = wd.process(audio)                            # audio: (voices, n) float32; Event or None
    rp = Reprimer(engine); rp.seed = (clip, 44100)
    if event: rp.request()                               # returns at once; rp.busy while it works
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rt_samplernn.audio import Clip
from rt_samplernn.block_features import BLOCK_FRAMES, BlockAnalyser
from rt_samplernn.errors import one_line
from rt_samplernn.judge import THRESHOLDS

if TYPE_CHECKING:
    from rt_samplernn.live.producer import Producer

SILENCE = "silence"
NOISE = "noise"
HISS = "hiss"
DRONE = "drone"
KINDS = (SILENCE, NOISE, HISS, DRONE)
SILENCE_UNDER_MUSIC_DB = 15.0  # from audio_stats, silence is never stricter than this under the music's quietest 1%
LOOP_DECIMATION = 4  # the loop check looks at the audio averaged over this many samples (4 kHz at 16 kHz)


@dataclass(frozen=True)
class WatchdogConfig:
    """Thresholds of the watchdog. Levels in dBFS (0 dB = full scale sine peak 1.0), times in ms."""

    silence_db: float = -55.0  # AC RMS under this counts as silence
    silence_ms: float = 3000.0  # for this long
    noise_db: float = -20.0  # a blow-up is at least this loud
    noise_flatness: float = 0.45  # and its blocks this flat (white noise: 0.56)
    noise_zcr: float = 0.40  # or crossing zero this often per sample (white noise: 0.5)
    noise_ms: float = 2000.0  # over this long
    noise_fraction: float = 0.8  # share of the window's blocks that must be loud and noise-like
    hiss_flatness: float = THRESHOLDS.hiss_flatness  # hiss: mean flatness over hiss_ms above this
    hiss_ms: float = 8000.0
    drone_low_share: float = (
        THRESHOLDS.drone_low_share
    )  # drone: share of the energy below 100 Hz over drone_ms above this
    drone_ms: float = 8000.0
    loop_similarity: float = 0.995  # loop: normalised autocorrelation over loop_ms at least this
    loop_ms: float = 4000.0
    loop_max_period_ms: float = 1000.0  # longest loop looked for
    block_frames: int = BLOCK_FRAMES  # analysis block, samples at the model rate (also the FFT size)

    def __post_init__(self) -> None:
        times = (self.silence_ms, self.noise_ms, self.hiss_ms, self.drone_ms, self.loop_ms, self.loop_max_period_ms)
        if min(times) <= 0 or self.block_frames < 16:
            raise ValueError("watchdog: every *_ms must be positive and block_frames >= 16")
        if self.loop_max_period_ms * 2 > self.loop_ms:
            raise ValueError("watchdog: loop_ms must hold at least two loops of loop_max_period_ms")

    @classmethod
    def from_audio_stats(cls, stats: Mapping[str, Any] | None, base: WatchdogConfig | None = None) -> WatchdogConfig:
        """Thresholds set from training audio (`rt_samplernn.block_features.audio_stats`); ``base`` (defaults)
        where absent.

        Hiss and drone: the judge's (`rt_samplernn.judge.Thresholds.for_music`): hiss 2.8x the flatness the
        training audio reaches in its flattest 1% of seconds (0.09 for the Drascula soundtrack: 0.24), within
        0.15..0.4; drone 0.08 above its 99th percentile of low-band share (0.74: 0.82), within 0.6..0.95.
        Silence: never stricter than 15 dB under its quietest 1%.
        """
        base = base or cls()
        if not stats:
            return base
        try:
            flat99 = float(stats["flatness"]["p99"])
            low99 = float(stats["low_share"]["p99"])
            rms1 = float(stats["rms_db"]["p1"])
        except (KeyError, TypeError, ValueError):
            return base  # an older or foreign entry: keep the defaults
        return replace(
            base,
            hiss_flatness=THRESHOLDS.hiss_for(flat99),
            drone_low_share=THRESHOLDS.drone_for(low99),
            silence_db=min(base.silence_db, rms1 - SILENCE_UNDER_MUSIC_DB),
        )


@dataclass(frozen=True)
class Event:
    """One detection: what, which voice, and the window's measurements."""

    kind: str  # SILENCE, NOISE, HISS or DRONE
    voice: int
    rms_db: float
    flatness: float
    zcr: float
    at_seconds: float  # generated audio seconds since the watchdog started
    low_share: float = 0.0  # share of the energy below 100 Hz
    similarity: float = 0.0  # best normalised autocorrelation (a loop), when that was the reason


def _db(power: float) -> float:
    return 10.0 * math.log10(max(power, 1e-20))


def loop_similarity(x: np.ndarray, min_lag: int, max_lag: int) -> tuple[float, int]:
    """Best normalised autocorrelation of mono ``x`` over lags min_lag..max_lag, and that lag."""
    x = x - x.mean()
    n = len(x)
    size = 1 << (2 * n - 1).bit_length()
    spec = np.fft.rfft(x, size)
    corr = np.fft.irfft(spec * np.conj(spec), size)[min_lag : max_lag + 1]
    energy = np.concatenate([[0.0], np.cumsum(x * x)])
    lags = np.arange(min_lag, max_lag + 1)
    head = energy[n - lags]  # x[:n-lag]
    tail = energy[n] - energy[lags]  # x[lag:]
    r = corr / np.sqrt(np.maximum(head * tail, 1e-20))
    best = int(np.argmax(r))
    return float(r[best]), int(lags[best])


class Watchdog:
    """Sliding-window detector over ``voices`` streams at ``sample_rate`` Hz.

    `process` is called from one thread (the streaming worker) with the model's output before gain.
    ``enabled`` may be flipped from any thread; while off, `process` only forgets its history. Counters
    (read from any thread): ``events``, ``silence_events``, ``noise_events``, ``hiss_events``,
    ``drone_events``, ``last_event``.
    """

    def __init__(self, sample_rate: int, voices: int = 1, config: WatchdogConfig | None = None) -> None:
        self.config = config or WatchdogConfig()
        self.sample_rate = int(sample_rate)
        self.voices = int(voices)
        cfg = self.config
        block_s = cfg.block_frames / self.sample_rate

        def blocks(ms: float) -> int:
            return max(1, math.ceil(ms / 1000.0 / block_s))

        self.silence_blocks, self.noise_blocks = blocks(cfg.silence_ms), blocks(cfg.noise_ms)
        self.hiss_blocks, self.drone_blocks = blocks(cfg.hiss_ms), blocks(cfg.drone_ms)
        self.loop_blocks = blocks(cfg.loop_ms)
        self._loop_every = blocks(1000.0)  # the loop check runs about once a second
        self._history = max(self.silence_blocks, self.noise_blocks, self.hiss_blocks, self.drone_blocks)
        # per analysis block and voice: AC power, spectral flatness, low-band share, zero-crossing rate
        shape = (self._history, self.voices)
        self._power, self._flatness = np.zeros(shape), np.zeros(shape)
        self._low, self._zcr = np.zeros(shape), np.zeros(shape)
        # the loop check's audio, decimated, one row per block
        self._loop_rows = self.loop_blocks
        self._loop_audio = np.zeros((self._loop_rows, self.voices, cfg.block_frames // LOOP_DECIMATION), np.float32)
        loop_rate = self.sample_rate / LOOP_DECIMATION
        self._loop_lags = (max(1, round(0.005 * loop_rate)), round(cfg.loop_max_period_ms / 1000.0 * loop_rate))
        self._blocks = 0  # analysis blocks done since the last reset
        self._pending = np.zeros((self.voices, cfg.block_frames), np.float32)
        self._pending_frames = 0
        self._analyser = BlockAnalyser(self.sample_rate, cfg.block_frames)
        self._silence_power = 10.0 ** (cfg.silence_db / 10.0)
        self._noise_power = 10.0 ** (cfg.noise_db / 10.0)
        self._frames_seen = 0
        self.enabled = True
        self.events = 0
        self.silence_events = 0
        self.noise_events = 0
        self.hiss_events = 0
        self.drone_events = 0
        self.last_event: Event | None = None

    def reset(self) -> None:
        """Forget the window (after a recovery, or when switched back on): the next verdict needs a full window."""
        self._blocks = 0
        self._pending_frames = 0

    def process(self, audio: np.ndarray) -> Event | None:
        """Feed (voices, n) generated audio (before gain); return an `Event` when a window has just gone bad.

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
            self._pending[:, self._pending_frames : self._pending_frames + take] = audio[:, pos : pos + take]
            self._pending_frames += take
            pos += take
            self._frames_seen += take
            if self._pending_frames == block:
                self._pending_frames = 0
                self._analyse(self._pending)
                event = self._verdict()
                if event is not None:
                    found = self._count(event)
                    self.reset()
                    break  # the rest of this chunk is from before the recovery anyway
        return found

    def _analyse(self, x: np.ndarray) -> None:
        row = self._blocks % self._history
        self._power[row], self._flatness[row], self._low[row], self._zcr[row] = self._analyser.features(x)
        self._loop_audio[self._blocks % self._loop_rows] = x.reshape(self.voices, -1, LOOP_DECIMATION).mean(axis=2)
        self._blocks += 1

    def _rows(self, blocks: int) -> list[int]:
        return [(self._blocks - 1 - i) % self._history for i in range(blocks)]

    def _verdict(self) -> Event | None:
        at = self._frames_seen / self.sample_rate
        for check in (self._silence, self._blow_up, self._hiss, self._drone, self._loop):
            event = check(at)
            if event is not None:
                return event
        return None

    def _silence(self, at: float) -> Event | None:
        if self._blocks < self.silence_blocks:
            return None
        power = self._power[self._rows(self.silence_blocks)].mean(axis=0)
        for v in range(self.voices):
            if power[v] < self._silence_power:
                return Event(SILENCE, v, _db(power[v]), 0.0, 0.0, at)
        return None

    def _blow_up(self, at: float) -> Event | None:
        cfg = self.config
        if self._blocks < self.noise_blocks:
            return None
        rows = self._rows(self.noise_blocks)
        power, flat, zcr = self._power[rows], self._flatness[rows], self._zcr[rows]
        noisy = (power > self._noise_power) & ((flat > cfg.noise_flatness) | (zcr > cfg.noise_zcr))
        share = noisy.mean(axis=0)
        for v in range(self.voices):
            if share[v] >= cfg.noise_fraction:
                return Event(
                    NOISE, v, _db(float(power[:, v].mean())), float(flat[:, v].mean()), float(zcr[:, v].mean()), at
                )
        return None

    def _hiss(self, at: float) -> Event | None:
        if self._blocks < self.hiss_blocks:
            return None
        rows = self._rows(self.hiss_blocks)
        power, flat = self._power[rows].mean(axis=0), self._flatness[rows].mean(axis=0)
        for v in range(self.voices):
            if flat[v] > self.config.hiss_flatness and power[v] >= self._silence_power:
                return Event(HISS, v, _db(power[v]), float(flat[v]), float(self._zcr[rows, v].mean()), at)
        return None

    def _drone(self, at: float) -> Event | None:
        if self._blocks < self.drone_blocks:
            return None
        rows = self._rows(self.drone_blocks)
        power = self._power[rows]
        energy = power.sum(axis=0) + 1e-20
        low = (self._low[rows] * power).sum(axis=0) / energy  # energy-weighted, as audio_stats does
        for v in range(self.voices):
            if low[v] > self.config.drone_low_share and energy[v] / len(rows) >= self._silence_power:
                return Event(
                    DRONE,
                    v,
                    _db(energy[v] / len(rows)),
                    float(self._flatness[rows, v].mean()),
                    float(self._zcr[rows, v].mean()),
                    at,
                    low_share=float(low[v]),
                )
        return None

    def _loop(self, at: float) -> Event | None:
        if self._blocks < self.loop_blocks or self._blocks % self._loop_every:
            return None
        order = [(self._blocks + i) % self._loop_rows for i in range(self._loop_rows)]  # oldest first
        power = self._power[self._rows(self.loop_blocks)].mean(axis=0)
        for v in range(self.voices):
            if power[v] < self._silence_power:
                continue  # silence repeats itself too; that is the silence check's
            similarity, _ = loop_similarity(self._loop_audio[order, v].reshape(-1), *self._loop_lags)
            if similarity >= self.config.loop_similarity:
                rows = self._rows(self.loop_blocks)
                return Event(
                    DRONE,
                    v,
                    _db(power[v]),
                    float(self._flatness[rows, v].mean()),
                    float(self._zcr[rows, v].mean()),
                    at,
                    similarity=similarity,
                )
        return None

    def _count(self, event: Event) -> Event:
        attr = f"{event.kind}_events"
        setattr(self, attr, getattr(self, attr) + 1)
        self.events += 1
        self.last_event = event
        return event


Primer = Callable[[Any, int], None]  # primer(producer, noise_seed) re-primes every voice (music.ClipPrimer)


class KnobAdvice:
    """Says once, in words, when re-priming cannot cure the sound because of the knob: the same collapse of the
    same voice in two windows in a row (a recovery between them) means the setting, not the state, makes it.

    ``heard(event, temperature)`` is called with each event and that voice's temperature; it returns the
    advice the first time (and again only once the temperature has moved), else None. ``message``: the last
    advice, for the status line and the window ("" when there is none).
    """

    REPEAT_S = 30.0  # two events of one kind and voice this close are "in a row"
    TEMPERATURE_MOVED = 0.05  # a knob moved by this much makes the advice new again

    ADVICE = {
        HISS: "turn the temperature down (or the tail cut up)",
        NOISE: "turn the temperature down (or the tail cut up)",
        SILENCE: "turn the temperature up",
        DRONE: "turn the temperature up",
    }

    def __init__(self) -> None:
        self.message = ""
        self._last: dict[tuple[str, int], float] = {}  # (kind, voice) -> at_seconds of its last event
        self._said: dict[str, float] = {}  # kind -> temperature it was said at

    def heard(self, event: Event, temperature: float) -> str | None:
        key = (event.kind, event.voice)
        before = self._last.get(key)
        self._last[key] = event.at_seconds
        if before is None or event.at_seconds - before > self.REPEAT_S:
            return None
        said = self._said.get(event.kind)
        if said is not None and abs(said - temperature) < self.TEMPERATURE_MOVED:
            return None
        self._said[event.kind] = temperature
        self.message = f"{event.kind} at T {temperature:.2f}: {self.ADVICE[event.kind]}"
        return self.message


class Reprimer:
    """Re-primes a producer from the current seed, on a background thread, one request at a time.

    ``seed``: ``(audio, rate)`` (audio: an array, or an audio.FileClip read again at each re-prime) or None
    (then `request` re-primes from ``music`` when there is one, else resets the producer; each with a fresh
    RNG seed). ``music``: a `Primer` (the bundle's clip), so a recovery goes back to music, never to zeros.
    Settable from any thread.
    Counters: ``recoveries`` (done), ``fallbacks`` (seed failed, reset instead), ``failures``, ``last_error``;
    ``busy`` while one runs.
    """

    def __init__(
        self,
        producer: Producer,
        seed: tuple[np.ndarray | Clip, int] | None = None,
        reset_seed_base: int = 1,
        music: Primer | None = None,
    ) -> None:
        self.producer = producer
        self.seed = seed
        self.music = music
        self.recoveries = 0
        self.fallbacks = 0  # re-primes from the seed that failed and were replaced by a reset
        self.failures = 0  # recoveries where even the reset failed
        self.last_error: str | None = None
        self._resets = 0
        self._reset_seed_base = int(reset_seed_base)
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def request(self, wait: bool = False) -> bool:
        """Start a re-prime unless one is running or the producer cannot; True when one was started.

        ``wait``: block until it is done (for callers that are not on the live path).
        """
        if self.busy:
            return False
        self._thread = threading.Thread(target=self.run, name="rt-samplernn-reprime", daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return True

    def run(self) -> None:
        """Re-prime now, in the calling thread; never raises.

        A re-prime from the seed that fails (the seed file was moved or deleted, ...) falls back to a reset,
        counted in ``fallbacks`` with the reason in ``last_error``: the model is never left as it was. Only
        a reset that fails too counts in ``failures``. ``recoveries`` counts the producer restarted either way.
        """
        seed = self.seed
        self._resets += 1
        # A fresh noise seed per recovery: priming or resetting with the same one would replay the same
        # samples, and with them the same collapse.
        noise_seed = self._reset_seed_base * 1_000_003 + self._resets
        if seed is not None:
            try:
                self.producer.prime(seed[0], int(seed[1]), seed=noise_seed)
                self.recoveries += 1
                return
            except Exception as e:  # the stream goes on: reset instead, and say why
                self.fallbacks += 1
                self.last_error = f"re-prime from the seed failed ({one_line(e)}); reset instead"
        elif self.music is not None:  # no seed: back to the bundle's music, never to zeros
            try:
                self.music(self.producer, noise_seed)
                self.recoveries += 1
                return
            except Exception as e:  # the stream goes on: reset instead, and say why
                self.fallbacks += 1
                self.last_error = f"re-prime from the music failed ({one_line(e)}); reset instead"
        try:
            self.producer.reset(noise_seed)
            self.recoveries += 1
        except Exception as e:  # the stream goes on; the error is reported in the metrics
            self.failures += 1
            self.last_error = f"re-prime failed, and so did the reset ({type(e).__name__}: {one_line(e)})"

    def join(self, timeout: float | None = None) -> None:
        t = self._thread
        if t is not None:
            t.join(timeout)
