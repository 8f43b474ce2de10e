"""The window's tempo with the live side, offscreen: the BPM field is the ``tempo.bpm`` knob (OSC and MIDI move it
too), the variation box the ``loop.variation`` knob, the loop's alignment reaches the loop, an effect knob is drawn
once, the session file keeps the chains' knobs, the tempo and the loop, the quantize selector moves where a pad
lands, a stopped window's pad acts at once, and a real JACK MIDI clock is followed.

Real Qt widgets, the session's real rack and tempo-locked producer; the quantize test drives the worker's block
path by hand (the control loop's tick, then the producer) so the beat a prime lands on is exact.
"""

# ruff: noqa: F811  (the fixtures imported from test_gui_effects, taken as arguments by name)
from __future__ import annotations

import time

import pytest

from rt_samplernn.live.devices import NO_DEVICE
from tests.midi_helpers import tone, wait_until
from tests.test_gui_effects import add, bundle, make_window  # noqa: F401  (pytest fixtures, used by name)

BLOCK = 256
BPM = "tempo.bpm"
VARIATION = "loop.variation"


def test_the_bpm_field_writes_tempo_bpm_and_an_osc_or_midi_write_shows_in_it(qtbot, make_window, bundle):
    from pythonosc.udp_client import SimpleUDPClient

    w = make_window(bundle)
    params, fx = w.session.params, w.session.fx
    w.tempo.bpm_spin.setValue(97.5)  # the performer types a tempo
    assert params[BPM].target == 97.5 and fx.tempo.bpm == 97.5  # the knob, and (stopped) the tempo at once

    w.session.open_osc(0, "127.0.0.1")
    SimpleUDPClient("127.0.0.1", w.session.osc_port).send_message("/tempo/bpm", 150.0)
    qtbot.waitUntil(lambda: params[BPM].target == 150.0, timeout=5000)
    w.tempo.poll_fast()
    assert w.tempo.bpm_spin.value() == 150.0
    w.session.fx.poll()  # the window's slow timer: the write reaches the tempo while stopped
    assert fx.tempo.bpm == 150.0 and "150.0 BPM" in fx.tempo_text()

    w.session.midi.learn(BPM)  # MIDI learn on the tempo knob, then a control turned all the way down
    controller = w.session.midi.controller
    controller.feed([0xB0, 22, 64])
    controller.feed([0xB0, 22, 0])
    w.tempo.poll_fast()
    assert params[BPM].target == 20.0 and w.tempo.bpm_spin.value() == 20.0


def test_the_variation_box_follows_an_osc_write_without_writing_it_back_and_a_reopened_bundle_keeps_it(
    qtbot, make_window, bundle
):
    from pythonosc.udp_client import SimpleUDPClient

    w = make_window(bundle, argv=["--bpm", "120", "--loop-beats", "4"])  # the loop on: loop.variation is a knob
    params = w.session.params
    w.session.open_osc(0, "127.0.0.1")
    SimpleUDPClient("127.0.0.1", w.session.osc_port).send_message("/loop/variation", 0.357)
    qtbot.waitUntil(lambda: params[VARIATION].target == pytest.approx(0.357), timeout=5000)
    w.poll_fast()  # the window's draw timer
    assert w.tempo.variation_spin.value() == 0.36  # shown at the box's two decimals
    assert params[VARIATION].target == pytest.approx(0.357)  # showing did not write 0.36 back
    w.session.fx.poll()  # the window's slow timer: the write reaches the loop while stopped
    assert w.session.fx.locked.loop.variation == pytest.approx(0.357)

    w.set_voices(1)  # the bundle reopened with one voice: a new producer, the knob's value kept
    assert w.session.params[VARIATION].target == pytest.approx(0.357)
    assert w.tempo.variation_spin.value() == 0.36


