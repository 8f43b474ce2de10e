"""Hot-swap: another bundle loads in the background and crossfades in; a broken one leaves the old one playing."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import soundfile
import torch

from rt_samplernn.live.engine import Engine
from rt_samplernn.live.hotswap import HotSwap
from rt_samplernn.live.player import Player
from rt_samplernn.live.sinks import WavSink
from tests.bundle_helpers import tiny_bundle


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("hotswap")
    a = tiny_bundle(root / "a", seed=1, frame_sizes=(4, 16))[1]
    b = tiny_bundle(root / "b", seed=2, frame_sizes=(4, 16, 64), rnn_type="lstm")[1]
    broken = root / "broken"
    shutil.copytree(b, broken)
    (broken / "sample.onnx").write_bytes(b"this is not an onnx graph")
    other_rate = tiny_bundle(root / "rate", seed=3, frame_sizes=(4, 16), sample_rate=8000)[1]
    return a, b, broken, other_rate


def test_a_broken_bundle_leaves_the_old_one_playing_bit_for_bit(bundles):
    a, _, broken, other_rate = bundles
    swap = HotSwap(Engine(a, voices=2, seed=4))
    reference = Engine(a, voices=2, seed=4)
    assert np.array_equal(swap.generate(300), reference.generate(300))
    for bad, why in ((broken, "not swapped in"), (other_rate, "8000 Hz")):
        swap.request(bad)
        assert swap.wait()
        assert why in swap.message and "\n" not in swap.message and "still playing a" in swap.message
        assert np.array_equal(swap.generate(300), reference.generate(300))  # as if nothing had happened
    assert swap.failures == 2 and swap.swaps == 0 and swap.path == a


def wait_until_ready(swap: HotSwap) -> None:
    """The loader checks the new bundle off the producer thread; then it waits for the next block."""
    deadline = time.monotonic() + 60.0
    while not swap.ready:
        assert swap.loading and time.monotonic() < deadline, swap.message
        time.sleep(0.01)


def test_a_good_bundle_crossfades_in_and_then_plays_alone(bundles):
    a, b, _, _ = bundles
    swap = HotSwap(Engine(a, voices=2, seed=4), fade_ms=50.0)
    swap.set_knob("temperature", 0.7, voice=1)
    swap.set_knob("gain", 0.5)
    old = Engine(a, voices=2, seed=4)
    old.set_temperature(0.7, voice=1)
    old.set_gain(0.5)
    swap.generate(256)
    old.generate(256)
    swap.request(b)
    wait_until_ready(swap)
    fade = swap.fade_frames  # 800 samples at 16 kHz
    out = np.concatenate([swap.generate(256) for _ in range(8)], axis=1)
    assert swap.wait() and swap.swaps == 1 and swap.path == b and "now playing b" in swap.message
    new = Engine(b, voices=2, seed=4)  # the new bundle from its start, with the knobs carried over
    new.set_temperature(0.7, voice=1)
    new.set_gain(0.5)
    ref_new = new.generate(8 * 256)
    ref_old = old.generate(8 * 256)
    assert np.array_equal(out[:, fade:], ref_new[:, fade:])  # after the fade: the new bundle alone
    assert np.allclose(out[:, 0], ref_old[:, 0], atol=1e-6)  # it starts on the old one
    middle = slice(fade // 4, 3 * fade // 4)  # the fade mixes them: neither one alone
    assert not np.allclose(out[:, middle], ref_old[:, middle]) and not np.allclose(out[:, middle], ref_new[:, middle])
    assert np.allclose(swap.temperatures, [1.0, 0.7]) and swap.gain == pytest.approx(0.5)


@pytest.mark.jack
def test_swaps_while_streaming_on_jack(jack, bundles, tmp_path):
    a, b, broken, _ = bundles
    swap = HotSwap(Engine(a, voices=1, seed=2))
    out = tmp_path / "take.wav"
    player = Player(swap, latency_ms=250.0, seconds=4.0, watchdog=False, sinks=[WavSink(out)])
    player.start()
    try:
        swap.request(broken)
        assert swap.wait()
        assert player.running and swap.failures == 1 and swap.path == a
        swap.request(b)
        assert swap.wait()
        assert swap.swaps == 1 and swap.path == b
        assert player.wait(60.0)
    finally:
        player.stop()
    m = player.metrics()
    assert m.error is None and m.seconds_played == 4.0
    audio, _ = soundfile.read(str(out), dtype="float32")
    assert len(audio) == 4 * 16000 and audio[-8000:].std() > 0.01  # the new model's audio, not silence


def test_a_swap_waiting_for_a_block_is_dropped_on_close_and_a_later_one_still_goes_in(bundles):
    a, b, _, _ = bundles
    swap = HotSwap(Engine(a, voices=1, seed=4))
    swap.request(b)
    wait_until_ready(swap)  # checked, but no block has come (the audio stopped)
    swap.close()
    assert swap.wait() and swap.swaps == 0 and swap.path == a and not swap.loading
    reference = Engine(a, voices=1, seed=4)
    assert np.array_equal(swap.generate(300), reference.generate(300))  # the old one, untouched
    swap.request(b)  # the loader starts again
    wait_until_ready(swap)
    swap.generate(2 * swap.fade_frames)
    assert swap.wait() and swap.swaps == 1 and swap.path == b
