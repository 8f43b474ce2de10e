"""Call and response: a live input kept as its last seconds, mono at the model's rate, as a seed slot. A real JACK
client plays a recording into the input; the slot primes exactly what the same audio primes from a file."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile
import soxr
import torch

from rt_samplernn.audio import FileClip
from rt_samplernn.errors import UserError
from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.input import HistoryRing, LiveInput
from rt_samplernn.live.params import Parameters
from tests.audio_fixtures import drascula_track
from tests.bundle_helpers import tiny_bundle
from tests.jack import JackClipPlayer


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.set_num_threads(1)
    return tiny_bundle(tmp_path_factory.mktemp("input") / "b", frame_sizes=(4, 16))[1]


def test_the_history_keeps_the_newest_frames_in_order_in_one_buffer():
    ring = HistoryRing(10)
    buffer = ring._buf
    ring.write(np.arange(4, dtype=np.float32))
    assert ring.take().tolist() == [0, 1, 2, 3]
    ring.write(np.arange(4, 12, dtype=np.float32))  # wraps: the two oldest go
    assert ring.take().tolist() == list(range(2, 12))
    ring.write(np.arange(12, 40, dtype=np.float32))  # longer than the ring: only its end is kept
    assert ring.take().tolist() == list(range(30, 40)) and ring.frames_written == 40
    ring.write(np.arange(40, 43, dtype=np.float32))
    assert ring.take().tolist() == list(range(33, 43)) and ring._buf is buffer


def test_a_live_slot_that_heard_nothing_says_so(bundle):
    params = Parameters(voices=1)
    params.set_live_slot(2, "input: nothing yet", 16000, lambda: np.zeros(0, np.float32), 8.0)
    assert params.slots[2] is not None and params.slots[2].name == "input: nothing yet"
    control = LiveControl(params, Engine(bundle, voices=1, seed=5), start=False)
    params.select_and_prime(2)
    control.run_pending()
    assert control.primes == 0 and "seed slot 3 (input: nothing yet) has heard nothing yet" in control.message


def _excerpt(rate: int, start_s: float, seconds: float) -> np.ndarray:
    """Real recorded music, mono, at `rate`."""
    path = drascula_track(10)
    info = soundfile.info(str(path))
    data, sr = soundfile.read(
        str(path), start=int(start_s * info.samplerate), frames=int(seconds * info.samplerate), always_2d=True
    )
    return soxr.resample(data.mean(axis=1), sr, rate).astype(np.float32)


def _lag(held: np.ndarray, expected: np.ndarray) -> int:
    """The k with held[i] ~ expected[i + k], by cross-correlation (FFT)."""
    n = 1 << (len(held) + len(expected)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(expected, n) * np.conj(np.fft.rfft(held, n)), n)
    k = int(np.argmax(corr))
    return k if k < n // 2 else k - n


def _windows_matching(held: np.ndarray, expected: np.ndarray, lag: int, window: int = 1600, slack: int = 320) -> float:
    """The share of `held`'s windows that are `expected`'s audio at their level: correlation over 0.95 and gain
    within 5% of 1, at the lag give or take `slack` frames. (A period JACK skips on a loaded machine shifts
    what follows by a fraction of a 16 kHz sample: a sample-exact comparison would fail on that alone.)"""
    good = total = 0
    for start in range(0, len(held) - window + 1, window):
        part = held[start : start + window]
        if np.sqrt(np.mean(part**2)) < 1e-3:
            continue  # a quiet stretch says nothing either way
        total += 1
        for k in range(max(0, start + lag - slack), min(len(expected) - window, start + lag + slack) + 1):
            ref = expected[k : k + window]
            gain = float(np.dot(part, ref) / max(float(np.dot(ref, ref)), 1e-12))
            if np.corrcoef(part, ref)[0, 1] > 0.95 and abs(gain - 1.0) < 0.05:
                good += 1
                break
    return good / max(total, 1)


@pytest.mark.jack
def test_a_recording_played_into_the_input_primes_what_the_same_audio_primes_from_a_file(jack48k, bundle, tmp_path):
    """A JACK client plays 4 s of a drascula track into the input (48 kHz); the slot keeps the last 3 s at 16 kHz:
    the recording (after the streaming resampler's delay) and then silence. A pad primes from it in the
    background; an engine primed from a file of exactly what the ring held generates the same samples."""
    clip = _excerpt(48000, 20.0, 4.0)
    live = LiveInput("system", sample_rate=16000, seconds=3.0)
    assert live.device_rate == 48000 and live.name == "input: system"
    with live, JackClipPlayer(jack48k, clip) as player:
        ours = player.ports("^rt-samplernn:in_", 1)
        assert ours, player.ports("", 1)
        for port in ours:  # every channel gets the recording: the mono mix is the recording itself
            player.connect(port)
        player.play()
        assert player.wait(30.0)
        time.sleep(0.5)  # the last periods reach the history; then silence follows the recording
    held = live.take()
    assert len(held) == 3 * 16000 and live.dropped_frames == 0
    expected = soxr.resample(clip, 48000, 16000).astype(np.float32)
    lag = _lag(held, expected)
    overlap = min(len(held), len(expected) - lag)
    assert 2.0 * 16000 < overlap < len(held)  # the last ~2.5 s of the recording, then silence
    matched = _windows_matching(held[:overlap], expected, lag)
    assert matched >= 0.75, f"only {matched:.0%} of the input's 100 ms windows are the recording"
    assert np.abs(held[overlap + 480 :]).max() < 1e-4  # after the recording (and the resampler's tail): silence

    params = Parameters(voices=1)
    params.set_live_slot(0, live.name, live.sample_rate, live.take, live.seconds)
    from_input = Engine(bundle, voices=1, seed=5)
    control = LiveControl(params, from_input)
    try:
        params.select_and_prime(0)  # what its pad does: primed on the control's helper thread
        deadline = time.monotonic() + 30.0
        while control.primes == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert control.primes == 1, control.message
    finally:
        control.close()
    soundfile.write(str(tmp_path / "held.wav"), held, 16000, subtype="FLOAT")
    from_file = Engine(bundle, voices=1, seed=5)
    from_file.prime(FileClip(tmp_path / "held.wav"))
    np.testing.assert_array_equal(from_input.generate_levels(3000), from_file.generate_levels(3000))


def test_an_unknown_input_is_one_line_naming_the_inputs(jack):
    with pytest.raises(UserError, match=r"device 'no such input' not found; inputs: .*system"):
        LiveInput("no such input", sample_rate=16000)
