"""The performance window, offscreen with pytest-qt, driving the real engine, player and MIDI on a JACK dummy server.

A tiny random-weight bundle is exported once per module; one JACK server serves the module's tests. Settings
go to a temporary INI file, MIDI maps to a temporary config folder: nothing touches the user's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from rt_samplernn.gui.app import create_window
from rt_samplernn.gui.session import LiveSession
from rt_samplernn.gui.session_midi import VIRTUAL_PORT_CHOICE
from rt_samplernn.gui.settings import open_settings
from tests.gui_helpers import window_bundle
from tests.jack import JackClipPlayer, jack_available, jack_server

rtmidi = pytest.importorskip("rtmidi")


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return window_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def jack_module():
    """One JACK dummy server (16 kHz, period 256) for this module's tests."""
    if not jack_available():
        pytest.skip("jackd not installed (apt-get install jackd2)")
    with jack_server(16000, 256) as name:
        yield name


@pytest.fixture
def make_window(keep_window, tmp_path):
    """make(bundle=None, voices=1, settings=None) -> a shown PerformanceWindow; all closed afterwards."""

    def make(bundle=None, voices=None, settings: Path | None = None, use_default=False):
        settings_obj = open_settings(settings or tmp_path / "gui.ini")
        return keep_window(
            create_window(
                bundle, settings_obj, session=LiveSession(provider="cpu"), voices=voices, use_default=use_default
            )
        )

    return make


def tone(path: Path, rate=22050, seconds=0.6, hz=330.0) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(str(path), (0.6 * np.sin(2 * math.pi * hz * t)).astype(np.float32), rate)
    return path


_KEEP_ALIVE: list[QMimeData] = []


def set_learning(dial, on: bool) -> None:
    """What the window does to a dial's learn button while MIDI learn is armed for it (window._show_learning)."""
    dial.learn_button.blockSignals(True)
    dial.learn_button.setChecked(on)
    dial.learn_button.blockSignals(False)
    dial.learn_button.setText("learning…" if on else "learn")


def drop_event(paths: list[Path]) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    ev = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    _KEEP_ALIVE.append(mime)  # the event does not own its mime data
    return ev


def start(qtbot, w, latency_ms=300):
    assert w.transport.select_device("system"), w.last_error
    w.transport.latency_spin.setValue(latency_ms)
    qtbot.mouseClick(w.transport.start_button, Qt.MouseButton.LeftButton)
    player = w.session.player
    assert w.session.running, (w.last_error, w.status.text(), player and player.error)
    assert w.transport.start_button.isChecked() and "Stop" in w.transport.start_button.text()


class Sender:
    """A JACK MIDI output connected to the window's virtual input port."""

    def __init__(self):
        from rt_samplernn.live.midi import find_port

        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "gui-test")
        self.out.open_port(find_port("rt-samplernn", self.out.get_ports()), "out")

    def cc(self, number: int, value: int, channel: int = 0) -> None:
        self.out.send_message([0xB0 | channel, number, value])

    def close(self):
        self.out.close_port()
        self.out.delete()


# ------------------------------------------------------------------------------------------ no audio needed
def test_empty_window_asks_for_a_bundle(make_window, tmp_path):
    w = make_window(None)
    assert w.stack.currentIndex() == 0 and not w.session.has_model
    w.transport.toggle_running(True)
    assert "open a bundle" in w.last_error and not w.transport.start_button.isChecked()
    assert not w.open_bundle(tmp_path / "nope")
    assert "nope" in w.last_error and "bundle" in w.last_error
    assert w.stack.currentIndex() == 0


