"""MIDI over real JACK MIDI ports (a JACK dummy server; another client sends with rtmidi), driving the real
Engine on a tiny exported bundle: a CC lands within one block, learn binds, a pad primes from its slot, odd
messages are harmless, a vanished port is reported and comes back."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.params import FloatSpec, Parameters
from tests.midi_helpers import ControlledProducer, jack_sender, make_engine, midi_bundle, tone, wait_until

pytest.importorskip("rtmidi")

pytestmark = pytest.mark.jack


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return midi_bundle(tmp_path_factory)


@contextmanager
def listening(params, control=None, port="virtual", **kw):
    from rt_samplernn.live.midi import MidiController, default_map

    ctl = MidiController(params, default_map(params.voices), control=control, map_path="/nonexistent/m.toml", **kw)
    try:
        ctl.open(port, api="jack")
        yield ctl
    finally:
        ctl.close()


class BlockLog:
    """A producer thread like the Player's worker: per block, note which parameter writes had landed
    before the block started, tick + generate, and note the engine's temperatures for that block."""

    def __init__(self, producer, cell, frames=256, pause_s=0.004):
        self.producer, self.cell, self.frames, self.pause_s = producer, cell, frames, pause_s
        self.rows: list[tuple[int, np.ndarray]] = []  # (cell version seen before the block, temperatures)
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop:
            seen = self.cell.version
            self.producer.generate(self.frames)
            self.rows.append((seen, self.producer.engine.temperatures))
            time.sleep(self.pause_s)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.thread.join(5)


def test_cc_from_another_jack_port_changes_temperature_within_one_block(jack, bundle):
    engine = make_engine(bundle)
    params = Parameters(temperature=FloatSpec(0.5, 1.5, 1.0, smoothing_ms=0))
    with LiveControl(params, engine) as control, listening(params, control) as ctl:
        producer = ControlledProducer(engine, control)
        with jack_sender("rt-samplernn") as out, BlockLog(producer, params.temperature) as blocks:
            wait_until(lambda: len(blocks.rows) >= 3, what="blocks")
            before = params.temperature.version
            out.send_message([0xB0, 1, 127])  # CC 1 (the default map's temperature) to the top: 1.5
            wait_until(lambda: params.temperature.version != before, what="the CC")
            written = params.temperature.version
            n = len(blocks.rows)
            wait_until(lambda: len(blocks.rows) >= n + 3, what="more blocks")
            rows = list(blocks.rows)
    assert ctl.messages == 1 and ctl.errors == 0
    # blocks that started before the write: the old value (the last one may have caught the new one early)
    before_rows = [t[0] for seen, t in rows if seen < written]
    assert before_rows[0] == pytest.approx(1.0) and all(t in (1.0, 1.5) for t in before_rows)
    after = [t[0] for seen, t in rows if seen >= written]
    # the first block that started after the CC was received already runs at the new temperature
    assert after and after[0] == pytest.approx(1.5) and all(t == pytest.approx(1.5) for t in after)


def test_smoothed_cc_starts_moving_within_one_block_and_lands(jack, bundle):
    engine = make_engine(bundle)
    # full range in 64 ms = 4 blocks of 16 ms: a full jump ramps 0.25 per block
    params = Parameters(temperature=FloatSpec(0.5, 1.5, 0.5, smoothing_ms=64.0))
    engine.set_temperature(0.5)
    with LiveControl(params, engine) as control, listening(params, control) as ctl:
        producer = ControlledProducer(engine, control)
        with jack_sender("rt-samplernn") as out, BlockLog(producer, params.temperature) as blocks:
            wait_until(lambda: len(blocks.rows) >= 2, what="blocks")
            out.send_message([0xB0, 1, 127])
            wait_until(lambda: params.temperature.target == 1.5, what="the CC")
            written = params.temperature.version
            n = len(blocks.rows)
            wait_until(lambda: len(blocks.rows) >= n + 6, what="more blocks")
            rows = list(blocks.rows)
    after = [t[0] for seen, t in rows if seen >= written]
    assert after[0] > 0.5  # the first block that started after the CC already moved toward it
    temps = [t[0] for seen, t in rows]
    start = next(i for i, t in enumerate(temps) if t != 0.5)
    assert temps[:start] == [0.5] * start
    assert temps[start : start + 5] == pytest.approx([0.75, 1.0, 1.25, 1.5, 1.5])  # 0.25 per block: no click
    assert temps[-1] == pytest.approx(1.5) and ctl.errors == 0


def test_learn_binds_a_control_sent_over_jack(jack):
    params = Parameters(gain=FloatSpec(0.0, 2.0, 1.0, smoothing_ms=0))
    with listening(params) as ctl, jack_sender("rt-samplernn") as out:
        ctl.arm_learn("gain")
        v = ctl.learn_version
        out.send_message([0xB5, 50, 10])  # CC 50 on channel 6
        wait_until(lambda: ctl.learn_version != v, what="learn")
        assert ctl.learning is None
        assert ctl.last_bound.describe() == "CC 50 ch 6"
        assert params["gain"].target == 1.0
        out.send_message([0xB5, 50, 127])
        wait_until(lambda: params["gain"].target == 2.0, what="the learned CC")
        out.send_message([0xB0, 7, 0])  # the default gain control still works (a second binding kind)
        out.send_message([0xB4, 50, 0])  # CC 50 on another channel: not this binding
        out.send_message([0xB5, 50, 0])
        wait_until(lambda: ctl.messages == 5, what="the messages")
        wait_until(lambda: params["gain"].target == 0.0, what="the last CC")
        assert [m for m in ctl.mappings if m.param == "gain"][-1].channel == 5


