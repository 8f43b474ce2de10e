"""A preallocated single-producer single-consumer ring buffer of audio frames (pure NumPy, no Qt, no sounddevice).

One thread writes (the streaming worker), one thread reads (the audio callback). Neither ever waits for
the other: `write` stores what fits and says how much that was, `read_into` copies what is there into the
caller's buffer and says how much that was. Nothing is allocated after construction except NumPy's view
objects for the (at most two) slices of a wrapped copy.

How it stays consistent without a lock: the producer owns ``_written`` and the consumer owns ``_read``,
both ever-growing frame counts (Python ints never overflow). The producer copies the frames first and
then publishes them by advancing ``_written``; the consumer copies first and then frees the space by
advancing ``_read``. Each side only reads the other's counter, and under CPython's GIL a store to an
attribute is atomic and seen by other threads in program order. (Free-threaded CPython builds would need
explicit memory ordering; this project targets the standard build.)

    ring = RingBuffer(capacity_frames=4096, channels=2)
    ring.write(block)                # producer: block is (frames, 2); returns frames stored
    got = ring.read_into(outdata)    # consumer: copies up to len(outdata) frames; returns the count
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """SPSC ring of ``capacity_frames`` frames of ``channels`` samples each (float32 by default).

    Producer side: `write`, `free_frames`. Consumer side: `read_into`, `discard`. Either side (or a
    third thread, for metering): `fill_frames`, `capacity_frames`, `channels`, `frames_written`,
    `frames_read`. `clear` only while neither side is running.
    """

    def __init__(self, capacity_frames: int, channels: int = 1, dtype: np.dtype | type = np.float32) -> None:
        if capacity_frames < 1 or channels < 1:
            raise ValueError(
                f"ring buffer needs capacity_frames >= 1 and channels >= 1, got {capacity_frames} and {channels}"
            )
        self._buf = np.zeros((int(capacity_frames), int(channels)), dtype=dtype)
        self._capacity = int(capacity_frames)
        self._written = 0  # frames ever written; only the producer stores to it
        self._read = 0  # frames ever read (or discarded); only the consumer stores to it

    @property
    def capacity_frames(self) -> int:
        return self._capacity

    @property
    def channels(self) -> int:
        return self._buf.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return self._buf.dtype

    @property
    def frames_written(self) -> int:
        return self._written

    @property
    def frames_read(self) -> int:
        return self._read

    @property
    def fill_frames(self) -> int:
        """Frames written and not yet read (a snapshot: the other side may move it right after)."""
        return self._written - self._read

    @property
    def free_frames(self) -> int:
        return self._capacity - (self._written - self._read)

    def write(self, data: np.ndarray) -> int:
        """Producer: store as many leading frames of ``data`` (frames, channels) as fit; return that count.

        A 1-D ``data`` counts as one channel. Frames that do not fit are not stored (the caller decides
        whether to retry or drop them); the ring never overwrites unread frames.
        """
        if data.ndim == 1:
            data = data[:, None]
        if data.shape[1] != self._buf.shape[1]:
            raise ValueError(f"ring buffer has {self._buf.shape[1]} channels, got data with {data.shape[1]}")
        written = self._written
        n = min(len(data), self._capacity - (written - self._read))
        if n <= 0:
            return 0
        start = written % self._capacity
        first = min(n, self._capacity - start)
        self._buf[start : start + first] = data[:first]
        if n > first:
            self._buf[: n - first] = data[first:n]
        self._written = written + n  # publish only after the frames are in place
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Consumer: copy up to ``len(out)`` frames into ``out[:n]``; return n. ``out[n:]`` is left as it was.

        ``out`` must be (frames, channels) with the ring's channel count. No allocation beyond slice views.
        """
        read = self._read
        n = min(len(out), self._written - read)
        if n <= 0:
            return 0
        start = read % self._capacity
        first = min(n, self._capacity - start)
        np.copyto(out[:first], self._buf[start : start + first])
        if n > first:
            np.copyto(out[first:n], self._buf[: n - first])
        self._read = read + n  # free the space only after the frames are copied out
        return n

    def discard(self, frames: int) -> int:
        """Consumer: drop up to ``frames`` unread frames without copying them; return how many were dropped."""
        n = max(0, min(int(frames), self._written - self._read))
        self._read += n
        return n

    def clear(self) -> None:
        """Forget everything unread. Only while neither the producer nor the consumer is running."""
        self._read = self._written
