"""Tempo (rt_samplernn/live/tempo.py): MIDI clock following, the beat grid, recalls and actions on the beat."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.errors import UserError
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.tempo import CLOCK, PPQN, START, STOP, BeatGrid, Loop, Tempo, TempoLocked
from rt_samplernn.models import DEMO_BUNDLE


def pulses(bpm: float, seconds: float, t0: float = 0.0, jitter_s: float = 0.001, seed: int = 0):
    """Timestamps of MIDI clock pulses at ``bpm``, each off by up to ``jitter_s`` (a busy sender)."""
    rng = np.random.default_rng(seed)
    period = 60.0 / (bpm * PPQN)
    n = int(seconds / period)
    return t0 + np.arange(n) * period + rng.uniform(-jitter_s, jitter_s, n)


@pytest.mark.parametrize("bpm", [90.0, 120.0, 174.0])
def test_midi_clock_tempo_is_followed_within_half_a_bpm_in_4_s(bpm):
    tempo = Tempo(100.0)
    tempo.feed_midi(START, 0.0)
    for t in pulses(bpm, 4.0):
        tempo.feed_midi(CLOCK, float(t))
    assert tempo.following
    assert abs(tempo.bpm - bpm) <= 0.5


def test_a_tempo_change_is_followed_and_stop_hands_back_the_set_tempo():
    tempo = Tempo(100.0)
    tempo.feed_midi(START, 0.0)
    times = pulses(120.0, 4.0)
    for t in times:
        tempo.feed_midi(CLOCK, float(t))
    for t in pulses(174.0, 4.0, t0=float(times[-1]) + 60.0 / (120.0 * PPQN), seed=1):
        tempo.feed_midi(CLOCK, float(t))
    assert abs(tempo.bpm - 174.0) <= 0.5
    tempo.feed_midi(STOP, 9.0)
    assert not tempo.following and tempo.bpm == 100.0
    with pytest.raises(UserError, match="20..400 BPM"):
        tempo.set_bpm(1000.0)


def test_the_beat_grid_keeps_its_phase_through_a_tempo_change():
    tempo = Tempo(120.0)
    grid = BeatGrid(tempo, 16000)  # 8000 samples a beat
    assert grid.beats_in(0, 256) == [(0, 0)]
    assert grid.next_beat(1) == (1, 8000)
    assert [s for _, s in grid.beats_in(0, 24001)] == [0, 8000, 16000, 24000]
    tempo.set_bpm(240.0)  # 4000 a beat from here on
    grid.sync(10000)  # a quarter of the way into beat 1
    assert grid.beat_at(10000) == pytest.approx(1.25)
    assert grid.next_beat(10000) == (2, 13000)  # the rest of the beat at the new tempo
    tempo.clock.feed(START, 0.0)
    grid.sync(20000)
    assert grid.next_beat(20000) == (0, 20000)  # a clock start: beat 0 at the next block


@pytest.fixture(scope="module")
def engine_factory():
    def make() -> Engine:
        engine = Engine(DEMO_BUNDLE, voices=1, seed=3)
        engine.set_temperature(1.0)
        return engine

    return make


def run_blocks(producer, blocks: int, n: int = 256) -> np.ndarray:
    return np.concatenate([producer.generate(n, apply_gain=False) for _ in range(blocks)], axis=1)


def test_loop_recalls_land_on_the_beat_grid(engine_factory):
    engine = engine_factory()
    rate = engine.sample_rate
    beat = 4000  # samples a beat: beats fall inside blocks of 256, not on their seams
    locked = TempoLocked(engine, Tempo(60.0 * rate / beat), Loop(beats=1))
    audio = run_blocks(locked, 80)[0]
    assert [s for _, s in locked.beats] == [0, 4000, 8000, 12000, 16000, 20000]
    for k in range(1, len(audio) // beat):  # every beat is the first beat again, sample for sample
        np.testing.assert_array_equal(audio[k * beat : (k + 1) * beat], audio[:beat])
    assert np.abs(audio[:beat]).max() > 0  # and it is sound, not silence
    assert locked.loop is not None and locked.loop.recalls == len(audio) // beat - 1 + (len(audio) % beat > 0)


def test_loop_variation_skips_recalls_by_a_seeded_draw(engine_factory):
    def take(seed: int) -> tuple[np.ndarray, Loop]:
        loop = Loop(beats=1, variation=0.5, seed=seed)
        engine = engine_factory()
        locked = TempoLocked(engine, Tempo(60.0 * engine.sample_rate / 4000.0), loop)
        return run_blocks(locked, 160), loop

    a, loop_a = take(7)
    b, _ = take(7)
    np.testing.assert_array_equal(a, b)  # the same seed, the same pattern of skips
    assert loop_a.recalls > 0 and loop_a.skipped > 0
    with pytest.raises(UserError, match="--loop-beats"):
        Loop(beats=0)
    with pytest.raises(UserError, match="--loop-variation"):
        Loop(beats=4, variation=1.5)


def test_a_quantized_recall_waits_for_the_next_beat(engine_factory):
    engine = engine_factory()
    rate = engine.sample_rate
    locked = TempoLocked(engine, Tempo(60.0 * rate / 4000.0))
    run_blocks(locked, 10)  # 2560 samples in: beat 0 is behind, beat 1 at 4000
    bookmark = engine.snapshot()
    after_bookmark = run_blocks(locked, 1)[0]  # samples 2560..2815 follow the bookmark
    locked.quantize(lambda: engine.restore(bookmark))  # a pad, between blocks
    audio = run_blocks(locked, 8)[0]  # samples 2816..4863
    split = 4000 - 2816  # the recall lands at sample 4000, inside a block
    assert list(locked.beats)[-1] == (1, 4000)
    np.testing.assert_array_equal(audio[split : split + 256], after_bookmark)
    assert not np.array_equal(audio[:256], after_bookmark)


def test_a_clock_joined_mid_song_is_followed_until_its_stop():
    tempo = Tempo(100.0)
    for t in pulses(140.0, 2.0):  # no start: the sender was already running when we joined
        tempo.feed_midi(CLOCK, float(t))
    assert tempo.following and abs(tempo.bpm - 140.0) <= 0.5
    tempo.feed_midi(STOP, 2.1)
    for t in pulses(140.0, 1.0, t0=2.2):  # a sender that goes on clocking while stopped
        tempo.feed_midi(CLOCK, float(t))
    assert not tempo.following and tempo.bpm == 100.0