def test_a_note_primes_from_its_slot(jack, bundle, tmp_path):
    from rt_samplernn.audio import read_audio

    engine = make_engine(bundle, seed=3)
    params = Parameters(slot_count=4)
    for i, clip in enumerate([tone(tmp_path / "a.wav", hz=220.0), tone(tmp_path / "b.wav", 44100, hz=550.0)]):
        params.load_slot(i, clip)
    with LiveControl(params, engine) as control, listening(params, control) as ctl:
        with jack_sender("rt-samplernn") as out:
            out.send_message([0x90, 37, 100])  # pad 2 (note 37): slot 1
            wait_until(lambda: control.primes == 1, what="the prime")
    assert params["slot"].target == 1 and ctl.errors == 0 and control.message == ""
    got = engine.generate(2048)
    reference = make_engine(bundle, seed=3)
    reference.prime(*read_audio(tmp_path / "b.wav"))
    assert np.array_equal(got, reference.generate(2048))  # exactly as if primed from slot 1 directly
    other = make_engine(bundle, seed=3)
    other.prime(*read_audio(tmp_path / "a.wav"))
    assert not np.array_equal(got, other.generate(2048))  # and not from slot 0


def test_odd_messages_over_jack_do_not_disturb(jack):
    params = Parameters(
        temperature=FloatSpec(0.5, 1.5, 1.0, smoothing_ms=0), gain=FloatSpec(0.0, 2.0, 1.0, smoothing_ms=0)
    )
    with listening(params) as ctl, jack_sender("rt-samplernn") as out:
        odd = [
            [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7],  # sysex (identity request)
            [0xF8],
            [0xFA],
            [0xFC],
            [0xFE],
            [0xFF],  # clock, start, stop, active sensing, reset
            [0xF4],
            [0xF5],
            [0xFD],
            [0xF2, 1, 2],
            [0xF1, 3],  # undefined and system common
            [0xE0, 0, 64],
            [0xA0, 60, 3],
            [0xD0, 5],
            [0xC0, 7],  # messages nothing maps
            [0xB0, 7, 127],
            [64],  # gain to 2.0, then running status: [CC 64, no value yet]
            [0x90, 200 & 0x7F, 0],
        ]
        for m in odd:
            out.send_message(m)
        out.send_message([0xB0, 1, 0])
        out.send_message([1, 127])  # running status: CC 1 = 127
        wait_until(lambda: params["temperature"].target == 1.5, what="the running-status CC")
        assert params["gain"].target == 2.0
        # rtmidi itself drops sysex and active sensing; clock, start and stop are the tempo's (timing is let
        # through for the MIDI clock), never counted as controls; MTC (F1) comes through and maps to nothing
        assert ctl.messages == len(odd) + 2 - 5
        assert ctl.errors == 0 and ctl._thread.is_alive()


def test_a_vanished_port_is_reported_and_comes_back(jack):
    from rt_samplernn.live.midi import MidiController

    params = Parameters(temperature=FloatSpec(0.5, 1.5, 1.0, smoothing_ms=0))
    ctl = MidiController(params, map_path="/nonexistent/m.toml", port_check_s=0.05)
    try:
        with jack_sender(None, client="knobs") as out:
            ctl.open("knobs", api="jack")
            assert ctl.port_name == "knobs:out" and ctl.connected
            out.send_message([0xB0, 1, 0])
            wait_until(lambda: params["temperature"].target == 0.5, what="the first CC")
            v = ctl.status_version
        # the sender is gone now
        wait_until(lambda: ctl.status_version != v and not ctl.connected, what="the vanish report")
        assert "vanished; playback goes on" in ctl.status
        with jack_sender(None, client="knobs") as out:
            wait_until(lambda: "is back" in ctl.status, what="the reconnect")  # status is set last
            assert ctl.connected
            out.send_message([0xB0, 1, 127])
            wait_until(lambda: params["temperature"].target == 1.5, what="a CC after the reconnect")
        assert ctl.errors == 0 and ctl._thread.is_alive()
    finally:
        ctl.close()


def test_opening_errors_are_one_line_user_errors(jack):
    from rt_samplernn.errors import UserError
    from rt_samplernn.live.midi import MidiController, list_input_ports

    with jack_sender(None, client="pad-controller"):
        assert "pad-controller:out" in list_input_ports("jack")
        ctl = MidiController(Parameters(), map_path="/nonexistent/m.toml")
        with pytest.raises(UserError, match="'nanokontrol' not found; ports: 0: pad-controller:out"):
            ctl.open("nanokontrol", api="jack")
        with pytest.raises(UserError, match="MIDI API 'coremidi': not in this python-rtmidi build"):
            ctl.open("virtual", api="coremidi")
        assert not ctl.connected
        ctl.close()
