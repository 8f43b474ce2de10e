"""Effect parameters are knobs like every other (Parameters.add_cells via the rig): from a MIDI control learned
over real JACK MIDI, from their OSC address over real UDP and from a recalled bookmark (and the bookmarks file)
they reach the effect in the worker's chain, with no wiring per effect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rt_samplernn.live.effects import Rack
from rt_samplernn.live.rig import Rig
from rt_samplernn.live.tempo import Tempo, TempoLocked
from rt_samplernn.models import DEMO_BUNDLE
from tests.midi_helpers import jack_sender, wait_until

ROOM = "fx.master.reverb.room_size"


@pytest.fixture()
def rig() -> Iterator[Rig]:
    """The demo playing on the software clock through a reverb, the limiter and a tempo (quantize off)."""
    rig = Rig(voices=1, seed=2, watchdog=False)
    rig.open(DEMO_BUNDLE)
    engine = rig.engine
    assert engine is not None
    rack = Rack(engine.sample_rate, 1, limiter_ceiling_db=-1.0)
    rack.master.add("reverb", {"room_size": 0.5})
    locked = TempoLocked(engine, Tempo(120.0), quantize="off")
    try:
        rig.prepare("none", 100, effects=rack, producer=locked).start()
        yield rig
    finally:
        rig.close()


def heard(rig: Rig, value: float, slot: int = 0, attr: str = "room_size") -> None:
    """Wait until the worker has set the plugin's parameter to ``value`` (the chain ramps it per block)."""
    assert rig.rack is not None
    plugin = rig.rack.master.slots[slot].plugin
    wait_until(lambda: abs(float(getattr(plugin, attr)) - value) < 1e-4, what=f"{attr} {value}")


def test_an_effect_knob_learned_from_a_jack_midi_control_reaches_the_reverb(jack, rig):
    from rt_samplernn.live.midi import Mapping

    rig.open_midi("virtual", api="jack")
    ctl = rig.midi
    assert ctl is not None
    ctl.arm_learn(ROOM)  # the window's learn button: the effect knob is a parameter by name
    with jack_sender("rt-samplernn") as out:
        version = ctl.learn_version
        out.send_message([0xB2, 30, 10])  # CC 30 on channel 3 binds
        wait_until(lambda: ctl.learn_version != version, what="learn")
        out.send_message([0xB2, 30, 127])
        heard(rig, 1.0)
        out.send_message([0xB2, 30, 0])
        heard(rig, 0.0)
    assert ctl.last_bound == Mapping(ROOM, "cc", 30, 2)
    assert ctl.errors == 0 and ctl.messages == 3


def test_an_effect_knob_has_an_osc_address_that_reaches_the_effect_even_for_one_added_while_playing(rig):
    from pythonosc.udp_client import SimpleUDPClient

    server = rig.open_osc(0, "127.0.0.1")
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/fx/master/reverb/room_size", 0.25)
    heard(rig, 0.25)
    assert rig.rack is not None
    rig.rack.master.add("lowpass", {"cutoff_frequency_hz": 3000.0})  # an effect added while playing
    rig.sync_cells()
    client.send_message("/fx/master/lowpass/cutoff_frequency_hz", 800.0)
    heard(rig, 800.0, slot=1, attr="cutoff_frequency_hz")
    client.send_message("/tempo/bpm", 90.0)  # the tempo's knob, the same way
    wait_until(lambda: rig.locked is not None and rig.locked.tempo.bpm == 90.0, what="the tempo")
    assert (server.messages, server.ignored) == (3, 0)


def test_a_recalled_bookmark_brings_the_effect_knobs_back_and_its_file_keeps_them(rig, tmp_path):
    from rt_samplernn.live.bookmarks import load_bookmarks, save_bookmarks
    from rt_samplernn.live.params import Parameters

    params, engine = rig.params, rig.engine
    assert params is not None and engine is not None
    params[ROOM].set(0.2)
    heard(rig, 0.2)
    params.pad("bookmark_save", 0)  # a pad
    wait_until(lambda: params.bookmarks[0] is not None, what="the bookmark")
    saved = params.bookmarks[0]
    assert saved is not None and saved.controls[ROOM] == pytest.approx(0.2)
    assert "tempo.bpm" not in saved.controls  # a recall does not move the tempo
    params[ROOM].set(0.9)
    params["tempo.bpm"].set(150.0)
    heard(rig, 0.9)
    params.pad("bookmark_recall", 0)
    heard(rig, 0.2)
    assert params["tempo.bpm"].target == 150.0

    save_bookmarks(params, tmp_path / "set.npz", "demo")
    again = Parameters()
    load_bookmarks(again, tmp_path / "set.npz", engine.state_spec())
    recalled = again.bookmarks[0]
    assert recalled is not None and recalled.controls == saved.controls
