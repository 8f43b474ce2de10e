"""The window's effects and tempo, offscreen: the chain editor, the plugin picker, the tempo panel, the limiter meter.

Real Qt widgets driving the session's real rack and tempo; the blocks are the worker's path for one block
(the queued edits drained, the engine, `render_block`: the calls `Player._push` makes), from a seeded reset,
so two runs compare bit for bit. One test plays on the software clock to see edits land through the worker. A drag
in the effect list is its model's ``moveRow``, the call QListWidget's InternalMove drop makes (the drag itself
needs a window system's drag loop, which offscreen Qt has not).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QModelIndex, Qt
from PyQt6.QtWidgets import QAbstractItemView

from rt_samplernn.commands.fx_options import render_block
from rt_samplernn.gui.app import create_window
from rt_samplernn.gui.session import LiveSession
from rt_samplernn.gui.session_fx import effect_options
from rt_samplernn.gui.settings import open_settings
from rt_samplernn.live.devices import NO_DEVICE, mix_matrix
from rt_samplernn.live.effects import Rack, installed_vst3
from tests.gui_helpers import window_bundle

SEED = 5
FRAMES = 256


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return window_bundle(tmp_path_factory)


@pytest.fixture
def make_window(keep_window, tmp_path):
    """make(bundle, voices=2, argv=[]) -> a shown window on ``bundle`` with `play`'s effect flags ``argv``."""

    def make(bundle: Path, voices: int = 2, argv: list[str] | None = None):
        session = LiveSession(provider="cpu", effects=effect_options(argv))
        return keep_window(create_window(bundle, open_settings(tmp_path / "gui.ini"), session=session, voices=voices))

    return make


def blocks(session: LiveSession, rack: Rack | None = None, n: int = 4) -> np.ndarray:
    """The worker's next ``n`` blocks from a seeded reset: edits drained, generated, through ``rack`` (default:
    the session's), mixed, gained and limited as `Player._push` does."""
    engine = session.engine
    assert engine is not None
    engine.reset(SEED)
    rack = session.fx.rack if rack is None else rack
    mix = mix_matrix(engine.voices, 2)
    out = []
    for _ in range(n):
        session.fx.drain(FRAMES)
        out.append(render_block(engine.generate(FRAMES), rack, mix))
    return np.concatenate(out, axis=1)


def add(panel, chain: str, effect: str) -> None:
    panel.chain_combo.setCurrentText(chain)
    panel.effect_combo.setCurrentText(effect)
    panel.add_button.click()


def row_of(panel, name: str) -> int:
    return [panel.effects_list.item(i).text() for i in range(panel.effects_list.count())].index(name)


# ------------------------------------------------------------------------------------------ the chain editor
def test_add_bypass_remove_from_the_panel_change_the_blocks_and_bypass_is_bit_exact(make_window, bundle):
    w = make_window(bundle, argv=["--limiter", "off"])  # compared with no chain at all
    panel, rack = w.effects, w.session.fx.rack
    dry = blocks(w.session)
    add(panel, "voice2", "bitcrush")
    assert rack.chain("voice2").effect_names() == ["bitcrush"] and panel.effects_list.count() == 1
    crushed = blocks(w.session)
    assert not np.array_equal(crushed, dry)
    panel.effects_list.item(0).setCheckState(Qt.CheckState.Unchecked)  # bypass it
    assert rack.chain("voice2").slots[0].bypass
    assert np.array_equal(blocks(w.session), dry)  # bit-exact with no chain
    panel.effects_list.item(0).setCheckState(Qt.CheckState.Checked)
    assert np.array_equal(blocks(w.session), crushed)
    panel.chain_bypass.setChecked(True)
    assert np.array_equal(blocks(w.session), dry)
    panel.chain_bypass.setChecked(False)
    panel.effects_list.setCurrentRow(0)
    panel.remove_button.click()
    assert rack.chain("voice2").effect_names() == [] and panel.effects_list.count() == 0
    assert np.array_equal(blocks(w.session), dry)


def through_master(session, *order: str) -> np.ndarray:
    """The session's blocks through a rack built by hand: these master effects alone, in this order."""
    rack = Rack(session.sample_rate, session.voices)
    for effect in order:
        rack.master.add(effect)
    return blocks(session, rack)


def test_reordering_in_the_panel_reorders_the_chain_the_blocks_go_through(make_window, bundle):
    w = make_window(bundle, argv=["--limiter", "off"])  # compared with racks of these effects alone
    panel = w.effects
    add(panel, "master", "distortion")
    add(panel, "master", "bitcrush")

    def by_hand(*order: str) -> np.ndarray:
        return through_master(w.session, *order)

    assert np.array_equal(blocks(w.session), by_hand("distortion", "bitcrush"))
    panel.effects_list.setCurrentRow(row_of(panel, "bitcrush"))
    panel.up_button.click()
    assert w.session.fx.rack.master.effect_names() == ["bitcrush", "distortion"]
    assert [panel.effects_list.item(i).text() for i in range(2)] == ["bitcrush", "distortion"]
    moved = blocks(w.session)
    assert np.array_equal(moved, by_hand("bitcrush", "distortion"))
    assert not np.array_equal(moved, by_hand("distortion", "bitcrush"))