def test_open_bundle_by_drop_shows_config_and_one_dial_per_voice(make_window, bundle):
    w = make_window(None, voices=2)
    w.dropEvent(drop_event([bundle]))
    assert w.session.has_model and w.stack.currentIndex() == 1
    assert list(w.voices.dials) == [
        "temperature",
        "temperature.1",
        "temperature.2",
        "min_p",
        "min_p.1",
        "min_p.2",
        "gain",
    ]
    assert w.voices.dials["temperature.2"].title.text() == "Voice 2 temp"  # voices from 1, as in map files
    rows = {
        w.model.config_form.itemAt(r, w.model.config_form.ItemRole.LabelRole)
        .widget()
        .text(): w.model.config_form.itemAt(r, w.model.config_form.ItemRole.FieldRole).widget().text()
        for r in range(w.model.config_form.rowCount())
    }
    assert rows["sample rate"] == "16000 Hz" and "16, 64" in rows["tiers"] and "dim 24" in rows["frame RNN"]
    assert w.transport.bundle_label.text() == bundle.name  # plain: the checkpoint's name is in the tooltip
    assert str(bundle) in w.transport.bundle_label.toolTip()
    assert (
        w.voices.dials["gain"].value_label.text() == "+0.0 dB"
        and w.voices.dials["temperature"].value_label.text() == "1.00"
    )
    assert w.settings.bundle == str(bundle.resolve())
    w.set_voices(1)
    assert list(w.voices.dials) == ["temperature", "min_p", "gain"] and w.session.engine.voices == 1


def test_a_dial_shows_outside_changes_silently_and_not_while_held(qtbot):
    from rt_samplernn.gui.widgets import ParamDial

    dial = ParamDial("gain", "Gain", 0.5, "+0.0 dB")
    qtbot.addWidget(dial)
    moved = []
    dial.moved.connect(moved.append)
    dial.set_position(0.25, "-12.0 dB")  # a MIDI knob moved the parameter
    assert dial.position() == 0.25 and dial.value_label.text() == "-12.0 dB" and moved == []
    dial.dial.setSliderDown(True)  # the performer holds the knob: outside changes wait
    dial.set_position(0.9, "+4.3 dB")
    assert dial.position() == 0.25
    dial.dial.setSliderDown(False)
    qtbot.keyClick(dial.dial, Qt.Key.Key_End)  # the performer's own move is reported
    assert moved == [1.0]
    set_learning(dial, True)
    assert dial.learn_button.isChecked() and dial.learn_button.text() == "learning…"


def test_a_seed_slot_holding_the_end_of_a_long_file_says_so(qtbot):
    from rt_samplernn.gui.widgets import SeedSlotWidget

    slot = SeedSlotWidget(0)
    qtbot.addWidget(slot)
    slot.set_clip("long.ogg", np.zeros(100, np.float32), 30.0, 1200.0)
    assert slot.name_label.text() == "long.ogg · last 30 of 1200 s"
    assert "last 30 s only" in slot.name_label.toolTip()
    slot.set_clip("short.wav", np.zeros(100, np.float32), 7.4, 7.4)
    assert slot.name_label.text() == "short.wav · 7.4 s"


def test_settings_are_remembered_between_runs(make_window, bundle, tmp_path):
    ini = tmp_path / "remember.ini"
    w = make_window(bundle, voices=2, settings=ini)
    w.transport.latency_spin.setValue(250)
    assert w.seeds.load_seed(2, tone(tmp_path / "a.wav"))
    w.scope.set_mode("spectrum")
    assert w.midi.save_map(tmp_path / "mine.toml")
    w.close()
    w2 = make_window(None, settings=ini, use_default=True)  # no bundle given: the last one opens
    assert w2.session.bundle == bundle.resolve() or w2.session.bundle == bundle
    assert w2.transport.latency_spin.value() == 250 and w2.session.engine.voices == 2 and len(w2.voices.dials) == 7
    assert w2.seeds.slots[2].thumb._audio is not None and w2.scope.mode == "spectrum"
    assert w2.settings.map_path == str(tmp_path / "mine.toml")


