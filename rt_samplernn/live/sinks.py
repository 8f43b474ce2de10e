"""Sinks: where played audio also goes (a WAV file flushed as it grows, raw s16le PCM on a pipe)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import numpy as np

from rt_samplernn.atomic import write_error
from rt_samplernn.errors import UserError

if TYPE_CHECKING:
    from rt_samplernn.live.ring import RingBuffer

FIX = "check the free space or choose another --record file"

# -- sinks (recording, pipes) -------------------------------------------------------------------------


class Sink(Protocol):
    """Where the recorder thread puts what was played: ``open`` once, ``write`` (frames, channels), ``close``."""

    def open(self, sample_rate: int, channels: int) -> None: ...
    def write(self, frames: np.ndarray) -> None: ...
    def close(self) -> None: ...


class SinkClosed(Exception):
    """The sink's reader went away (a closed pipe); the player stops with this message."""


class WavSink:
    """Streams what was played into an audio file (format by extension: WAV, FLAC, OGG, AIFF, MP3).

    Refuses to overwrite an existing file unless ``force`` (and then only a regular file). The file is
    claimed when the sink is made: created exclusively and locked (rt_samplernn.atomic.open_exclusive), so
    of two recordings to one file the second is refused. The header is rewritten once a second of audio,
    so even a killed process leaves a readable file; `close` (on any clean stop, Ctrl-C included) makes it
    complete. A sink closed before any audio came removes the file it created.
    """

    def __init__(self, path: str | Path, force: bool = False) -> None:
        from rt_samplernn.atomic import open_exclusive
        from rt_samplernn.audio import output_format

        self.path = Path(path)
        self.format, self.subtype = output_format(self.path)
        if not self.path.parent.is_dir():
            raise UserError(f"{self.path}: folder {self.path.parent} does not exist")
        self._target: BinaryIO | None = open_exclusive(self.path, replace=force, fix=FIX)
        self.frames = 0
        self.sample_rate = 0
        self._file: Any = None
        self._unflushed = 0

    def open(self, sample_rate: int, channels: int) -> None:
        import soundfile

        assert self._target is not None, "WavSink.open after close"
        try:
            self._file = soundfile.SoundFile(
                self._target.fileno(),  # by descriptor: libsndfile writes itself; the lock stays with _target
                "w",
                samplerate=sample_rate,
                channels=channels,
                subtype=self.subtype,
                format=self.format,
                closefd=False,
            )
        except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
            self.close()
            raise write_error(self.path, "", e, FIX) from None
        self.sample_rate = sample_rate

    def write(self, frames: np.ndarray) -> None:
        try:
            self._file.write(frames)
            self.frames += len(frames)
            self._unflushed += len(frames)
            if self._unflushed >= self.sample_rate:
                self._file.flush()  # libsndfile rewrites the header: the file is valid up to here
                self._unflushed = 0
        except (OSError, RuntimeError, AssertionError) as e:  # a full disk: the player stops with this line
            raise SinkClosed(str(write_error(self.path, "", e, FIX))) from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._target is not None:
            if self.frames == 0 and os.fstat(self._target.fileno()).st_size == 0:
                self.path.unlink(missing_ok=True)  # nothing was recorded: leave nothing behind
            self._target.close()  # releases the lock
            self._target = None


class PcmSink:
    """Raw interleaved s16le PCM on a binary stream (stdout for ffmpeg: ``-f s16le -ar RATE -ac CH -i -``)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.frames = 0

    def open(self, sample_rate: int, channels: int) -> None:
        self.sample_rate, self.channels = sample_rate, channels

    def write(self, frames: np.ndarray) -> None:
        pcm = np.clip(frames * 32767.0, -32768.0, 32767.0).astype("<i2")
        try:
            self.stream.write(pcm.tobytes())
            self.stream.flush()
        except (BrokenPipeError, ValueError, OSError) as e:
            raise SinkClosed(f"the PCM output was closed by its reader ({type(e).__name__})") from None
        self.frames += len(frames)

    def close(self) -> None:
        try:
            self.stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass


def stdout_sink() -> PcmSink:
    """A `PcmSink` on this process's stdout (binary). After a closed pipe, later writes go to /dev/null.

    A UserError when there is no standard output to write to (started with it closed, `>&-`).
    """
    try:
        os.fstat(1)
        stream = sys.stdout.buffer
    except (OSError, AttributeError, ValueError):  # fd 1 closed: Python sets sys.stdout to None
        raise UserError(
            "--stdout: standard output is closed; pipe it into a program, e.g. `| ffmpeg -f s16le ...`, "
            "or use --record FILE"
        ) from None
    return _StdoutSink(stream)


class _StdoutSink(PcmSink):
    def write(self, frames: np.ndarray) -> None:
        try:
            super().write(frames)
        except SinkClosed:
            # the reader is gone: point fd 1 at /dev/null so the interpreter's final flush does not fail
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise


class Recorder:
    """The ``rt-samplernn-recorder`` thread: drains the tap ring (what the audio callback played) into the
    sinks, a block at a time. ``recorded_frames``: written so far. A sink that fails or is closed by its
    reader ends the recording: ``on_error(message)`` is called from the thread."""

    def __init__(
        self, tap: RingBuffer, sinks: Sequence[Sink], block_frames: int, on_error: Callable[[str], None]
    ) -> None:
        self.tap, self.sinks, self.on_error = tap, list(sinks), on_error
        self.recorded_frames = 0
        self._buf = np.zeros((block_frames, tap.channels), np.float32)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="rt-samplernn-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write what the tap still holds, then end the thread."""
        self._stop = True
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        try:
            while True:
                stopping = self._stop  # read before draining: then nothing is left behind
                n = self.tap.read_into(self._buf)
                if n:
                    for sink in self.sinks:
                        sink.write(self._buf[:n])
                    self.recorded_frames += n
                    continue
                if stopping:
                    return
                time.sleep(0.02)
        except SinkClosed as e:
            self.on_error(str(e))
        except Exception as e:
            self.on_error(f"recording failed: {type(e).__name__}: {e}")
