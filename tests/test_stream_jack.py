"""Streaming against a real JACK dummy server: the engine at 16 kHz, resampling to 48 kHz, a slow producer,
a forced collapse the watchdog recovers from, and a server that dies mid-stream."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

from rt_samplernn.live.player import Player
from rt_samplernn.live.sinks import WavSink
from rt_samplernn.live.watchdog import WatchdogConfig
from tests.jack import jack_available
from tests.stream_helpers import (
    Collapsing,
    Recording,
    Tone,
    dominant_hz,
    private_jack,
    stop_server_under,
    tiny_bundle,
)

pytestmark = pytest.mark.jack

# Generous: these tests share a loaded 2-core machine; the benchmark measures the default latency.
TEST_LATENCY_MS = 250.0


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("torch")
    return tiny_bundle(tmp_path_factory.mktemp("stream"))


def play(player: Player, timeout_s: float = 60.0) -> None:
    player.start()
    try:
        assert player.wait(timeout_s), "the player did not finish"
    finally:
        player.stop()


def test_engine_streams_5_seconds_at_16k_into_the_recording(jack, bundle, tmp_path):
    """Functional only: the audio arrives, the right length, the meters move. Underruns and the real-time
    factor are timing: benchmarks/stream_timing.py measures them."""
    from rt_samplernn.live.engine import Engine

    engine = Engine(bundle, voices=2, seed=3, provider="cpu")
    out = tmp_path / "take.wav"
    player = Player(engine, latency_ms=TEST_LATENCY_MS, seconds=5.0, watchdog=False, sinks=[WavSink(out)])
    assert player.device.name == "system" and player.device_rate == 16000
    play(player)
    m = player.metrics()
    assert m.error is None
    assert m.seconds_played == 5.0
    assert m.worker_rtf > 0.0 and m.knob_latency_ms > 0.0  # measured
    audio, rate = soundfile.read(str(out), dtype="float32")
    assert rate == 16000 and audio.shape == (5 * 16000, 2)
    assert audio[-16000:].std() > 0.01  # the model's audio, not silence


@pytest.mark.parametrize("model_rate", [8000, 16000])
def test_48k_server_resamples_the_model(jack48k, tmp_path, model_rate):
    out = tmp_path / "take48.wav"
    player = Player(
        Tone(model_rate, voices=1), latency_ms=TEST_LATENCY_MS, seconds=2.0, watchdog=False, sinks=[WavSink(out)]
    )
    assert player.device_rate == 48000
    player.start()
    try:
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10).stdout.split()
        assert "rt-samplernn:out_0" in ports and not any(p.startswith("PortAudio:") for p in ports), ports
        assert player.wait(60.0), "the player did not finish"
    finally:
        player.stop()
    m = player.metrics()
    assert m.error is None, m
    assert (m.sample_rate, m.device_rate, m.channels) == (model_rate, 48000, 2)
    audio, rate = soundfile.read(str(out), dtype="float32")
    assert rate == 48000 and audio.shape == (96000, 2)
    np.testing.assert_array_equal(audio[:, 0], audio[:, 1])  # one voice: centre, both channels
    tail = audio[48000:, 0]
    assert abs(dominant_hz(tail, 48000) - 440.0) < 2.0  # the pitch survives resampling
    assert 0.15 < tail.std() < 0.25  # and the level (0.3 peak sine: 0.21 RMS)


def test_knob_latency_shown_starts_at_the_ring_target_plus_half_a_chunk_and_adds_the_device(jack):
    """Before any measurement the knob latency is the ring's target plus half a chunk (a knob lands at the next
    generate call); once playing, the device's own latency is in it too. How close the figure is to what is
    heard is timing: benchmarks/knob_latency.py measures it on JACK's clock."""
    player = Player(Tone(16000, voices=1), latency_ms=100.0, seconds=3.5, watchdog=False)  # past the startup
    before = player.metrics().knob_latency_ms  # before any measurement: the model's start values
    play(player)
    m = player.metrics()
    chunk_ms = player.chunk_frames / 16000 * 1000.0
    assert before == pytest.approx(100.0 + chunk_ms / 2, abs=0.1)
    assert m.output_latency_ms > 0
    assert m.knob_latency_ms > m.output_latency_ms and m.knob_latency_ms != before, m  # the model moved


def test_slow_producer_underruns_are_counted_and_the_stream_survives(jack, tmp_path):
    chunk_s = 256 / 16000
    slow = Tone(16000, voices=1, cost_s=2.0 * chunk_s)  # half real time
    out = tmp_path / "slow.wav"
    player = Player(slow, latency_ms=50.0, seconds=2.0, watchdog=False, sinks=[WavSink(out)], prefill_timeout_s=0.5)
    play(player)
    m = player.metrics()
    assert m.error is None
    assert m.underruns > 0 and m.underrun_frames > 0
    assert m.seconds_played == 2.0  # it kept going to the end
    assert m.worker_rtf < 1.0
    assert soundfile.info(str(out)).frames == 32000


