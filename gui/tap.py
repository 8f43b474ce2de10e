"""The window's output tap: a sink that keeps the newest output for the scope and records a WAV on demand."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn.live.ring import RingBuffer


class OutputTap:
    """A `rt_samplernn.live.sinks` sink fed by the player's recorder thread with exactly what was played.

    The scope: the recorder thread writes mono frames into a `RingBuffer` (what does not fit is dropped:
    the scope only shows the newest); the GUI thread drains it in `snapshot` and keeps the newest frames.
    Recording: `start_recording` opens a `WavSink` (GUI thread), `write` feeds it (recorder thread),
    `stop_recording` closes it; a small lock keeps the recorder thread from writing into a file being
    closed (it is not the audio callback: the callback only copies into the player's tap ring).
    """

    def __init__(self, keep: int = 16384):
        self._scope = RingBuffer(keep, 1)
        self._mono = np.zeros((keep, 1), np.float32)  # recorder thread's mixdown buffer
        self._drain = np.zeros((keep, 1), np.float32)  # GUI thread's read buffer
        self._newest = np.zeros(keep, np.float32)  # GUI thread: the newest frames, oldest first
        self._lock = threading.Lock()
        self._wav: Any = None
        self.path: Path | None = None  # the file being (or last) recorded
        self.sample_rate = 0
        self.channels = 1
        self.recorded_frames = 0

    # the player's recorder thread
    def open(self, sample_rate: int, channels: int) -> None:
        self.sample_rate, self.channels = int(sample_rate), int(channels)

    def write(self, frames: np.ndarray) -> None:
        keep = len(self._mono)
        tail = frames[-keep:]
        mono = self._mono[: len(tail)]
        np.mean(tail, axis=1, keepdims=True, out=mono)
        self._scope.write(mono)
        if self._wav is not None:
            with self._lock:
                if self._wav is not None:
                    self._wav.write(frames)
                    self.recorded_frames += len(frames)

    def close(self) -> None:
        self.stop_recording()

    # the GUI thread
    def snapshot(self, n: int) -> np.ndarray:
        """The newest n mono frames (n <= keep), oldest first (the GUI thread's own array: do not keep it)."""
        got = self._scope.read_into(self._drain)
        while got:
            newest = self._newest
            newest[:-got] = newest[got:].copy()
            newest[-got:] = self._drain[:got, 0]
            got = self._scope.read_into(self._drain)
        return self._newest[-min(n, len(self._newest)) :]

    @property
    def recording(self) -> bool:
        return self._wav is not None

    @property
    def recorded_seconds(self) -> float:
        return self.recorded_frames / self.sample_rate if self.sample_rate else 0.0

    def start_recording(self, path: Path, sample_rate: int, channels: int) -> None:
        from rt_samplernn.live.sinks import WavSink

        self.stop_recording()
        sink = WavSink(path)  # UserError: exists, bad extension, missing folder
        sink.open(sample_rate, channels)
        self.recorded_frames = 0
        self.path = Path(path)
        self._wav = sink

    def stop_recording(self) -> tuple[Path, float]:
        with self._lock:
            sink, self._wav = self._wav, None
        if sink is None:
            return Path(), 0.0
        sink.close()
        return sink.path, sink.frames / float(sink.sample_rate or 1)