def texts(panel) -> list[str]:
    return [panel.effects_list.item(i).text() for i in range(panel.effects_list.count())]


def test_dragging_an_effect_in_the_list_reorders_the_chain_the_blocks_go_through_and_it_stays_selected(
    make_window, bundle
):
    w = make_window(bundle, argv=["--limiter", "off"])  # compared with racks of these effects alone
    panel, master = w.effects, w.session.fx.rack.master
    add(panel, "master", "distortion")
    add(panel, "master", "bitcrush")

    def by_hand(*order: str) -> np.ndarray:
        return through_master(w.session, *order)

    listing = panel.effects_list
    assert listing.dragDropMode() == QAbstractItemView.DragDropMode.InternalMove  # the list takes drags
    listing.setCurrentRow(row_of(panel, "distortion"))
    model = listing.model()
    assert model.moveRow(QModelIndex(), 1, QModelIndex(), 0)  # bitcrush dropped above: QListWidget.dropEvent's call
    assert master.effect_names() == ["bitcrush", "distortion"] and texts(panel) == ["bitcrush", "distortion"]
    assert panel.selected().name == "bitcrush" and list(panel.dials) == ["fx.master.bitcrush.bit_depth"]
    moved = blocks(w.session)
    assert np.array_equal(moved, by_hand("bitcrush", "distortion"))
    assert not np.array_equal(moved, by_hand("distortion", "bitcrush"))
    assert model.moveRow(QModelIndex(), 0, QModelIndex(), 2)  # and dragged back below distortion
    assert master.effect_names() == ["distortion", "bitcrush"] and texts(panel) == ["distortion", "bitcrush"]
    assert np.array_equal(blocks(w.session), by_hand("distortion", "bitcrush"))


def test_an_effect_dragged_below_the_limiter_goes_before_it_and_the_limiter_does_not_drag(make_window, bundle):
    w = make_window(bundle)  # the limiter on, the master list's last row
    panel, master = w.effects, w.session.fx.rack.master
    add(panel, "master", "distortion")
    add(panel, "master", "bitcrush")
    assert texts(panel) == ["distortion", "bitcrush", "limiter (ceiling)"]
    assert not panel.effects_list.item(2).flags() & Qt.ItemFlag.ItemIsDragEnabled
    model = panel.effects_list.model()
    assert model.moveRow(QModelIndex(), 0, QModelIndex(), 3)  # distortion dropped under the limiter
    assert master.effect_names() == ["bitcrush", "distortion"]
    assert texts(panel) == ["bitcrush", "distortion", "limiter (ceiling)"]
    assert model.moveRow(QModelIndex(), 1, QModelIndex(), 3)  # the last effect: the chain stays, the list too
    assert master.effect_names() == ["bitcrush", "distortion"]
    assert texts(panel) == ["bitcrush", "distortion", "limiter (ceiling)"]


def test_an_effect_knob_moved_in_the_window_reaches_the_effect_and_learns_midi(qtbot, make_window, bundle):
    w = make_window(bundle)
    panel = w.effects
    add(panel, "master", "distortion")
    name = "fx.master.distortion.drive_db"
    assert list(panel.dials) == [name]
    plugin = w.session.fx.rack.master.slots[0].plugin
    qtbot.keyClick(panel.dials[name].dial, Qt.Key.Key_End)  # the performer turns it all the way up
    blocks(w.session)  # the chain ramps the knob in over its blocks
    assert plugin.drive_db == pytest.approx(60.0)
    qtbot.mouseClick(panel.dials[name].learn_button, Qt.MouseButton.LeftButton)
    assert w.session.midi.learning() == name
    controller = w.session.midi.controller
    controller.feed([0xB0, 21, 100])  # the control to learn
    controller.feed([0xB0, 21, 0])  # then turned down
    blocks(w.session)
    assert plugin.drive_db == pytest.approx(0.0)
    w.midi.refresh_mappings(force=True)
    assert "CC 21" in panel.dials[name].mapping_label.text()