# ------------------------------------------------------------------------------------------ live, on JACK
def test_turning_a_dial_moves_the_engine(qtbot, make_window, bundle, jack_module):
    w = make_window(bundle, voices=2)
    w.transport.refresh_devices(rescan=True)
    assert any("system" in w.transport.device_combo.itemText(i) for i in range(w.transport.device_combo.count()))
    start(qtbot, w)
    engine = w.session.engine
    dial = w.voices.dials["temperature"].dial
    dial.setFocus()
    qtbot.keyClick(dial, Qt.Key.Key_End)  # the knob to its top: 1.5 for every voice
    assert w.voices.dials["temperature"].value_label.text() == "1.50"
    qtbot.waitUntil(lambda: np.allclose(engine.temperatures, 1.5), timeout=3000)
    voice = w.voices.dials["temperature.2"].dial
    qtbot.keyClick(voice, Qt.Key.Key_Home)  # voice 2 alone to the bottom of the range
    qtbot.waitUntil(lambda: np.allclose(engine.temperatures, [1.5, 0.05]), timeout=3000)
    assert w.voices.dials["temperature.2"].value_label.text() == "0.05"
    qtbot.keyClick(w.voices.dials["gain"].dial, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: engine.gain == 0.0, timeout=3000)
    assert w.voices.dials["gain"].value_label.text() == "-inf dB"


def test_a_midi_cc_moves_the_dial_and_the_engine(qtbot, make_window, bundle, jack_module):
    w = make_window(bundle)
    start(qtbot, w)
    assert w.midi.open_midi(VIRTUAL_PORT_CHOICE), w.last_error
    assert w.midi.midi_combo.currentText() == VIRTUAL_PORT_CHOICE
    sender = Sender()
    try:
        sender.cc(1, 127)  # the default map: CC 1 is temperature
        dial = w.voices.dials["temperature"]
        qtbot.waitUntil(lambda: dial.position() == 1.0, timeout=3000)
        assert dial.value_label.text() == "1.50"
        qtbot.waitUntil(lambda: np.allclose(w.session.engine.temperatures, 1.5), timeout=3000)
        sender.cc(7, 0)  # CC 7 is gain
        qtbot.waitUntil(lambda: w.voices.dials["gain"].position() == 0.0, timeout=3000)
        qtbot.waitUntil(lambda: w.session.engine.gain == 0.0, timeout=3000)
        w.set_voices(2)  # the model reopens: audio and MIDI go on, knob values are kept
        assert w.session.running and w.session.engine.voices == 2 and "temperature.2" in w.voices.dials
        assert w.voices.dials["gain"].position() == 0.0 and w.voices.dials["temperature"].value_label.text() == "1.50"
        sender.cc(22, 0)  # CC 22: voice 2's temperature in the default map
        qtbot.waitUntil(lambda: w.voices.dials["temperature.2"].position() == 0.0, timeout=3000)
        qtbot.waitUntil(lambda: np.allclose(w.session.engine.temperatures, [1.5, 0.05]), timeout=3000)
    finally:
        sender.close()
    w.poll_slow()
    assert "messages" in w.midi.midi_activity.text()


def test_listening_to_another_programs_port_chosen_by_name(qtbot, make_window, bundle, jack_module):
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "knobs")
    out.open_virtual_port("out")  # a controller-like port other programs read from
    try:
        w = make_window(bundle)
        w.midi.refresh_ports()
        listed = [w.midi.midi_combo.itemText(i) for i in range(w.midi.midi_combo.count())]
        assert any("knobs" in name for name in listed), listed
        assert w.midi.open_midi("knobs"), w.last_error  # a name substring, as on the command line
        assert "knobs" in w.midi.midi_combo.currentText() and w.settings.midi_port == w.midi.midi_combo.currentText()
        out.send_message([0xB0, 1, 0])
        qtbot.waitUntil(lambda: w.voices.dials["temperature"].position() == 0.0, timeout=3000)
        assert w.midi.open_midi(None) and w.midi.midi_combo.currentText() == "MIDI off"
    finally:
        out.close_port()
        out.delete()