def test_watchdog_recovers_from_a_forced_collapse(jack, tmp_path):
    producer = Collapsing(16000, voices=1, collapse_after_frames=16000)  # stuck after 1 s
    seed = (np.zeros(1600, np.float32), 16000)
    cfg = WatchdogConfig(silence_ms=500)
    out = tmp_path / "wd.wav"
    player = Player(producer, latency_ms=TEST_LATENCY_MS, watchdog=cfg, seed=seed, sinks=[WavSink(out)])
    player.start()
    try:
        deadline = time.monotonic() + 30
        while player.metrics().recoveries < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        played = player.metrics().seconds_played
        while player.metrics().seconds_played < played + 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)  # a second of the recovered tone
    finally:
        player.stop()
    m = player.metrics()
    assert m.error is None
    assert m.watchdog_events >= 1 and m.silence_events >= 1 and m.recoveries >= 1, m
    assert producer.primes and producer.primes[0][0] == 1600  # re-primed from the seed
    assert not producer.collapsed
    audio, _ = soundfile.read(str(out), dtype="float32")
    mono = audio[:, 0]
    assert mono[:16000].std() > 0.1  # the tone
    stuck = mono[16000 + 4000 : 16000 + 8000]
    assert stuck.std() < 1e-3  # the collapse: a constant level
    assert mono[-8000:].std() > 0.1  # and the tone again


def test_watchdog_switch_from_another_thread(jack):
    producer = Collapsing(16000, voices=1, collapse_after_frames=0)
    player = Player(producer, latency_ms=TEST_LATENCY_MS, watchdog=WatchdogConfig(silence_ms=300))
    player.set_watchdog(False)
    assert player.watchdog_enabled is False
    player.start()
    try:
        deadline = time.monotonic() + 30
        while player.metrics().seconds_played < 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert player.metrics().watchdog_events == 0  # off: the collapse goes on
        player.watchdog_enabled = True
        while player.metrics().recoveries < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        player.stop()
    assert player.metrics().recoveries >= 1 and producer.resets  # no seed: reset instead


def test_a_performer_muting_with_the_gain_is_not_a_collapse(jack, tmp_path):
    """The watchdog hears the model before the gain: 3 s muted (silence window 1 s) raise no event and the
    output stays silent; the same 3 s of silence coming from the model itself are taken for a collapse."""
    from tests.audio_fixtures import drascula_track, write_excerpt

    clip = write_excerpt(drascula_track(2), tmp_path / "music.wav", 20.0, 6.0)
    audio, _ = soundfile.read(str(clip), dtype="float32")
    cfg = WatchdogConfig(silence_ms=1000)
    for producer, events in ((Recording(audio, gain=0.0), 0), (Recording(np.zeros_like(audio)), 1)):
        out = tmp_path / f"muted-{events}.wav"
        player = Player(producer, latency_ms=TEST_LATENCY_MS, seconds=3.0, watchdog=cfg, sinks=[WavSink(out)])
        play(player)
        m = player.metrics()
        assert m.error is None and m.seconds_played == 3.0
        if events:
            assert m.silence_events >= 1, m  # a silent model is restarted
        else:
            assert m.watchdog_events == 0 and m.recoveries == 0, m
        assert np.abs(soundfile.read(str(out), dtype="float32")[0]).max() == 0.0  # muted all along
    loud = Player(
        Recording(audio, gain=0.5),
        latency_ms=TEST_LATENCY_MS,
        seconds=1.0,
        watchdog=cfg,
        sinks=[WavSink(tmp_path / "loud.wav")],
    )
    play(loud)
    played, _ = soundfile.read(str(tmp_path / "loud.wav"), dtype="float32")
    np.testing.assert_allclose(played[:, 0], 0.5 * audio[:16000], atol=1e-4)  # the gain, applied once


DIES = """
import sys, time
from rt_samplernn.live.player import Player
from tests.stream_helpers import Tone
player = Player(Tone(16000, 1), latency_ms=100, watchdog=False)
player.start()
print("playing", flush=True)
finished = player.wait(30)
player.stop()
print("finished", finished, "lost", player.device_lost, "error", player.error, flush=True)
sys.exit(3 if player.device_lost else 4)
"""


@pytest.mark.skipif(not jack_available(), reason="jackd not installed")
def test_a_server_killed_mid_stream_stops_the_player_with_a_message():
    """The player is in a subprocess: PortAudio in a process whose server died can hang at exit."""
    with private_jack(16000) as (name, jackd):
        env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        proc = subprocess.Popen(
            [sys.executable, "-c", DIES],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=os.path.dirname(os.path.dirname(__file__)),
        )
        assert proc.stdout.readline().strip() == "playing"
        out, err = stop_server_under(proc, jackd)
    assert proc.returncode == 3, (out, err[-2000:])
    assert "finished True lost True" in out
    assert "stopped (the audio server went away" in out