def test_the_loop_alignment_chosen_in_the_window_reaches_the_loop_and_the_session_file_keeps_it(make_window, bundle):
    w = make_window(bundle)
    combo, fx = w.tempo.align_combo, w.session.fx
    assert combo.currentData() == "onset"  # --loop-align's default
    w.tempo.loop_button.click()
    assert fx.locked.loop is not None and fx.locked.loop.align == "onset"
    combo.setCurrentIndex(combo.findData("start"))  # the performer picks "start on the beat"
    _, producer = fx.start_parts()  # the producer the player is handed, rewound for the start
    assert producer.loop is not None and producer.loop.align == "start"
    w.close()  # the settings are written on close

    again = make_window(bundle)  # the same settings file
    fx = again.session.fx
    assert fx.loop_on and fx.locked.loop is not None and fx.locked.loop.align == "start"
    assert again.tempo.align_combo.currentData() == "start"


def test_a_loop_kept_before_loops_had_an_alignment_comes_back_with_its_attack_on_the_beat(
    make_window, bundle, tmp_path
):
    from rt_samplernn.gui.settings import open_settings

    settings = open_settings(tmp_path / "gui.ini")  # the file make_window opens
    settings.fx_session = {"loop": {"on": True, "beats": 2, "variation": 0.25}}  # no "align": an older file
    settings.sync()
    w = make_window(bundle)
    fx = w.session.fx
    assert fx.loop_on and fx.loop_beats == 2 and fx.locked.loop is not None, w.session._errors
    assert fx.locked.loop.align == "onset" and w.tempo.align_combo.currentData() == "onset"


def test_an_effect_knob_is_drawn_once_in_the_effects_panel_not_among_the_voice_dials(make_window, bundle):
    w = make_window(bundle)  # the limiter is on: its ceiling knob is an added cell too
    add(w.effects, "master", "distortion")
    name = "fx.master.distortion.drive_db"
    w.session.start(NO_DEVICE, 60)  # playing: the tempo's knob joins the parameters too
    try:
        assert name in w.session.params and BPM in w.session.params
        w.voices.build()  # as a reopened bundle rebuilds them
        assert list(w.effects.dials) == [name]
        added = [n for n in w.voices.dials if n.startswith("fx.") or n == BPM]
        assert added == [], added
    finally:
        w.session.stop()


def test_the_session_file_keeps_an_effect_knob_value_the_bpm_and_the_quantize(make_window, bundle):
    w = make_window(bundle)
    add(w.effects, "voice2", "bitcrush")
    name = "fx.voice2.bitcrush.bit_depth"
    w.session.params[name].set(5.0)  # a MIDI knob or the dial
    w.tempo.bpm_spin.setValue(97.5)
    w.tempo.quantize_combo.setCurrentText("bar")
    w.close()  # the settings are written on close

    again = make_window(bundle)  # the same settings file
    rack, params = again.session.fx.rack, again.session.params
    assert rack.chain("voice2").effect_names() == ["bitcrush"]
    assert params[name].target == 5.0
    assert params[BPM].target == 97.5 and again.session.fx.tempo.bpm == 97.5 and again.tempo.bpm_spin.value() == 97.5
    assert again.session.fx.quantize == "bar" and again.tempo.quantize_combo.currentText() == "bar"


def test_a_session_file_entry_that_cannot_be_restored_is_one_line_each_and_the_rest_is(make_window, bundle, tmp_path):
    import json

    from rt_samplernn.gui.settings import open_settings

    settings = open_settings(tmp_path / "gui.ini")  # the file make_window opens
    settings.fx_session = {
        "effects": [
            {"chain": "voice9", "name": "reverb", "source": "reverb"},  # no ninth voice here
            {"chain": "master", "name": "gain", "source": "gain"},
            {"chain": "master", "name": "x", "source": str(tmp_path / "Gone.vst3")},  # a plugin since removed
        ],
        "controls": {"fx.master.gain.gain_db": 3.0, "tempo.bpm": "fast"},
        "loop": {"on": True, "beats": 0},
    }
    settings.sync()
    w = make_window(bundle)
    errors = w.session._errors
    said = [e for e in errors if e.startswith("session file:")]
    assert len(said) == 3 and all("\n" not in e for e in said), errors
    assert "voice9" in said[0] and "Gone.vst3" in said[1] and "--loop-beats 0" in said[2]
    assert w.session.fx.rack.master.effect_names() == ["gain"]
    assert w.session.params["fx.master.gain.gain_db"].target == 3.0 and w.session.fx.tempo.bpm == 120.0
    assert not w.session.fx.loop_on
    assert json.loads(json.dumps(w.session.fx.session_state()))["effects"][0]["name"] == "gain"