def test_midi_learn_binds_a_knob_and_maps_save_and_load(qtbot, make_window, bundle, jack_module, tmp_path):
    w = make_window(bundle)
    start(qtbot, w)
    assert w.midi.open_midi(VIRTUAL_PORT_CHOICE), w.last_error
    learn = w.voices.dials["gain"].learn_button
    qtbot.mouseClick(learn, Qt.MouseButton.LeftButton)
    assert w.session.midi.learning() == "gain" and learn.isChecked() and learn.text() == "learning…"
    sender = Sender()
    try:
        sender.cc(74, 64, channel=2)
        qtbot.waitUntil(lambda: not learn.isChecked(), timeout=3000)  # bound: learn disarms itself
        w.poll_slow()
        rows = [
            (w.midi.map_table.item(r, 0).text(), w.midi.map_table.item(r, 1).text())
            for r in range(w.midi.map_table.rowCount())
        ]
        assert ("Gain", "CC 74 ch 3") in rows and ("Gain", "CC 7") not in rows
        assert w.voices.dials["gain"].mapping_label.text() == "CC 74 ch 3"
        sender.cc(74, 127, channel=2)
        qtbot.waitUntil(lambda: w.voices.dials["gain"].value_label.text() == "+6.0 dB", timeout=3000)
        qtbot.waitUntil(lambda: w.session.engine.gain == pytest.approx(2.0), timeout=3000)
        # learn on an action button: Reset gets a CC too
        qtbot.mouseClick(w.learn_buttons["reset"], Qt.MouseButton.LeftButton)
        sender.cc(20, 0)
        qtbot.waitUntil(lambda: not w.learn_buttons["reset"].isChecked(), timeout=3000)
    finally:
        sender.close()
    path = tmp_path / "live.toml"
    assert w.midi.save_map(path) and "CC 74" not in "" and "cc = 74" in path.read_text()
    w.midi.clear_map()
    assert w.midi.map_table.rowCount() == 0 and w.voices.dials["gain"].mapping_label.text() == "—"
    assert w.midi.load_map(path)
    assert any(w.midi.map_table.item(r, 1).text() == "CC 74 ch 3" for r in range(w.midi.map_table.rowCount()))
    w.midi.map_table.selectRow(0)
    n = w.midi.map_table.rowCount()
    w.midi.remove_selected_mapping()
    assert w.midi.map_table.rowCount() == n - 1


def test_seed_slots_load_drop_and_prime(qtbot, make_window, bundle, jack_module, tmp_path):
    w = make_window(bundle)
    start(qtbot, w)
    assert w.seeds.load_seed(0, tone(tmp_path / "low.wav", hz=110))
    assert w.seeds.slots[0].thumb._audio is not None and w.seeds.slots[0].prime_button.isEnabled()
    assert "low.wav" in w.seeds.slots[0].name_label.text()
    w.seeds.slots[1].dropEvent(drop_event([tone(tmp_path / "high.wav", rate=44100, hz=880)]))
    assert w.seeds.slots[1].thumb._audio is not None and "high.wav" in w.seeds.slots[1].name_label.text()
    assert not w.seeds.load_seed(2, tmp_path / "missing.wav") and "missing.wav" in w.last_error
    w.dropEvent(drop_event([tone(tmp_path / "c.wav"), tone(tmp_path / "d.wav")]))  # onto the window: free slots
    assert "c.wav" in w.seeds.slots[2].name_label.text() and "d.wav" in w.seeds.slots[3].name_label.text()
    control = w.session.control
    qtbot.mouseClick(w.seeds.slots[1].prime_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: control.primes == 1, timeout=5000)
    assert w.session.params.slot.target == 1
    qtbot.waitUntil(lambda: w.seeds.slots[1].property("active") is True, timeout=1000)
    assert w.seeds.slots[0].property("active") is False
    w.seeds.prime(5)  # an empty slot: a message, nothing else
    assert "empty" in w.last_error
    w.seeds.seed_spin.setValue(5)
    qtbot.mouseClick(w.seeds.reset_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.session.engine.seed == 5, timeout=3000)  # swapped in at the next block


