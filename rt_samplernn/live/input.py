"""Call and response: a live audio input kept as its last seconds, mono at the model's rate, for a seed slot.

No torch, no Qt. `LiveInput` opens an input (sounddevice, by index or name substring like the outputs) and
keeps the last ``seconds`` of it; a seed slot made from it (`rt_samplernn.live.params.Parameters.set_live_slot`)
primes from what it holds at the moment a pad, key or OSC message asks (`LiveInput.take`).

Threads
-------
input callback (PortAudio's thread)
    Copies ``indata`` into a preallocated SPSC `RingBuffer` at the device's rate and channels, and counts
    what did not fit (``dropped_frames``) and PortAudio's input-overflow flags. Nothing else: it never
    blocks, locks, logs or allocates arrays (NumPy slice views aside), the same contract as the player's
    output callback (rt_samplernn/live/player.py).
``rt-samplernn-input``
    Drains that ring every few milliseconds: mixes to mono, resamples to the model's rate with soxr's
    streaming resampler (continuous across blocks; its delay is what `HistoryRing` holds at the end),
    and writes into the `HistoryRing`, which keeps the newest ``seconds`` (allocated once, the oldest
    overwritten).
any thread
    `LiveInput.take` (a copy of what the history holds, oldest first: the priming helper thread calls it),
    `LiveInput.seconds_held`, `LiveInput.frames_in`.

    live = LiveInput("system", sample_rate=16000, seconds=8.0)
    live.start()
    params.set_live_slot(0, live.name, live.sample_rate, live.take, live.seconds)   # a pad primes from it
    ...
    live.stop()
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from rt_samplernn.errors import UserError
from rt_samplernn.live.devices import AudioDevice, find_input_device, load_sounddevice
from rt_samplernn.live.ring import RingBuffer

DEFAULT_INPUT_SECONDS = 8.0  # what a live-input slot keeps: a phrase to answer (longer buys little; README)
MAX_INPUT_CHANNELS = 2  # inputs are mixed to mono from their first two channels
DRAIN_INTERVAL_S = 0.005  # how often the drain thread looks for new input
RAW_RING_S = 1.0  # the callback's ring: the drain thread may fall this far behind before input is dropped


class HistoryRing:
    """The newest ``capacity_frames`` frames of a mono stream, allocated once; writing overwrites the oldest.

    One writer (`write`) and any readers (`take`); a lock keeps a reader from seeing half a write. Neither
    side is an audio callback, so the lock never holds up the audio.
    """

    def __init__(self, capacity_frames: int) -> None:
        if capacity_frames < 1:
            raise ValueError(f"capacity_frames {capacity_frames}: must be at least 1")
        self._buf = np.zeros(int(capacity_frames), np.float32)
        self._written = 0
        self._lock = threading.Lock()

    @property
    def capacity_frames(self) -> int:
        return len(self._buf)

    @property
    def frames_written(self) -> int:
        return self._written

    @property
    def fill_frames(self) -> int:
        return min(self._written, len(self._buf))

    def write(self, mono: np.ndarray) -> None:
        """Append ``mono`` (frames,), dropping the oldest frames beyond the capacity. No allocation."""
        cap = len(self._buf)
        data = mono[-cap:]  # of a block longer than the ring, only its end is kept
        n = len(data)
        with self._lock:
            start = (self._written + len(mono) - n) % cap
            first = min(n, cap - start)
            self._buf[start : start + first] = data[:first]
            self._buf[: n - first] = data[first:]
            self._written += len(mono)

    def take(self) -> np.ndarray:
        """A copy of what the ring holds, oldest first: (fill_frames,) float32."""
        with self._lock:
            cap, written = len(self._buf), self._written
            if written <= cap:
                return self._buf[:written].copy()
            start = written % cap
            return np.concatenate([self._buf[start:], self._buf[:start]])


class LiveInput:
    """A live audio input, its last ``seconds`` kept mono at ``sample_rate`` (the model's) in a `HistoryRing`.

    ``device``: an input's index or name substring (None: the default input). ``block_frames``: frames per
    input callback (0: the host's choice). `start` opens it, `stop` closes it (idempotent). ``name`` is what
    a seed slot shows ("input: system").
    """

    def __init__(
        self,
        device: int | str | None,
        sample_rate: int,
        seconds: float = DEFAULT_INPUT_SECONDS,
        block_frames: int = 0,
        resample_quality: str = "HQ",
    ) -> None:
        if not 0 < seconds <= 600:
            raise UserError(f"--input-seconds {seconds:g}: must be in (0, 600] (e.g. {DEFAULT_INPUT_SECONDS:g})")
        self.device: AudioDevice = find_input_device(device)
        self.sample_rate = int(sample_rate)
        self.seconds = float(seconds)
        self.device_rate = self.device.sample_rate
        self.channels = min(self.device.channels, MAX_INPUT_CHANNELS)
        self.block_frames = int(block_frames)
        self.history = HistoryRing(max(1, round(self.seconds * self.sample_rate)))
        self._raw = RingBuffer(max(4096, round(RAW_RING_S * self.device_rate)), self.channels)
        self._drained = np.zeros((self._raw.capacity_frames, self.channels), np.float32)
        self._resample_quality = resample_quality
        self.dropped_frames = 0  # callback: input the drain thread had no room for
        self.overflows = 0  # callback: PortAudio's input_overflow flags
        self.error: str | None = None  # drain thread: why it stopped, else None
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def name(self) -> str:
        return f"input: {self.device.name}"

    @property
    def frames_in(self) -> int:
        """Model-rate frames recorded since the start."""
        return self.history.frames_written

    @property
    def seconds_held(self) -> float:
        return self.history.fill_frames / self.sample_rate

    def take(self) -> np.ndarray:
        """The last ``seconds`` of the input (fewer at first), mono float32 at ``sample_rate``, oldest first."""
        return self.history.take()

    def start(self) -> None:
        """Open the input and start keeping it (UserError naming the device when it cannot be opened)."""
        if self._thread is not None:
            raise RuntimeError("a LiveInput starts once; make a new one")
        sd = load_sounddevice()
        self._thread = threading.Thread(target=self._drain, name="rt-samplernn-input", daemon=True)
        self._thread.start()
        try:
            stream = sd.InputStream(
                samplerate=self.device_rate,
                blocksize=self.block_frames,
                device=self.device.index,
                channels=self.channels,
                dtype="float32",
                latency="low",
                callback=self._callback,
            )
            stream.start()
        except sd.PortAudioError as e:
            self.stop()
            raise UserError(
                f"cannot open audio input {self.device.label} at {self.device_rate} Hz, {self.channels} "
                f"channel(s): {e}; `rt-samplernn devices` lists the inputs"
            ) from None
        self._stream = stream

    def stop(self) -> None:
        """Close the input and stop the drain thread; what the history holds stays readable."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop(ignore_errors=True)
            stream.close(ignore_errors=True)
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def __enter__(self) -> LiveInput:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the input callback (the contract in the module docstring) -----------------------------------

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        stored = self._raw.write(indata)
        if stored < frames:
            self.dropped_frames += frames - stored

    # -- the drain thread ------------------------------------------------------------------------------

    def _drain(self) -> None:
        resampler: Any = None
        if self.device_rate != self.sample_rate:
            import soxr

            resampler = soxr.ResampleStream(
                self.device_rate, self.sample_rate, 1, dtype="float32", quality=self._resample_quality
            )
        try:
            while not self._stop.is_set():
                n = self._raw.read_into(self._drained)
                if n == 0:
                    time.sleep(DRAIN_INTERVAL_S)
                    continue
                block = self._drained[:n]
                mono = block[:, 0].copy() if self.channels == 1 else block.mean(axis=1, dtype=np.float32)
                self.history.write(mono if resampler is None else resampler.resample_chunk(mono))
        except Exception as e:  # the input stops being kept; the slot says so when primed
            self.error = f"live input {self.device.label} failed: {type(e).__name__}: {e}"


__all__ = ["DEFAULT_INPUT_SECONDS", "HistoryRing", "LiveInput"]