@pytest.mark.parametrize(("quantize", "lands"), [("beat", 1), ("bar", 4)])
def test_the_quantize_selector_moves_the_beat_a_pads_prime_lands_on(
    qtbot, make_window, bundle, tmp_path, quantize, lands
):
    w = make_window(bundle, voices=1, argv=["--bpm", "240"])  # a beat of 4000 samples at 16 kHz
    session, fx = w.session, w.session.fx
    w.tempo.quantize_combo.setCurrentText(quantize)
    w.tempo.beats_spin.setValue(1)
    w.tempo.loop_button.click()  # the loop starts again from what a pad brings, on the beat it lands
    w.seeds.load_seed(0, tone(tmp_path / "seed.wav", rate=16000, seconds=0.5))
    rack, locked = fx.start_parts()
    session.rig.prepare(NO_DEVICE, 60, effects=rack, producer=locked)  # the player's parts, driven by hand
    control = session.control
    beat = session.sample_rate * 60.0 / 240.0

    def run(blocks: int) -> None:  # the worker: the control loop's tick, then the producer, per block
        for _ in range(blocks):
            control.tick(BLOCK)
            locked.generate(BLOCK, apply_gain=False)

    try:
        run(int(0.6 * beat) // BLOCK)  # mid beat 0
        w.seeds.prime(0)  # the pad
        qtbot.waitUntil(lambda: control.primes == 1, timeout=10000)  # primed on the helper thread, held
        assert locked.loop is not None and locked.loop.first_beat == 0  # nothing launched yet
        run(int(4.5 * beat) // BLOCK)
        assert locked.loop.first_beat == lands  # the launch restarted the loop on its beat
    finally:
        session.rig.stop()


def test_a_pad_after_playing_and_stopping_acts_at_once(qtbot, make_window, bundle):
    w = make_window(bundle, voices=1, argv=["--bpm", "120"])  # quantize: the next beat while playing
    session = w.session
    session.start(NO_DEVICE, 60)
    qtbot.waitUntil(lambda: session.fx.beat() is not None and session.player.metrics().seconds_played > 0.1)
    session.stop()
    w.bookmarks.save(0)
    w.bookmarks.recall(0)
    assert session.control.recalls == 1  # no beat comes while stopped: not held for one


@pytest.mark.jack
def test_the_window_follows_a_jack_midi_clock_chosen_in_its_clock_menu(qtbot, make_window, bundle, jack, monkeypatch):
    from tests.jack import JackClockSender

    monkeypatch.setenv("RT_SAMPLERNN_MIDI_API", "jack")
    w = make_window(bundle, voices=1)
    with JackClockSender(jack, (120.0,)) as sender:
        try:
            w.tempo.refresh_clock_ports()
            combo = w.tempo.clock_combo
            i = next(i for i in range(combo.count()) if combo.itemText(i).endswith(sender.port_name(120.0)))
            combo.setCurrentIndex(i)
            combo.activated.emit(i)  # the performer picks the port
            assert w.session.rig.clock is not None, w.last_error
            sender.sending.set()
            wait_until(lambda: w.session.fx.tempo.following, what="the clock to be followed")
            time.sleep(2.0)
            w.tempo.poll_fast()
            w.tempo.poll_slow()
            assert w.tempo.source_label.text().startswith("following MIDI clock at")
            assert abs(w.tempo.bpm_spin.value() - 120.0) <= 0.5
        finally:
            w.tempo.open_clock(None)
    assert w.session.rig.clock is None and w.tempo.clock_combo.currentIndex() == 0
