"""The SPSC ring buffer, the mixer and the audio callback's contract, without any audio device."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rt_samplernn.live.devices import NO_DEVICE, channel_map, mix_matrix
from rt_samplernn.live.player import Player
from rt_samplernn.live.ring import RingBuffer
from tests.stream_helpers import Tone


def ramp(start: int, n: int, channels: int = 2) -> np.ndarray:
    """Frames numbered start..start+n-1 in every channel (channel c holds value + 1000 c)."""
    v = np.arange(start, start + n, dtype=np.float32)[:, None]
    return v + 1000.0 * np.arange(channels, dtype=np.float32)[None, :]


def test_wraparound_keeps_order_and_content():
    ring = RingBuffer(10, 2)
    out = np.zeros((10, 2), np.float32)
    pos = 0
    for _ in range(25):  # write 7, read 7: the write and read positions wrap many times
        assert ring.write(ramp(pos, 7)) == 7
        assert ring.fill_frames == 7 and ring.free_frames == 3
        assert ring.read_into(out[:7]) == 7
        np.testing.assert_array_equal(out[:7], ramp(pos, 7))
        pos += 7
    assert ring.frames_written == ring.frames_read == 175
    assert ring.fill_frames == 0


def test_full_ring_stores_what_fits_and_never_overwrites():
    ring = RingBuffer(8, 1)
    assert ring.write(np.arange(5, dtype=np.float32)) == 5
    assert ring.write(np.arange(5, 10, dtype=np.float32)) == 3  # only 3 free
    assert ring.write(np.ones(4, np.float32)) == 0
    out = np.full((10, 1), -1.0, np.float32)
    assert ring.read_into(out) == 8
    np.testing.assert_array_equal(out[:8, 0], np.arange(8))
    assert (out[8:] == -1.0).all()  # beyond n the caller's buffer is untouched


def test_short_read_returns_what_is_there():
    ring = RingBuffer(16, 2)
    ring.write(ramp(0, 3))
    out = np.zeros((8, 2), np.float32)
    assert ring.read_into(out) == 3
    np.testing.assert_array_equal(out[:3], ramp(0, 3))
    assert ring.read_into(out) == 0


def test_discard_and_clear():
    ring = RingBuffer(8, 1)
    ring.write(np.arange(6, dtype=np.float32))
    assert ring.discard(4) == 4 and ring.fill_frames == 2
    out = np.zeros((2, 1), np.float32)
    ring.read_into(out)
    np.testing.assert_array_equal(out[:, 0], [4, 5])
    ring.write(np.arange(3, dtype=np.float32))
    ring.clear()
    assert ring.fill_frames == 0 and ring.free_frames == 8


def test_channel_mismatch_is_an_error():
    ring = RingBuffer(8, 2)
    with pytest.raises(ValueError, match="2 channels"):
        ring.write(np.zeros((4, 3), np.float32))


def test_two_threads_see_every_frame_once_in_order():
    """A producer and a consumer thread with odd block sizes: the consumer sees 0, 1, 2, ... exactly."""
    ring = RingBuffer(37, 1)
    total = 20_000
    received = np.zeros(total, np.float32)

    def produce():
        pos = 0
        while pos < total:
            n = min(13, total - pos)
            done = ring.write(np.arange(pos, pos + n, dtype=np.float32))
            pos += done
            if not done:
                time.sleep(0)  # let the consumer run

    def consume():
        got = 0
        buf = np.zeros((11, 1), np.float32)
        while got < total:
            n = ring.read_into(buf)
            received[got : got + n] = buf[:n, 0]
            got += n
            if not n:
                time.sleep(0)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    np.testing.assert_array_equal(received, np.arange(total, dtype=np.float32))


def test_mix_matrix_mono_and_stereo_spread():
    np.testing.assert_allclose(mix_matrix(1, 1), [[1.0]])
    np.testing.assert_allclose(mix_matrix(1, 2), [[1.0, 1.0]])  # one voice: centre, full level
    m = mix_matrix(4, 2)
    assert m.shape == (4, 2)
    assert m[0, 0] > m[0, 1] and m[-1, 1] > m[-1, 0]  # first voice left, last voice right
    np.testing.assert_allclose(mix_matrix(4, 1), np.full((4, 1), 0.5))
    np.testing.assert_array_equal(channel_map(2, 5), [0, 1, 0, 1, 0])  # every device channel is fed
    np.testing.assert_array_equal(channel_map(1, 3), [0, 0, 0])


class _Status:
    def __init__(self, underflow: bool = False) -> None:
        self.output_underflow = underflow


def test_callback_fills_whole_buffer_zero_fills_and_counts_underruns():
    player = Player(Tone(voices=2), device=NO_DEVICE, watchdog=False, switch_interval_s=None)
    assert player.channels == 2
    out = np.full((8, 2), 9.0, np.float32)
    player.ring.write(ramp(0, 5))
    player._callback(out, 8, None, _Status())
    np.testing.assert_array_equal(out[:5], ramp(0, 5))
    assert (out[5:] == 0).all()
    m = player.metrics()
    assert (m.underruns, m.underrun_frames, m.output_underflows) == (1, 3, 0)
    player.ring.write(ramp(5, 8))
    player._callback(out, 8, None, _Status(underflow=True))
    np.testing.assert_array_equal(out, ramp(5, 8))
    m = player.metrics()
    assert (m.underruns, m.output_underflows) == (1, 1)
    assert m.seconds_played == 16 / 16000


def test_callback_stops_exactly_at_the_seconds_limit_and_taps_what_it_played():
    from rt_samplernn.live.sinks import PcmSink

    class Sink(PcmSink):
        def __init__(self):
            self.frames = 0

    player = Player(
        Tone(), device=NO_DEVICE, seconds=10 / 16000, sinks=[Sink()], watchdog=False, switch_interval_s=None
    )
    out = np.zeros((8, 1), np.float32)
    player.ring.write(ramp(1, 16, channels=1))
    player._callback(out, 8, None, _Status())
    assert not player._finished
    player._callback(out, 8, None, _Status())
    assert player._finished
    np.testing.assert_array_equal(out[:2, 0], [9, 10])
    assert (out[2:] == 0).all()  # nothing past the limit
    player._callback(out, 8, None, _Status())
    m = player.metrics()
    assert m.seconds_played == 10 / 16000 and m.underruns == 0
    tapped = np.zeros((32, 1), np.float32)
    assert player._tap.read_into(tapped) == 10
    np.testing.assert_array_equal(tapped[:10, 0], np.arange(1, 11))


def test_start_queues_a_cushion_over_the_target_and_gives_it_back_within_two_seconds():
    """Startup: the ring is prefilled past the target (so the first seconds, when the device and the audio
    server settle, do not underrun), the worker's fill target fades to the setting, and the cyclic GC is
    frozen while the stream runs (no full collection holding the GIL) and thawed at stop."""
    import gc

    from rt_samplernn.live.player import STARTUP_S

    player = Player(Tone(), device=NO_DEVICE, latency_ms=50.0, watchdog=False)
    target, cushion = player.target_frames, player.startup_cushion_frames
    assert cushion > 0 and player.ring.capacity_frames >= target + cushion
    player.start()
    try:
        assert player.ring.frames_written >= target + cushion  # prefilled before the clock started
        assert gc.get_freeze_count() > 0
        deadline = time.monotonic() + 30.0
        while player.metrics().seconds_played < STARTUP_S + 0.2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert player._fill_target() == target  # the cushion is given back
    finally:
        player.stop()
    assert gc.get_freeze_count() == 0