def test_the_input_picker_keeps_a_live_input_in_the_last_slot_and_primes_from_it(
    qtbot, make_window, bundle, jack_module
):
    """Pick the JACK input: slot 8 becomes it; a real JACK client plays a tone into it while the audio plays;
    the slot shows what it heard, and its Prime button primes the model from it (in the background)."""
    w = make_window(bundle)
    start(qtbot, w)
    labels = [w.seeds.input_combo.itemText(i) for i in range(w.seeds.input_combo.count())]
    assert labels[0] == "no live input" and any("system" in label for label in labels), labels
    index = next(i for i, label in enumerate(labels) if "system" in label)
    assert w.seeds.choose_input(w.seeds.input_combo.itemData(index)), w.last_error
    live = w.session.live_input
    assert live is not None and live.sample_rate == w.session.sample_rate
    last = w.seeds.slots[7]
    assert "input: system · live" in last.name_label.text() and last.prime_button.isEnabled()
    t = np.arange(16000) / 16000
    with JackClipPlayer(jack_module, (0.5 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)) as player:
        for port in player.ports("^rt-samplernn:in_", 1):
            player.connect(port)
        player.play()
        assert player.wait(20.0)
    qtbot.waitUntil(lambda: live.seconds_held >= 1.0, timeout=5000)
    w.poll_slow()
    assert last.thumb._audio is not None and np.abs(live.take()).max() > 0.4  # it heard the tone
    control = w.session.control
    qtbot.mouseClick(last.prime_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: control.primes == 1, timeout=10000)
    assert w.session.running and w.session.params.slot.target == 7
    assert w.seeds.choose_input(None) and w.session.live_input is None and w.session.seed_clip(7) is None


