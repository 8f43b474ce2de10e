"""MIDI clock from another program over real JACK MIDI (a libjack client sending sample-accurate clock): the
tempo follows it within 0.5 BPM in 4 s, and a tempo-locked loop's recalls land on the grid that clock sets."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile

from rt_samplernn.live.midi import MidiController, MidiMap
from rt_samplernn.live.params import Parameters
from rt_samplernn.live.tempo import Loop, Tempo, TempoLocked
from rt_samplernn.models import DEMO_BUNDLE
from tests.jack import JackClockSender
from tests.midi_helpers import wait_until

pytest.importorskip("rtmidi")

pytestmark = pytest.mark.jack
BPMS = (90.0, 120.0, 174.0)
CLOCK_SECONDS = 4.0


def test_the_tempo_follows_a_jack_midi_clock_at_90_120_and_174_bpm_within_half_a_bpm_in_4_s(jack):
    with JackClockSender(jack, BPMS) as sender:
        followers = []
        try:
            for bpm in BPMS:  # each on the sender's port of that tempo, as --midi-clock opens it
                ctl = MidiController(Parameters(), MidiMap())
                ctl.tempo = Tempo(100.0)
                ctl.open(f"clock-sender:{sender.port_name(bpm)}", api="jack")
                followers.append(ctl)
            sender.sending.set()
            wait_until(lambda: sender.pulses[BPMS[0]] > 0, what="the clock's first pulses")
            time.sleep(CLOCK_SECONDS)
            shown = {bpm: (ctl.tempo.bpm, ctl.tempo.following) for bpm, ctl in zip(BPMS, followers)}
        finally:
            for ctl in followers:
                ctl.close()
    for bpm, ctl in zip(BPMS, followers):
        followed, following = shown[bpm]
        assert following, f"{bpm} BPM: the clock was not followed ({ctl.clock_messages} clock messages)"
        assert abs(followed - bpm) <= 0.5, f"{bpm} BPM shown as {followed:.2f}"
        assert ctl.messages == 0 and ctl.errors == 0  # the clock is not taken for a control


def test_loop_recalls_land_on_the_beat_grid_of_a_jack_midi_clock(jack, tmp_path):
    from rt_samplernn.live.rig import Rig
    from rt_samplernn.live.sinks import WavSink

    bpm = 120.0
    rig = Rig(voices=1, seed=4, watchdog=False)
    rig.open(DEMO_BUNDLE)
    engine = rig.engine
    assert engine is not None
    rate = engine.sample_rate
    locked = TempoLocked(engine, Tempo(100.0), Loop(beats=1, align="start"), quantize="off")
    take = tmp_path / "take.wav"
    with JackClockSender(jack, (bpm,)) as sender:
        try:
            player = rig.prepare("none", 100, producer=locked, sinks=[WavSink(take)])
            opened = rig.open_midi_clock(f"clock-sender:{sender.port_name(bpm)}", api="jack")
            player.start()
            sender.sending.set()
            wait_until(lambda: locked.tempo.following, what="the clock to be followed")
            followed_at = locked.position
            time.sleep(CLOCK_SECONDS)
        finally:
            rig.close()
    assert "out_120" in opened
    audio, _ = soundfile.read(str(take), dtype="int16")
    beat = rate * 60.0 / bpm
    recorded = [s for _, s in locked.beats if s + 1.1 * beat <= len(audio)]  # the worker runs ahead of the file
    beats = [s for s in recorded if s > followed_at + 2 * rate]  # the fit settled: 2 s of clock
    assert len(beats) >= 3, (locked.beats, len(audio))
    assert abs(locked.tempo.bpm - bpm) <= 0.5
    spacing = np.diff(beats)
    assert np.all(np.abs(spacing - beat) <= beat * 0.5 / bpm + 1), spacing  # a beat at 120 +- 0.5 BPM
    n = int(spacing.min())
    for a, b in zip(beats, beats[1:]):  # each beat is the loop's bookmark again, from its first sample
        np.testing.assert_array_equal(audio[b : b + n], audio[a : a + n])
    assert not np.array_equal(audio[beats[0] - n : beats[0]], audio[beats[0] : beats[0] + n])
    assert locked.loop is not None and locked.loop.recalls >= len(beats)