def test_chain_edits_while_playing_land_through_the_worker(qtbot, make_window, bundle):
    w = make_window(bundle, voices=1, argv=["--limiter", "off"])  # the master's list: the one effect added
    w.session.start(NO_DEVICE, 60)
    w.transport.sync_running()
    add(w.effects, "master", "gain")
    qtbot.waitUntil(lambda: w.session.fx.rack.master.effect_names() == ["gain"], timeout=5000)
    qtbot.waitUntil(lambda: w.effects.effects_list.count() == 1, timeout=2000)
    w.effects.remove_button.click()
    qtbot.waitUntil(lambda: w.session.fx.rack.master.effect_names() == [], timeout=5000)
    assert w.session.running and w.session.player.error is None


def test_a_plugin_that_does_not_load_is_one_line_in_the_status(make_window, bundle, tmp_path):
    w = make_window(bundle)
    fake = tmp_path / "Broken.vst3"
    fake.write_text("not a plugin")
    assert not w.effects.load_plugin(fake)
    assert w.status.text().startswith("⚠") and "Broken.vst3" in w.last_error and "\n" not in w.last_error
    assert w.session.fx.rack.master.effect_names() == []
    w.effects.fill_plugin_menu()
    assert w.effects.plugin_menu.actions()[-1].text() == "Browse…"


def test_an_installed_vst3_loads_from_the_picker(make_window, bundle):
    plugins = installed_vst3()
    if not plugins:
        pytest.skip("no VST3 plugin installed in /usr/lib/vst3 or ~/.vst3")
    w = make_window(bundle)
    w.effects.fill_plugin_menu()
    w.effects.plugin_menu.actions()[0].trigger()
    assert w.session.fx.rack.master.effect_names(), w.last_error


# ------------------------------------------------------------------------------------------ tempo and flags
def test_the_bpm_set_in_the_window_reaches_the_tempo_and_the_beat_grid(make_window, bundle):
    w = make_window(bundle)
    fx = w.session.fx
    w.tempo.bpm_spin.setValue(97.5)
    assert fx.tempo.bpm == 97.5 and "97.5 BPM" in w.tempo.source_label.text()
    _, producer = fx.start_parts()  # the producer the player is handed
    producer.generate(FRAMES)
    assert producer.grid.bpm == 97.5
    for t in (10.0, 10.5, 11.0, 11.5):  # tap tempo: a beat every half second
        w.tempo.tap(t)
    assert fx.tempo.bpm == 120.0 and w.tempo.bpm_spin.value() == 120.0
    w.tempo.beats_spin.setValue(2)
    w.tempo.loop_button.click()
    assert fx.loop_on and producer.loop is not None and producer.loop.beats == 2


def test_gui_takes_plays_effect_and_tempo_flags(bundle):
    from rt_samplernn.cli import get_parser

    argv = ["--fx", "voice2=bitcrush:bit_depth=6", "--limiter", "-3", "--bpm", "100", "--loop-beats", "2"]
    argv += ["--quantize", "bar"]
    session = LiveSession(provider="cpu", effects=get_parser().parse_args(["gui", *argv]))
    session.voices_wanted = 2
    session.open_bundle(bundle)
    try:
        rack = session.fx.rack
        assert rack.chain("voice2").effect_names() == ["bitcrush"] and rack.limiter.ceiling_db == -3.0
        assert session.fx.tempo.bpm == 100.0 and session.fx.loop_on and session.fx.loop_beats == 2
        assert session.fx.quantize == "bar" and session.fx.locked.launch_beats == 4
    finally:
        session.close()


def test_a_bad_effect_flag_is_one_line_in_the_status(qtbot, make_window, bundle):
    w = make_window(bundle, argv=["--fx", "revrb"])
    qtbot.waitUntil(lambda: "revrb" in w.last_error, timeout=5000)  # the notices reach the status line
    assert "effect 'revrb': unknown" in w.last_error and "\n" not in w.last_error
    assert w.session.fx.rack.master.effect_names() == []


def test_the_limiter_meter_shows_gain_reduction_when_a_loud_block_passes(make_window, bundle):
    w = make_window(bundle)
    w.effects.chain_combo.setCurrentText("master")
    w.effects.limiter_check.setChecked(True)
    rack = w.session.fx.rack
    assert rack.limiter is not None and w.effects.effects_list.item(0).text() == "limiter (ceiling)"
    t = np.arange(4096) / 16000.0
    loud = np.repeat((2.0 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None], 2, axis=1)
    out = rack.process_master(loud)  # the worker's call on the mix
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20) + 1e-6
    w.meters.poll_slow()
    reduction = rack.limiter.gain_reduction_db
    assert reduction > 6.0 and w.meters.limiter_bar.text == f"-{reduction:.1f} dB"
    assert w.meters.limiter_bar.fraction > 0.5
    assert "latency 5.0 ms" in w.meters.fx_label.text()  # the limiter's lookahead
    rack.process_master(0.1 * loud)
    w.meters.poll_fast()
    assert w.meters.limiter_bar.text == "0.0 dB"