def test_record_to_wav(qtbot, make_window, bundle, jack_module, tmp_path):
    w = make_window(bundle)
    w.transport.toggle_recording(True, tmp_path / "early.wav")  # not playing yet: refused with a message
    assert not w.transport.record_button.isChecked() and "start the audio" in w.last_error
    w.settings.record_dir = tmp_path
    assert w.transport.select_device("system")
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=2000)  # window shortcuts need the active window
    qtbot.keyClick(w, Qt.Key.Key_Space)  # the stage keys: Space starts, Ctrl+R records
    assert w.session.running and w.transport.start_button.isChecked(), w.last_error
    qtbot.keyClick(w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert w.transport.record_button.isChecked() and w.session.recording
    qtbot.wait(1200)
    qtbot.keyClick(w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert not w.transport.record_button.isChecked() and "recorded" in w.status.text()
    takes = list(tmp_path.glob("rt-samplernn-*.wav"))
    assert len(takes) == 1
    path = takes[0]
    info = soundfile.info(str(path))
    assert info.samplerate == 16000 and info.channels >= 1 and 0.8 < info.duration < 3.0
    audio, _ = soundfile.read(str(path))
    assert np.abs(audio).max() > 0.01
    w.transport.toggle_recording(True, path)  # never overwrites
    assert "exists" in w.last_error and not w.session.recording
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert not w.session.running and not w.transport.start_button.isChecked()


def test_driving_the_widgets_while_streaming_lands_every_change_and_keeps_playing(
    qtbot, make_window, bundle, jack_module, tmp_path
):
    """Dials, the scope mode, pad highlights and full repaints while the stream runs: every dial change reaches
    the engine and playback goes on. (How many underruns that costs is a benchmark: benchmarks/gui_underruns.py.)"""
    w = make_window(bundle, voices=2)
    assert w.seeds.load_seed(0, tone(tmp_path / "s.wav"))
    start(qtbot, w, latency_ms=250)
    assert w.midi.open_midi(VIRTUAL_PORT_CHOICE)
    w.seeds.prime(0)
    keys = [Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Up, Qt.Key.Key_Down]
    names = list(w.voices.dials)
    played = w.session.player.metrics().seconds_played
    for i in range(80):
        qtbot.keyClick(w.voices.dials[names[i % len(names)]].dial, keys[i % len(keys)])
        if i % 20 == 0:
            w.scope.set_mode("spectrum" if w.scope.mode == "scope" else "scope")
            w.seeds.slots[0].set_active(i % 40 == 0)
            w.grab()  # a full repaint of the window
    engine, params = w.session.engine, w.session.params
    want = [params[f"temperature.{v}"].target for v in (1, 2)]
    qtbot.waitUntil(lambda: np.allclose(engine.temperatures, want), timeout=5000)
    qtbot.waitUntil(lambda: engine.gain == pytest.approx(params["gain"].target), timeout=5000)
    for name, dial in w.voices.dials.items():
        assert dial.value_label.text() == w.session.knob(name).text
    qtbot.waitUntil(lambda: w.session.player.metrics().seconds_played > played + 0.5, timeout=5000)
    assert w.session.running and w.session.player.error is None


def test_the_meters_panel_shows_every_declared_meter_from_the_session(qtbot, make_window, bundle, jack_module):
    from rt_samplernn.live.meters import METERS

    w = make_window(bundle)
    assert list(w.meters.bars) == [m.name for m in METERS]
    w.poll_slow()
    assert all(bar.text == "—" for bar in w.meters.bars.values())  # stopped: nothing measured
    start(qtbot, w)
    qtbot.waitUntil(lambda: w.session.player.metrics().worker_rtf > 0, timeout=5000)
    w.poll_slow()
    readings = w.session.meters()
    for m in METERS:
        assert w.meters.bars[m.name].caption == m.label
        assert w.meters.bars[m.name].toolTip() == m.tip
        moves = m.fast or m.name.endswith("cpu") or m.name.startswith("block_") or m.total is not None  # may change
        assert w.meters.bars[m.name].text == readings[m.name].text or moves
    assert w.meters.bars["realtime_factor"].text.endswith("x") and w.meters.bars["ring_fill"].text.endswith(" ms")
    assert w.meters.bars["block_p99"].text.endswith(" ms") and "(total " in w.meters.bars["underruns"].text
    assert "xrun" in w.meters.bars["host_underflows"].toolTip()  # what a host underflow is, where it is shown
    assert "/ 300 ms" in w.meters.bars["ring_fill"].text  # the fill against the latency setting


def _light_pixels(widget, columns: int) -> int:
    """Pixels drawn in a light color in the rightmost `columns` of the widget (the spin box's arrow buttons)."""
    image = widget.grab().toImage()
    return sum(
        image.pixelColor(x, y).lightness() > 180
        for x in range(image.width() - columns, image.width())
        for y in range(image.height())
    )


def test_spin_boxes_show_arrows_the_noise_seed_is_labelled_and_the_header_names_the_bundle(make_window, bundle):
    w = make_window(bundle)
    for spin in (w.transport.latency_spin, w.model.voices_spin, w.seeds.seed_spin):
        assert _light_pixels(spin, 16) >= 8, spin  # two arrows drawn in the theme's light color
    assert w.seeds.seed_label.text() == "Noise seed" and w.seeds.seed_label.buddy() is w.seeds.seed_spin
    assert w.seeds.seed_spin.prefix() == ""
    assert w.transport.bundle_label.text() == bundle.name


def test_the_window_reaches_the_live_rig_only_through_the_session():
    """No panel or window code touches parameter cells, the player's metrics or the engine directly."""
    import rt_samplernn.gui as gui

    root = Path(gui.__file__).parent
    files = [root / "window.py", root / "app.py", *sorted((root / "panels").glob("*.py"))]
    for f in files:
        text = f.read_text()
        for word in (
            "session.params",
            "PlayerMetrics",
            ".metrics()",
            "session.engine",
            "session.player",
            "session.control",
            "slots_version",
        ):
            assert word not in text, f"{f.name} reaches past LiveSession: {word}"
    session = (root / "session.py").read_text()
    assert "slots_version +=" not in session and "slots_version =" not in session
