"""Tempo (rt_samplernn/live/tempo.py): MIDI clock following, the beat grid, recalls and actions on the beat."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.commands.fx_options import LOOP_ALIGN, QUANTIZE
from rt_samplernn.errors import UserError
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.tempo import (
    CLOCK,
    LOOP_ALIGNS,
    PPQN,
    QUANTIZE_BEATS,
    START,
    STOP,
    BeatGrid,
    Loop,
    Tempo,
    TempoLocked,
)
from rt_samplernn.measure import WindowAnalyser
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


def period_stamped(bpm: float, seconds: float, period_s: float, phase_s: float, seed: int = 0) -> np.ndarray:
    """Pulses as rtmidi's JACK input stamps them: each with the time its period was read (the period's end, up
    to 4 ms late), not its frame, so pulses a period shares share a stamp."""
    rng = np.random.default_rng(seed)
    exact = phase_s + np.arange(int(seconds * bpm * PPQN / 60.0)) * 60.0 / (bpm * PPQN)
    period = np.ceil(exact / period_s)
    late = rng.uniform(0.0, 0.004, int(period[-1]) + 1)
    return period * period_s + late[period.astype(int)]


@pytest.mark.parametrize("period_s", [256 / 16000, 1024 / 48000])
@pytest.mark.parametrize("bpm", [90.0, 120.0, 174.0])
def test_a_clock_stamped_by_jack_period_is_followed_within_half_a_bpm_in_4_s(bpm, period_s):
    """16 ms and 21 ms periods (the tests' JACK server, 1024 frames at 48 kHz): at 174 BPM a pulse is 14.4 ms,
    so periods hold two pulses under one stamp; a 4-beat fit with a half-pulse outlier bound was 1.7 BPM off."""
    errors = []
    for phase in range(10):
        tempo = Tempo(100.0)
        tempo.feed_midi(START, 0.0)
        for t in period_stamped(bpm, 4.0, period_s, phase_s=phase * period_s / 10, seed=phase):
            tempo.feed_midi(CLOCK, float(t))
        errors.append(abs(tempo.bpm - bpm))
    assert max(errors) <= 0.5, errors


@pytest.mark.parametrize("stall_s", [0.05, 0.1, 0.2])
def test_a_stall_of_the_audio_server_does_not_bend_the_followed_tempo(stall_s):
    """A JACK xrun holds the clock's pulses back and delivers them at once, stamped late; the tempo shown stays
    within 0.5 BPM at every pulse after it (a plain least-squares fit showed 174 BPM as 148)."""
    bpm = 174.0
    times = pulses(bpm, 8.0)
    stall_at = 4.0
    held = (times >= stall_at) & (times < stall_at + stall_s)
    times[held] = stall_at + stall_s + 0.0001 * np.arange(held.sum())  # delivered in a burst after the stall
    tempo = Tempo(100.0)
    tempo.feed_midi(START, 0.0)
    shown = []
    for t in times:
        tempo.feed_midi(CLOCK, float(t))
        if t >= stall_at - 1.0:
            shown.append(tempo.bpm)
    assert np.max(np.abs(np.array(shown) - bpm)) <= 0.5, (min(shown), max(shown))


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
    locked = TempoLocked(engine, Tempo(60.0 * rate / beat), Loop(beats=1, align="start"))
    audio = run_blocks(locked, 80)[0]
    assert [s for _, s in locked.beats] == [0, 4000, 8000, 12000, 16000, 20000]
    for k in range(1, len(audio) // beat):  # every beat is the first beat again, sample for sample
        np.testing.assert_array_equal(audio[k * beat : (k + 1) * beat], audio[:beat])
    assert np.abs(audio[:beat]).max() > 0  # and it is sound, not silence
    assert locked.loop is not None and locked.loop.recalls == len(audio) // beat - 1 + (len(audio) % beat > 0)


def strongest_onsets_from_beats_ms(audio: np.ndarray, rate: int, beat: int, first: int) -> list[float]:
    """For each whole beat from beat ``first`` on: ms from the beat to the strongest onset within half a beat."""
    analyser = WindowAnalyser(rate)
    onset = analyser.onset_envelope(analyser.log_mel(audio))
    times = analyser.onset_time_s(np.arange(len(onset))) * rate
    offsets = []
    for k in range(first, len(audio) // beat - 1):
        near = np.abs(times - k * beat) <= beat / 2
        offsets.append(float(times[near][np.argmax(onset[near])] - k * beat) / rate * 1000.0)
    return offsets


@pytest.fixture(scope="module")
def demo_seeds() -> dict[str, dict[int, float]]:
    """The demo's seeds at T 1.0 by where a state's strongest onset falls when its loop is recalled on the beat
    (align="start"), as measured on this CPU: its kernels draw other samples than another CPU's, so which seed
    does what is found here, not written down. 'seam': the jump back to the state is the strongest onset
    (within 10 ms of the beat); 'late': the state's own attack, over 100 ms off the beat. Each seed maps to its
    median offset in ms."""
    engine = Engine(DEMO_BUNDLE, voices=1, seed=0)
    engine.set_temperature(1.0)
    rate = engine.sample_rate
    found: dict[str, dict[int, float]] = {"seam": {}, "late": {}}
    for seed in range(16):
        engine.reset(seed=seed)
        locked = TempoLocked(engine, Tempo(60.0 * rate / 4000), Loop(beats=1, align="start"))
        offsets = strongest_onsets_from_beats_ms(run_blocks(locked, 96)[0], rate, 4000, first=2)
        if np.all(np.abs(offsets) <= 10.0):
            found["seam"][seed] = float(np.median(offsets))
        elif np.median(np.abs(offsets)) > 100.0:
            found["late"][seed] = float(np.median(offsets))
        if found["seam"] and two_attacks_apart(found["late"]):
            return found
    pytest.fail(f"the demo's seeds 0-15 at T 1.0 give {found}: no loop to align (one seam seed, two late ones)")


def two_attacks_apart(late: dict[int, float]) -> tuple[int, int] | None:
    """Two late seeds whose attacks fall over 50 ms apart, or None."""
    for a in late:
        for b in late:
            if abs(late[a] - late[b]) > 50.0:
                return a, b
    return None


def demo_at(seed: int) -> Engine:
    engine = Engine(DEMO_BUNDLE, voices=1, seed=seed)
    engine.set_temperature(1.0)
    return engine


def test_a_loop_recalled_on_the_beat_can_have_its_attack_off_the_grid(demo_seeds):
    """The contrast that lets the test below fail: the demo has states whose attack, with align="start", falls
    over 100 ms off the beat (the fixture fails when none of its first 16 seeds has one), and that loop keeps
    recalling on the beat with no lead."""
    seed = next(iter(demo_seeds["late"]))
    engine = demo_at(seed)
    locked = TempoLocked(engine, Tempo(60.0 * engine.sample_rate / 4000), Loop(beats=1, align="start"))
    run_blocks(locked, 120)
    assert locked.loop is not None and locked.loop.lead == 0
    assert list(locked.recalls)[:5] == [4000, 8000, 12000, 16000, 20000]


def test_a_loop_puts_its_strongest_onset_on_the_beat(demo_seeds):
    """From the third beat on (the first pass is the state's own, the second is measured), each recall lands
    the lead early and the attack falls within 10 ms of the beat (the issue's floor)."""
    engine = demo_at(next(iter(demo_seeds["late"])))
    rate = engine.sample_rate
    beat = 4000  # 120 BPM at 8 kHz
    locked = TempoLocked(engine, Tempo(60.0 * rate / beat), Loop(beats=1))
    audio = run_blocks(locked, 200)[0]  # 6.4 s
    assert locked.loop is not None and locked.loop.lead > 0.05 * rate  # the attack is well after the recall
    lead = locked.loop.lead
    assert list(locked.recalls)[:5] == [beat, 2 * beat, 3 * beat - lead, 4 * beat - lead, 5 * beat - lead]
    offsets = strongest_onsets_from_beats_ms(audio, rate, beat, first=3)
    assert np.all(np.abs(offsets) <= 10.0), offsets
    aligned = audio[3 * beat - lead : 4 * beat - lead]
    for k in range(4, len(audio) // beat - 1):  # each pass is the first aligned one again, sample for sample
        np.testing.assert_array_equal(audio[k * beat - lead : (k + 1) * beat - lead], aligned)


def test_a_loop_whose_seam_is_its_strongest_onset_keeps_recalling_on_the_beat(demo_seeds):
    """A state whose jump back to it is louder than anything after it: the lead stays 0, the seam on the beat."""
    engine = demo_at(next(iter(demo_seeds["seam"])))
    rate = engine.sample_rate
    locked = TempoLocked(engine, Tempo(60.0 * rate / 4000), Loop(beats=1))
    audio = run_blocks(locked, 200)[0]
    assert locked.loop is not None and locked.loop.lead == 0
    assert np.all(np.abs(strongest_onsets_from_beats_ms(audio, rate, 4000, first=3)) <= 10.0)


def test_a_pad_restarts_the_loop_and_its_onset_is_measured_again(demo_seeds):
    first, second = two_attacks_apart(demo_seeds["late"]) or pytest.fail("no two late seeds")
    engine = demo_at(first)
    rate = engine.sample_rate
    locked = TempoLocked(engine, Tempo(60.0 * rate / 4000), Loop(beats=1))
    run_blocks(locked, 40)  # 10240 samples: the pass from beat 1 measured at beat 2
    assert locked.loop is not None and locked.loop.lead > 0
    first_lead = locked.loop.lead
    bookmark = locked.loop.state
    assert bookmark is not None
    engine.reset(seed=second)  # a state whose attack falls elsewhere
    other = engine.snapshot()
    locked.launch(lambda: engine.restore(other))  # lands on beat 3 (12000)
    run_blocks(locked, 8)  # to 12288: just past the pad's beat
    assert locked.loop.first_beat == 3 and locked.loop.lead == 0  # a new state: measured afresh
    assert locked.loop.state is not bookmark
    run_blocks(locked, 40)  # its pass from beat 4 measured at beat 5 (20000)
    after_pad = [at for at in locked.recalls if at > 12000]
    assert after_pad[:2] == [16000, 20000]  # on the beat while its pass was heard
    assert locked.loop.lead not in (0, first_lead)  # the new state's own attack


def test_the_command_lines_choices_are_the_tempos():
    assert set(LOOP_ALIGN) == set(LOOP_ALIGNS) and set(QUANTIZE) == set(QUANTIZE_BEATS)
    with pytest.raises(UserError, match="--loop-align"):
        Loop(beats=1, align="bar")


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
